//! Signing in a WeChat identity: find the account, link it, or register it, as the app's
//! registration policy says; then start a session. Shared by the Mini Program login, the web
//! OAuth flow, scan-to-login and bind-code registration.
//!
//! The lookups take no write lock: they read committed data, and every decision they lead to
//! is guarded by a unique key. The writes then run in one transaction. When two sign-ins race
//! (a concurrent first login of the same openid, say), one of them hits the unique key on
//! (app, openid), is rolled back and retried, and the retry finds the winner's account:
//! exactly one user is created. A sign-in that only writes costs the store one round trip.
//!
//! An account may hold several WeChat users of one app (a person with two WeChat accounts, or
//! one who moved to a new one): a phone number or unionid that names an account attaches the
//! new openid to it. An openid still belongs to one account only.

use secrecy::SecretString;
use wxauth_domain::{
    App, AvatarUrl, Nickname, OpenId, PhoneNumber, PublicUserId, RegistrationPolicy, UnionId, User,
};

use crate::audit::{AuditEvent, kind};
use crate::error::{CoreError, CoreResult, RepoError};
use crate::ports::{
    NewBindCode, NewIdentity, NewUser, ProfileChange, Reader, SignInOutcome, Transaction, UserRef,
};
use crate::secrets::{random_token, token_hash};
use crate::service::{RequestContext, Wxauth, finish};
use crate::sessions::{LoginOutcome, RefreshToken, SignedIn};

/// A WeChat user WeChat has vouched for, about to be signed in.
#[derive(Debug, Clone)]
pub(crate) struct WechatSignIn {
    pub openid: OpenId,
    pub unionid: Option<UnionId>,
    pub session_key: Option<SecretString>,
    /// A phone number WeChat verified in the same request: the account is keyed by it.
    pub phone: Option<PhoneNumber>,
    /// Profile from OAuth `userinfo` or a registration form; fills empty fields only.
    pub nickname: Option<Nickname>,
    pub avatar_url: Option<AvatarUrl>,
}

impl WechatSignIn {
    pub fn new(openid: OpenId, unionid: Option<UnionId>) -> Self {
        Self {
            openid,
            unionid,
            session_key: None,
            phone: None,
            nickname: None,
            avatar_url: None,
        }
    }
}

/// What to do with a WeChat user no account knows yet.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Unknown {
    /// Follow the app's registration policy.
    ByPolicy,
    /// Follow the policy, but where it asks for a bind code, refuse: the caller (the OpenID
    /// provider) has no client that could redeem one.
    ByPolicyWithoutBindCode,
    /// Register (a bind code was redeemed: the policy was applied when it was issued).
    Register,
}

/// What a sign-in hands out besides the account.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Issue {
    /// A session of the app: a refresh-token family, and an access token after the commit.
    AppSession,
    /// Nothing: the caller issues its own credentials (the OpenID provider's browser session).
    Nothing,
}

/// A refused sign-in, with the account it was refused for when one was found, so that the
/// audit log files the refusal under that user.
pub(crate) struct Refusal {
    pub error: CoreError,
    pub user: Option<PublicUserId>,
}

impl From<CoreError> for Refusal {
    fn from(error: CoreError) -> Self {
        Self { error, user: None }
    }
}

impl From<RepoError> for Refusal {
    fn from(e: RepoError) -> Self {
        CoreError::from(e).into()
    }
}

/// [`finish`] for steps that may be refused for a known user: the refusal keeps its user
/// through the rollback, and a failing commit is a refusal of no one in particular.
pub(crate) async fn finish_refusable<T>(
    tx: Box<dyn Transaction>,
    result: Result<T, Refusal>,
) -> Result<T, Refusal> {
    let (result, user) = match result {
        Ok(value) => (Ok(value), None),
        Err(refusal) => (Err(refusal.error), refusal.user),
    };
    finish(tx, result)
        .await
        .map_err(|error| Refusal { error, user })
}

