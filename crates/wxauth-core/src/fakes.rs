//! In-memory fakes of every port, for the use cases' own tests.
//!
//! The fake store keeps all tables in one struct; a transaction works on a copy and commit
//! swaps it in, so an uncommitted transaction leaves nothing behind, as in a database.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};

use async_trait::async_trait;
use secrecy::{ExposeSecret, SecretString};
use wxauth_domain::{
    App, AppKey, AppKind, OpenId, PhoneNumber, PublicUserId, RegistrationPolicy, Timestamp,
    UnionId, User, UserId, UserStatus, WechatAppId,
};

use crate::error::{CoreError, RepoError, UpstreamError};
use crate::ports::*;

#[derive(Clone, Default)]
pub struct State {
    next_id: i64,
    pub apps: Vec<App>,
    pub users: Vec<User>,
    pub identities: Vec<(IdentityRecord, Option<SecretString>)>,
    pub refresh: Vec<(String, RefreshTokenRecord)>,
    pub bind_codes: Vec<(String, BindCodeRecord)>,
    pub states: Vec<(String, OAuthStateRecord)>,
    pub events: Vec<(i64, String)>,
    pub followers: HashMap<(i64, String), bool>,
    pub qr_logins: Vec<QrLoginRecord>,
    pub audit: Vec<AuditEntry>,
    pub admin_keys: Vec<AdminKeyRecord>,
}

impl State {
    fn id(&mut self) -> i64 {
        self.next_id += 1;
        self.next_id
    }
}

#[derive(Clone, Default)]
pub struct FakeStore(pub Arc<Mutex<State>>);

impl FakeStore {
    pub fn snapshot(&self) -> State {
        self.0.lock().unwrap().clone()
    }
}

pub struct FakeTx {
    state: State,
    shared: Option<Arc<Mutex<State>>>,
}

impl FakeTx {
    fn user_id_of(&self, user: UserRef) -> RepoResult<UserId> {
        match user {
            UserRef::Id(id) => Ok(id),
            UserRef::Public(public) => self
                .state
                .users
                .iter()
                .find(|u| u.public_id == public)
                .map(|u| u.id)
                .ok_or(RepoError::Other("no such user".into())),
        }
    }
}

#[async_trait]
impl Store for FakeStore {
    async fn begin(&self) -> RepoResult<Box<dyn StoreTx>> {
        Ok(Box::new(FakeTx {
            state: self.snapshot(),
            shared: Some(self.0.clone()),
        }))
    }

    fn read(&self) -> Box<dyn StoreTx> {
        Box::new(FakeTx {
            state: self.snapshot(),
            shared: None,
        })
    }

    async fn ping(&self) -> RepoResult<()> {
        Ok(())
    }
}

#[async_trait]
impl StoreTx for FakeTx {
    async fn commit(self: Box<Self>) -> RepoResult<()> {
        if let Some(shared) = self.shared {
            *shared.lock().unwrap() = self.state;
        }
        Ok(())
    }

    async fn rollback(self: Box<Self>) -> RepoResult<()> {
        Ok(())
    }
}

