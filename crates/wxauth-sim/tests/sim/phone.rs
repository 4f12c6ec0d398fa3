use std::time::Duration;

use serde_json::json;
use wxauth_sim::NewUser;

use crate::helpers::*;

async fn phone_number(sim: &TestSim, body: serde_json::Value) -> serde_json::Value {
    let token = sim.token(MP).await;
    sim.post_json(
        "/wxa/business/getuserphonenumber",
        &[("access_token", &token)],
        &body,
    )
    .await
}

#[tokio::test]
async fn a_phone_code_reveals_the_number_with_a_watermark() {
    let sim = TestSim::spawn().await;
    let user = sim.user(NewUser::new(MP).phone("+8613800138000"));
    let code = sim.state().phone_code(MP, &user.openid).unwrap();
    let body = phone_number(&sim, json!({"code": code})).await;
    assert_eq!(body["errcode"], 0);
    assert_eq!(body["errmsg"], "ok");
    let info = &body["phone_info"];
    assert_eq!(info["phoneNumber"], "13800138000");
    assert_eq!(info["purePhoneNumber"], "13800138000");
    assert_eq!(info["countryCode"], "86");
    assert_eq!(info["watermark"]["appid"], MP);
    assert!(info["watermark"]["timestamp"].as_u64().unwrap() > 1_700_000_000);
}

#[tokio::test]
async fn numbers_outside_mainland_china_carry_a_plus_prefix() {
    let sim = TestSim::spawn().await;
    let user = sim.user(NewUser::new(MP).phone("+14155550100"));
    let code = sim.state().phone_code(MP, &user.openid).unwrap();
    let info = phone_number(&sim, json!({"code": code})).await["phone_info"].clone();
    assert_eq!(info["phoneNumber"], "+14155550100");
    assert_eq!(info["purePhoneNumber"], "4155550100");
    assert_eq!(info["countryCode"], "1");
}

#[tokio::test]
async fn a_phone_code_is_single_use_and_expires_after_five_minutes() {
    let sim = TestSim::spawn().await;
    let user = sim.user(NewUser::new(MP).phone("+8613800138000"));
    let code = sim.state().phone_code(MP, &user.openid).unwrap();
    assert_eq!(errcode(&phone_number(&sim, json!({"code": code})).await), 0);
    assert_eq!(
        errcode(&phone_number(&sim, json!({"code": code})).await),
        40029
    );

    let late = sim.state().phone_code(MP, &user.openid).unwrap();
    sim.state().advance_clock(Duration::from_secs(300));
    assert_eq!(
        errcode(&phone_number(&sim, json!({"code": late})).await),
        40029
    );
}

#[tokio::test]
async fn a_login_code_is_not_a_phone_code() {
    let sim = TestSim::spawn().await;
    let user = sim.user(NewUser::new(MP).phone("+8613800138000"));
    let login_code = sim.state().login_code(MP, &user.openid).unwrap();
    assert_eq!(
        errcode(&phone_number(&sim, json!({"code": login_code})).await),
        40029
    );
}

#[tokio::test]
async fn a_code_checked_against_another_openid_is_40029_and_stays_usable() {
    let sim = TestSim::spawn().await;
    let user = sim.user(NewUser::new(MP).phone("+8613800138000"));
    let code = sim.state().phone_code(MP, &user.openid).unwrap();
    let wrong = phone_number(&sim, json!({"code": code, "openid": "osomeoneelse"})).await;
    assert_eq!(errcode(&wrong), 40029);
    let right = phone_number(&sim, json!({"code": code, "openid": user.openid})).await;
    assert_eq!(errcode(&right), 0);
}

#[tokio::test]
async fn request_shape_errors_follow_wechat() {
    let sim = TestSim::spawn().await;
    let token = sim.token(MP).await;
    let get = sim
        .get_json(
            "/wxa/business/getuserphonenumber",
            &[("access_token", &token)],
        )
        .await;
    assert_eq!(errcode(&get), 43002);
    for (body, expected) in [("", 44002), ("{\"code\":", 47001), ("{\"code\": 5}", 47001)] {
        let response = sim
            .post_raw(
                "/wxa/business/getuserphonenumber",
                &[("access_token", &token)],
                body.to_owned(),
            )
            .await;
        assert_eq!(
            errcode(&parse(&response.text().await.unwrap())),
            expected,
            "{body:?}"
        );
    }
    let oa_token = sim.token(OA).await;
    let body = sim
        .post_json(
            "/wxa/business/getuserphonenumber",
            &[("access_token", &oa_token)],
            &json!({"code": "x"}),
        )
        .await;
    assert_eq!(errcode(&body), 48001, "an Official Account may not call it");
}

#[tokio::test]
async fn phone_codes_need_a_user_with_a_phone() {
    let sim = TestSim::spawn().await;
    let user = sim.mp_user();
    let (status, body) = sim
        .control(
            "POST",
            "/__sim/phone-codes",
            Some(json!({"appid": MP, "openid": user.openid})),
        )
        .await;
    assert_eq!(status, 400, "{body}");
    assert!(body["error"].as_str().unwrap().contains("no phone"));
}
