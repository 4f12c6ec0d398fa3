//! OpenID Connect relying parties (clients) and the protocol values wxauth checks once, at the
//! edge: scopes, registered redirect URIs and the WeChat sign-in methods an ID token names.

use std::fmt;

use serde::{Deserialize, Serialize};

use crate::{AppKey, Timestamp, ValidationError};

/// A confidential client authenticates at the token endpoint with its secret; a public one
/// (a single-page or native app) cannot keep a secret and must use PKCE instead.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ClientKind {
    Confidential,
    Public,
}

impl ClientKind {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Confidential => "confidential",
            Self::Public => "public",
        }
    }

    pub fn parse(s: &str) -> Result<Self, ValidationError> {
        match s {
            "confidential" => Ok(Self::Confidential),
            "public" => Ok(Self::Public),
            _ => Err(ValidationError::new(
                "type",
                "must be confidential or public",
            )),
        }
    }
}

/// A scope wxauth grants. Anything else in a request is `invalid_scope`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Scope {
    /// OpenID Connect: an ID token is issued.
    OpenId,
    /// `name` and `picture`.
    Profile,
    /// `phone_number` and `phone_number_verified`.
    Phone,
    /// A refresh token is issued.
    OfflineAccess,
    /// The WeChat `unionid`, which links a user across one developer's apps.
    UnionId,
}

impl Scope {
    pub const ALL: [Scope; 5] = [
        Scope::OpenId,
        Scope::Profile,
        Scope::Phone,
        Scope::OfflineAccess,
        Scope::UnionId,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            Self::OpenId => "openid",
            Self::Profile => "profile",
            Self::Phone => "phone",
            Self::OfflineAccess => "offline_access",
            Self::UnionId => "unionid",
        }
    }

    pub fn parse(s: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|scope| scope.as_str() == s)
    }

    fn bit(self) -> u8 {
        1 << (self as u8)
    }
}

/// A set of scopes, written space-separated in a fixed order (RFC 6749 §3.3).
#[derive(Clone, Copy, Default, PartialEq, Eq, Hash)]
pub struct ScopeSet(u8);

impl ScopeSet {
    /// Parses a space-separated scope string. Repeats are allowed; an unknown scope is an
    /// error naming it.
    pub fn parse(s: &str) -> Result<Self, ValidationError> {
        let mut set = Self::default();
        for token in s.split(' ').filter(|t| !t.is_empty()) {
            let scope = Scope::parse(token)
                .ok_or_else(|| ValidationError::new("scope", format!("unknown scope {token:?}")))?;
            set = set.with(scope);
        }
        Ok(set)
    }

    pub fn all() -> Self {
        Scope::ALL.into_iter().fold(Self::default(), Self::with)
    }

    pub fn with(self, scope: Scope) -> Self {
        Self(self.0 | scope.bit())
    }

    pub fn without(self, scope: Scope) -> Self {
        Self(self.0 & !scope.bit())
    }

    pub fn contains(self, scope: Scope) -> bool {
        self.0 & scope.bit() != 0
    }

    pub fn is_subset_of(self, other: Self) -> bool {
        self.0 & !other.0 == 0
    }

    pub fn is_empty(self) -> bool {
        self.0 == 0
    }

    pub fn iter(self) -> impl Iterator<Item = Scope> {
        Scope::ALL.into_iter().filter(move |s| self.contains(*s))
    }
}

impl fmt::Display for ScopeSet {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let mut first = true;
        for scope in self.iter() {
            if !first {
                f.write_str(" ")?;
            }
            f.write_str(scope.as_str())?;
            first = false;
        }
        Ok(())
    }
}

impl fmt::Debug for ScopeSet {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "ScopeSet({self})")
    }
}

/// How the user proved who they are, as the ID token's `amr` names it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum SignInMethod {
    /// The Official Account's OAuth page, inside WeChat.
    WechatOa,
    /// The website app's QR page (qrconnect), on the desktop.
    WechatWeb,
    /// A scan of the Official Account's follow QR code (scan-to-login).
    WechatOaQr,
    /// A scan of the Mini Program code, confirmed in the Mini Program.
    WechatMpCode,
    /// A `wx.login` code from the Mini Program itself (token exchange).
    WechatMiniProgram,
}

impl SignInMethod {
    pub const ALL: [SignInMethod; 5] = [
        Self::WechatOa,
        Self::WechatWeb,
        Self::WechatOaQr,
        Self::WechatMpCode,
        Self::WechatMiniProgram,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            Self::WechatOa => "wechat_oa",
            Self::WechatWeb => "wechat_web",
            Self::WechatOaQr => "wechat_oa_qr",
            Self::WechatMpCode => "wechat_mp_code",
            Self::WechatMiniProgram => "wechat_miniprogram",
        }
    }

    pub fn parse(s: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|m| m.as_str() == s)
    }
}

/// A redirect URI as a client registers it. Authorization requests must repeat it exactly,
/// byte for byte (RFC 9700 §4.1.3): no prefix, case or trailing-slash leniency.
///
/// Registration only allows `https`, except `http` to `localhost` or `127.0.0.1` (any port)
/// for development; never a fragment (RFC 6749 §3.1.2) nor credentials in the authority.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub struct RegisteredRedirectUri(String);

