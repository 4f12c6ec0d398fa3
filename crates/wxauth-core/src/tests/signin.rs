use wxauth_domain::RegistrationPolicy;

use super::{login, signed_in};
use crate::miniprogram::MiniProgramLogin;
use crate::testing::Harness;
use crate::{CoreError, LoginOutcome, UpstreamError};

#[tokio::test]
async fn a_first_login_registers_the_user_and_a_second_finds_them() {
    let h = Harness::new(RegistrationPolicy::Open).await;
    let first = signed_in(login(&h, "oA", None).await.unwrap());
    assert!(first.is_new_user);
    let second = signed_in(login(&h, "oA", None).await.unwrap());
    assert!(!second.is_new_user);
    assert_eq!(first.user.public_id, second.user.public_id);
    assert_eq!(h.store.snapshot().users.len(), 1);
}

#[tokio::test]
async fn every_login_replaces_the_stored_session_key() {
    let h = Harness::new(RegistrationPolicy::Open).await;
    login(&h, "oA", None).await.unwrap();
    let first = h.store.snapshot().identities[0]
        .1
        .clone()
        .map(|k| secrecy::ExposeSecret::expose_secret(&k).to_owned());
    login(&h, "oA", None).await.unwrap();
    let second = h.store.snapshot().identities[0]
        .1
        .clone()
        .map(|k| secrecy::ExposeSecret::expose_secret(&k).to_owned());
    assert_ne!(first, second);
}

#[tokio::test]
async fn closed_registration_refuses_unknown_users_and_audits_it() {
    let h = Harness::new(RegistrationPolicy::Closed).await;
    let err = login(&h, "oA", None).await.unwrap_err();
    assert!(matches!(err, CoreError::RegistrationClosed));
    let state = h.store.snapshot();
    assert!(state.users.is_empty());
    let entry = state.audit.last().unwrap();
    assert_eq!((entry.kind.as_str(), entry.success), ("login", false));
    assert_eq!(entry.reason.as_deref(), Some("REGISTRATION_CLOSED"));
    assert_eq!(entry.ip.as_deref(), Some("203.0.113.7"));
}

#[tokio::test]
async fn bind_code_registration_creates_nothing_until_the_code_is_redeemed() {
    let h = Harness::new(RegistrationPolicy::BindCode).await;
    let LoginOutcome::BindRequired {
        bind_code,
        expires_in,
    } = login(&h, "oA", None).await.unwrap()
    else {
        panic!("expected a bind code");
    };
    assert_eq!(expires_in, 300);
    assert!(h.store.snapshot().users.is_empty());
    let registered = h
        .wxauth
        .register_with_bind_code(&h.ctx(), &bind_code, None)
        .await
        .unwrap();
    assert!(registered.is_new_user);
    // The registered user now simply signs in.
    let again = signed_in(login(&h, "oA", None).await.unwrap());
    assert_eq!(again.user.public_id, registered.user.public_id);
}

#[tokio::test]
async fn a_bind_code_works_once_and_not_after_five_minutes() {
    let h = Harness::new(RegistrationPolicy::BindCode).await;
    let LoginOutcome::BindRequired { bind_code, .. } = login(&h, "oA", None).await.unwrap() else {
        panic!()
    };
    h.wxauth
        .register_with_bind_code(&h.ctx(), &bind_code, None)
        .await
        .unwrap();
    let twice = h
        .wxauth
        .register_with_bind_code(&h.ctx(), &bind_code, None)
        .await
        .unwrap_err();
    assert!(matches!(
        twice,
        CoreError::BindCode(crate::BindCodeProblem::Used)
    ));

    let LoginOutcome::BindRequired { bind_code, .. } = login(&h, "oB", None).await.unwrap() else {
        panic!()
    };
    h.clock
        .advance(time::Duration::minutes(5) + time::Duration::seconds(1));
    let late = h
        .wxauth
        .register_with_bind_code(&h.ctx(), &bind_code, None)
        .await
        .unwrap_err();
    assert!(matches!(
        late,
        CoreError::BindCode(crate::BindCodeProblem::Expired)
    ));
    let unknown = h
        .wxauth
        .register_with_bind_code(&h.ctx(), "bc_nope", None)
        .await
        .unwrap_err();
    assert!(matches!(
        unknown,
        CoreError::BindCode(crate::BindCodeProblem::Unknown)
    ));
}

