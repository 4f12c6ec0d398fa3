//! Where access tokens are shared between service instances.
//!
//! Every instance fetching its own token is what kills tokens (see the plain token API), so
//! instances of one service share one cache: wxauth implements [`TokenStore`] on its database.

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
}

/// A process-local store: the default, and a shared one between managers when cloned.
#[derive(Clone, Default)]
pub struct MemoryTokenStore {
    tokens: Arc<Mutex<HashMap<WechatAppId, StoredToken>>>,
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
}
