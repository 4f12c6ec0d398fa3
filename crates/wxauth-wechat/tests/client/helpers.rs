use std::sync::{Arc, Mutex};
use std::time::Duration;

use serde_json::Value;
use wiremock::matchers::{method, path};
use wiremock::{Mock, MockServer, Request, ResponseTemplate};
use wxauth_wechat::{
    AppClient, CallObserver, CallOutcome, Credentials, Endpoints, SecretString, TokenRefresh,
    WechatAppId, WechatClient, WechatClientBuilder,
};

pub const APPID: &str = "wx1234567890abcdef";
pub const SECRET: &str = "s3cr3t-app-secret";

/// A wiremock server standing in for all three WeChat hosts, and a client pointed at it.
pub struct TestApp {
    pub server: MockServer,
    pub app: AppClient,
    pub observer: Arc<RecordingObserver>,
}

impl TestApp {
    pub async fn spawn() -> Self {
        Self::spawn_with(|b| b).await
    }

    /// Short backoff and timeout so failure tests stay fast.
    pub async fn spawn_with(
        configure: impl FnOnce(WechatClientBuilder) -> WechatClientBuilder,
    ) -> Self {
        let server = MockServer::start().await;
        let observer = Arc::new(RecordingObserver::default());
        let builder = WechatClient::builder()
            .busy_retry_backoff(Duration::from_millis(1))
            .timeout(Duration::from_secs(2))
            .observer(observer.clone());
        let client = configure(builder).build().unwrap();
        let base = url::Url::parse(&server.uri()).unwrap();
        let app = client.app(credentials(), Endpoints::all_at(base));
        Self {
            server,
            app,
            observer,
        }
    }

    /// Requests received on `p`, in order.
    pub async fn requests_to(&self, p: &str) -> Vec<Request> {
        self.server
            .received_requests()
            .await
            .unwrap_or_default()
            .into_iter()
            .filter(|r| r.url.path() == p)
            .collect()
    }

    /// Mounts `template` for every request to `p` with method `m`.
    pub async fn answer(&self, m: &str, p: &str, template: ResponseTemplate) {
        Mock::given(method(m))
            .and(path(p))
            .respond_with(template)
            .mount(&self.server)
            .await;
    }
}

pub fn credentials() -> Credentials {
    Credentials::new(WechatAppId::parse(APPID).unwrap(), SECRET)
}

pub fn token(s: &str) -> SecretString {
    SecretString::from(s)
}

/// A JSON body with WeChat's usual content type.
pub fn json(body: Value) -> ResponseTemplate {
    ResponseTemplate::new(200).set_body_raw(body.to_string(), "application/json; charset=utf-8")
}

pub fn errcode(code: i64) -> ResponseTemplate {
    json(serde_json::json!({"errcode": code, "errmsg": format!("error {code}")}))
}

/// The decoded query of `request`, in order: checks the exact parameter set and order.
pub fn query(request: &Request) -> Vec<(String, String)> {
    request
        .url
        .query_pairs()
        .map(|(k, v)| (k.into_owned(), v.into_owned()))
        .collect()
}

pub fn pairs(expected: &[(&str, &str)]) -> Vec<(String, String)> {
    expected
        .iter()
        .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
        .collect()
}

/// Records what the client reports.
#[derive(Default)]
pub struct RecordingObserver {
    pub calls: Mutex<Vec<(&'static str, CallOutcome)>>,
    pub refreshes: Mutex<Vec<TokenRefresh>>,
}

impl RecordingObserver {
    pub fn outcomes(&self) -> Vec<CallOutcome> {
        self.calls.lock().unwrap().iter().map(|(_, o)| *o).collect()
    }
}

impl CallObserver for RecordingObserver {
    fn on_call(&self, endpoint: &'static str, outcome: CallOutcome, _elapsed: Duration) {
        self.calls.lock().unwrap().push((endpoint, outcome));
    }

    fn on_token_refresh(&self, _appid: &WechatAppId, source: TokenRefresh) {
        self.refreshes.lock().unwrap().push(source);
    }
}
