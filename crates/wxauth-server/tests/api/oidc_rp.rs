//! Relying parties nobody here wrote, against the real server and the simulator: the Rust
//! `openidconnect` crate in-process, and (spawned) the OpenID-certified `openid-client` for
//! Node and Python's `authlib`. Each discovers the provider by its issuer URL alone.

use openidconnect::core::{
    CoreAuthenticationFlow, CoreClient, CoreProviderMetadata, CoreUserInfoClaims,
};
use openidconnect::{
    AccessTokenHash, AuthorizationCode, ClientId, ClientSecret, CsrfToken, IntrospectionUrl,
    IssuerUrl, Nonce, OAuth2TokenResponse, PkceCodeChallenge, RedirectUrl, RevocationUrl, Scope,
    TokenIntrospectionResponse, TokenResponse,
};
use serde_json::{Value, json};
use wxauth_sim::{NewUser, OAuthConsent};
use wxauth_testkit::{Apps, TestApp, TestOptions, each_backend_with};

const RP: &str = "http://127.0.0.1:9/cb";
const RP_LOGOUT: &str = "http://127.0.0.1:9/bye";
const WECHAT_UA: &str = "Mozilla/5.0 (iPhone) AppleWebKit MicroMessenger/8.0.50 NetType/WIFI";

/// A confidential client behind the test Official Account; (id, secret).
async fn register(app: &TestApp) -> (String, String) {
    let key = app.admin_key().await;
    let res = app
        .client
        .post(app.url("/api/v1/admin/oidc/clients"))
        .header("x-admin-key", key)
        .json(&json!({
            "name": "Third-party library",
            "redirectUris": [RP],
            "postLogoutRedirectUris": [RP_LOGOUT],
            "scopes": "openid profile offline_access",
            "officialAccount": Apps::OA,
            "firstParty": true,
        }))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 201);
    let body: Value = res.json().await.unwrap();
    (
        body["clientId"].as_str().unwrap().to_owned(),
        body["clientSecret"].as_str().unwrap().to_owned(),
    )
}

/// The simulator approves the next Official Account OAuth page as a new user with a nickname.
fn approve_next_wechat_page(app: &TestApp) {
    let openid = app
        .sim
        .state()
        .create_user(NewUser::new(Apps::OA_APPID).nickname("Library User"))
        .unwrap()
        .openid;
    app.sim
        .state()
        .set_consent(Apps::OA_APPID, OAuthConsent::Approve { openid })
        .unwrap();
}

/// WeChat's in-app browser, by hand: follows redirects, keeping the provider's cookies, until
/// the browser is sent to the relying party's redirect URI. Returns that URL.
async fn browse_to_rp(app: &TestApp, start: &str) -> String {
    let mut url = start.to_owned();
    let mut cookies: Vec<String> = Vec::new();
    for _ in 0..10 {
        let mut req = app.client.get(&url).header("user-agent", WECHAT_UA);
        if url.starts_with(app.issuer()) && !cookies.is_empty() {
            req = req.header("cookie", cookies.join("; "));
        }
        let res = req.send().await.unwrap();
        assert_eq!(res.status(), 302, "{url} on {}", app.backend());
        for value in res.headers().get_all("set-cookie") {
            let pair = value
                .to_str()
                .unwrap()
                .split(';')
                .next()
                .unwrap()
                .to_owned();
            cookies.push(pair);
        }
        url = res.headers()["location"].to_str().unwrap().to_owned();
        if url.starts_with(RP) {
            return url;
        }
    }
    panic!("the browser never reached the relying party");
}

