//! `GET /sns/jscode2session`: Mini Program login.

use actix_web::{HttpRequest, HttpResponse, web};
use serde::Serialize;

use super::guard;
use super::query::Query;
use super::reply::{self, Flavor};
use crate::clock::SimTime;
use crate::config::SimAppKind;
use crate::faults::Endpoint;
use crate::state::SimState;
use crate::store::{Inner, authenticate, require_kind};
use crate::wx_error::WxErr;

/// Success has no `errcode` at all: a quirk clients must handle.
#[derive(Serialize)]
struct Session {
    session_key: String,
    openid: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    unionid: Option<String>,
}

pub(crate) async fn handle(req: HttpRequest, state: web::Data<SimState>) -> HttpResponse {
    // Every answer of this endpoint, errors included, is JSON labelled text/plain.
    if let Some(response) = guard::enter(&state, Endpoint::Jscode2session, Flavor::TextPlain).await
    {
        return response;
    }
    let query = Query::parse(req.query_string());
    let rate_limits = state.rate_limits_on();
    let result = state.with_world(|world, now| code2session(world, &query, now, rate_limits));
    reply::json(Flavor::TextPlain, result)
}

fn code2session(
    world: &mut Inner,
    query: &Query<'_>,
    now: SimTime,
    rate_limits: bool,
) -> Result<Session, WxErr> {
    let app = authenticate(
        &mut world.apps,
        query.get("appid"),
        query.get("secret"),
        WxErr::INVALID_APPSECRET,
    )?;
    if query.get("grant_type") != Some("authorization_code") {
        return Err(WxErr::INVALID_GRANT_TYPE);
    }
    require_kind(app, SimAppKind::MiniProgram)?;
    let code = query.get("js_code").ok_or(WxErr::CODE_MISSING)?;
    let entry = app
        .login_codes
        .find(code, now)
        .map_err(|_| WxErr::INVALID_CODE)?;
    let record = app.users.get_mut(&entry.grant).ok_or(WxErr::INVALID_CODE)?;
    // The limit is per user, so it can only be applied once the code names the user. A refused
    // call does not consume the code: WeChat rejected the request before looking at it.
    if rate_limits && !record.logins.admit(now) {
        return Err(WxErr::FREQUENCY_LIMIT);
    }
    if entry.is_used() {
        return Err(WxErr::CODE_USED);
    }
    entry.mark_used();
    if record.user.high_risk {
        return Err(WxErr::HIGH_RISK_USER);
    }
    // Every login rotates the session key; the previous one stops decrypting.
    let session_key = crate::ids::session_key();
    record.session_key = Some(session_key.clone());
    Ok(Session {
        session_key,
        openid: record.user.openid.clone(),
        unionid: record.user.unionid.clone(),
    })
}
