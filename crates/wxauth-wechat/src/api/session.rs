//! Mini Program login (`jscode2session`) and the session-key checks.

use secrecy::{ExposeSecret, SecretString};
use serde::Deserialize;
use wxauth_domain::{OpenId, UnionId};

use crate::api::{Ack, non_empty, token_text};
use crate::client::AppClient;
use crate::crypto::check_session_signature;
use crate::errcode;
use crate::error::WechatError;
use crate::lenient;
use crate::transport::Call;

/// A successful `wx.login` exchange. The session key must never reach the client.
#[derive(Debug, Clone, Deserialize)]
pub struct Code2Session {
    pub openid: OpenId,
    /// Present only when the app is bound to an open-platform account and the user qualifies.
    #[serde(default, deserialize_with = "lenient::nonempty")]
    pub unionid: Option<UnionId>,
    /// Base64 of 16 bytes; a new one per login.
    pub session_key: SecretString,
}

/// `resetusersessionkey`'s answer.
#[derive(Deserialize)]
struct ResetAnswer {
    session_key: SecretString,
}

const SIG_METHOD: &str = "hmac_sha256";

impl AppClient {
    /// Exchanges a `wx.login` code (single-use, 5 minutes) for the user's openid and session key.
    ///
    /// Errcodes worth telling apart: 40029 invalid code, 40163 code already used (a client
    /// retrying after a network error), 45011 frequency limit, 40226 high-risk user.
    pub async fn code_to_session(&self, js_code: &str) -> Result<Code2Session, WechatError> {
        let js_code = non_empty("js_code", js_code)?;
        let call = Call::get(
            "/sns/jscode2session",
            vec![
                ("appid", self.credentials.appid.as_str()),
                ("secret", self.credentials.secret.expose_secret()),
                ("js_code", js_code),
                ("grant_type", "authorization_code"),
            ],
        );
        self.call_json(&call).await
    }

    /// Whether WeChat still considers `session_key` the user's current one. 87009 (signature
    /// invalid or key expired) is `Ok(false)`.
    pub async fn check_session(
        &self,
        access_token: &SecretString,
        openid: &OpenId,
        session_key: &SecretString,
    ) -> Result<bool, WechatError> {
        let signature = check_session_signature(session_key);
        let call = Call::get(
            "/wxa/checksession",
            vec![
                ("access_token", token_text(access_token)?),
                ("signature", &signature),
                ("openid", openid.as_str()),
                ("sig_method", SIG_METHOD),
            ],
        );
        match self.call_json::<Ack>(&call).await {
            Ok(Ack {}) => Ok(true),
            Err(e) if e.errcode() == Some(errcode::SESSION_SIGNATURE_INVALID) => Ok(false),
            Err(e) => Err(e),
        }
    }

    /// Asks WeChat for a new session key for the user, proving the current one; returns the new
    /// key.
    pub async fn reset_session_key(
        &self,
        access_token: &SecretString,
        openid: &OpenId,
        session_key: &SecretString,
    ) -> Result<SecretString, WechatError> {
        let signature = check_session_signature(session_key);
        let call = Call::get(
            "/wxa/resetusersessionkey",
            vec![
                ("access_token", token_text(access_token)?),
                ("openid", openid.as_str()),
                ("signature", &signature),
                ("sig_method", SIG_METHOD),
            ],
        );
        let answer: ResetAnswer = self.call_json(&call).await?;
        Ok(answer.session_key)
    }
}
