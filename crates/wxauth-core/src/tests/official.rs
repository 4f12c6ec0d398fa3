use wxauth_domain::RegistrationPolicy;

use crate::CoreError;
use crate::official::QrLoginState;
use crate::ports::PushSignature;
use crate::testing::Harness;

fn good() -> PushSignature {
    PushSignature {
        signature: "good".into(),
        ..Default::default()
    }
}

#[tokio::test]
async fn a_scan_completes_the_qr_login_once() {
    let h = Harness::new(RegistrationPolicy::Open).await;
    let start = h.wxauth.start_qr_login(&h.ctx(), Some("oa")).await.unwrap();
    assert!(matches!(
        h.wxauth
            .poll_qr_login(&h.ctx(), &start.login_id)
            .await
            .unwrap(),
        QrLoginState::Pending
    ));
    let scene = h.store.snapshot().qr_logins[0].scene.clone();
    let push = format!("oScanner|1700000000|subscribe|{scene}");
    h.wxauth
        .handle_event("oa", &good(), push.as_bytes())
        .await
        .unwrap();
    let QrLoginState::SignedIn(s) = h
        .wxauth
        .poll_qr_login(&h.ctx(), &start.login_id)
        .await
        .unwrap()
    else {
        panic!("expected tokens");
    };
    assert!(s.is_new_user);
    let again = h
        .wxauth
        .poll_qr_login(&h.ctx(), &start.login_id)
        .await
        .unwrap_err();
    assert!(matches!(again, CoreError::QrLoginConsumed));
}

#[tokio::test]
async fn an_unscanned_qr_login_expires() {
    let h = Harness::new(RegistrationPolicy::Open).await;
    let start = h.wxauth.start_qr_login(&h.ctx(), Some("oa")).await.unwrap();
    h.clock.advance(time::Duration::minutes(6));
    assert!(matches!(
        h.wxauth
            .poll_qr_login(&h.ctx(), &start.login_id)
            .await
            .unwrap(),
        QrLoginState::Expired
    ));
}

#[tokio::test]
async fn retried_pushes_are_handled_once_and_bad_signatures_refused() {
    let h = Harness::new(RegistrationPolicy::Open).await;
    let push = b"oFan|1700000001|subscribe";
    h.wxauth.handle_event("oa", &good(), push).await.unwrap();
    h.wxauth.handle_event("oa", &good(), push).await.unwrap();
    assert_eq!(h.store.snapshot().events.len(), 1);
    assert_eq!(
        h.store
            .snapshot()
            .followers
            .values()
            .filter(|f| **f)
            .count(),
        1
    );
    let bad = PushSignature {
        signature: "bad".into(),
        ..Default::default()
    };
    assert!(matches!(
        h.wxauth.handle_event("oa", &bad, push).await.unwrap_err(),
        CoreError::InvalidSignature
    ));
}

#[tokio::test]
async fn qr_code_limits_are_checked_before_calling_wechat() {
    use crate::official::QrCodeRequest;
    use crate::ports::QrScene;
    let h = Harness::new(RegistrationPolicy::Open).await;
    let req = |scene, expire_seconds, permanent| QrCodeRequest {
        app: Some("oa"),
        scene,
        expire_seconds,
        permanent,
    };
    assert!(
        h.wxauth
            .create_qr_code(&h.ctx(), req(QrScene::Id(1), Some(59), false))
            .await
            .is_err()
    );
    assert!(
        h.wxauth
            .create_qr_code(&h.ctx(), req(QrScene::Id(100_001), None, true))
            .await
            .is_err()
    );
    assert!(
        h.wxauth
            .create_qr_code(&h.ctx(), req(QrScene::Str("x".repeat(65)), None, false))
            .await
            .is_err()
    );
    assert!(
        h.wxauth
            .create_qr_code(
                &h.ctx(),
                req(QrScene::Str("poster".into()), Some(600), false)
            )
            .await
            .is_ok()
    );
    let wrong_kind = QrCodeRequest {
        app: Some("mp"),
        scene: QrScene::Id(1),
        expire_seconds: None,
        permanent: false,
    };
    assert!(matches!(
        h.wxauth
            .create_qr_code(&h.ctx(), wrong_kind)
            .await
            .unwrap_err(),
        CoreError::WrongAppKind { .. }
    ));
}

#[test]
fn retries_share_a_dedupe_key_and_different_events_of_one_second_do_not() {
    use crate::official::dedupe_key;
    use crate::ports::{InboundEvent, InboundEventKind};
    let follow = InboundEvent {
        openid: wxauth_domain::OpenId::parse("oX").unwrap(),
        create_time: 1_700_000_000,
        msg_id: None,
        kind: InboundEventKind::Subscribe,
        event_key: Some("qrscene_a".into()),
        scene: Some("a".into()),
        ticket: None,
    };
    let scan = InboundEvent {
        kind: InboundEventKind::Scan,
        event_key: Some("a".into()),
        ..follow.clone()
    };
    assert_eq!(dedupe_key(&follow), dedupe_key(&follow.clone()));
    assert_ne!(dedupe_key(&follow), dedupe_key(&scan));
    let message = InboundEvent {
        msg_id: Some(42),
        kind: InboundEventKind::Other("text".into()),
        ..follow.clone()
    };
    assert_eq!(dedupe_key(&message), "msg:42");
}
