//! The browser-facing OAuth2 pages of `open.weixin.qq.com`: `/connect/oauth2/authorize`
//! (Official Accounts) and `/connect/qrconnect` (Website apps).
//!
//! A real user would consent inside WeChat; here a test either pre-sets the outcome (approve as
//! a user, or deny) or a person picks a fake user on a small HTML page.

use std::fmt::Write as _;

use actix_web::http::StatusCode;
use actix_web::http::header::LOCATION;
use actix_web::{HttpRequest, HttpResponse, web};
use url::Url;
use url::form_urlencoded::Serializer;

use super::query::Query;
use crate::clock::SimTime;
use crate::config::SimAppKind;
use crate::state::SimState;
use crate::store::Inner;
use crate::store::oauth::{OAuthConsent, OAuthGrant};

/// WeChat's limit on `state`.
const MAX_STATE_BYTES: usize = 128;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Flow {
    /// 公众号网页授权.
    OfficialAccount,
    /// 网站应用微信登录.
    Website,
}

impl Flow {
    fn kind(self) -> SimAppKind {
        match self {
            Self::OfficialAccount => SimAppKind::OfficialAccount,
            Self::Website => SimAppKind::Website,
        }
    }

    fn path(self) -> &'static str {
        match self {
            Self::OfficialAccount => "/connect/oauth2/authorize",
            Self::Website => "/connect/qrconnect",
        }
    }
}

/// A validated authorize request; everything borrowed from the query string.
struct Authorize<'q> {
    appid: &'q str,
    redirect_uri: &'q str,
    redirect: Url,
    scope: &'q str,
    state: Option<&'q str>,
    force_popup: Option<&'q str>,
}

pub(crate) async fn authorize(req: HttpRequest, state: web::Data<SimState>) -> HttpResponse {
    entry_page(&req, &state, Flow::OfficialAccount)
}

pub(crate) async fn qrconnect(req: HttpRequest, state: web::Data<SimState>) -> HttpResponse {
    entry_page(&req, &state, Flow::Website)
}

pub(crate) async fn authorize_confirm(
    req: HttpRequest,
    state: web::Data<SimState>,
) -> HttpResponse {
    confirm(&req, &state, Flow::OfficialAccount)
}

pub(crate) async fn qrconnect_confirm(
    req: HttpRequest,
    state: web::Data<SimState>,
) -> HttpResponse {
    confirm(&req, &state, Flow::Website)
}

fn entry_page(req: &HttpRequest, state: &SimState, flow: Flow) -> HttpResponse {
    let query = Query::parse(req.query_string());
    state.with_world(|world, now| {
        let request = match validate(world, &query, flow) {
            Ok(request) => request,
            Err(message) => return error_page(message),
        };
        let Some(app) = world.apps.get(request.appid) else {
            return error_page("appid 参数错误 (unknown appid)");
        };
        match &app.consent {
            OAuthConsent::Approve { openid } if app.users.contains_key(openid) => {
                let openid = openid.clone();
                approve(world, &request, &openid, now)
            }
            OAuthConsent::Deny => redirect(&request, None),
            OAuthConsent::Approve { .. } | OAuthConsent::Prompt => {
                chooser_page(world, &request, flow)
            }
        }
    })
}

fn confirm(req: &HttpRequest, state: &SimState, flow: Flow) -> HttpResponse {
    let query = Query::parse(req.query_string());
    state.with_world(|world, now| {
        let request = match validate(world, &query, flow) {
            Ok(request) => request,
            Err(message) => return error_page(message),
        };
        if query.get("deny").is_some() {
            return redirect(&request, None);
        }
        let Some(openid) = query.get("openid") else {
            return error_page("openid 参数错误 (choose a user or deny)");
        };
        let known = world
            .apps
            .get(request.appid)
            .is_some_and(|app| app.users.contains_key(openid));
        if !known {
            return error_page("openid 参数错误 (no such user in this app)");
        }
        approve(world, &request, openid, now)
    })
}

