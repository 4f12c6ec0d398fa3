//! The crate's one integration-test binary (one binary links once: it matters on 2 cores).
//! Each module covers one API family against wiremock; `helpers` holds the shared setup.

// clippy.toml allows unwrap in `#[test]` functions only; the helpers here are test code too.
#![allow(clippy::unwrap_used)]

mod access_token;
mod code2session;
mod failure_modes;
mod follower;
mod helpers;
mod oauth;
mod phone;
mod qrcode;
mod session_key;
mod token_manager;
mod wxacode;
