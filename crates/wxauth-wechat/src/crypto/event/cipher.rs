//! The safe-mode cipher: AES-256-CBC, key = base64(EncodingAESKey + "="), IV = the key's first 16
//! bytes, PKCS#7 padding to 32-byte blocks, plaintext = 16 random bytes ‖ u32 BE length ‖ msg ‖
//! appid.

use std::fmt;

use aes::Aes256;
use cbc::cipher::block_padding::NoPadding;
use cbc::cipher::{BlockDecryptMut, BlockEncryptMut, KeyIvInit};
use rand::RngCore;
use secrecy::zeroize::Zeroizing;
use secrecy::{ExposeSecret, SecretSlice, SecretString};
use wxauth_domain::WechatAppId;

use crate::crypto::event::MAX_EVENT_XML_BYTES;
use crate::crypto::{CryptoError, b64_decode, b64_encode};

/// The padding block of safe mode: 32 bytes, not AES's 16.
const PAD_BLOCK: usize = 32;
/// 16 random bytes and the 4-byte length before the message.
const HEADER: usize = 20;

/// Decrypts and encrypts one account's safe-mode messages. Cheap to clone; the key never appears
/// in `Debug`.
#[derive(Clone)]
pub struct EventCipher {
    key: SecretSlice<u8>,
    appid: WechatAppId,
}

impl fmt::Debug for EventCipher {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("EventCipher")
            .field("appid", &self.appid)
            .finish_non_exhaustive()
    }
}

impl EventCipher {
    /// `encoding_aes_key` is the 43-character EncodingAESKey from the account's server settings.
    pub fn new(encoding_aes_key: &SecretString, appid: &WechatAppId) -> Result<Self, CryptoError> {
        let text = encoding_aes_key.expose_secret().trim();
        if text.len() != 43 {
            return Err(CryptoError::KeyLength {
                field: "EncodingAESKey",
                expected: 32,
            });
        }
        let key = b64_decode("EncodingAESKey", text)?;
        if key.len() != 32 {
            return Err(CryptoError::KeyLength {
                field: "EncodingAESKey",
                expected: 32,
            });
        }
        Ok(Self {
            key: SecretSlice::from(key),
            appid: appid.clone(),
        })
    }

    pub fn appid(&self) -> &WechatAppId {
        &self.appid
    }

    /// Decrypts an envelope's `Encrypt` into the message XML, checking the padding, the length
    /// field and the trailing appid. Verify `msg_signature` first.
    pub fn decrypt(&self, encrypt_b64: &str) -> Result<String, CryptoError> {
        // base64 of the largest message, its header, appid and padding.
        if encrypt_b64.len() > (MAX_EVENT_XML_BYTES + 1024) / 3 * 4 {
            return Err(CryptoError::TooLarge("Encrypt"));
        }
        let data = b64_decode("Encrypt", encrypt_b64)?;
        if data.is_empty() || data.len() % 16 != 0 {
            return Err(CryptoError::CiphertextLength);
        }
        let key = self.key.expose_secret();
        let cipher = cbc::Decryptor::<Aes256>::new_from_slices(key, key.get(..16).unwrap_or(key))
            .map_err(|_| CryptoError::KeyLength {
            field: "EncodingAESKey",
            expected: 32,
        })?;
        let plain = Zeroizing::new(
            cipher
                .decrypt_padded_vec_mut::<NoPadding>(&data)
                .map_err(|_| CryptoError::Padding)?,
        );
        let unpadded = unpad(&plain)?;
        let len_bytes: [u8; 4] = unpadded
            .get(16..HEADER)
            .and_then(|b| b.try_into().ok())
            .ok_or(CryptoError::Malformed("shorter than its header"))?;
        let msg_len = usize::try_from(u32::from_be_bytes(len_bytes))
            .map_err(|_| CryptoError::Malformed("length field out of range"))?;
        let msg_end = HEADER
            .checked_add(msg_len)
            .filter(|end| *end <= unpadded.len())
            .ok_or(CryptoError::Malformed("length field exceeds the data"))?;
        let (msg, appid) = (
            unpadded.get(HEADER..msg_end).unwrap_or_default(),
            unpadded.get(msg_end..).unwrap_or_default(),
        );
        if appid != self.appid.as_str().as_bytes() {
            return Err(CryptoError::AppIdMismatch);
        }
        String::from_utf8(msg.to_vec()).map_err(|_| CryptoError::Malformed("message is not UTF-8"))
    }

