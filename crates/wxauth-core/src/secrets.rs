//! Random tokens and their stored hashes.
//!
//! Every token wxauth hands out (refresh tokens, bind codes, OAuth states, admin keys) is high
//! entropy, so a plain SHA-256 is enough to store it: there is nothing to brute-force.

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use rand::Rng;
use rand::distr::Alphanumeric;
use sha2::{Digest, Sha256};

/// A refresh token: `rt_<key>.<secret>`, where the key is the issue time in milliseconds (12 hex
/// digits) and 32 random bits (8 hex digits), and the secret is 32 random bytes.
///
/// The key exists for the database's sake. Every login stores a refresh token, and a lookup
/// value that is a plain hash lands on a random page of its unique index: one more page to
/// write per login, which on SQLite was the largest cost of a returning login. The stored
/// [`refresh_token_digest`] starts with the key, so new tokens append to the index.
pub fn refresh_token(now: wxauth_domain::Timestamp) -> String {
    let millis = u64::try_from(now.unix_timestamp_nanos() / 1_000_000).unwrap_or(0);
    let mut secret = [0u8; 32];
    rand::rng().fill(&mut secret[..]);
    format!(
        "{REFRESH_TOKEN_PREFIX}{:012x}{:08x}.{}",
        millis & 0xffff_ffff_ffff,
        rand::rng().random::<u32>(),
        URL_SAFE_NO_PAD.encode(secret)
    )
}

pub const REFRESH_TOKEN_PREFIX: &str = "rt_";

/// A refresh token of the OpenID provider: the same shape as [`refresh_token`]'s, under
/// another prefix, so that neither refresh endpoint accepts the other's tokens.
pub fn oidc_refresh_token(now: wxauth_domain::Timestamp) -> String {
    let token = refresh_token(now);
    format!(
        "{}{}",
        crate::oidc::grants::OIDC_REFRESH_PREFIX,
        &token[REFRESH_TOKEN_PREFIX.len()..]
    )
}
const REFRESH_KEY_LEN: usize = 20;

/// What the store keeps of a refresh token and finds it by: the token's key followed by the
/// SHA-256 of the whole token in base64url (63 characters). Tokens issued before keys existed
/// (`rt_<secret>`) keep their hex SHA-256, so they still refresh and log out.
pub fn refresh_token_digest(token: &str) -> String {
    let key = token
        .strip_prefix(REFRESH_TOKEN_PREFIX)
        .or_else(|| token.strip_prefix(crate::oidc::grants::OIDC_REFRESH_PREFIX))
        .and_then(|rest| rest.split_once('.'))
        .map(|(key, _)| key)
        .filter(|key| {
            key.len() == REFRESH_KEY_LEN
                && key
                    .bytes()
                    .all(|b| b.is_ascii_digit() || (b'a'..=b'f').contains(&b))
        });
    match key {
        Some(key) => format!("{key}{}", URL_SAFE_NO_PAD.encode(Sha256::digest(token))),
        None => token_hash(token),
    }
}

/// A session family id: a UUIDv7 (time-ordered, for the same reason as the refresh token's key:
/// the family index is written on every login).
pub fn session_family(now: wxauth_domain::Timestamp) -> String {
    let nanos = now.unix_timestamp_nanos();
    let secs = u64::try_from(nanos.div_euclid(1_000_000_000)).unwrap_or(0);
    let subsec = u32::try_from(nanos.rem_euclid(1_000_000_000)).unwrap_or(0);
    uuid::Uuid::new_v7(uuid::Timestamp::from_unix(uuid::NoContext, secs, subsec))
        .simple()
        .to_string()
}

/// `prefix` followed by `bytes` random bytes in unpadded base64url.
pub fn random_token(prefix: &str, bytes: usize) -> String {
    let mut buf = vec![0u8; bytes];
    rand::rng().fill(&mut buf[..]);
    format!("{prefix}{}", URL_SAFE_NO_PAD.encode(&buf))
}

/// `len` random characters from `[A-Za-z0-9]`: the alphabet WeChat allows in an OAuth state.
pub fn random_alphanumeric(len: usize) -> String {
    rand::rng()
        .sample_iter(&Alphanumeric)
        .take(len)
        .map(char::from)
        .collect()
}

/// The lowercase hex SHA-256 of a token: what the store keeps.
pub fn token_hash(token: &str) -> String {
    hex::encode(Sha256::digest(token.as_bytes()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tokens_are_random_prefixed_and_hash_stably() {
        let a = random_token("rt_", 32);
        let b = random_token("rt_", 32);
        assert!(a.starts_with("rt_"));
        assert_eq!(a.len(), 3 + 43);
        assert_ne!(a, b);
        assert_eq!(token_hash(&a), token_hash(&a));
        assert_ne!(token_hash(&a), token_hash(&b));
        assert_eq!(token_hash(&a).len(), 64);
    }

    #[test]
    fn refresh_tokens_carry_a_time_ordered_key_and_digest_to_63_characters() {
        let at = time::macros::datetime!(2026-11-23 12:00:00 UTC);
        let a = refresh_token(at);
        let b = refresh_token(at + time::Duration::milliseconds(1));
        let (key, secret) = a.strip_prefix("rt_").unwrap().split_once('.').unwrap();
        assert_eq!(key.len(), 20);
        assert_eq!(&key[..12], format!("{:012x}", at.unix_timestamp() * 1000));
        assert_eq!(secret.len(), 43);
        let (da, db) = (refresh_token_digest(&a), refresh_token_digest(&b));
        assert_eq!(da.len(), 63, "fits the 64-character column");
        assert!(da.starts_with(key));
        assert!(da < db, "later tokens sort after earlier ones");
        assert_eq!(refresh_token_digest(&a), da, "stable");
        // Another secret under the same key is another digest.
        let forged = format!("rt_{key}.{}", "A".repeat(43));
        assert_ne!(refresh_token_digest(&forged), da);
    }

    #[test]
    fn tokens_from_before_keys_keep_their_hex_digest() {
        let legacy = random_token("rt_", 32);
        assert_eq!(refresh_token_digest(&legacy), token_hash(&legacy));
        // Something that only looks like a key is treated the same way.
        assert_eq!(refresh_token_digest("rt_XYZ.abc"), token_hash("rt_XYZ.abc"));
    }

    #[test]
    fn session_families_are_time_ordered() {
        let at = time::macros::datetime!(2026-11-23 12:00:00 UTC);
        let a = session_family(at);
        let b = session_family(at + time::Duration::milliseconds(1));
        assert_eq!(a.len(), 32);
        assert!(a < b);
    }

    #[test]
    fn states_are_alphanumeric() {
        let s = random_alphanumeric(32);
        assert_eq!(s.len(), 32);
        assert!(s.bytes().all(|b| b.is_ascii_alphanumeric()));
    }
}
