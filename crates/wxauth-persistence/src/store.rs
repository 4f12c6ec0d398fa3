//! [`SqlStore`]: the store port on sea-orm. Every repository trait is implemented once for
//! [`Conn`], generically over a transaction or a plain connection.

use std::sync::Arc;

use async_trait::async_trait;
use sea_orm::{ConnectionTrait, DatabaseConnection, DatabaseTransaction, TransactionTrait};
use wxauth_core::ports::{RepoResult, Store, StoreTx};

use crate::cipher::SecretCipher;
use crate::convert::db_err;
use crate::database::Database;

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
}

#[async_trait]
impl Store for SqlStore {
    async fn begin(&self) -> RepoResult<Box<dyn StoreTx>> {
        let tx = self.db.write.begin().await.map_err(db_err)?;
        Ok(Box::new(Conn {
            conn: tx,
            cipher: self.cipher.clone(),
        }))
    }

    fn read(&self) -> Box<dyn StoreTx> {
        Box::new(Conn {
            conn: self.db.read.clone(),
            cipher: self.cipher.clone(),
        })
    }

    async fn ping(&self) -> RepoResult<()> {
        self.db.read.ping().await.map_err(db_err)?;
        self.db.write.ping().await.map_err(db_err)
    }
}

#[async_trait]
impl StoreTx for Conn<DatabaseTransaction> {
    async fn commit(self: Box<Self>) -> RepoResult<()> {
        self.conn.commit().await.map_err(db_err)
    }

    async fn rollback(self: Box<Self>) -> RepoResult<()> {
        self.conn.rollback().await.map_err(db_err)
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
