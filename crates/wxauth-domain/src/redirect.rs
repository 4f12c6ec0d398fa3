//! Redirect allow-lists: the only defence against open redirects in the OAuth flow.

use serde::{Deserialize, Serialize};

use crate::ValidationError;

/// One allowed redirect target: a scheme, a host (and port), and a path prefix.
///
/// `https://app.example.com/auth` allows `https://app.example.com/auth`,
/// `https://app.example.com/auth/done?x=1` but not `https://app.example.com/authority`
/// nor `http://app.example.com/auth` nor `https://evil.example.com/auth`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub struct RedirectRule {
    raw: String,
    scheme: String,
    host: String,
    port: Option<u16>,
    path_prefix: String,
}

impl RedirectRule {
    pub fn parse(s: &str) -> Result<Self, ValidationError> {
        let err = |reason| ValidationError::new("redirectAllowList", reason);
        let url = url::Url::parse(s).map_err(|_| err("each entry must be an absolute URL"))?;
        if !matches!(url.scheme(), "https" | "http") {
            return Err(err("each entry must be an http or https URL"));
        }
        let host = url
            .host_str()
            .filter(|h| !h.is_empty())
            .ok_or_else(|| err("needs a host"))?;
        if url.query().is_some() || url.fragment().is_some() {
            return Err(err(
                "entries are a scheme, host and path prefix: no query or fragment",
            ));
        }
        Ok(Self {
            raw: s.to_owned(),
            scheme: url.scheme().to_owned(),
            host: host.to_owned(),
            port: url.port_or_known_default(),
            path_prefix: url.path().to_owned(),
        })
    }

    pub fn allows(&self, candidate: &url::Url) -> bool {
        if candidate.scheme() != self.scheme
            || candidate.host_str() != Some(self.host.as_str())
            || candidate.port_or_known_default() != self.port
            || !candidate.username().is_empty()
            || candidate.password().is_some()
        {
            return false;
        }
        let path = candidate.path();
        match path.strip_prefix(self.path_prefix.as_str()) {
            None => false,
            // The prefix must end on a segment boundary: `/auth` must not allow `/authority`.
            Some(rest) => {
                self.path_prefix.ends_with('/') || rest.is_empty() || rest.starts_with('/')
            }
        }
    }

    pub fn as_str(&self) -> &str {
        &self.raw
    }
}

impl TryFrom<String> for RedirectRule {
    type Error = ValidationError;
    fn try_from(s: String) -> Result<Self, Self::Error> {
        Self::parse(&s)
    }
}

impl From<RedirectRule> for String {
    fn from(r: RedirectRule) -> String {
        r.raw
    }
}

/// The redirect targets an app accepts. Empty means none: OAuth is refused until configured.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(transparent)]
pub struct RedirectAllowList(Vec<RedirectRule>);

impl RedirectAllowList {
    pub fn new(rules: Vec<RedirectRule>) -> Self {
        Self(rules)
    }

    pub fn parse_all<S: AsRef<str>>(entries: &[S]) -> Result<Self, ValidationError> {
        entries
            .iter()
            .map(|e| RedirectRule::parse(e.as_ref()))
            .collect::<Result<_, _>>()
            .map(Self)
    }

    /// Parses `candidate` and checks it against the rules; `field` names the request field in
    /// the error.
    pub fn check(&self, field: &'static str, candidate: &str) -> Result<url::Url, ValidationError> {
        let url = url::Url::parse(candidate)
            .map_err(|_| ValidationError::new(field, "must be an absolute URL"))?;
        if self.0.iter().any(|r| r.allows(&url)) {
            Ok(url)
        } else {
            Err(ValidationError::new(
                field,
                "is not in the app's redirect allow-list",
            ))
        }
    }

    pub fn rules(&self) -> &[RedirectRule] {
        &self.0
    }

    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn list() -> RedirectAllowList {
        RedirectAllowList::parse_all(&["https://app.example.com/auth", "http://localhost:5173/"])
            .unwrap()
    }

    #[test]
    fn allows_the_prefix_and_paths_below_it() {
        let l = list();
        for ok in [
            "https://app.example.com/auth",
            "https://app.example.com/auth/",
            "https://app.example.com/auth/callback?x=1",
            "https://APP.example.com:443/auth/x",
            "http://localhost:5173/anything",
        ] {
            assert!(l.check("redirectUri", ok).is_ok(), "{ok}");
        }
    }

    #[test]
    fn refuses_other_schemes_hosts_ports_and_sibling_paths() {
        let l = list();
        for bad in [
            "https://app.example.com/authority",
            "https://app.example.com/",
            "http://app.example.com/auth",
            "https://evil.example.com/auth",
            "https://app.example.com.evil.com/auth",
            "https://app.example.com:8443/auth",
            "https://user@app.example.com/auth",
            "https://app.example.com/auth/../admin",
            "http://localhost:5174/",
            "//app.example.com/auth",
            "javascript:alert(1)",
        ] {
            let e = l.check("redirectUri", bad).unwrap_err();
            assert_eq!(e.field, "redirectUri", "{bad}");
        }
    }

    #[test]
    fn rules_must_be_plain_prefixes() {
        assert!(RedirectRule::parse("https://a.example.com/x?y=1").is_err());
        assert!(RedirectRule::parse("ftp://a.example.com/").is_err());
        assert!(RedirectRule::parse("not a url").is_err());
    }
}
