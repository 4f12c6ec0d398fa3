//! The error envelope and the one place where use-case errors become HTTP statuses.
//!
//! Every error response, including the framework's own (bad JSON, unknown route, payload too
//! large, rate limits), has the same body:
//! `{"id": "<request id>", "status": 400, "name": "INVALID_CODE", "message": "...", "details": {}}`.
//! Causes stay in the logs; bodies carry safe messages only.

use std::borrow::Cow;

use actix_web::http::StatusCode;
use actix_web::http::header::{self, HeaderValue};
use actix_web::{HttpRequest, HttpResponse, ResponseError};
use serde::Serialize;
use serde_json::json;
use utoipa::ToSchema;
use wxauth_core::{BindCodeProblem, CoreError, ErrorCode, UpstreamError};
use wxauth_domain::ValidationError;

use crate::request_id::RequestId;

/// The error body of every failed request.
#[derive(Debug, Clone, Serialize, ToSchema)]
#[schema(example = json!({
    "id": "0193a5b2-6f1c-7c3e-9a51-3f1e2d4c5b6a",
    "status": 400,
    "name": "INVALID_CODE",
    "message": "the code is invalid or expired: get a new one from WeChat",
    "details": {"field": "code"}
}))]
pub struct ErrorBody {
    /// The request id, also sent as the `x-request-id` header. Quote it in support requests.
    pub id: String,
    /// The HTTP status, repeated for clients that only see the body.
    pub status: u16,
    /// A stable machine-readable name.
    pub name: Cow<'static, str>,
    /// A human-readable explanation, safe to show.
    pub message: String,
    /// Structured details, e.g. the offending `field`.
    #[schema(value_type = Object)]
    pub details: serde_json::Value,
}

/// An error on its way to becoming a response. The request id is filled in by the
/// request-id middleware, which sees every response.
#[derive(Debug, Clone)]
pub struct ApiError {
    pub status: StatusCode,
    pub name: &'static str,
    pub message: String,
    pub details: serde_json::Value,
    /// Seconds, for 429s.
    pub retry_after: Option<u64>,
}

impl std::fmt::Display for ApiError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "{} {}: {}",
            self.status.as_u16(),
            self.name,
            self.message
        )
    }
}

impl ApiError {
    pub fn new(status: StatusCode, name: &'static str, message: impl Into<String>) -> Self {
        Self {
            status,
            name,
            message: message.into(),
            details: json!({}),
            retry_after: None,
        }
    }

    pub fn with_details(mut self, details: serde_json::Value) -> Self {
        self.details = details;
        self
    }

    pub fn field(
        status: StatusCode,
        name: &'static str,
        field: &str,
        message: impl Into<String>,
    ) -> Self {
        Self::new(status, name, message).with_details(json!({ "field": field }))
    }

    pub fn validation(field: &str, reason: &str) -> Self {
        Self::field(
            StatusCode::BAD_REQUEST,
            "VALIDATION_ERROR",
            field,
            format!("{field}: {reason}"),
        )
        .with_details(json!({ "field": field, "reason": reason }))
    }

    pub fn unauthorized(message: impl Into<String>) -> Self {
        Self::new(StatusCode::UNAUTHORIZED, "UNAUTHORIZED", message)
    }

    pub fn not_found(message: impl Into<String>) -> Self {
        Self::new(StatusCode::NOT_FOUND, "NOT_FOUND", message)
    }

    pub fn internal() -> Self {
        Self::new(
            StatusCode::INTERNAL_SERVER_ERROR,
            "INTERNAL_ERROR",
            "something went wrong; the request id identifies it in the logs",
        )
    }

    pub fn body(&self, request_id: &str) -> ErrorBody {
        ErrorBody {
            id: request_id.to_owned(),
            status: self.status.as_u16(),
            name: Cow::Borrowed(self.name),
            message: self.message.clone(),
            details: self.details.clone(),
        }
    }

    /// Renders the envelope for a request whose id is known.
    pub fn respond(&self, req: &HttpRequest) -> HttpResponse {
        let id = RequestId::of(req);
        let mut res = HttpResponse::build(self.status).json(self.body(id.as_str()));
        self.decorate(&mut res);
        res
    }

