//! What the use cases need from WeChat. The adapter over `wxauth-wechat` lives in the server;
//! it owns access-token caching, retries and the protocol details.

use async_trait::async_trait;
use secrecy::SecretString;
use wxauth_domain::{App, OpenId, PhoneNumber, UnionId};

use crate::error::UpstreamError;

/// The result of `jscode2session`. The session key never leaves the server.
#[derive(Debug, Clone)]
pub struct MiniProgramSession {
    pub openid: OpenId,
    pub unionid: Option<UnionId>,
    pub session_key: SecretString,
}

/// A phone number WeChat verified, with the raw answer fields the compatibility routes echo.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct VerifiedPhone {
    pub phone: PhoneNumber,
    /// WeChat's `phoneNumber` (with `+cc` for numbers outside mainland China).
    pub phone_number: String,
    pub watermark_timestamp: i64,
    pub watermark_appid: String,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum OAuthScope {
    /// Silent: openid only.
    Base,
    /// Consent: openid, nickname and avatar.
    UserInfo,
    /// Website apps' QR login.
    Login,
}

impl OAuthScope {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Base => "snsapi_base",
            Self::UserInfo => "snsapi_userinfo",
            Self::Login => "snsapi_login",
        }
    }

    pub fn parse(s: &str) -> Option<Self> {
        match s {
            "snsapi_base" => Some(Self::Base),
            "snsapi_userinfo" => Some(Self::UserInfo),
            "snsapi_login" => Some(Self::Login),
            _ => None,
        }
    }

    /// Scopes whose user token may call `/sns/userinfo`.
    pub fn grants_profile(self) -> bool {
        matches!(self, Self::UserInfo | Self::Login)
    }
}

/// The web OAuth2 code exchange result, with the user-level token kept opaque.
#[derive(Debug, Clone)]
pub struct OAuthGrant {
    pub openid: OpenId,
    pub unionid: Option<UnionId>,
    pub scope: String,
    pub is_snapshot_user: bool,
    pub access_token: SecretString,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OAuthProfile {
    pub nickname: Option<String>,
    pub avatar_url: Option<String>,
    pub unionid: Option<UnionId>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum QrScene {
    Id(u32),
    Str(String),
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct QrCodeSpec {
    pub scene: QrScene,
    /// `None` for a permanent code.
    pub expire_seconds: Option<u32>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct QrCode {
    pub ticket: String,
    /// The content encoded in the QR image.
    pub url: String,
    pub image_url: String,
    pub expire_seconds: Option<u32>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FollowerStatus {
    pub subscribed: bool,
    pub subscribe_time: Option<i64>,
    pub unionid: Option<UnionId>,
}

/// WeChat's server APIs, per app.
#[async_trait]
pub trait WechatApi: Send + Sync {
    async fn code_to_session(
        &self,
        app: &App,
        code: &str,
    ) -> Result<MiniProgramSession, UpstreamError>;

    async fn phone_number(
        &self,
        app: &App,
        code: &str,
        openid: Option<&OpenId>,
    ) -> Result<VerifiedPhone, UpstreamError>;

    fn authorize_url(
        &self,
        app: &App,
        redirect_uri: &str,
        scope: OAuthScope,
        state: &str,
        force_popup: Option<bool>,
    ) -> Result<String, UpstreamError>;

    async fn exchange_oauth_code(&self, app: &App, code: &str)
    -> Result<OAuthGrant, UpstreamError>;

    async fn oauth_profile(
        &self,
        app: &App,
        grant: &OAuthGrant,
    ) -> Result<OAuthProfile, UpstreamError>;

    async fn create_qr_code(&self, app: &App, spec: &QrCodeSpec) -> Result<QrCode, UpstreamError>;

    async fn follower_status(
        &self,
        app: &App,
        openid: &OpenId,
    ) -> Result<FollowerStatus, UpstreamError>;

    /// Draws the Mini Program code of a web scan-login carrying `scene`, with the page, build
    /// and path check of the app's settings (`getwxacodeunlimit`).
    async fn mini_program_code(
        &self,
        app: &App,
        scene: &str,
    ) -> Result<crate::ports::CodeImage, UpstreamError>;
}

/// A pushed event, verified and decrypted, in the fields wxauth uses.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct InboundEvent {
    /// `FromUserName`: the user's openid in the Official Account.
    pub openid: OpenId,
    /// `CreateTime`, seconds since the epoch.
    pub create_time: i64,
    /// `MsgId`, which messages carry and events do not.
    pub msg_id: Option<i64>,
    pub kind: InboundEventKind,
    /// `EventKey` as sent (`qrscene_…` for a subscribe through a QR code).
    pub event_key: Option<String>,
    /// The QR scene for `subscribe` (without its `qrscene_` prefix) and `SCAN`.
    pub scene: Option<String>,
    pub ticket: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum InboundEventKind {
    Subscribe,
    Unsubscribe,
    Scan,
    /// Any other event (its `Event` name) or message (its `MsgType`), acknowledged and ignored.
    Other(String),
}

impl InboundEventKind {
    pub fn name(&self) -> &str {
        match self {
            Self::Subscribe => "subscribe",
            Self::Unsubscribe => "unsubscribe",
            Self::Scan => "SCAN",
            Self::Other(other) => other,
        }
    }
}

/// The query parameters WeChat signs a push with.
#[derive(Debug, Clone, Default)]
pub struct PushSignature {
    pub signature: String,
    pub timestamp: String,
    pub nonce: String,
    pub encrypt_type: Option<String>,
    pub msg_signature: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum EventError {
    #[error("the signature does not match")]
    BadSignature,
    #[error("the push cannot be read: {0}")]
    Malformed(String),
    #[error("the app has no event token or EncodingAESKey configured")]
    NotConfigured,
}

/// Why `encryptedData` was refused.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum UserDataError {
    /// Wrong session key (the user signed in again since), a bad IV or corrupt data.
    #[error("the data cannot be decrypted with this session key")]
    Undecryptable,
    /// It decrypted, but its watermark names another app.
    #[error("the data was encrypted for another app")]
    WrongApp,
}

/// WeChat's local cryptography: encryptedData, rawData signatures and event pushes.
pub trait WechatCrypto: Send + Sync {
    /// Decrypts legacy `encryptedData`; checks the watermark appid against the app.
    fn decrypt_user_data(
        &self,
        app: &App,
        session_key: &SecretString,
        encrypted_data: &str,
        iv: &str,
    ) -> Result<serde_json::Value, UserDataError>;

    fn verify_raw_signature(&self, session_key: &SecretString, raw: &str, signature: &str) -> bool;

    fn verify_url(&self, app: &App, sig: &PushSignature) -> Result<(), EventError>;

    fn open_event(
        &self,
        app: &App,
        sig: &PushSignature,
        body: &[u8],
    ) -> Result<InboundEvent, EventError>;
}
