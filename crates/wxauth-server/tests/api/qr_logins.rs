//! Web sign-in by Mini Program code, end to end: the service, the simulator drawing and
//! "scanning" real code images, on every backend.

use std::time::Duration;

use serde_json::{Value, json};
use wxauth_sim::{Endpoint, Fault};
use wxauth_testkit::{Apps, TestApp, TestOptions, each_backend, each_backend_with, expect_error};

const DESKTOP_AGENT: &str = "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 \
                             (KHTML, like Gecko) Chrome/131.0.0.0 Safari/537.36";

/// Starts a login as a desktop browser would: (loginId, body).
async fn start(app: &TestApp, base: &str) -> (String, Value) {
    let res = app
        .client
        .post(format!("{base}/api/v1/miniprogram/qr-logins"))
        .header("user-agent", DESKTOP_AGENT)
        .json(&json!({ "app": Apps::MP }))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 200, "on {}", app.backend());
    let body: Value = res.json().await.unwrap();
    (body["loginId"].as_str().unwrap().to_owned(), body)
}

/// The code image the desktop shows, scanned by `openid` with the simulated WeChat: the scene
/// and a fresh `wx.login` code, as the Mini Program page would have them.
async fn scan_image(app: &TestApp, base: &str, body: &Value, openid: &str) -> (String, String) {
    let url = format!("{base}{}", body["qrImageUrl"].as_str().unwrap());
    let image = app.client.get(url).send().await.unwrap();
    assert_eq!(image.status(), 200);
    assert_eq!(image.headers()["content-type"], "image/png");
    let bytes = image.bytes().await.unwrap();
    let scan = app
        .sim
        .state()
        .scan_wxacode_image(openid, &bytes)
        .expect("a scannable Mini Program code");
    assert_eq!(scan.appid, Apps::MP_APPID);
    (scan.scene, scan.code)
}

async fn post(
    app: &TestApp,
    base: &str,
    path: &str,
    token: Option<&str>,
    body: Value,
) -> reqwest::Response {
    let mut req = app.client.post(format!("{base}{path}")).json(&body);
    if let Some(token) = token {
        req = req.bearer_auth(token);
    }
    req.send().await.unwrap()
}

async fn scan(app: &TestApp, base: &str, scene: &str, code: &str) -> Value {
    let res = post(
        app,
        base,
        "/api/v1/miniprogram/qr-logins/scan",
        None,
        json!({ "scene": scene, "code": code }),
    )
    .await;
    assert_eq!(res.status(), 200, "scan on {}", app.backend());
    res.json().await.unwrap()
}

async fn status(app: &TestApp, base: &str, login_id: &str) -> reqwest::Response {
    app.client
        .get(format!("{base}/api/v1/miniprogram/qr-logins/{login_id}"))
        .send()
        .await
        .unwrap()
}

async fn status_of(app: &TestApp, base: &str, login_id: &str) -> Value {
    let res = status(app, base, login_id).await;
    assert_eq!(res.status(), 200);
    res.json().await.unwrap()
}

#[tokio::test]
async fn a_scan_and_a_confirmation_in_the_mini_program_sign_the_desktop_in() {
    each_backend(async |app| {
        let base = app.address.as_str();
        let openid = app.new_mp_user();
        // Someone who uses the Mini Program already.
        let mp_login = app.login(&openid).await;
        let (login_id, body) = start(app, base).await;
        assert!(login_id.starts_with("mql_"));
        assert_eq!(body["expiresIn"], 300);
        assert_eq!(status_of(app, base, &login_id).await["status"], "pending");

        let (scene, code) = scan_image(app, base, &body, &openid).await;
        assert_eq!(scene.len(), 32);
        let scanned = scan(app, base, &scene, &code).await;
        assert_eq!(scanned["status"], "scanned");
        assert_eq!(scanned["app"]["key"], Apps::MP);
        assert_eq!(scanned["request"]["browser"], "Chrome 131.0.0.0");
        assert_eq!(scanned["request"]["os"], "Windows 10");
        assert_eq!(scanned["request"]["ip"], "127.0.0.1");
        let polled = status_of(app, base, &login_id).await;
        assert_eq!(polled["status"], "scanned");
        assert!(
            polled.get("tokens").is_none(),
            "nothing personal before confirming"
        );

        let token = scanned["confirmToken"].as_str().unwrap();
        let res = post(
            app,
            base,
            "/api/v1/miniprogram/qr-logins/confirm",
            Some(token),
            json!({ "scene": scene }),
        )
        .await;
        assert_eq!(res.status(), 200);
        let confirmed = status_of(app, base, &login_id).await;
        assert_eq!(confirmed["status"], "confirmed");
        let access = confirmed["tokens"]["accessToken"].as_str().unwrap();
        assert!(confirmed["tokens"]["refreshToken"].is_string());

        // The tokens are the Mini Program user's account, and come once.
        let me: Value = app
            .get_auth("/api/v1/me", access)
            .await
            .json()
            .await
            .unwrap();
        assert_eq!(me["user"]["id"], mp_login["user"]["id"]);
        expect_error(status(app, base, &login_id).await, 410, "QR_LOGIN_CONSUMED").await;
        // The code is no longer served.
        let url = format!("{base}{}", body["qrImageUrl"].as_str().unwrap());
        assert_eq!(app.client.get(url).send().await.unwrap().status(), 404);

        // Every step is audited, with the account.
        let key = app.admin_key().await;
        let page: Value = app
            .client
            .get(app.url("/api/v1/admin/audit?kind=mp_qr_login.confirmed"))
            .header("x-admin-key", &key)
            .send()
            .await
            .unwrap()
            .json()
            .await
            .unwrap();
        let entry = &page["items"][0];
        assert_eq!(entry["user"], me["user"]["id"]);
        assert_eq!(entry["reason"], "desktop 127.0.0.1");
    })
    .await;
}

