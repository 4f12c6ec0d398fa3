use serde_json::json;
use wxauth_sim::{Endpoint, Fault, NewUser};
use wxauth_testkit::{Apps, each_backend, expect_error};

#[tokio::test]
async fn a_first_login_creates_the_user_and_returns_tokens_without_the_session_key() {
    each_backend(async |app| {
        let openid = app.mp_user(NewUser::new(Apps::MP_APPID).unionid("uUNION_1"));
        let code = app.login_code(Apps::MP_APPID, &openid);
        let res = app
            .post(
                "/api/v1/miniprogram/login",
                json!({ "code": code, "app": "mp" }),
            )
            .await;
        assert_eq!(res.status(), 200);
        let text = res.text().await.unwrap();
        let session_key = app
            .sim
            .state()
            .session_key(Apps::MP_APPID, &openid)
            .unwrap();
        assert!(
            !text.contains(&session_key),
            "the session key must never leave the server"
        );
        assert!(!text.contains("session_key") && !text.contains("sessionKey"));
        let body: serde_json::Value = serde_json::from_str(&text).unwrap();
        assert_eq!(body["tokenType"], "Bearer");
        assert_eq!(body["expiresIn"], 900);
        assert_eq!(body["isNewUser"], true);
        assert!(body["accessToken"].as_str().unwrap().split('.').count() == 3);
        assert!(body["refreshToken"].as_str().unwrap().starts_with("rt_"));
        let user = &body["user"];
        assert!(
            uuid::Uuid::parse_str(user["id"].as_str().unwrap()).is_ok(),
            "public id, not the row id"
        );
        assert_eq!(user["phone"], serde_json::Value::Null);
        assert!(user["createdAt"].is_string() && user["updatedAt"].is_string());
    })
    .await;
}

#[tokio::test]
async fn a_returning_login_finds_the_same_user() {
    each_backend(async |app| {
        let openid = app.new_mp_user();
        let first = app.login(&openid).await;
        let second = app.login(&openid).await;
        assert_eq!(first["user"]["id"], second["user"]["id"]);
        assert_eq!(second["isNewUser"], false);
    })
    .await;
}

#[tokio::test]
async fn the_app_may_be_omitted_when_there_is_a_default() {
    each_backend(async |app| {
        let openid = app.new_mp_user();
        let code = app.login_code(Apps::MP_APPID, &openid);
        let res = app
            .post("/api/v1/miniprogram/login", json!({ "code": code }))
            .await;
        assert_eq!(res.status(), 200);
    })
    .await;
}

#[tokio::test]
async fn fifty_concurrent_first_logins_of_one_openid_create_exactly_one_user() {
    each_backend(async |app| {
        let openid = app.new_mp_user();
        let codes = app
            .sim
            .state()
            .login_codes(Apps::MP_APPID, &openid, 50)
            .unwrap();
        let requests = codes.into_iter().map(|code| {
            let app = &app;
            async move {
                let res = app
                    .post("/api/v1/miniprogram/login", json!({ "code": code }))
                    .await;
                assert_eq!(res.status(), 200, "on {}", app.backend());
                let body: serde_json::Value = res.json().await.unwrap();
                (
                    body["user"]["id"].as_str().unwrap().to_owned(),
                    body["isNewUser"].as_bool().unwrap(),
                )
            }
        });
        let results = futures::future::join_all(requests).await;
        let ids: std::collections::HashSet<_> = results.iter().map(|(id, _)| id.clone()).collect();
        assert_eq!(ids.len(), 1, "one account on {}", app.backend());
        let created = results.iter().filter(|(_, new)| *new).count();
        assert_eq!(
            created,
            1,
            "exactly one response says the user is new on {}",
            app.backend()
        );
    })
    .await;
}

#[tokio::test]
async fn an_invalid_code_is_a_400_invalid_code() {
    each_backend(async |app| {
        let res = app
            .post(
                "/api/v1/miniprogram/login",
                json!({ "code": "not-a-real-code" }),
            )
            .await;
        let body = expect_error(res, 400, "INVALID_CODE").await;
        assert_eq!(body["details"]["field"], "code");
    })
    .await;
}