#[tokio::test]
async fn a_blocked_users_refused_login_is_audited_under_their_id() {
    let h = Harness::new(RegistrationPolicy::Open).await;
    let s = signed_in(login(&h, "oA", None).await.unwrap());
    h.wxauth
        .admin_set_blocked(&h.ctx(), &s.user.public_id, true)
        .await
        .unwrap();
    assert!(matches!(
        login(&h, "oA", None).await.unwrap_err(),
        CoreError::UserBlocked
    ));
    let audit = h.store.snapshot().audit;
    let refusal = audit.last().unwrap();
    assert_eq!(refusal.kind, "login");
    assert!(!refusal.success);
    assert_eq!(refusal.reason.as_deref(), Some("USER_BLOCKED"));
    assert_eq!(refusal.user, Some(s.user.public_id));
    let reported = h.telemetry.0.lock().unwrap().last().cloned().unwrap();
    assert_eq!(
        reported,
        (
            "mp".to_owned(),
            crate::ports::SignInOutcome::Failed(crate::ErrorCode::UserBlocked)
        )
    );
}

#[tokio::test]
async fn a_unionid_links_a_second_app_to_the_same_account() {
    let h = Harness::new(RegistrationPolicy::Open).await;
    let first = signed_in(login(&h, "oA", Some("uX")).await.unwrap());
    h.wechat.login_code("c2", "oA-in-mp2", Some("uX"));
    let second = h
        .wxauth
        .mini_program_login(
            &h.ctx(),
            MiniProgramLogin {
                app: Some("mp2"),
                code: "c2",
                phone_code: None,
            },
        )
        .await
        .unwrap();
    let second = signed_in(second);
    assert_eq!(second.user.public_id, first.user.public_id);
    assert!(!second.is_new_user);
    assert_eq!(h.store.snapshot().identities.len(), 2);
}

#[tokio::test]
async fn a_phone_keyed_login_attaches_the_identity_to_the_phones_account() {
    let h = Harness::new(RegistrationPolicy::Open).await;
    // Someone registers with a phone number through mp2.
    h.wechat.login_code("c1", "oOld", None);
    h.wechat.phone_code("p1", "+8613800138000");
    let owner = signed_in(
        h.wxauth
            .mini_program_login(
                &h.ctx(),
                MiniProgramLogin {
                    app: Some("mp2"),
                    code: "c1",
                    phone_code: Some("p1"),
                },
            )
            .await
            .unwrap(),
    );
    assert_eq!(owner.user.phone.as_ref().unwrap().e164(), "+8613800138000");
    // The same person logs in to mp with the same verified phone: same account.
    h.wechat.login_code("c2", "oNew", None);
    h.wechat.phone_code("p2", "+8613800138000");
    let again = signed_in(
        h.wxauth
            .mini_program_login(
                &h.ctx(),
                MiniProgramLogin {
                    app: Some("mp"),
                    code: "c2",
                    phone_code: Some("p2"),
                },
            )
            .await
            .unwrap(),
    );
    assert_eq!(again.user.public_id, owner.user.public_id);
}

