//! The OpenID provider's rules, against the fakes: clients, the authorization request's checks
//! and their order, the WeChat round trip, codes, refresh tokens, consent.

use serde_json::Value;
use wxauth_domain::RegistrationPolicy;

use crate::oidc::OAuthErrorCode;
use crate::oidc::authorize::{Answer, AuthorizeParams, Browser, Step};
use crate::oidc::clients::{ClientAuth, ClientSpec, CreatedClient};
use crate::oidc::grants::TokenRequest;
use crate::testing::Harness;

const RP: &str = "https://rp.example.com/cb";
const VERIFIER: &str = "verifier-verifier-verifier-verifier-verifier-0001";

async fn client(h: &Harness, first_party: bool) -> CreatedClient {
    h.wxauth
        .admin_create_oidc_client(
            &h.ctx(),
            ClientSpec {
                name: "RP".into(),
                redirect_uris: vec![RP.into()],
                official_account: Some("oa".into()),
                mini_program: Some("mp".into()),
                scopes: Some("openid profile offline_access".into()),
                first_party,
                ..Default::default()
            },
        )
        .await
        .unwrap()
}

fn params(c: &CreatedClient, scope: &str) -> AuthorizeParams {
    AuthorizeParams {
        client_id: Some(c.client.client_id.clone()),
        redirect_uri: Some(RP.into()),
        response_type: Some("code".into()),
        scope: Some(scope.into()),
        state: Some("st".into()),
        nonce: Some("n".into()),
        code_challenge: Some(crate::oidc::authorize::s256(VERIFIER)),
        code_challenge_method: Some("S256".into()),
        ..Default::default()
    }
}

fn auth(c: &CreatedClient) -> ClientAuth<'_> {
    ClientAuth::Basic {
        id: &c.client.client_id,
        secret: c.secret.as_ref().unwrap().expose(),
    }
}

fn query(url: &str) -> std::collections::HashMap<String, String> {
    wxauth_domain::url::Url::parse(url)
        .unwrap()
        .query_pairs()
        .into_owned()
        .collect()
}

fn claims(jwt: &str) -> Value {
    serde_json::from_str(jwt.split_once('.').unwrap().1).unwrap()
}

/// Inside WeChat: authorize, WeChat approves as `openid`, the callback. Returns the callback's
/// answer and the session cookie it set.
async fn through_wechat(h: &Harness, c: &CreatedClient, openid: &str) -> (Answer, String) {
    let started = h
        .wxauth
        .oidc_authorize(
            &h.ctx(),
            &params(c, "openid offline_access"),
            Browser {
                in_wechat: true,
                ..Default::default()
            },
        )
        .await;
    let Step::ToWechat(url) = &started.step else {
        panic!("{:?}", started.step)
    };
    let handle = started.bind_request.clone().unwrap();
    let state = query(url)["state"].clone();
    assert_eq!(
        state,
        format!("{handle}b"),
        "WeChat's state is the handle and the page"
    );
    let code = format!("w-{openid}-{}", uuid::Uuid::new_v4());
    h.wechat.oauth_code(&code, openid, false);
    let bound = [handle];
    let answer = h
        .wxauth
        .oidc_callback(
            &h.ctx(),
            Some(&code),
            Some(&state),
            Browser {
                in_wechat: true,
                started: &bound,
                ..Default::default()
            },
        )
        .await;
    let cookie = answer.new_session.clone().unwrap().value;
    (answer, cookie)
}

fn code_of(answer: &Answer) -> String {
    match &answer.step {
        Step::ToClient(r) => query(&r.url())["code"].clone(),
        other => panic!("expected a code, got {other:?}"),
    }
}

async fn redeem(
    h: &Harness,
    c: &CreatedClient,
    code: &str,
) -> Result<crate::oidc::grants::TokenResponse, crate::oidc::OAuthError> {
    h.wxauth
        .oidc_token(
            &h.ctx(),
            auth(c),
            TokenRequest {
                grant_type: Some("authorization_code"),
                code: Some(code),
                redirect_uri: Some(RP),
                code_verifier: Some(VERIFIER),
                ..Default::default()
            },
        )
        .await
}

#[tokio::test]
async fn a_client_needs_exact_https_redirects_and_a_wechat_app_of_the_right_kind() {
    let h = Harness::oidc(RegistrationPolicy::Open).await;
    let spec = |redirect: &str, oa: Option<&str>| ClientSpec {
        name: "RP".into(),
        redirect_uris: vec![redirect.into()],
        official_account: oa.map(Into::into),
        ..Default::default()
    };
    for (redirect, oa, field) in [
        ("http://rp.example.com/cb", Some("oa"), "redirectUris"),
        ("https://rp.example.com/cb#x", Some("oa"), "redirectUris"),
        (RP, None, "officialAccount"),
        (RP, Some("mp"), "officialAccount"),
        (RP, Some("nope"), "officialAccount"),
    ] {
        let err = h
            .wxauth
            .admin_create_oidc_client(&h.ctx(), spec(redirect, oa))
            .await
            .unwrap_err();
        match err {
            crate::CoreError::Validation(v) => assert_eq!(v.field, field, "{redirect} {oa:?}"),
            other => panic!("{other:?}"),
        }
    }
    let public = h
        .wxauth
        .admin_create_oidc_client(
            &h.ctx(),
            ClientSpec {
                kind: Some("public".into()),
                ..spec(RP, Some("oa"))
            },
        )
        .await
        .unwrap();
    assert!(public.secret.is_none() && public.client.secret_hash.is_none());
}

