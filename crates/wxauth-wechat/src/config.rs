//! What a client needs to know about an app: where WeChat is and the app's credentials.

use std::fmt;

use secrecy::SecretString;
use url::Url;
use wxauth_domain::WechatAppId;

/// Where WeChat is. The simulator serves all three on one host; see [`Endpoints::all_at`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Endpoints {
    /// Server APIs, `https://api.weixin.qq.com`.
    pub api_base: Url,
    /// OAuth pages, `https://open.weixin.qq.com`.
    pub open_base: Url,
    /// QR images, `https://mp.weixin.qq.com`.
    pub mp_base: Url,
}

impl Default for Endpoints {
    fn default() -> Self {
        Self {
            api_base: constant_url("https://api.weixin.qq.com"),
            open_base: constant_url("https://open.weixin.qq.com"),
            mp_base: constant_url("https://mp.weixin.qq.com"),
        }
    }
}

impl Endpoints {
    /// All three bases on one host (a simulator, a proxy). A path in `base` is kept as a prefix.
    pub fn all_at(base: Url) -> Self {
        Self {
            api_base: base.clone(),
            open_base: base.clone(),
            mp_base: base,
        }
    }
}

/// Parses one of the constant URLs above; `defaults_are_wechats_hosts` proves they parse.
fn constant_url(s: &str) -> Url {
    match Url::parse(s) {
        Ok(url) => url,
        Err(_) => unreachable!("a constant URL failed to parse"),
    }
}

/// `base` with `path` appended to whatever path it already has (`http://sim/x` + `/sns/a` is
/// `http://sim/x/sns/a`), and no query or fragment.
pub(crate) fn join(base: &Url, path: &str) -> Url {
    let mut url = base.clone();
    let prefix = url.path().trim_end_matches('/').to_owned();
    url.set_path(&format!("{prefix}{path}"));
    url.set_query(None);
    url.set_fragment(None);
    url
}

/// An app's identity with WeChat. The secret never appears in `Debug`.
#[derive(Clone)]
pub struct Credentials {
    pub appid: WechatAppId,
    pub secret: SecretString,
}

impl Credentials {
    pub fn new(appid: WechatAppId, secret: impl Into<SecretString>) -> Self {
        Self {
            appid,
            secret: secret.into(),
        }
    }
}

impl fmt::Debug for Credentials {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Credentials")
            .field("appid", &self.appid)
            .field("secret", &"[REDACTED]")
            .finish()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn defaults_are_wechats_hosts() {
        let e = Endpoints::default();
        assert_eq!(e.api_base.as_str(), "https://api.weixin.qq.com/");
        assert_eq!(e.open_base.as_str(), "https://open.weixin.qq.com/");
        assert_eq!(e.mp_base.as_str(), "https://mp.weixin.qq.com/");
    }

    #[test]
    fn join_keeps_a_base_path_prefix() {
        let base = Url::parse("http://127.0.0.1:9/sim/").unwrap();
        assert_eq!(
            join(&base, "/sns/x").as_str(),
            "http://127.0.0.1:9/sim/sns/x"
        );
        let base = Url::parse("http://127.0.0.1:9").unwrap();
        assert_eq!(join(&base, "/sns/x").as_str(), "http://127.0.0.1:9/sns/x");
    }

    #[test]
    fn credentials_debug_hides_the_secret() {
        let c = Credentials::new(WechatAppId::parse("wx1").unwrap(), "topsecret");
        assert!(!format!("{c:?}").contains("topsecret"));
    }
}
