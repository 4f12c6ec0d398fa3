//! The signed-in user's own account: profile, phone number, and which WeChat identities
//! sign it in (bind-code registration, binding and unbinding).

use wxauth_domain::{
    App, AppKey, AppKind, AvatarUrl, IdentityId, Nickname, OpenId, Timestamp, UnionId, User,
};

use crate::audit::{AuditEvent, kind};
use crate::error::{BindCodeProblem, CoreError, CoreResult, RepoError};
use crate::ports::{
    AccessClaims, BindCodeRecord, IdentityRecord, LimitClass, ProfileChange, Transaction, UserRef,
};
use crate::secrets::token_hash;
use crate::service::{RequestContext, Wxauth, finish};
use crate::sessions::{LoginOutcome, SignedIn};
use crate::signin::{Unknown, WechatSignIn};

/// A user with the WeChat identities that sign them in.
#[derive(Debug, Clone)]
pub struct Account {
    pub user: User,
    pub identities: Vec<IdentityView>,
}

/// One WeChat identity as shown to its owner and to admins. Never the session key.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct IdentityView {
    pub id: IdentityId,
    pub app: AppKey,
    pub app_kind: AppKind,
    pub openid: OpenId,
    pub unionid: Option<UnionId>,
    pub created_at: Timestamp,
    pub last_login_at: Option<Timestamp>,
}

/// The profile fields a user may change. Only these exist: anything else in a request is
/// refused by the HTTP layer before it gets here.
#[derive(Debug, Clone, Default)]
pub struct ProfileUpdate {
    pub nickname: Option<Option<Nickname>>,
    pub avatar_url: Option<Option<AvatarUrl>>,
}

/// How a signed-in user proves the WeChat identity to attach.
#[derive(Debug, Clone)]
pub enum BindProof<'a> {
    BindCode(&'a str),
    LoginCode { app: Option<&'a str>, code: &'a str },
}

impl Wxauth {
    /// The caller's account; 401 when it no longer exists, 403 when blocked.
    pub async fn current_user(&self, claims: &AccessClaims) -> CoreResult<User> {
        let user = self.store.read().user_by_public_id(&claims.sub).await?;
        let user = user.ok_or(CoreError::Unauthenticated("the user no longer exists"))?;
        if user.is_blocked() {
            return Err(CoreError::UserBlocked);
        }
        Ok(user)
    }

    /// The signed-in user's WeChat identity in `app`: with several WeChat users of that app,
    /// the one that signed in last.
    pub(crate) async fn current_identity_in(
        &self,
        claims: &AccessClaims,
        app: &App,
    ) -> CoreResult<IdentityRecord> {
        let user = self.current_user(claims).await?;
        let identities = self.store.read().identities_of(user.id).await?;
        identities
            .into_iter()
            .filter(|i| i.app_id == app.id)
            .max_by_key(|i| (i.last_login_at, i.id))
            .ok_or(CoreError::NotFound("WeChat identity in this app"))
    }

    pub async fn me(&self, claims: &AccessClaims) -> CoreResult<Account> {
        let found = self.store.read().account_of(&claims.sub).await?;
        let (user, identities) =
            found.ok_or(CoreError::Unauthenticated("the user no longer exists"))?;
        if user.is_blocked() {
            return Err(CoreError::UserBlocked);
        }
        self.account(user, identities).await
    }

    pub(crate) async fn account(
        &self,
        user: User,
        records: Vec<IdentityRecord>,
    ) -> CoreResult<Account> {
        let mut identities = Vec::with_capacity(records.len());
        for r in records {
            let app = self.apps.by_id(r.app_id).await?;
            identities.push(IdentityView {
                id: r.id,
                app: app.key.clone(),
                app_kind: app.kind,
                openid: r.openid,
                unionid: r.unionid,
                created_at: r.created_at,
                last_login_at: r.last_login_at,
            });
        }
        Ok(Account { user, identities })
    }

    pub async fn update_profile(
        &self,
        ctx: &RequestContext,
        claims: &AccessClaims,
        update: ProfileUpdate,
    ) -> CoreResult<User> {
        let user = self.current_user(claims).await?;
        let change = ProfileChange {
            nickname: update.nickname,
            avatar_url: update.avatar_url,
            phone: None,
        };
        if change.is_empty() {
            return Ok(user);
        }
        let mut tx = self.store.begin().await?;
        let result = async {
            let user = tx.update_profile(user.id, &change, self.now()).await?;
            let event = AuditEvent::ok(kind::PROFILE).user(user.public_id);
            tx.append_audit(&event.into_entry(ctx, self.now())).await?;
            Ok(user)
        }
        .await;
        finish(tx, result).await
    }

