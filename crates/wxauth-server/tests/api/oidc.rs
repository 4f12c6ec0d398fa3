//! wxauth as an OpenID provider, over HTTP, on every backend: discovery, the code flow inside
//! WeChat with PKCE, single sign-on, consent, the token endpoint's grants and errors,
//! userinfo, introspection, revocation, logout, and the RFC 9700 attacks.

use std::collections::HashMap;

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use jsonwebtoken::{Algorithm, DecodingKey, Validation};
use reqwest::Response;
use serde_json::{Value, json};
use sha2::{Digest, Sha256};
use wxauth_sim::{NewUser, OAuthConsent};
use wxauth_testkit::{Apps, TestApp, TestOptions, each_backend_with};

const RP: &str = "https://rp.example.com/cb";
const RP_LOGOUT: &str = "https://rp.example.com/bye";
const WECHAT_UA: &str = "Mozilla/5.0 (iPhone) AppleWebKit MicroMessenger/8.0.50 NetType/WIFI";
const VERIFIER: &str = "dBjftJeZ4CVP-mB92K27uhbUJU1p1r_wW1gFWFOEjXk0123456789";

fn oidc() -> TestOptions {
    TestOptions::default().oidc()
}

fn challenge(verifier: &str) -> String {
    URL_SAFE_NO_PAD.encode(Sha256::digest(verifier.as_bytes()))
}

fn query_of(location: &str) -> HashMap<String, String> {
    url::Url::parse(location)
        .unwrap()
        .query_pairs()
        .into_owned()
        .collect()
}

fn location(res: &Response) -> String {
    res.headers()["location"].to_str().unwrap().to_owned()
}

fn session_cookie(res: &Response) -> Option<String> {
    res.headers()
        .get_all("set-cookie")
        .iter()
        .filter_map(|v| v.to_str().ok())
        .find(|v| v.starts_with("wxauth_session=") && !v.starts_with("wxauth_session=;"))
        .map(|v| v.split(';').next().unwrap().to_owned())
}

struct Client {
    id: String,
    secret: Option<String>,
}

async fn client(app: &TestApp, body: Value) -> Client {
    let key = app.admin_key().await;
    let res = app
        .client
        .post(app.url("/api/v1/admin/oidc/clients"))
        .header("x-admin-key", key)
        .json(&body)
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 201, "create client on {}", app.backend());
    let body: Value = res.json().await.unwrap();
    Client {
        id: body["clientId"].as_str().unwrap().to_owned(),
        secret: body["clientSecret"].as_str().map(str::to_owned),
    }
}

async fn confidential(app: &TestApp, first_party: bool) -> Client {
    client(
        app,
        json!({
            "name": "Relying Party",
            "redirectUris": [RP],
            "postLogoutRedirectUris": [RP_LOGOUT],
            "scopes": "openid profile phone offline_access unionid",
            "officialAccount": Apps::OA,
            "website": Apps::WEB,
            "miniProgram": Apps::MP,
            "firstParty": first_party,
        }),
    )
    .await
}

fn authorize_path(client: &Client, extra: &str) -> String {
    scoped_authorize_path(client, "openid offline_access", extra)
}

fn scoped_authorize_path(client: &Client, scope: &str, extra: &str) -> String {
    format!(
        "/oidc/authorize?client_id={}&redirect_uri={}&response_type=code&scope={}&state=st-1&nonce=n-1&code_challenge={}&code_challenge_method=S256{extra}",
        client.id,
        urlencode(RP),
        urlencode(scope),
        challenge(VERIFIER),
    )
}

fn urlencode(s: &str) -> String {
    url::form_urlencoded::byte_serialize(s.as_bytes()).collect()
}

async fn browse(app: &TestApp, path: &str, cookie: Option<&str>, wechat: bool) -> Response {
    let mut req = app.client.get(app.url(path));
    if wechat {
        req = req.header("user-agent", WECHAT_UA);
    }
    if let Some(cookie) = cookie {
        req = req.header("cookie", cookie);
    }
    req.send().await.unwrap()
}

/// The cookie that marks this browser as the one that started a sign-in request.
fn request_cookie(res: &Response) -> String {
    res.headers()
        .get_all("set-cookie")
        .iter()
        .filter_map(|v| v.to_str().ok())
        .find(|v| v.starts_with("wxauth_req_"))
        .map(|v| v.split(';').next().unwrap().to_owned())
        .expect("the authorize answer binds the request to the browser")
}

/// The in-WeChat round trip: authorize → WeChat's page (the simulator approves as `openid`) →
/// the callback. Returns the callback's answer (a redirect to the client, or to consent).
async fn through_wechat(app: &TestApp, path: &str, openid: &str) -> Response {
    let (res, _) = through_wechat_bound(app, path, openid).await;
    res
}

