//! Compatibility routes: the paths, bodies and response shapes of the tools teams use today, on
//! wxauth's use cases, so their clients switch by changing the host only. See
//! `docs/migrating.md` for where wxauth deliberately differs (no session_key, no unverified
//! phone numbers, short-lived tokens).

use actix_web::http::StatusCode;
use actix_web::{HttpRequest, HttpResponse, get, post, web};
use serde::{Deserialize, Serialize};
use serde_json::{Value, json};
use time::OffsetDateTime;
use utoipa::{IntoParams, ToSchema};
use wxauth_core::account::ProfileUpdate;
use wxauth_core::miniprogram::MiniProgramLogin;
use wxauth_core::oauth::AuthorizeRequest;
use wxauth_core::{LoginOutcome, SignedIn};
use wxauth_domain::{AvatarUrl, Nickname, User};

use crate::error::ApiError;
use crate::extract::{Auth, Ctx};
use crate::json::{Json, Query};
use crate::request_id::RequestId;
use crate::state::HttpState;

fn rfc3339(t: OffsetDateTime) -> String {
    t.format(&time::format_description::well_known::Rfc3339)
        .unwrap_or_default()
}

/// Strapi's error body: `{"data": null, "error": {status, name, message, details}}`.
fn strapi_error(req: &HttpRequest, e: ApiError) -> HttpResponse {
    let id = RequestId::of(req);
    HttpResponse::build(e.status).json(json!({
        "data": null,
        "error": { "status": e.status.as_u16(), "name": e.name, "message": e.message, "details": e.details, "id": id.as_str() }
    }))
}

fn strapi<F>(req: &HttpRequest, result: Result<F, ApiError>) -> HttpResponse
where
    F: Serialize,
{
    match result {
        Ok(body) => HttpResponse::Ok().json(body),
        Err(e) => strapi_error(req, e),
    }
}

/// A Strapi v5 `users-permissions` user.
fn strapi_v5_user(user: &User, username: &str, email: String) -> Value {
    json!({
        "id": user.id.0,
        "documentId": user.public_id.document_id(),
        "username": username,
        "email": email,
        "provider": null,
        "confirmed": true,
        "blocked": user.is_blocked(),
        "createdAt": rfc3339(user.created_at),
        "updatedAt": rfc3339(user.updated_at),
        "publishedAt": rfc3339(user.created_at),
    })
}

/// The caller's openid in the app their token was issued for (the plugins know one app).
async fn openid_in(
    state: &HttpState,
    claims: &wxauth_core::ports::AccessClaims,
) -> Result<Option<String>, ApiError> {
    let account = state.wxauth.me(claims).await?;
    // With several WeChat users of the app on one account, the one that signed in last.
    let identity = account
        .identities
        .iter()
        .filter(|i| claims.app.as_ref().is_none_or(|app| &i.app == app))
        .max_by_key(|i| (i.last_login_at, i.id));
    Ok(identity.map(|i| i.openid.to_string()))
}

fn signed_in(outcome: LoginOutcome) -> Result<Box<SignedIn>, ApiError> {
    match outcome {
        LoginOutcome::SignedIn(s) => Ok(s),
        // The plugins know no bind codes: under that policy their clients cannot register.
        LoginOutcome::BindRequired { .. } => Err(ApiError::new(
            StatusCode::FORBIDDEN,
            "REGISTRATION_CLOSED",
            "this app registers users by bind code, which this compatibility route cannot do: use /api/v1/miniprogram/login",
        )),
    }
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct StrapiV5Login {
    pub openid_code: String,
    pub phone_code: Option<String>,
}

/// Strapi v5 plugin: sign in with a `wx.login` code (and optionally a phone code).
#[utoipa::path(tag = "Compatibility",
    request_body = StrapiV5Login,
    responses((status = 200, description = "`{jwt, user}` as the plugin answers", body = Object,
        example = json!({"jwt": "eyJhbGciOiJIUzI1NiJ9.e30.sig", "user": {"id": 7, "documentId": "bavikfbi4okjwoc5qq720x56", "username": "obDKA13HPuz9C5BWppYpRm1uJ9Cs", "email": "obDKA13HPuz9C5BWppYpRm1uJ9Cs@qq.com", "provider": null, "confirmed": true, "blocked": false, "createdAt": "2025-11-20T09:57:03.063Z", "updatedAt": "2025-11-20T09:57:03.063Z", "publishedAt": "2025-11-20T09:57:02.997Z"}})),
        (status = 400, description = "Strapi error body", body = Object)))]
