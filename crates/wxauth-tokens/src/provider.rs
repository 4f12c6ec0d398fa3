//! The OpenID provider's keys: the adapter behind `wxauth-core`'s `ProviderSigner` port.
//!
//! Always asymmetric, whatever the service's own access tokens use: relying parties verify ID
//! tokens against the JWK Set and must never hold a key that could sign them. The first RS256
//! key with a private part signs (OpenID Connect requires RS256 support); every configured key
//! verifies by `kid` and is published, so a retired key keeps verifying until its last token
//! expires.

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
    algorithm: Algorithm,
    kid: String,
    encoding: EncodingKey,
    verifying: HashMap<String, (Algorithm, DecodingKey)>,
    jwks: Vec<serde_json::Value>,
    algorithms: Vec<&'static str>,
}

impl std::fmt::Debug for ProviderKeys {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ProviderKeys")
            .field("signing_kid", &self.kid)
            .field("kids", &self.verifying.keys().collect::<Vec<_>>())
            .finish_non_exhaustive()
    }
}

impl ProviderKeys {
    pub fn new(keys: &[ProviderKeyConfig]) -> Result<Self, JwtConfigError> {
        let mut signing = None;
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
            if let (None, SigningAlgorithm::RS256, Some(private)) =
                (&signing, key.algorithm, &key.private_key_pem)
            {
                let encoding = key
                    .algorithm
                    .encoding_key(&key.kid, private.expose_secret().as_bytes())?;
                signing = Some((encoding, key.kid.clone()));
            }
            let jwk = serde_json::to_value(&public.jwk).map_err(|e| bad_key(&key.kid, e))?;
            jwks.push(jwk);
            if !algorithms.contains(&key.algorithm.name()) {
                algorithms.push(key.algorithm.name());
            }
            verifying.insert(key.kid.clone(), (key.algorithm.jwt(), public.decoding));
        }
        let (encoding, kid) =
            signing.ok_or(JwtConfigError::NoSigningKey(SigningAlgorithm::RS256))?;
        Ok(Self {
            algorithm: Algorithm::RS256,
            kid,
            encoding,
            verifying,
            jwks,
            algorithms,
        })
    }
}

impl ProviderSigner for ProviderKeys {
    fn sign(&self, typ: &'static str, claims: &serde_json::Value) -> Result<String, TokenError> {
        let mut header = Header::new(self.algorithm);
        header.kid = Some(self.kid.clone());
        header.typ = Some(typ.to_owned());
        jsonwebtoken::encode(&header, claims, &self.encoding)
            .map_err(|e| TokenError::Signing(e.to_string()))
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

    fn algorithm(&self) -> &'static str {
        "RS256"
    }

    fn algorithms(&self) -> Vec<&'static str> {
        self.algorithms.clone()
    }

    fn jwks(&self) -> Vec<serde_json::Value> {
        self.jwks.clone()
    }
}
