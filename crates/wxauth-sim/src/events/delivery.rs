//! Sending pushes and URL checks to an account's server, the way WeChat does.
//!
//! WeChat waits 5 seconds for an answer and tries at most 3 times in total, re-sending the
//! identical message (same `CreateTime` and `FromUserName`) so the receiver can deduplicate.
//! Anything but HTTP 200 in time counts as a failure.

use std::time::Duration;

use reqwest::header::CONTENT_TYPE;
use url::Url;

use super::{Delivery, EventMessage, UrlCheckReport};
use crate::config::EventMode;
use crate::crypto::event::{encrypt_message, msg_signature, url_signature};

const MAX_ATTEMPTS: u32 = 3;

/// Where and how an app receives pushes, copied out of the state so no lock is held while
/// talking to the receiver.
#[derive(Debug, Clone)]
pub(crate) struct Receiver {
    pub(crate) url: String,
    pub(crate) token: String,
    pub(crate) mode: EventMode,
    pub(crate) aes_key: Option<[u8; 32]>,
    pub(crate) appid: String,
}

/// A ready-to-send push: the same bytes go out on every attempt.
struct Prepared {
    url: Url,
    body: String,
}

fn prepare(receiver: &Receiver, message: &EventMessage, now_secs: u64) -> Result<Prepared, String> {
    let mut url = Url::parse(&receiver.url).map_err(|err| format!("bad event_url: {err}"))?;
    let timestamp = now_secs.to_string();
    let nonce = crate::ids::nonce();
    let plain = message.to_xml();
    let (body, msg_sig) = match receiver.mode {
        EventMode::Plain => (plain, None),
        EventMode::Safe | EventMode::Compat => {
            let key = receiver
                .aes_key
                .as_ref()
                .ok_or("safe mode without an encoding_aes_key")?;
            let encrypt = encrypt_message(key, &receiver.appid, &plain, crate::ids::random16())
                .map_err(|err| err.to_string())?;
            let signature = msg_signature(&receiver.token, &timestamp, &nonce, &encrypt);
            let body = if receiver.mode == EventMode::Safe {
                message.safe_envelope(&encrypt)
            } else {
                message.compat_envelope(&encrypt)
            };
            (body, Some(signature))
        }
    };
    {
        let mut query = url.query_pairs_mut();
        query
            .append_pair(
                "signature",
                &url_signature(&receiver.token, &timestamp, &nonce),
            )
            .append_pair("timestamp", &timestamp)
            .append_pair("nonce", &nonce)
            .append_pair("openid", &message.from);
        if let Some(signature) = &msg_sig {
            query
                .append_pair("encrypt_type", "aes")
                .append_pair("msg_signature", signature);
        }
    }
    Ok(Prepared { url, body })
}

/// Pushes `message` with up to three attempts of `timeout` each.
pub(crate) async fn deliver(
    http: &reqwest::Client,
    receiver: &Receiver,
    message: &EventMessage,
    now_secs: u64,
    timeout: Duration,
) -> Delivery {
    let prepared = match prepare(receiver, message, now_secs) {
        Ok(prepared) => prepared,
        Err(error) => {
            return Delivery {
                error: Some(error),
                ..Delivery::default()
            };
        }
    };
    let mut delivery = Delivery::default();
    for attempt in 1..=MAX_ATTEMPTS {
        delivery.attempts = attempt;
        let sent = http
            .post(prepared.url.clone())
            .header(CONTENT_TYPE, "text/xml")
            .body(prepared.body.clone())
            .timeout(timeout)
            .send()
            .await;
        let outcome = match sent {
            Ok(response) => {
                let status = response.status().as_u16();
                response.text().await.map(|body| (status, body))
            }
            Err(err) => Err(err),
        };
        match outcome {
            Ok((status, body)) => {
                delivery.status = status;
                delivery.body = body;
                delivery.error = None;
                if status == 200 {
                    delivery.delivered = true;
                    break;
                }
            }
            Err(err) => {
                delivery.status = 0;
                delivery.body.clear();
                delivery.error = Some(describe(&err, timeout));
            }
        }
        tracing::debug!(
            attempt,
            status = delivery.status,
            "event push to {} failed",
            receiver.url
        );
    }
    delivery
}

/// WeChat's server-configuration check: GET with `signature, timestamp, nonce, echostr`; the
/// receiver must answer the `echostr` verbatim.
pub(crate) async fn verify_url(
    http: &reqwest::Client,
    receiver: &Receiver,
    now_secs: u64,
    timeout: Duration,
) -> UrlCheckReport {
    let mut report = UrlCheckReport {
        ok: false,
        status: 0,
        body: String::new(),
        error: None,
    };
    let mut url = match Url::parse(&receiver.url) {
        Ok(url) => url,
        Err(err) => {
            report.error = Some(format!("bad event_url: {err}"));
            return report;
        }
    };
    let timestamp = now_secs.to_string();
    let nonce = crate::ids::nonce();
    let echostr = crate::ids::echostr();
    url.query_pairs_mut()
        .append_pair(
            "signature",
            &url_signature(&receiver.token, &timestamp, &nonce),
        )
        .append_pair("timestamp", &timestamp)
        .append_pair("nonce", &nonce)
        .append_pair("echostr", &echostr);
    let sent = http.get(url).timeout(timeout).send().await;
    let outcome = match sent {
        Ok(response) => {
            let status = response.status().as_u16();
            response.text().await.map(|body| (status, body))
        }
        Err(err) => Err(err),
    };
    match outcome {
        Ok((status, body)) => {
            report.ok = status == 200 && body == echostr;
            report.status = status;
            report.body = body;
        }
        Err(err) => report.error = Some(describe(&err, timeout)),
    }
    report
}

fn describe(err: &reqwest::Error, timeout: Duration) -> String {
    if err.is_timeout() {
        return format!("no answer within {} ms", timeout.as_millis());
    }
    let mut text = err.to_string();
    let mut source = std::error::Error::source(err);
    while let Some(cause) = source {
        text.push_str(": ");
        text.push_str(&cause.to_string());
        source = cause.source();
    }
    text
}
