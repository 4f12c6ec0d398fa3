//! `POST /__sim/faults` (arm) and `DELETE /__sim/faults` (clear).

use std::time::Duration;

use actix_web::{HttpResponse, web};
use serde::Deserialize;
use serde_json::json;

use crate::error::SimError;
use crate::faults::{Endpoint, Fault, FaultTarget};
use crate::state::SimState;

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct FaultRequest {
    /// An endpoint name or `*`.
    endpoint: String,
    #[serde(default)]
    errcode: Option<i64>,
    #[serde(default)]
    delay_ms: Option<u64>,
    #[serde(default)]
    malformed: bool,
    #[serde(default)]
    http_status: Option<u16>,
    #[serde(default = "one")]
    count: u32,
}

fn one() -> u32 {
    1
}

pub(super) async fn inject(
    state: web::Data<SimState>,
    request: web::Json<FaultRequest>,
) -> Result<HttpResponse, SimError> {
    let request = request.into_inner();
    let target = FaultTarget::parse(&request.endpoint).ok_or_else(|| {
        let names: Vec<&str> = Endpoint::ALL.iter().map(|e| e.name()).collect();
        SimError::invalid(format!(
            "unknown endpoint {:?}; use * or one of {}",
            request.endpoint,
            names.join(", ")
        ))
    })?;
    state.inject_fault(Fault {
        target,
        errcode: request.errcode,
        delay: request.delay_ms.map(Duration::from_millis),
        malformed: request.malformed,
        http_status: request.http_status,
        count: request.count,
    })?;
    Ok(HttpResponse::Ok().json(json!({ "armed": request.count, "endpoint": request.endpoint })))
}

pub(super) async fn clear(state: web::Data<SimState>) -> HttpResponse {
    state.clear_faults();
    HttpResponse::Ok().json(json!({ "cleared": true }))
}
