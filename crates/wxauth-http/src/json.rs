//! Body and query parsing errors in the envelope, naming the field when serde knows it.

use actix_web::error::{JsonPayloadError, QueryPayloadError};
use actix_web::http::StatusCode;
use actix_web::{HttpRequest, web};

use crate::error::ApiError;

pub const MAX_JSON_BYTES: usize = 64 * 1024;

/// The field a serde message names: "missing field `code`", "unknown field `foo`, …".
fn field_in(message: &str) -> Option<&str> {
    let start = message.find('`')? + 1;
    let len = message[start..].find('`')?;
    Some(&message[start..start + len])
}

pub fn serde_error(message: &str) -> ApiError {
    if message.starts_with("missing field")
        && let Some(field) = field_in(message)
    {
        return ApiError::validation(field, "is required");
    }
    if message.starts_with("unknown field")
        && let Some(field) = field_in(message)
    {
        return ApiError::validation(field, "is not an accepted field");
    }
    // Serde's message without its position suffix: "invalid type: integer `1`, expected a string".
    let reason = message.split(" at line ").next().unwrap_or(message);
    ApiError::new(
        StatusCode::BAD_REQUEST,
        "INVALID_BODY",
        format!("the request body is not valid: {reason}"),
    )
}

fn json_error(err: JsonPayloadError, _req: &HttpRequest) -> actix_web::Error {
    let api = match &err {
        JsonPayloadError::Deserialize(e) if e.is_data() => serde_error(&e.to_string()),
        JsonPayloadError::Deserialize(e) => ApiError::new(
            StatusCode::BAD_REQUEST,
            "INVALID_JSON",
            format!(
                "the request body is not valid JSON: {}",
                e.to_string().split(" at line ").next().unwrap_or_default()
            ),
        ),
        JsonPayloadError::ContentType => ApiError::new(
            StatusCode::UNSUPPORTED_MEDIA_TYPE,
            "UNSUPPORTED_MEDIA_TYPE",
            "send the body as application/json",
        ),
        JsonPayloadError::Overflow { .. } | JsonPayloadError::OverflowKnownLength { .. } => {
            ApiError::new(
                StatusCode::PAYLOAD_TOO_LARGE,
                "PAYLOAD_TOO_LARGE",
                "the request body is too large",
            )
        }
        other => ApiError::new(StatusCode::BAD_REQUEST, "INVALID_JSON", other.to_string()),
    };
    api.into()
}

fn query_error(err: QueryPayloadError, _req: &HttpRequest) -> actix_web::Error {
    let api = match &err {
        QueryPayloadError::Deserialize(e) => serde_error(&e.to_string()),
        other => ApiError::new(StatusCode::BAD_REQUEST, "INVALID_QUERY", other.to_string()),
    };
    api.into()
}

fn path_error(err: actix_web::error::PathError, _req: &HttpRequest) -> actix_web::Error {
    ApiError::new(
        StatusCode::NOT_FOUND,
        "NOT_FOUND",
        format!("no such resource: {err}"),
    )
    .into()
}

/// A JSON body that may be absent: an empty body is `None`; anything else must parse, with the
/// same errors as a required body (unknown fields are refused, not ignored).
pub fn optional_json<T: serde::de::DeserializeOwned>(body: &[u8]) -> Result<Option<T>, ApiError> {
    if body.iter().all(u8::is_ascii_whitespace) {
        return Ok(None);
    }
    if body.len() > MAX_JSON_BYTES {
        return Err(ApiError::new(
            StatusCode::PAYLOAD_TOO_LARGE,
            "PAYLOAD_TOO_LARGE",
            "the request body is too large",
        ));
    }
    serde_json::from_slice(body).map(Some).map_err(|e| {
        if e.is_data() {
            serde_error(&e.to_string())
        } else {
            let reason = e.to_string();
            let reason = reason
                .split(" at line ")
                .next()
                .unwrap_or_default()
                .to_owned();
            ApiError::new(
                StatusCode::BAD_REQUEST,
                "INVALID_JSON",
                format!("the request body is not valid JSON: {reason}"),
            )
        }
    })
}

pub fn json_config() -> web::JsonConfig {
    web::JsonConfig::default()
        .limit(MAX_JSON_BYTES)
        .error_handler(json_error)
}

pub fn query_config() -> web::QueryConfig {
    web::QueryConfig::default().error_handler(query_error)
}

pub fn path_config() -> web::PathConfig {
    web::PathConfig::default().error_handler(path_error)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn serde_messages_name_the_field() {
        let e = serde_error("missing field `code` at line 1 column 2");
        assert_eq!(e.details["field"], "code");
        assert_eq!(e.name, "VALIDATION_ERROR");
        let e = serde_error(
            "unknown field `role`, expected one of `nickname`, `avatarUrl` at line 1 column 9",
        );
        assert_eq!(e.details["field"], "role");
        let e = serde_error("invalid type: integer `1`, expected a string at line 1 column 10");
        assert_eq!(e.name, "INVALID_BODY");
        assert!(!e.message.contains("line 1"));
    }
}
