use async_trait::async_trait;
use sea_orm::sea_query::{Expr, NullOrdering, Query, SimpleExpr};
use sea_orm::{
    ColumnTrait, Condition, EntityTrait, Order, PaginatorTrait, QueryFilter, QueryOrder,
    QuerySelect,
};
use secrecy::SecretString;
use wxauth_core::RepoError;
use wxauth_core::ports::{
    IdentityRecord, NewIdentity, NewUser, ProfileChange, RepoResult, UserQuery, UserReads, UserRef,
    UserWrites,
};
use wxauth_domain::{
    AppId, IdentityId, OpenId, PhoneNumber, PublicUserId, Timestamp, UnionId, User, UserId,
    UserStatus,
};

use crate::cipher::Purpose;
use crate::convert::{self, from_db, phone_to_db, to_db};
use crate::deferred::{SignIn, Table};
use crate::entities::{
    oidc_authorizations, oidc_browser_sessions, oidc_consents, oidc_grants, refresh_tokens, users,
    wechat_identities,
};
use crate::errors::db_err;
use crate::store::{Backing, Conn, TxConn};

/// A user reference in a write: the row id, or (for a user written in the same transaction)
/// a subquery by public id.
pub(crate) fn user_ref(user: UserRef) -> SimpleExpr {
    match user {
        UserRef::Id(id) => Expr::val(id.0).into(),
        UserRef::Public(public_id) => SimpleExpr::SubQuery(
            None,
            Box::new(
                Query::select()
                    .column(users::Column::Id)
                    .from(users::Entity)
                    .and_where(users::Column::PublicId.eq(public_id.to_string()))
                    .to_owned()
                    .into_sub_query_statement(),
            ),
        ),
    }
}

fn identity(m: wechat_identities::Model) -> RepoResult<IdentityRecord> {
    Ok(IdentityRecord {
        id: IdentityId(m.id),
        user_id: UserId(m.user_id),
        app_id: AppId(m.app_id),
        openid: convert::openid(m.openid)?,
        unionid: convert::unionid(m.unionid)?,
        created_at: from_db(m.created_at),
        last_login_at: m.last_login_at.map(from_db),
    })
}

impl<C: Backing> Conn<C> {
    async fn user_where(&mut self, cond: Condition) -> RepoResult<Option<User>> {
        let row = users::Entity::find()
            .filter(cond)
            .one(self.synced().await?)
            .await
            .map_err(db_err)?;
        row.map(convert::user).transpose()
    }
}

#[async_trait]
impl<C: Backing> UserReads for Conn<C> {
    async fn identity_with_user(
        &mut self,
        app_id: AppId,
        openid: &OpenId,
    ) -> RepoResult<Option<(IdentityRecord, User)>> {
        if let Some(batcher) = self.identity_batcher() {
            let found = batcher.get((app_id.0, openid.as_str().to_owned())).await?;
            return found
                .map(|(i, u)| Ok((identity(i)?, convert::user(u)?)))
                .transpose();
        }
        let row = wechat_identities::Entity::find()
            .filter(wechat_identities::Column::AppId.eq(app_id.0))
            .filter(wechat_identities::Column::Openid.eq(openid.as_str()))
            .find_also_related(users::Entity)
            .one(self.synced().await?)
            .await
            .map_err(db_err)?;
        match row {
            Some((i, Some(u))) => Ok(Some((identity(i)?, convert::user(u)?))),
            Some((_, None)) => Err(RepoError::other("identity without its user")),
            None => Ok(None),
        }
    }

    async fn user_by_unionid(&mut self, unionid: &UnionId) -> RepoResult<Option<User>> {
        let row = wechat_identities::Entity::find()
            .filter(wechat_identities::Column::Unionid.eq(unionid.as_str()))
            .order_by_asc(wechat_identities::Column::Id)
            .find_also_related(users::Entity)
            .one(self.synced().await?)
            .await
            .map_err(db_err)?;
        row.and_then(|(_, u)| u).map(convert::user).transpose()
    }

    async fn user_by_phone(&mut self, phone: &PhoneNumber) -> RepoResult<Option<User>> {
        self.user_where(Condition::all().add(users::Column::Phone.eq(phone.e164())))
            .await
    }

    async fn user_by_id(&mut self, id: UserId) -> RepoResult<Option<User>> {
        let row = users::Entity::find_by_id(id.0)
            .one(self.synced().await?)
            .await
            .map_err(db_err)?;
        row.map(convert::user).transpose()
    }

    async fn user_by_public_id(&mut self, id: &PublicUserId) -> RepoResult<Option<User>> {
        self.user_where(Condition::all().add(users::Column::PublicId.eq(id.to_string())))
            .await
    }

