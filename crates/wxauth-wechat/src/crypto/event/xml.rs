//! The XML WeChat pushes: flat `<xml><Field>value</Field>...</xml>` documents.
//!
//! Hostile input is expected (the endpoint is public), so the reader refuses DOCTYPE (no entity
//! definitions, hence no XXE or entity expansion), resolves only XML's predefined and numeric
//! references, and bounds the size, the nesting and the number of fields.

use quick_xml::Reader;
use quick_xml::escape::resolve_predefined_entity;
use quick_xml::events::Event;
use wxauth_domain::OpenId;

use crate::error::WechatError;

/// The largest event document accepted. Pushes are a few hundred bytes.
pub const MAX_EVENT_XML_BYTES: usize = 64 * 1024;
/// The largest safe-mode body: the base64 of the largest event, plus framing.
const MAX_ENVELOPE_XML_BYTES: usize = 96 * 1024;
const MAX_DEPTH: usize = 8;
const MAX_FIELDS: usize = 128;

/// What an event is about.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum EventKind {
    /// A follow, possibly through a parametric QR code (`EventKey = "qrscene_" + scene`).
    Subscribe,
    Unsubscribe,
    /// An already-following user scanned a parametric QR code (`EventKey = scene`).
    Scan,
    /// Any other event (`LOCATION`, `CLICK`, `VIEW`, ...), as sent.
    Other(String),
}

impl EventKind {
    fn parse(s: &str) -> Self {
        if s.eq_ignore_ascii_case("subscribe") {
            Self::Subscribe
        } else if s.eq_ignore_ascii_case("unsubscribe") {
            Self::Unsubscribe
        } else if s.eq_ignore_ascii_case("SCAN") {
            Self::Scan
        } else {
            Self::Other(s.to_owned())
        }
    }
}

/// A pushed message or event. Fields WeChat leaves empty are `None`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct EventMessage {
    /// The account's original id (`gh_...`).
    pub to_user_name: String,
    /// The user's openid.
    pub from_user_name: OpenId,
    /// Unix seconds.
    pub create_time: i64,
    /// `event`, `text`, ...
    pub msg_type: String,
    pub event: Option<EventKind>,
    pub event_key: Option<String>,
    /// The QR code's ticket, for scans.
    pub ticket: Option<String>,
    /// Set on user messages (not on events).
    pub msg_id: Option<i64>,
}

impl EventMessage {
    /// The QR scene a scan carried: `EventKey` without `qrscene_` for a follow through a code,
    /// the raw `EventKey` for `SCAN`, `None` otherwise (a plain follow has an empty key).
    pub fn scene(&self) -> Option<&str> {
        let key = self.event_key.as_deref()?;
        match self.event {
            Some(EventKind::Subscribe) => key.strip_prefix("qrscene_").filter(|s| !s.is_empty()),
            Some(EventKind::Scan) => Some(key),
            _ => None,
        }
    }
}

/// A safe-mode push before decryption.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct EncryptedEnvelope {
    pub to_user_name: Option<String>,
    /// Base64; check `msg_signature` over exactly this text, then decrypt it.
    pub encrypt: String,
}

/// Parses a (decrypted or plain-mode) event document.
pub fn parse_event(xml: &str) -> Result<EventMessage, WechatError> {
    let fields = Fields(parse_flat(xml, MAX_EVENT_XML_BYTES)?);
    let create_time = fields.required("CreateTime")?;
    Ok(EventMessage {
        to_user_name: fields.required("ToUserName")?.to_owned(),
        from_user_name: OpenId::parse(fields.required("FromUserName")?)
            .map_err(|e| WechatError::Decode(format!("FromUserName: {e}")))?,
        create_time: create_time
            .parse()
            .map_err(|_| WechatError::Decode("CreateTime is not a number".into()))?,
        msg_type: fields.required("MsgType")?.to_owned(),
        event: fields.optional("Event").map(EventKind::parse),
        event_key: fields.optional("EventKey").map(str::to_owned),
        ticket: fields.optional("Ticket").map(str::to_owned),
        msg_id: fields
            .optional("MsgId")
            .map(|id| {
                id.parse()
                    .map_err(|_| WechatError::Decode("MsgId is not a number".into()))
            })
            .transpose()?,
    })
}

