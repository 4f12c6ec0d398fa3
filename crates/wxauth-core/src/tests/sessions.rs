use wxauth_domain::RegistrationPolicy;

use super::{login, signed_in};
use crate::CoreError;
use crate::testing::Harness;

#[tokio::test]
async fn a_refresh_token_rotates_and_works_once() {
    let h = Harness::new(RegistrationPolicy::Open).await;
    let s = signed_in(login(&h, "oA", None).await.unwrap());
    let first = s.tokens.refresh_token.expose().to_owned();
    let next = h.wxauth.refresh(&h.ctx(), &first).await.unwrap();
    assert_ne!(next.tokens.refresh_token.expose(), first);
    assert_eq!(next.user.public_id, s.user.public_id);
    // The new one works.
    h.wxauth
        .refresh(&h.ctx(), next.tokens.refresh_token.expose())
        .await
        .unwrap();
}

#[tokio::test]
async fn reusing_a_refresh_token_revokes_the_whole_session() {
    let h = Harness::new(RegistrationPolicy::Open).await;
    let s = signed_in(login(&h, "oA", None).await.unwrap());
    let stolen = s.tokens.refresh_token.expose().to_owned();
    let legit = h.wxauth.refresh(&h.ctx(), &stolen).await.unwrap();
    let reuse = h.wxauth.refresh(&h.ctx(), &stolen).await.unwrap_err();
    assert!(matches!(reuse, CoreError::RefreshTokenReused));
    // The legitimate holder's newer token died with the family.
    let after = h
        .wxauth
        .refresh(&h.ctx(), legit.tokens.refresh_token.expose())
        .await
        .unwrap_err();
    assert!(matches!(after, CoreError::InvalidRefreshToken));
    assert!(
        h.store
            .snapshot()
            .audit
            .iter()
            .any(|e| e.kind == "refresh_token_reuse")
    );
}

#[tokio::test]
async fn an_expired_refresh_token_is_refused() {
    let h = Harness::new(RegistrationPolicy::Open).await;
    let s = signed_in(login(&h, "oA", None).await.unwrap());
    h.clock.advance(time::Duration::days(31));
    let err = h
        .wxauth
        .refresh(&h.ctx(), s.tokens.refresh_token.expose())
        .await
        .unwrap_err();
    assert!(matches!(err, CoreError::InvalidRefreshToken));
}

#[tokio::test]
async fn a_blocked_user_is_told_so_on_refresh_and_the_refusal_is_filed_under_them() {
    let h = Harness::new(RegistrationPolicy::Open).await;
    let s = signed_in(login(&h, "oA", None).await.unwrap());
    // Blocking revokes the sessions too, yet the client learns of the block, not of a
    // revoked token: it must not loop through sign-in again.
    h.wxauth
        .admin_set_blocked(&h.ctx(), &s.user.public_id, true)
        .await
        .unwrap();
    let err = h
        .wxauth
        .refresh(&h.ctx(), s.tokens.refresh_token.expose())
        .await
        .unwrap_err();
    assert!(matches!(err, CoreError::UserBlocked), "{err:?}");
    let audit = h.store.snapshot().audit;
    let refusal = audit.iter().rev().find(|e| e.kind == "refresh").unwrap();
    assert!(!refusal.success);
    assert_eq!(refusal.reason.as_deref(), Some("USER_BLOCKED"));
    assert_eq!(refusal.user, Some(s.user.public_id));

    // Unblocking does not bring the revoked session back.
    h.wxauth
        .admin_set_blocked(&h.ctx(), &s.user.public_id, false)
        .await
        .unwrap();
    let err = h
        .wxauth
        .refresh(&h.ctx(), s.tokens.refresh_token.expose())
        .await
        .unwrap_err();
    assert!(matches!(err, CoreError::InvalidRefreshToken), "{err:?}");
}

#[tokio::test]
async fn logout_ends_the_session_by_refresh_token_or_access_token() {
    let h = Harness::new(RegistrationPolicy::Open).await;
    let s = signed_in(login(&h, "oA", None).await.unwrap());
    h.wxauth
        .logout(&h.ctx(), Some(s.tokens.refresh_token.expose()), None)
        .await
        .unwrap();
    assert!(
        h.wxauth
            .refresh(&h.ctx(), s.tokens.refresh_token.expose())
            .await
            .is_err()
    );

    let s = signed_in(login(&h, "oA", None).await.unwrap());
    let claims = h.wxauth.authenticate(&s.tokens.access_token).unwrap();
    h.wxauth
        .logout(&h.ctx(), None, Some(&claims))
        .await
        .unwrap();
    assert!(
        h.wxauth
            .refresh(&h.ctx(), s.tokens.refresh_token.expose())
            .await
            .is_err()
    );
}

#[tokio::test]
async fn access_tokens_carry_the_public_id_app_and_session() {
    let h = Harness::new(RegistrationPolicy::Open).await;
    let s = signed_in(login(&h, "oA", None).await.unwrap());
    let claims = h.wxauth.authenticate(&s.tokens.access_token).unwrap();
    assert_eq!(claims.sub, s.user.public_id);
    assert_eq!(claims.app.as_ref().map(|a| a.as_str()), Some("mp"));
    assert!(claims.sid.is_some());
    assert_eq!(claims.exp - claims.iat, 900);
}