    /// Encrypts `xml` for a safe-mode reply (or a test) with the given 16 random bytes.
    pub fn encrypt(&self, xml: &str, random16: [u8; 16]) -> String {
        // A message over 4 GiB cannot be framed; the length is then wrong and the receiver
        // refuses it, which is the best a `String`-returning function can do.
        let len = u32::try_from(xml.len()).unwrap_or(u32::MAX);
        let mut plain = Zeroizing::new(Vec::with_capacity(
            HEADER + xml.len() + self.appid.as_str().len() + PAD_BLOCK,
        ));
        plain.extend_from_slice(&random16);
        plain.extend_from_slice(&len.to_be_bytes());
        plain.extend_from_slice(xml.as_bytes());
        plain.extend_from_slice(self.appid.as_str().as_bytes());
        let pad = PAD_BLOCK - plain.len() % PAD_BLOCK;
        // `pad` is 1..=32, so it fits a byte.
        let padded_len = plain.len() + pad;
        plain.resize(padded_len, pad as u8);
        let key = self.key.expose_secret();
        match cbc::Encryptor::<Aes256>::new_from_slices(key, key.get(..16).unwrap_or(key)) {
            Ok(cipher) => b64_encode(&cipher.encrypt_padded_vec_mut::<NoPadding>(&plain)),
            // The key length was checked in `new`.
            Err(_) => String::new(),
        }
    }

    /// Encrypts `xml` with fresh random bytes.
    pub fn encrypt_with_random_prefix(&self, xml: &str) -> String {
        let mut random16 = [0u8; 16];
        rand::rng().fill_bytes(&mut random16);
        self.encrypt(xml, random16)
    }
}

/// Strips PKCS#7 padding of a 32-byte block: the last byte n is 1..=32 and the last n bytes all
/// equal n.
fn unpad(plain: &[u8]) -> Result<&[u8], CryptoError> {
    let Some(&last) = plain.last() else {
        return Err(CryptoError::Padding);
    };
    let pad = usize::from(last);
    if pad == 0 || pad > PAD_BLOCK || pad > plain.len() {
        return Err(CryptoError::Padding);
    }
    let (body, padding) = plain.split_at(plain.len() - pad);
    if padding.iter().any(|&b| b != last) {
        return Err(CryptoError::Padding);
    }
    Ok(body)
}

#[cfg(test)]
mod tests {
    use super::*;

    const KEY: &str = "AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh8";
    const MSG: &str = "<xml><ToUserName><![CDATA[gh_test]]></ToUserName><FromUserName><![CDATA[oUSER]]></FromUserName><CreateTime>1700000000</CreateTime><MsgType><![CDATA[event]]></MsgType><Event><![CDATA[SCAN]]></Event><EventKey><![CDATA[login_abc]]></EventKey><Ticket><![CDATA[TICKET1]]></Ticket></xml>";
    const ENCRYPT: &str = "4j/AuRx71kQlxVlzbpsMWER38M95pTvmYDZmD2EqXbgYIkKKJHDq/4qH9/X9otF5V0KlgX/qF8JF2BSxVhQbnsv9ZkD2fabcxGKb39wcAOSux9rFpmJd6HmxsHc6nn1D2NjwxtM3hfYdjYd42VySQd/jLIVc3waCdQcHCDp+ELT5Jy//TdxreMixCRh0g0f+dPRqyB4fQ0vW/He/qyer/akhiRK031uXNdF2Je/EcCeDOh4GbgAbWCw5XsuWfdF7HxvIxU6VPKxgFcfjSJYVWNKwTuTNRTGsfmJPyz/PhZkn9Z0yktf9IUesfK0dGZ037FGqdIdPruP5e/diRYNvLq5WZ9grDak0uqGUjvciYoV65UVbrfEINHAu8Wy8j0/lgHKdKe5dQvvZTlk7sF50aeafza20qLZSuHvvxkyJ6pE=";

    fn cipher_for(appid: &str) -> EventCipher {
        EventCipher::new(
            &SecretString::from(KEY),
            &WechatAppId::parse(appid).unwrap(),
        )
        .unwrap()
    }

    fn cipher() -> EventCipher {
        cipher_for("wx1234567890abcdef")
    }

