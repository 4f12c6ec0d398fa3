//! Web sign-in by scanning a Mini Program code: the desktop starts a login and shows its code,
//! the Mini Program scans and confirms, the desktop polls or streams until it has its tokens.

use std::time::Duration;

use actix_web::http::header::{self, ContentEncoding};
use actix_web::web::Bytes;
use actix_web::{FromRequest, HttpRequest, HttpResponse, get, post, web};
use futures::stream::{self, Stream};
use serde::{Deserialize, Serialize};
use time::OffsetDateTime;
use utoipa::ToSchema;
use wxauth_core::mp_qr_login::{MpQrLoginScanned, MpQrLoginState, Scanner};
use wxauth_core::{CoreError, LoginChanged, RequestContext};

use super::Result;
use crate::dto::TokenResponse;
use crate::error::{ApiError, ErrorBody};
use crate::extract::{BearerToken, Ctx, MaybeAuth};
use crate::json::{Json, OptionalJson};
use crate::state::HttpState;

/// A stream says it is alive this often, so that proxies keep it open.
const KEEP_ALIVE: Duration = Duration::from_secs(15);
/// Every this many keep-alives a stream reads its login's state even without a wake-up.
const READ_EVERY_KEEP_ALIVES: u32 = 4;

#[derive(Debug, Default, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
#[schema(example = json!({"app": "demo-mp"}))]
pub struct StartRequest {
    /// The Mini Program; optional when the service has a default one.
    pub app: Option<String>,
}

#[derive(Debug, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
#[schema(example = json!({
    "loginId": "mql_4bq6hVYc3aJ8hC0yTQy4n6QyXkP9mQ2b",
    "expiresIn": 300,
    "qrImageUrl": "/api/v1/miniprogram/qr-logins/mql_4bq6hVYc3aJ8hC0yTQy4n6QyXkP9mQ2b/image"
}))]
pub struct StartResponse {
    /// Keep it to yourself: it fetches the tokens. Poll or stream
    /// `GET /api/v1/miniprogram/qr-logins/{loginId}` with it.
    pub login_id: String,
    pub expires_in: i64,
    /// The code to show, relative to this service (the image is served from here, so the
    /// Mini Program's access token never reaches a browser).
    pub qr_image_url: String,
}

/// Start a web sign-in by Mini Program code.
///
/// Draws a Mini Program code carrying a fresh one-time scene and answers the login id the
/// desktop waits with. Show the image at `qrImageUrl`; the user scans it with WeChat, the
/// Mini Program opens on the scene and the user confirms there.
#[utoipa::path(tag = "Mini Program scan-login",
    request_body = StartRequest,
    responses(
        (status = 200, description = "Show the code, then poll or stream", body = StartResponse),
        (status = 400, description = "WRONG_APP_KIND, APP_REQUIRED", body = ErrorBody),
        (status = 404, description = "APP_NOT_FOUND", body = ErrorBody),
        (status = 429, description = "RATE_LIMITED, WECHAT_RATE_LIMITED (45009: the daily quota)", body = ErrorBody),
        (status = 502, description = "WECHAT_ERROR (41030: the page does not exist), WECHAT_UNAVAILABLE", body = ErrorBody),
        (status = 504, description = "WECHAT_UNAVAILABLE (timeout)", body = ErrorBody),
    ))]
#[post("/api/v1/miniprogram/qr-logins")]
pub async fn start_qr_login(
    state: web::Data<HttpState>,
    ctx: Ctx,
    req: HttpRequest,
    body: OptionalJson<StartRequest>,
) -> Result<HttpResponse> {
    let app = body.0.and_then(|b| b.app);
    let user_agent = req
        .headers()
        .get(header::USER_AGENT)
        .and_then(|v| v.to_str().ok());
    let started = state
        .wxauth
        .start_mp_qr_login(&ctx.context, app.as_deref(), user_agent)
        .await?;
    Ok(HttpResponse::Ok()
        .insert_header((header::CACHE_CONTROL, "no-store"))
        .json(StartResponse {
            qr_image_url: format!("/api/v1/miniprogram/qr-logins/{}/image", started.login_id),
            login_id: started.login_id,
            expires_in: started.expires_in,
        }))
}

