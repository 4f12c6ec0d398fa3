//! Writes whose result nothing reads, held until they are sent, and rendered as few statements
//! as possible.
//!
//! A sign-in writes a refresh token, an audit entry and (for a new user) a user and an identity:
//! rows, kept as rows. When several transactions are committed together (group commit), the
//! rows of one table from all of them become ONE multi-row `INSERT`: the database parses and
//! plans one statement per table instead of one per row, which is what a commit of many
//! sign-ins spends most of its time on (PostgreSQL above all). A returning sign-in's update of
//! its identity (last login, session key) is kept as values too, and the updates of a group
//! become one `UPDATE … FROM (VALUES …)` on PostgreSQL and one joined `UPDATE` on MySQL.

use sea_orm::DbBackend;
use sea_orm::sea_query::{
    Alias, Expr, MysqlQueryBuilder, PostgresQueryBuilder, Query, QueryBuilder,
    QueryStatementWriter, SimpleExpr, SqliteQueryBuilder, Value,
};
use time::PrimitiveDateTime;

/// A row for one of the tables writes may be deferred to.
#[derive(Debug, Clone)]
pub(crate) struct Row {
    pub table: Table,
    /// One value per column of the table, in [`Table::columns`] order.
    pub values: Vec<SimpleExpr>,
}

/// The tables rows are deferred to, in the order a group inserts them: a row may refer to a row
/// of an earlier table written in the same group (an identity to its new user, by public id).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub(crate) enum Table {
    Users,
    WechatIdentities,
    RefreshTokens,
    AuditLog,
}

impl Table {
    const ALL: [Table; 4] = [
        Table::Users,
        Table::WechatIdentities,
        Table::RefreshTokens,
        Table::AuditLog,
    ];

    fn name(self) -> &'static str {
        match self {
            Table::Users => "users",
            Table::WechatIdentities => "wechat_identities",
            Table::RefreshTokens => "refresh_tokens",
            Table::AuditLog => "audit_log",
        }
    }

    pub fn columns(self) -> &'static [&'static str] {
        match self {
            Table::Users => &[
                "public_id",
                "nickname",
                "avatar_url",
                "phone",
                "phone_country_code",
                "status",
                "created_at",
                "updated_at",
            ],
            Table::WechatIdentities => &[
                "user_id",
                "app_id",
                "openid",
                "unionid",
                "session_key_enc",
                "created_at",
                "updated_at",
                "last_login_at",
            ],
            Table::RefreshTokens => &[
                "token_hash",
                "family",
                "user_id",
                "app_id",
                "created_at",
                "expires_at",
            ],
            Table::AuditLog => &[
                "at",
                "kind",
                "success",
                "reason",
                "app_key",
                "user_public_id",
                "actor",
                "ip",
                "request_id",
            ],
        }
    }
}

/// A sign-in of an existing identity: its last login, and a new session key or unionid when
/// WeChat gave one.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct SignIn {
    pub identity_id: i64,
    pub at: PrimitiveDateTime,
    /// Encrypted.
    pub session_key: Option<String>,
    pub unionid: Option<String>,
}

impl SignIn {
    /// `later` applied on top of this one: its time, and whatever it sets.
    fn then(&mut self, later: &SignIn) {
        self.at = later.at;
        if later.session_key.is_some() {
            self.session_key.clone_from(&later.session_key);
        }
        if later.unionid.is_some() {
            self.unionid.clone_from(&later.unionid);
        }
    }
}

/// One deferred write.
#[derive(Debug, Clone)]
pub(crate) enum Write {
    Insert(Row),
    SignIn(SignIn),
}

/// The writes of one transaction, in order.
pub(crate) type Writes = Vec<Write>;

pub(crate) fn render<S: QueryStatementWriter>(backend: DbBackend, statement: &S) -> String {
    match backend {
        DbBackend::Sqlite => statement.to_string(SqliteQueryBuilder),
        DbBackend::Postgres => statement.to_string(PostgresQueryBuilder),
        DbBackend::MySql => statement.to_string(MysqlQueryBuilder),
    }
}

