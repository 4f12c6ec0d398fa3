//! The `/__sim/` control API: JSON in, JSON out, the HTTP face of [`crate::SimState`]'s typed
//! methods. Bad input is a 400 `{"error": "..."}`, unknown apps/users/tickets a 404.

mod accounts;
mod admin;
mod codes;
mod error;
mod events;
mod faults;
mod wxacode;

use actix_web::error::InternalError;
use actix_web::{HttpResponse, Resource, web};
use serde_json::json;

pub(crate) fn configure(cfg: &mut web::ServiceConfig) {
    cfg.service(
        web::scope("/__sim")
            .app_data(json_config())
            .app_data(query_config())
            .service(resource("/healthz").route(web::get().to(admin::healthz)))
            .service(
                resource("/apps")
                    .route(web::get().to(accounts::list_apps))
                    .route(web::post().to(accounts::add_app)),
            )
            .service(
                resource("/users")
                    .route(web::get().to(accounts::list_users))
                    .route(web::post().to(accounts::create_user)),
            )
            .service(resource("/login-codes").route(web::post().to(codes::login_codes)))
            .service(resource("/phone-codes").route(web::post().to(codes::phone_code)))
            .service(resource("/oauth-codes").route(web::post().to(codes::oauth_code)))
            .service(resource("/oauth/consent").route(web::post().to(codes::consent)))
            .service(resource("/scan").route(web::post().to(events::scan)))
            .service(resource("/wxacode-scan").route(web::post().to(wxacode::scan)))
            .service(resource("/events").route(web::post().to(events::push)))
            .service(resource("/events/verify-url").route(web::post().to(events::verify_url)))
            .service(
                resource("/faults")
                    .route(web::post().to(faults::inject))
                    .route(web::delete().to(faults::clear)),
            )
            .service(resource("/stats").route(web::get().to(admin::stats)))
            .service(resource("/clock").route(web::get().to(admin::clock)))
            .service(resource("/clock/advance").route(web::post().to(admin::advance_clock)))
            .service(
                resource("/access-tokens/invalidate")
                    .route(web::post().to(admin::invalidate_access_tokens)),
            )
            .service(
                resource("/access-tokens/expire")
                    .route(web::post().to(admin::expire_access_tokens)),
            )
            .service(resource("/session-key").route(web::get().to(admin::session_key)))
            .service(resource("/encrypt-user-data").route(web::post().to(admin::encrypt_user_data)))
            .service(resource("/sign-raw-data").route(web::post().to(admin::sign_raw_data)))
            .service(resource("/reset").route(web::post().to(admin::reset)))
            .default_service(web::to(|| async {
                HttpResponse::NotFound().json(json!({"error": "no such control endpoint"}))
            })),
    );
}

/// A control resource whose wrong-method answer is JSON like everything else here.
fn resource(path: &str) -> Resource {
    web::resource(path).default_service(web::to(|| async {
        HttpResponse::MethodNotAllowed().json(json!({"error": "method not allowed"}))
    }))
}

/// Bodies are JSON whatever the Content-Type says (curl users forget it), and malformed ones
/// get the control API's error shape.
fn json_config() -> web::JsonConfig {
    web::JsonConfig::default()
        .limit(64 << 20)
        .content_type_required(false)
        .error_handler(|err, _req| {
            let response = HttpResponse::BadRequest().json(json!({"error": err.to_string()}));
            InternalError::from_response(err, response).into()
        })
}

fn query_config() -> web::QueryConfig {
    web::QueryConfig::default().error_handler(|err, _req| {
        let response = HttpResponse::BadRequest().json(json!({"error": err.to_string()}));
        InternalError::from_response(err, response).into()
    })
}
