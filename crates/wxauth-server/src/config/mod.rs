//! Configuration: built-in defaults < optional TOML file < environment (`WXAUTH__SECTION__KEY`).
//!
//! Every section denies unknown keys, so a typo stops start-up instead of being ignored, and
//! [`Config::validate`] checks what serde cannot (key lengths, URLs, references between
//! sections). Errors name the setting and its environment variable in one line.

use std::collections::BTreeMap;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::time::Duration;

use secrecy::{ExposeSecret, SecretString};
use serde::{Deserialize, Deserializer};
use wxauth_limits::{FailMode, RateLimitConfig, RedisLimitsConfig};
use wxauth_tokens::{KeyConfig, SigningAlgorithm};

pub const ENV_PREFIX: &str = "WXAUTH";
pub const DEFAULT_FILE: &str = "config/wxauth.toml";

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct ServerSection {
    /// Address and port to listen on.
    pub listen: SocketAddr,
    /// HTTP worker threads; 0 means one per CPU.
    pub workers: usize,
    /// Trust `X-Forwarded-For` for the client IP (only behind your own proxy).
    pub trust_forwarded_for: bool,
    pub swagger_ui: bool,
    pub compat_routes: bool,
    /// The Mini Program the Strapi-plugin compatibility routes use (default: auth.default_app).
    pub compat_mini_program_app: Option<String>,
    /// The Official Account the legacy `/wechat/*` routes use (default: the only one).
    pub compat_official_app: Option<String>,
    pub demo_page: bool,
    /// Seconds to let in-flight requests finish on shutdown.
    pub shutdown_timeout_secs: u64,
    /// The longest one request may take, end to end; past it the client gets a 503.
    pub request_timeout_secs: u64,
    /// Connections this instance keeps open at once; those over it get a 503 and are closed.
    pub max_connections: usize,
    /// Connections one client address may keep open at once (0: no per-address limit; behind
    /// a proxy every connection comes from the proxy's address).
    pub max_connections_per_ip: usize,
    /// Set by the `demo` command only: who the demo page tells you to scan as.
    #[serde(skip)]
    pub demo_scanner: Option<wxauth_http::DemoScanner>,
}

