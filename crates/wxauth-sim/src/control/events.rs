//! `/__sim/scan`, `/__sim/events`, `/__sim/events/verify-url`.

use actix_web::{HttpResponse, web};
use serde::Deserialize;

use crate::error::SimError;
use crate::events::PushEvent;
use crate::state::SimState;

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct ScanRequest {
    ticket: String,
    openid: String,
}

pub(super) async fn scan(
    state: web::Data<SimState>,
    request: web::Json<ScanRequest>,
) -> Result<HttpResponse, SimError> {
    let report = state.scan(&request.ticket, &request.openid).await?;
    Ok(HttpResponse::Ok().json(report))
}

pub(super) async fn push(
    state: web::Data<SimState>,
    request: web::Json<PushEvent>,
) -> Result<HttpResponse, SimError> {
    let report = state.push_event(request.into_inner()).await?;
    Ok(HttpResponse::Ok().json(report))
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct AppRequest {
    appid: String,
}

pub(super) async fn verify_url(
    state: web::Data<SimState>,
    request: web::Json<AppRequest>,
) -> Result<HttpResponse, SimError> {
    let report = state.verify_event_url(&request.appid).await?;
    Ok(HttpResponse::Ok().json(report))
}
