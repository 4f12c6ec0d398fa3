//! Official Account tools: parametric QR codes, the follow check, signed event pushes and
//! scan-to-login.

use std::sync::Arc;

use wxauth_domain::{App, AppKind, OpenId};

use crate::audit::{AuditEvent, kind};
use crate::error::{CoreError, CoreResult};
use crate::ports::{
    AccessClaims, EventError, FollowerChange, FollowerStatus, InboundEvent, InboundEventKind,
    LimitClass, NewQrLogin, PushSignature, QrCode, QrCodeSpec, QrLoginStatus, QrScene, Transaction,
};
use crate::secrets::{random_alphanumeric, random_token};
use crate::service::{RequestContext, Wxauth, finish};
use crate::sessions::LoginOutcome;
use crate::signin::{Unknown, WechatSignIn};

/// WeChat's limits for parametric QR codes.
pub const MAX_TEMPORARY_QR_SECONDS: u32 = 2_592_000;
pub const MAX_PERMANENT_SCENE_ID: u32 = 100_000;
pub const MAX_SCENE_STR_CHARS: usize = 64;

/// The scene prefix wxauth uses for its own scan-to-login QR codes.
const QR_LOGIN_SCENE_PREFIX: &str = "wxauth_login_";

#[derive(Debug, Clone)]
pub struct QrCodeRequest<'a> {
    pub app: Option<&'a str>,
    pub scene: QrScene,
    pub expire_seconds: Option<u32>,
    pub permanent: bool,
}

#[derive(Debug, Clone)]
pub struct QrLoginStart {
    pub login_id: String,
    pub qr_image_url: String,
    pub qr_url: String,
    pub expires_in: i64,
}

/// Where a scan-to-login stands.
#[derive(Debug, Clone)]
pub enum QrLoginState {
    Pending,
    Expired,
    /// Scanned by a user whose app requires a bind code first.
    BindRequired {
        bind_code: String,
        expires_in: i64,
    },
    SignedIn(Box<crate::SignedIn>),
}

/// A scan-to-login as [`Wxauth::claim_qr_login`] found it.
pub(crate) enum QrScan {
    Pending,
    Expired,
    Scanned { app: Arc<App>, who: WechatSignIn },
}

impl Wxauth {
    async fn official_app(&self, app: Option<&str>) -> CoreResult<Arc<App>> {
        self.apps.resolve(app, &[AppKind::OfficialAccount]).await
    }

    /// Creates a parametric QR code (admin).
    pub async fn create_qr_code(
        &self,
        ctx: &RequestContext,
        req: QrCodeRequest<'_>,
    ) -> CoreResult<QrCode> {
        let app = self.official_app(req.app).await?;
        match &req.scene {
            QrScene::Str(s) if s.is_empty() || s.chars().count() > MAX_SCENE_STR_CHARS => {
                return Err(CoreError::validation("scene", "must be 1 to 64 characters"));
            }
            QrScene::Id(0) => return Err(CoreError::validation("scene", "must be positive")),
            QrScene::Id(id) if req.permanent && *id > MAX_PERMANENT_SCENE_ID => {
                return Err(CoreError::validation(
                    "scene",
                    "permanent integer scenes must be 1 to 100000",
                ));
            }
            _ => {}
        }
        let expire_seconds = if req.permanent {
            if req.expire_seconds.is_some() {
                return Err(CoreError::validation(
                    "expireSeconds",
                    "permanent QR codes do not expire",
                ));
            }
            None
        } else {
            let seconds = req.expire_seconds.unwrap_or(MAX_TEMPORARY_QR_SECONDS);
            if !(60..=MAX_TEMPORARY_QR_SECONDS).contains(&seconds) {
                return Err(CoreError::validation(
                    "expireSeconds",
                    "must be 60 to 2592000 seconds",
                ));
            }
            Some(seconds)
        };
        let spec = QrCodeSpec {
            scene: req.scene,
            expire_seconds,
        };
        let qr = self.wechat.create_qr_code(&app, &spec).await?;
        self.audit_alone(ctx, AuditEvent::ok(kind::ADMIN_QRCODE).app(&app.key))
            .await;
        Ok(qr)
    }

    /// Whether `openid` follows the Official Account.
    pub async fn follower_status(
        &self,
        app: Option<&str>,
        openid: &OpenId,
    ) -> CoreResult<FollowerStatus> {
        let app = self.official_app(app).await?;
        Ok(self.wechat.follower_status(&app, openid).await?)
    }

