//! An in-memory store with the semantics the SQL store has, checked by the same contract suite
//! ([`super::contract`]).
//!
//! Committed state sits behind one lock. A reader works on a snapshot of it. A transaction
//! takes the writer lock for its whole life (as SQLite's single writer does), works on a copy,
//! and its commit swaps the copy in: an uncommitted transaction leaves nothing behind, and two
//! transactions never lose each other's writes.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};

use async_trait::async_trait;
use futures::lock::{Mutex as AsyncMutex, OwnedMutexGuard};
use secrecy::SecretString;
use wxauth_domain::{
    App, AppId, AppKey, IdentityId, OidcClient, OpenId, PhoneNumber, PublicUserId, ScopeSet,
    SignInMethod, Timestamp, UnionId, User, UserId, UserStatus,
};

use crate::error::RepoError;
use crate::ports::*;

/// Every table of the fake.
#[derive(Clone, Default)]
pub struct State {
    next_id: i64,
    pub apps: Vec<App>,
    pub users: Vec<User>,
    pub identities: Vec<(IdentityRecord, Option<SecretString>)>,
    pub refresh: Vec<(String, RefreshTokenRecord)>,
    pub bind_codes: Vec<(String, BindCodeRecord)>,
    pub states: Vec<(String, OAuthStateRecord)>,
    pub events: Vec<(AppId, String)>,
    pub followers: HashMap<(AppId, String), bool>,
    pub qr_logins: Vec<QrLoginRecord>,
    pub mp_qr_logins: Vec<FakeMpQrLogin>,
    pub audit: Vec<AuditEntry>,
    pub admin_keys: Vec<AdminKeyRecord>,
    pub oidc_clients: Vec<OidcClient>,
    /// By request hash.
    pub oidc_authorizations: Vec<(String, AuthorizationRecord)>,
    pub browser_sessions: Vec<BrowserSessionRecord>,
    pub consents: Vec<(UserId, ConsentRecord)>,
    pub oidc_grants: Vec<OidcGrantRecord>,
}

/// A Mini Program scan-login row: its hashed keys, the record, its image and change time.
#[derive(Clone, Debug)]
pub struct FakeMpQrLogin {
    pub login_hash: String,
    pub scene_hash: String,
    pub record: MpQrLoginRecord,
    pub image: CodeImage,
    pub updated_at: Timestamp,
}

impl State {
    fn id(&mut self) -> i64 {
        self.next_id += 1;
        self.next_id
    }
}

#[derive(Clone, Default)]
pub struct FakeStore {
    committed: Arc<Mutex<State>>,
    writer: Arc<AsyncMutex<()>>,
}

impl FakeStore {
    /// The committed tables, for assertions.
    pub fn snapshot(&self) -> State {
        self.committed
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .clone()
    }
}

/// A reader (no writer lock) or a transaction (with it). `Store` hands it out as the one or
/// the other trait object, so a reader's writes cannot even be called.
pub struct FakeHandle {
    state: State,
    tx: Option<(Arc<Mutex<State>>, OwnedMutexGuard<()>)>,
}

#[async_trait]
impl Store for FakeStore {
    fn read(&self) -> Box<dyn Reader> {
        Box::new(FakeHandle {
            state: self.snapshot(),
            tx: None,
        })
    }

    async fn begin(&self) -> RepoResult<Box<dyn Transaction>> {
        let guard = self.writer.clone().lock_owned().await;
        Ok(Box::new(FakeHandle {
            state: self.snapshot(),
            tx: Some((self.committed.clone(), guard)),
        }))
    }

    async fn ping(&self) -> RepoResult<()> {
        Ok(())
    }
}

#[async_trait]
impl Transaction for FakeHandle {
    async fn commit(self: Box<Self>) -> RepoResult<()> {
        if let Some((committed, _guard)) = self.tx {
            *committed.lock().unwrap_or_else(|p| p.into_inner()) = self.state;
        }
        Ok(())
    }

    async fn rollback(self: Box<Self>) -> RepoResult<()> {
        Ok(())
    }
}

impl FakeHandle {
    fn user_id_of(&self, user: UserRef) -> RepoResult<UserId> {
        match user {
            UserRef::Id(id) => Ok(id),
            UserRef::Public(public) => self
                .state
                .users
                .iter()
                .find(|u| u.public_id == public)
                .map(|u| u.id)
                .ok_or_else(|| RepoError::other("no such user")),
        }
    }

    fn user(&self, id: UserId) -> Option<User> {
        self.state.users.iter().find(|u| u.id == id).cloned()
    }
}

/// Marks the first row `pick` selects with `apply`; whether one was found.
fn mark<T>(rows: &mut [T], pick: impl Fn(&T) -> bool, apply: impl FnOnce(&mut T)) -> bool {
    match rows.iter_mut().find(|r| pick(r)) {
        Some(row) => {
            apply(row);
            true
        }
        None => false,
    }
}

fn page<T>(rows: Vec<T>, offset: u64, limit: u64) -> (Vec<T>, u64) {
    let total = rows.len() as u64;
    let rows = rows
        .into_iter()
        .skip(usize::try_from(offset).unwrap_or(usize::MAX))
        .take(usize::try_from(limit).unwrap_or(usize::MAX))
        .collect();
    (rows, total)
}

