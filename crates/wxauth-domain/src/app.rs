//! Apps: the WeChat Mini Programs, Official Accounts and website apps one wxauth serves.

use std::fmt;
use std::str::FromStr;

use secrecy::SecretString;
use serde::{Deserialize, Serialize};

use crate::{AppKey, RedirectAllowList, ValidationError, WechatAppId};

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

/// Where this app's WeChat calls go. `None` means WeChat's real hosts; tests and local stacks
/// point them at `wxauth-sim`.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct AppEndpoints {
    /// Server API base, default `https://api.weixin.qq.com`.
    pub api_base_url: Option<String>,
    /// OAuth page base, default `https://open.weixin.qq.com`.
    pub open_base_url: Option<String>,
    /// QR image base, default `https://mp.weixin.qq.com`.
    pub mp_base_url: Option<String>,
}

/// One configured app, with its secrets decrypted in memory (and redacted from `Debug`).
#[derive(Debug, Clone)]
pub struct App {
    /// Row id; stable for the app's lifetime.
    pub id: i64,
    pub key: AppKey,
    pub kind: AppKind,
    pub name: String,
    pub appid: WechatAppId,
    pub secret: SecretString,
    pub registration: RegistrationPolicy,
    pub redirect_allow_list: RedirectAllowList,
    /// The token WeChat signs event pushes with (Official Accounts).
    pub event_token: Option<SecretString>,
    /// The 43-character EncodingAESKey for safe-mode event pushes.
    pub encoding_aes_key: Option<SecretString>,
    pub endpoints: AppEndpoints,
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
            id: 1,
            key: AppKey::parse("shop").unwrap(),
            kind: AppKind::MiniProgram,
            name: "Shop".into(),
            appid: WechatAppId::parse("wx1234567890abcdef").unwrap(),
            secret: SecretString::from("supersecretvalue"),
            registration: RegistrationPolicy::Open,
            redirect_allow_list: RedirectAllowList::default(),
            event_token: Some(SecretString::from("eventtokenvalue")),
            encoding_aes_key: None,
            endpoints: AppEndpoints::default(),
            enabled: true,
        };
        let dbg = format!("{app:?}");
        assert!(!dbg.contains("supersecretvalue"));
        assert!(!dbg.contains("eventtokenvalue"));
    }
}
