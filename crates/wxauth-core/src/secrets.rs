//! Random tokens and their stored hashes.
//!
//! Every token wxauth hands out (refresh tokens, bind codes, OAuth states, admin keys) is high
//! entropy, so a plain SHA-256 is enough to store it: there is nothing to brute-force.

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use rand::Rng;
use rand::distr::Alphanumeric;
use sha2::{Digest, Sha256};

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
    fn states_are_alphanumeric() {
        let s = random_alphanumeric(32);
        assert_eq!(s.len(), 32);
        assert!(s.bytes().all(|b| b.is_ascii_alphanumeric()));
    }
}
