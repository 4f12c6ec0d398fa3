//! Writes whose result nothing reads, held until they are sent, and rendered as few statements
//! as possible.
//!
//! A sign-in writes a refresh token, an audit entry and (for a new user) a user and an identity:
//! rows, kept as rows. When several transactions are committed together (group commit), the
//! rows of one table from all of them become ONE multi-row `INSERT`: the database parses and
//! plans one statement per table instead of one per row, which is what a commit of many
//! sign-ins spends most of its time on (PostgreSQL above all).

use sea_orm::DbBackend;
use sea_orm::sea_query::{
    Alias, MysqlQueryBuilder, PostgresQueryBuilder, Query, QueryStatementWriter, SimpleExpr,
    SqliteQueryBuilder,
};

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

/// One deferred write.
#[derive(Debug, Clone)]
pub(crate) enum Write {
    Insert(Row),
    /// Anything else (an update of an existing row), rendered for the backend when deferred.
    Sql(String),
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
/// other statements in the order they were deferred.
///
/// Inserting every table's rows before any other statement is sound for the writes wxauth
/// defers: those statements update rows that existed before the transaction (a sign-in's
/// session key), never rows inserted in it.
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
    out.extend(
        transactions
            .iter()
            .flat_map(|writes| writes.iter())
            .filter_map(|w| match w {
                Write::Sql(sql) => Some(sql.clone()),
                Write::Insert(_) => None,
            }),
    );
    out
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

    #[test]
    fn the_rows_of_many_transactions_become_one_insert_per_table() {
        let a = vec![
            audit("login"),
            Write::Sql("UPDATE x SET y = 1 WHERE id = 1".into()),
        ];
        let b = vec![audit("refresh")];
        let sql = statements(DbBackend::Postgres, &[&a, &b]);
        assert_eq!(sql.len(), 2, "{sql:?}");
        assert!(
            sql[0].starts_with(r#"INSERT INTO "audit_log""#),
            "{}",
            sql[0]
        );
        assert!(sql[0].contains("'login'") && sql[0].contains("'refresh'"));
        assert_eq!(sql[0].matches("), (").count(), 1, "two rows: {}", sql[0]);
        assert_eq!(sql[1], "UPDATE x SET y = 1 WHERE id = 1");
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
