//! The app under test, its simulator, and typed helpers.

use std::sync::Arc;

use actix_web::dev::ServerHandle;
use reqwest::{Method, Response};
use secrecy::SecretString;
use serde_json::{Value, json};
use wxauth_server::application::{Application, Components};
use wxauth_server::config::{AppSection, Config};
use wxauth_sim::{EventMode, NewUser, SimApp, SimConfig, SimHandle, Simulator};

use crate::database::{Backend, TestDatabase};

/// The apps every test app has, and their WeChat credentials in the simulator.
pub struct Apps;

impl Apps {
    pub const MP: &'static str = "mp";
    pub const MP_APPID: &'static str = "wxtestminiprog01";
    pub const MP_SECRET: &'static str = "mp-secret-0001";
    pub const MP2: &'static str = "mp2";
    pub const MP2_APPID: &'static str = "wxtestminiprog02";
    pub const MP2_SECRET: &'static str = "mp-secret-0002";
    pub const OA: &'static str = "oa";
    pub const OA_APPID: &'static str = "wxtestofficial01";
    pub const OA_SECRET: &'static str = "oa-secret-0001";
    pub const OA_TOKEN: &'static str = "wxauthtoken";
    /// The protocol document's test vector key.
    pub const OA_AES_KEY: &'static str = "AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh8";
    pub const WEB: &'static str = "web";
    pub const WEB_APPID: &'static str = "wxtestwebsite001";
    pub const WEB_SECRET: &'static str = "web-secret-0001";
    /// Where OAuth redirects may go.
    pub const FRONTEND: &'static str = "https://app.example.com/";
}

pub const MASTER_KEY: &str = "AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh8=";
pub const JWT_SECRET: &str = "test-jwt-secret-that-is-long-enough-0123";
/// A 2048-bit RSA key made for the tests (and nothing else), so that no test waits for a key
/// generation.
pub const OIDC_TEST_KEY: &str = include_str!("fixtures/oidc-test-rs256.pem");

type Customize = Arc<dyn Fn(&mut Config) + Send + Sync>;

#[derive(Clone)]
pub struct TestOptions {
    /// The registration policy of the `mp` app.
    pub mp_registration: &'static str,
    pub oa_registration: &'static str,
    pub rate_limits: bool,
    /// How the simulator pushes the `oa` app's events.
    pub oa_event_mode: EventMode,
    pub customize: Option<Customize>,
    /// Run as an OpenID provider whose issuer is the server's own address (so that relying-party
    /// libraries can discover it), signing with [`OIDC_TEST_KEY`].
    pub oidc: bool,
}

impl Default for TestOptions {
    fn default() -> Self {
        Self {
            mp_registration: "open",
            oa_registration: "open",
            rate_limits: false,
            oa_event_mode: EventMode::Plain,
            customize: None,
            oidc: false,
        }
    }
}

impl TestOptions {
    pub fn mp_registration(mut self, policy: &'static str) -> Self {
        self.mp_registration = policy;
        self
    }

    pub fn oa_registration(mut self, policy: &'static str) -> Self {
        self.oa_registration = policy;
        self
    }

    pub fn rate_limits(mut self) -> Self {
        self.rate_limits = true;
        self
    }

    pub fn oa_event_mode(mut self, mode: EventMode) -> Self {
        self.oa_event_mode = mode;
        self
    }

    pub fn oidc(mut self) -> Self {
        self.oidc = true;
        self
    }

    pub fn customize(mut self, f: impl Fn(&mut Config) + Send + Sync + 'static) -> Self {
        self.customize = Some(Arc::new(f));
        self
    }
}

pub struct TestApp {
    /// `http://127.0.0.1:<port>`
    pub address: String,
    pub port: u16,
    pub client: reqwest::Client,
    pub sim: SimHandle,
    pub config: Config,
    pub components_store: wxauth_persistence::SqlStore,
    /// The running instance's use cases, for what tests do behind the API (housekeeping).
    pub wxauth: std::sync::Arc<wxauth_core::Wxauth>,
    pub db: TestDatabase,
    server: ServerHandle,
    running: Option<tokio::task::JoinHandle<std::io::Result<()>>>,
}

