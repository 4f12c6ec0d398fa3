//! The OpenID provider's endpoints. The rules are `wxauth_core::oidc`'s; this module is the
//! wire: query strings and forms in, redirects, pages, cookies and RFC-shaped JSON out.
//!
//! Errors here are not the service's envelope: the RFCs fix their shape. `oauth_error` maps
//! an [`OAuthError`] once, for every back-channel endpoint.

use std::collections::HashMap;

use actix_web::http::{StatusCode, header};
use actix_web::{HttpRequest, HttpResponse, get, post, web};
use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use serde::Deserialize;
use serde_json::json;
use utoipa::IntoParams;
use wxauth_core::oidc::authorize::{Answer, AuthorizeParams, Browser, SignInStatus, Step};
use wxauth_core::oidc::clients::ClientAuth;
use wxauth_core::oidc::grants::TokenRequest;
use wxauth_core::oidc::resources::{Introspection, LogoutEnd, LogoutRequest};
use wxauth_core::oidc::{OAuthError, OAuthErrorCode, TOKEN_EXCHANGE_GRANT};

use crate::extract::Ctx;
use crate::pages::{self, Lang};
use crate::state::HttpState;

/// The provider's browser-session cookie.
pub const SESSION_COOKIE: &str = "wxauth_session";
/// The prefix of the cookies that bind a sign-in request to the browser that started it.
pub const REQUEST_COOKIE_PREFIX: &str = "wxauth_req_";
const MAX_FORM_BYTES: usize = 16 * 1024;

// ---------------------------------------------------------------------------------------------
// The wire, once

/// An OAuth error as the back-channel endpoints answer it (RFC 6749 §5.2, RFC 7662, RFC 7009).
pub(crate) fn oauth_error(error: &OAuthError) -> HttpResponse {
    use OAuthErrorCode as C;
    let status = match error.code {
        C::InvalidClient => StatusCode::UNAUTHORIZED,
        C::NotFound => StatusCode::NOT_FOUND,
        C::TemporarilyUnavailable if error.retry_after.is_some() => StatusCode::TOO_MANY_REQUESTS,
        C::TemporarilyUnavailable | C::ServerError => StatusCode::SERVICE_UNAVAILABLE,
        _ => StatusCode::BAD_REQUEST,
    };
    let mut res = HttpResponse::build(status);
    res.insert_header((header::CACHE_CONTROL, "no-store"))
        .insert_header((header::PRAGMA, "no-cache"));
    if error.code == C::InvalidClient {
        res.insert_header((header::WWW_AUTHENTICATE, "Basic realm=\"wxauth\""));
    }
    if let Some(secs) = error.retry_after {
        res.insert_header((header::RETRY_AFTER, secs.to_string()));
    }
    res.json(json!({
        "error": error.code.as_str(),
        "error_description": error.description,
    }))
}

/// A bearer-token error (RFC 6750 §3): in `WWW-Authenticate`, and in the body too.
fn bearer_error(error: &OAuthError) -> HttpResponse {
    use OAuthErrorCode as C;
    let status = match error.code {
        C::InvalidToken => StatusCode::UNAUTHORIZED,
        C::InsufficientScope => StatusCode::FORBIDDEN,
        C::InvalidRequest => StatusCode::BAD_REQUEST,
        _ => return oauth_error(error),
    };
    let challenge = format!(
        "Bearer realm=\"wxauth\", error=\"{}\", error_description=\"{}\"",
        error.code.as_str(),
        error.description.replace(['"', '\\'], "'")
    );
    HttpResponse::build(status)
        .insert_header((header::WWW_AUTHENTICATE, challenge))
        .insert_header((header::CACHE_CONTROL, "no-store"))
        .json(json!({"error": error.code.as_str(), "error_description": error.description}))
}

/// A form body, each parameter at most once (RFC 6749 §3.1).
fn form(req: &HttpRequest, body: &[u8]) -> Result<HashMap<String, String>, OAuthError> {
    let content_type = req
        .headers()
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .unwrap_or_default();
    let essence = content_type.split(';').next().unwrap_or_default().trim();
    if !body.is_empty() && !essence.eq_ignore_ascii_case("application/x-www-form-urlencoded") {
        return Err(OAuthError::invalid_request(
            "the body must be application/x-www-form-urlencoded",
        ));
    }
    if body.len() > MAX_FORM_BYTES {
        return Err(OAuthError::invalid_request("the body is too large"));
    }
    pairs(body)
}

