//! Conversions between rows and domain values.

use time::{OffsetDateTime, PrimitiveDateTime, UtcOffset};
use wxauth_core::RepoError;
use wxauth_domain::{
    AvatarUrl, Nickname, OpenId, PhoneNumber, PublicUserId, UnionId, User, UserId, UserStatus,
};

use crate::entities::users;
use crate::errors::corrupt;

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
