//! `hex(sha1(concat(sort(parts))))`: the URL-check `signature` and the safe-mode
//! `msg_signature`.

use secrecy::{ExposeSecret, SecretString};
use sha1::{Digest, Sha1};

use crate::crypto::hex_signature_eq;

fn sorted_sha1(parts: &mut [&str]) -> String {
    parts.sort_unstable();
    let mut hasher = Sha1::new();
    for part in parts.iter() {
        hasher.update(part.as_bytes());
    }
    hex::encode(hasher.finalize())
}

/// The `signature` of the URL check and of plain-mode pushes.
pub fn url_signature(token: &SecretString, timestamp: &str, nonce: &str) -> String {
    sorted_sha1(&mut [token.expose_secret(), timestamp, nonce])
}

/// Checks a URL check's (or plain push's) `signature` in constant time.
pub fn verify_url_signature(
    token: &SecretString,
    timestamp: &str,
    nonce: &str,
    signature: &str,
) -> bool {
    hex_signature_eq(&url_signature(token, timestamp, nonce), signature)
}

/// The `msg_signature` of a safe-mode push, over the envelope's `Encrypt` text.
pub fn msg_signature(token: &SecretString, timestamp: &str, nonce: &str, encrypt: &str) -> String {
    sorted_sha1(&mut [token.expose_secret(), timestamp, nonce, encrypt])
}

/// Checks a safe-mode push's `msg_signature` in constant time.
pub fn verify_msg_signature(
    token: &SecretString,
    timestamp: &str,
    nonce: &str,
    encrypt: &str,
    msg_signature_hex: &str,
) -> bool {
    hex_signature_eq(
        &msg_signature(token, timestamp, nonce, encrypt),
        msg_signature_hex,
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    fn token() -> SecretString {
        SecretString::from("wxauthtoken")
    }

    const ENCRYPT: &str = "4j/AuRx71kQlxVlzbpsMWER38M95pTvmYDZmD2EqXbgYIkKKJHDq/4qH9/X9otF5V0KlgX/qF8JF2BSxVhQbnsv9ZkD2fabcxGKb39wcAOSux9rFpmJd6HmxsHc6nn1D2NjwxtM3hfYdjYd42VySQd/jLIVc3waCdQcHCDp+ELT5Jy//TdxreMixCRh0g0f+dPRqyB4fQ0vW/He/qyer/akhiRK031uXNdF2Je/EcCeDOh4GbgAbWCw5XsuWfdF7HxvIxU6VPKxgFcfjSJYVWNKwTuTNRTGsfmJPyz/PhZkn9Z0yktf9IUesfK0dGZ037FGqdIdPruP5e/diRYNvLq5WZ9grDak0uqGUjvciYoV65UVbrfEINHAu8Wy8j0/lgHKdKe5dQvvZTlk7sF50aeafza20qLZSuHvvxkyJ6pE=";

    #[test]
    fn url_signature_matches_the_doc_vector() {
        let sig = "2eb75956b598ac0a40e3a0420064d59e0dea60e9";
        assert_eq!(url_signature(&token(), "1700000000", "nonce123"), sig);
        assert!(verify_url_signature(
            &token(),
            "1700000000",
            "nonce123",
            sig
        ));
        assert!(!verify_url_signature(
            &token(),
            "1700000001",
            "nonce123",
            sig
        ));
        assert!(!verify_url_signature(
            &SecretString::from("x"),
            "1700000000",
            "nonce123",
            sig
        ));
    }

    #[test]
    fn msg_signature_matches_the_doc_vector() {
        let sig = "fe1d5b273c05b0e9774261a2030ab76ffd3a8b5a";
        assert_eq!(
            msg_signature(&token(), "1700000000", "nonce123", ENCRYPT),
            sig
        );
        assert!(verify_msg_signature(
            &token(),
            "1700000000",
            "nonce123",
            ENCRYPT,
            sig
        ));
        // The plain `signature` is not the safe-mode one.
        assert!(!verify_msg_signature(
            &token(),
            "1700000000",
            "nonce123",
            ENCRYPT,
            "2eb75956b598ac0a40e3a0420064d59e0dea60e9"
        ));
    }
}
