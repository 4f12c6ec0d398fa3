//! The app access token, cached, shared and refreshed: [`AccessTokenManager`].
//!
//! - It only ever uses the stable token API with `force_refresh: false`, which hands every caller
//!   the same current token and invalidates nothing; `force_refresh: true` is reserved for a token
//!   WeChat rejected *and* still hands back.
//! - Concurrent callers of one manager wait for a single fetch; before fetching, the manager
//!   re-reads the shared [`TokenStore`], where another instance may have put a fresh token.
//! - Instances sharing a store refresh one at a time ([`TokenStore::lock_refresh`]): under the
//!   lock the store is read again, and only a token still missing, due, or the very one that
//!   failed is replaced. Whatever the number of instances, one fetch per refresh; a forced
//!   refresh only ever happens under the lock.
//! - A token is refreshed once less than the margin (default 5 minutes) remains. If that refresh
//!   fails while the old token is still valid, the old token is served.

mod clock;
mod store;

pub use clock::{Clock, SystemClock};
pub use store::{MemoryTokenStore, NoLock, RefreshLock, StoreError, StoredToken, TokenStore};

use std::fmt;
use std::future::Future;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use secrecy::{ExposeSecret, SecretString};
use time::OffsetDateTime;
use tokio::sync::Mutex;

use crate::api::access_token::AccessToken;
use crate::client::AppClient;
use crate::error::WechatError;
use crate::observer::TokenRefresh;

/// Refresh when less than this remains. WeChat's tokens live 2 hours.
pub const DEFAULT_REFRESH_MARGIN: Duration = Duration::from_secs(5 * 60);
/// WeChat allows a forced refresh about 20 times a day, 30 s apart.
pub const DEFAULT_FORCE_REFRESH_INTERVAL: Duration = Duration::from_secs(30);
/// After a failed refresh while the token is still valid, the next attempt waits this long.
const RETRY_AFTER_FAILED_REFRESH: Duration = Duration::from_secs(10);
/// The longest lifetime believed, whatever `expires_in` says (WeChat says 7200 s).
const MAX_TOKEN_LIFETIME: Duration = Duration::from_secs(24 * 60 * 60);

/// How often a manager replaced its token, by source.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct TokenStats {
    /// Fetched from WeChat with `force_refresh: false`.
    pub fetched: u64,
    /// Fetched with `force_refresh: true`.
    pub forced: u64,
    /// Taken from the shared store.
    pub from_store: u64,
}

/// One app's access token, shared by every clone (and, through the store, every instance).
#[derive(Clone)]
pub struct AccessTokenManager {
    inner: Arc<Inner>,
}

struct Inner {
    app: AppClient,
    store: Arc<dyn TokenStore>,
    clock: Arc<dyn Clock>,
    margin: Duration,
    force_interval: Duration,
    /// Held across a fetch: this is what makes concurrent callers wait for one fetch.
    state: Mutex<State>,
    fetched: AtomicU64,
    forced: AtomicU64,
    from_store: AtomicU64,
}

#[derive(Default)]
struct State {
    current: Option<Cached>,
    /// The last token WeChat refused: never adopted again, from the store or from WeChat.
    rejected: Option<SecretString>,
    last_forced: Option<OffsetDateTime>,
}

struct Cached {
    token: SecretString,
    expires_at: OffsetDateTime,
    refresh_at: OffsetDateTime,
}

impl fmt::Debug for AccessTokenManager {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("AccessTokenManager")
            .field("appid", self.inner.app.appid())
            .field("margin", &self.inner.margin)
            .finish_non_exhaustive()
    }
}

/// Builds an [`AccessTokenManager`].
pub struct AccessTokenManagerBuilder {
    app: AppClient,
    store: Arc<dyn TokenStore>,
    clock: Arc<dyn Clock>,
    margin: Duration,
    force_interval: Duration,
}

impl AccessTokenManagerBuilder {
    /// The shared cache. Default: a private [`MemoryTokenStore`].
    pub fn store(mut self, store: Arc<dyn TokenStore>) -> Self {
        self.store = store;
        self
    }

    /// Default: [`SystemClock`].
    pub fn clock(mut self, clock: Arc<dyn Clock>) -> Self {
        self.clock = clock;
        self
    }

    /// Refresh when less than this remains. Default 5 minutes.
    pub fn refresh_margin(mut self, margin: Duration) -> Self {
        self.margin = margin;
        self
    }

    /// The least time between two forced refreshes by this manager; inside it, a rejected token
    /// that WeChat still hands back makes the call fail instead. Default 30 s.
    pub fn force_refresh_interval(mut self, interval: Duration) -> Self {
        self.force_interval = interval;
        self
    }

    pub fn build(self) -> AccessTokenManager {
        AccessTokenManager {
            inner: Arc::new(Inner {
                app: self.app,
                store: self.store,
                clock: self.clock,
                margin: self.margin,
                force_interval: self.force_interval,
                state: Mutex::new(State::default()),
                fetched: AtomicU64::new(0),
                forced: AtomicU64::new(0),
                from_store: AtomicU64::new(0),
            }),
        }
    }
}

