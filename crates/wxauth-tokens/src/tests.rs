use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use wxauth_domain::PublicUserId;

use super::*;

fn claims(exp_in: i64) -> AccessClaims {
    let now = current_unix();
    AccessClaims {
        sub: PublicUserId::new_random(),
        app: None,
        sid: Some("s1".into()),
        iat: now,
        exp: now + exp_in,
        jti: "j1".into(),
    }
}

fn current_unix() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_secs() as i64)
        .unwrap_or(0)
}

fn hs(secret: &str) -> JwtSigner {
    JwtSigner::new(&JwtConfig {
        issuer: "wxauth".into(),
        audience: "clients".into(),
        algorithm: SigningAlgorithm::HS256,
        secret: Some(SecretString::from(secret.to_owned())),
        keys: vec![],
    })
    .unwrap()
}

fn asym(alg: SigningAlgorithm, keys: Vec<KeyConfig>) -> JwtSigner {
    JwtSigner::new(&JwtConfig {
        issuer: "wxauth".into(),
        audience: "clients".into(),
        algorithm: alg,
        secret: None,
        keys,
    })
    .unwrap()
}

fn key(kid: &str, alg: SigningAlgorithm) -> KeyConfig {
    KeyConfig {
        kid: kid.into(),
        private_key_pem: Some(generate_private_key_pem(alg).unwrap()),
        public_key_pem: None,
    }
}

const SECRET: &str = "0123456789abcdef0123456789abcdef-test";

#[test]
fn hs256_tokens_round_trip() {
    let s = hs(SECRET);
    let c = claims(900);
    let token = s.sign(&c).unwrap();
    assert_eq!(s.verify(&token).unwrap(), c);
    assert!(s.jwks().is_none());
}

#[test]
fn expired_tokens_are_refused_as_expired() {
    let s = hs(SECRET);
    let token = s.sign(&claims(-60)).unwrap();
    assert_eq!(s.verify(&token), Err(TokenError::Expired));
}

#[test]
fn tampered_tokens_are_refused() {
    let s = hs(SECRET);
    let token = s.sign(&claims(900)).unwrap();
    let mut parts: Vec<String> = token.split('.').map(str::to_owned).collect();
    let mut payload: serde_json::Value =
        serde_json::from_slice(&URL_SAFE_NO_PAD.decode(&parts[1]).unwrap()).unwrap();
    payload["sub"] = serde_json::json!(PublicUserId::new_random().to_string());
    parts[1] = URL_SAFE_NO_PAD.encode(serde_json::to_vec(&payload).unwrap());
    assert_eq!(s.verify(&parts.join(".")), Err(TokenError::Invalid));
    assert_eq!(s.verify("not.a.token"), Err(TokenError::Invalid));
    assert_eq!(s.verify(""), Err(TokenError::Invalid));
}

#[test]
fn another_secret_or_audience_or_issuer_is_refused() {
    let token = hs(SECRET).sign(&claims(900)).unwrap();
    assert_eq!(
        hs("another-secret-that-is-long-enough-000").verify(&token),
        Err(TokenError::Invalid)
    );
    let other_aud = JwtSigner::new(&JwtConfig {
        issuer: "wxauth".into(),
        audience: "someone-else".into(),
        algorithm: SigningAlgorithm::HS256,
        secret: Some(SecretString::from(SECRET)),
        keys: vec![],
    })
    .unwrap();
    assert_eq!(other_aud.verify(&token), Err(TokenError::Invalid));
    let other_iss = JwtSigner::new(&JwtConfig {
        issuer: "evil".into(),
        audience: "clients".into(),
        algorithm: SigningAlgorithm::HS256,
        secret: Some(SecretString::from(SECRET)),
        keys: vec![],
    })
    .unwrap();
    assert_eq!(other_iss.verify(&token), Err(TokenError::Invalid));
}