#[async_trait]
impl AppReads for FakeHandle {
    async fn app_by_key(&mut self, key: &AppKey) -> RepoResult<Option<App>> {
        Ok(self.state.apps.iter().find(|a| &a.key == key).cloned())
    }
    async fn app_by_id(&mut self, id: AppId) -> RepoResult<Option<App>> {
        Ok(self.state.apps.iter().find(|a| a.id == id).cloned())
    }
    async fn list_apps(&mut self) -> RepoResult<Vec<App>> {
        let mut apps = self.state.apps.clone();
        apps.sort_by(|a, b| a.key.cmp(&b.key));
        Ok(apps)
    }
    async fn app_has_identities(&mut self, app: AppId) -> RepoResult<bool> {
        Ok(self.state.identities.iter().any(|(i, _)| i.app_id == app))
    }
}

#[async_trait]
impl AppWrites for FakeHandle {
    async fn insert_app(&mut self, d: &AppDraft, now: Timestamp) -> RepoResult<()> {
        if self.state.apps.iter().any(|a| a.key == d.key) {
            return Err(RepoError::Conflict("apps.key"));
        }
        self.upsert_app(d, now).await.map(|_| ())
    }
    async fn upsert_app(&mut self, d: &AppDraft, _now: Timestamp) -> RepoResult<App> {
        let id = match self.state.apps.iter().position(|a| a.key == d.key) {
            Some(i) => self.state.apps.remove(i).id,
            None => AppId(self.state.id()),
        };
        let app = App {
            id,
            key: d.key.clone(),
            kind: d.kind,
            name: d.name.clone(),
            appid: d.appid.clone(),
            secret: d.secret.clone(),
            registration: d.registration,
            redirect_allow_list: d.redirect_allow_list.clone(),
            event_token: d.event_token.clone(),
            encoding_aes_key: d.encoding_aes_key.clone(),
            endpoints: d.endpoints.clone(),
            qr_login: d.qr_login.clone(),
            enabled: d.enabled,
        };
        self.state.apps.push(app.clone());
        Ok(app)
    }
    async fn delete_app(&mut self, key: &AppKey) -> RepoResult<bool> {
        let before = self.state.apps.len();
        self.state.apps.retain(|a| &a.key != key);
        Ok(before != self.state.apps.len())
    }
}

#[async_trait]
impl UserReads for FakeHandle {
    async fn identity_with_user(
        &mut self,
        app: AppId,
        openid: &OpenId,
    ) -> RepoResult<Option<(IdentityRecord, User)>> {
        let found = self
            .state
            .identities
            .iter()
            .find(|(i, _)| i.app_id == app && &i.openid == openid)
            .map(|(i, _)| i.clone());
        Ok(found.and_then(|i| self.user(i.user_id).map(|u| (i, u))))
    }
    async fn user_by_unionid(&mut self, unionid: &UnionId) -> RepoResult<Option<User>> {
        let owner = self
            .state
            .identities
            .iter()
            .find(|(i, _)| i.unionid.as_ref() == Some(unionid))
            .map(|(i, _)| i.user_id);
        Ok(owner.and_then(|id| self.user(id)))
    }
    async fn user_by_phone(&mut self, phone: &PhoneNumber) -> RepoResult<Option<User>> {
        Ok(self
            .state
            .users
            .iter()
            .find(|u| u.phone.as_ref() == Some(phone))
            .cloned())
    }
    async fn user_by_id(&mut self, id: UserId) -> RepoResult<Option<User>> {
        Ok(self.user(id))
    }
    async fn user_by_public_id(&mut self, id: &PublicUserId) -> RepoResult<Option<User>> {
        Ok(self
            .state
            .users
            .iter()
            .find(|u| &u.public_id == id)
            .cloned())
    }
    async fn identities_of(&mut self, user: UserId) -> RepoResult<Vec<IdentityRecord>> {
        Ok(self
            .state
            .identities
            .iter()
            .filter(|(i, _)| i.user_id == user)
            .map(|(i, _)| i.clone())
            .collect())
    }
    async fn account_of(
        &mut self,
        id: &PublicUserId,
    ) -> RepoResult<Option<(User, Vec<IdentityRecord>)>> {
        let Some(user) = self.user_by_public_id(id).await? else {
            return Ok(None);
        };
        let identities = self.identities_of(user.id).await?;
        Ok(Some((user, identities)))
    }
    async fn list_users(&mut self, q: &UserQuery) -> RepoResult<(Vec<User>, u64)> {
        let matches = |u: &User| {
            let by_text = q.text.as_deref().is_none_or(|t| {
                u.public_id.to_string() == t
                    || u.nickname.as_ref().is_some_and(|n| n.as_str().contains(t))
                    || q.phone.is_some() && u.phone == q.phone
                    || self.state.identities.iter().any(|(i, _)| {
                        i.user_id == u.id
                            && (i.openid.as_str() == t
                                || i.unionid.as_ref().is_some_and(|x| x.as_str() == t))
                    })
            });
            by_text && q.status.is_none_or(|s| u.status == s)
        };
        let mut found: Vec<User> = self
            .state
            .users
            .iter()
            .filter(|u| matches(u))
            .cloned()
            .collect();
        found.sort_by_key(|u| std::cmp::Reverse(u.id));
        Ok(page(found, q.offset, q.limit))
    }
    async fn session_key(&mut self, user: UserId, app: AppId) -> RepoResult<Option<SecretString>> {
        Ok(self
            .state
            .identities
            .iter()
            .filter(|(i, _)| i.user_id == user && i.app_id == app)
            .max_by_key(|(i, _)| (i.last_login_at, i.id))
            .and_then(|(_, k)| k.clone()))
    }
}