/// [`through_wechat`], with the request's binding cookie.
async fn through_wechat_bound(app: &TestApp, path: &str, openid: &str) -> (Response, String) {
    let res = browse(app, path, None, true).await;
    assert_eq!(res.status(), 302, "authorize on {}", app.backend());
    let bound = request_cookie(&res);
    let to_wechat = location(&res);
    assert!(
        to_wechat.contains("/connect/oauth2/authorize?"),
        "{to_wechat}"
    );
    assert!(to_wechat.contains("scope=snsapi_base"), "{to_wechat}");
    app.sim
        .state()
        .set_consent(
            Apps::OA_APPID,
            OAuthConsent::Approve {
                openid: openid.into(),
            },
        )
        .unwrap();
    let res = app.client.get(&to_wechat).send().await.unwrap();
    assert_eq!(res.status(), 302);
    let back = location(&res);
    let callback = back
        .strip_prefix(app.issuer())
        .unwrap_or_else(|| panic!("WeChat returns to the issuer's callback: {back}"));
    assert!(callback.starts_with("/oidc/callback?"), "{callback}");
    // Another browser, without the binding cookie, cannot finish it.
    let res = browse(app, callback, None, true).await;
    assert_eq!(
        res.status(),
        400,
        "a callback in another browser is refused"
    );
    (browse(app, callback, Some(&bound), true).await, bound)
}

fn oa_user(app: &TestApp) -> String {
    app.sim
        .state()
        .create_user(NewUser::new(Apps::OA_APPID).nickname("Web User"))
        .unwrap()
        .openid
}

async fn token(app: &TestApp, client: &Client, form: &[(&str, &str)]) -> Response {
    let mut req = app.client.post(app.url("/oidc/token")).form(form);
    if let Some(secret) = &client.secret {
        req = req.basic_auth(&client.id, Some(secret));
    }
    req.send().await.unwrap()
}

async fn redeem(app: &TestApp, client: &Client, code: &str) -> Response {
    token(
        app,
        client,
        &[
            ("grant_type", "authorization_code"),
            ("code", code),
            ("redirect_uri", RP),
            ("code_verifier", VERIFIER),
        ],
    )
    .await
}

async fn jwks(app: &TestApp) -> Value {
    app.get("/.well-known/jwks.json")
        .await
        .json()
        .await
        .unwrap()
}

/// Verifies a JWT against the JWK Set, as a relying party would.
async fn verify(app: &TestApp, jwt: &str, audience: &str) -> Value {
    let header = jsonwebtoken::decode_header(jwt).unwrap();
    let set = jwks(app).await;
    let jwk = set["keys"]
        .as_array()
        .unwrap()
        .iter()
        .find(|k| k["kid"].as_str() == header.kid.as_deref())
        .expect("the token's kid is in the JWK Set");
    let key =
        DecodingKey::from_rsa_components(jwk["n"].as_str().unwrap(), jwk["e"].as_str().unwrap())
            .unwrap();
    let mut validation = Validation::new(Algorithm::RS256);
    validation.set_audience(&[audience]);
    validation.set_issuer(&[app.issuer()]);
    jsonwebtoken::decode::<Value>(jwt, &key, &validation)
        .expect("the token verifies against the JWK Set")
        .claims
}

async fn userinfo(app: &TestApp, access: &str) -> Response {
    app.get_auth("/oidc/userinfo", access).await
}

async fn introspect(app: &TestApp, client: &Client, token: &str) -> Value {
    let res = app
        .client
        .post(app.url("/oidc/introspect"))
        .basic_auth(&client.id, client.secret.as_ref())
        .form(&[("token", token)])
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 200);
    res.json().await.unwrap()
}

#[tokio::test]
async fn discovery_names_every_endpoint_and_the_jwk_set_has_the_rs256_key() {
    each_backend_with(oidc(), async |app| {
        let res = app.get("/.well-known/openid-configuration").await;
        assert_eq!(res.status(), 200);
        let doc: Value = res.json().await.unwrap();
        assert_eq!(doc["issuer"], app.issuer());
        for (field, path) in [
            ("authorization_endpoint", "/oidc/authorize"),
            ("token_endpoint", "/oidc/token"),
            ("userinfo_endpoint", "/oidc/userinfo"),
            ("jwks_uri", "/.well-known/jwks.json"),
            ("introspection_endpoint", "/oidc/introspect"),
            ("revocation_endpoint", "/oidc/revoke"),
            ("end_session_endpoint", "/oidc/logout"),
        ] {
            assert_eq!(doc[field], format!("{}{path}", app.issuer()), "{field}");
        }
        assert_eq!(doc["response_types_supported"], json!(["code"]));
        assert_eq!(doc["code_challenge_methods_supported"], json!(["S256"]));
        assert_eq!(doc["subject_types_supported"], json!(["public"]));
        assert_eq!(doc["authorization_response_iss_parameter_supported"], true);
        assert_eq!(doc["id_token_signing_alg_values_supported"][0], "RS256");
        assert_eq!(
            doc["grant_types_supported"],
            json!([
                "authorization_code",
                "refresh_token",
                "urn:ietf:params:oauth:grant-type:token-exchange"
            ])
        );
        assert_eq!(
            doc["token_endpoint_auth_methods_supported"],
            json!(["client_secret_basic", "client_secret_post", "none"])
        );
        let set = jwks(app).await;
        let key = &set["keys"][0];
        assert_eq!(
            (key["kty"].as_str(), key["alg"].as_str()),
            (Some("RSA"), Some("RS256"))
        );
        assert_eq!(key["kid"], "test-rs256");
        assert!(key.get("d").is_none(), "no private part is published");
    })
    .await;
}

