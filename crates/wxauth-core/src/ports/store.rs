//! The store: wxauth's tables, as two kinds of handle.
//!
//! - A [`Reader`] ([`Store::read`]) runs single read-only statements on committed data, outside
//!   any transaction: the read path of `/me`, sign-in lookups, admin listings. It cannot write,
//!   commit or roll back; the types say so.
//! - A [`Transaction`] ([`Store::begin`]) reads and writes in one unit of work that commits or
//!   rolls back as a whole. Its reads see its own earlier writes, whatever the adapter does to
//!   batch them (the SQL store defers writes nothing reads, and sends them before the next read).
//!
//! Every repository comes as a pair of traits, `…Reads` and `…Writes`; a reader implements the
//! reads, a transaction both. Failures are [`RepoError`]s only: the ports know nothing of the
//! use cases' errors.

use async_trait::async_trait;
use secrecy::SecretString;
use wxauth_domain::{
    App, AppId, AppKey, AvatarUrl, IdentityId, Nickname, OpenId, PhoneNumber, PublicUserId,
    Timestamp, UnionId, User, UserId, UserStatus,
};

pub use crate::apps::AppDraft;
use crate::error::RepoError;
use crate::ports::{OidcReads, OidcWrites};

pub type RepoResult<T> = Result<T, RepoError>;

#[async_trait]
pub trait Store: Send + Sync {
    /// Read-only statements on committed data.
    fn read(&self) -> Box<dyn Reader>;
    /// Starts a read-write transaction.
    async fn begin(&self) -> RepoResult<Box<dyn Transaction>>;
    /// Whether the database answers (readiness probe).
    async fn ping(&self) -> RepoResult<()>;
}

/// Every read.
pub trait Reader:
    AppReads
    + UserReads
    + SessionReads
    + BindCodeReads
    + OAuthStateReads
    + OfficialReads
    + MpQrLoginReads
    + AuditReads
    + AdminKeyReads
    + OidcReads
    + Send
{
}

impl<T> Reader for T where
    T: AppReads
        + UserReads
        + SessionReads
        + BindCodeReads
        + OAuthStateReads
        + OfficialReads
        + MpQrLoginReads
        + AuditReads
        + AdminKeyReads
        + OidcReads
        + Send
        + ?Sized
{
}

/// Every read and every write, in one unit of work.
#[async_trait]
pub trait Transaction:
    Reader
    + AppWrites
    + UserWrites
    + SessionWrites
    + BindCodeWrites
    + OAuthStateWrites
    + OfficialWrites
    + MpQrLoginWrites
    + AuditWrites
    + AdminKeyWrites
    + OidcWrites
{
    /// Makes every write of the transaction durable, or none of them. A write the adapter
    /// deferred may fail here, with the error it would have had (a unique key, say).
    async fn commit(self: Box<Self>) -> RepoResult<()>;
    /// Ends the transaction without its changes. Callers use it on every failure rather than
    /// leaving the rollback to `Drop`, which on MySQL can leave the transaction (and its locks)
    /// open on a pooled connection until that connection is next used.
    async fn rollback(self: Box<Self>) -> RepoResult<()>;
}

// ---------------------------------------------------------------------------------------------
// Apps

#[async_trait]
pub trait AppReads: Send {
    async fn app_by_key(&mut self, key: &AppKey) -> RepoResult<Option<App>>;
    async fn app_by_id(&mut self, id: AppId) -> RepoResult<Option<App>>;
    async fn list_apps(&mut self) -> RepoResult<Vec<App>>;
    /// Whether any WeChat identity is bound to the app (deleting it would orphan them).
    async fn app_has_identities(&mut self, app: AppId) -> RepoResult<bool>;
}

#[async_trait]
pub trait AppWrites: Send {
    /// Inserts a new app; [`RepoError::Conflict`] when the key is taken (possibly at the commit).
    async fn insert_app(&mut self, draft: &AppDraft, now: Timestamp) -> RepoResult<()>;
    /// Inserts the app, or replaces every field of the app with the same key.
    async fn upsert_app(&mut self, draft: &AppDraft, now: Timestamp) -> RepoResult<App>;
    async fn delete_app(&mut self, key: &AppKey) -> RepoResult<bool>;
}