impl Default for ServerSection {
    fn default() -> Self {
        Self {
            listen: SocketAddr::from(([127, 0, 0, 1], 8080)),
            workers: 0,
            trust_forwarded_for: false,
            swagger_ui: true,
            compat_routes: true,
            compat_mini_program_app: None,
            compat_official_app: None,
            demo_page: false,
            shutdown_timeout_secs: 10,
            request_timeout_secs: 15,
            max_connections: 4096,
            max_connections_per_ip: 512,
            demo_scanner: None,
        }
    }
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct DatabaseSection {
    pub url: String,
    /// A read replica (PostgreSQL or MySQL) for the read path; reads it answers with nothing
    /// are asked of the primary.
    pub read_url: Option<String>,
    /// PostgreSQL through a transaction-pooling pgbouncer: no prepared statements and no
    /// session settings (set the timeouts on the role instead).
    pub pgbouncer: bool,
    pub max_connections: u32,
    pub min_connections: u32,
    pub acquire_timeout_secs: u64,
    /// The longest one statement may run (0: no limit).
    pub statement_timeout_ms: u64,
    /// The longest a statement waits for a lock (SQLite: for the write lock).
    pub lock_timeout_ms: u64,
    /// Group-commit writers on PostgreSQL and MySQL.
    pub writers: usize,
    /// Apply pending migrations at start-up.
    pub migrate_on_start: bool,
}

impl Default for DatabaseSection {
    fn default() -> Self {
        Self {
            url: "sqlite://data/wxauth.db?mode=rwc".into(),
            read_url: None,
            pgbouncer: false,
            max_connections: 16,
            min_connections: 1,
            acquire_timeout_secs: 5,
            statement_timeout_ms: 5_000,
            lock_timeout_ms: 2_000,
            writers: 2,
            migrate_on_start: true,
        }
    }
}

impl DatabaseSection {
    /// The persistence crate's view of these settings.
    pub fn connection(&self) -> wxauth_persistence::DatabaseConfig {
        use std::time::Duration;
        wxauth_persistence::DatabaseConfig {
            url: self.url.clone(),
            read_url: self.read_url.clone(),
            pgbouncer: self.pgbouncer,
            max_connections: self.max_connections,
            min_connections: self.min_connections,
            acquire_timeout: Duration::from_secs(self.acquire_timeout_secs),
            statement_timeout: Duration::from_millis(self.statement_timeout_ms),
            lock_timeout: Duration::from_millis(self.lock_timeout_ms),
            writers: self.writers,
        }
    }
}

#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct SecretsSection {
    /// 32 random bytes, base64: encrypts every secret at rest (`wxauth-server keys generate`).
    pub master_key: Option<SecretString>,
    /// Older master keys that still decrypt, during a rotation.
    #[serde(deserialize_with = "secret_list")]
    pub previous_master_keys: Vec<SecretString>,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct JwtSection {
    pub issuer: String,
    pub audience: String,
    pub algorithm: SigningAlgorithm,
    /// HS256 only: at least 32 bytes.
    pub secret: Option<SecretString>,
    /// ES256 / EdDSA: the signing key first, then older keys still accepted.
    pub keys: Vec<KeyFileConfig>,
    pub access_token_ttl_secs: i64,
    pub refresh_token_ttl_secs: i64,
}

impl Default for JwtSection {
    fn default() -> Self {
        Self {
            issuer: "wxauth".into(),
            audience: "wxauth".into(),
            algorithm: SigningAlgorithm::HS256,
            secret: None,
            keys: Vec::new(),
            access_token_ttl_secs: 900,
            refresh_token_ttl_secs: 30 * 24 * 3600,
        }
    }
}

/// wxauth as an OpenID Connect provider. Off until `issuer` is set.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct OidcSection {
    /// The public base URL relying parties discover the provider by, e.g.
    /// `https://auth.example.com`: `iss` in every token, and the prefix of every endpoint.
    pub issuer: Option<String>,
    /// The provider's signing keys: the first RS256 key with a private part signs, every key
    /// verifies and is published in the JWK Set.
    pub keys: Vec<OidcKeyFileConfig>,
    pub code_ttl_secs: i64,
    pub request_ttl_secs: i64,
    pub browser_session_ttl_secs: i64,
}

impl Default for OidcSection {
    fn default() -> Self {
        Self {
            issuer: None,
            keys: Vec::new(),
            code_ttl_secs: 60,
            request_ttl_secs: 600,
            browser_session_ttl_secs: 7 * 24 * 3600,
        }
    }
}

/// A provider key: a JWT key with its algorithm.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct OidcKeyFileConfig {
    pub algorithm: SigningAlgorithm,
    #[serde(flatten)]
    pub key: KeyFileConfig,
}

/// A JWT key given inline or as a file path.
#[derive(Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct KeyFileConfig {
    pub kid: String,
    #[serde(default)]
    pub private_key_pem: Option<SecretString>,
    #[serde(default)]
    pub private_key_file: Option<PathBuf>,
    #[serde(default)]
    pub public_key_pem: Option<String>,
    #[serde(default)]
    pub public_key_file: Option<PathBuf>,
}

impl KeyFileConfig {
    /// The key with its files read.
    fn load(&self, key: &str) -> Result<KeyConfig, ConfigError> {
        let read = |path: &PathBuf, what: &str| {
            std::fs::read_to_string(path).map_err(|e| {
                ConfigError::invalid(&format!("{key}.{what}"), format!("cannot be read: {e}"))
            })
        };
        let private = match (&self.private_key_pem, &self.private_key_file) {
            (Some(pem), _) => Some(pem.clone()),
            (None, Some(path)) => Some(SecretString::from(read(path, "private_key_file")?)),
            (None, None) => None,
        };
        let public = match (&self.public_key_pem, &self.public_key_file) {
            (Some(pem), _) => Some(pem.clone()),
            (None, Some(path)) => Some(read(path, "public_key_file")?),
            (None, None) => None,
        };
        Ok(KeyConfig {
            kid: self.kid.clone(),
            private_key_pem: private,
            public_key_pem: public,
        })
    }
}

