//! JWT access tokens for wxauth: the adapter behind `wxauth-core`'s `AccessTokenSigner` port.
//!
//! HS256 with a shared secret, or ES256 / EdDSA with key pairs. With key pairs, the first key
//! that has a private part signs; every configured key verifies (by `kid`), so a rotated-out key
//! keeps its tokens valid until they expire, and [`JwtSigner::jwks`] publishes all public keys.
//!
//! Verification pins the algorithm: a token whose header names another one (`none`, or HS256
//! signed with an ES256 public key) is refused before any signature check.

use std::collections::HashMap;

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use jsonwebtoken::jwk::{
    AlgorithmParameters, CommonParameters, EllipticCurve, EllipticCurveKeyParameters,
    EllipticCurveKeyType, Jwk, JwkSet, KeyAlgorithm, OctetKeyPairParameters, OctetKeyPairType,
    PublicKeyUse, RSAKeyParameters, RSAKeyType,
};
use jsonwebtoken::{Algorithm, DecodingKey, EncodingKey, Header, Validation, errors::ErrorKind};
use rand::Rng;
use secrecy::{ExposeSecret, SecretString};
use serde::{Deserialize, Serialize};
use wxauth_core::ports::{AccessClaims, AccessTokenSigner, TokenError};

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum SigningAlgorithm {
    HS256,
    RS256,
    ES256,
    EdDSA,
}

impl SigningAlgorithm {
    fn jwt(self) -> Algorithm {
        match self {
            Self::HS256 => Algorithm::HS256,
            Self::RS256 => Algorithm::RS256,
            Self::ES256 => Algorithm::ES256,
            Self::EdDSA => Algorithm::EdDSA,
        }
    }

    pub fn name(self) -> &'static str {
        match self {
            Self::HS256 => "HS256",
            Self::RS256 => "RS256",
            Self::ES256 => "ES256",
            Self::EdDSA => "EdDSA",
        }
    }

    fn encoding_key(self, kid: &str, pem: &[u8]) -> Result<EncodingKey, JwtConfigError> {
        match self {
            Self::RS256 => EncodingKey::from_rsa_pem(pem),
            Self::ES256 => EncodingKey::from_ec_pem(pem),
            Self::EdDSA => EncodingKey::from_ed_pem(pem),
            Self::HS256 => return Err(bad_key(kid, "HS256 uses jwt.secret, not keys")),
        }
        .map_err(|e| bad_key(kid, e))
    }
}

/// One asymmetric key. The private part is optional: keys kept only to verify old tokens
/// carry just their public part.
#[derive(Clone, Serialize, Deserialize)]
pub struct KeyConfig {
    pub kid: String,
    #[serde(default, skip_serializing)]
    pub private_key_pem: Option<SecretString>,
    #[serde(default)]
    pub public_key_pem: Option<String>,
}

impl std::fmt::Debug for KeyConfig {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("KeyConfig")
            .field("kid", &self.kid)
            .field(
                "private_key_pem",
                &self.private_key_pem.as_ref().map(|_| "[REDACTED]"),
            )
            .field("public_key_pem", &self.public_key_pem.is_some())
            .finish()
    }
}

#[derive(Debug, Clone)]
pub struct JwtConfig {
    pub issuer: String,
    pub audience: String,
    pub algorithm: SigningAlgorithm,
    /// HS256 only: at least 32 bytes.
    pub secret: Option<SecretString>,
    /// ES256 / EdDSA: the signing key first, then older keys still accepted.
    pub keys: Vec<KeyConfig>,
}

#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum JwtConfigError {
    #[error("jwt.secret is required for HS256 and must be at least 32 bytes")]
    WeakSecret,
    #[error("jwt.keys must hold at least one key with a private_key_pem for {0:?}")]
    NoSigningKey(SigningAlgorithm),
    #[error("jwt.keys[{kid}]: {reason}")]
    BadKey { kid: String, reason: String },
    #[error("jwt.keys: kid {0:?} appears twice")]
    DuplicateKid(String),
}

