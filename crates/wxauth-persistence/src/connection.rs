//! How statements reach the database.
//!
//! - [`Pool`]: sea-orm's connection (prepared statements, the fast path), or — for PostgreSQL
//!   behind a transaction-pooling pgbouncer — the simple query protocol: values inlined by
//!   sea-query's escaping, one round trip, no prepared statement, since a named statement
//!   prepared on one server connection may be executed on another there, and sqlx prepares
//!   every statement in a round trip of its own.
//! - [`ReadPath`]: the read path. A read that fails because its connection was lost is retried
//!   once on a fresh connection (the pool checks connections that sat idle since the loss, see
//!   [`crate::errors::idle_since_a_lost_connection`]), so a database restart fails no read. With
//!   a read replica, reads go there; a read the replica answers with nothing (it may lag behind
//!   a write just made) is asked of the primary, so a user who has just signed in finds their
//!   account.

use async_trait::async_trait;
use sea_orm::sea_query::{PostgresQueryBuilder, inject_parameters};
use sea_orm::sqlx::{self, PgPool, Postgres, pool::PoolConnection};
use sea_orm::{
    ConnectionTrait, DatabaseConnection, DbBackend, DbErr, ExecResult, QueryResult, RuntimeErr,
    Statement,
};
use tokio::sync::Mutex;
use wxauth_core::RepoError;

use std::collections::HashMap;
use std::sync::Arc;

use sea_orm::{ColumnTrait, Condition, EntityTrait, QueryFilter};

use crate::entities::{users, wechat_identities};
use crate::errors::db_err;
use crate::read_batch::ReadBatcher;

use crate::errors::{connection_lost_db as lost, timed_out_db as timed_out};

/// A pool of connections, by protocol.
#[derive(Debug, Clone)]
pub(crate) enum Pool {
    SeaOrm(DatabaseConnection),
    SimplePg(PgPool),
}

fn sqlx_db_err(e: sqlx::Error) -> DbErr {
    DbErr::Query(RuntimeErr::SqlxError(e))
}

/// The statement as one text with its values inlined (the simple query protocol has no
/// parameters). sea-query escapes the values for PostgreSQL, as it does for deferred writes.
fn inline(statement: &Statement) -> String {
    match &statement.values {
        Some(values) => inject_parameters(&statement.sql, values.0.clone(), &PostgresQueryBuilder),
        None => statement.sql.clone(),
    }
}

impl Pool {
    pub fn backend(&self) -> DbBackend {
        match self {
            Pool::SeaOrm(c) => c.get_database_backend(),
            Pool::SimplePg(_) => DbBackend::Postgres,
        }
    }

    /// Opens a transaction on one connection of the pool.
    pub async fn begin(&self) -> Result<Tx, DbErr> {
        match self {
            Pool::SeaOrm(c) => Ok(Tx::SeaOrm(sea_orm::TransactionTrait::begin(c).await?)),
            Pool::SimplePg(p) => {
                let mut conn = p.acquire().await.map_err(sqlx_db_err)?;
                sqlx::Executor::execute(&mut *conn, sqlx::raw_sql("BEGIN"))
                    .await
                    .map_err(sqlx_db_err)?;
                Ok(Tx::SimplePg(SimpleTx(Mutex::new(Some(conn)))))
            }
        }
    }
}

#[async_trait]
impl ConnectionTrait for Pool {
    fn get_database_backend(&self) -> DbBackend {
        self.backend()
    }

    async fn execute(&self, stmt: Statement) -> Result<ExecResult, DbErr> {
        match self {
            Pool::SeaOrm(c) => c.execute(stmt).await,
            Pool::SimplePg(p) => sqlx::Executor::execute(p, sqlx::raw_sql(&inline(&stmt)))
                .await
                .map(ExecResult::from)
                .map_err(sqlx_db_err),
        }
    }

    async fn execute_unprepared(&self, sql: &str) -> Result<ExecResult, DbErr> {
        match self {
            Pool::SeaOrm(c) => c.execute_unprepared(sql).await,
            Pool::SimplePg(p) => sqlx::Executor::execute(p, sqlx::raw_sql(sql))
                .await
                .map(ExecResult::from)
                .map_err(sqlx_db_err),
        }
    }

    async fn query_one(&self, stmt: Statement) -> Result<Option<QueryResult>, DbErr> {
        match self {
            Pool::SeaOrm(c) => c.query_one(stmt).await,
            Pool::SimplePg(p) => {
                let sql = inline(&stmt);
                let rows = sqlx::raw_sql(&sql)
                    .fetch_all(p)
                    .await
                    .map_err(sqlx_db_err)?;
                Ok(rows.into_iter().next().map(QueryResult::from))
            }
        }
    }

