//! Official Account follower check.

use secrecy::SecretString;
use serde::Deserialize;
use wxauth_domain::{OpenId, UnionId};

use crate::api::token_text;
use crate::client::AppClient;
use crate::error::WechatError;
use crate::lenient;
use crate::transport::Call;

/// Whether a user follows the account, and how they came to.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
pub struct FollowerInfo {
    /// `subscribe: 1`. A non-follower's answer has only openid (and maybe unionid).
    #[serde(rename = "subscribe", deserialize_with = "lenient::flag")]
    pub subscribed: bool,
    pub openid: OpenId,
    /// Unix seconds of the (last) follow.
    #[serde(default)]
    pub subscribe_time: Option<i64>,
    #[serde(default, deserialize_with = "lenient::nonempty")]
    pub unionid: Option<UnionId>,
    /// How the user followed, e.g. `ADD_SCENE_QR_CODE`.
    #[serde(default, deserialize_with = "lenient::nonempty")]
    pub subscribe_scene: Option<String>,
    /// The numeric scene of the QR code followed through; WeChat's 0 means none.
    #[serde(default, deserialize_with = "lenient::nonzero")]
    pub qr_scene: Option<u64>,
    /// The string scene of the QR code followed through.
    #[serde(default, deserialize_with = "lenient::nonempty")]
    pub qr_scene_str: Option<String>,
}

impl AppClient {
    /// `GET /cgi-bin/user/info`: does this user follow the Official Account? (40003: openid
    /// invalid for this account.)
    pub async fn user_info(
        &self,
        access_token: &SecretString,
        openid: &OpenId,
    ) -> Result<FollowerInfo, WechatError> {
        let call = Call::get(
            "/cgi-bin/user/info",
            vec![
                ("access_token", token_text(access_token)?),
                ("openid", openid.as_str()),
                ("lang", "zh_CN"),
            ],
        );
        self.call_json(&call).await
    }
}
