use std::time::Duration;

use serde_json::{Value, json};
use wxauth_sim::NewUser;

use crate::helpers::*;

const PNG_MAGIC: [u8; 8] = [0x89, b'P', b'N', b'G', 0x0D, 0x0A, 0x1A, 0x0A];

pub async fn create_qr(sim: &TestSim, body: Value) -> Value {
    let token = sim.token(OA).await;
    sim.post_json("/cgi-bin/qrcode/create", &[("access_token", &token)], &body)
        .await
}

pub fn temp_str_scene(scene: &str) -> Value {
    json!({"expire_seconds": 600, "action_name": "QR_STR_SCENE", "action_info": {"scene": {"scene_str": scene}}})
}

#[tokio::test]
async fn temporary_codes_default_to_60_seconds_and_clamp_to_30_days() {
    let sim = TestSim::spawn().await;
    let default = create_qr(
        &sim,
        json!({"action_name": "QR_SCENE", "action_info": {"scene": {"scene_id": 123}}}),
    )
    .await;
    assert_eq!(default["expire_seconds"], 60);
    assert!(default["ticket"].is_string());
    assert!(
        default["url"]
            .as_str()
            .unwrap()
            .starts_with("http://weixin.qq.com/q/")
    );
    let long = create_qr(
        &sim,
        json!({"expire_seconds": 9_999_999, "action_name": "QR_STR_SCENE", "action_info": {"scene": {"scene_str": "login_abc"}}}),
    )
    .await;
    assert_eq!(long["expire_seconds"], 2_592_000);
}

#[tokio::test]
async fn permanent_codes_have_no_expire_seconds() {
    let sim = TestSim::spawn().await;
    let body = create_qr(
        &sim,
        json!({"action_name": "QR_LIMIT_STR_SCENE", "action_info": {"scene": {"scene_str": "forever"}}}),
    )
    .await;
    assert!(body.get("expire_seconds").is_none(), "{body}");
    assert!(body["ticket"].is_string());
}

#[tokio::test]
async fn invalid_qr_requests_are_40053() {
    let sim = TestSim::spawn().await;
    for body in [
        json!({"action_name": "QR_BOGUS", "action_info": {"scene": {"scene_id": 1}}}),
        json!({"action_name": "QR_SCENE", "action_info": {}}),
        json!({"action_name": "QR_LIMIT_SCENE", "action_info": {"scene": {"scene_id": 100_001}}}),
        json!({"action_name": "QR_STR_SCENE", "action_info": {"scene": {"scene_str": "x".repeat(65)}}}),
    ] {
        assert_eq!(
            errcode(&create_qr(&sim, body.clone()).await),
            40053,
            "{body}"
        );
    }
}

#[tokio::test]
async fn only_official_accounts_may_create_parametric_codes() {
    let sim = TestSim::spawn().await;
    let token = sim.token(MP).await;
    let body = sim
        .post_json(
            "/cgi-bin/qrcode/create",
            &[("access_token", &token)],
            &temp_str_scene("x"),
        )
        .await;
    assert_eq!(errcode(&body), 48001);
}

#[tokio::test]
async fn showqrcode_serves_a_png_until_the_ticket_expires() {
    let sim = TestSim::spawn().await;
    let created = create_qr(&sim, temp_str_scene("login_abc")).await;
    let ticket = created["ticket"].as_str().unwrap();
    // reqwest URL-encodes the ticket's '+', '/' and '=' as a careful client must.
    let response = sim.get("/cgi-bin/showqrcode", &[("ticket", ticket)]).await;
    assert_eq!(response.status(), 200);
    assert_eq!(response.headers()["content-type"], "image/png");
    let bytes = response.bytes().await.unwrap();
    assert_eq!(bytes[..8], PNG_MAGIC);

    let unknown = sim.get("/cgi-bin/showqrcode", &[("ticket", "nope")]).await;
    assert_eq!(unknown.status(), 404);

    sim.state().advance_clock(Duration::from_secs(600));
    let expired = sim.get("/cgi-bin/showqrcode", &[("ticket", ticket)]).await;
    assert_eq!(expired.status(), 404);
}

#[tokio::test]
async fn user_info_tells_followers_from_non_followers() {
    let sim = TestSim::spawn().await;
    let follower = sim.user(NewUser::new(OA).subscribed().unionid("uFOLLOW"));
    let stranger = sim.user(NewUser::new(OA));
    let token = sim.token(OA).await;

    let info = sim
        .get_json(
            "/cgi-bin/user/info",
            &[
                ("access_token", &token),
                ("openid", &follower.openid),
                ("lang", "zh_CN"),
            ],
        )
        .await;
    assert_eq!(info["subscribe"], 1);
    assert_eq!(info["openid"], follower.openid.as_str());
    assert_eq!(info["unionid"], "uFOLLOW");
    assert_eq!(info["language"], "zh_CN");
    assert!(info["subscribe_time"].as_u64().unwrap() > 0);
    assert_eq!(info["tagid_list"], json!([]));
    for field in [
        "remark",
        "groupid",
        "subscribe_scene",
        "qr_scene",
        "qr_scene_str",
    ] {
        assert!(info.get(field).is_some(), "{field}");
    }
    assert!(info.get("nickname").is_none());

    let info = sim
        .get_json(
            "/cgi-bin/user/info",
            &[("access_token", &token), ("openid", &stranger.openid)],
        )
        .await;
    assert_eq!(info, json!({"subscribe": 0, "openid": stranger.openid}));

    let mp_user = sim.mp_user();
    let foreign = sim
        .get_json(
            "/cgi-bin/user/info",
            &[("access_token", &token), ("openid", &mp_user.openid)],
        )
        .await;
    assert_eq!(errcode(&foreign), 40003);
}

