//! The administrative subcommands.

use std::io::Write;

use anyhow::Context;
use secrecy::{ExposeSecret, SecretString};
use wxauth_core::{AppDraft, AppSource, AppSpec};

use crate::application::Components;
use crate::cli::{
    AdminKeysCommand, AppArgs, AppKindArg, AppsCommand, ClientsCommand, KeyAlgorithm,
};
use crate::config::Config;

fn out() -> std::io::StdoutLock<'static> {
    std::io::stdout().lock()
}

pub async fn migrate(config: Config, status_only: bool) -> anyhow::Result<()> {
    let components = Components::build(config, false, false).await?;
    let db = components.store.database();
    let pending = db.pending_migrations().await?;
    if status_only {
        writeln!(out(), "{} pending migration(s)", pending.len())?;
        for name in pending {
            writeln!(out(), "  {name}")?;
        }
        return Ok(());
    }
    db.migrate().await.context("migration failed")?;
    writeln!(out(), "applied {} migration(s)", pending.len())?;
    Ok(())
}

pub async fn apps(config: Config, command: AppsCommand) -> anyhow::Result<()> {
    let components = Components::build(config, true, false).await?;
    match command {
        AppsCommand::Add(args) => {
            let draft = draft(args)?;
            let app = components.wxauth.apps().upsert(&draft).await?;
            writeln!(
                out(),
                "app {} ({}, appid {}) saved",
                app.key,
                app.kind,
                app.appid
            )?;
        }
        AppsCommand::List => {
            let mut o = out();
            writeln!(
                o,
                "{:<24} {:<18} {:<22} {:<10} enabled",
                "key", "kind", "appid", "policy"
            )?;
            for app in components.wxauth.apps().all().await? {
                writeln!(
                    o,
                    "{:<24} {:<18} {:<22} {:<10} {}",
                    app.key.as_str(),
                    app.kind.as_str(),
                    app.appid.as_str(),
                    app.registration.as_str(),
                    app.enabled
                )?;
            }
        }
    }
    Ok(())
}

/// The command line's app, checked by the same rules as every other way of writing one.
fn draft(args: AppArgs) -> anyhow::Result<AppDraft> {
    let kind = match args.kind {
        AppKindArg::MiniProgram => wxauth_domain::AppKind::MiniProgram,
        AppKindArg::OfficialAccount => wxauth_domain::AppKind::OfficialAccount,
        AppKindArg::Website => wxauth_domain::AppKind::Website,
    };
    let spec = AppSpec {
        key: args.key,
        kind: kind.as_str().to_owned(),
        name: args.name,
        appid: args.appid,
        secret: Some(SecretString::from(args.secret)),
        registration: Some(args.registration),
        redirect_allow_list: args.redirect_allow,
        event_token: args.event_token.map(SecretString::from),
        encoding_aes_key: args.encoding_aes_key.map(SecretString::from),
        ..Default::default()
    };
    Ok(AppDraft::parse(spec, None, AppSource::Admin)?)
}

pub async fn clients(config: Config, command: ClientsCommand) -> anyhow::Result<()> {
    let components = Components::build(config, true, false).await?;
    let wxauth = &components.wxauth;
    let ctx = wxauth_core::RequestContext {
        actor: Some("cli".into()),
        ..Default::default()
    };
    match command {
        ClientsCommand::Add(args) => {
            let spec = wxauth_core::oidc::clients::ClientSpec {
                name: args.name,
                kind: Some(args.kind),
                redirect_uris: args.redirect_uris,
                post_logout_redirect_uris: args.post_logout_redirect_uris,
                scopes: args.scopes,
                official_account: args.official_account,
                website: args.website,
                mini_program: args.mini_program,
                first_party: args.first_party,
                id_token_alg: None,
                access_token_ttl: None,
                refresh_token_ttl: None,
            };
            let created = wxauth.admin_create_oidc_client(&ctx, spec).await?;
            let mut o = out();
            writeln!(o, "client {} created", created.client.client_id)?;
            if let Some(secret) = created.secret {
                writeln!(o, "its secret, shown only this once:")?;
                writeln!(o, "{}", secret.expose())?;
            }
        }
        ClientsCommand::List => {
            let mut o = out();
            writeln!(o, "{:<28} {:<13} {:<6} name", "client_id", "type", "first")?;
            for c in wxauth.admin_list_oidc_clients().await? {
                writeln!(
                    o,
                    "{:<28} {:<13} {:<6} {}",
                    c.client_id,
                    c.kind.as_str(),
                    c.first_party,
                    c.name
                )?;
            }
        }
        ClientsCommand::Remove { client_id } => {
            wxauth.admin_delete_oidc_client(&ctx, &client_id).await?;
            writeln!(out(), "client {client_id} deleted")?;
        }
        ClientsCommand::RotateSecret { client_id } => {
            let secret = wxauth
                .admin_rotate_oidc_client_secret(&ctx, &client_id)
                .await?;
            let mut o = out();
            writeln!(
                o,
                "client {client_id} has a new secret, shown only this once:"
            )?;
            writeln!(o, "{}", secret.expose())?;
        }
    }
    Ok(())
}

