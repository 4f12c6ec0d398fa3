//! The composition root: builds every adapter from the configuration, wires them into the use
//! cases and the HTTP layer, and binds the server.

use std::net::TcpListener;
use std::sync::Arc;
use std::time::Duration;

use actix_http::{HttpService, KeepAlive, Protocol};
use actix_service::{IntoServiceFactory, ServiceFactoryExt, fn_service, map_config};
use actix_web::dev::{AppConfig, Server, ServerHandle};
use actix_web::middleware::{Compress, from_fn};
use actix_web::{App, web};
use anyhow::Context;
use wxauth_core::ports::RateLimiter;
use wxauth_core::ports::SystemClock;
use wxauth_core::{Ports, Wxauth};
use wxauth_http::metrics::PoolStats;
use wxauth_http::{HttpOptions, HttpState, Metrics};
use wxauth_limits::{LocalLimits, RedisLimits};
use wxauth_persistence::{AccessTokenCache, Database, SecretCipher, SqlStore};
use wxauth_tokens::JwtSigner;

use crate::config::Config;
use crate::listener::{ConnectionLimits, Gate, Guarded};
use crate::wechat::WechatGateway;

/// Everything the server and the CLI subcommands share.
pub struct Components {
    pub config: Config,
    pub store: SqlStore,
    pub wxauth: Arc<Wxauth>,
    pub metrics: Arc<Metrics>,
    /// This instance's own limits: the limiter without Redis, the fallback with it.
    pub limits: Arc<LocalLimits>,
}

impl Components {
    /// Connects to the database and builds the use cases. Migrations run only when `migrate`
    /// is set; config apps are applied only when `sync_apps` is set.
    pub async fn build(config: Config, migrate: bool, sync_apps: bool) -> anyhow::Result<Self> {
        let cipher = Arc::new(
            SecretCipher::new(
                config
                    .secrets
                    .master_key
                    .as_ref()
                    .context("secrets.master_key is required")?,
                &config.secrets.previous_master_keys,
            )
            .context("secrets.master_key")?,
        );
        let db = Database::connect(&config.database.connection())
            .await
            .with_context(|| {
                format!(
                    "cannot connect to the database ({})",
                    redact_url(&config.database.url)
                )
            })?;
        if migrate {
            db.migrate()
                .await
                .context("cannot apply database migrations")?;
        }
        let store = SqlStore::new(db.clone(), cipher.clone());
        let metrics = Arc::new(Metrics::new());
        probe_pools(&metrics, &db);
        let signer = JwtSigner::new(&config.jwt_config()?).context("jwt")?;
        let gateway = Arc::new(WechatGateway::new(
            &config.wechat,
            AccessTokenCache::new(db.clone(), cipher.clone()),
            metrics.clone(),
        )?);
        let limits = Arc::new(LocalLimits::new(&config.rate_limits));
        let limiter: Arc<dyn RateLimiter> = match config.redis.limits() {
            Some(redis) => {
                let metrics = metrics.clone();
                Arc::new(
                    RedisLimits::new(&config.rate_limits, limits.clone(), &redis, move || {
                        metrics.observe_limiter_unavailable()
                    })
                    .with_context(|| format!("redis.url ({})", redact_url(&redis.url)))?,
                )
            }
            None => limits.clone(),
        };
        let mut wxauth = Wxauth::new(
            Ports {
                store: Arc::new(store.clone()),
                wechat: gateway.clone(),
                crypto: gateway,
                signer: Arc::new(signer),
                clock: Arc::new(SystemClock),
                limiter,
                telemetry: metrics.clone(),
            },
            config.settings()?,
        );
        if let Some(provider) = config.oidc_provider()? {
            wxauth = wxauth.with_oidc(provider);
        }
        let wxauth = Arc::new(wxauth);
        if sync_apps {
            for (key, app) in &config.apps {
                let draft = config.app_draft(key, app)?;
                wxauth
                    .apps()
                    .upsert(&draft)
                    .await
                    .with_context(|| format!("cannot apply app {key}"))?;
            }
        }
        Ok(Self {
            config,
            store,
            wxauth,
            metrics,
            limits,
        })
    }
}

fn probe_pools(metrics: &Metrics, db: &Database) {
    let db = db.clone();
    metrics.set_pool_probe(move || {
        db.pool_stats()
            .into_iter()
            .map(|p| PoolStats {
                pool: p.pool,
                size: p.size,
                idle: p.idle,
                max: p.max,
            })
            .collect()
    });
}

/// `postgres://user:password@host/db` → `postgres://user:***@host/db`.
pub fn redact_url(url: &str) -> String {
    match url::Url::parse(url) {
        Ok(mut u) if u.password().is_some() => {
            let _ = u.set_password(Some("***"));
            u.to_string()
        }
        _ => url.to_owned(),
    }
}