#[post("/api/strapi-plugin-wechat-miniprogram/login")]
pub async fn strapi_v5_login(
    req: HttpRequest,
    state: web::Data<HttpState>,
    ctx: Ctx,
    body: Json<StrapiV5Login>,
) -> HttpResponse {
    let app = state.options.compat_mini_program_app.clone();
    let result = async {
        let outcome = state
            .wxauth
            .mini_program_login(
                &ctx.context,
                MiniProgramLogin { app: app.as_deref(), code: &body.openid_code, phone_code: body.phone_code.as_deref() },
            )
            .await?;
        let s = signed_in(outcome)?;
        let claims = state.wxauth.authenticate(&s.tokens.access_token)?;
        let openid = openid_in(&state, &claims).await?.unwrap_or_default();
        let (username, email) = match (&body.phone_code, &s.user.phone) {
            (Some(_), Some(phone)) => (phone.national().to_owned(), format!("{}@example.com", phone.national())),
            _ => (openid.clone(), format!("{openid}@qq.com")),
        };
        Ok(json!({ "jwt": s.tokens.access_token, "user": strapi_v5_user(&s.user, &username, email) }))
    }
    .await;
    strapi(&req, result)
}

#[derive(Debug, Deserialize, ToSchema)]
pub struct CodeBody {
    pub code: String,
}

/// Strapi v5 plugin: resolve a phone code; answers WeChat's own response shape.
#[utoipa::path(tag = "Compatibility",
    request_body = CodeBody,
    responses((status = 200, description = "WeChat's `getuserphonenumber` answer", body = Object,
        example = json!({"errcode": 0, "errmsg": "ok", "phone_info": {"phoneNumber": "13800138000", "purePhoneNumber": "13800138000", "countryCode": "86", "watermark": {"timestamp": 1763791978, "appid": "wx1234567890abcdef"}}}))))]
#[post("/api/strapi-plugin-wechat-miniprogram/getPhoneNumber")]
pub async fn strapi_v5_phone(
    req: HttpRequest,
    state: web::Data<HttpState>,
    ctx: Ctx,
    body: Json<CodeBody>,
) -> HttpResponse {
    let app = state.options.compat_mini_program_app.clone();
    let result = async {
        let p = state
            .wxauth
            .mini_program_phone(&ctx.context, app.as_deref(), &body.code)
            .await?;
        Ok(json!({
            "errcode": 0,
            "errmsg": "ok",
            "phone_info": {
                "phoneNumber": p.phone_number,
                "purePhoneNumber": p.phone.national(),
                "countryCode": p.phone.country_code(),
                "watermark": { "timestamp": p.watermark_timestamp, "appid": p.watermark_appid },
            }
        }))
    }
    .await;
    strapi(&req, result)
}

/// Strapi v5 plugin: resolve a `wx.login` code to the openid. The session key the plugin used
/// to return is deliberately left out: it stays on the server.
#[utoipa::path(tag = "Compatibility",
    request_body = CodeBody,
    responses((status = 200, description = "`{openid}` (no session_key)", body = Object, example = json!({"openid": "obDKA13HPuz9C5BWppYpRm1uJ9Cs"}))))]
