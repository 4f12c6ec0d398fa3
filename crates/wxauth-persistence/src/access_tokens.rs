//! The shared cache of WeChat app access tokens: every wxauth instance reads the token another
//! one fetched instead of fetching its own (which would waste quota).

use std::sync::Arc;

use sea_orm::sea_query::OnConflict;
use sea_orm::{ActiveValue::Set, ColumnTrait, EntityTrait, QueryFilter};
use secrecy::SecretString;
use wxauth_core::RepoError;
use wxauth_domain::{AppId, Timestamp};

use crate::cipher::{Purpose, SecretCipher};
use crate::convert::{from_db, to_db};
use crate::database::Database;
use crate::entities::wechat_access_tokens::{self, Column};
use crate::errors::db_err;

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
        let row = wechat_access_tokens::Entity::find()
            .filter(Column::AppId.eq(app_id.0))
            .one(&self.db.read)
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