#[async_trait]
impl AppRepo for FakeTx {
    async fn app_by_key(&mut self, key: &AppKey) -> RepoResult<Option<App>> {
        Ok(self.state.apps.iter().find(|a| &a.key == key).cloned())
    }
    async fn app_by_id(&mut self, id: i64) -> RepoResult<Option<App>> {
        Ok(self.state.apps.iter().find(|a| a.id == id).cloned())
    }
    async fn list_apps(&mut self) -> RepoResult<Vec<App>> {
        Ok(self.state.apps.clone())
    }
    async fn upsert_app(&mut self, d: &AppDraft, _now: Timestamp) -> RepoResult<App> {
        let id = match self.state.apps.iter().position(|a| a.key == d.key) {
            Some(i) => self.state.apps.remove(i).id,
            None => self.state.id(),
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
    async fn app_has_identities(&mut self, app_id: i64) -> RepoResult<bool> {
        Ok(self
            .state
            .identities
            .iter()
            .any(|(i, _)| i.app_id == app_id))
    }
}

#[async_trait]
impl UserRepo for FakeTx {
    async fn identity_with_user(
        &mut self,
        app_id: i64,
        openid: &OpenId,
    ) -> RepoResult<Option<(IdentityRecord, User)>> {
        let Some((i, _)) = self
            .state
            .identities
            .iter()
            .find(|(i, _)| i.app_id == app_id && &i.openid == openid)
        else {
            return Ok(None);
        };
        let user = self.state.users.iter().find(|u| u.id == i.user_id).cloned();
        Ok(user.map(|u| (i.clone(), u)))
    }
    async fn user_by_unionid(&mut self, unionid: &UnionId) -> RepoResult<Option<User>> {
        let Some((i, _)) = self
            .state
            .identities
            .iter()
            .find(|(i, _)| i.unionid.as_ref() == Some(unionid))
        else {
            return Ok(None);
        };
        let id = i.user_id;
        self.user_by_id(id).await
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
        Ok(self.state.users.iter().find(|u| u.id == id).cloned())
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
        let all: Vec<User> = self.state.users.iter().rev().cloned().collect();
        let total = all.len() as u64;
        Ok((
            all.into_iter()
                .skip(q.offset as usize)
                .take(q.limit as usize)
                .collect(),
            total,
        ))
    }
    async fn insert_user(&mut self, new: &NewUser, now: Timestamp) -> RepoResult<()> {
        if new.phone.is_some() && self.state.users.iter().any(|u| u.phone == new.phone) {
            return Err(RepoError::Conflict("users.phone"));
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
        let clash = self.state.identities.iter().any(|(i, _)| {
            i.app_id == new.app_id && (i.openid == new.openid || i.user_id == user_id)
        });
        if clash {
            return Err(RepoError::Conflict("wechat_identities"));
        }
        let id = self.state.id();
        let record = IdentityRecord {
            id,
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
        id: i64,
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
    async fn session_key(&mut self, user: UserId, app_id: i64) -> RepoResult<Option<SecretString>> {
        Ok(self
            .state
            .identities
            .iter()
            .find(|(i, _)| i.user_id == user && i.app_id == app_id)
            .and_then(|(_, k)| k.clone()))
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
            .ok_or(RepoError::Other("no user".into()))?;
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
        _now: Timestamp,
    ) -> RepoResult<bool> {
        let found = self.state.users.iter_mut().find(|u| u.id == user);
        Ok(found.map(|u| u.status = status).is_some())
    }
    async fn delete_identity(&mut self, user: UserId, app_id: i64) -> RepoResult<bool> {
        let before = self.state.identities.len();
        self.state
            .identities
            .retain(|(i, _)| !(i.user_id == user && i.app_id == app_id));
        Ok(before != self.state.identities.len())
    }
    async fn delete_user(&mut self, user: UserId) -> RepoResult<bool> {
        self.state.identities.retain(|(i, _)| i.user_id != user);
        self.state.refresh.retain(|(_, r)| r.user_id != user);
        let before = self.state.users.len();
        self.state.users.retain(|u| u.id != user);
        Ok(before != self.state.users.len())
    }
}

#[async_trait]
impl SessionRepo for FakeTx {
    async fn insert_refresh_token(
        &mut self,
        t: &NewRefreshToken,
        _now: Timestamp,
    ) -> RepoResult<()> {
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
    async fn mark_refresh_token_used(&mut self, id: i64, now: Timestamp) -> RepoResult<bool> {
        match self
            .state
            .refresh
            .iter_mut()
            .find(|(_, r)| r.id == id && r.used_at.is_none() && r.revoked_at.is_none())
        {
            Some((_, r)) => {
                r.used_at = Some(now);
                Ok(true)
            }
            None => Ok(false),
        }
    }
    async fn revoke_family(&mut self, family: &str, now: Timestamp) -> RepoResult<u64> {
        let mut n = 0;
        for (_, r) in self
            .state
            .refresh
            .iter_mut()
            .filter(|(_, r)| r.family == family && r.revoked_at.is_none())
        {
            r.revoked_at = Some(now);
            n += 1;
        }
        Ok(n)
    }
    async fn revoke_user_sessions(&mut self, user: UserId, now: Timestamp) -> RepoResult<u64> {
        let mut n = 0;
        for (_, r) in self
            .state
            .refresh
            .iter_mut()
            .filter(|(_, r)| r.user_id == user && r.revoked_at.is_none())
        {
            r.revoked_at = Some(now);
            n += 1;
        }
        Ok(n)
    }
}

#[async_trait]
impl BindCodeRepo for FakeTx {
    async fn insert_bind_code(&mut self, c: &NewBindCode, _now: Timestamp) -> RepoResult<()> {
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
    async fn bind_code_by_hash(&mut self, hash: &str) -> RepoResult<Option<BindCodeRecord>> {
        Ok(self
            .state
            .bind_codes
            .iter()
            .find(|(h, _)| h == hash)
            .map(|(_, r)| r.clone()))
    }
    async fn mark_bind_code_used(&mut self, id: i64, now: Timestamp) -> RepoResult<bool> {
        match self
            .state
            .bind_codes
            .iter_mut()
            .find(|(_, r)| r.id == id && r.used_at.is_none())
        {
            Some((_, r)) => {
                r.used_at = Some(now);
                Ok(true)
            }
            None => Ok(false),
        }
    }
}

#[async_trait]
impl OAuthStateRepo for FakeTx {
    async fn insert_oauth_state(&mut self, s: &NewOAuthState, _now: Timestamp) -> RepoResult<()> {
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
    async fn oauth_state_by_hash(&mut self, hash: &str) -> RepoResult<Option<OAuthStateRecord>> {
        Ok(self
            .state
            .states
            .iter()
            .find(|(h, _)| h == hash)
            .map(|(_, r)| r.clone()))
    }
    async fn mark_oauth_state_used(&mut self, id: i64, now: Timestamp) -> RepoResult<bool> {
        match self
            .state
            .states
            .iter_mut()
            .find(|(_, r)| r.id == id && r.used_at.is_none())
        {
            Some((_, r)) => {
                r.used_at = Some(now);
                Ok(true)
            }
            None => Ok(false),
        }
    }
}

#[async_trait]
impl OfficialRepo for FakeTx {
    async fn remember_event(
        &mut self,
        app_id: i64,
        key: &str,
        _now: Timestamp,
    ) -> RepoResult<bool> {
        if self
            .state
            .events
            .iter()
            .any(|(a, k)| *a == app_id && k == key)
        {
            return Ok(false);
        }
        self.state.events.push((app_id, key.to_owned()));
        Ok(true)
    }
    async fn record_follower(&mut self, c: &FollowerChange) -> RepoResult<()> {
        self.state
            .followers
            .insert((c.app_id, c.openid.to_string()), c.subscribed);
        Ok(())
    }
    async fn insert_qr_login(&mut self, l: &NewQrLogin, _now: Timestamp) -> RepoResult<()> {
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
        app_id: i64,
        scene: &str,
    ) -> RepoResult<Option<QrLoginRecord>> {
        Ok(self
            .state
            .qr_logins
            .iter()
            .find(|l| l.app_id == app_id && l.scene == scene)
            .cloned())
    }
    async fn mark_qr_login_scanned(&mut self, id: i64, openid: &OpenId) -> RepoResult<bool> {
        match self
            .state
            .qr_logins
            .iter_mut()
            .find(|l| l.id == id && l.status == QrLoginStatus::Pending)
        {
            Some(l) => {
                l.status = QrLoginStatus::Scanned;
                l.openid = Some(openid.clone());
                Ok(true)
            }
            None => Ok(false),
        }
    }
    async fn mark_qr_login_consumed(&mut self, id: i64) -> RepoResult<bool> {
        match self
            .state
            .qr_logins
            .iter_mut()
            .find(|l| l.id == id && l.status == QrLoginStatus::Scanned)
        {
            Some(l) => {
                l.status = QrLoginStatus::Consumed;
                Ok(true)
            }
            None => Ok(false),
        }
    }
}

#[async_trait]
impl AuditRepo for FakeTx {
    async fn append_audit(&mut self, e: &AuditEntry) -> RepoResult<()> {
        self.state.audit.push(e.clone());
        Ok(())
    }
    async fn query_audit(&mut self, _q: &AuditQuery) -> RepoResult<(Vec<AuditEntry>, u64)> {
        Ok((self.state.audit.clone(), self.state.audit.len() as u64))
    }
}

#[async_trait]
impl AdminKeyRepo for FakeTx {
    async fn insert_admin_key(&mut self, k: &AdminKeyRecord) -> RepoResult<()> {
        self.state.admin_keys.push(k.clone());
        Ok(())
    }
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
    async fn revoke_admin_key(&mut self, key_id: &str, now: Timestamp) -> RepoResult<bool> {
        match self
            .state
            .admin_keys
            .iter_mut()
            .find(|k| k.key_id == key_id && k.revoked_at.is_none())
        {
            Some(k) => {
                k.revoked_at = Some(now);
                Ok(true)
            }
            None => Ok(false),
        }
    }
}

/// A WeChat whose codes are set up by the test: `code → (openid, unionid)`.
#[derive(Default)]
pub struct FakeWechat {
    pub logins: Mutex<HashMap<String, (String, Option<String>)>>,
    pub phones: Mutex<HashMap<String, PhoneNumber>>,
    pub oauth: Mutex<HashMap<String, (String, bool)>>,
    pub calls: Mutex<u32>,
}

impl FakeWechat {
    pub fn login_code(&self, code: &str, openid: &str, unionid: Option<&str>) {
        self.logins
            .lock()
            .unwrap()
            .insert(code.into(), (openid.into(), unionid.map(Into::into)));
    }
    pub fn phone_code(&self, code: &str, phone: &str) {
        let p = PhoneNumber::try_from(phone.to_owned()).unwrap();
        self.phones.lock().unwrap().insert(code.into(), p);
    }
    pub fn oauth_code(&self, code: &str, openid: &str, snapshot: bool) {
        self.oauth
            .lock()
            .unwrap()
            .insert(code.into(), (openid.into(), snapshot));
    }
}

#[async_trait]
impl WechatApi for FakeWechat {
    async fn code_to_session(
        &self,
        _app: &App,
        code: &str,
    ) -> Result<MiniProgramSession, UpstreamError> {
        *self.calls.lock().unwrap() += 1;
        // Codes are single-use, as at WeChat.
        let (openid, unionid) = self
            .logins
            .lock()
            .unwrap()
            .remove(code)
            .ok_or(UpstreamError::InvalidCode)?;
        Ok(MiniProgramSession {
            openid: OpenId::parse(openid).unwrap(),
            unionid: unionid.map(|u| UnionId::parse(u).unwrap()),
            session_key: SecretString::from(format!("key-for-{code}")),
        })
    }
    async fn phone_number(
        &self,
        app: &App,
        code: &str,
        _openid: Option<&OpenId>,
    ) -> Result<VerifiedPhone, UpstreamError> {
        let phone = self
            .phones
            .lock()
            .unwrap()
            .remove(code)
            .ok_or(UpstreamError::InvalidCode)?;
        Ok(VerifiedPhone {
            phone_number: phone.national().to_owned(),
            phone,
            watermark_timestamp: 0,
            watermark_appid: app.appid.to_string(),
        })
    }
    fn authorize_url(
        &self,
        app: &App,
        redirect: &str,
        scope: OAuthScope,
        state: &str,
        _p: Option<bool>,
    ) -> Result<String, UpstreamError> {
        Ok(format!(
            "https://open.weixin.qq.com/connect/oauth2/authorize?appid={}&redirect_uri={redirect}&scope={}&state={state}",
            app.appid,
            scope.as_str()
        ))
    }
    async fn exchange_oauth_code(
        &self,
        _app: &App,
        code: &str,
    ) -> Result<OAuthGrant, UpstreamError> {
        let (openid, snapshot) = self
            .oauth
            .lock()
            .unwrap()
            .remove(code)
            .ok_or(UpstreamError::InvalidCode)?;
        Ok(OAuthGrant {
            openid: OpenId::parse(openid).unwrap(),
            unionid: None,
            scope: "snsapi_base".into(),
            is_snapshot_user: snapshot,
            access_token: SecretString::from("user-token"),
        })
    }
    async fn oauth_profile(
        &self,
        _app: &App,
        _g: &OAuthGrant,
    ) -> Result<OAuthProfile, UpstreamError> {
        Ok(OAuthProfile {
            nickname: Some("Web".into()),
            avatar_url: None,
            unionid: None,
        })
    }
    async fn create_qr_code(&self, _app: &App, spec: &QrCodeSpec) -> Result<QrCode, UpstreamError> {
        Ok(QrCode {
            ticket: format!("ticket-{:?}", spec.scene),
            url: "http://weixin.qq.com/q/x".into(),
            image_url: "https://mp.weixin.qq.com/cgi-bin/showqrcode?ticket=x".into(),
            expire_seconds: spec.expire_seconds,
        })
    }
    async fn follower_status(
        &self,
        _app: &App,
        _openid: &OpenId,
    ) -> Result<FollowerStatus, UpstreamError> {
        Ok(FollowerStatus {
            subscribed: true,
            subscribe_time: Some(1),
            unionid: None,
        })
    }
}

/// Crypto that only the tests of sign-in need: events arrive pre-parsed in the body as
/// `openid|create_time|kind|scene`.
pub struct FakeCrypto;

impl WechatCrypto for FakeCrypto {
    fn decrypt_user_data(
        &self,
        _app: &App,
        key: &SecretString,
        data: &str,
        _iv: &str,
    ) -> Result<serde_json::Value, CoreError> {
        Ok(serde_json::json!({ "key": key.expose_secret(), "data": data }))
    }
    fn verify_raw_signature(&self, key: &SecretString, raw: &str, signature: &str) -> bool {
        format!("{raw}{}", key.expose_secret()) == signature
    }
    fn verify_url(&self, _app: &App, sig: &PushSignature) -> Result<(), EventError> {
        if sig.signature == "good" {
            Ok(())
        } else {
            Err(EventError::BadSignature)
        }
    }
    fn open_event(
        &self,
        app: &App,
        sig: &PushSignature,
        body: &[u8],
    ) -> Result<InboundEvent, EventError> {
        self.verify_url(app, sig)?;
        let text = std::str::from_utf8(body).map_err(|_| EventError::Malformed("utf8".into()))?;
        let parts: Vec<&str> = text.split('|').collect();
        let kind = match parts.get(2).copied() {
            Some("subscribe") => InboundEventKind::Subscribe,
            Some("unsubscribe") => InboundEventKind::Unsubscribe,
            Some("SCAN") => InboundEventKind::Scan,
            other => InboundEventKind::Other(other.unwrap_or_default().into()),
        };
        Ok(InboundEvent {
            openid: OpenId::parse(parts[0]).unwrap(),
            create_time: parts[1].parse().unwrap(),
            kind,
            scene: parts.get(3).map(|s| s.to_string()),
            ticket: None,
            dedupe_key: format!("{}:{}", parts[0], parts[1]),
        })
    }
}

/// Tokens are the claims as JSON: enough to test the use cases, nothing to sign.
pub struct FakeSigner;

impl AccessTokenSigner for FakeSigner {
    fn sign(&self, claims: &AccessClaims) -> Result<String, TokenError> {
        serde_json::to_string(claims).map_err(|e| TokenError::Signing(e.to_string()))
    }
    fn verify(&self, token: &str) -> Result<AccessClaims, TokenError> {
        serde_json::from_str(token).map_err(|_| TokenError::Invalid)
    }
    fn jwks(&self) -> Option<serde_json::Value> {
        None
    }
}

/// A service with one Mini Program (`mp`), a second one (`mp2`) and an Official Account (`oa`).
pub struct Harness {
    pub wxauth: crate::Wxauth,
    pub store: FakeStore,
    pub wechat: Arc<FakeWechat>,
    pub clock: Arc<ManualClock>,
}

pub fn t0() -> Timestamp {
    time::macros::datetime!(2026-11-23 08:00 UTC)
}

impl Harness {
    pub async fn new(policy: RegistrationPolicy) -> Harness {
        let store = FakeStore::default();
        let wechat = Arc::new(FakeWechat::default());
        let clock = Arc::new(ManualClock::new(t0()));
        let wxauth = crate::Wxauth::new(
            Arc::new(store.clone()),
            wechat.clone(),
            Arc::new(FakeCrypto),
            Arc::new(FakeSigner),
            clock.clone(),
            crate::Settings {
                default_app: Some(AppKey::parse("mp").unwrap()),
                ..Default::default()
            },
        );
        for (key, kind, policy) in [
            ("mp", AppKind::MiniProgram, policy),
            ("mp2", AppKind::MiniProgram, RegistrationPolicy::Open),
            ("oa", AppKind::OfficialAccount, RegistrationPolicy::Open),
        ] {
            wxauth
                .apps()
                .upsert(&AppDraft {
                    key: AppKey::parse(key).unwrap(),
                    kind,
                    name: key.into(),
                    appid: WechatAppId::parse(format!("wx{key}")).unwrap(),
                    secret: SecretString::from("s"),
                    registration: policy,
                    redirect_allow_list: wxauth_domain::RedirectAllowList::parse_all(&[
                        "https://app.example.com/",
                    ])
                    .unwrap(),
                    event_token: None,
                    encoding_aes_key: None,
                    endpoints: Default::default(),
                    enabled: true,
                    source: "config",
                })
                .await
                .unwrap();
        }
        Harness {
            wxauth,
            store,
            wechat,
            clock,
        }
    }

    pub fn ctx(&self) -> crate::RequestContext {
        crate::RequestContext {
            ip: Some("203.0.113.7".into()),
            request_id: Some("req-1".into()),
            actor: None,
        }
    }
}
