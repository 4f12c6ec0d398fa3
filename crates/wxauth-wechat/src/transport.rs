//! The call discipline every API shares: URL-encoded queries, JSON read whatever the content
//! type says, errcode checks, one retry when WeChat is busy, bounded bodies, and one report per
//! exchange to the observer and to tracing — never with the query string or a body, which carry
//! secrets.

use std::future::Future;
use std::time::{Duration, Instant};

use serde::Serialize;
use serde::de::DeserializeOwned;

use crate::client::AppClient;
use crate::config::join;
use crate::errcode;
use crate::error::WechatError;
use crate::observer::CallOutcome;

/// The largest body read from WeChat. Mini Program codes are a few hundred KiB; anything near
/// this is not WeChat talking.
const MAX_BODY_BYTES: usize = 4 * 1024 * 1024;

/// The longest errmsg kept: errmsg ends up in logs and error envelopes.
const MAX_ERRMSG_CHARS: usize = 256;

/// One request to the API host, replayable for the busy retry.
pub(crate) struct Call<'a> {
    /// The API path; also the endpoint label reported to the observer.
    pub(crate) path: &'static str,
    /// Query pairs in the order WeChat documents them. reqwest URL-encodes every value.
    pub(crate) query: Vec<(&'static str, &'a str)>,
    /// A JSON body makes the call a POST.
    pub(crate) json: Option<Vec<u8>>,
}

impl<'a> Call<'a> {
    pub(crate) fn get(path: &'static str, query: Vec<(&'static str, &'a str)>) -> Self {
        Self {
            path,
            query,
            json: None,
        }
    }

    pub(crate) fn post_json(
        path: &'static str,
        query: Vec<(&'static str, &'a str)>,
        body: &impl Serialize,
    ) -> Result<Self, WechatError> {
        let json = serde_json::to_vec(body)
            .map_err(|e| WechatError::InvalidArgument(format!("request body: {e}")))?;
        Ok(Self {
            path,
            query,
            json: Some(json),
        })
    }
}

/// What came back, before interpretation.
struct RawAnswer {
    content_type: String,
    body: Vec<u8>,
}

impl AppClient {
    /// Sends `call` and reads a JSON answer: errcode absent or 0 is success, -1 is retried once.
    pub(crate) async fn call_json<T: DeserializeOwned>(
        &self,
        call: &Call<'_>,
    ) -> Result<T, WechatError> {
        self.retry_once_if_busy(|| async {
            let started = Instant::now();
            let result = match self.exchange(call).await {
                Ok(raw) => decode_json(&raw.body),
                Err(e) => Err(e),
            };
            self.report(call.path, &result, started.elapsed());
            result
        })
        .await
    }

    /// Sends `call` and reads an answer that is an image on success and a JSON error otherwise,
    /// told apart by content type.
    pub(crate) async fn call_image(&self, call: &Call<'_>) -> Result<Vec<u8>, WechatError> {
        self.retry_once_if_busy(|| async {
            let started = Instant::now();
            let result = match self.exchange(call).await {
                Ok(raw) if is_image(&raw.content_type) => Ok(raw.body),
                Ok(raw) => match decode_json::<serde_json::Value>(&raw.body) {
                    Ok(_) => Err(WechatError::Decode("expected an image, got JSON".into())),
                    Err(e) => Err(e),
                },
                Err(e) => Err(e),
            };
            self.report(call.path, &result, started.elapsed());
            result
        })
        .await
    }

    async fn retry_once_if_busy<T, F, Fut>(&self, mut attempt: F) -> Result<T, WechatError>
    where
        F: FnMut() -> Fut,
        Fut: Future<Output = Result<T, WechatError>>,
    {
        match attempt().await {
            Err(e) if e.is_busy() => {
                tokio::time::sleep(self.client.inner.busy_backoff).await;
                attempt().await
            }
            other => other,
        }
    }

    /// One HTTP exchange: send, check the status, read the body up to the limit.
    async fn exchange(&self, call: &Call<'_>) -> Result<RawAnswer, WechatError> {
        let url = join(&self.endpoints.api_base, call.path);
        let http = &self.client.inner.http;
        let request = match &call.json {
            None => http.get(url),
            Some(body) => http
                .post(url)
                .header(reqwest::header::CONTENT_TYPE, "application/json")
                .body(body.clone()),
        };
        let mut response = request
            .query(&call.query)
            .send()
            .await
            .map_err(transport_error)?;
        let status = response.status();
        if !status.is_success() {
            // WeChat answers errors with HTTP 200: anything else came from a proxy or balancer.
            return Err(WechatError::Transport(format!(
                "HTTP status {}",
                status.as_u16()
            )));
        }
        let content_type = response
            .headers()
            .get(reqwest::header::CONTENT_TYPE)
            .and_then(|v| v.to_str().ok())
            .unwrap_or_default()
            .to_ascii_lowercase();
        if response
            .content_length()
            .is_some_and(|n| n > MAX_BODY_BYTES as u64)
        {
            return Err(WechatError::Decode("response body too large".into()));
        }
        let mut body = Vec::new();
        while let Some(chunk) = response.chunk().await.map_err(transport_error)? {
            if body.len() + chunk.len() > MAX_BODY_BYTES {
                return Err(WechatError::Decode("response body too large".into()));
            }
            body.extend_from_slice(&chunk);
        }
        Ok(RawAnswer { content_type, body })
    }

