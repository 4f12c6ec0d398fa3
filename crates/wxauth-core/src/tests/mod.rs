//! The use cases against in-memory fakes and a manual clock: one behaviour per test.

mod account;
mod oauth;
mod official;
mod sessions;
mod signin;

use crate::fakes::Harness;
use crate::miniprogram::MiniProgramLogin;
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

pub(crate) fn signed_in(outcome: LoginOutcome) -> SignedIn {
    match outcome {
        LoginOutcome::SignedIn(s) => *s,
        other => panic!("expected a sign-in, got {other:?}"),
    }
}
