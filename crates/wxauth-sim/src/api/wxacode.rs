//! `POST /wxa/getwxacodeunlimit`: a Mini Program code for web scan-login.
//!
//! The image is a PNG on success and a JSON error otherwise; clients tell them apart by content
//! type. The simulator draws a plain QR code encoding what a real code would point to.

use actix_web::{HttpRequest, HttpResponse, web};
use serde::Deserialize;
use url::form_urlencoded::Serializer;

use super::query::Query;
use super::reply::{self, Flavor};
use super::{body, guard};
use crate::config::SimAppKind;
use crate::faults::Endpoint;
use crate::state::SimState;
use crate::store::{authorize, require_kind};
use crate::wx_error::WxErr;

const MAX_SCENE_CHARS: usize = 32;
/// Besides letters and digits, the characters WeChat allows in `scene`.
const SCENE_SYMBOLS: &str = "!#$&'()*+,/:;=?@-._~";
const DEFAULT_WIDTH: usize = 430;

#[derive(Deserialize)]
struct CodeRequest {
    #[serde(default)]
    scene: Option<String>,
    #[serde(default)]
    page: Option<String>,
    #[serde(default)]
    env_version: Option<String>,
    #[serde(default)]
    width: Option<u32>,
}

pub(crate) async fn handle(
    req: HttpRequest,
    state: web::Data<SimState>,
    payload: web::Payload,
) -> HttpResponse {
    if let Some(response) = guard::enter(&state, Endpoint::Getwxacodeunlimit, Flavor::Json).await {
        return response;
    }
    let body = body::read(payload).await;
    let query = Query::parse(req.query_string());
    let planned = state.with_world(|world, now| {
        let app = authorize(
            &mut world.apps,
            &world.app_tokens,
            query.get("access_token"),
            now,
        )?;
        require_kind(app, SimAppKind::MiniProgram)?;
        let request: CodeRequest = body::parse_json(&body)?;
        plan(&app.app.appid, &request)
    });
    let (content, width) = match planned {
        Ok(planned) => planned,
        Err(err) => return reply::json::<()>(Flavor::Json, Err(err)),
    };
    let module_px = crate::qr_image::module_px_for_width(content.as_bytes(), width);
    match crate::qr_image::render_png(content.as_bytes(), module_px) {
        Ok(png) => reply::png(png),
        Err(err) => {
            tracing::warn!(%err, "cannot render Mini Program code");
            reply::json::<()>(Flavor::Json, Err(WxErr::BUSY))
        }
    }
}

/// Validates the request and returns the content to encode and the image width.
fn plan(appid: &str, request: &CodeRequest) -> Result<(String, usize), WxErr> {
    let scene = request
        .scene
        .as_deref()
        .filter(|scene| valid_scene(scene))
        .ok_or(WxErr::INVALID_ARGS)?;
    let page = request.page.as_deref().unwrap_or("");
    // WeChat wants pages without a leading slash ("pages/index/index").
    if page.starts_with('/') || page.chars().any(char::is_whitespace) {
        return Err(WxErr::INVALID_PAGE);
    }
    let env_version = request.env_version.as_deref().unwrap_or("release");
    if !matches!(env_version, "release" | "trial" | "develop") {
        return Err(WxErr::INVALID_ARGS);
    }
    let width = request
        .width
        .map_or(DEFAULT_WIDTH, |w| (w as usize).clamp(280, 1280));
    let content = Serializer::new(String::from("wxauth-sim://wxacode?"))
        .append_pair("appid", appid)
        .append_pair("page", page)
        .append_pair("scene", scene)
        .append_pair("env_version", env_version)
        .finish();
    Ok((content, width))
}

fn valid_scene(scene: &str) -> bool {
    let length = scene.chars().count();
    (1..=MAX_SCENE_CHARS).contains(&length)
        && scene
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || SCENE_SYMBOLS.contains(c))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn request(scene: &str, page: Option<&str>) -> CodeRequest {
        CodeRequest {
            scene: Some(scene.to_owned()),
            page: page.map(str::to_owned),
            env_version: None,
            width: None,
        }
    }

    #[test]
    fn scenes_over_32_characters_or_with_odd_characters_are_invalid_args() {
        assert!(plan("wx1", &request(&"a".repeat(32), None)).is_ok());
        assert_eq!(
            plan("wx1", &request(&"a".repeat(33), None)),
            Err(WxErr::INVALID_ARGS)
        );
        assert_eq!(
            plan("wx1", &request("登录", None)),
            Err(WxErr::INVALID_ARGS)
        );
        assert_eq!(plan("wx1", &request("a b", None)), Err(WxErr::INVALID_ARGS));
    }

    #[test]
    fn a_page_with_a_leading_slash_is_invalid_page() {
        assert_eq!(
            plan("wx1", &request("abc", Some("/pages/index/index"))),
            Err(WxErr::INVALID_PAGE)
        );
        assert!(plan("wx1", &request("abc", Some("pages/index/index"))).is_ok());
    }
}
