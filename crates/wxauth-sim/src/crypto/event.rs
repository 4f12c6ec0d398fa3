//! Event-push signatures and safe-mode encryption (protocol doc §10).
//!
//! Safe mode differs from the login encryption on purpose-made points that trip clients up:
//! AES-256 with the iv taken from the key, PKCS#7 padding to **32-byte** blocks, and a plaintext
//! framed as `random(16) ‖ len(4, big-endian) ‖ msg ‖ appid`.

use aes::Aes256;
use aes::cipher::block_padding::NoPadding;
use aes::cipher::{BlockDecryptMut, BlockEncryptMut, KeyIvInit};
use base64::Engine;
use base64::alphabet;
use base64::engine::general_purpose::STANDARD;
use base64::engine::{GeneralPurpose, GeneralPurposeConfig};
use sha1::{Digest, Sha1};

use super::CryptoError;

/// WeChat's padding block for safe mode (not AES's 16).
const PAD_BLOCK: usize = 32;

/// EncodingAESKeys are 43 random characters; their last character often carries non-zero
/// trailing bits, which a strict base64 decoder rejects. WeChat's own SDKs decode leniently.
const LENIENT: GeneralPurpose = GeneralPurpose::new(
    &alphabet::STANDARD,
    GeneralPurposeConfig::new().with_decode_allow_trailing_bits(true),
);

/// `hex(sha1(sorted(parts).concat()))`, the scheme of both `signature` and `msg_signature`.
fn sorted_sha1(parts: &mut [&str]) -> String {
    parts.sort_unstable();
    let mut hasher = Sha1::new();
    for part in parts.iter() {
        hasher.update(part.as_bytes());
    }
    hex::encode(hasher.finalize())
}

/// The `signature` of the URL check and of every push: sha1 over sorted token, timestamp, nonce.
pub fn url_signature(token: &str, timestamp: &str, nonce: &str) -> String {
    sorted_sha1(&mut [token, timestamp, nonce])
}

/// The `msg_signature` of a safe-mode push: sha1 over sorted token, timestamp, nonce, Encrypt.
pub fn msg_signature(token: &str, timestamp: &str, nonce: &str, encrypt: &str) -> String {
    sorted_sha1(&mut [token, timestamp, nonce, encrypt])
}

/// `base64-decode(EncodingAESKey + "=")`: 43 characters to 32 bytes.
pub fn decode_aes_key(encoding_aes_key: &str) -> Result<[u8; 32], CryptoError> {
    if encoding_aes_key.len() != 43 {
        return Err(CryptoError::new("EncodingAESKey must be 43 characters"));
    }
    let bytes = LENIENT
        .decode(format!("{encoding_aes_key}="))
        .map_err(|err| CryptoError::new(format!("EncodingAESKey is not base64: {err}")))?;
    <[u8; 32]>::try_from(bytes.as_slice())
        .map_err(|_| CryptoError::new("EncodingAESKey must decode to 32 bytes"))
}

fn iv_of(key: &[u8; 32]) -> [u8; 16] {
    core::array::from_fn(|i| key[i])
}

/// Encrypts `msg` for `appid` with the given 16-byte random prefix; returns the base64 `Encrypt`.
///
/// The prefix is a parameter so the doc's test vector can be reproduced; the simulator passes
/// fresh random bytes.
pub fn encrypt_message(
    aes_key: &[u8; 32],
    appid: &str,
    msg: &str,
    random_prefix: [u8; 16],
) -> Result<String, CryptoError> {
    let msg_len = u32::try_from(msg.len()).map_err(|_| CryptoError::new("message too long"))?;
    let content_len = 16 + 4 + msg.len() + appid.len();
    let pad = PAD_BLOCK - content_len % PAD_BLOCK;
    let mut plain = Vec::with_capacity(content_len + pad);
    plain.extend_from_slice(&random_prefix);
    plain.extend_from_slice(&msg_len.to_be_bytes());
    plain.extend_from_slice(msg.as_bytes());
    plain.extend_from_slice(appid.as_bytes());
    // pad is 1..=32, so it always fits a byte.
    plain.resize(content_len + pad, pad as u8);
    let cipher = cbc::Encryptor::<Aes256>::new(aes_key.into(), &iv_of(aes_key).into());
    Ok(STANDARD.encode(cipher.encrypt_padded_vec_mut::<NoPadding>(&plain)))
}

/// A decrypted safe-mode message.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DecryptedMessage {
    pub msg: String,
    pub appid: String,
}