#[async_trait]
impl UserWrites for FakeHandle {
    async fn insert_user(&mut self, new: &NewUser, now: Timestamp) -> RepoResult<()> {
        if new.phone.is_some() && self.state.users.iter().any(|u| u.phone == new.phone) {
            return Err(RepoError::Conflict("users.phone"));
        }
        if self
            .state
            .users
            .iter()
            .any(|u| u.public_id == new.public_id)
        {
            return Err(RepoError::Conflict("users.public_id"));
        }
        let user = User {
            id: UserId(self.state.id()),
            public_id: new.public_id,
            nickname: new.nickname.clone(),
            avatar_url: new.avatar_url.clone(),
            phone: new.phone.clone(),
            status: UserStatus::Active,
            created_at: now,
            updated_at: now,
        };
        self.state.users.push(user);
        Ok(())
    }
    async fn insert_identity(&mut self, new: &NewIdentity, now: Timestamp) -> RepoResult<()> {
        let user_id = self.user_id_of(new.user)?;
        let clash = self
            .state
            .identities
            .iter()
            .any(|(i, _)| i.app_id == new.app_id && i.openid == new.openid);
        if clash {
            return Err(RepoError::Conflict("wechat_identities.app_openid"));
        }
        let record = IdentityRecord {
            id: IdentityId(self.state.id()),
            user_id,
            app_id: new.app_id,
            openid: new.openid.clone(),
            unionid: new.unionid.clone(),
            created_at: now,
            last_login_at: Some(now),
        };
        self.state
            .identities
            .push((record, new.session_key.clone()));
        Ok(())
    }
    async fn record_sign_in(
        &mut self,
        id: IdentityId,
        key: Option<&SecretString>,
        unionid: Option<&UnionId>,
        now: Timestamp,
    ) -> RepoResult<()> {
        if let Some((i, k)) = self.state.identities.iter_mut().find(|(i, _)| i.id == id) {
            i.last_login_at = Some(now);
            if let Some(key) = key {
                *k = Some(key.clone());
            }
            if let Some(u) = unionid {
                i.unionid = Some(u.clone());
            }
        }
        Ok(())
    }
    async fn update_profile(
        &mut self,
        user: UserId,
        c: &ProfileChange,
        now: Timestamp,
    ) -> RepoResult<User> {
        if let Some(Some(phone)) = &c.phone
            && self
                .state
                .users
                .iter()
                .any(|u| u.id != user && u.phone.as_ref() == Some(phone))
        {
            return Err(RepoError::Conflict("users.phone"));
        }
        let u = self
            .state
            .users
            .iter_mut()
            .find(|u| u.id == user)
            .ok_or_else(|| RepoError::other("no user"))?;
        if let Some(n) = &c.nickname {
            u.nickname = n.clone();
        }
        if let Some(a) = &c.avatar_url {
            u.avatar_url = a.clone();
        }
        if let Some(p) = &c.phone {
            u.phone = p.clone();
        }
        u.updated_at = now;
        Ok(u.clone())
    }
    async fn set_user_status(
        &mut self,
        user: UserId,
        status: UserStatus,
        now: Timestamp,
    ) -> RepoResult<bool> {
        Ok(mark(
            &mut self.state.users,
            |u| u.id == user,
            |u| {
                u.status = status;
                u.updated_at = now;
            },
        ))
    }
    async fn delete_identity(&mut self, identity: IdentityId) -> RepoResult<bool> {
        let before = self.state.identities.len();
        self.state.identities.retain(|(i, _)| i.id != identity);
        Ok(before != self.state.identities.len())
    }
    async fn delete_user(&mut self, user: UserId) -> RepoResult<bool> {
        self.state.oidc_grants.retain(|g| g.user_id != user);
        self.state.consents.retain(|(u, _)| *u != user);
        self.state.browser_sessions.retain(|s| s.user_id != user);
        self.state
            .oidc_authorizations
            .retain(|(_, a)| a.user_id != Some(user));
        self.state.identities.retain(|(i, _)| i.user_id != user);
        self.state.refresh.retain(|(_, r)| r.user_id != user);
        let before = self.state.users.len();
        self.state.users.retain(|u| u.id != user);
        Ok(before != self.state.users.len())
    }
}

