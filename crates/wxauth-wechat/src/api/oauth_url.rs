//! The pages a user's browser is sent to: Official Account OAuth2 and website QR login.
//!
//! WeChat's page cares about parameter order, so the query is built in exactly the documented
//! order, each value form-URL-encoded, followed by `#wechat_redirect`.

use url::Url;

use crate::client::AppClient;
use crate::config::join;
use crate::error::WechatError;

/// What an Official Account OAuth2 login asks for.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum OAuthScope {
    /// `snsapi_base`: silent, openid only.
    Base,
    /// `snsapi_userinfo`: asks consent, profile available through `/sns/userinfo`.
    UserInfo,
}

impl OAuthScope {
    pub fn as_str(&self) -> &'static str {
        match self {
            Self::Base => "snsapi_base",
            Self::UserInfo => "snsapi_userinfo",
        }
    }
}

/// The longest `state` WeChat carries back.
pub const MAX_STATE_BYTES: usize = 128;

/// Checks an OAuth `state`: 1 to 128 ASCII letters and digits. WeChat allows an empty state, but
/// it is the CSRF defence of the redirect, so this client requires one.
pub fn validate_state(state: &str) -> Result<(), WechatError> {
    if state.is_empty() {
        return Err(WechatError::InvalidArgument(
            "state must not be empty".into(),
        ));
    }
    if state.len() > MAX_STATE_BYTES {
        return Err(WechatError::InvalidArgument(
            "state is longer than 128 bytes".into(),
        ));
    }
    if !state.bytes().all(|b| b.is_ascii_alphanumeric()) {
        return Err(WechatError::InvalidArgument(
            "state may only contain [a-zA-Z0-9]".into(),
        ));
    }
    Ok(())
}

/// WeChat appends `?code=..&state=..` to the redirect URI, so it must be an http(s) URL without
/// a fragment.
fn validate_redirect_uri(redirect_uri: &Url) -> Result<(), WechatError> {
    if !matches!(redirect_uri.scheme(), "http" | "https") {
        return Err(WechatError::InvalidArgument(
            "redirect_uri must be http or https".into(),
        ));
    }
    if redirect_uri.fragment().is_some() {
        return Err(WechatError::InvalidArgument(
            "redirect_uri must not have a fragment".into(),
        ));
    }
    Ok(())
}

impl AppClient {
    /// `{open_base}/connect/oauth2/authorize?appid=..&redirect_uri=..&response_type=code&scope=..
    /// &state=..[&forcePopup=..]#wechat_redirect`, for a browser inside WeChat.
    pub fn oauth_authorize_url(
        &self,
        redirect_uri: &Url,
        scope: OAuthScope,
        state: &str,
        force_popup: Option<bool>,
    ) -> Result<String, WechatError> {
        self.login_page_url(
            "/connect/oauth2/authorize",
            redirect_uri,
            scope.as_str(),
            state,
            |q| {
                if let Some(popup) = force_popup {
                    q.append_pair("forcePopup", if popup { "true" } else { "false" });
                }
            },
        )
    }

    /// `{open_base}/connect/qrconnect?...&scope=snsapi_login&state=..#wechat_redirect`: the website
    /// app login page that shows a QR code on a PC. Use the website app's credentials.
    pub fn qrconnect_url(&self, redirect_uri: &Url, state: &str) -> Result<String, WechatError> {
        self.login_page_url(
            "/connect/qrconnect",
            redirect_uri,
            "snsapi_login",
            state,
            |_| {},
        )
    }

    fn login_page_url(
        &self,
        path: &str,
        redirect_uri: &Url,
        scope: &str,
        state: &str,
        extra: impl FnOnce(&mut url::form_urlencoded::Serializer<'_, url::UrlQuery<'_>>),
    ) -> Result<String, WechatError> {
        validate_state(state)?;
        validate_redirect_uri(redirect_uri)?;
        let mut url = join(&self.endpoints.open_base, path);
        {
            let mut query = url.query_pairs_mut();
            query
                .append_pair("appid", self.credentials.appid.as_str())
                .append_pair("redirect_uri", redirect_uri.as_str())
                .append_pair("response_type", "code")
                .append_pair("scope", scope)
                .append_pair("state", state);
            extra(&mut query);
        }
        url.set_fragment(Some("wechat_redirect"));
        Ok(url.into())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::{Credentials, Endpoints, WechatClient};
    use wxauth_domain::WechatAppId;

    fn app(endpoints: Endpoints) -> AppClient {
        let creds = Credentials::new(WechatAppId::parse("wx1234567890abcdef").unwrap(), "s");
        WechatClient::builder()
            .build()
            .unwrap()
            .app(creds, endpoints)
    }

    fn redirect() -> Url {
        Url::parse("https://example.com/cb?x=1&y=a b").unwrap()
    }

    #[test]
    fn authorize_url_has_the_documented_order_and_encoding() {
        let url = app(Endpoints::default())
            .oauth_authorize_url(&redirect(), OAuthScope::UserInfo, "abc123", None)
            .unwrap();
        assert_eq!(
            url,
            "https://open.weixin.qq.com/connect/oauth2/authorize?appid=wx1234567890abcdef\
             &redirect_uri=https%3A%2F%2Fexample.com%2Fcb%3Fx%3D1%26y%3Da%2520b\
             &response_type=code&scope=snsapi_userinfo&state=abc123#wechat_redirect"
        );
    }

    #[test]
    fn force_popup_comes_last_before_the_fragment() {
        let url = app(Endpoints::default())
            .oauth_authorize_url(&redirect(), OAuthScope::Base, "s", Some(true))
            .unwrap();
        assert!(
            url.ends_with("&scope=snsapi_base&state=s&forcePopup=true#wechat_redirect"),
            "{url}"
        );
    }

    #[test]
    fn qrconnect_url_uses_snsapi_login_and_a_base_path() {
        let sim = Url::parse("http://127.0.0.1:8080/sim").unwrap();
        let url = app(Endpoints::all_at(sim))
            .qrconnect_url(&redirect(), "S1")
            .unwrap();
        assert!(
            url.starts_with("http://127.0.0.1:8080/sim/connect/qrconnect?appid="),
            "{url}"
        );
        assert!(url.ends_with("&response_type=code&scope=snsapi_login&state=S1#wechat_redirect"));
    }

    #[test]
    fn bad_states_and_redirects_are_refused() {
        let app = app(Endpoints::default());
        for state in ["", "a-b", "a&b=c", "中", &"a".repeat(129)] {
            assert!(
                matches!(
                    app.oauth_authorize_url(&redirect(), OAuthScope::Base, state, None),
                    Err(WechatError::InvalidArgument(_))
                ),
                "{state}"
            );
        }
        assert!(app.qrconnect_url(&redirect(), &"a".repeat(128)).is_ok());
        let with_fragment = Url::parse("https://example.com/cb#x").unwrap();
        assert!(app.qrconnect_url(&with_fragment, "s").is_err());
        let ftp = Url::parse("ftp://example.com/").unwrap();
        assert!(app.qrconnect_url(&ftp, "s").is_err());
    }
}
