//! Official Account tools: parametric QR codes, the follow check, the signed event push and
//! scan-to-login.

use actix_web::dev::Payload;
use actix_web::http::header;
use actix_web::{FromRequest, HttpRequest, HttpResponse, get, post, web};
use serde::{Deserialize, Serialize};
use time::OffsetDateTime;
use utoipa::{IntoParams, ToSchema};
use wxauth_core::official::{QrCodeRequest, QrLoginState};
use wxauth_core::ports::{PushSignature, QrScene};
use wxauth_domain::OpenId;

use super::Result;
use crate::dto::{BindRequiredResponse, TokenResponse};
use crate::error::ErrorBody;
use crate::extract::{Admin, Auth, Ctx};
use crate::json::{Json, OptionalJson, Query};
use crate::state::HttpState;

#[derive(Debug, Clone, Deserialize, ToSchema)]
#[serde(untagged)]
pub enum SceneDto {
    /// An integer scene (`QR_SCENE` / `QR_LIMIT_SCENE`).
    Id(u32),
    /// A string scene of 1 to 64 characters (`QR_STR_SCENE` / `QR_LIMIT_STR_SCENE`).
    Str(String),
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
#[schema(example = json!({"app": "demo-oa", "scene": "poster_2026", "expireSeconds": 604800}))]
pub struct QrCodeBody {
    pub app: Option<String>,
    #[schema(value_type = Object)]
    pub scene: SceneDto,
    /// Temporary codes: 60 to 2592000 seconds (default 2592000).
    pub expire_seconds: Option<u32>,
    /// Permanent codes (limited in number per account): integer scenes 1 to 100000.
    #[serde(default)]
    pub permanent: bool,
}

#[derive(Debug, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
#[schema(example = json!({
    "ticket": "gQH47joAAAAAAAAAASxodHRwOi8vd2VpeGluLnFxLmNvbS9xL2taZ2Z3TVRtNzJXV1Brb3ZhYmJJAAIEZ23sUwMEmm3sUw==",
    "url": "http://weixin.qq.com/q/kZgfwMTm72WWPkovabbI",
    "imageUrl": "https://mp.weixin.qq.com/cgi-bin/showqrcode?ticket=gQH47joAAAAAAAAAASxodHRwOi8vd2VpeGluLnFxLmNvbS9xL2taZ2Z3TVRtNzJXV1Brb3ZhYmJJAAIEZ23sUwMEmm3sUw%3D%3D",
    "expiresAt": "2026-11-30T08:00:00Z"
}))]
pub struct QrCodeResponse {
    pub ticket: String,
    /// The content encoded in the QR code.
    pub url: String,
    /// The QR image.
    pub image_url: String,
    /// `null` for permanent codes.
    #[serde(with = "time::serde::rfc3339::option")]
    #[schema(value_type = Option<String>, format = DateTime)]
    pub expires_at: Option<OffsetDateTime>,
}

/// Create a parametric QR code (admin).
#[utoipa::path(tag = "Official Account",
    request_body = QrCodeBody,
    security(("adminKey" = [])),
    responses(
        (status = 200, description = "The QR code", body = QrCodeResponse),
        (status = 400, description = "VALIDATION_ERROR (limits), WRONG_APP_KIND", body = ErrorBody),
        (status = 401, description = "UNAUTHORIZED", body = ErrorBody),
        (status = 502, description = "WECHAT_ERROR, WECHAT_UNAVAILABLE", body = ErrorBody),
    ))]
#[post("/api/v1/official/qrcodes")]
pub async fn create_qrcode(
    state: web::Data<HttpState>,
    admin: Admin,
    body: Json<QrCodeBody>,
) -> Result<HttpResponse> {
    let body = body.into_inner();
    let scene = match body.scene {
        SceneDto::Id(id) => QrScene::Id(id),
        SceneDto::Str(s) => QrScene::Str(s),
    };
    let qr = state
        .wxauth
        .create_qr_code(
            admin.context(),
            QrCodeRequest {
                app: body.app.as_deref(),
                scene,
                expire_seconds: body.expire_seconds,
                permanent: body.permanent,
            },
        )
        .await?;
    let expires_at = qr
        .expire_seconds
        .map(|s| OffsetDateTime::now_utc() + time::Duration::seconds(i64::from(s)));
    Ok(HttpResponse::Ok().json(QrCodeResponse {
        ticket: qr.ticket,
        url: qr.url,
        image_url: qr.image_url,
        expires_at,
    }))
}

