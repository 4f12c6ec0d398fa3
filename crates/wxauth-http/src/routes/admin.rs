//! The admin API: apps, users, sessions and the audit log. Authenticated by admin API keys
//! (`X-Admin-Key`), never by users' tokens. Secrets are write-only: reads say set or unset.

use actix_web::{HttpResponse, delete, get, post, put, web};
use secrecy::SecretString;
use serde::{Deserialize, Serialize};
use time::OffsetDateTime;
use utoipa::{IntoParams, ToSchema};
use wxauth_core::admin::UserSearch;
use wxauth_core::ports::AuditQuery;
use wxauth_core::{AppSpec, QrLoginSpec};
use wxauth_domain::{App, IdentityId, PublicUserId, UserStatus};

use super::Result;
use crate::dto::{AccountDto, UserDto};
use crate::error::{ApiError, ErrorBody};
use crate::extract::Admin;
use crate::json::{Json, Query};
use crate::state::HttpState;

/// An app as admins see it: secrets only as set or unset.
#[derive(Debug, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
#[schema(example = json!({
    "key": "demo-shop", "kind": "mini_program", "name": "Shop", "appid": "wx1234567890abcdef",
    "registration": "open", "redirectAllowList": [], "secretSet": true, "eventTokenSet": false,
    "encodingAesKeySet": false, "apiBaseUrl": null, "openBaseUrl": null, "mpBaseUrl": null,
    "qrLogin": {"page": "pages/login/index", "envVersion": "release", "checkPath": true}, "enabled": true
}))]
pub struct AppDto {
    pub key: String,
    pub kind: String,
    pub name: String,
    pub appid: String,
    pub registration: String,
    pub redirect_allow_list: Vec<String>,
    pub secret_set: bool,
    pub event_token_set: bool,
    pub encoding_aes_key_set: bool,
    pub api_base_url: Option<String>,
    pub open_base_url: Option<String>,
    pub mp_base_url: Option<String>,
    /// How a Mini Program draws its scan-login code.
    pub qr_login: QrLoginDto,
    pub enabled: bool,
}

/// The Mini Program code of web scan-login (`getwxacodeunlimit`).
#[derive(Debug, Default, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct QrLoginDto {
    /// The page the code opens, without a leading `/`; the home page when absent.
    pub page: Option<String>,
    /// `release` (default), `trial` or `develop`.
    pub env_version: Option<String>,
    /// Whether WeChat refuses a page the released version lacks (default true).
    pub check_path: Option<bool>,
}

impl From<&App> for AppDto {
    fn from(a: &App) -> Self {
        Self {
            key: a.key.to_string(),
            kind: a.kind.as_str().to_owned(),
            name: a.name.to_string(),
            appid: a.appid.to_string(),
            registration: a.registration.as_str().to_owned(),
            redirect_allow_list: a
                .redirect_allow_list
                .rules()
                .iter()
                .map(|r| r.as_str().to_owned())
                .collect(),
            secret_set: true,
            event_token_set: a.event_token.is_some(),
            encoding_aes_key_set: a.encoding_aes_key.is_some(),
            api_base_url: a.endpoints.api_base_url.as_ref().map(|u| u.to_string()),
            open_base_url: a.endpoints.open_base_url.as_ref().map(|u| u.to_string()),
            mp_base_url: a.endpoints.mp_base_url.as_ref().map(|u| u.to_string()),
            qr_login: QrLoginDto {
                page: a.qr_login.page.as_ref().map(|p| p.to_string()),
                env_version: Some(a.qr_login.env_version.as_str().to_owned()),
                check_path: Some(a.qr_login.check_path),
            },
            enabled: a.enabled,
        }
    }
}