#[async_trait]
impl SessionReads for FakeHandle {
    async fn refresh_token_by_hash(
        &mut self,
        hash: &str,
    ) -> RepoResult<Option<RefreshTokenRecord>> {
        Ok(self
            .state
            .refresh
            .iter()
            .find(|(h, _)| h == hash)
            .map(|(_, r)| r.clone()))
    }
}

#[async_trait]
impl SessionWrites for FakeHandle {
    async fn insert_refresh_token(
        &mut self,
        t: &NewRefreshToken,
        _now: Timestamp,
    ) -> RepoResult<()> {
        if self.state.refresh.iter().any(|(h, _)| *h == t.token_hash) {
            return Err(RepoError::Conflict("refresh_tokens.token_hash"));
        }
        let user_id = self.user_id_of(t.user)?;
        let id = self.state.id();
        self.state.refresh.push((
            t.token_hash.clone(),
            RefreshTokenRecord {
                id,
                family: t.family.clone(),
                user_id,
                app_id: t.app_id,
                expires_at: t.expires_at,
                used_at: None,
                revoked_at: None,
            },
        ));
        Ok(())
    }
    async fn mark_refresh_token_used(&mut self, id: i64, now: Timestamp) -> RepoResult<bool> {
        Ok(mark(
            &mut self.state.refresh,
            |(_, r)| r.id == id && r.used_at.is_none() && r.revoked_at.is_none(),
            |(_, r)| r.used_at = Some(now),
        ))
    }
    async fn revoke_family(&mut self, family: &str, now: Timestamp) -> RepoResult<u64> {
        let mut n = 0;
        for (_, r) in self.state.refresh.iter_mut() {
            if r.family == family && r.revoked_at.is_none() {
                r.revoked_at = Some(now);
                n += 1;
            }
        }
        Ok(n)
    }
    async fn revoke_user_sessions(&mut self, user: UserId, now: Timestamp) -> RepoResult<u64> {
        let mut n = 0;
        for (_, r) in self.state.refresh.iter_mut() {
            if r.user_id == user && r.revoked_at.is_none() {
                r.revoked_at = Some(now);
                n += 1;
            }
        }
        Ok(n)
    }
}

#[async_trait]
impl BindCodeReads for FakeHandle {
    async fn bind_code_by_hash(&mut self, hash: &str) -> RepoResult<Option<BindCodeRecord>> {
        Ok(self
            .state
            .bind_codes
            .iter()
            .find(|(h, _)| h == hash)
            .map(|(_, r)| r.clone()))
    }
}

#[async_trait]
impl BindCodeWrites for FakeHandle {
    async fn insert_bind_code(&mut self, c: &NewBindCode, _now: Timestamp) -> RepoResult<()> {
        if self.state.bind_codes.iter().any(|(h, _)| *h == c.code_hash) {
            return Err(RepoError::Conflict("bind_codes.code_hash"));
        }
        let id = self.state.id();
        self.state.bind_codes.push((
            c.code_hash.clone(),
            BindCodeRecord {
                id,
                app_id: c.app_id,
                openid: c.openid.clone(),
                unionid: c.unionid.clone(),
                session_key: c.session_key.clone(),
                phone: c.phone.clone(),
                expires_at: c.expires_at,
                used_at: None,
            },
        ));
        Ok(())
    }
    async fn mark_bind_code_used(&mut self, id: i64, now: Timestamp) -> RepoResult<bool> {
        Ok(mark(
            &mut self.state.bind_codes,
            |(_, r)| r.id == id && r.used_at.is_none(),
            |(_, r)| r.used_at = Some(now),
        ))
    }
}

#[async_trait]
impl OAuthStateReads for FakeHandle {
    async fn oauth_state_by_hash(&mut self, hash: &str) -> RepoResult<Option<OAuthStateRecord>> {
        Ok(self
            .state
            .states
            .iter()
            .find(|(h, _)| h == hash)
            .map(|(_, r)| r.clone()))
    }
}

#[async_trait]
impl OAuthStateWrites for FakeHandle {
    async fn insert_oauth_state(&mut self, s: &NewOAuthState, _now: Timestamp) -> RepoResult<()> {
        if self.state.states.iter().any(|(h, _)| *h == s.state_hash) {
            return Err(RepoError::Conflict("oauth_states.state_hash"));
        }
        let id = self.state.id();
        self.state.states.push((
            s.state_hash.clone(),
            OAuthStateRecord {
                id,
                app_id: s.app_id,
                redirect_uri: s.redirect_uri.clone(),
                callback: s.callback.clone(),
                scope: s.scope.clone(),
                expires_at: s.expires_at,
                used_at: None,
            },
        ));
        Ok(())
    }
    async fn mark_oauth_state_used(&mut self, id: i64, now: Timestamp) -> RepoResult<bool> {
        Ok(mark(
            &mut self.state.states,
            |(_, r)| r.id == id && r.used_at.is_none(),
            |(_, r)| r.used_at = Some(now),
        ))
    }
}

