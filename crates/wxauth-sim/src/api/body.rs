//! POST bodies: read in full (bounded), then parsed after the access-token check, which WeChat
//! performs first.

use actix_web::web;
use serde::de::DeserializeOwned;

use crate::wx_error::WxErr;

/// Far above anything a real request carries.
const BODY_LIMIT: usize = 1 << 20;

/// The raw body; an unreadable or oversized body is a format error.
pub(crate) async fn read(payload: web::Payload) -> Result<web::Bytes, WxErr> {
    match payload.to_bytes_limited(BODY_LIMIT).await {
        Ok(Ok(bytes)) => Ok(bytes),
        Ok(Err(_)) | Err(_) => Err(WxErr::DATA_FORMAT),
    }
}

/// 44002 for an empty body, 47001 for anything that is not the expected JSON.
pub(crate) fn parse_json<T: DeserializeOwned>(
    body: &Result<web::Bytes, WxErr>,
) -> Result<T, WxErr> {
    let bytes = body.as_ref().map_err(|err| *err)?;
    if bytes.iter().all(u8::is_ascii_whitespace) {
        return Err(WxErr::EMPTY_POST_DATA);
    }
    serde_json::from_slice(bytes).map_err(|_| WxErr::DATA_FORMAT)
}
