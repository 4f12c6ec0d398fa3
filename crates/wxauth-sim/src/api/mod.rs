//! The simulated WeChat endpoints, one file per API. Handlers are thin: parse, run the API's
//! logic on the locked world, render WeChat's way.
//!
//! All three WeChat hosts (api.weixin.qq.com, open.weixin.qq.com, mp.weixin.qq.com) are served
//! from the same listener; their paths do not collide.

mod body;
mod guard;
mod jscode2session;
mod oauth_api;
mod oauth_pages;
mod phone;
mod qrcode;
mod query;
mod reply;
mod session;
mod tokens;
mod user_info;
mod wxacode;

use actix_web::{HttpRequest, HttpResponse, web};

use crate::faults::Endpoint;
use crate::state::SimState;

pub(crate) fn configure(cfg: &mut web::ServiceConfig) {
    cfg
        // api.weixin.qq.com. GET-style APIs answer any method, as WeChat's do.
        .service(web::resource("/sns/jscode2session").to(jscode2session::handle))
        .service(web::resource("/cgi-bin/token").to(tokens::plain))
        .service(
            web::resource("/cgi-bin/stable_token")
                .route(web::post().to(tokens::stable))
                .default_service(web::to(|state: web::Data<SimState>| async move {
                    guard::require_post(&state, Endpoint::StableToken)
                })),
        )
        .service(
            web::resource("/wxa/business/getuserphonenumber")
                .route(web::post().to(phone::handle))
                .default_service(web::to(|state: web::Data<SimState>| async move {
                    guard::require_post(&state, Endpoint::Getuserphonenumber)
                })),
        )
        .service(web::resource("/wxa/checksession").to(session::check))
        .service(web::resource("/wxa/resetusersessionkey").to(session::reset))
        .service(web::resource("/sns/oauth2/access_token").to(oauth_api::access_token))
        .service(web::resource("/sns/oauth2/refresh_token").to(oauth_api::refresh_token))
        .service(web::resource("/sns/userinfo").to(oauth_api::userinfo))
        .service(web::resource("/sns/auth").to(oauth_api::auth))
        .service(
            web::resource("/cgi-bin/qrcode/create")
                .route(web::post().to(qrcode::create))
                .default_service(web::to(|state: web::Data<SimState>| async move {
                    guard::require_post(&state, Endpoint::QrcodeCreate)
                })),
        )
        .service(web::resource("/cgi-bin/user/info").to(user_info::handle))
        .service(
            web::resource("/wxa/getwxacodeunlimit")
                .route(web::post().to(wxacode::handle))
                .default_service(web::to(|state: web::Data<SimState>| async move {
                    guard::require_post(&state, Endpoint::Getwxacodeunlimit)
                })),
        )
        // mp.weixin.qq.com
        .service(web::resource("/cgi-bin/showqrcode").to(qrcode::show))
        // open.weixin.qq.com
        .service(
            web::resource("/connect/oauth2/authorize").route(web::get().to(oauth_pages::authorize)),
        )
        .service(
            web::resource("/connect/oauth2/authorize/confirm")
                .route(web::get().to(oauth_pages::authorize_confirm)),
        )
        .service(web::resource("/connect/qrconnect").route(web::get().to(oauth_pages::qrconnect)))
        .service(
            web::resource("/connect/qrconnect/confirm")
                .route(web::get().to(oauth_pages::qrconnect_confirm)),
        );
}

/// Anything the simulator does not simulate: a plain 404 naming the path, so a client pointed at
/// a wrong path finds out at once instead of parsing an empty body.
pub(crate) async fn not_simulated(req: HttpRequest) -> HttpResponse {
    HttpResponse::NotFound()
        .content_type("text/plain; charset=utf-8")
        .body(format!(
            "wxauth-sim does not simulate {} {}",
            req.method(),
            req.path()
        ))
}
