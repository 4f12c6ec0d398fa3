//! The typed API calls, one module per WeChat API family. Each adds methods to
//! [`crate::AppClient`] and defines the types its answers are read into.

pub mod access_token;
pub mod follower;
pub mod oauth;
pub mod oauth_url;
pub mod phone;
pub mod qrcode;
pub mod session;
pub mod wxacode;

use secrecy::{ExposeSecret, SecretString};
use serde::Deserialize;

use crate::error::WechatError;

/// A success answer whose only content is `errcode: 0`; every other field is ignored.
#[derive(Deserialize)]
pub(crate) struct Ack {}

/// Codes and tokens arrive from callers; an empty one would only earn a confusing errcode.
pub(crate) fn non_empty<'a>(what: &'static str, value: &'a str) -> Result<&'a str, WechatError> {
    if value.is_empty() {
        return Err(WechatError::InvalidArgument(format!(
            "{what} must not be empty"
        )));
    }
    Ok(value)
}

/// The text of an access token, for a query parameter; refuses an empty one.
pub(crate) fn token_text(token: &SecretString) -> Result<&str, WechatError> {
    non_empty("access_token", token.expose_secret())
}
