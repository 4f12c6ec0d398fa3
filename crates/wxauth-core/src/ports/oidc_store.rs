//! The OpenID provider's tables: clients, authorizations (a request in flight, then its code),
//! browser sessions, consents and grants. Part of [`super::Store`], split out by feature.
//!
//! Every secret-bearing key (a request handle, a code, a session cookie) is stored as its hash.

use async_trait::async_trait;
use wxauth_domain::{OidcClient, ScopeSet, SignInMethod, Timestamp, UserId};

use super::store::{RepoResult, UserRef};

#[async_trait]
pub trait OidcClientReads: Send {
    async fn oidc_client(&mut self, client_id: &str) -> RepoResult<Option<OidcClient>>;
    async fn oidc_client_by_id(&mut self, id: i64) -> RepoResult<Option<OidcClient>>;
    async fn list_oidc_clients(&mut self) -> RepoResult<Vec<OidcClient>>;
}

#[async_trait]
pub trait OidcClientWrites: Send {
    /// [`crate::RepoError::Conflict`] when the client id is taken.
    async fn insert_oidc_client(&mut self, client: &OidcClient) -> RepoResult<()>;
    /// Replaces every field but the row id, client id and creation time; false when no such
    /// client.
    async fn update_oidc_client(&mut self, client: &OidcClient) -> RepoResult<bool>;
    /// Deletes the client with its authorizations, consents and grants.
    async fn delete_oidc_client(&mut self, id: i64) -> RepoResult<bool>;
}

/// What an authorization request asked for, kept while the user signs in with WeChat.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AuthorizationParams {
    pub redirect_uri: String,
    pub scope: ScopeSet,
    pub state: Option<String>,
    pub nonce: Option<String>,
    /// The S256 challenge (base64url SHA-256 of the verifier).
    pub code_challenge: Option<String>,
    /// The request said `prompt=consent`.
    pub force_consent: bool,
    pub ui_locales: Option<String>,
}

/// An authorization: created by the authorize endpoint, completed by a sign-in (which gives it
/// a code), redeemed once at the token endpoint.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AuthorizationRecord {
    pub id: i64,
    pub client_pk: i64,
    pub params: AuthorizationParams,
    /// The sign-in method in progress (for the callback) or done.
    pub method: Option<SignInMethod>,
    /// The Official Account scan-to-login the sign-in page shows, once started.
    pub qr_login_id: Option<String>,
    /// The Mini Program scan-login the sign-in page shows, once started.
    pub mp_login_id: Option<String>,
    pub expires_at: Timestamp,
    /// From the sign-in on.
    pub user_id: Option<UserId>,
    pub auth_time: Option<Timestamp>,
    /// The browser session the sign-in started or used (its hash).
    pub session_hash: Option<String>,
    pub code_hash: Option<String>,
    pub code_expires_at: Option<Timestamp>,
    pub redeemed_at: Option<Timestamp>,
    /// The grant the code was redeemed for: revoked when the code comes back.
    pub family: Option<String>,
}

#[derive(Debug, Clone)]
pub struct NewAuthorization {
    pub request_hash: String,
    pub client_pk: i64,
    pub params: AuthorizationParams,
    pub method: Option<SignInMethod>,
    pub expires_at: Timestamp,
}

/// A finished sign-in: who, how, when, and the code that now stands for it.
#[derive(Debug, Clone)]
pub struct AuthorizationGrant {
    pub user_id: UserId,
    pub method: SignInMethod,
    pub auth_time: Timestamp,
    pub session_hash: String,
    pub code_hash: String,
    pub code_expires_at: Timestamp,
}

#[async_trait]
pub trait AuthorizationReads: Send {
    async fn authorization_by_request(
        &mut self,
        request_hash: &str,
    ) -> RepoResult<Option<AuthorizationRecord>>;
    async fn authorization_by_code(
        &mut self,
        code_hash: &str,
    ) -> RepoResult<Option<AuthorizationRecord>>;
}

#[async_trait]
pub trait AuthorizationWrites: Send {
    async fn insert_authorization(
        &mut self,
        authorization: &NewAuthorization,
        now: Timestamp,
    ) -> RepoResult<()>;
    /// Records the method chosen on the sign-in page and the scan-to-login it started.
    async fn set_authorization_method(
        &mut self,
        id: i64,
        method: SignInMethod,
        qr_login_id: Option<&str>,
    ) -> RepoResult<bool>;
    /// Records the Mini Program scan-login the sign-in page shows.
    async fn set_authorization_mp_login(&mut self, id: i64, login_id: &str) -> RepoResult<bool>;
    /// Gives the authorization its sign-in and code; false when it had one already (the
    /// request is single-use).
    async fn complete_authorization(
        &mut self,
        id: i64,
        grant: &AuthorizationGrant,
    ) -> RepoResult<bool>;
    /// Uses up the code, recording the grant it was exchanged for; false when it was used.
    async fn redeem_authorization(
        &mut self,
        id: i64,
        family: &str,
        now: Timestamp,
    ) -> RepoResult<bool>;
}

