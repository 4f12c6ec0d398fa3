use wxauth_domain::{Nickname, RegistrationPolicy};

use super::{login, signed_in};
use crate::account::{BindProof, ProfileUpdate};
use crate::testing::Harness;
use crate::{CoreError, LoginOutcome};

#[tokio::test]
async fn the_last_identity_cannot_be_unbound_without_a_phone() {
    let h = Harness::new(RegistrationPolicy::Open).await;
    let s = signed_in(login(&h, "oA", None).await.unwrap());
    let claims = h.wxauth.authenticate(&s.tokens.access_token).unwrap();
    let err = h
        .wxauth
        .unbind_wechat(&h.ctx(), &claims, "mp")
        .await
        .unwrap_err();
    assert!(matches!(err, CoreError::LastSignInMethod));
}

#[tokio::test]
async fn a_second_identity_can_be_bound_and_unbound() {
    let h = Harness::new(RegistrationPolicy::Open).await;
    let s = signed_in(login(&h, "oA", None).await.unwrap());
    let claims = h.wxauth.authenticate(&s.tokens.access_token).unwrap();
    h.wechat.login_code("c2", "oA2", None);
    let account = h
        .wxauth
        .bind_wechat(
            &h.ctx(),
            &claims,
            BindProof::LoginCode {
                app: Some("mp2"),
                code: "c2",
            },
        )
        .await
        .unwrap();
    assert_eq!(account.identities.len(), 2);
    let account = h
        .wxauth
        .unbind_wechat(&h.ctx(), &claims, "mp2")
        .await
        .unwrap();
    assert_eq!(account.identities.len(), 1);
}

#[tokio::test]
async fn a_second_wechat_user_of_the_same_app_is_attached_and_unbound_by_its_id() {
    let h = Harness::new(RegistrationPolicy::Open).await;
    let s = signed_in(login(&h, "oA", None).await.unwrap());
    let claims = h.wxauth.authenticate(&s.tokens.access_token).unwrap();
    h.wechat.login_code("c2", "oA-second-wechat", None);
    let account = h
        .wxauth
        .bind_wechat(
            &h.ctx(),
            &claims,
            BindProof::LoginCode {
                app: Some("mp"),
                code: "c2",
            },
        )
        .await
        .unwrap();
    let in_mp: Vec<_> = account
        .identities
        .iter()
        .filter(|i| i.app.as_str() == "mp")
        .collect();
    assert_eq!(in_mp.len(), 2, "two WeChat users of one Mini Program");

    // By app it is ambiguous now: the refusal names the choices.
    let err = h
        .wxauth
        .unbind_wechat(&h.ctx(), &claims, "mp")
        .await
        .unwrap_err();
    match err {
        CoreError::IdentityAmbiguous { app, choices } => {
            assert_eq!(app.as_str(), "mp");
            assert_eq!(choices, [in_mp[0].id, in_mp[1].id]);
        }
        other => panic!("expected IdentityAmbiguous, got {other:?}"),
    }
    let account = h
        .wxauth
        .unbind_identity(&h.ctx(), &claims, in_mp[0].id)
        .await
        .unwrap();
    assert_eq!(account.identities.len(), 1);
    assert_eq!(account.identities[0].openid.as_str(), "oA-second-wechat");
    // The last one stays: it is the only way left to sign in.
    let err = h
        .wxauth
        .unbind_wechat(&h.ctx(), &claims, "mp")
        .await
        .unwrap_err();
    assert!(matches!(err, CoreError::LastSignInMethod));
    // Someone else's identity is not found, not removed.
    let other = signed_in(login(&h, "oB", None).await.unwrap());
    h.wechat.login_code("c3", "oB-2", None);
    let other_claims = h.wxauth.authenticate(&other.tokens.access_token).unwrap();
    let others = h
        .wxauth
        .bind_wechat(
            &h.ctx(),
            &other_claims,
            BindProof::LoginCode {
                app: Some("mp2"),
                code: "c3",
            },
        )
        .await
        .unwrap();
    let err = h
        .wxauth
        .unbind_identity(&h.ctx(), &claims, others.identities[0].id)
        .await
        .unwrap_err();
    assert!(matches!(err, CoreError::NotFound(_)));
}