/// The inverse of [`encrypt_message`], as a receiver does it (the caller compares `appid`).
pub fn decrypt_message(aes_key: &[u8; 32], encrypt: &str) -> Result<DecryptedMessage, CryptoError> {
    let data = STANDARD
        .decode(encrypt)
        .map_err(|err| CryptoError::new(format!("Encrypt is not base64: {err}")))?;
    let plain = cbc::Decryptor::<Aes256>::new(aes_key.into(), &iv_of(aes_key).into())
        .decrypt_padded_vec_mut::<NoPadding>(&data)
        .map_err(|_| CryptoError::new("Encrypt is not a whole number of AES blocks"))?;
    let pad = usize::from(
        *plain
            .last()
            .ok_or_else(|| CryptoError::new("empty Encrypt"))?,
    );
    if !(1..=PAD_BLOCK).contains(&pad) || pad > plain.len() {
        return Err(CryptoError::new("bad padding: wrong key or corrupt data"));
    }
    let content = &plain[..plain.len() - pad];
    let len_bytes = content
        .get(16..20)
        .ok_or_else(|| CryptoError::new("plaintext too short"))?;
    let msg_len = u32::from_be_bytes([len_bytes[0], len_bytes[1], len_bytes[2], len_bytes[3]]);
    let msg_end = 20usize.saturating_add(msg_len as usize);
    let msg = content
        .get(20..msg_end)
        .ok_or_else(|| CryptoError::new("message length exceeds plaintext"))?;
    let appid = &content[msg_end..];
    Ok(DecryptedMessage {
        msg: String::from_utf8(msg.to_vec())
            .map_err(|_| CryptoError::new("message is not UTF-8"))?,
        appid: String::from_utf8(appid.to_vec())
            .map_err(|_| CryptoError::new("appid is not UTF-8"))?,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    // Test vectors from docs/wechat-protocol.md.
    const KEY: &str = "AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh8";
    const MSG: &str = "<xml><ToUserName><![CDATA[gh_test]]></ToUserName><FromUserName><![CDATA[oUSER]]></FromUserName><CreateTime>1700000000</CreateTime><MsgType><![CDATA[event]]></MsgType><Event><![CDATA[SCAN]]></Event><EventKey><![CDATA[login_abc]]></EventKey><Ticket><![CDATA[TICKET1]]></Ticket></xml>";
    const ENCRYPT: &str = "4j/AuRx71kQlxVlzbpsMWER38M95pTvmYDZmD2EqXbgYIkKKJHDq/4qH9/X9otF5V0KlgX/qF8JF2BSxVhQbnsv9ZkD2fabcxGKb39wcAOSux9rFpmJd6HmxsHc6nn1D2NjwxtM3hfYdjYd42VySQd/jLIVc3waCdQcHCDp+ELT5Jy//TdxreMixCRh0g0f+dPRqyB4fQ0vW/He/qyer/akhiRK031uXNdF2Je/EcCeDOh4GbgAbWCw5XsuWfdF7HxvIxU6VPKxgFcfjSJYVWNKwTuTNRTGsfmJPyz/PhZkn9Z0yktf9IUesfK0dGZ037FGqdIdPruP5e/diRYNvLq5WZ9grDak0uqGUjvciYoV65UVbrfEINHAu8Wy8j0/lgHKdKe5dQvvZTlk7sF50aeafza20qLZSuHvvxkyJ6pE=";

    #[test]
    fn url_signature_matches_the_doc_vector() {
        assert_eq!(
            url_signature("wxauthtoken", "1700000000", "nonce123"),
            "2eb75956b598ac0a40e3a0420064d59e0dea60e9"
        );
    }

    #[test]
    fn safe_mode_encryption_matches_the_doc_vector() {
        let key = decode_aes_key(KEY).unwrap();
        let encrypt =
            encrypt_message(&key, "wx1234567890abcdef", MSG, *b"0123456789abcdef").unwrap();
        assert_eq!(encrypt, ENCRYPT);
        assert_eq!(
            msg_signature("wxauthtoken", "1700000000", "nonce123", &encrypt),
            "fe1d5b273c05b0e9774261a2030ab76ffd3a8b5a"
        );
    }

    #[test]
    fn decryption_recovers_message_and_appid() {
        let key = decode_aes_key(KEY).unwrap();
        let decrypted = decrypt_message(&key, ENCRYPT).unwrap();
        assert_eq!(decrypted.msg, MSG);
        assert_eq!(decrypted.appid, "wx1234567890abcdef");
    }

    #[test]
    fn keys_with_trailing_bits_decode_and_bad_keys_are_errors() {
        // 'h' as last character leaves non-zero trailing bits.
        assert!(decode_aes_key("AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHhh").is_ok());
        assert!(decode_aes_key("short").is_err());
        assert!(decode_aes_key("!!ECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh8").is_err());
    }

    #[test]
    fn padding_fills_whole_32_byte_blocks() {
        let key = decode_aes_key(KEY).unwrap();
        for len in 0..70 {
            let msg = "x".repeat(len);
            let encrypt = encrypt_message(&key, "wx1", &msg, [7; 16]).unwrap();
            let raw = STANDARD.decode(&encrypt).unwrap();
            assert_eq!(raw.len() % 32, 0, "len {len}");
            assert_eq!(decrypt_message(&key, &encrypt).unwrap().msg, msg);
        }
    }
}