#[tokio::test]
async fn a_used_code_is_a_400_code_used() {
    each_backend(async |app| {
        let openid = app.new_mp_user();
        let code = app.login_code(Apps::MP_APPID, &openid);
        let first = app
            .post("/api/v1/miniprogram/login", json!({ "code": code }))
            .await;
        assert_eq!(first.status(), 200);
        let again = app
            .post("/api/v1/miniprogram/login", json!({ "code": code }))
            .await;
        expect_error(again, 400, "CODE_USED").await;
    })
    .await;
}

#[tokio::test]
async fn wechat_rate_limits_are_a_429() {
    each_backend(async |app| {
        app.sim
            .state()
            .inject_fault(Fault::errcode(Endpoint::Jscode2session, 45011))
            .unwrap();
        let openid = app.new_mp_user();
        let code = app.login_code(Apps::MP_APPID, &openid);
        let res = app
            .post("/api/v1/miniprogram/login", json!({ "code": code }))
            .await;
        assert!(res.headers().contains_key("retry-after"));
        expect_error(res, 429, "WECHAT_RATE_LIMITED").await;
    })
    .await;
}

#[tokio::test]
async fn a_busy_wechat_is_retried_once() {
    each_backend(async |app| {
        app.sim
            .state()
            .inject_fault(Fault::errcode(Endpoint::Jscode2session, -1))
            .unwrap();
        let openid = app.new_mp_user();
        let code = app.login_code(Apps::MP_APPID, &openid);
        let res = app
            .post("/api/v1/miniprogram/login", json!({ "code": code }))
            .await;
        assert_eq!(res.status(), 200, "the retry succeeds");
    })
    .await;
}

#[tokio::test]
async fn a_wechat_that_stays_busy_is_a_502_wechat_unavailable() {
    each_backend(async |app| {
        app.sim
            .state()
            .inject_fault(Fault::errcode(Endpoint::Jscode2session, -1).times(2))
            .unwrap();
        let openid = app.new_mp_user();
        let code = app.login_code(Apps::MP_APPID, &openid);
        let res = app
            .post("/api/v1/miniprogram/login", json!({ "code": code }))
            .await;
        expect_error(res, 502, "WECHAT_UNAVAILABLE").await;
    })
    .await;
}

#[tokio::test]
async fn a_wechat_answer_that_is_not_json_is_a_502() {
    each_backend(async |app| {
        app.sim
            .state()
            .inject_fault(Fault::malformed(Endpoint::Jscode2session))
            .unwrap();
        let openid = app.new_mp_user();
        let code = app.login_code(Apps::MP_APPID, &openid);
        let res = app
            .post("/api/v1/miniprogram/login", json!({ "code": code }))
            .await;
        expect_error(res, 502, "WECHAT_UNAVAILABLE").await;
    })
    .await;
}

#[tokio::test]
async fn a_wechat_that_does_not_answer_in_time_is_a_504() {
    each_backend(async |app| {
        app.sim
            .state()
            .inject_fault(Fault::delay(
                Endpoint::Jscode2session,
                std::time::Duration::from_millis(2_500),
            ))
            .unwrap();
        let openid = app.new_mp_user();
        let code = app.login_code(Apps::MP_APPID, &openid);
        let res = app
            .post("/api/v1/miniprogram/login", json!({ "code": code }))
            .await;
        expect_error(res, 504, "WECHAT_UNAVAILABLE").await;
    })
    .await;
}

#[tokio::test]
async fn an_unknown_app_is_a_404_naming_the_field() {
    each_backend(async |app| {
        let res = app
            .post(
                "/api/v1/miniprogram/login",
                json!({ "code": "x", "app": "nope" }),
            )
            .await;
        let body = expect_error(res, 404, "APP_NOT_FOUND").await;
        assert_eq!(body["details"]["field"], "app");
    })
    .await;
}

#[tokio::test]
async fn an_official_account_cannot_take_a_mini_program_login() {
    each_backend(async |app| {
        let res = app
            .post(
                "/api/v1/miniprogram/login",
                json!({ "code": "x", "app": Apps::OA }),
            )
            .await;
        expect_error(res, 400, "WRONG_APP_KIND").await;
    })
    .await;
}
