//! Opening one pushed request: signature, decryption and parsing, in WeChat's order.

use secrecy::SecretString;
use wxauth_domain::WechatAppId;

use super::{
    EventCipher, EventMessage, parse_encrypted_envelope, parse_event, verify_msg_signature,
    verify_url_signature,
};

/// The query parameters WeChat signs a push (and the URL check) with.
#[derive(Debug, Clone, Copy, Default)]
pub struct PushQuery<'a> {
    pub signature: &'a str,
    pub timestamp: &'a str,
    pub nonce: &'a str,
    /// `aes` in safe mode; absent or `raw` in plain mode.
    pub encrypt_type: Option<&'a str>,
    /// Safe mode's signature over the `Encrypt` element.
    pub msg_signature: Option<&'a str>,
}

/// An Official Account's server configuration (服务器配置).
#[derive(Debug, Clone, Copy)]
pub struct PushKeys<'a> {
    /// The token WeChat signs with.
    pub token: &'a SecretString,
    /// The 43-character EncodingAESKey and the appid it encrypts for, when safe mode is set up.
    pub safe_mode: Option<(&'a SecretString, &'a WechatAppId)>,
}

/// Why a push was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum PushError {
    /// The signature does not match: not from WeChat, or signed with another token.
    #[error("the push signature does not match")]
    BadSignature,
    /// A safe-mode push for an account without an EncodingAESKey.
    #[error("safe-mode push, but no EncodingAESKey is configured")]
    NoAesKey,
    /// Signed correctly but unreadable (bad base64, wrong key, not the expected XML).
    #[error("the push cannot be read: {0}")]
    Malformed(String),
}

/// Answers WeChat's URL check (`GET` with `echostr`): whether the query is signed with the token.
pub fn verify_server_url(token: &SecretString, query: &PushQuery<'_>) -> bool {
    verify_url_signature(token, query.timestamp, query.nonce, query.signature)
}

/// Verifies, decrypts (in safe mode) and parses one pushed request body.
pub fn open_push(
    keys: &PushKeys<'_>,
    query: &PushQuery<'_>,
    body: &[u8],
) -> Result<EventMessage, PushError> {
    let malformed = |e: &dyn std::fmt::Display| PushError::Malformed(e.to_string());
    let xml = std::str::from_utf8(body).map_err(|e| malformed(&e))?;
    let plain = if query.encrypt_type == Some("aes") {
        let (aes_key, appid) = keys.safe_mode.ok_or(PushError::NoAesKey)?;
        let envelope = parse_encrypted_envelope(xml).map_err(|e| malformed(&e))?;
        let given = query.msg_signature.unwrap_or_default();
        if !verify_msg_signature(
            keys.token,
            query.timestamp,
            query.nonce,
            &envelope.encrypt,
            given,
        ) {
            return Err(PushError::BadSignature);
        }
        let cipher = EventCipher::new(aes_key, appid).map_err(|e| malformed(&e))?;
        cipher
            .decrypt(&envelope.encrypt)
            .map_err(|e| malformed(&e))?
    } else {
        if !verify_server_url(keys.token, query) {
            return Err(PushError::BadSignature);
        }
        xml.to_owned()
    };
    parse_event(&plain).map_err(|e| malformed(&e))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::crypto::event::{EventKind, url_signature};

    const TOKEN: &str = "wxauthtoken";
    const AES_KEY: &str = "AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh8";
    const ENCRYPT: &str = "4j/AuRx71kQlxVlzbpsMWER38M95pTvmYDZmD2EqXbgYIkKKJHDq/4qH9/X9otF5V0KlgX/qF8JF2BSxVhQbnsv9ZkD2fabcxGKb39wcAOSux9rFpmJd6HmxsHc6nn1D2NjwxtM3hfYdjYd42VySQd/jLIVc3waCdQcHCDp+ELT5Jy//TdxreMixCRh0g0f+dPRqyB4fQ0vW/He/qyer/akhiRK031uXNdF2Je/EcCeDOh4GbgAbWCw5XsuWfdF7HxvIxU6VPKxgFcfjSJYVWNKwTuTNRTGsfmJPyz/PhZkn9Z0yktf9IUesfK0dGZ037FGqdIdPruP5e/diRYNvLq5WZ9grDak0uqGUjvciYoV65UVbrfEINHAu8Wy8j0/lgHKdKe5dQvvZTlk7sF50aeafza20qLZSuHvvxkyJ6pE=";

    fn plain_event() -> &'static str {
        "<xml><ToUserName><![CDATA[gh_test]]></ToUserName><FromUserName><![CDATA[oUSER]]></FromUserName><CreateTime>1700000000</CreateTime><MsgType><![CDATA[event]]></MsgType><Event><![CDATA[subscribe]]></Event><EventKey><![CDATA[qrscene_x]]></EventKey></xml>"
    }

    #[test]
    fn a_plain_push_is_checked_against_the_token() {
        let token = SecretString::from(TOKEN);
        let keys = PushKeys {
            token: &token,
            safe_mode: None,
        };
        let signature = url_signature(&token, "1700000000", "n1");
        let query = PushQuery {
            signature: &signature,
            timestamp: "1700000000",
            nonce: "n1",
            ..Default::default()
        };
        let event = open_push(&keys, &query, plain_event().as_bytes()).unwrap();
        assert_eq!(event.event, Some(EventKind::Subscribe));
        assert_eq!(event.scene(), Some("x"));
        let forged = PushQuery {
            signature: "0000",
            ..query
        };
        assert_eq!(
            open_push(&keys, &forged, plain_event().as_bytes()),
            Err(PushError::BadSignature)
        );
    }

    /// The protocol notes' safe-mode vector, through the one call.
    #[test]
    fn a_safe_mode_push_is_verified_decrypted_and_parsed() {
        let token = SecretString::from(TOKEN);
        let aes = SecretString::from(AES_KEY);
        let appid = WechatAppId::parse("wx1234567890abcdef").unwrap();
        let keys = PushKeys {
            token: &token,
            safe_mode: Some((&aes, &appid)),
        };
        let query = PushQuery {
            signature: "ignored-in-safe-mode",
            timestamp: "1700000000",
            nonce: "nonce123",
            encrypt_type: Some("aes"),
            msg_signature: Some("fe1d5b273c05b0e9774261a2030ab76ffd3a8b5a"),
        };
        let body = format!(
            "<xml><ToUserName><![CDATA[gh_test]]></ToUserName><Encrypt><![CDATA[{ENCRYPT}]]></Encrypt></xml>"
        );
        let event = open_push(&keys, &query, body.as_bytes()).unwrap();
        assert_eq!(event.from_user_name.as_str(), "oUSER");
        assert_eq!(event.scene(), Some("login_abc"));

        let tampered = PushQuery {
            msg_signature: Some("fe1d5b273c05b0e9774261a2030ab76ffd3a8b5b"),
            ..query
        };
        assert_eq!(
            open_push(&keys, &tampered, body.as_bytes()),
            Err(PushError::BadSignature)
        );
        let without_key = PushKeys {
            token: &token,
            safe_mode: None,
        };
        assert_eq!(
            open_push(&without_key, &query, body.as_bytes()),
            Err(PushError::NoAesKey)
        );
        assert!(matches!(
            open_push(&keys, &query, b"<xml><Encrypt>not base64!</Encrypt></xml>"),
            Err(PushError::BadSignature | PushError::Malformed(_))
        ));
    }
}