pub(crate) struct PublicKey {
    pub(crate) decoding: DecodingKey,
    pub(crate) jwk: Jwk,
}

pub struct JwtSigner {
    algorithm: Algorithm,
    signing_kid: Option<String>,
    encoding: EncodingKey,
    /// HS256: the single shared key under kid "". Asymmetric: every key by kid.
    decoding: HashMap<String, DecodingKey>,
    jwks: Option<serde_json::Value>,
    validation: Validation,
    issuer: String,
    audience: String,
}

impl std::fmt::Debug for JwtSigner {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("JwtSigner")
            .field("algorithm", &self.algorithm)
            .field("signing_kid", &self.signing_kid)
            .field("kids", &self.decoding.keys().collect::<Vec<_>>())
            .finish_non_exhaustive()
    }
}

/// The claims on the wire: wxauth's plus the registered issuer and audience.
#[derive(Serialize, Deserialize)]
struct WireClaims {
    iss: String,
    aud: String,
    #[serde(flatten)]
    claims: AccessClaims,
}

pub(crate) fn bad_key(kid: &str, reason: impl ToString) -> JwtConfigError {
    JwtConfigError::BadKey {
        kid: kid.to_owned(),
        reason: reason.to_string(),
    }
}

impl JwtSigner {
    pub fn new(config: &JwtConfig) -> Result<Self, JwtConfigError> {
        let algorithm = config.algorithm.jwt();
        let mut validation = Validation::new(algorithm);
        validation.set_issuer(&[&config.issuer]);
        validation.set_audience(&[&config.audience]);
        validation.leeway = 5;
        validation.set_required_spec_claims(&["exp", "iat", "sub", "iss", "aud"]);

        let (encoding, signing_kid, decoding, jwks) = match config.algorithm {
            SigningAlgorithm::HS256 => {
                let secret = config.secret.as_ref().ok_or(JwtConfigError::WeakSecret)?;
                let bytes = secret.expose_secret().as_bytes();
                if bytes.len() < 32 {
                    return Err(JwtConfigError::WeakSecret);
                }
                let decoding = HashMap::from([(String::new(), DecodingKey::from_secret(bytes))]);
                (EncodingKey::from_secret(bytes), None, decoding, None)
            }
            alg => {
                let mut signing = None;
                let mut decoding = HashMap::new();
                let mut jwk_list = Vec::new();
                for key in &config.keys {
                    if key.kid.is_empty() || key.kid.len() > 64 {
                        return Err(bad_key(&key.kid, "kid must be 1 to 64 characters"));
                    }
                    if decoding.contains_key(&key.kid) {
                        return Err(JwtConfigError::DuplicateKid(key.kid.clone()));
                    }
                    let public = public_key(alg, key)?;
                    if let (None, Some(private)) = (&signing, &key.private_key_pem) {
                        let pem = private.expose_secret().as_bytes();
                        let enc = alg.encoding_key(&key.kid, pem)?;
                        signing = Some((enc, key.kid.clone()));
                    }
                    decoding.insert(key.kid.clone(), public.decoding);
                    jwk_list.push(public.jwk);
                }
                let (encoding, kid) = signing.ok_or(JwtConfigError::NoSigningKey(alg))?;
                let jwks = serde_json::to_value(JwkSet { keys: jwk_list })
                    .map_err(|e| bad_key(&kid, e))?;
                (encoding, Some(kid), decoding, Some(jwks))
            }
        };
        Ok(Self {
            algorithm,
            signing_kid,
            encoding,
            decoding,
            jwks,
            validation,
            issuer: config.issuer.clone(),
            audience: config.audience.clone(),
        })
    }
}