    async fn identities_of(&mut self, user: UserId) -> RepoResult<Vec<IdentityRecord>> {
        wechat_identities::Entity::find()
            .filter(wechat_identities::Column::UserId.eq(user.0))
            .order_by_asc(wechat_identities::Column::Id)
            .all(self.synced().await?)
            .await
            .map_err(db_err)?
            .into_iter()
            .map(identity)
            .collect()
    }

    async fn account_of(
        &mut self,
        id: &PublicUserId,
    ) -> RepoResult<Option<(User, Vec<IdentityRecord>)>> {
        let found = match self.account_batcher() {
            Some(batcher) => batcher.get(id.to_string()).await?,
            None => users::Entity::find()
                .filter(users::Column::PublicId.eq(id.to_string()))
                .find_with_related(wechat_identities::Entity)
                .all(self.synced().await?)
                .await
                .map_err(db_err)?
                .into_iter()
                .next(),
        };
        let Some((user, mut identities)) = found else {
            return Ok(None);
        };
        identities.sort_by_key(|i| i.id);
        let identities = identities
            .into_iter()
            .map(identity)
            .collect::<RepoResult<_>>()?;
        Ok(Some((convert::user(user)?, identities)))
    }

    async fn list_users(&mut self, query: &UserQuery) -> RepoResult<(Vec<User>, u64)> {
        let mut cond = Condition::all();
        if let Some(text) = query.text.as_deref() {
            let by_identity = Query::select()
                .column(wechat_identities::Column::UserId)
                .from(wechat_identities::Entity)
                .cond_where(
                    Condition::any()
                        .add(wechat_identities::Column::Openid.eq(text))
                        .add(wechat_identities::Column::Unionid.eq(text)),
                )
                .to_owned();
            let mut any = Condition::any()
                .add(users::Column::PublicId.eq(text))
                .add(users::Column::Nickname.contains(text))
                .add(users::Column::Id.in_subquery(by_identity));
            if let Some(phone) = &query.phone {
                any = any.add(users::Column::Phone.eq(phone.e164()));
            }
            cond = cond.add(any);
        }
        if let Some(status) = query.status {
            cond = cond.add(users::Column::Status.eq(status.as_str()));
        }
        let select = users::Entity::find().filter(cond);
        let total = select
            .clone()
            .count(self.synced().await?)
            .await
            .map_err(db_err)?;
        let rows = select
            .order_by_desc(users::Column::Id)
            .offset(query.offset)
            .limit(query.limit)
            .all(self.synced().await?)
            .await
            .map_err(db_err)?;
        let users = rows
            .into_iter()
            .map(convert::user)
            .collect::<RepoResult<_>>()?;
        Ok((users, total))
    }

    async fn session_key(
        &mut self,
        user: UserId,
        app_id: AppId,
    ) -> RepoResult<Option<SecretString>> {
        // The identity that signed in last: its key is the one the Mini Program holds now.
        let row = wechat_identities::Entity::find()
            .filter(wechat_identities::Column::UserId.eq(user.0))
            .filter(wechat_identities::Column::AppId.eq(app_id.0))
            // NULLS LAST: PostgreSQL puts NULLs first in a descending order.
            .order_by_with_nulls(
                wechat_identities::Column::LastLoginAt,
                Order::Desc,
                NullOrdering::Last,
            )
            .order_by_desc(wechat_identities::Column::Id)
            .one(self.synced().await?)
            .await
            .map_err(db_err)?;
        row.and_then(|r| r.session_key_enc)
            .map(|enc| {
                self.cipher()
                    .decrypt(Purpose::SessionKey, &enc)
                    .map_err(|e| RepoError::other(format!("session key: {e}")))
            })
            .transpose()
    }
}

#[async_trait]
impl UserWrites for TxConn {
    async fn insert_user(&mut self, new: &NewUser, now: Timestamp) -> RepoResult<()> {
        let (phone, cc) = phone_to_db(new.phone.as_ref());
        // In `Table::Users`' column order.
        self.defer_row(
            Table::Users,
            vec![
                Expr::val(new.public_id.to_string()).into(),
                Expr::val(new.nickname.as_ref().map(|n| n.as_str().to_owned())).into(),
                Expr::val(new.avatar_url.as_ref().map(|u| u.as_str().to_owned())).into(),
                Expr::val(phone).into(),
                Expr::val(cc).into(),
                Expr::val(UserStatus::Active.as_str()).into(),
                Expr::val(to_db(now)).into(),
                Expr::val(to_db(now)).into(),
            ],
        );
        Ok(())
    }

