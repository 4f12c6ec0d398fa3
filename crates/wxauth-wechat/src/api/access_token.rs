//! The app's access token: the stable API (use this) and the plain one.
//!
//! Most callers want [`crate::token::AccessTokenManager`], which caches and shares the token.

use std::time::Duration;

use secrecy::{ExposeSecret, SecretString};
use serde::{Deserialize, Serialize};

use crate::client::AppClient;
use crate::error::WechatError;
use crate::transport::Call;

/// An app access token and how long WeChat says it stays valid from now.
#[derive(Debug, Clone)]
pub struct AccessToken {
    pub token: SecretString,
    pub expires_in: Duration,
}

#[derive(Deserialize)]
struct TokenAnswer {
    access_token: SecretString,
    expires_in: u64,
}

impl From<TokenAnswer> for AccessToken {
    fn from(a: TokenAnswer) -> Self {
        Self {
            token: a.access_token,
            expires_in: Duration::from_secs(a.expires_in),
        }
    }
}

#[derive(Serialize)]
struct StableTokenBody<'a> {
    grant_type: &'static str,
    appid: &'a str,
    secret: &'a str,
    force_refresh: bool,
}

impl AppClient {
    /// `POST /cgi-bin/stable_token`. With `force_refresh: false` it returns the current token
    /// while it is valid and invalidates nothing, so many instances may call it. `true` issues a
    /// new token and kills the old one; WeChat allows it about 20 times a day, 30 s apart — use
    /// it only for a token known to be bad.
    pub async fn stable_access_token(
        &self,
        force_refresh: bool,
    ) -> Result<AccessToken, WechatError> {
        let body = StableTokenBody {
            grant_type: "client_credential",
            appid: self.credentials.appid.as_str(),
            secret: self.credentials.secret.expose_secret(),
            force_refresh,
        };
        let call = Call::post_json("/cgi-bin/stable_token", vec![], &body)?;
        self.call_json::<TokenAnswer>(&call)
            .await
            .map(AccessToken::from)
    }

    /// `GET /cgi-bin/token`. Every fetch issues a new token and the previous one dies within
    /// minutes, so instances fetching on their own invalidate each other. Prefer
    /// [`AppClient::stable_access_token`]; this exists for completeness.
    pub async fn plain_access_token(&self) -> Result<AccessToken, WechatError> {
        let call = Call::get(
            "/cgi-bin/token",
            vec![
                ("grant_type", "client_credential"),
                ("appid", self.credentials.appid.as_str()),
                ("secret", self.credentials.secret.expose_secret()),
            ],
        );
        self.call_json::<TokenAnswer>(&call)
            .await
            .map(AccessToken::from)
    }
}
