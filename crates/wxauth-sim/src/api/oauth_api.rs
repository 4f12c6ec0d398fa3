//! The `/sns/…` half of web OAuth2: code exchange, refresh, user info, token check.
//!
//! These user-level tokens belong to one user of one app and have nothing to do with the app's
//! own access token.

use actix_web::{HttpRequest, HttpResponse, web};
use serde::Serialize;

use super::guard;
use super::query::Query;
use super::reply::{self, Flavor, OkReply};
use crate::clock::SimTime;
use crate::faults::Endpoint;
use crate::state::SimState;
use crate::store::codes::CodeError;
use crate::store::oauth::{OAuthGrant, USER_TOKEN_TTL};
use crate::store::{Inner, authenticate};
use crate::wx_error::WxErr;

#[derive(Serialize)]
struct TokenReply {
    access_token: String,
    expires_in: u64,
    refresh_token: String,
    openid: String,
    scope: String,
    /// Only for a virtual user on a Moments snapshot page, and only in this response.
    #[serde(skip_serializing_if = "Option::is_none")]
    is_snapshotuser: Option<u8>,
    #[serde(skip_serializing_if = "Option::is_none")]
    unionid: Option<String>,
}

#[derive(Serialize)]
struct RefreshReply {
    access_token: String,
    expires_in: u64,
    refresh_token: String,
    openid: String,
    scope: String,
}

#[derive(Serialize)]
struct UserInfoReply {
    openid: String,
    nickname: String,
    sex: u8,
    province: String,
    city: String,
    country: String,
    headimgurl: String,
    privilege: [String; 0],
    #[serde(skip_serializing_if = "Option::is_none")]
    unionid: Option<String>,
}

pub(crate) async fn access_token(req: HttpRequest, state: web::Data<SimState>) -> HttpResponse {
    if let Some(response) = guard::enter(&state, Endpoint::Oauth2AccessToken, Flavor::Json).await {
        return response;
    }
    let query = Query::parse(req.query_string());
    let result = state.with_world(|world, now| exchange_code(world, &query, now));
    reply::json(Flavor::Json, result)
}

fn exchange_code(world: &mut Inner, query: &Query<'_>, now: SimTime) -> Result<TokenReply, WxErr> {
    let app = authenticate(
        &mut world.apps,
        query.get("appid"),
        query.get("secret"),
        WxErr::INVALID_APPSECRET,
    )?;
    if query.get("grant_type") != Some("authorization_code") {
        return Err(WxErr::INVALID_GRANT_TYPE);
    }
    if app.app.kind.oauth_scopes().is_empty() {
        return Err(WxErr::API_UNAUTHORIZED);
    }
    let code = query.get("code").ok_or(WxErr::CODE_MISSING)?;
    let grant = app
        .oauth_codes
        .redeem(code, now)
        .map_err(|err| match err {
            CodeError::Invalid => WxErr::INVALID_CODE,
            CodeError::Used => WxErr::CODE_USED,
        })?
        .clone();
    let user = &app
        .users
        .get(&grant.openid)
        .ok_or(WxErr::INVALID_CODE)?
        .user;
    let appid = &app.app.appid;
    Ok(TokenReply {
        access_token: world.user_tokens.issue_access(appid, &grant, now),
        expires_in: USER_TOKEN_TTL.as_secs(),
        refresh_token: world.user_tokens.issue_refresh(appid, &grant, now),
        openid: grant.openid,
        scope: grant.scope,
        is_snapshotuser: user.snapshot.then_some(1),
        unionid: user.unionid.clone(),
    })
}

pub(crate) async fn refresh_token(req: HttpRequest, state: web::Data<SimState>) -> HttpResponse {
    if let Some(response) = guard::enter(&state, Endpoint::Oauth2RefreshToken, Flavor::Json).await {
        return response;
    }
    let query = Query::parse(req.query_string());
    let result = state.with_world(|world, now| refresh(world, &query, now));
    reply::json(Flavor::Json, result)
}

fn refresh(world: &mut Inner, query: &Query<'_>, now: SimTime) -> Result<RefreshReply, WxErr> {
    let appid = query.get("appid").ok_or(WxErr::APPID_MISSING)?;
    if !world.apps.contains_key(appid) {
        return Err(WxErr::INVALID_APPID);
    }
    if query.get("grant_type") != Some("refresh_token") {
        return Err(WxErr::INVALID_GRANT_TYPE);
    }
    let refresh_token = query.get("refresh_token");
    let grant = world
        .user_tokens
        .check_refresh(appid, refresh_token, now)?
        .clone();
    let oauth_grant = OAuthGrant {
        openid: grant.openid,
        scope: grant.scope,
    };
    Ok(RefreshReply {
        access_token: world.user_tokens.issue_access(appid, &oauth_grant, now),
        expires_in: USER_TOKEN_TTL.as_secs(),
        // WeChat hands back the same refresh token; its 30 days run from the first grant.
        refresh_token: refresh_token.unwrap_or_default().to_owned(),
        openid: oauth_grant.openid,
        scope: oauth_grant.scope,
    })
}

pub(crate) async fn userinfo(req: HttpRequest, state: web::Data<SimState>) -> HttpResponse {
    if let Some(response) = guard::enter(&state, Endpoint::Userinfo, Flavor::Json).await {
        return response;
    }
    let query = Query::parse(req.query_string());
    let result = state.with_world(|world, now| user_info(world, &query, now));
    reply::json(Flavor::Json, result)
}

fn user_info(world: &mut Inner, query: &Query<'_>, now: SimTime) -> Result<UserInfoReply, WxErr> {
    let token = world
        .user_tokens
        .check_access(query.get("access_token"), now)?;
    let openid = query.get("openid").ok_or(WxErr::OPENID_MISSING)?;
    if token.openid != openid {
        return Err(WxErr::INVALID_OPENID);
    }
    // A silent (snsapi_base) authorisation grants the openid only.
    if token.scope == "snsapi_base" {
        return Err(WxErr::API_UNAUTHORIZED);
    }
    let user = &world
        .apps
        .get(&token.appid)
        .and_then(|app| app.users.get(openid))
        .ok_or(WxErr::INVALID_OPENID)?
        .user;
    Ok(UserInfoReply {
        openid: user.openid.clone(),
        nickname: user.nickname.clone(),
        sex: user.sex,
        province: user.province.clone(),
        city: user.city.clone(),
        country: user.country.clone(),
        headimgurl: user.headimgurl.clone(),
        privilege: [],
        unionid: user.unionid.clone(),
    })
}

pub(crate) async fn auth(req: HttpRequest, state: web::Data<SimState>) -> HttpResponse {
    if let Some(response) = guard::enter(&state, Endpoint::SnsAuth, Flavor::Json).await {
        return response;
    }
    let query = Query::parse(req.query_string());
    let result = state.with_world(|world, now| {
        let token = world
            .user_tokens
            .check_access(query.get("access_token"), now)?;
        let openid = query.get("openid").ok_or(WxErr::OPENID_MISSING)?;
        if token.openid != openid {
            return Err(WxErr::INVALID_OPENID);
        }
        Ok(OkReply::OK)
    });
    reply::json(Flavor::Json, result)
}