#[post("/api/strapi-plugin-wechat-miniprogram/auth/openid")]
pub async fn strapi_v5_openid(
    req: HttpRequest,
    state: web::Data<HttpState>,
    ctx: Ctx,
    body: Json<CodeBody>,
) -> HttpResponse {
    let app = state.options.compat_mini_program_app.clone();
    let result = async {
        let (openid, unionid) = state
            .wxauth
            .mini_program_openid(&ctx.context, app.as_deref(), &body.code)
            .await?;
        let mut body = json!({ "openid": openid.to_string() });
        if let Some(unionid) = unionid {
            body["unionid"] = Value::String(unionid.to_string());
        }
        Ok(body)
    }
    .await;
    strapi(&req, result)
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct StrapiV5Update {
    pub nickname: Option<String>,
    pub avatar: Option<String>,
    /// Accepted only when it equals the verified number on file: set phone numbers with
    /// `POST /api/v1/me/phone` and a `getPhoneNumber` code.
    pub phone: Option<String>,
}

/// Strapi v5 plugin: update nickname and avatar; `{code: 0, message, data}`.
#[utoipa::path(tag = "Compatibility",
    request_body = StrapiV5Update,
    security(("bearer" = [])),
    responses((status = 200, description = "`{code: 0, message, data}`", body = Object,
        example = json!({"code": 0, "message": "更新成功", "data": {"id": 9, "documentId": "mmr74jzbknf740spef1vka6m", "openid": "obDKA13HPuz9C5BWppYpRm1uJ9Cs", "nickname": "理塘策马大王", "avatar": null, "phone": null, "createdAt": "2025-11-20T09:57:03.073Z", "updatedAt": "2025-11-22T06:17:46.975Z", "publishedAt": "2025-11-22T06:17:46.985Z", "locale": null}}))))]
#[post("/api/strapi-plugin-wechat-miniprogram/auth/update")]
pub async fn strapi_v5_update(
    req: HttpRequest,
    state: web::Data<HttpState>,
    ctx: Ctx,
    auth: Auth,
    body: Json<StrapiV5Update>,
) -> HttpResponse {
    let result = async {
        let current = state.wxauth.current_user(&auth.0).await?;
        if let Some(phone) = &body.phone {
            let same = current
                .phone
                .as_ref()
                .is_some_and(|p| p.national() == phone || p.e164() == *phone);
            if !same {
                return Err(ApiError::validation(
                    "phone",
                    "is set only from a verified getPhoneNumber code (POST /api/v1/me/phone)",
                ));
            }
        }
        let invalid =
            |e: wxauth_domain::ValidationError, f: &'static str| ApiError::validation(f, &e.reason);
        let update = ProfileUpdate {
            nickname: body
                .nickname
                .as_deref()
                .map(|n| {
                    Nickname::parse(n)
                        .map(Some)
                        .map_err(|e| invalid(e, "nickname"))
                })
                .transpose()?,
            avatar_url: body
                .avatar
                .as_deref()
                .map(|a| {
                    AvatarUrl::parse(a)
                        .map(Some)
                        .map_err(|e| invalid(e, "avatar"))
                })
                .transpose()?,
        };
        let user = state
            .wxauth
            .update_profile(&ctx.context, &auth.0, update)
            .await?;
        let openid = openid_in(&state, &auth.0).await?;
        Ok(json!({
            "code": 0,
            "message": "更新成功",
            "data": {
                "id": user.id.0,
                "documentId": user.public_id.document_id(),
                "openid": openid,
                "nickname": user.nickname.as_ref().map(|n| n.as_str()),
                "avatar": user.avatar_url.as_ref().map(|a| a.as_str()),
                "phone": user.phone.as_ref().map(|p| p.national().to_owned()),
                "createdAt": rfc3339(user.created_at),
                "updatedAt": rfc3339(user.updated_at),
                "publishedAt": rfc3339(user.created_at),
                "locale": null,
            }
        }))
    }
    .await;
    strapi(&req, result)
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct StrapiV4Login {
    pub code: String,
    /// `e.detail.userInfo` from the legacy `getUserInfo` button.
    #[schema(value_type = Option<Object>)]
    pub user_info: Option<Value>,
}

/// Strapi v4 plugin: sign in with a code and the legacy user info; `{token, user}`.
#[utoipa::path(tag = "Compatibility",
    request_body = StrapiV4Login,
    responses((status = 200, description = "`{token, user}` as the plugin answers", body = Object,
        example = json!({"token": "eyJhbGciOiJIUzI1NiJ9.e30.sig", "user": {"id": 1, "username": null, "email": null, "provider": "local", "confirmationToken": null, "confirmed": true, "blocked": false, "createdAt": "2022-11-04T02:41:27.149Z", "updatedAt": "2022-11-04T02:41:27.149Z", "openid": "oFHxc5TV5VKscIudqlmfx9JpK4d4", "wechatUserInfo": {"nickName": "wfz", "avatarUrl": "https://A-WECHAT-AVATAR-LINK"}}}))))]