#[tokio::test]
async fn clients_authenticate_as_their_type_requires() {
    let h = Harness::oidc(RegistrationPolicy::Open).await;
    let c = client(&h, true).await;
    let id = c.client.client_id.as_str();
    assert!(h.wxauth.authenticate_client(auth(&c)).await.is_ok());
    for bad in [
        ClientAuth::Basic {
            id,
            secret: "cs_wrong",
        },
        ClientAuth::None { id },
        ClientAuth::Missing,
        ClientAuth::Post {
            id: "client_nobody",
            secret: "x",
        },
    ] {
        let err = h.wxauth.authenticate_client(bad).await.unwrap_err();
        assert_eq!(err.code, OAuthErrorCode::InvalidClient, "{bad:?}");
    }
}

#[tokio::test]
async fn until_the_client_and_redirect_are_known_good_nothing_is_redirected() {
    let h = Harness::oidc(RegistrationPolicy::Open).await;
    let c = client(&h, true).await;
    let mut unknown = params(&c, "openid");
    unknown.client_id = Some("client_nobody".into());
    let mut elsewhere = params(&c, "openid");
    elsewhere.redirect_uri = Some("https://rp.example.com/cb/".into());
    for p in [unknown, elsewhere] {
        let answer = h
            .wxauth
            .oidc_authorize(&h.ctx(), &p, Browser::default())
            .await;
        assert!(
            matches!(answer.step, Step::ErrorPage(_)),
            "{:?}",
            answer.step
        );
    }
    let mut implicit = params(&c, "openid");
    implicit.response_type = Some("id_token".into());
    let answer = h
        .wxauth
        .oidc_authorize(&h.ctx(), &implicit, Browser::default())
        .await;
    let Step::ToClient(redirect) = answer.step else {
        panic!()
    };
    let q = query(&redirect.url());
    assert_eq!(q["error"], "unsupported_response_type");
    assert_eq!(
        (q["state"].as_str(), q["iss"].as_str()),
        ("st", "https://id.example.com")
    );
}

#[tokio::test]
async fn a_code_is_single_use_and_its_second_use_revokes_the_grant() {
    let h = Harness::oidc(RegistrationPolicy::Open).await;
    let c = client(&h, true).await;
    let (answer, _) = through_wechat(&h, &c, "oWeb1").await;
    let code = code_of(&answer);
    let tokens = redeem(&h, &c, &code).await.unwrap();
    let id = claims(tokens.id_token.as_deref().unwrap());
    assert_eq!(id["nonce"], "n");
    assert_eq!(id["amr"][0], "wechat_oa");
    assert_eq!(id["aud"], c.client.client_id.as_str());
    assert!(
        h.wxauth
            .oidc_userinfo(&h.ctx(), Some(&tokens.access_token))
            .await
            .is_ok()
    );
    let again = redeem(&h, &c, &code).await.unwrap_err();
    assert_eq!(again.code, OAuthErrorCode::InvalidGrant);
    let err = h
        .wxauth
        .oidc_userinfo(&h.ctx(), Some(&tokens.access_token))
        .await
        .unwrap_err();
    assert_eq!(
        err.code,
        OAuthErrorCode::InvalidToken,
        "the grant went with the reuse"
    );
}

#[tokio::test]
async fn a_code_lives_sixty_seconds() {
    let h = Harness::oidc(RegistrationPolicy::Open).await;
    let c = client(&h, true).await;
    let (answer, _) = through_wechat(&h, &c, "oWeb2").await;
    h.clock.advance(time::Duration::seconds(61));
    let err = redeem(&h, &c, &code_of(&answer)).await.unwrap_err();
    assert_eq!(err.code, OAuthErrorCode::InvalidGrant);
    assert!(err.description.contains("expired"));
}

#[tokio::test]
async fn a_callback_in_a_browser_that_did_not_start_the_request_is_refused() {
    let h = Harness::oidc(RegistrationPolicy::Open).await;
    let c = client(&h, true).await;
    let started = h
        .wxauth
        .oidc_authorize(
            &h.ctx(),
            &params(&c, "openid"),
            Browser {
                in_wechat: true,
                ..Default::default()
            },
        )
        .await;
    let Step::ToWechat(url) = &started.step else {
        panic!()
    };
    h.wechat.oauth_code("planted", "oAttacker", false);
    let answer = h
        .wxauth
        .oidc_callback(
            &h.ctx(),
            Some("planted"),
            Some(&query(url)["state"]),
            Browser::default(),
        )
        .await;
    assert!(matches!(answer.step, Step::ErrorPage(_)));
    assert!(answer.new_session.is_none(), "no session is planted");
}

