//! Random identifiers shaped like WeChat's, so clients meet realistic lengths and alphabets
//! (tickets with `+`, `/` and `=` that must be URL-encoded, 28-character openids, long tokens).

use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use rand::{Rng, RngCore};

const ALNUM: &[u8] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789";
const URL_SAFE: &[u8] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";

fn from_alphabet(alphabet: &[u8], len: usize) -> String {
    let mut rng = rand::rng();
    (0..len)
        .map(|_| char::from(alphabet[rng.random_range(0..alphabet.len())]))
        .collect()
}

/// `o` + 27 URL-safe characters, like a Mini Program or Official Account openid.
pub(crate) fn openid() -> String {
    let mut id = String::with_capacity(28);
    id.push('o');
    id.push_str(&from_alphabet(URL_SAFE, 27));
    id
}

/// base64 of 16 random bytes.
pub(crate) fn session_key() -> String {
    let mut bytes = [0u8; 16];
    rand::rng().fill_bytes(&mut bytes);
    STANDARD.encode(bytes)
}

/// A `wx.login` code: 32 alphanumerics.
pub(crate) fn login_code() -> String {
    from_alphabet(ALNUM, 32)
}

/// A `getPhoneNumber` code: 64 hex digits, visibly different from login codes.
pub(crate) fn phone_code() -> String {
    let mut bytes = [0u8; 32];
    rand::rng().fill_bytes(&mut bytes);
    hex::encode(bytes)
}

/// An OAuth2 authorization code.
pub(crate) fn oauth_code() -> String {
    from_alphabet(ALNUM, 32)
}

/// An access token: a numeric generation prefix and a long random tail, ~136 characters like
/// WeChat's (which asks callers to reserve 512).
pub(crate) fn access_token() -> String {
    let generation: u8 = rand::rng().random_range(70..100);
    format!("{generation}_{}", from_alphabet(URL_SAFE, 133))
}

/// A user-level (OAuth) access or refresh token.
pub(crate) fn user_token() -> String {
    let generation: u8 = rand::rng().random_range(70..100);
    format!("{generation}_{}", from_alphabet(URL_SAFE, 107))
}

/// A QR ticket: standard base64 with padding, so it carries `+`, `/` and `=` and only survives
/// a round trip when URL-encoded (as WeChat's tickets do).
pub(crate) fn qr_ticket() -> String {
    let mut bytes = [0u8; 49];
    rand::rng().fill_bytes(&mut bytes);
    STANDARD.encode(bytes)
}

/// The content encoded in a parametric QR code.
pub(crate) fn qr_url() -> String {
    format!("http://weixin.qq.com/q/{}", from_alphabet(URL_SAFE, 22))
}

/// A request id of the kind WeChat appends to every errmsg (`…, rid: 6566e0e4-1d2c3b4a-0f9e8d7c`).
pub(crate) fn rid() -> String {
    let mut rng = rand::rng();
    format!(
        "{:08x}-{:08x}-{:08x}",
        rng.next_u32(),
        rng.next_u32(),
        rng.next_u32()
    )
}

/// A numeric nonce as WeChat puts in push queries.
pub(crate) fn nonce() -> String {
    rand::rng()
        .random_range(100_000_000u64..10_000_000_000)
        .to_string()
}

/// A numeric `echostr` for the URL check.
pub(crate) fn echostr() -> String {
    rand::rng()
        .random_range(1_000_000_000_000_000u64..10_000_000_000_000_000_000)
        .to_string()
}

/// 16 random bytes: the prefix of a safe-mode plaintext and the iv of encryptedData.
pub(crate) fn random16() -> [u8; 16] {
    let mut bytes = [0u8; 16];
    rand::rng().fill_bytes(&mut bytes);
    bytes
}

/// A fake avatar URL on WeChat's avatar host.
pub(crate) fn avatar_url() -> String {
    format!(
        "https://thirdwx.qlogo.cn/mmopen/vi_32/{}/132",
        from_alphabet(ALNUM, 40)
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn shapes_match_wechat() {
        assert_eq!(openid().len(), 28);
        assert!(openid().starts_with('o'));
        assert_eq!(STANDARD.decode(session_key()).unwrap().len(), 16);
        assert_eq!(login_code().len(), 32);
        assert_eq!(phone_code().len(), 64);
        assert!(qr_ticket().ends_with("=="));
        assert!(access_token().len() >= 130);
        assert_eq!(rid().len(), 26);
    }
}
