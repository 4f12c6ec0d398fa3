//! Access-token attacks against a running service, with an asymmetric (EdDSA) deployment too.

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use wxauth_server::config::KeyFileConfig;
use wxauth_testkit::{Backend, TestApp, TestOptions, expect_error};
use wxauth_tokens::SigningAlgorithm;

fn b64(v: &serde_json::Value) -> String {
    URL_SAFE_NO_PAD.encode(serde_json::to_vec(v).unwrap())
}

fn forge(header: serde_json::Value, payload: serde_json::Value, signature: &str) -> String {
    format!("{}.{}.{signature}", b64(&header), b64(&payload))
}

fn payload_of(token: &str) -> serde_json::Value {
    let part = token.split('.').nth(1).unwrap();
    serde_json::from_slice(&URL_SAFE_NO_PAD.decode(part).unwrap()).unwrap()
}

#[tokio::test]
async fn tampered_none_and_wrong_audience_tokens_are_refused() {
    let app = TestApp::spawn(Backend::Sqlite, TestOptions::default()).await;
    let (_, token, _) = app.signed_in_user().await;
    assert_eq!(app.get_auth("/api/v1/me", &token).await.status(), 200);

    let mut payload = payload_of(&token);
    let signature = token.rsplit('.').next().unwrap();
    payload["sub"] = serde_json::json!("00000000-0000-7000-8000-000000000000");
    let tampered = forge(
        serde_json::json!({"alg": "HS256", "typ": "JWT"}),
        payload.clone(),
        signature,
    );
    expect_error(
        app.get_auth("/api/v1/me", &tampered).await,
        401,
        "UNAUTHORIZED",
    )
    .await;

    let none = forge(
        serde_json::json!({"alg": "none", "typ": "JWT"}),
        payload_of(&token),
        "",
    );
    expect_error(app.get_auth("/api/v1/me", &none).await, 401, "UNAUTHORIZED").await;

    let mut wrong_aud = payload_of(&token);
    wrong_aud["aud"] = serde_json::json!("someone-else");
    let key = jsonwebtoken::EncodingKey::from_secret(wxauth_testkit::JWT_SECRET.as_bytes());
    let signed = jsonwebtoken::encode(&jsonwebtoken::Header::default(), &wrong_aud, &key).unwrap();
    expect_error(
        app.get_auth("/api/v1/me", &signed).await,
        401,
        "UNAUTHORIZED",
    )
    .await;

    let mut expired = payload_of(&token);
    expired["exp"] = serde_json::json!(1_000_000_000);
    let signed = jsonwebtoken::encode(&jsonwebtoken::Header::default(), &expired, &key).unwrap();
    let body = expect_error(
        app.get_auth("/api/v1/me", &signed).await,
        401,
        "UNAUTHORIZED",
    )
    .await;
    assert!(body["message"].as_str().unwrap().contains("expired"));
    app.shutdown().await;
}

fn eddsa(kid: &str) -> KeyFileConfig {
    KeyFileConfig {
        kid: kid.into(),
        private_key_pem: Some(
            wxauth_tokens::generate_private_key_pem(SigningAlgorithm::EdDSA).unwrap(),
        ),
        private_key_file: None,
        public_key_pem: None,
        public_key_file: None,
    }
}

#[tokio::test]
async fn an_eddsa_deployment_publishes_its_keys_and_refuses_hs256_confusion() {
    let options = TestOptions::default().customize(|c| {
        c.jwt.algorithm = SigningAlgorithm::EdDSA;
        c.jwt.secret = None;
        c.jwt.keys = vec![eddsa("2026-11")];
    });
    let app = TestApp::spawn(Backend::Sqlite, options).await;
    let (_, token, _) = app.signed_in_user().await;
    assert_eq!(app.get_auth("/api/v1/me", &token).await.status(), 200);
    let jwks: serde_json::Value = app
        .get("/.well-known/jwks.json")
        .await
        .json()
        .await
        .unwrap();
    let key = &jwks["keys"][0];
    assert_eq!(key["kid"], "2026-11");
    assert_eq!(key["alg"], "EdDSA");
    assert!(key.get("d").is_none());

    // HS256 "signed" with the public key as the secret: the classic confusion.
    let public = key["x"].as_str().unwrap();
    let mut header = jsonwebtoken::Header::new(jsonwebtoken::Algorithm::HS256);
    header.kid = Some("2026-11".into());
    let forged = jsonwebtoken::encode(
        &header,
        &payload_of(&token),
        &jsonwebtoken::EncodingKey::from_secret(public.as_bytes()),
    )
    .unwrap();
    expect_error(
        app.get_auth("/api/v1/me", &forged).await,
        401,
        "UNAUTHORIZED",
    )
    .await;
    app.shutdown().await;
}