impl std::fmt::Debug for KeyFileConfig {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("KeyFileConfig")
            .field("kid", &self.kid)
            .field("private_key_file", &self.private_key_file)
            .field("public_key_file", &self.public_key_file)
            .finish_non_exhaustive()
    }
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct WechatSection {
    pub api_base_url: String,
    pub open_base_url: String,
    pub mp_base_url: String,
    pub timeout_ms: u64,
    pub connect_timeout_ms: u64,
    /// Refresh an access token this long before it expires.
    pub token_refresh_margin_secs: u64,
}

impl Default for WechatSection {
    fn default() -> Self {
        Self {
            api_base_url: "https://api.weixin.qq.com".into(),
            open_base_url: "https://open.weixin.qq.com".into(),
            mp_base_url: "https://mp.weixin.qq.com".into(),
            timeout_ms: 5_000,
            connect_timeout_ms: 2_000,
            token_refresh_margin_secs: 300,
        }
    }
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct AuthSection {
    /// The app used when a request names none.
    pub default_app: Option<String>,
    pub bind_code_ttl_secs: i64,
    pub oauth_state_ttl_secs: i64,
    pub qr_login_ttl_secs: i64,
    pub app_cache_ttl_secs: i64,
    /// Days audit entries are kept; 0 keeps them forever.
    pub audit_retention_days: u32,
}

impl Default for AuthSection {
    fn default() -> Self {
        Self {
            default_app: None,
            bind_code_ttl_secs: 300,
            oauth_state_ttl_secs: 600,
            qr_login_ttl_secs: 300,
            app_cache_ttl_secs: 10,
            audit_retention_days: 365,
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum LogFormat {
    Pretty,
    Json,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct LogSection {
    pub format: LogFormat,
    /// A tracing filter; `RUST_LOG` overrides it.
    pub level: String,
}

impl Default for LogSection {
    fn default() -> Self {
        Self {
            format: LogFormat::Pretty,
            level: "info".into(),
        }
    }
}

/// One app declared in configuration; applied to the database at start-up.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct AppSection {
    pub kind: String,
    #[serde(default)]
    pub name: Option<String>,
    pub appid: String,
    pub secret: SecretString,
    #[serde(default = "default_registration")]
    pub registration: String,
    /// Allowed redirect targets (scheme, host, path prefix): a list, or one comma-separated
    /// string when set from the environment.
    #[serde(default, deserialize_with = "string_list")]
    pub redirect_allow_list: Vec<String>,
    #[serde(default)]
    pub event_token: Option<SecretString>,
    #[serde(default)]
    pub encoding_aes_key: Option<SecretString>,
    #[serde(default)]
    pub api_base_url: Option<String>,
    #[serde(default)]
    pub open_base_url: Option<String>,
    #[serde(default)]
    pub mp_base_url: Option<String>,
    /// How a Mini Program draws its scan-login code.
    #[serde(default)]
    pub qr_login: QrLoginSection,
    #[serde(default = "yes")]
    pub enabled: bool,
}

/// `apps.<key>.qr_login`: the Mini Program code of web scan-login; WeChat's defaults (the
/// release build's home page, path checked) for what is left out.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct QrLoginSection {
    #[serde(default)]
    pub page: Option<String>,
    #[serde(default)]
    pub env_version: Option<String>,
    #[serde(default)]
    pub check_path: Option<bool>,
}

fn default_registration() -> String {
    "open".into()
}

fn yes() -> bool {
    true
}

/// Redis, for rate limits every instance shares. Without a URL each instance keeps its own.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct RedisSection {
    /// `redis://[:password@]host:port/db`.
    pub url: Option<String>,
    /// The longest one rate-limit check waits for Redis.
    pub timeout_ms: u64,
    /// When Redis does not answer: `open` applies this instance's own limits, `closed` refuses
    /// with 503 RATE_LIMITER_UNAVAILABLE.
    pub fail: FailMode,
    /// Prepended to every key.
    pub key_prefix: String,
}

impl Default for RedisSection {
    fn default() -> Self {
        Self {
            url: None,
            timeout_ms: 100,
            fail: FailMode::Open,
            key_prefix: "wxauth:rl:".into(),
        }
    }
}

impl RedisSection {
    /// The shared limits' settings, when a URL is set.
    pub fn limits(&self) -> Option<RedisLimitsConfig> {
        let url = self.url.as_ref().filter(|u| !u.is_empty())?;
        Some(RedisLimitsConfig {
            url: url.clone(),
            timeout: Duration::from_millis(self.timeout_ms),
            fail: self.fail,
            key_prefix: self.key_prefix.clone(),
        })
    }
}

#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct Config {
    pub server: ServerSection,
    pub database: DatabaseSection,
    pub secrets: SecretsSection,
    pub jwt: JwtSection,
    pub oidc: OidcSection,
    pub wechat: WechatSection,
    pub auth: AuthSection,
    pub rate_limits: RateLimitConfig,
    pub redis: RedisSection,
    pub log: LogSection,
    /// Apps by key.
    pub apps: BTreeMap<String, AppSection>,
}

#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    #[error("configuration: {0}")]
    Load(String),
    #[error("configuration: {key} {problem} (set it in the configuration file or as {env})")]
    Invalid {
        key: String,
        problem: String,
        env: String,
    },
}