impl AccessTokenManager {
    /// A manager with a private memory store and the system clock.
    pub fn new(app: AppClient) -> Self {
        Self::builder(app).build()
    }

    pub fn builder(app: AppClient) -> AccessTokenManagerBuilder {
        AccessTokenManagerBuilder {
            app,
            store: Arc::new(MemoryTokenStore::new()),
            clock: Arc::new(SystemClock),
            margin: DEFAULT_REFRESH_MARGIN,
            force_interval: DEFAULT_FORCE_REFRESH_INTERVAL,
        }
    }

    /// The app this manager holds the token of.
    pub fn app(&self) -> &AppClient {
        &self.inner.app
    }

    /// The current token, fetching (once, for all concurrent callers) when needed.
    pub async fn get(&self) -> Result<SecretString, WechatError> {
        let mut state = self.inner.state.lock().await;
        let now = self.inner.clock.now();
        if let Some(cached) = &state.current
            && now < cached.refresh_at
        {
            return Ok(cached.token.clone());
        }
        match self.renew(&mut state, now).await? {
            Renewed::Token(token) => Ok(token),
            // WeChat's current token, refused earlier, and no forced refresh allowed yet: it is
            // still the best there is.
            Renewed::StillRejected(token) => Ok(token),
        }
    }

    /// Runs `call` with the current token. If WeChat refuses the token (40001, 42001, 40014), the
    /// token is marked bad (only if it is still the current one), refreshed, and `call` is retried
    /// exactly once; a second refusal is returned as is.
    pub async fn call<T, F, Fut>(&self, mut call: F) -> Result<T, WechatError>
    where
        F: FnMut(SecretString) -> Fut,
        Fut: Future<Output = Result<T, WechatError>>,
    {
        let token = self.get().await?;
        match call(token.clone()).await {
            Err(e) if e.is_invalid_access_token() => match self.replace_rejected(&token).await? {
                Some(fresh) => call(fresh).await,
                None => Err(e),
            },
            other => other,
        }
    }

    /// Marks `token` bad if it is still the current one, and reports whether it was. The next
    /// [`AccessTokenManager::get`] fetches. ([`AccessTokenManager::call`] does this itself.)
    pub async fn invalidate(&self, token: &SecretString) -> bool {
        let mut state = self.inner.state.lock().await;
        let is_current = state
            .current
            .as_ref()
            .is_some_and(|c| same(&c.token, token));
        if is_current {
            state.current = None;
            state.rejected = Some(token.clone());
        }
        is_current
    }

    /// How often this manager replaced its token.
    pub fn stats(&self) -> TokenStats {
        TokenStats {
            fetched: self.inner.fetched.load(Ordering::Relaxed),
            forced: self.inner.forced.load(Ordering::Relaxed),
            from_store: self.inner.from_store.load(Ordering::Relaxed),
        }
    }

    /// A replacement for `rejected`; `None` when WeChat keeps handing it back and a forced
    /// refresh is not allowed yet.
    async fn replace_rejected(
        &self,
        rejected: &SecretString,
    ) -> Result<Option<SecretString>, WechatError> {
        let mut state = self.inner.state.lock().await;
        let now = self.inner.clock.now();
        match &state.current {
            // Another caller already replaced it while this one was failing.
            Some(c) if !same(&c.token, rejected) && now < c.expires_at => {
                return Ok(Some(c.token.clone()));
            }
            Some(c) if same(&c.token, rejected) => state.current = None,
            _ => {}
        }
        state.rejected = Some(rejected.clone());
        match self.renew(&mut state, now).await? {
            Renewed::Token(token) => Ok(Some(token)),
            Renewed::StillRejected(_) => Ok(None),
        }
    }

    /// Gets a new token into `state`: from the store if it holds a fresh one, else from WeChat.
    async fn renew(&self, state: &mut State, now: OffsetDateTime) -> Result<Renewed, WechatError> {
        if let Some(token) = self.take_stored(state, now).await {
            return Ok(Renewed::Token(token));
        }
        let appid = self.inner.app.appid();
        let lock = match self.inner.store.lock_refresh(appid).await {
            Ok(lock) => Some(lock),
            Err(e) => {
                // Fetching without the lock is safe with `force_refresh: false` (WeChat hands
                // every caller the same token); only the forced refresh waits for the lock.
                tracing::warn!(appid = %appid, error = %e, "cannot take the access-token refresh lock");
                None
            }
        };
        // Another instance may have refreshed while this one waited for the lock.
        let renewed = match self.take_stored(state, now).await {
            Some(token) => Ok(Renewed::Token(token)),
            None => self.fetch(state, now, lock.is_some()).await,
        };
        if let Some(lock) = lock {
            lock.release().await;
        }
        renewed
    }