#[tokio::test]
async fn the_rust_openidconnect_crate_signs_in_refreshes_introspects_and_revokes() {
    each_backend_with(TestOptions::default().oidc(), async |app| {
        let (id, secret) = register(app).await;
        let http = openidconnect::reqwest::ClientBuilder::new()
            .redirect(openidconnect::reqwest::redirect::Policy::none())
            .build()
            .unwrap();
        let issuer = IssuerUrl::new(app.issuer().to_owned()).unwrap();
        let metadata = CoreProviderMetadata::discover_async(issuer, &http)
            .await
            .expect("discovery by the issuer URL");
        let client = CoreClient::from_provider_metadata(
            metadata,
            ClientId::new(id.clone()),
            Some(ClientSecret::new(secret.clone())),
        )
        .set_redirect_uri(RedirectUrl::new(RP.to_owned()).unwrap())
        .set_introspection_url(
            IntrospectionUrl::new(format!("{}/oidc/introspect", app.issuer())).unwrap(),
        )
        .set_revocation_url(RevocationUrl::new(format!("{}/oidc/revoke", app.issuer())).unwrap());
        // (The crate checks the revocation URL's scheme only when it is used.)

        let (challenge, verifier) = PkceCodeChallenge::new_random_sha256();
        let (url, csrf, nonce) = client
            .authorize_url(
                CoreAuthenticationFlow::AuthorizationCode,
                CsrfToken::new_random,
                Nonce::new_random,
            )
            .add_scope(Scope::new("profile".into()))
            .add_scope(Scope::new("offline_access".into()))
            .set_pkce_challenge(challenge)
            .url();
        approve_next_wechat_page(app);
        let back = url::Url::parse(&browse_to_rp(app, url.as_str()).await).unwrap();
        let query: std::collections::HashMap<_, _> = back.query_pairs().into_owned().collect();
        assert_eq!(&query["state"], csrf.secret());
        assert_eq!(query["iss"], app.issuer());

        let tokens = client
            .exchange_code(AuthorizationCode::new(query["code"].clone()))
            .unwrap()
            .set_pkce_verifier(verifier)
            .request_async(&http)
            .await
            .expect("the code exchange");
        let id_token = tokens.id_token().expect("an ID token");
        let verifier = client.id_token_verifier();
        let claims = id_token
            .claims(&verifier, &nonce)
            .expect("the ID token verifies: signature, issuer, audience, nonce, expiry");
        let at_hash = AccessTokenHash::from_token(
            tokens.access_token(),
            id_token.signing_alg().unwrap(),
            id_token.signing_key(&verifier).unwrap(),
        )
        .unwrap();
        assert_eq!(claims.access_token_hash(), Some(&at_hash));

        let info: CoreUserInfoClaims = client
            .user_info(tokens.access_token().clone(), None)
            .unwrap()
            .request_async(&http)
            .await
            .expect("userinfo");
        assert_eq!(info.subject(), claims.subject());
        let name = info.name().and_then(|n| n.get(None)).map(|n| n.as_str());
        assert_eq!(name, Some("Library User"));

        let refreshed = client
            .exchange_refresh_token(tokens.refresh_token().unwrap())
            .unwrap()
            .request_async(&http)
            .await
            .expect("refresh");
        let introspection = client
            .introspect(refreshed.access_token())
            .request_async(&http)
            .await
            .expect("introspection");
        assert!(introspection.active());
        // The crate refuses a revocation endpoint that is not https (the test issuer is plain
        // http on 127.0.0.1), so this one request goes by hand, as RFC 7009 spells it.
        let res = app
            .client
            .post(format!("{}/oidc/revoke", app.issuer()))
            .basic_auth(&id, Some(secret.as_str()))
            .form(&[(
                "token",
                refreshed.refresh_token().unwrap().secret().as_str(),
            )])
            .send()
            .await
            .unwrap();
        assert_eq!(res.status(), 200);
        let introspection = client
            .introspect(refreshed.access_token())
            .request_async(&http)
            .await
            .unwrap();
        assert!(
            !introspection.active(),
            "revoking the refresh token ended the grant"
        );
    })
    .await;
}

/// The steps both spawned relying parties report, in order.
const RP_STEPS: [&str; 11] = [
    "discovery",
    "authorize",
    "wechat",
    "callback",
    "token",
    "userinfo",
    "refresh",
    "introspect",
    "revoke",
    "introspect_revoked",
    "logout",
];

/// Runs a relying-party program from `crates/wxauth-server/tests/rp` against the app, after
/// `.ci/rp-deps` installed what it needs (quick once done; it locks, so tests may share it).
async fn run_rp(app: &TestApp, program: &'static [&'static str]) -> Value {
    let root = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../..");
    let (id, secret) = register(app).await;
    approve_next_wechat_page(app);
    let issuer = app.issuer().to_owned();
    let output = tokio::task::spawn_blocking(move || {
        let deps = std::process::Command::new("bash")
            .arg(".ci/rp-deps")
            .current_dir(&root)
            .output()
            .expect("bash");
        assert!(
            deps.status.success(),
            ".ci/rp-deps failed: {}",
            String::from_utf8_lossy(&deps.stderr)
        );
        std::process::Command::new(program[0])
            .args(&program[1..])
            .current_dir(&root)
            .env("ISSUER", issuer)
            .env("CLIENT_ID", id)
            .env("CLIENT_SECRET", secret)
            .env("REDIRECT_URI", RP)
            .env("POST_LOGOUT_REDIRECT_URI", RP_LOGOUT)
            .env("WECHAT_UA", WECHAT_UA)
            .output()
            .expect("the relying party starts")
    })
    .await
    .unwrap();
    let stdout = String::from_utf8_lossy(&output.stdout);
    assert!(
        output.status.success(),
        "{} failed on {}:\n{}\n{}",
        program.join(" "),
        app.backend(),
        stdout,
        String::from_utf8_lossy(&output.stderr)
    );
    let report: Value = serde_json::from_str(stdout.lines().last().unwrap_or_default())
        .unwrap_or_else(|e| panic!("{e}: {stdout}"));
    assert_eq!(report["ok"], true);
    assert_eq!(report["steps"], json!(RP_STEPS));
    report
}

#[tokio::test]
async fn node_openid_client_signs_in_through_wechat_and_does_everything_else() {
    each_backend_with(TestOptions::default().oidc(), async |app| {
        run_rp(
            app,
            &["node", "crates/wxauth-server/tests/rp/openid-client/rp.mjs"],
        )
        .await;
    })
    .await;
}

#[tokio::test]
async fn python_authlib_signs_in_through_wechat_and_does_everything_else() {
    each_backend_with(TestOptions::default().oidc(), async |app| {
        run_rp(
            app,
            &[
                "crates/wxauth-server/tests/rp/.venv/bin/python",
                "crates/wxauth-server/tests/rp/authlib_rp.py",
            ],
        )
        .await;
    })
    .await;
}