    /// Whether the caller follows the Official Account: their own openid in that app.
    pub async fn my_follower_status(
        &self,
        claims: &AccessClaims,
        app: Option<&str>,
    ) -> CoreResult<FollowerStatus> {
        let app = self.official_app(app).await?;
        let identity = self.current_identity_in(claims, &app).await?;
        Ok(self.wechat.follower_status(&app, &identity.openid).await?)
    }

    /// Answers WeChat's URL check: the signature must match the app's event token.
    pub async fn verify_event_url(&self, app_key: &str, sig: &PushSignature) -> CoreResult<()> {
        let app = self.official_app(Some(app_key)).await?;
        self.crypto.verify_url(&app, sig).map_err(event_error)
    }

    /// Handles one event push. Retries of a push already handled are acknowledged and ignored.
    pub async fn handle_event(
        &self,
        app_key: &str,
        sig: &PushSignature,
        body: &[u8],
    ) -> CoreResult<()> {
        let app = self.official_app(Some(app_key)).await?;
        let event = self
            .crypto
            .open_event(&app, sig, body)
            .map_err(event_error)?;
        let now = self.now();
        // Hashed: the key is as long as WeChat's EventKey makes it; the column is not.
        let key = crate::secrets::token_hash(&dedupe_key(&event));
        let mut tx = self.store.begin().await?;
        let result = async {
            if !tx.remember_event(app.id, &key, now).await? {
                tracing::debug!(app = %app.key, "duplicate event push ignored");
                return Ok(());
            }
            self.apply_event(tx.as_mut(), &app, &event).await
        }
        .await;
        finish(tx, result).await
    }

    async fn apply_event(
        &self,
        tx: &mut dyn Transaction,
        app: &App,
        event: &InboundEvent,
    ) -> CoreResult<()> {
        let now = self.now();
        let follow = match event.kind {
            InboundEventKind::Subscribe => Some(true),
            InboundEventKind::Unsubscribe => Some(false),
            InboundEventKind::Scan | InboundEventKind::Other(_) => None,
        };
        if let Some(subscribed) = follow {
            tx.record_follower(&FollowerChange {
                app_id: app.id,
                openid: event.openid.clone(),
                subscribed,
                at: now,
                scene: event.scene.clone(),
            })
            .await?;
        }
        let scans = matches!(
            event.kind,
            InboundEventKind::Subscribe | InboundEventKind::Scan
        );
        if let (true, Some(scene)) = (scans, &event.scene)
            && scene.starts_with(QR_LOGIN_SCENE_PREFIX)
            && let Some(login) = tx.qr_login_by_scene(app.id, scene).await?
            && login.status == QrLoginStatus::Pending
            && login.expires_at > now
        {
            tx.mark_qr_login_scanned(login.id, &event.openid).await?;
        }
        Ok(())
    }

    /// Starts a scan-to-login: a temporary QR code whose scan signs the scanner in.
    pub async fn start_qr_login(
        &self,
        ctx: &RequestContext,
        app: Option<&str>,
    ) -> CoreResult<QrLoginStart> {
        let app = self.official_app(app).await;
        self.admit(ctx, LimitClass::OAuth, app.as_ref().ok().map(|a| &a.key))
            .await?;
        let app = app?;
        let scene = format!("{QR_LOGIN_SCENE_PREFIX}{}", random_alphanumeric(24));
        let ttl = self.settings.qr_login_ttl;
        let spec = QrCodeSpec {
            scene: QrScene::Str(scene.clone()),
            expire_seconds: Some(u32::try_from(ttl.whole_seconds()).unwrap_or(300).max(60)),
        };
        let qr = self.wechat.create_qr_code(&app, &spec).await?;
        let login_id = random_token("ql_", 24);
        let now = self.now();
        let login = NewQrLogin {
            login_id: login_id.clone(),
            app_id: app.id,
            scene,
            ticket: qr.ticket.clone(),
            expires_at: now + ttl,
        };
        let mut tx = self.store.begin().await?;
        let result = tx
            .insert_qr_login(&login, now)
            .await
            .map_err(CoreError::from);
        finish(tx, result).await?;
        Ok(QrLoginStart {
            login_id,
            qr_image_url: qr.image_url,
            qr_url: qr.url,
            expires_in: ttl.whole_seconds(),
        })
    }

