//! A transaction that begins only when it must, and holds the writes whose results nothing
//! reads until a statement or the commit takes them along.
//!
//! Many transactions (a returning login above all) read nothing and only write: their writes
//! are deferred ([`crate::store::TxConn::defer`]) and, at commit, handed to the group-commit
//! queue ([`crate::write_queue`]), which commits them together with other transactions': no
//! connection is held for them at all until a writer sends the group. A transaction that reads
//! begins for real at its first statement.

use async_trait::async_trait;
use sea_orm::{ConnectionTrait, DbBackend, DbErr, ExecResult, QueryResult, Statement};
use tokio::sync::OnceCell;
use wxauth_core::RepoError;
use wxauth_core::ports::RepoResult;

use crate::connection::{Pool, Tx};
use crate::deferred::{Write, Writes, statements};
use crate::errors::db_err;
use crate::store::Backing;
use crate::write_queue::WriteQueue;

pub(crate) struct LazyTx {
    pool: Pool,
    tx: OnceCell<Tx>,
    /// Writes not sent yet, in order.
    pending: Writes,
    /// The group-commit writers, for transactions that only write.
    queue: WriteQueue,
}

impl LazyTx {
    pub fn new(pool: Pool, queue: WriteQueue) -> Self {
        Self {
            pool,
            tx: OnceCell::new(),
            pending: Vec::new(),
            queue,
        }
    }

    async fn tx(&self) -> Result<&Tx, DbErr> {
        self.tx.get_or_try_init(|| self.pool.begin()).await
    }

    pub(crate) fn defer(&mut self, write: Write) {
        self.pending.push(write);
    }

    /// Commits: the open transaction (with the pending writes first), or — when nothing was
    /// read — the pending writes through the group-commit queue.
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
                    let batch = statements(pool.backend(), &[&pending]);
                    tx.execute_unprepared(&batch.join(";\n"))
                        .await
                        .map_err(db_err)?;
                }
                tx.commit().await.map_err(db_err)
            }
            None if pending.is_empty() => Ok(()),
            None => queue.commit(pending).await,
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
        let batch = statements(self.pool.backend(), &[&self.pending]);
        self.pending.clear();
        self.execute_unprepared(&batch.join(";\n"))
            .await
            .map_err(db_err)?;
        Ok(())
    }
}

#[async_trait]
impl ConnectionTrait for LazyTx {
    fn get_database_backend(&self) -> DbBackend {
        self.pool.backend()
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
