//! Connecting to the database the URL names, applying migrations, and telling whether the
//! database serves.
//!
//! SQLite gets one writer connection and a pool of read-only connections over a WAL journal:
//! SQLite runs one write at a time anyway, and queuing writers in the pool is far cheaper than
//! letting them spin on the file lock. PostgreSQL and MySQL use one pool for both, or a second
//! one on a read replica for the read path.
//!
//! Every connection carries a statement timeout and a lock timeout (SQLite: a busy timeout), so
//! a stalled database answers "unavailable" within a bound instead of holding the request.

use std::time::Duration;

use migration::{Migrator, MigratorTrait};
use sea_orm::sqlx::mysql::MySqlConnectOptions;
use sea_orm::sqlx::pool::PoolOptions;
use sea_orm::sqlx::postgres::PgConnectOptions;
use sea_orm::sqlx::sqlite::{SqliteConnectOptions, SqliteJournalMode, SqliteSynchronous};
use sea_orm::sqlx::{self, ConnectOptions as _, Connection as _};
use sea_orm::{
    ConnectionTrait, DatabaseBackend, DatabaseConnection, DbErr, RuntimeErr, SqlxMySqlConnector,
    SqlxPostgresConnector, SqlxSqliteConnector,
};
use wxauth_core::RepoError;

use crate::connection::{Pool, ReadPath};
use crate::errors::{db_err, idle_since_a_lost_connection};
use crate::write_queue::{WritePool, WriteQueue};

/// A pooled connection that sat idle this long is pinged before it is handed out (and replaced
/// if the database closed it). sqlx's default pings on every checkout, which doubles the round
/// trips of a one-query request; a connection used within the last second needs no proof that
/// it works — unless a connection was lost since it was last used.
const PING_IF_IDLE_FOR: Duration = Duration::from_secs(1);

#[derive(Debug, Clone)]
pub struct DatabaseConfig {
    /// `sqlite://path?mode=rwc`, `postgres://…` or `mysql://…`.
    pub url: String,
    /// A read replica of a PostgreSQL or MySQL primary, for the read path.
    pub read_url: Option<String>,
    /// PostgreSQL through a transaction-pooling pgbouncer: statements use the simple query
    /// protocol (no prepared statements) and no session settings are sent.
    pub pgbouncer: bool,
    /// Pool size for PostgreSQL and MySQL (each pool); the read pool size for SQLite.
    pub max_connections: u32,
    pub min_connections: u32,
    pub acquire_timeout: Duration,
    /// The longest one statement may run; zero means no limit.
    pub statement_timeout: Duration,
    /// The longest a statement waits for a lock (SQLite: for the write lock).
    pub lock_timeout: Duration,
    /// Group-commit writers for PostgreSQL and MySQL (SQLite has one).
    pub writers: usize,
}

impl Default for DatabaseConfig {
    fn default() -> Self {
        Self {
            url: "sqlite://data/wxauth.db?mode=rwc".into(),
            read_url: None,
            pgbouncer: false,
            max_connections: 16,
            min_connections: 1,
            acquire_timeout: Duration::from_secs(5),
            statement_timeout: Duration::from_secs(5),
            lock_timeout: Duration::from_secs(2),
            writers: 2,
        }
    }
}

/// How busy one connection pool is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct PoolUsage {
    pub pool: &'static str,
    pub size: u32,
    pub idle: u32,
    pub max: u32,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DatabaseKind {
    Sqlite,
    Postgres,
    MySql,
}

impl DatabaseKind {
    pub fn of_url(url: &str) -> Option<Self> {
        if url.starts_with("sqlite:") {
            Some(Self::Sqlite)
        } else if url.starts_with("postgres://") || url.starts_with("postgresql://") {
            Some(Self::Postgres)
        } else if url.starts_with("mysql://") || url.starts_with("mariadb://") {
            Some(Self::MySql)
        } else {
            None
        }
    }

