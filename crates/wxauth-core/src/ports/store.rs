//! The store: a unit of work over wxauth's tables.
//!
//! A use case opens one [`StoreTx`] with [`Store::begin`], does all its reads and writes in it
//! and commits, so a login is one transaction. [`Store::read`] gives the same operations outside
//! a transaction for read-only paths (on SQLite, a pool of read-only connections).
//! Dropping a transaction without committing rolls it back.

use async_trait::async_trait;
use secrecy::SecretString;
use wxauth_domain::{
    App, AppKey, AppKind, AvatarUrl, Nickname, OpenId, PhoneNumber, PublicUserId,
    RedirectAllowList, RegistrationPolicy, Timestamp, UnionId, User, UserId, UserStatus,
    WechatAppId, app::AppEndpoints,
};

use crate::error::RepoError;

pub type RepoResult<T> = Result<T, RepoError>;

#[async_trait]
pub trait Store: Send + Sync {
    /// Starts a read-write transaction.
    async fn begin(&self) -> RepoResult<Box<dyn StoreTx>>;
    /// Statements outside any transaction, for read-only paths.
    fn read(&self) -> Box<dyn StoreTx>;
    /// Whether the database answers (readiness probe).
    async fn ping(&self) -> RepoResult<()>;
}

#[async_trait]
pub trait StoreTx:
    AppRepo
    + UserRepo
    + SessionRepo
    + BindCodeRepo
    + OAuthStateRepo
    + OfficialRepo
    + AuditRepo
    + AdminKeyRepo
    + Send
{
    async fn commit(self: Box<Self>) -> RepoResult<()>;
    /// Ends the transaction without its changes. Use cases call it on every failure rather
    /// than leaving the rollback to `Drop`, which on MySQL can leave the transaction (and its
    /// locks) open on a pooled connection until that connection is next used.
    async fn rollback(self: Box<Self>) -> RepoResult<()>;
}

/// Commits on success, rolls back on failure.
pub async fn finish<T>(
    tx: Box<dyn StoreTx>,
    result: Result<T, crate::CoreError>,
) -> Result<T, crate::CoreError> {
    match result {
        Ok(value) => {
            tx.commit().await?;
            Ok(value)
        }
        Err(e) => {
            if let Err(rollback) = tx.rollback().await {
                tracing::warn!(error = %rollback, "rollback failed; the connection will be discarded");
            }
            Err(e)
        }
    }
}

// ---------------------------------------------------------------------------------------------
// Apps

/// An app as written by configuration or the admin API. Secrets are plaintext here; the store
/// encrypts them at rest.
#[derive(Debug, Clone)]
pub struct AppDraft {
    pub key: AppKey,
    pub kind: AppKind,
    pub name: String,
    pub appid: WechatAppId,
    pub secret: SecretString,
    pub registration: RegistrationPolicy,
    pub redirect_allow_list: RedirectAllowList,
    pub event_token: Option<SecretString>,
    pub encoding_aes_key: Option<SecretString>,
    pub endpoints: AppEndpoints,
    pub enabled: bool,
    /// `config` or `admin`: who owns the app's definition.
    pub source: &'static str,
}

#[async_trait]
pub trait AppRepo: Send {
    async fn app_by_key(&mut self, key: &AppKey) -> RepoResult<Option<App>>;
    async fn app_by_id(&mut self, id: i64) -> RepoResult<Option<App>>;
    async fn list_apps(&mut self) -> RepoResult<Vec<App>>;
    /// Inserts the app, or replaces every field of the app with the same key.
    async fn upsert_app(&mut self, draft: &AppDraft, now: Timestamp) -> RepoResult<App>;
    async fn delete_app(&mut self, key: &AppKey) -> RepoResult<bool>;
    /// Whether any WeChat identity is bound to the app (deleting it would orphan them).
    async fn app_has_identities(&mut self, app_id: i64) -> RepoResult<bool>;
}

// ---------------------------------------------------------------------------------------------
// Users and identities

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct IdentityRecord {
    pub id: i64,
    pub user_id: UserId,
    pub app_id: i64,
    pub openid: OpenId,
    pub unionid: Option<UnionId>,
    pub created_at: Timestamp,
    pub last_login_at: Option<Timestamp>,
}