/// Parses a safe-mode body (`<xml><ToUserName/><Encrypt/></xml>`; compatible mode adds the plain
/// fields, which are ignored here).
pub fn parse_encrypted_envelope(xml: &str) -> Result<EncryptedEnvelope, WechatError> {
    let fields = Fields(parse_flat(xml, MAX_ENVELOPE_XML_BYTES)?);
    Ok(EncryptedEnvelope {
        to_user_name: fields.optional("ToUserName").map(str::to_owned),
        encrypt: fields.required("Encrypt")?.to_owned(),
    })
}

struct Fields(Vec<(String, String)>);

impl Fields {
    /// A field's text, `None` when absent or empty.
    fn optional(&self, name: &str) -> Option<&str> {
        self.0
            .iter()
            .find(|(n, _)| n == name)
            .map(|(_, v)| v.as_str())
            .filter(|v| !v.is_empty())
    }

    fn required(&self, name: &str) -> Result<&str, WechatError> {
        self.optional(name)
            .ok_or_else(|| WechatError::Decode(format!("<{name}> is missing")))
    }
}

fn bad(reason: &str) -> WechatError {
    WechatError::Decode(format!("event XML: {reason}"))
}

/// Reads `<xml>` and the text of each direct child, trimmed. Nested elements are skipped; a
/// repeated child is refused (which copy would a signature have covered?).
fn parse_flat(xml: &str, max_bytes: usize) -> Result<Vec<(String, String)>, WechatError> {
    if xml.len() > max_bytes {
        return Err(bad("too large"));
    }
    let mut reader = Reader::from_str(xml);
    let mut fields: Vec<(String, String)> = Vec::new();
    let mut depth = 0usize;
    let mut root_done = false;
    let mut current: Option<(String, String)> = None;
    loop {
        let event = reader.read_event().map_err(|e| bad(&e.to_string()))?;
        match event {
            Event::DocType(_) => return Err(bad("DOCTYPE is not allowed")),
            Event::Start(_) | Event::Empty(_) if root_done => {
                return Err(bad("more than one root element"));
            }
            Event::Start(start) => {
                depth += 1;
                if depth > MAX_DEPTH {
                    return Err(bad("nested too deeply"));
                }
                let name = element_name(start.name().as_ref())?;
                match depth {
                    1 if name != "xml" => return Err(bad("the root element must be <xml>")),
                    2 => current = Some((name, String::new())),
                    _ => {}
                }
            }
            Event::Empty(start) => {
                let name = element_name(start.name().as_ref())?;
                match depth {
                    0 if name == "xml" => root_done = true,
                    0 => return Err(bad("the root element must be <xml>")),
                    1 => push_field(&mut fields, name, String::new())?,
                    _ => {}
                }
            }
            Event::End(_) => {
                if depth == 2
                    && let Some((name, value)) = current.take()
                {
                    push_field(&mut fields, name, value.trim().to_owned())?;
                }
                depth = depth.saturating_sub(1);
                if depth == 0 {
                    root_done = true;
                }
            }
            Event::Text(text) if depth == 2 => {
                let text = text.decode().map_err(|e| bad(&e.to_string()))?;
                append(&mut current, &text);
            }
            Event::CData(cdata) if depth == 2 => {
                let text = cdata.decode().map_err(|e| bad(&e.to_string()))?;
                append(&mut current, &text);
            }
            Event::GeneralRef(reference) if depth == 2 => {
                let resolved = match reference.resolve_char_ref() {
                    Ok(Some(c)) => c.to_string(),
                    Ok(None) => {
                        let name = reference.decode().map_err(|e| bad(&e.to_string()))?;
                        resolve_predefined_entity(&name)
                            .ok_or_else(|| bad("unknown entity"))?
                            .to_owned()
                    }
                    Err(_) => return Err(bad("invalid character reference")),
                };
                append(&mut current, &resolved);
            }
            Event::GeneralRef(_) if depth < 2 => return Err(bad("text outside a field")),
            Event::Eof => break,
            // Declarations, comments, processing instructions, whitespace between fields and
            // the content of nested elements carry nothing we read.
            _ => {}
        }
    }
    if !root_done || depth != 0 {
        return Err(bad("truncated document"));
    }
    Ok(fields)
}