    /// The store's token, adopted, if it is neither due for refresh nor the one that failed.
    async fn take_stored(&self, state: &mut State, now: OffsetDateTime) -> Option<SecretString> {
        let inner = &self.inner;
        let appid = inner.app.appid();
        match inner.store.load(appid).await {
            Ok(Some(stored))
                if plus(now, inner.margin) < stored.expires_at
                    && !is_rejected(state, &stored.token) =>
            {
                let token = stored.token.clone();
                let refresh_at = minus(stored.expires_at, inner.margin);
                state.current = Some(Cached {
                    token: stored.token,
                    expires_at: stored.expires_at,
                    refresh_at,
                });
                self.count(TokenRefresh::FromStore);
                Some(token)
            }
            Ok(_) => None,
            Err(e) => {
                tracing::warn!(appid = %appid, error = %e, "access-token store unavailable");
                None
            }
        }
    }

    /// A token from WeChat; forced only when WeChat hands back the refused one and `may_force`
    /// (the refresh lock is held).
    async fn fetch(
        &self,
        state: &mut State,
        now: OffsetDateTime,
        may_force: bool,
    ) -> Result<Renewed, WechatError> {
        let inner = &self.inner;
        let appid = inner.app.appid();
        let fetched = match inner.app.stable_access_token(false).await {
            Ok(t) if !is_rejected(state, &t.token) => (t, TokenRefresh::Fetched),
            Ok(t) => {
                // WeChat still hands out the token it refused: only a forced refresh helps, and
                // WeChat allows few of them.
                let too_soon = state
                    .last_forced
                    .is_some_and(|at| now < plus(at, inner.force_interval));
                if too_soon || !may_force {
                    return Ok(Renewed::StillRejected(t.token));
                }
                state.last_forced = Some(now);
                (
                    inner.app.stable_access_token(true).await?,
                    TokenRefresh::Forced,
                )
            }
            Err(e) => {
                // Serve a token that is due for refresh but still valid rather than fail a login
                // because WeChat hiccuped.
                // Retry a little later, not on every call: each attempt may cost a timeout.
                if let Some(c) = state.current.as_mut().filter(|c| now < c.expires_at) {
                    tracing::warn!(
                        appid = %appid,
                        error = %e,
                        "access-token refresh failed; using the current token"
                    );
                    c.refresh_at = plus(now, RETRY_AFTER_FAILED_REFRESH).min(c.expires_at);
                    return Ok(Renewed::Token(c.token.clone()));
                }
                return Err(e);
            }
        };
        let (token, source) = fetched;
        Ok(Renewed::Token(self.adopt(state, token, now, source).await))
    }

    async fn adopt(
        &self,
        state: &mut State,
        fetched: AccessToken,
        fetched_at: OffsetDateTime,
        source: TokenRefresh,
    ) -> SecretString {
        let inner = &self.inner;
        let lifetime = fetched.expires_in.min(MAX_TOKEN_LIFETIME);
        let expires_at = plus(fetched_at, lifetime);
        // A token handed out late in its life (stable tokens count down) is refreshed halfway
        // through what is left rather than at once, which would mean a fetch per call.
        let refresh_at = minus(expires_at, inner.margin.min(lifetime / 2));
        let stored = StoredToken {
            token: fetched.token.clone(),
            expires_at,
        };
        if let Err(e) = inner.store.save(inner.app.appid(), &stored).await {
            tracing::warn!(appid = %inner.app.appid(), error = %e, "could not share the access token");
        }
        state.current = Some(Cached {
            token: fetched.token.clone(),
            expires_at,
            refresh_at,
        });
        self.count(source);
        fetched.token
    }

    fn count(&self, source: TokenRefresh) {
        let counter = match source {
            TokenRefresh::Fetched => &self.inner.fetched,
            TokenRefresh::Forced => &self.inner.forced,
            TokenRefresh::FromStore => &self.inner.from_store,
        };
        counter.fetch_add(1, Ordering::Relaxed);
        tracing::debug!(appid = %self.inner.app.appid(), source = ?source, "access token replaced");
        self.inner
            .app
            .client()
            .observer()
            .on_token_refresh(self.inner.app.appid(), source);
    }
}

fn same(a: &SecretString, b: &SecretString) -> bool {
    a.expose_secret() == b.expose_secret()
}

fn is_rejected(state: &State, token: &SecretString) -> bool {
    state.rejected.as_ref().is_some_and(|r| same(r, token))
}

/// What `renew` got.
enum Renewed {
    Token(SecretString),
    /// WeChat handed back the rejected token and a forced refresh is not allowed yet.
    StillRejected(SecretString),
}

/// `t + d`, or `t` if that is past the calendar's end (only a broken clock or a margin of
/// centuries gets there; it must not panic).
fn plus(t: OffsetDateTime, d: Duration) -> OffsetDateTime {
    time::Duration::try_from(d)
        .ok()
        .and_then(|d| t.checked_add(d))
        .unwrap_or(t)
}

/// `t - d`, or `t` if that is before the calendar's start.
fn minus(t: OffsetDateTime, d: Duration) -> OffsetDateTime {
    time::Duration::try_from(d)
        .ok()
        .and_then(|d| t.checked_sub(d))
        .unwrap_or(t)
}
