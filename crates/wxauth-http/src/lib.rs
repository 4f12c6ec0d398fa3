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
pub mod pages;
pub mod request_id;
pub mod routes;
pub mod state;

use actix_web::http::Method;
use actix_web::{HttpRequest, web};
use utoipa::OpenApi;
use utoipa_swagger_ui::SwaggerUi;

pub use error::{ApiError, ErrorBody};
pub use metrics::Metrics;
pub use routes::RouteTable;
pub use state::{DemoScanner, HttpOptions, HttpState};

/// Registers every route, the parsers' limits and the fallback on an actix app. Wrap the app
/// in the per-request middleware, outside everything but compression:
///
/// ```ignore
/// App::new()
///     .wrap(actix_web::middleware::from_fn(wxauth_http::request_id::observe))
///     .wrap(actix_web::middleware::Compress::default())
///     .configure(|cfg| wxauth_http::configure(cfg, state.clone()))
/// ```
pub fn configure(cfg: &mut web::ServiceConfig, state: web::Data<HttpState>) {
    let options = state.options.clone();
    let mut table = routes::RouteTable::default();
    routes::api(
        &mut routes::Endpoints::Router {
            cfg,
            table: &mut table,
        },
        &options,
    );
    // Routes outside the API, so outside the document; their methods still make 405s.
    table.add_route("/api-docs/openapi.json", &[Method::GET]);
    if options.demo_page {
        for path in routes::demo::PATHS {
            table.add_route(path, &[Method::GET]);
        }
    }
    if options.swagger_ui {
        table.add_route("/swagger-ui/{_:.*}", &[Method::GET]);
    }
    // Bodies the JSON extractor does not read (event pushes) are bounded too.
    cfg.app_data(web::PayloadConfig::new(json::MAX_JSON_BYTES))
        .app_data(state)
        .app_data(web::Data::new(table))
        // Not API endpoints, so not in the document: its own JSON, Swagger UI, the demo page.
        .route("/api-docs/openapi.json", web::get().to(openapi_json));
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
    cfg.default_service(web::to(fallback));
}

/// The OpenAPI document of the endpoints these options serve, from the same list the router
/// is built from.
pub fn openapi_document(options: &HttpOptions) -> utoipa::openapi::OpenApi {
    let mut paths = utoipa::openapi::path::Paths::new();
    let mut schemas = Vec::new();
    routes::api(
        &mut routes::Endpoints::Document {
            paths: &mut paths,
            schemas: &mut schemas,
        },
        options,
    );
    let mut doc = openapi::ApiDoc::openapi();
    doc.paths.paths.extend(paths.paths);
    let components = doc.components.get_or_insert_with(Default::default);
    components.schemas.extend(schemas);
    doc
}

/// The document is built and serialised on the first request and kept as bytes: built at
/// start-up, it would keep a megabyte or two of builders resident for a page few processes
/// ever serve.
async fn openapi_json(state: web::Data<HttpState>) -> Result<actix_web::HttpResponse, ApiError> {
    let json = match state.openapi_json.get() {
        Some(json) => json.clone(),
        None => {
            let json = openapi_document(&state.options).to_json().map_err(|e| {
                tracing::error!(error = %e, "cannot serialise the OpenAPI document");
                ApiError::internal()
            })?;
            state.openapi_json.get_or_init(|| json.into()).clone()
        }
    };
    Ok(actix_web::HttpResponse::Ok()
        .content_type(actix_web::http::header::ContentType::json())
        .body(json))
}

/// No route matched: a 405 naming the methods when the path exists with others, else a 404.
pub(crate) async fn fallback(
    req: HttpRequest,
    table: web::Data<routes::RouteTable>,
) -> actix_web::HttpResponse {
    match table.methods_at(req.path()) {
        Some(methods) if !methods.contains(req.method()) => {
            let allow = methods
                .iter()
                .map(|m| m.as_str())
                .collect::<Vec<_>>()
                .join(", ");
            let mut res = ApiError::new(
                actix_web::http::StatusCode::METHOD_NOT_ALLOWED,
                "METHOD_NOT_ALLOWED",
                format!("{} is not allowed on {}: use {allow}", req.method(), req.path()),
            )
            .with_details(serde_json::json!({ "allow": methods.iter().map(|m| m.as_str()).collect::<Vec<_>>() }))
            .respond(&req);
            if let Ok(value) = actix_web::http::header::HeaderValue::from_str(&allow) {
                res.headers_mut()
                    .insert(actix_web::http::header::ALLOW, value);
            }
            res
        }
        _ => ApiError::not_found(format!("no route for {} {}", req.method(), req.path()))
            .respond(&req),
    }
}

#[cfg(test)]
mod tests {
    use std::collections::BTreeSet;

    use actix_web::App;

    use super::*;

    /// The router and the document come from one list, in both directions: every routed
    /// endpoint is documented and every documented one is routed.
    #[actix_web::test]
    async fn the_routes_and_the_document_are_the_same_endpoints() {
        for options in [
            HttpOptions::default(),
            HttpOptions {
                compat_routes: false,
                ..HttpOptions::default()
            },
        ] {
            let table = std::sync::Arc::new(std::sync::Mutex::new(routes::RouteTable::default()));
            let registered = table.clone();
            let opts = options.clone();
            let _app = actix_web::test::init_service(App::new().configure(move |cfg| {
                let mut table = routes::RouteTable::default();
                routes::api(
                    &mut routes::Endpoints::Router {
                        cfg,
                        table: &mut table,
                    },
                    &opts,
                );
                *registered.lock().unwrap() = table;
            }))
            .await;
            let routed: BTreeSet<(String, String)> = table
                .lock()
                .unwrap()
                .entries()
                .into_iter()
                .map(|(path, method)| (path, method.as_str().to_owned()))
                .collect();
            let documented: BTreeSet<(String, String)> = openapi_document(&options)
                .paths
                .paths
                .iter()
                .flat_map(|(path, item)| {
                    let methods = serde_json::to_value(item).unwrap();
                    methods
                        .as_object()
                        .unwrap()
                        .keys()
                        .filter(|k| ["get", "post", "put", "patch", "delete"].contains(&k.as_str()))
                        .map(|m| (path.clone(), m.to_uppercase()))
                        .collect::<Vec<_>>()
                })
                .collect();
            assert!(routed.len() > 30, "{} endpoints", routed.len());
            assert_eq!(
                routed, documented,
                "compat routes: {}",
                options.compat_routes
            );
        }
    }
}
