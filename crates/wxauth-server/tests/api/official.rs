use serde_json::json;
use wxauth_sim::{EventKind, EventMode, NewUser, PushEvent};
use wxauth_testkit::{Apps, TestApp, TestOptions, each_backend, each_backend_with, expect_error};

async fn admin_post(
    app: &TestApp,
    key: &str,
    path: &str,
    body: serde_json::Value,
) -> reqwest::Response {
    app.client
        .post(app.url(path))
        .header("x-admin-key", key)
        .json(&body)
        .send()
        .await
        .unwrap()
}

fn ticket_of(image_url: &str) -> String {
    let url = url::Url::parse(image_url).unwrap();
    url.query_pairs()
        .find(|(k, _)| k == "ticket")
        .map(|(_, v)| v.into_owned())
        .unwrap()
}

#[tokio::test]
async fn admins_create_temporary_and_permanent_qr_codes() {
    each_backend(async |app| {
        let key = app.admin_key().await;
        let res = admin_post(
            app,
            &key,
            "/api/v1/official/qrcodes",
            json!({ "app": "oa", "scene": "poster", "expireSeconds": 600 }),
        )
        .await;
        assert_eq!(res.status(), 200, "on {}", app.backend());
        let qr: serde_json::Value = res.json().await.unwrap();
        assert!(qr["ticket"].is_string() && qr["url"].is_string() && qr["expiresAt"].is_string());
        let image = app
            .client
            .get(qr["imageUrl"].as_str().unwrap())
            .send()
            .await
            .unwrap();
        assert_eq!(image.headers()["content-type"], "image/png");
        assert_eq!(&image.bytes().await.unwrap()[..4], b"\x89PNG");

        let res = admin_post(
            app,
            &key,
            "/api/v1/official/qrcodes",
            json!({ "app": "oa", "scene": 42, "permanent": true }),
        )
        .await;
        let qr: serde_json::Value = res.json().await.unwrap();
        assert!(qr["expiresAt"].is_null());

        let res = admin_post(
            app,
            &key,
            "/api/v1/official/qrcodes",
            json!({ "app": "oa", "scene": 100001, "permanent": true }),
        )
        .await;
        expect_error(res, 400, "VALIDATION_ERROR").await;
        let res = app
            .post(
                "/api/v1/official/qrcodes",
                json!({ "app": "oa", "scene": 1 }),
            )
            .await;
        expect_error(res, 401, "UNAUTHORIZED").await;
    })
    .await;
}

#[tokio::test]
async fn the_follow_check_answers_for_the_caller_and_for_admins() {
    each_backend(async |app| {
        let fan = app
            .sim
            .state()
            .create_user(NewUser::new(Apps::OA_APPID).subscribed())
            .unwrap()
            .openid;
        let key = app.admin_key().await;
        let res = app
            .client
            .get(app.url(&format!(
                "/api/v1/official/subscription?app=oa&openid={fan}"
            )))
            .header("x-admin-key", &key)
            .send()
            .await
            .unwrap();
        let body: serde_json::Value = res.json().await.unwrap();
        assert_eq!(body["subscribed"], true);
        assert!(body["subscribeTime"].is_i64());
        // Without an admin key, someone else's openid is off limits.
        let res = app
            .get(&format!(
                "/api/v1/official/subscription?app=oa&openid={fan}"
            ))
            .await;
        expect_error(res, 401, "UNAUTHORIZED").await;
        // A signed-in user without an identity in the account gets a 404.
        let (_, token, _) = app.signed_in_user().await;
        let res = app
            .get_auth("/api/v1/official/subscription?app=oa", &token)
            .await;
        expect_error(res, 404, "NOT_FOUND").await;
    })
    .await;
}

#[tokio::test]
async fn wechats_url_check_is_answered_with_the_echostr() {
    each_backend(async |app| {
        let report = app
            .sim
            .state()
            .verify_event_url(Apps::OA_APPID)
            .await
            .unwrap();
        assert!(report.ok, "{report:?}");
        let res = app
            .get("/api/v1/official/oa/events?signature=bad&timestamp=1&nonce=2&echostr=hello")
            .await;
        expect_error(res, 401, "INVALID_SIGNATURE").await;
    })
    .await;
}

#[tokio::test]
async fn pushes_with_a_bad_signature_are_refused() {
    each_backend(async |app| {
        let res = app
            .client
            .post(app.url("/api/v1/official/oa/events?signature=bad&timestamp=1700000000&nonce=n&openid=o"))
            .body("<xml><FromUserName>o</FromUserName><CreateTime>1</CreateTime><MsgType>event</MsgType></xml>")
            .send()
            .await
            .unwrap();
        expect_error(res, 401, "INVALID_SIGNATURE").await;
    })
    .await;
}