#[derive(Debug, Deserialize, IntoParams)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
pub struct SubscriptionQuery {
    /// The Official Account; optional with a single one.
    pub app: Option<String>,
    /// Admin only: any user's openid in that account. Without it, the caller's own.
    pub openid: Option<String>,
}

#[derive(Debug, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
#[schema(example = json!({"subscribed": true, "subscribeTime": 1700000000}))]
pub struct SubscriptionResponse {
    pub subscribed: bool,
    /// Seconds since the epoch, when following.
    pub subscribe_time: Option<i64>,
}

/// Whether a user follows the Official Account.
///
/// With a bearer token: the caller, by their openid in that account. With an admin key and
/// `openid`: anyone.
#[utoipa::path(tag = "Official Account",
    params(SubscriptionQuery),
    security(("bearer" = []), ("adminKey" = [])),
    responses(
        (status = 200, description = "The follow state", body = SubscriptionResponse),
        (status = 401, description = "UNAUTHORIZED", body = ErrorBody),
        (status = 404, description = "NOT_FOUND: the caller has no identity in that account", body = ErrorBody),
        (status = 502, description = "WECHAT_ERROR, WECHAT_UNAVAILABLE", body = ErrorBody),
    ))]
#[get("/api/v1/official/subscription")]
pub async fn subscription(
    req: HttpRequest,
    state: web::Data<HttpState>,
    query: Query<SubscriptionQuery>,
) -> Result<HttpResponse> {
    let status = match &query.openid {
        Some(openid) => {
            // Looking up someone else is an admin's business.
            Admin::from_request(&req, &mut Payload::None).await?;
            let openid = OpenId::parse(openid.as_str())?;
            state
                .wxauth
                .follower_status(query.app.as_deref(), &openid)
                .await?
        }
        None => {
            let auth = Auth::from_request(&req, &mut Payload::None).await?;
            state
                .wxauth
                .my_follower_status(&auth.0, query.app.as_deref())
                .await?
        }
    };
    Ok(HttpResponse::Ok().json(SubscriptionResponse {
        subscribed: status.subscribed,
        subscribe_time: status.subscribe_time,
    }))
}

#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct PushQuery {
    pub signature: Option<String>,
    pub timestamp: Option<String>,
    pub nonce: Option<String>,
    /// URL check only.
    pub echostr: Option<String>,
    pub openid: Option<String>,
    /// `aes` in safe mode.
    pub encrypt_type: Option<String>,
    pub msg_signature: Option<String>,
}

impl PushQuery {
    fn signature(&self) -> PushSignature {
        PushSignature {
            signature: self.signature.clone().unwrap_or_default(),
            timestamp: self.timestamp.clone().unwrap_or_default(),
            nonce: self.nonce.clone().unwrap_or_default(),
            encrypt_type: self.encrypt_type.clone(),
            msg_signature: self.msg_signature.clone(),
        }
    }
}

/// WeChat's server URL check: answers `echostr` when the signature matches the event token.
#[utoipa::path(tag = "Official Account",
    params(("app" = String, Path, description = "The Official Account key"), PushQuery),
    responses(
        (status = 200, description = "The echostr, as plain text", content_type = "text/plain", body = String),
        (status = 401, description = "INVALID_SIGNATURE", body = ErrorBody),
    ))]
#[get("/api/v1/official/{app}/events")]
pub async fn verify_url(
    state: web::Data<HttpState>,
    app: web::Path<String>,
    query: Query<PushQuery>,
) -> Result<HttpResponse> {
    state
        .wxauth
        .verify_event_url(&app, &query.signature())
        .await?;
    let echostr = query.echostr.clone().unwrap_or_default();
    Ok(HttpResponse::Ok()
        .content_type("text/plain; charset=utf-8")
        .body(echostr))
}

/// Receive an event push (plain, safe or compatible mode).
///
/// Verifies `signature` (or `msg_signature` in safe mode), decrypts, records follows and
/// unfollows, completes scan-to-logins, ignores WeChat's retries of a push already handled,
/// and answers `success`.
#[utoipa::path(tag = "Official Account",
    params(("app" = String, Path, description = "The Official Account key"), PushQuery),
    request_body(content = String, content_type = "text/xml", description = "WeChat's XML push"),
    responses(
        (status = 200, description = "`success`", content_type = "text/plain", body = String),
        (status = 400, description = "VALIDATION_ERROR: not a readable push", body = ErrorBody),
        (status = 401, description = "INVALID_SIGNATURE", body = ErrorBody),
    ))]
