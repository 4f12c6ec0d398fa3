use serde_json::json;
use wxauth_sim::{Endpoint, Fault, NewUser};

use crate::helpers::*;

#[tokio::test]
async fn healthz_answers_200() {
    let sim = TestSim::spawn().await;
    let (status, _) = sim.control("GET", "/__sim/healthz", None).await;
    assert_eq!(status, 200);
}

#[tokio::test]
async fn apps_can_be_added_and_listed_without_their_secrets() {
    let sim = TestSim::spawn().await;
    let (status, body) = sim
        .control(
            "POST",
            "/__sim/apps",
            Some(json!({"appid": "wxnew", "secret": "topsecret", "kind": "website"})),
        )
        .await;
    assert_eq!(status, 200, "{body}");
    let (status, apps) = sim.control("GET", "/__sim/apps", None).await;
    assert_eq!(status, 200);
    let text = apps.to_string();
    assert!(text.contains("wxnew"));
    assert!(!text.contains("topsecret"));
    assert!(!text.contains(MP_SECRET));
    assert_eq!(apps.as_array().unwrap().len(), 4);

    let (status, _) = sim
        .control(
            "POST",
            "/__sim/apps",
            Some(json!({"appid": "wxbad", "secret": "s", "kind": "mini_program", "event_mode": "safe"})),
        )
        .await;
    assert_eq!(status, 400, "safe mode without a key");
}

#[tokio::test]
async fn users_are_created_and_listed_per_app_with_one_person_in_two_apps() {
    let sim = TestSim::spawn().await;
    let (status, created) = sim
        .control(
            "POST",
            "/__sim/users",
            Some(json!({"appid": MP, "unionid": "uSAME", "phone": "+8613800138000"})),
        )
        .await;
    assert_eq!(status, 200, "{created}");
    let openid = created["openid"].as_str().unwrap();
    assert_eq!(openid.len(), 28);
    assert!(openid.starts_with('o'));
    assert_eq!(created["phone"]["country_code"], "86");
    assert_eq!(created["phone"]["pure_phone_number"], "13800138000");

    sim.control(
        "POST",
        "/__sim/users",
        Some(json!({"appid": OA, "openid": "oOAuser", "unionid": "uSAME"})),
    )
    .await;
    let (_, mp_users) = sim
        .control("GET", &format!("/__sim/users?appid={MP}"), None)
        .await;
    let (_, oa_users) = sim
        .control("GET", &format!("/__sim/users?appid={OA}"), None)
        .await;
    assert_eq!(mp_users.as_array().unwrap().len(), 1);
    assert_eq!(oa_users[0]["openid"], "oOAuser");
    assert_eq!(mp_users[0]["unionid"], oa_users[0]["unionid"]);
}

#[tokio::test]
async fn control_errors_are_json_with_meaningful_statuses() {
    let sim = TestSim::spawn().await;
    let cases = [
        (
            "POST",
            "/__sim/users",
            Some(json!({"appid": "wxnope"})),
            404,
        ),
        (
            "POST",
            "/__sim/users",
            Some(json!({"appid": MP, "sex": 9})),
            400,
        ),
        (
            "POST",
            "/__sim/users",
            Some(json!({"appid": MP, "typo": 1})),
            400,
        ),
        (
            "POST",
            "/__sim/login-codes",
            Some(json!({"appid": MP, "openid": "onobody"})),
            404,
        ),
        ("GET", "/__sim/users", None, 400),
        ("GET", "/__sim/nope", None, 404),
        ("PUT", "/__sim/apps", None, 405),
        (
            "POST",
            "/__sim/oauth/consent",
            Some(json!({"appid": OA, "deny": true, "clear": true})),
            400,
        ),
    ];
    for (method, path, body, expected) in cases {
        let (status, reply) = sim.control(method, path, body.clone()).await;
        assert_eq!(status, expected, "{method} {path} {body:?}: {reply}");
        assert!(reply["error"].is_string(), "{method} {path}: {reply}");
    }
    let raw = sim
        .http
        .post(sim.url("/__sim/users"))
        .body("{not json")
        .send()
        .await
        .unwrap();
    assert_eq!(raw.status(), 400);

    sim.control(
        "POST",
        "/__sim/users",
        Some(json!({"appid": MP, "openid": "oTWICE"})),
    )
    .await;
    let (status, _) = sim
        .control(
            "POST",
            "/__sim/users",
            Some(json!({"appid": MP, "openid": "oTWICE"})),
        )
        .await;
    assert_eq!(status, 409);
}