fn pairs(raw: &[u8]) -> Result<HashMap<String, String>, OAuthError> {
    let mut map = HashMap::new();
    for (k, v) in url::form_urlencoded::parse(raw) {
        if map.insert(k.into_owned(), v.into_owned()).is_some() {
            return Err(OAuthError::invalid_request(
                "a parameter appears more than once",
            ));
        }
    }
    Ok(map)
}

/// How the client authenticates (RFC 6749 §2.3.1), from the header and the form; one method
/// per request.
fn client_auth<'a>(
    basic: &'a Option<(String, String)>,
    form: &'a HashMap<String, String>,
) -> Result<ClientAuth<'a>, OAuthError> {
    let form_id = form.get("client_id").map(String::as_str);
    let form_secret = form.get("client_secret").map(String::as_str);
    match (basic, form_id, form_secret) {
        (Some(_), _, Some(_)) => Err(OAuthError::invalid_request(
            "use one client authentication method: Basic or the form, not both",
        )),
        (Some((id, _)), Some(other), None) if other != id => Err(OAuthError::invalid_client(
            "client_id differs from the Basic credentials",
        )),
        (Some((id, secret)), _, None) => Ok(ClientAuth::Basic { id, secret }),
        (None, Some(id), Some(secret)) => Ok(ClientAuth::Post { id, secret }),
        (None, Some(id), None) => Ok(ClientAuth::None { id }),
        (None, None, _) => Ok(ClientAuth::Missing),
    }
}

/// `Authorization: Basic`, with both parts form-decoded as RFC 6749 §2.3.1 requires.
fn basic_credentials(req: &HttpRequest) -> Result<Option<(String, String)>, OAuthError> {
    let Some(value) = req.headers().get(header::AUTHORIZATION) else {
        return Ok(None);
    };
    let bad = || OAuthError::invalid_client("malformed Basic credentials");
    let value = value.to_str().map_err(|_| bad())?;
    let Some((scheme, encoded)) = value.split_once(' ') else {
        return Err(bad());
    };
    if !scheme.eq_ignore_ascii_case("basic") {
        return Err(OAuthError::invalid_client(
            "client authentication must be Basic or in the form",
        ));
    }
    let decoded = STANDARD.decode(encoded.trim()).map_err(|_| bad())?;
    let decoded = String::from_utf8(decoded).map_err(|_| bad())?;
    let (id, secret) = decoded.split_once(':').ok_or_else(bad)?;
    let unescape = |s: &str| {
        url::form_urlencoded::parse(format!("x={s}").as_bytes())
            .next()
            .map(|(_, v)| v.into_owned())
            .unwrap_or_default()
    };
    Ok(Some((unescape(id), unescape(secret))))
}

fn cookie<'a>(req: &'a HttpRequest, name: &str) -> Option<&'a str> {
    req.headers()
        .get_all(header::COOKIE)
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(';'))
        .filter_map(|pair| pair.trim().split_once('='))
        .find(|(k, _)| *k == name)
        .map(|(_, v)| v)
}

/// The sign-in requests this browser started: one cookie each, named after the request's
/// handle (a browser may run several sign-ins in several tabs).
fn started_requests(req: &HttpRequest) -> Vec<String> {
    req.headers()
        .get_all(header::COOKIE)
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(';'))
        .filter_map(|pair| pair.trim().split_once('='))
        .filter_map(|(k, _)| k.strip_prefix(REQUEST_COOKIE_PREFIX))
        .map(str::to_owned)
        .collect()
}

fn browser<'a>(req: &'a HttpRequest, started: &'a [String]) -> Browser<'a> {
    let in_wechat = req
        .headers()
        .get(header::USER_AGENT)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|ua| ua.contains("MicroMessenger"));
    Browser {
        session: cookie(req, SESSION_COOKIE),
        in_wechat,
        started,
    }
}

fn lang(req: &HttpRequest, ui_locales: Option<&str>) -> Lang {
    let accept = req
        .headers()
        .get(header::ACCEPT_LANGUAGE)
        .and_then(|v| v.to_str().ok());
    Lang::choose(ui_locales, accept)
}

/// `Secure` everywhere but plain-http development issuers on this machine.
fn secure_cookies(state: &HttpState) -> bool {
    state.wxauth.oidc().is_none_or(|p| {
        let issuer = p.settings.issuer.as_str();
        !(issuer.starts_with("http://localhost") || issuer.starts_with("http://127.0.0.1"))
    })
}

fn session_cookie(state: &HttpState, value: &str, max_age: i64) -> String {
    format!(
        "{SESSION_COOKIE}={value}; Path=/oidc; Max-Age={max_age}; HttpOnly; SameSite=Lax{}",
        if secure_cookies(state) {
            "; Secure"
        } else {
            ""
        }
    )
}

