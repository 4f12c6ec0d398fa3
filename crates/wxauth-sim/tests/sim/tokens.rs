use std::time::Duration;

use serde_json::json;

use crate::helpers::*;

/// An API that takes an app access token, used to probe token validity.
async fn probe(sim: &TestSim, token: &str) -> i64 {
    let body = sim
        .get_json(
            "/cgi-bin/user/info",
            &[("access_token", token), ("openid", "onobody")],
        )
        .await;
    // 40003 (unknown openid) means the token itself was accepted.
    match errcode(&body) {
        40003 => 0,
        other => other,
    }
}

async fn plain_token(sim: &TestSim) -> serde_json::Value {
    sim.get_json(
        "/cgi-bin/token",
        &[
            ("grant_type", "client_credential"),
            ("appid", OA),
            ("secret", OA_SECRET),
        ],
    )
    .await
}

#[tokio::test]
async fn stable_token_returns_the_same_token_while_valid_with_a_countdown() {
    let sim = TestSim::spawn().await;
    let first = sim.stable_token_of(OA, OA_SECRET, false).await;
    assert!(first.get("errcode").is_none(), "success has no errcode");
    assert_eq!(first["expires_in"], 7200);
    sim.state().advance_clock(Duration::from_secs(1000));
    let second = sim.stable_token_of(OA, OA_SECRET, false).await;
    assert_eq!(second["access_token"], first["access_token"]);
    // Whole seconds left, rounded down: the milliseconds between the calls may cost one.
    let left = second["expires_in"].as_u64().unwrap();
    assert!((6199..=6200).contains(&left), "expires_in {left}");
}

#[tokio::test]
async fn a_forced_refresh_issues_a_new_token_and_the_old_one_dies_at_once() {
    let sim = TestSim::spawn().await;
    let old = sim.token(OA).await;
    let forced = sim.stable_token_of(OA, OA_SECRET, true).await;
    let new = forced["access_token"].as_str().unwrap();
    assert_ne!(new, old);
    assert_eq!(forced["expires_in"], 7200);
    assert_eq!(probe(&sim, &old).await, 40001);
    assert_eq!(probe(&sim, new).await, 0);
    assert_eq!(
        sim.token(OA).await,
        new,
        "non-forced calls now return the new token"
    );
}

#[tokio::test]
async fn a_second_forced_refresh_within_30_seconds_is_45011() {
    let sim = TestSim::spawn().await;
    sim.stable_token_of(OA, OA_SECRET, true).await;
    let refused = sim.stable_token_of(OA, OA_SECRET, true).await;
    assert_eq!(errcode(&refused), 45011);
    sim.state().advance_clock(Duration::from_secs(30));
    let allowed = sim.stable_token_of(OA, OA_SECRET, true).await;
    assert!(allowed.get("access_token").is_some());
}

#[tokio::test]
async fn a_stable_token_past_its_expiry_is_42001_and_a_new_one_is_issued() {
    let sim = TestSim::spawn().await;
    let old = sim.token(OA).await;
    sim.state().advance_clock(Duration::from_secs(7200));
    assert_eq!(probe(&sim, &old).await, 42001);
    let fresh = sim.stable_token_of(OA, OA_SECRET, false).await;
    assert_ne!(fresh["access_token"], old.as_str());
    assert_eq!(fresh["expires_in"], 7200);
}

#[tokio::test]
async fn stable_token_must_be_posted() {
    let sim = TestSim::spawn().await;
    let body = sim
        .get_json("/cgi-bin/stable_token", &[("appid", OA)])
        .await;
    assert_eq!(errcode(&body), 43002);
}

#[tokio::test]
async fn stable_token_request_errors_follow_wechat() {
    let sim = TestSim::spawn().await;
    let cases = [
        ("empty body", String::new(), 44002),
        ("malformed body", "{not json".to_owned(), 47001),
        (
            "missing appid",
            json!({"grant_type": "client_credential", "secret": OA_SECRET}).to_string(),
            41002,
        ),
        (
            "unknown appid",
            json!({"grant_type": "client_credential", "appid": "wxnope", "secret": "x"})
                .to_string(),
            40013,
        ),
        (
            "missing secret",
            json!({"grant_type": "client_credential", "appid": OA}).to_string(),
            41004,
        ),
        (
            "wrong secret",
            json!({"grant_type": "client_credential", "appid": OA, "secret": "bad"}).to_string(),
            40125,
        ),
        (
            "bad grant_type",
            json!({"grant_type": "password", "appid": OA, "secret": OA_SECRET}).to_string(),
            40002,
        ),
    ];
    for (case, body, expected) in cases {
        let response = sim.post_raw("/cgi-bin/stable_token", &[], body).await;
        assert_eq!(response.status(), 200, "{case}");
        let body = parse(&response.text().await.unwrap());
        assert_eq!(errcode(&body), expected, "{case}: {body}");
    }
}