/// The statements that perform `transactions`' writes, as few as possible: one multi-row
/// `INSERT` per table (in [`Table`] order, so a row can refer to an earlier table's), then the
/// sign-ins' updates.
///
/// Inserting every table's rows before the updates is sound: a sign-in updates an identity
/// that existed before its transaction, never one inserted in it.
pub(crate) fn statements(backend: DbBackend, transactions: &[&Writes]) -> Vec<String> {
    let mut out = Vec::new();
    for table in Table::ALL {
        let rows: Vec<&Row> = transactions
            .iter()
            .flat_map(|writes| writes.iter())
            .filter_map(|w| match w {
                Write::Insert(row) if row.table == table => Some(row),
                _ => None,
            })
            .collect();
        if rows.is_empty() {
            continue;
        }
        let mut insert = Query::insert();
        insert
            .into_table(Alias::new(table.name()))
            .columns(table.columns().iter().map(|c| Alias::new(*c)));
        for row in rows {
            // The column count is the table's by construction; a mismatch is a bug, and
            // sea-query refuses it rather than writing a wrong row.
            if let Err(e) = insert.values(row.values.iter().cloned()) {
                tracing::error!(table = table.name(), error = %e, "a deferred row does not fit its table");
            }
        }
        out.push(render(backend, &insert));
    }
    let mut sign_ins: Vec<SignIn> = Vec::new();
    for w in transactions.iter().flat_map(|writes| writes.iter()) {
        if let Write::SignIn(s) = w {
            // Two sign-ins of one identity in a group: the later one's session key is the one
            // WeChat still honours.
            match sign_ins.iter_mut().find(|e| e.identity_id == s.identity_id) {
                Some(earlier) => earlier.then(s),
                None => sign_ins.push(s.clone()),
            }
        }
    }
    // Rows locked in one order by every writer: two groups updating the same identities
    // cannot deadlock on each other.
    sign_ins.sort_unstable_by_key(|s| s.identity_id);
    out.extend(sign_in_updates(backend, &sign_ins));
    out
}

/// The statements that record `sign_ins`: one for all of them on PostgreSQL and MySQL, one
/// each on SQLite (where a statement costs no round trip).
fn sign_in_updates(backend: DbBackend, sign_ins: &[SignIn]) -> Vec<String> {
    if sign_ins.is_empty() {
        return Vec::new();
    }
    let value = |v: Value| match backend {
        DbBackend::Postgres => PostgresQueryBuilder.value_to_string(&v),
        DbBackend::MySql => MysqlQueryBuilder.value_to_string(&v),
        DbBackend::Sqlite => SqliteQueryBuilder.value_to_string(&v),
    };
    let row = |s: &SignIn| {
        [
            value(s.identity_id.into()),
            value(s.at.into()),
            value(s.session_key.clone().into()),
            value(s.unionid.clone().into()),
        ]
    };
    match backend {
        DbBackend::Postgres => {
            let rows: Vec<String> = sign_ins
                .iter()
                .map(|s| format!("({})", row(s).join(", ")))
                .collect();
            vec![format!(
                "UPDATE \"wechat_identities\" AS t SET \"last_login_at\" = CAST(v.at AS timestamp), \
                 \"updated_at\" = CAST(v.at AS timestamp), \
                 \"session_key_enc\" = COALESCE(v.sk, t.\"session_key_enc\"), \
                 \"unionid\" = COALESCE(v.u, t.\"unionid\") \
                 FROM (VALUES {}) AS v(id, at, sk, u) WHERE t.\"id\" = v.id",
                rows.join(", ")
            )]
        }
        DbBackend::MySql => {
            let rows: Vec<String> = sign_ins
                .iter()
                .map(|s| {
                    let [id, at, sk, u] = row(s);
                    format!("SELECT {id} AS id, {at} AS at, {sk} AS sk, {u} AS u")
                })
                .collect();
            vec![format!(
                "UPDATE `wechat_identities` AS t JOIN ({}) AS v ON t.`id` = v.id \
                 SET t.`last_login_at` = v.at, t.`updated_at` = v.at, \
                 t.`session_key_enc` = COALESCE(v.sk, t.`session_key_enc`), \
                 t.`unionid` = COALESCE(v.u, t.`unionid`)",
                rows.join(" UNION ALL ")
            )]
        }
        DbBackend::Sqlite => sign_ins
            .iter()
            .map(|s| {
                let mut update = Query::update();
                update
                    .table(Alias::new("wechat_identities"))
                    .value(Alias::new("last_login_at"), s.at)
                    .value(Alias::new("updated_at"), s.at);
                if let Some(key) = &s.session_key {
                    update.value(Alias::new("session_key_enc"), key.clone());
                }
                if let Some(unionid) = &s.unionid {
                    update.value(Alias::new("unionid"), unionid.clone());
                }
                update.and_where(Expr::col(Alias::new("id")).eq(s.identity_id));
                render(backend, &update)
            })
            .collect(),
    }
}

