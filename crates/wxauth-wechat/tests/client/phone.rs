use serde_json::json;
use wiremock::Mock;
use wiremock::matchers::{body_json, method, path, query_param};
use wxauth_wechat::OpenId;

use crate::helpers::{TestApp, errcode, json, pairs, query, token};

const PATH: &str = "/wxa/business/getuserphonenumber";

fn answer(country_code: serde_json::Value) -> serde_json::Value {
    json!({
        "errcode": 0, "errmsg": "ok",
        "phone_info": {
            "phoneNumber": "+1 5551234", "purePhoneNumber": "5551234", "countryCode": country_code,
            "watermark": {"timestamp": 1700000000, "appid": "wx1234567890abcdef"},
            "unknown": "ignored"
        }
    })
}

#[tokio::test]
async fn posts_the_code_with_the_token_in_the_query() {
    let t = TestApp::spawn().await;
    Mock::given(method("POST"))
        .and(path(PATH))
        .and(query_param("access_token", "TOK"))
        .and(body_json(json!({"code": "PHONECODE"})))
        .respond_with(json(answer(json!("1"))))
        .expect(1)
        .mount(&t.server)
        .await;

    let info = t
        .app
        .phone_number(&token("TOK"), "PHONECODE", None)
        .await
        .unwrap();

    assert_eq!(info.phone_number, "+1 5551234");
    assert_eq!(info.pure_phone_number, "5551234");
    assert_eq!(info.country_code, "1");
    assert_eq!(info.watermark.timestamp, 1_700_000_000);
    assert_eq!(info.watermark.appid.as_str(), "wx1234567890abcdef");
    assert_eq!(
        query(&t.requests_to(PATH).await[0]),
        pairs(&[("access_token", "TOK")])
    );
}

#[tokio::test]
async fn sends_the_openid_when_given_and_accepts_a_numeric_country_code() {
    let t = TestApp::spawn().await;
    Mock::given(method("POST"))
        .and(path(PATH))
        .and(body_json(json!({"code": "C", "openid": "oUSER"})))
        .respond_with(json(answer(json!(86))))
        .expect(1)
        .mount(&t.server)
        .await;
    let openid = OpenId::parse("oUSER").unwrap();
    let info = t
        .app
        .phone_number(&token("T"), "C", Some(&openid))
        .await
        .unwrap();
    assert_eq!(info.country_code, "86");
}

#[tokio::test]
async fn an_invalid_phone_code_is_40029() {
    let t = TestApp::spawn().await;
    t.answer("POST", PATH, errcode(40029)).await;
    let e = t
        .app
        .phone_number(&token("T"), "C", None)
        .await
        .unwrap_err();
    assert!(e.is_invalid_code());
}

#[tokio::test]
async fn a_success_without_phone_info_is_a_decode_error() {
    let t = TestApp::spawn().await;
    t.answer("POST", PATH, json(json!({"errcode": 0, "errmsg": "ok"})))
        .await;
    let e = t
        .app
        .phone_number(&token("T"), "C", None)
        .await
        .unwrap_err();
    assert!(matches!(e, wxauth_wechat::WechatError::Decode(_)), "{e:?}");
}