#[derive(Debug, Clone)]
pub struct NewUser {
    pub public_id: PublicUserId,
    pub nickname: Option<Nickname>,
    pub avatar_url: Option<AvatarUrl>,
    pub phone: Option<PhoneNumber>,
}

/// A user as a write refers to it: by row id, or by public id when the user's row is written
/// in the same transaction (its id is then known only to the database).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum UserRef {
    Id(UserId),
    Public(PublicUserId),
}

#[derive(Debug, Clone)]
pub struct NewIdentity {
    pub user: UserRef,
    pub app_id: i64,
    pub openid: OpenId,
    pub unionid: Option<UnionId>,
    pub session_key: Option<SecretString>,
}

/// A profile change; `None` leaves a field as it is, `Some(None)` clears it.
#[derive(Debug, Clone, Default)]
pub struct ProfileChange {
    pub nickname: Option<Option<Nickname>>,
    pub avatar_url: Option<Option<AvatarUrl>>,
    pub phone: Option<Option<PhoneNumber>>,
}

impl ProfileChange {
    pub fn is_empty(&self) -> bool {
        self.nickname.is_none() && self.avatar_url.is_none() && self.phone.is_none()
    }
}

#[derive(Debug, Clone, Default)]
pub struct UserQuery {
    /// Matches the public id, openid, unionid, phone (exact) or nickname (substring).
    pub search: Option<String>,
    pub status: Option<UserStatus>,
    pub offset: u64,
    pub limit: u64,
}

#[async_trait]
pub trait UserRepo: Send {
    /// The identity of `openid` in the app, with its user: the hot path of every returning login.
    async fn identity_with_user(
        &mut self,
        app_id: i64,
        openid: &OpenId,
    ) -> RepoResult<Option<(IdentityRecord, User)>>;
    /// Any user that has an identity with this unionid (in any app of the open platform).
    async fn user_by_unionid(&mut self, unionid: &UnionId) -> RepoResult<Option<User>>;
    async fn user_by_phone(&mut self, phone: &PhoneNumber) -> RepoResult<Option<User>>;
    async fn user_by_id(&mut self, id: UserId) -> RepoResult<Option<User>>;
    async fn user_by_public_id(&mut self, id: &PublicUserId) -> RepoResult<Option<User>>;
    async fn identities_of(&mut self, user: UserId) -> RepoResult<Vec<IdentityRecord>>;
    /// A user with their identities, in one query (the hot path of `GET /me`).
    async fn account_of(
        &mut self,
        id: &PublicUserId,
    ) -> RepoResult<Option<(User, Vec<IdentityRecord>)>>;
    async fn list_users(&mut self, query: &UserQuery) -> RepoResult<(Vec<User>, u64)>;

    /// Fails with [`RepoError::Conflict`] when the phone number is taken. The store may defer
    /// the write (and so the failure) to the commit; refer to the user by [`UserRef::Public`]
    /// until then.
    async fn insert_user(&mut self, user: &NewUser, now: Timestamp) -> RepoResult<()>;
    /// Fails with [`RepoError::Conflict`] when the openid is bound already, or the user already
    /// has an identity in the app (possibly at the commit).
    async fn insert_identity(&mut self, identity: &NewIdentity, now: Timestamp) -> RepoResult<()>;
    /// Records a sign-in: replaces the session key, fills in a unionid that was missing.
    async fn record_sign_in(
        &mut self,
        identity_id: i64,
        session_key: Option<&SecretString>,
        unionid: Option<&UnionId>,
        now: Timestamp,
    ) -> RepoResult<()>;
    async fn session_key(&mut self, user: UserId, app_id: i64) -> RepoResult<Option<SecretString>>;
    /// Fails with [`RepoError::Conflict`] when the new phone number is taken.
    async fn update_profile(
        &mut self,
        user: UserId,
        change: &ProfileChange,
        now: Timestamp,
    ) -> RepoResult<User>;
    async fn set_user_status(
        &mut self,
        user: UserId,
        status: UserStatus,
        now: Timestamp,
    ) -> RepoResult<bool>;
    async fn delete_identity(&mut self, user: UserId, app_id: i64) -> RepoResult<bool>;
    /// Deletes the user with its identities, sessions and bind codes.
    async fn delete_user(&mut self, user: UserId) -> RepoResult<bool>;
}

