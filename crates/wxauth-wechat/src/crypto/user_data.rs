//! Legacy `encryptedData` (AES-128-CBC, PKCS#7 in 16-byte blocks, key = the session key).

use aes::Aes128;
use cbc::cipher::block_padding::Pkcs7;
use cbc::cipher::{BlockDecryptMut, KeyIvInit};
use secrecy::zeroize::Zeroizing;
use secrecy::{ExposeSecret, SecretString};
use wxauth_domain::WechatAppId;

use crate::crypto::{CryptoError, b64_decode};

/// The largest `encryptedData` accepted (base64 text). User data is about a kilobyte.
const MAX_ENCRYPTED_DATA_CHARS: usize = 64 * 1024;

/// Decrypts `encryptedData` with the user's session key and `iv` into its JSON.
///
/// Call [`check_watermark`] on the result before trusting it: data encrypted for another app
/// decrypts just as well if a session key leaks.
pub fn decrypt_user_data(
    session_key: &SecretString,
    encrypted_data: &str,
    iv: &str,
) -> Result<serde_json::Value, CryptoError> {
    if encrypted_data.len() > MAX_ENCRYPTED_DATA_CHARS {
        return Err(CryptoError::TooLarge("encryptedData"));
    }
    let key = Zeroizing::new(b64_decode("session_key", session_key.expose_secret())?);
    let iv = b64_decode("iv", iv)?;
    let cipher = cbc::Decryptor::<Aes128>::new_from_slices(&key, &iv).map_err(|_| {
        if key.len() == 16 {
            CryptoError::KeyLength {
                field: "iv",
                expected: 16,
            }
        } else {
            CryptoError::KeyLength {
                field: "session_key",
                expected: 16,
            }
        }
    })?;
    let data = b64_decode("encryptedData", encrypted_data)?;
    if data.is_empty() || data.len() % 16 != 0 {
        return Err(CryptoError::CiphertextLength);
    }
    let plain = Zeroizing::new(
        cipher
            .decrypt_padded_vec_mut::<Pkcs7>(&data)
            .map_err(|_| CryptoError::Padding)?,
    );
    serde_json::from_slice(&plain).map_err(|_| CryptoError::Malformed("not JSON"))
}

/// Checks that decrypted user data was meant for `expected_appid` (`watermark.appid`).
pub fn check_watermark(
    value: &serde_json::Value,
    expected_appid: &WechatAppId,
) -> Result<(), CryptoError> {
    match value
        .pointer("/watermark/appid")
        .and_then(serde_json::Value::as_str)
    {
        None => Err(CryptoError::WatermarkMissing),
        Some(appid) if appid == expected_appid.as_str() => Ok(()),
        Some(_) => Err(CryptoError::AppIdMismatch),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const SESSION_KEY: &str = "AAECAwQFBgcICQoLDA0ODw==";
    const IV: &str = "EBESExQVFhcYGRobHB0eHw==";
    const DATA: &str = "LtwXY/thRoRMyUSJgcCEQMXqrrtJdqQ5V4WwGzc5X293yMD2WDsD2SDsQe+spv3/TjEd0YBbA4XebGd6Nqp1YUB9F+WZwcN4/ktu/HmSNmloDXBGPSwhzsq2NmIUmPzcSVSvRZAHINFLUQ187bZL7w==";

    fn key() -> SecretString {
        SecretString::from(SESSION_KEY)
    }

    #[test]
    fn doc_vector_decrypts_and_its_watermark_matches() {
        let value = decrypt_user_data(&key(), DATA, IV).unwrap();
        assert_eq!(
            value,
            serde_json::json!({"openId":"oTEST","nickName":"Band",
                "watermark":{"appid":"wx1234567890abcdef","timestamp":1700000000}})
        );
        assert!(
            check_watermark(&value, &WechatAppId::parse("wx1234567890abcdef").unwrap()).is_ok()
        );
        assert_eq!(
            check_watermark(&value, &WechatAppId::parse("wxother").unwrap()),
            Err(CryptoError::AppIdMismatch)
        );
        assert_eq!(
            check_watermark(&serde_json::json!({}), &WechatAppId::parse("wx1").unwrap()),
            Err(CryptoError::WatermarkMissing)
        );
    }

    #[test]
    fn wrong_key_or_iv_fails_without_panicking() {
        let other_key = SecretString::from("EBESExQVFhcYGRobHB0eHw==");
        assert!(decrypt_user_data(&other_key, DATA, IV).is_err());
        assert!(decrypt_user_data(&key(), DATA, SESSION_KEY).is_err());
        assert_eq!(
            decrypt_user_data(&SecretString::from("AAEC"), DATA, IV),
            Err(CryptoError::KeyLength {
                field: "session_key",
                expected: 16
            })
        );
        assert_eq!(
            decrypt_user_data(&key(), DATA, "AAEC"),
            Err(CryptoError::KeyLength {
                field: "iv",
                expected: 16
            })
        );
        assert_eq!(
            decrypt_user_data(&key(), "AAEC", IV),
            Err(CryptoError::CiphertextLength)
        );
        assert_eq!(
            decrypt_user_data(&key(), "", IV),
            Err(CryptoError::CiphertextLength)
        );
        assert_eq!(
            decrypt_user_data(&key(), "%%%", IV),
            Err(CryptoError::Base64("encryptedData"))
        );
    }
}
