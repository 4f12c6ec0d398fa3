//! The provider's desktop sign-in in Chromium: a small relying party sends the browser to
//! wxauth, the sign-in page shows the Official Account's QR code, a simulated phone scans it,
//! and the page moves on by itself back to the relying party, signed in. A second relying
//! party then signs in without a scan (single sign-on); logging out of one ends both.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};

use actix_web::{App, HttpResponse, HttpServer, web};
use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use serde_json::{Value, json};
use sha2::{Digest, Sha256};
use wxauth_sim::NewUser;
use wxauth_testkit::{Apps, TestApp, TestOptions};

use crate::browser::{in_browser_with, wait_until, within};

/// A relying party's own state: its clients and, per sign-in, the state and verifier it sent,
/// then the ID token it got.
#[derive(Default)]
struct Rp {
    issuer: String,
    base: String,
    clients: HashMap<u32, (String, String)>,
    pending: HashMap<String, (u32, String)>,
    id_tokens: HashMap<u32, String>,
}

type Shared = Arc<Mutex<Rp>>;

fn lock(rp: &Shared) -> std::sync::MutexGuard<'_, Rp> {
    rp.lock().unwrap_or_else(|p| p.into_inner())
}

fn page(body_attrs: &str, text: &str) -> HttpResponse {
    HttpResponse::Ok()
        .content_type("text/html; charset=utf-8")
        .body(format!(
            "<!doctype html><html><body {body_attrs}><p>{text}</p></body></html>"
        ))
}

fn random() -> String {
    URL_SAFE_NO_PAD.encode(uuid::Uuid::new_v4().as_bytes())
        + &URL_SAFE_NO_PAD.encode(uuid::Uuid::new_v4().as_bytes())
}

fn to(location: String) -> HttpResponse {
    HttpResponse::Found()
        .insert_header(("location", location))
        .finish()
}

fn authorize_url(rp: &mut Rp, n: u32, prompt: Option<&str>) -> String {
    let (client_id, _) = rp.clients[&n].clone();
    let state = random();
    let verifier = random();
    let challenge = URL_SAFE_NO_PAD.encode(Sha256::digest(verifier.as_bytes()));
    rp.pending.insert(state.clone(), (n, verifier));
    let redirect = format!("{}/rp/{n}/cb", rp.base);
    let mut query = url::form_urlencoded::Serializer::new(String::new());
    query
        .append_pair("client_id", &client_id)
        .append_pair("redirect_uri", &redirect)
        .append_pair("response_type", "code")
        .append_pair("scope", "openid profile")
        .append_pair("state", &state)
        .append_pair("code_challenge", &challenge)
        .append_pair("code_challenge_method", "S256");
    if let Some(prompt) = prompt {
        query.append_pair("prompt", prompt);
    }
    format!("{}/oidc/authorize?{}", rp.issuer, query.finish())
}

async fn login(rp: web::Data<Shared>, n: web::Path<u32>) -> HttpResponse {
    to(authorize_url(&mut lock(&rp), *n, None))
}

async fn check(rp: web::Data<Shared>, n: web::Path<u32>) -> HttpResponse {
    to(authorize_url(&mut lock(&rp), *n, Some("none")))
}

/// The redirect URI: the code exchanged at the token endpoint, as the RP's back end does it.
async fn callback(
    rp: web::Data<Shared>,
    n: web::Path<u32>,
    query: web::Query<HashMap<String, String>>,
) -> HttpResponse {
    let n = *n;
    if let Some(error) = query.get("error") {
        return page(&format!("data-rp-error=\"{error}\""), error);
    }
    let (issuer, base, (client_id, secret), pending) = {
        let mut rp = lock(&rp);
        let pending = query.get("state").and_then(|s| rp.pending.remove(s));
        (
            rp.issuer.clone(),
            rp.base.clone(),
            rp.clients[&n].clone(),
            pending,
        )
    };
    let Some((for_rp, verifier)) = pending.filter(|(m, _)| *m == n) else {
        return page("data-rp-error=\"state\"", "unknown state");
    };
    assert_eq!(for_rp, n);
    let res = reqwest::Client::new()
        .post(format!("{issuer}/oidc/token"))
        .basic_auth(&client_id, Some(&secret))
        .form(&[
            ("grant_type", "authorization_code"),
            (
                "code",
                query.get("code").map(String::as_str).unwrap_or_default(),
            ),
            ("redirect_uri", &format!("{base}/rp/{n}/cb")),
            ("code_verifier", &verifier),
        ])
        .send()
        .await
        .unwrap();
    let tokens: Value = res.json().await.unwrap();
    let Some(id_token) = tokens["id_token"].as_str() else {
        return page("data-rp-error=\"token\"", &tokens.to_string());
    };
    let payload = id_token.split('.').nth(1).unwrap();
    let claims: Value = serde_json::from_slice(&URL_SAFE_NO_PAD.decode(payload).unwrap()).unwrap();
    lock(&rp).id_tokens.insert(n, id_token.to_owned());
    let sub = claims["sub"].as_str().unwrap_or_default();
    page(
        &format!(
            "data-signed-in=\"{sub}\" data-amr=\"{}\"",
            claims["amr"][0].as_str().unwrap_or_default()
        ),
        &format!("signed in to relying party {n}"),
    )
}

