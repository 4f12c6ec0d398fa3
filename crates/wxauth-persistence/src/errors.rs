//! Database errors in the store port's terms: the one place where sea-orm's and sqlx's errors
//! become `RepoError`s. The driver's error stays attached as the typed source.
//!
//! A lost connection is also remembered ([`lost_connection_at`]): pooled connections that sat
//! idle since before it may be dead too (the database restarted or failed over), so the pools
//! check each of them once before handing it out again.

use std::sync::OnceLock;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use sea_orm::{ConnAcquireErr, DbErr, RuntimeErr, SqlErr, sqlx};
use wxauth_core::{Cause, RepoError};

/// When this process last saw a connection fail, as time since [`epoch`] in microseconds
/// (0: never). Process-wide: a failover affects every pool of the process alike, and a needless
/// check costs one round trip.
static LOST_AT: AtomicU64 = AtomicU64::new(0);

fn epoch() -> Instant {
    static EPOCH: OnceLock<Instant> = OnceLock::new();
    *EPOCH.get_or_init(Instant::now)
}

fn note_lost_connection() {
    let micros = u64::try_from(epoch().elapsed().as_micros()).unwrap_or(u64::MAX);
    LOST_AT.store(micros.max(1), Ordering::Relaxed);
}

/// How long ago a connection was last lost, if ever.
pub(crate) fn lost_connection_at() -> Option<Duration> {
    match LOST_AT.load(Ordering::Relaxed) {
        0 => None,
        micros => Some(
            epoch()
                .elapsed()
                .saturating_sub(Duration::from_micros(micros)),
        ),
    }
}

/// Whether a connection that has been idle for `idle_for` went back to the pool before the last
/// lost connection, and so may have been dropped by the database too.
pub(crate) fn idle_since_a_lost_connection(idle_for: Duration) -> bool {
    lost_connection_at().is_some_and(|ago| idle_for >= ago)
}

/// Maps a sea-orm error. A unique key is a conflict the use case can act on; a connection that
/// went away is "unavailable" (503); anything else is a bug or a broken schema (500).
pub(crate) fn db_err(e: DbErr) -> RepoError {
    if let Some(SqlErr::UniqueConstraintViolation(_)) = e.sql_err() {
        return RepoError::Conflict("unique key");
    }
    let unavailable = match &e {
        DbErr::ConnectionAcquire(_) | DbErr::Conn(_) => true,
        DbErr::Query(RuntimeErr::SqlxError(inner)) | DbErr::Exec(RuntimeErr::SqlxError(inner)) => {
            unavailable(inner)
        }
        _ => false,
    };
    let timed_out = timed_out_db(&e);
    let contended = match &e {
        DbErr::Query(RuntimeErr::SqlxError(inner)) | DbErr::Exec(RuntimeErr::SqlxError(inner)) => {
            contended(inner)
        }
        _ => false,
    };
    if contended {
        RepoError::Contended(Cause::new(e))
    } else if timed_out {
        RepoError::TimedOut(Cause::new(e))
    } else if unavailable {
        RepoError::Unavailable(Cause::new(e))
    } else {
        RepoError::Other(Cause::new(e))
    }
}

/// Maps an sqlx error, for the statements wxauth sends past sea-orm (batches, group commits).
pub(crate) fn sqlx_err(e: sqlx::Error) -> RepoError {
    match &e {
        sqlx::Error::Database(d) if d.is_unique_violation() => RepoError::Conflict("unique key"),
        _ if contended(&e) => RepoError::Contended(Cause::new(e)),
        _ if timed_out(&e) => RepoError::TimedOut(Cause::new(e)),
        _ if unavailable(&e) => RepoError::Unavailable(Cause::new(e)),
        _ => RepoError::Other(Cause::new(e)),
    }
}

/// A lost connection, or a database too busy to answer in time: the request can be retried
/// later (503), as opposed to a statement that is wrong (500).
pub(crate) fn unavailable(e: &sqlx::Error) -> bool {
    connection_lost(e) || timed_out(e)
}

/// The statement or lock timeout fired, or the pool had no connection in time: the database is
/// stalled or overloaded.
pub(crate) fn timed_out(e: &sqlx::Error) -> bool {
    use sqlx::Error;
    match e {
        Error::PoolTimedOut => true,
        // PostgreSQL: 57014 query_canceled (statement_timeout), 55P03 lock_not_available
        // (lock_timeout). MySQL/MariaDB: 1205 lock wait timeout, 3024 max_execution_time,
        // 1969 max_statement_time (SQLSTATE 70100, which `connection_lost` counts already).
        // SQLite: 5 SQLITE_BUSY, 6 SQLITE_LOCKED (busy_timeout ran out).
        Error::Database(d) => {
            let sqlite_busy = d.try_downcast_ref::<sqlx::sqlite::SqliteError>().is_some()
                && d.code()
                    .and_then(|c| c.parse::<u32>().ok())
                    // Extended codes keep the primary code in their low byte.
                    .is_some_and(|c| matches!(c & 0xff, 5 | 6));
            sqlite_busy
                || matches!(d.code().as_deref(), Some("57014" | "55P03"))
                || mysql_error_number(d.as_ref()).is_some_and(|n| matches!(n, 1205 | 3024 | 1969))
        }
        _ => false,
    }
}