    /// Sets or replaces the caller's phone number from a `getPhoneNumber` code.
    pub async fn set_phone(
        &self,
        ctx: &RequestContext,
        claims: &AccessClaims,
        app: Option<&str>,
        code: &str,
    ) -> CoreResult<User> {
        let user = self.current_user(claims).await?;
        let requested = app.or(claims.app.as_ref().map(|a| a.as_str()));
        let verified = self.mini_program_phone(ctx, requested, code).await?;
        let mut tx = self.store.begin().await?;
        let result = async {
            if let Some(owner) = tx.user_by_phone(&verified.phone).await?
                && owner.id != user.id
            {
                return Err(CoreError::PhoneTaken);
            }
            let change = ProfileChange {
                phone: Some(Some(verified.phone)),
                ..Default::default()
            };
            let updated = match tx.update_profile(user.id, &change, self.now()).await {
                Err(RepoError::Conflict(_)) => return Err(CoreError::PhoneTaken),
                other => other?,
            };
            let event = AuditEvent::ok(kind::PHONE).user(updated.public_id);
            tx.append_audit(&event.into_entry(ctx, self.now())).await?;
            Ok(updated)
        }
        .await;
        let result = finish(tx, result).await;
        if let Err(e) = &result {
            let event = AuditEvent::failed(kind::PHONE, e).user(user.public_id);
            self.audit_alone(ctx, event).await;
        }
        result
    }

    /// Creates the account a bind code was issued for and signs it in.
    pub async fn register_with_bind_code(
        &self,
        ctx: &RequestContext,
        bind_code: &str,
        nickname: Option<Nickname>,
    ) -> CoreResult<SignedIn> {
        self.admit(ctx, LimitClass::Login, None).await?;
        let record = match self.redeem_bind_code(bind_code).await {
            Ok(r) => r,
            Err(e) => {
                // The code named no app we could trust: filed and counted under none.
                self.telemetry
                    .sign_in("unknown", crate::ports::SignInOutcome::Failed(e.code()));
                self.audit_alone(ctx, AuditEvent::failed(kind::REGISTER, &e))
                    .await;
                return Err(e);
            }
        };
        let app = self.apps.by_id(record.app_id).await?;
        let who = WechatSignIn {
            openid: record.openid,
            unionid: record.unionid,
            session_key: record.session_key,
            phone: record.phone,
            nickname,
            avatar_url: None,
        };
        match self
            .sign_in_wechat(ctx, &app, who, Unknown::Register)
            .await?
        {
            LoginOutcome::SignedIn(s) => Ok(*s),
            // Unknown::Register never asks for another bind code.
            LoginOutcome::BindRequired { .. } => Err(CoreError::BindCode(BindCodeProblem::Unknown)),
        }
    }

    /// Attaches a WeChat identity to the caller's account.
    pub async fn bind_wechat(
        &self,
        ctx: &RequestContext,
        claims: &AccessClaims,
        proof: BindProof<'_>,
    ) -> CoreResult<Account> {
        let user = self.current_user(claims).await?;
        let result = self.bind_inner(ctx, &user, proof).await;
        let event = match &result {
            Ok(app) => AuditEvent::ok(kind::BIND).app(app).user(user.public_id),
            Err(e) => AuditEvent::failed(kind::BIND, e).user(user.public_id),
        };
        self.audit_alone(ctx, event).await;
        result?;
        self.me(claims).await
    }

    async fn bind_inner(
        &self,
        ctx: &RequestContext,
        user: &User,
        proof: BindProof<'_>,
    ) -> CoreResult<wxauth_domain::AppKey> {
        let (app, who) = match proof {
            BindProof::BindCode(code) => {
                self.admit(ctx, LimitClass::Login, None).await?;
                let record = self.redeem_bind_code(code).await?;
                let app = self.apps.by_id(record.app_id).await?;
                let who = WechatSignIn {
                    openid: record.openid,
                    unionid: record.unionid,
                    session_key: record.session_key,
                    phone: record.phone,
                    nickname: None,
                    avatar_url: None,
                };
                (app, who)
            }
            BindProof::LoginCode { app, code } => {
                let app = self.mini_program_app(app).await?;
                self.admit(ctx, LimitClass::Login, Some(&app.key)).await?;
                let session = self.wechat.code_to_session(&app, code).await?;
                let who = WechatSignIn {
                    openid: session.openid,
                    unionid: session.unionid,
                    session_key: Some(session.session_key),
                    phone: None,
                    nickname: None,
                    avatar_url: None,
                };
                (app, who)
            }
        };
        let mut tx = self.store.begin().await?;
        let result = async {
            if let Some((identity, _)) = tx.identity_with_user(app.id, &who.openid).await? {
                if identity.user_id == user.id {
                    return Ok(()); // already bound to this account: nothing to do
                }
                return Err(CoreError::WechatAlreadyBound);
            }
            // Another WeChat user of the same app is welcome: one person, two WeChat accounts.
            match self
                .insert_identity(tx.as_mut(), UserRef::Id(user.id), &app, &who)
                .await
            {
                // Someone bound the same openid a moment ago.
                Err(CoreError::Storage(RepoError::Conflict(_))) => {
                    Err(CoreError::WechatAlreadyBound)
                }
                other => other,
            }
        }
        .await;
        // The identity insert may only fail at the commit: the same race, the same answer.
        match finish(tx, result).await {
            Err(CoreError::Storage(RepoError::Conflict(_))) => Err(CoreError::WechatAlreadyBound),
            other => other,
        }?;
        Ok(app.key.clone())
    }

