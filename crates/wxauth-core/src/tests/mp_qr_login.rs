use futures::FutureExt;
use wxauth_domain::RegistrationPolicy;

use super::{login, signed_in};
use crate::CoreError;
use crate::UpstreamError;
use crate::mp_qr_login::{MpQrLoginState, Scanner};
use crate::ports::AccessTokenSigner;
use crate::testing::{FakeSigner, Harness};

/// A started login and the scene its code carries.
async fn start(h: &Harness) -> (String, String) {
    let started = h
        .wxauth
        .start_mp_qr_login(&h.ctx(), Some("mp"), Some("Mozilla/5.0 Chrome/131.0"))
        .await
        .unwrap();
    let scene = h
        .wechat
        .codes_drawn
        .lock()
        .unwrap()
        .last()
        .cloned()
        .unwrap();
    (started.login_id, scene)
}

/// A fresh `wx.login` code for `openid`.
fn code(h: &Harness, openid: &str) -> String {
    let code = format!("code-{openid}-{}", uuid::Uuid::new_v4());
    h.wechat.login_code(&code, openid, None);
    code
}

async fn scan(h: &Harness, scene: &str, openid: &str) -> crate::CoreResult<String> {
    let code = code(h, openid);
    h.wxauth
        .scan_mp_qr_login(&h.ctx(), scene, Scanner::Code(&code))
        .await
        .map(|s| s.confirm_token)
}

async fn poll(h: &Harness, login_id: &str) -> crate::CoreResult<MpQrLoginState> {
    h.wxauth.poll_mp_qr_login(&h.ctx(), login_id).await
}

fn audit_kinds(h: &Harness) -> Vec<(String, bool)> {
    h.store
        .snapshot()
        .audit
        .iter()
        .filter(|e| e.kind.starts_with("mp_qr_login."))
        .map(|e| (e.kind.clone(), e.success))
        .collect()
}

#[tokio::test]
async fn scanning_and_confirming_signs_the_desktop_in_once() {
    let h = Harness::new(RegistrationPolicy::Open).await;
    let (login_id, scene) = start(&h).await;
    assert!(matches!(
        poll(&h, &login_id).await.unwrap(),
        MpQrLoginState::Pending { .. }
    ));

    let scanned = h
        .wxauth
        .scan_mp_qr_login(&h.ctx(), &scene, Scanner::Code(&code(&h, "oScanner")))
        .await
        .unwrap();
    assert_eq!(scanned.app.key.as_str(), "mp");
    assert_eq!(scanned.desktop_ip.as_deref(), Some("203.0.113.7"));
    assert_eq!(
        scanned.desktop_agent.as_deref(),
        Some("Mozilla/5.0 Chrome/131.0")
    );
    assert!(matches!(
        poll(&h, &login_id).await.unwrap(),
        MpQrLoginState::Scanned { .. }
    ));

    h.wxauth
        .confirm_mp_qr_login(&h.ctx(), &scene, &scanned.confirm_token)
        .await
        .unwrap();
    let MpQrLoginState::Confirmed(signed_in) = poll(&h, &login_id).await.unwrap() else {
        panic!("expected the tokens");
    };
    assert!(signed_in.is_new_user);
    assert!(matches!(
        poll(&h, &login_id).await.unwrap_err(),
        CoreError::QrLoginConsumed
    ));
    assert_eq!(
        audit_kinds(&h),
        [
            ("mp_qr_login.created".to_owned(), true),
            ("mp_qr_login.scanned".to_owned(), true),
            ("mp_qr_login.confirmed".to_owned(), true),
        ]
    );
}

#[tokio::test]
async fn the_account_is_the_one_the_mini_program_signs_in() {
    let h = Harness::new(RegistrationPolicy::Open).await;
    let existing = signed_in(login(&h, "oAlice", None).await.unwrap());
    let (login_id, scene) = start(&h).await;
    let token = scan(&h, &scene, "oAlice").await.unwrap();
    h.wxauth
        .confirm_mp_qr_login(&h.ctx(), &scene, &token)
        .await
        .unwrap();
    let MpQrLoginState::Confirmed(desktop) = poll(&h, &login_id).await.unwrap() else {
        panic!("expected the tokens");
    };
    assert_eq!(desktop.user.public_id, existing.user.public_id);
    assert!(!desktop.is_new_user);
}

