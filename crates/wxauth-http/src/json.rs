//! Request bodies and query strings, parsed with errors that name the field.
//!
//! [`Json`] and [`Query`] replace actix's extractors of the same names: serde's own messages
//! name a missing or unknown field but not a field of the wrong type (`{"code": 12345}`), so
//! the deserializer is wrapped in `serde_path_to_error`, which knows the path of every
//! failure. Every such failure is a 400 `VALIDATION_ERROR` with the field in `details`.

use std::future::Future;
use std::pin::Pin;

use actix_web::dev::Payload;
use actix_web::http::StatusCode;
use actix_web::{FromRequest, HttpMessage, HttpRequest, mime, web};
use serde::de::DeserializeOwned;

use crate::error::ApiError;

pub const MAX_JSON_BYTES: usize = 64 * 1024;

/// A JSON body: `application/json` (or `+json`), at most [`MAX_JSON_BYTES`].
#[derive(Debug)]
pub struct Json<T>(pub T);

impl<T> std::ops::Deref for Json<T> {
    type Target = T;
    fn deref(&self) -> &T {
        &self.0
    }
}

impl<T> Json<T> {
    pub fn into_inner(self) -> T {
        self.0
    }
}

/// A JSON body that may be absent: an empty body is `None`; anything else must parse, with the
/// same errors as a required body (unknown fields are refused, not ignored).
#[derive(Debug)]
pub struct OptionalJson<T>(pub Option<T>);

/// A query string.
#[derive(Debug)]
pub struct Query<T>(pub T);

impl<T> std::ops::Deref for Query<T> {
    type Target = T;
    fn deref(&self) -> &T {
        &self.0
    }
}

impl<T> Query<T> {
    pub fn into_inner(self) -> T {
        self.0
    }
}

type Boxed<T> = Pin<Box<dyn Future<Output = Result<T, ApiError>>>>;

/// Reads a JSON body: `None` when it is empty, else the parsed document.
fn read_body<T: DeserializeOwned + 'static>(
    req: &HttpRequest,
    payload: &mut Payload,
) -> Boxed<Option<T>> {
    let content_type = check_content_type(req);
    let body = web::Bytes::from_request(req, payload);
    Box::pin(async move {
        let body = body.await.map_err(|_| too_large())?;
        if body.iter().all(u8::is_ascii_whitespace) {
            return Ok(None);
        }
        content_type?;
        if body.len() > MAX_JSON_BYTES {
            return Err(too_large());
        }
        parse_json(&body).map(Some)
    })
}

impl<T: DeserializeOwned + 'static> FromRequest for Json<T> {
    type Error = ApiError;
    type Future = Boxed<Self>;

    fn from_request(req: &HttpRequest, payload: &mut Payload) -> Self::Future {
        let body = read_body(req, payload);
        Box::pin(async move {
            match body.await? {
                Some(value) => Ok(Json(value)),
                None => Err(ApiError::new(
                    StatusCode::BAD_REQUEST,
                    "INVALID_JSON",
                    "the request body is empty: send a JSON document",
                )),
            }
        })
    }
}

impl<T: DeserializeOwned + 'static> FromRequest for OptionalJson<T> {
    type Error = ApiError;
    type Future = Boxed<Self>;

    fn from_request(req: &HttpRequest, payload: &mut Payload) -> Self::Future {
        let body = read_body(req, payload);
        Box::pin(async move { body.await.map(OptionalJson) })
    }
}

impl<T: DeserializeOwned> FromRequest for Query<T> {
    type Error = ApiError;
    type Future = std::future::Ready<Result<Self, ApiError>>;

    fn from_request(req: &HttpRequest, _: &mut Payload) -> Self::Future {
        let de = serde_urlencoded::Deserializer::new(form_urlencoded(req.query_string()));
        std::future::ready(
            serde_path_to_error::deserialize(de)
                .map(Query)
                .map_err(|e| field_error(e.path().to_string(), &e.into_inner().to_string())),
        )
    }
}

fn form_urlencoded(query: &str) -> url::form_urlencoded::Parse<'_> {
    url::form_urlencoded::parse(query.as_bytes())
}

fn check_content_type(req: &HttpRequest) -> Result<(), ApiError> {
    let json = req.mime_type().ok().flatten().is_some_and(|m| {
        m.type_() == mime::APPLICATION
            && (m.subtype() == mime::JSON || m.suffix() == Some(mime::JSON))
    });
    if json {
        return Ok(());
    }
    Err(ApiError::new(
        StatusCode::UNSUPPORTED_MEDIA_TYPE,
        "UNSUPPORTED_MEDIA_TYPE",
        "send the body as application/json",
    ))
}

fn too_large() -> ApiError {
    ApiError::new(
        StatusCode::PAYLOAD_TOO_LARGE,
        "PAYLOAD_TOO_LARGE",
        "the request body is too large",
    )
}

