//! Database errors in the store port's terms: the one place where sea-orm's and sqlx's errors
//! become `RepoError`s. The driver's error stays attached as the typed source.

use sea_orm::{DbErr, RuntimeErr, SqlErr, sqlx};
use wxauth_core::{Cause, RepoError};

/// Maps a sea-orm error. A unique key is a conflict the use case can act on; a connection that
/// went away is "unavailable" (503); anything else is a bug or a broken schema (500).
pub(crate) fn db_err(e: DbErr) -> RepoError {
    if let Some(SqlErr::UniqueConstraintViolation(_)) = e.sql_err() {
        return RepoError::Conflict("unique key");
    }
    let unavailable = match &e {
        DbErr::ConnectionAcquire(_) | DbErr::Conn(_) => true,
        DbErr::Query(RuntimeErr::SqlxError(inner)) | DbErr::Exec(RuntimeErr::SqlxError(inner)) => {
            connection_lost(inner)
        }
        _ => false,
    };
    if unavailable {
        RepoError::Unavailable(Cause::new(e))
    } else {
        RepoError::Other(Cause::new(e))
    }
}

/// Maps an sqlx error, for the statements wxauth sends past sea-orm (batches, group commits).
pub(crate) fn sqlx_err(e: sqlx::Error) -> RepoError {
    match &e {
        sqlx::Error::Database(d) if d.is_unique_violation() => RepoError::Conflict("unique key"),
        _ if connection_lost(&e) => RepoError::Unavailable(Cause::new(e)),
        _ => RepoError::Other(Cause::new(e)),
    }
}

/// Whether the error means the connection (or the database behind it) went away, rather than
/// that the statement was wrong. A connection the database dropped fails the query that was
/// using it: the database is unavailable for this request, not broken. The pool replaces it.
pub(crate) fn connection_lost(e: &sqlx::Error) -> bool {
    use sqlx::Error;
    match e {
        Error::Io(_) | Error::PoolTimedOut | Error::PoolClosed | Error::WorkerCrashed => true,
        // SQLSTATE class 08 (connection exception) and 57P (PostgreSQL: the server ended the
        // session, e.g. `pg_terminate_backend` or a shutdown); 70100 is MySQL's "connection was
        // killed".
        Error::Database(d) => d.code().is_some_and(|code| {
            code.starts_with("08") || code.starts_with("57P") || code == "70100"
        }),
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
    fn a_lost_connection_is_unavailable_and_a_bad_statement_is_not() {
        let lost = std::io::Error::new(std::io::ErrorKind::ConnectionReset, "reset by peer");
        let e = DbErr::Query(RuntimeErr::SqlxError(sqlx::Error::Io(lost)));
        assert!(matches!(db_err(e), RepoError::Unavailable(_)));
        let e = DbErr::Exec(RuntimeErr::SqlxError(sqlx::Error::PoolTimedOut));
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
