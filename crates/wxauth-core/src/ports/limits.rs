//! Rate limits, behind a port: the limiter may live in this process (one instance's view) or in
//! a shared store such as Redis (every instance's view), and the use cases cannot tell.

use std::net::IpAddr;
use std::time::Duration;

use async_trait::async_trait;
use wxauth_domain::AppKey;

/// The endpoints that share a limit.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum LimitClass {
    /// Sign-ins: Mini Program login, registration, token refresh, binding.
    Login,
    /// `getPhoneNumber` code exchanges.
    Phone,
    /// openid lookups.
    Openid,
    /// The web OAuth authorize and token steps, and starting a scan-to-login.
    OAuth,
    /// Scan-to-login polls (a browser polls about once a second).
    Poll,
    /// The OpenID provider's back channel: token, introspection, revocation and userinfo
    /// requests, from relying parties' servers (few addresses, many requests).
    Token,
}

impl LimitClass {
    pub const ALL: [LimitClass; 6] = [
        LimitClass::Login,
        LimitClass::Phone,
        LimitClass::Openid,
        LimitClass::OAuth,
        LimitClass::Poll,
        LimitClass::Token,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            Self::Login => "login",
            Self::Phone => "phone",
            Self::Openid => "openid",
            Self::OAuth => "oauth",
            Self::Poll => "poll",
            Self::Token => "token",
        }
    }
}

/// Whose budget a request is counted against.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum LimitKey<'a> {
    /// One client. Stops one caller from hammering WeChat through the service.
    Ip(IpAddr),
    /// One app, all clients together. Keeps the service inside WeChat's per-app quotas. Only
    /// resolved app keys are ever keys: client input cannot mint new ones.
    App(&'a AppKey),
}

/// Why a request was not admitted.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Refused {
    /// Over its budget: admitted again after `retry_after`.
    OverLimit { retry_after: Duration },
    /// The shared limiter could not be asked, and the service is set to refuse rather than
    /// admit unchecked requests (fail closed).
    LimiterUnavailable,
}

#[async_trait]
pub trait RateLimiter: Send + Sync {
    /// Counts one request against the key's budget for the class.
    async fn check(&self, class: LimitClass, key: LimitKey<'_>) -> Result<(), Refused>;
}

/// No limits: for tools and tests that do not exercise them.
#[derive(Debug, Clone, Copy, Default)]
pub struct Unlimited;

#[async_trait]
impl RateLimiter for Unlimited {
    async fn check(&self, _class: LimitClass, _key: LimitKey<'_>) -> Result<(), Refused> {
        Ok(())
    }
}