fn page_status(error: &OAuthError) -> StatusCode {
    match error.code {
        OAuthErrorCode::NotFound => StatusCode::NOT_FOUND,
        OAuthErrorCode::TemporarilyUnavailable if error.retry_after.is_some() => {
            StatusCode::TOO_MANY_REQUESTS
        }
        OAuthErrorCode::TemporarilyUnavailable | OAuthErrorCode::ServerError => {
            StatusCode::SERVICE_UNAVAILABLE
        }
        _ => StatusCode::BAD_REQUEST,
    }
}

/// Where a browser-facing step takes the browser. `redirect` is the status of redirects: 302
/// after a GET, 303 after a form POST.
fn navigate(
    state: &HttpState,
    req: &HttpRequest,
    answer: Answer,
    redirect: StatusCode,
) -> HttpResponse {
    let lang = lang(req, None);
    let to = |location: String| {
        HttpResponse::build(redirect)
            .insert_header((header::LOCATION, location))
            .insert_header((header::CACHE_CONTROL, "no-store"))
            .finish()
    };
    let mut res = match answer.step {
        Step::ErrorPage(error) => pages::error_page(lang, page_status(&error), &error),
        Step::ToClient(redirect) => to(redirect.url()),
        Step::ToWechat(url) => to(url),
        Step::ToConsent(handle) => to(consent_url(&handle)),
        Step::SignInPage(page) => {
            let lang = self::lang(req, page.ui_locales.as_deref());
            pages::sign_in_page(lang, &page)
        }
        Step::ConsentPage(page) => {
            let lang = self::lang(req, page.ui_locales.as_deref());
            pages::consent_page(lang, &page)
        }
    };
    if let Some(handle) = &answer.bind_request {
        let ttl = state
            .wxauth
            .oidc()
            .map_or(600, |p| p.settings.request_ttl.whole_seconds());
        let cookie = format!(
            "{REQUEST_COOKIE_PREFIX}{handle}=1; Path=/oidc; Max-Age={ttl}; HttpOnly; SameSite=Lax{}",
            if secure_cookies(state) {
                "; Secure"
            } else {
                ""
            }
        );
        if let Ok(value) = header::HeaderValue::from_str(&cookie) {
            res.headers_mut().append(header::SET_COOKIE, value);
        }
    }
    if let Some(cookie) = answer.new_session
        && let Ok(value) = header::HeaderValue::from_str(&session_cookie(
            state,
            &cookie.value,
            cookie.max_age_secs,
        ))
    {
        res.headers_mut().append(header::SET_COOKIE, value);
    }
    res
}

fn consent_url(handle: &str) -> String {
    format!("/oidc/consent?request={handle}")
}

fn authorize_params(map: &HashMap<String, String>) -> AuthorizeParams {
    let get = |k: &str| map.get(k).cloned();
    AuthorizeParams {
        client_id: get("client_id"),
        redirect_uri: get("redirect_uri"),
        response_type: get("response_type"),
        response_mode: get("response_mode"),
        scope: get("scope"),
        state: get("state"),
        nonce: get("nonce"),
        code_challenge: get("code_challenge"),
        code_challenge_method: get("code_challenge_method"),
        prompt: get("prompt"),
        max_age: get("max_age"),
        login_hint: get("login_hint"),
        ui_locales: get("ui_locales"),
        request: get("request"),
        request_uri: get("request_uri"),
    }
}

// ---------------------------------------------------------------------------------------------
// Discovery

/// OpenID Provider metadata (OpenID Connect Discovery 1.0 §3, RFC 8414).
#[utoipa::path(tag = "OpenID Connect",
    responses(
        (status = 200, description = "The provider's metadata", content_type = "application/json", body = Object),
        (status = 404, description = "The service is not configured as an OpenID provider"),
    ))]
