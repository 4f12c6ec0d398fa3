//! A transaction that begins only when it must, and holds the writes whose results nothing
//! reads until a statement or the commit takes them along.
//!
//! Many transactions (a returning login above all) read nothing and only write: their writes
//! are deferred ([`crate::store::TxConn::defer`]) and, at commit, sent as ONE batch
//! `BEGIN; …; COMMIT` on one connection. The connection is then held for a single round trip
//! instead of one per statement plus the scheduling gaps between them, which is what bounds
//! throughput when every write funnels through SQLite's single writer (or a pool of a few
//! PostgreSQL connections). A transaction that reads begins for real at its first statement.

use async_trait::async_trait;
use sea_orm::sqlx;
use sea_orm::{
    ConnectionTrait, DatabaseConnection, DatabaseTransaction, DbBackend, DbErr, ExecResult,
    QueryResult, Statement, TransactionTrait,
};
use tokio::sync::OnceCell;
use wxauth_core::RepoError;
use wxauth_core::ports::RepoResult;

use crate::errors::{db_err, sqlx_err};
use crate::store::Backing;
use crate::write_queue::WriteQueue;

pub(crate) struct LazyTx {
    pool: DatabaseConnection,
    tx: OnceCell<DatabaseTransaction>,
    /// Writes not sent yet, in order.
    pending: Vec<String>,
    /// SQLite's group-commit writer, for transactions that only write.
    queue: Option<WriteQueue>,
}

impl LazyTx {
    pub fn new(pool: DatabaseConnection, queue: Option<WriteQueue>) -> Self {
        Self {
            pool,
            tx: OnceCell::new(),
            pending: Vec::new(),
            queue,
        }
    }

    async fn tx(&self) -> Result<&DatabaseTransaction, DbErr> {
        self.tx.get_or_try_init(|| self.pool.begin()).await
    }

    pub(crate) fn defer(&mut self, sql: String) {
        self.pending.push(sql);
    }

    /// Commits: the open transaction (with the pending writes first), or — when nothing was
    /// read — the pending writes as one atomic batch.
    pub async fn commit(self) -> Result<(), RepoError> {
        let Self {
            pool,
            tx,
            pending,
            queue,
        } = self;
        match tx.into_inner() {
            Some(tx) => {
                if !pending.is_empty() {
                    tx.execute_unprepared(&pending.join(";\n"))
                        .await
                        .map_err(db_err)?;
                }
                tx.commit().await.map_err(db_err)
            }
            None if pending.is_empty() => Ok(()),
            None => match &queue {
                Some(queue) => queue.commit(pending).await,
                None => commit_batch(&pool, &pending).await,
            },
        }
    }

    pub async fn rollback(self) -> Result<(), RepoError> {
        match self.tx.into_inner() {
            Some(tx) => tx.rollback().await.map_err(db_err),
            None => Ok(()),
        }
    }
}

#[async_trait]
impl Backing for LazyTx {
    async fn sync(&mut self) -> RepoResult<()> {
        if self.pending.is_empty() {
            return Ok(());
        }
        let batch = self.pending.join(";\n");
        self.pending.clear();
        self.execute_unprepared(&batch).await.map_err(db_err)?;
        Ok(())
    }
}

/// Runs `BEGIN; statements; COMMIT` on one connection in one call. When a statement fails, the
/// batch stops there with the transaction still open, so it is rolled back on the same
/// connection before that connection goes back to the pool.
async fn commit_batch(pool: &DatabaseConnection, statements: &[String]) -> Result<(), RepoError> {
    let batch = format!("BEGIN;\n{};\nCOMMIT", statements.join(";\n"));
    match pool.get_database_backend() {
        DbBackend::Sqlite => batch_sqlite(pool.get_sqlite_connection_pool().clone(), batch).await,
        DbBackend::Postgres => {
            batch_postgres(pool.get_postgres_connection_pool().clone(), batch).await
        }
        DbBackend::MySql => batch_mysql(pool.get_mysql_connection_pool().clone(), batch).await,
    }
}

// One function per backend with concrete types: sqlx's executor traits are higher-ranked, and a
// generic version does not prove `Send` for the boxed futures of the store's async traits.
macro_rules! batch_fn {
    ($name:ident, $pool:ty) => {
        async fn $name(pool: $pool, batch: String) -> Result<(), RepoError> {
            let mut conn = pool.acquire().await.map_err(sqlx_err)?;
            // `raw_sql`: a plain `&str` would be prepared and cached as if it were reused, and
            // every batch is a new text.
            match sqlx::Executor::execute(&mut *conn, sqlx::raw_sql(&batch)).await {
                Ok(_) => Ok(()),
                Err(e) => {
                    if let Err(rollback) = sqlx::Executor::execute(&mut *conn, "ROLLBACK").await {
                        // A connection in an unknown state must not serve anyone else.
                        tracing::warn!(error = %rollback, "rollback after a failed batch failed");
                        let _ = conn.detach();
                    }
                    Err(sqlx_err(e))
                }
            }
        }
    };
}

batch_fn!(batch_sqlite, sqlx::SqlitePool);
batch_fn!(batch_postgres, sqlx::PgPool);
batch_fn!(batch_mysql, sqlx::MySqlPool);

#[async_trait]
impl ConnectionTrait for LazyTx {
    fn get_database_backend(&self) -> DbBackend {
        self.pool.get_database_backend()
    }

    async fn execute(&self, stmt: Statement) -> Result<ExecResult, DbErr> {
        self.tx().await?.execute(stmt).await
    }

    async fn execute_unprepared(&self, sql: &str) -> Result<ExecResult, DbErr> {
        self.tx().await?.execute_unprepared(sql).await
    }

    async fn query_one(&self, stmt: Statement) -> Result<Option<QueryResult>, DbErr> {
        self.tx().await?.query_one(stmt).await
    }

    async fn query_all(&self, stmt: Statement) -> Result<Vec<QueryResult>, DbErr> {
        self.tx().await?.query_all(stmt).await
    }
}