fn refuse_blocked(user: &User) -> Result<(), Refusal> {
    if user.is_blocked() {
        return Err(Refusal {
            error: CoreError::UserBlocked,
            user: Some(user.public_id),
        });
    }
    Ok(())
}

/// Who the WeChat user turned out to be.
enum Found {
    Existing(User),
    /// Registered in this transaction: only the public id is known until the commit.
    Created(PublicUserId),
    BindRequired(String),
}

/// A started session, signed after the commit.
struct Session {
    refresh: RefreshToken,
    family: String,
}

/// The account a session was started for.
enum SessionUser {
    Existing(User),
    /// Registered in this transaction: read back after the commit for its row.
    Created(PublicUserId),
}

enum Resolved {
    SignedIn {
        user: SessionUser,
        is_new: bool,
        session: Option<Session>,
    },
    BindRequired(String),
}

/// What the sign-in decided, after the commit.
enum Decided {
    SignedIn {
        user: User,
        is_new: bool,
        session: Option<Session>,
    },
    BindRequired(String),
}

const BIND_CODE_PREFIX: &str = "bc_";
const ATTEMPTS: usize = 3;

impl Wxauth {
    pub(crate) async fn sign_in_wechat(
        &self,
        ctx: &RequestContext,
        app: &App,
        who: WechatSignIn,
        unknown: Unknown,
    ) -> CoreResult<LoginOutcome> {
        let decided = self
            .decide_sign_in(ctx, app, &who, unknown, Issue::AppSession)
            .await?;
        let outcome = match decided {
            Decided::BindRequired(bind_code) => LoginOutcome::BindRequired {
                bind_code,
                expires_in: self.settings.bind_code_ttl.whole_seconds(),
            },
            Decided::SignedIn {
                user,
                is_new,
                session: Some(session),
            } => {
                let tokens = self.token_pair(
                    &user.public_id,
                    Some(&app.key),
                    session.refresh,
                    session.family,
                )?;
                LoginOutcome::SignedIn(Box::new(SignedIn {
                    user,
                    tokens,
                    is_new_user: is_new,
                    app: Some(app.key.clone()),
                }))
            }
            Decided::SignedIn { session: None, .. } => {
                return Err(RepoError::other("a sign-in started no session").into());
            }
        };
        self.telemetry
            .sign_in(app.key.as_str(), outcome.telemetry());
        Ok(outcome)
    }

    /// Finds, links or registers the WeChat user's account, as a sign-in does, without
    /// starting a session of the app: the OpenID provider issues its own credentials. An app
    /// that registers by bind code refuses unknown users here.
    pub(crate) async fn identify_wechat(
        &self,
        ctx: &RequestContext,
        app: &App,
        who: WechatSignIn,
    ) -> CoreResult<User> {
        let decided = self
            .decide_sign_in(
                ctx,
                app,
                &who,
                Unknown::ByPolicyWithoutBindCode,
                Issue::Nothing,
            )
            .await?;
        match decided {
            Decided::SignedIn { user, is_new, .. } => {
                let outcome = if is_new {
                    SignInOutcome::Registered
                } else {
                    SignInOutcome::Returning
                };
                self.telemetry.sign_in(app.key.as_str(), outcome);
                Ok(user)
            }
            Decided::BindRequired(_) => Err(RepoError::other("a bind code was issued").into()),
        }
    }

    async fn decide_sign_in(
        &self,
        ctx: &RequestContext,
        app: &App,
        who: &WechatSignIn,
        unknown: Unknown,
        issue: Issue,
    ) -> CoreResult<Decided> {
        let event_kind = if unknown == Unknown::Register {
            kind::REGISTER
        } else {
            kind::LOGIN
        };
        let result = match self
            .returning_sign_in(ctx, app, who, event_kind, issue)
            .await
        {
            Some(result) => result,
            None => {
                self.full_sign_in(ctx, app, who, unknown, event_kind, issue)
                    .await
            }
        };
        match result {
            Ok(decided) => Ok(decided),
            Err(refusal) => {
                self.sign_in_failed(ctx, event_kind, Some(app), refusal.user, &refusal.error)
                    .await;
                Err(refusal.error)
            }
        }
    }

