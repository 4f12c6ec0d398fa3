//! `wxauth-server demo`: the service on SQLite with the WeChat simulator in-process, a demo Mini
//! Program and a demo Official Account, and a printed curl session to try it.
//!
//! The demo's keys are generated on first start and kept in `<data dir>/demo-keys.json`, so the
//! database stays readable across restarts, and so is its admin key, which the banner prints
//! for the Admin section of Swagger UI. Never use any of them for anything else.

use std::io::Write;
use std::net::SocketAddr;
use std::path::Path;

use anyhow::Context;
use secrecy::{ExposeSecret, SecretString};
use serde::{Deserialize, Serialize};
use wxauth_sim::{EventMode, NewUser, SimApp, SimConfig, Simulator};

use crate::application::Application;
use crate::cli::DemoArgs;
use crate::config::{AppSection, Config, LogFormat};

pub const MINI_PROGRAM_KEY: &str = "demo-mp";
pub const MINI_PROGRAM_APPID: &str = "wxdemominiprogram";
pub const OFFICIAL_KEY: &str = "demo-oa";
pub const OFFICIAL_APPID: &str = "wxdemoofficial001";
pub const ALICE: &str = "oDEMO_alice";
pub const ALICE_OA: &str = "oDEMO_alice_oa";
pub const BOB: &str = "oDEMO_bob";

#[derive(Serialize, Deserialize)]
struct DemoKeys {
    master_key: String,
    jwt_secret: String,
    mini_program_secret: String,
    official_secret: String,
    event_token: String,
    encoding_aes_key: String,
    /// Created at the first start (it lives in the database); absent in older files.
    #[serde(default)]
    admin_key: Option<String>,
    /// The OpenID provider's RS256 key; made at the first start that needs it.
    #[serde(default)]
    oidc_key: Option<String>,
    /// The demo relying party (it lives in the database).
    #[serde(default)]
    oidc_client: Option<DemoClient>,
}

#[derive(Clone, Serialize, Deserialize)]
pub struct DemoClient {
    pub client_id: String,
    pub client_secret: String,
}

/// Where the demo relying party's users come back to: a local app on port 8000, as most
/// framework quick-starts run one.
pub const DEMO_RP_REDIRECT_URIS: [&str; 2] = [
    "http://localhost:8000/callback",
    "http://127.0.0.1:8000/callback",
];

fn random() -> anyhow::Result<String> {
    let key = wxauth_tokens::generate_private_key_pem(wxauth_tokens::SigningAlgorithm::HS256)
        .map_err(anyhow::Error::msg)?;
    Ok(key.expose_secret().to_owned())
}

fn load_or_create_keys(dir: &Path) -> anyhow::Result<DemoKeys> {
    let path = dir.join("demo-keys.json");
    if let Ok(text) = std::fs::read_to_string(&path) {
        return serde_json::from_str(&text)
            .with_context(|| format!("{} is damaged: delete it", path.display()));
    }
    let master = wxauth_persistence::SecretCipher::generate_key();
    let aes = wxauth_persistence::SecretCipher::generate_key();
    let keys = DemoKeys {
        master_key: master.expose_secret().to_owned(),
        jwt_secret: random()?,
        mini_program_secret: random()?,
        official_secret: random()?,
        event_token: random()?,
        encoding_aes_key: aes.expose_secret().trim_end_matches('=').to_owned(),
        admin_key: None,
        oidc_key: None,
        oidc_client: None,
    };
    save_keys(dir, &keys)?;
    Ok(keys)
}

fn save_keys(dir: &Path, keys: &DemoKeys) -> anyhow::Result<()> {
    let path = dir.join("demo-keys.json");
    std::fs::write(&path, serde_json::to_vec_pretty(keys)?)
        .with_context(|| format!("cannot write {}", path.display()))
}

/// The demo's admin key: the one kept from an earlier start while the database still knows
/// it, else a new one, kept for the next start.
async fn admin_key(app: &Application, dir: &Path, keys: &mut DemoKeys) -> anyhow::Result<String> {
    if let Some(key) = &keys.admin_key
        && app.wxauth().authenticate_admin(key).await.is_ok()
    {
        return Ok(key.clone());
    }
    let created = app
        .wxauth()
        .create_admin_key("demo")
        .await
        .context("cannot create the demo's admin key")?;
    let key = created.key.expose_secret().to_owned();
    keys.admin_key = Some(key.clone());
    save_keys(dir, keys)?;
    Ok(key)
}

