//! `wxauth-server demo`: the service on SQLite with the WeChat simulator in-process, a demo Mini
//! Program and a demo Official Account, and a printed curl session to try it.
//!
//! The demo's keys are generated on first start and kept in `<data dir>/demo-keys.json`, so the
//! database stays readable across restarts. Never use them for anything else.

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
}

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
    };
    std::fs::write(&path, serde_json::to_vec_pretty(&keys)?)
        .with_context(|| format!("cannot write {}", path.display()))?;
    Ok(keys)
}

/// The configuration of the demo: SQLite in the data directory, both demo apps pointed at the
/// simulator.
fn demo_config(args: &DemoArgs, keys: &DemoKeys, sim: &str) -> Config {
    let mut config = Config::default();
    config.server.listen = args.listen;
    config.server.demo_page = true;
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
        enabled: true,
    };
    config.apps.insert(
        MINI_PROGRAM_KEY.into(),
        app(
            "mini_program",
            MINI_PROGRAM_APPID,
            &keys.mini_program_secret,
        ),
    );
    let mut oa = app("official_account", OFFICIAL_APPID, &keys.official_secret);
    oa.redirect_allow_list = vec![format!("http://{}/demo/", args.listen)];
    oa.event_token = Some(SecretString::from(keys.event_token.clone()));
    oa.encoding_aes_key = Some(SecretString::from(keys.encoding_aes_key.clone()));
    config.apps.insert(OFFICIAL_KEY.into(), oa);
    config
}

pub async fn run(args: &DemoArgs) -> anyhow::Result<()> {
    std::fs::create_dir_all(&args.data_dir)
        .with_context(|| format!("cannot create {}", args.data_dir.display()))?;
    let keys = load_or_create_keys(&args.data_dir)?;
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
    print_banner(args.listen, &sim.base_url())?;
    let result = app.run_until_stopped().await;
    sim.stop().await;
    Ok(result?)
}

fn print_banner(listen: SocketAddr, sim: &str) -> std::io::Result<()> {
    let api = format!("http://{listen}");
    let mut o = std::io::stdout().lock();
    writeln!(
        o,
        "\nwxauth demo is running (SQLite, WeChat simulator at {sim})\n"
    )?;
    writeln!(o, "  Swagger UI:  {api}/swagger-ui/")?;
    writeln!(o, "  Demo page:   {api}/demo/")?;
    writeln!(o, "  OpenAPI:     {api}/api-docs/openapi.json\n")?;
    writeln!(
        o,
        "Try it: a Mini Program user logs in and reads their profile.\n"
    )?;
    writeln!(
        o,
        "# 1. the Mini Program calls wx.login(); the simulator mints the code"
    )?;
    writeln!(
        o,
        "CODE=$(curl -s -X POST {sim}/__sim/login-codes -H 'content-type: application/json' \\\n  -d '{{\"appid\":\"{MINI_PROGRAM_APPID}\",\"openid\":\"{ALICE}\"}}' | sed -E 's/.*\"code\":\"([^\"]+)\".*/\\1/')"
    )?;
    writeln!(o, "# 2. log in with the code")?;
    writeln!(
        o,
        "TOKEN=$(curl -s -X POST {api}/api/v1/miniprogram/login -H 'content-type: application/json' \\\n  -d \"{{\\\"code\\\":\\\"$CODE\\\"}}\" | sed -E 's/.*\"accessToken\":\"([^\"]+)\".*/\\1/')"
    )?;
    writeln!(o, "# 3. who am I?")?;
    writeln!(
        o,
        "curl -s {api}/api/v1/me -H \"Authorization: Bearer $TOKEN\"\n"
    )?;
    writeln!(o, "Press Ctrl-C to stop.")?;
    o.flush()
}