#[cfg(test)]
mod tests {
    use sea_orm::sea_query::Expr;

    use super::*;

    fn audit(kind: &str) -> Write {
        let mut values: Vec<SimpleExpr> = vec![
            Expr::val("2026-12-01 00:00:00").into(),
            Expr::val(kind).into(),
        ];
        values.extend(
            (2..Table::AuditLog.columns().len()).map(|_| Expr::val(Option::<String>::None).into()),
        );
        Write::Insert(Row {
            table: Table::AuditLog,
            values,
        })
    }

    fn sign_in(id: i64, minute: u8, key: Option<&str>) -> SignIn {
        SignIn {
            identity_id: id,
            at: PrimitiveDateTime::new(
                time::macros::date!(2026 - 12 - 01),
                time::Time::from_hms(10, minute, 0).unwrap(),
            ),
            session_key: key.map(str::to_owned),
            unionid: None,
        }
    }

    #[test]
    fn the_writes_of_many_transactions_become_one_statement_per_table() {
        let a = vec![audit("login"), Write::SignIn(sign_in(1, 0, Some("k1")))];
        let b = vec![audit("refresh"), Write::SignIn(sign_in(2, 0, None))];
        let sql = statements(DbBackend::Postgres, &[&a, &b]);
        assert_eq!(sql.len(), 2, "{sql:?}");
        assert!(
            sql[0].starts_with(r#"INSERT INTO "audit_log""#),
            "{}",
            sql[0]
        );
        assert!(sql[0].contains("'login'") && sql[0].contains("'refresh'"));
        assert_eq!(sql[0].matches("), (").count(), 1, "two rows: {}", sql[0]);
        assert!(
            sql[1].starts_with(r#"UPDATE "wechat_identities" AS t"#),
            "{}",
            sql[1]
        );
        assert!(
            sql[1].contains("(1, '2026-12-01 10:00:00.000000', 'k1', NULL), (2, "),
            "{}",
            sql[1]
        );
        let my = statements(DbBackend::MySql, &[&a, &b]);
        assert_eq!(my.len(), 2, "{my:?}");
        assert_eq!(my[1].matches("UNION ALL").count(), 1, "{}", my[1]);
        // SQLite pays no round trip per statement: one update each.
        assert_eq!(statements(DbBackend::Sqlite, &[&a, &b]).len(), 3);
    }

    #[test]
    fn two_sign_ins_of_one_identity_in_a_group_keep_the_later_time_and_the_latest_key() {
        let a = vec![Write::SignIn(sign_in(7, 0, Some("old")))];
        let b = vec![Write::SignIn(sign_in(7, 1, Some("new")))];
        let c = vec![Write::SignIn(sign_in(7, 2, None))];
        let sql = statements(DbBackend::Postgres, &[&a, &b, &c]);
        assert_eq!(sql.len(), 1);
        assert!(
            sql[0].contains("(7, '2026-12-01 10:02:00.000000', 'new', NULL)"),
            "{}",
            sql[0]
        );
        assert!(!sql[0].contains("'old'"));
    }

    #[test]
    fn values_are_escaped_for_the_backend() {
        let a = vec![audit("it's")];
        let pg = statements(DbBackend::Postgres, &[&a]);
        assert!(pg[0].contains(r"E'it\'s'"), "{}", pg[0]);
        let my = statements(DbBackend::MySql, &[&a]);
        assert!(my[0].starts_with("INSERT INTO `audit_log`"), "{}", my[0]);
    }
}