fn app_section(kind: &str, appid: &str, secret: &str, registration: &str) -> AppSection {
    AppSection {
        kind: kind.into(),
        name: None,
        appid: appid.into(),
        secret: SecretString::from(secret.to_owned()),
        registration: registration.into(),
        redirect_allow_list: Vec::new(),
        event_token: None,
        encoding_aes_key: None,
        api_base_url: None,
        open_base_url: None,
        mp_base_url: None,
        qr_login: Default::default(),
        enabled: true,
    }
}

impl TestApp {
    pub async fn spawn(backend: Backend, options: TestOptions) -> TestApp {
        // WXAUTH_TEST_LOG=debug shows the service's logs while debugging a test.
        if let Ok(level) = std::env::var("WXAUTH_TEST_LOG") {
            wxauth_server::telemetry::init(&wxauth_server::config::LogSection {
                format: wxauth_server::config::LogFormat::Pretty,
                level,
            });
        }
        let sim = Simulator::spawn(
            SimConfig::default()
                .with_app(SimApp::mini_program(Apps::MP_APPID, Apps::MP_SECRET))
                .with_app(SimApp::mini_program(Apps::MP2_APPID, Apps::MP2_SECRET))
                .with_app(SimApp::website(Apps::WEB_APPID, Apps::WEB_SECRET)),
        )
        .await
        .expect("simulator");
        let db = TestDatabase::create(backend).await;

        let mut config = Config::default();
        config.server.listen = "127.0.0.1:0".parse().expect("addr");
        config.server.workers = 1;
        config.database.url = db.url.clone();
        config.database.max_connections = 8;
        config.secrets.master_key = Some(SecretString::from(MASTER_KEY));
        config.jwt.secret = Some(SecretString::from(JWT_SECRET));
        config.rate_limits.enabled = options.rate_limits;
        for base in [
            &mut config.wechat.api_base_url,
            &mut config.wechat.open_base_url,
            &mut config.wechat.mp_base_url,
        ] {
            *base = sim.base_url();
        }
        config.wechat.timeout_ms = 2_000;
        config.apps.insert(
            Apps::MP.into(),
            app_section(
                "mini_program",
                Apps::MP_APPID,
                Apps::MP_SECRET,
                options.mp_registration,
            ),
        );
        config.apps.insert(
            Apps::MP2.into(),
            app_section("mini_program", Apps::MP2_APPID, Apps::MP2_SECRET, "open"),
        );
        let mut oa = app_section(
            "official_account",
            Apps::OA_APPID,
            Apps::OA_SECRET,
            options.oa_registration,
        );
        oa.redirect_allow_list = vec![Apps::FRONTEND.into()];
        oa.event_token = Some(SecretString::from(Apps::OA_TOKEN));
        oa.encoding_aes_key = Some(SecretString::from(Apps::OA_AES_KEY));
        config.apps.insert(Apps::OA.into(), oa);
        let mut web = app_section("website", Apps::WEB_APPID, Apps::WEB_SECRET, "open");
        web.redirect_allow_list = vec![Apps::FRONTEND.into()];
        config.apps.insert(Apps::WEB.into(), web);
        config.auth.default_app = Some(Apps::MP.into());
        config.server.compat_official_app = Some(Apps::OA.into());
        config.server.demo_page = true;
        if options.oidc {
            // The issuer names the port, so the port is chosen before the server binds it.
            let port = std::net::TcpListener::bind("127.0.0.1:0")
                .and_then(|l| l.local_addr())
                .expect("a free port")
                .port();
            config.server.listen = format!("127.0.0.1:{port}").parse().expect("addr");
            config.oidc.issuer = Some(format!("http://127.0.0.1:{port}"));
            config.oidc.keys = vec![wxauth_server::config::OidcKeyFileConfig {
                algorithm: wxauth_tokens::SigningAlgorithm::RS256,
                key: wxauth_server::config::KeyFileConfig {
                    kid: "test-rs256".into(),
                    private_key_pem: Some(SecretString::from(OIDC_TEST_KEY)),
                    private_key_file: None,
                    public_key_pem: None,
                    public_key_file: None,
                },
            }];
        }
        if let Some(customize) = &options.customize {
            customize(&mut config);
        }
        config.validate().expect("test configuration is valid");

        let components = Components::build(config.clone(), true, true)
            .await
            .expect("components");
        let store = components.store.clone();
        let app = Application::from_components(components).expect("server");
        let wxauth = app.wxauth().clone();
        let port = app.port();
        let server = app.handle();
        let running = Some(tokio::spawn(app.run_until_stopped()));

        // The Official Account pushes its events to this app, which only now has a port.
        let events = format!(
            "http://127.0.0.1:{port}/api/v1/official/{}/events",
            Apps::OA
        );
        let mut oa_sim = SimApp::official_account(Apps::OA_APPID, Apps::OA_SECRET)
            .with_event_url(events, Apps::OA_TOKEN);
        if options.oa_event_mode != EventMode::Plain {
            oa_sim = oa_sim.with_encryption(Apps::OA_AES_KEY, options.oa_event_mode);
        }
        sim.state().add_app(oa_sim).expect("sim app");

        let client = reqwest::Client::builder()
            .redirect(reqwest::redirect::Policy::none())
            .build()
            .expect("client");
        TestApp {
            address: format!("http://127.0.0.1:{port}"),
            port,
            client,
            sim,
            config,
            components_store: store,
            wxauth,
            db,
            server,
            running,
        }
    }

