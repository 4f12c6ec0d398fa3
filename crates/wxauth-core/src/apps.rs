//! Apps: their definitions, validated once whoever writes them (configuration or the admin API),
//! and the directory every use case resolves the app of a request in.
//!
//! Apps are read on every login, so the directory caches them in memory for a short time.
//! Changes made through this instance's admin API invalidate the cache at once; other instances
//! see them within `app_cache_ttl`.

use std::collections::HashMap;
use std::sync::{Arc, RwLock};

use secrecy::{ExposeSecret, SecretString};
use time::Duration;
use wxauth_domain::secret::placeholder_reason;
use wxauth_domain::{
    App, AppEndpoints, AppId, AppKey, AppKind, AppName, BaseUrl, EncodingAesKey, MiniProgramCode,
    MiniProgramPage, RedirectAllowList, RegistrationPolicy, Timestamp, ValidationError,
    WechatAppId,
};

use crate::error::{CoreError, CoreResult};
use crate::ports::{Clock, Store};
use crate::service::finish;

/// Who owns an app's definition.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AppSource {
    /// Declared in configuration: written again at every start.
    Config,
    /// Created through the admin API.
    Admin,
}

impl AppSource {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Config => "config",
            Self::Admin => "admin",
        }
    }
}

/// An app definition as an edge received it, not yet validated. Field errors are reported
/// under the admin API's (camelCase) names; configuration renames them to its settings.
#[derive(Debug, Clone, Default)]
pub struct AppSpec {
    pub key: String,
    pub kind: String,
    /// Defaults to the key.
    pub name: Option<String>,
    pub appid: String,
    /// `None` keeps the secret of the app being replaced (and is refused for a new app).
    pub secret: Option<SecretString>,
    /// `open` when absent.
    pub registration: Option<String>,
    pub redirect_allow_list: Vec<String>,
    /// `None` keeps the stored value of the app being replaced.
    pub event_token: Option<SecretString>,
    /// `None` keeps the stored value of the app being replaced.
    pub encoding_aes_key: Option<SecretString>,
    pub api_base_url: Option<String>,
    pub open_base_url: Option<String>,
    pub mp_base_url: Option<String>,
    /// The Mini Program code of web scan-login; WeChat's defaults for what is absent.
    pub qr_login: QrLoginSpec,
    /// `true` when absent.
    pub enabled: Option<bool>,
}

/// How a Mini Program's scan-login code is drawn, as an edge received it.
#[derive(Debug, Clone, Default)]
pub struct QrLoginSpec {
    /// The page the code opens; the home page when absent.
    pub page: Option<String>,
    /// `release` when absent.
    pub env_version: Option<String>,
    /// `true` when absent.
    pub check_path: Option<bool>,
}

impl QrLoginSpec {
    fn parse(self) -> Result<MiniProgramCode, ValidationError> {
        let defaults = MiniProgramCode::default();
        Ok(MiniProgramCode {
            page: self
                .page
                .as_deref()
                .map(MiniProgramPage::parse)
                .transpose()?,
            env_version: match self.env_version.as_deref() {
                Some(env) => env.parse()?,
                None => defaults.env_version,
            },
            check_path: self.check_path.unwrap_or(defaults.check_path),
        })
    }
}

/// A validated app definition, ready for the store. Secrets are plaintext here; the store
/// encrypts them at rest.
#[derive(Debug, Clone)]
pub struct AppDraft {
    pub key: AppKey,
    pub kind: AppKind,
    pub name: AppName,
    pub appid: WechatAppId,
    pub secret: SecretString,
    pub registration: RegistrationPolicy,
    pub redirect_allow_list: RedirectAllowList,
    pub event_token: Option<SecretString>,
    pub encoding_aes_key: Option<EncodingAesKey>,
    pub endpoints: AppEndpoints,
    pub qr_login: MiniProgramCode,
    pub enabled: bool,
    pub source: AppSource,
}

