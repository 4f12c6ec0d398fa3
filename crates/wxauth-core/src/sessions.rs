//! Sessions: short-lived JWT access tokens plus rotating, single-use refresh tokens.
//!
//! Every sign-in starts a session (a refresh-token *family*). Refreshing uses up the presented
//! token and issues the next one in the family. Presenting a token that was already used means
//! it was copied: the whole family is revoked (theft detection) and the caller gets a 401.

use std::fmt;

use wxauth_domain::{App, AppKey, PublicUserId, User};

use crate::audit::{AuditEvent, kind};
use crate::error::{CoreError, CoreResult};
use crate::ports::{
    AccessClaims, LimitClass, NewRefreshToken, SignInOutcome, TokenError, Transaction, UserRef,
};
use crate::secrets::{refresh_token, refresh_token_digest, session_family};
use crate::service::{RequestContext, Wxauth, finish};
use crate::signin::{Refusal, finish_refusable};

/// A refresh token as handed to the client. Redacted from `Debug`.
#[derive(Clone, PartialEq, Eq)]
pub struct RefreshToken(String);

impl RefreshToken {
    pub fn new(token: String) -> Self {
        Self(token)
    }

    /// The token itself, to put in the response body and nowhere else.
    pub fn expose(&self) -> &str {
        &self.0
    }
}

impl fmt::Debug for RefreshToken {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("RefreshToken([REDACTED])")
    }
}

#[derive(Debug, Clone)]
pub struct TokenPair {
    pub access_token: String,
    /// Seconds.
    pub expires_in: i64,
    pub refresh_token: RefreshToken,
    /// Seconds.
    pub refresh_expires_in: i64,
}

/// A successful sign-in.
#[derive(Debug, Clone)]
pub struct SignedIn {
    pub user: User,
    pub tokens: TokenPair,
    pub is_new_user: bool,
    pub app: Option<AppKey>,
}

/// What a WeChat sign-in ends in.
#[derive(Debug, Clone)]
pub enum LoginOutcome {
    SignedIn(Box<SignedIn>),
    /// The app registers users by bind code and this WeChat user is unknown.
    BindRequired {
        bind_code: String,
        expires_in: i64,
    },
}

impl LoginOutcome {
    pub(crate) fn telemetry(&self) -> SignInOutcome {
        match self {
            Self::SignedIn(s) if s.is_new_user => SignInOutcome::Registered,
            Self::SignedIn(_) => SignInOutcome::Returning,
            Self::BindRequired { .. } => SignInOutcome::BindRequired,
        }
    }
}

impl Wxauth {
    /// Starts a session inside the caller's transaction and returns its refresh token and
    /// family id. The access token is signed after the commit, by [`Wxauth::token_pair`].
    pub(crate) async fn start_session(
        &self,
        tx: &mut dyn Transaction,
        user: UserRef,
        app: Option<&App>,
    ) -> CoreResult<(RefreshToken, String)> {
        let now = self.now();
        let family = session_family(now);
        let token = refresh_token(now);
        tx.insert_refresh_token(
            &NewRefreshToken {
                token_hash: refresh_token_digest(&token),
                family: family.clone(),
                user,
                app_id: app.map(|a| a.id),
                expires_at: now + self.settings.refresh_token_ttl,
            },
            now,
        )
        .await?;
        Ok((RefreshToken(token), family))
    }

    pub(crate) fn token_pair(
        &self,
        user: &PublicUserId,
        app: Option<&AppKey>,
        refresh: RefreshToken,
        family: String,
    ) -> CoreResult<TokenPair> {
        let now = self.now().unix_timestamp();
        let ttl = self.settings.access_token_ttl.whole_seconds();
        let claims = AccessClaims {
            sub: *user,
            app: app.cloned(),
            sid: Some(family),
            iat: now,
            exp: now + ttl,
            jti: uuid::Uuid::new_v4().simple().to_string(),
        };
        let access_token = self.signer.sign(&claims).map_err(CoreError::Signing)?;
        Ok(TokenPair {
            access_token,
            expires_in: ttl,
            refresh_token: refresh,
            refresh_expires_in: self.settings.refresh_token_ttl.whole_seconds(),
        })
    }

    /// Checks a bearer access token.
    pub fn authenticate(&self, bearer: &str) -> CoreResult<AccessClaims> {
        self.signer.verify(bearer).map_err(|e| match e {
            TokenError::Expired => CoreError::Unauthenticated("the access token has expired"),
            _ => CoreError::Unauthenticated("the access token is invalid"),
        })
    }

    /// Exchanges a refresh token for a new pair, using it up.
    pub async fn refresh(&self, ctx: &RequestContext, presented: &str) -> CoreResult<SignedIn> {
        self.admit(ctx, LimitClass::Login, None).await?;
        match self.refresh_inner(ctx, presented).await {
            Ok(signed_in) => Ok(signed_in),
            // Reuse was audited inside its own transaction, which revoked the session.
            Err(Refusal {
                error: CoreError::RefreshTokenReused,
                ..
            }) => Err(CoreError::RefreshTokenReused),
            Err(refusal) => {
                let event =
                    AuditEvent::failed(kind::REFRESH, &refusal.error).user_opt(refusal.user);
                self.audit_alone(ctx, event).await;
                Err(refusal.error)
            }
        }
    }

