//! Rendering answers the way WeChat does: errors are HTTP 200 with `{"errcode","errmsg"}`, and
//! every errmsg carries a `rid` suffix that changes per request (so clients must never compare
//! errmsg texts).

use actix_web::HttpResponse;
use actix_web::http::StatusCode;
use serde::Serialize;

use crate::wx_error::WxErr;

/// WeChat's own (non-standard) content type for JSON answers.
pub(crate) const JSON: &str = "application/json; encoding=utf-8";
/// What `jscode2session` answers with, JSON body notwithstanding.
pub(crate) const TEXT_PLAIN: &str = "text/plain";

/// The content type an endpoint uses for its JSON bodies, errors included.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Flavor {
    Json,
    TextPlain,
}

impl Flavor {
    pub(crate) fn content_type(self) -> &'static str {
        match self {
            Self::Json => JSON,
            Self::TextPlain => TEXT_PLAIN,
        }
    }
}

pub(crate) fn error_body(err: WxErr) -> String {
    serde_json::json!({
        "errcode": err.0,
        "errmsg": format!("{}, rid: {}", err.message(), crate::ids::rid()),
    })
    .to_string()
}

pub(crate) fn error(flavor: Flavor, err: WxErr, status: StatusCode) -> HttpResponse {
    HttpResponse::build(status)
        .content_type(flavor.content_type())
        .body(error_body(err))
}

/// A success body as serialised, or the WeChat error.
pub(crate) fn json<T: Serialize>(flavor: Flavor, result: Result<T, WxErr>) -> HttpResponse {
    let body = result.and_then(|body| serde_json::to_vec(&body).map_err(|_| WxErr::BUSY));
    match body {
        Ok(bytes) => HttpResponse::Ok()
            .content_type(flavor.content_type())
            .body(bytes),
        Err(err) => error(flavor, err, StatusCode::OK),
    }
}

/// The `{"errcode":0,"errmsg":"ok"}` of APIs that answer nothing else.
#[derive(Debug, Serialize)]
pub(crate) struct OkReply {
    pub(crate) errcode: i64,
    pub(crate) errmsg: &'static str,
}

impl OkReply {
    pub(crate) const OK: Self = Self {
        errcode: 0,
        errmsg: "ok",
    };
}

pub(crate) fn png(bytes: Vec<u8>) -> HttpResponse {
    HttpResponse::Ok().content_type("image/png").body(bytes)
}
