//! Call observation: how wxauth (or any user) feeds its metrics without this crate knowing them.

use std::time::Duration;

use wxauth_domain::WechatAppId;

/// How one HTTP exchange with WeChat went. A busy retry is reported as two calls.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum CallOutcome {
    /// Success (errcode absent or 0, or an image).
    Ok,
    /// WeChat answered with this non-zero errcode.
    Errcode(i64),
    /// No answer within the timeout.
    Timeout,
    /// Connection failure or a non-2xx HTTP status.
    Transport,
    /// The answer could not be read.
    Decode,
}

impl CallOutcome {
    /// A short label for metrics: `ok`, `errcode`, `timeout`, `transport`, `decode`.
    pub fn label(&self) -> &'static str {
        match self {
            Self::Ok => "ok",
            Self::Errcode(_) => "errcode",
            Self::Timeout => "timeout",
            Self::Transport => "transport",
            Self::Decode => "decode",
        }
    }
}

/// Where an [`crate::token::AccessTokenManager`] got a new token from.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum TokenRefresh {
    /// Fetched from WeChat with `force_refresh: false`.
    Fetched,
    /// Fetched with `force_refresh: true` because WeChat kept handing back a rejected token.
    Forced,
    /// Taken from the shared [`crate::token::TokenStore`], fresh from another instance.
    FromStore,
}

/// Receives a report of every call and every access-token refresh. Every method has a no-op
/// default; implementations must be cheap and must not block (they run on the request path).
pub trait CallObserver: Send + Sync {
    /// One HTTP exchange finished. `endpoint` is the API path, e.g. `/sns/jscode2session`.
    fn on_call(&self, endpoint: &'static str, outcome: CallOutcome, elapsed: Duration) {
        let _ = (endpoint, outcome, elapsed);
    }

    /// An access-token manager replaced its token.
    fn on_token_refresh(&self, appid: &WechatAppId, source: TokenRefresh) {
        let _ = (appid, source);
    }
}

/// The default observer: ignores everything.
#[derive(Debug, Clone, Copy, Default)]
pub struct NoopObserver;

impl CallObserver for NoopObserver {}