impl ConfigError {
    fn invalid(key: &str, problem: impl Into<String>) -> Self {
        Self::Invalid {
            key: key.to_owned(),
            problem: problem.into(),
            env: env_name(key),
        }
    }
}

/// `jwt.secret` → `WXAUTH__JWT__SECRET`.
pub fn env_name(key: &str) -> String {
    format!("{ENV_PREFIX}__{}", key.replace('.', "__").to_uppercase())
}

/// A list given as a TOML array or as one comma-separated string (from the environment).
fn string_list<'de, D: Deserializer<'de>>(de: D) -> Result<Vec<String>, D::Error> {
    #[derive(Deserialize)]
    #[serde(untagged)]
    enum OneOrMany {
        Many(Vec<String>),
        One(String),
    }
    Ok(match OneOrMany::deserialize(de)? {
        OneOrMany::Many(v) => v,
        OneOrMany::One(s) => s
            .split(',')
            .map(str::trim)
            .filter(|s| !s.is_empty())
            .map(str::to_owned)
            .collect(),
    })
}

fn secret_list<'de, D: Deserializer<'de>>(de: D) -> Result<Vec<SecretString>, D::Error> {
    Ok(string_list(de)?
        .into_iter()
        .map(SecretString::from)
        .collect())
}

impl Config {
    /// Loads the configuration: defaults, then `file` (if it exists; an explicitly given file
    /// must exist), then the environment (`env` replaces the process environment in tests).
    pub fn load(
        file: Option<&Path>,
        env: Option<std::collections::HashMap<String, String>>,
    ) -> Result<Self, ConfigError> {
        let mut builder = config::Config::builder();
        match file {
            Some(path) => {
                if !path.exists() {
                    return Err(ConfigError::Load(format!(
                        "{} does not exist",
                        path.display()
                    )));
                }
                builder = builder.add_source(config::File::from(path).required(true));
            }
            None => {
                builder = builder.add_source(config::File::with_name(DEFAULT_FILE).required(false));
            }
        }
        let env_source = config::Environment::with_prefix(ENV_PREFIX)
            .prefix_separator("__")
            .separator("__")
            .try_parsing(true)
            .source(env);
        builder = builder.add_source(env_source);
        let raw = builder
            .build()
            .map_err(|e| ConfigError::Load(e.to_string()))?;
        let config: Config = raw
            .try_deserialize()
            .map_err(|e| ConfigError::Load(describe(&e.to_string())))?;
        config.validate()?;
        Ok(config)
    }

