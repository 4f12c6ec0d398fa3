use serde_json::json;
use wxauth_testkit::{each_backend, expect_error};

#[tokio::test]
async fn malformed_json_is_a_400_in_the_envelope() {
    each_backend(async |app| {
        let res = app
            .client
            .post(app.url("/api/v1/miniprogram/login"))
            .header("content-type", "application/json")
            .body("{not json")
            .send()
            .await
            .unwrap();
        expect_error(res, 400, "INVALID_JSON").await;
    })
    .await;
}

#[tokio::test]
async fn a_missing_field_is_named() {
    each_backend(async |app| {
        let res = app
            .post("/api/v1/miniprogram/login", json!({ "app": "mp" }))
            .await;
        let body = expect_error(res, 400, "VALIDATION_ERROR").await;
        assert_eq!(body["details"]["field"], "code");
    })
    .await;
}

#[tokio::test]
async fn a_wrong_typed_field_is_named_like_a_missing_one_on_every_json_body() {
    each_backend(async |app| {
        let (_, token, _) = app.signed_in_user().await;
        let admin = app.admin_key().await;
        // (method, path, body, field): one wrong-typed field per JSON body of the API.
        let cases: &[(&str, &str, serde_json::Value, &str)] = &[
            (
                "POST",
                "/api/v1/miniprogram/login",
                json!({ "code": 12345 }),
                "code",
            ),
            (
                "POST",
                "/api/v1/miniprogram/login",
                json!({ "code": "c", "app": 1 }),
                "app",
            ),
            (
                "POST",
                "/api/v1/miniprogram/phone-number",
                json!({ "code": true }),
                "code",
            ),
            (
                "POST",
                "/api/v1/miniprogram/openid",
                json!({ "code": [] }),
                "code",
            ),
            (
                "POST",
                "/api/v1/miniprogram/decrypt",
                json!({ "encryptedData": 1, "iv": "x" }),
                "encryptedData",
            ),
            (
                "POST",
                "/api/v1/miniprogram/verify-signature",
                json!({ "rawData": "x", "signature": 5 }),
                "signature",
            ),
            ("PATCH", "/api/v1/me", json!({ "nickname": 7 }), "nickname"),
            (
                "POST",
                "/api/v1/me/profile",
                json!({ "avatarUrl": {} }),
                "avatarUrl",
            ),
            ("POST", "/api/v1/me/phone", json!({ "code": 1 }), "code"),
            (
                "POST",
                "/api/v1/me/wechat",
                json!({ "bindCode": 1 }),
                "bindCode",
            ),
            (
                "POST",
                "/api/v1/auth/register",
                json!({ "bindCode": false }),
                "bindCode",
            ),
            (
                "POST",
                "/api/v1/auth/refresh",
                json!({ "refreshToken": 1 }),
                "refreshToken",
            ),
            (
                "POST",
                "/api/v1/auth/logout",
                json!({ "refreshToken": 1 }),
                "refreshToken",
            ),
            (
                "POST",
                "/api/v1/official/qr-login",
                json!({ "app": 1 }),
                "app",
            ),
            (
                "POST",
                "/api/v1/official/qrcodes",
                json!({ "scene": "s", "permanent": "yes" }),
                "permanent",
            ),
            (
                "POST",
                "/api/v1/admin/apps",
                json!({ "kind": 1, "appid": "wx1" }),
                "kind",
            ),
            (
                "PUT",
                "/api/v1/admin/apps/mp",
                json!({ "kind": "mini_program", "appid": "wx1", "enabled": "no" }),
                "enabled",
            ),
            (
                "POST",
                "/api/strapi-plugin-wechat-miniprogram/login",
                json!({ "openidCode": 1 }),
                "openidCode",
            ),
        ];
        for (method, path, body, field) in cases {
            let request = app
                .client
                .request(method.parse().unwrap(), format!("{}{path}", app.address))
                .bearer_auth(&token)
                .header("x-admin-key", &admin)
                .json(body);
            let res = request.send().await.unwrap();
            let error = expect_error(res, 400, "VALIDATION_ERROR").await;
            assert_eq!(error["details"]["field"], *field, "{method} {path}");
            let reason = error["details"]["reason"].as_str().unwrap();
            assert!(reason.starts_with("must be "), "{method} {path}: {reason}");
        }
        // A missing field reads the same way.
        let res = app.post("/api/v1/miniprogram/login", json!({})).await;
        let error = expect_error(res, 400, "VALIDATION_ERROR").await;
        assert_eq!(error["details"]["field"], "code");
    })
    .await;
}

#[tokio::test]
async fn an_empty_code_is_refused_before_calling_wechat() {
    each_backend(async |app| {
        let res = app
            .post("/api/v1/miniprogram/login", json!({ "code": "" }))
            .await;
        let body = expect_error(res, 400, "VALIDATION_ERROR").await;
        assert_eq!(body["details"]["field"], "code");
        assert_eq!(
            app.sim
                .state()
                .stats()
                .calls
                .get("jscode2session")
                .copied()
                .unwrap_or(0),
            0
        );
    })
    .await;
}

#[tokio::test]
async fn unknown_routes_and_methods_use_the_envelope() {
    each_backend(async |app| {
        expect_error(app.get("/api/v1/nope").await, 404, "NOT_FOUND").await;
        let res = app
            .request(
                reqwest::Method::PUT,
                "/api/v1/miniprogram/login",
                None,
                None,
            )
            .await;
        let body = expect_error(res, 405, "METHOD_NOT_ALLOWED").await;
        assert_eq!(body["details"]["allow"], json!(["POST"]));
    })
    .await;
}

#[tokio::test]
async fn a_body_that_is_too_large_is_a_413() {
    each_backend(async |app| {
        let huge = "x".repeat(100 * 1024);
        let res = app
            .post("/api/v1/miniprogram/login", json!({ "code": huge }))
            .await;
        expect_error(res, 413, "PAYLOAD_TOO_LARGE").await;
    })
    .await;
}
