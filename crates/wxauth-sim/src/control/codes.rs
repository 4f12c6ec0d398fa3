//! `/__sim/login-codes`, `/__sim/phone-codes`, `/__sim/oauth-codes`, `/__sim/oauth/consent`.

use actix_web::{HttpResponse, web};
use serde::Deserialize;
use serde_json::json;

use crate::error::SimError;
use crate::state::{OAuthConsent, SimState};
use crate::store::codes::CODE_TTL;

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct LoginCodesRequest {
    appid: String,
    openid: String,
    #[serde(default)]
    count: Option<usize>,
}

pub(super) async fn login_codes(
    state: web::Data<SimState>,
    request: web::Json<LoginCodesRequest>,
) -> Result<HttpResponse, SimError> {
    let codes = state.login_codes(&request.appid, &request.openid, request.count.unwrap_or(1))?;
    Ok(HttpResponse::Ok().json(json!({
        "code": codes.first(),
        "codes": codes,
        "expires_in": CODE_TTL.as_secs(),
    })))
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct UserRequest {
    appid: String,
    openid: String,
}

pub(super) async fn phone_code(
    state: web::Data<SimState>,
    request: web::Json<UserRequest>,
) -> Result<HttpResponse, SimError> {
    let code = state.phone_code(&request.appid, &request.openid)?;
    Ok(HttpResponse::Ok().json(json!({ "code": code, "expires_in": CODE_TTL.as_secs() })))
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct OAuthCodeRequest {
    appid: String,
    openid: String,
    scope: String,
}

pub(super) async fn oauth_code(
    state: web::Data<SimState>,
    request: web::Json<OAuthCodeRequest>,
) -> Result<HttpResponse, SimError> {
    let code = state.oauth_code(&request.appid, &request.openid, &request.scope)?;
    Ok(HttpResponse::Ok().json(json!({ "code": code, "expires_in": CODE_TTL.as_secs() })))
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct ConsentRequest {
    appid: String,
    #[serde(default)]
    openid: Option<String>,
    #[serde(default)]
    deny: bool,
    #[serde(default)]
    clear: bool,
}

pub(super) async fn consent(
    state: web::Data<SimState>,
    request: web::Json<ConsentRequest>,
) -> Result<HttpResponse, SimError> {
    let request = request.into_inner();
    let (consent, name) = match (request.openid, request.deny, request.clear) {
        (Some(openid), false, false) => (OAuthConsent::Approve { openid }, "approve"),
        (None, true, false) => (OAuthConsent::Deny, "deny"),
        (None, false, true) => (OAuthConsent::Prompt, "prompt"),
        _ => {
            return Err(SimError::invalid(
                "give exactly one of openid, deny: true, clear: true",
            ));
        }
    };
    state.set_consent(&request.appid, consent)?;
    Ok(HttpResponse::Ok().json(json!({ "consent": name })))
}
