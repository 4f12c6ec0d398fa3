//! The provider's errors, by the names RFC 6749, RFC 6750, RFC 8693 and OpenID Connect Core
//! give them. The HTTP adapter decides once how each is carried (a redirect, a JSON body, a
//! page) and with which status.

use std::borrow::Cow;

use crate::error::{CoreError, UpstreamError};

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum OAuthErrorCode {
    InvalidRequest,
    /// Client authentication failed (401 at the token endpoint).
    InvalidClient,
    InvalidGrant,
    UnauthorizedClient,
    UnsupportedGrantType,
    UnsupportedResponseType,
    InvalidScope,
    AccessDenied,
    ServerError,
    TemporarilyUnavailable,
    /// OpenID Connect Core §3.1.2.6.
    LoginRequired,
    ConsentRequired,
    RequestNotSupported,
    RequestUriNotSupported,
    /// RFC 6750 §3.1: a bad bearer token.
    InvalidToken,
    /// RFC 6750 §3.1: the token lacks a scope the resource needs (403).
    InsufficientScope,
    /// Not an RFC code: the provider is not configured. Answered as a plain 404.
    NotFound,
}

impl OAuthErrorCode {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::InvalidRequest => "invalid_request",
            Self::InvalidClient => "invalid_client",
            Self::InvalidGrant => "invalid_grant",
            Self::UnauthorizedClient => "unauthorized_client",
            Self::UnsupportedGrantType => "unsupported_grant_type",
            Self::UnsupportedResponseType => "unsupported_response_type",
            Self::InvalidScope => "invalid_scope",
            Self::AccessDenied => "access_denied",
            Self::ServerError => "server_error",
            Self::TemporarilyUnavailable => "temporarily_unavailable",
            Self::LoginRequired => "login_required",
            Self::ConsentRequired => "consent_required",
            Self::RequestNotSupported => "request_not_supported",
            Self::RequestUriNotSupported => "request_uri_not_supported",
            Self::InvalidToken => "invalid_token",
            Self::InsufficientScope => "insufficient_scope",
            Self::NotFound => "not_found",
        }
    }
}

/// An error with its RFC code and a description for the developer (never a secret).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{}: {description}", code.as_str())]
pub struct OAuthError {
    pub code: OAuthErrorCode,
    pub description: Cow<'static, str>,
    /// Seconds, when the caller was rate-limited.
    pub retry_after: Option<u64>,
}

impl OAuthError {
    pub fn new(code: OAuthErrorCode, description: impl Into<Cow<'static, str>>) -> Self {
        Self {
            code,
            description: description.into(),
            retry_after: None,
        }
    }

    pub fn invalid_request(description: impl Into<Cow<'static, str>>) -> Self {
        Self::new(OAuthErrorCode::InvalidRequest, description)
    }

    pub fn invalid_grant(description: impl Into<Cow<'static, str>>) -> Self {
        Self::new(OAuthErrorCode::InvalidGrant, description)
    }

    pub fn invalid_client(description: impl Into<Cow<'static, str>>) -> Self {
        Self::new(OAuthErrorCode::InvalidClient, description)
    }

    pub fn invalid_token(description: impl Into<Cow<'static, str>>) -> Self {
        Self::new(OAuthErrorCode::InvalidToken, description)
    }

    pub fn access_denied(description: impl Into<Cow<'static, str>>) -> Self {
        Self::new(OAuthErrorCode::AccessDenied, description)
    }

    pub(crate) fn disabled() -> Self {
        Self::new(
            OAuthErrorCode::NotFound,
            "this service is not configured as an OpenID provider",
        )
    }
}

/// What a use case's failure means to a relying party. Storage and WeChat failures are the
/// provider's problem (`server_error`, `temporarily_unavailable`); refusals of the user are
/// `access_denied`; a bad WeChat code in token exchange is `invalid_grant`.
impl From<CoreError> for OAuthError {
    fn from(e: CoreError) -> Self {
        use OAuthErrorCode as C;
        let (code, description): (C, Cow<'static, str>) = match &e {
            CoreError::RateLimited { retry_after_secs } => {
                return Self {
                    code: C::TemporarilyUnavailable,
                    description: "too many requests; retry later".into(),
                    retry_after: Some(*retry_after_secs),
                };
            }
            CoreError::Validation(v) => (C::InvalidRequest, v.to_string().into()),
            CoreError::UserBlocked => (C::AccessDenied, "the account is blocked".into()),
            CoreError::RegistrationClosed => (
                C::AccessDenied,
                "this WeChat user has no account and the app does not register new ones".into(),
            ),
            CoreError::SnapshotUser => (
                C::AccessDenied,
                "a Moments snapshot page cannot sign in; open the page in WeChat".into(),
            ),
            CoreError::Upstream(UpstreamError::InvalidCode | UpstreamError::CodeUsed) => (
                C::InvalidGrant,
                "WeChat refused the code: unknown, expired or used".into(),
            ),
            CoreError::Upstream(UpstreamError::RiskBlocked) => (
                C::AccessDenied,
                "WeChat blocked this user as high-risk".into(),
            ),
            CoreError::Upstream(_) | CoreError::LimiterUnavailable => (
                C::TemporarilyUnavailable,
                "WeChat or a dependency is unavailable; retry later".into(),
            ),
            other => {
                tracing::warn!(error = %other, "OpenID request failed");
                (
                    C::ServerError,
                    "the provider could not complete the request".into(),
                )
            }
        };
        Self::new(code, description)
    }
}

impl From<crate::error::RepoError> for OAuthError {
    fn from(e: crate::error::RepoError) -> Self {
        CoreError::from(e).into()
    }
}
