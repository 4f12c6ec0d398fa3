//! `/__sim/wxacode-scan`: a WeChat user scans a Mini Program code.

use actix_web::{HttpResponse, web};
use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use serde::Deserialize;

use crate::error::SimError;
use crate::state::SimState;

/// Either the image the service served (`image`), or what a code would carry (`appid`,
/// `scene` and optionally `page`).
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct WxaCodeScanRequest {
    openid: String,
    /// Base64 of the image bytes.
    #[serde(default)]
    image: Option<String>,
    #[serde(default)]
    appid: Option<String>,
    #[serde(default)]
    scene: Option<String>,
    #[serde(default)]
    page: Option<String>,
}

pub(super) async fn scan(
    state: web::Data<SimState>,
    request: web::Json<WxaCodeScanRequest>,
) -> Result<HttpResponse, SimError> {
    let request = request.into_inner();
    let scan = match (request.image, request.scene) {
        (Some(image), None) => {
            if request.appid.is_some() || request.page.is_some() {
                return Err(SimError::invalid(
                    "appid and page come from the image: give them only with scene",
                ));
            }
            let png = decode_image(&image)?;
            state.scan_wxacode_image(&request.openid, &png)?
        }
        (None, Some(scene)) => {
            let appid = request
                .appid
                .ok_or_else(|| SimError::invalid("scene needs the appid of the Mini Program"))?;
            state.scan_wxacode(&appid, &request.openid, &scene, request.page.as_deref())?
        }
        _ => return Err(SimError::invalid("give exactly one of image and scene")),
    };
    Ok(HttpResponse::Ok().json(scan))
}

/// Standard base64; a `data:image/png;base64,` prefix and line breaks (as `base64` wraps its
/// output) are tolerated.
fn decode_image(text: &str) -> Result<Vec<u8>, SimError> {
    let text = match text.split_once(";base64,") {
        Some((header, data)) if header.starts_with("data:") => data,
        _ => text,
    };
    let compact: String = text.chars().filter(|c| !c.is_ascii_whitespace()).collect();
    STANDARD
        .decode(compact)
        .map_err(|err| SimError::invalid(format!("image is not base64: {err}")))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn images_are_base64_with_an_optional_data_url_header_and_line_breaks() {
        assert_eq!(decode_image("iVBORw0K").unwrap(), b"\x89PNG\r\n");
        assert_eq!(
            decode_image("data:image/png;base64,iVBO\nRw0K\n").unwrap(),
            b"\x89PNG\r\n"
        );
        assert_eq!(decode_image("not base64!").unwrap_err().http_status(), 400);
    }
}