/// An app to create or replace. On replace, omitted secrets keep their stored values.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
#[schema(example = json!({
    "key": "demo-shop", "kind": "mini_program", "name": "Shop", "appid": "wx1234567890abcdef",
    "secret": "0123456789abcdef0123456789abcdef", "registration": "open"
}))]
pub struct AppBody {
    /// Required on create; on replace it must match the path if given.
    pub key: Option<String>,
    /// `mini_program`, `official_account` or `website`.
    pub kind: String,
    pub name: Option<String>,
    pub appid: String,
    /// Write-only. Required on create.
    pub secret: Option<String>,
    /// `open` (default), `bind_code` or `closed`.
    pub registration: Option<String>,
    #[serde(default)]
    pub redirect_allow_list: Vec<String>,
    /// Write-only.
    pub event_token: Option<String>,
    /// Write-only; 43 characters.
    pub encoding_aes_key: Option<String>,
    pub api_base_url: Option<String>,
    pub open_base_url: Option<String>,
    pub mp_base_url: Option<String>,
    #[serde(default)]
    pub qr_login: QrLoginDto,
    pub enabled: Option<bool>,
}

impl AppBody {
    /// The body as core's unvalidated spec: core checks every field, for this API and for
    /// configuration alike.
    fn spec(self) -> AppSpec {
        AppSpec {
            key: self.key.unwrap_or_default(),
            kind: self.kind,
            name: self.name,
            appid: self.appid,
            secret: self.secret.map(SecretString::from),
            registration: self.registration,
            redirect_allow_list: self.redirect_allow_list,
            event_token: self.event_token.map(SecretString::from),
            encoding_aes_key: self.encoding_aes_key.map(SecretString::from),
            api_base_url: self.api_base_url,
            open_base_url: self.open_base_url,
            mp_base_url: self.mp_base_url,
            qr_login: QrLoginSpec {
                page: self.qr_login.page,
                env_version: self.qr_login.env_version,
                check_path: self.qr_login.check_path,
            },
            enabled: self.enabled,
        }
    }
}

/// All apps.
#[utoipa::path(tag = "Admin", security(("adminKey" = [])),
    responses(
        (status = 200, description = "The apps", body = Vec<AppDto>),
        (status = 401, description = "UNAUTHORIZED", body = ErrorBody),
    ))]
#[get("/api/v1/admin/apps")]
pub async fn list_apps(state: web::Data<HttpState>, _admin: Admin) -> Result<HttpResponse> {
    let apps = state.wxauth.apps().all().await?;
    Ok(HttpResponse::Ok().json(
        apps.iter()
            .map(|a| AppDto::from(a.as_ref()))
            .collect::<Vec<_>>(),
    ))
}

/// Create an app.
#[utoipa::path(tag = "Admin", security(("adminKey" = [])),
    request_body = AppBody,
    responses(
        (status = 201, description = "Created", body = AppDto),
        (status = 400, description = "VALIDATION_ERROR naming the field", body = ErrorBody),
        (status = 401, description = "UNAUTHORIZED", body = ErrorBody),
        (status = 409, description = "CONFLICT: the key exists (use PUT)", body = ErrorBody),
    ))]
#[post("/api/v1/admin/apps")]
pub async fn create_app(
    state: web::Data<HttpState>,
    admin: Admin,
    body: Json<AppBody>,
) -> Result<HttpResponse> {
    let app = state
        .wxauth
        .admin_create_app(admin.context(), body.into_inner().spec())
        .await?;
    Ok(HttpResponse::Created().json(AppDto::from(&app)))
}

/// One app.
#[utoipa::path(tag = "Admin", security(("adminKey" = [])),
    params(("key" = String, Path, description = "The app key")),
    responses(
        (status = 200, description = "The app", body = AppDto),
        (status = 404, description = "APP_NOT_FOUND", body = ErrorBody),
    ))]
#[get("/api/v1/admin/apps/{key}")]
pub async fn get_app(
    state: web::Data<HttpState>,
    _admin: Admin,
    key: web::Path<String>,
) -> Result<HttpResponse> {
    let app = state.wxauth.apps().get(&key).await?;
    Ok(HttpResponse::Ok().json(AppDto::from(app.as_ref())))
}

/// Replace an app; omitted secrets keep their values.
#[utoipa::path(tag = "Admin", security(("adminKey" = [])),
    params(("key" = String, Path, description = "The app key")),
    request_body = AppBody,
    responses(
        (status = 200, description = "Saved", body = AppDto),
        (status = 400, description = "VALIDATION_ERROR naming the field", body = ErrorBody),
    ))]
