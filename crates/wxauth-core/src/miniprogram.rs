//! Mini Program use cases: `wx.login` codes, phone-number codes, and the legacy
//! `encryptedData` that only the server-held session_key can open.

use std::sync::Arc;

use wxauth_domain::{App, AppKind, OpenId, UnionId};

use crate::audit::kind;
use crate::error::{CoreError, CoreResult};
use crate::ports::{AccessClaims, LimitClass, UserDataError, VerifiedPhone};
use crate::service::{RequestContext, Wxauth, finish};
use crate::sessions::LoginOutcome;
use crate::signin::{Unknown, WechatSignIn};

/// Codes come from the client; WeChat's are 32 characters. Anything longer or with characters
/// outside this set is refused before it reaches WeChat.
fn check_code(field: &'static str, code: &str) -> CoreResult<()> {
    if code.is_empty() {
        return Err(CoreError::validation(field, "must not be empty"));
    }
    if code.len() > 256 || !code.bytes().all(|b| b.is_ascii_graphic()) {
        return Err(CoreError::validation(field, "is not a WeChat code"));
    }
    Ok(())
}

#[derive(Debug, Clone)]
pub struct MiniProgramLogin<'a> {
    pub app: Option<&'a str>,
    pub code: &'a str,
    /// A `getPhoneNumber` code: when present the account is keyed by the verified phone.
    pub phone_code: Option<&'a str>,
}

impl Wxauth {
    pub async fn mini_program_app(&self, app: Option<&str>) -> CoreResult<Arc<App>> {
        self.apps.resolve(app, &[AppKind::MiniProgram]).await
    }

    /// Resolves the Mini Program a request names and admits the request against the caller's
    /// and the app's limits for `class`. The caller's budget is spent even when the app does
    /// not resolve.
    async fn admitted_mini_program(
        &self,
        ctx: &RequestContext,
        class: LimitClass,
        app: Option<&str>,
    ) -> CoreResult<Arc<App>> {
        let app = self.mini_program_app(app).await;
        self.admit(ctx, class, app.as_ref().ok().map(|a| &a.key))
            .await?;
        app
    }

    /// Signs a Mini Program user in with a `wx.login` code.
    pub async fn mini_program_login(
        &self,
        ctx: &RequestContext,
        req: MiniProgramLogin<'_>,
    ) -> CoreResult<LoginOutcome> {
        let app = match self
            .admitted_mini_program(ctx, LimitClass::Login, req.app)
            .await
        {
            Ok(app) => app,
            Err(e @ CoreError::RateLimited { .. }) => return Err(e),
            Err(e) => {
                self.sign_in_failed(ctx, kind::LOGIN, None, None, &e).await;
                return Err(e);
            }
        };
        let who = match self.mini_program_user(&app, &req).await {
            Ok(who) => who,
            Err(e) => {
                self.sign_in_failed(ctx, kind::LOGIN, Some(&app), None, &e)
                    .await;
                return Err(e);
            }
        };
        self.sign_in_wechat(ctx, &app, who, Unknown::ByPolicy).await
    }

    /// The WeChat user behind a login's codes, as WeChat vouches for them.
    async fn mini_program_user(
        &self,
        app: &App,
        req: &MiniProgramLogin<'_>,
    ) -> CoreResult<WechatSignIn> {
        check_code("code", req.code)?;
        if let Some(phone_code) = req.phone_code {
            check_code("phoneCode", phone_code)?;
        }
        let session = self.wechat.code_to_session(app, req.code).await?;
        let phone = match req.phone_code {
            Some(code) => Some(
                self.wechat
                    .phone_number(app, code, Some(&session.openid))
                    .await?
                    .phone,
            ),
            None => None,
        };
        let mut who = WechatSignIn::new(session.openid, session.unionid);
        who.session_key = Some(session.session_key);
        who.phone = phone;
        Ok(who)
    }