impl AppDraft {
    /// Every rule an app definition must meet, in one place. `existing` is the app a
    /// replacement replaces: its secrets stay where the spec leaves them out.
    pub fn parse(
        spec: AppSpec,
        existing: Option<&App>,
        source: AppSource,
    ) -> Result<AppDraft, ValidationError> {
        let key = AppKey::parse(spec.key).map_err(|e| e.renamed("key"))?;
        let kind: AppKind = spec.kind.parse()?;
        let name = AppName::parse(spec.name.as_deref().unwrap_or(key.as_str()))?;
        let appid = WechatAppId::parse(spec.appid).map_err(|e| e.renamed("appid"))?;
        let secret = match (spec.secret, existing) {
            (Some(secret), _) => {
                check_secret("secret", &secret)?;
                secret
            }
            (None, Some(app)) => app.secret.clone(),
            (None, None) => return Err(ValidationError::new("secret", "is required")),
        };
        let registration = match spec.registration.as_deref() {
            Some(policy) => policy.parse()?,
            None => RegistrationPolicy::Open,
        };
        let redirect_allow_list = RedirectAllowList::parse_all(&spec.redirect_allow_list)?;
        let event_token = match spec.event_token {
            Some(token) => {
                check_secret("eventToken", &token)?;
                Some(token)
            }
            None => existing.and_then(|a| a.event_token.clone()),
        };
        let encoding_aes_key = match spec.encoding_aes_key {
            Some(key) => {
                check_secret("encodingAesKey", &key)?;
                Some(EncodingAesKey::parse(key.expose_secret())?)
            }
            None => existing.and_then(|a| a.encoding_aes_key.clone()),
        };
        let base = |field, url: Option<String>| url.map(|u| BaseUrl::parse(field, &u)).transpose();
        let endpoints = AppEndpoints {
            api_base_url: base("apiBaseUrl", spec.api_base_url)?,
            open_base_url: base("openBaseUrl", spec.open_base_url)?,
            mp_base_url: base("mpBaseUrl", spec.mp_base_url)?,
        };
        let qr_login = spec.qr_login.parse()?;
        if kind != AppKind::MiniProgram && qr_login != MiniProgramCode::default() {
            return Err(ValidationError::new(
                "qrLogin",
                "only Mini Programs draw scan-login codes",
            ));
        }
        Ok(AppDraft {
            key,
            kind,
            name,
            appid,
            secret,
            registration,
            redirect_allow_list,
            event_token,
            encoding_aes_key,
            endpoints,
            qr_login,
            enabled: spec.enabled.unwrap_or(true),
            source,
        })
    }
}

fn check_secret(field: &'static str, secret: &SecretString) -> Result<(), ValidationError> {
    match placeholder_reason(secret.expose_secret()) {
        Some(reason) => Err(ValidationError::new(field, reason)),
        None => Ok(()),
    }
}

struct Cached {
    apps: HashMap<AppKey, Arc<App>>,
    loaded_at: Timestamp,
}

pub struct AppDirectory {
    store: Arc<dyn Store>,
    clock: Arc<dyn Clock>,
    ttl: Duration,
    default_app: Option<AppKey>,
    cache: RwLock<Option<Cached>>,
}

impl AppDirectory {
    pub fn new(
        store: Arc<dyn Store>,
        clock: Arc<dyn Clock>,
        ttl: Duration,
        default_app: Option<AppKey>,
    ) -> Self {
        Self {
            store,
            clock,
            ttl,
            default_app,
            cache: RwLock::new(None),
        }
    }

    /// Resolves the app a request names (or the default one) and checks its kind.
    pub async fn resolve(
        &self,
        requested: Option<&str>,
        kinds: &[AppKind],
    ) -> CoreResult<Arc<App>> {
        let app = match requested.map(str::trim).filter(|s| !s.is_empty()) {
            Some(key) => self.get(key).await?,
            None => self.default_for(kinds).await?,
        };
        if !kinds.contains(&app.kind) {
            return Err(CoreError::WrongAppKind {
                app: app.key.to_string(),
                expected: kinds.first().map_or("other", |k| k.as_str()),
                actual: app.kind.as_str(),
            });
        }
        if !app.enabled {
            return Err(CoreError::AppDisabled(app.key.to_string()));
        }
        Ok(app)
    }

