//! The per-request middleware: request id, tracing span, metrics and the error envelope.

use std::time::{Duration, Instant};

use actix_web::body::{BoxBody, MessageBody};
use actix_web::dev::{ServiceRequest, ServiceResponse};
use actix_web::http::StatusCode;
use actix_web::http::header::{self, HeaderName, HeaderValue};
use actix_web::middleware::Next;
use actix_web::{Error, HttpMessage, HttpRequest, web};
use tracing::Instrument;

use crate::error::ApiError;
use crate::state::HttpState;

pub static REQUEST_ID_HEADER: HeaderName = HeaderName::from_static("x-request-id");

/// The id of the current request: the caller's `x-request-id` when it is a sane token, a new
/// UUIDv7 otherwise.
#[derive(Debug, Clone)]
pub struct RequestId(std::sync::Arc<str>);

impl RequestId {
    pub fn as_str(&self) -> &str {
        &self.0
    }

    pub fn of(req: &HttpRequest) -> RequestId {
        req.extensions()
            .get::<RequestId>()
            .cloned()
            .unwrap_or_else(|| RequestId(std::sync::Arc::from("unknown")))
    }

    fn from_header(value: Option<&HeaderValue>) -> RequestId {
        let incoming = value.and_then(|v| v.to_str().ok()).filter(|v| {
            !v.is_empty()
                && v.len() <= 64
                && v.bytes()
                    .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_')
        });
        match incoming {
            Some(v) => RequestId(std::sync::Arc::from(v)),
            None => RequestId(std::sync::Arc::from(uuid::Uuid::now_v7().to_string())),
        }
    }
}

pub async fn observe(
    req: ServiceRequest,
    next: Next<impl MessageBody + 'static>,
) -> Result<ServiceResponse<BoxBody>, Error> {
    let id = RequestId::from_header(req.headers().get(&REQUEST_ID_HEADER));
    req.extensions_mut().insert(id.clone());
    let state = req.app_data::<web::Data<HttpState>>().cloned();
    let method = req.method().clone();
    let span =
        tracing::info_span!("request", id = %id.as_str(), method = %method, path = %req.path());
    let started = Instant::now();

    let deadline = state
        .as_ref()
        .map_or(Duration::from_secs(15), |s| s.options.request_timeout);
    let res = match tokio::time::timeout(deadline, next.call(req).instrument(span.clone())).await {
        Ok(Ok(res)) => res.map_into_boxed_body(),
        Ok(Err(e)) => {
            // Errors from inner middleware: render them like any other error.
            tracing::warn!(parent: &span, error = %e, "middleware error");
            return Err(e);
        }
        // The handler is dropped: its transaction, if any, is rolled back with it.
        Err(_) => {
            tracing::warn!(parent: &span, deadline_ms = deadline.as_millis() as u64, "request timed out");
            let error = ApiError::new(
                StatusCode::SERVICE_UNAVAILABLE,
                "REQUEST_TIMEOUT",
                format!(
                    "the request took longer than {} s: retry shortly",
                    deadline.as_secs()
                ),
            );
            // The request went with the dropped handler; an error carrying its own response
            // is how a middleware answers without it.
            let mut response = actix_web::HttpResponse::build(error.status)
                .insert_header((header::RETRY_AFTER, 1))
                .json(error.body(id.as_str()));
            response.headers_mut().insert(
                REQUEST_ID_HEADER.clone(),
                HeaderValue::from_str(id.as_str()).unwrap_or(HeaderValue::from_static("invalid")),
            );
            return Err(actix_web::error::InternalError::from_response(
                "request timed out",
                response,
            )
            .into());
        }
    };
    let mut res = envelope_errors(res, &id);
    res.headers_mut().insert(
        REQUEST_ID_HEADER.clone(),
        HeaderValue::from_str(id.as_str()).unwrap_or(HeaderValue::from_static("invalid")),
    );

    let status = res.status();
    let route = res
        .request()
        .match_pattern()
        .unwrap_or_else(|| "unmatched".to_owned());
    let elapsed = started.elapsed();
    if let Some(state) = state {
        state
            .metrics
            .observe_request(&route, method.as_str(), status.as_u16(), elapsed);
    }
    if status.is_server_error() {
        tracing::error!(parent: &span, status = status.as_u16(), %route, elapsed_ms = elapsed.as_millis() as u64, "request failed");
    } else {
        tracing::debug!(parent: &span, status = status.as_u16(), %route, elapsed_ms = elapsed.as_millis() as u64, "request done");
    }
    Ok(res)
}

/// Makes every error response an envelope carrying the request id.
fn envelope_errors(res: ServiceResponse<BoxBody>, id: &RequestId) -> ServiceResponse<BoxBody> {
    let status = res.status();
    if status.as_u16() < 400 {
        return res;
    }
    let api_error = match res.response().error() {
        Some(e) => match e.as_error::<ApiError>() {
            Some(api) => Some(api.clone()),
            None => Some(framework_error(status, &e.to_string())),
        },
        // An error status without a body (an unrouted method, say) gets the envelope too.
        None if !res.headers().contains_key(header::CONTENT_TYPE) => Some(framework_error(
            status,
            status.canonical_reason().unwrap_or("error"),
        )),
        None => None,
    };
    let Some(api_error) = api_error else {
        return res;
    };
    let (req, _) = res.into_parts();
    let mut response = actix_web::HttpResponse::build(status).json(api_error.body(id.as_str()));
    if let Some(secs) = api_error.retry_after {
        response
            .headers_mut()
            .insert(header::RETRY_AFTER, HeaderValue::from(secs));
    }
    if status == StatusCode::UNAUTHORIZED {
        response
            .headers_mut()
            .insert(header::WWW_AUTHENTICATE, HeaderValue::from_static("Bearer"));
    }
    ServiceResponse::new(req, response)
}

fn framework_error(status: StatusCode, message: &str) -> ApiError {
    let name = match status {
        StatusCode::NOT_FOUND => "NOT_FOUND",
        StatusCode::METHOD_NOT_ALLOWED => "METHOD_NOT_ALLOWED",
        StatusCode::PAYLOAD_TOO_LARGE => "PAYLOAD_TOO_LARGE",
        StatusCode::UNSUPPORTED_MEDIA_TYPE => "UNSUPPORTED_MEDIA_TYPE",
        StatusCode::TOO_MANY_REQUESTS => "RATE_LIMITED",
        s if s.is_client_error() => "BAD_REQUEST",
        _ => "INTERNAL_ERROR",
    };
    if status.is_server_error() {
        tracing::error!(%message, "unhandled server error");
        return ApiError::internal();
    }
    ApiError::new(status, name, message)
}
