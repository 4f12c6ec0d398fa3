use serde_json::json;
use wiremock::ResponseTemplate;
use wxauth_wechat::{ExposeSecret, WechatError};

use crate::helpers::{APPID, SECRET, TestApp, errcode, pairs, query};

const PATH: &str = "/sns/jscode2session";

fn text_plain(body: serde_json::Value) -> ResponseTemplate {
    ResponseTemplate::new(200).set_body_raw(body.to_string(), "text/plain")
}

#[tokio::test]
async fn sends_the_documented_get_and_reads_a_text_plain_answer_without_errcode() {
    let t = TestApp::spawn().await;
    t.answer(
        "GET",
        PATH,
        text_plain(json!({
            "openid": "oUSER_1", "session_key": "AAECAwQFBgcICQoLDA0ODw==",
            "unionid": "uUNION", "new_field": {"nested": true}
        })),
    )
    .await;

    let s = t.app.code_to_session("CODE1").await.unwrap();

    assert_eq!(s.openid.as_str(), "oUSER_1");
    assert_eq!(s.unionid.unwrap().as_str(), "uUNION");
    assert_eq!(s.session_key.expose_secret(), "AAECAwQFBgcICQoLDA0ODw==");
    let reqs = t.requests_to(PATH).await;
    assert_eq!(reqs.len(), 1);
    assert_eq!(reqs[0].method.as_str(), "GET");
    assert_eq!(
        query(&reqs[0]),
        pairs(&[
            ("appid", APPID),
            ("secret", SECRET),
            ("js_code", "CODE1"),
            ("grant_type", "authorization_code")
        ])
    );
}

#[tokio::test]
async fn errcode_zero_and_an_absent_unionid_are_success() {
    let t = TestApp::spawn().await;
    t.answer(
        "GET",
        PATH,
        text_plain(json!({"errcode": 0, "errmsg": "ok", "openid": "o1", "session_key": "k"})),
    )
    .await;
    let s = t.app.code_to_session("c").await.unwrap();
    assert!(s.unionid.is_none());
}

#[tokio::test]
async fn a_code_that_could_inject_parameters_is_url_encoded() {
    let t = TestApp::spawn().await;
    t.answer(
        "GET",
        PATH,
        text_plain(json!({"openid": "o1", "session_key": "k"})),
    )
    .await;

    t.app.code_to_session("a&secret=x=y #z+1").await.unwrap();

    let reqs = t.requests_to(PATH).await;
    let q = query(&reqs[0]);
    assert_eq!(q.len(), 4, "{q:?}");
    assert!(q.contains(&("js_code".into(), "a&secret=x=y #z+1".into())));
    assert_eq!(q.iter().filter(|(k, _)| k == "secret").count(), 1);
}

#[tokio::test]
async fn login_errcodes_are_classified() {
    for (code, check) in [
        (
            40029,
            WechatError::is_invalid_code as fn(&WechatError) -> bool,
        ),
        (40163, WechatError::is_code_used),
        (45011, WechatError::is_rate_limited),
    ] {
        let t = TestApp::spawn().await;
        t.answer("GET", PATH, errcode(code)).await;
        let e = t.app.code_to_session("c").await.unwrap_err();
        assert_eq!(e.errcode(), Some(code));
        assert!(check(&e), "{code}");
        assert_eq!(
            t.requests_to(PATH).await.len(),
            1,
            "{code} must not be retried"
        );
    }
}

#[tokio::test]
async fn a_missing_session_key_or_a_bad_openid_is_a_decode_error() {
    for body in [
        json!({"openid": "o1"}),
        json!({"openid": "o&x", "session_key": "k"}),
    ] {
        let t = TestApp::spawn().await;
        t.answer("GET", PATH, text_plain(body.clone())).await;
        let e = t.app.code_to_session("c").await.unwrap_err();
        assert!(matches!(e, WechatError::Decode(_)), "{body}: {e:?}");
    }
}

#[tokio::test]
async fn an_empty_code_is_refused_without_calling() {
    let t = TestApp::spawn().await;
    let e = t.app.code_to_session("").await.unwrap_err();
    assert!(matches!(e, WechatError::InvalidArgument(_)));
    assert!(t.requests_to(PATH).await.is_empty());
}

#[tokio::test]
async fn the_session_key_and_secret_never_show_in_debug() {
    let t = TestApp::spawn().await;
    t.answer(
        "GET",
        PATH,
        text_plain(json!({"openid": "o1", "session_key": "SESSIONKEYVALUE"})),
    )
    .await;
    let s = t.app.code_to_session("c").await.unwrap();
    let shown = format!("{s:?} {:?}", t.app);
    assert!(!shown.contains("SESSIONKEYVALUE"), "{shown}");
    assert!(!shown.contains(SECRET), "{shown}");
}