#[tokio::test]
async fn codes_can_be_minted_over_http() {
    let sim = TestSim::spawn().await;
    let user = sim.mp_user();
    let (status, body) = sim
        .control(
            "POST",
            "/__sim/login-codes",
            Some(json!({"appid": MP, "openid": user.openid, "count": 3})),
        )
        .await;
    assert_eq!(status, 200);
    assert_eq!(body["expires_in"], 300);
    let codes = body["codes"].as_array().unwrap();
    assert_eq!(codes.len(), 3);
    assert_eq!(body["code"], codes[0]);
    let login = sim.jscode2session(codes[2].as_str().unwrap()).await;
    assert_eq!(login["openid"], user.openid.as_str());

    let oa_user = sim.user(NewUser::new(OA));
    let (status, body) = sim
        .control(
            "POST",
            "/__sim/oauth-codes",
            Some(json!({"appid": OA, "openid": oa_user.openid, "scope": "snsapi_base"})),
        )
        .await;
    assert_eq!(status, 200);
    assert!(body["code"].is_string());
    let (status, _) = sim
        .control(
            "POST",
            "/__sim/oauth-codes",
            Some(json!({"appid": OA, "openid": oa_user.openid, "scope": "snsapi_login"})),
        )
        .await;
    assert_eq!(status, 400, "snsapi_login is for website apps");
    let (status, _) = sim
        .control(
            "POST",
            "/__sim/login-codes",
            Some(json!({"appid": MP, "openid": user.openid, "count": 100_001})),
        )
        .await;
    assert_eq!(status, 400);
}

#[tokio::test]
async fn the_clock_moves_forward_over_http() {
    let sim = TestSim::spawn().await;
    let (_, before) = sim.control("GET", "/__sim/clock", None).await;
    let (status, after) = sim
        .control(
            "POST",
            "/__sim/clock/advance",
            Some(json!({"seconds": 3600})),
        )
        .await;
    assert_eq!(status, 200);
    assert!(after["now"].as_u64().unwrap() >= before["now"].as_u64().unwrap() + 3600);
    let (status, _) = sim
        .control("POST", "/__sim/clock/advance", Some(json!({"seconds": -5})))
        .await;
    assert_eq!(status, 400);
}

#[tokio::test]
async fn stats_count_every_call_per_endpoint() {
    let sim = TestSim::spawn().await;
    sim.jscode2session("nope").await;
    sim.jscode2session("nope").await;
    sim.get_json("/cgi-bin/stable_token", &[]).await;
    let stats = sim.state().stats();
    assert_eq!(stats.calls_of(Endpoint::Jscode2session), 2);
    assert_eq!(stats.calls_of(Endpoint::StableToken), 1);
    assert_eq!(stats.calls_of(Endpoint::UserInfo), 0);
    assert_eq!(stats.calls.len(), Endpoint::ALL.len());
}

#[tokio::test]
async fn reset_clears_users_codes_tokens_faults_and_stats_but_keeps_apps() {
    let sim = TestSim::spawn().await;
    let user = sim.mp_user();
    let code = sim.state().login_code(MP, &user.openid).unwrap();
    let token = sim.token(OA).await;
    sim.state()
        .inject_fault(Fault::errcode(Endpoint::Jscode2session, -1))
        .unwrap();

    let (status, _) = sim.control("POST", "/__sim/reset", None).await;
    assert_eq!(status, 200);

    assert!(sim.state().users(MP).unwrap().is_empty());
    assert_eq!(sim.state().apps().len(), 3);
    assert_eq!(
        errcode(&sim.jscode2session(&code).await),
        40029,
        "fault gone, code gone"
    );
    let info = sim
        .get_json(
            "/cgi-bin/user/info",
            &[("access_token", &token), ("openid", "o1")],
        )
        .await;
    assert_eq!(errcode(&info), 40001);
    let stats = sim.state().stats();
    assert_eq!(stats.calls_of(Endpoint::Jscode2session), 1);
    assert!(stats.token_fetches.is_empty());
}

#[tokio::test]
async fn dropping_the_handle_stops_the_server() {
    let sim = TestSim::spawn().await;
    let url = sim.url("/__sim/healthz");
    let http = sim.http.clone();
    drop(sim);
    let mut stopped = false;
    for _ in 0..50 {
        let client = reqwest::Client::builder().no_proxy().build().unwrap();
        if client.get(&url).send().await.is_err() {
            stopped = true;
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    }
    drop(http);
    assert!(stopped, "server still answering after drop");
}

#[tokio::test]
async fn stop_waits_for_the_server_to_exit() {
    let sim = TestSim::spawn().await;
    let url = sim.url("/__sim/healthz");
    let TestSim { sim, http } = sim;
    drop(http);
    sim.stop().await;
    let client = reqwest::Client::builder().no_proxy().build().unwrap();
    assert!(client.get(&url).send().await.is_err());
}

#[tokio::test]
async fn paths_the_simulator_does_not_simulate_are_a_plain_404_naming_the_path() {
    let sim = TestSim::spawn().await;
    let response = sim.get("/cgi-bin/message/custom/send", &[]).await;
    assert_eq!(response.status(), 404);
    assert!(
        response
            .text()
            .await
            .unwrap()
            .contains("/cgi-bin/message/custom/send")
    );
}