    pub fn as_str(self) -> &'static str {
        match self {
            Self::Sqlite => "sqlite",
            Self::Postgres => "postgres",
            Self::MySql => "mysql",
        }
    }
}

/// The pools one backend was opened with.
#[derive(Debug, Clone)]
enum Pools {
    Sqlite {
        write: sqlx::SqlitePool,
        read: sqlx::SqlitePool,
    },
    Postgres {
        primary: sqlx::PgPool,
        replica: Option<sqlx::PgPool>,
    },
    MySql {
        primary: sqlx::MySqlPool,
        replica: Option<sqlx::MySqlPool>,
    },
}

/// The connections wxauth uses: `write` for transactions, `read` for read-only statements, and
/// the group-commit writers for transactions that only write.
#[derive(Debug, Clone)]
pub struct Database {
    pub(crate) write: Pool,
    pub(crate) read: ReadPath,
    pub(crate) write_queue: WriteQueue,
    /// How long the readiness probe may take.
    probe_timeout: Duration,
    lock_timeout: Duration,
    /// What identifies the database within this process (its URL).
    url: std::sync::Arc<str>,
    /// sea-orm's own connection to the primary, for migrations and tools.
    admin: DatabaseConnection,
    pools: Pools,
    kind: DatabaseKind,
}

impl Database {
    pub async fn connect(config: &DatabaseConfig) -> Result<Self, DbErr> {
        let kind = DatabaseKind::of_url(&config.url).ok_or_else(|| {
            DbErr::Custom("database.url must start with sqlite:, postgres:// or mysql://".into())
        })?;
        let max = config.max_connections.max(1);
        match kind {
            DatabaseKind::Sqlite => {
                let url = &config.url;
                create_parent_dir(url)?;
                let options = sqlite_tuning(
                    url.parse::<SqliteConnectOptions>().map_err(conn_err)?,
                    config,
                );
                // A group commit is hundreds of statements, each sending its result back over
                // the connection's channel: with room for all of them, SQLite's thread runs the
                // group through instead of waiting for the reader every 50 results.
                let write_options = options
                    .clone()
                    .create_if_missing(true)
                    .row_buffer_size(4096);
                let write = pool_options::<sqlx::Sqlite>(config, 1, 1)
                    .connect_with(write_options)
                    .await
                    .map_err(conn_err)?;
                // The writer created the file and the WAL; readers may now open it read-only.
                let read = pool_options::<sqlx::Sqlite>(config, max, config.min_connections)
                    .connect_with(options.read_only(true))
                    .await
                    .map_err(conn_err)?;
                let queue = start_queue(WritePool::Sqlite(write.clone()), 1)?;
                let admin = SqlxSqliteConnector::from_sqlx_sqlite_pool(write.clone());
                Ok(Self {
                    write: Pool::SeaOrm(admin.clone()),
                    // Each statement is a hand-off to the connection's own thread and back
                    // (sqlx runs SQLite there): batched, concurrent reads share one.
                    read: ReadPath::new(
                        Pool::SeaOrm(SqlxSqliteConnector::from_sqlx_sqlite_pool(read.clone())),
                        None,
                    )
                    .batching(),
                    write_queue: queue,
                    probe_timeout: probe_timeout(config),
                    lock_timeout: config.lock_timeout,
                    url: config.url.as_str().into(),
                    admin,
                    pools: Pools::Sqlite { write, read },
                    kind,
                })
            }
            DatabaseKind::Postgres => {
                let connect = |url: &str| {
                    let options = postgres_options(url, config)?;
                    Ok::<_, DbErr>(
                        pool_options::<sqlx::Postgres>(config, max, config.min_connections)
                            .connect_with(options),
                    )
                };
                let primary = connect(&config.url)?.await.map_err(conn_err)?;
                let replica = match &config.read_url {
                    Some(url) => Some(connect(url)?.await.map_err(conn_err)?),
                    None => None,
                };
                let wrap = |pool: &sqlx::PgPool| {
                    if config.pgbouncer {
                        Pool::SimplePg(pool.clone())
                    } else {
                        Pool::SeaOrm(SqlxPostgresConnector::from_sqlx_postgres_pool(pool.clone()))
                    }
                };
                let write = wrap(&primary);
                let read = ReadPath::new(write.clone(), replica.as_ref().map(wrap)).batching();
                let queue = start_queue(WritePool::Postgres(primary.clone()), config.writers)?;
                Ok(Self {
                    write,
                    read,
                    write_queue: queue,
                    probe_timeout: probe_timeout(config),
                    lock_timeout: config.lock_timeout,
                    url: config.url.as_str().into(),
                    admin: SqlxPostgresConnector::from_sqlx_postgres_pool(primary.clone()),
                    pools: Pools::Postgres { primary, replica },
                    kind,
                })
            }
            DatabaseKind::MySql => {
                let connect = |url: &str| {
                    // sqlx knows MariaDB by its MySQL scheme.
                    let options = url
                        .replacen("mariadb://", "mysql://", 1)
                        .parse::<MySqlConnectOptions>()
                        .map_err(conn_err)?
                        .disable_statement_logging();
                    Ok::<_, DbErr>(mysql_pool_options(config, max).connect_with(options))
                };
                let primary = connect(&config.url)?.await.map_err(conn_err)?;
                let replica = match &config.read_url {
                    Some(url) => Some(connect(url)?.await.map_err(conn_err)?),
                    None => None,
                };
                let wrap = |pool: &sqlx::MySqlPool| {
                    Pool::SeaOrm(SqlxMySqlConnector::from_sqlx_mysql_pool(pool.clone()))
                };
                let write = wrap(&primary);
                let read = ReadPath::new(write.clone(), replica.as_ref().map(wrap)).batching();
                let queue = start_queue(WritePool::MySql(primary.clone()), config.writers)?;
                Ok(Self {
                    write,
                    read,
                    write_queue: queue,
                    probe_timeout: probe_timeout(config),
                    lock_timeout: config.lock_timeout,
                    url: config.url.as_str().into(),
                    admin: SqlxMySqlConnector::from_sqlx_mysql_pool(primary.clone()),
                    pools: Pools::MySql { primary, replica },
                    kind,
                })
            }
        }
    }

