//! What the limits are, and where they are kept.

use std::time::Duration;

use serde::Deserialize;
use wxauth_core::ports::{LimitClass, LimitKey};

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

impl Limit {
    pub const fn new(per_ip_per_minute: u32, per_ip_burst: u32, per_app_per_second: u32) -> Self {
        Self {
            per_ip_per_minute,
            per_ip_burst,
            per_app_per_second,
        }
    }

    /// The generic cell rate of one key: the interval between requests at the sustained rate,
    /// and how many may come at once.
    pub fn cell(&self, key: &LimitKey<'_>) -> Cell {
        let (per, count, burst) = match key {
            LimitKey::Ip(_) => (
                Duration::from_secs(60),
                self.per_ip_per_minute,
                self.per_ip_burst,
            ),
            LimitKey::App(_) => (
                Duration::from_secs(1),
                self.per_app_per_second,
                self.per_app_per_second,
            ),
        };
        Cell {
            interval: per / count.max(1),
            burst: burst.max(1),
        }
    }
}

/// One key's budget as GCRA sees it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Cell {
    /// Time between two requests at the sustained rate.
    pub interval: Duration,
    /// Requests admitted at once from a full budget.
    pub burst: u32,
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
    pub token: Limit,
}

impl Default for RateLimitConfig {
    fn default() -> Self {
        Self {
            enabled: true,
            login: Limit::new(60, 20, 1_000),
            phone: Limit::new(20, 5, 200),
            openid: Limit::new(60, 20, 1_000),
            oauth: Limit::new(60, 20, 500),
            poll: Limit::new(600, 60, 2_000),
            token: Limit::new(60_000, 2_000, 50_000),
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
    token: LimitOverride,
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
            token: raw.token.over(d.token),
        }
    }
}

impl RateLimitConfig {
    /// The limits of one class.
    pub fn class(&self, class: LimitClass) -> &Limit {
        match class {
            LimitClass::Login => &self.login,
            LimitClass::Phone => &self.phone,
            LimitClass::Openid => &self.openid,
            LimitClass::OAuth => &self.oauth,
            LimitClass::Poll => &self.poll,
            LimitClass::Token => &self.token,
        }
    }
}

/// What a check does when the shared store cannot be asked.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum FailMode {
    /// Fall back to this instance's own limits (as without Redis) until the store answers.
    #[default]
    Open,
    /// Refuse the request: 503 `RATE_LIMITER_UNAVAILABLE`.
    Closed,
}

#[cfg(test)]
mod tests {
    use super::*;

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
