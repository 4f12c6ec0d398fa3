//! Errors of the control surface (in-process [`crate::SimState`] methods and `/__sim/` routes).
//!
//! WeChat API errors are a different thing: they are answers the simulator gives on purpose and
//! live in `wx_error`.

/// Why a control operation was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum SimError {
    /// The request itself is wrong (bad field, bad combination, wrong app kind). HTTP 400.
    #[error("{0}")]
    Invalid(String),
    /// The app, user or ticket does not exist. HTTP 404.
    #[error("{0}")]
    NotFound(String),
    /// The thing exists already (e.g. an openid taken). HTTP 409.
    #[error("{0}")]
    Conflict(String),
}

impl SimError {
    pub(crate) fn invalid(message: impl Into<String>) -> Self {
        Self::Invalid(message.into())
    }

    pub(crate) fn unknown_app(appid: &str) -> Self {
        Self::NotFound(format!("unknown appid {appid}"))
    }

    pub(crate) fn unknown_user(appid: &str, openid: &str) -> Self {
        Self::NotFound(format!("no user {openid} in app {appid}"))
    }

    /// The HTTP status the control API answers with.
    pub fn http_status(&self) -> u16 {
        match self {
            Self::Invalid(_) => 400,
            Self::NotFound(_) => 404,
            Self::Conflict(_) => 409,
        }
    }
}
