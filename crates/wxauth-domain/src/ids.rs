//! Identifiers. Each is a newtype so an openid can never be passed where an app key is meant.

use std::fmt;

use serde::{Deserialize, Serialize};

use crate::ValidationError;

/// The database row id of a user. Internal: never leaves the service except through the
/// compatibility routes, whose clients expect a number.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
pub struct UserId(pub i64);

/// The database row id of an app: what rows that belong to an app refer to it by.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
pub struct AppId(pub i64);

/// The id of one WeChat identity (one openid of one app) on an account. Shown to the account's
/// owner and to admins, who address an identity by it: an account may hold several identities
/// of the same app (two WeChat users of one person).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(transparent)]
pub struct IdentityId(pub i64);

impl fmt::Display for IdentityId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        self.0.fmt(f)
    }
}

/// The stable public id of a user (a UUIDv7): the JWT subject and the id clients see.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(transparent)]
pub struct PublicUserId(uuid::Uuid);

impl PublicUserId {
    pub fn new_random() -> Self {
        Self(uuid::Uuid::now_v7())
    }

    pub fn parse(s: &str) -> Result<Self, ValidationError> {
        uuid::Uuid::try_parse(s)
            .map(Self)
            .map_err(|_| ValidationError::new("id", "must be a UUID"))
    }

    pub fn as_uuid(&self) -> uuid::Uuid {
        self.0
    }

    /// A 24-character lowercase alphanumeric rendering, the shape of a Strapi v5 `documentId`.
    pub fn document_id(&self) -> String {
        const ALPHABET: &[u8; 36] = b"0123456789abcdefghijklmnopqrstuvwxyz";
        let mut n = self.0.as_u128();
        let mut out = [b'0'; 25];
        for slot in out.iter_mut().rev() {
            *slot = ALPHABET[(n % 36) as usize];
            n /= 36;
        }
        // 36^25 > 2^128 > 36^24: keep the 24 low digits, enough to stay unique in practice
        // and exactly the length Strapi clients expect.
        String::from_utf8_lossy(&out[1..]).into_owned()
    }
}

impl fmt::Display for PublicUserId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        self.0.fmt(f)
    }
}

impl From<uuid::Uuid> for PublicUserId {
    fn from(u: uuid::Uuid) -> Self {
        Self(u)
    }
}

macro_rules! string_id {
    ($(#[$meta:meta])* $name:ident, field = $field:literal, check = $check:expr) => {
        $(#[$meta])*
        #[derive(Clone, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
        #[serde(try_from = "String", into = "String")]
        pub struct $name(String);

        impl $name {
            pub fn parse(s: impl Into<String>) -> Result<Self, ValidationError> {
                let s = s.into();
                let check: fn(&str) -> Result<(), &'static str> = $check;
                check(&s).map_err(|reason| ValidationError::new($field, reason))?;
                Ok(Self(s))
            }

            pub fn as_str(&self) -> &str {
                &self.0
            }

            pub fn into_string(self) -> String {
                self.0
            }
        }

        impl TryFrom<String> for $name {
            type Error = ValidationError;
            fn try_from(s: String) -> Result<Self, Self::Error> {
                Self::parse(s)
            }
        }

        impl From<$name> for String {
            fn from(v: $name) -> String {
                v.0
            }
        }

        impl fmt::Display for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str(&self.0)
            }
        }

        impl fmt::Debug for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                write!(f, "{}({:?})", stringify!($name), self.0)
            }
        }

        impl AsRef<str> for $name {
            fn as_ref(&self) -> &str {
                &self.0
            }
        }
    };
}

fn token_chars(s: &str, max: usize, extra: &[u8]) -> Result<(), &'static str> {
    if s.is_empty() {
        return Err("must not be empty");
    }
    if s.len() > max {
        return Err("is too long");
    }
    if !s
        .bytes()
        .all(|b| b.is_ascii_alphanumeric() || extra.contains(&b))
    {
        return Err("contains characters that are not allowed");
    }
    Ok(())
}

string_id!(
    /// wxauth's own name for an app (`shop`, `oa-main`): lowercase letters, digits, `-` and `_`.
    AppKey,
    field = "app",
    check = |s| {
        token_chars(s, 64, b"-_")?;
        if s.bytes().any(|b| b.is_ascii_uppercase()) {
            return Err("must be lowercase");
        }
        Ok(())
    }
);

string_id!(
    /// The WeChat appid (`wx` followed by 16 hex digits for real accounts).
    WechatAppId,
    field = "appid",
    check = |s| token_chars(s, 64, b"_-")
);

string_id!(
    /// A user's id within one WeChat app. Never a key across apps: use [`UnionId`] for that.
    OpenId,
    field = "openid",
    check = |s| token_chars(s, 128, b"-_")
);

string_id!(
    /// A user's id across all apps of one WeChat open-platform account. May be absent.
    UnionId,
    field = "unionid",
    check = |s| token_chars(s, 128, b"-_")
);

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn app_keys_are_lowercase_tokens() {
        assert!(AppKey::parse("shop-main_2").is_ok());
        assert_eq!(AppKey::parse("Shop").unwrap_err().field, "app");
        assert!(AppKey::parse("").is_err());
        assert!(AppKey::parse("a b").is_err());
        assert!(AppKey::parse("x".repeat(65)).is_err());
    }

    #[test]
    fn openids_reject_characters_that_could_inject_query_parameters() {
        assert!(OpenId::parse("oTEST_abc-123").is_ok());
        assert!(OpenId::parse("o&secret=x").is_err());
        assert!(OpenId::parse("o?x").is_err());
    }

    #[test]
    fn document_ids_are_24_lowercase_alphanumerics_and_stable() {
        let id = PublicUserId::new_random();
        let d = id.document_id();
        assert_eq!(d.len(), 24);
        assert!(
            d.bytes()
                .all(|b| b.is_ascii_digit() || b.is_ascii_lowercase())
        );
        assert_eq!(d, id.document_id());
        assert_ne!(d, PublicUserId::new_random().document_id());
    }

    #[test]
    fn ids_deserialize_through_validation() {
        let ok: Result<OpenId, _> = serde_json::from_str("\"oABC\"");
        assert!(ok.is_ok());
        let bad: Result<OpenId, _> = serde_json::from_str("\"\"");
        assert!(bad.is_err());
    }
}