    /// Reports a sign-in that failed: to the audit log (once the app is known: a request for
    /// an app that does not exist is not a security event of any app) and to telemetry.
    pub(crate) async fn sign_in_failed(
        &self,
        ctx: &RequestContext,
        event_kind: &'static str,
        app: Option<&App>,
        user: Option<PublicUserId>,
        error: &CoreError,
    ) {
        let label = app.map_or("unknown", |a| a.key.as_str());
        self.telemetry
            .sign_in(label, SignInOutcome::Failed(error.code()));
        if let Some(app) = app {
            let event = AuditEvent::failed(event_kind, error)
                .app(&app.key)
                .user_opt(user);
            self.audit_alone(ctx, event).await;
        }
    }

    /// Returning users are the common case. Their lookup takes no write lock, so it runs on the
    /// read path and the transaction carries only writes (which the store may send in one
    /// round trip). `None` when the full path must decide: an unknown user, a sign-in that
    /// changes the profile, or a storage error (the full path re-reads inside its transaction,
    /// on a fresh connection) — except a timeout: a stalled database would only make the
    /// client wait out the same timeout again.
    async fn returning_sign_in(
        &self,
        ctx: &RequestContext,
        app: &App,
        who: &WechatSignIn,
        event_kind: &'static str,
        issue: Issue,
    ) -> Option<Result<Decided, Refusal>> {
        if who.phone.is_some() || who.nickname.is_some() || who.avatar_url.is_some() {
            return None;
        }
        let (identity, user) = match self
            .store
            .read()
            .identity_with_user(app.id, &who.openid)
            .await
        {
            Ok(Some(found)) => found,
            Ok(None) => return None,
            Err(e @ RepoError::TimedOut(_)) => return Some(Err(CoreError::Storage(e).into())),
            Err(e) => {
                tracing::debug!(error = %e, "identity lookup failed; taking the full path");
                return None;
            }
        };
        if let Err(refusal) = refuse_blocked(&user) {
            return Some(Err(refusal));
        }
        let result = async {
            let mut tx = self.store.begin().await?;
            let writes = async {
                let new_unionid = who.unionid.as_ref().filter(|_| identity.unionid.is_none());
                tx.record_sign_in(
                    identity.id,
                    who.session_key.as_ref(),
                    new_unionid,
                    self.now(),
                )
                .await?;
                let session = match issue {
                    Issue::AppSession => {
                        let (refresh, family) = self
                            .start_session(tx.as_mut(), UserRef::Id(user.id), Some(app))
                            .await?;
                        Some(Session { refresh, family })
                    }
                    Issue::Nothing => None,
                };
                let event = AuditEvent::ok(event_kind)
                    .app(&app.key)
                    .user(user.public_id);
                tx.append_audit(&event.into_entry(ctx, self.now())).await?;
                Ok(session)
            }
            .await;
            finish(tx, writes).await
        }
        .await;
        match result {
            Ok(session) => Some(Ok(Decided::SignedIn {
                user,
                is_new: false,
                session,
            })),
            Err(CoreError::Storage(e)) if !matches!(e, RepoError::TimedOut(_)) => {
                tracing::debug!(error = %e, "returning sign-in failed; taking the full path");
                None
            }
            Err(e) => Some(Err(e.into())),
        }
    }

    /// The whole decision in one transaction, retried when it races another sign-in.
    async fn full_sign_in(
        &self,
        ctx: &RequestContext,
        app: &App,
        who: &WechatSignIn,
        unknown: Unknown,
        event_kind: &'static str,
        issue: Issue,
    ) -> Result<Decided, Refusal> {
        let mut attempt = 0;
        loop {
            attempt += 1;
            match self
                .try_sign_in(ctx, app, who, unknown, event_kind, issue)
                .await
            {
                Err(Refusal {
                    error: CoreError::Storage(RepoError::Conflict(what)),
                    ..
                }) if attempt < ATTEMPTS => {
                    tracing::debug!(what, attempt, "sign-in raced another one; retrying");
                }
                Err(Refusal {
                    error: CoreError::Storage(RepoError::Contended(_)),
                    ..
                }) if attempt < ATTEMPTS => {
                    tracing::debug!(attempt, "sign-in lost a deadlock to another one; retrying");
                }
                other => return other,
            }
        }
    }

