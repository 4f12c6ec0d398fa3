//! Prometheus metrics, served at `GET /metrics` in the text format.

use std::sync::Arc;
use std::time::Duration;

use prometheus_client::encoding::EncodeLabelSet;
use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::gauge::Gauge;
use prometheus_client::metrics::histogram::{Histogram, exponential_buckets};
use prometheus_client::registry::Registry;
use wxauth_core::ErrorCode;
use wxauth_core::ports::{SignInOutcome, Telemetry};

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct RequestLabels {
    route: String,
    method: String,
    status: String,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct RouteLabels {
    route: String,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct LoginLabels {
    app: String,
    outcome: String,
    reason: String,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct WechatLabels {
    endpoint: String,
    outcome: String,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct EndpointLabels {
    endpoint: String,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct AppLabels {
    app: String,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct QrLoginLabels {
    app: String,
    step: String,
    outcome: String,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct PoolLabels {
    pool: String,
    state: String,
}

/// A snapshot of one connection pool, taken at scrape time.
#[derive(Debug, Clone)]
pub struct PoolStats {
    pub pool: &'static str,
    pub size: u32,
    pub idle: u32,
    pub max: u32,
}

type PoolProbe = Arc<dyn Fn() -> Vec<PoolStats> + Send + Sync>;

fn latency_histogram() -> Histogram {
    // 0.5 ms to ~4 s.
    Histogram::new(exponential_buckets(0.0005, 2.0, 14))
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct OidcTokenLabels {
    client: String,
    grant: &'static str,
    outcome: &'static str,
}

pub struct Metrics {
    registry: Registry,
    requests: Family<RequestLabels, Counter>,
    request_seconds: Family<RouteLabels, Histogram>,
    logins: Family<LoginLabels, Counter>,
    wechat_calls: Family<WechatLabels, Counter>,
    wechat_seconds: Family<EndpointLabels, Histogram>,
    token_refreshes: Family<AppLabels, Counter>,
    limiter_unavailable: Counter,
    pool: Family<PoolLabels, Gauge>,
    qr_logins: Family<QrLoginLabels, Counter>,
    qr_login_streams: Gauge,
    oidc_tokens: Family<OidcTokenLabels, Counter>,
    pool_probe: std::sync::RwLock<Option<PoolProbe>>,
}

impl std::fmt::Debug for Metrics {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Metrics")
    }
}

impl Default for Metrics {
    fn default() -> Self {
        Self::new()
    }
}

impl Metrics {
    pub fn new() -> Self {
        let mut registry = Registry::with_prefix("wxauth");
        let requests = Family::<RequestLabels, Counter>::default();
        registry.register(
            "http_requests",
            "HTTP requests by route, method and status",
            requests.clone(),
        );
        let request_seconds = Family::<RouteLabels, Histogram>::new_with_constructor(
            latency_histogram as fn() -> Histogram,
        );
        registry.register(
            "http_request_duration_seconds",
            "HTTP request latency by route",
            request_seconds.clone(),
        );
        let logins = Family::<LoginLabels, Counter>::default();
        registry.register(
            "logins",
            "Sign-in outcomes by app and reason",
            logins.clone(),
        );
        let wechat_calls = Family::<WechatLabels, Counter>::default();
        registry.register(
            "wechat_calls",
            "WeChat API calls by endpoint and outcome (ok, errcode_N, timeout, transport, decode)",
            wechat_calls.clone(),
        );
        let wechat_seconds = Family::<EndpointLabels, Histogram>::new_with_constructor(
            latency_histogram as fn() -> Histogram,
        );
        registry.register(
            "wechat_call_duration_seconds",
            "WeChat API call latency by endpoint",
            wechat_seconds.clone(),
        );
        let token_refreshes = Family::<AppLabels, Counter>::default();
        registry.register(
            "wechat_access_token_refreshes",
            "WeChat access-token fetches by app",
            token_refreshes.clone(),
        );
        let limiter_unavailable = Counter::default();
        registry.register(
            "rate_limiter_unavailable",
            "Rate-limit checks decided without the shared limiter (Redis) because it did not answer",
            limiter_unavailable.clone(),
        );
        let pool = Family::<PoolLabels, Gauge>::default();
        registry.register(
            "db_pool_connections",
            "Database pool connections by pool and state (idle, in_use, max)",
            pool.clone(),
        );
        let qr_logins = Family::<QrLoginLabels, Counter>::default();
        registry.register(
            "mp_qr_logins",
            "Mini Program scan-login steps (created, scanned, confirmed, cancelled, expired) by app and outcome",
            qr_logins.clone(),
        );
        let qr_login_streams = Gauge::default();
        registry.register(
            "mp_qr_login_streams",
            "Open event streams of Mini Program scan-logins",
            qr_login_streams.clone(),
        );
        let oidc_tokens = Family::<OidcTokenLabels, Counter>::default();
        registry.register(
            "oidc_tokens",
            "OpenID token endpoint answers by client, grant type and outcome (ok or the RFC error code)",
            oidc_tokens.clone(),
        );
        Self {
            registry,
            requests,
            request_seconds,
            logins,
            wechat_calls,
            wechat_seconds,
            token_refreshes,
            limiter_unavailable,
            pool,
            qr_logins,
            qr_login_streams,
            oidc_tokens,
            pool_probe: std::sync::RwLock::new(None),
        }
    }

    pub fn observe_request(&self, route: &str, method: &str, status: u16, elapsed: Duration) {
        self.requests
            .get_or_create(&RequestLabels {
                route: route.to_owned(),
                method: method.to_owned(),
                status: status.to_string(),
            })
            .inc();
        self.request_seconds
            .get_or_create(&RouteLabels {
                route: route.to_owned(),
            })
            .observe(elapsed.as_secs_f64());
    }

    /// An event stream of a scan-login opened (`1`) or closed (`-1`).
    pub fn qr_login_streams(&self, delta: i64) {
        self.qr_login_streams.inc_by(delta);
    }

    fn observe_login(&self, app: &str, outcome: &str, reason: &str) {
        self.logins
            .get_or_create(&LoginLabels {
                app: app.to_owned(),
                outcome: outcome.to_owned(),
                reason: reason.to_owned(),
            })
            .inc();
    }

    /// `outcome` is `ok`, `errcode_<n>`, `timeout`, `transport` or `decode`.
    pub fn observe_wechat_call(&self, endpoint: &str, outcome: &str, elapsed: Duration) {
        self.wechat_calls
            .get_or_create(&WechatLabels {
                endpoint: endpoint.to_owned(),
                outcome: outcome.to_owned(),
            })
            .inc();
        self.wechat_seconds
            .get_or_create(&EndpointLabels {
                endpoint: endpoint.to_owned(),
            })
            .observe(elapsed.as_secs_f64());
    }

    /// One answer of the OpenID token endpoint; `client` is `-` when no client authenticated.
    pub fn oidc_token(&self, client: &str, grant: &'static str, outcome: &'static str) {
        self.oidc_tokens
            .get_or_create(&OidcTokenLabels {
                client: client.to_owned(),
                grant,
                outcome,
            })
            .inc();
    }

    pub fn observe_token_refresh(&self, app: &str) {
        self.token_refreshes
            .get_or_create(&AppLabels {
                app: app.to_owned(),
            })
            .inc();
    }

    /// A rate-limit check the shared limiter could not decide.
    pub fn observe_limiter_unavailable(&self) {
        self.limiter_unavailable.inc();
    }

    /// Sets the function that reports the database pools at each scrape.
    pub fn set_pool_probe(&self, probe: impl Fn() -> Vec<PoolStats> + Send + Sync + 'static) {
        *self.pool_probe.write().unwrap_or_else(|p| p.into_inner()) = Some(Arc::new(probe));
    }

    /// The text exposition.
    pub fn render(&self) -> String {
        let probe = self
            .pool_probe
            .read()
            .unwrap_or_else(|p| p.into_inner())
            .clone();
        if let Some(probe) = probe {
            for stats in probe() {
                let set = |state: &str, v: u32| {
                    self.pool
                        .get_or_create(&PoolLabels {
                            pool: stats.pool.to_owned(),
                            state: state.to_owned(),
                        })
                        .set(i64::from(v));
                };
                set("idle", stats.idle);
                set("in_use", stats.size.saturating_sub(stats.idle));
                set("max", stats.max);
            }
        }
        let mut out = String::new();
        if let Err(e) = prometheus_client::encoding::text::encode(&mut out, &self.registry) {
            tracing::error!(error = %e, "could not encode metrics");
        }
        out
    }
}

/// Sign-ins reported by the use cases: `wxauth_logins_total{app, outcome, reason}`. A failure's
/// reason is its error code, the name the client saw.
impl Telemetry for Metrics {
    fn sign_in(&self, app: &str, outcome: SignInOutcome) {
        let (outcome, reason) = match outcome {
            SignInOutcome::Returning => ("signed_in", "returning"),
            SignInOutcome::Registered => ("signed_in", "registered"),
            SignInOutcome::BindRequired => ("bind_required", ""),
            SignInOutcome::Failed(code) => ("failed", code.as_str()),
        };
        self.observe_login(app, outcome, reason);
    }

    fn qr_login(&self, app: &str, step: &'static str, error: Option<ErrorCode>) {
        self.qr_logins
            .get_or_create(&QrLoginLabels {
                app: app.to_owned(),
                step: step.trim_start_matches("mp_qr_login.").to_owned(),
                outcome: error.map_or("ok", |code| code.as_str()).to_owned(),
            })
            .inc();
    }
}
