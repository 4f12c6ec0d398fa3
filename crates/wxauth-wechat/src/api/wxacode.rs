//! Mini Program codes (`getwxacodeunlimit`), used for web scan-login.

use secrecy::SecretString;
use serde::Serialize;

use crate::api::token_text;
use crate::client::AppClient;
use crate::error::WechatError;
use crate::transport::Call;

/// The longest scene WeChat accepts.
pub const MAX_WXA_SCENE_CHARS: usize = 32;

/// Which build of the Mini Program the code opens.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum WxaEnvVersion {
    #[default]
    Release,
    Trial,
    Develop,
}

/// A Mini Program code to draw. [`WxaCodeRequest::new`] gives WeChat's defaults.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct WxaCodeRequest {
    /// Passed to the page as `scene`: 1 to 32 visible characters.
    pub scene: String,
    /// The page to open, without a leading `/`; the home page when absent.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub page: Option<String>,
    /// Whether WeChat checks that `page` exists in the published version.
    pub check_path: bool,
    pub env_version: WxaEnvVersion,
    /// Pixels, 280..=1280; WeChat's default (430) when absent.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub width: Option<u32>,
}

impl WxaCodeRequest {
    /// The release build's home page, path checked, default width.
    pub fn new(scene: impl Into<String>) -> Self {
        Self {
            scene: scene.into(),
            page: None,
            check_path: true,
            env_version: WxaEnvVersion::Release,
            width: None,
        }
    }

    /// Checks the scene: 1 to 32 of the characters WeChat accepts (letters, digits and
    /// `` !#$&'()*+,/:;=?@-._~ ``; no `%`, so nothing percent-encoded).
    pub fn validate(&self) -> Result<(), WechatError> {
        let ok_char = |c: char| c.is_ascii_alphanumeric() || "!#$&'()*+,/:;=?@-._~".contains(c);
        if self.scene.is_empty() || self.scene.chars().count() > MAX_WXA_SCENE_CHARS {
            return Err(WechatError::InvalidArgument(
                "scene must be 1 to 32 characters".into(),
            ));
        }
        if !self.scene.chars().all(ok_char) {
            return Err(WechatError::InvalidArgument(
                "scene may only contain letters, digits and !#$&'()*+,/:;=?@-._~".into(),
            ));
        }
        Ok(())
    }
}

impl AppClient {
    /// Draws a Mini Program code. Returns the image bytes (JPEG or PNG); WeChat's JSON error
    /// bodies become [`WechatError::Api`].
    pub async fn wxa_code_unlimited(
        &self,
        access_token: &SecretString,
        request: &WxaCodeRequest,
    ) -> Result<Vec<u8>, WechatError> {
        request.validate()?;
        let call = Call::post_json(
            "/wxa/getwxacodeunlimit",
            vec![("access_token", token_text(access_token)?)],
            request,
        )?;
        self.call_image(&call).await
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn body_has_the_documented_fields() {
        let mut req = WxaCodeRequest::new("login_abc");
        req.page = Some("pages/login/index".into());
        req.width = Some(430);
        assert_eq!(
            serde_json::to_value(&req).unwrap(),
            serde_json::json!({"scene": "login_abc", "page": "pages/login/index",
                               "check_path": true, "env_version": "release", "width": 430})
        );
        let plain = serde_json::to_value(WxaCodeRequest::new("a")).unwrap();
        assert_eq!(
            plain,
            serde_json::json!({"scene": "a", "check_path": true,
                                              "env_version": "release"})
        );
    }

    #[test]
    fn scenes_are_checked() {
        assert!(WxaCodeRequest::new("a=1&b=2").validate().is_ok());
        assert!(WxaCodeRequest::new("x".repeat(32)).validate().is_ok());
        for bad in [
            String::new(),
            "x".repeat(33),
            "a%20b".into(),
            "中文".into(),
            "a b".into(),
        ] {
            assert!(
                WxaCodeRequest::new(bad.clone()).validate().is_err(),
                "{bad}"
            );
        }
    }
}
