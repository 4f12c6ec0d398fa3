//! The shared cache of WeChat app access tokens: every wxauth instance reads the token another
//! one fetched instead of fetching its own (which would waste quota), and instances refresh one
//! app's token one at a time ([`AccessTokenCache::lock_refresh`]).

use std::collections::HashMap;
use std::sync::{Arc, LazyLock};

use sea_orm::sea_query::OnConflict;
use sea_orm::sqlx::{self, MySql, pool::PoolConnection};
use sea_orm::{
    ActiveValue::Set, ColumnTrait, ConnectionTrait, EntityTrait, QueryFilter, Statement,
};
use secrecy::SecretString;
use wxauth_core::RepoError;
use wxauth_domain::{AppId, Timestamp};

use crate::cipher::{Purpose, SecretCipher};
use crate::connection::{Pool, Tx};
use crate::convert::{from_db, to_db};
use crate::database::{Database, DatabaseKind};
use crate::entities::wechat_access_tokens::{self, Column};
use crate::errors::{db_err, sqlx_err};

/// The first key of wxauth's PostgreSQL advisory locks on access-token refreshes ("wxat"); the
/// second is the app's id.
const ADVISORY_LOCK_CLASS: i32 = 0x7778_6174;

type RefreshLocks = HashMap<(String, i64), Arc<tokio::sync::Mutex<()>>>;

/// SQLite's refresh locks, per database file and app: one per app, ever.
static SQLITE_REFRESHES: LazyLock<std::sync::Mutex<RefreshLocks>> = LazyLock::new(Default::default);

#[derive(Debug, Clone)]
pub struct AccessTokenCache {
    db: Database,
    cipher: Arc<SecretCipher>,
}

impl AccessTokenCache {
    pub fn new(db: Database, cipher: Arc<SecretCipher>) -> Self {
        Self { db, cipher }
    }

    pub async fn load(
        &self,
        app_id: AppId,
    ) -> Result<Option<(SecretString, Timestamp)>, RepoError> {
        // From the primary: a replica may still show the token another instance just replaced,
        // and this read decides whether to fetch a new one.
        let row = wechat_access_tokens::Entity::find()
            .filter(Column::AppId.eq(app_id.0))
            .one(&self.db.write)
            .await
            .map_err(db_err)?;
        let Some(row) = row else { return Ok(None) };
        // A token that no longer decrypts (say, after a master key was dropped) is just a miss.
        match self.cipher.decrypt(Purpose::AccessToken, &row.token_enc) {
            Ok(token) => Ok(Some((token, from_db(row.expires_at)))),
            Err(e) => {
                tracing::warn!(app_id = app_id.0, error = %e, "cached access token unreadable; refetching");
                Ok(None)
            }
        }
    }

    pub async fn save(
        &self,
        app_id: AppId,
        token: &SecretString,
        expires_at: Timestamp,
        now: Timestamp,
    ) -> Result<(), RepoError> {
        let row = wechat_access_tokens::ActiveModel {
            app_id: Set(app_id.0),
            token_enc: Set(self.cipher.encrypt(Purpose::AccessToken, token)),
            expires_at: Set(to_db(expires_at)),
            updated_at: Set(to_db(now)),
            ..Default::default()
        };
        wechat_access_tokens::Entity::insert(row)
            .on_conflict(
                OnConflict::column(Column::AppId)
                    .update_columns([Column::TokenEnc, Column::ExpiresAt, Column::UpdatedAt])
                    .to_owned(),
            )
            .exec_without_returning(&self.db.write)
            .await
            .map_err(db_err)?;
        Ok(())
    }
}

/// A held refresh lock; [`RefreshGuard::release`] releases it, and so does dropping it.
pub struct RefreshGuard(Held);

impl std::fmt::Debug for RefreshGuard {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let held = match &self.0 {
            Held::Sqlite(_) => "process lock",
            Held::Postgres(_) => "advisory lock",
            Held::MySql { .. } => "named lock",
            Held::Released => "released",
        };
        f.debug_tuple("RefreshGuard").field(&held).finish()
    }
}

