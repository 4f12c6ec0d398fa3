//! What a simulated Mini Program code carries, and the `scene`/`page` rules of
//! `getwxacodeunlimit`.
//!
//! `getwxacodeunlimit` draws a plain QR code of
//! `wxauth-sim://wxacode?appid=…&page=…&scene=…&env_version=…`; `/__sim/wxacode-scan` reads one
//! back. Both sides use this module, so the format is defined once.

use url::form_urlencoded;

use crate::wx_error::WxErr;

/// Everything before the query of the encoded content.
const PREFIX: &str = "wxauth-sim://wxacode?";
/// The longest `scene` WeChat accepts, in characters.
const MAX_SCENE_CHARS: usize = 32;
/// Besides letters and digits, the characters WeChat allows in `scene`.
const SCENE_SYMBOLS: &str = "!#$&'()*+,/:;=?@-._~";
/// The builds a code can open.
pub(crate) const ENV_VERSIONS: [&str; 3] = ["release", "trial", "develop"];

/// The content of a simulated Mini Program code.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct MiniCode {
    pub(crate) appid: String,
    /// The page the code opens; empty for the home page.
    pub(crate) page: String,
    pub(crate) scene: String,
    pub(crate) env_version: String,
}

impl MiniCode {
    /// The text the QR code encodes.
    pub(crate) fn to_content(&self) -> String {
        form_urlencoded::Serializer::for_suffix(String::from(PREFIX), PREFIX.len())
            .append_pair("appid", &self.appid)
            .append_pair("page", &self.page)
            .append_pair("scene", &self.scene)
            .append_pair("env_version", &self.env_version)
            .finish()
    }

    /// Reads back what [`MiniCode::to_content`] wrote; `None` for anything else (another
    /// scheme, a missing, repeated or unknown field, or values `getwxacodeunlimit` never
    /// draws).
    pub(crate) fn parse(content: &str) -> Option<Self> {
        let query = content.strip_prefix(PREFIX)?;
        let mut appid = None;
        let mut page = None;
        let mut scene = None;
        let mut env_version = None;
        for (key, value) in form_urlencoded::parse(query.as_bytes()) {
            let slot = match &*key {
                "appid" => &mut appid,
                "page" => &mut page,
                "scene" => &mut scene,
                "env_version" => &mut env_version,
                _ => return None,
            };
            if slot.replace(value.into_owned()).is_some() {
                return None;
            }
        }
        let code = Self {
            appid: appid?,
            page: page?,
            scene: scene?,
            env_version: env_version?,
        };
        let valid = !code.appid.is_empty()
            && check_scene(&code.scene).is_ok()
            && check_page(&code.page).is_ok()
            && ENV_VERSIONS.contains(&code.env_version.as_str());
        valid.then_some(code)
    }
}

/// WeChat's `scene` rules: 1 to 32 characters (else 40097 invalid args), each a letter, a digit
/// or one of `` !#$&'()*+,/:;=?@-._~ `` (else 40129 invalid scene).
pub(crate) fn check_scene(scene: &str) -> Result<(), WxErr> {
    let length = scene.chars().count();
    if !(1..=MAX_SCENE_CHARS).contains(&length) {
        return Err(WxErr::INVALID_ARGS);
    }
    if !scene
        .chars()
        .all(|c| c.is_ascii_alphanumeric() || SCENE_SYMBOLS.contains(c))
    {
        return Err(WxErr::INVALID_SCENE);
    }
    Ok(())
}

/// The shape WeChat wants of `page` (41030 invalid page otherwise): no leading `/`
/// (`pages/index/index`), no whitespace or control characters, and no `?` (parameters belong in
/// `scene`). Empty means the home page.
pub(crate) fn check_page(page: &str) -> Result<(), WxErr> {
    let malformed = page.starts_with('/')
        || page.contains('?')
        || page.chars().any(|c| c.is_whitespace() || c.is_control());
    if malformed {
        Err(WxErr::INVALID_PAGE)
    } else {
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn code(scene: &str, page: &str) -> MiniCode {
        MiniCode {
            appid: "wx1".to_owned(),
            page: page.to_owned(),
            scene: scene.to_owned(),
            env_version: "trial".to_owned(),
        }
    }

    #[test]
    fn content_round_trips_with_every_allowed_scene_symbol() {
        let original = code("a=1&b=2!#$'()*+,/:;?@-._~", "pages/login/index");
        let content = original.to_content();
        assert!(
            content.starts_with("wxauth-sim://wxacode?appid=wx1&page=pages"),
            "{content}"
        );
        assert_eq!(MiniCode::parse(&content), Some(original));
        let home = code("abc", "");
        assert_eq!(MiniCode::parse(&home.to_content()), Some(home));
    }

    #[test]
    fn foreign_or_incomplete_content_is_not_a_mini_code() {
        for content in [
            "http://weixin.qq.com/q/abc",
            "wxauth-sim://wxacode?appid=wx1&page=&scene=abc",
            "wxauth-sim://wxacode?appid=wx1&page=&scene=abc&env_version=release&x=1",
            "wxauth-sim://wxacode?appid=wx1&page=&scene=abc&scene=d&env_version=release",
            "wxauth-sim://wxacode?appid=wx1&page=&scene=a+b&env_version=release",
            "wxauth-sim://wxacode?appid=wx1&page=&scene=abc&env_version=beta",
            "wxauth-sim://wxacode?appid=&page=&scene=abc&env_version=release",
        ] {
            assert_eq!(MiniCode::parse(content), None, "{content}");
        }
        assert!(
            MiniCode::parse("wxauth-sim://wxacode?appid=wx1&page=&scene=abc&env_version=release")
                .is_some()
        );
    }

    #[test]
    fn scene_length_is_invalid_args_and_odd_characters_invalid_scene() {
        assert_eq!(check_scene(&"a".repeat(32)), Ok(()));
        assert_eq!(check_scene(""), Err(WxErr::INVALID_ARGS));
        assert_eq!(check_scene(&"a".repeat(33)), Err(WxErr::INVALID_ARGS));
        assert_eq!(check_scene(&"登".repeat(33)), Err(WxErr::INVALID_ARGS));
        assert_eq!(check_scene("登录"), Err(WxErr::INVALID_SCENE));
        assert_eq!(check_scene("a b"), Err(WxErr::INVALID_SCENE));
        assert_eq!(check_scene("a%20b"), Err(WxErr::INVALID_SCENE));
    }

    #[test]
    fn pages_are_relative_paths_without_query_or_spaces() {
        assert_eq!(check_page(""), Ok(()));
        assert_eq!(check_page("pages/index/index"), Ok(()));
        for bad in [
            "/pages/index/index",
            "pages/index/index?x=1",
            "pages/index index",
            "pages/index/index\n",
        ] {
            assert_eq!(check_page(bad), Err(WxErr::INVALID_PAGE), "{bad:?}");
        }
    }
}