    /// Removes the caller's identity in one app, unless it is their last way to sign in. When
    /// the account has several identities in the app, the caller must name one by its id.
    pub async fn unbind_wechat(
        &self,
        ctx: &RequestContext,
        claims: &AccessClaims,
        app_key: &str,
    ) -> CoreResult<Account> {
        let user = self.current_user(claims).await?;
        let app = self.apps.get(app_key).await?;
        let result = async {
            let mut tx = self.store.begin().await?;
            let result = async {
                let identities = tx.identities_of(user.id).await?;
                let target = only_identity_in(&identities, &app)?;
                self.unbind_in(tx.as_mut(), &user, &identities, target)
                    .await
            }
            .await;
            finish(tx, result).await
        }
        .await;
        self.audit_unbind(ctx, &user, Some(&app), &result).await;
        result?;
        self.me(claims).await
    }

    /// Removes one of the caller's identities by its id, unless it is their last way to sign in.
    pub async fn unbind_identity(
        &self,
        ctx: &RequestContext,
        claims: &AccessClaims,
        identity: IdentityId,
    ) -> CoreResult<Account> {
        let user = self.current_user(claims).await?;
        let mut app = None;
        let result = async {
            let mut tx = self.store.begin().await?;
            let result = async {
                let identities = tx.identities_of(user.id).await?;
                let target = identities
                    .iter()
                    .find(|i| i.id == identity)
                    .ok_or(CoreError::NotFound("WeChat identity"))?;
                app = self.apps.by_id(target.app_id).await.ok();
                self.unbind_in(tx.as_mut(), &user, &identities, target.id)
                    .await
            }
            .await;
            finish(tx, result).await
        }
        .await;
        self.audit_unbind(ctx, &user, app.as_deref(), &result).await;
        result?;
        self.me(claims).await
    }

    async fn audit_unbind(
        &self,
        ctx: &RequestContext,
        user: &User,
        app: Option<&App>,
        result: &CoreResult<()>,
    ) {
        let event = match result {
            Ok(()) => AuditEvent::ok(kind::UNBIND),
            Err(e) => AuditEvent::failed(kind::UNBIND, e),
        };
        let event = event.app_opt(app.map(|a| &a.key)).user(user.public_id);
        self.audit_alone(ctx, event).await;
    }

    /// Deletes `target`, one of `identities` (all of the user's), unless nothing would be left
    /// to sign in with.
    async fn unbind_in(
        &self,
        tx: &mut dyn Transaction,
        user: &User,
        identities: &[IdentityRecord],
        target: IdentityId,
    ) -> CoreResult<()> {
        // A phone-keyed Mini Program login can still find an account that has a phone number.
        if identities.len() == 1 && user.phone.is_none() {
            return Err(CoreError::LastSignInMethod);
        }
        if !tx.delete_identity(target).await? {
            return Err(CoreError::NotFound("WeChat identity"));
        }
        Ok(())
    }

    /// Uses up a bind code: unknown, expired and used codes are refused.
    async fn redeem_bind_code(&self, code: &str) -> CoreResult<BindCodeRecord> {
        if !code.starts_with("bc_") || code.len() > 64 {
            return Err(CoreError::BindCode(BindCodeProblem::Unknown));
        }
        let now = self.now();
        let mut tx = self.store.begin().await?;
        let result = async {
            let record = tx.bind_code_by_hash(&token_hash(code)).await?;
            let record = record.ok_or(CoreError::BindCode(BindCodeProblem::Unknown))?;
            if record.used_at.is_some() {
                return Err(CoreError::BindCode(BindCodeProblem::Used));
            }
            if record.expires_at <= now {
                return Err(CoreError::BindCode(BindCodeProblem::Expired));
            }
            if !tx.mark_bind_code_used(record.id, now).await? {
                return Err(CoreError::BindCode(BindCodeProblem::Used));
            }
            Ok(record)
        }
        .await;
        finish(tx, result).await
    }
}

/// The user's one identity in `app`; refused when there is none, or several to choose from.
pub(crate) fn only_identity_in(identities: &[IdentityRecord], app: &App) -> CoreResult<IdentityId> {
    let mut in_app = identities.iter().filter(|i| i.app_id == app.id);
    match (in_app.next(), in_app.next()) {
        (None, _) => Err(CoreError::NotFound("WeChat identity")),
        (Some(only), None) => Ok(only.id),
        (Some(_), Some(_)) => Err(CoreError::IdentityAmbiguous {
            app: app.key.clone(),
            choices: identities
                .iter()
                .filter(|i| i.app_id == app.id)
                .map(|i| i.id)
                .collect(),
        }),
    }
}