#[tokio::test]
async fn inside_wechat_the_code_flow_signs_in_with_pkce_and_every_token_checks_out() {
    each_backend_with(oidc(), async |app| {
        let client = confidential(app, true).await;
        let openid = oa_user(app);
        let (res, bound) = through_wechat_bound(
            app,
            &scoped_authorize_path(&client, "openid profile offline_access", ""),
            &openid,
        )
        .await;
        // profile was asked for and the account has none yet: once more through WeChat.
        assert_eq!(res.status(), 302);
        let again = location(&res);
        assert!(again.contains("scope=snsapi_userinfo"), "{again}");
        let res = app.client.get(&again).send().await.unwrap();
        let callback = location(&res);
        let res = browse(
            app,
            callback.strip_prefix(app.issuer()).unwrap(),
            Some(&bound),
            true,
        )
        .await;
        assert_eq!(res.status(), 302);
        assert!(session_cookie(&res).is_some());
        let cookie_header = res.headers()["set-cookie"].to_str().unwrap().to_owned();
        assert!(cookie_header.contains("HttpOnly") && cookie_header.contains("SameSite=Lax"));
        // A development issuer (http://127.0.0.1) cannot use Secure cookies; https ones do.
        assert!(!cookie_header.contains("Secure"));
        let back = location(&res);
        assert!(back.starts_with(&format!("{RP}?")), "{back}");
        let q = query_of(&back);
        assert_eq!(q["state"], "st-1");
        assert_eq!(q["iss"], app.issuer());

        let res = redeem(app, &client, &q["code"]).await;
        assert_eq!(res.status(), 200, "on {}", app.backend());
        assert_eq!(res.headers()["cache-control"], "no-store");
        let tokens: Value = res.json().await.unwrap();
        assert_eq!(tokens["token_type"], "Bearer");
        assert_eq!(tokens["scope"], "openid profile offline_access");
        let access = tokens["access_token"].as_str().unwrap();
        let id = verify(app, tokens["id_token"].as_str().unwrap(), &client.id).await;
        assert_eq!(id["nonce"], "n-1");
        assert_eq!(id["amr"], json!(["wechat_oa"]));
        assert_eq!(id["name"], "Web User");
        assert!(id["auth_time"].is_i64());
        let digest = Sha256::digest(access.as_bytes());
        assert_eq!(id["at_hash"], URL_SAFE_NO_PAD.encode(&digest[..16]));
        let header = jsonwebtoken::decode_header(access).unwrap();
        assert_eq!(
            header.typ.as_deref(),
            Some("at+jwt"),
            "RFC 9068 access token"
        );
        let at = verify(app, access, &client.id).await;
        assert_eq!(at["client_id"], client.id.as_str());
        assert_eq!(at["sub"], id["sub"]);

        let info: Value = userinfo(app, access).await.json().await.unwrap();
        assert_eq!(info["sub"], id["sub"]);
        assert_eq!(info["name"], "Web User");
        let active = introspect(app, &client, access).await;
        assert_eq!(active["active"], true);
        assert_eq!(active["client_id"], client.id.as_str());

        // Refresh rotates; the old refresh token coming back revokes the grant.
        let first = tokens["refresh_token"].as_str().unwrap();
        let res = token(
            app,
            &client,
            &[("grant_type", "refresh_token"), ("refresh_token", first)],
        )
        .await;
        assert_eq!(res.status(), 200);
        let rotated: Value = res.json().await.unwrap();
        let second = rotated["refresh_token"].as_str().unwrap();
        assert_ne!(first, second);
        let res = token(
            app,
            &client,
            &[("grant_type", "refresh_token"), ("refresh_token", first)],
        )
        .await;
        let err: Value = res.json().await.unwrap();
        assert_eq!(err["error"], "invalid_grant");
        let res = token(
            app,
            &client,
            &[("grant_type", "refresh_token"), ("refresh_token", second)],
        )
        .await;
        assert_eq!(res.status(), 400, "the whole grant ended with the reuse");
        assert_eq!(
            introspect(app, &client, access).await,
            json!({"active": false})
        );
        assert_eq!(userinfo(app, access).await.status(), 401);
    })
    .await;
}