    /// Resolves a `getPhoneNumber` code to the number WeChat verified.
    pub async fn mini_program_phone(
        &self,
        ctx: &RequestContext,
        app: Option<&str>,
        code: &str,
    ) -> CoreResult<VerifiedPhone> {
        let app = self
            .admitted_mini_program(ctx, LimitClass::Phone, app)
            .await?;
        check_code("code", code)?;
        Ok(self.wechat.phone_number(&app, code, None).await?)
    }

    /// Resolves a `wx.login` code to the user's openid and unionid. The session key is kept:
    /// if the user has an account in this app its stored session key is replaced.
    pub async fn mini_program_openid(
        &self,
        ctx: &RequestContext,
        app: Option<&str>,
        code: &str,
    ) -> CoreResult<(OpenId, Option<UnionId>)> {
        let app = self
            .admitted_mini_program(ctx, LimitClass::Openid, app)
            .await?;
        check_code("code", code)?;
        let session = self.wechat.code_to_session(&app, code).await?;
        let known = self
            .store
            .read()
            .identity_with_user(app.id, &session.openid)
            .await?;
        if let Some((identity, _)) = known {
            let mut tx = self.store.begin().await?;
            let new_unionid = session
                .unionid
                .as_ref()
                .filter(|_| identity.unionid.is_none());
            let result = tx
                .record_sign_in(
                    identity.id,
                    Some(&session.session_key),
                    new_unionid,
                    self.now(),
                )
                .await
                .map_err(CoreError::from);
            finish(tx, result).await?;
        }
        Ok((session.openid, session.unionid))
    }

    /// Decrypts legacy `encryptedData` (user info, WeRun, share info) with the session key of the
    /// caller's identity in the app their token was issued for (or the one named).
    pub async fn decrypt_user_data(
        &self,
        claims: &AccessClaims,
        app: Option<&str>,
        encrypted_data: &str,
        iv: &str,
    ) -> CoreResult<serde_json::Value> {
        if encrypted_data.is_empty() || encrypted_data.len() > 64 * 1024 {
            return Err(CoreError::validation(
                "encryptedData",
                "must be 1 byte to 64 KiB",
            ));
        }
        if iv.is_empty() || iv.len() > 64 {
            return Err(CoreError::validation(
                "iv",
                "must be the base64 of 16 bytes",
            ));
        }
        let (app, session_key) = self.session_key_of(claims, app).await?;
        self.crypto
            .decrypt_user_data(&app, &session_key, encrypted_data, iv)
            .map_err(|e| match e {
                UserDataError::Undecryptable => CoreError::DecryptFailed,
                UserDataError::WrongApp => CoreError::WatermarkMismatch,
            })
    }

    /// Checks `signature == sha1(rawData + session_key)`.
    pub async fn verify_raw_signature(
        &self,
        claims: &AccessClaims,
        app: Option<&str>,
        raw_data: &str,
        signature: &str,
    ) -> CoreResult<bool> {
        if raw_data.len() > 64 * 1024 {
            return Err(CoreError::validation("rawData", "must be at most 64 KiB"));
        }
        let (_, session_key) = self.session_key_of(claims, app).await?;
        Ok(self
            .crypto
            .verify_raw_signature(&session_key, raw_data, signature))
    }

    async fn session_key_of(
        &self,
        claims: &AccessClaims,
        app: Option<&str>,
    ) -> CoreResult<(Arc<App>, secrecy::SecretString)> {
        let requested = app.or(claims.app.as_ref().map(|a| a.as_str()));
        let app = self.mini_program_app(requested).await?;
        let mut read = self.store.read();
        let user = read
            .user_by_public_id(&claims.sub)
            .await?
            .ok_or(CoreError::Unauthenticated("the user no longer exists"))?;
        if user.is_blocked() {
            return Err(CoreError::UserBlocked);
        }
        let key = read.session_key(user.id, app.id).await?;
        let key = key.ok_or_else(|| CoreError::NoWechatSession(app.key.to_string()))?;
        Ok((app, key))
    }
}
