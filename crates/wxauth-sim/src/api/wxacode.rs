//! `POST /wxa/getwxacodeunlimit`: a Mini Program code for web scan-login.
//!
//! The image is a PNG on success and a JSON error otherwise; clients tell them apart by content
//! type. The simulator draws a plain QR code encoding what a real code would point to (see
//! `mini_code`), which `/__sim/wxacode-scan` reads back.

use actix_web::{HttpRequest, HttpResponse, web};
use serde::Deserialize;

use super::query::Query;
use super::reply::{self, Flavor};
use super::{body, guard};
use crate::config::{SimApp, SimAppKind};
use crate::faults::Endpoint;
use crate::mini_code::{self, MiniCode};
use crate::state::SimState;
use crate::store::{authorize, require_kind};
use crate::wx_error::WxErr;

const DEFAULT_WIDTH: usize = 430;

#[derive(Deserialize)]
struct CodeRequest {
    #[serde(default)]
    scene: Option<String>,
    #[serde(default)]
    page: Option<String>,
    /// WeChat's default is `true`: the page must exist in the published version.
    #[serde(default)]
    check_path: Option<bool>,
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
        plan(&app.app, &request)
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
///
/// Order: scene (40097 missing or over 32 characters, 40129 odd characters), page (41030 for a
/// malformed one, or with `check_path` one the app has not published), `env_version` (40097).
fn plan(app: &SimApp, request: &CodeRequest) -> Result<(String, usize), WxErr> {
    let scene = request.scene.as_deref().unwrap_or("");
    mini_code::check_scene(scene)?;
    // No page is the home page, which every Mini Program has.
    let page = request.page.as_deref().unwrap_or("");
    mini_code::check_page(page)?;
    let check_path = request.check_path.unwrap_or(true);
    if check_path && !page.is_empty() && !app.pages.iter().any(|published| published == page) {
        return Err(WxErr::INVALID_PAGE);
    }
    let env_version = request.env_version.as_deref().unwrap_or("release");
    if !mini_code::ENV_VERSIONS.contains(&env_version) {
        return Err(WxErr::INVALID_ARGS);
    }
    let width = request
        .width
        .map_or(DEFAULT_WIDTH, |w| (w as usize).clamp(280, 1280));
    let code = MiniCode {
        appid: app.appid.clone(),
        page: page.to_owned(),
        scene: scene.to_owned(),
        env_version: env_version.to_owned(),
    };
    Ok((code.to_content(), width))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn app() -> SimApp {
        SimApp::mini_program("wx1", "s1")
    }

    fn request(scene: &str, page: Option<&str>) -> CodeRequest {
        CodeRequest {
            scene: Some(scene.to_owned()),
            page: page.map(str::to_owned),
            check_path: None,
            env_version: None,
            width: None,
        }
    }

    fn unchecked(scene: &str, page: &str) -> CodeRequest {
        CodeRequest {
            check_path: Some(false),
            ..request(scene, Some(page))
        }
    }

    #[test]
    fn scenes_over_32_characters_or_missing_are_invalid_args() {
        assert!(plan(&app(), &request(&"a".repeat(32), None)).is_ok());
        assert_eq!(
            plan(&app(), &request(&"a".repeat(33), None)),
            Err(WxErr::INVALID_ARGS)
        );
        assert_eq!(plan(&app(), &request("", None)), Err(WxErr::INVALID_ARGS));
        let missing = CodeRequest {
            scene: None,
            ..request("", None)
        };
        assert_eq!(plan(&app(), &missing), Err(WxErr::INVALID_ARGS));
    }

    #[test]
    fn scenes_with_odd_characters_are_invalid_scene() {
        assert_eq!(
            plan(&app(), &request("登录", None)),
            Err(WxErr::INVALID_SCENE)
        );
        assert_eq!(
            plan(&app(), &request("a b", None)),
            Err(WxErr::INVALID_SCENE)
        );
        assert_eq!(
            plan(&app(), &request("a%20b", None)),
            Err(WxErr::INVALID_SCENE)
        );
        assert!(plan(&app(), &request("a=1&b=2!#$'()*+,/:;?@-._~", None)).is_ok());
    }

    #[test]
    fn a_page_with_a_leading_slash_is_invalid_page() {
        assert_eq!(
            plan(&app(), &request("abc", Some("/pages/index/index"))),
            Err(WxErr::INVALID_PAGE)
        );
        assert!(plan(&app(), &request("abc", Some("pages/index/index"))).is_ok());
    }

    #[test]
    fn malformed_pages_are_invalid_page_even_unchecked() {
        for page in [
            "/pages/index/index",
            "pages/login/index?scene=abc",
            "pages/login/index ",
            "pages/ login/index",
        ] {
            assert_eq!(
                plan(&app(), &unchecked("abc", page)),
                Err(WxErr::INVALID_PAGE),
                "{page:?}"
            );
        }
    }

    #[test]
    fn checked_pages_must_be_published_and_unchecked_ones_need_not() {
        assert!(plan(&app(), &request("abc", Some("pages/login/index"))).is_ok());
        assert_eq!(
            plan(&app(), &request("abc", Some("pages/unreleased/index"))),
            Err(WxErr::INVALID_PAGE)
        );
        let explicit = CodeRequest {
            check_path: Some(true),
            ..request("abc", Some("pages/unreleased/index"))
        };
        assert_eq!(plan(&app(), &explicit), Err(WxErr::INVALID_PAGE));
        assert!(plan(&app(), &unchecked("abc", "pages/unreleased/index")).is_ok());

        let custom = app().with_pages(["pages/scan/index"]);
        assert!(plan(&custom, &request("abc", Some("pages/scan/index"))).is_ok());
        assert_eq!(
            plan(&custom, &request("abc", Some("pages/login/index"))),
            Err(WxErr::INVALID_PAGE)
        );
    }

    #[test]
    fn the_home_page_is_always_fine() {
        let nothing_published = app().with_pages(Vec::<String>::new());
        assert!(plan(&nothing_published, &request("abc", None)).is_ok());
        assert!(plan(&nothing_published, &request("abc", Some(""))).is_ok());
    }

    #[test]
    fn the_content_is_a_mini_code_of_the_app() {
        let (content, width) = plan(&app(), &request("a=1", Some("pages/login/index"))).unwrap();
        assert_eq!(width, DEFAULT_WIDTH);
        assert_eq!(
            MiniCode::parse(&content),
            Some(MiniCode {
                appid: "wx1".to_owned(),
                page: "pages/login/index".to_owned(),
                scene: "a=1".to_owned(),
                env_version: "release".to_owned(),
            })
        );
    }

    #[test]
    fn env_version_must_be_a_known_build() {
        let beta = CodeRequest {
            env_version: Some("beta".to_owned()),
            ..request("abc", None)
        };
        assert_eq!(plan(&app(), &beta), Err(WxErr::INVALID_ARGS));
    }
}