#[get("/.well-known/openid-configuration")]
pub async fn discovery(state: web::Data<HttpState>) -> HttpResponse {
    let Some(provider) = state.wxauth.oidc() else {
        return oauth_error(&OAuthError::new(
            OAuthErrorCode::NotFound,
            "this service is not configured as an OpenID provider",
        ));
    };
    let json = state.discovery_json.get_or_init(|| {
        let issuer = &provider.settings.issuer;
        let mut algorithms = provider.signer.algorithms();
        algorithms.sort_unstable_by_key(|a| *a != "RS256");
        let doc = json!({
            "issuer": issuer,
            "authorization_endpoint": format!("{issuer}/oidc/authorize"),
            "token_endpoint": format!("{issuer}/oidc/token"),
            "userinfo_endpoint": format!("{issuer}/oidc/userinfo"),
            "jwks_uri": format!("{issuer}/.well-known/jwks.json"),
            "introspection_endpoint": format!("{issuer}/oidc/introspect"),
            "revocation_endpoint": format!("{issuer}/oidc/revoke"),
            "end_session_endpoint": format!("{issuer}/oidc/logout"),
            "scopes_supported": ["openid", "profile", "phone", "offline_access", "unionid"],
            "response_types_supported": ["code"],
            "response_modes_supported": ["query"],
            "grant_types_supported": ["authorization_code", "refresh_token", TOKEN_EXCHANGE_GRANT],
            "subject_types_supported": ["public"],
            "id_token_signing_alg_values_supported": algorithms,
            "code_challenge_methods_supported": ["S256"],
            "token_endpoint_auth_methods_supported": ["client_secret_basic", "client_secret_post", "none"],
            "introspection_endpoint_auth_methods_supported": ["client_secret_basic", "client_secret_post", "none"],
            "revocation_endpoint_auth_methods_supported": ["client_secret_basic", "client_secret_post", "none"],
            "claims_supported": [
                "iss", "sub", "aud", "exp", "iat", "auth_time", "nonce", "amr", "azp", "at_hash", "sid",
                "name", "picture", "phone_number", "phone_number_verified", "unionid"
            ],
            "claims_parameter_supported": false,
            "request_parameter_supported": false,
            "request_uri_parameter_supported": false,
            "prompt_values_supported": ["none", "login", "consent", "select_account"],
            "ui_locales_supported": ["zh-CN", "en"],
            "authorization_response_iss_parameter_supported": true,
        });
        web::Bytes::from(doc.to_string())
    });
    HttpResponse::Ok()
        .content_type("application/json")
        .insert_header((header::CACHE_CONTROL, "public, max-age=300"))
        .body(json.clone())
}

// ---------------------------------------------------------------------------------------------
// The browser-facing endpoints

/// The authorization endpoint (OpenID Connect Core §3.1.2): the code flow only.
///
/// Inside WeChat's browser it goes straight to the Official Account's OAuth page; elsewhere it
/// shows the sign-in page; with a live session it returns to the client at once. An unknown
/// client or unregistered `redirect_uri` gets an error page; every other error is redirected
/// to the client with `error`, `error_description`, `state` and `iss`.
#[utoipa::path(tag = "OpenID Connect",
    params(
        ("client_id" = String, Query), ("redirect_uri" = String, Query),
        ("response_type" = String, Query, description = "`code`"),
        ("scope" = String, Query, description = "`openid` and any of `profile phone offline_access unionid`"),
        ("state" = Option<String>, Query), ("nonce" = Option<String>, Query),
        ("code_challenge" = Option<String>, Query), ("code_challenge_method" = Option<String>, Query, description = "`S256`"),
        ("prompt" = Option<String>, Query), ("max_age" = Option<i64>, Query),
        ("ui_locales" = Option<String>, Query),
    ),
    responses(
        (status = 302, description = "To the client (code or error), to WeChat, or to the consent page"),
        (status = 200, description = "The desktop sign-in page", content_type = "text/html"),
        (status = 400, description = "Error page: unknown client or unregistered redirect URI", content_type = "text/html"),
    ))]
#[get("/oidc/authorize")]
pub async fn authorize(state: web::Data<HttpState>, ctx: Ctx, req: HttpRequest) -> HttpResponse {
    let params = match pairs(req.query_string().as_bytes()) {
        Ok(map) => authorize_params(&map),
        Err(e) => return pages::error_page(lang(&req, None), StatusCode::BAD_REQUEST, &e),
    };
    let answer = state
        .wxauth
        .oidc_authorize(
            &ctx.context,
            &params,
            browser(&req, &started_requests(&req)),
        )
        .await;
    navigate(&state, &req, answer, StatusCode::FOUND)
}

/// The authorization endpoint by form POST (OpenID Connect Core §3.1.2.1).
#[utoipa::path(tag = "OpenID Connect",
    request_body(content_type = "application/x-www-form-urlencoded", content = Object,
        description = "The parameters of `GET /oidc/authorize`"),
    responses(
        (status = 303, description = "As the GET answers, after a POST"),
        (status = 200, description = "The desktop sign-in page", content_type = "text/html"),
        (status = 400, description = "Error page", content_type = "text/html"),
    ))]
