use std::time::Duration;

use serde_json::json;
use wiremock::matchers::{body_json, method, path};
use wiremock::{Mock, ResponseTemplate};
use wxauth_wechat::ExposeSecret;

use crate::helpers::{APPID, SECRET, TestApp, errcode, json, pairs, query};

#[tokio::test]
async fn stable_token_posts_the_documented_json_without_a_query() {
    let t = TestApp::spawn().await;
    Mock::given(method("POST"))
        .and(path("/cgi-bin/stable_token"))
        .and(body_json(json!({
            "grant_type": "client_credential", "appid": APPID, "secret": SECRET,
            "force_refresh": false
        })))
        .respond_with(json(
            json!({"access_token": "TOKEN", "expires_in": 7200, "extra": 1}),
        ))
        .expect(1)
        .mount(&t.server)
        .await;

    let token = t.app.stable_access_token(false).await.unwrap();

    assert_eq!(token.token.expose_secret(), "TOKEN");
    assert_eq!(token.expires_in, Duration::from_secs(7200));
    let req = &t.requests_to("/cgi-bin/stable_token").await[0];
    assert!(req.url.query().is_none());
    assert_eq!(req.headers["content-type"], "application/json");
}

#[tokio::test]
async fn force_refresh_is_sent_when_asked() {
    let t = TestApp::spawn().await;
    Mock::given(method("POST"))
        .and(path("/cgi-bin/stable_token"))
        .and(body_json(json!({
            "grant_type": "client_credential", "appid": APPID, "secret": SECRET,
            "force_refresh": true
        })))
        .respond_with(json(json!({"access_token": "NEW", "expires_in": 7200})))
        .expect(1)
        .mount(&t.server)
        .await;
    assert_eq!(
        t.app
            .stable_access_token(true)
            .await
            .unwrap()
            .token
            .expose_secret(),
        "NEW"
    );
}

#[tokio::test]
async fn plain_token_is_a_get_with_the_documented_query() {
    let t = TestApp::spawn().await;
    t.answer(
        "GET",
        "/cgi-bin/token",
        json(json!({"access_token": "P", "expires_in": 7200})),
    )
    .await;

    let token = t.app.plain_access_token().await.unwrap();

    assert_eq!(token.token.expose_secret(), "P");
    let req = &t.requests_to("/cgi-bin/token").await[0];
    assert_eq!(
        query(req),
        pairs(&[
            ("grant_type", "client_credential"),
            ("appid", APPID),
            ("secret", SECRET)
        ])
    );
}

#[tokio::test]
async fn token_errcodes_are_api_errors_and_missing_fields_decode_errors() {
    let t = TestApp::spawn().await;
    t.answer("POST", "/cgi-bin/stable_token", errcode(40125))
        .await;
    let e = t.app.stable_access_token(false).await.unwrap_err();
    assert_eq!(e.errcode(), Some(40125));

    let t = TestApp::spawn().await;
    t.answer(
        "POST",
        "/cgi-bin/stable_token",
        json(json!({"access_token": "T"})),
    )
    .await;
    let e = t.app.stable_access_token(false).await.unwrap_err();
    assert!(matches!(e, wxauth_wechat::WechatError::Decode(_)), "{e:?}");

    let t = TestApp::spawn().await;
    t.answer(
        "POST",
        "/cgi-bin/stable_token",
        ResponseTemplate::new(200).set_body_string(""),
    )
    .await;
    assert!(t.app.stable_access_token(false).await.is_err());
}
