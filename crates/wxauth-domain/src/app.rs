//! Apps: the WeChat Mini Programs, Official Accounts and website apps one wxauth serves.

use std::fmt;
use std::str::FromStr;

use secrecy::{ExposeSecret, SecretString};
use serde::{Deserialize, Serialize};

use crate::{AppId, AppKey, MiniProgramCode, RedirectAllowList, ValidationError, WechatAppId};

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum AppKind {
    MiniProgram,
    OfficialAccount,
    /// An open-platform website app (`qrconnect`, scope `snsapi_login`).
    Website,
}

impl AppKind {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::MiniProgram => "mini_program",
            Self::OfficialAccount => "official_account",
            Self::Website => "website",
        }
    }

    /// Official Accounts and website apps sign users in through the OAuth2 web flow.
    pub fn uses_web_oauth(self) -> bool {
        matches!(self, Self::OfficialAccount | Self::Website)
    }
}

impl fmt::Display for AppKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl FromStr for AppKind {
    type Err = ValidationError;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        match s {
            "mini_program" => Ok(Self::MiniProgram),
            "official_account" => Ok(Self::OfficialAccount),
            "website" => Ok(Self::Website),
            _ => Err(ValidationError::new(
                "kind",
                "must be one of mini_program, official_account, website",
            )),
        }
    }
}

/// Who may create an account by signing in with WeChat.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum RegistrationPolicy {
    /// Unknown WeChat users get an account on first sign-in.
    #[default]
    Open,
    /// Unknown WeChat users get a short-lived bind code to register or attach to an account.
    BindCode,
    /// Unknown WeChat users are refused.
    Closed,
}

impl RegistrationPolicy {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Open => "open",
            Self::BindCode => "bind_code",
            Self::Closed => "closed",
        }
    }
}

impl fmt::Display for RegistrationPolicy {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl FromStr for RegistrationPolicy {
    type Err = ValidationError;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        match s {
            "open" => Ok(Self::Open),
            "bind_code" => Ok(Self::BindCode),
            "closed" => Ok(Self::Closed),
            _ => Err(ValidationError::new(
                "registration",
                "must be one of open, bind_code, closed",
            )),
        }
    }
}

/// A human name for an app, shown to admins and on sign-in pages: 1 to 128 characters.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AppName(String);

impl AppName {
    pub const MAX_CHARS: usize = 128;

    pub fn parse(s: &str) -> Result<Self, ValidationError> {
        let s = s.trim();
        if s.is_empty() || s.chars().count() > Self::MAX_CHARS {
            return Err(ValidationError::new("name", "must be 1 to 128 characters"));
        }
        if s.chars().any(char::is_control) {
            return Err(ValidationError::new(
                "name",
                "must not contain control characters",
            ));
        }
        Ok(Self(s.to_owned()))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl fmt::Display for AppName {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

/// An Official Account's EncodingAESKey: 43 characters of base64 (without its `=`), which
/// decode to the 32-byte AES key of safe-mode event pushes. A secret: redacted from `Debug`.
#[derive(Debug, Clone)]
pub struct EncodingAesKey(SecretString);

impl EncodingAesKey {
    pub const LEN: usize = 43;

    pub fn parse(s: &str) -> Result<Self, ValidationError> {
        let base64 = |b: u8| b.is_ascii_alphanumeric() || b == b'+' || b == b'/';
        if s.len() != Self::LEN || !s.bytes().all(base64) {
            return Err(ValidationError::new(
                "encodingAesKey",
                "must be 43 characters of base64",
            ));
        }
        Ok(Self(SecretString::from(s.to_owned())))
    }

    pub fn secret(&self) -> &SecretString {
        &self.0
    }

    pub fn expose(&self) -> &str {
        self.0.expose_secret()
    }
}

/// An http(s) base URL for WeChat's hosts (or the simulator standing in for them).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BaseUrl(url::Url);

impl BaseUrl {
    pub fn parse(field: &'static str, s: &str) -> Result<Self, ValidationError> {
        match url::Url::parse(s) {
            Ok(u) if matches!(u.scheme(), "http" | "https") && u.host_str().is_some() => {
                Ok(Self(u))
            }
            _ => Err(ValidationError::new(field, "must be an http(s) URL")),
        }
    }

    pub fn url(&self) -> &url::Url {
        &self.0
    }

    pub fn as_str(&self) -> &str {
        self.0.as_str()
    }
}

impl fmt::Display for BaseUrl {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.0.as_str())
    }
}

/// Where this app's WeChat calls go. `None` means the service-wide default (WeChat's real
/// hosts); tests and local stacks point them at `wxauth-sim`.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct AppEndpoints {
    /// Server API base, default `https://api.weixin.qq.com`.
    pub api_base_url: Option<BaseUrl>,
    /// OAuth page base, default `https://open.weixin.qq.com`.
    pub open_base_url: Option<BaseUrl>,
    /// QR image base, default `https://mp.weixin.qq.com`.
    pub mp_base_url: Option<BaseUrl>,
}

