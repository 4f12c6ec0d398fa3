//! The adapter that implements `wxauth-core`'s WeChat ports with the reusable `wxauth-wechat`
//! client: one access-token manager per app, sharing its token through the database so that
//! every instance uses the same one; errcodes mapped to the use cases' terms; call metrics.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use async_trait::async_trait;
use secrecy::{ExposeSecret, SecretString};
use wxauth_core::ports::{
    CodeImage, EventError, FollowerStatus, InboundEvent, InboundEventKind, MiniProgramSession,
    OAuthGrant, OAuthProfile, OAuthScope, PushSignature, QrCode, QrCodeSpec, QrScene,
    UserDataError, VerifiedPhone, WechatApi, WechatCrypto,
};
use wxauth_core::{Cause, UpstreamError};
use wxauth_domain::{App, AppId, BaseUrl, OpenId, PhoneNumber};
use wxauth_http::Metrics;
use wxauth_persistence::AccessTokenCache;
use wxauth_wechat::crypto::event::{
    EventKind, PushError, PushKeys, PushQuery, open_push, verify_server_url,
};
use wxauth_wechat::token::{AccessTokenManager, RefreshLock, StoreError, StoredToken, TokenStore};
use wxauth_wechat::{
    AppClient, CallObserver, CallOutcome, Credentials, Endpoints, TokenRefresh, WechatClient,
    WechatError,
};

use crate::config::WechatSection;

/// Feeds the client's per-call reports into the Prometheus metrics.
struct MetricsObserver(Arc<Metrics>);

impl CallObserver for MetricsObserver {
    fn on_call(&self, endpoint: &'static str, outcome: CallOutcome, elapsed: Duration) {
        let label = match outcome {
            CallOutcome::Ok => "ok".to_owned(),
            CallOutcome::Errcode(code) => format!("errcode_{code}"),
            CallOutcome::Timeout => "timeout".to_owned(),
            CallOutcome::Transport => "transport".to_owned(),
            CallOutcome::Decode => "decode".to_owned(),
        };
        self.0.observe_wechat_call(endpoint, &label, elapsed);
    }

    fn on_token_refresh(&self, appid: &wxauth_domain::WechatAppId, source: TokenRefresh) {
        // Tokens taken from the shared store cost WeChat nothing: only fetches count.
        if source != TokenRefresh::FromStore {
            self.0.observe_token_refresh(appid.as_str());
        }
    }
}

/// The database-backed token store of one app.
struct DbTokenStore {
    cache: AccessTokenCache,
    app_id: AppId,
}

#[async_trait]
impl TokenStore for DbTokenStore {
    async fn load(
        &self,
        _appid: &wxauth_domain::WechatAppId,
    ) -> Result<Option<StoredToken>, StoreError> {
        let loaded = self
            .cache
            .load(self.app_id)
            .await
            .map_err(|e| StoreError::new(e.to_string()))?;
        Ok(loaded.map(|(token, expires_at)| StoredToken { token, expires_at }))
    }

    async fn save(
        &self,
        _appid: &wxauth_domain::WechatAppId,
        token: &StoredToken,
    ) -> Result<(), StoreError> {
        self.cache
            .save(
                self.app_id,
                &token.token,
                token.expires_at,
                time::OffsetDateTime::now_utc(),
            )
            .await
            .map_err(|e| StoreError::new(e.to_string()))
    }

    async fn lock_refresh(
        &self,
        _appid: &wxauth_domain::WechatAppId,
    ) -> Result<Box<dyn RefreshLock>, StoreError> {
        let guard = self
            .cache
            .lock_refresh(self.app_id)
            .await
            .map_err(|e| StoreError::new(e.to_string()))?;
        Ok(Box::new(DbRefreshLock(guard)))
    }
}

struct DbRefreshLock(wxauth_persistence::RefreshGuard);

#[async_trait]
impl RefreshLock for DbRefreshLock {
    async fn release(self: Box<Self>) {
        self.0.release().await;
    }
}

pub struct WechatGateway {
    client: WechatClient,
    defaults: WechatSection,
    cache: AccessTokenCache,
    refresh_margin: Duration,
    /// Per app id: the app's secret when the manager was made (a changed secret makes a new one).
    managers: Mutex<HashMap<AppId, (String, AccessTokenManager)>>,
}