#[post("/oidc/authorize")]
pub async fn authorize_post(
    state: web::Data<HttpState>,
    ctx: Ctx,
    req: HttpRequest,
    body: web::Bytes,
) -> HttpResponse {
    let params = match form(&req, &body) {
        Ok(map) => authorize_params(&map),
        Err(e) => return pages::error_page(lang(&req, None), StatusCode::BAD_REQUEST, &e),
    };
    let answer = state
        .wxauth
        .oidc_authorize(
            &ctx.context,
            &params,
            browser(&req, &started_requests(&req)),
        )
        .await;
    navigate(&state, &req, answer, StatusCode::SEE_OTHER)
}

#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct CallbackQuery {
    /// WeChat's code; absent when the user declined.
    pub code: Option<String>,
    pub state: Option<String>,
}

/// Where WeChat sends the browser back: the Official Account's OAuth page or the website
/// app's QR page. Signs the user in and continues to consent or to the client.
#[utoipa::path(tag = "OpenID Connect",
    params(CallbackQuery),
    responses(
        (status = 302, description = "To the client, to the consent page, or once more to WeChat for the profile"),
        (status = 400, description = "Error page: unknown, used or expired request", content_type = "text/html"),
    ))]
#[get("/oidc/callback")]
pub async fn callback(state: web::Data<HttpState>, ctx: Ctx, req: HttpRequest) -> HttpResponse {
    let query = match pairs(req.query_string().as_bytes()) {
        Ok(map) => map,
        Err(e) => return pages::error_page(lang(&req, None), StatusCode::BAD_REQUEST, &e),
    };
    let answer = state
        .wxauth
        .oidc_callback(
            &ctx.context,
            query.get("code").map(String::as_str),
            query.get("state").map(String::as_str),
            browser(&req, &started_requests(&req)),
        )
        .await;
    navigate(&state, &req, answer, StatusCode::FOUND)
}

#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct RequestQuery {
    /// The sign-in request's handle, from the page.
    pub request: String,
}

/// The desktop sign-in page asks whether the Official Account QR was scanned. `done` carries
/// where to go next (and sets the session cookie).
#[utoipa::path(tag = "OpenID Connect",
    params(RequestQuery),
    responses(
        (status = 200, description = "`{\"status\": \"pending\" | \"scanned\" | \"expired\" | \"done\", \"location\"?}`", body = Object),
        (status = 404, description = "Unknown request", body = Object),
    ))]
#[get("/oidc/signin/status")]
pub async fn sign_in_status(
    state: web::Data<HttpState>,
    ctx: Ctx,
    req: HttpRequest,
    query: web::Query<RequestQuery>,
) -> HttpResponse {
    let started = started_requests(&req);
    let status = state
        .wxauth
        .oidc_sign_in_status(&ctx.context, &query.request, browser(&req, &started))
        .await;
    let no_store = (header::CACHE_CONTROL, "no-store");
    match status {
        Err(e) => oauth_error(&e),
        Ok(SignInStatus::Pending) => HttpResponse::Ok()
            .insert_header(no_store)
            .json(json!({"status": "pending"})),
        Ok(SignInStatus::Scanned) => HttpResponse::Ok()
            .insert_header(no_store)
            .json(json!({"status": "scanned"})),
        Ok(SignInStatus::Expired) => HttpResponse::Ok()
            .insert_header(no_store)
            .json(json!({"status": "expired"})),
        Ok(SignInStatus::Done(answer)) => {
            let location = match &answer.step {
                Step::ToClient(redirect) => redirect.url(),
                Step::ToConsent(handle) => consent_url(handle),
                Step::ToWechat(url) => url.clone(),
                Step::ErrorPage(e) => return oauth_error(e),
                Step::SignInPage(_) | Step::ConsentPage(_) => consent_url(&query.request),
            };
            let mut res = HttpResponse::Ok();
            res.insert_header(no_store);
            if let Some(cookie) = &answer.new_session {
                res.append_header((
                    header::SET_COOKIE,
                    session_cookie(&state, &cookie.value, cookie.max_age_secs),
                ));
            }
            res.json(json!({"status": "done", "location": location}))
        }
    }
}

/// The consent page of a pending request, for the signed-in browser.
#[utoipa::path(tag = "OpenID Connect",
    params(RequestQuery),
    responses(
        (status = 200, description = "The consent page", content_type = "text/html"),
        (status = 400, description = "Error page", content_type = "text/html"),
    ))]