#[async_trait]
impl OfficialReads for FakeHandle {
    async fn qr_login_by_id(&mut self, login_id: &str) -> RepoResult<Option<QrLoginRecord>> {
        Ok(self
            .state
            .qr_logins
            .iter()
            .find(|l| l.login_id == login_id)
            .cloned())
    }
    async fn qr_login_by_scene(
        &mut self,
        app: AppId,
        scene: &str,
    ) -> RepoResult<Option<QrLoginRecord>> {
        Ok(self
            .state
            .qr_logins
            .iter()
            .find(|l| l.app_id == app && l.scene == scene)
            .cloned())
    }
}

#[async_trait]
impl OfficialWrites for FakeHandle {
    async fn remember_event(&mut self, app: AppId, key: &str, _now: Timestamp) -> RepoResult<bool> {
        if self.state.events.iter().any(|(a, k)| *a == app && k == key) {
            return Ok(false);
        }
        self.state.events.push((app, key.to_owned()));
        Ok(true)
    }
    async fn record_follower(&mut self, c: &FollowerChange) -> RepoResult<()> {
        self.state
            .followers
            .insert((c.app_id, c.openid.to_string()), c.subscribed);
        Ok(())
    }
    async fn insert_qr_login(&mut self, l: &NewQrLogin, _now: Timestamp) -> RepoResult<()> {
        let clash = self
            .state
            .qr_logins
            .iter()
            .any(|q| q.login_id == l.login_id || (q.app_id == l.app_id && q.scene == l.scene));
        if clash {
            return Err(RepoError::Conflict("qr_logins"));
        }
        let id = self.state.id();
        self.state.qr_logins.push(QrLoginRecord {
            id,
            login_id: l.login_id.clone(),
            app_id: l.app_id,
            scene: l.scene.clone(),
            status: QrLoginStatus::Pending,
            openid: None,
            expires_at: l.expires_at,
        });
        Ok(())
    }
    async fn mark_qr_login_scanned(&mut self, id: i64, openid: &OpenId) -> RepoResult<bool> {
        Ok(mark(
            &mut self.state.qr_logins,
            |l| l.id == id && l.status == QrLoginStatus::Pending,
            |l| {
                l.status = QrLoginStatus::Scanned;
                l.openid = Some(openid.clone());
            },
        ))
    }
    async fn mark_qr_login_consumed(&mut self, id: i64) -> RepoResult<bool> {
        Ok(mark(
            &mut self.state.qr_logins,
            |l| l.id == id && l.status == QrLoginStatus::Scanned,
            |l| l.status = QrLoginStatus::Consumed,
        ))
    }
}

#[async_trait]
impl MpQrLoginReads for FakeHandle {
    async fn mp_qr_login_by_login(
        &mut self,
        login_hash: &str,
    ) -> RepoResult<Option<MpQrLoginRecord>> {
        Ok(self
            .state
            .mp_qr_logins
            .iter()
            .find(|l| l.login_hash == login_hash)
            .map(|l| l.record.clone()))
    }
    async fn mp_qr_login_by_scene(
        &mut self,
        scene_hash: &str,
    ) -> RepoResult<Option<MpQrLoginRecord>> {
        Ok(self
            .state
            .mp_qr_logins
            .iter()
            .find(|l| l.scene_hash == scene_hash)
            .map(|l| l.record.clone()))
    }
    async fn mp_qr_login_image(&mut self, login_hash: &str) -> RepoResult<Option<CodeImage>> {
        Ok(self
            .state
            .mp_qr_logins
            .iter()
            .find(|l| l.login_hash == login_hash)
            .map(|l| l.image.clone()))
    }
    async fn mp_qr_logins_changed_since(
        &mut self,
        since: Timestamp,
        limit: u64,
    ) -> RepoResult<Vec<(String, Timestamp)>> {
        let mut changed: Vec<(String, Timestamp)> = self
            .state
            .mp_qr_logins
            .iter()
            .filter(|l| l.updated_at >= since)
            .map(|l| (l.login_hash.clone(), l.updated_at))
            .collect();
        changed.sort_by_key(|(_, at)| *at);
        changed.truncate(usize::try_from(limit).unwrap_or(usize::MAX));
        Ok(changed)
    }
    async fn mp_qr_logins_expired(
        &mut self,
        now: Timestamp,
        limit: u64,
    ) -> RepoResult<Vec<MpQrLoginRecord>> {
        let mut expired: Vec<MpQrLoginRecord> = self
            .state
            .mp_qr_logins
            .iter()
            .filter(|l| l.record.expires_at < now)
            .map(|l| l.record.clone())
            .collect();
        expired.sort_by_key(|l| l.expires_at);
        expired.truncate(usize::try_from(limit).unwrap_or(usize::MAX));
        Ok(expired)
    }
}

