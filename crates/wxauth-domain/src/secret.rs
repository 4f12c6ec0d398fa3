//! Secrets an operator types in: refusing the ones that are visibly not secret.
//!
//! A stack copied from `.env.example` would otherwise start and sign tokens with a key printed
//! in the repository. The check is deliberately about what a value *looks like* (a marker word,
//! one repeated character); it cannot prove a value random, only catch the obvious.

/// Why `value` is visibly a placeholder rather than a secret, or `None`.
pub fn placeholder_reason(value: &str) -> Option<&'static str> {
    let v = value.trim();
    if v.is_empty() {
        return Some("is empty");
    }
    let lower = v.to_ascii_lowercase();
    let folded: String = lower
        .chars()
        .filter(|c| c.is_ascii_alphanumeric())
        .collect();
    const MARKERS: &[&str] = &[
        "changeme",
        "placeholder",
        "replaceme",
        "replacewith",
        "insertsecret",
        "putyour",
        "example",
    ];
    // "your-secret-here", "YOUR_APP_SECRET", "<app secret>": a description, not a value.
    let described = folded.starts_with("your") || lower.contains('<') && lower.contains('>');
    if described || MARKERS.iter().any(|m| folded.contains(m)) {
        return Some("is a placeholder (replace it with a real secret)");
    }
    let mut chars = folded.chars();
    if let Some(first) = chars.next()
        && folded.len() >= 4
        && chars.all(|c| c == first)
    {
        return Some("is one repeated character, not a secret");
    }
    None
}

/// Whether decoded key material is visibly not random: every byte the same (an all-zero key
/// encodes as `AAAA…=`).
pub fn is_degenerate_key(bytes: &[u8]) -> bool {
    bytes.windows(2).all(|w| w[0] == w[1])
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_env_example_placeholders_are_refused() {
        for v in [
            "CHANGE-ME-generate-with-wxauth-server-keys-generate",
            "change_me",
            "CHANGEME",
            "<your app secret>",
            "your-secret-here",
            "replace-me",
            "REPLACE-with-the-app-secret",
            "xxxxxxxxxxxxxxxx",
            "0000000000000000",
            "",
            "   ",
        ] {
            assert!(placeholder_reason(v).is_some(), "{v:?} passed");
        }
    }

    #[test]
    fn ordinary_secrets_pass() {
        for v in [
            "f3b1c2d4e5a6978812ab34cd56ef7890",
            "mp-secret-0001",
            "AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh8=",
            "test-jwt-secret-that-is-long-enough-0123",
        ] {
            assert_eq!(placeholder_reason(v), None, "{v:?} refused");
        }
    }

    #[test]
    fn keys_of_one_repeated_byte_are_degenerate() {
        assert!(is_degenerate_key(&[0u8; 32]));
        assert!(!is_degenerate_key(&(0u8..32).collect::<Vec<_>>()));
    }
}
