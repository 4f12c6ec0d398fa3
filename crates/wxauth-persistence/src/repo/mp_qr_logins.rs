use async_trait::async_trait;
use sea_orm::sea_query::{Condition, Expr};
use sea_orm::{ActiveValue::Set, ColumnTrait, EntityTrait, QueryFilter, QueryOrder, QuerySelect};
use wxauth_core::ports::{
    CodeImage, MpQrLoginReads, MpQrLoginRecord, MpQrLoginStatus, MpQrLoginWrites, MpQrScan,
    NewMpQrLogin, RepoResult,
};
use wxauth_domain::{AppId, Timestamp};

use crate::convert::{self, from_db, to_db};
use crate::entities::{mp_qr_login_images as images, mp_qr_logins as logins};
use crate::errors::{corrupt, db_err};
use crate::store::{Backing, Conn, TxConn};

fn record(m: logins::Model) -> RepoResult<MpQrLoginRecord> {
    Ok(MpQrLoginRecord {
        id: m.id,
        login_hash: m.login_hash,
        app_id: AppId(m.app_id),
        status: MpQrLoginStatus::parse(&m.status)
            .ok_or_else(|| corrupt("Mini Program QR login status"))?,
        openid: m.openid.map(convert::openid).transpose()?,
        unionid: convert::unionid(m.unionid)?,
        confirm_hash: m.confirm_hash,
        desktop_ip: m.desktop_ip,
        desktop_agent: m.desktop_agent,
        scanner_ip: m.scanner_ip,
        created_at: from_db(m.created_at),
        expires_at: from_db(m.expires_at),
    })
}

#[async_trait]
impl<C: Backing> MpQrLoginReads for Conn<C> {
    async fn mp_qr_login_by_login(
        &mut self,
        login_hash: &str,
    ) -> RepoResult<Option<MpQrLoginRecord>> {
        let row = logins::Entity::find()
            .filter(logins::Column::LoginHash.eq(login_hash))
            .one(self.synced().await?)
            .await
            .map_err(db_err)?;
        row.map(record).transpose()
    }

    async fn mp_qr_login_by_scene(
        &mut self,
        scene_hash: &str,
    ) -> RepoResult<Option<MpQrLoginRecord>> {
        let row = logins::Entity::find()
            .filter(logins::Column::SceneHash.eq(scene_hash))
            .one(self.synced().await?)
            .await
            .map_err(db_err)?;
        row.map(record).transpose()
    }

    async fn mp_qr_login_image(&mut self, login_hash: &str) -> RepoResult<Option<CodeImage>> {
        let row = images::Entity::find_by_id(login_hash.to_owned())
            .one(self.synced().await?)
            .await
            .map_err(db_err)?;
        Ok(row.map(|m| CodeImage {
            media_type: m.media_type,
            bytes: m.bytes,
        }))
    }

    async fn mp_qr_logins_changed_since(
        &mut self,
        since: Timestamp,
        limit: u64,
    ) -> RepoResult<Vec<(String, Timestamp)>> {
        let rows: Vec<(String, sea_orm::prelude::TimeDateTime)> = logins::Entity::find()
            .select_only()
            .column(logins::Column::LoginHash)
            .column(logins::Column::UpdatedAt)
            .filter(logins::Column::UpdatedAt.gte(to_db(since)))
            .order_by_asc(logins::Column::UpdatedAt)
            .limit(limit)
            .into_tuple()
            .all(self.synced().await?)
            .await
            .map_err(db_err)?;
        Ok(rows
            .into_iter()
            .map(|(hash, at)| (hash, from_db(at)))
            .collect())
    }

    async fn mp_qr_logins_expired(
        &mut self,
        now: Timestamp,
        limit: u64,
    ) -> RepoResult<Vec<MpQrLoginRecord>> {
        let rows = logins::Entity::find()
            .filter(logins::Column::ExpiresAt.lt(to_db(now)))
            .order_by_asc(logins::Column::ExpiresAt)
            .limit(limit)
            .all(self.synced().await?)
            .await
            .map_err(db_err)?;
        rows.into_iter().map(record).collect()
    }
}