#[async_trait]
impl MpQrLoginWrites for FakeHandle {
    async fn insert_mp_qr_login(&mut self, l: &NewMpQrLogin, now: Timestamp) -> RepoResult<()> {
        let clash = self
            .state
            .mp_qr_logins
            .iter()
            .any(|q| q.login_hash == l.login_hash || q.scene_hash == l.scene_hash);
        if clash {
            return Err(RepoError::Conflict("mp_qr_logins"));
        }
        let id = self.state.id();
        self.state.mp_qr_logins.push(FakeMpQrLogin {
            login_hash: l.login_hash.clone(),
            scene_hash: l.scene_hash.clone(),
            record: MpQrLoginRecord {
                id,
                login_hash: l.login_hash.clone(),
                app_id: l.app_id,
                status: MpQrLoginStatus::Pending,
                openid: None,
                unionid: None,
                confirm_hash: None,
                desktop_ip: l.desktop_ip.clone(),
                desktop_agent: l.desktop_agent.clone(),
                scanner_ip: None,
                created_at: now,
                expires_at: l.expires_at,
            },
            image: l.image.clone(),
            updated_at: now,
        });
        Ok(())
    }
    async fn mark_mp_qr_login_scanned(
        &mut self,
        scan: &MpQrScan,
        now: Timestamp,
    ) -> RepoResult<bool> {
        Ok(mark(
            &mut self.state.mp_qr_logins,
            |l| {
                let r = &l.record;
                r.id == scan.id
                    && r.expires_at > now
                    && (r.status == MpQrLoginStatus::Pending
                        || (r.status == MpQrLoginStatus::Scanned
                            && r.openid.as_ref() == Some(&scan.openid)))
            },
            |l| {
                l.record.status = MpQrLoginStatus::Scanned;
                l.record.openid = Some(scan.openid.clone());
                l.record.unionid = scan.unionid.clone();
                l.record.confirm_hash = Some(scan.confirm_hash.clone());
                l.record.scanner_ip = scan.scanner_ip.clone();
                l.updated_at = now;
            },
        ))
    }
    async fn move_mp_qr_login(
        &mut self,
        id: i64,
        from: MpQrLoginStatus,
        to: MpQrLoginStatus,
        now: Timestamp,
    ) -> RepoResult<bool> {
        Ok(mark(
            &mut self.state.mp_qr_logins,
            |l| l.record.id == id && l.record.status == from,
            |l| {
                l.record.status = to;
                l.updated_at = now;
            },
        ))
    }
    async fn delete_mp_qr_logins(&mut self, ids: &[i64]) -> RepoResult<u64> {
        let before = self.state.mp_qr_logins.len();
        self.state
            .mp_qr_logins
            .retain(|l| !ids.contains(&l.record.id));
        Ok((before - self.state.mp_qr_logins.len()) as u64)
    }
}

#[async_trait]
impl AuditReads for FakeHandle {
    async fn query_audit(&mut self, q: &AuditQuery) -> RepoResult<(Vec<AuditEntry>, u64)> {
        let found: Vec<AuditEntry> = self
            .state
            .audit
            .iter()
            .rev()
            .filter(|e| q.user.is_none_or(|u| e.user == Some(u)))
            .filter(|e| q.kind.as_ref().is_none_or(|k| &e.kind == k))
            .filter(|e| q.since.is_none_or(|t| e.at >= t))
            .filter(|e| q.until.is_none_or(|t| e.at < t))
            .cloned()
            .collect();
        Ok(page(found, q.offset, q.limit))
    }
}

#[async_trait]
impl AuditWrites for FakeHandle {
    async fn append_audit(&mut self, e: &AuditEntry) -> RepoResult<()> {
        self.state.audit.push(e.clone());
        Ok(())
    }
}

#[async_trait]
impl AdminKeyReads for FakeHandle {
    async fn admin_key(&mut self, key_id: &str) -> RepoResult<Option<AdminKeyRecord>> {
        Ok(self
            .state
            .admin_keys
            .iter()
            .find(|k| k.key_id == key_id)
            .cloned())
    }
    async fn list_admin_keys(&mut self) -> RepoResult<Vec<AdminKeyRecord>> {
        Ok(self.state.admin_keys.clone())
    }
}

#[async_trait]
impl AdminKeyWrites for FakeHandle {
    async fn insert_admin_key(&mut self, k: &AdminKeyRecord) -> RepoResult<()> {
        if self.state.admin_keys.iter().any(|x| x.key_id == k.key_id) {
            return Err(RepoError::Conflict("admin_keys.key_id"));
        }
        self.state.admin_keys.push(k.clone());
        Ok(())
    }
    async fn revoke_admin_key(&mut self, key_id: &str, now: Timestamp) -> RepoResult<bool> {
        Ok(mark(
            &mut self.state.admin_keys,
            |k| k.key_id == key_id && k.revoked_at.is_none(),
            |k| k.revoked_at = Some(now),
        ))
    }
}

#[async_trait]
impl OidcClientReads for FakeHandle {
    async fn oidc_client(&mut self, client_id: &str) -> RepoResult<Option<OidcClient>> {
        Ok(self
            .state
            .oidc_clients
            .iter()
            .find(|c| c.client_id == client_id)
            .cloned())
    }
    async fn oidc_client_by_id(&mut self, id: i64) -> RepoResult<Option<OidcClient>> {
        Ok(self.state.oidc_clients.iter().find(|c| c.id == id).cloned())
    }
    async fn list_oidc_clients(&mut self) -> RepoResult<Vec<OidcClient>> {
        let mut clients = self.state.oidc_clients.clone();
        clients.sort_by_key(|c| c.id);
        Ok(clients)
    }
}

