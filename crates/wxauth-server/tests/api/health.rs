use wxauth_testkit::each_backend;

#[tokio::test]
async fn probes_answer_and_carry_a_request_id() {
    each_backend(async |app| {
        let res = app.get("/healthz").await;
        assert_eq!(res.status(), 200);
        assert!(res.headers().contains_key("x-request-id"));
        let res = app.get("/readyz").await;
        assert_eq!(res.status(), 200, "readyz on {}", app.backend());
        let body: serde_json::Value = res.json().await.unwrap();
        assert_eq!(body["status"], "ok");
    })
    .await;
}

#[tokio::test]
async fn a_sane_incoming_request_id_is_kept_and_a_hostile_one_replaced() {
    each_backend(async |app| {
        let res = app
            .client
            .get(app.url("/healthz"))
            .header("x-request-id", "abc-123")
            .send()
            .await
            .unwrap();
        assert_eq!(res.headers()["x-request-id"], "abc-123");
        let res = app
            .client
            .get(app.url("/healthz"))
            .header("x-request-id", "bad id\twith spaces")
            .send()
            .await
            .unwrap();
        assert_ne!(res.headers()["x-request-id"], "bad id\twith spaces");
    })
    .await;
}

#[tokio::test]
async fn metrics_count_requests_by_route() {
    each_backend(async |app| {
        app.get("/healthz").await;
        let text = app.get("/metrics").await.text().await.unwrap();
        assert!(
            text.contains(
                "wxauth_http_requests_total{route=\"/healthz\",method=\"GET\",status=\"200\"}"
            ),
            "{text}"
        );
        assert!(text.contains("wxauth_db_pool_connections"), "{text}");
    })
    .await;
}
