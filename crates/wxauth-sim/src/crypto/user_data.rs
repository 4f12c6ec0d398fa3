//! Session-key cryptography of Mini Program logins (protocol doc §4 and §5).
//!
//! The session key travels as base64 text; WeChat's HMAC and SHA-1 signatures use that *text*
//! as key material, while AES uses the 16 decoded bytes.

use aes::Aes128;
use aes::cipher::block_padding::Pkcs7;
use aes::cipher::{BlockDecryptMut, BlockEncryptMut, KeyIvInit};
use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use hmac::{Hmac, Mac};
use sha1::{Digest, Sha1};
use sha2::Sha256;

use super::CryptoError;

/// `hex(hmac_sha256(key = session_key as base64 text, message = ""))`: the `signature` of
/// `checksession` and `resetusersessionkey`.
pub fn checksession_signature(session_key: &str) -> String {
    // HMAC accepts keys of any length, so this cannot fail; fall back to an impossible signature
    // rather than panic if a future version ever changes that.
    match Hmac::<Sha256>::new_from_slice(session_key.as_bytes()) {
        Ok(mac) => hex::encode(mac.finalize().into_bytes()),
        Err(_) => String::new(),
    }
}

/// `hex(sha1(rawData + session_key))`, session key as its base64 text.
pub fn raw_data_signature(raw_data: &str, session_key: &str) -> String {
    let mut hasher = Sha1::new();
    hasher.update(raw_data.as_bytes());
    hasher.update(session_key.as_bytes());
    hex::encode(hasher.finalize())
}

fn session_key_bytes(session_key: &str) -> Result<[u8; 16], CryptoError> {
    let bytes = STANDARD
        .decode(session_key)
        .map_err(|err| CryptoError::new(format!("session_key is not base64: {err}")))?;
    <[u8; 16]>::try_from(bytes.as_slice())
        .map_err(|_| CryptoError::new("session_key must decode to 16 bytes"))
}

/// AES-128-CBC with PKCS#7 (16-byte blocks), key = the decoded session key; returns base64.
pub fn encrypt_user_data(
    session_key: &str,
    iv: [u8; 16],
    plaintext: &[u8],
) -> Result<String, CryptoError> {
    let key = session_key_bytes(session_key)?;
    let cipher = cbc::Encryptor::<Aes128>::new(&key.into(), &iv.into());
    Ok(STANDARD.encode(cipher.encrypt_padded_vec_mut::<Pkcs7>(plaintext)))
}

/// The inverse of [`encrypt_user_data`], with base64 ciphertext and iv as a client receives them.
pub fn decrypt_user_data(
    session_key: &str,
    encrypted_data: &str,
    iv: &str,
) -> Result<Vec<u8>, CryptoError> {
    let key = session_key_bytes(session_key)?;
    let iv = STANDARD
        .decode(iv)
        .map_err(|err| CryptoError::new(format!("iv is not base64: {err}")))?;
    let iv = <[u8; 16]>::try_from(iv.as_slice())
        .map_err(|_| CryptoError::new("iv must decode to 16 bytes"))?;
    let data = STANDARD
        .decode(encrypted_data)
        .map_err(|err| CryptoError::new(format!("encryptedData is not base64: {err}")))?;
    cbc::Decryptor::<Aes128>::new(&key.into(), &iv.into())
        .decrypt_padded_vec_mut::<Pkcs7>(&data)
        .map_err(|_| CryptoError::new("bad padding: wrong key or corrupt data"))
}

#[cfg(test)]
mod tests {
    use super::*;

    // Test vectors from docs/wechat-protocol.md.
    const SESSION_KEY: &str = "AAECAwQFBgcICQoLDA0ODw==";

    #[test]
    fn checksession_signature_matches_the_doc_vector() {
        assert_eq!(
            checksession_signature(SESSION_KEY),
            "75c022993d64e3ac224c1c9d6f2b4c6eb53f22f6c7aa6be94428577d11d12fd5"
        );
    }

    #[test]
    fn raw_data_signature_matches_the_doc_vector() {
        assert_eq!(
            raw_data_signature(r#"{"nickName":"Band","gender":1}"#, SESSION_KEY),
            "496808cd634b4f856b599ae80c73f6abb1be50fc"
        );
    }

    #[test]
    fn encryption_matches_the_doc_vector() {
        let plaintext = r#"{"openId":"oTEST","nickName":"Band","watermark":{"appid":"wx1234567890abcdef","timestamp":1700000000}}"#;
        let iv: [u8; 16] = core::array::from_fn(|i| 0x10 + i as u8);
        let encrypted = encrypt_user_data(SESSION_KEY, iv, plaintext.as_bytes()).unwrap();
        assert_eq!(
            encrypted,
            "LtwXY/thRoRMyUSJgcCEQMXqrrtJdqQ5V4WwGzc5X293yMD2WDsD2SDsQe+spv3/TjEd0YBbA4XebGd6Nqp1YUB9F+WZwcN4/ktu/HmSNmloDXBGPSwhzsq2NmIUmPzcSVSvRZAHINFLUQ187bZL7w=="
        );
        let decrypted =
            decrypt_user_data(SESSION_KEY, &encrypted, "EBESExQVFhcYGRobHB0eHw==").unwrap();
        assert_eq!(decrypted, plaintext.as_bytes());
    }

    #[test]
    fn a_session_key_of_the_wrong_length_is_an_error_not_a_panic() {
        assert!(encrypt_user_data("AAEC", [0; 16], b"x").is_err());
        assert!(decrypt_user_data(SESSION_KEY, "%%%", "EBESExQVFhcYGRobHB0eHw==").is_err());
    }
}
