use std::time::Duration;

use serde_json::json;
use wxauth_wechat::{ExposeSecret, OpenId};

use crate::helpers::{APPID, SECRET, TestApp, errcode, json, pairs, query, token};

fn token_answer(extra: serde_json::Value) -> serde_json::Value {
    let mut body = json!({
        "access_token": "UAT", "expires_in": 7200, "refresh_token": "URT",
        "openid": "oUSER", "scope": "snsapi_userinfo"
    });
    for (k, v) in extra.as_object().unwrap() {
        body[k] = v.clone();
    }
    body
}

#[tokio::test]
async fn code_exchange_sends_the_documented_query() {
    let t = TestApp::spawn().await;
    t.answer(
        "GET",
        "/sns/oauth2/access_token",
        json(token_answer(json!({"unionid": "uU", "is_snapshotuser": 1}))),
    )
    .await;

    let grant = t.app.oauth_exchange_code("OCODE").await.unwrap();

    assert_eq!(grant.access_token.expose_secret(), "UAT");
    assert_eq!(grant.refresh_token.expose_secret(), "URT");
    assert_eq!(grant.expires_in, Duration::from_secs(7200));
    assert_eq!(grant.openid.as_str(), "oUSER");
    assert_eq!(grant.scope, "snsapi_userinfo");
    assert_eq!(grant.unionid.unwrap().as_str(), "uU");
    assert!(grant.is_snapshot_user);
    assert_eq!(
        query(&t.requests_to("/sns/oauth2/access_token").await[0]),
        pairs(&[
            ("appid", APPID),
            ("secret", SECRET),
            ("code", "OCODE"),
            ("grant_type", "authorization_code")
        ])
    );
}

#[tokio::test]
async fn a_normal_user_is_not_a_snapshot_user() {
    let t = TestApp::spawn().await;
    t.answer(
        "GET",
        "/sns/oauth2/access_token",
        json(token_answer(json!({}))),
    )
    .await;
    let grant = t.app.oauth_exchange_code("C").await.unwrap();
    assert!(!grant.is_snapshot_user);
    assert!(grant.unionid.is_none());
}

#[tokio::test]
async fn used_and_invalid_codes_are_classified() {
    let t = TestApp::spawn().await;
    t.answer("GET", "/sns/oauth2/access_token", errcode(40163))
        .await;
    assert!(
        t.app
            .oauth_exchange_code("C")
            .await
            .unwrap_err()
            .is_code_used()
    );
}

#[tokio::test]
async fn refresh_sends_the_documented_query() {
    let t = TestApp::spawn().await;
    t.answer(
        "GET",
        "/sns/oauth2/refresh_token",
        json(token_answer(json!({}))),
    )
    .await;

    let grant = t.app.oauth_refresh(&token("URT&x=1")).await.unwrap();

    assert_eq!(grant.access_token.expose_secret(), "UAT");
    assert_eq!(
        query(&t.requests_to("/sns/oauth2/refresh_token").await[0]),
        pairs(&[
            ("appid", APPID),
            ("grant_type", "refresh_token"),
            ("refresh_token", "URT&x=1")
        ])
    );
}

#[tokio::test]
async fn user_info_reads_the_profile() {
    let t = TestApp::spawn().await;
    t.answer(
        "GET",
        "/sns/userinfo",
        json(json!({
            "openid": "oUSER", "nickname": "Band", "sex": 1, "province": "P", "city": "C",
            "country": "CN", "headimgurl": "https://thirdwx.qlogo.cn/x/132",
            "privilege": ["chinaunicom"], "unionid": "uU", "language": "zh_CN"
        })),
    )
    .await;
    let openid = OpenId::parse("oUSER").unwrap();

    let info = t.app.oauth_user_info(&token("UAT"), &openid).await.unwrap();

    assert_eq!(info.nickname, "Band");
    assert_eq!(info.sex, 1);
    assert_eq!(info.headimgurl, "https://thirdwx.qlogo.cn/x/132");
    assert_eq!(info.privilege, vec!["chinaunicom".to_owned()]);
    assert_eq!(info.unionid.unwrap().as_str(), "uU");
    assert_eq!(
        query(&t.requests_to("/sns/userinfo").await[0]),
        pairs(&[
            ("access_token", "UAT"),
            ("openid", "oUSER"),
            ("lang", "zh_CN")
        ])
    );
}

#[tokio::test]
async fn check_reads_ok_as_true_and_refused_tokens_as_false() {
    let openid = OpenId::parse("oUSER").unwrap();
    let t = TestApp::spawn().await;
    t.answer(
        "GET",
        "/sns/auth",
        json(json!({"errcode": 0, "errmsg": "ok"})),
    )
    .await;
    assert!(t.app.oauth_check(&token("UAT"), &openid).await.unwrap());
    assert_eq!(
        query(&t.requests_to("/sns/auth").await[0]),
        pairs(&[("access_token", "UAT"), ("openid", "oUSER")])
    );

    for code in [40001, 42001, 40003] {
        let t = TestApp::spawn().await;
        t.answer("GET", "/sns/auth", errcode(code)).await;
        assert!(
            !t.app.oauth_check(&token("UAT"), &openid).await.unwrap(),
            "{code}"
        );
    }

    let t = TestApp::spawn().await;
    t.answer("GET", "/sns/auth", errcode(45011)).await;
    assert!(t.app.oauth_check(&token("UAT"), &openid).await.is_err());
}