/// One configured app, with its secrets decrypted in memory (and redacted from `Debug`).
#[derive(Debug, Clone)]
pub struct App {
    /// Row id; stable for the app's lifetime.
    pub id: AppId,
    pub key: AppKey,
    pub kind: AppKind,
    pub name: AppName,
    pub appid: WechatAppId,
    pub secret: SecretString,
    pub registration: RegistrationPolicy,
    pub redirect_allow_list: RedirectAllowList,
    /// The token WeChat signs event pushes with (Official Accounts).
    pub event_token: Option<SecretString>,
    /// The EncodingAESKey for safe-mode event pushes.
    pub encoding_aes_key: Option<EncodingAesKey>,
    pub endpoints: AppEndpoints,
    /// The code of web scan-login (Mini Programs).
    pub qr_login: MiniProgramCode,
    pub enabled: bool,
}

impl App {
    pub fn is_mini_program(&self) -> bool {
        self.kind == AppKind::MiniProgram
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn kinds_and_policies_round_trip_through_their_names() {
        for k in [
            AppKind::MiniProgram,
            AppKind::OfficialAccount,
            AppKind::Website,
        ] {
            assert_eq!(k.as_str().parse::<AppKind>().unwrap(), k);
        }
        for p in [
            RegistrationPolicy::Open,
            RegistrationPolicy::BindCode,
            RegistrationPolicy::Closed,
        ] {
            assert_eq!(p.as_str().parse::<RegistrationPolicy>().unwrap(), p);
        }
        assert_eq!("mp".parse::<AppKind>().unwrap_err().field, "kind");
    }

    #[test]
    fn debug_output_redacts_secrets() {
        let app = App {
            id: AppId(1),
            key: AppKey::parse("shop").unwrap(),
            kind: AppKind::MiniProgram,
            name: AppName::parse("Shop").unwrap(),
            appid: WechatAppId::parse("wx1234567890abcdef").unwrap(),
            secret: SecretString::from("supersecretvalue"),
            registration: RegistrationPolicy::Open,
            redirect_allow_list: RedirectAllowList::default(),
            event_token: Some(SecretString::from("eventtokenvalue")),
            encoding_aes_key: Some(
                EncodingAesKey::parse("AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh8").unwrap(),
            ),
            endpoints: AppEndpoints::default(),
            qr_login: MiniProgramCode::default(),
            enabled: true,
        };
        let dbg = format!("{app:?}");
        assert!(!dbg.contains("supersecretvalue"));
        assert!(!dbg.contains("eventtokenvalue"));
        assert!(!dbg.contains("AAECAwQF"));
    }

    #[test]
    fn app_names_are_1_to_128_characters() {
        assert_eq!(AppName::parse("  Shop ").unwrap().as_str(), "Shop");
        assert_eq!(AppName::parse("").unwrap_err().field, "name");
        assert!(AppName::parse(&"名".repeat(128)).is_ok());
        assert!(AppName::parse(&"名".repeat(129)).is_err());
        assert!(AppName::parse("a\u{7}b").is_err());
    }

    #[test]
    fn encoding_aes_keys_are_43_base64_characters() {
        assert!(EncodingAesKey::parse("AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh8").is_ok());
        let short = EncodingAesKey::parse("AAECAwQF").unwrap_err();
        assert_eq!(short.field, "encodingAesKey");
        assert!(EncodingAesKey::parse(&format!("{}=", "A".repeat(42))).is_err());
    }

    #[test]
    fn base_urls_are_absolute_http_urls() {
        assert!(BaseUrl::parse("apiBaseUrl", "http://127.0.0.1:9100").is_ok());
        assert!(BaseUrl::parse("apiBaseUrl", "https://api.weixin.qq.com").is_ok());
        assert_eq!(
            BaseUrl::parse("apiBaseUrl", "ftp://x").unwrap_err().field,
            "apiBaseUrl"
        );
        assert!(BaseUrl::parse("apiBaseUrl", "not a url").is_err());
    }
}
