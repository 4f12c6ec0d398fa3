use async_trait::async_trait;
use sea_orm::sea_query::Expr;

use crate::deferred::Table;
use crate::repo::users::user_ref;
use sea_orm::{ColumnTrait, EntityTrait, QueryFilter};
use wxauth_core::ports::{
    NewRefreshToken, RefreshTokenRecord, RepoResult, SessionReads, SessionWrites,
};
use wxauth_domain::{AppId, Timestamp, UserId};

use crate::convert::{from_db, to_db};
use crate::entities::refresh_tokens::{self, Column};
use crate::errors::db_err;
use crate::store::{Backing, Conn, TxConn};

#[async_trait]
impl<C: Backing> SessionReads for Conn<C> {
    async fn refresh_token_by_hash(
        &mut self,
        hash: &str,
    ) -> RepoResult<Option<RefreshTokenRecord>> {
        let row = refresh_tokens::Entity::find()
            .filter(Column::TokenHash.eq(hash))
            .one(self.synced().await?)
            .await
            .map_err(db_err)?;
        Ok(row.map(|m| RefreshTokenRecord {
            id: m.id,
            family: m.family,
            user_id: UserId(m.user_id),
            app_id: m.app_id.map(AppId),
            expires_at: from_db(m.expires_at),
            used_at: m.used_at.map(from_db),
            revoked_at: m.revoked_at.map(from_db),
        }))
    }
}

#[async_trait]
impl SessionWrites for TxConn {
    async fn insert_refresh_token(
        &mut self,
        t: &NewRefreshToken,
        now: Timestamp,
    ) -> RepoResult<()> {
        // In `Table::RefreshTokens`' column order.
        self.defer_row(
            Table::RefreshTokens,
            vec![
                Expr::val(t.token_hash.clone()).into(),
                Expr::val(t.family.clone()).into(),
                user_ref(t.user),
                Expr::val(t.app_id.map(|a| a.0)).into(),
                Expr::val(to_db(now)).into(),
                Expr::val(to_db(t.expires_at)).into(),
            ],
        );
        Ok(())
    }

    async fn mark_refresh_token_used(&mut self, id: i64, now: Timestamp) -> RepoResult<bool> {
        let res = refresh_tokens::Entity::update_many()
            .col_expr(Column::UsedAt, Expr::value(Some(to_db(now))))
            .filter(Column::Id.eq(id))
            .filter(Column::UsedAt.is_null())
            .filter(Column::RevokedAt.is_null())
            .exec(self.synced().await?)
            .await
            .map_err(db_err)?;
        Ok(res.rows_affected == 1)
    }

    async fn revoke_family(&mut self, family: &str, now: Timestamp) -> RepoResult<u64> {
        let res = refresh_tokens::Entity::update_many()
            .col_expr(Column::RevokedAt, Expr::value(Some(to_db(now))))
            .filter(Column::Family.eq(family))
            .filter(Column::RevokedAt.is_null())
            .exec(self.synced().await?)
            .await
            .map_err(db_err)?;
        Ok(res.rows_affected)
    }

    async fn revoke_user_sessions(&mut self, user: UserId, now: Timestamp) -> RepoResult<u64> {
        let res = refresh_tokens::Entity::update_many()
            .col_expr(Column::RevokedAt, Expr::value(Some(to_db(now))))
            .filter(Column::UserId.eq(user.0))
            .filter(Column::RevokedAt.is_null())
            .exec(self.synced().await?)
            .await
            .map_err(db_err)?;
        Ok(res.rows_affected)
    }
}