/// The code image of a login still open (PNG or JPEG, as WeChat drew it).
#[utoipa::path(tag = "Mini Program scan-login",
    params(("loginId" = String, Path, description = "From the start call")),
    responses(
        (status = 200, description = "The image", content_type = "image/png"),
        (status = 404, description = "NOT_FOUND: unknown, finished or expired", body = ErrorBody),
        (status = 429, description = "RATE_LIMITED", body = ErrorBody),
    ))]
#[get("/api/v1/miniprogram/qr-logins/{loginId}/image")]
pub async fn qr_login_image(
    state: web::Data<HttpState>,
    ctx: Ctx,
    login_id: web::Path<String>,
) -> Result<HttpResponse> {
    let image = state
        .wxauth
        .mp_qr_login_image(&ctx.context, &login_id)
        .await?;
    Ok(HttpResponse::Ok()
        .content_type(image.media_type)
        .insert_header((header::CACHE_CONTROL, "private, no-store"))
        .body(image.bytes))
}

/// Where a login stands, for the desktop.
#[derive(Debug, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct StatusResponse {
    /// `pending`, `scanned`, `confirmed` (with `tokens`, this once), `bind_required` (with
    /// `bindCode`), `cancelled` or `expired`.
    pub status: &'static str,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub expires_in: Option<i64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub tokens: Option<TokenResponse>,
    /// Under the `bind_code` registration policy: redeem with `POST /api/v1/auth/register`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub bind_code: Option<String>,
}

impl From<&MpQrLoginState> for StatusResponse {
    fn from(state: &MpQrLoginState) -> Self {
        let plain = |status, expires_in| StatusResponse {
            status,
            expires_in,
            tokens: None,
            bind_code: None,
        };
        match state {
            MpQrLoginState::Pending { expires_in } => plain("pending", Some(*expires_in)),
            MpQrLoginState::Scanned { expires_in } => plain("scanned", Some(*expires_in)),
            MpQrLoginState::Confirmed(signed_in) => StatusResponse {
                tokens: Some(TokenResponse::from(signed_in.as_ref())),
                ..plain("confirmed", None)
            },
            MpQrLoginState::BindRequired {
                bind_code,
                expires_in,
            } => StatusResponse {
                bind_code: Some(bind_code.clone()),
                ..plain("bind_required", Some(*expires_in))
            },
            MpQrLoginState::Cancelled => plain("cancelled", None),
            MpQrLoginState::Expired => plain("expired", None),
        }
    }
}

/// Poll or stream a login.
///
/// With `Accept: text/event-stream` the answer is a stream of Server-Sent Events: one `status`
/// event (the JSON below) at once and at every change, comments as keep-alives, and the end of
/// the stream after `confirmed`, `bind_required`, `cancelled` or `expired`. Otherwise one JSON
/// answer; poll about once a second. The tokens come once: a later poll gets 410.
#[utoipa::path(tag = "Mini Program scan-login",
    params(("loginId" = String, Path, description = "From the start call")),
    responses(
        (status = 200, description = "Where the login stands (JSON, or an event stream)", body = StatusResponse,
         example = json!({"status": "scanned", "expiresIn": 241})),
        (status = 404, description = "NOT_FOUND", body = ErrorBody),
        (status = 410, description = "QR_LOGIN_CONSUMED: the tokens were already delivered", body = ErrorBody),
        (status = 429, description = "RATE_LIMITED", body = ErrorBody),
    ))]
