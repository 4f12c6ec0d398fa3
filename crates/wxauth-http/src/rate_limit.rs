//! Rate limits on the public endpoints, per client IP and per app (GCRA, `governor`).
//!
//! The per-IP limit stops one client from hammering WeChat through us; the per-app limit keeps
//! the service as a whole inside WeChat's per-app quotas. A refused request gets a 429 with
//! `Retry-After`.

use std::net::IpAddr;
use std::num::NonZeroU32;

use governor::clock::{Clock, DefaultClock};
use governor::{DefaultKeyedRateLimiter, Quota, RateLimiter};
use serde::Deserialize;

use crate::error::ApiError;

/// The endpoints that share a limit.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LimitClass {
    /// Sign-ins: Mini Program login, registration, token refresh, QR-login polls.
    Login,
    /// `getPhoneNumber` code exchanges.
    Phone,
    /// openid lookups.
    Openid,
    /// The web OAuth authorize and token steps.
    OAuth,
}

/// One class's limits.
#[derive(Debug, Clone, Copy, Deserialize, PartialEq, Eq)]
#[serde(deny_unknown_fields)]
pub struct Limit {
    /// Sustained requests per minute from one IP.
    pub per_ip_per_minute: u32,
    /// How many requests one IP may send at once before the sustained rate applies.
    pub per_ip_burst: u32,
    /// Sustained requests per second for one app, all clients together.
    pub per_app_per_second: u32,
}

#[derive(Debug, Clone, Deserialize, PartialEq, Eq)]
#[serde(deny_unknown_fields, default)]
pub struct RateLimitConfig {
    pub enabled: bool,
    pub login: Limit,
    pub phone: Limit,
    pub openid: Limit,
    pub oauth: Limit,
}

impl Default for RateLimitConfig {
    fn default() -> Self {
        Self {
            enabled: true,
            login: Limit {
                per_ip_per_minute: 60,
                per_ip_burst: 20,
                per_app_per_second: 1_000,
            },
            phone: Limit {
                per_ip_per_minute: 20,
                per_ip_burst: 5,
                per_app_per_second: 200,
            },
            openid: Limit {
                per_ip_per_minute: 60,
                per_ip_burst: 20,
                per_app_per_second: 1_000,
            },
            oauth: Limit {
                per_ip_per_minute: 60,
                per_ip_burst: 20,
                per_app_per_second: 500,
            },
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
            per_ip: RateLimiter::keyed(ip),
            per_app: RateLimiter::keyed(app),
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
        }
    }

    fn class(&self, class: LimitClass) -> &ClassLimiters {
        match class {
            LimitClass::Login => &self.login,
            LimitClass::Phone => &self.phone,
            LimitClass::Openid => &self.openid,
            LimitClass::OAuth => &self.oauth,
        }
    }

    /// Counts one request; refuses it with a 429 when either limit is exhausted.
    pub fn check(
        &self,
        class: LimitClass,
        ip: Option<IpAddr>,
        app: Option<&str>,
    ) -> Result<(), ApiError> {
        if !self.enabled {
            return Ok(());
        }
        let limiters = self.class(class);
        if let Some(ip) = ip
            && let Err(not_until) = limiters.per_ip.check_key(&ip)
        {
            return Err(self.refused(not_until.wait_time_from(self.clock.now())));
        }
        if let Some(app) = app
            && let Err(not_until) = limiters.per_app.check_key(&app.to_owned())
        {
            return Err(self.refused(not_until.wait_time_from(self.clock.now())));
        }
        Ok(())
    }

    fn refused(&self, wait: std::time::Duration) -> ApiError {
        ApiError::rate_limited(wait.as_secs().max(1))
    }

    /// Forgets keys whose limits are back to full, so memory follows active clients only.
    pub fn housekeeping(&self) {
        for c in [&self.login, &self.phone, &self.openid, &self.oauth] {
            c.per_ip.retain_recent();
            c.per_ip.shrink_to_fit();
            c.per_app.retain_recent();
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_burst_beyond_the_per_ip_limit_is_refused_with_a_retry_after() {
        let config = RateLimitConfig {
            login: Limit {
                per_ip_per_minute: 60,
                per_ip_burst: 3,
                per_app_per_second: 1000,
            },
            ..Default::default()
        };
        let limits = RateLimits::new(&config);
        let ip: IpAddr = "10.0.0.1".parse().unwrap();
        for _ in 0..3 {
            assert!(
                limits
                    .check(LimitClass::Login, Some(ip), Some("shop"))
                    .is_ok()
            );
        }
        let refused = limits
            .check(LimitClass::Login, Some(ip), Some("shop"))
            .unwrap_err();
        assert_eq!(refused.status.as_u16(), 429);
        assert!(refused.retry_after.unwrap() >= 1);
        // Another client and another class are unaffected.
        assert!(
            limits
                .check(LimitClass::Login, Some("10.0.0.2".parse().unwrap()), None)
                .is_ok()
        );
        assert!(limits.check(LimitClass::Phone, Some(ip), None).is_ok());
    }

    #[test]
    fn the_per_app_limit_covers_all_clients_together() {
        let config = RateLimitConfig {
            openid: Limit {
                per_ip_per_minute: 1000,
                per_ip_burst: 1000,
                per_app_per_second: 2,
            },
            ..Default::default()
        };
        let limits = RateLimits::new(&config);
        let ok = (0..10)
            .filter(|i| {
                let ip: IpAddr = format!("10.0.1.{i}").parse().unwrap();
                limits
                    .check(LimitClass::Openid, Some(ip), Some("shop"))
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
        assert!((0..1000).all(|_| limits.check(LimitClass::Phone, Some(ip), Some("a")).is_ok()));
    }
}