/// The database rolled the transaction back to break a deadlock or a serialization conflict:
/// SQLSTATE 40001 (serialization failure; MySQL's and MariaDB's deadlock 1213 carries it too)
/// and 40P01 (PostgreSQL's deadlock). MySQL rolls back the whole transaction, savepoints and
/// all; PostgreSQL aborts it. Either way only running it again from `BEGIN` helps.
pub(crate) fn contended(e: &sqlx::Error) -> bool {
    match e {
        sqlx::Error::Database(d) => {
            matches!(d.code().as_deref(), Some("40001" | "40P01"))
                || mysql_error_number(d.as_ref()).is_some_and(|n| n == 1213)
        }
        _ => false,
    }
}

fn mysql_error_number(d: &dyn sqlx::error::DatabaseError) -> Option<u16> {
    d.try_downcast_ref::<sqlx::mysql::MySqlDatabaseError>()
        .map(|m| m.number())
}

/// Whether the error means the connection (or the database behind it) went away, rather than
/// that the statement was wrong. A connection the database dropped fails the query that was
/// using it: the database is unavailable for this request, not broken. The pool replaces it.
pub(crate) fn connection_lost(e: &sqlx::Error) -> bool {
    use sqlx::Error;
    let lost = match e {
        Error::Io(_) | Error::Tls(_) | Error::PoolClosed | Error::WorkerCrashed => true,
        // SQLSTATE class 08 (connection exception) and 57P (PostgreSQL: the server ended the
        // session, e.g. `pg_terminate_backend`, a shutdown or a failover); 70100 is MySQL's
        // "connection was killed"; 25006 is a replica refusing a write after a failover.
        Error::Database(d) => {
            d.code().is_some_and(|code| {
                code.starts_with("08")
                    || code.starts_with("57P")
                    || code == "70100"
                    || code == "25006"
            }) || mysql_error_number(d.as_ref()).is_some_and(|n| matches!(n, 2006 | 2013 | 1927))
        }
        _ => false,
    };
    if lost {
        note_lost_connection();
    }
    lost
}

/// [`connection_lost`] for a sea-orm error: the statement may be retried on a fresh connection.
pub(crate) fn connection_lost_db(e: &DbErr) -> bool {
    match e {
        DbErr::Query(RuntimeErr::SqlxError(inner))
        | DbErr::Exec(RuntimeErr::SqlxError(inner))
        | DbErr::Conn(RuntimeErr::SqlxError(inner)) => connection_lost(inner),
        _ => false,
    }
}

/// [`timed_out`] for a sea-orm error: a wait that used up its time already.
pub(crate) fn timed_out_db(e: &DbErr) -> bool {
    match e {
        // sea-orm's name for sqlx's PoolTimedOut.
        DbErr::ConnectionAcquire(ConnAcquireErr::Timeout) => true,
        DbErr::Query(RuntimeErr::SqlxError(inner))
        | DbErr::Exec(RuntimeErr::SqlxError(inner))
        | DbErr::Conn(RuntimeErr::SqlxError(inner)) => timed_out(inner),
        _ => false,
    }
}

/// A row that does not convert back into the value that was written.
pub(crate) fn corrupt(what: &str) -> RepoError {
    RepoError::other(format!("stored {what} is not valid"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_lost_connection_is_unavailable_a_timeout_timed_out_and_a_bad_statement_neither() {
        let lost = std::io::Error::new(std::io::ErrorKind::ConnectionReset, "reset by peer");
        let e = DbErr::Query(RuntimeErr::SqlxError(sqlx::Error::Io(lost)));
        assert!(matches!(db_err(e), RepoError::Unavailable(_)));
        let e = DbErr::Exec(RuntimeErr::SqlxError(sqlx::Error::PoolTimedOut));
        assert!(matches!(db_err(e), RepoError::TimedOut(_)));
        let e = DbErr::ConnectionAcquire(ConnAcquireErr::Timeout);
        assert!(matches!(db_err(e), RepoError::TimedOut(_)));
        let e = DbErr::ConnectionAcquire(ConnAcquireErr::ConnectionClosed);
        assert!(matches!(db_err(e), RepoError::Unavailable(_)));
        let e = DbErr::Query(RuntimeErr::Internal("syntax error".into()));
        assert!(matches!(db_err(e), RepoError::Other(_)));
        let e = DbErr::Query(RuntimeErr::SqlxError(sqlx::Error::RowNotFound));
        assert!(matches!(db_err(e), RepoError::Other(_)));
        assert!(matches!(
            sqlx_err(sqlx::Error::PoolClosed),
            RepoError::Unavailable(_)
        ));
    }

    #[test]
    fn the_drivers_error_stays_the_source() {
        let e = db_err(DbErr::Query(RuntimeErr::Internal("syntax error".into())));
        let source = std::error::Error::source(&e).map(|s| s.to_string());
        assert!(source.is_some_and(|s| s.contains("syntax error")));
    }
}