#[get("/oidc/consent")]
pub async fn consent_page(
    state: web::Data<HttpState>,
    req: HttpRequest,
    query: web::Query<RequestQuery>,
) -> HttpResponse {
    let step = state
        .wxauth
        .oidc_consent_page(&query.request, browser(&req, &started_requests(&req)))
        .await;
    navigate(&state, &req, Answer::step(step), StatusCode::FOUND)
}

/// The consent form's answer: `request`, `csrf`, `decision=allow|deny`.
#[utoipa::path(tag = "OpenID Connect",
    request_body(content_type = "application/x-www-form-urlencoded", content = Object),
    responses(
        (status = 303, description = "To the client, with a code or `access_denied`"),
        (status = 400, description = "Error page", content_type = "text/html"),
    ))]
#[post("/oidc/consent")]
pub async fn consent(
    state: web::Data<HttpState>,
    ctx: Ctx,
    req: HttpRequest,
    body: web::Bytes,
) -> HttpResponse {
    let form = match form(&req, &body) {
        Ok(form) => form,
        Err(e) => return pages::error_page(lang(&req, None), StatusCode::BAD_REQUEST, &e),
    };
    let get = |k: &str| form.get(k).map(String::as_str).unwrap_or_default();
    let allow = match get("decision") {
        "allow" => true,
        "deny" => false,
        _ => {
            let e = OAuthError::invalid_request("decision must be allow or deny");
            return pages::error_page(lang(&req, None), StatusCode::BAD_REQUEST, &e);
        }
    };
    let step = state
        .wxauth
        .oidc_consent(
            &ctx.context,
            get("request"),
            get("csrf"),
            allow,
            browser(&req, &started_requests(&req)),
        )
        .await;
    navigate(&state, &req, Answer::step(step), StatusCode::SEE_OTHER)
}

// ---------------------------------------------------------------------------------------------
// The back channel

/// The token endpoint: `authorization_code` (with PKCE), `refresh_token`, and RFC 8693 token
/// exchange of a Mini Program `wx.login` code
/// (`subject_token_type=urn:wxauth:token-type:wechat-login-code`).
#[utoipa::path(tag = "OpenID Connect",
    request_body(content_type = "application/x-www-form-urlencoded", content = Object),
    responses(
        (status = 200, description = "`access_token`, `token_type`, `expires_in`, `id_token`, `refresh_token`, `scope`", body = Object),
        (status = 400, description = "RFC 6749 §5.2 error", body = Object),
        (status = 401, description = "`invalid_client`, with `WWW-Authenticate`", body = Object),
    ))]
#[post("/oidc/token")]
pub async fn token(
    state: web::Data<HttpState>,
    ctx: Ctx,
    req: HttpRequest,
    body: web::Bytes,
) -> HttpResponse {
    let result = async {
        let form = form(&req, &body)?;
        let basic = basic_credentials(&req)?;
        let auth = client_auth(&basic, &form)?;
        let get = |k: &str| form.get(k).map(String::as_str);
        let request = TokenRequest {
            grant_type: get("grant_type"),
            code: get("code"),
            redirect_uri: get("redirect_uri"),
            code_verifier: get("code_verifier"),
            refresh_token: get("refresh_token"),
            scope: get("scope"),
            subject_token: get("subject_token"),
            subject_token_type: get("subject_token_type"),
            requested_token_type: get("requested_token_type"),
        };
        state.wxauth.oidc_token(&ctx.context, auth, request).await
    }
    .await;
    match result {
        Err(e) => {
            state
                .metrics
                .oidc_token("-", grant_label(&body), e.code.as_str());
            oauth_error(&e)
        }
        Ok(tokens) => {
            state
                .metrics
                .oidc_token(&tokens.client_id, grant_label(&body), "ok");
            let mut body = json!({
                "access_token": tokens.access_token,
                "token_type": "Bearer",
                "expires_in": tokens.expires_in,
                "scope": tokens.scope.to_string(),
            });
            if let Some(id_token) = tokens.id_token {
                body["id_token"] = id_token.into();
            }
            if let Some(refresh) = &tokens.refresh_token {
                body["refresh_token"] = refresh.expose().into();
            }
            if let Some(issued) = tokens.issued_token_type {
                body["issued_token_type"] = issued.into();
            }
            HttpResponse::Ok()
                .insert_header((header::CACHE_CONTROL, "no-store"))
                .insert_header((header::PRAGMA, "no-cache"))
                .json(body)
        }
    }
}

/// The grant type as a metric label: only the ones that exist, so the label set stays small.
fn grant_label(body: &[u8]) -> &'static str {
    let grant = url::form_urlencoded::parse(body)
        .find(|(k, _)| k == "grant_type")
        .map(|(_, v)| v.into_owned());
    match grant.as_deref() {
        Some("authorization_code") => "authorization_code",
        Some("refresh_token") => "refresh_token",
        Some(TOKEN_EXCHANGE_GRANT) => "token_exchange",
        _ => "other",
    }
}

