use async_trait::async_trait;
use sea_orm::sea_query::{Expr, OnConflict};
use sea_orm::{ActiveValue::Set, ColumnTrait, EntityTrait, QueryFilter};
use wxauth_core::RepoError;
use wxauth_core::ports::{
    FollowerChange, NewQrLogin, OfficialReads, OfficialWrites, QrLoginRecord, QrLoginStatus,
    RepoResult,
};
use wxauth_domain::{AppId, OpenId, Timestamp};

use crate::convert::{self, from_db, to_db};
use crate::entities::{official_followers, qr_logins, wechat_events};
use crate::errors::{corrupt, db_err};
use crate::store::{Backing, Conn, TxConn};

fn qr_login(m: qr_logins::Model) -> RepoResult<QrLoginRecord> {
    Ok(QrLoginRecord {
        id: m.id,
        login_id: m.login_id,
        app_id: AppId(m.app_id),
        scene: m.scene,
        status: QrLoginStatus::parse(&m.status).ok_or_else(|| corrupt("QR login status"))?,
        openid: m.openid.map(convert::openid).transpose()?,
        expires_at: from_db(m.expires_at),
    })
}

#[async_trait]
impl<C: Backing> OfficialReads for Conn<C> {
    async fn qr_login_by_id(&mut self, login_id: &str) -> RepoResult<Option<QrLoginRecord>> {
        let row = qr_logins::Entity::find()
            .filter(qr_logins::Column::LoginId.eq(login_id))
            .one(self.synced().await?)
            .await
            .map_err(db_err)?;
        row.map(qr_login).transpose()
    }

    async fn qr_login_by_scene(
        &mut self,
        app_id: AppId,
        scene: &str,
    ) -> RepoResult<Option<QrLoginRecord>> {
        let row = qr_logins::Entity::find()
            .filter(qr_logins::Column::AppId.eq(app_id.0))
            .filter(qr_logins::Column::Scene.eq(scene))
            .one(self.synced().await?)
            .await
            .map_err(db_err)?;
        row.map(qr_login).transpose()
    }
}

#[async_trait]
impl OfficialWrites for TxConn {
    async fn remember_event(
        &mut self,
        app_id: AppId,
        key: &str,
        now: Timestamp,
    ) -> RepoResult<bool> {
        let row = wechat_events::ActiveModel {
            app_id: Set(app_id.0),
            dedupe_key: Set(key.to_owned()),
            received_at: Set(to_db(now)),
            ..Default::default()
        };
        // The unique key (app, dedupe key) decides; with MySQL's found-rows semantics an
        // `ON DUPLICATE KEY` no-op would count as a write, so the violation itself is the answer.
        match wechat_events::Entity::insert(row)
            .exec_without_returning(self.synced().await?)
            .await
        {
            Ok(_) => Ok(true),
            Err(e) => match db_err(e) {
                RepoError::Conflict(_) => Ok(false),
                other => Err(other),
            },
        }
    }

    async fn record_follower(&mut self, change: &FollowerChange) -> RepoResult<()> {
        use official_followers::Column;
        let at = to_db(change.at);
        let row = official_followers::ActiveModel {
            app_id: Set(change.app_id.0),
            openid: Set(change.openid.to_string()),
            subscribed: Set(change.subscribed),
            subscribed_at: Set(change.subscribed.then_some(at)),
            unsubscribed_at: Set((!change.subscribed).then_some(at)),
            scene: Set(change.scene.clone()),
            updated_at: Set(at),
            ..Default::default()
        };
        let on_conflict = if change.subscribed {
            OnConflict::columns([Column::AppId, Column::Openid])
                .update_columns([
                    Column::Subscribed,
                    Column::SubscribedAt,
                    Column::Scene,
                    Column::UpdatedAt,
                ])
                .to_owned()
        } else {
            OnConflict::columns([Column::AppId, Column::Openid])
                .update_columns([
                    Column::Subscribed,
                    Column::UnsubscribedAt,
                    Column::UpdatedAt,
                ])
                .to_owned()
        };
        official_followers::Entity::insert(row)
            .on_conflict(on_conflict)
            .exec_without_returning(self.synced().await?)
            .await
            .map_err(db_err)?;
        Ok(())
    }

    async fn insert_qr_login(&mut self, login: &NewQrLogin, now: Timestamp) -> RepoResult<()> {
        let row = qr_logins::ActiveModel {
            login_id: Set(login.login_id.clone()),
            app_id: Set(login.app_id.0),
            scene: Set(login.scene.clone()),
            ticket: Set(login.ticket.clone()),
            status: Set(QrLoginStatus::Pending.as_str().to_owned()),
            openid: Set(None),
            created_at: Set(to_db(now)),
            expires_at: Set(to_db(login.expires_at)),
            ..Default::default()
        };
        qr_logins::Entity::insert(row)
            .exec_without_returning(self.synced().await?)
            .await
            .map_err(db_err)?;
        Ok(())
    }

    async fn mark_qr_login_scanned(&mut self, id: i64, openid: &OpenId) -> RepoResult<bool> {
        let res = qr_logins::Entity::update_many()
            .col_expr(
                qr_logins::Column::Status,
                Expr::value(QrLoginStatus::Scanned.as_str()),
            )
            .col_expr(qr_logins::Column::Openid, Expr::value(openid.to_string()))
            .filter(qr_logins::Column::Id.eq(id))
            .filter(qr_logins::Column::Status.eq(QrLoginStatus::Pending.as_str()))
            .exec(self.synced().await?)
            .await
            .map_err(db_err)?;
        Ok(res.rows_affected == 1)
    }

    async fn mark_qr_login_consumed(&mut self, id: i64) -> RepoResult<bool> {
        let res = qr_logins::Entity::update_many()
            .col_expr(
                qr_logins::Column::Status,
                Expr::value(QrLoginStatus::Consumed.as_str()),
            )
            .filter(qr_logins::Column::Id.eq(id))
            .filter(qr_logins::Column::Status.eq(QrLoginStatus::Scanned.as_str()))
            .exec(self.synced().await?)
            .await
            .map_err(db_err)?;
        Ok(res.rows_affected == 1)
    }
}