    fn decorate(&self, res: &mut HttpResponse) {
        if let Some(secs) = self.retry_after {
            res.headers_mut()
                .insert(header::RETRY_AFTER, HeaderValue::from(secs));
        }
        if self.status == StatusCode::UNAUTHORIZED {
            res.headers_mut()
                .insert(header::WWW_AUTHENTICATE, HeaderValue::from_static("Bearer"));
        }
    }
}

impl ResponseError for ApiError {
    fn status_code(&self) -> StatusCode {
        self.status
    }

    /// The request id is not reachable here; the middleware rewrites the `id` field of every
    /// error envelope with the real one.
    fn error_response(&self) -> HttpResponse {
        let mut res = HttpResponse::build(self.status).json(self.body(""));
        self.decorate(&mut res);
        res
    }
}

impl From<ValidationError> for ApiError {
    fn from(e: ValidationError) -> Self {
        ApiError::validation(&e.field, &e.reason)
    }
}

/// The HTTP status of each failure, decided here and nowhere else.
fn status_of(e: &CoreError) -> StatusCode {
    use ErrorCode as C;
    use StatusCode as S;
    match e.code() {
        C::ValidationError
        | C::WrongAppKind
        | C::AppRequired
        | C::InvalidCode
        | C::CodeUsed
        | C::BindCodeInvalid
        | C::BindCodeExpired
        | C::BindCodeUsed
        | C::RedirectNotAllowed
        | C::InvalidState
        | C::DecryptFailed
        | C::WatermarkMismatch => S::BAD_REQUEST,
        C::Unauthorized | C::InvalidRefreshToken | C::RefreshTokenReused | C::InvalidSignature => {
            S::UNAUTHORIZED
        }
        C::AppDisabled
        | C::RegistrationClosed
        | C::UserBlocked
        | C::WechatRiskBlocked
        | C::SnapshotUser => S::FORBIDDEN,
        C::AppNotFound | C::NotFound => S::NOT_FOUND,
        C::Conflict
        | C::WechatAlreadyBound
        | C::IdentityAmbiguous
        | C::PhoneTaken
        | C::LastSignInMethod
        | C::NoWechatSession
        | C::QrLoginTaken
        | C::QrLoginFinished => S::CONFLICT,
        C::QrLoginConsumed | C::QrLoginExpired => S::GONE,
        C::RateLimited | C::WechatRateLimited => S::TOO_MANY_REQUESTS,
        C::WechatUnavailable if matches!(e, CoreError::Upstream(UpstreamError::Timeout)) => {
            S::GATEWAY_TIMEOUT
        }
        C::WechatError | C::WechatUnavailable => S::BAD_GATEWAY,
        C::DatabaseUnavailable | C::RateLimiterUnavailable => S::SERVICE_UNAVAILABLE,
        C::InternalError => S::INTERNAL_SERVER_ERROR,
    }
}

/// The whole chain of causes, for the log line of a failure the client only sees by its code.
fn chain(e: &dyn std::error::Error) -> String {
    let mut out = e.to_string();
    let mut source = e.source();
    while let Some(cause) = source {
        out.push_str(": ");
        out.push_str(&cause.to_string());
        source = cause.source();
    }
    out
}

