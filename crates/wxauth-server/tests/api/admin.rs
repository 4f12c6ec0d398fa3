use serde_json::json;
use wxauth_sim::NewUser;
use wxauth_testkit::{Apps, TestApp, each_backend, expect_error};

/// A request to the admin API with an admin key.
pub(crate) async fn admin(
    app: &TestApp,
    key: &str,
    method: reqwest::Method,
    path: &str,
    body: Option<serde_json::Value>,
) -> reqwest::Response {
    let mut req = app
        .client
        .request(method, app.url(path))
        .header("x-admin-key", key);
    if let Some(body) = body {
        req = req.json(&body);
    }
    req.send().await.unwrap()
}

#[tokio::test]
async fn the_admin_api_needs_an_admin_key_not_a_user_token() {
    each_backend(async |app| {
        expect_error(app.get("/api/v1/admin/apps").await, 401, "UNAUTHORIZED").await;
        let (_, token, _) = app.signed_in_user().await;
        expect_error(
            app.get_auth("/api/v1/admin/apps", &token).await,
            401,
            "UNAUTHORIZED",
        )
        .await;
        let res = admin(
            app,
            "wxa_AAAAAAAAAAAA_nope",
            reqwest::Method::GET,
            "/api/v1/admin/apps",
            None,
        )
        .await;
        expect_error(res, 401, "UNAUTHORIZED").await;
    })
    .await;
}

#[tokio::test]
async fn apps_are_managed_with_write_only_secrets() {
    each_backend(async |app| {
        let key = app.admin_key().await;
        let new_app = json!({
            "key": "shop2", "kind": "mini_program", "appid": "wxshop2shop2shop2", "secret": "super-secret-value",
            "registration": "bind_code"
        });
        let res = admin(app, &key, reqwest::Method::POST, "/api/v1/admin/apps", Some(new_app.clone())).await;
        assert_eq!(res.status(), 201, "on {}", app.backend());
        let text = res.text().await.unwrap();
        assert!(!text.contains("super-secret-value"), "secrets are never returned");
        let created: serde_json::Value = serde_json::from_str(&text).unwrap();
        assert_eq!(created["secretSet"], true);
        assert_eq!(created["registration"], "bind_code");

        let again = admin(app, &key, reqwest::Method::POST, "/api/v1/admin/apps", Some(new_app)).await;
        expect_error(again, 409, "CONFLICT").await;

        // Replace without the secret: the stored one stays.
        let put = json!({ "kind": "mini_program", "appid": "wxshop2shop2shop2", "registration": "closed" });
        let res = admin(app, &key, reqwest::Method::PUT, "/api/v1/admin/apps/shop2", Some(put)).await;
        assert_eq!(res.status(), 200);
        assert_eq!(res.json::<serde_json::Value>().await.unwrap()["registration"], "closed");

        let bad = json!({ "key": "Bad Key", "kind": "mini_program", "appid": "wx1", "secret": "s" });
        let res = admin(app, &key, reqwest::Method::POST, "/api/v1/admin/apps", Some(bad)).await;
        let body = expect_error(res, 400, "VALIDATION_ERROR").await;
        assert_eq!(body["details"]["field"], "key");

        let list: serde_json::Value = admin(app, &key, reqwest::Method::GET, "/api/v1/admin/apps", None).await.json().await.unwrap();
        assert!(list.as_array().unwrap().iter().any(|a| a["key"] == "shop2"));
        let res = admin(app, &key, reqwest::Method::DELETE, "/api/v1/admin/apps/shop2", None).await;
        assert_eq!(res.status(), 204);
        let res = admin(app, &key, reqwest::Method::GET, "/api/v1/admin/apps/shop2", None).await;
        expect_error(res, 404, "APP_NOT_FOUND").await;
    })
    .await;
}

