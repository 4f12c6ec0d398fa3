//! Web sign-in by scanning a Mini Program code: the desktop shows a code carrying a one-time
//! scene, a WeChat user scans it, the Mini Program opens on the scene and the user confirms
//! there; the desktop, polling or streaming with its login id, then gets the tokens once.
//!
//! Two secrets keep the halves apart. The login id is the desktop's and fetches the tokens;
//! the scene is in the code, so anyone who sees or scans it knows it, and it can only scan. The
//! scan hands the scanner a confirmation token, and only that token confirms or cancels: a
//! second WeChat user scanning the same code is refused. Both keys, and the confirmation
//! token, are stored as hashes (the code image, kept for the life of the login, shows the
//! scene, as the desktop's screen does).
//!
//! Tokens are not made at confirmation but at the desktop's next poll, as in the Official
//! Account's scan-to-login: nothing secret waits in a row. The account rules are checked at
//! confirmation too, so the Mini Program can tell a blocked or unregistrable user at once.

use std::sync::Arc;

use secrecy::SecretString;
use time::Duration;
use wxauth_domain::{App, AppKind, IdentityId, OpenId, PublicUserId, RegistrationPolicy, UnionId};

use crate::audit::{AuditEvent, kind};
use crate::error::{CoreError, CoreResult};
use crate::ports::{
    AccessClaims, CodeImage, LimitClass, MpQrLoginRecord, MpQrLoginStatus, MpQrScan, NewMpQrLogin,
};
use crate::secrets::{random_alphanumeric, random_token, token_hash};
use crate::service::{RequestContext, Wxauth, finish};
use crate::sessions::{LoginOutcome, SignedIn};
use crate::signin::{Unknown, WechatSignIn};
use crate::watch::LoginChanged;

const LOGIN_ID_PREFIX: &str = "mql_";
const CONFIRM_TOKEN_PREFIX: &str = "mqc_";
/// WeChat's limit for a scene, and all of it used: 32 of 62 characters are 190 bits.
pub const SCENE_CHARS: usize = 32;
/// The longest User-Agent kept for the Mini Program to show.
const MAX_AGENT_CHARS: usize = 512;
/// How far back each look at the change feed reaches before the previous one ended: the
/// instances' clocks may differ, and a commit may land after its stamp, by this much.
const FEED_OVERLAP: Duration = Duration::seconds(10);
const CHANGES_PER_SYNC: u64 = 10_000;
const EXPIRED_PER_SWEEP: u64 = 1_000;

/// A started scan-login, for the desktop.
#[derive(Debug, Clone)]
pub struct MpQrLoginStarted {
    pub login_id: String,
    pub expires_in: i64,
}

/// Where a scan-login stands, as the desktop sees it.
#[derive(Debug, Clone)]
pub enum MpQrLoginState {
    Pending {
        expires_in: i64,
    },
    /// Scanned, not confirmed yet. Who scanned is not the desktop's business until it is.
    Scanned {
        expires_in: i64,
    },
    /// Confirmed: the tokens, handed out this once.
    Confirmed(Box<SignedIn>),
    /// Confirmed by a WeChat user the app registers by bind code.
    BindRequired {
        bind_code: String,
        expires_in: i64,
    },
    Cancelled,
    Expired,
}

impl MpQrLoginState {
    /// Whether the login can still move on.
    pub fn is_final(&self) -> bool {
        !matches!(self, Self::Pending { .. } | Self::Scanned { .. })
    }
}

/// What the account rules found for a scanner who may sign in.
#[derive(Debug, Default)]
struct Signable {
    /// The account, when there is one.
    user: Option<PublicUserId>,
    /// The scanner's WeChat identity in the app, when it has one.
    identity: Option<IdentityId>,
}

