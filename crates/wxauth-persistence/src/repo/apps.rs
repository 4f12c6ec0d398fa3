use async_trait::async_trait;
use sea_orm::{
    ActiveValue::Set, ColumnTrait, EntityTrait, PaginatorTrait, QueryFilter, QueryOrder,
};
use secrecy::SecretString;
use wxauth_core::RepoError;
use wxauth_core::ports::{AppDraft, AppRepo, RepoResult};
use wxauth_domain::app::AppEndpoints;
use wxauth_domain::{App, AppKey, RedirectAllowList, Timestamp, WechatAppId};

use crate::cipher::Purpose;
use crate::convert::{corrupt, db_err, to_db};
use crate::entities::{apps, wechat_identities};
use crate::store::{Conn, Db};

impl<C: Db> Conn<C> {
    fn app_from_row(&self, m: apps::Model) -> RepoResult<App> {
        let decrypt = |purpose, v: &str| {
            self.cipher
                .decrypt(purpose, v)
                .map_err(|e| RepoError::Other(format!("app {}: {e}", m.key)))
        };
        let optional = |purpose, v: &Option<String>| -> RepoResult<Option<SecretString>> {
            v.as_deref().map(|v| decrypt(purpose, v)).transpose()
        };
        let rules: Vec<String> = serde_json::from_str(&m.redirect_allow_list)
            .map_err(|_| corrupt("redirect allow-list"))?;
        Ok(App {
            id: m.id,
            key: AppKey::parse(&m.key).map_err(|_| corrupt("app key"))?,
            kind: m.kind.parse().map_err(|_| corrupt("app kind"))?,
            name: m.name.clone(),
            appid: WechatAppId::parse(&m.appid).map_err(|_| corrupt("appid"))?,
            secret: decrypt(Purpose::AppSecret, &m.secret_enc)?,
            registration: m
                .registration
                .parse()
                .map_err(|_| corrupt("registration policy"))?,
            redirect_allow_list: RedirectAllowList::parse_all(&rules)
                .map_err(|_| corrupt("redirect allow-list"))?,
            event_token: optional(Purpose::EventToken, &m.event_token_enc)?,
            encoding_aes_key: optional(Purpose::EncodingAesKey, &m.encoding_aes_key_enc)?,
            endpoints: AppEndpoints {
                api_base_url: m.api_base_url.clone(),
                open_base_url: m.open_base_url.clone(),
                mp_base_url: m.mp_base_url.clone(),
            },
            enabled: m.enabled,
        })
    }
}

#[async_trait]
impl<C: Db> AppRepo for Conn<C> {
    async fn app_by_key(&mut self, key: &AppKey) -> RepoResult<Option<App>> {
        self.flush().await?;
        let row = apps::Entity::find()
            .filter(apps::Column::Key.eq(key.as_str()))
            .one(&self.conn)
            .await
            .map_err(db_err)?;
        row.map(|m| self.app_from_row(m)).transpose()
    }

    async fn app_by_id(&mut self, id: i64) -> RepoResult<Option<App>> {
        self.flush().await?;
        let row = apps::Entity::find_by_id(id)
            .one(&self.conn)
            .await
            .map_err(db_err)?;
        row.map(|m| self.app_from_row(m)).transpose()
    }

    async fn list_apps(&mut self) -> RepoResult<Vec<App>> {
        self.flush().await?;
        let rows = apps::Entity::find()
            .order_by_asc(apps::Column::Key)
            .all(&self.conn)
            .await
            .map_err(db_err)?;
        rows.into_iter().map(|m| self.app_from_row(m)).collect()
    }

    async fn upsert_app(&mut self, draft: &AppDraft, now: Timestamp) -> RepoResult<App> {
        self.flush().await?;
        let rules: Vec<&str> = draft
            .redirect_allow_list
            .rules()
            .iter()
            .map(|r| r.as_str())
            .collect();
        let encrypt_opt =
            |purpose, v: &Option<SecretString>| v.as_ref().map(|v| self.cipher.encrypt(purpose, v));
        let mut row = apps::ActiveModel {
            key: Set(draft.key.to_string()),
            kind: Set(draft.kind.as_str().to_owned()),
            name: Set(draft.name.clone()),
            appid: Set(draft.appid.to_string()),
            secret_enc: Set(self.cipher.encrypt(Purpose::AppSecret, &draft.secret)),
            registration: Set(draft.registration.as_str().to_owned()),
            redirect_allow_list: Set(serde_json::to_string(&rules).unwrap_or_else(|_| "[]".into())),
            event_token_enc: Set(encrypt_opt(Purpose::EventToken, &draft.event_token)),
            encoding_aes_key_enc: Set(encrypt_opt(
                Purpose::EncodingAesKey,
                &draft.encoding_aes_key,
            )),
            api_base_url: Set(draft.endpoints.api_base_url.clone()),
            open_base_url: Set(draft.endpoints.open_base_url.clone()),
            mp_base_url: Set(draft.endpoints.mp_base_url.clone()),
            enabled: Set(draft.enabled),
            source: Set(draft.source.to_owned()),
            updated_at: Set(to_db(now)),
            ..Default::default()
        };
        let existing = apps::Entity::find()
            .filter(apps::Column::Key.eq(draft.key.as_str()))
            .one(&self.conn)
            .await
            .map_err(db_err)?;
        let id = match existing {
            Some(existing) => {
                row.id = Set(existing.id);
                apps::Entity::update(row)
                    .exec(&self.conn)
                    .await
                    .map_err(db_err)?;
                existing.id
            }
            None => {
                row.created_at = Set(to_db(now));
                apps::Entity::insert(row)
                    .exec(&self.conn)
                    .await
                    .map_err(db_err)?
                    .last_insert_id
            }
        };
        self.app_by_id(id)
            .await?
            .ok_or_else(|| RepoError::Other("app vanished after write".into()))
    }

    async fn delete_app(&mut self, key: &AppKey) -> RepoResult<bool> {
        self.flush().await?;
        let res = apps::Entity::delete_many()
            .filter(apps::Column::Key.eq(key.as_str()))
            .exec(&self.conn)
            .await
            .map_err(db_err)?;
        Ok(res.rows_affected > 0)
    }

    async fn app_has_identities(&mut self, app_id: i64) -> RepoResult<bool> {
        self.flush().await?;
        let n = wechat_identities::Entity::find()
            .filter(wechat_identities::Column::AppId.eq(app_id))
            .count(&self.conn)
            .await
            .map_err(db_err)?;
        Ok(n > 0)
    }
}
