//! Official Account event push (服务器配置): the URL check and message signatures, the safe-mode
//! cipher, and the XML of events and encrypted envelopes.
//!
//! [`open_push`] does all of it for one pushed request: it checks the signature of a plain
//! push, or (safe mode) parses the encrypted envelope, checks `msg_signature` over its
//! `Encrypt` (not `signature`), decrypts it, and parses the event. The steps are public too:
//! [`parse_encrypted_envelope`], [`verify_msg_signature`], [`EventCipher::decrypt`],
//! [`parse_event`].

mod cipher;
mod push;
mod signature;
mod xml;

pub use cipher::EventCipher;
pub use push::{PushError, PushKeys, PushQuery, open_push, verify_server_url};
pub use signature::{msg_signature, url_signature, verify_msg_signature, verify_url_signature};
pub use xml::{
    EncryptedEnvelope, EventKind, EventMessage, MAX_EVENT_XML_BYTES, parse_encrypted_envelope,
    parse_event,
};

#[cfg(test)]
mod tests {
    use secrecy::SecretString;
    use wxauth_domain::WechatAppId;

    use super::*;

    /// The doc's safe-mode vector, end to end, in the documented order.
    #[test]
    fn a_safe_mode_push_is_verified_decrypted_and_parsed() {
        let encrypt = "4j/AuRx71kQlxVlzbpsMWER38M95pTvmYDZmD2EqXbgYIkKKJHDq/4qH9/X9otF5V0KlgX/qF8JF2BSxVhQbnsv9ZkD2fabcxGKb39wcAOSux9rFpmJd6HmxsHc6nn1D2NjwxtM3hfYdjYd42VySQd/jLIVc3waCdQcHCDp+ELT5Jy//TdxreMixCRh0g0f+dPRqyB4fQ0vW/He/qyer/akhiRK031uXNdF2Je/EcCeDOh4GbgAbWCw5XsuWfdF7HxvIxU6VPKxgFcfjSJYVWNKwTuTNRTGsfmJPyz/PhZkn9Z0yktf9IUesfK0dGZ037FGqdIdPruP5e/diRYNvLq5WZ9grDak0uqGUjvciYoV65UVbrfEINHAu8Wy8j0/lgHKdKe5dQvvZTlk7sF50aeafza20qLZSuHvvxkyJ6pE=";
        let body = format!(
            "<xml><ToUserName><![CDATA[gh_test]]></ToUserName><Encrypt><![CDATA[{encrypt}]]></Encrypt></xml>"
        );
        let token = SecretString::from("wxauthtoken");
        let cipher = EventCipher::new(
            &SecretString::from("AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh8"),
            &WechatAppId::parse("wx1234567890abcdef").unwrap(),
        )
        .unwrap();

        let envelope = parse_encrypted_envelope(&body).unwrap();
        assert!(verify_msg_signature(
            &token,
            "1700000000",
            "nonce123",
            &envelope.encrypt,
            "fe1d5b273c05b0e9774261a2030ab76ffd3a8b5a"
        ));
        let event = parse_event(&cipher.decrypt(&envelope.encrypt).unwrap()).unwrap();

        assert_eq!(event.to_user_name, "gh_test");
        assert_eq!(event.from_user_name.as_str(), "oUSER");
        assert_eq!(event.event, Some(EventKind::Scan));
        assert_eq!(event.scene(), Some("login_abc"));
        assert_eq!(event.ticket.as_deref(), Some("TICKET1"));
    }

    #[test]
    fn an_envelope_for_the_largest_event_fits() {
        let cipher = EventCipher::new(
            &SecretString::from("AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh8"),
            &WechatAppId::parse("wx1234567890abcdef").unwrap(),
        )
        .unwrap();
        let xml = format!(
            "<xml><Content>{}</Content></xml>",
            "x".repeat(MAX_EVENT_XML_BYTES - 64)
        );
        let body = format!(
            "<xml><Encrypt>{}</Encrypt></xml>",
            cipher.encrypt(&xml, [1; 16])
        );
        let envelope = parse_encrypted_envelope(&body).unwrap();
        assert_eq!(cipher.decrypt(&envelope.encrypt).unwrap(), xml);
    }
}
