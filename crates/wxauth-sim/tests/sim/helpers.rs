//! Shared test scaffolding: a simulator on port 0 with one app of each kind, a plain HTTP client,
//! and a tiny event receiver.

use std::collections::HashMap;
use std::net::TcpListener;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use actix_web::dev::ServerHandle;
use actix_web::{App, HttpRequest, HttpResponse, HttpServer, web};
use reqwest::StatusCode;
use serde_json::{Value, json};
use sha1::{Digest, Sha1};
use wxauth_sim::{NewUser, SimApp, SimConfig, SimHandle, SimState, SimUser, Simulator};

pub const MP: &str = "wxmp000000000000a1";
pub const MP_SECRET: &str = "mp-secret";
pub const OA: &str = "wxoa000000000000b2";
pub const OA_SECRET: &str = "oa-secret";
pub const WEB: &str = "wxweb00000000000c3";
pub const WEB_SECRET: &str = "web-secret";
pub const EVENT_TOKEN: &str = "wxauthtoken";
/// The doc's EncodingAESKey (bytes 0x00..0x1f).
pub const AES_KEY: &str = "AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh8";

pub struct TestSim {
    pub sim: SimHandle,
    pub http: reqwest::Client,
}

pub fn default_config() -> SimConfig {
    SimConfig::default()
        .with_app(SimApp::mini_program(MP, MP_SECRET))
        .with_app(SimApp::official_account(OA, OA_SECRET))
        .with_app(SimApp::website(WEB, WEB_SECRET))
}

impl TestSim {
    pub async fn spawn() -> Self {
        Self::spawn_with(default_config()).await
    }

    pub async fn spawn_with(config: SimConfig) -> Self {
        let sim = Simulator::spawn(config).await.expect("simulator starts");
        let http = reqwest::Client::builder()
            .no_proxy()
            .redirect(reqwest::redirect::Policy::none())
            .build()
            .expect("client");
        Self { sim, http }
    }

    pub fn state(&self) -> &SimState {
        self.sim.state()
    }

    pub fn url(&self, path: &str) -> String {
        format!("{}{path}", self.sim.base_url())
    }

    pub async fn get(&self, path: &str, query: &[(&str, &str)]) -> reqwest::Response {
        self.http
            .get(self.url(path))
            .query(query)
            .send()
            .await
            .expect("request")
    }

    /// GET an API and parse the body as JSON whatever its content type.
    pub async fn get_json(&self, path: &str, query: &[(&str, &str)]) -> Value {
        let response = self.get(path, query).await;
        assert_eq!(response.status(), StatusCode::OK, "{path} answers 200");
        parse(&response.text().await.expect("body"))
    }

    /// POST a JSON body to an API and parse the answer.
    pub async fn post_json(&self, path: &str, query: &[(&str, &str)], body: &Value) -> Value {
        let response = self.post_raw(path, query, body.to_string()).await;
        assert_eq!(response.status(), StatusCode::OK, "{path} answers 200");
        parse(&response.text().await.expect("body"))
    }

    pub async fn post_raw(
        &self,
        path: &str,
        query: &[(&str, &str)],
        body: String,
    ) -> reqwest::Response {
        self.http
            .post(self.url(path))
            .query(query)
            .body(body)
            .send()
            .await
            .expect("request")
    }

    /// A control call: returns status and JSON body.
    pub async fn control(&self, method: &str, path: &str, body: Option<Value>) -> (u16, Value) {
        let method = reqwest::Method::from_bytes(method.as_bytes()).expect("method");
        let mut request = self.http.request(method, self.url(path));
        if let Some(body) = body {
            request = request.json(&body);
        }
        let response = request.send().await.expect("control request");
        let status = response.status().as_u16();
        let text = response.text().await.expect("body");
        (
            status,
            serde_json::from_str(&text).unwrap_or(Value::String(text)),
        )
    }

    pub fn user(&self, user: NewUser) -> SimUser {
        self.state().create_user(user).expect("user created")
    }

    pub fn mp_user(&self) -> SimUser {
        self.user(NewUser::new(MP))
    }

    pub async fn login(&self, openid: &str) -> Value {
        let code = self.state().login_code(MP, openid).expect("code");
        self.jscode2session(&code).await
    }

    pub async fn jscode2session(&self, code: &str) -> Value {
        self.get_json(
            "/sns/jscode2session",
            &[
                ("appid", MP),
                ("secret", MP_SECRET),
                ("js_code", code),
                ("grant_type", "authorization_code"),
            ],
        )
        .await
    }

