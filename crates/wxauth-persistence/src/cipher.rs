//! Encryption at rest for every secret wxauth stores: app secrets, EncodingAESKeys, event
//! tokens, session keys and cached WeChat access tokens.
//!
//! AES-256-GCM with a random 96-bit nonce per value. The stored form is
//! `v1.<key id>.<base64(nonce ‖ ciphertext ‖ tag)>`; the key id (the first 8 hex digits of the
//! key's SHA-256) lets a key ring hold old keys during a master-key rotation. Each value is
//! bound to its purpose (associated data), so a ciphertext copied into another column does not
//! decrypt.

use std::collections::HashMap;
use std::fmt;

use aes_gcm::aead::{Aead, Payload};
use aes_gcm::{Aes256Gcm, KeyInit, Nonce};
use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use rand::Rng;
use secrecy::{ExposeSecret, SecretString};
use sha2::{Digest, Sha256};

/// What a value is, bound into its ciphertext.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Purpose {
    AppSecret,
    EventToken,
    EncodingAesKey,
    SessionKey,
    AccessToken,
}

impl Purpose {
    fn aad(self) -> &'static [u8] {
        match self {
            Self::AppSecret => b"wxauth:app_secret",
            Self::EventToken => b"wxauth:event_token",
            Self::EncodingAesKey => b"wxauth:encoding_aes_key",
            Self::SessionKey => b"wxauth:session_key",
            Self::AccessToken => b"wxauth:access_token",
        }
    }
}

#[derive(Debug, thiserror::Error)]
pub enum CipherError {
    #[error("the master key must be 32 bytes, base64-encoded")]
    BadKey,
    #[error("the master key is one byte repeated, not a random key")]
    WeakKey,
    #[error("a stored secret is not in the v1 envelope format")]
    Malformed,
    #[error("a stored secret was encrypted with master key {0}, which is not configured")]
    UnknownKey(String),
    #[error("a stored secret failed authentication (wrong key or tampered data)")]
    Tampered,
}

/// The master keys: one that encrypts, and any older ones that still decrypt.
#[derive(Clone)]
pub struct SecretCipher {
    active_id: String,
    active: Aes256Gcm,
    keys: HashMap<String, Aes256Gcm>,
}

impl fmt::Debug for SecretCipher {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("SecretCipher")
            .field("active_key_id", &self.active_id)
            .field("key_ids", &self.keys.keys().collect::<Vec<_>>())
            .finish()
    }
}

fn parse_key(b64: &SecretString) -> Result<(String, Aes256Gcm), CipherError> {
    let bytes = STANDARD
        .decode(b64.expose_secret().trim())
        .map_err(|_| CipherError::BadKey)?;
    if bytes.len() != 32 {
        return Err(CipherError::BadKey);
    }
    if wxauth_domain::secret::is_degenerate_key(&bytes) {
        return Err(CipherError::WeakKey);
    }
    let id = hex_prefix(&Sha256::digest(&bytes));
    let cipher = Aes256Gcm::new_from_slice(&bytes).map_err(|_| CipherError::BadKey)?;
    Ok((id, cipher))
}

fn hex_prefix(digest: &[u8]) -> String {
    digest.iter().take(4).map(|b| format!("{b:02x}")).collect()
}

impl SecretCipher {
    /// `active` encrypts; `previous` keys only decrypt (for rotation).
    pub fn new(active: &SecretString, previous: &[SecretString]) -> Result<Self, CipherError> {
        let (active_id, active) = parse_key(active)?;
        let mut keys = HashMap::from([(active_id.clone(), active.clone())]);
        for key in previous {
            let (id, cipher) = parse_key(key)?;
            keys.entry(id).or_insert(cipher);
        }
        Ok(Self {
            active_id,
            active,
            keys,
        })
    }

    /// A fresh random master key, base64-encoded (for `wxauth-server keys generate`).
    pub fn generate_key() -> SecretString {
        let mut key = [0u8; 32];
        rand::rng().fill(&mut key);
        SecretString::from(STANDARD.encode(key))
    }

    pub fn active_key_id(&self) -> &str {
        &self.active_id
    }

    pub fn encrypt(&self, purpose: Purpose, plaintext: &SecretString) -> String {
        let mut nonce = [0u8; 12];
        rand::rng().fill(&mut nonce);
        let payload = Payload {
            msg: plaintext.expose_secret().as_bytes(),
            aad: purpose.aad(),
        };
        // AES-GCM encryption only fails for messages beyond 64 GiB.
        let sealed = self
            .active
            .encrypt(Nonce::from_slice(&nonce), payload)
            .unwrap_or_default();
        let mut blob = Vec::with_capacity(12 + sealed.len());
        blob.extend_from_slice(&nonce);
        blob.extend_from_slice(&sealed);
        format!("v1.{}.{}", self.active_id, STANDARD.encode(blob))
    }

