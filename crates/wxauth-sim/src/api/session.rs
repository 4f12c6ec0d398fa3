//! `GET /wxa/checksession` and `GET /wxa/resetusersessionkey`: server-side session-key checks,
//! authenticated by `hex(hmac_sha256(key = session_key text, ""))`.

use actix_web::{HttpRequest, HttpResponse, web};
use serde::Serialize;

use super::guard;
use super::query::Query;
use super::reply::{self, Flavor, OkReply};
use crate::clock::SimTime;
use crate::config::SimAppKind;
use crate::crypto::user_data::checksession_signature;
use crate::faults::Endpoint;
use crate::state::SimState;
use crate::store::users::UserRecord;
use crate::store::{Inner, authorize, require_kind};
use crate::wx_error::WxErr;

#[derive(Serialize)]
struct ResetReply {
    openid: String,
    session_key: String,
    errcode: i64,
    errmsg: &'static str,
}

pub(crate) async fn check(req: HttpRequest, state: web::Data<SimState>) -> HttpResponse {
    if let Some(response) = guard::enter(&state, Endpoint::Checksession, Flavor::Json).await {
        return response;
    }
    let query = Query::parse(req.query_string());
    let result =
        state.with_world(|world, now| verified_user(world, &query, now).map(|_| OkReply::OK));
    reply::json(Flavor::Json, result)
}

pub(crate) async fn reset(req: HttpRequest, state: web::Data<SimState>) -> HttpResponse {
    if let Some(response) = guard::enter(&state, Endpoint::Resetusersessionkey, Flavor::Json).await
    {
        return response;
    }
    let query = Query::parse(req.query_string());
    let result = state.with_world(|world, now| {
        let record = verified_user(world, &query, now)?;
        let session_key = crate::ids::session_key();
        record.session_key = Some(session_key.clone());
        Ok(ResetReply {
            openid: record.user.openid.clone(),
            session_key,
            errcode: 0,
            errmsg: "ok",
        })
    });
    reply::json(Flavor::Json, result)
}

/// The user whose current session key produced `signature`.
fn verified_user<'a>(
    world: &'a mut Inner,
    query: &Query<'_>,
    now: SimTime,
) -> Result<&'a mut UserRecord, WxErr> {
    let app = authorize(
        &mut world.apps,
        &world.app_tokens,
        query.get("access_token"),
        now,
    )?;
    require_kind(app, SimAppKind::MiniProgram)?;
    let openid = query.get("openid").ok_or(WxErr::OPENID_MISSING)?;
    let record = app.users.get_mut(openid).ok_or(WxErr::INVALID_OPENID)?;
    if query.get("sig_method") != Some("hmac_sha256") {
        return Err(WxErr::INVALID_ARGS);
    }
    let signature = query.get("signature").ok_or(WxErr::INVALID_SIGNATURE)?;
    // No login yet means no session key: nothing can match.
    let session_key = record
        .session_key
        .as_deref()
        .ok_or(WxErr::INVALID_SIGNATURE)?;
    if !checksession_signature(session_key).eq_ignore_ascii_case(signature) {
        return Err(WxErr::INVALID_SIGNATURE);
    }
    Ok(record)
}
