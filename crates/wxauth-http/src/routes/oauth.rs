//! Web sign-in (Official Accounts and website apps): the authorize URL with a server-side
//! state, and the code exchange.

use actix_web::http::header;
use actix_web::{HttpResponse, get, web};
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};
use wxauth_core::oauth::AuthorizeRequest;

use super::Result;
use crate::dto::LoginResponse;
use crate::error::ErrorBody;
use crate::extract::Ctx;
use crate::json::Query;
use crate::state::HttpState;

#[derive(Debug, Deserialize, IntoParams)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
#[into_params(parameter_in = Query)]
pub struct AuthorizeQuery {
    /// The Official Account or website app key; optional with a single web app.
    pub app: Option<String>,
    /// Where the front end sends the user after sign-in (returned by the token step).
    #[param(example = "https://app.example.com/home")]
    pub redirect_uri: String,
    /// The front end's callback page WeChat redirects to with `code` and `state`.
    #[param(example = "https://app.example.com/wechat/callback")]
    pub callback: String,
    /// `snsapi_base` (default, silent) or `snsapi_userinfo` (consent, profile). Website apps
    /// always use `snsapi_login`.
    pub scope: Option<String>,
    #[serde(default)]
    pub force_popup: Option<bool>,
    /// Answer with a 302 to the authorize URL instead of JSON.
    #[serde(default)]
    pub redirect: Option<bool>,
}

#[derive(Debug, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
#[schema(example = json!({
    "authorizeUrl": "https://open.weixin.qq.com/connect/oauth2/authorize?appid=wx1234567890abcdef&redirect_uri=https%3A%2F%2Fapp.example.com%2Fwechat%2Fcallback&response_type=code&scope=snsapi_base&state=Q3xK9pZrT2mV8nB1cD4fG6hJ0kL5sW7y#wechat_redirect",
    "state": "Q3xK9pZrT2mV8nB1cD4fG6hJ0kL5sW7y",
    "expiresIn": 600
}))]
pub struct AuthorizeResponse {
    pub authorize_url: String,
    /// Single-use; valid `expiresIn` seconds.
    pub state: String,
    pub expires_in: i64,
}

/// Build the WeChat authorize URL, with a random single-use state stored server-side.
///
/// `redirectUri` and `callback` must be in the app's redirect allow-list (scheme, host, path
/// prefix) and must differ.
#[utoipa::path(tag = "Web sign-in",
    params(AuthorizeQuery),
    responses(
        (status = 200, description = "The URL to send the browser to", body = AuthorizeResponse),
        (status = 302, description = "With `redirect=true`: a redirect to that URL"),
        (status = 400, description = "REDIRECT_NOT_ALLOWED, VALIDATION_ERROR, WRONG_APP_KIND, APP_REQUIRED", body = ErrorBody),
        (status = 404, description = "APP_NOT_FOUND", body = ErrorBody),
        (status = 429, description = "RATE_LIMITED", body = ErrorBody),
    ))]
#[get("/api/v1/oauth/authorize")]
pub async fn authorize(
    state: web::Data<HttpState>,
    ctx: Ctx,
    query: Query<AuthorizeQuery>,
) -> Result<HttpResponse> {
    let auth = state
        .wxauth
        .oauth_authorize(
            &ctx.context,
            AuthorizeRequest {
                app: query.app.as_deref(),
                redirect_uri: &query.redirect_uri,
                callback: &query.callback,
                scope: query.scope.as_deref(),
                force_popup: query.force_popup,
            },
        )
        .await?;
    if query.redirect == Some(true) {
        return Ok(HttpResponse::Found()
            .insert_header((header::LOCATION, auth.authorize_url))
            .insert_header((header::CACHE_CONTROL, "no-store"))
            .finish());
    }
    Ok(HttpResponse::Ok()
        .insert_header((header::CACHE_CONTROL, "no-store"))
        .json(AuthorizeResponse {
            authorize_url: auth.authorize_url,
            state: auth.state,
            expires_in: auth.expires_in,
        }))
}

#[derive(Debug, Deserialize, IntoParams)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
pub struct TokenQuery {
    /// The code WeChat appended to the callback URL.
    pub code: String,
    /// The state of the authorize step.
    pub state: String,
}

/// The token response of a web sign-in: the Mini Program login's, plus `redirectUri`.
#[derive(Debug, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct OAuthTokenResponse {
    #[serde(flatten)]
    pub login: LoginResponse,
    /// The `redirectUri` given to the authorize step.
    pub redirect_uri: String,
}

/// Exchange the callback's code and state for tokens.
///
/// For `snsapi_userinfo` the user's nickname and avatar are kept. Snapshot (virtual) users are
/// refused. The state works once.
#[utoipa::path(tag = "Web sign-in",
    params(TokenQuery),
    responses(
        (status = 200, description = "Signed in (or a bind code)", body = OAuthTokenResponse),
        (status = 400, description = "INVALID_STATE (unknown, used or expired), INVALID_CODE, CODE_USED", body = ErrorBody),
        (status = 403, description = "SNAPSHOT_USER, REGISTRATION_CLOSED, USER_BLOCKED", body = ErrorBody),
        (status = 429, description = "RATE_LIMITED", body = ErrorBody),
        (status = 502, description = "WECHAT_UNAVAILABLE", body = ErrorBody),
    ))]
#[get("/api/v1/oauth/token")]
pub async fn token(
    state: web::Data<HttpState>,
    ctx: Ctx,
    query: Query<TokenQuery>,
) -> Result<HttpResponse> {
    let login = state
        .wxauth
        .oauth_login(&ctx.context, &query.code, &query.state)
        .await?;
    Ok(HttpResponse::Ok()
        .insert_header((header::CACHE_CONTROL, "no-store"))
        .json(OAuthTokenResponse {
            login: LoginResponse::from(&login.outcome),
            redirect_uri: login.redirect_uri,
        }))
}
