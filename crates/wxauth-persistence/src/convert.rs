//! Conversions between rows and domain values, and from sea-orm errors to `RepoError`.

use sea_orm::{DbErr, RuntimeErr, SqlErr};
use time::{OffsetDateTime, PrimitiveDateTime, UtcOffset};
use wxauth_core::RepoError;
use wxauth_domain::{
    AvatarUrl, Nickname, OpenId, PhoneNumber, PublicUserId, UnionId, User, UserId, UserStatus,
};

use crate::entities::users;

/// Stored timestamps are UTC without an offset, at microsecond precision (what PostgreSQL and
/// MySQL `datetime(6)` keep), so a value reads back exactly as written.
pub fn to_db(t: OffsetDateTime) -> PrimitiveDateTime {
    let t = t.to_offset(UtcOffset::UTC);
    let t = t
        .replace_nanosecond(t.nanosecond() / 1_000 * 1_000)
        .unwrap_or(t);
    PrimitiveDateTime::new(t.date(), t.time())
}

pub fn from_db(t: PrimitiveDateTime) -> OffsetDateTime {
    t.assume_utc()
}

pub fn db_err(e: DbErr) -> RepoError {
    if let Some(SqlErr::UniqueConstraintViolation(_)) = e.sql_err() {
        return RepoError::Conflict("unique key");
    }
    match e {
        DbErr::ConnectionAcquire(_) | DbErr::Conn(_) => RepoError::Unavailable(e.to_string()),
        // A connection the database dropped fails the query that was using it: the database
        // is unavailable for this request (503), not broken (500). The pool replaces it.
        DbErr::Query(RuntimeErr::SqlxError(ref inner))
        | DbErr::Exec(RuntimeErr::SqlxError(ref inner))
            if connection_lost(inner) =>
        {
            RepoError::Unavailable(e.to_string())
        }
        other => RepoError::Other(other.to_string()),
    }
}

/// Whether the error means the connection (or the database behind it) went away, rather than
/// that the statement was wrong.
pub(crate) fn connection_lost(e: &sea_orm::sqlx::Error) -> bool {
    use sea_orm::sqlx::Error;
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

pub fn corrupt(what: &str) -> RepoError {
    RepoError::Other(format!("stored {what} is not valid"))
}

pub fn phone_to_db(phone: Option<&PhoneNumber>) -> (Option<String>, Option<String>) {
    match phone {
        Some(p) => (Some(p.e164()), Some(p.country_code().to_owned())),
        None => (None, None),
    }
}

pub fn phone_from_db(e164: Option<&str>, cc: Option<&str>) -> Option<PhoneNumber> {
    match (e164, cc) {
        (Some(e164), Some(cc)) => PhoneNumber::from_e164(e164, cc).ok(),
        _ => None,
    }
}

pub fn openid(s: String) -> Result<OpenId, RepoError> {
    OpenId::parse(s).map_err(|_| corrupt("openid"))
}

pub fn unionid(s: Option<String>) -> Result<Option<UnionId>, RepoError> {
    s.map(|u| UnionId::parse(u).map_err(|_| corrupt("unionid")))
        .transpose()
}

pub fn user(m: users::Model) -> Result<User, RepoError> {
    let public_id = PublicUserId::parse(&m.public_id).map_err(|_| corrupt("user public id"))?;
    Ok(User {
        id: UserId(m.id),
        public_id,
        // Values were validated on the way in; a row edited by hand into something invalid
        // loses that field rather than the whole account.
        nickname: m.nickname.as_deref().and_then(|n| Nickname::parse(n).ok()),
        avatar_url: m
            .avatar_url
            .as_deref()
            .and_then(|u| AvatarUrl::parse(u).ok()),
        phone: phone_from_db(m.phone.as_deref(), m.phone_country_code.as_deref()),
        // An unknown status fails closed.
        status: UserStatus::parse(&m.status).unwrap_or(UserStatus::Blocked),
        created_at: from_db(m.created_at),
        updated_at: from_db(m.updated_at),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_lost_connection_is_unavailable_and_a_bad_statement_is_not() {
        let lost = std::io::Error::new(std::io::ErrorKind::ConnectionReset, "reset by peer");
        let e = DbErr::Query(RuntimeErr::SqlxError(sea_orm::sqlx::Error::Io(lost)));
        assert!(matches!(db_err(e), RepoError::Unavailable(_)));
        let e = DbErr::Exec(RuntimeErr::SqlxError(sea_orm::sqlx::Error::PoolTimedOut));
        assert!(matches!(db_err(e), RepoError::Unavailable(_)));
        let e = DbErr::Query(RuntimeErr::Internal("syntax error".into()));
        assert!(matches!(db_err(e), RepoError::Other(_)));
        let e = DbErr::Query(RuntimeErr::SqlxError(sea_orm::sqlx::Error::RowNotFound));
        assert!(matches!(db_err(e), RepoError::Other(_)));
    }
}
