//! Access-token signing, behind a port so the algorithm and key handling live in an adapter.

use serde::{Deserialize, Serialize};
use wxauth_domain::{AppKey, PublicUserId};

/// The claims wxauth puts in an access token. `iss` and `aud` are the signer's configuration
/// and are checked by it on verification.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct AccessClaims {
    /// The user's public id.
    pub sub: PublicUserId,
    /// The app the user signed in through.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub app: Option<AppKey>,
    /// The session (refresh-token family) this token belongs to.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub sid: Option<String>,
    /// Issued at, seconds since the epoch.
    pub iat: i64,
    /// Expires at, seconds since the epoch.
    pub exp: i64,
    /// Unique token id.
    pub jti: String,
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum TokenError {
    #[error("the token has expired")]
    Expired,
    /// Bad signature, wrong algorithm, wrong issuer or audience, unknown key, malformed.
    #[error("the token is invalid")]
    Invalid,
    #[error("the token could not be signed: {0}")]
    Signing(String),
}

pub trait AccessTokenSigner: Send + Sync {
    fn sign(&self, claims: &AccessClaims) -> Result<String, TokenError>;
    fn verify(&self, token: &str) -> Result<AccessClaims, TokenError>;
    /// The public keys as a JWK Set, when the signer uses asymmetric keys.
    fn jwks(&self) -> Option<serde_json::Value>;
}

/// The OpenID provider's signer: ID tokens and RFC 9068 access tokens, always with an
/// asymmetric key (RS256 first) whose public part the JWK Set publishes.
pub trait ProviderSigner: Send + Sync {
    /// Signs `claims` as a compact JWS whose header names `typ` (`JWT`, or `at+jwt`), with the
    /// first key of `algorithm` that has a private part; [`TokenError::Signing`] when there is
    /// none.
    fn sign(
        &self,
        algorithm: &str,
        typ: &'static str,
        claims: &serde_json::Value,
    ) -> Result<String, TokenError>;
    /// Checks the algorithm, key, signature, `typ` header and `exp` (with `verify_exp`); the
    /// caller checks the claims that depend on who asks (`iss`, `aud`).
    fn verify(
        &self,
        typ: &'static str,
        token: &str,
        verify_exp: bool,
    ) -> Result<serde_json::Value, TokenError>;
    /// The algorithm access tokens are signed with: the first key's that has a private part
    /// (an operator who wants cheap access tokens lists an EdDSA or ES256 key first).
    fn access_token_algorithm(&self) -> &'static str;
    /// Every algorithm the provider's keys can sign with, RS256 first.
    fn algorithms(&self) -> Vec<&'static str>;
    /// The public keys, as JWKs.
    fn jwks(&self) -> Vec<serde_json::Value>;
}