#[tokio::test]
async fn a_signed_in_mini_program_user_scans_with_their_access_token() {
    let h = Harness::new(RegistrationPolicy::Open).await;
    let alice = signed_in(login(&h, "oAlice", None).await.unwrap());
    let claims = FakeSigner.verify(&alice.tokens.access_token).unwrap();
    let (login_id, scene) = start(&h).await;
    let scanned = h
        .wxauth
        .scan_mp_qr_login(&h.ctx(), &scene, Scanner::SignedIn(&claims))
        .await
        .unwrap();
    h.wxauth
        .confirm_mp_qr_login(&h.ctx(), &scene, &scanned.confirm_token)
        .await
        .unwrap();
    let MpQrLoginState::Confirmed(desktop) = poll(&h, &login_id).await.unwrap() else {
        panic!("expected the tokens");
    };
    assert_eq!(desktop.user.public_id, alice.user.public_id);
}

#[tokio::test]
async fn only_the_first_scanner_may_scan_again_confirm_or_cancel() {
    let h = Harness::new(RegistrationPolicy::Open).await;
    let (_, scene) = start(&h).await;
    let first = scan(&h, &scene, "oFirst").await.unwrap();
    assert!(matches!(
        scan(&h, &scene, "oSecond").await.unwrap_err(),
        CoreError::QrLoginTaken
    ));
    // The first scanner scanning again gets a new token; the old one no longer confirms.
    let again = scan(&h, &scene, "oFirst").await.unwrap();
    assert_ne!(first, again);
    let stale = h
        .wxauth
        .confirm_mp_qr_login(&h.ctx(), &scene, &first)
        .await
        .unwrap_err();
    assert!(matches!(stale, CoreError::Unauthenticated(_)));
    let forged = h
        .wxauth
        .cancel_mp_qr_login(&h.ctx(), &scene, "mqc_forged")
        .await
        .unwrap_err();
    assert!(matches!(forged, CoreError::Unauthenticated(_)));
    h.wxauth
        .confirm_mp_qr_login(&h.ctx(), &scene, &again)
        .await
        .unwrap();
    let twice = h
        .wxauth
        .confirm_mp_qr_login(&h.ctx(), &scene, &again)
        .await
        .unwrap_err();
    assert!(matches!(twice, CoreError::QrLoginFinished));
}

#[tokio::test]
async fn the_scene_never_reads_the_login_and_guesses_find_nothing() {
    let h = Harness::new(RegistrationPolicy::Open).await;
    let (login_id, scene) = start(&h).await;
    assert_eq!(scene.len(), 32);
    assert!(scene.bytes().all(|b| b.is_ascii_alphanumeric()));
    assert_ne!(scene, login_id);
    // Polling or fetching the image by scene: not found.
    assert!(matches!(
        poll(&h, &scene).await.unwrap_err(),
        CoreError::NotFound(_)
    ));
    assert!(h.wxauth.mp_qr_login_image(&h.ctx(), &scene).await.is_err());
    // A guessed scene, or one of another shape.
    for guess in ["A".repeat(32), "short".into(), format!("{scene}x")] {
        assert!(matches!(
            scan(&h, &guess, "oGuess").await.unwrap_err(),
            CoreError::NotFound(_)
        ));
    }
    // Nothing the row keeps is either key.
    let row = &h.store.snapshot().mp_qr_logins[0];
    assert_ne!(row.login_hash, login_id);
    assert_ne!(row.scene_hash, scene);
}