pub async fn admin_keys(config: Config, command: AdminKeysCommand) -> anyhow::Result<()> {
    let components = Components::build(config, true, false).await?;
    let wxauth = &components.wxauth;
    match command {
        AdminKeysCommand::Create { name } => {
            let created = wxauth.create_admin_key(&name).await?;
            let mut o = out();
            writeln!(
                o,
                "admin key {} created; it is shown only this once:",
                created.key_id
            )?;
            writeln!(o, "{}", created.key.expose_secret())?;
        }
        AdminKeysCommand::Revoke { key_id } => {
            wxauth.revoke_admin_key(&key_id).await?;
            writeln!(out(), "admin key {key_id} revoked")?;
        }
        AdminKeysCommand::List => {
            let mut o = out();
            writeln!(o, "{:<14} {:<26} {:<26} name", "id", "created", "revoked")?;
            for k in wxauth.list_admin_keys().await? {
                let revoked = k
                    .revoked_at
                    .map(|t| t.to_string())
                    .unwrap_or_else(|| "-".into());
                writeln!(
                    o,
                    "{:<14} {:<26} {:<26} {}",
                    k.key_id,
                    k.created_at.to_string(),
                    revoked,
                    k.name
                )?;
            }
        }
    }
    Ok(())
}

pub fn generate_key(kind: KeyAlgorithm) -> anyhow::Result<()> {
    use wxauth_tokens::{SigningAlgorithm, generate_private_key_pem};
    let key = match kind {
        KeyAlgorithm::Master => wxauth_persistence::SecretCipher::generate_key(),
        KeyAlgorithm::Hs256 => {
            generate_private_key_pem(SigningAlgorithm::HS256).map_err(anyhow::Error::msg)?
        }
        KeyAlgorithm::Es256 => {
            generate_private_key_pem(SigningAlgorithm::ES256).map_err(anyhow::Error::msg)?
        }
        KeyAlgorithm::Eddsa => {
            generate_private_key_pem(SigningAlgorithm::EdDSA).map_err(anyhow::Error::msg)?
        }
        KeyAlgorithm::Rs256 => {
            generate_private_key_pem(SigningAlgorithm::RS256).map_err(anyhow::Error::msg)?
        }
    };
    writeln!(out(), "{}", key.expose_secret().trim_end())?;
    Ok(())
}

pub async fn rotate_master_key(config: Config) -> anyhow::Result<()> {
    let components = Components::build(config, true, false).await?;
    let rotated = wxauth_persistence::rotation::reencrypt_all(
        components.store.database(),
        components.store.cipher(),
    )
    .await?;
    writeln!(
        out(),
        "re-encrypted under key {}: {} app(s), {} session key(s), {} access token(s)",
        components.store.cipher().active_key_id(),
        rotated.app_secrets,
        rotated.session_keys,
        rotated.access_tokens
    )?;
    Ok(())
}

/// A minimal HTTP/1.0 GET: the runtime image has no curl, and this needs no TLS.
pub fn healthcheck(url: &str) -> anyhow::Result<()> {
    use std::io::Read;
    use std::net::{TcpStream, ToSocketAddrs};
    use std::time::Duration;
    let url = url::Url::parse(url).context("--url")?;
    anyhow::ensure!(url.scheme() == "http", "only http:// URLs are checked");
    let host = url.host_str().context("--url needs a host")?;
    let port = url.port_or_known_default().unwrap_or(80);
    let addr = (host, port)
        .to_socket_addrs()?
        .next()
        .context("the host does not resolve")?;
    let mut stream = TcpStream::connect_timeout(&addr, Duration::from_secs(3))?;
    stream.set_read_timeout(Some(Duration::from_secs(3)))?;
    write!(
        stream,
        "GET {} HTTP/1.0\r\nHost: {host}\r\n\r\n",
        url.path()
    )?;
    let mut head = [0u8; 64];
    let n = stream.read(&mut head)?;
    let status_line = String::from_utf8_lossy(&head[..n]);
    anyhow::ensure!(
        status_line.split_whitespace().nth(1) == Some("200"),
        "unhealthy: {}",
        status_line.lines().next().unwrap_or_default()
    );
    Ok(())
}
