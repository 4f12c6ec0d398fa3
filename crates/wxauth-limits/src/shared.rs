//! Limits kept in Redis, so that every instance counts against one budget.
//!
//! Each check is one round trip: a Lua script (sent once, then called by its SHA) that runs the
//! generic cell rate algorithm on one key. The key holds the key's theoretical arrival time in
//! microseconds of Redis's own clock, so instances with drifting clocks still agree, and expires
//! once the budget is full again: Redis holds only keys of active clients.
//!
//! When Redis does not answer within the timeout, the check falls back ([`FailMode`]) and Redis
//! is left alone for a second, so an outage costs no request more than one timeout; every check
//! decided without Redis is reported to `on_unavailable` (a metric), and the outage is logged
//! when it starts and when it ends.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::time::{Duration, Instant};

use async_trait::async_trait;
use redis::aio::{ConnectionManager, ConnectionManagerConfig};
use wxauth_core::ports::{LimitClass, LimitKey, RateLimiter, Refused};

use crate::config::{FailMode, RateLimitConfig};
use crate::local::LocalLimits;

/// GCRA on `KEYS[1]`: `ARGV[1]` the emission interval, `ARGV[2]` the burst tolerance, both in
/// microseconds. Answers 0 when admitted, else the microseconds until it would be.
const GCRA: &str = r"
local now_parts = redis.call('TIME')
local now = tonumber(now_parts[1]) * 1000000 + tonumber(now_parts[2])
local interval = tonumber(ARGV[1])
local tolerance = tonumber(ARGV[2])
local tat = tonumber(redis.call('GET', KEYS[1]) or now)
if tat < now then tat = now end
if tat - now > tolerance then
  return tat - tolerance - now
end
local next_tat = tat + interval
redis.call('SET', KEYS[1], string.format('%d', next_tat), 'PX', math.ceil((next_tat - now) / 1000) + 1)
return 0
";

/// How long Redis is left alone after it failed to answer.
const BACKOFF: Duration = Duration::from_secs(1);

/// Where the shared limits are kept and what happens without them.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RedisLimitsConfig {
    /// `redis://[:password@]host:port/db`.
    pub url: String,
    /// The longest one check waits for Redis.
    pub timeout: Duration,
    pub fail: FailMode,
    /// Prepended to every key, so that several services can share one Redis.
    pub key_prefix: String,
}

type Hook = Box<dyn Fn() + Send + Sync>;

pub struct RedisLimits {
    redis: ConnectionManager,
    script: redis::Script,
    config: RateLimitConfig,
    /// The limits applied while Redis cannot be asked and the mode is [`FailMode::Open`].
    fallback: Arc<LocalLimits>,
    fail: FailMode,
    timeout: Duration,
    prefix: String,
    started: Instant,
    /// Microseconds after `started` before which Redis is not asked (0: ask).
    resting_until: AtomicU64,
    down: AtomicBool,
    on_unavailable: Hook,
}

impl std::fmt::Debug for RedisLimits {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("RedisLimits")
            .field("fail", &self.fail)
            .field("prefix", &self.prefix)
            .finish_non_exhaustive()
    }
}

impl RedisLimits {
    /// Connects lazily: a Redis that is down when the service starts is an outage like any
    /// other, not a reason not to start. `fallback` holds the same limits, per instance.
    pub fn new(
        limits: &RateLimitConfig,
        fallback: Arc<LocalLimits>,
        config: &RedisLimitsConfig,
        on_unavailable: impl Fn() + Send + Sync + 'static,
    ) -> Result<Self, redis::RedisError> {
        let client = redis::Client::open(config.url.as_str())?;
        let manager = ConnectionManager::new_lazy_with_config(
            client,
            ConnectionManagerConfig::new()
                .set_connection_timeout(Some(config.timeout))
                .set_response_timeout(Some(config.timeout))
                .set_number_of_retries(1),
        )?;
        Ok(Self {
            redis: manager,
            script: redis::Script::new(GCRA),
            config: limits.clone(),
            fallback,
            fail: config.fail,
            timeout: config.timeout,
            prefix: config.key_prefix.clone(),
            started: Instant::now(),
            resting_until: AtomicU64::new(0),
            down: AtomicBool::new(false),
            on_unavailable: Box::new(on_unavailable),
        })
    }

    fn key(&self, class: LimitClass, key: &LimitKey<'_>) -> String {
        match key {
            LimitKey::Ip(ip) => format!("{}{}:ip:{ip}", self.prefix, class.as_str()),
            LimitKey::App(app) => format!("{}{}:app:{app}", self.prefix, class.as_str()),
        }
    }

    fn micros(&self) -> u64 {
        u64::try_from(self.started.elapsed().as_micros()).unwrap_or(u64::MAX)
    }

    /// One GCRA step in Redis: `Ok(0)` admitted, `Ok(n)` admitted in n microseconds.
    async fn ask(&self, class: LimitClass, key: &LimitKey<'_>) -> Result<u64, String> {
        let cell = self.config.class(class).cell(key);
        let interval = u64::try_from(cell.interval.as_micros()).unwrap_or(u64::MAX);
        let tolerance = interval.saturating_mul(u64::from(cell.burst - 1));
        let mut conn = self.redis.clone();
        let mut invocation = self.script.key(self.key(class, key));
        invocation.arg(interval).arg(tolerance);
        match tokio::time::timeout(self.timeout, invocation.invoke_async::<u64>(&mut conn)).await {
            Ok(Ok(wait)) => Ok(wait),
            Ok(Err(e)) => Err(e.to_string()),
            Err(_) => Err(format!("no answer within {} ms", self.timeout.as_millis())),
        }
    }

    fn without_redis(&self, class: LimitClass, key: LimitKey<'_>) -> Result<(), Refused> {
        (self.on_unavailable)();
        match self.fail {
            FailMode::Open => self.fallback.check_now(class, key),
            FailMode::Closed => Err(Refused::LimiterUnavailable),
        }
    }
}

#[async_trait]
impl RateLimiter for RedisLimits {
    async fn check(&self, class: LimitClass, key: LimitKey<'_>) -> Result<(), Refused> {
        if !self.config.enabled {
            return Ok(());
        }
        if self.micros() < self.resting_until.load(Ordering::Relaxed) {
            return self.without_redis(class, key);
        }
        match self.ask(class, &key).await {
            Ok(wait) => {
                if self.down.swap(false, Ordering::Relaxed) {
                    tracing::info!("Redis answers again: rate limits are shared once more");
                }
                if wait == 0 {
                    Ok(())
                } else {
                    Err(Refused::OverLimit {
                        retry_after: Duration::from_micros(wait),
                    })
                }
            }
            Err(error) => {
                let rest = u64::try_from(BACKOFF.as_micros()).unwrap_or(u64::MAX);
                self.resting_until
                    .store(self.micros().saturating_add(rest), Ordering::Relaxed);
                if !self.down.swap(true, Ordering::Relaxed) {
                    let fallback = match self.fail {
                        FailMode::Open => "this instance's own limits apply",
                        FailMode::Closed => "rate-limited requests are refused",
                    };
                    tracing::warn!(%error, "Redis is unreachable: {fallback} until it answers");
                }
                self.without_redis(class, key)
            }
        }
    }
}
