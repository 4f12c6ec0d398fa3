use async_trait::async_trait;
use sea_orm::sea_query::OnConflict;
use sea_orm::{
    ActiveValue::Set, ColumnTrait, EntityTrait, PaginatorTrait, QueryFilter, QueryOrder,
};
use secrecy::{ExposeSecret, SecretString};
use wxauth_core::RepoError;
use wxauth_core::ports::{AppDraft, AppReads, AppWrites, RepoResult};
use wxauth_domain::{
    App, AppEndpoints, AppId, AppKey, AppName, BaseUrl, EncodingAesKey, MiniProgramCode,
    MiniProgramPage, RedirectAllowList, Timestamp, WechatAppId,
};

use crate::cipher::Purpose;
use crate::convert::to_db;
use crate::entities::{apps, wechat_identities};
use crate::errors::{corrupt, db_err};
use crate::store::{Backing, Conn, TxConn};

impl TxConn {
    /// The row of an app definition, its secrets encrypted; `id` and `created_at` unset.
    fn app_row(&self, draft: &AppDraft, now: Timestamp) -> apps::ActiveModel {
        let rules: Vec<&str> = draft
            .redirect_allow_list
            .rules()
            .iter()
            .map(|r| r.as_str())
            .collect();
        let cipher = self.cipher();
        let event_token = draft
            .event_token
            .as_ref()
            .map(|v| cipher.encrypt(Purpose::EventToken, v));
        let encoding_aes_key = draft
            .encoding_aes_key
            .as_ref()
            .map(|v| cipher.encrypt(Purpose::EncodingAesKey, v.secret()));
        let url = |u: &Option<BaseUrl>| u.as_ref().map(|u| u.as_str().to_owned());
        apps::ActiveModel {
            key: Set(draft.key.to_string()),
            kind: Set(draft.kind.as_str().to_owned()),
            name: Set(draft.name.as_str().to_owned()),
            appid: Set(draft.appid.to_string()),
            secret_enc: Set(cipher.encrypt(Purpose::AppSecret, &draft.secret)),
            registration: Set(draft.registration.as_str().to_owned()),
            redirect_allow_list: Set(serde_json::to_string(&rules).unwrap_or_else(|_| "[]".into())),
            event_token_enc: Set(event_token),
            encoding_aes_key_enc: Set(encoding_aes_key),
            api_base_url: Set(url(&draft.endpoints.api_base_url)),
            open_base_url: Set(url(&draft.endpoints.open_base_url)),
            mp_base_url: Set(url(&draft.endpoints.mp_base_url)),
            qr_page: Set(draft.qr_login.page.as_ref().map(|p| p.as_str().to_owned())),
            qr_env_version: Set(draft.qr_login.env_version.as_str().to_owned()),
            qr_check_path: Set(draft.qr_login.check_path),
            enabled: Set(draft.enabled),
            source: Set(draft.source.as_str().to_owned()),
            updated_at: Set(to_db(now)),
            ..Default::default()
        }
    }
}

/// A stored base URL; one that no longer parses is a corrupt row, not a silent default.
fn base_url(field: &'static str, stored: &Option<String>) -> RepoResult<Option<BaseUrl>> {
    stored
        .as_deref()
        .map(|u| BaseUrl::parse(field, u).map_err(|_| corrupt("base URL")))
        .transpose()
}

impl<C: Backing> Conn<C> {
    fn app_from_row(&self, m: apps::Model) -> RepoResult<App> {
        let decrypt = |purpose, v: &str| {
            self.cipher()
                .decrypt(purpose, v)
                .map_err(|e| RepoError::other(format!("app {}: {e}", m.key)))
        };
        let optional = |purpose, v: &Option<String>| -> RepoResult<Option<SecretString>> {
            v.as_deref().map(|v| decrypt(purpose, v)).transpose()
        };
        let rules: Vec<String> = serde_json::from_str(&m.redirect_allow_list)
            .map_err(|_| corrupt("redirect allow-list"))?;
        Ok(App {
            id: AppId(m.id),
            key: AppKey::parse(&m.key).map_err(|_| corrupt("app key"))?,
            kind: m.kind.parse().map_err(|_| corrupt("app kind"))?,
            // Names written before the 128-character rule existed fall back to the key.
            name: AppName::parse(&m.name)
                .or_else(|_| AppName::parse(&m.key))
                .map_err(|_| corrupt("app name"))?,
            appid: WechatAppId::parse(&m.appid).map_err(|_| corrupt("appid"))?,
            secret: decrypt(Purpose::AppSecret, &m.secret_enc)?,
            registration: m
                .registration
                .parse()
                .map_err(|_| corrupt("registration policy"))?,
            redirect_allow_list: RedirectAllowList::parse_all(&rules)
                .map_err(|_| corrupt("redirect allow-list"))?,
            event_token: optional(Purpose::EventToken, &m.event_token_enc)?,
            encoding_aes_key: optional(Purpose::EncodingAesKey, &m.encoding_aes_key_enc)?
                .map(|k| EncodingAesKey::parse(k.expose_secret()))
                .transpose()
                .map_err(|_| corrupt("EncodingAESKey"))?,
            endpoints: AppEndpoints {
                api_base_url: base_url("apiBaseUrl", &m.api_base_url)?,
                open_base_url: base_url("openBaseUrl", &m.open_base_url)?,
                mp_base_url: base_url("mpBaseUrl", &m.mp_base_url)?,
            },
            qr_login: MiniProgramCode {
                page: m
                    .qr_page
                    .as_deref()
                    .map(MiniProgramPage::parse)
                    .transpose()
                    .map_err(|_| corrupt("Mini Program page"))?,
                env_version: m
                    .qr_env_version
                    .parse()
                    .map_err(|_| corrupt("Mini Program env version"))?,
                check_path: m.qr_check_path,
            },
            enabled: m.enabled,
        })
    }
}

