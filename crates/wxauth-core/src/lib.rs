//! wxauth's use cases: turning WeChat codes into accounts and sessions, and everything around
//! them (bind codes, profiles, phone numbers, web OAuth, scan-to-login, administration).
//!
//! The use cases talk to the world only through the [`ports`]: a transactional store, WeChat's
//! APIs and local cryptography, an access-token signer and a clock. This crate never depends on
//! sea-orm, reqwest or actix-web; a CI check (`cargo tree -i`) keeps it that way.

pub mod account;
pub mod admin;
pub mod apps;
pub mod audit;
pub mod error;
pub mod miniprogram;
pub mod mp_qr_login;
pub mod oauth;
pub mod official;
pub mod oidc;
pub mod ports;
pub mod secrets;
pub mod service;
pub mod sessions;
mod signin;
mod watch;

#[cfg(any(test, feature = "testing"))]
pub mod testing;
#[cfg(test)]
mod tests;

pub use apps::{AppDraft, AppSource, AppSpec, QrLoginSpec};
pub use error::{
    BindCodeProblem, Cause, CoreError, CoreResult, ErrorCode, RepoError, UpstreamError,
};
pub use service::{Ports, RequestContext, Settings, Wxauth};
pub use sessions::{LoginOutcome, RefreshToken, SignedIn, TokenPair};
pub use watch::LoginChanged;
