//! What the use cases report for dashboards: how sign-ins end. The adapter (Prometheus in the
//! HTTP crate) decides how to count them.

use crate::error::ErrorCode;

/// How one sign-in attempt ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SignInOutcome {
    /// A known user signed in.
    Returning,
    /// A new account was created and signed in.
    Registered,
    /// The app registers by bind code and the WeChat user is unknown.
    BindRequired,
    Failed(ErrorCode),
}

pub trait Telemetry: Send + Sync {
    /// `app` is the key of the app the attempt was for, or `unknown` when it did not resolve.
    fn sign_in(&self, app: &str, outcome: SignInOutcome);

    /// One step of a Mini Program scan-login (`step` is its audit kind), failed with `error`
    /// or not.
    fn qr_login(&self, app: &str, step: &'static str, error: Option<ErrorCode>) {
        let _ = (app, step, error);
    }
}

/// Reports nothing.
#[derive(Debug, Clone, Copy, Default)]
pub struct NoTelemetry;

impl Telemetry for NoTelemetry {
    fn sign_in(&self, _app: &str, _outcome: SignInOutcome) {}
}