    /// Applies pending migrations. Behind pgbouncer, run them with a direct URL: migrations use
    /// prepared statements.
    pub async fn migrate(&self) -> Result<(), DbErr> {
        Migrator::up(&self.admin, None).await
    }

    /// Names of the migrations not applied yet.
    pub async fn pending_migrations(&self) -> Result<Vec<String>, DbErr> {
        let pending = Migrator::get_pending_migrations(&self.admin).await?;
        Ok(pending.iter().map(|m| m.name().to_owned()).collect())
    }

    /// Whether the database serves reads and writes now, within `timeout`: a real connection
    /// (retried once if the first one turns out dead), and the hot tables lockable for writing,
    /// so a table locked by someone else (or a stuck write path) reads as not ready.
    pub async fn probe(&self, timeout: Duration) -> Result<(), RepoError> {
        let probe = async {
            self.read
                .query_one(self.probe_read())
                .await
                .map_err(db_err)?;
            match self.kind {
                // SQLite's write lock is the writer's: a stuck writer shows as a stuck queue.
                DatabaseKind::Sqlite => self.write_queue.stalled(timeout).map_or(Ok(()), Err),
                _ => {
                    let statement = self.probe_write();
                    match self.write.execute(statement.clone()).await {
                        Err(e) if crate::errors::connection_lost_db(&e) => {
                            self.write.execute(statement).await.map(|_| ())
                        }
                        other => other.map(|_| ()),
                    }
                    .map_err(db_err)?;
                    self.write_queue.stalled(timeout).map_or(Ok(()), Err)
                }
            }
        };
        match tokio::time::timeout(timeout, probe).await {
            Ok(result) => result,
            Err(_) => Err(RepoError::unavailable(format!(
                "the database did not answer the readiness probe within {} ms",
                timeout.as_millis()
            ))),
        }
    }

