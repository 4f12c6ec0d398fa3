//! Where access tokens are shared between service instances.
//!
//! Every instance fetching its own token is what kills tokens (see the plain token API), so
//! instances of one service share one cache: wxauth implements [`TokenStore`] on its database.
//! The store also serialises refreshes across instances ([`TokenStore::lock_refresh`]): an
//! instance that finds the token bad refreshes only if, once it holds the lock, the store still
//! holds that bad token (WxJava's "expire if unchanged"), so N instances fetch once, not N
//! times — and a forced refresh by one never invalidates the token another just stored.

use std::collections::HashMap;
use std::fmt;
use std::sync::Arc;

use async_trait::async_trait;
use secrecy::SecretString;
use time::OffsetDateTime;
use tokio::sync::Mutex;
use wxauth_domain::WechatAppId;

/// A token and the instant it stops working.
#[derive(Clone)]
pub struct StoredToken {
    pub token: SecretString,
    pub expires_at: OffsetDateTime,
}

impl fmt::Debug for StoredToken {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("StoredToken")
            .field("token", &"[REDACTED]")
            .field("expires_at", &self.expires_at)
            .finish()
    }
}

/// A store failure. The manager logs it and carries on without the store (asking WeChat's stable
/// API is safe), so an unavailable database does not stop logins.
#[derive(Debug, thiserror::Error)]
#[error("token store: {0}")]
pub struct StoreError(#[source] pub Box<dyn std::error::Error + Send + Sync>);

impl StoreError {
    pub fn new(error: impl Into<Box<dyn std::error::Error + Send + Sync>>) -> Self {
        Self(error.into())
    }
}

/// A shared cache of one token per app.
#[async_trait]
pub trait TokenStore: Send + Sync {
    /// The token last saved for `appid`, if any (expired ones included; the manager checks).
    async fn load(&self, appid: &WechatAppId) -> Result<Option<StoredToken>, StoreError>;

    /// Replaces the token for `appid`.
    async fn save(&self, appid: &WechatAppId, token: &StoredToken) -> Result<(), StoreError>;

    /// Waits until no other user of the store (another instance) is refreshing `appid`'s
    /// token, and keeps them out until the lock is released or dropped. A store only one
    /// process uses may lock nothing: the manager already serialises its own callers.
    async fn lock_refresh(&self, appid: &WechatAppId) -> Result<Box<dyn RefreshLock>, StoreError>;
}

/// A held [`TokenStore::lock_refresh`]. Dropping it releases it too (a cancelled refresh),
/// though maybe later: [`RefreshLock::release`] releases it at once.
#[async_trait]
pub trait RefreshLock: Send {
    async fn release(self: Box<Self>);
}

/// A lock that shuts out nobody, for stores with a single user.
#[derive(Debug)]
pub struct NoLock;

#[async_trait]
impl RefreshLock for NoLock {
    async fn release(self: Box<Self>) {}
}

#[async_trait]
impl RefreshLock for tokio::sync::OwnedMutexGuard<()> {
    async fn release(self: Box<Self>) {}
}

/// A process-local store: the default, and a shared one between managers when cloned.
/// Managers sharing one (cloned) store behave as instances sharing a database: they take each
/// other's tokens and refresh one at a time.
#[derive(Clone, Default)]
pub struct MemoryTokenStore {
    tokens: Arc<Mutex<HashMap<WechatAppId, StoredToken>>>,
    refreshing: Arc<Mutex<HashMap<WechatAppId, Arc<Mutex<()>>>>>,
}

impl MemoryTokenStore {
    pub fn new() -> Self {
        Self::default()
    }
}

impl fmt::Debug for MemoryTokenStore {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("MemoryTokenStore").finish_non_exhaustive()
    }
}

#[async_trait]
impl TokenStore for MemoryTokenStore {
    async fn load(&self, appid: &WechatAppId) -> Result<Option<StoredToken>, StoreError> {
        Ok(self.tokens.lock().await.get(appid).cloned())
    }

    async fn save(&self, appid: &WechatAppId, token: &StoredToken) -> Result<(), StoreError> {
        self.tokens
            .lock()
            .await
            .insert(appid.clone(), token.clone());
        Ok(())
    }

    async fn lock_refresh(&self, appid: &WechatAppId) -> Result<Box<dyn RefreshLock>, StoreError> {
        let lock = self
            .refreshing
            .lock()
            .await
            .entry(appid.clone())
            .or_default()
            .clone();
        Ok(Box::new(lock.lock_owned().await))
    }
}
