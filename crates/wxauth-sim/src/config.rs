//! Start-up configuration: where to listen and which fake WeChat accounts ("apps") exist.

use std::fmt;
use std::net::{Ipv4Addr, SocketAddr};

use serde::{Deserialize, Serialize};
use sha1::{Digest, Sha1};

use crate::crypto::event::decode_aes_key;
use crate::error::SimError;

/// How to run a simulator.
#[derive(Debug, Clone)]
pub struct SimConfig {
    /// Address to bind; port 0 picks a free port (the default, for tests).
    pub listen: SocketAddr,
    /// actix-web worker threads.
    pub workers: usize,
    /// Accounts known from the start (more can be added at run time).
    pub apps: Vec<SimApp>,
    /// WeChat's frequency limits: 45011 after 100 `jscode2session` calls per minute per user,
    /// 30 s between forced stable-token refreshes, daily quotas on token fetches.
    /// Load tests may turn them off.
    pub rate_limits: bool,
}

impl Default for SimConfig {
    fn default() -> Self {
        Self {
            listen: SocketAddr::from((Ipv4Addr::LOCALHOST, 0)),
            workers: 1,
            apps: Vec::new(),
            rate_limits: true,
        }
    }
}

impl SimConfig {
    /// Adds an account to the start-up configuration.
    #[must_use]
    pub fn with_app(mut self, app: SimApp) -> Self {
        self.apps.push(app);
        self
    }
}

/// The kind of WeChat account, which decides the APIs it may call.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum SimAppKind {
    /// 小程序: `jscode2session`, phone numbers, session-key checks, Mini Program codes.
    MiniProgram,
    /// 公众号 (service account): web OAuth2 (`snsapi_base`/`snsapi_userinfo`), parametric QR codes,
    /// follow checks, event push.
    OfficialAccount,
    /// 网站应用 on the open platform: `qrconnect` with `snsapi_login`.
    Website,
}

impl SimAppKind {
    /// The name used by the control API and the `--app` flag.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::MiniProgram => "mini_program",
            Self::OfficialAccount => "official_account",
            Self::Website => "website",
        }
    }

    /// Parses the control-API name (plus short aliases for the command line).
    pub fn parse(name: &str) -> Option<Self> {
        match name {
            "mini_program" | "miniprogram" | "mp" => Some(Self::MiniProgram),
            "official_account" | "officialaccount" | "oa" => Some(Self::OfficialAccount),
            "website" | "web" => Some(Self::Website),
            _ => None,
        }
    }

    /// OAuth scopes WeChat accepts for this kind of account.
    pub(crate) fn oauth_scopes(self) -> &'static [&'static str] {
        match self {
            Self::MiniProgram => &[],
            Self::OfficialAccount => &["snsapi_base", "snsapi_userinfo"],
            Self::Website => &["snsapi_login"],
        }
    }
}

/// How events are pushed to the account's server (服务器配置 → 消息加解密方式).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum EventMode {
    /// 明文模式: plain XML, checked with `signature`.
    #[default]
    Plain,
    /// 安全模式: only `ToUserName` and `Encrypt`, checked with `msg_signature`.
    Safe,
    /// 兼容模式: plain fields and `Encrypt` in the same body.
    Compat,
}

/// One fake WeChat account.
#[derive(Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SimApp {
    pub appid: String,
    pub secret: String,
    pub kind: SimAppKind,
    /// The account's event-push URL (服务器地址).
    #[serde(default)]
    pub event_url: Option<String>,
    /// The token used to sign pushes to `event_url` (令牌).
    #[serde(default)]
    pub event_token: Option<String>,
    /// 43-character EncodingAESKey, needed for safe and compatible mode.
    #[serde(default)]
    pub encoding_aes_key: Option<String>,
    #[serde(default)]
    pub event_mode: EventMode,
    /// The pages of a Mini Program's published version (its `app.json` `pages`), which
    /// `getwxacodeunlimit` with `check_path: true` insists on. Other kinds ignore them.
    #[serde(default = "default_pages")]
    pub pages: Vec<String>,
}

/// The pages a simulated Mini Program has published unless it says otherwise.
const DEFAULT_PAGES: [&str; 2] = ["pages/index/index", "pages/login/index"];

fn default_pages() -> Vec<String> {
    DEFAULT_PAGES.map(str::to_owned).into()
}

// Hand-written so that the secret, the push token and the AES key never reach a log line.
impl fmt::Debug for SimApp {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("SimApp")
            .field("appid", &self.appid)
            .field("secret", &"<redacted>")
            .field("kind", &self.kind)
            .field("event_url", &self.event_url)
            .field(
                "event_token",
                &self.event_token.as_ref().map(|_| "<redacted>"),
            )
            .field(
                "encoding_aes_key",
                &self.encoding_aes_key.as_ref().map(|_| "<redacted>"),
            )
            .field("event_mode", &self.event_mode)
            .field("pages", &self.pages)
            .finish()
    }
}

impl SimApp {
    pub fn new(appid: impl Into<String>, secret: impl Into<String>, kind: SimAppKind) -> Self {
        Self {
            appid: appid.into(),
            secret: secret.into(),
            kind,
            event_url: None,
            event_token: None,
            encoding_aes_key: None,
            event_mode: EventMode::Plain,
            pages: default_pages(),
        }
    }

    pub fn mini_program(appid: impl Into<String>, secret: impl Into<String>) -> Self {
        Self::new(appid, secret, SimAppKind::MiniProgram)
    }

