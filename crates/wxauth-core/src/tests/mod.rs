//! The use cases against in-memory fakes and a manual clock: one behaviour per test.

mod account;
mod apps;
mod mp_qr_login;
mod oauth;
mod official;
mod oidc;
mod sessions;
mod signin;

use crate::miniprogram::MiniProgramLogin;
use crate::testing::Harness;
use crate::{LoginOutcome, SignedIn};

/// Logs `openid` in to `mp` through a fresh code.
pub(crate) async fn login(
    h: &Harness,
    openid: &str,
    unionid: Option<&str>,
) -> crate::CoreResult<LoginOutcome> {
    let code = format!("code-{openid}-{}", uuid::Uuid::new_v4());
    h.wechat.login_code(&code, openid, unionid);
    h.wxauth
        .mini_program_login(
            &h.ctx(),
            MiniProgramLogin {
                app: None,
                code: &code,
                phone_code: None,
            },
        )
        .await
}

#[tokio::test]
async fn the_fake_store_keeps_the_store_contract() {
    crate::testing::contract::run(&crate::testing::FakeStore::default()).await;
}

pub(crate) fn signed_in(outcome: LoginOutcome) -> SignedIn {
    match outcome {
        LoginOutcome::SignedIn(s) => *s,
        other => panic!("expected a sign-in, got {other:?}"),
    }
}
