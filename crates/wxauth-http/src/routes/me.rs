//! The signed-in user's own account.

use actix_web::{HttpResponse, delete, get, patch, post, web};
use serde::Deserialize;
use utoipa::ToSchema;
use wxauth_core::account::{BindProof, ProfileUpdate};
use wxauth_domain::{AvatarUrl, IdentityId, Nickname};

use super::Result;
use crate::dto::{AccountDto, UserDto, double_option};
use crate::error::{ApiError, ErrorBody};
use crate::extract::{Auth, Ctx};
use crate::json::Json;
use crate::state::HttpState;

/// The caller's account and its WeChat identities.
#[utoipa::path(tag = "Account",
    security(("bearer" = [])),
    responses(
        (status = 200, description = "The account", body = AccountDto),
        (status = 401, description = "UNAUTHORIZED", body = ErrorBody),
        (status = 403, description = "USER_BLOCKED", body = ErrorBody),
    ))]
#[get("/api/v1/me")]
pub async fn me(state: web::Data<HttpState>, auth: Auth) -> Result<HttpResponse> {
    let account = state.wxauth.me(&auth.0).await?;
    Ok(HttpResponse::Ok().json(AccountDto::from(&account)))
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
#[schema(example = json!({"nickname": "Band", "avatarUrl": "https://thirdwx.qlogo.cn/mmopen/abc/132"}))]
pub struct ProfilePatch {
    /// 1 to 64 characters; `null` clears it.
    #[serde(default, deserialize_with = "double_option")]
    #[schema(value_type = Option<String>)]
    pub nickname: Option<Option<String>>,
    /// An absolute http(s) URL of at most 512 bytes; `null` clears it.
    #[serde(default, deserialize_with = "double_option")]
    #[schema(value_type = Option<String>)]
    pub avatar_url: Option<Option<String>>,
}

impl ProfilePatch {
    pub fn parse(&self) -> std::result::Result<ProfileUpdate, ApiError> {
        let nickname = match &self.nickname {
            None => None,
            Some(None) => Some(None),
            Some(Some(n)) => Some(Some(Nickname::parse(n)?)),
        };
        let avatar_url = match &self.avatar_url {
            None => None,
            Some(None) => Some(None),
            Some(Some(u)) => Some(Some(AvatarUrl::parse(u)?)),
        };
        Ok(ProfileUpdate {
            nickname,
            avatar_url,
        })
    }
}

/// Update the caller's nickname and avatar. Only these two fields exist; any other field is
/// refused with a 400 naming it.
#[utoipa::path(tag = "Account",
    request_body = ProfilePatch,
    security(("bearer" = [])),
    responses(
        (status = 200, description = "The updated user", body = UserDto),
        (status = 400, description = "VALIDATION_ERROR naming the field", body = ErrorBody),
        (status = 401, description = "UNAUTHORIZED", body = ErrorBody),
        (status = 403, description = "USER_BLOCKED", body = ErrorBody),
    ))]
#[patch("/api/v1/me")]
pub async fn update_me(
    state: web::Data<HttpState>,
    auth: Auth,
    ctx: Ctx,
    body: Json<ProfilePatch>,
) -> Result<HttpResponse> {
    apply_profile(&state, &auth, &ctx, &body).await
}

async fn apply_profile(
    state: &HttpState,
    auth: &Auth,
    ctx: &Ctx,
    patch: &ProfilePatch,
) -> Result<HttpResponse> {
    let update = patch.parse()?;
    let user = state
        .wxauth
        .update_profile(&ctx.context, &auth.0, update)
        .await?;
    Ok(HttpResponse::Ok().json(UserDto::from(&user)))
}

/// The same update for clients without `PATCH`: `wx.request` in Mini Programs has none.
#[utoipa::path(tag = "Account",
    request_body = ProfilePatch,
    security(("bearer" = [])),
    responses(
        (status = 200, description = "The updated user", body = UserDto),
        (status = 400, description = "VALIDATION_ERROR naming the field", body = ErrorBody),
        (status = 401, description = "UNAUTHORIZED", body = ErrorBody),
        (status = 403, description = "USER_BLOCKED", body = ErrorBody),
    ))]
#[post("/api/v1/me/profile")]
pub async fn update_profile(
    state: web::Data<HttpState>,
    auth: Auth,
    ctx: Ctx,
    body: Json<ProfilePatch>,
) -> Result<HttpResponse> {
    apply_profile(&state, &auth, &ctx, &body).await
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
#[schema(example = json!({"code": "e31968a7f94cc5ee25fafc2aef2773f0bb8c3937b22520eb8ee345274d00c144"}))]
pub struct PhoneRequest {
    /// A `getPhoneNumber` code.
    pub code: String,
    /// The Mini Program; defaults to the one the access token was issued for.
    pub app: Option<String>,
}

/// Set or replace the caller's phone number from a `getPhoneNumber` code.
#[utoipa::path(tag = "Account",
    request_body = PhoneRequest,
    security(("bearer" = [])),
    responses(
        (status = 200, description = "The updated user", body = UserDto),
        (status = 400, description = "VALIDATION_ERROR, INVALID_CODE", body = ErrorBody),
        (status = 401, description = "UNAUTHORIZED", body = ErrorBody),
        (status = 409, description = "PHONE_TAKEN", body = ErrorBody),
        (status = 502, description = "WECHAT_UNAVAILABLE", body = ErrorBody),
    ))]