impl WechatGateway {
    pub fn new(
        section: &WechatSection,
        cache: AccessTokenCache,
        metrics: Arc<Metrics>,
    ) -> anyhow::Result<Self> {
        let client = WechatClient::builder()
            .timeout(Duration::from_millis(section.timeout_ms))
            .connect_timeout(Duration::from_millis(section.connect_timeout_ms))
            .observer(Arc::new(MetricsObserver(metrics.clone())))
            .build()?;
        Ok(Self {
            client,
            defaults: section.clone(),
            cache,
            refresh_margin: Duration::from_secs(section.token_refresh_margin_secs),
            managers: Mutex::new(HashMap::new()),
        })
    }

    fn endpoints(&self, app: &App) -> Result<Endpoints, UpstreamError> {
        let pick = |own: &Option<BaseUrl>, default: &str| match own {
            Some(url) => Ok(url.url().clone()),
            None => url::Url::parse(default).map_err(|e| UpstreamError::Unavailable(Cause::new(e))),
        };
        Ok(Endpoints {
            api_base: pick(&app.endpoints.api_base_url, &self.defaults.api_base_url)?,
            open_base: pick(&app.endpoints.open_base_url, &self.defaults.open_base_url)?,
            mp_base: pick(&app.endpoints.mp_base_url, &self.defaults.mp_base_url)?,
        })
    }

    fn app_client(&self, app: &App) -> Result<AppClient, UpstreamError> {
        let credentials = Credentials {
            appid: app.appid.clone(),
            secret: app.secret.clone(),
        };
        Ok(self.client.app(credentials, self.endpoints(app)?))
    }

    /// The access-token manager of an app, made once and kept while its secret is unchanged.
    fn tokens(&self, app: &App) -> Result<AccessTokenManager, UpstreamError> {
        let fingerprint = app.secret.expose_secret().to_owned();
        let mut managers = self.managers.lock().unwrap_or_else(|p| p.into_inner());
        if let Some((secret, manager)) = managers.get(&app.id)
            && *secret == fingerprint
        {
            return Ok(manager.clone());
        }
        let store = DbTokenStore {
            cache: self.cache.clone(),
            app_id: app.id,
        };
        let manager = AccessTokenManager::builder(self.app_client(app)?)
            .store(Arc::new(store))
            .refresh_margin(self.refresh_margin)
            .build();
        managers.insert(app.id, (fingerprint, manager.clone()));
        Ok(manager)
    }
}

fn upstream(e: WechatError) -> UpstreamError {
    use wxauth_wechat::errcode;
    match &e {
        WechatError::Api { errcode: c, errmsg } => match *c {
            errcode::INVALID_CODE => UpstreamError::InvalidCode,
            errcode::CODE_BEEN_USED => UpstreamError::CodeUsed,
            errcode::API_FREQ_OUT_OF_LIMIT | errcode::API_DAILY_QUOTA_REACHED => {
                UpstreamError::RateLimited
            }
            errcode::HIGH_RISK_USER => UpstreamError::RiskBlocked,
            errcode::SYSTEM_BUSY => UpstreamError::Unavailable(Cause::new(e)),
            other => UpstreamError::Rejected {
                errcode: other,
                errmsg: errmsg.clone(),
            },
        },
        WechatError::Timeout => UpstreamError::Timeout,
        _ => UpstreamError::Unavailable(Cause::new(e)),
    }
}

#[async_trait]
impl WechatApi for WechatGateway {
    async fn code_to_session(
        &self,
        app: &App,
        code: &str,
    ) -> Result<MiniProgramSession, UpstreamError> {
        let session = self
            .app_client(app)?
            .code_to_session(code)
            .await
            .map_err(upstream)?;
        Ok(MiniProgramSession {
            openid: session.openid,
            unionid: session.unionid,
            session_key: session.session_key,
        })
    }