pub struct Application {
    server: Server,
    port: u16,
    components_wxauth: Arc<Wxauth>,
    housekeeping: tokio::task::JoinHandle<()>,
    qr_login_sync: tokio::task::JoinHandle<()>,
}

impl Application {
    pub async fn build(config: Config) -> anyhow::Result<Self> {
        let migrate = config.database.migrate_on_start;
        let components = Components::build(config, migrate, true).await?;
        Self::from_components(components)
    }

    pub fn from_components(components: Components) -> anyhow::Result<Self> {
        let Components {
            config,
            wxauth,
            metrics,
            store,
            limits,
        } = components;
        let listener = TcpListener::bind(config.server.listen)
            .with_context(|| format!("cannot listen on {}", config.server.listen))?;
        let port = listener.local_addr()?.port();
        let state = web::Data::new(HttpState::new(
            wxauth.clone(),
            metrics,
            HttpOptions {
                trust_forwarded_for: config.server.trust_forwarded_for,
                compat_routes: config.server.compat_routes,
                swagger_ui: config.server.swagger_ui,
                demo_page: config.server.demo_page,
                compat_mini_program_app: config.server.compat_mini_program_app.clone(),
                compat_official_app: config.server.compat_official_app.clone(),
                demo_scanner: config.server.demo_scanner.clone(),
                request_timeout: Duration::from_secs(config.server.request_timeout_secs),
            },
        ));
        let housekeeping = tokio::spawn(crate::housekeeping::run(
            limits,
            store,
            wxauth.clone(),
            config.auth.audit_retention_days,
        ));
        let qr_login_sync =
            tokio::spawn(crate::housekeeping::sync_qr_login_watchers(wxauth.clone()));
        let gate = Gate::new(ConnectionLimits {
            max: config.server.max_connections,
            per_ip: if config.server.max_connections_per_ip == 0 {
                usize::MAX
            } else {
                config.server.max_connections_per_ip
            },
        });
        let local = listener.local_addr()?;
        let builder = actix_server::Server::build();
        let shutdown = builder.graceful_shutdown_signal();
        let mut server = builder
            .shutdown_timeout(config.server.shutdown_timeout_secs)
            .listen("wxauth", listener, move || {
                let app_state = state.clone();
                let app = App::new()
                    .wrap(from_fn(wxauth_http::request_id::observe))
                    .wrap(Compress::default())
                    .configure(move |cfg| wxauth_http::configure(cfg, app_state));
                let shutdown = shutdown.clone();
                let http = HttpService::build()
                    // Idle keep-alive connections close at once on shutdown instead of holding
                    // it up until they time out.
                    .graceful_shutdown_signal(move || {
                        let shutdown = shutdown.clone();
                        async move { shutdown.notified().await }
                    })
                    .keep_alive(KeepAlive::Timeout(Duration::from_secs(5)))
                    .client_request_timeout(Duration::from_secs(5))
                    .client_disconnect_timeout(Duration::from_secs(1))
                    .tcp_nodelay(true)
                    .local_addr(local)
                    .finish(map_config(
                        app.into_factory()
                            .map_err(|e: actix_web::Error| e.as_response_error().error_response()),
                        // The config's host and address serve only `url_for`, which no route uses.
                        |_| AppConfig::default(),
                    ));
                let gate = gate.clone();
                fn_service(move |mut io: tokio::net::TcpStream| {
                    let gate = gate.clone();
                    async move {
                        let _ = io.set_nodelay(true);
                        let peer = io.peer_addr().ok();
                        let ip = peer.map_or(std::net::Ipv4Addr::UNSPECIFIED.into(), |p| p.ip());
                        match gate.enter(ip) {
                            Ok(ticket) => Ok((Guarded::new(io, ticket), Protocol::Http1, peer)),
                            Err(why) => {
                                crate::listener::refuse(&mut io, why).await;
                                Err(actix_http::error::DispatchError::Io(
                                    std::io::ErrorKind::ConnectionRefused.into(),
                                ))
                            }
                        }
                    }
                })
                .and_then(http)
            })?;
        if config.server.workers > 0 {
            server = server.workers(config.server.workers);
        }
        Ok(Self {
            server: server.run(),
            port,
            components_wxauth: wxauth,
            housekeeping,
            qr_login_sync,
        })
    }

    pub fn port(&self) -> u16 {
        self.port
    }

    pub fn handle(&self) -> ServerHandle {
        self.server.handle()
    }

    pub fn wxauth(&self) -> &Arc<Wxauth> {
        &self.components_wxauth
    }

    /// Serves until the server is stopped (SIGINT/SIGTERM or [`ServerHandle::stop`]), then
    /// stops the background work.
    pub async fn run_until_stopped(self) -> std::io::Result<()> {
        let result = self.server.await;
        self.housekeeping.abort();
        let _ = self.housekeeping.await;
        self.qr_login_sync.abort();
        let _ = self.qr_login_sync.await;
        result
    }
}
