//! Rate limits per client IP and per app, behind wxauth-core's [`RateLimiter`] port.
//!
//! The per-IP limit stops one client from hammering WeChat through the service; the per-app
//! limit keeps the service as a whole inside WeChat's per-app quotas. The use cases ask before
//! they act; a refusal becomes a 429 with `Retry-After`.
//!
//! - [`LocalLimits`]: kept in this process. N instances allow N times the limit.
//! - [`RedisLimits`]: kept in Redis and shared by every instance, one round trip per check.
//!   When Redis cannot be asked, [`FailMode`] decides: this instance's own limits, or a 503.
//!
//! [`RateLimiter`]: wxauth_core::ports::RateLimiter

mod config;
mod local;
mod shared;

pub use config::{Cell, FailMode, Limit, RateLimitConfig};
pub use local::LocalLimits;
pub use shared::{RedisLimits, RedisLimitsConfig};
