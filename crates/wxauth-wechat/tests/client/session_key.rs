use serde_json::json;
use wxauth_wechat::{ExposeSecret, OpenId, SecretString};

use crate::helpers::{TestApp, errcode, json, pairs, query, token};

const SESSION_KEY: &str = "AAECAwQFBgcICQoLDA0ODw==";
const SIGNATURE: &str = "75c022993d64e3ac224c1c9d6f2b4c6eb53f22f6c7aa6be94428577d11d12fd5";

fn openid() -> OpenId {
    OpenId::parse("oUSER").unwrap()
}

#[tokio::test]
async fn check_session_sends_the_hmac_signature_and_reads_ok_as_true() {
    let t = TestApp::spawn().await;
    t.answer(
        "GET",
        "/wxa/checksession",
        json(json!({"errcode": 0, "errmsg": "ok"})),
    )
    .await;

    let valid = t
        .app
        .check_session(&token("TOK"), &openid(), &SecretString::from(SESSION_KEY))
        .await
        .unwrap();

    assert!(valid);
    assert_eq!(
        query(&t.requests_to("/wxa/checksession").await[0]),
        pairs(&[
            ("access_token", "TOK"),
            ("signature", SIGNATURE),
            ("openid", "oUSER"),
            ("sig_method", "hmac_sha256")
        ])
    );
}

#[tokio::test]
async fn check_session_reads_87009_as_false_and_other_errcodes_as_errors() {
    let t = TestApp::spawn().await;
    t.answer("GET", "/wxa/checksession", errcode(87009)).await;
    let key = SecretString::from(SESSION_KEY);
    assert!(
        !t.app
            .check_session(&token("T"), &openid(), &key)
            .await
            .unwrap()
    );

    let t = TestApp::spawn().await;
    t.answer("GET", "/wxa/checksession", errcode(40001)).await;
    let e = t
        .app
        .check_session(&token("T"), &openid(), &key)
        .await
        .unwrap_err();
    assert!(e.is_invalid_access_token());
}

#[tokio::test]
async fn reset_session_key_returns_the_new_key() {
    let t = TestApp::spawn().await;
    t.answer(
        "GET",
        "/wxa/resetusersessionkey",
        json(json!({"openid": "oUSER", "session_key": "NEWKEY==", "errcode": 0, "errmsg": "ok"})),
    )
    .await;

    let key = t
        .app
        .reset_session_key(&token("TOK"), &openid(), &SecretString::from(SESSION_KEY))
        .await
        .unwrap();

    assert_eq!(key.expose_secret(), "NEWKEY==");
    assert_eq!(
        query(&t.requests_to("/wxa/resetusersessionkey").await[0]),
        pairs(&[
            ("access_token", "TOK"),
            ("openid", "oUSER"),
            ("signature", SIGNATURE),
            ("sig_method", "hmac_sha256")
        ])
    );
}
