use serde_json::json;
use wiremock::Mock;
use wiremock::matchers::{body_json, method, path, query_param};
use wxauth_wechat::{QrCodeError, QrCodeRequest, QrScene, WechatError};

use crate::helpers::{TestApp, json, pairs, query, token};

const PATH: &str = "/cgi-bin/qrcode/create";

#[tokio::test]
async fn a_temporary_string_scene_posts_the_documented_body() {
    let t = TestApp::spawn().await;
    Mock::given(method("POST"))
        .and(path(PATH))
        .and(query_param("access_token", "TOK"))
        .and(body_json(json!({
            "expire_seconds": 300, "action_name": "QR_STR_SCENE",
            "action_info": {"scene": {"scene_str": "login_abc"}}
        })))
        .respond_with(json(json!({
            "ticket": "gQH47joAAAAAAAAAASxodHRwOi8v+/=", "expire_seconds": 300,
            "url": "http://weixin.qq.com/q/kZgfwMTm72WWPkovabbI"
        })))
        .expect(1)
        .mount(&t.server)
        .await;
    let request = QrCodeRequest::Temporary {
        scene: QrScene::Str("login_abc".into()),
        expire_seconds: 300,
    };

    let ticket = t.app.create_qr_code(&token("TOK"), &request).await.unwrap();

    assert_eq!(ticket.ticket, "gQH47joAAAAAAAAAASxodHRwOi8v+/=");
    assert_eq!(ticket.expire_seconds, Some(300));
    assert_eq!(ticket.url, "http://weixin.qq.com/q/kZgfwMTm72WWPkovabbI");
    assert_eq!(
        query(&t.requests_to(PATH).await[0]),
        pairs(&[("access_token", "TOK")])
    );
}

#[tokio::test]
async fn a_permanent_code_has_no_expiry() {
    let t = TestApp::spawn().await;
    Mock::given(method("POST"))
        .and(path(PATH))
        .and(body_json(json!({
            "action_name": "QR_LIMIT_SCENE", "action_info": {"scene": {"scene_id": 42}}
        })))
        .respond_with(json(json!({"ticket": "T", "url": "u"})))
        .expect(1)
        .mount(&t.server)
        .await;
    let request = QrCodeRequest::Permanent {
        scene: QrScene::Id(42),
    };
    let ticket = t.app.create_qr_code(&token("TOK"), &request).await.unwrap();
    assert_eq!(ticket.expire_seconds, None);
}

#[tokio::test]
async fn requests_outside_the_limits_are_refused_before_calling() {
    let t = TestApp::spawn().await;
    let cases = [
        (
            QrCodeRequest::Temporary {
                scene: QrScene::Id(1),
                expire_seconds: 2_592_001,
            },
            QrCodeError::ExpireSeconds(2_592_001),
        ),
        (
            QrCodeRequest::Permanent {
                scene: QrScene::Id(100_001),
            },
            QrCodeError::PermanentSceneId(100_001),
        ),
        (
            QrCodeRequest::Permanent {
                scene: QrScene::Str("s".repeat(65)),
            },
            QrCodeError::SceneStrLength(65),
        ),
    ];
    for (request, expected) in cases {
        let e = t
            .app
            .create_qr_code(&token("TOK"), &request)
            .await
            .unwrap_err();
        assert_eq!(e, WechatError::InvalidQrCode(expected));
    }
    assert!(t.requests_to(PATH).await.is_empty());
}

#[tokio::test]
async fn the_image_url_encodes_the_ticket() {
    let t = TestApp::spawn().await;
    let url = t.app.qr_code_image_url("gQH+/a=b&c");
    assert_eq!(
        url,
        format!(
            "{}/cgi-bin/showqrcode?ticket=gQH%2B%2Fa%3Db%26c",
            t.server.uri()
        )
    );
}