#[tokio::test]
async fn a_code_works_once_and_its_second_use_revokes_what_it_gave() {
    each_backend_with(oidc(), async |app| {
        let client = confidential(app, true).await;
        let openid = oa_user(app);
        let res = through_wechat(app, &authorize_path(&client, ""), &openid).await;
        let code = query_of(&location(&res))["code"].clone();
        let tokens: Value = redeem(app, &client, &code).await.json().await.unwrap();
        let access = tokens["access_token"].as_str().unwrap();
        assert_eq!(userinfo(app, access).await.status(), 200);
        let res = redeem(app, &client, &code).await;
        assert_eq!(res.status(), 400);
        let err: Value = res.json().await.unwrap();
        assert_eq!(err["error"], "invalid_grant");
        let res = userinfo(app, access).await;
        assert_eq!(res.status(), 401);
        assert!(
            res.headers()["www-authenticate"]
                .to_str()
                .unwrap()
                .contains("invalid_token")
        );
    })
    .await;
}

#[tokio::test]
async fn redirect_uris_that_are_not_registered_exactly_get_an_error_page_never_a_redirect() {
    each_backend_with(oidc(), async |app| {
        let client = confidential(app, true).await;
        for bad in [
            "https://rp.example.com/cb/",
            "https://rp.example.com/cb/more",
            "https://rp.example.com/c",
            "https://RP.example.com/cb",
            "https://rp.example.com/CB",
            "https://rp.example.com:444/cb",
            "https://rp.example.com/cb#frag",
            "https://evil@rp.example.com/cb",
            "https://rp.example.com.evil.com/cb",
            "http://rp.example.com/cb",
        ] {
            let path = format!(
                "/oidc/authorize?client_id={}&redirect_uri={}&response_type=code&scope=openid&code_challenge={}&code_challenge_method=S256",
                client.id,
                urlencode(bad),
                challenge(VERIFIER)
            );
            let res = browse(app, &path, None, true).await;
            assert_eq!(res.status(), 400, "{bad}");
            assert!(res.headers().get("location").is_none(), "{bad} must not be redirected to");
            assert!(res.headers()["content-security-policy"].to_str().unwrap().contains("default-src 'none'"));
        }
        let res = browse(app, "/oidc/authorize?client_id=nobody&redirect_uri=https%3A%2F%2Frp.example.com%2Fcb&response_type=code&scope=openid", None, false).await;
        assert_eq!(res.status(), 400);
        assert!(res.headers().get("location").is_none());
    })
    .await;
}

#[tokio::test]
async fn request_errors_go_back_to_the_client_with_state_and_iss() {
    each_backend_with(oidc(), async |app| {
        let client = confidential(app, true).await;
        let public = client_public(app).await;
        let base = |c: &Client| {
            format!(
                "/oidc/authorize?client_id={}&redirect_uri={}&state=s1",
                c.id,
                urlencode(RP)
            )
        };
        for (client, extra, error) in [
            (&client, "&response_type=token&scope=openid", "unsupported_response_type"),
            (&client, "&response_type=code&scope=openid%20email", "invalid_scope"),
            (&client, "&response_type=code&scope=openid&code_challenge=abcdefghijabcdefghijabcdefghijabcdefghijabc&code_challenge_method=plain", "invalid_request"),
            (&public, "&response_type=code&scope=openid", "invalid_request"),
            (&client, "&response_type=code&scope=openid&prompt=none%20login", "invalid_request"),
            (&client, "&response_type=code&scope=openid&request=eyJ", "request_not_supported"),
            (&client, "&response_type=code&scope=openid&prompt=none", "login_required"),
        ] {
            let res = browse(app, &format!("{}{extra}", base(client)), None, false).await;
            assert_eq!(res.status(), 302, "{extra}");
            let q = query_of(&location(&res));
            assert_eq!(q["error"], error, "{extra}");
            assert_eq!(q["state"], "s1");
            assert_eq!(q["iss"], app.issuer());
            assert!(q.contains_key("error_description"));
        }
    })
    .await;
}

async fn client_public(app: &TestApp) -> Client {
    client(
        app,
        json!({
            "name": "SPA",
            "type": "public",
            "redirectUris": [RP],
            "officialAccount": Apps::OA,
            "firstParty": true,
        }),
    )
    .await
}

#[tokio::test]
async fn pkce_and_client_binding_refuse_downgrades_wrong_verifiers_and_other_clients() {
    each_backend_with(oidc(), async |app| {
        let a = confidential(app, true).await;
        let b = confidential(app, true).await;
        let openid = oa_user(app);
        let code_for = async |path: String| {
            let res = through_wechat(app, &path, &openid).await;
            query_of(&location(&res))["code"].clone()
        };
        // Wrong verifier.
        let code = code_for(authorize_path(&a, "")).await;
        let res = token(
            app,
            &a,
            &[
                ("grant_type", "authorization_code"),
                ("code", &code),
                ("redirect_uri", RP),
                ("code_verifier", &"x".repeat(43)),
            ],
        )
        .await;
        assert_eq!(res.json::<Value>().await.unwrap()["error"], "invalid_grant");
        // Client B redeeming client A's code.
        let code = code_for(authorize_path(&a, "")).await;
        let res = redeem(app, &b, &code).await;
        assert_eq!(res.json::<Value>().await.unwrap()["error"], "invalid_grant");
        // ...which did not use it up for A.
        assert_eq!(redeem(app, &a, &code).await.status(), 200);
        // A verifier for a request without a challenge.
        let path = format!(
            "/oidc/authorize?client_id={}&redirect_uri={}&response_type=code&scope=openid",
            a.id,
            urlencode(RP)
        );
        let code = code_for(path).await;
        let res = redeem(app, &a, &code).await;
        assert_eq!(res.json::<Value>().await.unwrap()["error"], "invalid_grant");
        // A different redirect_uri at the token endpoint.
        let code = code_for(authorize_path(&a, "")).await;
        let res = token(
            app,
            &a,
            &[
                ("grant_type", "authorization_code"),
                ("code", &code),
                ("redirect_uri", "https://rp.example.com/other"),
                ("code_verifier", VERIFIER),
            ],
        )
        .await;
        assert_eq!(res.json::<Value>().await.unwrap()["error"], "invalid_grant");
    })
    .await;
}