async fn logout(rp: web::Data<Shared>, n: web::Path<u32>) -> HttpResponse {
    let rp = lock(&rp);
    let mut query = url::form_urlencoded::Serializer::new(String::new());
    query
        .append_pair("id_token_hint", &rp.id_tokens[&n])
        .append_pair(
            "post_logout_redirect_uri",
            &format!("{}/rp/{n}/bye", rp.base),
        )
        .append_pair("state", "bye");
    to(format!("{}/oidc/logout?{}", rp.issuer, query.finish()))
}

async fn bye() -> HttpResponse {
    page("data-signed-out=\"1\"", "signed out")
}

/// Starts the relying party on a free port and registers its two clients with the provider.
async fn start_rp(app: &TestApp) -> (Shared, actix_web::dev::ServerHandle) {
    let rp: Shared = Arc::default();
    let data = web::Data::new(rp.clone());
    let server = HttpServer::new(move || {
        App::new()
            .app_data(data.clone())
            .route("/rp/{n}/login", web::get().to(login))
            .route("/rp/{n}/check", web::get().to(check))
            .route("/rp/{n}/cb", web::get().to(callback))
            .route("/rp/{n}/logout", web::get().to(logout))
            .route("/rp/{n}/bye", web::get().to(bye))
    })
    .workers(1)
    .bind("127.0.0.1:0")
    .unwrap();
    let port = server.addrs()[0].port();
    let server = server.run();
    let handle = server.handle();
    tokio::spawn(server);
    let base = format!("http://127.0.0.1:{port}");
    let key = app.admin_key().await;
    for n in [1, 2] {
        let res = app
            .client
            .post(app.url("/api/v1/admin/oidc/clients"))
            .header("x-admin-key", &key)
            .json(&json!({
                "name": format!("Relying party {n}"),
                "redirectUris": [format!("{base}/rp/{n}/cb")],
                "postLogoutRedirectUris": [format!("{base}/rp/{n}/bye")],
                "scopes": "openid profile",
                "officialAccount": Apps::OA,
                "firstParty": true,
            }))
            .send()
            .await
            .unwrap();
        assert_eq!(res.status(), 201);
        let body: Value = res.json().await.unwrap();
        let client = (
            body["clientId"].as_str().unwrap().to_owned(),
            body["clientSecret"].as_str().unwrap().to_owned(),
        );
        lock(&rp).clients.insert(n, client);
    }
    {
        let mut rp = lock(&rp);
        rp.issuer = app.issuer().to_owned();
        rp.base = base;
    }
    (rp, handle)
}

#[tokio::test]
async fn a_desktop_scan_signs_in_to_one_relying_party_then_the_next_without_one_and_logout_ends_both()
 {
    in_browser_with(TestOptions::default().oidc(), async |app, browser| {
        let (rp, server) = start_rp(app).await;
        let base = lock(&rp).base.clone();
        within("opening relying party 1", browser.goto(&format!("{base}/rp/1/login"))).await;
        let content = wait_until(
            browser,
            "the sign-in page's QR code",
            "(() => { const qr = document.getElementById('qr'); return qr && qr.dataset.content; })()",
        )
        .await;
        let scanner = app
            .sim
            .state()
            .create_user(NewUser::new(Apps::OA_APPID).nickname("Desktop User"))
            .unwrap()
            .openid;
        let report = within(
            "scanning the QR code",
            app.sim.state().scan_url(content.as_str().unwrap(), &scanner),
        )
        .await;
        assert!(report.delivery.delivered, "{report:?}");
        let sub = wait_until(
            browser,
            "relying party 1 signed in after the scan",
            "document.body && document.body.dataset.signedIn",
        )
        .await;
        let amr = wait_until(browser, "the sign-in method", "document.body.dataset.amr").await;
        assert_eq!(amr, "wechat_oa_qr");

        // Single sign-on: the second relying party gets a code without a page in between.
        within("opening relying party 2", browser.goto(&format!("{base}/rp/2/login"))).await;
        let second = wait_until(
            browser,
            "relying party 2 signed in without a scan",
            "document.body && document.body.dataset.signedIn",
        )
        .await;
        assert_eq!(second, sub, "the same user at both");

        within("logging out at relying party 1", browser.goto(&format!("{base}/rp/1/logout"))).await;
        wait_until(browser, "the signed-out page", "document.body && document.body.dataset.signedOut").await;
        for n in [1, 2] {
            within("asking silently", browser.goto(&format!("{base}/rp/{n}/check"))).await;
            let error = wait_until(
                browser,
                "the silent sign-in's answer",
                "document.body && document.body.dataset.rpError",
            )
            .await;
            assert_eq!(error, "login_required", "relying party {n} after the logout");
        }
        server.stop(true).await;
    })
    .await;
}
