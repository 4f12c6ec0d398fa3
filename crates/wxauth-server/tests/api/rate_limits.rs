use serde_json::json;
use wxauth_testkit::{Backend, TestApp, TestOptions, expect_error};

#[tokio::test]
async fn a_burst_of_logins_from_one_ip_gets_429_with_retry_after() {
    let options = TestOptions::default().rate_limits().customize(|c| {
        c.rate_limits.login.per_ip_burst = 5;
        c.rate_limits.login.per_ip_per_minute = 5;
    });
    let app = TestApp::spawn(Backend::Sqlite, options).await;
    let mut statuses = Vec::new();
    for _ in 0..8 {
        let res = app
            .post("/api/v1/miniprogram/login", json!({ "code": "x" }))
            .await;
        statuses.push(res.status().as_u16());
        if res.status() == 429 {
            assert!(
                res.headers()["retry-after"]
                    .to_str()
                    .unwrap()
                    .parse::<u64>()
                    .unwrap()
                    >= 1
            );
            let body = expect_error(res, 429, "RATE_LIMITED").await;
            assert!(body["details"]["retryAfter"].as_u64().unwrap() >= 1);
        }
    }
    assert_eq!(
        statuses.iter().filter(|s| **s == 429).count(),
        3,
        "{statuses:?}"
    );
    // Other endpoint classes have their own budget.
    assert_ne!(
        app.post("/api/v1/miniprogram/openid", json!({ "code": "x" }))
            .await
            .status(),
        429
    );
    // The refusals are visible in the metrics.
    let metrics = app.get("/metrics").await.text().await.unwrap();
    assert!(metrics.contains("status=\"429\""));
    app.shutdown().await;
}
