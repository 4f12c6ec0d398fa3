//! The outcomes of the use cases that a caller can act on. `wxauth-http` maps each to a status
//! and a stable machine name exactly once.

use wxauth_domain::ValidationError;

/// A storage failure, defined next to the ports so that nothing above the persistence adapter
/// ever sees a database driver's error type.
#[derive(Debug, thiserror::Error)]
pub enum RepoError {
    /// A unique key refused the write (a concurrent first login, a phone number already taken).
    #[error("conflict on {0}")]
    Conflict(&'static str),
    /// The database is unreachable or timed out: worth retrying later.
    #[error("database unavailable: {0}")]
    Unavailable(String),
    /// Anything else: a bug or a broken schema. The message is for logs only.
    #[error("database error: {0}")]
    Other(String),
}

/// How a call to WeChat failed, in terms the use cases care about.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
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
    #[error("WeChat is unavailable: {0}")]
    Unavailable(String),
    /// WeChat did not answer in time.
    #[error("WeChat did not answer in time")]
    Timeout,
}

/// Why a bind code was refused. One public error, but the audit log keeps the reason.
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
    #[error("no app given and no default app configured")]
    NoDefaultApp,

    #[error(transparent)]
    Upstream(#[from] UpstreamError),

    #[error("registration is closed for this app")]
    RegistrationClosed,
    #[error("this user is blocked")]
    UserBlocked,
    #[error("the bind code is {0:?}")]
    BindCode(BindCodeProblem),

    #[error("authentication required: {0}")]
    Unauthenticated(&'static str),
    #[error("the refresh token is invalid, expired or revoked")]
    InvalidRefreshToken,
    #[error("the refresh token was already used; its session is revoked")]
    RefreshTokenReused,

    #[error("this WeChat account is already bound to another user")]
    WechatAlreadyBound,
    #[error("this user already has a WeChat identity for app {0:?}")]
    AppAlreadyBound(String),
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

    #[error("storage: {0}")]
    Storage(#[from] RepoError),
    #[error("token signing: {0}")]
    Signing(String),
}

impl CoreError {
    pub fn validation(field: &'static str, reason: &'static str) -> Self {
        Self::Validation(ValidationError::new(field, reason))
    }
}

pub type CoreResult<T> = Result<T, CoreError>;
