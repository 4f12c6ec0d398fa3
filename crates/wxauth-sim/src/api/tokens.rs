//! `GET /cgi-bin/token` (plain) and `POST /cgi-bin/stable_token` (stable) access tokens.
//!
//! The two kinds are independent. Plain: every fetch issues a new token and the previous one
//! keeps working only five more minutes. Stable: the current token is returned while valid
//! (`expires_in` counting down); a forced refresh replaces it at once, at most every 30 s.

use std::time::Duration;

use actix_web::{HttpRequest, HttpResponse, web};
use serde::{Deserialize, Serialize};

use super::query::Query;
use super::reply::{self, Flavor};
use super::{body, guard};
use crate::clock::SimTime;
use crate::faults::Endpoint;
use crate::state::SimState;
use crate::store::app_tokens::{PLAIN_OVERLAP, TOKEN_TTL};
use crate::store::{Inner, authenticate};
use crate::wx_error::WxErr;

/// WeChat's daily quota of `/cgi-bin/token` per account.
const PLAIN_DAILY_QUOTA: u32 = 2000;
/// "About 20 per day" forced stable refreshes.
const FORCED_DAILY_QUOTA: u32 = 20;
const FORCE_INTERVAL: Duration = Duration::from_secs(30);

#[derive(Serialize)]
struct TokenReply {
    access_token: String,
    expires_in: u64,
}

pub(crate) async fn plain(req: HttpRequest, state: web::Data<SimState>) -> HttpResponse {
    if let Some(response) = guard::enter(&state, Endpoint::Token, Flavor::Json).await {
        return response;
    }
    let query = Query::parse(req.query_string());
    let rate_limits = state.rate_limits_on();
    let result = state.with_world(|world, now| plain_token(world, &query, now, rate_limits));
    reply::json(Flavor::Json, result)
}

fn plain_token(
    world: &mut Inner,
    query: &Query<'_>,
    now: SimTime,
    rate_limits: bool,
) -> Result<TokenReply, WxErr> {
    // A wrong secret on this API is famously 40001, not 40125.
    let app = authenticate(
        &mut world.apps,
        query.get("appid"),
        query.get("secret"),
        WxErr::INVALID_CREDENTIAL,
    )?;
    if query.get("grant_type") != Some("client_credential") {
        return Err(WxErr::INVALID_GRANT_TYPE);
    }
    if rate_limits && !app.tokens.plain_today.admit(now, PLAIN_DAILY_QUOTA) {
        return Err(WxErr::DAILY_QUOTA);
    }
    if let Some(previous) = app.tokens.plain.take() {
        world.app_tokens.revoke(&previous, now.plus(PLAIN_OVERLAP));
    }
    let token = world.app_tokens.issue(&app.app.appid, now);
    app.tokens.plain = Some(token.clone());
    app.fetches.plain += 1;
    Ok(TokenReply {
        access_token: token,
        expires_in: TOKEN_TTL.as_secs(),
    })
}

#[derive(Deserialize)]
struct StableRequest {
    #[serde(default)]
    grant_type: Option<String>,
    #[serde(default)]
    appid: Option<String>,
    #[serde(default)]
    secret: Option<String>,
    #[serde(default)]
    force_refresh: Option<bool>,
}

pub(crate) async fn stable(state: web::Data<SimState>, payload: web::Payload) -> HttpResponse {
    if let Some(response) = guard::enter(&state, Endpoint::StableToken, Flavor::Json).await {
        return response;
    }
    let body = body::read(payload).await;
    let rate_limits = state.rate_limits_on();
    let result = state.with_world(|world, now| {
        let request: StableRequest = body::parse_json(&body)?;
        stable_token(world, &request, now, rate_limits)
    });
    reply::json(Flavor::Json, result)
}

fn stable_token(
    world: &mut Inner,
    request: &StableRequest,
    now: SimTime,
    rate_limits: bool,
) -> Result<TokenReply, WxErr> {
    let non_empty = |value: &Option<String>| value.clone().filter(|v| !v.is_empty());
    let app = authenticate(
        &mut world.apps,
        non_empty(&request.appid).as_deref(),
        non_empty(&request.secret).as_deref(),
        WxErr::INVALID_APPSECRET,
    )?;
    if request.grant_type.as_deref() != Some("client_credential") {
        return Err(WxErr::INVALID_GRANT_TYPE);
    }
    let force = request.force_refresh.unwrap_or(false);
    let slots = &mut app.tokens;
    if !force {
        if let Some(current) = &slots.stable
            && let Some(expires_in) = world.app_tokens.remaining(current, now)
        {
            app.fetches.stable += 1;
            return Ok(TokenReply {
                access_token: current.clone(),
                expires_in,
            });
        }
    } else if rate_limits {
        if slots
            .last_forced
            .is_some_and(|at| now < at.plus(FORCE_INTERVAL))
        {
            return Err(WxErr::FREQUENCY_LIMIT);
        }
        if !slots.forced_today.admit(now, FORCED_DAILY_QUOTA) {
            return Err(WxErr::DAILY_QUOTA);
        }
    }
    // Forced, or no valid token: the old one (if any) stops working now.
    if let Some(previous) = slots.stable.take() {
        world.app_tokens.revoke(&previous, now);
    }
    let token = world.app_tokens.issue(&app.app.appid, now);
    slots.stable = Some(token.clone());
    if force {
        slots.last_forced = Some(now);
        app.fetches.forced += 1;
    }
    app.fetches.stable += 1;
    Ok(TokenReply {
        access_token: token,
        expires_in: TOKEN_TTL.as_secs(),
    })
}
