//! Deleting what has outlived its use: expired refresh tokens and OpenID browser sessions,
//! one-time codes, states and OpenID authorizations, event dedupe keys, finished scan-to-logins,
//! and audit entries past their retention.

use sea_orm::{ColumnTrait, EntityTrait, QueryFilter};
use wxauth_core::RepoError;
use wxauth_domain::Timestamp;

use crate::convert::to_db;
use crate::entities::{
    audit_log, bind_codes, oauth_states, oidc_authorizations, oidc_browser_sessions, qr_logins,
    refresh_tokens, wechat_events,
};
use crate::errors::db_err;
use crate::store::SqlStore;

/// What to keep, as cut-off instants: rows older than these go.
#[derive(Debug, Clone, Copy)]
pub struct Retention {
    /// Refresh tokens and OpenID browser sessions that expired before this (kept a while so a
    /// late reuse is recognised).
    pub refresh_tokens: Timestamp,
    /// Bind codes, OAuth states, QR logins and OpenID authorizations that expired before this.
    pub one_time_codes: Timestamp,
    /// Event dedupe keys received before this (WeChat retries within seconds).
    pub events: Timestamp,
    /// Audit entries before this; `None` keeps them forever.
    pub audit: Option<Timestamp>,
}

#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
pub struct Purged {
    pub refresh_tokens: u64,
    /// OpenID browser sessions.
    pub browser_sessions: u64,
    pub one_time_codes: u64,
    pub events: u64,
    pub audit: u64,
}

impl SqlStore {
    /// Deletes everything past its retention, in one transaction.
    pub async fn purge(&self, keep: Retention) -> Result<Purged, RepoError> {
        let tx = self.database().write.begin().await.map_err(db_err)?;
        let result = async {
            let mut purged = Purged {
                refresh_tokens: refresh_tokens::Entity::delete_many()
                    .filter(refresh_tokens::Column::ExpiresAt.lt(to_db(keep.refresh_tokens)))
                    .exec(&tx)
                    .await?
                    .rows_affected,
                browser_sessions: oidc_browser_sessions::Entity::delete_many()
                    .filter(oidc_browser_sessions::Column::ExpiresAt.lt(to_db(keep.refresh_tokens)))
                    .exec(&tx)
                    .await?
                    .rows_affected,
                ..Purged::default()
            };
            let codes = to_db(keep.one_time_codes);
            for rows in [
                bind_codes::Entity::delete_many()
                    .filter(bind_codes::Column::ExpiresAt.lt(codes))
                    .exec(&tx)
                    .await?,
                oauth_states::Entity::delete_many()
                    .filter(oauth_states::Column::ExpiresAt.lt(codes))
                    .exec(&tx)
                    .await?,
                qr_logins::Entity::delete_many()
                    .filter(qr_logins::Column::ExpiresAt.lt(codes))
                    .exec(&tx)
                    .await?,
                oidc_authorizations::Entity::delete_many()
                    .filter(oidc_authorizations::Column::ExpiresAt.lt(codes))
                    .exec(&tx)
                    .await?,
            ] {
                purged.one_time_codes += rows.rows_affected;
            }
            purged.events = wechat_events::Entity::delete_many()
                .filter(wechat_events::Column::ReceivedAt.lt(to_db(keep.events)))
                .exec(&tx)
                .await?
                .rows_affected;
            if let Some(before) = keep.audit {
                purged.audit = audit_log::Entity::delete_many()
                    .filter(audit_log::Column::At.lt(to_db(before)))
                    .exec(&tx)
                    .await?
                    .rows_affected;
            }
            Ok::<_, sea_orm::DbErr>(purged)
        }
        .await;
        match result {
            Ok(purged) => {
                tx.commit().await.map_err(db_err)?;
                Ok(purged)
            }
            Err(e) => {
                let _ = tx.rollback().await;
                Err(db_err(e))
            }
        }
    }
}
