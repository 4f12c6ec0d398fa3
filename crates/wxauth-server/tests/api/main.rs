//! HTTP tests of the whole service against the WeChat simulator, on every database backend.
//! One test binary for the crate (see kanidm's DO_NOT_ADD_MORE_TESTS_HERE): add modules here.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod admin;
mod browser;
mod cli;
mod compat;
mod connections;
mod demo;
mod deployment;
mod errors;
mod health;
mod identities;
mod login;
mod me;
mod migrations;
mod miniprogram;
mod oauth;
mod official;
mod oidc;
mod oidc_browser;
mod oidc_rp;
mod openapi;
mod qr_logins;
mod rate_limits;
mod security;
mod sessions;
mod store_contract;
mod tokens;