    /// Another instance of the same service: same configuration, database and simulator, its
    /// own port and process-local state — as a second replica behind a load balancer.
    pub async fn another_instance(&self) -> Instance {
        let components = Components::build(self.config.clone(), false, false)
            .await
            .expect("components");
        let store = components.store.clone();
        let app = Application::from_components(components).expect("server");
        let address = format!("http://127.0.0.1:{}", app.port());
        let server = app.handle();
        let running = tokio::spawn(app.run_until_stopped());
        Instance {
            address,
            server,
            running: Some(running),
            store,
        }
    }

    /// Stops the server, waits for its background work, closes its connections and drops the
    /// database. Without this (a panicking test), `Drop` does what it can without blocking.
    pub async fn shutdown(mut self) {
        self.server.stop(true).await;
        if let Some(running) = self.running.take() {
            let _ = running.await;
        }
        let _ = self.components_store.database().clone().close().await;
        self.db.drop_now().await;
    }

    pub fn backend(&self) -> &'static str {
        self.db.backend.name()
    }

    pub fn url(&self, path: &str) -> String {
        format!("{}{path}", self.address)
    }

    /// The OpenID provider's issuer (the server's address), when it runs as one.
    pub fn issuer(&self) -> &str {
        self.config
            .oidc
            .issuer
            .as_deref()
            .expect("spawned with TestOptions::oidc")
    }

    pub async fn request(
        &self,
        method: Method,
        path: &str,
        token: Option<&str>,
        body: Option<Value>,
    ) -> Response {
        let mut req = self.client.request(method, self.url(path));
        if let Some(token) = token {
            req = req.bearer_auth(token);
        }
        if let Some(body) = body {
            req = req.json(&body);
        }
        req.send().await.expect("request")
    }

    pub async fn get(&self, path: &str) -> Response {
        self.request(Method::GET, path, None, None).await
    }

    pub async fn get_auth(&self, path: &str, token: &str) -> Response {
        self.request(Method::GET, path, Some(token), None).await
    }

    pub async fn post(&self, path: &str, body: Value) -> Response {
        self.request(Method::POST, path, None, Some(body)).await
    }

    pub async fn post_auth(&self, path: &str, token: &str, body: Value) -> Response {
        self.request(Method::POST, path, Some(token), Some(body))
            .await
    }

    /// Creates a fake WeChat user of the `mp` app in the simulator; returns the openid.
    pub fn mp_user(&self, user: NewUser) -> String {
        self.sim.state().create_user(user).expect("sim user").openid
    }

    /// A fresh `mp` user with a random openid.
    pub fn new_mp_user(&self) -> String {
        self.mp_user(NewUser::new(Apps::MP_APPID))
    }

    pub fn login_code(&self, appid: &str, openid: &str) -> String {
        self.sim
            .state()
            .login_code(appid, openid)
            .expect("login code")
    }

    pub fn phone_code(&self, appid: &str, openid: &str) -> String {
        self.sim
            .state()
            .phone_code(appid, openid)
            .expect("phone code")
    }

    /// Logs `openid` in to the `mp` app; returns the response body (asserting 200).
    pub async fn login(&self, openid: &str) -> Value {
        let code = self.login_code(Apps::MP_APPID, openid);
        let res = self
            .post("/api/v1/miniprogram/login", json!({ "code": code }))
            .await;
        assert_eq!(res.status(), 200, "login failed on {}", self.backend());
        res.json().await.expect("json")
    }

    /// Logs a fresh `mp` user in; returns (openid, access token, body).
    pub async fn signed_in_user(&self) -> (String, String, Value) {
        let openid = self.new_mp_user();
        let body = self.login(&openid).await;
        let token = body["accessToken"].as_str().expect("token").to_owned();
        (openid, token, body)
    }

    /// Creates an admin key straight through the use cases.
    pub async fn admin_key(&self) -> String {
        use secrecy::ExposeSecret;
        let components = Components::build(self.config.clone(), false, false)
            .await
            .expect("components");
        let created = components
            .wxauth
            .create_admin_key("tests")
            .await
            .expect("admin key");
        created.key.expose_secret().to_owned()
    }
}

