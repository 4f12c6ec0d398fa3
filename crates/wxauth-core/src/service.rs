//! The entry point: one [`Wxauth`] holds the ports and settings; each use case is a method on it,
//! defined in the module of its feature. The helpers every use case shares live here too: the
//! unit of work, admission against the rate limits, and failure audit.

use std::net::IpAddr;
use std::sync::Arc;

use time::Duration;
use wxauth_domain::{AppKey, Timestamp};

use crate::apps::AppDirectory;
use crate::audit::AuditEvent;
use crate::error::{CoreError, CoreResult};
use crate::ports::{
    AccessTokenSigner, Clock, LimitClass, LimitKey, RateLimiter, Refused, Store, Telemetry,
    Transaction, WechatApi, WechatCrypto,
};

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

/// Who is asking: carried into the audit log and the rate limits.
#[derive(Debug, Clone, Default)]
pub struct RequestContext {
    pub ip: Option<IpAddr>,
    pub request_id: Option<String>,
    /// The admin API key id, for admin actions.
    pub actor: Option<String>,
}

/// The adapters the use cases run on.
pub struct Ports {
    pub store: Arc<dyn Store>,
    pub wechat: Arc<dyn WechatApi>,
    pub crypto: Arc<dyn WechatCrypto>,
    pub signer: Arc<dyn AccessTokenSigner>,
    pub clock: Arc<dyn Clock>,
    pub limiter: Arc<dyn RateLimiter>,
    pub telemetry: Arc<dyn Telemetry>,
}

pub struct Wxauth {
    pub(crate) store: Arc<dyn Store>,
    pub(crate) wechat: Arc<dyn WechatApi>,
    pub(crate) crypto: Arc<dyn WechatCrypto>,
    pub(crate) signer: Arc<dyn AccessTokenSigner>,
    pub(crate) clock: Arc<dyn Clock>,
    pub(crate) limiter: Arc<dyn RateLimiter>,
    pub(crate) telemetry: Arc<dyn Telemetry>,
    pub(crate) apps: AppDirectory,
    pub(crate) settings: Settings,
    pub(crate) qr_watchers: crate::watch::Watchers,
    pub(crate) oidc: Option<crate::oidc::OidcProvider>,
    pub(crate) oidc_clients: crate::oidc::clients::ClientCache,
}

impl Wxauth {
    pub fn new(ports: Ports, settings: Settings) -> Self {
        let apps = AppDirectory::new(
            ports.store.clone(),
            ports.clock.clone(),
            settings.app_cache_ttl,
            settings.default_app.clone(),
        );
        Self {
            store: ports.store,
            wechat: ports.wechat,
            crypto: ports.crypto,
            signer: ports.signer,
            clock: ports.clock,
            limiter: ports.limiter,
            telemetry: ports.telemetry,
            apps,
            settings,
            qr_watchers: Default::default(),
            oidc: None,
            oidc_clients: Default::default(),
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

    /// Counts a request of `class` against the caller's budget and, once the app is known,
    /// the app's. Every use case that reaches WeChat or hands out tokens starts here.
    pub(crate) async fn admit(
        &self,
        ctx: &RequestContext,
        class: LimitClass,
        app: Option<&AppKey>,
    ) -> CoreResult<()> {
        let keys = ctx
            .ip
            .map(LimitKey::Ip)
            .into_iter()
            .chain(app.map(LimitKey::App));
        for key in keys {
            match self.limiter.check(class, key).await {
                Ok(()) => {}
                Err(Refused::OverLimit { retry_after }) => {
                    return Err(CoreError::RateLimited {
                        retry_after_secs: retry_after.as_secs().max(1),
                    });
                }
                Err(Refused::LimiterUnavailable) => return Err(CoreError::LimiterUnavailable),
            }
        }
        Ok(())
    }

    /// Writes one audit entry in its own transaction; used for failures, whose own transaction
    /// (if any) was rolled back. An audit write that fails is logged, never surfaced: the
    /// caller's error is the one that matters.
    pub(crate) async fn audit_alone(&self, ctx: &RequestContext, event: AuditEvent<'_>) {
        let entry = event.into_entry(ctx, self.now());
        let result = async {
            let mut tx = self.store.begin().await?;
            let result = tx.append_audit(&entry).await.map_err(CoreError::from);
            finish(tx, result).await
        }
        .await;
        if let Err(e) = result {
            tracing::error!(error = %e, kind = %entry.kind, "could not write an audit entry");
        }
    }
}

/// Ends a unit of work: commits on success, rolls back on failure. The commit may fail in turn
/// (a write the store deferred hits a unique key), and then that failure is the result.
pub(crate) async fn finish<T>(tx: Box<dyn Transaction>, result: CoreResult<T>) -> CoreResult<T> {
    match result {
        Ok(value) => {
            tx.commit().await?;
            Ok(value)
        }
        Err(e) => {
            if let Err(rollback) = tx.rollback().await {
                tracing::warn!(error = %rollback, "rollback failed; the connection will be discarded");
            }
            Err(e)
        }
    }
}
