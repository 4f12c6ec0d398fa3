//! The entry point: one [`Wxauth`] holds the ports and settings; each use case is a method on it,
//! defined in the module of its feature.

use std::sync::Arc;

use time::Duration;
use wxauth_domain::{AppKey, Timestamp};

use crate::apps::AppDirectory;
use crate::audit::AuditEvent;
use crate::ports::{AccessTokenSigner, Clock, Store, WechatApi, WechatCrypto};

/// Lifetimes and defaults of the use cases.
#[derive(Debug, Clone)]
pub struct Settings {
    pub access_token_ttl: Duration,
    pub refresh_token_ttl: Duration,
    pub bind_code_ttl: Duration,
    pub oauth_state_ttl: Duration,
    pub qr_login_ttl: Duration,
    /// The app used when a request names none.
    pub default_app: Option<AppKey>,
    /// How long an app definition is cached before it is read again (other instances may have
    /// changed it through the admin API).
    pub app_cache_ttl: Duration,
}

impl Default for Settings {
    fn default() -> Self {
        Self {
            access_token_ttl: Duration::minutes(15),
            refresh_token_ttl: Duration::days(30),
            bind_code_ttl: Duration::minutes(5),
            oauth_state_ttl: Duration::minutes(10),
            qr_login_ttl: Duration::minutes(5),
            default_app: None,
            app_cache_ttl: Duration::seconds(10),
        }
    }
}

/// Who is asking: carried into the audit log.
#[derive(Debug, Clone, Default)]
pub struct RequestContext {
    pub ip: Option<String>,
    pub request_id: Option<String>,
    /// The admin API key id, for admin actions.
    pub actor: Option<String>,
}

pub struct Wxauth {
    pub(crate) store: Arc<dyn Store>,
    pub(crate) wechat: Arc<dyn WechatApi>,
    pub(crate) crypto: Arc<dyn WechatCrypto>,
    pub(crate) signer: Arc<dyn AccessTokenSigner>,
    pub(crate) clock: Arc<dyn Clock>,
    pub(crate) apps: AppDirectory,
    pub(crate) settings: Settings,
}

impl Wxauth {
    pub fn new(
        store: Arc<dyn Store>,
        wechat: Arc<dyn WechatApi>,
        crypto: Arc<dyn WechatCrypto>,
        signer: Arc<dyn AccessTokenSigner>,
        clock: Arc<dyn Clock>,
        settings: Settings,
    ) -> Self {
        let apps = AppDirectory::new(
            store.clone(),
            clock.clone(),
            settings.app_cache_ttl,
            settings.default_app.clone(),
        );
        Self {
            store,
            wechat,
            crypto,
            signer,
            clock,
            apps,
            settings,
        }
    }

    pub fn settings(&self) -> &Settings {
        &self.settings
    }

    pub fn apps(&self) -> &AppDirectory {
        &self.apps
    }

    pub fn signer(&self) -> &dyn AccessTokenSigner {
        self.signer.as_ref()
    }

    pub(crate) fn now(&self) -> Timestamp {
        self.clock.now()
    }

    /// Whether the store answers.
    pub async fn ready(&self) -> bool {
        self.store.ping().await.is_ok()
    }

    /// Writes one audit entry in its own transaction; used for failures, whose own transaction
    /// (if any) was rolled back. An audit write that fails is logged, never surfaced: the
    /// caller's error is the one that matters.
    pub(crate) async fn audit_alone(&self, ctx: &RequestContext, event: AuditEvent<'_>) {
        let entry = event.into_entry(ctx, self.now());
        let result = async {
            let mut tx = self.store.begin().await?;
            let result = tx
                .append_audit(&entry)
                .await
                .map_err(crate::CoreError::from);
            crate::ports::finish(tx, result).await
        }
        .await;
        if let Err(e) = result {
            tracing::error!(error = %e, kind = %entry.kind, "could not write an audit entry");
        }
    }
}