/// Derives the public key (for verification and the JWK Set) from the private or public PEM.
pub(crate) fn public_key(
    alg: SigningAlgorithm,
    key: &KeyConfig,
) -> Result<PublicKey, JwtConfigError> {
    use ed25519_dalek::pkcs8::{DecodePrivateKey as _, DecodePublicKey as _};
    let kid = &key.kid;
    let private = key
        .private_key_pem
        .as_ref()
        .map(|p| p.expose_secret().to_owned());
    match alg {
        SigningAlgorithm::RS256 => {
            use rsa::pkcs8::{DecodePrivateKey as _, DecodePublicKey as _};
            use rsa::traits::PublicKeyParts as _;
            let public = match (&private, &key.public_key_pem) {
                (Some(pem), _) => rsa::RsaPrivateKey::from_pkcs8_pem(pem)
                    .map_err(|e| bad_key(kid, format!("private key: {e}")))?
                    .to_public_key(),
                (None, Some(pem)) => rsa::RsaPublicKey::from_public_key_pem(pem)
                    .map_err(|e| bad_key(kid, format!("public key: {e}")))?,
                (None, None) => return Err(bad_key(kid, "needs a private or public key")),
            };
            if public.size() < 256 {
                return Err(bad_key(kid, "RSA keys must have at least 2048 bits"));
            }
            let params = AlgorithmParameters::RSA(RSAKeyParameters {
                key_type: RSAKeyType::RSA,
                n: URL_SAFE_NO_PAD.encode(public.n().to_bytes_be()),
                e: URL_SAFE_NO_PAD.encode(public.e().to_bytes_be()),
            });
            verification_key(kid, KeyAlgorithm::RS256, params)
        }
        SigningAlgorithm::ES256 => {
            let public = match (&private, &key.public_key_pem) {
                (Some(pem), _) => p256::SecretKey::from_pkcs8_pem(pem)
                    .map_err(|e| bad_key(kid, format!("private key: {e}")))?
                    .public_key(),
                (None, Some(pem)) => p256::PublicKey::from_public_key_pem(pem)
                    .map_err(|e| bad_key(kid, format!("public key: {e}")))?,
                (None, None) => return Err(bad_key(kid, "needs a private or public key")),
            };
            use p256::elliptic_curve::sec1::ToEncodedPoint;
            let point = public.to_encoded_point(false);
            let (Some(x), Some(y)) = (point.x(), point.y()) else {
                return Err(bad_key(kid, "not a valid P-256 point"));
            };
            let params = AlgorithmParameters::EllipticCurve(EllipticCurveKeyParameters {
                key_type: EllipticCurveKeyType::EC,
                curve: EllipticCurve::P256,
                x: URL_SAFE_NO_PAD.encode(x),
                y: URL_SAFE_NO_PAD.encode(y),
            });
            verification_key(kid, KeyAlgorithm::ES256, params)
        }
        SigningAlgorithm::EdDSA => {
            let public = match (&private, &key.public_key_pem) {
                (Some(pem), _) => ed25519_dalek::SigningKey::from_pkcs8_pem(pem)
                    .map_err(|e| bad_key(kid, format!("private key: {e}")))?
                    .verifying_key(),
                (None, Some(pem)) => ed25519_dalek::VerifyingKey::from_public_key_pem(pem)
                    .map_err(|e| bad_key(kid, format!("public key: {e}")))?,
                (None, None) => return Err(bad_key(kid, "needs a private or public key")),
            };
            let params = AlgorithmParameters::OctetKeyPair(OctetKeyPairParameters {
                key_type: OctetKeyPairType::OctetKeyPair,
                curve: EllipticCurve::Ed25519,
                x: URL_SAFE_NO_PAD.encode(public.as_bytes()),
            });
            verification_key(kid, KeyAlgorithm::EdDSA, params)
        }
        SigningAlgorithm::HS256 => Err(bad_key(kid, "HS256 uses jwt.secret, not keys")),
    }
}