/// The demo relying party: the one kept from an earlier start while the database still knows
/// it, else a new one, kept for the next start.
async fn demo_client(
    app: &Application,
    dir: &Path,
    keys: &mut DemoKeys,
) -> anyhow::Result<DemoClient> {
    if let Some(client) = &keys.oidc_client
        && app
            .wxauth()
            .admin_oidc_client(&client.client_id)
            .await
            .is_ok()
    {
        return Ok(client.clone());
    }
    let spec = wxauth_core::oidc::clients::ClientSpec {
        name: "Demo relying party".into(),
        redirect_uris: DEMO_RP_REDIRECT_URIS.map(str::to_owned).to_vec(),
        post_logout_redirect_uris: vec![
            "http://localhost:8000/".into(),
            "http://127.0.0.1:8000/".into(),
        ],
        scopes: Some("openid profile phone offline_access unionid".into()),
        official_account: Some(OFFICIAL_KEY.into()),
        mini_program: Some(MINI_PROGRAM_KEY.into()),
        first_party: true,
        ..Default::default()
    };
    let created = app
        .wxauth()
        .admin_create_oidc_client(&Default::default(), spec)
        .await
        .context("cannot create the demo's OpenID client")?;
    let client = DemoClient {
        client_id: created.client.client_id,
        client_secret: created
            .secret
            .map(|s| s.expose().to_owned())
            .context("a confidential client has a secret")?,
    };
    keys.oidc_client = Some(client.clone());
    save_keys(dir, keys)?;
    Ok(client)
}

/// The demo provider's issuer: plain http, which only a local address may use. Listening on
/// every interface, the browser on this machine reaches it as localhost; on another address the
/// demo runs without the provider (it would need https).
fn demo_issuer(listen: SocketAddr) -> Option<String> {
    let ip = listen.ip();
    if ip.is_loopback() && ip.is_ipv4() {
        Some(format!("http://{listen}"))
    } else if ip.is_unspecified() {
        Some(format!("http://localhost:{}", listen.port()))
    } else {
        None
    }
}

/// The configuration of the demo: SQLite in the data directory, both demo apps pointed at the
/// simulator.
fn demo_config(args: &DemoArgs, keys: &DemoKeys, sim: &str) -> Config {
    let mut config = Config::default();
    config.server.listen = args.listen;
    config.server.demo_page = true;
    config.server.demo_scanner = Some(wxauth_http::DemoScanner {
        name: "Alice".into(),
        openid: ALICE_OA.into(),
        mini_program_openid: ALICE.into(),
        simulator_url: sim.to_owned(),
    });
    config.database.url = format!("sqlite://{}/demo.db?mode=rwc", args.data_dir.display());
    config.secrets.master_key = Some(SecretString::from(keys.master_key.clone()));
    config.jwt.secret = Some(SecretString::from(keys.jwt_secret.clone()));
    config.log.format = LogFormat::Pretty;
    config.auth.default_app = Some(MINI_PROGRAM_KEY.into());
    for base in [
        &mut config.wechat.api_base_url,
        &mut config.wechat.open_base_url,
        &mut config.wechat.mp_base_url,
    ] {
        *base = sim.to_owned();
    }
    let app = |kind: &str, appid: &str, secret: &str| AppSection {
        kind: kind.into(),
        name: None,
        appid: appid.into(),
        secret: SecretString::from(secret.to_owned()),
        registration: "open".into(),
        redirect_allow_list: Vec::new(),
        event_token: None,
        encoding_aes_key: None,
        api_base_url: None,
        open_base_url: None,
        mp_base_url: None,
        qr_login: Default::default(),
        enabled: true,
    };
    let mut mini_program = app(
        "mini_program",
        MINI_PROGRAM_APPID,
        &keys.mini_program_secret,
    );
    // The page of the simulated Mini Program that confirms a web scan-login.
    mini_program.qr_login.page = Some("pages/login/index".into());
    config.apps.insert(MINI_PROGRAM_KEY.into(), mini_program);
    let mut oa = app("official_account", OFFICIAL_APPID, &keys.official_secret);
    oa.redirect_allow_list = vec![format!("http://{}/demo/", args.listen)];
    oa.event_token = Some(SecretString::from(keys.event_token.clone()));
    oa.encoding_aes_key = Some(SecretString::from(keys.encoding_aes_key.clone()));
    config.apps.insert(OFFICIAL_KEY.into(), oa);
    if let (Some(pem), Some(issuer)) = (&keys.oidc_key, demo_issuer(args.listen)) {
        config.oidc.issuer = Some(issuer);
        config.oidc.keys = vec![crate::config::OidcKeyFileConfig {
            algorithm: wxauth_tokens::SigningAlgorithm::RS256,
            key: crate::config::KeyFileConfig {
                kid: "demo-rs256".into(),
                private_key_pem: Some(SecretString::from(pem.clone())),
                private_key_file: None,
                public_key_pem: None,
                public_key_file: None,
            },
        }];
    }
    config
}

