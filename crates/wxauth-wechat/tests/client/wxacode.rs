use serde_json::json;
use wiremock::matchers::{body_json, method, path, query_param};
use wiremock::{Mock, ResponseTemplate};
use wxauth_wechat::{WechatError, WxaCodeRequest, WxaEnvVersion};

use crate::helpers::{TestApp, errcode, json, token};

const PATH: &str = "/wxa/getwxacodeunlimit";
const PNG: &[u8] = b"\x89PNG\r\n\x1a\nfake";

fn request() -> WxaCodeRequest {
    WxaCodeRequest {
        scene: "login_abc".into(),
        page: Some("pages/login/index".into()),
        check_path: true,
        env_version: WxaEnvVersion::Release,
        width: Some(430),
    }
}

#[tokio::test]
async fn an_image_answer_is_returned_as_bytes() {
    let t = TestApp::spawn().await;
    Mock::given(method("POST"))
        .and(path(PATH))
        .and(query_param("access_token", "TOK"))
        .and(body_json(json!({
            "scene": "login_abc", "page": "pages/login/index", "check_path": true,
            "env_version": "release", "width": 430
        })))
        .respond_with(ResponseTemplate::new(200).set_body_raw(PNG, "image/png"))
        .expect(1)
        .mount(&t.server)
        .await;

    let image = t
        .app
        .wxa_code_unlimited(&token("TOK"), &request())
        .await
        .unwrap();

    assert_eq!(image, PNG);
}

#[tokio::test]
async fn a_json_answer_is_an_error() {
    let t = TestApp::spawn().await;
    t.answer("POST", PATH, errcode(41030)).await;
    let e = t
        .app
        .wxa_code_unlimited(&token("TOK"), &request())
        .await
        .unwrap_err();
    assert_eq!(e.errcode(), Some(41030));

    let t = TestApp::spawn().await;
    t.answer("POST", PATH, json(json!({"errcode": 0, "errmsg": "ok"})))
        .await;
    let e = t
        .app
        .wxa_code_unlimited(&token("TOK"), &request())
        .await
        .unwrap_err();
    assert!(matches!(e, WechatError::Decode(_)), "{e:?}");
}

#[tokio::test]
async fn a_busy_answer_is_retried_once() {
    let t = TestApp::spawn().await;
    Mock::given(method("POST"))
        .and(path(PATH))
        .respond_with(errcode(-1))
        .up_to_n_times(1)
        .mount(&t.server)
        .await;
    t.answer(
        "POST",
        PATH,
        ResponseTemplate::new(200).set_body_raw(PNG, "image/jpeg"),
    )
    .await;
    assert_eq!(
        t.app
            .wxa_code_unlimited(&token("TOK"), &request())
            .await
            .unwrap(),
        PNG
    );
    assert_eq!(t.requests_to(PATH).await.len(), 2);
}

#[tokio::test]
async fn a_scene_over_32_characters_is_refused_before_calling() {
    let t = TestApp::spawn().await;
    let e = t
        .app
        .wxa_code_unlimited(&token("TOK"), &WxaCodeRequest::new("x".repeat(33)))
        .await
        .unwrap_err();
    assert!(matches!(e, WechatError::InvalidArgument(_)));
    assert!(t.requests_to(PATH).await.is_empty());
}