    /// Checks what the types alone cannot.
    pub fn validate(&self) -> Result<(), ConfigError> {
        let Some(master) = &self.secrets.master_key else {
            return Err(ConfigError::invalid(
                "secrets.master_key",
                "is required: 32 random bytes in base64 (wxauth-server keys generate --kind master)",
            ));
        };
        check_not_placeholder("secrets.master_key", master)?;
        for previous in &self.secrets.previous_master_keys {
            check_not_placeholder("secrets.previous_master_keys", previous)?;
        }
        wxauth_persistence::SecretCipher::new(master, &self.secrets.previous_master_keys)
            .map_err(|e| ConfigError::invalid("secrets.master_key", e.to_string()))?;
        if wxauth_persistence::DatabaseKind::of_url(&self.database.url).is_none() {
            return Err(ConfigError::invalid(
                "database.url",
                "must start with sqlite:, postgres:// or mysql://",
            ));
        }
        if let Some(read_url) = &self.database.read_url
            && wxauth_persistence::DatabaseKind::of_url(read_url)
                != wxauth_persistence::DatabaseKind::of_url(&self.database.url)
        {
            return Err(ConfigError::invalid(
                "database.read_url",
                "must name a database of the same kind as database.url",
            ));
        }
        if self.database.read_url.is_some()
            && wxauth_persistence::DatabaseKind::of_url(&self.database.url)
                == Some(wxauth_persistence::DatabaseKind::Sqlite)
        {
            return Err(ConfigError::invalid(
                "database.read_url",
                "is for PostgreSQL and MySQL: SQLite reads beside its writer already",
            ));
        }
        if self.server.request_timeout_secs == 0 {
            return Err(ConfigError::invalid(
                "server.request_timeout_secs",
                "must be at least 1",
            ));
        }
        if let Some(url) = self.redis.url.as_deref().filter(|u| !u.is_empty())
            && !url.starts_with("redis://")
        {
            return Err(ConfigError::invalid(
                "redis.url",
                "must start with redis://",
            ));
        }
        if self.redis.timeout_ms == 0 {
            return Err(ConfigError::invalid(
                "redis.timeout_ms",
                "must be at least 1",
            ));
        }
        if self.server.max_connections == 0 {
            return Err(ConfigError::invalid(
                "server.max_connections",
                "must be at least 1",
            ));
        }
        if self.database.max_connections == 0 {
            return Err(ConfigError::invalid(
                "database.max_connections",
                "must be at least 1",
            ));
        }
        if let Some(secret) = &self.jwt.secret {
            check_not_placeholder("jwt.secret", secret)?;
        }
        self.jwt_config().map(|_| ())?;
        self.oidc_provider().map(|_| ())?;
        // Both key sets are published in one JWK Set: a kid must name one key.
        for (i, key) in self.oidc.keys.iter().enumerate() {
            if self.jwt.keys.iter().any(|k| k.kid == key.key.kid) {
                return Err(ConfigError::invalid(
                    &format!("oidc.keys[{i}].kid"),
                    format!(
                        "{:?} is also a kid of jwt.keys: give each key its own",
                        key.key.kid
                    ),
                ));
            }
        }
        if self.jwt.access_token_ttl_secs < 60 || self.jwt.access_token_ttl_secs > 24 * 3600 {
            return Err(ConfigError::invalid(
                "jwt.access_token_ttl_secs",
                "must be 60 to 86400",
            ));
        }
        if self.jwt.refresh_token_ttl_secs < 3600 {
            return Err(ConfigError::invalid(
                "jwt.refresh_token_ttl_secs",
                "must be at least 3600",
            ));
        }
        for (key, value) in [
            ("wechat.api_base_url", &self.wechat.api_base_url),
            ("wechat.open_base_url", &self.wechat.open_base_url),
            ("wechat.mp_base_url", &self.wechat.mp_base_url),
        ] {
            check_url(key, value)?;
        }
        for (name, ttl) in [
            ("auth.bind_code_ttl_secs", self.auth.bind_code_ttl_secs),
            ("auth.oauth_state_ttl_secs", self.auth.oauth_state_ttl_secs),
            ("auth.qr_login_ttl_secs", self.auth.qr_login_ttl_secs),
        ] {
            if !(60..=3600).contains(&ttl) {
                return Err(ConfigError::invalid(name, "must be 60 to 3600 seconds"));
            }
        }
        if let Some(default) = &self.auth.default_app
            && !self.apps.contains_key(default)
        {
            // An app created through the admin API may be the default too; only the form is
            // checked here.
            wxauth_domain::AppKey::parse(default.as_str())
                .map_err(|e| ConfigError::invalid("auth.default_app", e.reason))?;
        }
        for (key, app) in &self.apps {
            self.app_draft(key, app)?;
        }
        Ok(())
    }