    async fn try_sign_in(
        &self,
        ctx: &RequestContext,
        app: &App,
        who: &WechatSignIn,
        unknown: Unknown,
        event_kind: &'static str,
        issue: Issue,
    ) -> Result<Decided, Refusal> {
        let mut tx = self.store.begin().await?;
        let result = self
            .sign_in_in(tx.as_mut(), ctx, app, who, unknown, event_kind, issue)
            .await;
        let resolved = finish_refusable(tx, result).await?;
        match resolved {
            Resolved::BindRequired(bind_code) => Ok(Decided::BindRequired(bind_code)),
            Resolved::SignedIn {
                user: found,
                is_new,
                session,
            } => {
                let user = match found {
                    SessionUser::Existing(user) => user,
                    // The row and its id exist from the commit on.
                    SessionUser::Created(public_id) => self
                        .store
                        .read()
                        .user_by_public_id(&public_id)
                        .await?
                        .ok_or_else(|| {
                            RepoError::other("a registered user is missing after the commit")
                        })?,
                };
                Ok(Decided::SignedIn {
                    user,
                    is_new,
                    session,
                })
            }
        }
    }

    /// Everything a sign-in writes, in the caller's transaction.
    #[allow(clippy::too_many_arguments)]
    async fn sign_in_in(
        &self,
        tx: &mut dyn Transaction,
        ctx: &RequestContext,
        app: &App,
        who: &WechatSignIn,
        unknown: Unknown,
        event_kind: &'static str,
        issue: Issue,
    ) -> Result<Resolved, Refusal> {
        let found = match self.resolve(tx, app, who, unknown).await? {
            Found::Existing(user) => {
                refuse_blocked(&user)?;
                SessionUser::Existing(user)
            }
            Found::Created(public_id) => SessionUser::Created(public_id),
            Found::BindRequired(code) => return Ok(Resolved::BindRequired(code)),
        };
        let (user_ref, public_id, is_new) = match &found {
            SessionUser::Existing(user) => (UserRef::Id(user.id), user.public_id, false),
            SessionUser::Created(public_id) => (UserRef::Public(*public_id), *public_id, true),
        };
        let session = match issue {
            Issue::AppSession => {
                let (refresh, family) = self.start_session(tx, user_ref, Some(app)).await?;
                Some(Session { refresh, family })
            }
            Issue::Nothing => None,
        };
        let event = AuditEvent::ok(event_kind).app(&app.key).user(public_id);
        let event = if is_new && event_kind == kind::LOGIN {
            event.reason("registered")
        } else {
            event
        };
        tx.append_audit(&event.into_entry(ctx, self.now())).await?;
        Ok(Resolved::SignedIn {
            user: found,
            is_new,
            session,
        })
    }

