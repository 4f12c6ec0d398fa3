//! Query-string access the way WeChat reads it: first occurrence wins, unknown parameters are
//! ignored, and an empty value counts as missing.
//!
//! Parsed lazily into borrowed pairs (no allocation unless a value was percent-encoded), since
//! every API call goes through here.

use std::borrow::Cow;

pub(crate) struct Query<'a> {
    pairs: Vec<(Cow<'a, str>, Cow<'a, str>)>,
}

impl<'a> Query<'a> {
    pub(crate) fn parse(query_string: &'a str) -> Self {
        Self {
            pairs: url::form_urlencoded::parse(query_string.as_bytes()).collect(),
        }
    }

    pub(crate) fn get(&self, name: &str) -> Option<&str> {
        self.pairs
            .iter()
            .find(|(key, _)| key == name)
            .map(|(_, value)| value.as_ref())
            .filter(|value| !value.is_empty())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn first_value_wins_and_empty_is_missing() {
        let query = Query::parse("a=1&a=2&b=&c=x%2By+z");
        assert_eq!(query.get("a"), Some("1"));
        assert_eq!(query.get("b"), None);
        assert_eq!(query.get("c"), Some("x+y z"));
        assert_eq!(query.get("d"), None);
    }
}