    async fn query_all(&self, stmt: Statement) -> Result<Vec<QueryResult>, DbErr> {
        match self {
            Pool::SeaOrm(c) => c.query_all(stmt).await,
            Pool::SimplePg(p) => {
                let sql = inline(&stmt);
                let rows = sqlx::raw_sql(&sql)
                    .fetch_all(p)
                    .await
                    .map_err(sqlx_db_err)?;
                Ok(rows.into_iter().map(QueryResult::from).collect())
            }
        }
    }
}

/// An open transaction on one connection.
pub(crate) enum Tx {
    SeaOrm(sea_orm::DatabaseTransaction),
    /// `None` once committed or rolled back.
    SimplePg(SimpleTx),
}

/// A transaction on the simple query protocol: its connection, `None` once finished.
pub(crate) struct SimpleTx(Mutex<Option<PoolConnection<Postgres>>>);

impl std::ops::Deref for SimpleTx {
    type Target = Mutex<Option<PoolConnection<Postgres>>>;
    fn deref(&self) -> &Self::Target {
        &self.0
    }
}

impl Drop for SimpleTx {
    fn drop(&mut self) {
        // A transaction dropped unfinished (its request was cancelled) leaves its connection
        // inside a `BEGIN` sqlx does not know about: it must not serve again. (sea-orm's
        // transactions roll themselves back.)
        if let Some(conn) = self.0.get_mut().as_mut() {
            conn.close_on_drop();
        }
    }
}

impl Tx {
    pub async fn commit(self) -> Result<(), DbErr> {
        self.finish("COMMIT").await
    }

    pub async fn rollback(self) -> Result<(), DbErr> {
        self.finish("ROLLBACK").await
    }

    async fn finish(self, how: &'static str) -> Result<(), DbErr> {
        match self {
            Tx::SeaOrm(tx) if how == "COMMIT" => tx.commit().await,
            Tx::SeaOrm(tx) => tx.rollback().await,
            Tx::SimplePg(mut tx) => {
                let Some(mut conn) = tx.0.get_mut().take() else {
                    return Ok(());
                };
                match sqlx::Executor::execute(&mut *conn, sqlx::raw_sql(how)).await {
                    Ok(_) => Ok(()),
                    Err(e) => {
                        // A connection in an unknown transaction state must not serve again.
                        let _ = conn.detach();
                        Err(sqlx_db_err(e))
                    }
                }
            }
        }
    }

    async fn run_simple(
        conn: &Mutex<Option<PoolConnection<Postgres>>>,
        sql: &str,
    ) -> Result<Vec<sqlx::postgres::PgRow>, DbErr> {
        let mut guard = conn.lock().await;
        let conn = guard
            .as_mut()
            .ok_or_else(|| DbErr::Custom("the transaction has ended".into()))?;
        sqlx::Executor::fetch_all(&mut **conn, sqlx::raw_sql(sql))
            .await
            .map_err(sqlx_db_err)
    }
}

#[async_trait]
impl ConnectionTrait for Tx {
    fn get_database_backend(&self) -> DbBackend {
        match self {
            Tx::SeaOrm(tx) => tx.get_database_backend(),
            Tx::SimplePg(_) => DbBackend::Postgres,
        }
    }

    async fn execute(&self, stmt: Statement) -> Result<ExecResult, DbErr> {
        match self {
            Tx::SeaOrm(tx) => tx.execute(stmt).await,
            Tx::SimplePg(conn) => {
                let mut guard = conn.lock().await;
                let conn = guard
                    .as_mut()
                    .ok_or_else(|| DbErr::Custom("the transaction has ended".into()))?;
                sqlx::Executor::execute(&mut **conn, sqlx::raw_sql(&inline(&stmt)))
                    .await
                    .map(ExecResult::from)
                    .map_err(sqlx_db_err)
            }
        }
    }

    async fn execute_unprepared(&self, sql: &str) -> Result<ExecResult, DbErr> {
        match self {
            Tx::SeaOrm(tx) => tx.execute_unprepared(sql).await,
            Tx::SimplePg(conn) => {
                let mut guard = conn.lock().await;
                let conn = guard
                    .as_mut()
                    .ok_or_else(|| DbErr::Custom("the transaction has ended".into()))?;
                sqlx::Executor::execute(&mut **conn, sqlx::raw_sql(sql))
                    .await
                    .map(ExecResult::from)
                    .map_err(sqlx_db_err)
            }
        }
    }