impl From<CoreError> for ApiError {
    fn from(e: CoreError) -> Self {
        let status = status_of(&e);
        let name = e.code().as_str();
        if status.is_server_error() {
            tracing::error!(error = %chain(&e), code = name, "request failed");
        }
        let message = match &e {
            CoreError::Upstream(u) => upstream_message(u).to_owned(),
            CoreError::NoDefaultApp => {
                "name the app: this service has no default app for this request".to_owned()
            }
            CoreError::Storage(e) if e.is_transient() => {
                "the database is unavailable right now: retry in a few seconds".to_owned()
            }
            CoreError::Storage(_) | CoreError::Signing(_) => {
                "something went wrong; the request id identifies it in the logs".to_owned()
            }
            CoreError::BindCode(BindCodeProblem::Expired) => {
                "the bind code has expired: sign in again for a new one".to_owned()
            }
            CoreError::Validation(v) => format!("{}: {}", v.field, v.reason),
            other => other.to_string(),
        };
        let details = match &e {
            CoreError::Validation(v) => json!({ "field": v.field, "reason": v.reason }),
            CoreError::AppNotFound(app) => json!({ "field": "app", "value": app }),
            CoreError::WrongAppKind { .. }
            | CoreError::AppDisabled(_)
            | CoreError::NoDefaultApp => {
                json!({ "field": "app" })
            }
            CoreError::AppExists(key) => json!({ "field": "key", "value": key.as_str() }),
            CoreError::BindCode(_) => json!({ "field": "bindCode" }),
            CoreError::InvalidRefreshToken | CoreError::RefreshTokenReused => {
                json!({ "field": "refreshToken" })
            }
            CoreError::RedirectNotAllowed { field } => json!({ "field": field }),
            CoreError::InvalidState => json!({ "field": "state" }),
            CoreError::DecryptFailed | CoreError::WatermarkMismatch => {
                json!({ "field": "encryptedData" })
            }
            CoreError::Upstream(UpstreamError::InvalidCode | UpstreamError::CodeUsed) => {
                json!({ "field": "code" })
            }
            CoreError::Upstream(UpstreamError::Rejected { errcode, errmsg }) => {
                tracing::warn!(errcode, %errmsg, "WeChat refused a call");
                json!({ "errcode": errcode, "errmsg": errmsg })
            }
            CoreError::Upstream(UpstreamError::Unavailable(cause)) => {
                tracing::warn!(%cause, "WeChat unavailable");
                json!({})
            }
            CoreError::IdentityAmbiguous { app, choices } => json!({
                "app": app.as_str(),
                "choices": choices.iter().map(|id| id.0).collect::<Vec<_>>(),
            }),
            CoreError::RateLimited { retry_after_secs } => {
                json!({ "retryAfter": retry_after_secs })
            }
            _ => json!({}),
        };
        let mut api = ApiError::new(status, name, message).with_details(details);
        api.retry_after = match &e {
            CoreError::RateLimited { retry_after_secs } => Some(*retry_after_secs),
            CoreError::Upstream(UpstreamError::RateLimited) => Some(60),
            CoreError::Storage(e) if e.is_transient() => Some(1),
            CoreError::LimiterUnavailable => Some(1),
            _ => None,
        };
        api
    }
}

fn upstream_message(e: &UpstreamError) -> &'static str {
    match e {
        UpstreamError::InvalidCode => "the code is invalid or expired: get a new one from WeChat",
        UpstreamError::CodeUsed => {
            "the code was already used: codes are single-use, get a new one from WeChat"
        }
        UpstreamError::RateLimited => {
            "WeChat's rate limit for this user or app was reached: try again in a minute"
        }
        UpstreamError::RiskBlocked => "WeChat blocked this login as high-risk",
        UpstreamError::Rejected { .. } => "WeChat refused the call",
        UpstreamError::Unavailable(_) => "WeChat is unavailable: try again shortly",
        UpstreamError::Timeout => "WeChat did not answer in time: try again shortly",
    }
}

pub type ApiResult<T> = Result<T, ApiError>;

#[cfg(test)]
mod tests {
    use wxauth_core::{Cause, RepoError};

    use super::*;

    #[test]
    fn every_database_error_worth_retrying_is_a_503_with_retry_after() {
        let causes = [
            RepoError::Unavailable(Cause::msg("connection reset")),
            RepoError::TimedOut(Cause::msg("lock timeout")),
            RepoError::Contended(Cause::msg("deadlock detected")),
        ];
        for cause in causes {
            let api = ApiError::from(CoreError::Storage(cause));
            assert_eq!(api.status, StatusCode::SERVICE_UNAVAILABLE);
            assert_eq!(api.name, "DATABASE_UNAVAILABLE");
            assert_eq!(api.retry_after, Some(1));
        }
        let bug = ApiError::from(CoreError::Storage(RepoError::other("no such column")));
        assert_eq!(bug.status, StatusCode::INTERNAL_SERVER_ERROR);
        assert_eq!(bug.retry_after, None);
    }
}