#[tokio::test]
async fn plain_token_is_new_on_every_call_and_the_previous_one_lives_five_more_minutes() {
    let sim = TestSim::spawn().await;
    let first = plain_token(&sim).await;
    assert!(first.get("errcode").is_none());
    assert_eq!(first["expires_in"], 7200);
    let first = first["access_token"].as_str().unwrap().to_owned();
    let second = plain_token(&sim).await["access_token"]
        .as_str()
        .unwrap()
        .to_owned();
    assert_ne!(first, second);
    sim.state().advance_clock(Duration::from_secs(299));
    assert_eq!(
        probe(&sim, &first).await,
        0,
        "still valid within the overlap"
    );
    sim.state().advance_clock(Duration::from_secs(1));
    assert_eq!(
        probe(&sim, &first).await,
        40001,
        "not latest after five minutes"
    );
    assert_eq!(probe(&sim, &second).await, 0);
}

#[tokio::test]
async fn plain_token_with_a_wrong_secret_is_40001() {
    let sim = TestSim::spawn().await;
    let body = sim
        .get_json(
            "/cgi-bin/token",
            &[
                ("grant_type", "client_credential"),
                ("appid", OA),
                ("secret", "bad"),
            ],
        )
        .await;
    assert_eq!(errcode(&body), 40001);
}

#[tokio::test]
async fn stable_and_plain_tokens_are_independent() {
    let sim = TestSim::spawn().await;
    let stable = sim.token(OA).await;
    for _ in 0..3 {
        plain_token(&sim).await;
    }
    sim.state().advance_clock(Duration::from_secs(600));
    assert_eq!(probe(&sim, &stable).await, 0);
    assert_eq!(sim.token(OA).await, stable);
}

#[tokio::test]
async fn invalidated_tokens_answer_40001_and_expired_ones_42001() {
    let sim = TestSim::spawn().await;
    let token = sim.token(OA).await;
    sim.state().invalidate_access_tokens(OA).unwrap();
    assert_eq!(probe(&sim, &token).await, 40001);

    let token = sim.token(OA).await;
    let (status, _) = sim
        .control(
            "POST",
            "/__sim/access-tokens/expire",
            Some(json!({"appid": OA})),
        )
        .await;
    assert_eq!(status, 200);
    assert_eq!(probe(&sim, &token).await, 42001);

    let token = sim.token(OA).await;
    let (status, _) = sim
        .control(
            "POST",
            "/__sim/access-tokens/invalidate",
            Some(json!({"appid": OA})),
        )
        .await;
    assert_eq!(status, 200);
    assert_eq!(probe(&sim, &token).await, 40001);
}

#[tokio::test]
async fn a_missing_token_is_41001_and_an_unknown_one_40001() {
    let sim = TestSim::spawn().await;
    let missing = sim
        .get_json("/cgi-bin/user/info", &[("openid", "o1")])
        .await;
    assert_eq!(errcode(&missing), 41001);
    assert_eq!(probe(&sim, "made-up").await, 40001);
}

#[tokio::test]
async fn token_fetches_are_counted_per_app_and_kind() {
    let sim = TestSim::spawn().await;
    sim.token(OA).await;
    sim.token(OA).await;
    sim.stable_token_of(OA, OA_SECRET, true).await;
    plain_token(&sim).await;
    sim.token(MP).await;
    let stats = sim.state().stats();
    let oa = stats.token_fetches_of(OA);
    assert_eq!((oa.stable, oa.plain, oa.forced), (3, 1, 1));
    assert_eq!(stats.token_fetches_of(MP).stable, 1);
    assert_eq!(stats.token_fetches_of(WEB).stable, 0);
    let (_, http_stats) = sim.control("GET", "/__sim/stats", None).await;
    assert_eq!(http_stats["token_fetches"][OA]["stable"], 3);
    assert_eq!(http_stats["calls"]["stable_token"], 4);
}