    pub fn probe_timeout(&self) -> Duration {
        self.probe_timeout
    }

    /// The longest a statement waits for a lock.
    pub fn lock_timeout(&self) -> Duration {
        self.lock_timeout
    }

    /// The URL it was opened with.
    pub(crate) fn url(&self) -> &str {
        &self.url
    }

    fn probe_read(&self) -> sea_orm::Statement {
        sea_orm::Statement::from_string(self.backend(), "SELECT 1".to_owned())
    }

    /// Takes (and at once releases) the row locks a sign-in needs on its tables, without
    /// touching a row: blocked by a table lock, answered at once otherwise.
    fn probe_write(&self) -> sea_orm::Statement {
        sea_orm::Statement::from_string(
            self.backend(),
            "SELECT 1 FROM users, wechat_identities, refresh_tokens, audit_log LIMIT 0 FOR UPDATE"
                .to_owned(),
        )
    }

    /// Connection counts per pool, for the metrics endpoint.
    pub fn pool_stats(&self) -> Vec<PoolUsage> {
        fn usage<DB: sqlx::Database>(name: &'static str, pool: &sqlx::Pool<DB>) -> PoolUsage {
            PoolUsage {
                pool: name,
                size: pool.size(),
                idle: u32::try_from(pool.num_idle()).unwrap_or(u32::MAX),
                max: pool.options().get_max_connections(),
            }
        }
        match &self.pools {
            Pools::Sqlite { write, read } => vec![usage("write", write), usage("read", read)],
            Pools::Postgres { primary, replica } => std::iter::once(usage("main", primary))
                .chain(replica.iter().map(|r| usage("replica", r)))
                .collect(),
            Pools::MySql { primary, replica } => std::iter::once(usage("main", primary))
                .chain(replica.iter().map(|r| usage("replica", r)))
                .collect(),
        }
    }

    pub fn kind(&self) -> DatabaseKind {
        self.kind
    }

    pub fn backend(&self) -> DatabaseBackend {
        self.write.backend()
    }

    /// sea-orm's connection to the primary, for tools and tests that need raw SQL.
    pub fn connection(&self) -> &DatabaseConnection {
        &self.admin
    }

    pub async fn close(self) -> Result<(), DbErr> {
        match &self.pools {
            Pools::Sqlite { write, read } => {
                read.close().await;
                write.close().await;
            }
            Pools::Postgres { primary, replica } => {
                if let Some(r) = replica {
                    r.close().await;
                }
                primary.close().await;
            }
            Pools::MySql { primary, replica } => {
                if let Some(r) = replica {
                    r.close().await;
                }
                primary.close().await;
            }
        }
        Ok(())
    }
}

/// Long enough for a probe to wait out a lock shorter than the lock timeout.
fn probe_timeout(config: &DatabaseConfig) -> Duration {
    config.lock_timeout + Duration::from_secs(1)
}

fn start_queue(pool: WritePool, writers: usize) -> Result<WriteQueue, DbErr> {
    WriteQueue::start(pool, writers)
        .map_err(|e| DbErr::Custom(format!("cannot start the database writer: {e}")))
}

/// SQLite creates the database file but not its directory; a fresh checkout has no `data/`.
fn create_parent_dir(url: &str) -> Result<(), DbErr> {
    let path = url
        .trim_start_matches("sqlite://")
        .trim_start_matches("sqlite:");
    let path = path.split('?').next().unwrap_or_default();
    if path.is_empty() || path.starts_with(':') {
        return Ok(()); // in memory
    }
    match std::path::Path::new(path).parent() {
        Some(dir) if !dir.as_os_str().is_empty() => std::fs::create_dir_all(dir)
            .map_err(|e| DbErr::Custom(format!("cannot create {}: {e}", dir.display()))),
        _ => Ok(()),
    }
}

