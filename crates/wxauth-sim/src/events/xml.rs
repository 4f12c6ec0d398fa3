//! The event XML exactly as WeChat formats it: CDATA for strings, a bare number for CreateTime.

use super::EventKind;

#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct EventMessage {
    /// The account's original id (`gh_…`).
    pub(crate) to: String,
    /// The user's openid.
    pub(crate) from: String,
    pub(crate) create_time: u64,
    pub(crate) event: EventKind,
    pub(crate) event_key: Option<String>,
    pub(crate) ticket: Option<String>,
}

impl EventMessage {
    pub(crate) fn to_xml(&self) -> String {
        let mut xml = String::with_capacity(256);
        xml.push_str("<xml>");
        push_cdata(&mut xml, "ToUserName", &self.to);
        push_cdata(&mut xml, "FromUserName", &self.from);
        xml.push_str(&format!("<CreateTime>{}</CreateTime>", self.create_time));
        push_cdata(&mut xml, "MsgType", "event");
        push_cdata(&mut xml, "Event", self.event.as_str());
        // A plain follow still carries an empty EventKey; unsubscribe carries none.
        match (&self.event_key, self.event) {
            (Some(key), _) => push_cdata(&mut xml, "EventKey", key),
            (None, EventKind::Subscribe) => push_cdata(&mut xml, "EventKey", ""),
            (None, _) => {}
        }
        if let Some(ticket) = &self.ticket {
            push_cdata(&mut xml, "Ticket", ticket);
        }
        xml.push_str("</xml>");
        xml
    }

    /// The safe-mode body: only the addressee and the ciphertext.
    pub(crate) fn safe_envelope(&self, encrypt: &str) -> String {
        let mut xml = String::with_capacity(encrypt.len() + 96);
        xml.push_str("<xml>");
        push_cdata(&mut xml, "ToUserName", &self.to);
        push_cdata(&mut xml, "Encrypt", encrypt);
        xml.push_str("</xml>");
        xml
    }

    /// The compatible-mode body: every plain field plus `Encrypt`.
    pub(crate) fn compat_envelope(&self, encrypt: &str) -> String {
        let plain = self.to_xml();
        let body = plain.strip_suffix("</xml>").unwrap_or(&plain);
        let mut xml = String::with_capacity(plain.len() + encrypt.len() + 32);
        xml.push_str(body);
        push_cdata(&mut xml, "Encrypt", encrypt);
        xml.push_str("</xml>");
        xml
    }
}

/// `<Tag><![CDATA[value]]></Tag>`; a `]]>` inside the value is split across two sections.
fn push_cdata(xml: &mut String, tag: &str, value: &str) {
    xml.push('<');
    xml.push_str(tag);
    xml.push_str("><![CDATA[");
    xml.push_str(&value.replace("]]>", "]]]]><![CDATA[>"));
    xml.push_str("]]></");
    xml.push_str(tag);
    xml.push('>');
}

#[cfg(test)]
mod tests {
    use super::*;

    fn scan() -> EventMessage {
        EventMessage {
            to: "gh_test".into(),
            from: "oUSER".into(),
            create_time: 1_700_000_000,
            event: EventKind::Scan,
            event_key: Some("login_abc".into()),
            ticket: Some("TICKET1".into()),
        }
    }

    #[test]
    fn scan_xml_is_byte_identical_to_the_doc_example() {
        assert_eq!(
            scan().to_xml(),
            "<xml><ToUserName><![CDATA[gh_test]]></ToUserName><FromUserName><![CDATA[oUSER]]></FromUserName><CreateTime>1700000000</CreateTime><MsgType><![CDATA[event]]></MsgType><Event><![CDATA[SCAN]]></Event><EventKey><![CDATA[login_abc]]></EventKey><Ticket><![CDATA[TICKET1]]></Ticket></xml>"
        );
    }

    #[test]
    fn plain_subscribe_has_an_empty_event_key_and_unsubscribe_none() {
        let mut message = scan();
        message.event = EventKind::Subscribe;
        message.event_key = None;
        message.ticket = None;
        assert!(
            message
                .to_xml()
                .contains("<EventKey><![CDATA[]]></EventKey>")
        );
        message.event = EventKind::Unsubscribe;
        assert!(!message.to_xml().contains("EventKey"));
    }

    #[test]
    fn compat_envelope_keeps_plain_fields_and_adds_encrypt() {
        let xml = scan().compat_envelope("ABC");
        assert!(xml.contains("<Event><![CDATA[SCAN]]></Event>"));
        assert!(xml.ends_with("<Encrypt><![CDATA[ABC]]></Encrypt></xml>"));
    }

    #[test]
    fn cdata_terminators_in_values_are_split() {
        let mut message = scan();
        message.event_key = Some("a]]>b".into());
        assert!(message.to_xml().contains("<![CDATA[a]]]]><![CDATA[>b]]>"));
    }
}
