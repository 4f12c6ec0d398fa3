//! The outcomes of the use cases that a caller can act on, and the one vocabulary they are
//! known by.
//!
//! Every failure has one stable [`ErrorCode`]. The same code is the `name` of the HTTP error
//! envelope, the `reason` of a failed audit entry and the `reason` label of the metrics, so a
//! client's error, an admin's audit search and a dashboard speak of one thing by one name.
//! `wxauth-http` maps each code to a status exactly once. Causes (a database driver's error, a
//! transport error) are kept as typed sources for the logs, never flattened into the code.

use std::fmt;
use std::sync::Arc;

use wxauth_domain::{AppKey, IdentityId, ValidationError};

/// The underlying error of a failure, kept for the logs. Cloneable so that one failure can be
/// reported to several waiters (a group commit answers every job it carried).
#[derive(Clone)]
pub struct Cause(Arc<dyn std::error::Error + Send + Sync>);

impl Cause {
    pub fn new(e: impl std::error::Error + Send + Sync + 'static) -> Self {
        Self(Arc::new(e))
    }

    /// A cause that exists only as a message (an invariant the data broke, say).
    pub fn msg(message: impl Into<String>) -> Self {
        #[derive(Debug)]
        struct Message(String);
        impl fmt::Display for Message {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str(&self.0)
            }
        }
        impl std::error::Error for Message {}
        Self(Arc::new(Message(message.into())))
    }
}

impl fmt::Display for Cause {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        self.0.fmt(f)
    }
}

impl fmt::Debug for Cause {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Debug::fmt(&self.0, f)
    }
}

impl std::error::Error for Cause {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        self.0.source()
    }
}

