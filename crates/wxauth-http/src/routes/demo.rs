//! A small demo page: "log in with WeChat" (web OAuth) and scan-to-login with polling.

use actix_web::{HttpResponse, web};

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
    .route("/demo/callback", web::get().to(page));
}