    async fn insert_identity(&mut self, new: &NewIdentity, now: Timestamp) -> RepoResult<()> {
        let session_key = new
            .session_key
            .as_ref()
            .map(|k| self.cipher().encrypt(Purpose::SessionKey, k));
        let at = to_db(now);
        // In `Table::WechatIdentities`' column order.
        self.defer_row(
            Table::WechatIdentities,
            vec![
                user_ref(new.user),
                Expr::val(new.app_id.0).into(),
                Expr::val(new.openid.to_string()).into(),
                Expr::val(new.unionid.as_ref().map(|u| u.to_string())).into(),
                Expr::val(session_key).into(),
                Expr::val(at).into(),
                Expr::val(at).into(),
                Expr::val(Some(at)).into(),
            ],
        );
        Ok(())
    }

    async fn record_sign_in(
        &mut self,
        identity_id: IdentityId,
        session_key: Option<&SecretString>,
        unionid: Option<&UnionId>,
        now: Timestamp,
    ) -> RepoResult<()> {
        let session_key = session_key.map(|key| self.cipher().encrypt(Purpose::SessionKey, key));
        self.defer_sign_in(SignIn {
            identity_id: identity_id.0,
            at: to_db(now),
            session_key,
            unionid: unionid.map(ToString::to_string),
        });
        Ok(())
    }

    async fn update_profile(
        &mut self,
        user: UserId,
        change: &ProfileChange,
        now: Timestamp,
    ) -> RepoResult<User> {
        let mut update = users::Entity::update_many()
            .col_expr(users::Column::UpdatedAt, Expr::value(to_db(now)));
        if let Some(nickname) = &change.nickname {
            let v = nickname.as_ref().map(|n| n.as_str().to_owned());
            update = update.col_expr(users::Column::Nickname, Expr::value(v));
        }
        if let Some(avatar) = &change.avatar_url {
            let v = avatar.as_ref().map(|u| u.as_str().to_owned());
            update = update.col_expr(users::Column::AvatarUrl, Expr::value(v));
        }
        if let Some(phone) = &change.phone {
            let (e164, cc) = phone_to_db(phone.as_ref());
            update = update
                .col_expr(users::Column::Phone, Expr::value(e164))
                .col_expr(users::Column::PhoneCountryCode, Expr::value(cc));
        }
        update
            .filter(users::Column::Id.eq(user.0))
            .exec(self.synced().await?)
            .await
            .map_err(db_err)?;
        self.user_by_id(user)
            .await?
            .ok_or_else(|| RepoError::other("user vanished"))
    }

    async fn set_user_status(
        &mut self,
        user: UserId,
        status: UserStatus,
        now: Timestamp,
    ) -> RepoResult<bool> {
        let res = users::Entity::update_many()
            .col_expr(users::Column::Status, Expr::value(status.as_str()))
            .col_expr(users::Column::UpdatedAt, Expr::value(to_db(now)))
            .filter(users::Column::Id.eq(user.0))
            .exec(self.synced().await?)
            .await
            .map_err(db_err)?;
        Ok(res.rows_affected > 0)
    }

    async fn delete_identity(&mut self, identity: IdentityId) -> RepoResult<bool> {
        let res = wechat_identities::Entity::delete_many()
            .filter(wechat_identities::Column::Id.eq(identity.0))
            .exec(self.synced().await?)
            .await
            .map_err(db_err)?;
        Ok(res.rows_affected > 0)
    }

    async fn delete_user(&mut self, user: UserId) -> RepoResult<bool> {
        // Explicit deletes rather than relying on ON DELETE CASCADE, which an operator's
        // hand-made schema might lack.
        oidc_grants::Entity::delete_many()
            .filter(oidc_grants::Column::UserId.eq(user.0))
            .exec(self.synced().await?)
            .await
            .map_err(db_err)?;
        oidc_consents::Entity::delete_many()
            .filter(oidc_consents::Column::UserId.eq(user.0))
            .exec(self.synced().await?)
            .await
            .map_err(db_err)?;
        oidc_browser_sessions::Entity::delete_many()
            .filter(oidc_browser_sessions::Column::UserId.eq(user.0))
            .exec(self.synced().await?)
            .await
            .map_err(db_err)?;
        oidc_authorizations::Entity::delete_many()
            .filter(oidc_authorizations::Column::UserId.eq(user.0))
            .exec(self.synced().await?)
            .await
            .map_err(db_err)?;
        refresh_tokens::Entity::delete_many()
            .filter(refresh_tokens::Column::UserId.eq(user.0))
            .exec(self.synced().await?)
            .await
            .map_err(db_err)?;
        wechat_identities::Entity::delete_many()
            .filter(wechat_identities::Column::UserId.eq(user.0))
            .exec(self.synced().await?)
            .await
            .map_err(db_err)?;
        let res = users::Entity::delete_by_id(user.0)
            .exec(self.synced().await?)
            .await
            .map_err(db_err)?;
        Ok(res.rows_affected > 0)
    }
}
