//! The command line: `serve` (default), `demo`, `migrate`, `check-config`, `apps`, `clients`,
//! `admin-keys`, `keys` and `rotate-master-key`.

use std::path::PathBuf;

use clap::{Args, Parser, Subcommand, ValueEnum};

#[derive(Debug, Parser)]
#[command(
    name = "wxauth-server",
    version,
    about = "WeChat authentication service"
)]
pub struct Cli {
    /// A TOML configuration file (default: config/wxauth.toml if it exists). Given before the
    /// command: `wxauth-server --config FILE serve`. The `demo` command configures itself.
    #[arg(long, short, env = "WXAUTH_CONFIG")]
    pub config: Option<PathBuf>,
    #[command(subcommand)]
    pub command: Option<Command>,
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// Run the service (the default).
    Serve,
    /// Run the service on SQLite with the WeChat simulator and a demo app, for a first look.
    #[cfg(feature = "demo")]
    Demo(DemoArgs),
    /// Apply pending database migrations and exit.
    Migrate {
        /// Only list the pending migrations.
        #[arg(long)]
        status: bool,
    },
    /// Load and validate the configuration, then exit (non-zero when invalid).
    CheckConfig,
    /// Manage apps.
    #[command(subcommand)]
    Apps(AppsCommand),
    /// Manage the OpenID provider's clients (relying parties).
    #[command(subcommand)]
    Clients(ClientsCommand),
    /// Manage admin API keys.
    #[command(subcommand, name = "admin-keys")]
    AdminKeys(AdminKeysCommand),
    /// Generate keys.
    #[command(subcommand)]
    Keys(KeysCommand),
    /// Re-encrypt every stored secret under secrets.master_key (list the old key in
    /// secrets.previous_master_keys while this runs).
    RotateMasterKey,
    /// Exit 0 when the URL answers 200 (for container health checks; needs no curl).
    Healthcheck {
        #[arg(long, default_value = "http://127.0.0.1:8080/readyz")]
        url: String,
    },
}

#[derive(Debug, Args)]
pub struct DemoArgs {
    /// Where wxauth listens.
    #[arg(long, default_value = "127.0.0.1:8080")]
    pub listen: std::net::SocketAddr,
    /// Where the simulator listens.
    #[arg(long, default_value = "127.0.0.1:9100")]
    pub sim_listen: std::net::SocketAddr,
    /// The SQLite database and the demo keys live here.
    #[arg(long, default_value = "data")]
    pub data_dir: PathBuf,
}

#[derive(Debug, Subcommand)]
pub enum AppsCommand {
    /// Add (or replace) an app.
    Add(AppArgs),
    /// List apps (secrets are never shown).
    List,
}

#[derive(Debug, Clone, Copy, ValueEnum)]
pub enum AppKindArg {
    MiniProgram,
    OfficialAccount,
    Website,
}

#[derive(Debug, Args)]
pub struct AppArgs {
    /// wxauth's key for the app (lowercase letters, digits, - and _).
    #[arg(long)]
    pub key: String,
    #[arg(long, value_enum)]
    pub kind: AppKindArg,
    #[arg(long)]
    pub appid: String,
    /// The AppSecret; read from the WXAUTH_APP_SECRET environment variable when omitted, so it
    /// stays out of shell history.
    #[arg(long, env = "WXAUTH_APP_SECRET", hide_env_values = true)]
    pub secret: String,
    #[arg(long)]
    pub name: Option<String>,
    /// open, bind_code or closed.
    #[arg(long, default_value = "open")]
    pub registration: String,
    /// Allowed redirect targets (repeatable).
    #[arg(long = "redirect-allow")]
    pub redirect_allow: Vec<String>,
    #[arg(long, env = "WXAUTH_APP_EVENT_TOKEN", hide_env_values = true)]
    pub event_token: Option<String>,
    #[arg(long, env = "WXAUTH_APP_ENCODING_AES_KEY", hide_env_values = true)]
    pub encoding_aes_key: Option<String>,
}

#[derive(Debug, Subcommand)]
pub enum ClientsCommand {
    /// Register a client; a confidential client's secret is printed this once.
    Add(ClientArgs),
    /// List clients (secrets are never shown).
    List,
    /// Delete a client with its grants and consents.
    Remove { client_id: String },
    /// Print a new secret for a confidential client; the old one stops working at once.
    RotateSecret { client_id: String },
}

#[derive(Debug, Args)]
pub struct ClientArgs {
    #[arg(long)]
    pub name: String,
    /// confidential or public (PKCE, no secret).
    #[arg(long = "type", default_value = "confidential")]
    pub kind: String,
    /// A redirect URI, compared exactly (repeatable).
    #[arg(long = "redirect-uri", required = true)]
    pub redirect_uris: Vec<String>,
    /// A post-logout redirect URI (repeatable).
    #[arg(long = "post-logout-redirect-uri")]
    pub post_logout_redirect_uris: Vec<String>,
    /// Space-separated; default openid profile phone offline_access.
    #[arg(long)]
    pub scopes: Option<String>,
    /// The Official Account app key (sign-in inside WeChat, follow-QR on the desktop).
    #[arg(long)]
    pub official_account: Option<String>,
    /// The website app key (the desktop QR page).
    #[arg(long)]
    pub website: Option<String>,
    /// The Mini Program app key (token exchange of wx.login codes).
    #[arg(long)]
    pub mini_program: Option<String>,
    /// No consent page.
    #[arg(long)]
    pub first_party: bool,
}

#[derive(Debug, Subcommand)]
pub enum AdminKeysCommand {
    /// Create a key and print it once.
    Create {
        #[arg(long)]
        name: String,
    },
    /// Revoke a key by its id.
    Revoke { key_id: String },
    /// List keys (ids and names only).
    List,
}

#[derive(Debug, Clone, Copy, ValueEnum)]
pub enum KeyAlgorithm {
    /// A 32-byte master key for secrets at rest (base64).
    Master,
    /// An HS256 JWT secret.
    Hs256,
    /// An ES256 (P-256) JWT private key, PKCS#8 PEM.
    Es256,
    /// An Ed25519 JWT private key, PKCS#8 PEM.
    Eddsa,
    /// A 2048-bit RSA private key, PKCS#8 PEM: the OpenID provider's ID-token key.
    Rs256,
}

#[derive(Debug, Subcommand)]
pub enum KeysCommand {
    /// Print a new random key.
    Generate {
        #[arg(long, value_enum, default_value = "master")]
        kind: KeyAlgorithm,
    },
}