/// Parses a JSON document into `T`, naming the field of any failure.
pub fn parse_json<T: DeserializeOwned>(body: &[u8]) -> Result<T, ApiError> {
    let syntax = |e: serde_json::Error| {
        ApiError::new(
            StatusCode::BAD_REQUEST,
            "INVALID_JSON",
            format!(
                "the request body is not valid JSON: {}",
                without_position(&e.to_string())
            ),
        )
    };
    let mut de = serde_json::Deserializer::from_slice(body);
    let value = serde_path_to_error::deserialize(&mut de).map_err(|e| {
        let path = e.path().to_string();
        let inner = e.into_inner();
        if inner.is_data() {
            field_error(path, &inner.to_string())
        } else {
            syntax(inner)
        }
    })?;
    // Trailing garbage after the document is a syntax error, as in serde_json::from_slice.
    de.end().map_err(syntax)?;
    Ok(value)
}

/// The field a serde message names: "missing field `code`", "unknown field `foo`, …".
fn named_field(message: &str) -> Option<&str> {
    let start = message.find('`')? + 1;
    let len = message[start..].find('`')?;
    Some(&message[start..start + len])
}

fn without_position(message: &str) -> &str {
    message.split(" at line ").next().unwrap_or(message)
}

/// One failure of a body or query, as the envelope reports it. `path` is where the
/// deserializer was (`code`, `redirectAllowList[2]`, `.` for the document itself); a missing
/// field is named by serde's message, one level below the path.
fn field_error(path: String, message: &str) -> ApiError {
    let message = without_position(message);
    let child = |name: &str| match path.as_str() {
        "." | "" => name.to_owned(),
        parent => format!("{parent}.{name}"),
    };
    if message.starts_with("missing field")
        && let Some(name) = named_field(message)
    {
        return ApiError::validation(&child(name), "is required");
    }
    // An unknown field is where the deserializer already is.
    if message.starts_with("unknown field")
        && let Some(name) = named_field(message)
    {
        let field = match path.as_str() {
            "." | "" => name.to_owned(),
            _ => path,
        };
        return ApiError::validation(&field, "is not an accepted field");
    }
    let field = match path.as_str() {
        "." | "" => "body".to_owned(),
        _ => path,
    };
    // "invalid type: integer `12345`, expected a string" → "expected a string, not integer `12345`"
    let reason = match message
        .strip_prefix("invalid type: ")
        .and_then(|rest| rest.split_once(", expected "))
    {
        Some((got, expected)) => format!("must be {expected}, not {got}"),
        None => message.to_owned(),
    };
    ApiError::validation(&field, &reason)
}

#[cfg(test)]
mod tests {
    use serde::Deserialize;

    use super::*;

    #[derive(Debug, Deserialize)]
    #[serde(rename_all = "camelCase", deny_unknown_fields)]
    #[allow(dead_code)]
    struct Login {
        code: String,
        app: Option<String>,
        nested: Option<Nested>,
    }

    #[derive(Debug, Deserialize)]
    #[serde(deny_unknown_fields)]
    #[allow(dead_code)]
    struct Nested {
        list: Vec<u32>,
    }

    fn refusal(body: &str) -> (String, String, String) {
        let e = parse_json::<Login>(body.as_bytes()).unwrap_err();
        (
            e.name.to_owned(),
            e.details["field"].as_str().unwrap_or_default().to_owned(),
            e.details["reason"].as_str().unwrap_or_default().to_owned(),
        )
    }

    #[test]
    fn a_wrong_typed_field_is_named_like_a_missing_one() {
        assert_eq!(
            refusal(r#"{"code": 12345}"#),
            (
                "VALIDATION_ERROR".into(),
                "code".into(),
                "must be a string, not integer `12345`".into()
            )
        );
        assert_eq!(
            refusal(r#"{}"#),
            (
                "VALIDATION_ERROR".into(),
                "code".into(),
                "is required".into()
            )
        );
        assert_eq!(refusal(r#"{"code": "x", "role": 1}"#).1, "role");
        assert_eq!(refusal(r#"{"code": "x", "app": false}"#).1, "app");
    }

    #[test]
    fn nested_fields_are_named_by_their_path() {
        assert_eq!(
            refusal(r#"{"code": "x", "nested": {"list": [1, "two"]}}"#).1,
            "nested.list[1]"
        );
        assert_eq!(refusal(r#"{"code": "x", "nested": {}}"#).1, "nested.list");
        assert_eq!(refusal(r#""just a string""#).1, "body");
        assert_eq!(
            refusal(r#"{"code": "x", "nested": {"list": [], "x": 1}}"#).1,
            "nested.x"
        );
    }

    #[test]
    fn broken_json_is_a_syntax_error_without_positions() {
        let e = parse_json::<Login>(br#"{"code": "#).unwrap_err();
        assert_eq!(e.name, "INVALID_JSON");
        assert!(!e.message.contains("line"));
        let e = parse_json::<Login>(br#"{"code": "x"} trailing"#).unwrap_err();
        assert_eq!(e.name, "INVALID_JSON");
    }
}
