//! Administration: apps, users, sessions, the audit log and admin API keys.
//!
//! Admin callers authenticate with admin API keys, never with users' access tokens. Keys look
//! like `wxa_<id>_<secret>`; only a hash of the secret is stored.

use wxauth_domain::{AppKey, PublicUserId, User, UserStatus};

use crate::account::Account;
use crate::audit::{AuditEvent, kind};
use crate::error::{CoreError, CoreResult};
use crate::ports::{AdminKeyRecord, AppDraft, AuditEntry, AuditQuery, UserQuery, finish};
use crate::secrets::{random_alphanumeric, random_token, token_hash};
use crate::service::{RequestContext, Wxauth};

pub const MAX_PAGE: u64 = 200;

/// A newly created admin key: the only time its secret is visible.
#[derive(Debug)]
pub struct CreatedAdminKey {
    pub key_id: String,
    /// The whole key, `wxa_<id>_<secret>`.
    pub key: secrecy::SecretString,
}

impl Wxauth {
    pub async fn admin_upsert_app(
        &self,
        ctx: &RequestContext,
        draft: &AppDraft,
    ) -> CoreResult<wxauth_domain::App> {
        let app = self.apps.upsert(draft).await?;
        self.audit_alone(ctx, AuditEvent::ok(kind::ADMIN_APP_UPSERT).app(&app.key))
            .await;
        Ok(app)
    }

    /// Deletes an app that no WeChat identity uses any more.
    pub async fn admin_delete_app(&self, ctx: &RequestContext, key: &str) -> CoreResult<()> {
        let app = self.apps.get(key).await?;
        let mut tx = self.store.begin().await?;
        let result = async {
            if tx.app_has_identities(app.id).await? {
                return Err(CoreError::validation(
                    "app",
                    "users still sign in with this app: disable it instead, or unbind them first",
                ));
            }
            tx.delete_app(&app.key).await?;
            let event = AuditEvent::ok(kind::ADMIN_APP_DELETE).app(&app.key);
            tx.append_audit(&event.into_entry(ctx, self.now())).await?;
            Ok(())
        }
        .await;
        finish(tx, result).await?;
        self.apps.invalidate();
        Ok(())
    }

    pub async fn admin_list_users(&self, query: &UserQuery) -> CoreResult<(Vec<User>, u64)> {
        let query = UserQuery {
            limit: query.limit.clamp(1, MAX_PAGE),
            ..query.clone()
        };
        Ok(self.store.read().list_users(&query).await?)
    }

    pub async fn admin_user(&self, id: &PublicUserId) -> CoreResult<Account> {
        let mut read = self.store.read();
        let user = read
            .user_by_public_id(id)
            .await?
            .ok_or(CoreError::NotFound("user"))?;
        let identities = read.identities_of(user.id).await?;
        self.account(user, identities).await
    }

    /// Blocks or unblocks a user. Blocking also ends all their sessions.
    pub async fn admin_set_blocked(
        &self,
        ctx: &RequestContext,
        id: &PublicUserId,
        blocked: bool,
    ) -> CoreResult<Account> {
        let now = self.now();
        let mut tx = self.store.begin().await?;
        let result = async {
            let user = tx
                .user_by_public_id(id)
                .await?
                .ok_or(CoreError::NotFound("user"))?;
            let status = if blocked {
                UserStatus::Blocked
            } else {
                UserStatus::Active
            };
            tx.set_user_status(user.id, status, now).await?;
            if blocked {
                tx.revoke_user_sessions(user.id, now).await?;
            }
            let event = AuditEvent::ok(if blocked { kind::BLOCK } else { kind::UNBLOCK }).user(*id);
            tx.append_audit(&event.into_entry(ctx, now)).await?;
            Ok(())
        }
        .await;
        finish(tx, result).await?;
        self.admin_user(id).await
    }

    /// Removes one identity. Unlike the user's own unbind, an admin may remove the last one.
    pub async fn admin_unbind(
        &self,
        ctx: &RequestContext,
        id: &PublicUserId,
        app: &str,
    ) -> CoreResult<Account> {
        let app = self.apps.get(app).await?;
        let mut tx = self.store.begin().await?;
        let result = async {
            let user = tx
                .user_by_public_id(id)
                .await?
                .ok_or(CoreError::NotFound("user"))?;
            if !tx.delete_identity(user.id, app.id).await? {
                return Err(CoreError::NotFound("WeChat identity"));
            }
            let event = AuditEvent::ok(kind::ADMIN_UNBIND).app(&app.key).user(*id);
            tx.append_audit(&event.into_entry(ctx, self.now())).await?;
            Ok(())
        }
        .await;
        finish(tx, result).await?;
        self.admin_user(id).await
    }