#[tokio::test]
async fn users_are_searched_blocked_unbound_and_deleted() {
    each_backend(async |app| {
        let key = app.admin_key().await;
        let openid = app.mp_user(NewUser::new(Apps::MP_APPID).unionid("uADMIN_1"));
        let body = app.login(&openid).await;
        let id = body["user"]["id"].as_str().unwrap().to_owned();

        for search in [openid.as_str(), "uADMIN_1", id.as_str()] {
            let page: serde_json::Value = admin(
                app,
                &key,
                reqwest::Method::GET,
                &format!("/api/v1/admin/users?search={search}"),
                None,
            )
            .await
            .json()
            .await
            .unwrap();
            assert_eq!(page["total"], 1, "search {search} on {}", app.backend());
            assert_eq!(page["items"][0]["id"], id.as_str());
        }
        let page: serde_json::Value = admin(
            app,
            &key,
            reqwest::Method::GET,
            "/api/v1/admin/users?limit=1&offset=0",
            None,
        )
        .await
        .json()
        .await
        .unwrap();
        assert_eq!(page["limit"], 1);

        let user: serde_json::Value = admin(
            app,
            &key,
            reqwest::Method::GET,
            &format!("/api/v1/admin/users/{id}"),
            None,
        )
        .await
        .json()
        .await
        .unwrap();
        assert_eq!(user["identities"][0]["openid"], openid.as_str());

        let res = admin(
            app,
            &key,
            reqwest::Method::POST,
            &format!("/api/v1/admin/users/{id}/block"),
            None,
        )
        .await;
        assert_eq!(
            res.json::<serde_json::Value>().await.unwrap()["user"]["blocked"],
            true
        );
        let res = admin(
            app,
            &key,
            reqwest::Method::POST,
            &format!("/api/v1/admin/users/{id}/unblock"),
            None,
        )
        .await;
        assert_eq!(
            res.json::<serde_json::Value>().await.unwrap()["user"]["blocked"],
            false
        );

        let res = admin(
            app,
            &key,
            reqwest::Method::DELETE,
            &format!("/api/v1/admin/users/{id}/sessions"),
            None,
        )
        .await;
        assert!(
            res.json::<serde_json::Value>().await.unwrap()["revoked"]
                .as_u64()
                .is_some()
        );
        let refresh = body["refreshToken"].as_str().unwrap();
        expect_error(
            app.post("/api/v1/auth/refresh", json!({ "refreshToken": refresh }))
                .await,
            401,
            "INVALID_REFRESH_TOKEN",
        )
        .await;

        let res = admin(
            app,
            &key,
            reqwest::Method::DELETE,
            &format!("/api/v1/admin/users/{id}/identities/mp"),
            None,
        )
        .await;
        assert_eq!(
            res.json::<serde_json::Value>().await.unwrap()["identities"]
                .as_array()
                .unwrap()
                .len(),
            0
        );
        let res = admin(
            app,
            &key,
            reqwest::Method::DELETE,
            &format!("/api/v1/admin/users/{id}"),
            None,
        )
        .await;
        assert_eq!(res.status(), 204);
        let res = admin(
            app,
            &key,
            reqwest::Method::GET,
            &format!("/api/v1/admin/users/{id}"),
            None,
        )
        .await;
        expect_error(res, 404, "NOT_FOUND").await;
    })
    .await;
}

#[tokio::test]
async fn the_audit_log_records_security_events_with_ip_and_request_id() {
    each_backend(async |app| {
        let key = app.admin_key().await;
        let res = app
            .post("/api/v1/miniprogram/login", json!({ "code": "bogus-code" }))
            .await;
        let request_id = res.headers()["x-request-id"].to_str().unwrap().to_owned();
        let (_, _, body) = app.signed_in_user().await;
        let id = body["user"]["id"].as_str().unwrap();
        admin(
            app,
            &key,
            reqwest::Method::POST,
            &format!("/api/v1/admin/users/{id}/block"),
            None,
        )
        .await;

        let page: serde_json::Value = admin(
            app,
            &key,
            reqwest::Method::GET,
            "/api/v1/admin/audit?kind=login",
            None,
        )
        .await
        .json()
        .await
        .unwrap();
        let entries = page["items"].as_array().unwrap();
        let failed = entries
            .iter()
            .find(|e| e["success"] == false)
            .expect("the failed login");
        assert_eq!(failed["reason"], "INVALID_CODE", "the code the client saw");
        assert_eq!(failed["requestId"], request_id.as_str());
        assert_eq!(failed["ip"], "127.0.0.1");
        assert!(
            entries
                .iter()
                .any(|e| e["success"] == true && e["user"] == id)
        );

        let page: serde_json::Value = admin(
            app,
            &key,
            reqwest::Method::GET,
            &format!("/api/v1/admin/audit?user={id}&kind=block"),
            None,
        )
        .await
        .json()
        .await
        .unwrap();
        let block = &page["items"][0];
        assert!(block["actor"].as_str().unwrap().starts_with("admin_key:"));
        let res = admin(
            app,
            &key,
            reqwest::Method::GET,
            "/api/v1/admin/audit?since=yesterday",
            None,
        )
        .await;
        expect_error(res, 400, "VALIDATION_ERROR").await;
    })
    .await;
}