// ---------------------------------------------------------------------------------------------
// Refresh tokens (sessions)

#[derive(Debug, Clone)]
pub struct NewRefreshToken {
    /// SHA-256 of the token; the token itself is never stored.
    pub token_hash: String,
    /// The session: every rotation of one sign-in shares it.
    pub family: String,
    pub user: UserRef,
    pub app_id: Option<i64>,
    pub expires_at: Timestamp,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RefreshTokenRecord {
    pub id: i64,
    pub family: String,
    pub user_id: UserId,
    pub app_id: Option<i64>,
    pub expires_at: Timestamp,
    pub used_at: Option<Timestamp>,
    pub revoked_at: Option<Timestamp>,
}

#[async_trait]
pub trait SessionRepo: Send {
    async fn insert_refresh_token(
        &mut self,
        token: &NewRefreshToken,
        now: Timestamp,
    ) -> RepoResult<()>;
    async fn refresh_token_by_hash(&mut self, hash: &str)
    -> RepoResult<Option<RefreshTokenRecord>>;
    /// Marks the token used; false when it was used or revoked meanwhile (a concurrent refresh).
    async fn mark_refresh_token_used(&mut self, id: i64, now: Timestamp) -> RepoResult<bool>;
    /// Revokes every token of the session; returns how many were still live.
    async fn revoke_family(&mut self, family: &str, now: Timestamp) -> RepoResult<u64>;
    async fn revoke_user_sessions(&mut self, user: UserId, now: Timestamp) -> RepoResult<u64>;
}

// ---------------------------------------------------------------------------------------------
// Bind codes

#[derive(Debug, Clone)]
pub struct NewBindCode {
    pub code_hash: String,
    pub app_id: i64,
    pub openid: OpenId,
    pub unionid: Option<UnionId>,
    pub session_key: Option<SecretString>,
    pub phone: Option<PhoneNumber>,
    pub expires_at: Timestamp,
}

#[derive(Debug, Clone)]
pub struct BindCodeRecord {
    pub id: i64,
    pub app_id: i64,
    pub openid: OpenId,
    pub unionid: Option<UnionId>,
    pub session_key: Option<SecretString>,
    pub phone: Option<PhoneNumber>,
    pub expires_at: Timestamp,
    pub used_at: Option<Timestamp>,
}

#[async_trait]
pub trait BindCodeRepo: Send {
    async fn insert_bind_code(&mut self, code: &NewBindCode, now: Timestamp) -> RepoResult<()>;
    async fn bind_code_by_hash(&mut self, hash: &str) -> RepoResult<Option<BindCodeRecord>>;
    /// Marks the code used; false when it was used meanwhile.
    async fn mark_bind_code_used(&mut self, id: i64, now: Timestamp) -> RepoResult<bool>;
}

// ---------------------------------------------------------------------------------------------
// OAuth state

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OAuthStateRecord {
    pub id: i64,
    pub app_id: i64,
    pub redirect_uri: String,
    pub callback: String,
    pub scope: String,
    pub expires_at: Timestamp,
    pub used_at: Option<Timestamp>,
}

#[derive(Debug, Clone)]
pub struct NewOAuthState {
    pub state_hash: String,
    pub app_id: i64,
    pub redirect_uri: String,
    pub callback: String,
    pub scope: String,
    pub expires_at: Timestamp,
}

#[async_trait]
pub trait OAuthStateRepo: Send {
    async fn insert_oauth_state(&mut self, state: &NewOAuthState, now: Timestamp)
    -> RepoResult<()>;
    async fn oauth_state_by_hash(&mut self, hash: &str) -> RepoResult<Option<OAuthStateRecord>>;
    /// Marks the state used; false when it was used meanwhile.
    async fn mark_oauth_state_used(&mut self, id: i64, now: Timestamp) -> RepoResult<bool>;
}

// ---------------------------------------------------------------------------------------------
// Official Account: followers, event dedupe, scan-to-login

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum QrLoginStatus {
    Pending,
    Scanned,
    Consumed,
}

impl QrLoginStatus {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Pending => "pending",
            Self::Scanned => "scanned",
            Self::Consumed => "consumed",
        }
    }

    pub fn parse(s: &str) -> Option<Self> {
        match s {
            "pending" => Some(Self::Pending),
            "scanned" => Some(Self::Scanned),
            "consumed" => Some(Self::Consumed),
            _ => None,
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct QrLoginRecord {
    pub id: i64,
    pub login_id: String,
    pub app_id: i64,
    pub scene: String,
    pub status: QrLoginStatus,
    pub openid: Option<OpenId>,
    pub expires_at: Timestamp,
}

#[derive(Debug, Clone)]
pub struct NewQrLogin {
    pub login_id: String,
    pub app_id: i64,
    pub scene: String,
    pub ticket: String,
    pub expires_at: Timestamp,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FollowerChange {
    pub app_id: i64,
    pub openid: OpenId,
    pub subscribed: bool,
    pub at: Timestamp,
    pub scene: Option<String>,
}

#[async_trait]
pub trait OfficialRepo: Send {
    /// Remembers a push; false when it was seen before (WeChat retried it).
    async fn remember_event(&mut self, app_id: i64, key: &str, now: Timestamp) -> RepoResult<bool>;
    async fn record_follower(&mut self, change: &FollowerChange) -> RepoResult<()>;
    async fn insert_qr_login(&mut self, login: &NewQrLogin, now: Timestamp) -> RepoResult<()>;
    async fn qr_login_by_id(&mut self, login_id: &str) -> RepoResult<Option<QrLoginRecord>>;
    async fn qr_login_by_scene(
        &mut self,
        app_id: i64,
        scene: &str,
    ) -> RepoResult<Option<QrLoginRecord>>;
    /// Moves a pending login to scanned with the scanner's openid; false if it was not pending.
    async fn mark_qr_login_scanned(&mut self, id: i64, openid: &OpenId) -> RepoResult<bool>;
    /// Moves a scanned login to consumed; false if it was not scanned (a concurrent poll won).
    async fn mark_qr_login_consumed(&mut self, id: i64) -> RepoResult<bool>;
}

// ---------------------------------------------------------------------------------------------
// Audit log

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AuditEntry {
    pub at: Timestamp,
    pub kind: String,
    pub success: bool,
    pub reason: Option<String>,
    pub app_key: Option<String>,
    pub user: Option<PublicUserId>,
    pub actor: Option<String>,
    pub ip: Option<String>,
    pub request_id: Option<String>,
}

#[derive(Debug, Clone, Default)]
pub struct AuditQuery {
    pub user: Option<PublicUserId>,
    pub kind: Option<String>,
    pub since: Option<Timestamp>,
    pub until: Option<Timestamp>,
    pub offset: u64,
    pub limit: u64,
}

#[async_trait]
pub trait AuditRepo: Send {
    async fn append_audit(&mut self, entry: &AuditEntry) -> RepoResult<()>;
    async fn query_audit(&mut self, query: &AuditQuery) -> RepoResult<(Vec<AuditEntry>, u64)>;
}

// ---------------------------------------------------------------------------------------------
// Admin API keys

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AdminKeyRecord {
    pub key_id: String,
    pub name: String,
    pub secret_hash: String,
    pub created_at: Timestamp,
    pub revoked_at: Option<Timestamp>,
}

#[async_trait]
pub trait AdminKeyRepo: Send {
    async fn insert_admin_key(&mut self, key: &AdminKeyRecord) -> RepoResult<()>;
    async fn admin_key(&mut self, key_id: &str) -> RepoResult<Option<AdminKeyRecord>>;
    async fn list_admin_keys(&mut self) -> RepoResult<Vec<AdminKeyRecord>>;
    async fn revoke_admin_key(&mut self, key_id: &str, now: Timestamp) -> RepoResult<bool>;
}