    fn report<T>(
        &self,
        endpoint: &'static str,
        result: &Result<T, WechatError>,
        elapsed: Duration,
    ) {
        let outcome = match result {
            Ok(_) => CallOutcome::Ok,
            Err(WechatError::Api { errcode, .. }) => CallOutcome::Errcode(*errcode),
            Err(WechatError::Timeout) => CallOutcome::Timeout,
            Err(WechatError::Transport(_)) => CallOutcome::Transport,
            Err(_) => CallOutcome::Decode,
        };
        let errcode = result
            .as_ref()
            .err()
            .and_then(WechatError::errcode)
            .unwrap_or(errcode::OK);
        tracing::debug!(
            endpoint,
            outcome = outcome.label(),
            errcode,
            elapsed_ms = u64::try_from(elapsed.as_millis()).unwrap_or(u64::MAX),
            "WeChat call"
        );
        self.client.observer().on_call(endpoint, outcome, elapsed);
    }
}

fn is_image(content_type: &str) -> bool {
    content_type.trim_start().starts_with("image/")
}

/// Maps a reqwest failure without its URL, whose query carries secrets.
fn transport_error(e: reqwest::Error) -> WechatError {
    if e.is_timeout() {
        return WechatError::Timeout;
    }
    let e = e.without_url();
    let mut message = e.to_string();
    let mut source = std::error::Error::source(&e);
    while let Some(cause) = source {
        message.push_str(": ");
        message.push_str(&cause.to_string());
        source = cause.source();
    }
    WechatError::Transport(message)
}

/// Reads a WeChat JSON answer: the body is JSON whatever the content type (jscode2session says
/// `text/plain`); errcode absent or 0 is success; unknown fields are ignored by `T`.
pub(crate) fn decode_json<T: DeserializeOwned>(body: &[u8]) -> Result<T, WechatError> {
    let value: serde_json::Value = serde_json::from_slice(body)
        .map_err(|e| WechatError::Decode(format!("body is not JSON ({})", e.classify_name())))?;
    let code = match value.get("errcode") {
        None | Some(serde_json::Value::Null) => errcode::OK,
        Some(serde_json::Value::Number(n)) => n
            .as_i64()
            .ok_or_else(|| WechatError::Decode("errcode is not an integer".into()))?,
        // Not what WeChat documents, but cheap to accept: some gateways stringify numbers.
        Some(serde_json::Value::String(s)) => s
            .trim()
            .parse()
            .map_err(|_| WechatError::Decode("errcode is not an integer".into()))?,
        Some(_) => return Err(WechatError::Decode("errcode is not an integer".into())),
    };
    if code != errcode::OK {
        let errmsg = value
            .get("errmsg")
            .and_then(serde_json::Value::as_str)
            .unwrap_or_default()
            .chars()
            .take(MAX_ERRMSG_CHARS)
            .collect();
        return Err(WechatError::Api {
            errcode: code,
            errmsg,
        });
    }
    serde_json::from_value(value).map_err(|e| WechatError::Decode(e.to_string()))
}

/// serde_json's error categories, named for messages that must not quote the body.
trait ClassifyName {
    fn classify_name(&self) -> &'static str;
}

impl ClassifyName for serde_json::Error {
    fn classify_name(&self) -> &'static str {
        match self.classify() {
            serde_json::error::Category::Io => "I/O",
            serde_json::error::Category::Syntax => "syntax error",
            serde_json::error::Category::Data => "unexpected data",
            serde_json::error::Category::Eof => "truncated",
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[derive(Debug, serde::Deserialize)]
    struct Answer {
        value: String,
    }

    #[test]
    fn errcode_absent_or_zero_is_success() {
        let a: Answer = decode_json(br#"{"value":"x"}"#).unwrap();
        assert_eq!(a.value, "x");
        let a: Answer = decode_json(br#"{"errcode":0,"errmsg":"ok","value":"y"}"#).unwrap();
        assert_eq!(a.value, "y");
    }

    #[test]
    fn nonzero_errcode_is_an_api_error_even_with_other_fields() {
        let e = decode_json::<Answer>(br#"{"errcode":40029,"errmsg":"invalid code"}"#).unwrap_err();
        assert_eq!(
            e,
            WechatError::Api {
                errcode: 40029,
                errmsg: "invalid code".into()
            }
        );
        let e = decode_json::<Answer>(br#"{"errcode":"45011"}"#).unwrap_err();
        assert_eq!(e.errcode(), Some(45011));
    }

    #[test]
    fn unreadable_bodies_are_decode_errors() {
        for body in [
            &b"<html>"[..],
            b"",
            b"{\"value\":1}",
            b"{\"errcode\":true}",
            b"[]",
        ] {
            assert!(
                matches!(decode_json::<Answer>(body), Err(WechatError::Decode(_))),
                "{body:?}"
            );
        }
    }

    #[test]
    fn long_errmsgs_are_cut() {
        let body = format!(r#"{{"errcode":1,"errmsg":"{}"}}"#, "x".repeat(10_000));
        let e = decode_json::<Answer>(body.as_bytes()).unwrap_err();
        assert!(matches!(e, WechatError::Api { errmsg, .. } if errmsg.len() == MAX_ERRMSG_CHARS));
    }
}