#[tokio::test]
async fn a_cancelled_login_tells_the_desktop_and_cannot_be_confirmed() {
    let h = Harness::new(RegistrationPolicy::Open).await;
    let (login_id, scene) = start(&h).await;
    let token = scan(&h, &scene, "oScanner").await.unwrap();
    h.wxauth
        .cancel_mp_qr_login(&h.ctx(), &scene, &token)
        .await
        .unwrap();
    assert!(matches!(
        poll(&h, &login_id).await.unwrap(),
        MpQrLoginState::Cancelled
    ));
    assert!(matches!(
        h.wxauth
            .confirm_mp_qr_login(&h.ctx(), &scene, &token)
            .await
            .unwrap_err(),
        CoreError::QrLoginFinished
    ));
    assert!(
        h.wxauth
            .mp_qr_login_image(&h.ctx(), &login_id)
            .await
            .is_err()
    );
}

#[tokio::test]
async fn an_expired_login_refuses_the_scan_and_is_audited_and_purged() {
    let h = Harness::new(RegistrationPolicy::Open).await;
    let (login_id, scene) = start(&h).await;
    let token = scan(&h, &scene, "oScanner").await.unwrap();
    h.clock.advance(time::Duration::minutes(6));
    assert!(matches!(
        poll(&h, &login_id).await.unwrap(),
        MpQrLoginState::Expired
    ));
    assert!(matches!(
        scan(&h, &scene, "oScanner").await.unwrap_err(),
        CoreError::QrLoginExpired
    ));
    assert!(matches!(
        h.wxauth
            .confirm_mp_qr_login(&h.ctx(), &scene, &token)
            .await
            .unwrap_err(),
        CoreError::QrLoginExpired
    ));
    assert_eq!(h.wxauth.expire_mp_qr_logins().await.unwrap(), 1);
    assert!(h.store.snapshot().mp_qr_logins.is_empty());
    let expired = h
        .store
        .snapshot()
        .audit
        .into_iter()
        .find(|e| e.kind == "mp_qr_login.expired")
        .unwrap();
    assert_eq!(
        expired.reason.as_deref(),
        Some("desktop 203.0.113.7, scanner 203.0.113.7")
    );
    assert!(matches!(
        poll(&h, &login_id).await.unwrap_err(),
        CoreError::NotFound(_)
    ));
}

#[tokio::test]
async fn a_blocked_user_cannot_scan_or_confirm() {
    let h = Harness::new(RegistrationPolicy::Open).await;
    let alice = signed_in(login(&h, "oAlice", None).await.unwrap());
    let (login_id, scene) = start(&h).await;
    let token = scan(&h, &scene, "oAlice").await.unwrap();
    h.wxauth
        .admin_set_blocked(&h.ctx(), &alice.user.public_id, true)
        .await
        .unwrap();
    assert!(matches!(
        h.wxauth
            .confirm_mp_qr_login(&h.ctx(), &scene, &token)
            .await
            .unwrap_err(),
        CoreError::UserBlocked
    ));
    assert!(matches!(
        scan(&h, &scene, "oAlice").await.unwrap_err(),
        CoreError::UserBlocked
    ));
    assert!(matches!(
        poll(&h, &login_id).await.unwrap(),
        MpQrLoginState::Scanned { .. }
    ));
    let refused = h
        .store
        .snapshot()
        .audit
        .into_iter()
        .find(|e| e.kind == "mp_qr_login.confirmed")
        .unwrap();
    assert!(!refused.success);
    assert_eq!(refused.user, Some(alice.user.public_id));
    assert_eq!(refused.reason.as_deref(), Some("USER_BLOCKED"));
}

#[tokio::test]
async fn closed_registration_refuses_an_unknown_scanner() {
    let h = Harness::new(RegistrationPolicy::Closed).await;
    let (_, scene) = start(&h).await;
    assert!(matches!(
        scan(&h, &scene, "oStranger").await.unwrap_err(),
        CoreError::RegistrationClosed
    ));
}

#[tokio::test]
async fn bind_code_registration_hands_the_desktop_a_bind_code() {
    let h = Harness::new(RegistrationPolicy::BindCode).await;
    let (login_id, scene) = start(&h).await;
    let token = scan(&h, &scene, "oStranger").await.unwrap();
    h.wxauth
        .confirm_mp_qr_login(&h.ctx(), &scene, &token)
        .await
        .unwrap();
    let MpQrLoginState::BindRequired { bind_code, .. } = poll(&h, &login_id).await.unwrap() else {
        panic!("expected a bind code");
    };
    assert!(bind_code.starts_with("bc_"));
}