fn element_name(raw: &[u8]) -> Result<String, WechatError> {
    std::str::from_utf8(raw)
        .map(str::to_owned)
        .map_err(|_| bad("element name is not UTF-8"))
}

fn append(current: &mut Option<(String, String)>, text: &str) {
    if let Some((_, value)) = current {
        value.push_str(text);
    }
}

fn push_field(
    fields: &mut Vec<(String, String)>,
    name: String,
    value: String,
) -> Result<(), WechatError> {
    if fields.iter().any(|(n, _)| *n == name) {
        return Err(bad("a field is repeated"));
    }
    if fields.len() >= MAX_FIELDS {
        return Err(bad("too many fields"));
    }
    fields.push((name, value));
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn event(kind: &str, key: Option<&str>) -> String {
        let key = key
            .map(|k| format!("<EventKey><![CDATA[{k}]]></EventKey>"))
            .unwrap_or_default();
        format!(
            "<xml><ToUserName><![CDATA[gh_account]]></ToUserName>\
             <FromUserName><![CDATA[oUSER]]></FromUserName><CreateTime>1700000000</CreateTime>\
             <MsgType><![CDATA[event]]></MsgType><Event><![CDATA[{kind}]]></Event>{key}\
             <Ticket><![CDATA[TICKET]]></Ticket></xml>"
        )
    }

    #[test]
    fn a_follow_through_a_qr_code_strips_the_prefix() {
        let msg = parse_event(&event("subscribe", Some("qrscene_SCENE"))).unwrap();
        assert_eq!(msg.to_user_name, "gh_account");
        assert_eq!(msg.from_user_name.as_str(), "oUSER");
        assert_eq!(msg.create_time, 1_700_000_000);
        assert_eq!(msg.msg_type, "event");
        assert_eq!(msg.event, Some(EventKind::Subscribe));
        assert_eq!(msg.event_key.as_deref(), Some("qrscene_SCENE"));
        assert_eq!(msg.ticket.as_deref(), Some("TICKET"));
        assert_eq!(msg.scene(), Some("SCENE"));
    }

    #[test]
    fn a_scan_by_a_follower_keeps_the_raw_key() {
        let msg = parse_event(&event("SCAN", Some("login_abc"))).unwrap();
        assert_eq!(msg.event, Some(EventKind::Scan));
        assert_eq!(msg.scene(), Some("login_abc"));
    }

    #[test]
    fn plain_follows_and_unfollows_have_no_scene() {
        let msg = parse_event(&event("subscribe", Some(""))).unwrap();
        assert_eq!(msg.event_key, None);
        assert_eq!(msg.scene(), None);
        let msg = parse_event(&event("unsubscribe", None)).unwrap();
        assert_eq!(msg.event, Some(EventKind::Unsubscribe));
        assert_eq!(msg.scene(), None);
        let msg = parse_event(&event("CLICK", Some("qrscene_x"))).unwrap();
        assert_eq!(msg.event, Some(EventKind::Other("CLICK".into())));
        assert_eq!(msg.scene(), None);
    }

    #[test]
    fn the_doc_vectors_plaintext_parses() {
        let xml = "<xml><ToUserName><![CDATA[gh_test]]></ToUserName><FromUserName><![CDATA[oUSER]]></FromUserName><CreateTime>1700000000</CreateTime><MsgType><![CDATA[event]]></MsgType><Event><![CDATA[SCAN]]></Event><EventKey><![CDATA[login_abc]]></EventKey><Ticket><![CDATA[TICKET1]]></Ticket></xml>";
        let msg = parse_event(xml).unwrap();
        assert_eq!(msg.scene(), Some("login_abc"));
        assert_eq!(msg.ticket.as_deref(), Some("TICKET1"));
    }

    #[test]
    fn messages_escaped_text_and_nested_elements_are_read() {
        let xml = "<?xml version=\"1.0\"?>\n<xml>\n  <ToUserName>gh_a</ToUserName>\n  \
                   <FromUserName>oU</FromUserName>\n  <CreateTime> 17 </CreateTime>\n  \
                   <MsgType>text</MsgType>\n  <Content>a &lt;b&gt; &amp; &#20013;</Content>\n  \
                   <ScanCodeInfo><ScanType>qrcode</ScanType></ScanCodeInfo>\n  \
                   <MsgId>1234567890123456</MsgId>\n  <Empty/>\n</xml>\n";
        let msg = parse_event(xml).unwrap();
        assert_eq!(msg.create_time, 17);
        assert_eq!(msg.msg_type, "text");
        assert_eq!(msg.event, None);
        assert_eq!(msg.msg_id, Some(1_234_567_890_123_456));
        assert_eq!(msg.msg_id, Some(1234567890123456));
        let fields = parse_flat(xml, MAX_EVENT_XML_BYTES).unwrap();
        assert!(fields.contains(&("Content".into(), "a <b> & 中".into())));
    }

    #[test]
    fn envelopes_are_read() {
        let env = parse_encrypted_envelope(
            "<xml><ToUserName><![CDATA[gh_a]]></ToUserName>\n<Encrypt><![CDATA[QUJD]]></Encrypt></xml>",
        )
        .unwrap();
        assert_eq!(
            env,
            EncryptedEnvelope {
                to_user_name: Some("gh_a".into()),
                encrypt: "QUJD".into()
            }
        );
        assert!(parse_encrypted_envelope("<xml><ToUserName>gh</ToUserName></xml>").is_err());
    }

    #[test]
    fn hostile_documents_are_refused() {
        let cases = [
            ("doctype", "<!DOCTYPE xml [<!ENTITY x SYSTEM \"file:///etc/passwd\">]><xml><ToUserName>&x;</ToUserName></xml>".to_owned()),
            ("unknown entity", "<xml><ToUserName>&x;</ToUserName></xml>".to_owned()),
            ("wrong root", "<foo><ToUserName>a</ToUserName></foo>".to_owned()),
            ("two roots", "<xml></xml><xml></xml>".to_owned()),
            ("truncated", "<xml><ToUserName>a</ToUserName>".to_owned()),
            ("mismatched", "<xml><ToUserName>a</FromUserName></xml>".to_owned()),
            ("repeated", "<xml><Encrypt>a</Encrypt><Encrypt>b</Encrypt></xml>".to_owned()),
            ("deep", format!("<xml>{}{}</xml>", "<a>".repeat(20), "</a>".repeat(20))),
            ("huge", format!("<xml><Encrypt>{}</Encrypt></xml>", "A".repeat(MAX_EVENT_XML_BYTES))),
            ("many fields", format!("<xml>{}</xml>", (0..200).map(|i| format!("<f{i}/>")).collect::<String>())),
            ("empty", String::new()),
            ("not xml", "success".to_owned()),
        ];
        for (what, xml) in cases {
            assert!(
                matches!(
                    parse_flat(&xml, MAX_EVENT_XML_BYTES),
                    Err(WechatError::Decode(_))
                ),
                "{what} should be refused"
            );
        }
    }

    #[test]
    fn missing_or_invalid_required_fields_are_decode_errors() {
        let no_from = "<xml><ToUserName>a</ToUserName><CreateTime>1</CreateTime><MsgType>event</MsgType></xml>";
        assert!(
            matches!(parse_event(no_from), Err(WechatError::Decode(m)) if m.contains("FromUserName"))
        );
        let bad_time = "<xml><ToUserName>a</ToUserName><FromUserName>o</FromUserName><CreateTime>x</CreateTime><MsgType>event</MsgType></xml>";
        assert!(parse_event(bad_time).is_err());
        let bad_openid = "<xml><ToUserName>a</ToUserName><FromUserName>o&amp;x</FromUserName><CreateTime>1</CreateTime><MsgType>event</MsgType></xml>";
        assert!(parse_event(bad_openid).is_err());
    }
}