// ---------------------------------------------------------------------------------------------
// Users and identities

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct IdentityRecord {
    pub id: IdentityId,
    pub user_id: UserId,
    pub app_id: AppId,
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
    pub app_id: AppId,
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

/// What an admin's user search matches. The use case parses the search text once; the store
/// only compares.
#[derive(Debug, Clone, Default)]
pub struct UserQuery {
    /// The text as typed: matched against public ids, openids and unionids exactly, and as a
    /// substring of nicknames.
    pub text: Option<String>,
    /// The text read as a phone number, when it is one.
    pub phone: Option<PhoneNumber>,
    pub status: Option<UserStatus>,
    pub offset: u64,
    pub limit: u64,
}

#[async_trait]
pub trait UserReads: Send {
    /// The identity of `openid` in the app, with its user: the hot path of every returning login.
    async fn identity_with_user(
        &mut self,
        app: AppId,
        openid: &OpenId,
    ) -> RepoResult<Option<(IdentityRecord, User)>>;
    /// Any user that has an identity with this unionid (in any app of the open platform).
    async fn user_by_unionid(&mut self, unionid: &UnionId) -> RepoResult<Option<User>>;
    async fn user_by_phone(&mut self, phone: &PhoneNumber) -> RepoResult<Option<User>>;
    async fn user_by_id(&mut self, id: UserId) -> RepoResult<Option<User>>;
    async fn user_by_public_id(&mut self, id: &PublicUserId) -> RepoResult<Option<User>>;
    /// The user's identities, oldest first.
    async fn identities_of(&mut self, user: UserId) -> RepoResult<Vec<IdentityRecord>>;
    /// A user with their identities (oldest first), in one query: the hot path of `GET /me`.
    async fn account_of(
        &mut self,
        id: &PublicUserId,
    ) -> RepoResult<Option<(User, Vec<IdentityRecord>)>>;
    async fn list_users(&mut self, query: &UserQuery) -> RepoResult<(Vec<User>, u64)>;
    /// The session key of the user's identity in the app that signed in most recently (an
    /// account may hold several WeChat users of one Mini Program).
    async fn session_key(&mut self, user: UserId, app: AppId) -> RepoResult<Option<SecretString>>;
}

#[async_trait]
pub trait UserWrites: Send {
    /// Fails with [`RepoError::Conflict`] when the phone number is taken. The store may defer
    /// the write (and so the failure) to the commit; refer to the user by [`UserRef::Public`]
    /// until then.
    async fn insert_user(&mut self, user: &NewUser, now: Timestamp) -> RepoResult<()>;
    /// Fails with [`RepoError::Conflict`] when the openid is bound already (possibly at the
    /// commit). An account may hold several identities of one app.
    async fn insert_identity(&mut self, identity: &NewIdentity, now: Timestamp) -> RepoResult<()>;
    /// Records a sign-in: replaces the session key, fills in a unionid that was missing.
    async fn record_sign_in(
        &mut self,
        identity: IdentityId,
        session_key: Option<&SecretString>,
        unionid: Option<&UnionId>,
        now: Timestamp,
    ) -> RepoResult<()>;
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
    async fn delete_identity(&mut self, identity: IdentityId) -> RepoResult<bool>;
    /// Deletes the user with their identities, sessions and bind codes.
    async fn delete_user(&mut self, user: UserId) -> RepoResult<bool>;
}

// ---------------------------------------------------------------------------------------------
// Refresh tokens (sessions)

#[derive(Debug, Clone)]
pub struct NewRefreshToken {
    /// What the store finds the token by; the token itself is never stored.
    pub token_hash: String,
    /// The session: every rotation of one sign-in shares it.
    pub family: String,
    pub user: UserRef,
    pub app_id: Option<AppId>,
    pub expires_at: Timestamp,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RefreshTokenRecord {
    pub id: i64,
    pub family: String,
    pub user_id: UserId,
    pub app_id: Option<AppId>,
    pub expires_at: Timestamp,
    pub used_at: Option<Timestamp>,
    pub revoked_at: Option<Timestamp>,
}

#[async_trait]
pub trait SessionReads: Send {
    async fn refresh_token_by_hash(&mut self, hash: &str)
    -> RepoResult<Option<RefreshTokenRecord>>;
}

#[async_trait]
pub trait SessionWrites: Send {
    async fn insert_refresh_token(
        &mut self,
        token: &NewRefreshToken,
        now: Timestamp,
    ) -> RepoResult<()>;
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
    pub app_id: AppId,
    pub openid: OpenId,
    pub unionid: Option<UnionId>,
    pub session_key: Option<SecretString>,
    pub phone: Option<PhoneNumber>,
    pub expires_at: Timestamp,
}

#[derive(Debug, Clone)]
pub struct BindCodeRecord {
    pub id: i64,
    pub app_id: AppId,
    pub openid: OpenId,
    pub unionid: Option<UnionId>,
    pub session_key: Option<SecretString>,
    pub phone: Option<PhoneNumber>,
    pub expires_at: Timestamp,
    pub used_at: Option<Timestamp>,
}

#[async_trait]
pub trait BindCodeReads: Send {
    async fn bind_code_by_hash(&mut self, hash: &str) -> RepoResult<Option<BindCodeRecord>>;
}

#[async_trait]
pub trait BindCodeWrites: Send {
    async fn insert_bind_code(&mut self, code: &NewBindCode, now: Timestamp) -> RepoResult<()>;
    /// Marks the code used; false when it was used meanwhile.
    async fn mark_bind_code_used(&mut self, id: i64, now: Timestamp) -> RepoResult<bool>;
}

// ---------------------------------------------------------------------------------------------
// OAuth state

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OAuthStateRecord {
    pub id: i64,
    pub app_id: AppId,
    pub redirect_uri: String,
    pub callback: String,
    pub scope: String,
    pub expires_at: Timestamp,
    pub used_at: Option<Timestamp>,
}

#[derive(Debug, Clone)]
pub struct NewOAuthState {
    pub state_hash: String,
    pub app_id: AppId,
    pub redirect_uri: String,
    pub callback: String,
    pub scope: String,
    pub expires_at: Timestamp,
}

#[async_trait]
pub trait OAuthStateReads: Send {
    async fn oauth_state_by_hash(&mut self, hash: &str) -> RepoResult<Option<OAuthStateRecord>>;
}

#[async_trait]
pub trait OAuthStateWrites: Send {
    async fn insert_oauth_state(&mut self, state: &NewOAuthState, now: Timestamp)
    -> RepoResult<()>;
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
    pub app_id: AppId,
    pub scene: String,
    pub status: QrLoginStatus,
    pub openid: Option<OpenId>,
    pub expires_at: Timestamp,
}

#[derive(Debug, Clone)]
pub struct NewQrLogin {
    pub login_id: String,
    pub app_id: AppId,
    pub scene: String,
    pub ticket: String,
    pub expires_at: Timestamp,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FollowerChange {
    pub app_id: AppId,
    pub openid: OpenId,
    pub subscribed: bool,
    pub at: Timestamp,
    pub scene: Option<String>,
}

#[async_trait]
pub trait OfficialReads: Send {
    async fn qr_login_by_id(&mut self, login_id: &str) -> RepoResult<Option<QrLoginRecord>>;
    async fn qr_login_by_scene(
        &mut self,
        app: AppId,
        scene: &str,
    ) -> RepoResult<Option<QrLoginRecord>>;
}

#[async_trait]
pub trait OfficialWrites: Send {
    /// Remembers a push; false when it was seen before (WeChat retried it).
    async fn remember_event(&mut self, app: AppId, key: &str, now: Timestamp) -> RepoResult<bool>;
    async fn record_follower(&mut self, change: &FollowerChange) -> RepoResult<()>;
    async fn insert_qr_login(&mut self, login: &NewQrLogin, now: Timestamp) -> RepoResult<()>;
    /// Moves a pending login to scanned with the scanner's openid; false if it was not pending.
    async fn mark_qr_login_scanned(&mut self, id: i64, openid: &OpenId) -> RepoResult<bool>;
    /// Moves a scanned login to consumed; false if it was not scanned (a concurrent poll won).
    async fn mark_qr_login_consumed(&mut self, id: i64) -> RepoResult<bool>;
}

// ---------------------------------------------------------------------------------------------
// Mini Program scan-login

/// Where a Mini Program scan-login stands. Expiry is not a state: a login whose `expires_at`
/// has passed is expired whatever its row says, and housekeeping deletes it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum MpQrLoginStatus {
    /// The desktop shows the code; nobody scanned it yet.
    Pending,
    /// A WeChat user scanned it and holds the confirmation token.
    Scanned,
    /// The scanner confirmed; the desktop's next poll signs in.
    Confirmed,
    /// The desktop got its tokens.
    Consumed,
    /// The scanner cancelled.
    Cancelled,
}

impl MpQrLoginStatus {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Pending => "pending",
            Self::Scanned => "scanned",
            Self::Confirmed => "confirmed",
            Self::Consumed => "consumed",
            Self::Cancelled => "cancelled",
        }
    }

    pub fn parse(s: &str) -> Option<Self> {
        match s {
            "pending" => Some(Self::Pending),
            "scanned" => Some(Self::Scanned),
            "confirmed" => Some(Self::Confirmed),
            "consumed" => Some(Self::Consumed),
            "cancelled" => Some(Self::Cancelled),
            _ => None,
        }
    }
}