#[async_trait]
impl<C: Backing> AppReads for Conn<C> {
    async fn app_by_key(&mut self, key: &AppKey) -> RepoResult<Option<App>> {
        let row = apps::Entity::find()
            .filter(apps::Column::Key.eq(key.as_str()))
            .one(self.synced().await?)
            .await
            .map_err(db_err)?;
        row.map(|m| self.app_from_row(m)).transpose()
    }

    async fn app_by_id(&mut self, id: AppId) -> RepoResult<Option<App>> {
        let row = apps::Entity::find_by_id(id.0)
            .one(self.synced().await?)
            .await
            .map_err(db_err)?;
        row.map(|m| self.app_from_row(m)).transpose()
    }

    async fn list_apps(&mut self) -> RepoResult<Vec<App>> {
        let rows = apps::Entity::find()
            .order_by_asc(apps::Column::Key)
            .all(self.synced().await?)
            .await
            .map_err(db_err)?;
        rows.into_iter().map(|m| self.app_from_row(m)).collect()
    }

    async fn app_has_identities(&mut self, app_id: AppId) -> RepoResult<bool> {
        let n = wechat_identities::Entity::find()
            .filter(wechat_identities::Column::AppId.eq(app_id.0))
            .count(self.synced().await?)
            .await
            .map_err(db_err)?;
        Ok(n > 0)
    }
}

#[async_trait]
impl AppWrites for TxConn {
    async fn insert_app(&mut self, draft: &AppDraft, now: Timestamp) -> RepoResult<()> {
        let mut row = self.app_row(draft, now);
        row.created_at = Set(to_db(now));
        apps::Entity::insert(row)
            .exec_without_returning(self.synced().await?)
            .await
            .map_err(db_err)?;
        Ok(())
    }

    async fn upsert_app(&mut self, draft: &AppDraft, now: Timestamp) -> RepoResult<App> {
        // One statement: instances starting together each write the configured apps, and a
        // look-up-then-insert would let two of them insert the same key.
        let mut row = self.app_row(draft, now);
        row.created_at = Set(to_db(now));
        apps::Entity::insert(row)
            .on_conflict(
                OnConflict::column(apps::Column::Key)
                    .update_columns([
                        apps::Column::Kind,
                        apps::Column::Name,
                        apps::Column::Appid,
                        apps::Column::SecretEnc,
                        apps::Column::Registration,
                        apps::Column::RedirectAllowList,
                        apps::Column::EventTokenEnc,
                        apps::Column::EncodingAesKeyEnc,
                        apps::Column::ApiBaseUrl,
                        apps::Column::OpenBaseUrl,
                        apps::Column::MpBaseUrl,
                        apps::Column::QrPage,
                        apps::Column::QrEnvVersion,
                        apps::Column::QrCheckPath,
                        apps::Column::Enabled,
                        apps::Column::Source,
                        apps::Column::UpdatedAt,
                    ])
                    .to_owned(),
            )
            .exec_without_returning(self.synced().await?)
            .await
            .map_err(db_err)?;
        self.app_by_key(&draft.key)
            .await?
            .ok_or_else(|| RepoError::other("app vanished after write"))
    }

    async fn delete_app(&mut self, key: &AppKey) -> RepoResult<bool> {
        let res = apps::Entity::delete_many()
            .filter(apps::Column::Key.eq(key.as_str()))
            .exec(self.synced().await?)
            .await
            .map_err(db_err)?;
        Ok(res.rows_affected > 0)
    }
}