    pub async fn stable_token_of(&self, appid: &str, secret: &str, force: bool) -> Value {
        self.post_json(
            "/cgi-bin/stable_token",
            &[],
            &json!({"grant_type": "client_credential", "appid": appid, "secret": secret, "force_refresh": force}),
        )
        .await
    }

    /// The current stable token of an app.
    pub async fn token(&self, appid: &str) -> String {
        let secret = match appid {
            MP => MP_SECRET,
            OA => OA_SECRET,
            WEB => WEB_SECRET,
            _ => panic!("unknown test app {appid}"),
        };
        let reply = self.stable_token_of(appid, secret, false).await;
        reply["access_token"]
            .as_str()
            .expect("access_token")
            .to_owned()
    }
}

pub fn parse(text: &str) -> Value {
    serde_json::from_str(text).unwrap_or_else(|err| panic!("not JSON ({err}): {text}"))
}

pub fn errcode(body: &Value) -> i64 {
    body["errcode"].as_i64().unwrap_or(0)
}

/// The doc's URL-check signature, computed independently of the simulator.
pub fn sha1_signature(parts: &[&str]) -> String {
    let mut sorted = parts.to_vec();
    sorted.sort_unstable();
    hex::encode(Sha1::digest(sorted.concat().as_bytes()))
}

/// One request seen by the receiver.
#[derive(Debug, Clone)]
pub struct Received {
    pub method: String,
    pub query: HashMap<String, String>,
    pub body: String,
}

/// How the receiver answers.
#[derive(Debug, Clone)]
pub struct Behaviour {
    /// The first `slow_first` requests sleep this long before answering.
    pub slow_first: usize,
    pub delay: Duration,
    pub status: u16,
    /// `None` echoes `echostr` (URL check) or answers `success`.
    pub body: Option<String>,
}

impl Default for Behaviour {
    fn default() -> Self {
        Self {
            slow_first: 0,
            delay: Duration::ZERO,
            status: 200,
            body: None,
        }
    }
}

/// A tiny account server: records every request, answers per [`Behaviour`].
pub struct Receiver {
    pub url: String,
    log: Arc<Mutex<Vec<Received>>>,
    handle: ServerHandle,
}

struct ReceiverState {
    log: Arc<Mutex<Vec<Received>>>,
    behaviour: Behaviour,
}

async fn receive(
    req: HttpRequest,
    body: web::Bytes,
    state: web::Data<ReceiverState>,
) -> HttpResponse {
    let query: HashMap<String, String> = url::form_urlencoded::parse(req.query_string().as_bytes())
        .into_owned()
        .collect();
    let seen = {
        let mut log = state.log.lock().unwrap();
        log.push(Received {
            method: req.method().to_string(),
            query: query.clone(),
            body: String::from_utf8_lossy(&body).into_owned(),
        });
        log.len()
    };
    let behaviour = &state.behaviour;
    if seen <= behaviour.slow_first {
        tokio::time::sleep(behaviour.delay).await;
    }
    let answer = behaviour.body.clone().unwrap_or_else(|| {
        query
            .get("echostr")
            .cloned()
            .unwrap_or_else(|| "success".to_owned())
    });
    HttpResponse::build(actix_web::http::StatusCode::from_u16(behaviour.status).unwrap())
        .body(answer)
}

impl Receiver {
    pub fn start(behaviour: Behaviour) -> Self {
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let port = listener.local_addr().unwrap().port();
        let log = Arc::new(Mutex::new(Vec::new()));
        let data = web::Data::new(ReceiverState {
            log: log.clone(),
            behaviour,
        });
        let server = HttpServer::new(move || {
            App::new()
                .app_data(data.clone())
                .default_service(web::to(receive))
        })
        .workers(1)
        .disable_signals()
        .shutdown_timeout(0)
        .listen(listener)
        .unwrap()
        .run();
        let handle = server.handle();
        tokio::spawn(server);
        Self {
            url: format!("http://127.0.0.1:{port}/wechat/events?tenant=t1"),
            log,
            handle,
        }
    }

    pub fn requests(&self) -> Vec<Received> {
        self.log.lock().unwrap().clone()
    }
}

impl Drop for Receiver {
    fn drop(&mut self) {
        drop(self.handle.stop(false));
    }
}

/// The text between `<Tag>` and `</Tag>`, CDATA stripped.
pub fn xml_field(xml: &str, tag: &str) -> Option<String> {
    let open = format!("<{tag}>");
    let close = format!("</{tag}>");
    let start = xml.find(&open)? + open.len();
    let end = start + xml[start..].find(&close)?;
    let inner = &xml[start..end];
    Some(
        inner
            .strip_prefix("<![CDATA[")
            .and_then(|s| s.strip_suffix("]]>"))
            .unwrap_or(inner)
            .to_owned(),
    )
}
