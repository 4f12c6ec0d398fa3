//! The simulator's integration tests: real HTTP against simulators on port 0.
//! One test binary for the crate; modules only (see the workspace's testing notes).

// clippy.toml allows unwrap/expect inside #[test] functions only; the helpers shared by the
// tests fail the same way assertions do, on purpose.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod binary;
mod control;
mod events;
mod faults;
mod helpers;
mod login;
mod oauth;
mod phone;
mod qrcode;
mod session;
mod tokens;