enum Held {
    /// SQLite: a lock of this process. SQLite has one writer, so one process runs wxauth on
    /// a database file; this lock also covers several instances inside it (tests do that).
    Sqlite(#[allow(dead_code, reason = "held, not read")] tokio::sync::OwnedMutexGuard<()>),
    /// PostgreSQL: `pg_advisory_xact_lock` in a transaction, so that it also holds through a
    /// transaction-pooling pgbouncer; it ends with the transaction.
    Postgres(Tx),
    /// MySQL: `GET_LOCK` on a connection of its own; the lock belongs to the session.
    MySql {
        conn: Option<PoolConnection<MySql>>,
        name: String,
    },
    Released,
}

impl RefreshGuard {
    pub async fn release(mut self) {
        match std::mem::replace(&mut self.0, Held::Released) {
            Held::Postgres(tx) => {
                // A failed commit leaves the transaction to end with its connection.
                let _ = tx.commit().await;
            }
            Held::MySql { mut conn, name } => {
                if let Some(mut c) = conn.take() {
                    let released = sqlx::query("SELECT RELEASE_LOCK(?)")
                        .bind(&name)
                        .execute(&mut *c)
                        .await;
                    if released.is_err() {
                        // The session still holds the lock: it must end.
                        c.close_on_drop();
                    }
                }
            }
            Held::Sqlite(_) | Held::Released => {}
        }
    }
}

impl Drop for RefreshGuard {
    fn drop(&mut self) {
        // Dropped unreleased (a cancelled refresh): a MySQL session holding the lock is closed
        // rather than pooled with it. A PostgreSQL transaction ends on its own.
        if let Held::MySql {
            conn: Some(conn), ..
        } = &mut self.0
        {
            conn.close_on_drop();
        }
    }
}

impl AccessTokenCache {
    /// Waits (up to the database's lock timeout) until no other instance refreshes the token
    /// of `app_id`, and keeps them out until the guard is released.
    pub async fn lock_refresh(&self, app_id: AppId) -> Result<RefreshGuard, RepoError> {
        match (self.db.kind(), &self.db.write) {
            (DatabaseKind::Sqlite, _) => {
                let lock = {
                    let mut locks = SQLITE_REFRESHES.lock().unwrap_or_else(|p| p.into_inner());
                    locks
                        .entry((self.db.url().to_owned(), app_id.0))
                        .or_default()
                        .clone()
                };
                Ok(RefreshGuard(Held::Sqlite(lock.lock_owned().await)))
            }
            (DatabaseKind::Postgres, pool) => {
                let tx = pool.begin().await.map_err(db_err)?;
                // The app id's low 32 bits: two apps that share them only wait for each other.
                let key = app_id.0 as i32;
                tx.execute(Statement::from_sql_and_values(
                    sea_orm::DbBackend::Postgres,
                    "SELECT pg_advisory_xact_lock($1, $2)",
                    [ADVISORY_LOCK_CLASS.into(), key.into()],
                ))
                .await
                .map_err(db_err)?;
                Ok(RefreshGuard(Held::Postgres(tx)))
            }
            (DatabaseKind::MySql, Pool::SeaOrm(conn)) => {
                let pool = conn.get_mysql_connection_pool();
                let mut c = pool.acquire().await.map_err(sqlx_err)?;
                let name = format!("wxauth.access_token.{}", app_id.0);
                let wait = self.db.lock_timeout().as_secs().max(1);
                let got: Option<i64> = sqlx::query_scalar("SELECT GET_LOCK(?, ?)")
                    .bind(&name)
                    .bind(wait)
                    .fetch_one(&mut *c)
                    .await
                    .map_err(sqlx_err)?;
                if got != Some(1) {
                    return Err(RepoError::unavailable(format!(
                        "another instance has been refreshing the access token for over {wait} s"
                    )));
                }
                Ok(RefreshGuard(Held::MySql {
                    conn: Some(c),
                    name,
                }))
            }
            (DatabaseKind::MySql, Pool::SimplePg(_)) => Err(RepoError::unavailable(
                "the simple query protocol is for PostgreSQL only",
            )),
        }
    }
}