#[post("/api/v1/me/phone")]
pub async fn set_phone(
    state: web::Data<HttpState>,
    auth: Auth,
    ctx: Ctx,
    body: Json<PhoneRequest>,
) -> Result<HttpResponse> {
    let user = state
        .wxauth
        .set_phone(&ctx.context, &auth.0, body.app.as_deref(), &body.code)
        .await?;
    Ok(HttpResponse::Ok().json(UserDto::from(&user)))
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
#[schema(example = json!({"bindCode": "bc_Vx2m3K9pQ0rS7tU1wY4zA6bC8dE0"}))]
pub struct BindRequest {
    /// A bind code from a login under the `bind_code` policy.
    pub bind_code: Option<String>,
    /// Or a Mini Program and a fresh `wx.login` code.
    pub app: Option<String>,
    pub code: Option<String>,
}

/// Attach a WeChat identity to the caller's account, by bind code or by `wx.login` code.
///
/// The account may already sign in to the same app with another WeChat user (one person, two
/// WeChat accounts): the new one is added beside it. A WeChat user that belongs to another
/// account is refused, never moved.
#[utoipa::path(tag = "Account",
    request_body = BindRequest,
    security(("bearer" = [])),
    responses(
        (status = 200, description = "The account with the new identity", body = AccountDto),
        (status = 400, description = "VALIDATION_ERROR, BIND_CODE_INVALID, BIND_CODE_EXPIRED, BIND_CODE_USED, INVALID_CODE", body = ErrorBody),
        (status = 401, description = "UNAUTHORIZED", body = ErrorBody),
        (status = 409, description = "WECHAT_ALREADY_BOUND (to another user)", body = ErrorBody),
        (status = 429, description = "RATE_LIMITED", body = ErrorBody),
    ))]
#[post("/api/v1/me/wechat")]
pub async fn bind_wechat(
    state: web::Data<HttpState>,
    auth: Auth,
    ctx: Ctx,
    body: Json<BindRequest>,
) -> Result<HttpResponse> {
    let proof = match (&body.bind_code, &body.code) {
        (Some(bind_code), None) => BindProof::BindCode(bind_code),
        (None, Some(code)) => BindProof::LoginCode {
            app: body.app.as_deref(),
            code,
        },
        (Some(_), Some(_)) => {
            return Err(ApiError::validation(
                "bindCode",
                "send either bindCode or code, not both",
            ));
        }
        (None, None) => {
            return Err(ApiError::validation(
                "bindCode",
                "is required (or app and code)",
            ));
        }
    };
    let account = state
        .wxauth
        .bind_wechat(&ctx.context, &auth.0, proof)
        .await?;
    Ok(HttpResponse::Ok().json(AccountDto::from(&account)))
}

/// Remove the caller's WeChat identity in one app.
///
/// Refused with 409 `LAST_SIGN_IN_METHOD` when it is the account's last way to sign in (no
/// other identity and no verified phone number), and with 409 `IDENTITY_AMBIGUOUS` when the
/// account has several identities in the app: `details.choices` lists their ids for
/// `DELETE /api/v1/me/identities/{id}`.
#[utoipa::path(tag = "Account",
    params(("app" = String, Path, description = "The app key")),
    security(("bearer" = [])),
    responses(
        (status = 200, description = "The account without that identity", body = AccountDto),
        (status = 401, description = "UNAUTHORIZED", body = ErrorBody),
        (status = 404, description = "APP_NOT_FOUND, NOT_FOUND", body = ErrorBody),
        (status = 409, description = "LAST_SIGN_IN_METHOD, IDENTITY_AMBIGUOUS (details.choices)", body = ErrorBody),
    ))]
#[delete("/api/v1/me/wechat/{app}")]
pub async fn unbind_wechat(
    state: web::Data<HttpState>,
    auth: Auth,
    ctx: Ctx,
    app: web::Path<String>,
) -> Result<HttpResponse> {
    let account = state
        .wxauth
        .unbind_wechat(&ctx.context, &auth.0, &app)
        .await?;
    Ok(HttpResponse::Ok().json(AccountDto::from(&account)))
}

/// Remove one of the caller's WeChat identities by its id (`identities[].id` of `/me`).
///
/// Refused with 409 `LAST_SIGN_IN_METHOD` when it is the account's last way to sign in.
#[utoipa::path(tag = "Account",
    params(("id" = i64, Path, description = "The identity's id")),
    security(("bearer" = [])),
    responses(
        (status = 200, description = "The account without that identity", body = AccountDto),
        (status = 401, description = "UNAUTHORIZED", body = ErrorBody),
        (status = 404, description = "NOT_FOUND: no such identity on this account", body = ErrorBody),
        (status = 409, description = "LAST_SIGN_IN_METHOD", body = ErrorBody),
    ))]
#[delete("/api/v1/me/identities/{id}")]
pub async fn unbind_identity(
    state: web::Data<HttpState>,
    auth: Auth,
    ctx: Ctx,
    id: web::Path<i64>,
) -> Result<HttpResponse> {
    let account = state
        .wxauth
        .unbind_identity(&ctx.context, &auth.0, IdentityId(id.into_inner()))
        .await?;
    Ok(HttpResponse::Ok().json(AccountDto::from(&account)))
}