/// The image of a Mini Program code, as WeChat drew it.
#[derive(Clone, PartialEq, Eq)]
pub struct CodeImage {
    /// `image/png` or `image/jpeg`.
    pub media_type: String,
    pub bytes: Vec<u8>,
}

impl std::fmt::Debug for CodeImage {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("CodeImage")
            .field("media_type", &self.media_type)
            .field("bytes", &self.bytes.len())
            .finish()
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MpQrLoginRecord {
    pub id: i64,
    /// What watchers of this login wait on.
    pub login_hash: String,
    pub app_id: AppId,
    pub status: MpQrLoginStatus,
    /// The scanner, from the scan on.
    pub openid: Option<OpenId>,
    pub unionid: Option<UnionId>,
    /// The hash of the confirmation token the scan handed out.
    pub confirm_hash: Option<String>,
    pub desktop_ip: Option<String>,
    pub desktop_agent: Option<String>,
    pub scanner_ip: Option<String>,
    pub created_at: Timestamp,
    pub expires_at: Timestamp,
}

/// A login to create. Both keys are hashes: the row alone yields neither the login id nor
/// the scene.
#[derive(Debug, Clone)]
pub struct NewMpQrLogin {
    pub login_hash: String,
    pub scene_hash: String,
    pub app_id: AppId,
    pub desktop_ip: Option<String>,
    pub desktop_agent: Option<String>,
    pub expires_at: Timestamp,
    pub image: CodeImage,
}

/// A scan to record.
#[derive(Debug, Clone)]
pub struct MpQrScan {
    pub id: i64,
    pub openid: OpenId,
    pub unionid: Option<UnionId>,
    pub confirm_hash: String,
    pub scanner_ip: Option<String>,
}

#[async_trait]
pub trait MpQrLoginReads: Send {
    async fn mp_qr_login_by_login(
        &mut self,
        login_hash: &str,
    ) -> RepoResult<Option<MpQrLoginRecord>>;
    async fn mp_qr_login_by_scene(
        &mut self,
        scene_hash: &str,
    ) -> RepoResult<Option<MpQrLoginRecord>>;
    async fn mp_qr_login_image(&mut self, login_hash: &str) -> RepoResult<Option<CodeImage>>;
    /// The login hashes of logins changed at or after `since`, with their change times, oldest
    /// first and at most `limit`: how an instance learns what other instances moved on.
    async fn mp_qr_logins_changed_since(
        &mut self,
        since: Timestamp,
        limit: u64,
    ) -> RepoResult<Vec<(String, Timestamp)>>;
    /// Up to `limit` logins that expired before `now`, oldest first.
    async fn mp_qr_logins_expired(
        &mut self,
        now: Timestamp,
        limit: u64,
    ) -> RepoResult<Vec<MpQrLoginRecord>>;
}

#[async_trait]
pub trait MpQrLoginWrites: Send {
    /// The login and its image.
    async fn insert_mp_qr_login(&mut self, login: &NewMpQrLogin, now: Timestamp) -> RepoResult<()>;
    /// Records a scan of a login that is pending, or scanned by the same WeChat user (who
    /// gets a fresh confirmation token), and not expired at `now`. False otherwise.
    async fn mark_mp_qr_login_scanned(
        &mut self,
        scan: &MpQrScan,
        now: Timestamp,
    ) -> RepoResult<bool>;
    /// Moves a login from `from` to `to` if it is still in `from`; false otherwise (another
    /// request moved it first).
    async fn move_mp_qr_login(
        &mut self,
        id: i64,
        from: MpQrLoginStatus,
        to: MpQrLoginStatus,
        now: Timestamp,
    ) -> RepoResult<bool>;
    /// Deletes the logins (and their images); how many there were.
    async fn delete_mp_qr_logins(&mut self, ids: &[i64]) -> RepoResult<u64>;
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
pub trait AuditReads: Send {
    /// Newest first.
    async fn query_audit(&mut self, query: &AuditQuery) -> RepoResult<(Vec<AuditEntry>, u64)>;
}

#[async_trait]
pub trait AuditWrites: Send {
    async fn append_audit(&mut self, entry: &AuditEntry) -> RepoResult<()>;
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
pub trait AdminKeyReads: Send {
    async fn admin_key(&mut self, key_id: &str) -> RepoResult<Option<AdminKeyRecord>>;
    async fn list_admin_keys(&mut self) -> RepoResult<Vec<AdminKeyRecord>>;
}

#[async_trait]
pub trait AdminKeyWrites: Send {
    async fn insert_admin_key(&mut self, key: &AdminKeyRecord) -> RepoResult<()>;
    async fn revoke_admin_key(&mut self, key_id: &str, now: Timestamp) -> RepoResult<bool>;
}