impl RegisteredRedirectUri {
    pub fn parse(field: &'static str, s: &str) -> Result<Self, ValidationError> {
        let err = |reason| ValidationError::new(field, reason);
        if s.len() > 2000 {
            return Err(err("at most 2000 characters"));
        }
        let url = url::Url::parse(s).map_err(|_| err("each entry must be an absolute URL"))?;
        let host = url.host_str().unwrap_or_default();
        match url.scheme() {
            "https" if !host.is_empty() => {}
            "http" if host == "localhost" || host == "127.0.0.1" => {}
            _ => {
                return Err(err("must be https (http only to localhost or 127.0.0.1)"));
            }
        }
        if url.fragment().is_some() || s.contains('#') {
            return Err(err("must not have a fragment"));
        }
        if !url.username().is_empty() || url.password().is_some() {
            return Err(err("must not carry credentials"));
        }
        // Stored as given: exact comparison is against what the client registered, and the
        // parser's normalisation (a trailing slash added to a bare host) must not widen it.
        Ok(Self(s.to_owned()))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// Whether `candidate` is this URI, exactly.
    pub fn matches(&self, candidate: &str) -> bool {
        self.0 == candidate
    }
}

impl TryFrom<String> for RegisteredRedirectUri {
    type Error = ValidationError;
    fn try_from(s: String) -> Result<Self, Self::Error> {
        Self::parse("redirectUris", &s)
    }
}

impl From<RegisteredRedirectUri> for String {
    fn from(u: RegisteredRedirectUri) -> String {
        u.0
    }
}

/// The WeChat apps behind a client: which sign-in methods it offers.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ClientApps {
    /// Sign-in inside WeChat (OAuth2 page), and the follow-QR scan-to-login on the desktop.
    pub official_account: Option<AppKey>,
    /// The desktop QR page (qrconnect).
    pub website: Option<AppKey>,
    /// The Mini Program code on the desktop, and token exchange with a `wx.login` code.
    pub mini_program: Option<AppKey>,
}

impl ClientApps {
    pub fn is_empty(&self) -> bool {
        self.official_account.is_none() && self.website.is_none() && self.mini_program.is_none()
    }
}

/// A relying party registered with wxauth's OpenID provider.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OidcClient {
    /// Row id.
    pub id: i64,
    pub client_id: String,
    pub name: String,
    pub kind: ClientKind,
    /// SHA-256 of the secret (confidential clients only). The secret is generated by wxauth
    /// with 256 bits of entropy, so a plain digest is enough: there is nothing to guess.
    pub secret_hash: Option<String>,
    pub redirect_uris: Vec<RegisteredRedirectUri>,
    pub post_logout_redirect_uris: Vec<RegisteredRedirectUri>,
    /// The most a request may ask for.
    pub scopes: ScopeSet,
    pub apps: ClientApps,
    /// First-party clients skip the consent page.
    pub first_party: bool,
    /// The JWS algorithm of the client's ID tokens (its registered
    /// `id_token_signed_response_alg`); RS256 when `None`, as OpenID Connect Registration
    /// defaults it.
    pub id_token_alg: Option<String>,
    /// Seconds; also the ID token's lifetime.
    pub access_token_ttl: i64,
    /// Seconds.
    pub refresh_token_ttl: i64,
    pub created_at: Timestamp,
    pub updated_at: Timestamp,
}

impl OidcClient {
    pub fn redirect_uri(&self, candidate: &str) -> Option<&RegisteredRedirectUri> {
        self.redirect_uris.iter().find(|u| u.matches(candidate))
    }

    pub fn post_logout_redirect_uri(&self, candidate: &str) -> Option<&RegisteredRedirectUri> {
        self.post_logout_redirect_uris
            .iter()
            .find(|u| u.matches(candidate))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn scope_sets_parse_and_print_in_a_fixed_order() {
        let set = ScopeSet::parse("profile  openid profile offline_access").unwrap();
        assert_eq!(set.to_string(), "openid profile offline_access");
        assert!(set.contains(Scope::OpenId) && !set.contains(Scope::Phone));
        assert!(
            ScopeSet::parse("openid email")
                .unwrap_err()
                .reason
                .contains("email")
        );
        assert!(ScopeSet::parse("").unwrap().is_empty());
        assert!(set.is_subset_of(ScopeSet::all()));
        assert!(!ScopeSet::all().is_subset_of(set));
    }

    #[test]
    fn redirect_uris_are_https_or_local_http_and_compared_exactly() {
        let ok = RegisteredRedirectUri::parse("redirectUris", "https://rp.example.com/cb").unwrap();
        assert!(ok.matches("https://rp.example.com/cb"));
        for near in [
            "https://rp.example.com/cb/",
            "https://rp.example.com/cb/x",
            "https://rp.example.com/CB",
            "https://RP.example.com/cb",
            "https://rp.example.com:8443/cb",
            "https://rp.example.com/cb#x",
            "https://user@rp.example.com/cb",
            "https://rp.example.com/c",
        ] {
            assert!(!ok.matches(near), "{near}");
        }
        for good in [
            "http://localhost:3000/cb",
            "http://127.0.0.1:49152/callback",
            "https://rp.example.com/cb?tenant=1",
        ] {
            assert!(RegisteredRedirectUri::parse("r", good).is_ok(), "{good}");
        }
        for bad in [
            "http://rp.example.com/cb",
            "http://localhost.evil.com/cb",
            "https://rp.example.com/cb#frag",
            "https://user:pw@rp.example.com/cb",
            "rp.example.com/cb",
            "javascript:alert(1)",
            "custom://cb",
        ] {
            assert!(RegisteredRedirectUri::parse("r", bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn sign_in_methods_round_trip_through_their_amr_names() {
        for m in SignInMethod::ALL {
            assert_eq!(SignInMethod::parse(m.as_str()), Some(m));
        }
        assert_eq!(SignInMethod::parse("pwd"), None);
    }
}