/// A storage failure, defined next to the ports so that nothing above the persistence adapter
/// ever sees a database driver's error type.
#[derive(Debug, Clone, thiserror::Error)]
pub enum RepoError {
    /// A unique key refused the write (a concurrent first login, a phone number already taken).
    #[error("conflict on {0}")]
    Conflict(&'static str),
    /// The database is unreachable or refused the connection: worth retrying later, and on a
    /// fresh connection at once.
    #[error("database unavailable")]
    Unavailable(#[source] Cause),
    /// The statement or lock timeout fired, or no connection came free in time: the database
    /// is stalled or overloaded. Worth retrying later, not at once.
    #[error("the database did not answer in time")]
    TimedOut(#[source] Cause),
    /// The database aborted the whole transaction to break a deadlock or a serialization
    /// conflict with another one: nothing of it was written, and running it again at once is
    /// likely to succeed.
    #[error("the database aborted the transaction to resolve a conflict with another one")]
    Contended(#[source] Cause),
    /// Anything else: a bug or a broken schema.
    #[error("database error")]
    Other(#[source] Cause),
}

impl RepoError {
    pub fn other(message: impl Into<String>) -> Self {
        Self::Other(Cause::msg(message))
    }

    pub fn unavailable(message: impl Into<String>) -> Self {
        Self::Unavailable(Cause::msg(message))
    }

    /// Unreachable or stalled: a 503 for the client, not a bug.
    pub fn is_unavailable(&self) -> bool {
        matches!(self, Self::Unavailable(_) | Self::TimedOut(_))
    }

    /// Worth the client's retrying later (a 503): unavailable, stalled, or a transaction that
    /// lost to others more often than the use case retries it.
    pub fn is_transient(&self) -> bool {
        self.is_unavailable() || matches!(self, Self::Contended(_))
    }
}

/// How a call to WeChat failed, in terms the use cases care about.
#[derive(Debug, Clone, thiserror::Error)]
pub enum UpstreamError {
    /// 40029: the code is unknown, expired or was made for another app.
    #[error("the code is invalid or expired")]
    InvalidCode,
    /// 40163: the code was already exchanged (often a client retrying after a network error).
    #[error("the code was already used")]
    CodeUsed,
    /// 45011 / 45009: WeChat's frequency limit or daily quota.
    #[error("WeChat rate limit reached")]
    RateLimited,
    /// 40226: WeChat flags the user as high-risk and blocks the login.
    #[error("WeChat blocked this user as high-risk")]
    RiskBlocked,
    /// WeChat answered with an error the use case cannot recover from (a misconfigured secret,
    /// an API the account may not use, ...).
    #[error("WeChat refused the call: errcode {errcode}: {errmsg}")]
    Rejected { errcode: i64, errmsg: String },
    /// Busy after the retry, a transport error or an unreadable answer.
    #[error("WeChat is unavailable")]
    Unavailable(#[source] Cause),
    /// WeChat did not answer in time.
    #[error("WeChat did not answer in time")]
    Timeout,
}

/// Why a bind code was refused.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum BindCodeProblem {
    Unknown,
    Expired,
    Used,
}

#[derive(Debug, thiserror::Error)]
pub enum CoreError {
    #[error(transparent)]
    Validation(#[from] ValidationError),
    #[error("unknown app {0:?}")]
    AppNotFound(String),
    #[error("app {app:?} is a {actual} app; this needs a {expected} app")]
    WrongAppKind {
        app: String,
        expected: &'static str,
        actual: &'static str,
    },
    #[error("app {0:?} is disabled")]
    AppDisabled(String),
    #[error("app {0} exists: replace it with PUT /api/v1/admin/apps/{0}")]
    AppExists(AppKey),
    #[error("no app given and no default app configured")]
    NoDefaultApp,

    #[error(transparent)]
    Upstream(#[from] UpstreamError),

    #[error("registration is closed for this app")]
    RegistrationClosed,
    #[error("this user is blocked")]
    UserBlocked,
    #[error("the bind code is {}", match .0 {
        BindCodeProblem::Unknown => "unknown",
        BindCodeProblem::Expired => "expired",
        BindCodeProblem::Used => "already used",
    })]
    BindCode(BindCodeProblem),

    #[error("authentication required: {0}")]
    Unauthenticated(&'static str),
    #[error("the refresh token is invalid, expired or revoked")]
    InvalidRefreshToken,
    #[error("the refresh token was already used; its session is revoked")]
    RefreshTokenReused,
    #[error("too many requests: retry in {retry_after_secs} s")]
    RateLimited { retry_after_secs: u64 },
    #[error("the rate limiter is unavailable")]
    LimiterUnavailable,

    #[error("this WeChat account is already bound to another user")]
    WechatAlreadyBound,
    #[error("the account has several WeChat identities in app {app}: name one by its id")]
    IdentityAmbiguous {
        app: AppKey,
        choices: Vec<IdentityId>,
    },
    #[error("this phone number belongs to another user")]
    PhoneTaken,
    #[error("removing it would leave the account with no way to sign in")]
    LastSignInMethod,
    #[error("{0} not found")]
    NotFound(&'static str),

    #[error("{field} is not in the app's redirect allow-list")]
    RedirectNotAllowed { field: &'static str },
    #[error("the state is unknown, used or expired")]
    InvalidState,
    #[error("snapshot (virtual) users cannot sign in")]
    SnapshotUser,
    #[error("the event signature is invalid")]
    InvalidSignature,
    #[error("the data cannot be decrypted with this session")]
    DecryptFailed,
    #[error("the data was encrypted for another app")]
    WatermarkMismatch,
    #[error("there is no WeChat session for this user in app {0:?}: log in again")]
    NoWechatSession(String),
    #[error("the QR login was already completed")]
    QrLoginConsumed,
    #[error("another WeChat user scanned this code first")]
    QrLoginTaken,
    #[error("the QR login was already confirmed or cancelled")]
    QrLoginFinished,
    #[error("the QR login expired: show a new code")]
    QrLoginExpired,

    #[error("storage")]
    Storage(#[from] RepoError),
    #[error("token signing")]
    Signing(#[source] crate::ports::TokenError),
}

impl CoreError {
    pub fn validation(field: &'static str, reason: &'static str) -> Self {
        Self::Validation(ValidationError::new(field, reason))
    }

    /// The failure's one stable name.
    pub fn code(&self) -> ErrorCode {
        use ErrorCode as C;
        match self {
            Self::Validation(_) => C::ValidationError,
            Self::AppNotFound(_) => C::AppNotFound,
            Self::WrongAppKind { .. } => C::WrongAppKind,
            Self::AppDisabled(_) => C::AppDisabled,
            Self::AppExists(_) => C::Conflict,
            Self::NoDefaultApp => C::AppRequired,
            Self::Upstream(u) => match u {
                UpstreamError::InvalidCode => C::InvalidCode,
                UpstreamError::CodeUsed => C::CodeUsed,
                UpstreamError::RateLimited => C::WechatRateLimited,
                UpstreamError::RiskBlocked => C::WechatRiskBlocked,
                UpstreamError::Rejected { .. } => C::WechatError,
                // The HTTP layer tells the two apart by status (502 / 504).
                UpstreamError::Unavailable(_) | UpstreamError::Timeout => C::WechatUnavailable,
            },
            Self::RegistrationClosed => C::RegistrationClosed,
            Self::UserBlocked => C::UserBlocked,
            Self::BindCode(BindCodeProblem::Unknown) => C::BindCodeInvalid,
            Self::BindCode(BindCodeProblem::Expired) => C::BindCodeExpired,
            Self::BindCode(BindCodeProblem::Used) => C::BindCodeUsed,
            Self::Unauthenticated(_) => C::Unauthorized,
            Self::InvalidRefreshToken => C::InvalidRefreshToken,
            Self::RefreshTokenReused => C::RefreshTokenReused,
            Self::RateLimited { .. } => C::RateLimited,
            Self::LimiterUnavailable => C::RateLimiterUnavailable,
            Self::WechatAlreadyBound => C::WechatAlreadyBound,
            Self::IdentityAmbiguous { .. } => C::IdentityAmbiguous,
            Self::PhoneTaken => C::PhoneTaken,
            Self::LastSignInMethod => C::LastSignInMethod,
            Self::NotFound(_) => C::NotFound,
            Self::RedirectNotAllowed { .. } => C::RedirectNotAllowed,
            Self::InvalidState => C::InvalidState,
            Self::SnapshotUser => C::SnapshotUser,
            Self::InvalidSignature => C::InvalidSignature,
            Self::DecryptFailed => C::DecryptFailed,
            Self::WatermarkMismatch => C::WatermarkMismatch,
            Self::NoWechatSession(_) => C::NoWechatSession,
            Self::QrLoginConsumed => C::QrLoginConsumed,
            Self::QrLoginTaken => C::QrLoginTaken,
            Self::QrLoginFinished => C::QrLoginFinished,
            Self::QrLoginExpired => C::QrLoginExpired,
            Self::Storage(e) if e.is_transient() => C::DatabaseUnavailable,
            Self::Storage(_) | Self::Signing(_) => C::InternalError,
        }
    }
}

macro_rules! error_codes {
    ($($(#[$doc:meta])* $variant:ident = $name:literal,)*) => {
        /// Every failure the use cases report, by its stable name.
        #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
        pub enum ErrorCode {
            $($(#[$doc])* $variant,)*
        }

        impl ErrorCode {
            pub const ALL: &'static [ErrorCode] = &[$(ErrorCode::$variant,)*];

            /// `SCREAMING_SNAKE_CASE`, as clients, the audit log and the metrics see it.
            pub const fn as_str(self) -> &'static str {
                match self {
                    $(ErrorCode::$variant => $name,)*
                }
            }
        }
    };
}

error_codes! {
    ValidationError = "VALIDATION_ERROR",
    AppNotFound = "APP_NOT_FOUND",
    WrongAppKind = "WRONG_APP_KIND",
    AppDisabled = "APP_DISABLED",
    AppRequired = "APP_REQUIRED",
    /// The thing to create exists already.
    Conflict = "CONFLICT",
    InvalidCode = "INVALID_CODE",
    CodeUsed = "CODE_USED",
    WechatRateLimited = "WECHAT_RATE_LIMITED",
    WechatRiskBlocked = "WECHAT_RISK_BLOCKED",
    WechatError = "WECHAT_ERROR",
    WechatUnavailable = "WECHAT_UNAVAILABLE",
    RegistrationClosed = "REGISTRATION_CLOSED",
    UserBlocked = "USER_BLOCKED",
    BindCodeInvalid = "BIND_CODE_INVALID",
    BindCodeExpired = "BIND_CODE_EXPIRED",
    BindCodeUsed = "BIND_CODE_USED",
    Unauthorized = "UNAUTHORIZED",
    InvalidRefreshToken = "INVALID_REFRESH_TOKEN",
    RefreshTokenReused = "REFRESH_TOKEN_REUSED",
    RateLimited = "RATE_LIMITED",
    /// The shared rate limiter (Redis) is unreachable and the service fails closed.
    RateLimiterUnavailable = "RATE_LIMITER_UNAVAILABLE",
    WechatAlreadyBound = "WECHAT_ALREADY_BOUND",
    IdentityAmbiguous = "IDENTITY_AMBIGUOUS",
    PhoneTaken = "PHONE_TAKEN",
    LastSignInMethod = "LAST_SIGN_IN_METHOD",
    NotFound = "NOT_FOUND",
    RedirectNotAllowed = "REDIRECT_NOT_ALLOWED",
    InvalidState = "INVALID_STATE",
    SnapshotUser = "SNAPSHOT_USER",
    InvalidSignature = "INVALID_SIGNATURE",
    DecryptFailed = "DECRYPT_FAILED",
    WatermarkMismatch = "WATERMARK_MISMATCH",
    NoWechatSession = "NO_WECHAT_SESSION",
    QrLoginConsumed = "QR_LOGIN_CONSUMED",
    QrLoginTaken = "QR_LOGIN_TAKEN",
    QrLoginFinished = "QR_LOGIN_FINISHED",
    QrLoginExpired = "QR_LOGIN_EXPIRED",
    /// The database is unreachable, stalled or failing over: retry shortly.
    DatabaseUnavailable = "DATABASE_UNAVAILABLE",
    InternalError = "INTERNAL_ERROR",
}

impl fmt::Display for ErrorCode {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

pub type CoreResult<T> = Result<T, CoreError>;

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn codes_are_unique_screaming_snake_case_names() {
        let mut seen = std::collections::HashSet::new();
        for code in ErrorCode::ALL {
            let name = code.as_str();
            assert!(seen.insert(name), "{name} twice");
            assert!(
                name.bytes().all(|b| b.is_ascii_uppercase() || b == b'_'),
                "{name}"
            );
        }
    }

    #[test]
    fn causes_stay_typed_sources_behind_the_code() {
        let io = std::io::Error::new(std::io::ErrorKind::ConnectionReset, "reset by peer");
        let e = CoreError::Storage(RepoError::Unavailable(Cause::new(io)));
        assert_eq!(e.code(), ErrorCode::DatabaseUnavailable);
        let chain: Vec<String> =
            std::iter::successors(Some(&e as &(dyn std::error::Error + 'static)), |e| {
                e.source()
            })
            .map(|e| e.to_string())
            .collect();
        assert_eq!(chain, ["storage", "database unavailable", "reset by peer"]);
    }
}