#[tokio::test]
async fn a_new_wechat_user_with_the_accounts_phone_joins_it_in_the_same_app() {
    let h = Harness::new(RegistrationPolicy::Open).await;
    let h = &h;
    let login_with_phone = |code: &'static str, openid: &'static str| {
        h.wechat.login_code(code, openid, None);
        h.wechat.phone_code(&format!("p-{code}"), "+8613800138000");
        let phone_code = format!("p-{code}");
        async move {
            h.wxauth
                .mini_program_login(
                    &h.ctx(),
                    MiniProgramLogin {
                        app: Some("mp"),
                        code,
                        phone_code: Some(&phone_code),
                    },
                )
                .await
                .map(signed_in)
        }
    };
    let old_phone = login_with_phone("c1", "oOldWechat").await.unwrap();
    // The same person on a new WeChat account, same Mini Program, same phone number.
    let new_phone = login_with_phone("c2", "oNewWechat").await.unwrap();
    assert_eq!(new_phone.user.public_id, old_phone.user.public_id);
    assert!(!new_phone.is_new_user);
    let identities = h.store.snapshot().identities;
    assert_eq!(identities.len(), 2);
    assert!(
        identities
            .iter()
            .all(|(i, _)| i.user_id == old_phone.user.id)
    );
    // Both WeChat users sign in to the one account from now on.
    for openid in ["oOldWechat", "oNewWechat"] {
        let again = signed_in(login(h, openid, None).await.unwrap());
        assert_eq!(again.user.public_id, old_phone.user.public_id, "{openid}");
    }
}

#[tokio::test]
async fn sign_ins_are_reported_to_telemetry_by_app_and_outcome() {
    use crate::ErrorCode;
    use crate::ports::SignInOutcome;
    let h = Harness::new(RegistrationPolicy::Open).await;
    login(&h, "oA", None).await.unwrap();
    login(&h, "oA", None).await.unwrap();
    let err = h
        .wxauth
        .mini_program_login(
            &h.ctx(),
            MiniProgramLogin {
                app: Some("nope"),
                code: "c",
                phone_code: None,
            },
        )
        .await
        .unwrap_err();
    assert!(matches!(err, CoreError::AppNotFound(_)));
    let reported = h.telemetry.0.lock().unwrap().clone();
    assert_eq!(
        reported,
        [
            ("mp".to_owned(), SignInOutcome::Registered),
            ("mp".to_owned(), SignInOutcome::Returning),
            (
                "unknown".to_owned(),
                SignInOutcome::Failed(ErrorCode::AppNotFound)
            ),
        ]
    );
}

#[tokio::test]
async fn a_phone_belonging_to_another_account_is_a_conflict_not_a_move() {
    let h = Harness::new(RegistrationPolicy::Open).await;
    h.wechat.login_code("c1", "oOwner", None);
    h.wechat.phone_code("p1", "+8613800138000");
    h.wxauth
        .mini_program_login(
            &h.ctx(),
            MiniProgramLogin {
                app: None,
                code: "c1",
                phone_code: Some("p1"),
            },
        )
        .await
        .unwrap();
    login(&h, "oOther", None).await.unwrap();
    h.wechat.login_code("c2", "oOther", None);
    h.wechat.phone_code("p2", "+8613800138000");
    let err = h
        .wxauth
        .mini_program_login(
            &h.ctx(),
            MiniProgramLogin {
                app: None,
                code: "c2",
                phone_code: Some("p2"),
            },
        )
        .await
        .unwrap_err();
    assert!(matches!(err, CoreError::PhoneTaken));
}

#[tokio::test]
async fn wechat_errors_are_audited_as_failed_logins() {
    let h = Harness::new(RegistrationPolicy::Open).await;
    let err = h
        .wxauth
        .mini_program_login(
            &h.ctx(),
            MiniProgramLogin {
                app: None,
                code: "never-issued",
                phone_code: None,
            },
        )
        .await
        .unwrap_err();
    assert!(matches!(
        err,
        CoreError::Upstream(UpstreamError::InvalidCode)
    ));
    assert_eq!(
        h.store.snapshot().audit.last().unwrap().reason.as_deref(),
        Some("INVALID_CODE")
    );
}

#[tokio::test]
async fn codes_that_cannot_be_wechat_codes_never_reach_wechat() {
    let h = Harness::new(RegistrationPolicy::Open).await;
    for code in ["", "a b", &"x".repeat(300)] {
        let err = h
            .wxauth
            .mini_program_login(
                &h.ctx(),
                MiniProgramLogin {
                    app: None,
                    code,
                    phone_code: None,
                },
            )
            .await
            .unwrap_err();
        assert!(matches!(err, CoreError::Validation(_)), "{code:?}");
    }
    assert_eq!(*h.wechat.calls.lock().unwrap(), 0);
}
