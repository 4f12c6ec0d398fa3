//! Sessions: bind-code registration, refresh-token rotation, logout, and the JWK Set.

use actix_web::{HttpResponse, get, post, web};
use serde::Deserialize;
use utoipa::ToSchema;
use wxauth_domain::Nickname;

use super::Result;
use crate::dto::TokenResponse;
use crate::error::{ApiError, ErrorBody};
use crate::extract::{Ctx, MaybeAuth};
use crate::json::{Json, OptionalJson};
use crate::state::HttpState;

#[derive(Debug, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
#[schema(example = json!({"bindCode": "bc_Vx2m3K9pQ0rS7tU1wY4zA6bC8dE0", "nickname": "Band"}))]
pub struct RegisterRequest {
    pub bind_code: String,
    pub nickname: Option<String>,
}

/// Create the account a bind code was issued for, and sign it in.
#[utoipa::path(tag = "Sessions",
    request_body = RegisterRequest,
    responses(
        (status = 200, description = "Registered and signed in", body = TokenResponse),
        (status = 400, description = "VALIDATION_ERROR, BIND_CODE_INVALID, BIND_CODE_EXPIRED, BIND_CODE_USED", body = ErrorBody),
        (status = 429, description = "RATE_LIMITED", body = ErrorBody),
    ))]
#[post("/api/v1/auth/register")]
pub async fn register(
    state: web::Data<HttpState>,
    ctx: Ctx,
    body: Json<RegisterRequest>,
) -> Result<HttpResponse> {
    let nickname = body.nickname.as_deref().map(Nickname::parse).transpose()?;
    let signed_in = state
        .wxauth
        .register_with_bind_code(&ctx.context, &body.bind_code, nickname)
        .await?;
    Ok(HttpResponse::Ok().json(TokenResponse::from(&signed_in)))
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
#[schema(example = json!({"refreshToken": "rt_019ab0c3f2a07c1e9d42.Zb3Xy1kM0u3o9mQ2bq6hVYc3aJ8hC0yTQy4n6QyB2xE"}))]
pub struct RefreshRequest {
    pub refresh_token: String,
}

/// Exchange a refresh token for a new access token and the next refresh token.
///
/// Each refresh token works once. Presenting one that was already used revokes its whole
/// session (someone copied it) and answers 401 `REFRESH_TOKEN_REUSED`.
#[utoipa::path(tag = "Sessions",
    request_body = RefreshRequest,
    responses(
        (status = 200, description = "A new token pair", body = TokenResponse),
        (status = 401, description = "INVALID_REFRESH_TOKEN, REFRESH_TOKEN_REUSED", body = ErrorBody),
        (status = 403, description = "USER_BLOCKED", body = ErrorBody),
        (status = 429, description = "RATE_LIMITED", body = ErrorBody),
    ))]
#[post("/api/v1/auth/refresh")]
pub async fn refresh(
    state: web::Data<HttpState>,
    ctx: Ctx,
    body: Json<RefreshRequest>,
) -> Result<HttpResponse> {
    let signed_in = state
        .wxauth
        .refresh(&ctx.context, &body.refresh_token)
        .await?;
    Ok(HttpResponse::Ok().json(TokenResponse::from(&signed_in)))
}

#[derive(Debug, Default, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
#[schema(example = json!({"refreshToken": "rt_019ab0c3f2a07c1e9d42.Zb3Xy1kM0u3o9mQ2bq6hVYc3aJ8hC0yTQy4n6QyB2xE"}))]
pub struct LogoutRequest {
    /// The session's refresh token; without it, the session of the bearer token ends.
    pub refresh_token: Option<String>,
}

/// End a session: by its refresh token, or the session of the bearer access token.
#[utoipa::path(tag = "Sessions",
    request_body(content = LogoutRequest, description = "Optional when an access token is sent"),
    security((), ("bearer" = [])),
    responses(
        (status = 204, description = "The session is revoked"),
        (status = 401, description = "UNAUTHORIZED, INVALID_REFRESH_TOKEN", body = ErrorBody),
    ))]
#[post("/api/v1/auth/logout")]
pub async fn logout(
    state: web::Data<HttpState>,
    ctx: Ctx,
    auth: MaybeAuth,
    body: OptionalJson<LogoutRequest>,
) -> Result<HttpResponse> {
    let refresh_token = body.0.as_ref().and_then(|b| b.refresh_token.as_deref());
    state
        .wxauth
        .logout(&ctx.context, refresh_token, auth.0.as_ref())
        .await?;
    Ok(HttpResponse::NoContent().finish())
}

/// The public keys that verify access tokens (ES256 or EdDSA deployments only).
#[utoipa::path(tag = "Sessions",
    responses(
        (status = 200, description = "A JWK Set", content_type = "application/jwk-set+json", body = Object,
         example = json!({"keys": [{"kty": "OKP", "crv": "Ed25519", "x": "11qYAYKxCrfVS_7TyWQHOg7hcvPapiMlrwIaaPcHURo", "kid": "2026-11", "alg": "EdDSA", "use": "sig"}]})),
        (status = 404, description = "NOT_FOUND: tokens are HS256-signed; there is no public key", body = ErrorBody),
    ))]
#[get("/.well-known/jwks.json")]
pub async fn jwks(state: web::Data<HttpState>) -> Result<HttpResponse> {
    let jwks = state.jwks_json.get_or_init(|| {
        // The service's own keys (ES256 / EdDSA deployments) and the OpenID provider's.
        let mut keys: Vec<serde_json::Value> = state
            .wxauth
            .signer()
            .jwks()
            .and_then(|set| set.get("keys").and_then(|k| k.as_array()).cloned())
            .unwrap_or_default();
        if let Some(provider) = state.wxauth.oidc() {
            keys.extend(provider.signer.jwks());
        }
        (!keys.is_empty())
            .then(|| web::Bytes::from(serde_json::json!({ "keys": keys }).to_string()))
    });
    let jwks = jwks.clone().ok_or_else(|| {
        ApiError::not_found("this service signs tokens with HS256: there are no public keys")
    })?;
    Ok(HttpResponse::Ok()
        .content_type("application/jwk-set+json")
        .insert_header(("cache-control", "public, max-age=300"))
        .body(jwks))
}