async fn userinfo_answer(
    state: &HttpState,
    ctx: &Ctx,
    req: &HttpRequest,
    body: &[u8],
) -> HttpResponse {
    let header_token = req
        .headers()
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.split_once(' '))
        .filter(|(scheme, _)| scheme.eq_ignore_ascii_case("bearer"))
        .map(|(_, t)| t.trim().to_owned());
    // RFC 6750 §2.2: the form body may carry it instead, never both.
    let form_token = match form(req, body) {
        Ok(form) => form.get("access_token").cloned(),
        Err(e) => return bearer_error(&e),
    };
    let presented = match (header_token, form_token) {
        (Some(_), Some(_)) => {
            return bearer_error(&OAuthError::invalid_request(
                "send the access token once: in the header or in the body",
            ));
        }
        (a, b) => a.or(b),
    };
    match state
        .wxauth
        .oidc_userinfo(&ctx.context, presented.as_deref())
        .await
    {
        Ok(claims) => HttpResponse::Ok()
            .insert_header((header::CACHE_CONTROL, "no-store"))
            .json(claims),
        Err(e) => bearer_error(&e),
    }
}

/// The UserInfo endpoint (OpenID Connect Core §5.3), with the access token as a bearer token.
#[utoipa::path(tag = "OpenID Connect", security(("bearer" = [])),
    responses(
        (status = 200, description = "`sub` and the claims the scope allows", body = Object),
        (status = 401, description = "`invalid_token`, in `WWW-Authenticate`", body = Object),
        (status = 403, description = "`insufficient_scope`", body = Object),
    ))]
#[get("/oidc/userinfo")]
pub async fn userinfo(state: web::Data<HttpState>, ctx: Ctx, req: HttpRequest) -> HttpResponse {
    userinfo_answer(&state, &ctx, &req, &[]).await
}

/// The UserInfo endpoint by POST (the token in the header or the form).
#[utoipa::path(tag = "OpenID Connect", security(("bearer" = [])),
    request_body(content_type = "application/x-www-form-urlencoded", content = Object,
        description = "Optional: `access_token` instead of the header"),
    responses(
        (status = 200, description = "`sub` and the claims the scope allows", body = Object),
        (status = 401, description = "`invalid_token`", body = Object),
    ))]
#[post("/oidc/userinfo")]
pub async fn userinfo_post(
    state: web::Data<HttpState>,
    ctx: Ctx,
    req: HttpRequest,
    body: web::Bytes,
) -> HttpResponse {
    userinfo_answer(&state, &ctx, &req, &body).await
}

/// Token introspection (RFC 7662), client-authenticated. Tokens that are revoked, expired,
/// malformed, not this provider's or another client's are `{"active": false}`.
#[utoipa::path(tag = "OpenID Connect",
    request_body(content_type = "application/x-www-form-urlencoded", content = Object),
    responses(
        (status = 200, description = "`active` and, when active, the token's claims", body = Object),
        (status = 401, description = "`invalid_client`", body = Object),
    ))]
#[post("/oidc/introspect")]
pub async fn introspect(
    state: web::Data<HttpState>,
    ctx: Ctx,
    req: HttpRequest,
    body: web::Bytes,
) -> HttpResponse {
    let result = async {
        let form = form(&req, &body)?;
        let basic = basic_credentials(&req)?;
        let auth = client_auth(&basic, &form)?;
        state
            .wxauth
            .oidc_introspect(&ctx.context, auth, form.get("token").map(String::as_str))
            .await
    }
    .await;
    match result {
        Err(e) => oauth_error(&e),
        Ok(answer) => {
            let body = match answer {
                Introspection::Inactive => json!({"active": false}),
                Introspection::Active(claims) => claims,
            };
            HttpResponse::Ok()
                .insert_header((header::CACHE_CONTROL, "no-store"))
                .json(body)
        }
    }
}

/// Token revocation (RFC 7009): a refresh or access token; the whole grant ends at once.
#[utoipa::path(tag = "OpenID Connect",
    request_body(content_type = "application/x-www-form-urlencoded", content = Object),
    responses(
        (status = 200, description = "Revoked (or never valid: the answer is the same)"),
        (status = 401, description = "`invalid_client`", body = Object),
    ))]
