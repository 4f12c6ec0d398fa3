use async_trait::async_trait;
use sea_orm::sea_query::Expr;
use sea_orm::{
    ColumnTrait, Condition, EntityTrait, PaginatorTrait, QueryFilter, QueryOrder, QuerySelect,
};
use wxauth_core::ports::{AuditEntry, AuditQuery, AuditReads, AuditWrites, RepoResult};
use wxauth_domain::PublicUserId;

use crate::convert::{from_db, to_db};
use crate::deferred::Table;
use crate::entities::audit_log::{self, Column};
use crate::errors::db_err;
use crate::store::{Backing, Conn, TxConn};

/// Caps a free-text column to its width, on a character boundary.
fn cap(s: &Option<String>, max: usize) -> Option<String> {
    s.as_ref().map(|s| s.chars().take(max).collect())
}

#[async_trait]
impl<C: Backing> AuditReads for Conn<C> {
    async fn query_audit(&mut self, q: &AuditQuery) -> RepoResult<(Vec<AuditEntry>, u64)> {
        let mut cond = Condition::all();
        if let Some(user) = &q.user {
            cond = cond.add(Column::UserPublicId.eq(user.to_string()));
        }
        if let Some(kind) = &q.kind {
            cond = cond.add(Column::Kind.eq(kind.as_str()));
        }
        if let Some(since) = q.since {
            cond = cond.add(Column::At.gte(to_db(since)));
        }
        if let Some(until) = q.until {
            cond = cond.add(Column::At.lt(to_db(until)));
        }
        let select = audit_log::Entity::find().filter(cond);
        let total = select
            .clone()
            .count(self.synced().await?)
            .await
            .map_err(db_err)?;
        let rows = select
            .order_by_desc(Column::Id)
            .offset(q.offset)
            .limit(q.limit)
            .all(self.synced().await?)
            .await
            .map_err(db_err)?;
        let entries = rows
            .into_iter()
            .map(|m| AuditEntry {
                at: from_db(m.at),
                kind: m.kind,
                success: m.success,
                reason: m.reason,
                app_key: m.app_key,
                user: m.user_public_id.and_then(|u| PublicUserId::parse(&u).ok()),
                actor: m.actor,
                ip: m.ip,
                request_id: m.request_id,
            })
            .collect();
        Ok((entries, total))
    }
}

#[async_trait]
impl AuditWrites for TxConn {
    async fn append_audit(&mut self, e: &AuditEntry) -> RepoResult<()> {
        // In `Table::AuditLog`'s column order.
        self.defer_row(
            Table::AuditLog,
            vec![
                Expr::val(to_db(e.at)).into(),
                Expr::val(e.kind.chars().take(64).collect::<String>()).into(),
                Expr::val(e.success).into(),
                Expr::val(cap(&e.reason, 128)).into(),
                Expr::val(cap(&e.app_key, 64)).into(),
                Expr::val(e.user.map(|u| u.to_string())).into(),
                Expr::val(cap(&e.actor, 64)).into(),
                Expr::val(cap(&e.ip, 64)).into(),
                Expr::val(cap(&e.request_id, 64)).into(),
            ],
        );
        Ok(())
    }
}
