//! Fakes of WeChat and of the token signer, for tests of the use cases and of other crates.
#![allow(clippy::unwrap_used)]

use std::collections::HashMap;
use std::sync::Mutex;

use async_trait::async_trait;
use secrecy::{ExposeSecret, SecretString};
use wxauth_domain::{App, OpenId, PhoneNumber, UnionId};

use crate::error::UpstreamError;
use crate::ports::*;

/// A WeChat whose codes are set up by the test: `code → (openid, unionid)`.
#[derive(Default)]
pub struct FakeWechat {
    pub logins: Mutex<HashMap<String, (String, Option<String>)>>,
    pub phones: Mutex<HashMap<String, PhoneNumber>>,
    pub oauth: Mutex<HashMap<String, (String, bool)>>,
    pub calls: Mutex<u32>,
    /// The scenes of the Mini Program codes drawn, in order.
    pub codes_drawn: Mutex<Vec<String>>,
    /// Failures the next code draws answer with, first first.
    pub code_failures: Mutex<Vec<UpstreamError>>,
}

impl FakeWechat {
    pub fn login_code(&self, code: &str, openid: &str, unionid: Option<&str>) {
        self.logins
            .lock()
            .unwrap()
            .insert(code.into(), (openid.into(), unionid.map(Into::into)));
    }
    pub fn phone_code(&self, code: &str, phone: &str) {
        let p = PhoneNumber::try_from(phone.to_owned()).unwrap();
        self.phones.lock().unwrap().insert(code.into(), p);
    }
    pub fn oauth_code(&self, code: &str, openid: &str, snapshot: bool) {
        self.oauth
            .lock()
            .unwrap()
            .insert(code.into(), (openid.into(), snapshot));
    }
}

#[async_trait]
impl WechatApi for FakeWechat {
    async fn code_to_session(
        &self,
        _app: &App,
        code: &str,
    ) -> Result<MiniProgramSession, UpstreamError> {
        *self.calls.lock().unwrap() += 1;
        // Codes are single-use, as at WeChat.
        let (openid, unionid) = self
            .logins
            .lock()
            .unwrap()
            .remove(code)
            .ok_or(UpstreamError::InvalidCode)?;
        Ok(MiniProgramSession {
            openid: OpenId::parse(openid).unwrap(),
            unionid: unionid.map(|u| UnionId::parse(u).unwrap()),
            session_key: SecretString::from(format!("key-for-{code}")),
        })
    }
    async fn phone_number(
        &self,
        app: &App,
        code: &str,
        _openid: Option<&OpenId>,
    ) -> Result<VerifiedPhone, UpstreamError> {
        let phone = self
            .phones
            .lock()
            .unwrap()
            .remove(code)
            .ok_or(UpstreamError::InvalidCode)?;
        Ok(VerifiedPhone {
            phone_number: phone.national().to_owned(),
            phone,
            watermark_timestamp: 0,
            watermark_appid: app.appid.to_string(),
        })
    }
    fn authorize_url(
        &self,
        app: &App,
        redirect: &str,
        scope: OAuthScope,
        state: &str,
        _p: Option<bool>,
    ) -> Result<String, UpstreamError> {
        Ok(format!(
            "https://open.weixin.qq.com/connect/oauth2/authorize?appid={}&redirect_uri={redirect}&scope={}&state={state}",
            app.appid,
            scope.as_str()
        ))
    }
    async fn exchange_oauth_code(
        &self,
        _app: &App,
        code: &str,
    ) -> Result<OAuthGrant, UpstreamError> {
        let (openid, snapshot) = self
            .oauth
            .lock()
            .unwrap()
            .remove(code)
            .ok_or(UpstreamError::InvalidCode)?;
        Ok(OAuthGrant {
            openid: OpenId::parse(openid).unwrap(),
            unionid: None,
            scope: "snsapi_base".into(),
            is_snapshot_user: snapshot,
            access_token: SecretString::from("user-token"),
        })
    }
    async fn oauth_profile(
        &self,
        _app: &App,
        _g: &OAuthGrant,
    ) -> Result<OAuthProfile, UpstreamError> {
        Ok(OAuthProfile {
            nickname: Some("Web".into()),
            avatar_url: None,
            unionid: None,
        })
    }
    async fn create_qr_code(&self, _app: &App, spec: &QrCodeSpec) -> Result<QrCode, UpstreamError> {
        Ok(QrCode {
            ticket: format!("ticket-{:?}", spec.scene),
            url: "http://weixin.qq.com/q/x".into(),
            image_url: "https://mp.weixin.qq.com/cgi-bin/showqrcode?ticket=x".into(),
            expire_seconds: spec.expire_seconds,
        })
    }
    async fn follower_status(
        &self,
        _app: &App,
        _openid: &OpenId,
    ) -> Result<FollowerStatus, UpstreamError> {
        Ok(FollowerStatus {
            subscribed: true,
            subscribe_time: Some(1),
            unionid: None,
        })
    }
    async fn mini_program_code(&self, _app: &App, scene: &str) -> Result<CodeImage, UpstreamError> {
        let mut failures = self.code_failures.lock().unwrap();
        if !failures.is_empty() {
            return Err(failures.remove(0));
        }
        self.codes_drawn.lock().unwrap().push(scene.to_owned());
        Ok(CodeImage {
            media_type: "image/png".into(),
            bytes: format!("code:{scene}").into_bytes(),
        })
    }
}