    async fn query_one(&self, stmt: Statement) -> Result<Option<QueryResult>, DbErr> {
        match self {
            Tx::SeaOrm(tx) => tx.query_one(stmt).await,
            Tx::SimplePg(conn) => Ok(Self::run_simple(conn, &inline(&stmt))
                .await?
                .into_iter()
                .next()
                .map(QueryResult::from)),
        }
    }

    async fn query_all(&self, stmt: Statement) -> Result<Vec<QueryResult>, DbErr> {
        match self {
            Tx::SeaOrm(tx) => tx.query_all(stmt).await,
            Tx::SimplePg(conn) => Ok(Self::run_simple(conn, &inline(&stmt))
                .await?
                .into_iter()
                .map(QueryResult::from)
                .collect()),
        }
    }
}

/// The read path: the primary, or a replica backed by the primary.
#[derive(Debug, Clone)]
pub(crate) struct ReadPath {
    pub primary: Pool,
    pub replica: Option<Pool>,
    /// Accounts by public id, read many requests at a time.
    pub accounts: Option<Arc<AccountBatcher>>,
    /// Identities with their users by app and openid (a returning sign-in's read), likewise.
    pub identities: Option<Arc<IdentityBatcher>>,
}

/// A user row with its identity rows.
pub(crate) type AccountRows = (users::Model, Vec<wechat_identities::Model>);
pub(crate) type AccountBatcher = ReadBatcher<String, AccountRows>;
/// An identity row with its user row.
pub(crate) type IdentityRows = (wechat_identities::Model, users::Model);
pub(crate) type IdentityBatcher = ReadBatcher<(i64, String), IdentityRows>;

/// `keys`, the last repeated up to the next power of two: a batch's `IN (…)` list then has one
/// of seven lengths, so each connection prepares (and caches) seven texts of a batched read
/// instead of one per batch size. A repeated key changes nothing `IN` matches.
fn padded<T: Clone>(mut keys: Vec<T>) -> Vec<T> {
    if let Some(last) = keys.last().cloned() {
        keys.resize(keys.len().next_power_of_two(), last);
    }
    keys
}

/// Lanes of each batched read: enough to keep a few statements in flight, few enough that each
/// carries many requests under load.
const READ_LANES: usize = 4;

impl ReadPath {
    pub fn new(primary: Pool, replica: Option<Pool>) -> Self {
        Self {
            primary,
            replica,
            accounts: None,
            identities: None,
        }
    }

    /// This read path, with the hot reads (accounts, sign-in lookups) batched.
    pub fn batching(mut self) -> Self {
        let unbatched = self.clone();
        self.accounts = Some(Arc::new(ReadBatcher::start(READ_LANES, move |ids| {
            let path = unbatched.clone();
            Box::pin(async move { path.accounts_by_public_id(ids).await })
        })));
        let unbatched = ReadPath::new(self.primary.clone(), self.replica.clone());
        self.identities = Some(Arc::new(ReadBatcher::start(READ_LANES, move |keys| {
            let path = unbatched.clone();
            Box::pin(async move { path.identities_by_openid(keys).await })
        })));
        self
    }

    /// Identities (with their users) by app and openid, in one statement. One a replica has
    /// not replayed yet is not found here: the sign-in then takes its full path, on the primary.
    async fn identities_by_openid(
        &self,
        keys: Vec<(i64, String)>,
    ) -> Result<HashMap<(i64, String), IdentityRows>, RepoError> {
        let mut by_app: Vec<(i64, Vec<String>)> = Vec::new();
        for (app, openid) in keys {
            match by_app.iter_mut().find(|(a, _)| *a == app) {
                Some((_, openids)) => openids.push(openid),
                None => by_app.push((app, vec![openid])),
            }
        }
        let mut cond = Condition::any();
        for (app, openids) in by_app {
            cond = cond.add(
                Condition::all()
                    .add(wechat_identities::Column::AppId.eq(app))
                    .add(wechat_identities::Column::Openid.is_in(padded(openids))),
            );
        }
        let rows = wechat_identities::Entity::find()
            .filter(cond)
            .find_also_related(users::Entity)
            .all(self)
            .await
            .map_err(db_err)?;
        let mut found = HashMap::with_capacity(rows.len());
        for (identity, user) in rows {
            let user = user.ok_or_else(|| RepoError::other("identity without its user"))?;
            found.insert((identity.app_id, identity.openid.clone()), (identity, user));
        }
        Ok(found)
    }