#[tokio::test]
async fn a_reused_refresh_token_ends_the_grant() {
    let h = Harness::oidc(RegistrationPolicy::Open).await;
    let c = client(&h, true).await;
    let (answer, _) = through_wechat(&h, &c, "oWeb3").await;
    let tokens = redeem(&h, &c, &code_of(&answer)).await.unwrap();
    let first = tokens.refresh_token.unwrap();
    let refresh = |token: String| {
        let h = &h;
        let c = &c;
        async move {
            h.wxauth
                .oidc_token(
                    &h.ctx(),
                    auth(c),
                    TokenRequest {
                        grant_type: Some("refresh_token"),
                        refresh_token: Some(&token),
                        ..Default::default()
                    },
                )
                .await
        }
    };
    let second = refresh(first.expose().to_owned()).await.unwrap();
    let reused = refresh(first.expose().to_owned()).await.unwrap_err();
    assert_eq!(reused.code, OAuthErrorCode::InvalidGrant);
    let after = refresh(second.refresh_token.unwrap().expose().to_owned())
        .await
        .unwrap_err();
    assert_eq!(after.code, OAuthErrorCode::InvalidGrant);
}

#[tokio::test]
async fn a_third_party_asks_for_consent_once_and_a_forged_form_is_refused() {
    let h = Harness::oidc(RegistrationPolicy::Open).await;
    let c = client(&h, false).await;
    let (answer, cookie) = through_wechat(&h, &c, "oWeb4").await;
    let Step::ToConsent(handle) = answer.step else {
        panic!("{:?}", answer.step)
    };
    let browser = Browser {
        session: Some(&cookie),
        ..Default::default()
    };
    let Step::ConsentPage(page) = h.wxauth.oidc_consent_page(&handle, browser).await else {
        panic!()
    };
    let forged = h
        .wxauth
        .oidc_consent(&h.ctx(), &handle, "not-the-token", true, browser)
        .await;
    assert!(matches!(forged, Step::ErrorPage(_)));
    let elsewhere = h
        .wxauth
        .oidc_consent(&h.ctx(), &handle, &page.csrf, true, Browser::default())
        .await;
    assert!(
        matches!(elsewhere, Step::ErrorPage(_)),
        "a browser without the session"
    );
    let step = h
        .wxauth
        .oidc_consent(&h.ctx(), &handle, &page.csrf, true, browser)
        .await;
    assert!(matches!(step, Step::ToClient(_)), "{step:?}");
    // Remembered: the next request with the session goes straight back with a code.
    let mut silent = params(&c, "openid offline_access");
    silent.prompt = Some("none".into());
    let answer = h.wxauth.oidc_authorize(&h.ctx(), &silent, browser).await;
    assert!(!code_of(&answer).is_empty());
}

#[tokio::test]
async fn a_moments_snapshot_user_is_refused_with_access_denied() {
    let h = Harness::oidc(RegistrationPolicy::Open).await;
    let c = client(&h, true).await;
    let started = h
        .wxauth
        .oidc_authorize(
            &h.ctx(),
            &params(&c, "openid"),
            Browser {
                in_wechat: true,
                ..Default::default()
            },
        )
        .await;
    let Step::ToWechat(url) = &started.step else {
        panic!()
    };
    h.wechat.oauth_code("snap", "oSnapshot", true);
    let bound = [started.bind_request.unwrap()];
    let answer = h
        .wxauth
        .oidc_callback(
            &h.ctx(),
            Some("snap"),
            Some(&query(url)["state"]),
            Browser {
                in_wechat: true,
                started: &bound,
                ..Default::default()
            },
        )
        .await;
    let Step::ToClient(redirect) = answer.step else {
        panic!("{:?}", answer.step)
    };
    assert_eq!(query(&redirect.url())["error"], "access_denied");
    assert!(answer.new_session.is_none());
}

#[tokio::test]
async fn max_age_sends_a_session_older_than_it_back_to_wechat() {
    let h = Harness::oidc(RegistrationPolicy::Open).await;
    let c = client(&h, true).await;
    let (_, cookie) = through_wechat(&h, &c, "oWeb5").await;
    let browser = Browser {
        session: Some(&cookie),
        in_wechat: true,
        ..Default::default()
    };
    let mut fresh_enough = params(&c, "openid");
    fresh_enough.max_age = Some("600".into());
    let answer = h
        .wxauth
        .oidc_authorize(&h.ctx(), &fresh_enough, browser)
        .await;
    assert!(
        matches!(answer.step, Step::ToClient(_)),
        "single sign-on within max_age"
    );
    h.clock.advance(time::Duration::seconds(601));
    let answer = h
        .wxauth
        .oidc_authorize(&h.ctx(), &fresh_enough, browser)
        .await;
    assert!(
        matches!(answer.step, Step::ToWechat(_)),
        "{:?}",
        answer.step
    );
    let mut bad = params(&c, "openid");
    bad.max_age = Some("-1".into());
    let answer = h.wxauth.oidc_authorize(&h.ctx(), &bad, browser).await;
    let Step::ToClient(redirect) = answer.step else {
        panic!()
    };
    assert_eq!(query(&redirect.url())["error"], "invalid_request");
}