#[tokio::test]
async fn wechat_failures_drawing_the_code_are_typed_and_create_nothing() {
    let h = Harness::new(RegistrationPolicy::Open).await;
    h.wechat
        .code_failures
        .lock()
        .unwrap()
        .push(UpstreamError::RateLimited);
    let err = h
        .wxauth
        .start_mp_qr_login(&h.ctx(), Some("mp"), None)
        .await
        .unwrap_err();
    assert!(matches!(
        err,
        CoreError::Upstream(UpstreamError::RateLimited)
    ));
    assert!(h.store.snapshot().mp_qr_logins.is_empty());
    assert_eq!(audit_kinds(&h), [("mp_qr_login.created".to_owned(), false)]);
}

#[tokio::test]
async fn only_mini_programs_draw_scan_login_codes() {
    let h = Harness::new(RegistrationPolicy::Open).await;
    let err = h
        .wxauth
        .start_mp_qr_login(&h.ctx(), Some("oa"), None)
        .await
        .unwrap_err();
    assert!(matches!(err, CoreError::WrongAppKind { .. }));
}

#[tokio::test]
async fn a_watcher_is_woken_by_the_scan_and_by_the_change_feed() {
    let h = Harness::new(RegistrationPolicy::Open).await;
    let (login_id, scene) = start(&h).await;
    let mut local = h.wxauth.watch_mp_qr_login(&login_id).unwrap();
    assert_eq!((&mut local).now_or_never(), None);
    let token = scan(&h, &scene, "oScanner").await.unwrap();
    assert_eq!(
        (&mut local).now_or_never(),
        Some(()),
        "woken by this instance"
    );

    // Another instance on the same store confirms: this one learns it from the change feed.
    let other = h.sibling();
    h.clock.advance(time::Duration::seconds(30));
    let mut remote = h.wxauth.watch_mp_qr_login(&login_id).unwrap();
    h.wxauth.sync_qr_login_watchers().await.unwrap();
    assert_eq!((&mut remote).now_or_never(), None, "nothing changed since");
    other
        .confirm_mp_qr_login(&h.ctx(), &scene, &token)
        .await
        .unwrap();
    assert_eq!((&mut remote).now_or_never(), None);
    h.wxauth.sync_qr_login_watchers().await.unwrap();
    assert_eq!((&mut remote).now_or_never(), Some(()), "woken by the feed");
}

#[tokio::test]
async fn a_scan_with_a_code_keeps_the_new_session_key_of_a_known_user() {
    let h = Harness::new(RegistrationPolicy::Open).await;
    signed_in(login(&h, "oAlice", None).await.unwrap());
    let (_, scene) = start(&h).await;
    let code = code(&h, "oAlice");
    h.wxauth
        .scan_mp_qr_login(&h.ctx(), &scene, Scanner::Code(&code))
        .await
        .unwrap();
    let (_, key) = h
        .store
        .snapshot()
        .identities
        .into_iter()
        .find(|(i, _)| i.openid.as_str() == "oAlice")
        .unwrap();
    // The fake WeChat derives each session key from its code.
    assert_eq!(
        secrecy::ExposeSecret::expose_secret(&key.unwrap()),
        format!("key-for-{code}")
    );
}

#[tokio::test]
async fn a_confirmed_login_refuses_a_scan_before_spending_its_code() {
    let h = Harness::new(RegistrationPolicy::Open).await;
    let (_, scene) = start(&h).await;
    let token = scan(&h, &scene, "oScanner").await.unwrap();
    h.wxauth
        .confirm_mp_qr_login(&h.ctx(), &scene, &token)
        .await
        .unwrap();
    let code = code(&h, "oScanner");
    let err = h
        .wxauth
        .scan_mp_qr_login(&h.ctx(), &scene, Scanner::Code(&code))
        .await
        .unwrap_err();
    assert!(matches!(err, CoreError::QrLoginFinished));
    assert!(
        h.wechat.logins.lock().unwrap().contains_key(&code),
        "the wx.login code is still good for the Mini Program's own login"
    );
}
