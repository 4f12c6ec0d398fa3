//! Administration: apps, users, sessions, the audit log and admin API keys.
//!
//! Admin callers authenticate with admin API keys, never with users' access tokens. Keys look
//! like `wxa_<id>_<secret>`; only a hash of the secret is stored.

use wxauth_domain::{AppKey, IdentityId, PhoneNumber, PublicUserId, User, UserStatus};

use crate::account::{Account, only_identity_in};
use crate::apps::{AppDraft, AppSource, AppSpec};
use crate::audit::{AuditEvent, kind};
use crate::error::{CoreError, CoreResult};
use crate::ports::{AdminKeyRecord, AuditEntry, AuditQuery, UserQuery};
use crate::secrets::{random_alphanumeric, random_token, token_hash};
use crate::service::{RequestContext, Wxauth, finish};

/// An admin's user search, as typed.
#[derive(Debug, Clone, Default)]
pub struct UserSearch {
    /// A public id, openid, unionid, phone number (as people type them) or part of a nickname.
    pub text: Option<String>,
    pub status: Option<UserStatus>,
    pub offset: u64,
    pub limit: u64,
}

/// Searches for phone numbers assume this country when the number has no `+`: wxauth's users
/// sign in with WeChat, mostly from mainland China.
const SEARCH_DEFAULT_COUNTRY_CODE: &str = "86";

pub const MAX_PAGE: u64 = 200;

/// A newly created admin key: the only time its secret is visible.
#[derive(Debug)]
pub struct CreatedAdminKey {
    pub key_id: String,
    /// The whole key, `wxa_<id>_<secret>`.
    pub key: secrecy::SecretString,
}

impl Wxauth {
    /// Creates an app; refused when the key exists.
    pub async fn admin_create_app(
        &self,
        ctx: &RequestContext,
        spec: AppSpec,
    ) -> CoreResult<wxauth_domain::App> {
        let draft = AppDraft::parse(spec, None, AppSource::Admin)?;
        let app = self.apps.create(&draft).await?;
        self.audit_alone(ctx, AuditEvent::ok(kind::ADMIN_APP_UPSERT).app(&app.key))
            .await;
        Ok(app.as_ref().clone())
    }

    /// Creates or replaces the app `key`; secrets the spec leaves out keep their values.
    pub async fn admin_replace_app(
        &self,
        ctx: &RequestContext,
        key: &str,
        mut spec: AppSpec,
    ) -> CoreResult<wxauth_domain::App> {
        let key = AppKey::parse(key).map_err(|e| e.renamed("key"))?;
        if !spec.key.is_empty() && spec.key != key.as_str() {
            return Err(CoreError::validation("key", "must match the path"));
        }
        spec.key = key.to_string();
        self.apps.invalidate();
        let existing = self.apps.get(key.as_str()).await.ok();
        let draft = AppDraft::parse(spec, existing.as_deref(), AppSource::Admin)?;
        self.save_app(ctx, &draft).await
    }

    async fn save_app(
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

    pub async fn admin_list_users(&self, search: &UserSearch) -> CoreResult<(Vec<User>, u64)> {
        let text = search
            .text
            .as_deref()
            .map(str::trim)
            .filter(|s| !s.is_empty());
        let query = UserQuery {
            text: text.map(str::to_owned),
            phone: text.and_then(|t| PhoneNumber::parse_typed(t, SEARCH_DEFAULT_COUNTRY_CODE).ok()),
            status: search.status,
            offset: search.offset,
            limit: search.limit.clamp(1, MAX_PAGE),
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

    /// Removes a user's one identity in an app (refused when they have several there: name one
    /// by its id). Unlike the user's own unbind, an admin may remove the last one.
    pub async fn admin_unbind(
        &self,
        ctx: &RequestContext,
        id: &PublicUserId,
        app: &str,
    ) -> CoreResult<Account> {
        let app = self.apps.get(app).await?;
        self.admin_unbind_where(ctx, id, |identities| only_identity_in(identities, &app))
            .await
    }

    /// Removes one identity of a user by its id.
    pub async fn admin_unbind_identity(
        &self,
        ctx: &RequestContext,
        id: &PublicUserId,
        identity: IdentityId,
    ) -> CoreResult<Account> {
        self.admin_unbind_where(ctx, id, |identities| {
            identities
                .iter()
                .find(|i| i.id == identity)
                .map(|i| i.id)
                .ok_or(CoreError::NotFound("WeChat identity"))
        })
        .await
    }

    async fn admin_unbind_where(
        &self,
        ctx: &RequestContext,
        id: &PublicUserId,
        pick: impl FnOnce(&[crate::ports::IdentityRecord]) -> CoreResult<IdentityId>,
    ) -> CoreResult<Account> {
        let mut tx = self.store.begin().await?;
        let result = async {
            let user = tx
                .user_by_public_id(id)
                .await?
                .ok_or(CoreError::NotFound("user"))?;
            let identities = tx.identities_of(user.id).await?;
            let target = pick(&identities)?;
            let app_id = identities.iter().find(|i| i.id == target).map(|i| i.app_id);
            if !tx.delete_identity(target).await? {
                return Err(CoreError::NotFound("WeChat identity"));
            }
            let app = match app_id {
                Some(app_id) => self.apps.by_id(app_id).await.ok(),
                None => None,
            };
            let event = AuditEvent::ok(kind::ADMIN_UNBIND)
                .app_opt(app.as_ref().map(|a| &a.key))
                .user(*id);
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
