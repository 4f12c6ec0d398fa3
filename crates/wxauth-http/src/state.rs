//! What every handler can reach.

use std::sync::Arc;

use std::net::IpAddr;

use wxauth_core::Wxauth;
use wxauth_domain::AppKind;

use crate::error::ApiError;
use crate::metrics::Metrics;
use crate::rate_limit::{LimitClass, RateLimits};

#[derive(Debug, Clone)]
pub struct HttpOptions {
    /// Take the client IP from `X-Forwarded-For` (only behind a proxy that sets it).
    pub trust_forwarded_for: bool,
    /// Serve the Strapi-plugin and legacy Official-Account compatibility routes.
    pub compat_routes: bool,
    /// Serve Swagger UI at `/swagger-ui/`.
    pub swagger_ui: bool,
    /// Serve the demo page at `/demo/`.
    pub demo_page: bool,
    /// The Mini Program the Strapi-plugin routes sign in to (default: the service's default).
    pub compat_mini_program_app: Option<String>,
    /// The Official Account the legacy `/wechat/*` routes use (default: the only one).
    pub compat_official_app: Option<String>,
}

impl Default for HttpOptions {
    fn default() -> Self {
        Self {
            trust_forwarded_for: false,
            compat_routes: true,
            swagger_ui: true,
            demo_page: true,
            compat_mini_program_app: None,
            compat_official_app: None,
        }
    }
}

pub struct HttpState {
    pub wxauth: Arc<Wxauth>,
    pub metrics: Arc<Metrics>,
    pub limits: RateLimits,
    pub options: HttpOptions,
}

impl std::fmt::Debug for HttpState {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("HttpState")
            .field("options", &self.options)
            .finish_non_exhaustive()
    }
}

impl HttpState {
    /// Counts a request against the client's limit and, when the app it names (or the default
    /// one) exists, against that app's. An app that does not resolve is left to the use case,
    /// which refuses it; only real app keys ever become limiter keys.
    pub async fn limit(
        &self,
        class: LimitClass,
        ip: Option<IpAddr>,
        requested_app: Option<&str>,
        kinds: &[AppKind],
    ) -> Result<(), ApiError> {
        self.limits.check_ip(class, ip)?;
        if let Ok(app) = self.wxauth.apps().resolve(requested_app, kinds).await {
            self.limits.check_app(class, app.key.as_str())?;
        }
        Ok(())
    }
}