    pub fn jwt_config(&self) -> Result<wxauth_tokens::JwtConfig, ConfigError> {
        let mut keys = Vec::new();
        for (i, k) in self.jwt.keys.iter().enumerate() {
            keys.push(k.load(&format!("jwt.keys[{i}]"))?);
        }
        let config = wxauth_tokens::JwtConfig {
            issuer: self.jwt.issuer.clone(),
            audience: self.jwt.audience.clone(),
            algorithm: self.jwt.algorithm,
            secret: self.jwt.secret.clone(),
            keys,
        };
        wxauth_tokens::JwtSigner::new(&config).map_err(|e| {
            let key = match e {
                wxauth_tokens::JwtConfigError::WeakSecret => "jwt.secret",
                _ => "jwt.keys",
            };
            ConfigError::invalid(key, e.to_string())
        })?;
        Ok(config)
    }

    /// The OpenID provider, when `oidc.issuer` is set: its keys loaded and checked.
    pub fn oidc_provider(&self) -> Result<Option<wxauth_core::oidc::OidcProvider>, ConfigError> {
        let Some(issuer) = self.oidc.issuer.as_deref().filter(|i| !i.trim().is_empty()) else {
            return Ok(None);
        };
        let url = url::Url::parse(issuer)
            .map_err(|_| ConfigError::invalid("oidc.issuer", "must be an absolute URL"))?;
        let local = matches!(url.host_str(), Some("localhost" | "127.0.0.1"));
        if !(url.scheme() == "https" || (url.scheme() == "http" && local))
            || url.query().is_some()
            || url.fragment().is_some()
        {
            return Err(ConfigError::invalid(
                "oidc.issuer",
                "must be an https URL without query or fragment (http only to localhost)",
            ));
        }
        let mut keys = Vec::new();
        for (i, k) in self.oidc.keys.iter().enumerate() {
            let loaded = k.key.load(&format!("oidc.keys[{i}]"))?;
            keys.push(wxauth_tokens::ProviderKeyConfig {
                kid: loaded.kid,
                algorithm: k.algorithm,
                private_key_pem: loaded.private_key_pem,
                public_key_pem: loaded.public_key_pem,
            });
        }
        let signer = wxauth_tokens::ProviderKeys::new(&keys)
            .map_err(|e| ConfigError::invalid("oidc.keys", e.to_string()))?;
        let mut settings = wxauth_core::oidc::OidcSettings::new(issuer);
        let secs = |key: &str, v: i64, range: std::ops::RangeInclusive<i64>| {
            if range.contains(&v) {
                Ok(time::Duration::seconds(v))
            } else {
                Err(ConfigError::invalid(
                    key,
                    format!("must be {} to {} seconds", range.start(), range.end()),
                ))
            }
        };
        settings.code_ttl = secs("oidc.code_ttl_secs", self.oidc.code_ttl_secs, 10..=60)?;
        settings.request_ttl = secs(
            "oidc.request_ttl_secs",
            self.oidc.request_ttl_secs,
            60..=3600,
        )?;
        settings.browser_session_ttl = secs(
            "oidc.browser_session_ttl_secs",
            self.oidc.browser_session_ttl_secs,
            300..=90 * 24 * 3600,
        )?;
        Ok(Some(wxauth_core::oidc::OidcProvider {
            signer: std::sync::Arc::new(signer),
            settings,
        }))
    }

