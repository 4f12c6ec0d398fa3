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
use wxauth_core::{BindCodeProblem, CoreError, RepoError, UpstreamError};

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

    pub fn rate_limited(retry_after: u64) -> Self {
        let mut e = Self::new(
            StatusCode::TOO_MANY_REQUESTS,
            "RATE_LIMITED",
            format!("too many requests: retry in {retry_after} s"),
        )
        .with_details(json!({ "retryAfter": retry_after }));
        e.retry_after = Some(retry_after);
        e
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

impl From<CoreError> for ApiError {
    fn from(e: CoreError) -> Self {
        use StatusCode as S;
        let msg = e.to_string();
        match e {
            CoreError::Validation(v) => ApiError::validation(&v.field, &v.reason),
            CoreError::AppNotFound(app) => {
                ApiError::field(S::NOT_FOUND, "APP_NOT_FOUND", "app", msg)
                    .with_details(json!({ "field": "app", "value": app }))
            }
            CoreError::WrongAppKind { .. } => {
                ApiError::field(S::BAD_REQUEST, "WRONG_APP_KIND", "app", msg)
            }
            CoreError::AppDisabled(_) => ApiError::field(S::FORBIDDEN, "APP_DISABLED", "app", msg),
            CoreError::NoDefaultApp => ApiError::field(
                S::BAD_REQUEST,
                "APP_REQUIRED",
                "app",
                "name the app: this service has no default app for this request",
            ),
            CoreError::Upstream(u) => upstream(u),
            CoreError::RegistrationClosed => {
                ApiError::new(S::FORBIDDEN, "REGISTRATION_CLOSED", msg)
            }
            CoreError::UserBlocked => ApiError::new(S::FORBIDDEN, "USER_BLOCKED", msg),
            CoreError::BindCode(p) => {
                let (name, message) = match p {
                    BindCodeProblem::Unknown => ("BIND_CODE_INVALID", "the bind code is unknown"),
                    BindCodeProblem::Expired => (
                        "BIND_CODE_EXPIRED",
                        "the bind code has expired: sign in again for a new one",
                    ),
                    BindCodeProblem::Used => ("BIND_CODE_USED", "the bind code was already used"),
                };
                ApiError::field(S::BAD_REQUEST, name, "bindCode", message)
            }
            CoreError::Unauthenticated(m) => ApiError::unauthorized(m),
            CoreError::InvalidRefreshToken => ApiError::field(
                S::UNAUTHORIZED,
                "INVALID_REFRESH_TOKEN",
                "refreshToken",
                msg,
            ),
            CoreError::RefreshTokenReused => {
                ApiError::field(S::UNAUTHORIZED, "REFRESH_TOKEN_REUSED", "refreshToken", msg)
            }
            CoreError::WechatAlreadyBound => {
                ApiError::new(S::CONFLICT, "WECHAT_ALREADY_BOUND", msg)
            }
            CoreError::AppAlreadyBound(_) => ApiError::new(S::CONFLICT, "APP_ALREADY_BOUND", msg),
            CoreError::PhoneTaken => ApiError::new(S::CONFLICT, "PHONE_TAKEN", msg),
            CoreError::LastSignInMethod => ApiError::new(S::CONFLICT, "LAST_SIGN_IN_METHOD", msg),
            CoreError::NotFound(_) => ApiError::not_found(msg),
            CoreError::RedirectNotAllowed { field } => {
                ApiError::field(S::BAD_REQUEST, "REDIRECT_NOT_ALLOWED", field, msg)
            }
            CoreError::InvalidState => {
                ApiError::field(S::BAD_REQUEST, "INVALID_STATE", "state", msg)
            }
            CoreError::SnapshotUser => ApiError::new(S::FORBIDDEN, "SNAPSHOT_USER", msg),
            CoreError::InvalidSignature => ApiError::new(S::UNAUTHORIZED, "INVALID_SIGNATURE", msg),
            CoreError::DecryptFailed => {
                ApiError::field(S::BAD_REQUEST, "DECRYPT_FAILED", "encryptedData", msg)
            }
            CoreError::WatermarkMismatch => {
                ApiError::field(S::BAD_REQUEST, "WATERMARK_MISMATCH", "encryptedData", msg)
            }
            CoreError::NoWechatSession(_) => ApiError::new(S::CONFLICT, "NO_WECHAT_SESSION", msg),
            CoreError::QrLoginConsumed => ApiError::new(S::GONE, "QR_LOGIN_CONSUMED", msg),
            CoreError::Storage(RepoError::Unavailable(cause)) => {
                tracing::error!(%cause, "database unavailable");
                ApiError::new(
                    S::SERVICE_UNAVAILABLE,
                    "SERVICE_UNAVAILABLE",
                    "the service is temporarily unavailable",
                )
            }
            CoreError::Storage(cause) => {
                tracing::error!(%cause, "storage error");
                ApiError::internal()
            }
            CoreError::Signing(cause) => {
                tracing::error!(%cause, "token signing failed");
                ApiError::internal()
            }
        }
    }
}

fn upstream(e: UpstreamError) -> ApiError {
    use StatusCode as S;
    match e {
        UpstreamError::InvalidCode => ApiError::field(
            S::BAD_REQUEST,
            "INVALID_CODE",
            "code",
            "the code is invalid or expired: get a new one from WeChat",
        ),
        UpstreamError::CodeUsed => ApiError::field(
            S::BAD_REQUEST,
            "CODE_USED",
            "code",
            "the code was already used: codes are single-use, get a new one from WeChat",
        ),
        UpstreamError::RateLimited => {
            let mut e = ApiError::new(
                S::TOO_MANY_REQUESTS,
                "WECHAT_RATE_LIMITED",
                "WeChat's rate limit for this user or app was reached: try again in a minute",
            );
            e.retry_after = Some(60);
            e
        }
        UpstreamError::RiskBlocked => ApiError::new(
            S::FORBIDDEN,
            "WECHAT_RISK_BLOCKED",
            "WeChat blocked this login as high-risk",
        ),
        UpstreamError::Rejected { errcode, errmsg } => {
            tracing::warn!(errcode, %errmsg, "WeChat refused a call");
            ApiError::new(
                S::BAD_GATEWAY,
                "WECHAT_ERROR",
                format!("WeChat refused the call (errcode {errcode})"),
            )
            .with_details(json!({ "errcode": errcode, "errmsg": errmsg }))
        }
        UpstreamError::Unavailable(cause) => {
            tracing::warn!(%cause, "WeChat unavailable");
            ApiError::new(
                S::BAD_GATEWAY,
                "WECHAT_UNAVAILABLE",
                "WeChat is unavailable: try again shortly",
            )
        }
        UpstreamError::Timeout => ApiError::new(
            S::GATEWAY_TIMEOUT,
            "WECHAT_UNAVAILABLE",
            "WeChat did not answer in time: try again shortly",
        ),
    }
}

pub type ApiResult<T> = Result<T, ApiError>;
