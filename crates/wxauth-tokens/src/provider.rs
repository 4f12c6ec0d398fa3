//! The OpenID provider's keys: the adapter behind `wxauth-core`'s `ProviderSigner` port.
//!
//! Always asymmetric, whatever the service's own access tokens use: relying parties verify ID
//! tokens against the JWK Set and must never hold a key that could sign them. Per algorithm, the
//! first key with a private part signs: ID tokens with the client's registered algorithm (RS256
//! unless it named another; OpenID Connect requires RS256, so an RS256 key must be there),
//! access tokens with the first key's algorithm. Every configured key verifies by `kid` and is
//! published, so a retired key keeps verifying until its last token expires.

use std::collections::HashMap;

use jsonwebtoken::{Algorithm, DecodingKey, EncodingKey, Header, Validation, errors::ErrorKind};
use secrecy::{ExposeSecret, SecretString};
use serde::Deserialize;
use wxauth_core::ports::{ProviderSigner, TokenError};

use crate::{JwtConfigError, KeyConfig, SigningAlgorithm, bad_key, public_key};

/// One provider key, as configured.
#[derive(Clone, Deserialize)]
pub struct ProviderKeyConfig {
    pub kid: String,
    pub algorithm: SigningAlgorithm,
    #[serde(default)]
    pub private_key_pem: Option<SecretString>,
    #[serde(default)]
    pub public_key_pem: Option<String>,
}

impl std::fmt::Debug for ProviderKeyConfig {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ProviderKeyConfig")
            .field("kid", &self.kid)
            .field("algorithm", &self.algorithm)
            .field(
                "private_key_pem",
                &self.private_key_pem.as_ref().map(|_| "[REDACTED]"),
            )
            .field("public_key_pem", &self.public_key_pem.is_some())
            .finish()
    }
}

pub struct ProviderKeys {
    /// Per algorithm, the first key with a private part: (kid, algorithm, key).
    signing: HashMap<&'static str, (String, Algorithm, EncodingKey)>,
    /// The algorithm of the first key with a private part: access tokens are signed with it.
    access_algorithm: &'static str,
    verifying: HashMap<String, (Algorithm, DecodingKey)>,
    jwks: Vec<serde_json::Value>,
    algorithms: Vec<&'static str>,
}

impl std::fmt::Debug for ProviderKeys {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ProviderKeys")
            .field("access_algorithm", &self.access_algorithm)
            .field("kids", &self.verifying.keys().collect::<Vec<_>>())
            .finish_non_exhaustive()
    }
}

impl ProviderKeys {
    pub fn new(keys: &[ProviderKeyConfig]) -> Result<Self, JwtConfigError> {
        let mut signing = HashMap::new();
        let mut access_algorithm = None;
        let mut verifying = HashMap::new();
        let mut jwks = Vec::new();
        let mut algorithms = Vec::new();
        for key in keys {
            if key.kid.is_empty() || key.kid.len() > 64 {
                return Err(bad_key(&key.kid, "kid must be 1 to 64 characters"));
            }
            if verifying.contains_key(&key.kid) {
                return Err(JwtConfigError::DuplicateKid(key.kid.clone()));
            }
            let config = KeyConfig {
                kid: key.kid.clone(),
                private_key_pem: key.private_key_pem.clone(),
                public_key_pem: key.public_key_pem.clone(),
            };
            let public = public_key(key.algorithm, &config)?;
            if let Some(private) = &key.private_key_pem
                && !signing.contains_key(key.algorithm.name())
            {
                let encoding = key
                    .algorithm
                    .encoding_key(&key.kid, private.expose_secret().as_bytes())?;
                signing.insert(
                    key.algorithm.name(),
                    (key.kid.clone(), key.algorithm.jwt(), encoding),
                );
                access_algorithm.get_or_insert(key.algorithm.name());
            }
            let jwk = serde_json::to_value(&public.jwk).map_err(|e| bad_key(&key.kid, e))?;
            jwks.push(jwk);
            // What the provider can sign with, not what it merely still verifies.
            if key.private_key_pem.is_some() && !algorithms.contains(&key.algorithm.name()) {
                algorithms.push(key.algorithm.name());
            }
            verifying.insert(key.kid.clone(), (key.algorithm.jwt(), public.decoding));
        }
        // OpenID Connect requires RS256: every client that registered no algorithm gets it.
        if !signing.contains_key("RS256") {
            return Err(JwtConfigError::NoSigningKey(SigningAlgorithm::RS256));
        }
        algorithms.sort_by_key(|a| *a != "RS256");
        Ok(Self {
            signing,
            access_algorithm: access_algorithm.unwrap_or("RS256"),
            verifying,
            jwks,
            algorithms,
        })
    }
}

impl ProviderSigner for ProviderKeys {
    fn sign(
        &self,
        algorithm: &str,
        typ: &'static str,
        claims: &serde_json::Value,
    ) -> Result<String, TokenError> {
        let (kid, alg, key) = self
            .signing
            .get(algorithm)
            .ok_or_else(|| TokenError::Signing(format!("no {algorithm} signing key")))?;
        let mut header = Header::new(*alg);
        header.kid = Some(kid.clone());
        header.typ = Some(typ.to_owned());
        jsonwebtoken::encode(&header, claims, key).map_err(|e| TokenError::Signing(e.to_string()))
    }

    fn verify(
        &self,
        typ: &'static str,
        token: &str,
        verify_exp: bool,
    ) -> Result<serde_json::Value, TokenError> {
        let header = jsonwebtoken::decode_header(token).map_err(|_| TokenError::Invalid)?;
        // The type is part of what was signed: an ID token is no access token (RFC 9068 §4).
        if !header
            .typ
            .as_deref()
            .is_some_and(|t| t.eq_ignore_ascii_case(typ))
        {
            return Err(TokenError::Invalid);
        }
        let kid = header.kid.ok_or(TokenError::Invalid)?;
        let (algorithm, key) = self.verifying.get(&kid).ok_or(TokenError::Invalid)?;
        if header.alg != *algorithm {
            return Err(TokenError::Invalid);
        }
        let mut validation = Validation::new(*algorithm);
        validation.leeway = 5;
        validation.validate_exp = verify_exp;
        validation.validate_aud = false;
        validation.set_required_spec_claims(&["exp", "iat", "sub", "iss"]);
        match jsonwebtoken::decode::<serde_json::Value>(token, key, &validation) {
            Ok(data) => Ok(data.claims),
            Err(e) if matches!(e.kind(), ErrorKind::ExpiredSignature) => Err(TokenError::Expired),
            Err(_) => Err(TokenError::Invalid),
        }
    }

    fn access_token_algorithm(&self) -> &'static str {
        self.access_algorithm
    }

    fn algorithms(&self) -> Vec<&'static str> {
        self.algorithms.clone()
    }

    fn jwks(&self) -> Vec<serde_json::Value> {
        self.jwks.clone()
    }
}
