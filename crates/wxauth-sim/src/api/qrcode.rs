//! Parametric QR codes: `POST /cgi-bin/qrcode/create` and the image at `/cgi-bin/showqrcode`.
//!
//! Every invalid request body (unknown `action_name`, missing scene, scene out of range,
//! non-positive `expire_seconds`) answers 40053 "invalid action info".

use std::time::Duration;

use actix_web::{HttpRequest, HttpResponse, web};
use serde::Serialize;
use serde_json::Value;

use super::query::Query;
use super::reply::{self, Flavor};
use super::{body, guard};
use crate::clock::SimTime;
use crate::config::SimAppKind;
use crate::faults::Endpoint;
use crate::state::SimState;
use crate::store::tickets::{QrTicket, Scene};
use crate::store::{Inner, authorize, require_kind};
use crate::wx_error::WxErr;

const DEFAULT_EXPIRE_SECONDS: u64 = 60;
/// 30 days; longer requests are clamped to it, as WeChat does.
const MAX_EXPIRE_SECONDS: u64 = 2_592_000;
/// Temporary scene ids are 32-bit positive integers.
const MAX_TEMP_SCENE_ID: u64 = i32::MAX as u64;
const MAX_PERMANENT_SCENE_ID: u64 = 100_000;
const MAX_SCENE_STR_CHARS: usize = 64;
/// Pixels per QR module of `showqrcode` images.
const MODULE_PX: usize = 8;

#[derive(Serialize)]
struct CreateReply {
    ticket: String,
    /// Absent for permanent codes.
    #[serde(skip_serializing_if = "Option::is_none")]
    expire_seconds: Option<u64>,
    url: String,
}

pub(crate) async fn create(
    req: HttpRequest,
    state: web::Data<SimState>,
    payload: web::Payload,
) -> HttpResponse {
    if let Some(response) = guard::enter(&state, Endpoint::QrcodeCreate, Flavor::Json).await {
        return response;
    }
    let body = body::read(payload).await;
    let query = Query::parse(req.query_string());
    let result =
        state.with_world(|world, now| create_ticket(world, query.get("access_token"), &body, now));
    reply::json(Flavor::Json, result)
}

fn create_ticket(
    world: &mut Inner,
    access_token: Option<&str>,
    body: &Result<web::Bytes, WxErr>,
    now: SimTime,
) -> Result<CreateReply, WxErr> {
    let app = authorize(&mut world.apps, &world.app_tokens, access_token, now)?;
    require_kind(app, SimAppKind::OfficialAccount)?;
    let request: Value = body::parse_json(body)?;
    let (scene, expire_seconds) = parse_request(&request)?;
    let url = crate::ids::qr_url();
    let ticket = world.tickets.insert(
        QrTicket {
            appid: app.app.appid.clone(),
            scene,
            expires_at: expire_seconds.map(|secs| now.plus(Duration::from_secs(secs))),
            url: url.clone(),
        },
        now,
    );
    Ok(CreateReply {
        ticket,
        expire_seconds,
        url,
    })
}

/// The scene and, for temporary codes, the lifetime in seconds.
fn parse_request(request: &Value) -> Result<(Scene, Option<u64>), WxErr> {
    let invalid = WxErr::INVALID_ACTION_INFO;
    let action = request
        .get("action_name")
        .and_then(Value::as_str)
        .ok_or(invalid)?;
    let scene = request.pointer("/action_info/scene").ok_or(invalid)?;
    let scene_id = |max: u64| {
        scene
            .get("scene_id")
            .and_then(Value::as_u64)
            .filter(|id| (1..=max).contains(id))
            .and_then(|id| u32::try_from(id).ok())
            .map(Scene::Id)
            .ok_or(invalid)
    };
    let scene_str = || {
        scene
            .get("scene_str")
            .and_then(Value::as_str)
            .filter(|s| (1..=MAX_SCENE_STR_CHARS).contains(&s.chars().count()))
            .map(|s| Scene::Str(s.to_owned()))
            .ok_or(invalid)
    };
    match action {
        "QR_SCENE" => Ok((scene_id(MAX_TEMP_SCENE_ID)?, Some(expire_seconds(request)?))),
        "QR_STR_SCENE" => Ok((scene_str()?, Some(expire_seconds(request)?))),
        "QR_LIMIT_SCENE" => Ok((scene_id(MAX_PERMANENT_SCENE_ID)?, None)),
        "QR_LIMIT_STR_SCENE" => Ok((scene_str()?, None)),
        _ => Err(invalid),
    }
}