    pub fn decrypt(&self, purpose: Purpose, stored: &str) -> Result<SecretString, CipherError> {
        let mut parts = stored.splitn(3, '.');
        let (Some("v1"), Some(key_id), Some(body)) = (parts.next(), parts.next(), parts.next())
        else {
            return Err(CipherError::Malformed);
        };
        let cipher = self
            .keys
            .get(key_id)
            .ok_or_else(|| CipherError::UnknownKey(key_id.to_owned()))?;
        let blob = STANDARD.decode(body).map_err(|_| CipherError::Malformed)?;
        if blob.len() < 12 + 16 {
            return Err(CipherError::Malformed);
        }
        let (nonce, sealed) = blob.split_at(12);
        let plain = cipher
            .decrypt(
                Nonce::from_slice(nonce),
                Payload {
                    msg: sealed,
                    aad: purpose.aad(),
                },
            )
            .map_err(|_| CipherError::Tampered)?;
        String::from_utf8(plain)
            .map(SecretString::from)
            .map_err(|_| CipherError::Tampered)
    }

    /// Whether a stored value was encrypted with an older key and should be re-encrypted.
    pub fn needs_rotation(&self, stored: &str) -> bool {
        stored
            .split('.')
            .nth(1)
            .is_some_and(|id| id != self.active_id)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A distinct key per seed (not one byte repeated: such keys are refused).
    fn key(byte: u8) -> SecretString {
        let bytes: Vec<u8> = (0..32u8).map(|i| i.wrapping_mul(7) ^ byte).collect();
        SecretString::from(STANDARD.encode(bytes))
    }

    #[test]
    fn round_trips_and_never_stores_the_plaintext() {
        let c = SecretCipher::new(&key(1), &[]).unwrap();
        let secret = SecretString::from("app-secret-value");
        let stored = c.encrypt(Purpose::AppSecret, &secret);
        assert!(!stored.contains("app-secret-value"));
        assert!(stored.starts_with(&format!("v1.{}.", c.active_key_id())));
        let back = c.decrypt(Purpose::AppSecret, &stored).unwrap();
        assert_eq!(back.expose_secret(), "app-secret-value");
        // Random nonces: the same secret never encrypts the same way twice.
        assert_ne!(stored, c.encrypt(Purpose::AppSecret, &secret));
    }

    #[test]
    fn a_value_does_not_decrypt_under_another_purpose() {
        let c = SecretCipher::new(&key(1), &[]).unwrap();
        let stored = c.encrypt(Purpose::SessionKey, &SecretString::from("k"));
        assert!(matches!(
            c.decrypt(Purpose::AppSecret, &stored),
            Err(CipherError::Tampered)
        ));
    }

    #[test]
    fn rotation_keeps_old_values_readable_with_the_previous_key() {
        let old = SecretCipher::new(&key(1), &[]).unwrap();
        let stored = old.encrypt(Purpose::AccessToken, &SecretString::from("tok"));
        let rotated = SecretCipher::new(&key(2), &[key(1)]).unwrap();
        assert!(rotated.needs_rotation(&stored));
        assert_eq!(
            rotated
                .decrypt(Purpose::AccessToken, &stored)
                .unwrap()
                .expose_secret(),
            "tok"
        );
        let without_old = SecretCipher::new(&key(2), &[]).unwrap();
        assert!(matches!(
            without_old.decrypt(Purpose::AccessToken, &stored),
            Err(CipherError::UnknownKey(_))
        ));
    }

    #[test]
    fn tampering_and_garbage_are_detected() {
        let c = SecretCipher::new(&key(1), &[]).unwrap();
        let stored = c.encrypt(Purpose::AppSecret, &SecretString::from("secret"));
        let mut bytes = stored.into_bytes();
        let last = bytes.len() - 3;
        bytes[last] = if bytes[last] == b'A' { b'B' } else { b'A' };
        let tampered = String::from_utf8(bytes).unwrap();
        assert!(c.decrypt(Purpose::AppSecret, &tampered).is_err());
        assert!(matches!(
            c.decrypt(Purpose::AppSecret, "plain"),
            Err(CipherError::Malformed)
        ));
    }

    #[test]
    fn keys_must_be_32_bytes_of_base64() {
        assert!(SecretCipher::new(&SecretString::from("short"), &[]).is_err());
        assert!(matches!(
            SecretCipher::new(&SecretString::from(STANDARD.encode([0u8; 32])), &[]),
            Err(CipherError::WeakKey)
        ));
        assert!(SecretCipher::new(&SecretString::from(STANDARD.encode([0u8; 16])), &[]).is_err());
        assert!(SecretCipher::new(&SecretCipher::generate_key(), &[]).is_ok());
    }
}
