use async_trait::async_trait;
use sea_orm::sea_query::Expr;
use sea_orm::{ActiveValue::Set, ColumnTrait, EntityTrait, QueryFilter};
use wxauth_core::ports::{
    NewOAuthState, OAuthStateReads, OAuthStateRecord, OAuthStateWrites, RepoResult,
};
use wxauth_domain::{AppId, Timestamp};

use crate::convert::{from_db, to_db};
use crate::entities::oauth_states::{self, Column};
use crate::errors::db_err;
use crate::store::{Backing, Conn, TxConn};

#[async_trait]
impl<C: Backing> OAuthStateReads for Conn<C> {
    async fn oauth_state_by_hash(&mut self, hash: &str) -> RepoResult<Option<OAuthStateRecord>> {
        let row = oauth_states::Entity::find()
            .filter(Column::StateHash.eq(hash))
            .one(self.synced().await?)
            .await
            .map_err(db_err)?;
        Ok(row.map(|m| OAuthStateRecord {
            id: m.id,
            app_id: AppId(m.app_id),
            redirect_uri: m.redirect_uri,
            callback: m.callback,
            scope: m.scope,
            expires_at: from_db(m.expires_at),
            used_at: m.used_at.map(from_db),
        }))
    }
}

#[async_trait]
impl OAuthStateWrites for TxConn {
    async fn insert_oauth_state(&mut self, s: &NewOAuthState, now: Timestamp) -> RepoResult<()> {
        let row = oauth_states::ActiveModel {
            state_hash: Set(s.state_hash.clone()),
            app_id: Set(s.app_id.0),
            redirect_uri: Set(s.redirect_uri.clone()),
            callback: Set(s.callback.clone()),
            scope: Set(s.scope.clone()),
            created_at: Set(to_db(now)),
            expires_at: Set(to_db(s.expires_at)),
            used_at: Set(None),
            ..Default::default()
        };
        oauth_states::Entity::insert(row)
            .exec_without_returning(self.synced().await?)
            .await
            .map_err(db_err)?;
        Ok(())
    }

    async fn mark_oauth_state_used(&mut self, id: i64, now: Timestamp) -> RepoResult<bool> {
        let res = oauth_states::Entity::update_many()
            .col_expr(Column::UsedAt, Expr::value(Some(to_db(now))))
            .filter(Column::Id.eq(id))
            .filter(Column::UsedAt.is_null())
            .exec(self.synced().await?)
            .await
            .map_err(db_err)?;
        Ok(res.rows_affected == 1)
    }
}