pub async fn run(args: &DemoArgs) -> anyhow::Result<()> {
    std::fs::create_dir_all(&args.data_dir)
        .with_context(|| format!("cannot create {}", args.data_dir.display()))?;
    let mut keys = load_or_create_keys(&args.data_dir)?;
    if keys.oidc_key.is_none() {
        let pem = wxauth_tokens::generate_private_key_pem(wxauth_tokens::SigningAlgorithm::RS256)
            .map_err(anyhow::Error::msg)?;
        keys.oidc_key = Some(pem.expose_secret().to_owned());
        save_keys(&args.data_dir, &keys)?;
    }
    let events_url = format!(
        "http://{}/api/v1/official/{OFFICIAL_KEY}/events",
        args.listen
    );
    let sim = Simulator::spawn(SimConfig {
        listen: args.sim_listen,
        workers: 1,
        rate_limits: true,
        apps: vec![
            SimApp::mini_program(MINI_PROGRAM_APPID, &keys.mini_program_secret),
            SimApp::official_account(OFFICIAL_APPID, &keys.official_secret)
                .with_event_url(events_url, &keys.event_token)
                .with_encryption(&keys.encoding_aes_key, EventMode::Safe),
        ],
    })
    .await
    .with_context(|| format!("cannot start the simulator on {}", args.sim_listen))?;
    let state = sim.state();
    let users = [
        NewUser::new(MINI_PROGRAM_APPID)
            .openid(ALICE)
            .unionid("uDEMO_alice")
            .phone("+8613800138000")
            .nickname("Alice"),
        NewUser::new(MINI_PROGRAM_APPID).openid(BOB).nickname("Bob"),
        NewUser::new(OFFICIAL_APPID)
            .openid(ALICE_OA)
            .unionid("uDEMO_alice")
            .nickname("Alice"),
    ];
    for user in users {
        state
            .create_user(user)
            .map_err(|e| anyhow::anyhow!("simulator: {e}"))?;
    }

    let config = demo_config(args, &keys, &sim.base_url());
    crate::telemetry::init(&config.log);
    let app = Application::build(config).await?;
    let admin_key = admin_key(&app, &args.data_dir, &mut keys).await?;
    let client = match app.wxauth().oidc() {
        Some(_) => Some(demo_client(&app, &args.data_dir, &mut keys).await?),
        None => None,
    };
    print_banner(args.listen, &sim.base_url(), &admin_key, client.as_ref())?;
    let result = app.run_until_stopped().await;
    sim.stop().await;
    Ok(result?)
}

fn print_banner(
    listen: SocketAddr,
    sim: &str,
    admin_key: &str,
    client: Option<&DemoClient>,
) -> std::io::Result<()> {
    let mut o = std::io::stdout().lock();
    o.write_all(banner(listen, sim, admin_key, client).as_bytes())?;
    o.flush()
}

/// What the demo prints: where things are, the admin key, and a curl session that stops at
/// the first failing step with the body that explains it.
pub fn banner(
    listen: SocketAddr,
    sim: &str,
    admin_key: &str,
    client: Option<&DemoClient>,
) -> String {
    let api = format!("http://{listen}");
    let oidc = match (client, demo_issuer(listen)) {
        (Some(DemoClient { client_id, client_secret }), Some(issuer)) => format!(
            "\n  OpenID Connect issuer: {issuer}   (discovery: {issuer}/.well-known/openid-configuration)\n    client_id:     {client_id}\n    client_secret: {client_secret}\n    redirect URIs: http://localhost:8000/callback, http://127.0.0.1:8000/callback\n"
        ),
        _ => "\n  OpenID Connect: off (a plain-http issuer needs a local address; listen on 127.0.0.1)\n"
            .to_owned(),
    };
    format!(
        r#"
wxauth demo is running (SQLite, WeChat simulator at {sim})

  Swagger UI:  {api}/swagger-ui/   (Authorize: X-Admin-Key below, or a Bearer token)
  Demo page:   {api}/demo/         (scan as the simulator's user Alice)
  OpenAPI:     {api}/api-docs/openapi.json
  Admin key:   {admin_key}
{oidc}
Try it: a Mini Program user logs in and reads their account. Paste the block into a POSIX
shell; it stops at the first step that fails and prints the error body.

(
  set -e
  api={api}; sim={sim}
  call() {{ body=$(curl -sS --fail-with-body "$@") || {{ echo "failed: $body" >&2; return 1; }}; printf '%s' "$body"; }}
  field() {{ sed -nE "s/.*\"$1\":\"([^\"]+)\".*/\1/p"; }}
  # 1. the Mini Program calls wx.login(); the simulator mints the code
  minted=$(call -X POST "$sim/__sim/login-codes" -H 'content-type: application/json' \
    -d '{{"appid":"{MINI_PROGRAM_APPID}","openid":"{ALICE}"}}')
  CODE=$(printf '%s' "$minted" | field code)
  # 2. log in with the code (a code works once: run the block again for a new one)
  login=$(call -X POST "$api/api/v1/miniprogram/login" -H 'content-type: application/json' \
    -d "{{\"code\":\"$CODE\"}}")
  TOKEN=$(printf '%s' "$login" | field accessToken)
  # 3. who am I?
  call "$api/api/v1/me" -H "Authorization: Bearer $TOKEN"; echo
)

Press Ctrl-C to stop.
"#
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_demo_provider_runs_only_where_a_plain_http_issuer_is_allowed() {
        let at = |s: &str| demo_issuer(s.parse().unwrap());
        assert_eq!(
            at("127.0.0.1:8080").as_deref(),
            Some("http://127.0.0.1:8080")
        );
        assert_eq!(at("0.0.0.0:8080").as_deref(), Some("http://localhost:8080"));
        assert_eq!(at("192.168.1.5:8080"), None);
    }
}
