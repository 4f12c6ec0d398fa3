//! The entry of every API call: count it, and play an armed fault instead of (or before) the
//! real answer.

use actix_web::HttpResponse;
use actix_web::http::StatusCode;

use super::reply::{self, Flavor};
use crate::faults::Endpoint;
use crate::state::SimState;
use crate::wx_error::WxErr;

/// What a misbehaving gateway in front of WeChat answers: not JSON at all.
const MALFORMED_BODY: &str = "<html>\r\n<head><title>502 Bad Gateway</title></head>\r\n<body>\r\n<center><h1>502 Bad Gateway</h1></center>\r\n</body>\r\n</html>\r\n";

/// `Some(response)` when a fault decides the answer; `None` to proceed normally (no fault, or
/// a fault that only delays).
pub(crate) async fn enter(
    state: &SimState,
    endpoint: Endpoint,
    flavor: Flavor,
) -> Option<HttpResponse> {
    let fault = state.enter(endpoint)?;
    tracing::debug!(endpoint = endpoint.name(), ?fault, "playing injected fault");
    if let Some(delay) = fault.delay {
        tokio::time::sleep(delay).await;
    }
    let status = fault
        .http_status
        .and_then(|code| StatusCode::from_u16(code).ok())
        .unwrap_or(StatusCode::OK);
    if fault.malformed {
        return Some(
            HttpResponse::build(status)
                .content_type("text/html")
                .body(MALFORMED_BODY),
        );
    }
    if let Some(errcode) = fault.errcode {
        return Some(reply::error(flavor, WxErr(errcode), status));
    }
    if fault.http_status.is_some() {
        return Some(
            HttpResponse::build(status)
                .content_type("text/html")
                .body(format!("<html><body><h1>{status}</h1></body></html>")),
        );
    }
    None
}

/// WeChat's answer to a GET (or anything else) on a POST-only API.
pub(crate) fn require_post(state: &SimState, endpoint: Endpoint) -> HttpResponse {
    state.count_call(endpoint);
    reply::error(Flavor::Json, WxErr::REQUIRE_POST, StatusCode::OK)
}
