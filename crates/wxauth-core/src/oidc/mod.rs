//! wxauth as an OpenID Connect provider whose sign-in methods are WeChat's.
//!
//! - [`clients`]: the relying parties, managed by the admin API.
//! - [`authorize`]: the authorization endpoint's decisions — the request's checks, single
//!   sign-on by browser session, the WeChat round trip (inside WeChat) or the desktop sign-in
//!   page, consent — ending in a single-use code.
//! - [`grants`]: the token endpoint: the code (with PKCE), refresh-token rotation and token
//!   exchange of a Mini Program `wx.login` code; the ID and access tokens they answer.
//! - [`resources`]: userinfo, introspection, revocation, logout and the user's consents.
//!
//! The rules live here; the wire formats (query strings, forms, cookies, pages, JSON) are the
//! HTTP adapter's. Errors are [`OAuthError`]s, named as the RFCs name them.

pub mod authorize;
pub mod clients;
mod error;
pub mod grants;
pub mod resources;

use std::sync::Arc;

use time::Duration;

pub use error::{OAuthError, OAuthErrorCode};

use crate::ports::ProviderSigner;

/// The provider's settings.
#[derive(Debug, Clone)]
pub struct OidcSettings {
    /// The public base URL, exactly as `iss` carries it (no trailing slash).
    pub issuer: String,
    /// At most 60 s (RFC 6749 §4.1.2 recommends 10 minutes at most; shorter is safer).
    pub code_ttl: Duration,
    /// How long a user has to finish signing in with WeChat.
    pub request_ttl: Duration,
    /// The browser session: single sign-on lasts this long.
    pub browser_session_ttl: Duration,
}

impl OidcSettings {
    pub fn new(issuer: impl Into<String>) -> Self {
        let issuer: String = issuer.into();
        Self {
            issuer: issuer.trim_end_matches('/').to_owned(),
            code_ttl: Duration::seconds(60),
            request_ttl: Duration::minutes(10),
            browser_session_ttl: Duration::days(7),
        }
    }

    /// Where WeChat sends the browser back with its code.
    pub fn callback_url(&self) -> String {
        format!("{}/oidc/callback", self.issuer)
    }
}

/// The provider: its signer and settings. A service without one answers every OpenID request
/// with `OIDC_DISABLED`-style errors (the HTTP adapter maps them to 404).
#[derive(Clone)]
pub struct OidcProvider {
    pub signer: Arc<dyn ProviderSigner>,
    pub settings: OidcSettings,
}

impl std::fmt::Debug for OidcProvider {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("OidcProvider")
            .field("settings", &self.settings)
            .finish_non_exhaustive()
    }
}

/// The token type of a Mini Program `wx.login` code in token exchange.
pub const WECHAT_LOGIN_CODE_TOKEN_TYPE: &str = "urn:wxauth:token-type:wechat-login-code";
/// RFC 8693's name for an access token.
pub const ACCESS_TOKEN_TYPE: &str = "urn:ietf:params:oauth:token-type:access_token";
/// RFC 8693's grant type.
pub const TOKEN_EXCHANGE_GRANT: &str = "urn:ietf:params:oauth:grant-type:token-exchange";

impl crate::Wxauth {
    /// Makes this service an OpenID provider.
    pub fn with_oidc(mut self, provider: OidcProvider) -> Self {
        self.oidc = Some(provider);
        self
    }

    pub fn oidc(&self) -> Option<&OidcProvider> {
        self.oidc.as_ref()
    }

    pub(crate) fn provider(&self) -> Result<&OidcProvider, OAuthError> {
        self.oidc.as_ref().ok_or_else(OAuthError::disabled)
    }
}
