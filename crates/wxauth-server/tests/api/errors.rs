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
async fn a_wrong_type_is_a_400_not_a_500() {
    each_backend(async |app| {
        let res = app
            .post("/api/v1/miniprogram/login", json!({ "code": 12 }))
            .await;
        expect_error(res, 400, "INVALID_BODY").await;
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
        let status = res.status().as_u16();
        assert!(status == 404 || status == 405, "{status}");
        let body: serde_json::Value = res.json().await.unwrap();
        assert!(body["name"].is_string());
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