#[async_trait]
impl MpQrLoginWrites for TxConn {
    async fn insert_mp_qr_login(&mut self, login: &NewMpQrLogin, now: Timestamp) -> RepoResult<()> {
        let at = to_db(now);
        let row = logins::ActiveModel {
            login_hash: Set(login.login_hash.clone()),
            scene_hash: Set(login.scene_hash.clone()),
            app_id: Set(login.app_id.0),
            status: Set(MpQrLoginStatus::Pending.as_str().to_owned()),
            openid: Set(None),
            unionid: Set(None),
            confirm_hash: Set(None),
            desktop_ip: Set(login.desktop_ip.clone()),
            desktop_agent: Set(login.desktop_agent.clone()),
            scanner_ip: Set(None),
            scanned_at: Set(None),
            created_at: Set(at),
            updated_at: Set(at),
            expires_at: Set(to_db(login.expires_at)),
            ..Default::default()
        };
        logins::Entity::insert(row)
            .exec_without_returning(self.synced().await?)
            .await
            .map_err(db_err)?;
        let image = images::ActiveModel {
            login_hash: Set(login.login_hash.clone()),
            media_type: Set(login.image.media_type.clone()),
            bytes: Set(login.image.bytes.clone()),
        };
        images::Entity::insert(image)
            .exec_without_returning(self.synced().await?)
            .await
            .map_err(db_err)?;
        Ok(())
    }

    async fn mark_mp_qr_login_scanned(
        &mut self,
        scan: &MpQrScan,
        now: Timestamp,
    ) -> RepoResult<bool> {
        use logins::Column;
        let at = to_db(now);
        let pending = Column::Status.eq(MpQrLoginStatus::Pending.as_str());
        let rescanned = Condition::all()
            .add(Column::Status.eq(MpQrLoginStatus::Scanned.as_str()))
            .add(Column::Openid.eq(scan.openid.to_string()));
        let res = logins::Entity::update_many()
            .col_expr(
                Column::Status,
                Expr::value(MpQrLoginStatus::Scanned.as_str()),
            )
            .col_expr(Column::Openid, Expr::value(scan.openid.to_string()))
            .col_expr(
                Column::Unionid,
                Expr::value(scan.unionid.as_ref().map(|u| u.to_string())),
            )
            .col_expr(Column::ConfirmHash, Expr::value(scan.confirm_hash.clone()))
            .col_expr(Column::ScannerIp, Expr::value(scan.scanner_ip.clone()))
            .col_expr(Column::ScannedAt, Expr::value(at))
            .col_expr(Column::UpdatedAt, Expr::value(at))
            .filter(Column::Id.eq(scan.id))
            .filter(Column::ExpiresAt.gt(at))
            .filter(Condition::any().add(pending).add(rescanned))
            .exec(self.synced().await?)
            .await
            .map_err(db_err)?;
        Ok(res.rows_affected == 1)
    }

    async fn move_mp_qr_login(
        &mut self,
        id: i64,
        from: MpQrLoginStatus,
        to: MpQrLoginStatus,
        now: Timestamp,
    ) -> RepoResult<bool> {
        let res = logins::Entity::update_many()
            .col_expr(logins::Column::Status, Expr::value(to.as_str()))
            .col_expr(logins::Column::UpdatedAt, Expr::value(to_db(now)))
            .filter(logins::Column::Id.eq(id))
            .filter(logins::Column::Status.eq(from.as_str()))
            .exec(self.synced().await?)
            .await
            .map_err(db_err)?;
        Ok(res.rows_affected == 1)
    }

    async fn delete_mp_qr_logins(&mut self, ids: &[i64]) -> RepoResult<u64> {
        if ids.is_empty() {
            return Ok(0);
        }
        let conn = self.synced().await?;
        // The images go first: SQLite enforces the cascade only with its foreign keys on.
        let hashes: Vec<String> = logins::Entity::find()
            .select_only()
            .column(logins::Column::LoginHash)
            .filter(logins::Column::Id.is_in(ids.iter().copied()))
            .into_tuple()
            .all(conn)
            .await
            .map_err(db_err)?;
        images::Entity::delete_many()
            .filter(images::Column::LoginHash.is_in(hashes))
            .exec(conn)
            .await
            .map_err(db_err)?;
        let res = logins::Entity::delete_many()
            .filter(logins::Column::Id.is_in(ids.iter().copied()))
            .exec(conn)
            .await
            .map_err(db_err)?;
        Ok(res.rows_affected)
    }
}