#[put("/api/v1/admin/apps/{key}")]
pub async fn put_app(
    state: web::Data<HttpState>,
    admin: Admin,
    key: web::Path<String>,
    body: Json<AppBody>,
) -> Result<HttpResponse> {
    let app = state
        .wxauth
        .admin_replace_app(admin.context(), &key, body.into_inner().spec())
        .await?;
    Ok(HttpResponse::Ok().json(AppDto::from(&app)))
}

/// Delete an app no identity uses.
#[utoipa::path(tag = "Admin", security(("adminKey" = [])),
    params(("key" = String, Path, description = "The app key")),
    responses(
        (status = 204, description = "Deleted"),
        (status = 400, description = "VALIDATION_ERROR: users still sign in with it", body = ErrorBody),
        (status = 404, description = "APP_NOT_FOUND", body = ErrorBody),
    ))]
#[delete("/api/v1/admin/apps/{key}")]
pub async fn delete_app(
    state: web::Data<HttpState>,
    admin: Admin,
    key: web::Path<String>,
) -> Result<HttpResponse> {
    state.wxauth.admin_delete_app(admin.context(), &key).await?;
    Ok(HttpResponse::NoContent().finish())
}

#[derive(Debug, Deserialize, IntoParams)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
pub struct UsersQuery {
    /// A public id, openid, unionid, phone number (exact) or part of a nickname.
    pub search: Option<String>,
    /// `active` or `blocked`.
    pub status: Option<String>,
    pub offset: Option<u64>,
    /// 1 to 200, default 50.
    pub limit: Option<u64>,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct UserPage {
    pub items: Vec<UserDto>,
    pub total: u64,
    pub offset: u64,
    pub limit: u64,
}

/// Search users.
#[utoipa::path(tag = "Admin", security(("adminKey" = [])),
    params(UsersQuery),
    responses(
        (status = 200, description = "A page of users, newest first", body = UserPage),
        (status = 400, description = "VALIDATION_ERROR", body = ErrorBody),
    ))]
#[get("/api/v1/admin/users")]
pub async fn list_users(
    state: web::Data<HttpState>,
    _admin: Admin,
    query: Query<UsersQuery>,
) -> Result<HttpResponse> {
    let status = match query.status.as_deref() {
        None => None,
        Some(s) => Some(
            UserStatus::parse(s)
                .ok_or_else(|| ApiError::validation("status", "must be active or blocked"))?,
        ),
    };
    let q = UserSearch {
        text: query.search.clone(),
        status,
        offset: query.offset.unwrap_or(0),
        limit: query.limit.unwrap_or(50),
    };
    let (users, total) = state.wxauth.admin_list_users(&q).await?;
    Ok(HttpResponse::Ok().json(UserPage {
        items: users.iter().map(UserDto::from).collect(),
        total,
        offset: q.offset,
        limit: q.limit.clamp(1, wxauth_core::admin::MAX_PAGE),
    }))
}

fn user_id(id: &str) -> std::result::Result<PublicUserId, ApiError> {
    PublicUserId::parse(id).map_err(|_| ApiError::not_found("no such user"))
}

/// One user with their identities.
#[utoipa::path(tag = "Admin", security(("adminKey" = [])),
    params(("id" = String, Path, description = "The user's public id")),
    responses(
        (status = 200, description = "The account", body = AccountDto),
        (status = 404, description = "NOT_FOUND", body = ErrorBody),
    ))]
#[get("/api/v1/admin/users/{id}")]
pub async fn get_user(
    state: web::Data<HttpState>,
    _admin: Admin,
    id: web::Path<String>,
) -> Result<HttpResponse> {
    let account = state.wxauth.admin_user(&user_id(&id)?).await?;
    Ok(HttpResponse::Ok().json(AccountDto::from(&account)))
}

/// Delete a user with their identities and sessions.
#[utoipa::path(tag = "Admin", security(("adminKey" = [])),
    params(("id" = String, Path, description = "The user's public id")),
    responses(
        (status = 204, description = "Deleted"),
        (status = 404, description = "NOT_FOUND", body = ErrorBody),
    ))]