#[get("/api/v1/miniprogram/qr-logins/{loginId}")]
pub async fn qr_login_status(
    state: web::Data<HttpState>,
    ctx: Ctx,
    req: HttpRequest,
    login_id: web::Path<String>,
    table: web::Data<super::RouteTable>,
) -> Result<HttpResponse> {
    // `/qr-logins/scan` and its siblings are POST routes this pattern matches too: a GET there
    // is a wrong method, not an unknown login.
    if table.is_static(req.path()) {
        return Ok(crate::fallback(req, table).await);
    }
    let login_id = login_id.into_inner();
    if wants_events(&req) {
        return open_stream(state, ctx.context, login_id).await;
    }
    let current = state
        .wxauth
        .poll_mp_qr_login(&ctx.context, &login_id)
        .await?;
    Ok(HttpResponse::Ok()
        .insert_header((header::CACHE_CONTROL, "no-store"))
        .json(StatusResponse::from(&current)))
}

fn wants_events(req: &HttpRequest) -> bool {
    req.headers()
        .get_all(header::ACCEPT)
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(','))
        .any(|media| media.trim().starts_with("text/event-stream"))
}

/// What a stream does next.
enum Step {
    /// Send this state (if it changed), then wait.
    Send(Box<MpQrLoginState>),
    /// Wait for a change, the login's expiry or the next keep-alive.
    Wait,
    /// Read the state again: the login changed or expired.
    Read,
    Done,
}

struct Streaming {
    state: web::Data<HttpState>,
    ctx: RequestContext,
    login_id: String,
    step: Step,
    /// Registered before each read of the state, so that a change right after the read wakes
    /// the stream.
    changed: Option<LoginChanged>,
    /// The last status sent, so that a wake-up without a change sends nothing.
    sent: Option<&'static str>,
    /// When the login expires, by the last state read.
    expires: tokio::time::Instant,
    keep_alives: u32,
}

async fn open_stream(
    state: web::Data<HttpState>,
    ctx: RequestContext,
    login_id: String,
) -> Result<HttpResponse> {
    let changed = state.wxauth.watch_mp_qr_login(&login_id)?;
    // Errors before the first event are ordinary answers: 404, 410, 429.
    let first = state
        .wxauth
        .open_mp_qr_login_stream(&ctx, &login_id)
        .await?;
    let streaming = Streaming {
        state: state.clone(),
        ctx,
        login_id,
        step: Step::Send(Box::new(first)),
        changed: Some(changed),
        sent: None,
        expires: tokio::time::Instant::now(),
        keep_alives: 0,
    };
    state.metrics.qr_login_streams(1);
    Ok(HttpResponse::Ok()
        .content_type("text/event-stream")
        .insert_header((header::CACHE_CONTROL, "no-store"))
        // Compression and proxy buffering would hold events back.
        .insert_header(ContentEncoding::Identity)
        .insert_header(("x-accel-buffering", "no"))
        .streaming(Counted {
            events: Box::pin(events(streaming)),
            state,
        }))
}

/// A stream of events, counted in the open-streams gauge until it ends or its client goes.
struct Counted<S> {
    events: std::pin::Pin<Box<S>>,
    state: web::Data<HttpState>,
}

impl<S: Stream> Stream for Counted<S> {
    type Item = S::Item;

    fn poll_next(
        mut self: std::pin::Pin<&mut Self>,
        cx: &mut std::task::Context<'_>,
    ) -> std::task::Poll<Option<S::Item>> {
        self.events.as_mut().poll_next(cx)
    }
}

impl<S> Drop for Counted<S> {
    fn drop(&mut self) {
        self.state.metrics.qr_login_streams(-1);
    }
}