#[tokio::test]
async fn the_scene_alone_gets_nothing_and_a_second_scanner_is_refused() {
    each_backend(async |app| {
        let base = app.address.as_str();
        let (first, second) = (app.new_mp_user(), app.new_mp_user());
        let (login_id, body) = start(app, base).await;
        let (scene, code) = scan_image(app, base, &body, &first).await;
        expect_error(status(app, base, &scene).await, 404, "NOT_FOUND").await;
        let scanned = scan(app, base, &scene, &code).await;

        let other = app.login_code(Apps::MP_APPID, &second);
        let res = post(
            app,
            base,
            "/api/v1/miniprogram/qr-logins/scan",
            None,
            json!({ "scene": scene, "code": other }),
        )
        .await;
        expect_error(res, 409, "QR_LOGIN_TAKEN").await;
        let guessed = "A".repeat(32);
        let code = app.login_code(Apps::MP_APPID, &second);
        let res = post(
            app,
            base,
            "/api/v1/miniprogram/qr-logins/scan",
            None,
            json!({ "scene": guessed, "code": code }),
        )
        .await;
        expect_error(res, 404, "NOT_FOUND").await;
        let res = post(
            app,
            base,
            "/api/v1/miniprogram/qr-logins/scan",
            None,
            json!({ "scene": scene }),
        )
        .await;
        expect_error(res, 401, "UNAUTHORIZED").await;

        let res = post(
            app,
            base,
            "/api/v1/miniprogram/qr-logins/confirm",
            None,
            json!({ "scene": scene }),
        )
        .await;
        expect_error(res, 401, "UNAUTHORIZED").await;
        let res = post(
            app,
            base,
            "/api/v1/miniprogram/qr-logins/confirm",
            Some("mqc_forged"),
            json!({ "scene": scene }),
        )
        .await;
        expect_error(res, 401, "UNAUTHORIZED").await;

        let token = scanned["confirmToken"].as_str().unwrap();
        let res = post(
            app,
            base,
            "/api/v1/miniprogram/qr-logins/cancel",
            Some(token),
            json!({ "scene": scene }),
        )
        .await;
        assert_eq!(res.status(), 200);
        assert_eq!(status_of(app, base, &login_id).await["status"], "cancelled");
        let res = post(
            app,
            base,
            "/api/v1/miniprogram/qr-logins/confirm",
            Some(token),
            json!({ "scene": scene }),
        )
        .await;
        expect_error(res, 409, "QR_LOGIN_FINISHED").await;
    })
    .await;
}

#[tokio::test]
async fn a_signed_in_mini_program_user_scans_with_their_access_token() {
    each_backend(async |app| {
        let base = app.address.as_str();
        let (openid, access, _) = app.signed_in_user().await;
        let (login_id, body) = start(app, base).await;
        let (scene, _) = scan_image(app, base, &body, &openid).await;
        let res = post(
            app,
            base,
            "/api/v1/miniprogram/qr-logins/scan",
            Some(&access),
            json!({ "scene": scene }),
        )
        .await;
        assert_eq!(res.status(), 200);
        let scanned: Value = res.json().await.unwrap();
        let token = scanned["confirmToken"].as_str().unwrap();
        let res = post(
            app,
            base,
            "/api/v1/miniprogram/qr-logins/confirm",
            Some(token),
            json!({ "scene": scene }),
        )
        .await;
        assert_eq!(res.status(), 200);
        assert_eq!(status_of(app, base, &login_id).await["status"], "confirmed");
    })
    .await;
}

