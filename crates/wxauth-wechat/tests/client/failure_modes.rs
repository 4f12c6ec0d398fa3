//! The call discipline shared by every API, exercised through `jscode2session`.

use std::time::Duration;

use serde_json::json;
use wiremock::matchers::{method, path};
use wiremock::{Mock, ResponseTemplate};
use wxauth_wechat::{CallOutcome, Credentials, Endpoints, WechatClient, WechatError};

use crate::helpers::{SECRET, TestApp, credentials, errcode, json};

const PATH: &str = "/sns/jscode2session";

fn success() -> ResponseTemplate {
    json(json!({"openid": "o1", "session_key": "k"}))
}

#[tokio::test]
async fn busy_then_success_is_retried_once() {
    let t = TestApp::spawn().await;
    Mock::given(method("GET"))
        .and(path(PATH))
        .respond_with(errcode(-1))
        .up_to_n_times(1)
        .mount(&t.server)
        .await;
    t.answer("GET", PATH, success()).await;

    assert!(t.app.code_to_session("c").await.is_ok());

    assert_eq!(t.requests_to(PATH).await.len(), 2);
    assert_eq!(
        t.observer.outcomes(),
        vec![CallOutcome::Errcode(-1), CallOutcome::Ok]
    );
}

#[tokio::test]
async fn busy_twice_is_an_error_after_two_requests() {
    let t = TestApp::spawn().await;
    t.answer("GET", PATH, errcode(-1)).await;

    let e = t.app.code_to_session("c").await.unwrap_err();

    assert!(e.is_busy());
    assert!(matches!(e, WechatError::Api { errcode: -1, .. }));
    assert_eq!(t.requests_to(PATH).await.len(), 2);
}

#[tokio::test]
async fn a_slow_answer_is_a_timeout() {
    let t = TestApp::spawn_with(|b| b.timeout(Duration::from_millis(100))).await;
    t.answer(
        "GET",
        PATH,
        success().set_delay(Duration::from_millis(1000)),
    )
    .await;

    let e = t.app.code_to_session("c").await.unwrap_err();

    assert_eq!(e, WechatError::Timeout);
    assert_eq!(t.observer.outcomes(), vec![CallOutcome::Timeout]);
    assert_eq!(
        t.requests_to(PATH).await.len(),
        1,
        "timeouts are not retried: codes are single-use"
    );
}

#[tokio::test]
async fn a_refused_connection_is_a_transport_error_without_the_query() {
    // A port nobody listens on: bind, note it, release it.
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let base = url::Url::parse(&format!("http://{}", listener.local_addr().unwrap())).unwrap();
    drop(listener);
    let app = WechatClient::builder()
        .build()
        .unwrap()
        .app(credentials(), Endpoints::all_at(base));

    let e = app.code_to_session("c").await.unwrap_err();

    assert!(matches!(e, WechatError::Transport(_)), "{e:?}");
    let shown = format!("{e} {e:?}");
    assert!(
        !shown.contains(SECRET) && !shown.contains("js_code"),
        "{shown}"
    );
}

#[tokio::test]
async fn malformed_bodies_are_decode_errors() {
    for body in ["<html>502 Bad Gateway</html>", "{\"openid\":", "", "null"] {
        let t = TestApp::spawn().await;
        t.answer(
            "GET",
            PATH,
            ResponseTemplate::new(200).set_body_raw(body, "text/html"),
        )
        .await;
        let e = t.app.code_to_session("c").await.unwrap_err();
        assert!(matches!(e, WechatError::Decode(_)), "{body:?}: {e:?}");
        assert_eq!(t.observer.outcomes(), vec![CallOutcome::Decode]);
    }
}

#[tokio::test]
async fn a_non_200_status_is_a_transport_error() {
    let t = TestApp::spawn().await;
    t.answer(
        "GET",
        PATH,
        ResponseTemplate::new(502).set_body_string("bad gateway"),
    )
    .await;
    let e = t.app.code_to_session("c").await.unwrap_err();
    assert_eq!(e, WechatError::Transport("HTTP status 502".into()));
}

#[tokio::test]
async fn a_redirect_is_not_followed() {
    let t = TestApp::spawn().await;
    t.answer(
        "GET",
        PATH,
        ResponseTemplate::new(302).insert_header("location", "http://example.com/"),
    )
    .await;
    let e = t.app.code_to_session("c").await.unwrap_err();
    assert_eq!(e, WechatError::Transport("HTTP status 302".into()));
}

#[tokio::test]
async fn unknown_fields_are_ignored_and_the_endpoint_is_reported() {
    let t = TestApp::spawn().await;
    t.answer(
        "GET",
        PATH,
        json(json!({"openid": "o1", "session_key": "k", "brand_new": [1, {"x": null}]})),
    )
    .await;
    assert!(t.app.code_to_session("c").await.is_ok());
    assert_eq!(
        *t.observer.calls.lock().unwrap(),
        vec![(PATH, CallOutcome::Ok)]
    );
}

#[tokio::test]
async fn a_base_url_with_a_path_prefix_is_honoured() {
    let t = TestApp::spawn().await;
    t.answer("GET", "/prefix/sns/jscode2session", success())
        .await;
    let base = url::Url::parse(&format!("{}/prefix/", t.server.uri())).unwrap();
    let app = WechatClient::builder().build().unwrap().app(
        Credentials::new(credentials().appid, SECRET),
        Endpoints::all_at(base),
    );
    assert!(app.code_to_session("c").await.is_ok());
}