/// A stream costs nothing between events: no read of the store on a keep-alive, only when the
/// login changed (here or, through the change feed, on another instance) or expired.
fn events(
    streaming: Streaming,
) -> impl Stream<Item = std::result::Result<Bytes, std::convert::Infallible>> {
    stream::unfold(streaming, |mut s| async move {
        loop {
            match std::mem::replace(&mut s.step, Step::Done) {
                Step::Done => return None,
                Step::Send(current) => {
                    let body = StatusResponse::from(current.as_ref());
                    if let Some(expires_in) = body.expires_in {
                        let left =
                            Duration::from_secs(u64::try_from(expires_in.max(0)).unwrap_or(0));
                        // A second late, so that the read finds it expired.
                        s.expires = tokio::time::Instant::now() + left + Duration::from_secs(1);
                    }
                    let changed = s.sent != Some(body.status);
                    s.sent = Some(body.status);
                    s.step = if current.is_final() {
                        Step::Done
                    } else {
                        Step::Wait
                    };
                    if changed {
                        return Some((Ok(event("status", &body)), s));
                    }
                }
                Step::Wait => {
                    // No watcher (a login id of another shape): nothing will ever change.
                    let changed = s.changed.as_mut()?;
                    tokio::select! {
                        () = changed => s.step = Step::Read,
                        () = tokio::time::sleep_until(s.expires) => s.step = Step::Read,
                        () = tokio::time::sleep(KEEP_ALIVE) => {
                            // Every few keep-alives the state is read anyway, in case a wake-up
                            // was lost (an instance that stopped between its write and the
                            // feed's next look, say): a lost one costs a minute, not the login.
                            s.keep_alives += 1;
                            s.step = if s.keep_alives % READ_EVERY_KEEP_ALIVES == 0 {
                                Step::Read
                            } else {
                                Step::Wait
                            };
                            return Some((Ok(Bytes::from_static(b": keep-alive\n\n")), s));
                        }
                    }
                }
                Step::Read => {
                    s.changed = s.state.wxauth.watch_mp_qr_login(&s.login_id).ok();
                    // Boxed: the use case's future is large, and held inline it would make
                    // every waiting stream as large as its biggest step.
                    let read = Box::pin(s.state.wxauth.stream_mp_qr_login(&s.ctx, &s.login_id));
                    s.step = match read.await {
                        Ok(current) => Step::Send(Box::new(current)),
                        // It was open when the stream began: housekeeping removed it expired.
                        Err(CoreError::NotFound(_)) => {
                            Step::Send(Box::new(MpQrLoginState::Expired))
                        }
                        // Not `error`: EventSource hands a server event of that name to the
                        // handler of its own connection errors.
                        Err(e) => {
                            let error = ApiError::from(e);
                            let body = error.body(s.ctx.request_id.as_deref().unwrap_or(""));
                            return Some((Ok(event("failure", &body)), s));
                        }
                    };
                }
            }
        }
    })
}

fn event(name: &str, body: &impl Serialize) -> Bytes {
    let data = serde_json::to_string(body).unwrap_or_else(|_| "{}".into());
    Bytes::from(format!("event: {name}\ndata: {data}\n\n"))
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
#[schema(example = json!({"scene": "Xk2llqWzkd4ybhll2C1kDq2Xk2lB0a3X", "code": "0a3Xk2ll2qWzkd4ybhll2C1kDq2Xk2lB"}))]
pub struct ScanRequest {
    /// `options.scene` of the page the code opened (URL-decoded).
    pub scene: String,
    /// A fresh `wx.login` code; leave it out and send `Authorization: Bearer <access token>` of
    /// a signed-in Mini Program user instead.
    pub code: Option<String>,
}

#[derive(Debug, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct ScannedApp {
    pub key: String,
    pub name: String,
}

/// The desktop that asked, for the user to recognise before confirming.
#[derive(Debug, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct RequestingDesktop {
    /// The browser, from its User-Agent (`Chrome 131`), when it says.
    pub browser: Option<String>,
    /// The system (`Windows 10`, `Mac OSX`), when it says.
    pub os: Option<String>,
    pub ip: Option<String>,
    #[serde(with = "time::serde::rfc3339")]
    #[schema(value_type = String, format = DateTime)]
    pub requested_at: OffsetDateTime,
}

