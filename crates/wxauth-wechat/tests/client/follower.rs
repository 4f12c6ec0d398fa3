use serde_json::json;
use wxauth_wechat::OpenId;

use crate::helpers::{TestApp, errcode, json, pairs, query, token};

const PATH: &str = "/cgi-bin/user/info";

#[tokio::test]
async fn a_follower_is_read_with_its_qr_scene() {
    let t = TestApp::spawn().await;
    t.answer(
        "GET",
        PATH,
        json(json!({
            "subscribe": 1, "openid": "oUSER", "language": "zh_CN",
            "subscribe_time": 1700000000, "unionid": "uU", "remark": "", "groupid": 0,
            "tagid_list": [], "subscribe_scene": "ADD_SCENE_QR_CODE", "qr_scene": 98765,
            "qr_scene_str": ""
        })),
    )
    .await;
    let openid = OpenId::parse("oUSER").unwrap();

    let info = t.app.user_info(&token("TOK"), &openid).await.unwrap();

    assert!(info.subscribed);
    assert_eq!(info.subscribe_time, Some(1_700_000_000));
    assert_eq!(info.unionid.unwrap().as_str(), "uU");
    assert_eq!(info.subscribe_scene.as_deref(), Some("ADD_SCENE_QR_CODE"));
    assert_eq!(info.qr_scene, Some(98765));
    assert_eq!(info.qr_scene_str, None);
    assert_eq!(
        query(&t.requests_to(PATH).await[0]),
        pairs(&[
            ("access_token", "TOK"),
            ("openid", "oUSER"),
            ("lang", "zh_CN")
        ])
    );
}

#[tokio::test]
async fn a_non_follower_has_only_an_openid() {
    let t = TestApp::spawn().await;
    t.answer(
        "GET",
        PATH,
        json(json!({"subscribe": 0, "openid": "oUSER"})),
    )
    .await;
    let info = t
        .app
        .user_info(&token("TOK"), &OpenId::parse("oUSER").unwrap())
        .await
        .unwrap();
    assert!(!info.subscribed);
    assert_eq!(info.subscribe_time, None);
    assert_eq!(info.unionid, None);
    assert_eq!(info.qr_scene, None);
}

#[tokio::test]
async fn an_openid_of_another_account_is_40003() {
    let t = TestApp::spawn().await;
    t.answer("GET", PATH, errcode(40003)).await;
    let e = t
        .app
        .user_info(&token("TOK"), &OpenId::parse("oX").unwrap())
        .await
        .unwrap_err();
    assert_eq!(e.errcode(), Some(wxauth_wechat::errcode::INVALID_OPENID));
}