#[delete("/api/v1/admin/users/{id}")]
pub async fn delete_user(
    state: web::Data<HttpState>,
    admin: Admin,
    id: web::Path<String>,
) -> Result<HttpResponse> {
    state
        .wxauth
        .admin_delete_user(admin.context(), &user_id(&id)?)
        .await?;
    Ok(HttpResponse::NoContent().finish())
}

/// Block a user: they can neither sign in nor refresh, and their sessions end.
#[utoipa::path(tag = "Admin", security(("adminKey" = [])),
    params(("id" = String, Path, description = "The user's public id")),
    responses(
        (status = 200, description = "The blocked account", body = AccountDto),
        (status = 404, description = "NOT_FOUND", body = ErrorBody),
    ))]
#[post("/api/v1/admin/users/{id}/block")]
pub async fn block_user(
    state: web::Data<HttpState>,
    admin: Admin,
    id: web::Path<String>,
) -> Result<HttpResponse> {
    let account = state
        .wxauth
        .admin_set_blocked(admin.context(), &user_id(&id)?, true)
        .await?;
    Ok(HttpResponse::Ok().json(AccountDto::from(&account)))
}

/// Unblock a user.
#[utoipa::path(tag = "Admin", security(("adminKey" = [])),
    params(("id" = String, Path, description = "The user's public id")),
    responses(
        (status = 200, description = "The account", body = AccountDto),
        (status = 404, description = "NOT_FOUND", body = ErrorBody),
    ))]
#[post("/api/v1/admin/users/{id}/unblock")]
pub async fn unblock_user(
    state: web::Data<HttpState>,
    admin: Admin,
    id: web::Path<String>,
) -> Result<HttpResponse> {
    let account = state
        .wxauth
        .admin_set_blocked(admin.context(), &user_id(&id)?, false)
        .await?;
    Ok(HttpResponse::Ok().json(AccountDto::from(&account)))
}

/// Remove a user's WeChat identity in one app (even the last one). With several identities in
/// the app: 409 `IDENTITY_AMBIGUOUS`, whose `details.choices` name them by id.
#[utoipa::path(tag = "Admin", security(("adminKey" = [])),
    params(("id" = String, Path, description = "The user's public id"), ("app" = String, Path, description = "The app key")),
    responses(
        (status = 200, description = "The account", body = AccountDto),
        (status = 404, description = "NOT_FOUND, APP_NOT_FOUND", body = ErrorBody),
        (status = 409, description = "IDENTITY_AMBIGUOUS", body = ErrorBody),
    ))]
#[delete("/api/v1/admin/users/{id}/identities/{app}")]
pub async fn unbind_identity(
    state: web::Data<HttpState>,
    admin: Admin,
    path: web::Path<(String, String)>,
) -> Result<HttpResponse> {
    let (id, app) = path.into_inner();
    let account = state
        .wxauth
        .admin_unbind(admin.context(), &user_id(&id)?, &app)
        .await?;
    Ok(HttpResponse::Ok().json(AccountDto::from(&account)))
}

/// Remove one WeChat identity of a user by its id (even the last one).
#[utoipa::path(tag = "Admin", security(("adminKey" = [])),
    params(("id" = String, Path, description = "The user's public id"), ("identityId" = i64, Path, description = "The identity's id")),
    responses(
        (status = 200, description = "The account", body = AccountDto),
        (status = 404, description = "NOT_FOUND", body = ErrorBody),
    ))]
#[delete("/api/v1/admin/users/{id}/identities/by-id/{identityId}")]
pub async fn unbind_identity_by_id(
    state: web::Data<HttpState>,
    admin: Admin,
    path: web::Path<(String, i64)>,
) -> Result<HttpResponse> {
    let (id, identity) = path.into_inner();
    let account = state
        .wxauth
        .admin_unbind_identity(admin.context(), &user_id(&id)?, IdentityId(identity))
        .await?;
    Ok(HttpResponse::Ok().json(AccountDto::from(&account)))
}

