use async_trait::async_trait;
use sea_orm::sea_query::Expr;
use sea_orm::{ActiveValue::Set, ColumnTrait, EntityTrait, QueryFilter};
use wxauth_core::RepoError;
use wxauth_core::ports::{BindCodeReads, BindCodeRecord, BindCodeWrites, NewBindCode, RepoResult};
use wxauth_domain::{AppId, Timestamp};

use crate::cipher::Purpose;
use crate::convert::{self, from_db, phone_from_db, phone_to_db, to_db};
use crate::entities::bind_codes::{self, Column};
use crate::errors::db_err;
use crate::store::{Backing, Conn, TxConn};

#[async_trait]
impl<C: Backing> BindCodeReads for Conn<C> {
    async fn bind_code_by_hash(&mut self, hash: &str) -> RepoResult<Option<BindCodeRecord>> {
        let row = bind_codes::Entity::find()
            .filter(Column::CodeHash.eq(hash))
            .one(self.synced().await?)
            .await
            .map_err(db_err)?;
        let Some(m) = row else { return Ok(None) };
        let session_key = m
            .session_key_enc
            .as_deref()
            .map(|enc| self.cipher().decrypt(Purpose::SessionKey, enc))
            .transpose()
            .map_err(|e| RepoError::other(format!("bind code session key: {e}")))?;
        Ok(Some(BindCodeRecord {
            id: m.id,
            app_id: AppId(m.app_id),
            phone: phone_from_db(m.phone.as_deref(), m.phone_country_code.as_deref()),
            openid: convert::openid(m.openid)?,
            unionid: convert::unionid(m.unionid)?,
            session_key,
            expires_at: from_db(m.expires_at),
            used_at: m.used_at.map(from_db),
        }))
    }
}

#[async_trait]
impl BindCodeWrites for TxConn {
    async fn insert_bind_code(&mut self, code: &NewBindCode, now: Timestamp) -> RepoResult<()> {
        let (phone, cc) = phone_to_db(code.phone.as_ref());
        let row = bind_codes::ActiveModel {
            code_hash: Set(code.code_hash.clone()),
            app_id: Set(code.app_id.0),
            openid: Set(code.openid.to_string()),
            unionid: Set(code.unionid.as_ref().map(|u| u.to_string())),
            session_key_enc: Set(code
                .session_key
                .as_ref()
                .map(|k| self.cipher().encrypt(Purpose::SessionKey, k))),
            phone: Set(phone),
            phone_country_code: Set(cc),
            created_at: Set(to_db(now)),
            expires_at: Set(to_db(code.expires_at)),
            used_at: Set(None),
            ..Default::default()
        };
        bind_codes::Entity::insert(row)
            .exec_without_returning(self.synced().await?)
            .await
            .map_err(db_err)?;
        Ok(())
    }

    async fn mark_bind_code_used(&mut self, id: i64, now: Timestamp) -> RepoResult<bool> {
        let res = bind_codes::Entity::update_many()
            .col_expr(Column::UsedAt, Expr::value(Some(to_db(now))))
            // The encrypted session key has done its job once the code is redeemed.
            .col_expr(Column::SessionKeyEnc, Expr::value(Option::<String>::None))
            .filter(Column::Id.eq(id))
            .filter(Column::UsedAt.is_null())
            .exec(self.synced().await?)
            .await
            .map_err(db_err)?;
        Ok(res.rows_affected == 1)
    }
}
