//! The signatures a Mini Program session key takes part in.

use hmac::{Hmac, Mac};
use secrecy::{ExposeSecret, SecretString};
use sha1::{Digest, Sha1};
use sha2::Sha256;

use crate::crypto::hex_signature_eq;

/// `hex(sha1(rawData + session_key))`, the session key as its base64 text.
pub fn raw_data_signature(raw_data: &str, session_key: &SecretString) -> String {
    let mut hasher = Sha1::new();
    hasher.update(raw_data.as_bytes());
    hasher.update(session_key.expose_secret().as_bytes());
    hex::encode(hasher.finalize())
}

/// Checks the `signature` `wx.getUserInfo` sent with `rawData`, in constant time.
pub fn verify_raw_data_signature(
    raw_data: &str,
    session_key: &SecretString,
    signature_hex: &str,
) -> bool {
    hex_signature_eq(&raw_data_signature(raw_data, session_key), signature_hex)
}

/// `hex(hmac_sha256(key = session_key as its base64 text, message = ""))`: the proof of the
/// session key that `checksession` and `resetusersessionkey` expect.
pub fn check_session_signature(session_key: &SecretString) -> String {
    // HMAC takes keys of any length, so this never fails; an empty signature would merely be
    // refused by WeChat.
    let Ok(mac) = Hmac::<Sha256>::new_from_slice(session_key.expose_secret().as_bytes()) else {
        return String::new();
    };
    hex::encode(mac.finalize().into_bytes())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn session_key() -> SecretString {
        SecretString::from("AAECAwQFBgcICQoLDA0ODw==")
    }

    #[test]
    fn checksession_signature_matches_the_doc_vector() {
        assert_eq!(
            check_session_signature(&session_key()),
            "75c022993d64e3ac224c1c9d6f2b4c6eb53f22f6c7aa6be94428577d11d12fd5"
        );
    }

    #[test]
    fn raw_data_signature_matches_the_doc_vector() {
        let raw = r#"{"nickName":"Band","gender":1}"#;
        let sig = "496808cd634b4f856b599ae80c73f6abb1be50fc";
        assert_eq!(raw_data_signature(raw, &session_key()), sig);
        assert!(verify_raw_data_signature(raw, &session_key(), sig));
        assert!(verify_raw_data_signature(
            raw,
            &session_key(),
            &sig.to_uppercase()
        ));
    }

    #[test]
    fn tampered_raw_data_or_signature_is_refused() {
        let raw = r#"{"nickName":"Band","gender":1}"#;
        let sig = "496808cd634b4f856b599ae80c73f6abb1be50fc";
        assert!(!verify_raw_data_signature(
            r#"{"nickName":"Band","gender":2}"#,
            &session_key(),
            sig
        ));
        assert!(!verify_raw_data_signature(raw, &session_key(), &sig[..39]));
        assert!(!verify_raw_data_signature(
            raw,
            &SecretString::from("other"),
            sig
        ));
    }
}