    async fn resolve(
        &self,
        tx: &mut dyn Transaction,
        app: &App,
        who: &WechatSignIn,
        unknown: Unknown,
    ) -> Result<Found, Refusal> {
        let now = self.now();
        // Lookups outside the write transaction: see the module comment.
        let mut read = self.store.read();
        if let Some((identity, user)) = read.identity_with_user(app.id, &who.openid).await? {
            refuse_blocked(&user)?;
            let user = self.refresh_profile(read.as_mut(), tx, user, who).await?;
            let new_unionid = who.unionid.as_ref().filter(|_| identity.unionid.is_none());
            tx.record_sign_in(identity.id, who.session_key.as_ref(), new_unionid, now)
                .await?;
            return Ok(Found::Existing(user));
        }

        // Not known in this app: the phone number, then the unionid, may name an account. The
        // new WeChat user is attached to it, even when the account signs in to this app with
        // another WeChat user already.
        let by_phone = match &who.phone {
            Some(phone) => read.user_by_phone(phone).await?,
            None => None,
        };
        let linked = match (by_phone, &who.unionid) {
            (Some(user), _) => Some(user),
            (None, Some(unionid)) => read.user_by_unionid(unionid).await?,
            (None, None) => None,
        };
        if let Some(user) = linked {
            refuse_blocked(&user)?;
            self.insert_identity(tx, UserRef::Id(user.id), app, who)
                .await?;
            let user = self.refresh_profile(read.as_mut(), tx, user, who).await?;
            return Ok(Found::Existing(user));
        }

        match (unknown, app.registration) {
            (Unknown::Register, _)
            | (Unknown::ByPolicy | Unknown::ByPolicyWithoutBindCode, RegistrationPolicy::Open) => {
                let public_id = PublicUserId::new_random();
                let user = NewUser {
                    public_id,
                    nickname: who.nickname.clone(),
                    avatar_url: who.avatar_url.clone(),
                    phone: who.phone.clone(),
                };
                tx.insert_user(&user, now).await?;
                self.insert_identity(tx, UserRef::Public(public_id), app, who)
                    .await?;
                Ok(Found::Created(public_id))
            }
            (Unknown::ByPolicy, RegistrationPolicy::BindCode) => {
                let code = random_token(BIND_CODE_PREFIX, 24);
                tx.insert_bind_code(
                    &NewBindCode {
                        code_hash: token_hash(&code),
                        app_id: app.id,
                        openid: who.openid.clone(),
                        unionid: who.unionid.clone(),
                        session_key: who.session_key.clone(),
                        phone: who.phone.clone(),
                        expires_at: now + self.settings.bind_code_ttl,
                    },
                    now,
                )
                .await?;
                Ok(Found::BindRequired(code))
            }
            (
                Unknown::ByPolicyWithoutBindCode,
                RegistrationPolicy::BindCode | RegistrationPolicy::Closed,
            )
            | (Unknown::ByPolicy, RegistrationPolicy::Closed) => {
                Err(CoreError::RegistrationClosed.into())
            }
        }
    }

    pub(crate) async fn insert_identity(
        &self,
        tx: &mut dyn Transaction,
        user: UserRef,
        app: &App,
        who: &WechatSignIn,
    ) -> CoreResult<()> {
        let identity = NewIdentity {
            user,
            app_id: app.id,
            openid: who.openid.clone(),
            unionid: who.unionid.clone(),
            session_key: who.session_key.clone(),
        };
        tx.insert_identity(&identity, self.now()).await?;
        Ok(())
    }

    /// Applies what the sign-in learned: a phone number WeChat just verified becomes the
    /// account's (the account is keyed by it), a nickname and avatar from OAuth fill empty
    /// fields only. A phone number is never moved from another account.
    async fn refresh_profile(
        &self,
        read: &mut dyn Reader,
        tx: &mut dyn Transaction,
        user: User,
        who: &WechatSignIn,
    ) -> CoreResult<User> {
        let mut change = ProfileChange::default();
        if let Some(phone) = &who.phone
            && user.phone.as_ref() != Some(phone)
        {
            if let Some(owner) = read.user_by_phone(phone).await?
                && owner.id != user.id
            {
                return Err(CoreError::PhoneTaken);
            }
            change.phone = Some(Some(phone.clone()));
        }
        if user.nickname.is_none() && who.nickname.is_some() {
            change.nickname = Some(who.nickname.clone());
        }
        if user.avatar_url.is_none() && who.avatar_url.is_some() {
            change.avatar_url = Some(who.avatar_url.clone());
        }
        if change.is_empty() {
            return Ok(user);
        }
        match tx.update_profile(user.id, &change, self.now()).await {
            Err(RepoError::Conflict(_)) => Err(CoreError::PhoneTaken),
            other => Ok(other?),
        }
    }
}