    /// The app with this key, enabled or not.
    pub async fn get(&self, key: &str) -> CoreResult<Arc<App>> {
        let key = AppKey::parse(key)?;
        // A fresh cache is trusted for misses too: unknown keys must not cost a query each.
        if let Some(found) = self.cached(|apps| apps.get(&key).cloned()) {
            return found.ok_or_else(|| CoreError::AppNotFound(key.to_string()));
        }
        self.reload().await?;
        self.cached(|apps| apps.get(&key).cloned())
            .flatten()
            .ok_or_else(|| CoreError::AppNotFound(key.to_string()))
    }

    pub async fn by_id(&self, id: AppId) -> CoreResult<Arc<App>> {
        let find = |apps: &HashMap<AppKey, Arc<App>>| apps.values().find(|a| a.id == id).cloned();
        if let Some(found) = self.cached(find) {
            return found.ok_or(CoreError::NotFound("app"));
        }
        self.reload().await?;
        self.cached(find)
            .flatten()
            .ok_or(CoreError::NotFound("app"))
    }

    pub async fn all(&self) -> CoreResult<Vec<Arc<App>>> {
        if self.cached(|_| ()).is_none() {
            self.reload().await?;
        }
        let mut apps = self
            .cached(|apps| apps.values().cloned().collect::<Vec<_>>())
            .unwrap_or_default();
        apps.sort_by(|a, b| a.key.cmp(&b.key));
        Ok(apps)
    }

    /// Writes an app definition (from configuration or the admin API) and refreshes the cache.
    pub async fn upsert(&self, draft: &AppDraft) -> CoreResult<App> {
        let mut tx = self.store.begin().await?;
        let result = tx
            .upsert_app(draft, self.clock.now())
            .await
            .map_err(CoreError::from);
        let app = finish(tx, result).await?;
        self.invalidate();
        Ok(app)
    }

    /// Writes a new app; [`CoreError::AppExists`] when the key is taken, even by a concurrent
    /// creation.
    pub async fn create(&self, draft: &AppDraft) -> CoreResult<Arc<App>> {
        let mut tx = self.store.begin().await?;
        let result = tx
            .insert_app(draft, self.clock.now())
            .await
            .map_err(CoreError::from);
        match finish(tx, result).await {
            Err(CoreError::Storage(crate::RepoError::Conflict(_))) => {
                return Err(CoreError::AppExists(draft.key.clone()));
            }
            other => other?,
        }
        self.invalidate();
        self.get(draft.key.as_str()).await
    }

    pub fn invalidate(&self) {
        *self.cache.write().unwrap_or_else(|p| p.into_inner()) = None;
    }

    async fn default_for(&self, kinds: &[AppKind]) -> CoreResult<Arc<App>> {
        if let Some(key) = &self.default_app {
            let app = self.get(key.as_str()).await?;
            if kinds.contains(&app.kind) {
                return Ok(app);
            }
        }
        // Without a configured default, a service with exactly one app of the right kind uses it.
        let candidates: Vec<_> = self
            .all()
            .await?
            .into_iter()
            .filter(|a| kinds.contains(&a.kind) && a.enabled)
            .collect();
        match <[_; 1]>::try_from(candidates) {
            Ok([only]) => Ok(only),
            Err(_) => Err(CoreError::NoDefaultApp),
        }
    }

    /// Runs `f` on the cached apps if the cache is fresh.
    fn cached<T>(&self, f: impl FnOnce(&HashMap<AppKey, Arc<App>>) -> T) -> Option<T> {
        let guard = self.cache.read().unwrap_or_else(|p| p.into_inner());
        let cached = guard.as_ref()?;
        if self.clock.now() - cached.loaded_at > self.ttl {
            return None;
        }
        Some(f(&cached.apps))
    }

    async fn reload(&self) -> CoreResult<()> {
        let apps = self.store.read().list_apps().await?;
        let apps = apps
            .into_iter()
            .map(|a| (a.key.clone(), Arc::new(a)))
            .collect();
        *self.cache.write().unwrap_or_else(|p| p.into_inner()) = Some(Cached {
            apps,
            loaded_at: self.clock.now(),
        });
        Ok(())
    }
}