#[tokio::test]
async fn a_scan_with_a_code_ignores_a_stale_access_token_sent_along() {
    each_backend(async |app| {
        let base = app.address.as_str();
        let openid = app.new_mp_user();
        let (_, body) = start(app, base).await;
        let (scene, code) = scan_image(app, base, &body, &openid).await;
        let res = post(
            app,
            base,
            "/api/v1/miniprogram/qr-logins/scan",
            Some("not-an-access-token"),
            json!({ "scene": scene, "code": code }),
        )
        .await;
        assert_eq!(res.status(), 200, "the code vouches for the scanner");
        // Without a code the token is all there is, and a bad one is refused.
        let res = post(
            app,
            base,
            "/api/v1/miniprogram/qr-logins/scan",
            Some("not-an-access-token"),
            json!({ "scene": scene }),
        )
        .await;
        expect_error(res, 401, "UNAUTHORIZED").await;
    })
    .await;
}

#[tokio::test]
async fn closed_registration_refuses_an_unknown_scanner_in_the_mini_program() {
    each_backend_with(
        TestOptions::default().mp_registration("closed"),
        async |app| {
            let base = app.address.as_str();
            let openid = app.new_mp_user();
            let (_, body) = start(app, base).await;
            let (scene, code) = scan_image(app, base, &body, &openid).await;
            let res = post(
                app,
                base,
                "/api/v1/miniprogram/qr-logins/scan",
                None,
                json!({ "scene": scene, "code": code }),
            )
            .await;
            expect_error(res, 403, "REGISTRATION_CLOSED").await;
        },
    )
    .await;
}

#[tokio::test]
async fn bind_code_registration_gives_the_desktop_a_bind_code() {
    each_backend_with(
        TestOptions::default().mp_registration("bind_code"),
        async |app| {
            let base = app.address.as_str();
            let openid = app.new_mp_user();
            let (login_id, body) = start(app, base).await;
            let (scene, code) = scan_image(app, base, &body, &openid).await;
            let scanned = scan(app, base, &scene, &code).await;
            let token = scanned["confirmToken"].as_str().unwrap();
            post(
                app,
                base,
                "/api/v1/miniprogram/qr-logins/confirm",
                Some(token),
                json!({ "scene": scene }),
            )
            .await;
            let polled = status_of(app, base, &login_id).await;
            assert_eq!(polled["status"], "bind_required");
            assert!(polled["bindCode"].as_str().unwrap().starts_with("bc_"));
        },
    )
    .await;
}

#[tokio::test]
async fn wechat_failures_drawing_the_code_are_typed_errors() {
    each_backend(async |app| {
        let state = app.sim.state();
        state
            .inject_fault(Fault::errcode(Endpoint::Getwxacodeunlimit, -1).times(2))
            .unwrap();
        let res = app.post("/api/v1/miniprogram/qr-logins", json!({})).await;
        expect_error(res, 502, "WECHAT_UNAVAILABLE").await;
        state
            .inject_fault(Fault::errcode(Endpoint::Getwxacodeunlimit, 45009))
            .unwrap();
        let res = app.post("/api/v1/miniprogram/qr-logins", json!({})).await;
        expect_error(res, 429, "WECHAT_RATE_LIMITED").await;
        // A token WeChat no longer takes is replaced once, and the call made again.
        state.invalidate_access_tokens(Apps::MP_APPID).unwrap();
        let res = app.post("/api/v1/miniprogram/qr-logins", json!({})).await;
        assert_eq!(res.status(), 200, "after a token refresh");
        // Busy once: retried once.
        state
            .inject_fault(Fault::errcode(Endpoint::Getwxacodeunlimit, -1))
            .unwrap();
        let res = app.post("/api/v1/miniprogram/qr-logins", json!({})).await;
        assert_eq!(res.status(), 200);
    })
    .await;
}

/// Reads Server-Sent Events from a response until the stream ends or `stop` says so.
struct Events {
    res: reqwest::Response,
    buffer: String,
}