/// Who scans: a WeChat user vouched for by a fresh `wx.login` code, or a signed-in user.
#[derive(Debug, Clone, Copy)]
pub enum Scanner<'a> {
    Code(&'a str),
    SignedIn(&'a AccessClaims),
}

/// What the Mini Program shows its user before they confirm.
#[derive(Debug, Clone)]
pub struct MpQrLoginScanned {
    /// Confirms or cancels this login, for this WeChat user only.
    pub confirm_token: String,
    pub expires_in: i64,
    pub app: Arc<App>,
    /// The desktop that asked.
    pub desktop_ip: Option<String>,
    pub desktop_agent: Option<String>,
    pub requested_at: wxauth_domain::Timestamp,
}

/// A scan-login as [`Wxauth::claim_mp_qr_login`] found it.
pub(crate) enum MpScan {
    Waiting { scanned: bool },
    Expired,
    Cancelled,
    Confirmed { app: Arc<App>, who: WechatSignIn },
}

impl Wxauth {
    /// Starts a scan-login: draws the code (once) and stores it with the login.
    pub async fn start_mp_qr_login(
        &self,
        ctx: &RequestContext,
        app: Option<&str>,
        user_agent: Option<&str>,
    ) -> CoreResult<MpQrLoginStarted> {
        let app = self.apps.resolve(app, &[AppKind::MiniProgram]).await;
        self.admit(ctx, LimitClass::OAuth, app.as_ref().ok().map(|a| &a.key))
            .await?;
        let app = app?;
        let scene = random_alphanumeric(SCENE_CHARS);
        let login_id = random_token(LOGIN_ID_PREFIX, 24);
        let image = match self.wechat.mini_program_code(&app, &scene).await {
            Ok(image) => image,
            Err(e) => {
                let error = CoreError::from(e);
                self.qr_step_failed(ctx, kind::MP_QR_CREATED, &app, None, &error)
                    .await;
                return Err(error);
            }
        };
        let now = self.now();
        let ttl = self.settings.qr_login_ttl;
        let login = NewMpQrLogin {
            login_hash: token_hash(&login_id),
            scene_hash: token_hash(&scene),
            app_id: app.id,
            desktop_ip: ctx.ip.map(|ip| ip.to_string()),
            desktop_agent: user_agent.map(|ua| ua.chars().take(MAX_AGENT_CHARS).collect()),
            expires_at: now + ttl,
            image,
        };
        let mut tx = self.store.begin().await?;
        let result = async {
            tx.insert_mp_qr_login(&login, now).await?;
            let event = AuditEvent::ok(kind::MP_QR_CREATED).app(&app.key);
            tx.append_audit(&event.into_entry(ctx, now)).await?;
            Ok(())
        }
        .await;
        finish(tx, result).await?;
        self.telemetry
            .qr_login(app.key.as_str(), kind::MP_QR_CREATED, None);
        Ok(MpQrLoginStarted {
            login_id,
            expires_in: ttl.whole_seconds(),
        })
    }

    /// The code image of a login that is still open (rate-limited like a poll).
    pub async fn mp_qr_login_image(
        &self,
        ctx: &RequestContext,
        login_id: &str,
    ) -> CoreResult<CodeImage> {
        self.admit(ctx, LimitClass::Poll, None).await?;
        let hash = login_hash(login_id)?;
        let open = |login: &MpQrLoginRecord| {
            login.expires_at > self.now()
                && matches!(
                    login.status,
                    MpQrLoginStatus::Pending | MpQrLoginStatus::Scanned
                )
        };
        // The read path may be a replica a moment behind the login just created.
        let mut read = self.store.read();
        let image = match read.mp_qr_login_by_login(&hash).await? {
            Some(login) if open(&login) => read.mp_qr_login_image(&hash).await?,
            Some(_) => None,
            None => {
                let mut tx = self.store.begin().await?;
                let result = async {
                    match tx.mp_qr_login_by_login(&hash).await? {
                        Some(login) if open(&login) => Ok(tx.mp_qr_login_image(&hash).await?),
                        _ => Ok(None),
                    }
                }
                .await;
                finish(tx, result).await?
            }
        };
        image.ok_or(CoreError::NotFound("QR login"))
    }

    /// A desktop's poll: rate-limited, read from the read path.
    pub async fn poll_mp_qr_login(
        &self,
        ctx: &RequestContext,
        login_id: &str,
    ) -> CoreResult<MpQrLoginState> {
        self.admit(ctx, LimitClass::Poll, None).await?;
        self.mp_qr_login_state(ctx, login_id, false).await
    }

    /// Opens a desktop's event stream: admitted once, like one poll.
    pub async fn open_mp_qr_login_stream(
        &self,
        ctx: &RequestContext,
        login_id: &str,
    ) -> CoreResult<MpQrLoginState> {
        self.admit(ctx, LimitClass::Poll, None).await?;
        self.mp_qr_login_state(ctx, login_id, true).await
    }

    /// The state again, for a stream that was woken: read where the change was written.
    pub async fn stream_mp_qr_login(
        &self,
        ctx: &RequestContext,
        login_id: &str,
    ) -> CoreResult<MpQrLoginState> {
        self.mp_qr_login_state(ctx, login_id, true).await
    }

    /// Resolves when the login may have changed. Register before reading the state, so that a
    /// change between the two is not missed.
    pub fn watch_mp_qr_login(&self, login_id: &str) -> CoreResult<LoginChanged> {
        Ok(self.qr_watchers.watch(&login_hash(login_id)?))
    }

    async fn mp_qr_login_state(
        &self,
        ctx: &RequestContext,
        login_id: &str,
        fresh: bool,
    ) -> CoreResult<MpQrLoginState> {
        let hash = login_hash(login_id)?;
        let now = self.now();
        let found = if fresh {
            None
        } else {
            self.store.read().mp_qr_login_by_login(&hash).await?
        };
        let login = match found {
            Some(login) => login,
            None => {
                let mut tx = self.store.begin().await?;
                let result = tx.mp_qr_login_by_login(&hash).await.map_err(Into::into);
                finish(tx, result)
                    .await?
                    .ok_or(CoreError::NotFound("QR login"))?
            }
        };
        let expires_in = (login.expires_at - now).whole_seconds();
        match login.status {
            MpQrLoginStatus::Consumed => return Err(CoreError::QrLoginConsumed),
            MpQrLoginStatus::Cancelled => return Ok(MpQrLoginState::Cancelled),
            _ if login.expires_at <= now => return Ok(MpQrLoginState::Expired),
            MpQrLoginStatus::Pending => return Ok(MpQrLoginState::Pending { expires_in }),
            MpQrLoginStatus::Scanned => return Ok(MpQrLoginState::Scanned { expires_in }),
            MpQrLoginStatus::Confirmed => {}
        }
        self.hand_out(ctx, &hash, login).await
    }

    /// Signs the confirmed user in for the desktop, once: whoever moves the login to consumed
    /// gets the tokens. A sign-in that fails on the way (a storage error) reopens the login,
    /// so the next poll tries again; a refusal (blocked since confirming) is final.
    async fn hand_out(
        &self,
        ctx: &RequestContext,
        hash: &str,
        login: MpQrLoginRecord,
    ) -> CoreResult<MpQrLoginState> {
        let openid = login
            .openid
            .clone()
            .ok_or(CoreError::NotFound("QR login"))?;
        let moved = self
            .move_login(
                &login,
                MpQrLoginStatus::Confirmed,
                MpQrLoginStatus::Consumed,
            )
            .await?;
        if !moved {
            return Err(CoreError::QrLoginConsumed);
        }
        self.qr_watchers.wake(hash);
        let app = self.apps.by_id(login.app_id).await?;
        let who = WechatSignIn::new(openid, login.unionid.clone());
        match self.sign_in_wechat(ctx, &app, who, Unknown::ByPolicy).await {
            Ok(LoginOutcome::SignedIn(signed_in)) => Ok(MpQrLoginState::Confirmed(signed_in)),
            Ok(LoginOutcome::BindRequired {
                bind_code,
                expires_in,
            }) => Ok(MpQrLoginState::BindRequired {
                bind_code,
                expires_in,
            }),
            Err(e @ CoreError::Storage(_)) => {
                if let Err(reopen) = self
                    .move_login(
                        &login,
                        MpQrLoginStatus::Consumed,
                        MpQrLoginStatus::Confirmed,
                    )
                    .await
                {
                    tracing::warn!(error = %reopen, "a QR login could not be reopened");
                }
                Err(e)
            }
            Err(e) => Err(e),
        }
    }

    /// Takes a confirmed login for the caller, once, without signing anyone in: the OpenID
    /// provider issues its own credentials for the scanner it answers.
    pub(crate) async fn claim_mp_qr_login(&self, login_id: &str) -> CoreResult<MpScan> {
        let hash = login_hash(login_id)?;
        let login = self
            .store
            .read()
            .mp_qr_login_by_login(&hash)
            .await?
            .ok_or(CoreError::NotFound("QR login"))?;
        match login.status {
            MpQrLoginStatus::Consumed => return Err(CoreError::QrLoginConsumed),
            MpQrLoginStatus::Cancelled => return Ok(MpScan::Cancelled),
            _ if login.expires_at <= self.now() => return Ok(MpScan::Expired),
            MpQrLoginStatus::Pending => return Ok(MpScan::Waiting { scanned: false }),
            MpQrLoginStatus::Scanned => return Ok(MpScan::Waiting { scanned: true }),
            MpQrLoginStatus::Confirmed => {}
        }
        let openid = login
            .openid
            .clone()
            .ok_or(CoreError::NotFound("QR login"))?;
        let moved = self
            .move_login(
                &login,
                MpQrLoginStatus::Confirmed,
                MpQrLoginStatus::Consumed,
            )
            .await?;
        if !moved {
            return Err(CoreError::QrLoginConsumed);
        }
        self.qr_watchers.wake(&hash);
        let app = self.apps.by_id(login.app_id).await?;
        Ok(MpScan::Confirmed {
            app,
            who: WechatSignIn::new(openid, login.unionid.clone()),
        })
    }

    async fn move_login(
        &self,
        login: &MpQrLoginRecord,
        from: MpQrLoginStatus,
        to: MpQrLoginStatus,
    ) -> CoreResult<bool> {
        let mut tx = self.store.begin().await?;
        let result = tx
            .move_mp_qr_login(login.id, from, to, self.now())
            .await
            .map_err(Into::into);
        finish(tx, result).await
    }

    /// The Mini Program's scan: records who scanned and answers what to show them.
    pub async fn scan_mp_qr_login(
        &self,
        ctx: &RequestContext,
        scene: &str,
        scanner: Scanner<'_>,
    ) -> CoreResult<MpQrLoginScanned> {
        self.admit(ctx, LimitClass::Login, None).await?;
        let scene_hash = scene_hash(scene)?;
        let login = self.login_by_scene(&scene_hash).await?;
        let app = self.apps.by_id(login.app_id).await?;
        let result = self.scan(ctx, &app, &login, scanner).await;
        match result {
            Ok(scanned) => {
                self.qr_watchers.wake(&login.login_hash);
                self.telemetry
                    .qr_login(app.key.as_str(), kind::MP_QR_SCANNED, None);
                Ok(scanned)
            }
            Err((error, user)) => {
                self.qr_step_failed(ctx, kind::MP_QR_SCANNED, &app, user, &error)
                    .await;
                Err(error)
            }
        }
    }

    async fn scan(
        &self,
        ctx: &RequestContext,
        app: &Arc<App>,
        login: &MpQrLoginRecord,
        scanner: Scanner<'_>,
    ) -> Result<MpQrLoginScanned, (CoreError, Option<PublicUserId>)> {
        check_open(login, self.now()).map_err(|e| (e, None))?;
        // Before the wx.login code is spent: a confirmed login takes no more scans.
        if login.status == MpQrLoginStatus::Confirmed {
            return Err((CoreError::QrLoginFinished, None));
        }
        let (openid, unionid, session_key) = self
            .scanner_identity(app, scanner)
            .await
            .map_err(|e| (e, None))?;
        if login
            .openid
            .as_ref()
            .is_some_and(|scanner| scanner != &openid)
        {
            return Err((CoreError::QrLoginTaken, None));
        }
        let Signable { user, identity } = self
            .check_may_sign_in(app, &openid, unionid.as_ref())
            .await?;
        let confirm_token = random_token(CONFIRM_TOKEN_PREFIX, 32);
        let scan = MpQrScan {
            id: login.id,
            openid,
            unionid,
            confirm_hash: token_hash(&confirm_token),
            scanner_ip: ctx.ip.map(|ip| ip.to_string()),
        };
        let now = self.now();
        let mut tx = self.store.begin().await.map_err(|e| (e.into(), user))?;
        let result = async {
            if !tx.mark_mp_qr_login_scanned(&scan, now).await? {
                // Another WeChat user scanned first, or the login moved on or expired.
                return Err(CoreError::QrLoginTaken);
            }
            // The wx.login behind the code replaced the user's session key at WeChat: keep the
            // new one, or a later encryptedData of theirs would not decrypt. (An account made by
            // this sign-in gets its key at its next Mini Program login.)
            if let (Some(identity), Some(key)) = (identity, &session_key) {
                tx.record_sign_in(identity, Some(key), None, now).await?;
            }
            let event = AuditEvent::ok(kind::MP_QR_SCANNED)
                .app(&app.key)
                .user_opt(user)
                .reason(desktop_note(login));
            tx.append_audit(&event.into_entry(ctx, now)).await?;
            Ok(())
        }
        .await;
        finish(tx, result).await.map_err(|e| (e, user))?;
        Ok(MpQrLoginScanned {
            confirm_token,
            expires_in: (login.expires_at - now).whole_seconds(),
            app: app.clone(),
            desktop_ip: login.desktop_ip.clone(),
            desktop_agent: login.desktop_agent.clone(),
            requested_at: login.created_at,
        })
    }

    /// The WeChat user behind a scan, in the login's app.
    async fn scanner_identity(
        &self,
        app: &App,
        scanner: Scanner<'_>,
    ) -> CoreResult<(OpenId, Option<UnionId>, Option<SecretString>)> {
        match scanner {
            Scanner::Code(code) => {
                if code.is_empty() || code.len() > 128 {
                    return Err(CoreError::validation("code", "must be a wx.login code"));
                }
                let session = self.wechat.code_to_session(app, code).await?;
                Ok((session.openid, session.unionid, Some(session.session_key)))
            }
            Scanner::SignedIn(claims) => {
                let identity = self.current_identity_in(claims, app).await?;
                Ok((identity.openid, identity.unionid, None))
            }
        }
    }

    /// The account rules a confirmation must meet: not blocked, and registrable when unknown.
    /// Answers the account's public id when there is one, and the scanner's identity in the
    /// app when it has one.
    async fn check_may_sign_in(
        &self,
        app: &App,
        openid: &OpenId,
        unionid: Option<&UnionId>,
    ) -> Result<Signable, (CoreError, Option<PublicUserId>)> {
        let lookup = async {
            let mut read = self.store.read();
            if let Some((identity, user)) = read.identity_with_user(app.id, openid).await? {
                return Ok((Some(user), Some(identity.id)));
            }
            let linked = match unionid {
                Some(unionid) => read.user_by_unionid(unionid).await?,
                None => None,
            };
            Ok::<_, CoreError>((linked, None))
        };
        match lookup.await.map_err(|e| (e, None))? {
            (Some(user), _) if user.is_blocked() => {
                Err((CoreError::UserBlocked, Some(user.public_id)))
            }
            (Some(user), identity) => Ok(Signable {
                user: Some(user.public_id),
                identity,
            }),
            (None, _) if app.registration == RegistrationPolicy::Closed => {
                Err((CoreError::RegistrationClosed, None))
            }
            (None, _) => Ok(Signable::default()),
        }
    }

    /// The scanner confirms: the desktop's next poll signs them in.
    pub async fn confirm_mp_qr_login(
        &self,
        ctx: &RequestContext,
        scene: &str,
        confirm_token: &str,
    ) -> CoreResult<()> {
        self.scanner_decides(
            ctx,
            scene,
            confirm_token,
            MpQrLoginStatus::Confirmed,
            kind::MP_QR_CONFIRMED,
        )
        .await
    }

    /// The scanner cancels: the desktop sees `cancelled`.
    pub async fn cancel_mp_qr_login(
        &self,
        ctx: &RequestContext,
        scene: &str,
        confirm_token: &str,
    ) -> CoreResult<()> {
        self.scanner_decides(
            ctx,
            scene,
            confirm_token,
            MpQrLoginStatus::Cancelled,
            kind::MP_QR_CANCELLED,
        )
        .await
    }

    async fn scanner_decides(
        &self,
        ctx: &RequestContext,
        scene: &str,
        confirm_token: &str,
        to: MpQrLoginStatus,
        event_kind: &'static str,
    ) -> CoreResult<()> {
        self.admit(ctx, LimitClass::Login, None).await?;
        let login = self.login_by_scene(&scene_hash(scene)?).await?;
        let app = self.apps.by_id(login.app_id).await?;
        match self
            .decide(ctx, &app, &login, confirm_token, to, event_kind)
            .await
        {
            Ok(()) => {
                self.qr_watchers.wake(&login.login_hash);
                self.telemetry.qr_login(app.key.as_str(), event_kind, None);
                Ok(())
            }
            Err((error, user)) => {
                self.qr_step_failed(ctx, event_kind, &app, user, &error)
                    .await;
                Err(error)
            }
        }
    }

    async fn decide(
        &self,
        ctx: &RequestContext,
        app: &App,
        login: &MpQrLoginRecord,
        confirm_token: &str,
        to: MpQrLoginStatus,
        event_kind: &'static str,
    ) -> Result<(), (CoreError, Option<PublicUserId>)> {
        let presented = token_hash(confirm_token);
        if login.confirm_hash.as_deref() != Some(presented.as_str()) {
            return Err((
                CoreError::Unauthenticated("the confirmation token is not this login's"),
                None,
            ));
        }
        check_open(login, self.now()).map_err(|e| (e, None))?;
        if login.status != MpQrLoginStatus::Scanned {
            return Err((CoreError::QrLoginFinished, None));
        }
        let openid = login
            .openid
            .clone()
            .ok_or((CoreError::NotFound("QR login"), None))?;
        let user = if to == MpQrLoginStatus::Confirmed {
            self.check_may_sign_in(app, &openid, login.unionid.as_ref())
                .await?
                .user
        } else {
            None
        };
        let now = self.now();
        let mut tx = self.store.begin().await.map_err(|e| (e.into(), user))?;
        let result = async {
            if !tx
                .move_mp_qr_login(login.id, MpQrLoginStatus::Scanned, to, now)
                .await?
            {
                return Err(CoreError::QrLoginFinished);
            }
            let event = AuditEvent::ok(event_kind)
                .app(&app.key)
                .user_opt(user)
                .reason(desktop_note(login));
            tx.append_audit(&event.into_entry(ctx, now)).await?;
            Ok(())
        }
        .await;
        finish(tx, result).await.map_err(|e| (e, user))
    }

    /// Reads a login by its scene where it was written: a scan follows its creation closely.
    async fn login_by_scene(&self, scene_hash: &str) -> CoreResult<MpQrLoginRecord> {
        let mut tx = self.store.begin().await?;
        let result = tx
            .mp_qr_login_by_scene(scene_hash)
            .await
            .map_err(Into::into);
        finish(tx, result)
            .await?
            .ok_or(CoreError::NotFound("QR login"))
    }

    async fn qr_step_failed(
        &self,
        ctx: &RequestContext,
        event_kind: &'static str,
        app: &App,
        user: Option<PublicUserId>,
        error: &CoreError,
    ) {
        self.telemetry
            .qr_login(app.key.as_str(), event_kind, Some(error.code()));
        let event = AuditEvent::failed(event_kind, error)
            .app(&app.key)
            .user_opt(user);
        self.audit_alone(ctx, event).await;
    }

    /// Housekeeping: audits the logins that expired unfinished and deletes every expired one.
    /// Answers how many went.
    pub async fn expire_mp_qr_logins(&self) -> CoreResult<u64> {
        let now = self.now();
        let mut read = self.store.read();
        let expired = read.mp_qr_logins_expired(now, EXPIRED_PER_SWEEP).await?;
        if expired.is_empty() {
            return Ok(0);
        }
        let mut entries = Vec::with_capacity(expired.len());
        for login in &expired {
            // Finished logins go quietly; unfinished ones are audited as expired.
            if matches!(
                login.status,
                MpQrLoginStatus::Consumed | MpQrLoginStatus::Cancelled
            ) {
                entries.push((login, None));
                continue;
            }
            let app = self.apps.by_id(login.app_id).await.ok();
            let user = match (&app, &login.openid) {
                (Some(app), Some(openid)) => read
                    .identity_with_user(app.id, openid)
                    .await?
                    .map(|(_, user)| user.public_id),
                _ => None,
            };
            let note = match &login.scanner_ip {
                Some(ip) => format!("{}, scanner {ip}", desktop_note(login)),
                None => desktop_note(login),
            };
            let event = AuditEvent::ok(kind::MP_QR_EXPIRED)
                .app_opt(app.as_ref().map(|a| &a.key))
                .user_opt(user)
                .reason(note);
            entries.push((
                login,
                Some(event.into_entry(&RequestContext::default(), now)),
            ));
            if let Some(app) = &app {
                self.telemetry
                    .qr_login(app.key.as_str(), kind::MP_QR_EXPIRED, None);
            }
        }
        // Every instance sweeps: the one whose delete removes a login is the one that audits it.
        let mut tx = self.store.begin().await?;
        let result = async {
            let mut deleted = 0;
            for (login, entry) in &entries {
                if tx.delete_mp_qr_logins(&[login.id]).await? == 1 {
                    deleted += 1;
                    if let Some(entry) = entry {
                        tx.append_audit(entry).await?;
                    }
                }
            }
            Ok(deleted)
        }
        .await;
        let deleted = finish(tx, result).await?;
        for (login, _) in &entries {
            self.qr_watchers.wake(&login.login_hash);
        }
        Ok(deleted)
    }

    /// Wakes this instance's streams whose logins another instance moved on, from the store's
    /// change feed. Cheap when nothing is watched: the server calls it a few times a second.
    ///
    /// The feed is read where the changes are written (a replica may lag), and each look
    /// reaches ten seconds back before the previous one ended: a change stamped by a clock
    /// a little behind, or committed a little after its stamp, is still seen. A change is woken
    /// for once, however many looks see it.
    pub async fn sync_qr_login_watchers(&self) -> CoreResult<()> {
        let now = self.now();
        if !self.qr_watchers.sweep() {
            self.qr_watchers.set_synced_until(now);
            return Ok(());
        }
        let since = self.qr_watchers.synced_until().unwrap_or(now) - FEED_OVERLAP;
        let mut tx = self.store.begin().await?;
        let result = tx
            .mp_qr_logins_changed_since(since, CHANGES_PER_SYNC)
            .await
            .map_err(Into::into);
        let changed = finish(tx, result).await?;
        for (hash, at) in &changed {
            self.qr_watchers.wake_if_newer(hash, *at);
        }
        self.qr_watchers
            .forget_changes_before(now - FEED_OVERLAP * 2);
        // A full page may not be all: continue from its last change next time.
        let until = match changed.last() {
            Some((_, at)) if changed.len() as u64 == CHANGES_PER_SYNC => *at + FEED_OVERLAP,
            _ => now,
        };
        self.qr_watchers.set_synced_until(until);
        Ok(())
    }
}

/// The store's key of a login id; ids of another shape are not found.
fn login_hash(login_id: &str) -> CoreResult<String> {
    if !login_id.starts_with(LOGIN_ID_PREFIX) || login_id.len() > 64 {
        return Err(CoreError::NotFound("QR login"));
    }
    Ok(token_hash(login_id))
}

fn scene_hash(scene: &str) -> CoreResult<String> {
    if scene.len() != SCENE_CHARS || !scene.bytes().all(|b| b.is_ascii_alphanumeric()) {
        return Err(CoreError::NotFound("QR login"));
    }
    Ok(token_hash(scene))
}

/// A scan, confirmation or cancellation needs a login that is neither finished nor expired.
fn check_open(login: &MpQrLoginRecord, now: wxauth_domain::Timestamp) -> CoreResult<()> {
    if matches!(
        login.status,
        MpQrLoginStatus::Consumed | MpQrLoginStatus::Cancelled
    ) {
        return Err(CoreError::QrLoginFinished);
    }
    if login.expires_at <= now {
        return Err(CoreError::QrLoginExpired);
    }
    Ok(())
}

/// The desktop's side of a step, for the audit log (whose own IP is the requester's).
fn desktop_note(login: &MpQrLoginRecord) -> String {
    format!(
        "desktop {}",
        login.desktop_ip.as_deref().unwrap_or("unknown")
    )
}