#[test]
fn alg_none_is_refused() {
    let s = hs(SECRET);
    let header = URL_SAFE_NO_PAD.encode(br#"{"alg":"none","typ":"JWT"}"#);
    let body = serde_json::json!({
        "iss": "wxauth", "aud": "clients", "sub": PublicUserId::new_random().to_string(),
        "iat": current_unix(), "exp": current_unix() + 900, "jti": "x"
    });
    let body = URL_SAFE_NO_PAD.encode(serde_json::to_vec(&body).unwrap());
    assert_eq!(
        s.verify(&format!("{header}.{body}.")),
        Err(TokenError::Invalid)
    );
}

#[test]
fn hs256_signed_with_the_public_key_is_refused_by_an_es256_signer() {
    // The classic confusion attack: sign HS256 using the (public) key material as the secret.
    let es = asym(
        SigningAlgorithm::ES256,
        vec![key("k1", SigningAlgorithm::ES256)],
    );
    let jwks = es.jwks().unwrap();
    let x = jwks["keys"][0]["x"].as_str().unwrap().to_owned();
    let mut header = Header::new(Algorithm::HS256);
    header.kid = Some("k1".into());
    let wire = WireClaims {
        iss: "wxauth".into(),
        aud: "clients".into(),
        claims: claims(900),
    };
    let forged =
        jsonwebtoken::encode(&header, &wire, &EncodingKey::from_secret(x.as_bytes())).unwrap();
    assert_eq!(es.verify(&forged), Err(TokenError::Invalid));
    // And an HS256 service refuses an ES256 token.
    let es_token = es.sign(&claims(900)).unwrap();
    assert_eq!(hs(SECRET).verify(&es_token), Err(TokenError::Invalid));
}

#[test]
fn es256_and_eddsa_sign_with_a_kid_and_publish_jwks() {
    for alg in [SigningAlgorithm::ES256, SigningAlgorithm::EdDSA] {
        let s = asym(alg, vec![key("2026-11", alg)]);
        let c = claims(900);
        let token = s.sign(&c).unwrap();
        assert_eq!(
            jsonwebtoken::decode_header(&token).unwrap().kid.as_deref(),
            Some("2026-11")
        );
        assert_eq!(s.verify(&token).unwrap(), c, "{alg:?}");
        let jwks = s.jwks().unwrap();
        assert_eq!(jwks["keys"][0]["kid"], "2026-11");
        assert!(
            jwks["keys"][0].get("d").is_none(),
            "no private part in the JWK Set"
        );
        // A verifier built from the published JWK alone accepts the token.
        let jwk: jsonwebtoken::jwk::Jwk = serde_json::from_value(jwks["keys"][0].clone()).unwrap();
        let mut v = Validation::new(alg.jwt());
        v.set_audience(&["clients"]);
        assert!(
            jsonwebtoken::decode::<serde_json::Value>(
                &token,
                &DecodingKey::from_jwk(&jwk).unwrap(),
                &v
            )
            .is_ok()
        );
    }
}

#[test]
fn rotation_keeps_tokens_of_the_previous_key_valid() {
    let alg = SigningAlgorithm::ES256;
    let old = key("old", alg);
    let before = asym(alg, vec![old.clone()]);
    let old_token = before.sign(&claims(900)).unwrap();

    // The new key signs; the old one stays, public part only.
    let old_public_only = KeyConfig {
        kid: "old".into(),
        private_key_pem: None,
        public_key_pem: Some(public_pem(&old)),
    };
    let after = asym(alg, vec![key("new", alg), old_public_only]);
    assert!(after.verify(&old_token).is_ok());
    let new_token = after.sign(&claims(900)).unwrap();
    assert_eq!(
        jsonwebtoken::decode_header(&new_token)
            .unwrap()
            .kid
            .as_deref(),
        Some("new")
    );
    assert_eq!(after.jwks().unwrap()["keys"].as_array().unwrap().len(), 2);
    // Once the old key is dropped, its tokens stop verifying.
    let later = asym(alg, vec![key("new2", alg)]);
    assert_eq!(later.verify(&old_token), Err(TokenError::Invalid));
}

fn public_pem(k: &KeyConfig) -> String {
    use p256::pkcs8::{DecodePrivateKey, EncodePublicKey, LineEnding};
    let sk = p256::SecretKey::from_pkcs8_pem(k.private_key_pem.as_ref().unwrap().expose_secret())
        .unwrap();
    sk.public_key().to_public_key_pem(LineEnding::LF).unwrap()
}

#[test]
fn configuration_mistakes_are_named() {
    let weak = JwtSigner::new(&JwtConfig {
        issuer: "i".into(),
        audience: "a".into(),
        algorithm: SigningAlgorithm::HS256,
        secret: Some(SecretString::from("short")),
        keys: vec![],
    });
    assert_eq!(weak.err(), Some(JwtConfigError::WeakSecret));
    let no_key = JwtSigner::new(&JwtConfig {
        issuer: "i".into(),
        audience: "a".into(),
        algorithm: SigningAlgorithm::EdDSA,
        secret: None,
        keys: vec![],
    });
    assert_eq!(
        no_key.err(),
        Some(JwtConfigError::NoSigningKey(SigningAlgorithm::EdDSA))
    );
    let garbage = JwtSigner::new(&JwtConfig {
        issuer: "i".into(),
        audience: "a".into(),
        algorithm: SigningAlgorithm::ES256,
        secret: None,
        keys: vec![KeyConfig {
            kid: "k".into(),
            private_key_pem: Some(SecretString::from("-----BEGIN nonsense")),
            public_key_pem: None,
        }],
    });
    assert!(matches!(garbage.err(), Some(JwtConfigError::BadKey { .. })));
}

#[test]
fn debug_output_hides_private_keys() {
    let k = key("k", SigningAlgorithm::EdDSA);
    assert!(!format!("{k:?}").contains("PRIVATE KEY"));
}