impl Events {
    async fn open(app: &TestApp, base: &str, login_id: &str) -> Events {
        let res = app
            .client
            .get(format!("{base}/api/v1/miniprogram/qr-logins/{login_id}"))
            .header("accept", "text/event-stream")
            .send()
            .await
            .unwrap();
        assert_eq!(res.status(), 200);
        assert_eq!(res.headers()["content-type"], "text/event-stream");
        Events {
            res,
            buffer: String::new(),
        }
    }

    /// The next `status` event's data, or `None` when the stream ended.
    async fn next(&mut self) -> Option<Value> {
        loop {
            if let Some(end) = self.buffer.find("\n\n") {
                let block: String = self.buffer.drain(..end + 2).collect();
                if let Some(data) = block.lines().find_map(|l| l.strip_prefix("data: ")) {
                    assert!(block.starts_with("event: status"), "{block}");
                    return Some(serde_json::from_str(data).unwrap());
                }
                continue;
            }
            let chunk = tokio::time::timeout(Duration::from_secs(10), self.res.chunk())
                .await
                .expect("an event within 10 s")
                .unwrap()?;
            self.buffer.push_str(std::str::from_utf8(&chunk).unwrap());
        }
    }
}

#[tokio::test]
async fn the_event_stream_follows_the_login_and_closes_on_confirmation() {
    each_backend(async |app| {
        let base = app.address.as_str();
        let openid = app.new_mp_user();
        let (login_id, body) = start(app, base).await;
        let mut events = Events::open(app, base, &login_id).await;
        assert_eq!(events.next().await.unwrap()["status"], "pending");
        let (scene, code) = scan_image(app, base, &body, &openid).await;
        let scanned = scan(app, base, &scene, &code).await;
        assert_eq!(events.next().await.unwrap()["status"], "scanned");
        let token = scanned["confirmToken"].as_str().unwrap();
        post(
            app,
            base,
            "/api/v1/miniprogram/qr-logins/confirm",
            Some(token),
            json!({ "scene": scene }),
        )
        .await;
        let confirmed = events.next().await.unwrap();
        assert_eq!(confirmed["status"], "confirmed");
        assert!(confirmed["tokens"]["accessToken"].is_string());
        assert!(events.next().await.is_none(), "the stream ends");
        expect_error(status(app, base, &login_id).await, 410, "QR_LOGIN_CONSUMED").await;
    })
    .await;
}

#[tokio::test]
async fn the_event_stream_closes_when_the_login_expires() {
    each_backend(async |app| {
        use sea_orm::ConnectionTrait;
        let base = app.address.as_str();
        let (login_id, _) = start(app, base).await;
        let mut events = Events::open(app, base, &login_id).await;
        assert_eq!(events.next().await.unwrap()["status"], "pending");
        // Five minutes on, in one step: the login's time is up, and housekeeping sweeps it.
        let db = sea_orm::Database::connect(app.db.url.as_str())
            .await
            .unwrap();
        db.execute_unprepared("UPDATE mp_qr_logins SET expires_at = created_at")
            .await
            .unwrap();
        db.close().await.unwrap();
        assert_eq!(status_of(app, base, &login_id).await["status"], "expired");
        assert_eq!(app.wxauth.expire_mp_qr_logins().await.unwrap(), 1);
        assert_eq!(events.next().await.unwrap()["status"], "expired");
        assert!(events.next().await.is_none(), "the stream ends");
    })
    .await;
}

#[tokio::test]
async fn created_scanned_confirmed_and_streamed_on_four_instances() {
    each_backend(async |app| {
        let (b, c, d) = (
            app.another_instance().await,
            app.another_instance().await,
            app.another_instance().await,
        );
        let openid = app.new_mp_user();
        let (login_id, body) = start(app, &app.address).await;
        let mut events = Events::open(app, &d.address, &login_id).await;
        assert_eq!(events.next().await.unwrap()["status"], "pending");
        let (scene, code) = scan_image(app, &b.address, &body, &openid).await;
        let scanned = scan(app, &b.address, &scene, &code).await;
        assert_eq!(
            events.next().await.unwrap()["status"],
            "scanned",
            "learnt from the store"
        );
        let token = scanned["confirmToken"].as_str().unwrap();
        let res = post(
            app,
            &c.address,
            "/api/v1/miniprogram/qr-logins/confirm",
            Some(token),
            json!({ "scene": scene }),
        )
        .await;
        assert_eq!(res.status(), 200);
        assert_eq!(events.next().await.unwrap()["status"], "confirmed");
        expect_error(
            status(app, &app.address, &login_id).await,
            410,
            "QR_LOGIN_CONSUMED",
        )
        .await;
        for instance in [b, c, d] {
            instance.shutdown().await;
        }
    })
    .await;
}