#[tokio::test]
async fn the_token_endpoint_answers_rfc_6749_errors() {
    each_backend_with(oidc(), async |app| {
        let client = confidential(app, true).await;
        let res = app
            .client
            .post(app.url("/oidc/token"))
            .basic_auth(&client.id, Some("wrong"))
            .form(&[("grant_type", "authorization_code"), ("code", "x")])
            .send()
            .await
            .unwrap();
        assert_eq!(res.status(), 401);
        assert!(
            res.headers()["www-authenticate"]
                .to_str()
                .unwrap()
                .starts_with("Basic")
        );
        assert_eq!(
            res.json::<Value>().await.unwrap()["error"],
            "invalid_client"
        );
        let res = token(app, &client, &[("grant_type", "password")]).await;
        assert_eq!(res.status(), 400);
        assert_eq!(res.headers()["cache-control"], "no-store");
        assert_eq!(
            res.json::<Value>().await.unwrap()["error"],
            "unsupported_grant_type"
        );
        let res = app
            .client
            .post(app.url("/oidc/token"))
            .basic_auth(&client.id, client.secret.as_ref())
            .header("content-type", "application/x-www-form-urlencoded")
            .body("grant_type=authorization_code&code=a&code=b")
            .send()
            .await
            .unwrap();
        assert_eq!(
            res.json::<Value>().await.unwrap()["error"],
            "invalid_request"
        );
        // A confidential client without its secret.
        let res = app
            .client
            .post(app.url("/oidc/token"))
            .form(&[
                ("grant_type", "authorization_code"),
                ("client_id", client.id.as_str()),
                ("code", "x"),
            ])
            .send()
            .await
            .unwrap();
        assert_eq!(res.status(), 401);
    })
    .await;
}

#[tokio::test]
async fn a_browser_session_signs_in_to_the_next_client_and_third_parties_ask_for_consent_once() {
    each_backend_with(oidc(), async |app| {
        let first = confidential(app, true).await;
        let third = confidential(app, false).await;
        let openid = oa_user(app);
        let res = through_wechat(app, &authorize_path(&first, ""), &openid).await;
        let cookie = session_cookie(&res).unwrap();
        // The third party: no WeChat round trip, but a consent page first.
        let res = browse(
            app,
            &authorize_path(&third, "&prompt=none"),
            Some(&cookie),
            false,
        )
        .await;
        assert_eq!(query_of(&location(&res))["error"], "consent_required");
        let res = browse(app, &authorize_path(&third, ""), Some(&cookie), false).await;
        assert_eq!(res.status(), 302);
        let consent = location(&res);
        assert!(consent.starts_with("/oidc/consent?request="), "{consent}");
        let page = browse(app, &consent, Some(&cookie), false).await;
        assert_eq!(page.status(), 200);
        let csp = page.headers()["content-security-policy"]
            .to_str()
            .unwrap()
            .to_owned();
        assert!(
            csp.contains("form-action 'self' https://rp.example.com"),
            "{csp}"
        );
        let html = page.text().await.unwrap();
        let field = |name: &str| {
            let marker = format!("name=\"{name}\" value=\"");
            let start = html.find(&marker).unwrap() + marker.len();
            html[start..start + html[start..].find('"').unwrap()].to_owned()
        };
        let (request, csrf) = (field("request"), field("csrf"));
        // A forged form (wrong csrf) is refused.
        let forged = app
            .client
            .post(app.url("/oidc/consent"))
            .header("cookie", &cookie)
            .form(&[
                ("request", request.as_str()),
                ("csrf", "nope"),
                ("decision", "allow"),
            ])
            .send()
            .await
            .unwrap();
        assert_eq!(forged.status(), 400);
        let res = app
            .client
            .post(app.url("/oidc/consent"))
            .header("cookie", &cookie)
            .form(&[
                ("request", request.as_str()),
                ("csrf", csrf.as_str()),
                ("decision", "allow"),
            ])
            .send()
            .await
            .unwrap();
        assert_eq!(res.status(), 303);
        let q = query_of(&location(&res));
        let tokens: Value = redeem(app, &third, &q["code"]).await.json().await.unwrap();
        let first_sub =
            verify(app, tokens["id_token"].as_str().unwrap(), &third.id).await["sub"].clone();
        // Consent remembered: straight back with a code next time, even with prompt=none.
        let res = browse(
            app,
            &authorize_path(&third, "&prompt=none"),
            Some(&cookie),
            false,
        )
        .await;
        let q = query_of(&location(&res));
        assert!(q.contains_key("code"), "{q:?}");
        let tokens: Value = redeem(app, &third, &q["code"]).await.json().await.unwrap();
        let id = verify(app, tokens["id_token"].as_str().unwrap(), &third.id).await;
        assert_eq!(id["sub"], first_sub, "the same user for every client");
        // prompt=login forces WeChat again.
        let res = browse(
            app,
            &authorize_path(&first, "&prompt=login"),
            Some(&cookie),
            true,
        )
        .await;
        assert!(location(&res).contains("/connect/oauth2/authorize?"));
    })
    .await;
}