/// Crypto that only the tests of sign-in need: events arrive pre-parsed in the body as
/// `openid|create_time|kind|scene`.
pub struct FakeCrypto;

impl WechatCrypto for FakeCrypto {
    fn decrypt_user_data(
        &self,
        _app: &App,
        key: &SecretString,
        data: &str,
        _iv: &str,
    ) -> Result<serde_json::Value, UserDataError> {
        Ok(serde_json::json!({ "key": key.expose_secret(), "data": data }))
    }
    fn verify_raw_signature(&self, key: &SecretString, raw: &str, signature: &str) -> bool {
        format!("{raw}{}", key.expose_secret()) == signature
    }
    fn verify_url(&self, _app: &App, sig: &PushSignature) -> Result<(), EventError> {
        if sig.signature == "good" {
            Ok(())
        } else {
            Err(EventError::BadSignature)
        }
    }
    fn open_event(
        &self,
        app: &App,
        sig: &PushSignature,
        body: &[u8],
    ) -> Result<InboundEvent, EventError> {
        self.verify_url(app, sig)?;
        let text = std::str::from_utf8(body).map_err(|_| EventError::Malformed("utf8".into()))?;
        let parts: Vec<&str> = text.split('|').collect();
        let kind = match parts.get(2).copied() {
            Some("subscribe") => InboundEventKind::Subscribe,
            Some("unsubscribe") => InboundEventKind::Unsubscribe,
            Some("SCAN") => InboundEventKind::Scan,
            other => InboundEventKind::Other(other.unwrap_or_default().into()),
        };
        let malformed = || EventError::Malformed("openid|create_time|kind|scene".into());
        Ok(InboundEvent {
            openid: OpenId::parse(*parts.first().ok_or_else(malformed)?)
                .map_err(|_| malformed())?,
            create_time: parts
                .get(1)
                .and_then(|t| t.parse().ok())
                .ok_or_else(malformed)?,
            msg_id: None,
            kind,
            event_key: parts.get(3).map(|s| s.to_string()),
            scene: parts.get(3).map(|s| s.to_string()),
            ticket: None,
        })
    }
}

/// Tokens are the claims as JSON: enough to test the use cases, nothing to sign.
pub struct FakeSigner;

impl AccessTokenSigner for FakeSigner {
    fn sign(&self, claims: &AccessClaims) -> Result<String, TokenError> {
        serde_json::to_string(claims).map_err(|e| TokenError::Signing(e.to_string()))
    }
    fn verify(&self, token: &str) -> Result<AccessClaims, TokenError> {
        serde_json::from_str(token).map_err(|_| TokenError::Invalid)
    }
    fn jwks(&self) -> Option<serde_json::Value> {
        None
    }
}

/// The provider's signer without cryptography: `<typ>.<claims as JSON>`. It checks the type
/// and the shape, not the expiry (the use cases' tests run on a manual clock).
pub struct FakeProviderSigner;

impl ProviderSigner for FakeProviderSigner {
    fn sign(
        &self,
        _algorithm: &str,
        typ: &'static str,
        claims: &serde_json::Value,
    ) -> Result<String, TokenError> {
        Ok(format!("{typ}.{claims}"))
    }
    fn verify(
        &self,
        typ: &'static str,
        token: &str,
        _verify_exp: bool,
    ) -> Result<serde_json::Value, TokenError> {
        let (t, claims) = token.split_once('.').ok_or(TokenError::Invalid)?;
        if t != typ {
            return Err(TokenError::Invalid);
        }
        serde_json::from_str(claims).map_err(|_| TokenError::Invalid)
    }
    fn access_token_algorithm(&self) -> &'static str {
        "RS256"
    }
    fn algorithms(&self) -> Vec<&'static str> {
        vec!["RS256"]
    }
    fn jwks(&self) -> Vec<serde_json::Value> {
        Vec::new()
    }
}
