//! [`SqlStore`]: the store port on sea-orm.
//!
//! A [`Conn`] is the only way the repositories reach the database, and its connection is
//! private to this module: a repository gets it through [`Conn::synced`], which first sends
//! every write the transaction deferred, so a read always sees the transaction's own writes.
//! Nothing has to remember to flush. Writes whose result nothing reads go through
//! [`TxConn::defer`]; the write traits are implemented for transactions only, so the read path
//! cannot write at all.

use std::sync::Arc;

use async_trait::async_trait;
use sea_orm::ConnectionTrait;
use sea_orm::sea_query::SimpleExpr;
use wxauth_core::ports::{Reader, RepoResult, Store, Transaction};

use crate::cipher::SecretCipher;
use crate::connection::{AccountBatcher, IdentityBatcher, ReadPath};
use crate::database::Database;
use crate::deferred::{self, Row, Table, Write};
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

/// What a [`Conn`] runs on: a plain connection (the read path) or a transaction that may hold
/// deferred writes.
#[async_trait]
pub(crate) trait Backing: ConnectionTrait + Send + Sync {
    /// Sends whatever writes wait, so that the next statement sees them.
    async fn sync(&mut self) -> RepoResult<()>;

    /// Where account reads are batched, if they are on this connection.
    fn accounts(&self) -> Option<&AccountBatcher> {
        None
    }

    /// Where sign-in lookups are batched, if they are on this connection.
    fn identities(&self) -> Option<&IdentityBatcher> {
        None
    }
}

#[async_trait]
impl Backing for ReadPath {
    async fn sync(&mut self) -> RepoResult<()> {
        Ok(())
    }

    fn accounts(&self) -> Option<&AccountBatcher> {
        self.accounts.as_deref()
    }

    fn identities(&self) -> Option<&IdentityBatcher> {
        self.identities.as_deref()
    }
}

/// A connection (or transaction) with the cipher for the secret columns.
pub(crate) struct Conn<C> {
    conn: C,
    cipher: Arc<SecretCipher>,
}

/// The read path: statements on committed data, outside any transaction.
pub(crate) type ReadConn = Conn<ReadPath>;
/// A read-write transaction.
pub(crate) type TxConn = Conn<LazyTx>;

impl<C: Backing> Conn<C> {
    /// The connection, once every deferred write has been sent.
    pub(crate) async fn synced(&mut self) -> RepoResult<&C> {
        self.conn.sync().await?;
        Ok(&self.conn)
    }

    pub(crate) fn account_batcher(&self) -> Option<&AccountBatcher> {
        self.conn.accounts()
    }

    pub(crate) fn identity_batcher(&self) -> Option<&IdentityBatcher> {
        self.conn.identities()
    }

    pub(crate) fn cipher(&self) -> &SecretCipher {
        &self.cipher
    }
}

impl TxConn {
    /// Defers a sign-in's update of its identity: those of many transactions are one statement.
    pub(crate) fn defer_sign_in(&mut self, sign_in: deferred::SignIn) {
        self.conn.defer(Write::SignIn(sign_in));
    }

    /// Defers one row: rows of one table from many transactions are inserted by one statement.
    pub(crate) fn defer_row(&mut self, table: Table, values: Vec<SimpleExpr>) {
        self.conn.defer(Write::Insert(Row { table, values }));
    }
}

#[async_trait]
impl Store for SqlStore {
    fn read(&self) -> Box<dyn Reader> {
        Box::new(ReadConn {
            conn: self.db.read.clone(),
            cipher: self.cipher.clone(),
        })
    }

    async fn begin(&self) -> RepoResult<Box<dyn Transaction>> {
        Ok(Box::new(TxConn {
            conn: LazyTx::new(self.db.write.clone(), self.db.write_queue.clone()),
            cipher: self.cipher.clone(),
        }))
    }

    async fn ping(&self) -> RepoResult<()> {
        self.db.probe(self.db.probe_timeout()).await
    }
}

#[async_trait]
impl Transaction for TxConn {
    async fn commit(self: Box<Self>) -> RepoResult<()> {
        self.conn.commit().await
    }

    async fn rollback(self: Box<Self>) -> RepoResult<()> {
        self.conn.rollback().await
    }
}