#[tokio::test]
async fn logout_ends_the_session_and_returns_only_to_a_registered_uri() {
    each_backend_with(oidc(), async |app| {
        let client = confidential(app, true).await;
        let openid = oa_user(app);
        let res = through_wechat(app, &authorize_path(&client, ""), &openid).await;
        let cookie = session_cookie(&res).unwrap();
        let code = query_of(&location(&res))["code"].clone();
        let tokens: Value = redeem(app, &client, &code).await.json().await.unwrap();
        let id_token = tokens["id_token"].as_str().unwrap();
        let evil = format!(
            "/oidc/logout?id_token_hint={id_token}&post_logout_redirect_uri={}",
            urlencode("https://evil.example.com/")
        );
        let res = browse(app, &evil, Some(&cookie), false).await;
        assert_eq!(res.status(), 400);
        assert!(
            res.headers().get("location").is_none(),
            "no open redirect through logout"
        );
        let path = format!(
            "/oidc/logout?id_token_hint={id_token}&post_logout_redirect_uri={}&state=bye-1",
            urlencode(RP_LOGOUT)
        );
        let res = browse(app, &path, Some(&cookie), false).await;
        assert_eq!(res.status(), 302);
        assert_eq!(location(&res), format!("{RP_LOGOUT}?state=bye-1"));
        let res = browse(
            app,
            &authorize_path(&client, "&prompt=none"),
            Some(&cookie),
            false,
        )
        .await;
        assert_eq!(query_of(&location(&res))["error"], "login_required");
    })
    .await;
}

#[tokio::test]
async fn a_mini_program_exchanges_its_wx_login_code_for_the_same_tokens() {
    each_backend_with(oidc(), async |app| {
        let client = confidential(app, true).await;
        let openid = app.new_mp_user();
        let code = app.login_code(Apps::MP_APPID, &openid);
        let res = token(
            app,
            &client,
            &[
                (
                    "grant_type",
                    "urn:ietf:params:oauth:grant-type:token-exchange",
                ),
                ("subject_token", &code),
                (
                    "subject_token_type",
                    "urn:wxauth:token-type:wechat-login-code",
                ),
                ("scope", "openid offline_access"),
            ],
        )
        .await;
        assert_eq!(res.status(), 200, "on {}", app.backend());
        let tokens: Value = res.json().await.unwrap();
        assert_eq!(
            tokens["issued_token_type"],
            "urn:ietf:params:oauth:token-type:access_token"
        );
        assert!(tokens["refresh_token"].is_string());
        let id = verify(app, tokens["id_token"].as_str().unwrap(), &client.id).await;
        assert_eq!(id["amr"], json!(["wechat_miniprogram"]));
        // The code is WeChat's: a second exchange is refused as WeChat refuses it.
        let res = token(
            app,
            &client,
            &[
                (
                    "grant_type",
                    "urn:ietf:params:oauth:grant-type:token-exchange",
                ),
                ("subject_token", &code),
                (
                    "subject_token_type",
                    "urn:wxauth:token-type:wechat-login-code",
                ),
            ],
        )
        .await;
        assert_eq!(res.json::<Value>().await.unwrap()["error"], "invalid_grant");
        // Revoking the refresh token makes the access token inactive at once.
        let refresh = tokens["refresh_token"].as_str().unwrap();
        let res = app
            .client
            .post(app.url("/oidc/revoke"))
            .basic_auth(&client.id, client.secret.as_ref())
            .form(&[("token", refresh)])
            .send()
            .await
            .unwrap();
        assert_eq!(res.status(), 200);
        let access = tokens["access_token"].as_str().unwrap();
        assert_eq!(
            introspect(app, &client, access).await,
            json!({"active": false})
        );
    })
    .await;
}

