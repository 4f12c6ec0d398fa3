use async_trait::async_trait;
use sea_orm::sea_query::Expr;
use sea_orm::{ActiveValue::Set, ColumnTrait, EntityTrait, QueryFilter, QueryOrder};
use wxauth_core::ports::{AdminKeyReads, AdminKeyRecord, AdminKeyWrites, RepoResult};
use wxauth_domain::Timestamp;

use crate::convert::{from_db, to_db};
use crate::entities::admin_keys::{self, Column};
use crate::errors::db_err;
use crate::store::{Backing, Conn, TxConn};

fn record(m: admin_keys::Model) -> AdminKeyRecord {
    AdminKeyRecord {
        key_id: m.key_id,
        name: m.name,
        secret_hash: m.secret_hash,
        created_at: from_db(m.created_at),
        revoked_at: m.revoked_at.map(from_db),
    }
}

#[async_trait]
impl<C: Backing> AdminKeyReads for Conn<C> {
    async fn admin_key(&mut self, key_id: &str) -> RepoResult<Option<AdminKeyRecord>> {
        let row = admin_keys::Entity::find()
            .filter(Column::KeyId.eq(key_id))
            .one(self.synced().await?)
            .await
            .map_err(db_err)?;
        Ok(row.map(record))
    }

    async fn list_admin_keys(&mut self) -> RepoResult<Vec<AdminKeyRecord>> {
        let rows = admin_keys::Entity::find()
            .order_by_asc(Column::Id)
            .all(self.synced().await?)
            .await
            .map_err(db_err)?;
        Ok(rows.into_iter().map(record).collect())
    }
}

#[async_trait]
impl AdminKeyWrites for TxConn {
    async fn insert_admin_key(&mut self, key: &AdminKeyRecord) -> RepoResult<()> {
        let row = admin_keys::ActiveModel {
            key_id: Set(key.key_id.clone()),
            name: Set(key.name.clone()),
            secret_hash: Set(key.secret_hash.clone()),
            created_at: Set(to_db(key.created_at)),
            revoked_at: Set(None),
            ..Default::default()
        };
        admin_keys::Entity::insert(row)
            .exec_without_returning(self.synced().await?)
            .await
            .map_err(db_err)?;
        Ok(())
    }

    async fn revoke_admin_key(&mut self, key_id: &str, now: Timestamp) -> RepoResult<bool> {
        let res = admin_keys::Entity::update_many()
            .col_expr(Column::RevokedAt, Expr::value(Some(to_db(now))))
            .filter(Column::KeyId.eq(key_id))
            .filter(Column::RevokedAt.is_null())
            .exec(self.synced().await?)
            .await
            .map_err(db_err)?;
        Ok(res.rows_affected == 1)
    }
}