#[post("/strapi-wechat-miniprogram-auth/login")]
pub async fn strapi_v4_login(
    req: HttpRequest,
    state: web::Data<HttpState>,
    ctx: Ctx,
    body: Json<StrapiV4Login>,
) -> HttpResponse {
    let app = state.options.compat_mini_program_app.clone();
    let result = async {
        let outcome = state
            .wxauth
            .mini_program_login(
                &ctx.context,
                MiniProgramLogin {
                    app: app.as_deref(),
                    code: &body.code,
                    phone_code: None,
                },
            )
            .await?;
        let s = signed_in(outcome)?;
        let claims = state.wxauth.authenticate(&s.tokens.access_token)?;
        // The legacy userInfo fills in an empty profile; what does not validate is ignored.
        let info = body.user_info.clone().unwrap_or(Value::Null);
        let nickname = info
            .get("nickName")
            .and_then(Value::as_str)
            .and_then(|n| Nickname::parse(n).ok());
        let avatar = info
            .get("avatarUrl")
            .and_then(Value::as_str)
            .and_then(|a| AvatarUrl::parse(a).ok());
        let mut user = s.user.clone();
        let update = ProfileUpdate {
            nickname: nickname.filter(|_| user.nickname.is_none()).map(Some),
            avatar_url: avatar.filter(|_| user.avatar_url.is_none()).map(Some),
        };
        if update.nickname.is_some() || update.avatar_url.is_some() {
            user = state
                .wxauth
                .update_profile(&ctx.context, &claims, update)
                .await?;
        }
        let openid = openid_in(&state, &claims).await?;
        let mut wechat_user_info = if info.is_object() { info } else { json!({}) };
        wechat_user_info["nickName"] = json!(user.nickname.as_ref().map(|n| n.as_str()));
        wechat_user_info["avatarUrl"] = json!(user.avatar_url.as_ref().map(|a| a.as_str()));
        Ok(json!({
            "token": s.tokens.access_token,
            "user": {
                "id": user.id.0,
                "username": null,
                "email": null,
                "provider": "local",
                "confirmationToken": null,
                "confirmed": true,
                "blocked": user.is_blocked(),
                "createdAt": rfc3339(user.created_at),
                "updatedAt": rfc3339(user.updated_at),
                "openid": openid,
                "wechatUserInfo": wechat_user_info,
            }
        }))
    }
    .await;
    strapi(&req, result)
}

/// The legacy Official Account service's error body: the envelope with `details.field` and
/// `details.fieldValue`.
fn legacy_error(req: &HttpRequest, e: ApiError) -> HttpResponse {
    let field = e
        .details
        .get("field")
        .and_then(Value::as_str)
        .unwrap_or_default()
        .to_owned();
    let value = e.details.get("value").cloned().unwrap_or(Value::Null);
    HttpResponse::build(e.status).json(json!({
        "id": RequestId::of(req).as_str(),
        "status": e.status.as_u16(),
        "name": e.name,
        "message": e.message,
        "details": { "field": field, "fieldValue": value },
    }))
}

