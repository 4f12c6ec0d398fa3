//! A WeChat user scanning a Mini Program code: WeChat opens the code's page, which calls
//! `wx.login` and hands the code to its server.

use serde::Serialize;

use super::SimState;
use crate::error::SimError;
use crate::mini_code::{self, MiniCode};
use crate::store::codes::CODE_TTL;
use crate::wx_error::WxErr;

/// What a scanned Mini Program code carried, and the fresh `wx.login` code of the user who
/// scanned it (what the opened page would send to its server).
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct WxaCodeScan {
    pub appid: String,
    /// The page the code opens; empty for the home page.
    pub page: String,
    pub scene: String,
    /// `release`, `trial` or `develop`.
    pub env_version: String,
    /// A `wx.login` code of the scanning user in `appid`: single-use, valid `expires_in` seconds.
    pub code: String,
    pub expires_in: u64,
}

impl SimState {
    /// `openid` scans a Mini Program code image: the PNG bytes `getwxacodeunlimit` served.
    ///
    /// Refused (400) when the bytes are not a PNG, hold no QR code, or hold a QR code that is
    /// not a simulated Mini Program code; then as `login_code` (unknown app or user: 404).
    pub fn scan_wxacode_image(&self, openid: &str, png: &[u8]) -> Result<WxaCodeScan, SimError> {
        let content = crate::qr_image::decode_png(png)
            .map_err(|err| SimError::invalid(format!("image: {err}")))?;
        let code = MiniCode::parse(&content).ok_or_else(|| {
            SimError::invalid("image: the QR code is not a Mini Program code of this simulator")
        })?;
        self.open_mini_code(openid, code)
    }

    /// `openid` scans a release-build code of `appid` for `scene` opening `page` (the home page
    /// when `None`), without drawing the image first. The scene and the page must be ones
    /// `getwxacodeunlimit` would accept (the page need not be published, as with
    /// `check_path: false`).
    pub fn scan_wxacode(
        &self,
        appid: &str,
        openid: &str,
        scene: &str,
        page: Option<&str>,
    ) -> Result<WxaCodeScan, SimError> {
        mini_code::check_scene(scene).map_err(|err| refused("scene", scene, err))?;
        let page = page.unwrap_or("");
        mini_code::check_page(page).map_err(|err| refused("page", page, err))?;
        let code = MiniCode {
            appid: appid.to_owned(),
            page: page.to_owned(),
            scene: scene.to_owned(),
            env_version: "release".to_owned(),
        };
        self.open_mini_code(openid, code)
    }

    fn open_mini_code(&self, openid: &str, code: MiniCode) -> Result<WxaCodeScan, SimError> {
        let login_code = self.login_code(&code.appid, openid)?;
        Ok(WxaCodeScan {
            appid: code.appid,
            page: code.page,
            scene: code.scene,
            env_version: code.env_version,
            code: login_code,
            expires_in: CODE_TTL.as_secs(),
        })
    }
}

fn refused(field: &str, value: &str, err: WxErr) -> SimError {
    SimError::invalid(format!(
        "{field} {value:?}: getwxacodeunlimit refuses it ({} {})",
        err.0,
        err.message()
    ))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::{SimApp, SimConfig};
    use crate::store::users::NewUser;

    #[test]
    fn a_drawn_code_scans_into_a_login_code_of_the_scanner() {
        let config = SimConfig::default().with_app(SimApp::mini_program("wx1", "s1"));
        let state = SimState::new(&config).unwrap();
        let user = state.create_user(NewUser::new("wx1")).unwrap();
        let content = MiniCode {
            appid: "wx1".to_owned(),
            page: "pages/login/index".to_owned(),
            scene: "login_abc".to_owned(),
            env_version: "trial".to_owned(),
        }
        .to_content();
        let png = crate::qr_image::render_png(content.as_bytes(), 6).unwrap();

        let scan = state.scan_wxacode_image(&user.openid, &png).unwrap();
        assert_eq!(scan.appid, "wx1");
        assert_eq!(scan.page, "pages/login/index");
        assert_eq!(scan.scene, "login_abc");
        assert_eq!(scan.env_version, "trial");
        assert_eq!(scan.expires_in, 300);
        assert!(!scan.code.is_empty());

        let plain = state
            .scan_wxacode("wx1", &user.openid, "login_abc", None)
            .unwrap();
        assert_eq!(plain.page, "");
        assert_eq!(plain.env_version, "release");
        assert_ne!(plain.code, scan.code);
    }

    #[test]
    fn scans_are_refused_like_the_rest_of_the_control_api() {
        let config = SimConfig::default().with_app(SimApp::mini_program("wx1", "s1"));
        let state = SimState::new(&config).unwrap();
        let user = state.create_user(NewUser::new("wx1")).unwrap();
        let status =
            |result: Result<WxaCodeScan, SimError>| result.map_err(|err| err.http_status());

        assert_eq!(
            status(state.scan_wxacode_image(&user.openid, b"GIF89a")),
            Err(400)
        );
        let foreign = crate::qr_image::render_png(b"http://weixin.qq.com/q/abc", 6).unwrap();
        assert_eq!(
            status(state.scan_wxacode_image(&user.openid, &foreign)),
            Err(400)
        );
        assert_eq!(
            status(state.scan_wxacode("wx1", &user.openid, "a b", None)),
            Err(400)
        );
        assert_eq!(
            status(state.scan_wxacode("wx1", &user.openid, "abc", Some("/pages/index/index"))),
            Err(400)
        );
        assert_eq!(
            status(state.scan_wxacode("wxnope", &user.openid, "abc", None)),
            Err(404)
        );
        assert_eq!(
            status(state.scan_wxacode("wx1", "onobody", "abc", None)),
            Err(404)
        );
    }
}
