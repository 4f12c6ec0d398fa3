//! The ports: what the use cases need from the outside world, as traits. Adapters live in other
//! crates (`wxauth-persistence` for the store, the server for WeChat, `wxauth-tokens` for token
//! signing, `wxauth-http` for limits and metrics); the use cases' own tests use in-memory fakes.

pub mod clock;
pub mod limits;
pub mod oidc_store;
pub mod store;
pub mod telemetry;
pub mod tokens;
pub mod wechat;

pub use clock::{Clock, ManualClock, SystemClock};
pub use limits::{LimitClass, LimitKey, RateLimiter, Refused, Unlimited};
pub use oidc_store::*;
pub use store::*;
pub use telemetry::{NoTelemetry, SignInOutcome, Telemetry};
pub use tokens::{AccessClaims, AccessTokenSigner, ProviderSigner, TokenError};
pub use wechat::*;
