//! Mini Program endpoints: `wx.login` codes, phone numbers, openid lookups and the legacy
//! `encryptedData` that needs the server-held session key.

use actix_web::{HttpResponse, post, web};
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;
use wxauth_core::miniprogram::MiniProgramLogin;

use super::Result;
use crate::dto::LoginResponse;
use crate::error::ErrorBody;
use crate::extract::{Auth, Ctx};
use crate::json::Json;
use crate::state::HttpState;

#[derive(Debug, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
#[schema(example = json!({"code": "0a3Xk2ll2qWzkd4ybhll2C1kDq2Xk2lB", "app": "demo-mp"}))]
pub struct LoginRequest {
    /// The code from `wx.login()`. Single-use, valid 5 minutes.
    pub code: String,
    /// The app key; optional when the service has a default Mini Program.
    pub app: Option<String>,
    /// The code from a `getPhoneNumber` button: the account is then keyed by the phone number.
    pub phone_code: Option<String>,
}

/// Sign in with a `wx.login` code.
///
/// Finds or creates the user for the app's openid (linking by phone number or unionid when
/// they name an existing account) and returns an access token and a refresh token. The
/// session key stays on the server. Under the `bind_code` registration policy an unknown
/// user gets a bind code instead; under `closed` a 403.
#[utoipa::path(tag = "Mini Program",
    request_body = LoginRequest,
    responses(
        (status = 200, description = "Signed in, or a bind code for an unknown user", body = LoginResponse),
        (status = 400, description = "VALIDATION_ERROR, INVALID_CODE, CODE_USED, APP_REQUIRED, WRONG_APP_KIND", body = ErrorBody),
        (status = 403, description = "REGISTRATION_CLOSED, USER_BLOCKED, WECHAT_RISK_BLOCKED", body = ErrorBody),
        (status = 404, description = "APP_NOT_FOUND", body = ErrorBody),
        (status = 409, description = "PHONE_TAKEN", body = ErrorBody),
        (status = 429, description = "RATE_LIMITED, WECHAT_RATE_LIMITED", body = ErrorBody),
        (status = 502, description = "WECHAT_UNAVAILABLE, WECHAT_ERROR", body = ErrorBody),
        (status = 504, description = "WECHAT_UNAVAILABLE (timeout)", body = ErrorBody),
    ))]
#[post("/api/v1/miniprogram/login")]
pub async fn login(
    state: web::Data<HttpState>,
    ctx: Ctx,
    body: Json<LoginRequest>,
) -> Result<HttpResponse> {
    let outcome = state
        .wxauth
        .mini_program_login(
            &ctx.context,
            MiniProgramLogin {
                app: body.app.as_deref(),
                code: &body.code,
                phone_code: body.phone_code.as_deref(),
            },
        )
        .await?;
    Ok(HttpResponse::Ok().json(LoginResponse::from(&outcome)))
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
#[schema(example = json!({"code": "e31968a7f94cc5ee25fafc2aef2773f0bb8c3937b22520eb8ee345274d00c144", "app": "demo-mp"}))]
pub struct CodeRequest {
    /// A WeChat code (see the endpoint for which kind).
    pub code: String,
    /// The app key; optional when the service has a default Mini Program.
    pub app: Option<String>,
}

#[derive(Debug, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct Watermark {
    pub timestamp: i64,
    pub appid: String,
}

/// WeChat's `phone_info`.
#[derive(Debug, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
#[schema(example = json!({
    "phoneNumber": "13800138000", "purePhoneNumber": "13800138000", "countryCode": "86",
    "e164": "+8613800138000", "watermark": {"timestamp": 1700000000, "appid": "wx1234567890abcdef"}
}))]
pub struct PhoneNumberResponse {
    /// With the country code for numbers outside mainland China.
    pub phone_number: String,
    pub pure_phone_number: String,
    pub country_code: String,
    /// The normalised form wxauth stores.
    pub e164: String,
    pub watermark: Watermark,
}

impl From<&wxauth_core::ports::VerifiedPhone> for PhoneNumberResponse {
    fn from(v: &wxauth_core::ports::VerifiedPhone) -> Self {
        Self {
            phone_number: v.phone_number.clone(),
            pure_phone_number: v.phone.national().to_owned(),
            country_code: v.phone.country_code().to_owned(),
            e164: v.phone.e164(),
            watermark: Watermark {
                timestamp: v.watermark_timestamp,
                appid: v.watermark_appid.clone(),
            },
        }
    }
}

/// Resolve a `getPhoneNumber` code to the phone number WeChat verified.
///
/// The code comes from `<button open-type="getPhoneNumber">` (`e.detail.code`); it is not a
/// `wx.login` code. Single-use, valid 5 minutes.
#[utoipa::path(tag = "Mini Program",
    request_body = CodeRequest,
    responses(
        (status = 200, description = "The verified phone number", body = PhoneNumberResponse),
        (status = 400, description = "VALIDATION_ERROR, INVALID_CODE", body = ErrorBody),
        (status = 404, description = "APP_NOT_FOUND", body = ErrorBody),
        (status = 429, description = "RATE_LIMITED, WECHAT_RATE_LIMITED", body = ErrorBody),
        (status = 502, description = "WECHAT_UNAVAILABLE", body = ErrorBody),
    ))]
#[post("/api/v1/miniprogram/phone-number")]
pub async fn phone_number(
    state: web::Data<HttpState>,
    ctx: Ctx,
    body: Json<CodeRequest>,
) -> Result<HttpResponse> {
    let phone = state
        .wxauth
        .mini_program_phone(&ctx.context, body.app.as_deref(), &body.code)
        .await?;
    Ok(HttpResponse::Ok().json(PhoneNumberResponse::from(&phone)))
}