    async fn phone_number(
        &self,
        app: &App,
        code: &str,
        openid: Option<&OpenId>,
    ) -> Result<VerifiedPhone, UpstreamError> {
        let client = self.app_client(app)?;
        let info = self
            .tokens(app)?
            .call(|token| {
                let client = client.clone();
                async move { client.phone_number(&token, code, openid).await }
            })
            .await
            .map_err(upstream)?;
        let phone = PhoneNumber::from_parts(&info.country_code, &info.pure_phone_number)
            .map_err(|e| UpstreamError::Unavailable(Cause::new(e)))?;
        Ok(VerifiedPhone {
            phone,
            phone_number: info.phone_number,
            watermark_timestamp: info.watermark.timestamp,
            watermark_appid: info.watermark.appid.to_string(),
        })
    }

    fn authorize_url(
        &self,
        app: &App,
        redirect_uri: &str,
        scope: OAuthScope,
        state: &str,
        force_popup: Option<bool>,
    ) -> Result<String, UpstreamError> {
        let client = self.app_client(app)?;
        let redirect = url::Url::parse(redirect_uri).map_err(|_| UpstreamError::Rejected {
            errcode: 0,
            errmsg: "invalid redirect_uri".into(),
        })?;
        let url = match scope {
            OAuthScope::Login => client.qrconnect_url(&redirect, state),
            OAuthScope::Base => client.oauth_authorize_url(
                &redirect,
                wxauth_wechat::OAuthScope::Base,
                state,
                force_popup,
            ),
            OAuthScope::UserInfo => client.oauth_authorize_url(
                &redirect,
                wxauth_wechat::OAuthScope::UserInfo,
                state,
                force_popup,
            ),
        };
        url.map_err(upstream)
    }

    async fn exchange_oauth_code(
        &self,
        app: &App,
        code: &str,
    ) -> Result<OAuthGrant, UpstreamError> {
        let token = self
            .app_client(app)?
            .oauth_exchange_code(code)
            .await
            .map_err(upstream)?;
        Ok(OAuthGrant {
            openid: token.openid,
            unionid: token.unionid,
            scope: token.scope,
            is_snapshot_user: token.is_snapshot_user,
            access_token: token.access_token,
        })
    }

    async fn oauth_profile(
        &self,
        app: &App,
        grant: &OAuthGrant,
    ) -> Result<OAuthProfile, UpstreamError> {
        let info = self
            .app_client(app)?
            .oauth_user_info(&grant.access_token, &grant.openid)
            .await
            .map_err(upstream)?;
        Ok(OAuthProfile {
            nickname: Some(info.nickname).filter(|n| !n.is_empty()),
            avatar_url: Some(info.headimgurl).filter(|u| !u.is_empty()),
            unionid: info.unionid,
        })
    }

    async fn create_qr_code(&self, app: &App, spec: &QrCodeSpec) -> Result<QrCode, UpstreamError> {
        use wxauth_wechat::{QrCodeRequest, QrScene as WxScene};
        let scene = match &spec.scene {
            QrScene::Id(id) => WxScene::Id(*id),
            QrScene::Str(s) => WxScene::Str(s.clone()),
        };
        let request = match spec.expire_seconds {
            Some(expire_seconds) => QrCodeRequest::Temporary {
                scene,
                expire_seconds,
            },
            None => QrCodeRequest::Permanent { scene },
        };
        let client = self.app_client(app)?;
        let ticket = self
            .tokens(app)?
            .call(|token| {
                let client = client.clone();
                let request = request.clone();
                async move { client.create_qr_code(&token, &request).await }
            })
            .await
            .map_err(upstream)?;
        Ok(QrCode {
            image_url: client.qr_code_image_url(&ticket.ticket),
            ticket: ticket.ticket,
            url: ticket.url,
            expire_seconds: ticket.expire_seconds,
        })
    }

    async fn follower_status(
        &self,
        app: &App,
        openid: &OpenId,
    ) -> Result<FollowerStatus, UpstreamError> {
        let client = self.app_client(app)?;
        let info = self
            .tokens(app)?
            .call(|token| {
                let client = client.clone();
                async move { client.user_info(&token, openid).await }
            })
            .await
            .map_err(upstream)?;
        Ok(FollowerStatus {
            subscribed: info.subscribed,
            subscribe_time: info.subscribe_time,
            unionid: info.unionid,
        })
    }

