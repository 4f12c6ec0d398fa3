//! A small demo page: "log in with WeChat" (web OAuth), scan-to-login with polling, and the
//! Mini Program code followed by an event stream.

use actix_web::{HttpResponse, web};

use crate::state::HttpState;

const PAGE: &str = include_str!("../../assets/demo.html");

async fn page() -> HttpResponse {
    HttpResponse::Ok()
        .content_type("text/html; charset=utf-8")
        .insert_header((
            "content-security-policy",
            "default-src 'self'; img-src *; script-src 'unsafe-inline'; style-src 'unsafe-inline'",
        ))
        .body(PAGE)
}

/// Who to scan as, when the `demo` command runs the page next to the simulator.
async fn scanner(state: web::Data<HttpState>) -> HttpResponse {
    match &state.options.demo_scanner {
        Some(s) => HttpResponse::Ok().json(serde_json::json!({
            "name": s.name,
            "openid": s.openid,
            "miniProgramOpenid": s.mini_program_openid,
            "simulatorUrl": s.simulator_url,
        })),
        None => HttpResponse::NotFound().json(serde_json::json!({})),
    }
}

/// Every path the demo page serves (all `GET`).
pub const PATHS: [&str; 4] = ["/demo", "/demo/", "/demo/scanner.json", "/demo/callback"];

pub fn routes(cfg: &mut web::ServiceConfig) {
    cfg.route(
        "/demo",
        web::get().to(|| async {
            HttpResponse::PermanentRedirect()
                .insert_header(("location", "/demo/"))
                .finish()
        }),
    )
    .route("/demo/", web::get().to(page))
    .route("/demo/scanner.json", web::get().to(scanner))
    .route("/demo/callback", web::get().to(page));
}
