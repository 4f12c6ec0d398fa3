//! [`SqlStore`]: the store port on sea-orm. Every repository trait is implemented once for
//! [`Conn`], generically over a transaction or a plain connection.

use std::sync::Arc;

use async_trait::async_trait;
use sea_orm::sea_query::{
    MysqlQueryBuilder, PostgresQueryBuilder, QueryStatementWriter, SqliteQueryBuilder,
};
use sea_orm::{ConnectionTrait, DatabaseConnection, DbBackend};
use wxauth_core::ports::{RepoResult, Store, StoreTx};

use crate::cipher::SecretCipher;
use crate::convert::db_err;
use crate::database::Database;
use crate::lazy_tx::LazyTx;

#[derive(Debug, Clone)]
pub struct SqlStore {
    db: Database,
    cipher: Arc<SecretCipher>,
}

impl SqlStore {
    pub fn new(db: Database, cipher: Arc<SecretCipher>) -> Self {
        Self { db, cipher }
    }

    pub fn database(&self) -> &Database {
        &self.db
    }

    pub fn cipher(&self) -> &Arc<SecretCipher> {
        &self.cipher
    }
}

/// A connection (or transaction) with the cipher for the secret columns.
pub(crate) struct Conn<C> {
    pub conn: C,
    pub cipher: Arc<SecretCipher>,
    /// In a transaction: writes whose outcome nothing reads (a sign-in's session-key update,
    /// refresh token and audit entry). They travel with the next statement that needs a round
    /// trip anyway, or with the commit, as one multi-statement batch: a returning login's three
    /// writes cost one round trip instead of three. `None` outside transactions.
    pub deferred: Option<Vec<String>>,
}

impl<C: Db> Conn<C> {
    /// Sends the deferred writes. Every operation that reads, or whose result is read, calls
    /// this first, so a transaction always sees its own writes.
    pub(crate) async fn flush(&mut self) -> RepoResult<()> {
        if let Some(pending) = &mut self.deferred
            && !pending.is_empty()
        {
            let batch = pending.join(";\n");
            pending.clear();
            self.conn.execute_unprepared(&batch).await.map_err(db_err)?;
        }
        Ok(())
    }

    /// Runs a write now, or (in a transaction) defers it to the next flush. Deferred statements
    /// are rendered with their values inline, escaped by sea-query's builder for the backend:
    /// a multi-statement batch cannot carry bind parameters.
    pub(crate) async fn write<S: QueryStatementWriter + sea_orm::StatementBuilder>(
        &mut self,
        statement: S,
    ) -> RepoResult<()> {
        let backend = self.conn.get_database_backend();
        match &mut self.deferred {
            Some(pending) => {
                pending.push(match backend {
                    DbBackend::Sqlite => statement.to_string(SqliteQueryBuilder),
                    DbBackend::Postgres => statement.to_string(PostgresQueryBuilder),
                    DbBackend::MySql => statement.to_string(MysqlQueryBuilder),
                });
                Ok(())
            }
            None => {
                self.conn
                    .execute(backend.build(&statement))
                    .await
                    .map_err(db_err)?;
                Ok(())
            }
        }
    }
}

#[async_trait]
impl Store for SqlStore {
    async fn begin(&self) -> RepoResult<Box<dyn StoreTx>> {
        Ok(Box::new(Conn {
            conn: LazyTx::new(self.db.write.clone(), self.db.write_queue.clone()),
            cipher: self.cipher.clone(),
            deferred: Some(Vec::new()),
        }))
    }

    fn read(&self) -> Box<dyn StoreTx> {
        Box::new(Conn {
            conn: self.db.read.clone(),
            cipher: self.cipher.clone(),
            deferred: None,
        })
    }

    async fn ping(&self) -> RepoResult<()> {
        self.db.read.ping().await.map_err(db_err)?;
        self.db.write.ping().await.map_err(db_err)
    }
}

#[async_trait]
impl StoreTx for Conn<LazyTx> {
    async fn commit(self: Box<Self>) -> RepoResult<()> {
        let Conn { conn, deferred, .. } = *self;
        conn.commit(deferred.unwrap_or_default()).await
    }

    async fn rollback(self: Box<Self>) -> RepoResult<()> {
        self.conn.rollback().await
    }
}

#[async_trait]
impl StoreTx for Conn<DatabaseConnection> {
    /// Outside a transaction every statement commits on its own.
    async fn commit(self: Box<Self>) -> RepoResult<()> {
        Ok(())
    }

    async fn rollback(self: Box<Self>) -> RepoResult<()> {
        Ok(())
    }
}

/// The bound every repository implementation needs.
pub(crate) trait Db: ConnectionTrait + Send + Sync {}
impl<C: ConnectionTrait + Send + Sync> Db for C {}