    async fn mini_program_code(&self, app: &App, scene: &str) -> Result<CodeImage, UpstreamError> {
        use wxauth_domain::MiniProgramEnv;
        use wxauth_wechat::{WxaCodeRequest, WxaEnvVersion};
        let request = WxaCodeRequest {
            scene: scene.to_owned(),
            page: app.qr_login.page.as_ref().map(|p| p.as_str().to_owned()),
            check_path: app.qr_login.check_path,
            env_version: match app.qr_login.env_version {
                MiniProgramEnv::Release => WxaEnvVersion::Release,
                MiniProgramEnv::Trial => WxaEnvVersion::Trial,
                MiniProgramEnv::Develop => WxaEnvVersion::Develop,
            },
            width: None,
        };
        let client = self.app_client(app)?;
        let bytes = self
            .tokens(app)?
            .call(|token| {
                let client = client.clone();
                let request = request.clone();
                async move { client.wxa_code_unlimited(&token, &request).await }
            })
            .await
            .map_err(upstream)?;
        let media_type = image_media_type(&bytes).ok_or_else(|| {
            UpstreamError::Unavailable(Cause::new(std::io::Error::other(
                "getwxacodeunlimit answered neither a PNG nor a JPEG",
            )))
        })?;
        Ok(CodeImage {
            media_type: media_type.to_owned(),
            bytes,
        })
    }
}

/// What WeChat drew, by its first bytes: it sends PNG or JPEG, whatever it says it sends.
fn image_media_type(bytes: &[u8]) -> Option<&'static str> {
    if bytes.starts_with(b"\x89PNG\r\n\x1a\n") {
        Some("image/png")
    } else if bytes.starts_with(&[0xFF, 0xD8, 0xFF]) {
        Some("image/jpeg")
    } else {
        None
    }
}

fn push_query(sig: &PushSignature) -> PushQuery<'_> {
    PushQuery {
        signature: &sig.signature,
        timestamp: &sig.timestamp,
        nonce: &sig.nonce,
        encrypt_type: sig.encrypt_type.as_deref(),
        msg_signature: sig.msg_signature.as_deref(),
    }
}

impl WechatCrypto for WechatGateway {
    fn decrypt_user_data(
        &self,
        app: &App,
        session_key: &SecretString,
        encrypted_data: &str,
        iv: &str,
    ) -> Result<serde_json::Value, UserDataError> {
        let data = wxauth_wechat::crypto::decrypt_user_data(session_key, encrypted_data, iv)
            .map_err(|_| UserDataError::Undecryptable)?;
        wxauth_wechat::crypto::check_watermark(&data, &app.appid)
            .map_err(|_| UserDataError::WrongApp)?;
        Ok(data)
    }

    fn verify_raw_signature(&self, session_key: &SecretString, raw: &str, signature: &str) -> bool {
        wxauth_wechat::crypto::verify_raw_data_signature(raw, session_key, signature)
    }

    fn verify_url(&self, app: &App, sig: &PushSignature) -> Result<(), EventError> {
        let token = app.event_token.as_ref().ok_or(EventError::NotConfigured)?;
        if verify_server_url(token, &push_query(sig)) {
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
        let token = app.event_token.as_ref().ok_or(EventError::NotConfigured)?;
        let keys = PushKeys {
            token,
            safe_mode: app
                .encoding_aes_key
                .as_ref()
                .map(|key| (key.secret(), &app.appid)),
        };
        let event = open_push(&keys, &push_query(sig), body).map_err(|e| match e {
            PushError::BadSignature => EventError::BadSignature,
            PushError::NoAesKey => EventError::NotConfigured,
            PushError::Malformed(reason) => EventError::Malformed(reason),
        })?;
        let kind = match &event.event {
            Some(EventKind::Subscribe) => InboundEventKind::Subscribe,
            Some(EventKind::Unsubscribe) => InboundEventKind::Unsubscribe,
            Some(EventKind::Scan) => InboundEventKind::Scan,
            Some(EventKind::Other(other)) => InboundEventKind::Other(other.clone()),
            None => InboundEventKind::Other(event.msg_type.clone()),
        };
        Ok(InboundEvent {
            scene: event.scene().map(str::to_owned),
            openid: event.from_user_name,
            create_time: event.create_time,
            msg_id: event.msg_id,
            kind,
            event_key: event.event_key,
            ticket: event.ticket,
        })
    }
}
