//! What every handler can reach.

use std::sync::{Arc, OnceLock};

use wxauth_core::Wxauth;

use crate::metrics::Metrics;

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
    /// The `demo` command's simulator user, whom the demo page suggests scanning as.
    pub demo_scanner: Option<DemoScanner>,
    /// The longest one request may take; past it the client gets a 503 `REQUEST_TIMEOUT`.
    pub request_timeout: std::time::Duration,
}

/// A simulator user to scan the demo page's QR codes as.
#[derive(Debug, Clone)]
pub struct DemoScanner {
    pub name: String,
    /// Their openid in the demo Official Account.
    pub openid: String,
    /// Their openid in the demo Mini Program.
    pub mini_program_openid: String,
    pub simulator_url: String,
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
            demo_scanner: None,
            request_timeout: std::time::Duration::from_secs(15),
        }
    }
}

pub struct HttpState {
    pub wxauth: Arc<Wxauth>,
    pub metrics: Arc<Metrics>,
    pub options: HttpOptions,
    /// The OpenAPI document as served, built on its first request.
    pub(crate) openapi_json: OnceLock<actix_web::web::Bytes>,
    /// The OpenID provider metadata and the JWK Set, built on their first request: both are
    /// fixed for the process's life and asked for on every relying party's start-up.
    pub(crate) discovery_json: OnceLock<actix_web::web::Bytes>,
    pub(crate) jwks_json: OnceLock<Option<actix_web::web::Bytes>>,
}

impl HttpState {
    pub fn new(wxauth: Arc<Wxauth>, metrics: Arc<Metrics>, options: HttpOptions) -> Self {
        Self {
            wxauth,
            metrics,
            options,
            openapi_json: OnceLock::new(),
            discovery_json: OnceLock::new(),
            jwks_json: OnceLock::new(),
        }
    }
}

impl std::fmt::Debug for HttpState {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("HttpState")
            .field("options", &self.options)
            .finish_non_exhaustive()
    }
}
