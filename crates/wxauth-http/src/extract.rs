//! Extractors: who is calling (context, bearer token, admin key).

use std::future::{Ready, ready};
use std::net::IpAddr;

use actix_web::dev::Payload;
use actix_web::http::header;
use actix_web::{FromRequest, HttpRequest, web};
use futures::future::LocalBoxFuture;
use wxauth_core::RequestContext;
use wxauth_core::ports::AccessClaims;

use crate::error::ApiError;
use crate::request_id::RequestId;
use crate::state::HttpState;

pub fn state(req: &HttpRequest) -> Result<&web::Data<HttpState>, ApiError> {
    req.app_data::<web::Data<HttpState>>()
        .ok_or_else(ApiError::internal)
}

/// The caller's IP and the request id, for rate limits and the audit log.
#[derive(Debug, Clone)]
pub struct Ctx {
    pub ip: Option<IpAddr>,
    pub context: RequestContext,
}

fn client_ip(req: &HttpRequest, trust_forwarded_for: bool) -> Option<IpAddr> {
    if trust_forwarded_for {
        // The right-most address is the one our own proxy appended.
        let forwarded = req
            .headers()
            .get("x-forwarded-for")
            .and_then(|v| v.to_str().ok())
            .and_then(|v| v.rsplit(',').next())
            .and_then(|v| v.trim().parse().ok());
        if forwarded.is_some() {
            return forwarded;
        }
    }
    req.peer_addr().map(|a| a.ip())
}

impl Ctx {
    pub fn of(req: &HttpRequest) -> Ctx {
        let trust = state(req)
            .map(|s| s.options.trust_forwarded_for)
            .unwrap_or(false);
        let ip = client_ip(req, trust);
        Ctx {
            ip,
            context: RequestContext {
                ip,
                request_id: Some(RequestId::of(req).as_str().to_owned()),
                actor: None,
            },
        }
    }
}

impl FromRequest for Ctx {
    type Error = ApiError;
    type Future = Ready<Result<Self, ApiError>>;

    fn from_request(req: &HttpRequest, _: &mut Payload) -> Self::Future {
        ready(Ok(Ctx::of(req)))
    }
}

fn bearer(req: &HttpRequest) -> Option<&str> {
    let value = req.headers().get(header::AUTHORIZATION)?.to_str().ok()?;
    let (scheme, token) = value.split_once(' ')?;
    scheme
        .eq_ignore_ascii_case("bearer")
        .then(|| token.trim())
        .filter(|t| !t.is_empty())
}

/// A bearer token taken as it is, for endpoints whose token is not an access token (the
/// confirmation token of a Mini Program scan-login).
#[derive(Debug, Clone)]
pub struct BearerToken(pub String);

impl FromRequest for BearerToken {
    type Error = ApiError;
    type Future = Ready<Result<Self, ApiError>>;

    fn from_request(req: &HttpRequest, _: &mut Payload) -> Self::Future {
        ready(
            bearer(req)
                .map(|t| BearerToken(t.to_owned()))
                .ok_or_else(|| {
                    ApiError::unauthorized(
                        "send the scan's confirmation token: Authorization: Bearer mqc_…",
                    )
                }),
        )
    }
}

/// A verified access token. Only the signature and claims are checked here; handlers that need
/// the account load it (and so see a blocked or deleted user).
#[derive(Debug, Clone)]
pub struct Auth(pub AccessClaims);

impl FromRequest for Auth {
    type Error = ApiError;
    type Future = Ready<Result<Self, ApiError>>;

    fn from_request(req: &HttpRequest, _: &mut Payload) -> Self::Future {
        ready(authenticate(req).map(Auth))
    }
}

fn authenticate(req: &HttpRequest) -> Result<AccessClaims, ApiError> {
    let token = bearer(req).ok_or_else(|| {
        ApiError::unauthorized("send an access token: Authorization: Bearer <token>")
    })?;
    Ok(state(req)?.wxauth.authenticate(token)?)
}

/// An access token when one is sent, for endpoints where it is optional.
#[derive(Debug, Clone)]
pub struct MaybeAuth(pub Option<AccessClaims>);

impl FromRequest for MaybeAuth {
    type Error = ApiError;
    type Future = Ready<Result<Self, ApiError>>;

    fn from_request(req: &HttpRequest, _: &mut Payload) -> Self::Future {
        ready(match bearer(req) {
            None => Ok(MaybeAuth(None)),
            Some(_) => authenticate(req).map(|c| MaybeAuth(Some(c))),
        })
    }
}

pub const ADMIN_KEY_HEADER: &str = "x-admin-key";

/// An admin API key (`X-Admin-Key: wxa_…`), never a user's token.
#[derive(Debug, Clone)]
pub struct Admin {
    pub key_id: String,
    pub ctx: Ctx,
}

impl Admin {
    pub fn context(&self) -> &RequestContext {
        &self.ctx.context
    }
}

impl FromRequest for Admin {
    type Error = ApiError;
    type Future = LocalBoxFuture<'static, Result<Self, ApiError>>;

    fn from_request(req: &HttpRequest, _: &mut Payload) -> Self::Future {
        let req = req.clone();
        Box::pin(async move {
            let key = req
                .headers()
                .get(ADMIN_KEY_HEADER)
                .and_then(|v| v.to_str().ok())
                .ok_or_else(|| {
                    ApiError::unauthorized("send an admin API key: X-Admin-Key: wxa_…")
                })?;
            let key_id = state(&req)?.wxauth.authenticate_admin(key).await?;
            let mut ctx = Ctx::of(&req);
            ctx.context.actor = Some(format!("admin_key:{key_id}"));
            Ok(Admin { key_id, ctx })
        })
    }
}
