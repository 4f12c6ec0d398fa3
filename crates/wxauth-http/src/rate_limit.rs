//! Rate limits per client IP and per app (GCRA, `governor`), in this process: core's
//! [`RateLimiter`] port as one instance sees it. N instances allow N times the limit.
//!
//! The per-IP limit stops one client from hammering WeChat through us; the per-app limit keeps
//! the service as a whole inside WeChat's per-app quotas. The use cases ask before they act; a
//! refusal becomes a 429 with `Retry-After`.

use std::net::IpAddr;
use std::num::NonZeroU32;

use async_trait::async_trait;
use governor::clock::{Clock, DefaultClock};
use governor::{DefaultKeyedRateLimiter, Quota};
use serde::Deserialize;
use wxauth_core::ports::{LimitClass, LimitKey, RateLimiter, Throttled};

/// One class's limits.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Limit {
    /// Sustained requests per minute from one IP.
    pub per_ip_per_minute: u32,
    /// How many requests one IP may send at once before the sustained rate applies.
    pub per_ip_burst: u32,
    /// Sustained requests per second for one app, all clients together.
    pub per_app_per_second: u32,
}

const fn limit(per_ip_per_minute: u32, per_ip_burst: u32, per_app_per_second: u32) -> Limit {
    Limit {
        per_ip_per_minute,
        per_ip_burst,
        per_app_per_second,
    }
}

#[derive(Debug, Clone, Deserialize, PartialEq, Eq)]
#[serde(from = "RawRateLimitConfig")]
pub struct RateLimitConfig {
    pub enabled: bool,
    pub login: Limit,
    pub phone: Limit,
    pub openid: Limit,
    pub oauth: Limit,
    pub poll: Limit,
}

impl Default for RateLimitConfig {
    fn default() -> Self {
        Self {
            enabled: true,
            login: limit(60, 20, 1_000),
            phone: limit(20, 5, 200),
            openid: limit(60, 20, 1_000),
            oauth: limit(60, 20, 500),
            poll: limit(600, 60, 2_000),
        }
    }
}

/// The configuration as written: any single value may be set, the rest keep their defaults.
#[derive(Deserialize, Default)]
#[serde(deny_unknown_fields, default)]
struct RawRateLimitConfig {
    enabled: Option<bool>,
    login: LimitOverride,
    phone: LimitOverride,
    openid: LimitOverride,
    oauth: LimitOverride,
    poll: LimitOverride,
}

#[derive(Deserialize, Default)]
#[serde(deny_unknown_fields, default)]
struct LimitOverride {
    per_ip_per_minute: Option<u32>,
    per_ip_burst: Option<u32>,
    per_app_per_second: Option<u32>,
}

impl LimitOverride {
    fn over(self, base: Limit) -> Limit {
        Limit {
            per_ip_per_minute: self.per_ip_per_minute.unwrap_or(base.per_ip_per_minute),
            per_ip_burst: self.per_ip_burst.unwrap_or(base.per_ip_burst),
            per_app_per_second: self.per_app_per_second.unwrap_or(base.per_app_per_second),
        }
    }
}

impl From<RawRateLimitConfig> for RateLimitConfig {
    fn from(raw: RawRateLimitConfig) -> Self {
        let d = Self::default();
        Self {
            enabled: raw.enabled.unwrap_or(d.enabled),
            login: raw.login.over(d.login),
            phone: raw.phone.over(d.phone),
            openid: raw.openid.over(d.openid),
            oauth: raw.oauth.over(d.oauth),
            poll: raw.poll.over(d.poll),
        }
    }
}

struct ClassLimiters {
    per_ip: DefaultKeyedRateLimiter<IpAddr>,
    per_app: DefaultKeyedRateLimiter<String>,
}

impl ClassLimiters {
    fn new(limit: &Limit) -> Self {
        let nz = |n: u32| NonZeroU32::new(n.max(1)).unwrap_or(NonZeroU32::MIN);
        let ip = Quota::per_minute(nz(limit.per_ip_per_minute)).allow_burst(nz(limit.per_ip_burst));
        let app = Quota::per_second(nz(limit.per_app_per_second));
        Self {
            per_ip: governor::RateLimiter::keyed(ip),
            per_app: governor::RateLimiter::keyed(app),
        }
    }
}

pub struct RateLimits {
    enabled: bool,
    clock: DefaultClock,
    login: ClassLimiters,
    phone: ClassLimiters,
    openid: ClassLimiters,
    oauth: ClassLimiters,
    poll: ClassLimiters,
}

impl std::fmt::Debug for RateLimits {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("RateLimits")
            .field("enabled", &self.enabled)
            .finish_non_exhaustive()
    }
}