#[derive(Debug, Serialize, ToSchema)]
#[schema(example = json!({"revoked": 2}))]
pub struct RevokedResponse {
    /// Live refresh tokens revoked.
    pub revoked: u64,
}

/// End every session of a user.
#[utoipa::path(tag = "Admin", security(("adminKey" = [])),
    params(("id" = String, Path, description = "The user's public id")),
    responses(
        (status = 200, description = "How many were live", body = RevokedResponse),
        (status = 404, description = "NOT_FOUND", body = ErrorBody),
    ))]
#[delete("/api/v1/admin/users/{id}/sessions")]
pub async fn revoke_sessions(
    state: web::Data<HttpState>,
    admin: Admin,
    id: web::Path<String>,
) -> Result<HttpResponse> {
    let revoked = state
        .wxauth
        .admin_revoke_sessions(admin.context(), &user_id(&id)?)
        .await?;
    Ok(HttpResponse::Ok().json(RevokedResponse { revoked }))
}

#[derive(Debug, Deserialize, IntoParams)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
pub struct AuditParams {
    /// A user's public id.
    pub user: Option<String>,
    /// e.g. `login`, `refresh_token_reuse`, `admin.app_upsert`.
    pub kind: Option<String>,
    /// RFC 3339.
    pub since: Option<String>,
    /// RFC 3339 (exclusive).
    pub until: Option<String>,
    pub offset: Option<u64>,
    pub limit: Option<u64>,
}

#[derive(Debug, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
#[schema(example = json!({
    "at": "2026-11-23T08:00:00Z", "kind": "login", "success": false, "reason": "INVALID_CODE",
    "app": "demo-mp", "user": null, "actor": null, "ip": "203.0.113.7", "requestId": "0193a5b2-6f1c-7c3e-9a51-3f1e2d4c5b6a"
}))]
pub struct AuditEntryDto {
    #[serde(with = "time::serde::rfc3339")]
    #[schema(value_type = String, format = DateTime)]
    pub at: OffsetDateTime,
    pub kind: String,
    pub success: bool,
    pub reason: Option<String>,
    pub app: Option<String>,
    pub user: Option<String>,
    /// The admin key for admin actions.
    pub actor: Option<String>,
    pub ip: Option<String>,
    pub request_id: Option<String>,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct AuditPage {
    pub items: Vec<AuditEntryDto>,
    pub total: u64,
}

fn timestamp(
    field: &'static str,
    s: &Option<String>,
) -> std::result::Result<Option<OffsetDateTime>, ApiError> {
    s.as_deref()
        .map(|s| {
            OffsetDateTime::parse(s, &time::format_description::well_known::Rfc3339)
                .map_err(|_| ApiError::validation(field, "must be an RFC 3339 timestamp"))
        })
        .transpose()
}

/// The audit log, newest first.
#[utoipa::path(tag = "Admin", security(("adminKey" = [])),
    params(AuditParams),
    responses(
        (status = 200, description = "A page of entries", body = AuditPage),
        (status = 400, description = "VALIDATION_ERROR", body = ErrorBody),
    ))]
#[get("/api/v1/admin/audit")]
pub async fn audit(
    state: web::Data<HttpState>,
    _admin: Admin,
    query: Query<AuditParams>,
) -> Result<HttpResponse> {
    let user = query
        .user
        .as_deref()
        .map(PublicUserId::parse)
        .transpose()
        .map_err(|e| e.renamed("user"))?;
    let q = AuditQuery {
        user,
        kind: query.kind.clone(),
        since: timestamp("since", &query.since)?,
        until: timestamp("until", &query.until)?,
        offset: query.offset.unwrap_or(0),
        limit: query.limit.unwrap_or(50),
    };
    let (entries, total) = state.wxauth.admin_audit(&q).await?;
    let items = entries
        .into_iter()
        .map(|e| AuditEntryDto {
            at: e.at,
            kind: e.kind,
            success: e.success,
            reason: e.reason,
            app: e.app_key,
            user: e.user.map(|u| u.to_string()),
            actor: e.actor,
            ip: e.ip,
            request_id: e.request_id,
        })
        .collect();
    Ok(HttpResponse::Ok().json(AuditPage { items, total }))
}