#[derive(Debug, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
#[schema(example = json!({"openid": "oTEST_abc", "unionid": null}))]
pub struct OpenidResponse {
    pub openid: String,
    pub unionid: Option<String>,
}

/// Resolve a `wx.login` code to the user's openid and unionid.
///
/// Never returns the session key: it stays on the server (and replaces the stored one when the
/// user has an account in this app).
#[utoipa::path(tag = "Mini Program",
    request_body = CodeRequest,
    responses(
        (status = 200, description = "The user's ids in this app", body = OpenidResponse),
        (status = 400, description = "VALIDATION_ERROR, INVALID_CODE, CODE_USED", body = ErrorBody),
        (status = 404, description = "APP_NOT_FOUND", body = ErrorBody),
        (status = 429, description = "RATE_LIMITED, WECHAT_RATE_LIMITED", body = ErrorBody),
        (status = 502, description = "WECHAT_UNAVAILABLE", body = ErrorBody),
    ))]
#[post("/api/v1/miniprogram/openid")]
pub async fn openid(
    state: web::Data<HttpState>,
    ctx: Ctx,
    body: Json<CodeRequest>,
) -> Result<HttpResponse> {
    let (openid, unionid) = state
        .wxauth
        .mini_program_openid(&ctx.context, body.app.as_deref(), &body.code)
        .await?;
    Ok(HttpResponse::Ok().json(OpenidResponse {
        openid: openid.to_string(),
        unionid: unionid.map(|u| u.to_string()),
    }))
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
#[schema(example = json!({
    "encryptedData": "LtwXY/thRoRMyUSJgcCEQMXqrrtJdqQ5V4WwGzc5X293yMD2WDsD2SDsQe+spv3/TjEd0YBbA4XebGd6Nqp1YUB9F+WZwcN4/ktu/HmSNmloDXBGPSwhzsq2NmIUmPzcSVSvRZAHINFLUQ187bZL7w==",
    "iv": "EBESExQVFhcYGRobHB0eHw=="
}))]
pub struct DecryptRequest {
    /// From `wx.getWeRunData`, `wx.getShareInfo` or a legacy `getUserInfo`.
    pub encrypted_data: String,
    pub iv: String,
    /// The Mini Program; defaults to the one the access token was issued for.
    pub app: Option<String>,
}

#[derive(Debug, Serialize, ToSchema)]
#[schema(example = json!({"data": {"openId": "oTEST", "nickName": "Band", "watermark": {"appid": "wx1234567890abcdef", "timestamp": 1700000000}}}))]
pub struct DecryptResponse {
    /// The decrypted JSON, its watermark checked against the app.
    #[schema(value_type = Object)]
    pub data: serde_json::Value,
}

/// Decrypt legacy `encryptedData` with the server-held session key.
#[utoipa::path(tag = "Mini Program",
    request_body = DecryptRequest,
    security(("bearer" = [])),
    responses(
        (status = 200, description = "The decrypted data", body = DecryptResponse),
        (status = 400, description = "VALIDATION_ERROR, DECRYPT_FAILED (stale session key: call wx.login and sign in again), WATERMARK_MISMATCH", body = ErrorBody),
        (status = 401, description = "UNAUTHORIZED", body = ErrorBody),
        (status = 403, description = "USER_BLOCKED", body = ErrorBody),
        (status = 409, description = "NO_WECHAT_SESSION", body = ErrorBody),
    ))]
#[post("/api/v1/miniprogram/decrypt")]
pub async fn decrypt(
    state: web::Data<HttpState>,
    auth: Auth,
    body: Json<DecryptRequest>,
) -> Result<HttpResponse> {
    let data = state
        .wxauth
        .decrypt_user_data(&auth.0, body.app.as_deref(), &body.encrypted_data, &body.iv)
        .await?;
    Ok(HttpResponse::Ok().json(DecryptResponse { data }))
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
#[schema(example = json!({"rawData": "{\"nickName\":\"Band\",\"gender\":1}", "signature": "496808cd634b4f856b599ae80c73f6abb1be50fc"}))]
pub struct VerifySignatureRequest {
    pub raw_data: String,
    pub signature: String,
    pub app: Option<String>,
}

#[derive(Debug, Serialize, ToSchema)]
#[schema(example = json!({"valid": true}))]
pub struct VerifySignatureResponse {
    /// Whether `signature == sha1(rawData + session_key)`.
    pub valid: bool,
}

/// Check a `rawData` signature against the server-held session key.
#[utoipa::path(tag = "Mini Program",
    request_body = VerifySignatureRequest,
    security(("bearer" = [])),
    responses(
        (status = 200, description = "Whether the signature matches", body = VerifySignatureResponse),
        (status = 401, description = "UNAUTHORIZED", body = ErrorBody),
        (status = 409, description = "NO_WECHAT_SESSION", body = ErrorBody),
    ))]
#[post("/api/v1/miniprogram/verify-signature")]
pub async fn verify_signature(
    state: web::Data<HttpState>,
    auth: Auth,
    body: Json<VerifySignatureRequest>,
) -> Result<HttpResponse> {
    let valid = state
        .wxauth
        .verify_raw_signature(
            &auth.0,
            body.app.as_deref(),
            &body.raw_data,
            &body.signature,
        )
        .await?;
    Ok(HttpResponse::Ok().json(VerifySignatureResponse { valid }))
}
