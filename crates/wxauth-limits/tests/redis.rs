//! The shared limits against a real Redis (`WXAUTH_TEST_REDIS_URL`; required when `CI` is set).
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::net::IpAddr;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use wxauth_core::ports::{LimitClass, LimitKey, RateLimiter, Refused};
use wxauth_domain::AppKey;
use wxauth_limits::{
    FailMode, Limit, LocalLimits, RateLimitConfig, RedisLimits, RedisLimitsConfig,
};

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

/// Keys no other test (or earlier run) uses.
fn fresh_prefix() -> String {
    let nanos = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_nanos();
    format!("wxauth-test:{}:{nanos}:", std::process::id())
}

fn limits(login: Limit) -> RateLimitConfig {
    RateLimitConfig {
        login,
        ..Default::default()
    }
}

/// An instance of the service's limiter, with a count of the checks Redis could not decide.
fn instance(
    limits: &RateLimitConfig,
    url: &str,
    prefix: &str,
    fail: FailMode,
) -> (RedisLimits, Arc<AtomicU64>) {
    let unavailable = Arc::new(AtomicU64::new(0));
    let counter = unavailable.clone();
    let limiter = RedisLimits::new(
        limits,
        Arc::new(LocalLimits::new(limits)),
        &RedisLimitsConfig {
            url: url.to_owned(),
            timeout: Duration::from_millis(200),
            fail,
            key_prefix: prefix.to_owned(),
        },
        move || {
            counter.fetch_add(1, Ordering::Relaxed);
        },
    )
    .unwrap();
    (limiter, unavailable)
}

const CLIENT: LimitKey<'static> = LimitKey::Ip(IpAddr::V4(std::net::Ipv4Addr::new(10, 0, 0, 7)));

#[tokio::test]
async fn instances_sharing_redis_share_one_budget() {
    let Some(url) = redis_url() else { return };
    let config = limits(Limit::new(60, 5, 1000));
    let prefix = fresh_prefix();
    let (a, a_unavailable) = instance(&config, &url, &prefix, FailMode::Closed);
    let (b, _) = instance(&config, &url, &prefix, FailMode::Closed);

    let mut admitted = 0;
    let mut refusals = Vec::new();
    for i in 0..12 {
        let limiter = if i % 2 == 0 { &a } else { &b };
        match limiter.check(LimitClass::Login, CLIENT).await {
            Ok(()) => admitted += 1,
            Err(refused) => refusals.push(refused),
        }
    }

    assert_eq!(admitted, 5, "the burst, once, across both instances");
    for refused in refusals {
        // 60 a minute: the next request is due within a second.
        assert!(
            matches!(refused, Refused::OverLimit { retry_after } if retry_after <= Duration::from_secs(1) && !retry_after.is_zero()),
            "{refused:?}"
        );
    }
    assert_eq!(a_unavailable.load(Ordering::Relaxed), 0);
    // Another class and another client have budgets of their own.
    assert!(a.check(LimitClass::Phone, CLIENT).await.is_ok());
    let other = LimitKey::Ip("10.0.0.8".parse().unwrap());
    assert!(b.check(LimitClass::Login, other).await.is_ok());
}

#[tokio::test]
async fn the_budget_refills_at_the_sustained_rate() {
    let Some(url) = redis_url() else { return };
    let config = RateLimitConfig {
        openid: Limit::new(6000, 100, 20),
        ..Default::default()
    };
    let (limiter, _) = instance(&config, &url, &fresh_prefix(), FailMode::Closed);
    let app = AppKey::parse("shop").unwrap();
    let key = LimitKey::App(&app);
    let mut admitted = 0;
    for _ in 0..25 {
        if limiter.check(LimitClass::Openid, key).await.is_ok() {
            admitted += 1;
        }
    }
    assert_eq!(admitted, 20, "20 a second, all at once from a full budget");
    tokio::time::sleep(Duration::from_millis(120)).await;
    assert!(
        limiter.check(LimitClass::Openid, key).await.is_ok(),
        "one more after 50 ms"
    );
}

#[tokio::test]
async fn without_redis_an_open_limiter_applies_this_instances_limits_and_counts_it() {
    // Nothing listens on port 1.
    let config = limits(Limit::new(60, 3, 1000));
    let (limiter, unavailable) = instance(
        &config,
        "redis://127.0.0.1:1",
        &fresh_prefix(),
        FailMode::Open,
    );
    let started = Instant::now();
    let results: Vec<_> = futures_results(&limiter, 5).await;
    assert_eq!(results.iter().filter(|r| r.is_ok()).count(), 3);
    assert!(matches!(results[4], Err(Refused::OverLimit { .. })));
    assert_eq!(unavailable.load(Ordering::Relaxed), 5);
    // One timeout at most: after it, Redis is left alone for a second.
    assert!(
        started.elapsed() < Duration::from_millis(600),
        "{:?}",
        started.elapsed()
    );
}

#[tokio::test]
async fn without_redis_a_closed_limiter_refuses() {
    let config = limits(Limit::new(60, 3, 1000));
    let (limiter, unavailable) = instance(
        &config,
        "redis://127.0.0.1:1",
        &fresh_prefix(),
        FailMode::Closed,
    );
    assert_eq!(
        limiter.check(LimitClass::Login, CLIENT).await,
        Err(Refused::LimiterUnavailable)
    );
    assert_eq!(unavailable.load(Ordering::Relaxed), 1);
}

#[tokio::test]
async fn disabled_limits_never_ask_redis() {
    let config = RateLimitConfig {
        enabled: false,
        ..limits(Limit::new(60, 1, 1))
    };
    let (limiter, unavailable) = instance(
        &config,
        "redis://127.0.0.1:1",
        &fresh_prefix(),
        FailMode::Closed,
    );
    for _ in 0..10 {
        assert!(limiter.check(LimitClass::Login, CLIENT).await.is_ok());
    }
    assert_eq!(unavailable.load(Ordering::Relaxed), 0);
}

async fn futures_results(limiter: &RedisLimits, n: usize) -> Vec<Result<(), Refused>> {
    let mut out = Vec::with_capacity(n);
    for _ in 0..n {
        out.push(limiter.check(LimitClass::Login, CLIENT).await);
    }
    out
}
