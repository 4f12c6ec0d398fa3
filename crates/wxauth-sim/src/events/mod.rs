//! Event push to an account's server (服务器配置): message XML, signing, safe-mode wrapping,
//! delivery with WeChat's retry policy, and the URL check.

mod delivery;
mod xml;

pub(crate) use delivery::{Receiver, deliver, verify_url};
pub(crate) use xml::EventMessage;

use serde::{Deserialize, Serialize};

/// The follow-related events the simulator pushes.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum EventKind {
    #[serde(rename = "subscribe")]
    Subscribe,
    #[serde(rename = "unsubscribe")]
    Unsubscribe,
    #[serde(rename = "SCAN")]
    Scan,
}

impl EventKind {
    /// The `Event` value in the XML.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Subscribe => "subscribe",
            Self::Unsubscribe => "unsubscribe",
            Self::Scan => "SCAN",
        }
    }
}

/// An arbitrary event to push (`POST /__sim/events`).
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PushEvent {
    pub appid: String,
    pub openid: String,
    pub event: EventKind,
    /// `EventKey`; `subscribe` without one carries an empty `EventKey`, like a plain follow.
    #[serde(default)]
    pub event_key: Option<String>,
    #[serde(default)]
    pub ticket: Option<String>,
    /// Deliver the identical message this many extra times (to test deduplication).
    #[serde(default)]
    pub duplicate: u32,
}

impl PushEvent {
    pub fn new(appid: impl Into<String>, openid: impl Into<String>, event: EventKind) -> Self {
        Self {
            appid: appid.into(),
            openid: openid.into(),
            event,
            event_key: None,
            ticket: None,
            duplicate: 0,
        }
    }
}

/// The outcome of pushing one message to the app's `event_url`, retries included.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct Delivery {
    /// The receiver answered HTTP 200 within the timeout.
    pub delivered: bool,
    /// HTTP status of the last attempt (0 when there was no answer).
    pub status: u16,
    /// Body of the last answer.
    pub body: String,
    /// Attempts made (0 when the app has no `event_url`), at most 3.
    pub attempts: u32,
    /// Why the last attempt failed, when it failed without an HTTP answer.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub error: Option<String>,
}

/// What a scan or a pushed event produced.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct EventReport {
    /// `subscribe`, `unsubscribe` or `SCAN`.
    pub event: String,
    /// The message's `CreateTime` (identical across retries and duplicates).
    pub create_time: u64,
    #[serde(flatten)]
    pub delivery: Delivery,
    /// One entry per extra delivery requested with `duplicate`.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub duplicates: Vec<Delivery>,
}

/// The outcome of WeChat's URL check against `event_url`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct UrlCheckReport {
    /// The receiver answered 200 with exactly the `echostr`.
    pub ok: bool,
    pub status: u16,
    pub body: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub error: Option<String>,
}