/// A browser session at the provider: the single sign-on across clients.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BrowserSessionRecord {
    pub id: i64,
    pub session_hash: String,
    pub user_id: UserId,
    pub method: SignInMethod,
    pub auth_time: Timestamp,
    pub expires_at: Timestamp,
    pub revoked_at: Option<Timestamp>,
}

#[derive(Debug, Clone)]
pub struct NewBrowserSession {
    pub session_hash: String,
    pub user: UserRef,
    pub method: SignInMethod,
    pub auth_time: Timestamp,
    pub expires_at: Timestamp,
}

#[async_trait]
pub trait BrowserSessionReads: Send {
    async fn browser_session(&mut self, hash: &str) -> RepoResult<Option<BrowserSessionRecord>>;
}

#[async_trait]
pub trait BrowserSessionWrites: Send {
    async fn insert_browser_session(
        &mut self,
        session: &NewBrowserSession,
        now: Timestamp,
    ) -> RepoResult<()>;
    async fn revoke_browser_session(&mut self, hash: &str, now: Timestamp) -> RepoResult<bool>;
}

/// What a user allowed a third-party client to receive.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ConsentRecord {
    pub client_pk: i64,
    pub scope: ScopeSet,
    pub granted_at: Timestamp,
}

#[async_trait]
pub trait ConsentReads: Send {
    async fn consent(&mut self, user: UserId, client_pk: i64) -> RepoResult<Option<ConsentRecord>>;
    async fn consents_of(&mut self, user: UserId) -> RepoResult<Vec<ConsentRecord>>;
}

#[async_trait]
pub trait ConsentWrites: Send {
    /// Records the consent, replacing an earlier one for the same client.
    async fn put_consent(
        &mut self,
        user: UserId,
        client_pk: i64,
        scope: ScopeSet,
        now: Timestamp,
    ) -> RepoResult<()>;
    async fn delete_consent(&mut self, user: UserId, client_pk: i64) -> RepoResult<bool>;
}

/// What a client was granted: one per code redeemed or token exchanged. Its family is the
/// refresh-token family and the access tokens' `sid`; revoking it makes them all inactive.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OidcGrantRecord {
    pub family: String,
    pub client_pk: i64,
    pub user_id: UserId,
    pub scope: ScopeSet,
    pub method: SignInMethod,
    pub auth_time: Timestamp,
    pub revoked_at: Option<Timestamp>,
}

#[derive(Debug, Clone)]
pub struct NewOidcGrant {
    pub family: String,
    pub client_pk: i64,
    pub user: UserRef,
    pub scope: ScopeSet,
    pub method: SignInMethod,
    pub auth_time: Timestamp,
}

#[async_trait]
pub trait OidcGrantReads: Send {
    async fn oidc_grant(&mut self, family: &str) -> RepoResult<Option<OidcGrantRecord>>;
}

#[async_trait]
pub trait OidcGrantWrites: Send {
    async fn insert_oidc_grant(&mut self, grant: &NewOidcGrant, now: Timestamp) -> RepoResult<()>;
    /// Revokes the grant (the refresh family is revoked by the caller); false when it was.
    async fn revoke_oidc_grant(&mut self, family: &str, now: Timestamp) -> RepoResult<bool>;
    /// Revokes every grant of the user to the client (consent withdrawn).
    async fn revoke_oidc_grants_of(
        &mut self,
        user: UserId,
        client_pk: i64,
        now: Timestamp,
    ) -> RepoResult<Vec<String>>;
}

/// Every read of the provider's tables.
pub trait OidcReads:
    OidcClientReads + AuthorizationReads + BrowserSessionReads + ConsentReads + OidcGrantReads
{
}

impl<T> OidcReads for T where
    T: OidcClientReads
        + AuthorizationReads
        + BrowserSessionReads
        + ConsentReads
        + OidcGrantReads
        + ?Sized
{
}

/// Every write of the provider's tables.
pub trait OidcWrites:
    OidcClientWrites + AuthorizationWrites + BrowserSessionWrites + ConsentWrites + OidcGrantWrites
{
}

impl<T> OidcWrites for T where
    T: OidcClientWrites
        + AuthorizationWrites
        + BrowserSessionWrites
        + ConsentWrites
        + OidcGrantWrites
        + ?Sized
{
}