#[derive(Debug, Deserialize, IntoParams)]
#[serde(rename_all = "camelCase")]
#[into_params(parameter_in = Query)]
pub struct LegacyAuthorizeQuery {
    pub redirect_uri: String,
    pub callback: String,
    pub scope: Option<String>,
}

/// Legacy Official Account service: build the authorize URL. Like that service, it answers 401
/// with the URL in `details.fieldValue`.
#[utoipa::path(tag = "Compatibility",
    params(LegacyAuthorizeQuery),
    responses((status = 401, description = "The authorize URL in details.fieldValue", body = Object,
        example = json!({"id": "3e906768-3b67-45e6-8eb7-630911f642d2", "status": 401, "name": "UNAUTHORIZED", "message": "UNAUTHORIZED", "details": {"field": "authorization url", "fieldValue": "https://open.weixin.qq.com/connect/oauth2/authorize?appid=wx5484861b38fa530f&redirect_uri=http%3A%2F%2F192.168.1.165%3A5173%2F&response_type=code&scope=snsapi_base&state=1c630cd9850e453dbc6248ba60afb974&forcePopup=false#wechat_redirect"}})),
        (status = 400, description = "Validation error with details.field", body = Object)))]
#[get("/wechat/authorize")]
pub async fn legacy_authorize(
    req: HttpRequest,
    state: web::Data<HttpState>,
    ctx: Ctx,
    query: Query<LegacyAuthorizeQuery>,
) -> HttpResponse {
    let app = state.options.compat_official_app.clone();
    let result = async {
        let auth = state
            .wxauth
            .oauth_authorize(
                &ctx.context,
                AuthorizeRequest {
                    app: app.as_deref(),
                    redirect_uri: &query.redirect_uri,
                    callback: &query.callback,
                    scope: query.scope.as_deref(),
                    force_popup: None,
                },
            )
            .await?;
        Ok::<_, ApiError>(auth.authorize_url)
    }
    .await;
    match result {
        Ok(url) => HttpResponse::Unauthorized().json(json!({
            "id": RequestId::of(&req).as_str(),
            "status": 401,
            "name": "UNAUTHORIZED",
            "message": "UNAUTHORIZED",
            "details": { "field": "authorization url", "fieldValue": url },
        })),
        Err(e) => legacy_error(&req, e),
    }
}

#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct LegacyJwtQuery {
    pub code: String,
    pub state: String,
}

/// Legacy Official Account service: exchange the code for a JWT; `{jwt, redirectUri}`.
#[utoipa::path(tag = "Compatibility",
    params(LegacyJwtQuery),
    responses((status = 200, description = "`{jwt, redirectUri}`", body = Object,
        example = json!({"jwt": "eyJhbGciOiJIUzI1NiJ9.e30.sig", "redirectUri": "https://app.example.com/home"})),
        (status = 400, description = "Validation error with details.field", body = Object)))]
#[get("/wechat/jwt")]
pub async fn legacy_jwt(
    req: HttpRequest,
    state: web::Data<HttpState>,
    ctx: Ctx,
    query: Query<LegacyJwtQuery>,
) -> HttpResponse {
    let result = async {
        let login = state
            .wxauth
            .oauth_login(&ctx.context, &query.code, &query.state)
            .await?;
        let s = signed_in(login.outcome)?;
        Ok::<_, ApiError>(
            json!({ "jwt": s.tokens.access_token, "redirectUri": login.redirect_uri }),
        )
    }
    .await;
    match result {
        Ok(body) => HttpResponse::Ok().json(body),
        Err(e) => legacy_error(&req, e),
    }
}
