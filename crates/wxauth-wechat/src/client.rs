//! The client and its builder: one shared connection pool, and per-app views of it.

use std::fmt;
use std::sync::Arc;
use std::time::Duration;

use crate::config::{Credentials, Endpoints};
use crate::error::WechatError;
use crate::observer::{CallObserver, NoopObserver};

/// A WeChat API client. Cheap to clone: all clones share one connection pool and observer.
///
/// It holds no credentials; [`WechatClient::app`] binds it to one app.
#[derive(Clone)]
pub struct WechatClient {
    pub(crate) inner: Arc<Inner>,
}

pub(crate) struct Inner {
    pub(crate) http: reqwest::Client,
    pub(crate) busy_backoff: Duration,
    pub(crate) observer: Arc<dyn CallObserver>,
}

impl fmt::Debug for WechatClient {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("WechatClient")
            .field("busy_backoff", &self.inner.busy_backoff)
            .finish_non_exhaustive()
    }
}

impl WechatClient {
    /// Starts a builder with the defaults: 5 s timeout, 2 s connect timeout, 100 ms busy backoff,
    /// no observer.
    pub fn builder() -> WechatClientBuilder {
        WechatClientBuilder {
            timeout: Duration::from_secs(5),
            connect_timeout: Duration::from_secs(2),
            busy_backoff: Duration::from_millis(100),
            observer: Arc::new(NoopObserver),
        }
    }

    /// A view of the client for one app. Cheap; create one per app and keep it, or create it per
    /// request — either shares the pool.
    pub fn app(&self, credentials: Credentials, endpoints: Endpoints) -> AppClient {
        AppClient {
            client: self.clone(),
            credentials: Arc::new(credentials),
            endpoints: Arc::new(endpoints),
        }
    }

    pub(crate) fn observer(&self) -> &dyn CallObserver {
        self.inner.observer.as_ref()
    }
}

/// Builds a [`WechatClient`].
pub struct WechatClientBuilder {
    timeout: Duration,
    connect_timeout: Duration,
    busy_backoff: Duration,
    observer: Arc<dyn CallObserver>,
}

impl fmt::Debug for WechatClientBuilder {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("WechatClientBuilder")
            .field("timeout", &self.timeout)
            .field("connect_timeout", &self.connect_timeout)
            .field("busy_backoff", &self.busy_backoff)
            .finish_non_exhaustive()
    }
}

impl WechatClientBuilder {
    /// The whole exchange, connection included. Default 5 s: a login waits on it.
    pub fn timeout(mut self, timeout: Duration) -> Self {
        self.timeout = timeout;
        self
    }

    /// Connection setup only. Default 2 s.
    pub fn connect_timeout(mut self, timeout: Duration) -> Self {
        self.connect_timeout = timeout;
        self
    }

    /// The pause before the single retry of a call WeChat answered with errcode -1.
    /// Default 100 ms: a login is waiting, so one quick retry is the budget.
    pub fn busy_retry_backoff(mut self, backoff: Duration) -> Self {
        self.busy_backoff = backoff;
        self
    }

    /// Receives every call's outcome and every token refresh (for metrics).
    pub fn observer(mut self, observer: Arc<dyn CallObserver>) -> Self {
        self.observer = observer;
        self
    }

    pub fn build(self) -> Result<WechatClient, WechatError> {
        let http = reqwest::Client::builder()
            .timeout(self.timeout)
            .connect_timeout(self.connect_timeout)
            // WeChat's APIs never redirect; following one would only hide a misconfigured base
            // URL or a captive proxy.
            .redirect(reqwest::redirect::Policy::none())
            .pool_idle_timeout(Duration::from_secs(60))
            .tcp_nodelay(true)
            .user_agent(concat!("wxauth-wechat/", env!("CARGO_PKG_VERSION")))
            .build()
            .map_err(|e| WechatError::Transport(e.without_url().to_string()))?;
        Ok(WechatClient {
            inner: Arc::new(Inner {
                http,
                busy_backoff: self.busy_backoff,
                observer: self.observer,
            }),
        })
    }
}

/// The client bound to one app's credentials and endpoints. Cheap to clone.
///
/// Its API methods are defined next to each API, in [`crate::api`].
#[derive(Clone, Debug)]
pub struct AppClient {
    pub(crate) client: WechatClient,
    pub(crate) credentials: Arc<Credentials>,
    pub(crate) endpoints: Arc<Endpoints>,
}

impl AppClient {
    pub fn appid(&self) -> &wxauth_domain::WechatAppId {
        &self.credentials.appid
    }

    pub fn credentials(&self) -> &Credentials {
        &self.credentials
    }

    pub fn endpoints(&self) -> &Endpoints {
        &self.endpoints
    }

    /// The shared client this view was made from.
    pub fn client(&self) -> &WechatClient {
        &self.client
    }
}