    pub fn official_account(appid: impl Into<String>, secret: impl Into<String>) -> Self {
        Self::new(appid, secret, SimAppKind::OfficialAccount)
    }

    pub fn website(appid: impl Into<String>, secret: impl Into<String>) -> Self {
        Self::new(appid, secret, SimAppKind::Website)
    }

    /// Sets the push URL and the token used to sign pushes.
    #[must_use]
    pub fn with_event_url(mut self, url: impl Into<String>, token: impl Into<String>) -> Self {
        self.event_url = Some(url.into());
        self.event_token = Some(token.into());
        self
    }

    /// Turns on safe or compatible mode with the given 43-character EncodingAESKey.
    #[must_use]
    pub fn with_encryption(mut self, encoding_aes_key: impl Into<String>, mode: EventMode) -> Self {
        self.encoding_aes_key = Some(encoding_aes_key.into());
        self.event_mode = mode;
        self
    }

    /// Replaces the Mini Program's published pages (by default `pages/index/index` and
    /// `pages/login/index`).
    #[must_use]
    pub fn with_pages<I, S>(mut self, pages: I) -> Self
    where
        I: IntoIterator<Item = S>,
        S: Into<String>,
    {
        self.pages = pages.into_iter().map(Into::into).collect();
        self
    }

    /// The account's original id (`gh_…`), used as `ToUserName` in pushed events.
    ///
    /// The brief's `SimApp` has no such field, so it is derived from the appid: stable across
    /// runs, distinct per account, and shaped like WeChat's (`gh_` + 12 hex digits).
    pub fn original_id(&self) -> String {
        let digest = Sha1::digest(self.appid.as_bytes());
        let hex = hex::encode(digest);
        format!("gh_{}", hex.get(..12).unwrap_or(&hex))
    }

    /// Checks the account is usable and decodes its AES key once.
    pub(crate) fn validate(&self) -> Result<Option<[u8; 32]>, SimError> {
        if self.appid.is_empty() || self.appid.len() > 64 || has_space_or_control(&self.appid) {
            return Err(SimError::invalid(
                "appid must be 1-64 characters without spaces",
            ));
        }
        if self.secret.is_empty() || has_space_or_control(&self.secret) {
            return Err(SimError::invalid("secret must be non-empty without spaces"));
        }
        for page in &self.pages {
            if page.is_empty() || crate::mini_code::check_page(page).is_err() {
                return Err(SimError::invalid(format!(
                    "pages: {page:?} is not a page path like pages/index/index \
                     (no leading /, spaces or ?)"
                )));
            }
        }
        if let Some(event_url) = &self.event_url {
            let parsed = url::Url::parse(event_url)
                .map_err(|err| SimError::invalid(format!("event_url is not a URL: {err}")))?;
            if !matches!(parsed.scheme(), "http" | "https") {
                return Err(SimError::invalid("event_url must be http or https"));
            }
            if self.event_token.as_deref().is_none_or(str::is_empty) {
                // WeChat refuses a server configuration without a token: every push is signed.
                return Err(SimError::invalid("event_url needs an event_token"));
            }
        }
        let key = match &self.encoding_aes_key {
            Some(text) => Some(
                decode_aes_key(text)
                    .map_err(|err| SimError::invalid(format!("encoding_aes_key: {err}")))?,
            ),
            None => None,
        };
        if self.event_mode != EventMode::Plain && key.is_none() {
            return Err(SimError::invalid(
                "safe and compat event modes need an encoding_aes_key",
            ));
        }
        Ok(key)
    }
}

fn has_space_or_control(text: &str) -> bool {
    text.chars().any(|c| c.is_whitespace() || c.is_control())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn original_id_is_stable_and_shaped_like_wechat() {
        let app = SimApp::official_account("wx1234567890abcdef", "s");
        assert_eq!(app.original_id(), app.original_id());
        assert_eq!(app.original_id().len(), 15);
        assert!(app.original_id().starts_with("gh_"));
    }

    #[test]
    fn debug_output_hides_secrets() {
        let app = SimApp::official_account("wx1", "top-secret").with_event_url("http://x", "tok");
        let text = format!("{app:?}");
        assert!(!text.contains("top-secret"));
        assert!(!text.contains("tok\""));
    }

    #[test]
    fn safe_mode_without_key_is_refused() {
        let mut app = SimApp::official_account("wx1", "s").with_event_url("http://x/", "t");
        app.event_mode = EventMode::Safe;
        assert!(app.validate().is_err());
    }

    #[test]
    fn pages_default_to_home_and_login_and_must_be_page_paths() {
        let app = SimApp::mini_program("wx1", "s");
        assert_eq!(app.pages, ["pages/index/index", "pages/login/index"]);
        assert!(app.validate().is_ok());
        let parsed: SimApp =
            serde_json::from_str(r#"{"appid": "wx1", "secret": "s", "kind": "mini_program"}"#)
                .unwrap();
        assert_eq!(parsed, app);
        for bad in ["", "/pages/index/index", "pages/a?x=1", "pages/a b"] {
            let app = SimApp::mini_program("wx1", "s").with_pages([bad]);
            assert!(app.validate().is_err(), "{bad:?}");
        }
        let custom = SimApp::mini_program("wx1", "s").with_pages(["pages/scan/index"]);
        assert_eq!(custom.pages, ["pages/scan/index"]);
        assert!(custom.validate().is_ok());
    }

    #[test]
    fn event_url_without_token_is_refused() {
        let mut app = SimApp::official_account("wx1", "s");
        app.event_url = Some("http://127.0.0.1:1/wx".into());
        assert!(app.validate().is_err());
    }
}
