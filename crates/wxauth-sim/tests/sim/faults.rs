use std::time::Duration;

use serde_json::json;
use wxauth_sim::{Endpoint, Fault};

use crate::helpers::*;

#[tokio::test]
async fn an_errcode_fault_answers_the_next_n_calls_then_wears_off() {
    let sim = TestSim::spawn().await;
    let user = sim.mp_user();
    let (status, _) = sim
        .control(
            "POST",
            "/__sim/faults",
            Some(json!({"endpoint": "jscode2session", "errcode": -1, "count": 2})),
        )
        .await;
    assert_eq!(status, 200);
    let code = sim.state().login_code(MP, &user.openid).unwrap();
    assert_eq!(errcode(&sim.jscode2session(&code).await), -1);
    assert_eq!(errcode(&sim.jscode2session(&code).await), -1);
    // The faulted calls never reached the code.
    assert!(sim.jscode2session(&code).await.get("session_key").is_some());
}

#[tokio::test]
async fn a_malformed_fault_answers_a_body_that_is_not_json() {
    let sim = TestSim::spawn().await;
    sim.state()
        .inject_fault(Fault::malformed(Endpoint::StableToken))
        .unwrap();
    let response = sim
        .post_raw(
            "/cgi-bin/stable_token",
            &[],
            json!({"grant_type": "client_credential", "appid": OA, "secret": OA_SECRET})
                .to_string(),
        )
        .await;
    assert_eq!(response.status(), 200);
    let text = response.text().await.unwrap();
    assert!(
        serde_json::from_str::<serde_json::Value>(&text).is_err(),
        "{text}"
    );
    assert!(
        sim.token(OA).await.len() > 100,
        "the next call is normal again"
    );
}

#[tokio::test]
async fn a_delay_fault_delays_the_answer_and_the_request_still_takes_effect() {
    let sim = TestSim::spawn().await;
    let user = sim.mp_user();
    let code = sim.state().login_code(MP, &user.openid).unwrap();
    sim.state()
        .inject_fault(Fault::delay(
            Endpoint::Jscode2session,
            Duration::from_secs(2),
        ))
        .unwrap();
    let impatient = sim
        .http
        .get(sim.url("/sns/jscode2session"))
        .query(&[
            ("appid", MP),
            ("secret", MP_SECRET),
            ("js_code", code.as_str()),
            ("grant_type", "authorization_code"),
        ])
        .timeout(Duration::from_millis(200))
        .send()
        .await;
    assert!(impatient.unwrap_err().is_timeout());
    // Like WeChat, the server processes the request the client gave up on (the login sets a
    // session key): a retry with the same code is "already used".
    let mut processed = false;
    for _ in 0..100 {
        if sim.state().session_key(MP, &user.openid).is_ok() {
            processed = true;
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    assert!(processed, "the delayed login never completed");
    assert_eq!(errcode(&sim.jscode2session(&code).await), 40163);
}

#[tokio::test]
async fn an_http_status_fault_answers_that_status() {
    let sim = TestSim::spawn().await;
    let (status, _) = sim
        .control(
            "POST",
            "/__sim/faults",
            Some(json!({"endpoint": "token", "http_status": 503})),
        )
        .await;
    assert_eq!(status, 200);
    let response = sim
        .get(
            "/cgi-bin/token",
            &[
                ("grant_type", "client_credential"),
                ("appid", OA),
                ("secret", OA_SECRET),
            ],
        )
        .await;
    assert_eq!(response.status(), 503);
}

#[tokio::test]
async fn an_errcode_fault_can_carry_an_http_status() {
    let sim = TestSim::spawn().await;
    sim.state()
        .inject_fault(Fault {
            http_status: Some(500),
            ..Fault::errcode(Endpoint::Token, -1)
        })
        .unwrap();
    let response = sim
        .get(
            "/cgi-bin/token",
            &[
                ("grant_type", "client_credential"),
                ("appid", OA),
                ("secret", OA_SECRET),
            ],
        )
        .await;
    assert_eq!(response.status(), 500);
    assert_eq!(errcode(&parse(&response.text().await.unwrap())), -1);
}

#[tokio::test]
async fn a_wildcard_fault_hits_whichever_endpoint_comes_next() {
    let sim = TestSim::spawn().await;
    sim.control(
        "POST",
        "/__sim/faults",
        Some(json!({"endpoint": "*", "errcode": 45009, "count": 1})),
    )
    .await;
    let body = sim.stable_token_of(MP, MP_SECRET, false).await;
    assert_eq!(errcode(&body), 45009);
    assert!(sim.stable_token_of(MP, MP_SECRET, false).await["access_token"].is_string());
}

#[tokio::test]
async fn clearing_faults_disarms_them() {
    let sim = TestSim::spawn().await;
    sim.state()
        .inject_fault(Fault::errcode(Endpoint::StableToken, -1).times(5))
        .unwrap();
    let (status, _) = sim.control("DELETE", "/__sim/faults", None).await;
    assert_eq!(status, 200);
    assert!(sim.stable_token_of(OA, OA_SECRET, false).await["access_token"].is_string());
}

#[tokio::test]
async fn bad_fault_requests_are_400() {
    let sim = TestSim::spawn().await;
    for body in [
        json!({"endpoint": "nope", "errcode": -1}),
        json!({"endpoint": "token"}),
        json!({"endpoint": "token", "errcode": -1, "count": 0}),
        json!({"endpoint": "token", "http_status": 99}),
    ] {
        let (status, reply) = sim
            .control("POST", "/__sim/faults", Some(body.clone()))
            .await;
        assert_eq!(status, 400, "{body}");
        assert!(reply["error"].is_string());
    }
}
