use std::time::Duration;

use wxauth_sim::{NewUser, SimConfig};

use crate::helpers::*;

type Query<'a> = Vec<(&'a str, &'a str)>;

#[tokio::test]
async fn jscode2session_answers_text_plain_json_without_errcode() {
    let sim = TestSim::spawn().await;
    let user = sim.mp_user();
    let code = sim.state().login_code(MP, &user.openid).unwrap();
    let response = sim
        .get(
            "/sns/jscode2session",
            &[
                ("appid", MP),
                ("secret", MP_SECRET),
                ("js_code", &code),
                ("grant_type", "authorization_code"),
            ],
        )
        .await;
    assert_eq!(response.status(), 200);
    assert_eq!(response.headers()["content-type"], "text/plain");
    let body = parse(&response.text().await.unwrap());
    assert!(
        body.get("errcode").is_none(),
        "success has no errcode: {body}"
    );
    assert_eq!(body["openid"], user.openid.as_str());
    assert!(
        body.get("unionid").is_none(),
        "no unionid for a user without one"
    );
    let key = body["session_key"].as_str().unwrap();
    assert_eq!(sim.state().session_key(MP, &user.openid).unwrap(), key);
}

#[tokio::test]
async fn jscode2session_includes_the_unionid_when_the_user_has_one() {
    let sim = TestSim::spawn().await;
    let user = sim.user(NewUser::new(MP).unionid("uPERSON1"));
    let body = sim.login(&user.openid).await;
    assert_eq!(body["unionid"], "uPERSON1");
}

#[tokio::test]
async fn a_login_code_works_once_and_then_reports_40163() {
    let sim = TestSim::spawn().await;
    let user = sim.mp_user();
    let code = sim.state().login_code(MP, &user.openid).unwrap();
    assert!(sim.jscode2session(&code).await.get("session_key").is_some());
    assert_eq!(errcode(&sim.jscode2session(&code).await), 40163);
}

#[tokio::test]
async fn a_login_code_expires_after_five_minutes_of_simulated_time() {
    let sim = TestSim::spawn().await;
    let user = sim.mp_user();
    let code = sim.state().login_code(MP, &user.openid).unwrap();
    sim.state().advance_clock(Duration::from_secs(301));
    assert_eq!(errcode(&sim.jscode2session(&code).await), 40029);
}

#[tokio::test]
async fn an_unknown_code_is_40029_and_errors_are_text_plain_with_http_200() {
    let sim = TestSim::spawn().await;
    let response = sim
        .get(
            "/sns/jscode2session",
            &[
                ("appid", MP),
                ("secret", MP_SECRET),
                ("js_code", "nope"),
                ("grant_type", "authorization_code"),
            ],
        )
        .await;
    assert_eq!(response.status(), 200);
    assert_eq!(response.headers()["content-type"], "text/plain");
    let body = parse(&response.text().await.unwrap());
    assert_eq!(errcode(&body), 40029);
    assert!(body["errmsg"].as_str().unwrap().contains("rid: "));
}

#[tokio::test]
async fn credential_errors_follow_wechat() {
    let sim = TestSim::spawn().await;
    let user = sim.mp_user();
    let code = sim.state().login_code(MP, &user.openid).unwrap();
    let cases: [(&str, Query, i64); 7] = [
        ("missing appid", vec![("secret", MP_SECRET)], 41002),
        (
            "unknown appid",
            vec![("appid", "wxnope"), ("secret", MP_SECRET)],
            40013,
        ),
        ("missing secret", vec![("appid", MP)], 41004),
        (
            "wrong secret",
            vec![("appid", MP), ("secret", "wrong")],
            40125,
        ),
        (
            "bad grant_type",
            vec![
                ("appid", MP),
                ("secret", MP_SECRET),
                ("grant_type", "password"),
            ],
            40002,
        ),
        (
            "missing js_code",
            vec![
                ("appid", MP),
                ("secret", MP_SECRET),
                ("grant_type", "authorization_code"),
            ],
            41008,
        ),
        (
            "official account appid",
            vec![
                ("appid", OA),
                ("secret", OA_SECRET),
                ("grant_type", "authorization_code"),
            ],
            48001,
        ),
    ];
    for (case, mut query, expected) in cases {
        if case != "missing js_code" {
            query.push(("js_code", &code));
        }
        if !query.iter().any(|(k, _)| *k == "grant_type") {
            query.push(("grant_type", "authorization_code"));
        }
        let body = sim.get_json("/sns/jscode2session", &query).await;
        assert_eq!(errcode(&body), expected, "{case}: {body}");
    }
    // None of the failures consumed the code.
    assert!(sim.jscode2session(&code).await.get("session_key").is_some());
}

#[tokio::test]
async fn unknown_query_parameters_are_ignored() {
    let sim = TestSim::spawn().await;
    let user = sim.mp_user();
    let code = sim.state().login_code(MP, &user.openid).unwrap();
    let body = sim
        .get_json(
            "/sns/jscode2session",
            &[
                ("appid", MP),
                ("secret", MP_SECRET),
                ("js_code", &code),
                ("grant_type", "authorization_code"),
                ("extra", "1"),
            ],
        )
        .await;
    assert_eq!(body["openid"], user.openid.as_str());
}

#[tokio::test]
async fn every_login_issues_a_new_session_key() {
    let sim = TestSim::spawn().await;
    let user = sim.mp_user();
    let first = sim.login(&user.openid).await["session_key"].clone();
    let second = sim.login(&user.openid).await["session_key"].clone();
    assert_ne!(first, second);
    assert_eq!(
        sim.state().session_key(MP, &user.openid).unwrap(),
        second.as_str().unwrap()
    );
}

#[tokio::test]
async fn a_high_risk_user_is_refused_with_40226() {
    let sim = TestSim::spawn().await;
    let user = sim.user(NewUser::new(MP).high_risk());
    assert_eq!(errcode(&sim.login(&user.openid).await), 40226);
}

#[tokio::test]
async fn the_101st_login_of_a_user_within_a_minute_is_45011() {
    let sim = TestSim::spawn().await;
    let user = sim.mp_user();
    let codes = sim.state().login_codes(MP, &user.openid, 102).unwrap();
    for code in &codes[..100] {
        assert!(sim.jscode2session(code).await.get("session_key").is_some());
    }
    assert_eq!(errcode(&sim.jscode2session(&codes[100]).await), 45011);
    // The refused code was not consumed: it works in the next minute.
    sim.state().advance_clock(Duration::from_secs(60));
    assert!(
        sim.jscode2session(&codes[100])
            .await
            .get("session_key")
            .is_some()
    );
    // Other users are not affected by one user's limit.
    let other = sim.mp_user();
    assert!(sim.login(&other.openid).await.get("session_key").is_some());
}

#[tokio::test]
async fn rate_limits_can_be_turned_off_for_load_tests() {
    let sim = TestSim::spawn_with(SimConfig {
        rate_limits: false,
        ..default_config()
    })
    .await;
    let user = sim.mp_user();
    for code in sim.state().login_codes(MP, &user.openid, 120).unwrap() {
        assert!(sim.jscode2session(&code).await.get("session_key").is_some());
    }
}

#[tokio::test]
async fn login_codes_only_exist_for_mini_program_users() {
    let sim = TestSim::spawn().await;
    let oa_user = sim.user(NewUser::new(OA));
    assert!(sim.state().login_code(OA, &oa_user.openid).is_err());
    assert!(sim.state().login_code(MP, "ounknown").is_err());
}