    /// Accounts by public id in one statement (two with a replica that lacks some of them:
    /// those it has not replayed yet are asked of the primary).
    async fn accounts_by_public_id(
        &self,
        ids: Vec<String>,
    ) -> Result<HashMap<String, AccountRows>, RepoError> {
        let select = |ids: Vec<String>| {
            users::Entity::find()
                .filter(users::Column::PublicId.is_in(padded(ids)))
                .find_with_related(wechat_identities::Entity)
        };
        let mut found: HashMap<String, AccountRows> = select(ids.clone())
            .all(self)
            .await
            .map_err(db_err)?
            .into_iter()
            .map(|(user, identities)| (user.public_id.clone(), (user, identities)))
            .collect();
        let missing: Vec<String> = ids
            .into_iter()
            .filter(|id| !found.contains_key(id))
            .collect();
        if self.replica.is_some() && !found.is_empty() && !missing.is_empty() {
            let primary = ReadPath::new(self.primary.clone(), None);
            for (user, identities) in select(missing).all(&primary).await.map_err(db_err)? {
                found.insert(user.public_id.clone(), (user, identities));
            }
        }
        Ok(found)
    }

    /// Runs a read on `pool`, once more on a fresh connection if its connection was lost.
    async fn retried<T, F, Fut>(pool: &Pool, read: F) -> Result<T, DbErr>
    where
        F: Fn(Pool) -> Fut,
        Fut: std::future::Future<Output = Result<T, DbErr>>,
    {
        match read(pool.clone()).await {
            Err(e) if lost(&e) => {
                tracing::debug!(error = %e, "a read lost its connection; retrying once");
                read(pool.clone()).await
            }
            other => other,
        }
    }
}

#[async_trait]
impl ConnectionTrait for ReadPath {
    fn get_database_backend(&self) -> DbBackend {
        self.primary.backend()
    }

    async fn execute(&self, stmt: Statement) -> Result<ExecResult, DbErr> {
        self.primary.execute(stmt).await
    }

    async fn execute_unprepared(&self, sql: &str) -> Result<ExecResult, DbErr> {
        self.primary.execute_unprepared(sql).await
    }

    async fn query_one(&self, stmt: Statement) -> Result<Option<QueryResult>, DbErr> {
        if let Some(replica) = &self.replica {
            match Self::retried(replica, |p| p.clone_query_one(stmt.clone())).await {
                Ok(Some(row)) => return Ok(Some(row)),
                // Nothing yet (lag), or the replica is down: the primary decides.
                Ok(None) => {}
                // A timeout spent the request's wait already; the primary holds the same locks.
                Err(e) if timed_out(&e) => return Err(e),
                Err(e) => tracing::debug!(error = %e, "replica read failed; asking the primary"),
            }
        }
        Self::retried(&self.primary, |p| p.clone_query_one(stmt.clone())).await
    }

    async fn query_all(&self, stmt: Statement) -> Result<Vec<QueryResult>, DbErr> {
        if let Some(replica) = &self.replica {
            match Self::retried(replica, |p| p.clone_query_all(stmt.clone())).await {
                Ok(rows) if !rows.is_empty() => return Ok(rows),
                Ok(_) => {}
                Err(e) if timed_out(&e) => return Err(e),
                Err(e) => tracing::debug!(error = %e, "replica read failed; asking the primary"),
            }
        }
        Self::retried(&self.primary, |p| p.clone_query_all(stmt.clone())).await
    }
}

impl Pool {
    // Owned-receiver forms, so the retry closures can run a read more than once.
    async fn clone_query_one(self, stmt: Statement) -> Result<Option<QueryResult>, DbErr> {
        self.query_one(stmt).await
    }

    async fn clone_query_all(self, stmt: Statement) -> Result<Vec<QueryResult>, DbErr> {
        self.query_all(stmt).await
    }
}

#[cfg(test)]
mod tests {
    use super::padded;

    #[test]
    fn a_batch_is_padded_to_a_power_of_two_with_its_last_key() {
        assert_eq!(padded(vec!["a"]), vec!["a"]);
        assert_eq!(padded(vec!["a", "b", "c"]), vec!["a", "b", "c", "c"]);
        assert_eq!(padded((0..33).collect::<Vec<_>>()).len(), 64);
        assert_eq!(padded((0..64).collect::<Vec<_>>()).len(), 64);
        assert!(padded(Vec::<u8>::new()).is_empty());
    }
}
