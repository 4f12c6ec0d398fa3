//! Limits kept in this process (GCRA, `governor`): core's [`RateLimiter`] port as one instance
//! sees it. N instances allow N times the limit.

use std::net::IpAddr;
use std::num::NonZeroU32;

use async_trait::async_trait;
use governor::clock::{Clock, DefaultClock};
use governor::{DefaultKeyedRateLimiter, Quota};
use wxauth_core::ports::{LimitClass, LimitKey, RateLimiter, Refused};

use crate::config::{Limit, RateLimitConfig};

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

pub struct LocalLimits {
    enabled: bool,
    clock: DefaultClock,
    login: ClassLimiters,
    phone: ClassLimiters,
    openid: ClassLimiters,
    oauth: ClassLimiters,
    poll: ClassLimiters,
    token: ClassLimiters,
}

impl std::fmt::Debug for LocalLimits {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("LocalLimits")
            .field("enabled", &self.enabled)
            .finish_non_exhaustive()
    }
}

impl LocalLimits {
    pub fn new(config: &RateLimitConfig) -> Self {
        Self {
            enabled: config.enabled,
            clock: DefaultClock::default(),
            login: ClassLimiters::new(&config.login),
            phone: ClassLimiters::new(&config.phone),
            openid: ClassLimiters::new(&config.openid),
            oauth: ClassLimiters::new(&config.oauth),
            poll: ClassLimiters::new(&config.poll),
            token: ClassLimiters::new(&config.token),
        }
    }

    fn class(&self, class: LimitClass) -> &ClassLimiters {
        match class {
            LimitClass::Login => &self.login,
            LimitClass::Phone => &self.phone,
            LimitClass::Openid => &self.openid,
            LimitClass::OAuth => &self.oauth,
            LimitClass::Poll => &self.poll,
            LimitClass::Token => &self.token,
        }
    }

    /// Counts one request against the key's limit of the class.
    pub fn check_now(&self, class: LimitClass, key: LimitKey<'_>) -> Result<(), Refused> {
        if !self.enabled {
            return Ok(());
        }
        let limiters = self.class(class);
        let result = match key {
            LimitKey::Ip(ip) => limiters.per_ip.check_key(&ip),
            // Only resolved app keys arrive here (core's admission), so keys stay few.
            LimitKey::App(app) => limiters.per_app.check_key(&app.to_string()),
        };
        result.map_err(|not_until| Refused::OverLimit {
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
            &self.token,
        ] {
            c.per_ip.retain_recent();
            c.per_ip.shrink_to_fit();
            c.per_app.retain_recent();
        }
    }
}

#[async_trait]
impl RateLimiter for LocalLimits {
    async fn check(&self, class: LimitClass, key: LimitKey<'_>) -> Result<(), Refused> {
        self.check_now(class, key)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_burst_beyond_the_per_ip_limit_is_refused_with_a_retry_after() {
        let config = RateLimitConfig {
            login: Limit::new(60, 3, 1000),
            ..Default::default()
        };
        let limits = LocalLimits::new(&config);
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
        assert!(
            matches!(refused, Refused::OverLimit { retry_after } if retry_after.as_millis() > 0),
            "{refused:?}"
        );
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
            openid: Limit::new(1000, 1000, 2),
            ..Default::default()
        };
        let limits = LocalLimits::new(&config);
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
        let limits = LocalLimits::new(&RateLimitConfig {
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
}