#[derive(Debug, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
#[schema(example = json!({
    "status": "scanned",
    "confirmToken": "mqc_q6hVYc3aJ8hC0yTQy4n6QyXkP9mQ2b4bq6hVYc3aJ8h",
    "expiresIn": 280,
    "app": {"key": "demo-mp", "name": "Demo Mini Program"},
    "request": {"browser": "Chrome 131.0.0.0", "os": "Windows 10", "ip": "203.0.113.9", "requestedAt": "2026-12-03T08:00:00Z"}
}))]
pub struct ScanResponse {
    /// Always `scanned`.
    pub status: &'static str,
    /// Send it as `Authorization: Bearer` to confirm or cancel. Only this WeChat user holds it.
    pub confirm_token: String,
    pub expires_in: i64,
    pub app: ScannedApp,
    pub request: RequestingDesktop,
}

impl From<MpQrLoginScanned> for ScanResponse {
    fn from(s: MpQrLoginScanned) -> Self {
        let agent = s
            .desktop_agent
            .as_deref()
            .and_then(|ua| woothee::parser::Parser::new().parse(ua));
        let known =
            |v: &str| (!v.is_empty() && v != woothee::woothee::VALUE_UNKNOWN).then(|| v.to_owned());
        let browser = agent.as_ref().and_then(|a| {
            known(a.name).map(|name| match known(a.version) {
                Some(version) => format!("{name} {version}"),
                None => name,
            })
        });
        // "Windows 10" names its version already; "Mac OSX" and "Android" need theirs.
        let os = agent.as_ref().and_then(|a| {
            known(a.os).map(|os| match known(&a.os_version) {
                Some(version) if !os.chars().any(|c| c.is_ascii_digit()) => {
                    format!("{os} {version}")
                }
                _ => os,
            })
        });
        Self {
            status: "scanned",
            confirm_token: s.confirm_token,
            expires_in: s.expires_in,
            app: ScannedApp {
                key: s.app.key.to_string(),
                name: s.app.name.to_string(),
            },
            request: RequestingDesktop {
                browser,
                os,
                ip: s.desktop_ip,
                requested_at: s.requested_at,
            },
        }
    }
}

/// The Mini Program reports a scan.
///
/// Call it from the page the code opens, with the scene and a fresh `wx.login` code (or the
/// Bearer access token of a signed-in user). Answers who asked and a confirmation token. The
/// same user may scan again (a fresh token); another user gets 409.
#[utoipa::path(tag = "Mini Program scan-login",
    request_body = ScanRequest,
    responses(
        (status = 200, description = "Scanned: show the request and ask to confirm", body = ScanResponse),
        (status = 400, description = "VALIDATION_ERROR, INVALID_CODE, CODE_USED", body = ErrorBody),
        (status = 401, description = "UNAUTHORIZED: neither a code nor a valid access token", body = ErrorBody),
        (status = 403, description = "USER_BLOCKED, REGISTRATION_CLOSED", body = ErrorBody),
        (status = 404, description = "NOT_FOUND: no login has this scene", body = ErrorBody),
        (status = 409, description = "QR_LOGIN_TAKEN: another user scanned first; QR_LOGIN_FINISHED", body = ErrorBody),
        (status = 410, description = "QR_LOGIN_EXPIRED", body = ErrorBody),
        (status = 429, description = "RATE_LIMITED", body = ErrorBody),
        (status = 502, description = "WECHAT_UNAVAILABLE, WECHAT_ERROR", body = ErrorBody),
    ))]
