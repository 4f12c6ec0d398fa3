//! One module per feature; each declares its routes and its request and response types.

pub mod admin;
pub mod auth;
pub mod compat;
pub mod demo;
pub mod health;
pub mod me;
pub mod miniprogram;
pub mod oauth;
pub mod official;

use crate::error::ApiError;
use crate::state::HttpState;

/// Records a sign-in in the `wxauth_logins_total` metric. Failures are labelled with the app
/// only when it exists, so arbitrary client input cannot mint label values.
pub(crate) async fn observe_login(
    state: &HttpState,
    requested_app: Option<&str>,
    result: std::result::Result<&wxauth_core::LoginOutcome, &wxauth_core::CoreError>,
) {
    use wxauth_core::LoginOutcome;
    let (app, outcome, reason) = match result {
        Ok(LoginOutcome::SignedIn(s)) => (
            s.app.as_ref().map(|a| a.to_string()).unwrap_or_default(),
            "signed_in",
            if s.is_new_user {
                "registered".to_owned()
            } else {
                "returning".to_owned()
            },
        ),
        Ok(LoginOutcome::BindRequired { .. }) => (
            resolve_label(state, requested_app).await,
            "bind_required",
            String::new(),
        ),
        Err(e) => (
            resolve_label(state, requested_app).await,
            "failed",
            wxauth_core::audit::reason_of(e),
        ),
    };
    state.metrics.observe_login(&app, outcome, &reason);
}

async fn resolve_label(state: &HttpState, requested: Option<&str>) -> String {
    match requested {
        Some(key) => match state.wxauth.apps().get(key).await {
            Ok(app) => app.key.to_string(),
            Err(_) => "unknown".to_owned(),
        },
        None => "default".to_owned(),
    }
}

pub(crate) type Result<T> = std::result::Result<T, ApiError>;