#[tokio::test]
async fn on_the_desktop_the_mini_program_code_signs_in_once_confirmed_in_the_mini_program() {
    each_backend_with(oidc(), async |app| {
        let client = confidential(app, true).await;
        let res = browse(app, &authorize_path(&client, ""), None, false).await;
        assert_eq!(res.status(), 200, "the sign-in page on {}", app.backend());
        let bound = request_cookie(&res);
        let html = res.text().await.unwrap();
        let image = {
            let marker = "src=\"/api/v1/miniprogram/qr-logins/";
            let start = html.find(marker).expect("the Mini Program code") + "src=\"".len();
            html[start..start + html[start..].find('"').unwrap()].to_owned()
        };
        let handle = {
            let marker = "var r=\"";
            let start = html.find(marker).expect("the page's request") + marker.len();
            html[start..start + html[start..].find('"').unwrap()].to_owned()
        };
        let status = async || -> Value {
            let res = browse(
                app,
                &format!("/oidc/signin/status?request={handle}"),
                Some(&bound),
                false,
            )
            .await;
            assert_eq!(res.status(), 200);
            res.json().await.unwrap()
        };
        assert_eq!(status().await["status"], "pending");
        // Another browser cannot ask.
        let res = browse(
            app,
            &format!("/oidc/signin/status?request={handle}"),
            None,
            false,
        )
        .await;
        assert_eq!(res.status(), 400);

        // The phone scans the code, the Mini Program page sends the scene with a wx.login code.
        let openid = app.new_mp_user();
        let bytes = app.get(&image).await.bytes().await.unwrap();
        let scan = app.sim.state().scan_wxacode_image(&openid, &bytes).unwrap();
        let res = app
            .post(
                "/api/v1/miniprogram/qr-logins/scan",
                json!({ "scene": scan.scene, "code": scan.code }),
            )
            .await;
        assert_eq!(res.status(), 200);
        let scanned: Value = res.json().await.unwrap();
        assert_eq!(status().await["status"], "scanned");
        let res = app
            .post_auth(
                "/api/v1/miniprogram/qr-logins/confirm",
                scanned["confirmToken"].as_str().unwrap(),
                json!({ "scene": scan.scene }),
            )
            .await;
        assert_eq!(res.status(), 200);

        let res = browse(
            app,
            &format!("/oidc/signin/status?request={handle}"),
            Some(&bound),
            false,
        )
        .await;
        assert!(
            session_cookie(&res).is_some(),
            "the sign-in starts a browser session"
        );
        let done: Value = res.json().await.unwrap();
        assert_eq!(done["status"], "done");
        let back = done["location"].as_str().unwrap();
        assert!(back.starts_with(RP), "{back}");
        let tokens: Value = redeem(app, &client, &query_of(back)["code"])
            .await
            .json()
            .await
            .unwrap();
        let id = verify(app, tokens["id_token"].as_str().unwrap(), &client.id).await;
        assert_eq!(id["amr"], json!(["wechat_mp_code"]));
        // The same account a Mini Program login of this user reaches.
        let login = app.login(&openid).await;
        assert_eq!(id["sub"], login["user"]["id"]);
    })
    .await;
}

/// A session of wxauth's own API for the Official Account user `openid`, through the web
/// OAuth routes.
async fn api_token_of(app: &TestApp, openid: &str) -> String {
    let res = app
        .get(&format!(
            "/api/v1/oauth/authorize?app=oa&redirectUri={}&callback={}",
            urlencode("https://app.example.com/home"),
            urlencode("https://app.example.com/wechat/callback"),
        ))
        .await;
    let body: Value = res.json().await.unwrap();
    app.sim
        .state()
        .set_consent(
            Apps::OA_APPID,
            OAuthConsent::Approve {
                openid: openid.into(),
            },
        )
        .unwrap();
    let res = app
        .client
        .get(body["authorizeUrl"].as_str().unwrap())
        .send()
        .await
        .unwrap();
    let q = query_of(&location(&res));
    let res = app
        .get(&format!(
            "/api/v1/oauth/token?code={}&state={}",
            q["code"], q["state"]
        ))
        .await;
    assert_eq!(res.status(), 200);
    let body: Value = res.json().await.unwrap();
    body["accessToken"].as_str().unwrap().to_owned()
}

