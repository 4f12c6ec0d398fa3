//! `POST /wxa/business/getuserphonenumber`: the number behind a `getPhoneNumber` code.

use actix_web::{HttpRequest, HttpResponse, web};
use serde::{Deserialize, Serialize};

use super::query::Query;
use super::reply::{self, Flavor};
use super::{body, guard};
use crate::clock::SimTime;
use crate::config::SimAppKind;
use crate::faults::Endpoint;
use crate::state::SimState;
use crate::store::{Inner, authorize, require_kind};
use crate::wx_error::WxErr;

#[derive(Deserialize)]
struct PhoneRequest {
    #[serde(default)]
    code: Option<String>,
    /// When present WeChat checks the code belongs to this user.
    #[serde(default)]
    openid: Option<String>,
}

#[derive(Serialize)]
struct PhoneReply {
    errcode: i64,
    errmsg: &'static str,
    phone_info: PhoneInfo,
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct PhoneInfo {
    phone_number: String,
    pure_phone_number: String,
    /// A string in WeChat's examples.
    country_code: String,
    watermark: Watermark,
}

#[derive(Serialize)]
struct Watermark {
    timestamp: u64,
    appid: String,
}

pub(crate) async fn handle(
    req: HttpRequest,
    state: web::Data<SimState>,
    payload: web::Payload,
) -> HttpResponse {
    if let Some(response) = guard::enter(&state, Endpoint::Getuserphonenumber, Flavor::Json).await {
        return response;
    }
    let body = body::read(payload).await;
    let query = Query::parse(req.query_string());
    let result =
        state.with_world(|world, now| phone_number(world, query.get("access_token"), &body, now));
    reply::json(Flavor::Json, result)
}

fn phone_number(
    world: &mut Inner,
    access_token: Option<&str>,
    body: &Result<web::Bytes, WxErr>,
    now: SimTime,
) -> Result<PhoneReply, WxErr> {
    let app = authorize(&mut world.apps, &world.app_tokens, access_token, now)?;
    require_kind(app, SimAppKind::MiniProgram)?;
    let request: PhoneRequest = body::parse_json(body)?;
    let code = request
        .code
        .as_deref()
        .filter(|c| !c.is_empty())
        .ok_or(WxErr::INVALID_CODE)?;
    // Unlike login codes, a used phone code is simply "invalid" (40029).
    let entry = app
        .phone_codes
        .find(code, now)
        .map_err(|_| WxErr::INVALID_CODE)?;
    if entry.is_used() {
        return Err(WxErr::INVALID_CODE);
    }
    if let Some(openid) = request.openid.as_deref().filter(|o| !o.is_empty())
        && openid != entry.grant
    {
        return Err(WxErr::INVALID_CODE);
    }
    entry.mark_used();
    let phone = app
        .users
        .get(&entry.grant)
        .and_then(|record| record.user.phone.as_ref())
        .ok_or(WxErr::INVALID_CODE)?;
    Ok(PhoneReply {
        errcode: 0,
        errmsg: "ok",
        phone_info: PhoneInfo {
            phone_number: phone.phone_number(),
            pure_phone_number: phone.pure_phone_number.clone(),
            country_code: phone.country_code.clone(),
            watermark: Watermark {
                timestamp: now.unix_secs(),
                appid: app.app.appid.clone(),
            },
        },
    })
}