#[post("/api/v1/miniprogram/qr-logins/scan")]
pub async fn scan_qr_login(
    state: web::Data<HttpState>,
    ctx: Ctx,
    req: HttpRequest,
    body: Json<ScanRequest>,
) -> Result<HttpResponse> {
    // A code vouches for the scanner by itself: an access token sent along (a stale one the
    // Mini Program still holds, say) is not even looked at.
    let claims = match &body.code {
        Some(_) => None,
        None => MaybeAuth::extract(&req).await?.0,
    };
    let scanner = match (&body.code, &claims) {
        (Some(code), _) => Scanner::Code(code),
        (None, Some(claims)) => Scanner::SignedIn(claims),
        (None, None) => {
            return Err(CoreError::Unauthenticated(
                "send a wx.login code, or Authorization: Bearer <access token>",
            )
            .into());
        }
    };
    let scanned = state
        .wxauth
        .scan_mp_qr_login(&ctx.context, &body.scene, scanner)
        .await?;
    Ok(HttpResponse::Ok()
        .insert_header((header::CACHE_CONTROL, "no-store"))
        .json(ScanResponse::from(scanned)))
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
#[schema(example = json!({"scene": "Xk2llqWzkd4ybhll2C1kDq2Xk2lB0a3X"}))]
pub struct DecisionRequest {
    pub scene: String,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct DecisionResponse {
    /// `confirmed` or `cancelled`.
    pub status: &'static str,
}

/// The scanner confirms: the desktop is signed in at its next poll (at once when streaming).
#[utoipa::path(tag = "Mini Program scan-login",
    request_body = DecisionRequest,
    security(("confirmToken" = [])),
    responses(
        (status = 200, description = "Confirmed", body = DecisionResponse),
        (status = 401, description = "UNAUTHORIZED: not the scan's confirmation token", body = ErrorBody),
        (status = 403, description = "USER_BLOCKED, REGISTRATION_CLOSED", body = ErrorBody),
        (status = 404, description = "NOT_FOUND", body = ErrorBody),
        (status = 409, description = "QR_LOGIN_FINISHED: already confirmed or cancelled", body = ErrorBody),
        (status = 410, description = "QR_LOGIN_EXPIRED", body = ErrorBody),
        (status = 429, description = "RATE_LIMITED", body = ErrorBody),
    ))]
#[post("/api/v1/miniprogram/qr-logins/confirm")]
pub async fn confirm_qr_login(
    state: web::Data<HttpState>,
    ctx: Ctx,
    token: BearerToken,
    body: Json<DecisionRequest>,
) -> Result<HttpResponse> {
    state
        .wxauth
        .confirm_mp_qr_login(&ctx.context, &body.scene, &token.0)
        .await?;
    Ok(HttpResponse::Ok()
        .insert_header((header::CACHE_CONTROL, "no-store"))
        .json(DecisionResponse {
            status: "confirmed",
        }))
}

/// The scanner cancels: the desktop sees `cancelled`.
#[utoipa::path(tag = "Mini Program scan-login",
    request_body = DecisionRequest,
    security(("confirmToken" = [])),
    responses(
        (status = 200, description = "Cancelled", body = DecisionResponse),
        (status = 401, description = "UNAUTHORIZED: not the scan's confirmation token", body = ErrorBody),
        (status = 404, description = "NOT_FOUND", body = ErrorBody),
        (status = 409, description = "QR_LOGIN_FINISHED: already confirmed or cancelled", body = ErrorBody),
        (status = 410, description = "QR_LOGIN_EXPIRED", body = ErrorBody),
        (status = 429, description = "RATE_LIMITED", body = ErrorBody),
    ))]
#[post("/api/v1/miniprogram/qr-logins/cancel")]
pub async fn cancel_qr_login(
    state: web::Data<HttpState>,
    ctx: Ctx,
    token: BearerToken,
    body: Json<DecisionRequest>,
) -> Result<HttpResponse> {
    state
        .wxauth
        .cancel_mp_qr_login(&ctx.context, &body.scene, &token.0)
        .await?;
    Ok(HttpResponse::Ok()
        .insert_header((header::CACHE_CONTROL, "no-store"))
        .json(DecisionResponse {
            status: "cancelled",
        }))
}