#[tokio::test]
async fn users_list_their_consents_and_withdrawing_one_revokes_the_clients_tokens() {
    each_backend_with(oidc(), async |app| {
        let third = confidential(app, false).await;
        let openid = oa_user(app);
        let res = through_wechat(app, &authorize_path(&third, ""), &openid).await;
        let cookie = session_cookie(&res).unwrap();
        let consent = location(&res);
        let html = browse(app, &consent, Some(&cookie), false)
            .await
            .text()
            .await
            .unwrap();
        let field = |name: &str| {
            let marker = format!("name=\"{name}\" value=\"");
            let start = html.find(&marker).unwrap() + marker.len();
            html[start..start + html[start..].find('"').unwrap()].to_owned()
        };
        let res = app
            .client
            .post(app.url("/oidc/consent"))
            .header("cookie", &cookie)
            .form(&[
                ("request", field("request")),
                ("csrf", field("csrf")),
                ("decision", "allow".into()),
            ])
            .send()
            .await
            .unwrap();
        let tokens: Value = redeem(app, &third, &query_of(&location(&res))["code"])
            .await
            .json()
            .await
            .unwrap();
        let access = tokens["access_token"].as_str().unwrap();

        let api = api_token_of(app, &openid).await;
        let listed: Value = app
            .get_auth("/api/v1/me/consents", &api)
            .await
            .json()
            .await
            .unwrap();
        assert_eq!(listed.as_array().unwrap().len(), 1, "{listed}");
        assert_eq!(listed[0]["clientId"], third.id.as_str());
        assert_eq!(listed[0]["clientName"], "Relying Party");
        assert_eq!(listed[0]["scope"], "openid offline_access");

        let res = app
            .request(
                reqwest::Method::DELETE,
                &format!("/api/v1/me/consents/{}", third.id),
                Some(&api),
                None,
            )
            .await;
        assert_eq!(res.status(), 204);
        assert_eq!(
            introspect(app, &third, access).await,
            json!({"active": false})
        );
        let listed: Value = app
            .get_auth("/api/v1/me/consents", &api)
            .await
            .json()
            .await
            .unwrap();
        assert_eq!(listed, json!([]));
        let res = app
            .request(
                reqwest::Method::DELETE,
                &format!("/api/v1/me/consents/{}", third.id),
                Some(&api),
                None,
            )
            .await;
        assert_eq!(res.status(), 404);
        // The next sign-in asks again.
        let res = browse(app, &authorize_path(&third, ""), Some(&cookie), false).await;
        assert!(location(&res).starts_with("/oidc/consent?"));
    })
    .await;
}

#[tokio::test]
async fn a_client_may_register_eddsa_id_tokens_when_the_provider_has_such_a_key() {
    use secrecy::ExposeSecret;
    let eddsa = wxauth_tokens::generate_private_key_pem(wxauth_tokens::SigningAlgorithm::EdDSA)
        .unwrap()
        .expose_secret()
        .to_owned();
    let options = oidc().customize(move |c| {
        // Listed first: access tokens are signed with the first key, so they are EdDSA too.
        c.oidc.keys.insert(
            0,
            wxauth_server::config::OidcKeyFileConfig {
                algorithm: wxauth_tokens::SigningAlgorithm::EdDSA,
                key: wxauth_server::config::KeyFileConfig {
                    kid: "test-eddsa".into(),
                    private_key_pem: Some(secrecy::SecretString::from(eddsa.clone())),
                    private_key_file: None,
                    public_key_pem: None,
                    public_key_file: None,
                },
            },
        );
    });
    each_backend_with(options, async |app| {
        let doc: Value = app
            .get("/.well-known/openid-configuration")
            .await
            .json()
            .await
            .unwrap();
        assert_eq!(
            doc["id_token_signing_alg_values_supported"],
            json!(["RS256", "EdDSA"])
        );
        let key = app.admin_key().await;
        let register = |alg: &'static str| {
            let key = key.clone();
            async move {
                app.client
                    .post(app.url("/api/v1/admin/oidc/clients"))
                    .header("x-admin-key", key)
                    .json(&json!({
                        "name": "Fast",
                        "redirectUris": [RP],
                        "officialAccount": Apps::OA,
                        "firstParty": true,
                        "idTokenSignedResponseAlg": alg,
                    }))
                    .send()
                    .await
                    .unwrap()
            }
        };
        let refused = register("ES256").await;
        assert_eq!(refused.status(), 400, "no ES256 key to sign with");
        let body: Value = register("EdDSA").await.json().await.unwrap();
        assert_eq!(body["idTokenSignedResponseAlg"], "EdDSA");
        let client = Client {
            id: body["clientId"].as_str().unwrap().to_owned(),
            secret: body["clientSecret"].as_str().map(str::to_owned),
        };
        let res = through_wechat(app, &authorize_path(&client, ""), &oa_user(app)).await;
        let tokens: Value = redeem(app, &client, &query_of(&location(&res))["code"])
            .await
            .json()
            .await
            .unwrap();
        let id_token = tokens["id_token"].as_str().unwrap();
        let access = tokens["access_token"].as_str().unwrap();
        assert_eq!(
            jsonwebtoken::decode_header(id_token).unwrap().alg,
            Algorithm::EdDSA
        );
        assert_eq!(
            jsonwebtoken::decode_header(access).unwrap().alg,
            Algorithm::EdDSA
        );
        let payload: Value = serde_json::from_slice(
            &URL_SAFE_NO_PAD
                .decode(id_token.split('.').nth(1).unwrap())
                .unwrap(),
        )
        .unwrap();
        // Ed25519 hashes with SHA-512: at_hash is the left half of that.
        let digest = sha2::Sha512::digest(access.as_bytes());
        assert_eq!(payload["at_hash"], URL_SAFE_NO_PAD.encode(&digest[..32]));
        assert_eq!(userinfo(app, access).await.status(), 200);
    })
    .await;
}