/// A further instance of a [`TestApp`]'s service ([`TestApp::another_instance`]).
pub struct Instance {
    /// `http://127.0.0.1:<port>`
    pub address: String,
    server: ServerHandle,
    running: Option<tokio::task::JoinHandle<std::io::Result<()>>>,
    store: wxauth_persistence::SqlStore,
}

impl Instance {
    pub fn url(&self, path: &str) -> String {
        format!("{}{path}", self.address)
    }

    /// Stops it and closes its connections (before the [`TestApp`] drops the database).
    pub async fn shutdown(mut self) {
        self.server.stop(true).await;
        if let Some(running) = self.running.take() {
            let _ = running.await;
        }
        let _ = self.store.database().clone().close().await;
    }
}

impl Drop for Instance {
    fn drop(&mut self) {
        if self.running.is_some() {
            drop(self.server.stop(false));
        }
    }
}

impl Drop for TestApp {
    fn drop(&mut self) {
        if self.running.is_some() {
            // A test panicked before `shutdown`: stop accepting; the database's own Drop
            // cleans up in the background.
            drop(self.server.stop(false));
        }
    }
}

/// Asserts the error envelope and returns it.
pub async fn expect_error(res: Response, status: u16, name: &str) -> Value {
    let got = res.status().as_u16();
    let request_id = res
        .headers()
        .get("x-request-id")
        .and_then(|v| v.to_str().ok())
        .map(str::to_owned);
    let body: Value = res.json().await.expect("error body is JSON");
    assert_eq!(got, status, "status for {body}");
    assert_eq!(body["name"], name, "error name in {body}");
    assert_eq!(body["status"], status, "status field in {body}");
    assert!(
        body["message"].as_str().is_some_and(|m| !m.is_empty()),
        "message in {body}"
    );
    assert_eq!(
        body["id"].as_str(),
        request_id.as_deref(),
        "envelope id matches x-request-id"
    );
    body
}
