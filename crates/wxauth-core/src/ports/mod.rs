//! The ports: what the use cases need from the outside world, as traits. Adapters live in other
//! crates (`wxauth-persistence` for the store, the server for WeChat and token signing); the
//! use cases' own tests use in-memory fakes.

pub mod clock;
pub mod store;
pub mod tokens;
pub mod wechat;

pub use clock::{Clock, ManualClock, SystemClock};
pub use store::*;
pub use tokens::{AccessClaims, AccessTokenSigner, TokenError};
pub use wechat::*;
