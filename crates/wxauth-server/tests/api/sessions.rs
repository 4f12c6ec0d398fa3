use serde_json::json;
use wxauth_testkit::{each_backend, expect_error};

#[tokio::test]
async fn a_refresh_token_is_rotated_and_its_reuse_revokes_the_session() {
    each_backend(async |app| {
        let (_, _, body) = app.signed_in_user().await;
        let first = body["refreshToken"].as_str().unwrap().to_owned();
        let res = app
            .post("/api/v1/auth/refresh", json!({ "refreshToken": first }))
            .await;
        assert_eq!(res.status(), 200, "on {}", app.backend());
        let next: serde_json::Value = res.json().await.unwrap();
        let second = next["refreshToken"].as_str().unwrap().to_owned();
        assert_ne!(first, second);
        assert_eq!(next["user"]["id"], body["user"]["id"]);

        // The first token again: somebody copied it. The whole session ends.
        let reuse = app
            .post("/api/v1/auth/refresh", json!({ "refreshToken": first }))
            .await;
        expect_error(reuse, 401, "REFRESH_TOKEN_REUSED").await;
        let after = app
            .post("/api/v1/auth/refresh", json!({ "refreshToken": second }))
            .await;
        expect_error(after, 401, "INVALID_REFRESH_TOKEN").await;
    })
    .await;
}

#[tokio::test]
async fn logout_revokes_the_session() {
    each_backend(async |app| {
        let (_, token, body) = app.signed_in_user().await;
        let refresh = body["refreshToken"].as_str().unwrap();
        let res = app
            .post_auth("/api/v1/auth/logout", &token, json!({}))
            .await;
        assert_eq!(res.status(), 204);
        let res = app
            .post("/api/v1/auth/refresh", json!({ "refreshToken": refresh }))
            .await;
        expect_error(res, 401, "INVALID_REFRESH_TOKEN").await;
    })
    .await;
}

#[tokio::test]
async fn garbage_refresh_tokens_are_a_401() {
    each_backend(async |app| {
        let res = app
            .post("/api/v1/auth/refresh", json!({ "refreshToken": "rt_nope" }))
            .await;
        expect_error(res, 401, "INVALID_REFRESH_TOKEN").await;
        let res = app
            .post("/api/v1/auth/refresh", json!({ "refreshToken": "" }))
            .await;
        expect_error(res, 401, "INVALID_REFRESH_TOKEN").await;
    })
    .await;
}

#[tokio::test]
async fn jwks_is_a_404_for_hs256_deployments() {
    each_backend(async |app| {
        expect_error(app.get("/.well-known/jwks.json").await, 404, "NOT_FOUND").await;
    })
    .await;
}

#[tokio::test]
async fn a_returning_login_stores_its_session_and_audit_entry() {
    each_backend(async |app| {
        let openid = app.new_mp_user();
        app.login(&openid).await;
        let again = app.login(&openid).await;
        assert_eq!(again["isNewUser"], false);
        // The returning login's writes were all committed: its refresh token works...
        let refresh = again["refreshToken"].as_str().unwrap();
        let res = app
            .post("/api/v1/auth/refresh", json!({ "refreshToken": refresh }))
            .await;
        assert_eq!(res.status(), 200, "on {}", app.backend());
        // ...and it is in the audit log.
        let key = app.admin_key().await;
        let id = again["user"]["id"].as_str().unwrap();
        let page: serde_json::Value = app
            .client
            .get(app.url(&format!("/api/v1/admin/audit?user={id}&kind=login")))
            .header("x-admin-key", key)
            .send()
            .await
            .unwrap()
            .json()
            .await
            .unwrap();
        assert_eq!(page["total"], 2, "{page}");
    })
    .await;
}