impl RateLimits {
    pub fn new(config: &RateLimitConfig) -> Self {
        Self {
            enabled: config.enabled,
            clock: DefaultClock::default(),
            login: ClassLimiters::new(&config.login),
            phone: ClassLimiters::new(&config.phone),
            openid: ClassLimiters::new(&config.openid),
            oauth: ClassLimiters::new(&config.oauth),
            poll: ClassLimiters::new(&config.poll),
        }
    }

    fn class(&self, class: LimitClass) -> &ClassLimiters {
        match class {
            LimitClass::Login => &self.login,
            LimitClass::Phone => &self.phone,
            LimitClass::Openid => &self.openid,
            LimitClass::OAuth => &self.oauth,
            LimitClass::Poll => &self.poll,
        }
    }

    /// Counts one request against the key's limit of the class.
    pub fn check_now(&self, class: LimitClass, key: LimitKey<'_>) -> Result<(), Throttled> {
        if !self.enabled {
            return Ok(());
        }
        let limiters = self.class(class);
        let result = match key {
            LimitKey::Ip(ip) => limiters.per_ip.check_key(&ip),
            // Only resolved app keys arrive here (core's admission), so keys stay few.
            LimitKey::App(app) => limiters.per_app.check_key(&app.to_string()),
        };
        result.map_err(|not_until| Throttled {
            retry_after: not_until.wait_time_from(self.clock.now()),
        })
    }

    /// Forgets keys whose limits are back to full, so memory follows active clients only.
    pub fn housekeeping(&self) {
        for c in [
            &self.login,
            &self.phone,
            &self.openid,
            &self.oauth,
            &self.poll,
        ] {
            c.per_ip.retain_recent();
            c.per_ip.shrink_to_fit();
            c.per_app.retain_recent();
        }
    }
}

#[async_trait]
impl RateLimiter for RateLimits {
    async fn check(&self, class: LimitClass, key: LimitKey<'_>) -> Result<(), Throttled> {
        self.check_now(class, key)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_burst_beyond_the_per_ip_limit_is_refused_with_a_retry_after() {
        let config = RateLimitConfig {
            login: limit(60, 3, 1000),
            ..Default::default()
        };
        let limits = RateLimits::new(&config);
        let ip: IpAddr = "10.0.0.1".parse().unwrap();
        for _ in 0..3 {
            assert!(
                limits
                    .check_now(LimitClass::Login, LimitKey::Ip(ip))
                    .is_ok()
            );
        }
        let refused = limits
            .check_now(LimitClass::Login, LimitKey::Ip(ip))
            .unwrap_err();
        assert!(refused.retry_after.as_millis() > 0);
        // Another client and another class are unaffected.
        let other: IpAddr = "10.0.0.2".parse().unwrap();
        assert!(
            limits
                .check_now(LimitClass::Login, LimitKey::Ip(other))
                .is_ok()
        );
        assert!(
            limits
                .check_now(LimitClass::Phone, LimitKey::Ip(ip))
                .is_ok()
        );
    }

    #[test]
    fn the_per_app_limit_covers_all_clients_together() {
        let config = RateLimitConfig {
            openid: limit(1000, 1000, 2),
            ..Default::default()
        };
        let limits = RateLimits::new(&config);
        let shop = wxauth_domain::AppKey::parse("shop").unwrap();
        let ok = (0..10)
            .filter(|_| {
                limits
                    .check_now(LimitClass::Openid, LimitKey::App(&shop))
                    .is_ok()
            })
            .count();
        assert_eq!(ok, 2);
    }

    #[test]
    fn disabled_limits_refuse_nothing() {
        let limits = RateLimits::new(&RateLimitConfig {
            enabled: false,
            ..Default::default()
        });
        let ip: IpAddr = "10.0.0.1".parse().unwrap();
        let app = wxauth_domain::AppKey::parse("a").unwrap();
        assert!((0..1000).all(|_| {
            limits
                .check_now(LimitClass::Phone, LimitKey::Ip(ip))
                .is_ok()
        }));
        assert!((0..1000).all(|_| {
            limits
                .check_now(LimitClass::Phone, LimitKey::App(&app))
                .is_ok()
        }));
    }

    #[test]
    fn one_value_of_a_class_can_be_set_alone() {
        let config: RateLimitConfig =
            serde_json::from_str(r#"{"login": {"per_ip_burst": 3}}"#).unwrap();
        assert_eq!(config.login.per_ip_burst, 3);
        let defaults = RateLimitConfig::default();
        assert_eq!(
            config.login.per_ip_per_minute,
            defaults.login.per_ip_per_minute
        );
        assert!(config.enabled);
        assert!(serde_json::from_str::<RateLimitConfig>(r#"{"login": {"burst": 3}}"#).is_err());
    }
}