#[post("/api/v1/official/{app}/events")]
pub async fn receive_event(
    state: web::Data<HttpState>,
    app: web::Path<String>,
    query: Query<PushQuery>,
    body: web::Bytes,
) -> Result<HttpResponse> {
    state
        .wxauth
        .handle_event(&app, &query.signature(), &body)
        .await?;
    Ok(HttpResponse::Ok()
        .content_type("text/plain; charset=utf-8")
        .body("success"))
}

#[derive(Debug, Default, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
#[schema(example = json!({"app": "demo-oa"}))]
pub struct QrLoginBody {
    pub app: Option<String>,
}

#[derive(Debug, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
#[schema(example = json!({
    "loginId": "ql_3XkP9mQ2bq6hVYc3aJ8hC0yTQy4n6Qy",
    "qrImageUrl": "https://mp.weixin.qq.com/cgi-bin/showqrcode?ticket=gQH47joAAAAAAAAAASxodHRw",
    "qrUrl": "http://weixin.qq.com/q/kZgfwMTm72WWPkovabbI",
    "expiresIn": 300
}))]
pub struct QrLoginStartResponse {
    /// Poll `GET /api/v1/official/qr-login/{loginId}` with it.
    pub login_id: String,
    pub qr_image_url: String,
    pub qr_url: String,
    pub expires_in: i64,
}

/// Start a scan-to-login: a temporary QR code whose scan signs the scanner in.
#[utoipa::path(tag = "Official Account",
    request_body = QrLoginBody,
    responses(
        (status = 200, description = "Show the QR image, then poll", body = QrLoginStartResponse),
        (status = 400, description = "WRONG_APP_KIND, APP_REQUIRED", body = ErrorBody),
        (status = 429, description = "RATE_LIMITED", body = ErrorBody),
        (status = 502, description = "WECHAT_ERROR, WECHAT_UNAVAILABLE", body = ErrorBody),
    ))]
#[post("/api/v1/official/qr-login")]
pub async fn start_qr_login(
    state: web::Data<HttpState>,
    ctx: Ctx,
    body: OptionalJson<QrLoginBody>,
) -> Result<HttpResponse> {
    let app = body.0.and_then(|b| b.app);
    let start = state
        .wxauth
        .start_qr_login(&ctx.context, app.as_deref())
        .await?;
    Ok(HttpResponse::Ok().json(QrLoginStartResponse {
        login_id: start.login_id,
        qr_image_url: start.qr_image_url,
        qr_url: start.qr_url,
        expires_in: start.expires_in,
    }))
}

/// Where a scan-to-login stands.
#[derive(Debug, Serialize, ToSchema)]
#[serde(untagged)]
pub enum QrLoginStatusResponse {
    /// `{"status": "pending"}` or `{"status": "expired"}`.
    Waiting {
        status: &'static str,
    },
    SignedIn(TokenResponse),
    BindRequired(BindRequiredResponse),
}

/// Poll a scan-to-login: `pending`, `expired`, or (once) the tokens.
#[utoipa::path(tag = "Official Account",
    params(("loginId" = String, Path, description = "From the start call")),
    responses(
        (status = 200, description = "pending, expired, or signed in", body = QrLoginStatusResponse,
         example = json!({"status": "pending"})),
        (status = 404, description = "NOT_FOUND", body = ErrorBody),
        (status = 410, description = "QR_LOGIN_CONSUMED: the tokens were already delivered", body = ErrorBody),
        (status = 429, description = "RATE_LIMITED", body = ErrorBody),
    ))]
#[get("/api/v1/official/qr-login/{loginId}")]
pub async fn poll_qr_login(
    state: web::Data<HttpState>,
    ctx: Ctx,
    login_id: web::Path<String>,
) -> Result<HttpResponse> {
    let status = state.wxauth.poll_qr_login(&ctx.context, &login_id).await?;
    let body = match &status {
        QrLoginState::Pending => QrLoginStatusResponse::Waiting { status: "pending" },
        QrLoginState::Expired => QrLoginStatusResponse::Waiting { status: "expired" },
        QrLoginState::SignedIn(s) => {
            QrLoginStatusResponse::SignedIn(TokenResponse::from(s.as_ref()))
        }
        QrLoginState::BindRequired {
            bind_code,
            expires_in,
        } => QrLoginStatusResponse::BindRequired(BindRequiredResponse {
            status: "bind_required",
            bind_code: bind_code.clone(),
            expires_in: *expires_in,
        }),
    };
    Ok(HttpResponse::Ok()
        .insert_header((header::CACHE_CONTROL, "no-store"))
        .json(body))
}