    async fn refresh_inner(
        &self,
        ctx: &RequestContext,
        presented: &str,
    ) -> Result<SignedIn, Refusal> {
        if !presented.starts_with(crate::secrets::REFRESH_TOKEN_PREFIX) {
            return Err(CoreError::InvalidRefreshToken.into());
        }
        let now = self.now();
        let mut tx = self.store.begin().await?;
        let result = self.rotate(tx.as_mut(), ctx, presented, now).await;
        let rotation = finish_refusable(tx, result).await?;
        match rotation {
            Rotation::Rotated {
                user,
                app,
                token,
                family,
            } => {
                let app_key = app.as_ref().map(|a| &a.key);
                let tokens = self.token_pair(&user.public_id, app_key, token, family)?;
                Ok(SignedIn {
                    tokens,
                    is_new_user: false,
                    app: app_key.cloned(),
                    user,
                })
            }
            // The revocation is committed; the caller still gets the refusal.
            Rotation::Reused => Err(CoreError::RefreshTokenReused.into()),
        }
    }

    async fn rotate(
        &self,
        tx: &mut dyn Transaction,
        ctx: &RequestContext,
        presented: &str,
        now: wxauth_domain::Timestamp,
    ) -> Result<Rotation, Refusal> {
        let record = tx
            .refresh_token_by_hash(&refresh_token_digest(presented))
            .await?
            .ok_or(CoreError::InvalidRefreshToken)?;
        let user = tx
            .user_by_id(record.user_id)
            .await?
            .ok_or(CoreError::InvalidRefreshToken)?;
        // Before the token's own state: blocking revokes the sessions too, and the client must
        // be able to tell a block (403) from an expired or revoked session (401).
        if user.is_blocked() {
            return Err(Refusal {
                error: CoreError::UserBlocked,
                user: Some(user.public_id),
            });
        }
        let refused = |error| Refusal {
            error,
            user: Some(user.public_id),
        };
        if record.revoked_at.is_some() || record.expires_at <= now {
            return Err(refused(CoreError::InvalidRefreshToken));
        }
        // A used token coming back means two parties hold it: end the session for both.
        // A concurrent refresh that lost the race to mark it used is the same case.
        if record.used_at.is_some() || !tx.mark_refresh_token_used(record.id, now).await? {
            tx.revoke_family(&record.family, now).await?;
            let entry = AuditEvent::failed(kind::REFRESH_REUSE, &CoreError::RefreshTokenReused)
                .user(user.public_id)
                .into_entry(ctx, now);
            tx.append_audit(&entry).await?;
            return Ok(Rotation::Reused);
        }
        let app = match record.app_id {
            Some(id) => self.apps.by_id(id).await.ok(),
            None => None,
        };
        let token = refresh_token(now);
        tx.insert_refresh_token(
            &NewRefreshToken {
                token_hash: refresh_token_digest(&token),
                family: record.family.clone(),
                user: UserRef::Id(user.id),
                app_id: record.app_id,
                expires_at: now + self.settings.refresh_token_ttl,
            },
            now,
        )
        .await?;
        let entry = AuditEvent::ok(kind::REFRESH)
            .app_opt(app.as_ref().map(|a| &a.key))
            .user(user.public_id);
        tx.append_audit(&entry.into_entry(ctx, now)).await?;
        Ok(Rotation::Rotated {
            user,
            app,
            token: RefreshToken(token),
            family: record.family,
        })
    }

    /// Ends a session: by its refresh token, or by the session id of the caller's access token.
    /// Idempotent: logging out of an ended session succeeds.
    pub async fn logout(
        &self,
        ctx: &RequestContext,
        refresh_token: Option<&str>,
        claims: Option<&AccessClaims>,
    ) -> CoreResult<()> {
        let now = self.now();
        let mut tx = self.store.begin().await?;
        let result = self
            .end_session(tx.as_mut(), ctx, refresh_token, claims, now)
            .await;
        finish(tx, result).await
    }

    async fn end_session(
        &self,
        tx: &mut dyn Transaction,
        ctx: &RequestContext,
        refresh_token: Option<&str>,
        claims: Option<&AccessClaims>,
        now: wxauth_domain::Timestamp,
    ) -> CoreResult<()> {
        let (family, user) = match (refresh_token, claims) {
            (Some(token), _) => {
                let record = tx
                    .refresh_token_by_hash(&refresh_token_digest(token))
                    .await?;
                let record = record.ok_or(CoreError::InvalidRefreshToken)?;
                let user = tx.user_by_id(record.user_id).await?.map(|u| u.public_id);
                (record.family, user)
            }
            (None, Some(claims)) => match &claims.sid {
                Some(sid) => (sid.clone(), Some(claims.sub)),
                None => {
                    return Err(CoreError::Unauthenticated(
                        "the access token has no session",
                    ));
                }
            },
            (None, None) => {
                return Err(CoreError::Unauthenticated(
                    "send the refresh token or an access token",
                ));
            }
        };
        tx.revoke_family(&family, now).await?;
        let mut event = AuditEvent::ok(kind::LOGOUT);
        if let Some(user) = user {
            event = event.user(user);
        }
        tx.append_audit(&event.into_entry(ctx, now)).await?;
        Ok(())
    }
}

/// What a refresh did, decided inside its transaction. Short-lived, so its size is moot.
#[allow(clippy::large_enum_variant)]
enum Rotation {
    Rotated {
        user: User,
        app: Option<std::sync::Arc<App>>,
        token: RefreshToken,
        family: String,
    },
    Reused,
}