#[async_trait]
impl OidcClientWrites for FakeHandle {
    async fn insert_oidc_client(&mut self, c: &OidcClient) -> RepoResult<()> {
        if self
            .state
            .oidc_clients
            .iter()
            .any(|x| x.client_id == c.client_id)
        {
            return Err(RepoError::Conflict("oidc_clients.client_id"));
        }
        let id = self.state.id();
        self.state.oidc_clients.push(OidcClient { id, ..c.clone() });
        Ok(())
    }
    async fn update_oidc_client(&mut self, c: &OidcClient) -> RepoResult<bool> {
        Ok(mark(
            &mut self.state.oidc_clients,
            |x| x.id == c.id,
            |x| {
                *x = OidcClient {
                    id: x.id,
                    client_id: x.client_id.clone(),
                    created_at: x.created_at,
                    ..c.clone()
                };
            },
        ))
    }
    async fn delete_oidc_client(&mut self, id: i64) -> RepoResult<bool> {
        self.state
            .oidc_authorizations
            .retain(|(_, a)| a.client_pk != id);
        self.state.consents.retain(|(_, c)| c.client_pk != id);
        self.state.oidc_grants.retain(|g| g.client_pk != id);
        let before = self.state.oidc_clients.len();
        self.state.oidc_clients.retain(|c| c.id != id);
        Ok(before != self.state.oidc_clients.len())
    }
}

#[async_trait]
impl AuthorizationReads for FakeHandle {
    async fn authorization_by_request(
        &mut self,
        request_hash: &str,
    ) -> RepoResult<Option<AuthorizationRecord>> {
        Ok(self
            .state
            .oidc_authorizations
            .iter()
            .find(|(h, _)| h == request_hash)
            .map(|(_, a)| a.clone()))
    }
    async fn authorization_by_code(
        &mut self,
        code_hash: &str,
    ) -> RepoResult<Option<AuthorizationRecord>> {
        Ok(self
            .state
            .oidc_authorizations
            .iter()
            .find(|(_, a)| a.code_hash.as_deref() == Some(code_hash))
            .map(|(_, a)| a.clone()))
    }
}

#[async_trait]
impl AuthorizationWrites for FakeHandle {
    async fn insert_authorization(
        &mut self,
        a: &NewAuthorization,
        _now: Timestamp,
    ) -> RepoResult<()> {
        if self
            .state
            .oidc_authorizations
            .iter()
            .any(|(h, _)| *h == a.request_hash)
        {
            return Err(RepoError::Conflict("oidc_authorizations.request_hash"));
        }
        let id = self.state.id();
        self.state.oidc_authorizations.push((
            a.request_hash.clone(),
            AuthorizationRecord {
                id,
                client_pk: a.client_pk,
                params: a.params.clone(),
                method: a.method,
                qr_login_id: None,
                mp_login_id: None,
                expires_at: a.expires_at,
                user_id: None,
                auth_time: None,
                session_hash: None,
                code_hash: None,
                code_expires_at: None,
                redeemed_at: None,
                family: None,
            },
        ));
        Ok(())
    }
    async fn set_authorization_method(
        &mut self,
        id: i64,
        method: SignInMethod,
        qr_login_id: Option<&str>,
    ) -> RepoResult<bool> {
        Ok(mark(
            &mut self.state.oidc_authorizations,
            |(_, a)| a.id == id,
            |(_, a)| {
                a.method = Some(method);
                a.qr_login_id = qr_login_id.map(str::to_owned);
            },
        ))
    }
    async fn set_authorization_mp_login(&mut self, id: i64, login_id: &str) -> RepoResult<bool> {
        Ok(mark(
            &mut self.state.oidc_authorizations,
            |(_, a)| a.id == id,
            |(_, a)| a.mp_login_id = Some(login_id.to_owned()),
        ))
    }
    async fn complete_authorization(
        &mut self,
        id: i64,
        g: &AuthorizationGrant,
    ) -> RepoResult<bool> {
        let open = self
            .state
            .oidc_authorizations
            .iter()
            .any(|(_, a)| a.id == id && a.code_hash.is_none());
        if !open {
            return Ok(false);
        }
        if self
            .state
            .oidc_authorizations
            .iter()
            .any(|(_, a)| a.code_hash.as_deref() == Some(g.code_hash.as_str()))
        {
            return Err(RepoError::Conflict("oidc_authorizations.code_hash"));
        }
        Ok(mark(
            &mut self.state.oidc_authorizations,
            |(_, a)| a.id == id && a.code_hash.is_none(),
            |(_, a)| {
                a.user_id = Some(g.user_id);
                a.method = Some(g.method);
                a.auth_time = Some(g.auth_time);
                a.session_hash = Some(g.session_hash.clone());
                a.code_hash = Some(g.code_hash.clone());
                a.code_expires_at = Some(g.code_expires_at);
            },
        ))
    }
    async fn redeem_authorization(
        &mut self,
        id: i64,
        family: &str,
        now: Timestamp,
    ) -> RepoResult<bool> {
        Ok(mark(
            &mut self.state.oidc_authorizations,
            |(_, a)| a.id == id && a.redeemed_at.is_none(),
            |(_, a)| {
                a.family = Some(family.to_owned());
                a.redeemed_at = Some(now);
            },
        ))
    }
}

