//! The profile fields a user may change about themselves, and nothing else.

use serde::{Deserialize, Serialize};

use crate::ValidationError;

/// A display name: 1 to 64 characters, no control characters, trimmed.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub struct Nickname(String);

impl Nickname {
    pub const MAX_CHARS: usize = 64;

    pub fn parse(s: &str) -> Result<Self, ValidationError> {
        let s = s.trim();
        if s.is_empty() {
            return Err(ValidationError::new("nickname", "must not be empty"));
        }
        if s.chars().count() > Self::MAX_CHARS {
            return Err(ValidationError::new(
                "nickname",
                "must be at most 64 characters",
            ));
        }
        if s.chars().any(char::is_control) {
            return Err(ValidationError::new(
                "nickname",
                "must not contain control characters",
            ));
        }
        Ok(Self(s.to_owned()))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl TryFrom<String> for Nickname {
    type Error = ValidationError;
    fn try_from(s: String) -> Result<Self, Self::Error> {
        Self::parse(&s)
    }
}

impl From<Nickname> for String {
    fn from(n: Nickname) -> String {
        n.0
    }
}

/// An avatar image URL: absolute `https` (or `http`, which WeChat's own avatar CDN still
/// serves), at most 512 bytes, with a host and no credentials.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub struct AvatarUrl(String);

impl AvatarUrl {
    pub const MAX_LEN: usize = 512;

    pub fn parse(s: &str) -> Result<Self, ValidationError> {
        let err = |reason| ValidationError::new("avatarUrl", reason);
        if s.len() > Self::MAX_LEN {
            return Err(err("must be at most 512 bytes"));
        }
        let url = url::Url::parse(s).map_err(|_| err("must be an absolute URL"))?;
        if !matches!(url.scheme(), "https" | "http") {
            return Err(err("must be an http or https URL"));
        }
        if url.host_str().is_none_or(str::is_empty) {
            return Err(err("must have a host"));
        }
        if !url.username().is_empty() || url.password().is_some() {
            return Err(err("must not contain credentials"));
        }
        Ok(Self(s.to_owned()))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl TryFrom<String> for AvatarUrl {
    type Error = ValidationError;
    fn try_from(s: String) -> Result<Self, Self::Error> {
        Self::parse(&s)
    }
}

impl From<AvatarUrl> for String {
    fn from(u: AvatarUrl) -> String {
        u.0
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn nicknames_are_trimmed_and_bounded_in_characters_not_bytes() {
        assert_eq!(
            Nickname::parse("  理塘策马大王 ").unwrap().as_str(),
            "理塘策马大王"
        );
        assert!(Nickname::parse(&"字".repeat(64)).is_ok());
        assert!(Nickname::parse(&"字".repeat(65)).is_err());
        assert!(Nickname::parse("   ").is_err());
        assert!(Nickname::parse("a\u{0007}b").is_err());
    }

    #[test]
    fn avatar_urls_must_be_absolute_web_urls() {
        assert!(AvatarUrl::parse("https://thirdwx.qlogo.cn/mmopen/abc/132").is_ok());
        for bad in [
            "javascript:alert(1)",
            "/relative.png",
            "ftp://example.com/a.png",
            "https://user:pw@example.com/a.png",
            "data:image/png;base64,AAAA",
        ] {
            assert_eq!(
                AvatarUrl::parse(bad).unwrap_err().field,
                "avatarUrl",
                "{bad}"
            );
        }
        let long = format!("https://example.com/{}", "a".repeat(600));
        assert!(AvatarUrl::parse(&long).is_err());
    }
}