fn expire_seconds(request: &Value) -> Result<u64, WxErr> {
    match request.get("expire_seconds") {
        None | Some(Value::Null) => Ok(DEFAULT_EXPIRE_SECONDS),
        Some(value) => value
            .as_u64()
            .filter(|secs| *secs > 0)
            .map(|secs| secs.min(MAX_EXPIRE_SECONDS))
            .ok_or(WxErr::INVALID_ACTION_INFO),
    }
}

pub(crate) async fn show(req: HttpRequest, state: web::Data<SimState>) -> HttpResponse {
    if let Some(response) = guard::enter(&state, Endpoint::Showqrcode, Flavor::Json).await {
        return response;
    }
    let query = Query::parse(req.query_string());
    let content = query.get("ticket").and_then(|ticket| {
        state.with_world(|world, now| {
            world
                .tickets
                .get(ticket)
                .filter(|qr| !qr.is_expired(now))
                .map(|qr| qr.url.clone())
        })
    });
    let Some(content) = content else {
        return HttpResponse::NotFound()
            .content_type("text/plain")
            .body("ticket not found or expired");
    };
    // Rendering is the expensive part and happens outside the lock.
    match crate::qr_image::render_png(content.as_bytes(), MODULE_PX) {
        Ok(png) => reply::png(png),
        Err(err) => {
            tracing::warn!(%err, "cannot render QR image");
            HttpResponse::InternalServerError()
                .content_type("text/plain")
                .body("cannot render image")
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn parse(request: Value) -> Result<(Scene, Option<u64>), WxErr> {
        parse_request(&request)
    }

    #[test]
    fn temporary_codes_default_to_60_seconds_and_clamp_to_30_days() {
        let scene = json!({"scene": {"scene_id": 7}});
        assert_eq!(
            parse(json!({"action_name": "QR_SCENE", "action_info": scene})),
            Ok((Scene::Id(7), Some(60)))
        );
        assert_eq!(
            parse(
                json!({"action_name": "QR_SCENE", "expire_seconds": 9_999_999, "action_info": scene})
            ),
            Ok((Scene::Id(7), Some(2_592_000)))
        );
    }

    #[test]
    fn permanent_codes_have_no_expiry_and_bounded_ids() {
        let request = |id: u64| json!({"action_name": "QR_LIMIT_SCENE", "action_info": {"scene": {"scene_id": id}}});
        assert_eq!(parse(request(100_000)), Ok((Scene::Id(100_000), None)));
        assert_eq!(parse(request(100_001)), Err(WxErr::INVALID_ACTION_INFO));
        assert_eq!(parse(request(0)), Err(WxErr::INVALID_ACTION_INFO));
    }

    #[test]
    fn bad_requests_are_invalid_action_info() {
        let long = "x".repeat(65);
        for request in [
            json!({"action_name": "QR_NOPE", "action_info": {"scene": {"scene_id": 1}}}),
            json!({"action_name": "QR_SCENE"}),
            json!({"action_name": "QR_SCENE", "action_info": {"scene": {"scene_id": 2_147_483_648u64}}}),
            json!({"action_name": "QR_STR_SCENE", "action_info": {"scene": {"scene_str": ""}}}),
            json!({"action_name": "QR_LIMIT_STR_SCENE", "action_info": {"scene": {"scene_str": long}}}),
            json!({"action_name": "QR_SCENE", "expire_seconds": 0, "action_info": {"scene": {"scene_id": 1}}}),
        ] {
            assert_eq!(
                parse(request.clone()),
                Err(WxErr::INVALID_ACTION_INFO),
                "{request}"
            );
        }
    }
}