async fn scan_to_login(app: &TestApp) {
    let res = app
        .post("/api/v1/official/qr-login", json!({ "app": "oa" }))
        .await;
    assert_eq!(res.status(), 200, "start on {}", app.backend());
    let start: serde_json::Value = res.json().await.unwrap();
    let login_id = start["loginId"].as_str().unwrap().to_owned();
    let poll_path = format!("/api/v1/official/qr-login/{login_id}");
    let poll = || app.get(&poll_path);
    assert_eq!(
        poll().await.json::<serde_json::Value>().await.unwrap()["status"],
        "pending"
    );

    let scanner = app
        .sim
        .state()
        .create_user(NewUser::new(Apps::OA_APPID))
        .unwrap()
        .openid;
    let report = app
        .sim
        .state()
        .scan(&ticket_of(start["qrImageUrl"].as_str().unwrap()), &scanner)
        .await
        .unwrap();
    assert_eq!(
        report.event, "subscribe",
        "a first scan follows the account"
    );
    assert!(report.delivery.delivered, "{report:?}");
    assert_eq!(report.delivery.body, "success");

    let done: serde_json::Value = poll().await.json().await.unwrap();
    assert_eq!(done["status"], "signed_in", "{done}");
    let token = done["accessToken"].as_str().unwrap();
    let me: serde_json::Value = app
        .get_auth("/api/v1/me", token)
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(me["identities"][0]["openid"], scanner.as_str());
    expect_error(poll().await, 410, "QR_LOGIN_CONSUMED").await;

    // The scanner now follows: a second scan is a SCAN event, and the follow check says so.
    let res = app
        .post("/api/v1/official/qr-login", json!({ "app": "oa" }))
        .await;
    let again: serde_json::Value = res.json().await.unwrap();
    let report = app
        .sim
        .state()
        .scan(&ticket_of(again["qrImageUrl"].as_str().unwrap()), &scanner)
        .await
        .unwrap();
    assert_eq!(report.event, "SCAN");
    let done: serde_json::Value = app
        .get(&format!(
            "/api/v1/official/qr-login/{}",
            again["loginId"].as_str().unwrap()
        ))
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(done["user"]["id"], me["user"]["id"]);
    let sub: serde_json::Value = app
        .get_auth("/api/v1/official/subscription?app=oa", token)
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(sub["subscribed"], true);
}

#[tokio::test]
async fn scan_to_login_with_plain_pushes() {
    each_backend(scan_to_login).await;
}

#[tokio::test]
async fn scan_to_login_with_safe_mode_pushes() {
    each_backend_with(
        TestOptions::default().oa_event_mode(EventMode::Safe),
        scan_to_login,
    )
    .await;
}

#[tokio::test]
async fn scan_to_login_with_compatible_mode_pushes() {
    each_backend_with(
        TestOptions::default().oa_event_mode(EventMode::Compat),
        scan_to_login,
    )
    .await;
}

#[tokio::test]
async fn an_unscanned_qr_login_expires() {
    each_backend(async |app| {
        let start: serde_json::Value = app
            .post("/api/v1/official/qr-login", json!({ "app": "oa" }))
            .await
            .json()
            .await
            .unwrap();
        let login_id = start["loginId"].as_str().unwrap();
        // Expiry is server time: move the stored deadline instead of sleeping.
        use sea_orm::ConnectionTrait;
        let db = app.components_store.database().connection();
        db.execute_unprepared(&format!(
            "UPDATE qr_logins SET expires_at = '2000-01-01 00:00:00' WHERE login_id = '{login_id}'"
        ))
        .await
        .unwrap();
        let res: serde_json::Value = app
            .get(&format!("/api/v1/official/qr-login/{login_id}"))
            .await
            .json()
            .await
            .unwrap();
        assert_eq!(res["status"], "expired");
    })
    .await;
}

#[tokio::test]
async fn retried_pushes_are_handled_once_and_follow_state_is_recorded() {
    each_backend(async |app| {
        let fan = app
            .sim
            .state()
            .create_user(NewUser::new(Apps::OA_APPID))
            .unwrap()
            .openid;
        let mut push = PushEvent::new(Apps::OA_APPID, &fan, EventKind::Subscribe);
        push.duplicate = 2;
        let report = app.sim.state().push_event(push).await.unwrap();
        assert!(report.delivery.delivered);
        assert!(
            report
                .duplicates
                .iter()
                .all(|d| d.delivered && d.body == "success")
        );
        use sea_orm::{ConnectionTrait, Statement};
        let db = app.components_store.database().connection();
        let count = |sql: &str| {
            let stmt = Statement::from_string(db.get_database_backend(), sql.to_owned());
            async move {
                db.query_one(stmt)
                    .await
                    .unwrap()
                    .unwrap()
                    .try_get_by_index::<i64>(0)
                    .unwrap()
            }
        };
        assert_eq!(
            count("SELECT COUNT(*) FROM wechat_events").await,
            1,
            "duplicates are ignored"
        );
        assert_eq!(
            count("SELECT COUNT(*) FROM official_followers WHERE subscribed = TRUE").await,
            1
        );
        app.sim
            .state()
            .push_event(PushEvent::new(Apps::OA_APPID, &fan, EventKind::Unsubscribe))
            .await
            .unwrap();
        assert_eq!(
            count("SELECT COUNT(*) FROM official_followers WHERE subscribed = TRUE").await,
            0
        );
    })
    .await;
}