    /// The configured app as the use cases' draft, validated by the same rules as the admin
    /// API's apps (core's `AppDraft::parse`); a refusal names the setting.
    pub fn app_draft(
        &self,
        key: &str,
        app: &AppSection,
    ) -> Result<wxauth_core::AppDraft, ConfigError> {
        let spec = wxauth_core::AppSpec {
            key: key.to_owned(),
            kind: app.kind.clone(),
            name: app.name.clone(),
            appid: app.appid.clone(),
            secret: Some(app.secret.clone()),
            registration: Some(app.registration.clone()),
            redirect_allow_list: app.redirect_allow_list.clone(),
            event_token: app.event_token.clone(),
            encoding_aes_key: app.encoding_aes_key.clone(),
            api_base_url: app.api_base_url.clone(),
            open_base_url: app.open_base_url.clone(),
            mp_base_url: app.mp_base_url.clone(),
            qr_login: wxauth_core::QrLoginSpec {
                page: app.qr_login.page.clone(),
                env_version: app.qr_login.env_version.clone(),
                check_path: app.qr_login.check_path,
            },
            enabled: Some(app.enabled),
        };
        wxauth_core::AppDraft::parse(spec, None, wxauth_core::AppSource::Config).map_err(|e| {
            let setting = match e.field.as_ref() {
                "key" => format!("apps.{key}"),
                field => format!("apps.{key}.{}", snake_case(field)),
            };
            ConfigError::invalid(&setting, e.reason)
        })
    }

    pub fn settings(&self) -> Result<wxauth_core::Settings, ConfigError> {
        let default_app = self
            .auth
            .default_app
            .as_deref()
            .map(wxauth_domain::AppKey::parse)
            .transpose()
            .map_err(|e| ConfigError::invalid("auth.default_app", e.reason))?;
        Ok(wxauth_core::Settings {
            access_token_ttl: time::Duration::seconds(self.jwt.access_token_ttl_secs),
            refresh_token_ttl: time::Duration::seconds(self.jwt.refresh_token_ttl_secs),
            bind_code_ttl: time::Duration::seconds(self.auth.bind_code_ttl_secs),
            oauth_state_ttl: time::Duration::seconds(self.auth.oauth_state_ttl_secs),
            qr_login_ttl: time::Duration::seconds(self.auth.qr_login_ttl_secs),
            default_app,
            app_cache_ttl: time::Duration::seconds(self.auth.app_cache_ttl_secs),
        })
    }
}

/// The setting's name for a field the use cases report in camelCase: `encodingAesKey` →
/// `encoding_aes_key`.
fn snake_case(field: &str) -> String {
    let mut out = String::with_capacity(field.len() + 4);
    for c in field.chars() {
        if c.is_ascii_uppercase() {
            out.push('_');
            out.push(c.to_ascii_lowercase());
        } else {
            out.push(c);
        }
    }
    out
}

/// Refuses a secret that is visibly a placeholder (`CHANGE-ME…`, `<your secret>`, `xxxx`): a
/// stack copied from `.env.example` must not start with a key printed in the repository.
fn check_not_placeholder(key: &str, value: &SecretString) -> Result<(), ConfigError> {
    match wxauth_domain::secret::placeholder_reason(value.expose_secret()) {
        Some(reason) => Err(ConfigError::invalid(key, reason)),
        None => Ok(()),
    }
}

fn check_url(key: &str, value: &str) -> Result<(), ConfigError> {
    match url::Url::parse(value) {
        Ok(u) if matches!(u.scheme(), "http" | "https") => Ok(()),
        _ => Err(ConfigError::invalid(key, "must be an http(s) URL")),
    }
}

/// Turns the config crate's messages ("unknown field `x`, expected one of … for key `jwt`")
/// into one line naming the setting.
fn describe(message: &str) -> String {
    let key = message
        .rsplit_once("for key `")
        .and_then(|(_, rest)| rest.split('`').next());
    let unknown = message
        .strip_prefix("unknown field `")
        .and_then(|r| r.split('`').next());
    match (unknown, key) {
        (Some(field), Some(section)) => {
            format!("{section}.{field} is not a setting (a typo?)")
        }
        (Some(field), None) => format!("{field} is not a setting (a typo?)"),
        (None, Some(key)) => format!(
            "{key}: {}",
            message.split(" for key").next().unwrap_or(message)
        ),
        (None, None) => message.to_owned(),
    }
}

#[cfg(test)]
mod tests;