#[post("/oidc/revoke")]
pub async fn revoke(
    state: web::Data<HttpState>,
    ctx: Ctx,
    req: HttpRequest,
    body: web::Bytes,
) -> HttpResponse {
    let result = async {
        let form = form(&req, &body)?;
        let basic = basic_credentials(&req)?;
        let auth = client_auth(&basic, &form)?;
        state
            .wxauth
            .oidc_revoke(&ctx.context, auth, form.get("token").map(String::as_str))
            .await
    }
    .await;
    match result {
        Err(e) => oauth_error(&e),
        Ok(()) => HttpResponse::Ok()
            .insert_header((header::CACHE_CONTROL, "no-store"))
            .finish(),
    }
}

async fn logout_answer(
    state: &HttpState,
    ctx: &Ctx,
    req: &HttpRequest,
    params: Result<HashMap<String, String>, OAuthError>,
) -> HttpResponse {
    let params = match params {
        Ok(params) => params,
        Err(e) => return pages::error_page(lang(req, None), StatusCode::BAD_REQUEST, &e),
    };
    let get = |k: &str| params.get(k).map(String::as_str);
    let lang = lang(req, get("ui_locales"));
    let result = state
        .wxauth
        .oidc_logout(
            &ctx.context,
            LogoutRequest {
                id_token_hint: get("id_token_hint"),
                client_id: get("client_id"),
                post_logout_redirect_uri: get("post_logout_redirect_uri"),
                state: get("state"),
            },
            browser(req, &started_requests(req)),
        )
        .await;
    let mut res = match result {
        Err(e) => return pages::error_page(lang, page_status(&e), &e),
        Ok(LogoutEnd::Page) => pages::signed_out_page(lang),
        Ok(LogoutEnd::Redirect(url)) => HttpResponse::Found()
            .insert_header((header::LOCATION, url))
            .insert_header((header::CACHE_CONTROL, "no-store"))
            .finish(),
    };
    if let Ok(value) = header::HeaderValue::from_str(&session_cookie(state, "", 0)) {
        res.headers_mut().append(header::SET_COOKIE, value);
    }
    res
}

/// RP-initiated logout (OpenID Connect RP-Initiated Logout 1.0): ends the browser session,
/// then returns to a registered `post_logout_redirect_uri` (with `state`) or shows a page.
#[utoipa::path(tag = "OpenID Connect",
    params(
        ("id_token_hint" = Option<String>, Query), ("client_id" = Option<String>, Query),
        ("post_logout_redirect_uri" = Option<String>, Query), ("state" = Option<String>, Query),
        ("ui_locales" = Option<String>, Query),
    ),
    responses(
        (status = 302, description = "To the registered post-logout URI"),
        (status = 200, description = "The signed-out page", content_type = "text/html"),
        (status = 400, description = "Error page: a URI that is not registered, a bad hint", content_type = "text/html"),
    ))]
#[get("/oidc/logout")]
pub async fn logout(state: web::Data<HttpState>, ctx: Ctx, req: HttpRequest) -> HttpResponse {
    let params = pairs(req.query_string().as_bytes());
    logout_answer(&state, &ctx, &req, params).await
}

/// RP-initiated logout by form POST.
#[utoipa::path(tag = "OpenID Connect",
    request_body(content_type = "application/x-www-form-urlencoded", content = Object),
    responses(
        (status = 302, description = "To the registered post-logout URI"),
        (status = 200, description = "The signed-out page", content_type = "text/html"),
    ))]
#[post("/oidc/logout")]
pub async fn logout_post(
    state: web::Data<HttpState>,
    ctx: Ctx,
    req: HttpRequest,
    body: web::Bytes,
) -> HttpResponse {
    let params = form(&req, &body);
    logout_answer(&state, &ctx, &req, params).await
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_parameter_sent_twice_is_refused() {
        assert!(pairs(b"a=1&b=2").is_ok());
        assert_eq!(
            pairs(b"code=x&code=y").unwrap_err().code,
            OAuthErrorCode::InvalidRequest
        );
    }

    #[test]
    fn a_client_authenticates_one_way_only() {
        let basic = Some(("c".to_owned(), "s".to_owned()));
        let both: HashMap<_, _> = [("client_secret".to_owned(), "s".to_owned())].into();
        assert!(client_auth(&basic, &both).is_err());
        let form: HashMap<_, _> = [("client_id".to_owned(), "other".to_owned())].into();
        assert_eq!(
            client_auth(&basic, &form).unwrap_err().code,
            OAuthErrorCode::InvalidClient
        );
        let none = HashMap::new();
        assert_eq!(client_auth(&None, &none).unwrap(), ClientAuth::Missing);
    }
}
