//! wxauth's HTTP adapter: actix-web handlers over `wxauth-core`'s use cases, the error
//! envelope, rate limits, metrics and the OpenAPI document with Swagger UI.
//!
//! This crate depends on `wxauth-core` and `wxauth-domain` only among wxauth crates: it never
//! talks to the database or to WeChat itself.

pub mod dto;
pub mod error;
pub mod extract;
pub mod json;
pub mod metrics;
pub mod openapi;
pub mod rate_limit;
pub mod request_id;
pub mod routes;
pub mod state;

use actix_web::{HttpRequest, web};
use utoipa::OpenApi;
use utoipa_swagger_ui::SwaggerUi;

pub use error::{ApiError, ErrorBody};
pub use metrics::Metrics;
pub use rate_limit::{RateLimitConfig, RateLimits};
pub use state::{HttpOptions, HttpState};

/// Registers every route, the body parsers and the fallback on an actix app. Wrap the app in
/// the per-request middleware, outside everything but compression:
///
/// ```ignore
/// App::new()
///     .wrap(actix_web::middleware::from_fn(wxauth_http::request_id::observe))
///     .wrap(actix_web::middleware::Compress::default())
///     .configure(|cfg| wxauth_http::configure(cfg, state.clone()))
/// ```
pub fn configure(cfg: &mut web::ServiceConfig, state: web::Data<HttpState>) {
    let options = state.options.clone();
    cfg.app_data(state)
        .app_data(json::json_config())
        .app_data(json::query_config())
        .app_data(json::path_config())
        .route("/healthz", web::get().to(routes::health::healthz))
        .route("/readyz", web::get().to(routes::health::readyz))
        .route("/metrics", web::get().to(routes::health::metrics))
        .route("/api-docs/openapi.json", web::get().to(openapi_json))
        .configure(routes::miniprogram::routes)
        .configure(routes::me::routes)
        .configure(routes::auth::routes)
        .configure(routes::oauth::routes)
        .configure(routes::official::routes)
        .configure(routes::admin::routes);
    if options.compat_routes {
        cfg.configure(routes::compat::routes);
    }
    if options.demo_page {
        cfg.configure(routes::demo::routes);
    }
    if options.swagger_ui {
        cfg.service(
            // Pointed at the route above rather than handed the document: the UI then holds no
            // copy of it per worker.
            SwaggerUi::new("/swagger-ui/{_:.*}")
                .config(utoipa_swagger_ui::Config::new(["/api-docs/openapi.json"])),
        );
    }
    cfg.default_service(web::to(not_found));
}

/// The document is built and serialised on the first request and kept as bytes: built at
/// start-up, it would keep a megabyte or two of builders resident for a page few processes
/// ever serve.
async fn openapi_json() -> Result<actix_web::HttpResponse, ApiError> {
    static JSON: std::sync::OnceLock<web::Bytes> = std::sync::OnceLock::new();
    let json = match JSON.get() {
        Some(json) => json.clone(),
        None => {
            let json = openapi::ApiDoc::openapi().to_json().map_err(|e| {
                tracing::error!(error = %e, "cannot serialise the OpenAPI document");
                ApiError::internal()
            })?;
            JSON.get_or_init(|| json.into()).clone()
        }
    };
    Ok(actix_web::HttpResponse::Ok()
        .content_type(actix_web::http::header::ContentType::json())
        .body(json))
}

async fn not_found(req: HttpRequest) -> Result<actix_web::HttpResponse, ApiError> {
    Err(ApiError::not_found(format!(
        "no route for {} {}",
        req.method(),
        req.path()
    )))
}
