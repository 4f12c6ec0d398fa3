use wxauth_domain::RegistrationPolicy;

use crate::CoreError;
use crate::oauth::AuthorizeRequest;
use crate::testing::Harness;

fn request<'a>(redirect: &'a str, callback: &'a str) -> AuthorizeRequest<'a> {
    AuthorizeRequest {
        app: Some("oa"),
        redirect_uri: redirect,
        callback,
        scope: None,
        force_popup: None,
    }
}

#[tokio::test]
async fn a_state_works_once_and_carries_the_redirect() {
    let h = Harness::new(RegistrationPolicy::Open).await;
    let auth = h
        .wxauth
        .oauth_authorize(
            &h.ctx(),
            request("https://app.example.com/home", "https://app.example.com/cb"),
        )
        .await
        .unwrap();
    assert!(auth.authorize_url.contains(&auth.state));
    h.wechat.oauth_code("w1", "oWeb", false);
    let login = h
        .wxauth
        .oauth_login(&h.ctx(), "w1", &auth.state)
        .await
        .unwrap();
    assert_eq!(login.redirect_uri, "https://app.example.com/home");
    h.wechat.oauth_code("w2", "oWeb", false);
    let again = h
        .wxauth
        .oauth_login(&h.ctx(), "w2", &auth.state)
        .await
        .unwrap_err();
    assert!(matches!(again, CoreError::InvalidState));
}

#[tokio::test]
async fn a_state_expires_after_ten_minutes() {
    let h = Harness::new(RegistrationPolicy::Open).await;
    let auth = h
        .wxauth
        .oauth_authorize(
            &h.ctx(),
            request("https://app.example.com/home", "https://app.example.com/cb"),
        )
        .await
        .unwrap();
    h.clock.advance(time::Duration::minutes(11));
    h.wechat.oauth_code("w1", "oWeb", false);
    let err = h
        .wxauth
        .oauth_login(&h.ctx(), "w1", &auth.state)
        .await
        .unwrap_err();
    assert!(matches!(err, CoreError::InvalidState));
}

#[tokio::test]
async fn redirects_outside_the_allow_list_are_refused() {
    let h = Harness::new(RegistrationPolicy::Open).await;
    let err = h
        .wxauth
        .oauth_authorize(
            &h.ctx(),
            request("https://evil.example.com/", "https://app.example.com/cb"),
        )
        .await
        .unwrap_err();
    assert!(matches!(
        err,
        CoreError::RedirectNotAllowed {
            field: "redirectUri"
        }
    ));
    let err = h
        .wxauth
        .oauth_authorize(
            &h.ctx(),
            request("https://app.example.com/x", "https://app.example.com/x"),
        )
        .await
        .unwrap_err();
    assert!(
        matches!(err, CoreError::Validation(_)),
        "redirectUri and callback must differ"
    );
}

#[tokio::test]
async fn snapshot_users_get_no_account() {
    let h = Harness::new(RegistrationPolicy::Open).await;
    let auth = h
        .wxauth
        .oauth_authorize(
            &h.ctx(),
            request("https://app.example.com/home", "https://app.example.com/cb"),
        )
        .await
        .unwrap();
    h.wechat.oauth_code("w1", "oSnap", true);
    let err = h
        .wxauth
        .oauth_login(&h.ctx(), "w1", &auth.state)
        .await
        .unwrap_err();
    assert!(matches!(err, CoreError::SnapshotUser));
    assert!(h.store.snapshot().users.is_empty());
}