#[async_trait]
impl BrowserSessionReads for FakeHandle {
    async fn browser_session(&mut self, hash: &str) -> RepoResult<Option<BrowserSessionRecord>> {
        Ok(self
            .state
            .browser_sessions
            .iter()
            .find(|s| s.session_hash == hash)
            .cloned())
    }
}

#[async_trait]
impl BrowserSessionWrites for FakeHandle {
    async fn insert_browser_session(
        &mut self,
        s: &NewBrowserSession,
        _now: Timestamp,
    ) -> RepoResult<()> {
        if self
            .state
            .browser_sessions
            .iter()
            .any(|x| x.session_hash == s.session_hash)
        {
            return Err(RepoError::Conflict("oidc_browser_sessions.session_hash"));
        }
        let user_id = self.user_id_of(s.user)?;
        let id = self.state.id();
        self.state.browser_sessions.push(BrowserSessionRecord {
            id,
            session_hash: s.session_hash.clone(),
            user_id,
            method: s.method,
            auth_time: s.auth_time,
            expires_at: s.expires_at,
            revoked_at: None,
        });
        Ok(())
    }
    async fn revoke_browser_session(&mut self, hash: &str, now: Timestamp) -> RepoResult<bool> {
        Ok(mark(
            &mut self.state.browser_sessions,
            |s| s.session_hash == hash && s.revoked_at.is_none(),
            |s| s.revoked_at = Some(now),
        ))
    }
}

#[async_trait]
impl ConsentReads for FakeHandle {
    async fn consent(&mut self, user: UserId, client_pk: i64) -> RepoResult<Option<ConsentRecord>> {
        Ok(self
            .state
            .consents
            .iter()
            .find(|(u, c)| *u == user && c.client_pk == client_pk)
            .map(|(_, c)| c.clone()))
    }
    async fn consents_of(&mut self, user: UserId) -> RepoResult<Vec<ConsentRecord>> {
        let mut found: Vec<ConsentRecord> = self
            .state
            .consents
            .iter()
            .filter(|(u, _)| *u == user)
            .map(|(_, c)| c.clone())
            .collect();
        found.sort_by_key(|c| c.client_pk);
        Ok(found)
    }
}

#[async_trait]
impl ConsentWrites for FakeHandle {
    async fn put_consent(
        &mut self,
        user: UserId,
        client_pk: i64,
        scope: ScopeSet,
        now: Timestamp,
    ) -> RepoResult<()> {
        let record = ConsentRecord {
            client_pk,
            scope,
            granted_at: now,
        };
        let replaced = mark(
            &mut self.state.consents,
            |(u, c)| *u == user && c.client_pk == client_pk,
            |(_, c)| *c = record.clone(),
        );
        if !replaced {
            self.state.consents.push((user, record));
        }
        Ok(())
    }
    async fn delete_consent(&mut self, user: UserId, client_pk: i64) -> RepoResult<bool> {
        let before = self.state.consents.len();
        self.state
            .consents
            .retain(|(u, c)| !(*u == user && c.client_pk == client_pk));
        Ok(before != self.state.consents.len())
    }
}

#[async_trait]
impl OidcGrantReads for FakeHandle {
    async fn oidc_grant(&mut self, family: &str) -> RepoResult<Option<OidcGrantRecord>> {
        Ok(self
            .state
            .oidc_grants
            .iter()
            .find(|g| g.family == family)
            .cloned())
    }
}

#[async_trait]
impl OidcGrantWrites for FakeHandle {
    async fn insert_oidc_grant(&mut self, g: &NewOidcGrant, _now: Timestamp) -> RepoResult<()> {
        if self.state.oidc_grants.iter().any(|x| x.family == g.family) {
            return Err(RepoError::Conflict("oidc_grants.family"));
        }
        let user_id = self.user_id_of(g.user)?;
        self.state.oidc_grants.push(OidcGrantRecord {
            family: g.family.clone(),
            client_pk: g.client_pk,
            user_id,
            scope: g.scope,
            method: g.method,
            auth_time: g.auth_time,
            revoked_at: None,
        });
        Ok(())
    }
    async fn revoke_oidc_grant(&mut self, family: &str, now: Timestamp) -> RepoResult<bool> {
        Ok(mark(
            &mut self.state.oidc_grants,
            |g| g.family == family && g.revoked_at.is_none(),
            |g| g.revoked_at = Some(now),
        ))
    }
    async fn revoke_oidc_grants_of(
        &mut self,
        user: UserId,
        client_pk: i64,
        now: Timestamp,
    ) -> RepoResult<Vec<String>> {
        let mut families = Vec::new();
        for g in self.state.oidc_grants.iter_mut() {
            if g.user_id == user && g.client_pk == client_pk && g.revoked_at.is_none() {
                g.revoked_at = Some(now);
                families.push(g.family.clone());
            }
        }
        Ok(families)
    }
}
