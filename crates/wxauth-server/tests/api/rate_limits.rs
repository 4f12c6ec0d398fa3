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

/// Redis for the shared limits (`WXAUTH_TEST_REDIS_URL`; required when `CI` is set).
fn redis_url() -> Option<String> {
    match std::env::var("WXAUTH_TEST_REDIS_URL") {
        Ok(url) if !url.is_empty() => Some(url),
        _ => {
            assert!(
                std::env::var_os("CI").is_none(),
                "WXAUTH_TEST_REDIS_URL must be set in CI: Redis tests may not be skipped"
            );
            None
        }
    }
}

fn shared_limits(url: String) -> TestOptions {
    let prefix = format!("wxauth-test:{}:", uuid::Uuid::new_v4().simple());
    TestOptions::default().rate_limits().customize(move |c| {
        c.rate_limits.login.per_ip_burst = 4;
        c.rate_limits.login.per_ip_per_minute = 4;
        c.redis.url = Some(url.clone());
        c.redis.key_prefix = prefix.clone();
    })
}

#[tokio::test]
async fn with_redis_the_limit_holds_across_instances() {
    let Some(url) = redis_url() else { return };
    let app = TestApp::spawn(Backend::Sqlite, shared_limits(url)).await;
    let other = app.another_instance().await;
    let mut statuses = Vec::new();
    for i in 0..8 {
        let base = if i % 2 == 0 {
            app.url("")
        } else {
            other.url("")
        };
        let res = app
            .client
            .post(format!("{base}/api/v1/miniprogram/login"))
            .json(&json!({ "code": "x" }))
            .send()
            .await
            .unwrap();
        statuses.push(res.status().as_u16());
    }
    assert_eq!(
        statuses.iter().filter(|s| **s == 429).count(),
        4,
        "four logins between the two instances, not four each: {statuses:?}"
    );
    other.shutdown().await;
    app.shutdown().await;
}

#[tokio::test]
async fn without_redis_a_closed_limiter_answers_503_and_an_open_one_limits_per_instance() {
    let closed = TestOptions::default().rate_limits().customize(|c| {
        c.redis.url = Some("redis://127.0.0.1:1".into());
        c.redis.fail = wxauth_limits::FailMode::Closed;
    });
    let app = TestApp::spawn(Backend::Sqlite, closed).await;
    let res = app
        .post("/api/v1/miniprogram/login", json!({ "code": "x" }))
        .await;
    assert_eq!(res.headers()["retry-after"], "1");
    expect_error(res, 503, "RATE_LIMITER_UNAVAILABLE").await;
    let metrics = app.get("/metrics").await.text().await.unwrap();
    assert!(
        metrics.contains("wxauth_rate_limiter_unavailable_total 1"),
        "{metrics}"
    );
    app.shutdown().await;

    let open = TestOptions::default().rate_limits().customize(|c| {
        c.rate_limits.login.per_ip_burst = 2;
        c.rate_limits.login.per_ip_per_minute = 2;
        c.redis.url = Some("redis://127.0.0.1:1".into());
    });
    let app = TestApp::spawn(Backend::Sqlite, open).await;
    let mut statuses = Vec::new();
    for _ in 0..4 {
        let res = app
            .post("/api/v1/miniprogram/login", json!({ "code": "x" }))
            .await;
        statuses.push(res.status().as_u16());
    }
    assert_eq!(&statuses[2..], [429, 429], "{statuses:?}");
    assert_ne!(statuses[0], 429);
    app.shutdown().await;
}
