//! Official Account web OAuth2 and website login (same APIs): code exchange, refresh, profile,
//! token check. These user-level tokens are unrelated to the app's access token.

use std::time::Duration;

use secrecy::{ExposeSecret, SecretString};
use serde::Deserialize;
use wxauth_domain::{OpenId, UnionId};

use crate::api::{Ack, non_empty, token_text};
use crate::client::AppClient;
use crate::errcode;
use crate::error::WechatError;
use crate::lenient;
use crate::transport::Call;

/// A user's OAuth grant.
#[derive(Debug, Clone)]
pub struct OAuthToken {
    pub access_token: SecretString,
    /// Lives 30 days.
    pub refresh_token: SecretString,
    pub expires_in: Duration,
    pub openid: OpenId,
    /// The granted scopes as WeChat lists them (`snsapi_base`, `snsapi_userinfo`, ...).
    pub scope: String,
    pub unionid: Option<UnionId>,
    /// A virtual user browsing a Moments snapshot page (`is_snapshotuser: 1`): must not get an
    /// account. Only the code exchange says so; a refresh answer leaves it `false`.
    pub is_snapshot_user: bool,
}

#[derive(Deserialize)]
struct OAuthTokenAnswer {
    access_token: SecretString,
    refresh_token: SecretString,
    expires_in: u64,
    openid: OpenId,
    #[serde(default)]
    scope: String,
    #[serde(default, deserialize_with = "lenient::nonempty")]
    unionid: Option<UnionId>,
    #[serde(
        default,
        rename = "is_snapshotuser",
        deserialize_with = "lenient::flag"
    )]
    is_snapshot_user: bool,
}

impl From<OAuthTokenAnswer> for OAuthToken {
    fn from(a: OAuthTokenAnswer) -> Self {
        Self {
            access_token: a.access_token,
            refresh_token: a.refresh_token,
            expires_in: Duration::from_secs(a.expires_in),
            openid: a.openid,
            scope: a.scope,
            unionid: a.unionid,
            is_snapshot_user: a.is_snapshot_user,
        }
    }
}

/// The profile behind an `snsapi_userinfo` grant.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
pub struct OAuthUserInfo {
    pub openid: OpenId,
    #[serde(default)]
    pub nickname: String,
    /// 1 male, 2 female, 0 unknown; WeChat now mostly sends 0.
    #[serde(default)]
    pub sex: i64,
    #[serde(default)]
    pub province: String,
    #[serde(default)]
    pub city: String,
    #[serde(default)]
    pub country: String,
    /// Avatar URL; may be empty.
    #[serde(default)]
    pub headimgurl: String,
    #[serde(default)]
    pub privilege: Vec<String>,
    #[serde(default, deserialize_with = "lenient::nonempty")]
    pub unionid: Option<UnionId>,
}

impl AppClient {
    /// Exchanges the code WeChat appended to the redirect URI (single-use, 5 minutes).
    pub async fn oauth_exchange_code(&self, code: &str) -> Result<OAuthToken, WechatError> {
        let call = Call::get(
            "/sns/oauth2/access_token",
            vec![
                ("appid", self.credentials.appid.as_str()),
                ("secret", self.credentials.secret.expose_secret()),
                ("code", non_empty("code", code)?),
                ("grant_type", "authorization_code"),
            ],
        );
        self.call_json::<OAuthTokenAnswer>(&call)
            .await
            .map(OAuthToken::from)
    }

    /// Renews a user's OAuth access token with its refresh token.
    pub async fn oauth_refresh(
        &self,
        refresh_token: &SecretString,
    ) -> Result<OAuthToken, WechatError> {
        let call = Call::get(
            "/sns/oauth2/refresh_token",
            vec![
                ("appid", self.credentials.appid.as_str()),
                ("grant_type", "refresh_token"),
                (
                    "refresh_token",
                    non_empty("refresh_token", refresh_token.expose_secret())?,
                ),
            ],
        );
        self.call_json::<OAuthTokenAnswer>(&call)
            .await
            .map(OAuthToken::from)
    }

    /// The user's profile (`snsapi_userinfo` grants only).
    pub async fn oauth_user_info(
        &self,
        access_token: &SecretString,
        openid: &OpenId,
    ) -> Result<OAuthUserInfo, WechatError> {
        let call = Call::get(
            "/sns/userinfo",
            vec![
                ("access_token", token_text(access_token)?),
                ("openid", openid.as_str()),
                ("lang", "zh_CN"),
            ],
        );
        self.call_json(&call).await
    }

    /// Whether a user's OAuth access token is still valid for `openid`. An invalid or expired
    /// token (40001, 40014, 42001) or a foreign openid (40003) is `Ok(false)`; other failures
    /// are errors.
    pub async fn oauth_check(
        &self,
        access_token: &SecretString,
        openid: &OpenId,
    ) -> Result<bool, WechatError> {
        let call = Call::get(
            "/sns/auth",
            vec![
                ("access_token", token_text(access_token)?),
                ("openid", openid.as_str()),
            ],
        );
        match self.call_json::<Ack>(&call).await {
            Ok(Ack {}) => Ok(true),
            Err(e)
                if e.is_invalid_access_token() || e.errcode() == Some(errcode::INVALID_OPENID) =>
            {
                Ok(false)
            }
            Err(e) => Err(e),
        }
    }
}