/// The JWK of a public key, and the verification key made from that very JWK: what the JWK Set
/// publishes is what verification uses.
fn verification_key(
    kid: &str,
    alg: KeyAlgorithm,
    params: AlgorithmParameters,
) -> Result<PublicKey, JwtConfigError> {
    let jwk = Jwk {
        common: CommonParameters {
            public_key_use: Some(PublicKeyUse::Signature),
            key_algorithm: Some(alg),
            key_id: Some(kid.to_owned()),
            ..Default::default()
        },
        algorithm: params,
    };
    let decoding = DecodingKey::from_jwk(&jwk).map_err(|e| bad_key(kid, e))?;
    Ok(PublicKey { decoding, jwk })
}

impl AccessTokenSigner for JwtSigner {
    fn sign(&self, claims: &AccessClaims) -> Result<String, TokenError> {
        let mut header = Header::new(self.algorithm);
        header.kid = self.signing_kid.clone();
        let wire = WireClaims {
            iss: self.issuer.clone(),
            aud: self.audience.clone(),
            claims: claims.clone(),
        };
        jsonwebtoken::encode(&header, &wire, &self.encoding)
            .map_err(|e| TokenError::Signing(e.to_string()))
    }

    fn verify(&self, token: &str) -> Result<AccessClaims, TokenError> {
        let header = jsonwebtoken::decode_header(token).map_err(|_| TokenError::Invalid)?;
        if header.alg != self.algorithm {
            return Err(TokenError::Invalid);
        }
        let kid = if self.signing_kid.is_some() {
            header.kid.unwrap_or_default()
        } else {
            String::new()
        };
        let key = self.decoding.get(&kid).ok_or(TokenError::Invalid)?;
        match jsonwebtoken::decode::<WireClaims>(token, key, &self.validation) {
            Ok(data) => Ok(data.claims.claims),
            Err(e) if matches!(e.kind(), ErrorKind::ExpiredSignature) => Err(TokenError::Expired),
            Err(_) => Err(TokenError::Invalid),
        }
    }

    fn jwks(&self) -> Option<serde_json::Value> {
        self.jwks.clone()
    }
}

/// A new private key in PKCS#8 PEM, for `wxauth-server keys generate`.
pub fn generate_private_key_pem(alg: SigningAlgorithm) -> Result<SecretString, String> {
    use ed25519_dalek::pkcs8::EncodePrivateKey as _;
    use ed25519_dalek::pkcs8::spki::der::pem::LineEnding;
    match alg {
        SigningAlgorithm::RS256 => {
            use rsa::pkcs8::EncodePrivateKey as _;
            let key = rsa::RsaPrivateKey::new(&mut rsa::rand_core::OsRng, 2048)
                .map_err(|e| e.to_string())?;
            let pem = key
                .to_pkcs8_pem(rsa::pkcs8::LineEnding::LF)
                .map_err(|e| e.to_string())?;
            Ok(SecretString::from(pem.to_string()))
        }
        SigningAlgorithm::ES256 => loop {
            let mut bytes = [0u8; 32];
            rand::rng().fill(&mut bytes);
            // A random 32-byte string is a valid P-256 scalar with overwhelming probability.
            if let Ok(key) = p256::SecretKey::from_slice(&bytes) {
                let pem = key
                    .to_pkcs8_pem(LineEnding::LF)
                    .map_err(|e| e.to_string())?;
                return Ok(SecretString::from(pem.to_string()));
            }
        },
        SigningAlgorithm::EdDSA => {
            let mut bytes = [0u8; 32];
            rand::rng().fill(&mut bytes);
            let key = ed25519_dalek::SigningKey::from_bytes(&bytes);
            let pem = key
                .to_pkcs8_pem(LineEnding::LF)
                .map_err(|e| e.to_string())?;
            Ok(SecretString::from(pem.to_string()))
        }
        SigningAlgorithm::HS256 => {
            let mut bytes = [0u8; 48];
            rand::rng().fill(&mut bytes);
            Ok(SecretString::from(URL_SAFE_NO_PAD.encode(bytes)))
        }
    }
}

mod provider;
pub use provider::{ProviderKeyConfig, ProviderKeys};

#[cfg(test)]
mod tests;