    /// Polls a scan-to-login. Once scanned, the first poll gets the tokens; later polls get
    /// [`CoreError::QrLoginConsumed`].
    pub async fn poll_qr_login(
        &self,
        ctx: &RequestContext,
        login_id: &str,
    ) -> CoreResult<QrLoginState> {
        self.admit(ctx, LimitClass::Poll, None).await?;
        let (app, who) = match self.claim_qr_login(login_id).await? {
            QrScan::Pending => return Ok(QrLoginState::Pending),
            QrScan::Expired => return Ok(QrLoginState::Expired),
            QrScan::Scanned { app, who } => (app, who),
        };
        Ok(
            match self
                .sign_in_wechat(ctx, &app, who, Unknown::ByPolicy)
                .await?
            {
                LoginOutcome::SignedIn(s) => QrLoginState::SignedIn(s),
                LoginOutcome::BindRequired {
                    bind_code,
                    expires_in,
                } => QrLoginState::BindRequired {
                    bind_code,
                    expires_in,
                },
            },
        )
    }

    /// Takes a scanned scan-to-login for whoever asks first: the scanner, as WeChat vouches
    /// for them. Shared by the poll and the OpenID provider's sign-in page.
    pub(crate) async fn claim_qr_login(&self, login_id: &str) -> CoreResult<QrScan> {
        if !login_id.starts_with("ql_") || login_id.len() > 64 {
            return Err(CoreError::NotFound("QR login"));
        }
        let now = self.now();
        let mut tx = self.store.begin().await?;
        let result = async {
            let login = tx
                .qr_login_by_id(login_id)
                .await?
                .ok_or(CoreError::NotFound("QR login"))?;
            // The whole flow, scan and poll, has to finish before the QR code expires.
            match login.status {
                QrLoginStatus::Consumed => return Err(CoreError::QrLoginConsumed),
                _ if login.expires_at <= now => return Ok(None),
                QrLoginStatus::Pending => return Ok(Some(None)),
                QrLoginStatus::Scanned => {}
            }
            let openid = login
                .openid
                .clone()
                .ok_or(CoreError::NotFound("QR login"))?;
            // Whoever marks it consumed first gets the tokens; a concurrent poll gets "consumed".
            if !tx.mark_qr_login_consumed(login.id).await? {
                return Err(CoreError::QrLoginConsumed);
            }
            Ok(Some(Some((login.app_id, openid))))
        }
        .await;
        let (app_id, openid) = match finish(tx, result).await? {
            None => return Ok(QrScan::Expired),
            Some(None) => return Ok(QrScan::Pending),
            Some(Some(scanned)) => scanned,
        };
        let app = self.apps.by_id(app_id).await?;
        // The push carries no unionid; the follow check does, and links the account to the
        // user's Mini Program identity. Best effort: without it the sign-in still works.
        let unionid = match self.wechat.follower_status(&app, &openid).await {
            Ok(status) => status.unionid,
            Err(e) => {
                tracing::debug!(error = %e, "no unionid for a QR login");
                None
            }
        };
        let who = WechatSignIn::new(openid, unionid);
        Ok(QrScan::Scanned { app, who })
    }
}

/// What makes two pushes the same push, so that WeChat's retries (it resends a push it got no
/// answer for within 5 s, three times) are applied once.
///
/// Messages carry a `MsgId`, which is the key. Events do not; WeChat's advice is
/// `FromUserName + CreateTime`, but that merges two different events one user triggers within a
/// second (a follow, then a scan), so the event name and key are part of it too: a retry
/// repeats all four.
pub(crate) fn dedupe_key(event: &InboundEvent) -> String {
    match event.msg_id {
        Some(msg_id) => format!("msg:{msg_id}"),
        None => format!(
            "event:{}:{}:{}:{}",
            event.openid,
            event.create_time,
            event.kind.name(),
            event.event_key.as_deref().unwrap_or_default()
        ),
    }
}

fn event_error(e: EventError) -> CoreError {
    match e {
        EventError::BadSignature => CoreError::InvalidSignature,
        EventError::Malformed(reason) => {
            tracing::debug!(%reason, "unreadable event push");
            CoreError::validation("body", "is not a readable WeChat event push")
        }
        EventError::NotConfigured => CoreError::InvalidSignature,
    }
}
