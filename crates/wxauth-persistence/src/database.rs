//! Connecting to the database the URL names, and applying migrations.
//!
//! SQLite gets one writer connection and a pool of read-only connections over a WAL journal:
//! SQLite runs one write at a time anyway, and queuing writers in the pool is far cheaper than
//! letting them spin on the file lock. PostgreSQL and MySQL use one pool for both.

use std::time::Duration;

use migration::{Migrator, MigratorTrait};

use crate::write_queue::WriteQueue;
use sea_orm::sqlx::mysql::MySqlConnectOptions;
use sea_orm::sqlx::pool::PoolOptions;
use sea_orm::sqlx::postgres::PgConnectOptions;
use sea_orm::sqlx::sqlite::{SqliteConnectOptions, SqliteJournalMode, SqliteSynchronous};
use sea_orm::sqlx::{self, ConnectOptions as _, Connection as _};
use sea_orm::{
    ConnectionTrait, DatabaseBackend, DatabaseConnection, DbErr, RuntimeErr, SqlxMySqlConnector,
    SqlxPostgresConnector, SqlxSqliteConnector,
};

/// A pooled connection that sat idle this long is pinged before it is handed out (and replaced
/// if the database closed it). sqlx's default pings on every checkout, which doubles the round
/// trips of a one-query request; a connection used moments ago needs no proof that it works.
const PING_IF_IDLE_FOR: Duration = Duration::from_secs(30);

#[derive(Debug, Clone)]
pub struct DatabaseConfig {
    /// `sqlite://path?mode=rwc`, `postgres://…` or `mysql://…`.
    pub url: String,
    /// Pool size for PostgreSQL and MySQL; the read pool size for SQLite.
    pub max_connections: u32,
    pub min_connections: u32,
    pub acquire_timeout: Duration,
}

impl Default for DatabaseConfig {
    fn default() -> Self {
        Self {
            url: "sqlite://data/wxauth.db?mode=rwc".into(),
            max_connections: 16,
            min_connections: 1,
            acquire_timeout: Duration::from_secs(5),
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

/// The connections wxauth uses: `write` for transactions, `read` for read-only statements.
#[derive(Debug, Clone)]
pub struct Database {
    pub(crate) write: DatabaseConnection,
    pub(crate) read: DatabaseConnection,
    /// SQLite only: the group-commit writer for write-only transactions.
    pub(crate) write_queue: Option<WriteQueue>,
    kind: DatabaseKind,
}

impl Database {
    pub async fn connect(config: &DatabaseConfig) -> Result<Self, DbErr> {
        let kind = DatabaseKind::of_url(&config.url).ok_or_else(|| {
            DbErr::Custom("database.url must start with sqlite:, postgres:// or mysql://".into())
        })?;
        // sqlx knows MariaDB by its MySQL scheme.
        let url = config.url.replacen("mariadb://", "mysql://", 1);
        let max = config.max_connections.max(1);
        match kind {
            DatabaseKind::Sqlite => {
                create_parent_dir(&url)?;
                let options = sqlite_tuning(url.parse::<SqliteConnectOptions>().map_err(conn_err)?);
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
                let queue = WriteQueue::start(write.clone())
                    .map_err(|e| DbErr::Custom(format!("cannot start the SQLite writer: {e}")))?;
                Ok(Self {
                    write: SqlxSqliteConnector::from_sqlx_sqlite_pool(write),
                    read: SqlxSqliteConnector::from_sqlx_sqlite_pool(read),
                    write_queue: Some(queue),
                    kind,
                })
            }
            DatabaseKind::Postgres => {
                let options = url
                    .parse::<PgConnectOptions>()
                    .map_err(conn_err)?
                    .disable_statement_logging();
                let pool = pool_options::<sqlx::Postgres>(config, max, config.min_connections)
                    .connect_with(options)
                    .await
                    .map_err(conn_err)?;
                Ok(Self::one_pool(
                    SqlxPostgresConnector::from_sqlx_postgres_pool(pool),
                    kind,
                ))
            }
            DatabaseKind::MySql => {
                let options = url
                    .parse::<MySqlConnectOptions>()
                    .map_err(conn_err)?
                    .disable_statement_logging();
                let pool = pool_options::<sqlx::MySql>(config, max, config.min_connections)
                    .connect_with(options)
                    .await
                    .map_err(conn_err)?;
                Ok(Self::one_pool(
                    SqlxMySqlConnector::from_sqlx_mysql_pool(pool),
                    kind,
                ))
            }
        }
    }

    /// PostgreSQL and MySQL: one pool serves transactions and reads alike.
    fn one_pool(conn: DatabaseConnection, kind: DatabaseKind) -> Self {
        Self {
            write: conn.clone(),
            read: conn,
            write_queue: None,
            kind,
        }
    }

    /// Applies pending migrations.
    pub async fn migrate(&self) -> Result<(), DbErr> {
        Migrator::up(&self.write, None).await
    }

    /// Names of the migrations not applied yet.
    pub async fn pending_migrations(&self) -> Result<Vec<String>, DbErr> {
        let pending = Migrator::get_pending_migrations(&self.write).await?;
        Ok(pending.iter().map(|m| m.name().to_owned()).collect())
    }

    /// Connection counts per pool, for the metrics endpoint.
    pub fn pool_stats(&self) -> Vec<PoolUsage> {
        fn usage<DB: sea_orm::sqlx::Database>(
            name: &'static str,
            pool: &sea_orm::sqlx::Pool<DB>,
        ) -> PoolUsage {
            PoolUsage {
                pool: name,
                size: pool.size(),
                idle: u32::try_from(pool.num_idle()).unwrap_or(u32::MAX),
                max: pool.options().get_max_connections(),
            }
        }
        // The getters panic on a backend mismatch; `kind` says which one applies.
        match self.kind {
            DatabaseKind::Sqlite => vec![
                usage("write", self.write.get_sqlite_connection_pool()),
                usage("read", self.read.get_sqlite_connection_pool()),
            ],
            DatabaseKind::Postgres => {
                vec![usage("main", self.write.get_postgres_connection_pool())]
            }
            DatabaseKind::MySql => vec![usage("main", self.write.get_mysql_connection_pool())],
        }
    }

    pub fn kind(&self) -> DatabaseKind {
        self.kind
    }

    pub fn backend(&self) -> DatabaseBackend {
        self.write.get_database_backend()
    }

    /// The read-write connection, for tools and tests that need raw SQL.
    pub fn connection(&self) -> &DatabaseConnection {
        &self.write
    }

    pub async fn close(self) -> Result<(), DbErr> {
        self.read.close().await?;
        if self.kind == DatabaseKind::Sqlite {
            self.write.close().await?;
        }
        Ok(())
    }
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
                if meta.idle_for >= PING_IF_IDLE_FOR {
                    conn.ping().await?;
                }
                Ok(true)
            })
        })
}

fn sqlite_tuning(o: SqliteConnectOptions) -> SqliteConnectOptions {
    // WAL lets readers run beside the writer; NORMAL syncs the WAL at checkpoints rather than
    // on every commit, which survives a process crash (not a power cut) and is the documented
    // trade-off for WAL mode.
    o.journal_mode(SqliteJournalMode::Wal)
        .synchronous(SqliteSynchronous::Normal)
        .busy_timeout(Duration::from_secs(5))
        .foreign_keys(true)
        .statement_cache_capacity(256)
}