    pub async fn admin_delete_user(
        &self,
        ctx: &RequestContext,
        id: &PublicUserId,
    ) -> CoreResult<()> {
        let mut tx = self.store.begin().await?;
        let result = async {
            let user = tx
                .user_by_public_id(id)
                .await?
                .ok_or(CoreError::NotFound("user"))?;
            tx.delete_user(user.id).await?;
            let event = AuditEvent::ok(kind::ADMIN_USER_DELETE).user(*id);
            tx.append_audit(&event.into_entry(ctx, self.now())).await?;
            Ok(())
        }
        .await;
        finish(tx, result).await
    }

    /// Ends every session of a user; returns how many were live.
    pub async fn admin_revoke_sessions(
        &self,
        ctx: &RequestContext,
        id: &PublicUserId,
    ) -> CoreResult<u64> {
        let now = self.now();
        let mut tx = self.store.begin().await?;
        let result = async {
            let user = tx
                .user_by_public_id(id)
                .await?
                .ok_or(CoreError::NotFound("user"))?;
            let revoked = tx.revoke_user_sessions(user.id, now).await?;
            let event = AuditEvent::ok(kind::ADMIN_REVOKE_SESSIONS).user(*id);
            tx.append_audit(&event.into_entry(ctx, now)).await?;
            Ok(revoked)
        }
        .await;
        finish(tx, result).await
    }

    pub async fn admin_audit(&self, query: &AuditQuery) -> CoreResult<(Vec<AuditEntry>, u64)> {
        let query = AuditQuery {
            limit: query.limit.clamp(1, MAX_PAGE),
            ..query.clone()
        };
        Ok(self.store.read().query_audit(&query).await?)
    }

    pub async fn create_admin_key(&self, name: &str) -> CoreResult<CreatedAdminKey> {
        let name = name.trim();
        if name.is_empty() || name.chars().count() > 100 {
            return Err(CoreError::validation("name", "must be 1 to 100 characters"));
        }
        let key_id = random_alphanumeric(12);
        let secret = random_token("", 32);
        let record = AdminKeyRecord {
            key_id: key_id.clone(),
            name: name.to_owned(),
            secret_hash: token_hash(&secret),
            created_at: self.now(),
            revoked_at: None,
        };
        let mut tx = self.store.begin().await?;
        let result = tx.insert_admin_key(&record).await.map_err(CoreError::from);
        finish(tx, result).await?;
        let key = secrecy::SecretString::from(format!("wxa_{key_id}_{secret}"));
        Ok(CreatedAdminKey { key_id, key })
    }

    pub async fn revoke_admin_key(&self, key_id: &str) -> CoreResult<()> {
        let mut tx = self.store.begin().await?;
        let result = match tx.revoke_admin_key(key_id, self.now()).await {
            Ok(true) => Ok(()),
            Ok(false) => Err(CoreError::NotFound("admin key")),
            Err(e) => Err(e.into()),
        };
        finish(tx, result).await
    }

    pub async fn list_admin_keys(&self) -> CoreResult<Vec<AdminKeyRecord>> {
        Ok(self.store.read().list_admin_keys().await?)
    }

    /// Checks an admin API key; returns its id for the audit log.
    pub async fn authenticate_admin(&self, presented: &str) -> CoreResult<String> {
        const INVALID: CoreError = CoreError::Unauthenticated("invalid admin API key");
        let rest = presented.strip_prefix("wxa_").ok_or(INVALID)?;
        let (key_id, secret) = rest.split_once('_').ok_or(INVALID)?;
        if key_id.len() != 12 || !key_id.bytes().all(|b| b.is_ascii_alphanumeric()) {
            return Err(INVALID);
        }
        let record = self.store.read().admin_key(key_id).await?;
        // Hash even when the key is unknown so both failures take the same time.
        let presented_hash = token_hash(secret);
        let record = record.ok_or(INVALID)?;
        if record.revoked_at.is_some() || !constant_time_eq(&presented_hash, &record.secret_hash) {
            return Err(INVALID);
        }
        Ok(record.key_id)
    }

    pub fn app_key(&self, key: &str) -> CoreResult<AppKey> {
        Ok(AppKey::parse(key)?)
    }
}

fn constant_time_eq(a: &str, b: &str) -> bool {
    a.len() == b.len()
        && a.bytes()
            .zip(b.bytes())
            .fold(0u8, |acc, (x, y)| acc | (x ^ y))
            == 0
}
