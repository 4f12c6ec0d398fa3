//! The app directory: every use case starts by resolving the app a request names.
//!
//! Apps are read on every login, so they are cached in memory for a short time. Changes made
//! through this instance's admin API invalidate the cache at once; other instances see them
//! within `app_cache_ttl`.

use std::collections::HashMap;
use std::sync::{Arc, RwLock};

use time::Duration;
use wxauth_domain::{App, AppKey, AppKind, Timestamp};

use crate::error::{CoreError, CoreResult};
use crate::ports::{AppDraft, Clock, Store, finish};

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

    pub async fn by_id(&self, id: i64) -> CoreResult<Arc<App>> {
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