fn conn_err(e: sqlx::Error) -> DbErr {
    DbErr::Conn(RuntimeErr::SqlxError(e))
}

fn pool_options<DB: sqlx::Database>(
    config: &DatabaseConfig,
    max: u32,
    min: u32,
) -> PoolOptions<DB> {
    PoolOptions::new()
        .max_connections(max)
        .min_connections(min.min(max))
        .acquire_timeout(config.acquire_timeout)
        .test_before_acquire(false)
        .before_acquire(|conn: &mut DB::Connection, meta| {
            Box::pin(async move {
                // Idle a while, or idle since a connection was lost (the database may have
                // restarted): prove it works, or let the pool replace it.
                if meta.idle_for >= PING_IF_IDLE_FOR || idle_since_a_lost_connection(meta.idle_for)
                {
                    conn.ping().await?;
                }
                Ok(true)
            })
        })
}

fn millis(d: Duration) -> String {
    d.as_millis().to_string()
}

/// PostgreSQL: the timeouts ride on the startup packet, so every connection has them from its
/// first statement. pgbouncer refuses unknown startup parameters, and a `SET` there would leak
/// to other clients: behind it, set the timeouts on the role (`ALTER ROLE … SET …`).
fn postgres_options(url: &str, config: &DatabaseConfig) -> Result<PgConnectOptions, DbErr> {
    let options = url
        .parse::<PgConnectOptions>()
        .map_err(conn_err)?
        .disable_statement_logging();
    if config.pgbouncer {
        return Ok(options.statement_cache_capacity(0));
    }
    Ok(options.options([
        ("statement_timeout", millis(config.statement_timeout)),
        ("lock_timeout", millis(config.lock_timeout)),
        // A connection must not keep a transaction (and its locks) open forever.
        (
            "idle_in_transaction_session_timeout",
            millis(config.statement_timeout.max(Duration::from_secs(1)) * 6),
        ),
    ]))
}

/// MySQL and MariaDB take their timeouts as session variables, set on every new connection.
/// MariaDB calls the statement timeout `max_statement_time` (seconds), MySQL
/// `max_execution_time` (milliseconds, SELECT only).
fn mysql_pool_options(config: &DatabaseConfig, max: u32) -> PoolOptions<sqlx::MySql> {
    let lock_secs = config.lock_timeout.as_secs().max(1);
    let statement = config.statement_timeout;
    pool_options::<sqlx::MySql>(config, max, config.min_connections).after_connect(
        move |conn, _meta| {
            Box::pin(async move {
                let locks = format!(
                    "SET SESSION innodb_lock_wait_timeout = {lock_secs}, lock_wait_timeout = {lock_secs}"
                );
                sqlx::Executor::execute(&mut *conn, locks.as_str()).await?;
                if !statement.is_zero() {
                    let mariadb =
                        format!("SET SESSION max_statement_time = {}", statement.as_secs_f64());
                    if sqlx::Executor::execute(&mut *conn, mariadb.as_str())
                        .await
                        .is_err()
                    {
                        let mysql =
                            format!("SET SESSION max_execution_time = {}", statement.as_millis());
                        sqlx::Executor::execute(&mut *conn, mysql.as_str()).await?;
                    }
                }
                Ok(())
            })
        },
    )
}

fn sqlite_tuning(o: SqliteConnectOptions, config: &DatabaseConfig) -> SqliteConnectOptions {
    // WAL lets readers run beside the writer; NORMAL syncs the WAL at checkpoints rather than
    // on every commit, which survives a process crash (not a power cut) and is the documented
    // trade-off for WAL mode. The busy timeout is how long a write waits for another process's
    // write lock.
    o.journal_mode(SqliteJournalMode::Wal)
        .synchronous(SqliteSynchronous::Normal)
        .busy_timeout(config.lock_timeout.max(Duration::from_millis(100)))
        .foreign_keys(true)
        .statement_cache_capacity(256)
}