#[tokio::test]
async fn getwxacodeunlimit_answers_a_png_or_a_json_error() {
    let sim = TestSim::spawn().await;
    let token = sim.token(MP).await;
    let ok = sim
        .post_raw(
            "/wxa/getwxacodeunlimit",
            &[("access_token", &token)],
            json!({"scene": "login_abc", "page": "pages/login/index", "width": 430}).to_string(),
        )
        .await;
    assert_eq!(ok.headers()["content-type"], "image/png");
    assert_eq!(ok.bytes().await.unwrap()[..8], PNG_MAGIC);

    let too_long = sim
        .post_raw(
            "/wxa/getwxacodeunlimit",
            &[("access_token", &token)],
            json!({"scene": "x".repeat(33)}).to_string(),
        )
        .await;
    assert_eq!(too_long.status(), 200);
    assert!(
        too_long.headers()["content-type"]
            .to_str()
            .unwrap()
            .starts_with("application/json")
    );
    assert_eq!(errcode(&parse(&too_long.text().await.unwrap())), 40097);
}

#[tokio::test]
async fn getwxacodeunlimit_refuses_odd_scenes_and_unpublished_pages() {
    let sim = TestSim::spawn().await;
    let token = sim.token(MP).await;
    let cases = [
        (json!({"scene": "登录"}), 40129),
        (
            json!({"scene": "abc", "page": "pages/unreleased/index"}),
            41030,
        ),
        (
            json!({"scene": "abc", "page": "pages/login/index?x=1", "check_path": false}),
            41030,
        ),
        (
            json!({"scene": "abc", "page": "pages/unreleased/index", "check_path": false}),
            0,
        ),
    ];
    for (body, expected) in cases {
        let response = sim
            .post_raw(
                "/wxa/getwxacodeunlimit",
                &[("access_token", &token)],
                body.to_string(),
            )
            .await;
        let is_png = response.headers()["content-type"] == "image/png";
        let bytes = response.bytes().await.unwrap();
        if expected == 0 {
            assert!(is_png, "{body}");
        } else {
            assert!(!is_png, "{body}");
            let reply: Value = serde_json::from_slice(&bytes).unwrap();
            assert_eq!(errcode(&reply), expected, "{body}: {reply}");
        }
    }
}

#[tokio::test]
async fn scanning_a_served_mini_program_code_gives_a_login_code_of_the_scanner() {
    use base64::Engine;
    use base64::engine::general_purpose::STANDARD;

    let sim = TestSim::spawn().await;
    let user = sim.mp_user();
    let token = sim.token(MP).await;
    let image = sim
        .post_raw(
            "/wxa/getwxacodeunlimit",
            &[("access_token", &token)],
            json!({"scene": "login_abc", "page": "pages/login/index", "env_version": "trial"})
                .to_string(),
        )
        .await
        .bytes()
        .await
        .unwrap();
    let (status, scan) = sim
        .control(
            "POST",
            "/__sim/wxacode-scan",
            Some(json!({"openid": user.openid, "image": STANDARD.encode(&image)})),
        )
        .await;
    assert_eq!(status, 200, "{scan}");
    assert_eq!(scan["appid"], MP);
    assert_eq!(scan["page"], "pages/login/index");
    assert_eq!(scan["scene"], "login_abc");
    assert_eq!(scan["env_version"], "trial");
    assert_eq!(scan["expires_in"], 300);
    let session = sim.jscode2session(scan["code"].as_str().unwrap()).await;
    assert_eq!(session["openid"], user.openid.as_str(), "{session}");

    let (status, scan) = sim
        .control(
            "POST",
            "/__sim/wxacode-scan",
            Some(json!({"openid": user.openid, "appid": MP, "scene": "login_def"})),
        )
        .await;
    assert_eq!(status, 200, "{scan}");
    assert_eq!(scan["scene"], "login_def");
    assert_eq!(scan["page"], "");
    assert!(scan["code"].is_string());
}

#[tokio::test]
async fn wxacode_scan_refusals_are_control_errors() {
    use base64::Engine;
    use base64::engine::general_purpose::STANDARD;

    let sim = TestSim::spawn().await;
    let user = sim.mp_user();
    let not_png = STANDARD.encode(b"GIF89a, not a PNG");
    let cases = [
        (json!({"openid": user.openid}), 400),
        (
            json!({"openid": user.openid, "image": not_png, "appid": MP, "scene": "abc"}),
            400,
        ),
        (json!({"openid": user.openid, "image": not_png}), 400),
        (json!({"openid": user.openid, "image": "***"}), 400),
        (json!({"openid": user.openid, "scene": "abc"}), 400),
        (
            json!({"openid": user.openid, "appid": MP, "scene": "a b"}),
            400,
        ),
        (
            json!({"openid": user.openid, "appid": MP, "scene": "abc", "typo": 1}),
            400,
        ),
        (
            json!({"openid": user.openid, "appid": "wxnope", "scene": "abc"}),
            404,
        ),
        (
            json!({"openid": "onobody", "appid": MP, "scene": "abc"}),
            404,
        ),
    ];
    for (body, expected) in cases {
        let (status, reply) = sim
            .control("POST", "/__sim/wxacode-scan", Some(body.clone()))
            .await;
        assert_eq!(status, expected, "{body}: {reply}");
        assert!(reply["error"].is_string(), "{body}: {reply}");
    }
}