    #[test]
    fn doc_vector_encrypts_and_decrypts() {
        assert_eq!(cipher().encrypt(MSG, *b"0123456789abcdef"), ENCRYPT);
        assert_eq!(cipher().decrypt(ENCRYPT).unwrap(), MSG);
    }

    #[test]
    fn padding_fills_32_byte_blocks() {
        for len in [0, 1, 11, 12, 13, 44, 100] {
            let msg = "x".repeat(len);
            let enc = cipher().encrypt(&msg, [7; 16]);
            let raw = b64_decode("t", &enc).unwrap();
            assert_eq!(raw.len() % 32, 0, "{len}");
            assert_eq!(cipher().decrypt(&enc).unwrap(), msg);
        }
    }

    #[test]
    fn another_accounts_message_is_refused() {
        assert_eq!(
            cipher_for("wxother").decrypt(ENCRYPT),
            Err(CryptoError::AppIdMismatch)
        );
    }

    #[test]
    fn tampered_or_truncated_ciphertexts_fail_cleanly() {
        let raw = b64_decode("t", ENCRYPT).unwrap();
        // Drop the last block: the padding byte is now arbitrary data.
        let truncated = b64_encode(&raw[..raw.len() - 16]);
        assert!(cipher().decrypt(&truncated).is_err());
        assert_eq!(cipher().decrypt(""), Err(CryptoError::CiphertextLength));
        assert_eq!(cipher().decrypt("AAAA"), Err(CryptoError::CiphertextLength));
        assert_eq!(
            cipher().decrypt("!!!!"),
            Err(CryptoError::Base64("Encrypt"))
        );
        let mut flipped = raw.clone();
        flipped[40] ^= 1;
        assert!(cipher().decrypt(&b64_encode(&flipped)).is_err());
    }

    #[test]
    fn bad_padding_is_refused() {
        assert!(unpad(&[1, 2, 3, 3, 3]).is_ok());
        assert_eq!(unpad(&[1, 2, 3, 2, 3]), Err(CryptoError::Padding));
        assert_eq!(unpad(&[0; 32]), Err(CryptoError::Padding));
        assert_eq!(unpad(&[33; 64]), Err(CryptoError::Padding));
        assert_eq!(unpad(&[]), Err(CryptoError::Padding));
        assert_eq!(unpad(&[32; 32]).unwrap(), &[] as &[u8]);
    }

    #[test]
    fn a_message_with_a_lying_length_field_is_refused() {
        let key = SecretString::from(KEY);
        let appid = WechatAppId::parse("wx1234567890abcdef").unwrap();
        let c = EventCipher::new(&key, &appid).unwrap();
        // Frame by hand: length says 1000 but only 3 bytes follow.
        let mut plain = vec![0u8; 16];
        plain.extend_from_slice(&1000u32.to_be_bytes());
        plain.extend_from_slice(b"abc");
        plain.resize(32, 9);
        let raw = b64_decode("k", KEY).unwrap();
        let enc = cbc::Encryptor::<Aes256>::new_from_slices(&raw, &raw[..16])
            .unwrap()
            .encrypt_padded_vec_mut::<NoPadding>(&plain);
        assert_eq!(
            c.decrypt(&b64_encode(&enc)),
            Err(CryptoError::Malformed("length field exceeds the data"))
        );
    }

    #[test]
    fn keys_of_the_wrong_length_are_refused_and_noncanonical_endings_accepted() {
        let appid = WechatAppId::parse("wx1").unwrap();
        assert!(EventCipher::new(&SecretString::from(&KEY[..42]), &appid).is_err());
        assert!(EventCipher::new(&SecretString::from(format!("{KEY}=")), &appid).is_err());
        // Same 32 bytes: the last character's two spare bits are set.
        let noncanonical = format!("{}9", &KEY[..42]);
        let c = EventCipher::new(&SecretString::from(noncanonical), &appid).unwrap();
        assert_eq!(c.decrypt(&c.encrypt("<xml/>", [0; 16])).unwrap(), "<xml/>");
    }

    #[test]
    fn debug_hides_the_key() {
        let shown = format!("{:?}", cipher());
        assert!(
            !shown.contains(KEY) && shown.contains("wx1234567890abcdef"),
            "{shown}"
        );
    }

    #[test]
    fn random_prefixes_differ() {
        let c = cipher();
        assert_ne!(
            c.encrypt_with_random_prefix("<xml/>"),
            c.encrypt_with_random_prefix("<xml/>")
        );
    }
}
