//! Clock, tokens, statistics, session-key helpers, reset and health.

use std::time::{Duration, UNIX_EPOCH};

use actix_web::{HttpResponse, web};
use serde::Deserialize;
use serde_json::{Value, json};

use crate::error::SimError;
use crate::state::SimState;

pub(super) async fn healthz() -> HttpResponse {
    HttpResponse::Ok().json(json!({ "status": "ok" }))
}

pub(super) async fn stats(state: web::Data<SimState>) -> HttpResponse {
    HttpResponse::Ok().json(state.stats())
}

fn now_json(state: &SimState) -> Value {
    let now = state
        .now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_secs());
    json!({ "now": now })
}

pub(super) async fn clock(state: web::Data<SimState>) -> HttpResponse {
    HttpResponse::Ok().json(now_json(&state))
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct AdvanceRequest {
    seconds: u64,
}

pub(super) async fn advance_clock(
    state: web::Data<SimState>,
    request: web::Json<AdvanceRequest>,
) -> HttpResponse {
    state.advance_clock(Duration::from_secs(request.seconds));
    HttpResponse::Ok().json(now_json(&state))
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct AppRequest {
    appid: String,
}

pub(super) async fn invalidate_access_tokens(
    state: web::Data<SimState>,
    request: web::Json<AppRequest>,
) -> Result<HttpResponse, SimError> {
    state.invalidate_access_tokens(&request.appid)?;
    Ok(HttpResponse::Ok().json(json!({ "ok": true })))
}

pub(super) async fn expire_access_tokens(
    state: web::Data<SimState>,
    request: web::Json<AppRequest>,
) -> Result<HttpResponse, SimError> {
    state.expire_access_tokens(&request.appid)?;
    Ok(HttpResponse::Ok().json(json!({ "ok": true })))
}

#[derive(Deserialize)]
pub(super) struct UserQuery {
    appid: String,
    openid: String,
}

pub(super) async fn session_key(
    state: web::Data<SimState>,
    query: web::Query<UserQuery>,
) -> Result<HttpResponse, SimError> {
    let session_key = state.session_key(&query.appid, &query.openid)?;
    Ok(HttpResponse::Ok().json(json!({ "session_key": session_key })))
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct EncryptRequest {
    appid: String,
    openid: String,
    data: Value,
}

pub(super) async fn encrypt_user_data(
    state: web::Data<SimState>,
    request: web::Json<EncryptRequest>,
) -> Result<HttpResponse, SimError> {
    let EncryptRequest {
        appid,
        openid,
        data,
    } = request.into_inner();
    let (encrypted_data, iv) = state.encrypt_user_data(&appid, &openid, data)?;
    Ok(HttpResponse::Ok().json(json!({ "encryptedData": encrypted_data, "iv": iv })))
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct SignRequest {
    appid: String,
    openid: String,
    #[serde(rename = "rawData")]
    raw_data: String,
}

pub(super) async fn sign_raw_data(
    state: web::Data<SimState>,
    request: web::Json<SignRequest>,
) -> Result<HttpResponse, SimError> {
    let signature = state.sign_raw_data(&request.appid, &request.openid, &request.raw_data)?;
    Ok(HttpResponse::Ok().json(json!({ "signature": signature })))
}

pub(super) async fn reset(state: web::Data<SimState>) -> HttpResponse {
    state.reset();
    HttpResponse::Ok().json(json!({ "ok": true }))
}