#[tokio::test]
async fn binding_a_wechat_user_that_belongs_to_someone_else_is_a_conflict() {
    let h = Harness::new(RegistrationPolicy::Open).await;
    let a = signed_in(login(&h, "oA", None).await.unwrap());
    h.wechat.login_code("cb", "oB", None);
    h.wxauth
        .mini_program_login(
            &h.ctx(),
            crate::miniprogram::MiniProgramLogin {
                app: Some("mp2"),
                code: "cb",
                phone_code: None,
            },
        )
        .await
        .unwrap();
    let claims = h.wxauth.authenticate(&a.tokens.access_token).unwrap();
    h.wechat.login_code("cb2", "oB", None);
    let err = h
        .wxauth
        .bind_wechat(
            &h.ctx(),
            &claims,
            BindProof::LoginCode {
                app: Some("mp2"),
                code: "cb2",
            },
        )
        .await
        .unwrap_err();
    assert!(matches!(err, CoreError::WechatAlreadyBound));
}

#[tokio::test]
async fn a_bind_code_can_attach_the_wechat_user_to_an_existing_account() {
    let h = Harness::new(RegistrationPolicy::BindCode).await;
    // An account that exists through another app.
    h.wechat.login_code("c0", "oElsewhere", None);
    let existing = signed_in(
        h.wxauth
            .mini_program_login(
                &h.ctx(),
                crate::miniprogram::MiniProgramLogin {
                    app: Some("mp2"),
                    code: "c0",
                    phone_code: None,
                },
            )
            .await
            .unwrap(),
    );
    let LoginOutcome::BindRequired { bind_code, .. } = login(&h, "oA", None).await.unwrap() else {
        panic!()
    };
    let claims = h
        .wxauth
        .authenticate(&existing.tokens.access_token)
        .unwrap();
    let account = h
        .wxauth
        .bind_wechat(&h.ctx(), &claims, BindProof::BindCode(&bind_code))
        .await
        .unwrap();
    assert_eq!(account.identities.len(), 2);
    let again = signed_in(login(&h, "oA", None).await.unwrap());
    assert_eq!(again.user.public_id, existing.user.public_id);
}

#[tokio::test]
async fn profile_updates_change_only_what_is_sent() {
    let h = Harness::new(RegistrationPolicy::Open).await;
    let s = signed_in(login(&h, "oA", None).await.unwrap());
    let claims = h.wxauth.authenticate(&s.tokens.access_token).unwrap();
    let update = ProfileUpdate {
        nickname: Some(Some(Nickname::parse("Band").unwrap())),
        avatar_url: None,
    };
    let user = h
        .wxauth
        .update_profile(&h.ctx(), &claims, update)
        .await
        .unwrap();
    assert_eq!(user.nickname.unwrap().as_str(), "Band");
    let user = h
        .wxauth
        .update_profile(&h.ctx(), &claims, ProfileUpdate::default())
        .await
        .unwrap();
    assert_eq!(user.nickname.unwrap().as_str(), "Band");
}

#[tokio::test]
async fn decrypting_needs_the_callers_session_in_that_app() {
    let h = Harness::new(RegistrationPolicy::Open).await;
    let s = signed_in(login(&h, "oA", None).await.unwrap());
    let claims = h.wxauth.authenticate(&s.tokens.access_token).unwrap();
    let data = h
        .wxauth
        .decrypt_user_data(&claims, None, "blob", "iv")
        .await
        .unwrap();
    assert!(
        data["key"].as_str().unwrap().starts_with("key-for-"),
        "the stored session key is used"
    );
    let err = h
        .wxauth
        .decrypt_user_data(&claims, Some("mp2"), "blob", "iv")
        .await
        .unwrap_err();
    assert!(matches!(err, CoreError::NoWechatSession(_)));
}