/// The page's checks; the first failure is shown on the error page.
fn validate<'q>(
    world: &Inner,
    query: &'q Query<'q>,
    flow: Flow,
) -> Result<Authorize<'q>, &'static str> {
    let appid = query.get("appid").ok_or("appid 参数错误 (appid missing)")?;
    let app = world
        .apps
        .get(appid)
        .ok_or("appid 参数错误 (unknown appid)")?;
    if app.app.kind != flow.kind() {
        return Err("Scope 参数错误或没有 Scope 权限 (wrong kind of app for this page)");
    }
    let redirect_uri = query
        .get("redirect_uri")
        .ok_or("redirect_uri 参数错误 (redirect_uri missing)")?;
    let redirect = Url::parse(redirect_uri)
        .ok()
        .filter(|url| matches!(url.scheme(), "http" | "https"))
        .ok_or("redirect_uri 参数错误 (not an absolute http(s) URL)")?;
    if query.get("response_type") != Some("code") {
        return Err("response_type 参数错误 (must be code)");
    }
    let scope = query
        .get("scope")
        .filter(|scope| app.app.kind.oauth_scopes().contains(scope))
        .ok_or("Scope 参数错误或没有 Scope 权限")?;
    let state = query.get("state");
    if state.is_some_and(|s| s.len() > MAX_STATE_BYTES) {
        return Err("state 参数错误 (longer than 128 bytes)");
    }
    Ok(Authorize {
        appid,
        redirect_uri,
        redirect,
        scope,
        state,
        force_popup: query.get("forcePopup"),
    })
}

fn approve(world: &mut Inner, request: &Authorize<'_>, openid: &str, now: SimTime) -> HttpResponse {
    let Some(app) = world.apps.get_mut(request.appid) else {
        return error_page("appid 参数错误 (unknown appid)");
    };
    let grant = OAuthGrant {
        openid: openid.to_owned(),
        scope: request.scope.to_owned(),
    };
    let code = app.oauth_codes.issue(grant, now, crate::ids::oauth_code);
    redirect(request, Some(&code))
}

/// 302 to `redirect_uri` with `code` (unless denied) and `state` (when given) appended to any
/// query it already has.
fn redirect(request: &Authorize<'_>, code: Option<&str>) -> HttpResponse {
    let mut target = request.redirect.clone();
    if code.is_some() || request.state.is_some() {
        let mut pairs = target.query_pairs_mut();
        if let Some(code) = code {
            pairs.append_pair("code", code);
        }
        if let Some(state) = request.state {
            pairs.append_pair("state", state);
        }
    }
    HttpResponse::Found()
        .insert_header((LOCATION, target.as_str()))
        .finish()
}

fn chooser_page(world: &Inner, request: &Authorize<'_>, flow: Flow) -> HttpResponse {
    let link = |extra: (&str, &str)| {
        let mut query = Serializer::new(String::new());
        query
            .append_pair("appid", request.appid)
            .append_pair("redirect_uri", request.redirect_uri)
            .append_pair("response_type", "code")
            .append_pair("scope", request.scope);
        if let Some(state) = request.state {
            query.append_pair("state", state);
        }
        if let Some(force_popup) = request.force_popup {
            query.append_pair("forcePopup", force_popup);
        }
        query.append_pair(extra.0, extra.1);
        format!("{}/confirm?{}", flow.path(), query.finish())
    };
    let mut users: Vec<_> = world
        .apps
        .get(request.appid)
        .map(|app| app.users.values().map(|record| &record.user).collect())
        .unwrap_or_default();
    users.sort_by(|a, b| a.openid.cmp(&b.openid));

    let mut html = String::with_capacity(1024);
    html.push_str(
        "<!DOCTYPE html><html lang=\"zh-CN\"><head><meta charset=\"utf-8\">\
         <title>wxauth-sim · 微信授权</title></head><body>",
    );
    let _ = write!(
        html,
        "<h1>微信授权 (wxauth-sim)</h1><p>App <code>{}</code> requests <code>{}</code>. \
         Continue as:</p><ul>",
        escape(request.appid),
        escape(request.scope)
    );
    for user in &users {
        let _ = write!(
            html,
            "<li><a href=\"{}\">{} <small>({})</small></a></li>",
            escape(&link(("openid", &user.openid))),
            escape(&user.nickname),
            escape(&user.openid)
        );
    }
    if users.is_empty() {
        html.push_str(
            "<li>No fake users yet: create one with <code>POST /__sim/users</code>.</li>",
        );
    }
    let _ = write!(
        html,
        "</ul><p><a href=\"{}\">拒绝 (deny)</a></p></body></html>",
        escape(&link(("deny", "1")))
    );
    HttpResponse::Ok()
        .content_type("text/html; charset=utf-8")
        .body(html)
}

fn error_page(message: &str) -> HttpResponse {
    HttpResponse::build(StatusCode::BAD_REQUEST)
        .content_type("text/html; charset=utf-8")
        .body(format!(
            "<!DOCTYPE html><html lang=\"zh-CN\"><head><meta charset=\"utf-8\">\
             <title>微信授权</title></head><body><h1>Oops! Something went wrong:(</h1>\
             <p>{}</p></body></html>",
            escape(message)
        ))
}

fn escape(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#39;"),
            _ => out.push(c),
        }
    }
    out
}
