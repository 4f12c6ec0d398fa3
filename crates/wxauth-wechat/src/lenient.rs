//! Deserializers for the shapes WeChat is loose about: empty strings meaning "absent", numbers
//! sent as strings (and the reverse), flags sent as 0/1.

use std::fmt::Display;

use serde::{Deserialize, Deserializer, de};

/// A string or a number, as text (`countryCode` is `"86"` in WeChat's examples, `86` for some).
#[derive(Deserialize)]
#[serde(untagged)]
enum StringOrNumber {
    String(String),
    Number(serde_json::Number),
}

pub(crate) fn string_or_number<'de, D: Deserializer<'de>>(d: D) -> Result<String, D::Error> {
    Ok(match StringOrNumber::deserialize(d)? {
        StringOrNumber::String(s) => s,
        StringOrNumber::Number(n) => n.to_string(),
    })
}

/// A flag as 0/1 or a boolean; absent or null is `false`.
#[derive(Deserialize)]
#[serde(untagged)]
enum Flag {
    Bool(bool),
    Number(i64),
}

pub(crate) fn flag<'de, D: Deserializer<'de>>(d: D) -> Result<bool, D::Error> {
    Ok(match Option::<Flag>::deserialize(d)? {
        None => false,
        Some(Flag::Bool(b)) => b,
        Some(Flag::Number(n)) => n != 0,
    })
}

/// An optional validated value where WeChat sends `""` (or null) for "none" — `unionid`,
/// `qr_scene_str`.
pub(crate) fn nonempty<'de, D, T>(d: D) -> Result<Option<T>, D::Error>
where
    D: Deserializer<'de>,
    T: TryFrom<String>,
    T::Error: Display,
{
    match Option::<String>::deserialize(d)? {
        None => Ok(None),
        Some(s) if s.is_empty() => Ok(None),
        Some(s) => T::try_from(s).map(Some).map_err(de::Error::custom),
    }
}

/// An optional number where WeChat sends 0 for "none" (`qr_scene`), accepting it as a string.
pub(crate) fn nonzero<'de, D: Deserializer<'de>>(d: D) -> Result<Option<u64>, D::Error> {
    #[derive(Deserialize)]
    #[serde(untagged)]
    enum Num {
        Number(u64),
        String(String),
    }
    match Option::<Num>::deserialize(d)? {
        None | Some(Num::Number(0)) => Ok(None),
        Some(Num::Number(n)) => Ok(Some(n)),
        Some(Num::String(s)) if s.is_empty() => Ok(None),
        Some(Num::String(s)) => match s.parse::<u64>() {
            Ok(0) => Ok(None),
            Ok(n) => Ok(Some(n)),
            Err(_) => Err(de::Error::custom("expected a number")),
        },
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use wxauth_domain::UnionId;

    #[derive(Deserialize)]
    struct Probe {
        #[serde(default, deserialize_with = "string_or_number")]
        cc: String,
        #[serde(default, deserialize_with = "flag")]
        flag: bool,
        #[serde(default, deserialize_with = "nonempty")]
        unionid: Option<UnionId>,
        #[serde(default, deserialize_with = "nonzero")]
        scene: Option<u64>,
    }

    fn probe(json: &str) -> Probe {
        serde_json::from_str(json).unwrap()
    }

    #[test]
    fn loose_shapes_are_read() {
        assert_eq!(probe(r#"{"cc":"86"}"#).cc, "86");
        assert_eq!(probe(r#"{"cc":86}"#).cc, "86");
        assert!(probe(r#"{"flag":1}"#).flag);
        assert!(probe(r#"{"flag":true}"#).flag);
        assert!(!probe(r#"{"flag":0}"#).flag);
        assert!(!probe(r#"{"flag":null}"#).flag);
        assert!(!probe("{}").flag);
        assert!(probe(r#"{"unionid":""}"#).unionid.is_none());
        assert_eq!(probe(r#"{"unionid":"u1"}"#).unionid.unwrap().as_str(), "u1");
        assert_eq!(probe(r#"{"scene":0}"#).scene, None);
        assert_eq!(probe(r#"{"scene":"12"}"#).scene, Some(12));
        assert!(serde_json::from_str::<Probe>(r#"{"unionid":"a&b"}"#).is_err());
    }
}
