//! Group commit: transactions that only write are committed together.
//!
//! A returning login writes three rows and reads nothing back; committing each such transaction
//! alone costs a round trip, a parse of each statement and a WAL flush per login. Instead they
//! are queued to a writer, which takes everything waiting and commits it in ONE transaction
//! with one multi-row `INSERT` per table ([`crate::deferred::statements`]):
//! `BEGIN; INSERT … VALUES (…), (…), …; UPDATE …; COMMIT`.
//!
//! If a statement fails, the group is rolled back and replayed transaction by transaction, each
//! in its own savepoint (`SAVEPOINT w; …; RELEASE w`), so one transaction's failure (a unique
//! key, say) reaches that transaction alone and each stays atomic. A group that fails because
//! the database is unavailable is not replayed: every transaction in it gets that answer. A
//! group the database aborted to break a deadlock with another writer is run again whole.
//! Every transaction is answered after the commit that makes it durable.
//!
//! SQLite gets one writer on a thread of its own (SQLite writes one transaction at a time);
//! PostgreSQL and MySQL get a few writers on the runtime, each committing its own groups, so one
//! group's round trip overlaps the next group's forming.

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use sea_orm::DbBackend;
use sea_orm::sqlx::{self, MySqlPool, PgPool, SqlitePool};
use tokio::sync::{mpsc, oneshot};
use wxauth_core::RepoError;

use crate::deferred::{Writes, statements};
use crate::errors::sqlx_err;

/// The most transactions one commit carries.
const MAX_GROUP: usize = 256;

struct Job {
    writes: Writes,
    reply: oneshot::Sender<Result<(), RepoError>>,
}

/// The pool a writer takes its connection from.
#[derive(Debug, Clone)]
pub(crate) enum WritePool {
    Sqlite(SqlitePool),
    Postgres(PgPool),
    MySql(MySqlPool),
}

impl WritePool {
    fn backend(&self) -> DbBackend {
        match self {
            WritePool::Sqlite(_) => DbBackend::Sqlite,
            WritePool::Postgres(_) => DbBackend::Postgres,
            WritePool::MySql(_) => DbBackend::MySql,
        }
    }
}

#[derive(Debug, Clone)]
pub(crate) struct WriteQueue {
    lanes: Arc<[mpsc::UnboundedSender<Job>]>,
    next: Arc<AtomicUsize>,
    /// Per writer: since when (microseconds after `started`) it has been committing one group;
    /// 0 when it waits for work.
    busy_since: Arc<[AtomicU64]>,
    /// When a group last committed, and when one last failed because the database was
    /// unavailable (microseconds after `started`; 0: never).
    outcomes: Arc<Outcomes>,
    started: Instant,
}

#[derive(Debug, Default)]
struct Outcomes {
    ok: AtomicU64,
    unavailable: AtomicU64,
}

/// How long a failed group marks the write path as down, unless a group commits meanwhile.
const FAILURE_MEMORY: Duration = Duration::from_secs(10);

impl WriteQueue {
    /// Starts the writers; they end when the last queue handle is dropped.
    pub fn start(pool: WritePool, writers: usize) -> std::io::Result<Self> {
        let count = match pool {
            WritePool::Sqlite(_) => 1,
            WritePool::Postgres(_) | WritePool::MySql(_) => writers.max(1),
        };
        let started = Instant::now();
        let busy_since: Arc<[AtomicU64]> = (0..count).map(|_| AtomicU64::new(0)).collect();
        let outcomes = Arc::new(Outcomes::default());
        let mut lanes = Vec::with_capacity(count);
        for lane in 0..count {
            let (sender, receiver) = mpsc::unbounded_channel();
            let busy = Busy {
                since: busy_since.clone(),
                outcomes: outcomes.clone(),
                lane,
                started,
            };
            let run = writer(pool.clone(), receiver, busy);
            if let WritePool::Sqlite(_) = pool {
                let runtime = tokio::runtime::Builder::new_current_thread()
                    .enable_all()
                    .build()?;
                std::thread::Builder::new()
                    .name("wxauth-sqlite-writer".into())
                    .spawn(move || runtime.block_on(run))?;
            } else {
                tokio::spawn(run);
            }
            lanes.push(sender);
        }
        Ok(Self {
            lanes: lanes.into(),
            next: Arc::new(AtomicUsize::new(0)),
            busy_since,
            outcomes,
            started,
        })
    }

    /// A writer that has been committing one group for longer than `limit`: the write path is
    /// stuck (a lock held elsewhere, a database that stopped answering).
    /// Also a write path whose last group failed because the database was unavailable, a
    /// moment ago, with none committed since.
    pub fn stalled(&self, limit: Duration) -> Option<RepoError> {
        let now = micros(self.started);
        let failed = self.outcomes.unavailable.load(Ordering::Relaxed);
        if failed != 0
            && failed > self.outcomes.ok.load(Ordering::Relaxed)
            && Duration::from_micros(now.saturating_sub(failed)) < FAILURE_MEMORY
        {
            return Some(RepoError::unavailable(
                "the last group commit failed: the database is unavailable",
            ));
        }
        let stuck = self
            .busy_since
            .iter()
            .map(|since| since.load(Ordering::Relaxed))
            .filter(|since| *since != 0)
            .map(|since| Duration::from_micros(now.saturating_sub(since)))
            .max()
            .filter(|busy| *busy > limit)?;
        Some(RepoError::unavailable(format!(
            "a group commit has been running for {} ms",
            stuck.as_millis()
        )))
    }

    /// Commits the writes atomically, together with whatever else is waiting.
    pub async fn commit(&self, writes: Writes) -> Result<(), RepoError> {
        let lane = self.next.fetch_add(1, Ordering::Relaxed) % self.lanes.len();
        let (reply, answer) = oneshot::channel();
        let stopped = || RepoError::unavailable("the database writer has stopped");
        self.lanes[lane]
            .send(Job { writes, reply })
            .map_err(|_| stopped())?;
        answer.await.map_err(|_| stopped())?
    }
}

fn micros(started: Instant) -> u64 {
    u64::try_from(started.elapsed().as_micros())
        .unwrap_or(u64::MAX)
        .max(1)
}

/// A writer's slot in [`WriteQueue::busy_since`].
struct Busy {
    since: Arc<[AtomicU64]>,
    outcomes: Arc<Outcomes>,
    lane: usize,
    started: Instant,
}

async fn writer(pool: WritePool, mut receiver: mpsc::UnboundedReceiver<Job>, busy: Busy) {
    while let Some(first) = receiver.recv().await {
        let mut jobs = vec![first];
        while jobs.len() < MAX_GROUP {
            match receiver.try_recv() {
                Ok(job) => jobs.push(job),
                Err(_) => break,
            }
        }
        busy.since[busy.lane].store(micros(busy.started), Ordering::Relaxed);
        let results = commit_group(&pool, &jobs).await;
        busy.since[busy.lane].store(0, Ordering::Relaxed);
        let now = micros(busy.started);
        if results
            .iter()
            .any(|r| r.as_ref().is_err_and(RepoError::is_unavailable))
        {
            busy.outcomes.unavailable.store(now, Ordering::Relaxed);
        } else if results.iter().any(Result::is_ok) {
            busy.outcomes.ok.store(now, Ordering::Relaxed);
        }
        for (job, result) in jobs.into_iter().zip(results) {
            let _ = job.reply.send(result);
        }
    }
}

/// The whole group, then (after a failure that is not the database's) each job alone.
async fn commit_group(pool: &WritePool, jobs: &[Job]) -> Vec<Result<(), RepoError>> {
    let backend = pool.backend();
    let all: Vec<&Writes> = jobs.iter().map(|j| &j.writes).collect();
    let batch = format!("BEGIN;\n{};\nCOMMIT", statements(backend, &all).join(";\n"));
    let mut replay = Vec::with_capacity(jobs.len() + 2);
    replay.push("BEGIN".to_owned());
    for writes in &all {
        replay.push(format!(
            "SAVEPOINT w;\n{};\nRELEASE SAVEPOINT w",
            statements(backend, &[writes]).join(";\n")
        ));
    }
    replay.push("COMMIT".to_owned());
    match pool {
        WritePool::Sqlite(p) => run_group_sqlite(p, &batch, &replay).await,
        WritePool::Postgres(p) => run_group_postgres(p, &batch, &replay).await,
        WritePool::MySql(p) => run_group_mysql(p, &batch, &replay).await,
    }
}

/// How often a group, or its replay, is run again after the database aborted it to break a
/// deadlock with another writer. After that each job gets [`RepoError::Contended`] and its use
/// case decides (a sign-in runs again on its full path).
const CONTENDED_ATTEMPTS: usize = 3;

// One function per backend with concrete types: sqlx's executor traits are higher-ranked, and a
// generic version does not prove `Send` for the futures the writers run.
macro_rules! run_group {
    ($name:ident, $pool:ty) => {
        /// `batch` commits the group in one round trip. If it fails, `replay` (`BEGIN`, one
        /// savepoint-wrapped step per job, `COMMIT`) finds whose failure it was. A deadlock
        /// aborts the whole transaction, savepoints included (MySQL rolls it back at once), so
        /// either is then run again from `BEGIN`.
        async fn $name(
            pool: &$pool,
            batch: &str,
            replay: &[String],
        ) -> Vec<Result<(), RepoError>> {
            let jobs = replay.len() - 2;
            let all_failed =
                |e: RepoError| (0..jobs).map(|_| Err(e.clone())).collect::<Vec<_>>();
            let mut conn = match pool.acquire().await {
                Ok(conn) => conn,
                Err(e) => return all_failed(sqlx_err(e)),
            };
            // Every statement goes as `raw_sql`, on the text protocol: a plain `&str` would be
            // prepared (and cached: every group is a new text), MySQL prepares only single
            // statements, and pgbouncer in transaction mode keeps no prepared statement.
            let mut attempt = 0;
            let failure = loop {
                attempt += 1;
                let failure = match sqlx::Executor::execute(&mut *conn, sqlx::raw_sql(batch)).await {
                    Ok(_) => return (0..jobs).map(|_| Ok(())).collect(),
                    Err(e) => sqlx_err(e),
                };
                if let Err(rollback) = sqlx::Executor::execute(&mut *conn, sqlx::raw_sql("ROLLBACK")).await {
                    tracing::error!(error = %rollback, "cannot roll back a failed group commit");
                    let _ = conn.detach();
                    return all_failed(failure);
                }
                if !matches!(failure, RepoError::Contended(_)) || attempt == CONTENDED_ATTEMPTS {
                    break failure;
                }
                tracing::debug!(attempt, "a group commit lost a deadlock; running it again");
            };
            if jobs == 1 || failure.is_transient() {
                return all_failed(failure);
            }

            let (begin, steps, commit) = (&replay[0], &replay[1..=jobs], &replay[jobs + 1]);
            let mut attempt = 0;
            'replay: loop {
                attempt += 1;
                if let Err(e) = sqlx::Executor::execute(&mut *conn, sqlx::raw_sql(begin)).await {
                    return all_failed(sqlx_err(e));
                }
                let mut results = Vec::with_capacity(jobs);
                for step in steps {
                    let e = match sqlx::Executor::execute(&mut *conn, sqlx::raw_sql(step)).await {
                        Ok(_) => {
                            results.push(Ok(()));
                            continue;
                        }
                        Err(e) => sqlx_err(e),
                    };
                    if matches!(e, RepoError::Contended(_)) {
                        if let Err(rollback) = sqlx::Executor::execute(&mut *conn, sqlx::raw_sql("ROLLBACK")).await {
                            tracing::error!(error = %rollback, "cannot roll back a replayed group");
                            let _ = conn.detach();
                            return all_failed(e);
                        }
                        if attempt == CONTENDED_ATTEMPTS {
                            return all_failed(e);
                        }
                        tracing::debug!(attempt, "a replayed group lost a deadlock; running it again");
                        continue 'replay;
                    }
                    if let Err(undo) = sqlx::Executor::execute(
                        &mut *conn,
                        sqlx::raw_sql("ROLLBACK TO SAVEPOINT w; RELEASE SAVEPOINT w"),
                    )
                    .await
                    {
                        tracing::error!(error = %undo, "cannot undo a failed job of a group");
                        let _ = sqlx::Executor::execute(&mut *conn, sqlx::raw_sql("ROLLBACK")).await;
                        let _ = conn.detach();
                        return all_failed(e);
                    }
                    results.push(Err(e));
                }
                if let Err(e) = sqlx::Executor::execute(&mut *conn, sqlx::raw_sql(commit)).await {
                    let _ = sqlx::Executor::execute(&mut *conn, sqlx::raw_sql("ROLLBACK")).await;
                    return all_failed(sqlx_err(e));
                }
                return results;
            }
        }
    };
}

run_group!(run_group_sqlite, SqlitePool);
run_group!(run_group_postgres, PgPool);
run_group!(run_group_mysql, MySqlPool);

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use sea_orm::sea_query::{Expr, SimpleExpr};

    use super::*;
    use crate::deferred::{Row, SignIn, Table, Write};

    async fn database() -> SqlitePool {
        // One connection: an in-memory database lives as long as its connection.
        let pool = sqlx::sqlite::SqlitePoolOptions::new()
            .max_connections(1)
            .connect("sqlite::memory:")
            .await
            .unwrap();
        sqlx::Executor::execute(&pool, sqlx::raw_sql(&tables("INTEGER PRIMARY KEY", "TEXT")))
            .await
            .unwrap();
        pool
    }

    /// The audit table with its `kind` unique (a stand-in for any unique key), and the
    /// columns of the identities table a sign-in updates.
    fn tables(id: &str, timestamp: &str) -> String {
        format!(
            "CREATE TABLE audit_log (id {id}, at TEXT, kind VARCHAR(64) NOT NULL UNIQUE, \
             success INTEGER, reason TEXT, app_key TEXT, user_public_id TEXT, actor TEXT, \
             ip TEXT, request_id TEXT); \
             CREATE TABLE wechat_identities (id BIGINT PRIMARY KEY, session_key_enc TEXT, \
             unionid TEXT, last_login_at {timestamp}, updated_at {timestamp}); \
             INSERT INTO wechat_identities (id, session_key_enc, unionid) VALUES \
             (1, 'k0', NULL), (2, 'k0', 'u0'), (3, 'k0', NULL)"
        )
    }

    /// A fresh database on the PostgreSQL or MySQL server the test URL names, or `None` when
    /// it is not set (outside CI).
    async fn server_database(env: &str) -> Option<(WritePool, String, String)> {
        let Ok(admin) = std::env::var(env) else {
            assert!(
                std::env::var_os("CI").is_none(),
                "{env} must be set in CI: database tests may not be skipped"
            );
            return None;
        };
        let name = format!(
            "wxauth_wq_{}_{}",
            std::process::id(),
            std::time::SystemTime::now()
                .duration_since(std::time::UNIX_EPOCH)
                .unwrap()
                .as_nanos()
        );
        let base = admin.rsplit_once('/').unwrap().0;
        let url = format!("{base}/{name}");
        let pool = if admin.starts_with("postgres") {
            let root = PgPool::connect(&admin).await.unwrap();
            sqlx::Executor::execute(&root, sqlx::raw_sql(&format!("CREATE DATABASE {name}")))
                .await
                .unwrap();
            let pool = PgPool::connect(&url).await.unwrap();
            sqlx::Executor::execute(
                &pool,
                sqlx::raw_sql(&tables("BIGSERIAL PRIMARY KEY", "TIMESTAMP")),
            )
            .await
            .unwrap();
            WritePool::Postgres(pool)
        } else {
            let root = MySqlPool::connect(&admin).await.unwrap();
            sqlx::Executor::execute(&root, sqlx::raw_sql(&format!("CREATE DATABASE {name}")))
                .await
                .unwrap();
            let pool = MySqlPool::connect(&url).await.unwrap();
            sqlx::Executor::execute(
                &pool,
                sqlx::raw_sql(&tables("BIGINT AUTO_INCREMENT PRIMARY KEY", "DATETIME(6)")),
            )
            .await
            .unwrap();
            WritePool::MySql(pool)
        };
        Some((pool, admin, name))
    }

    async fn drop_database(pool: WritePool, admin: &str, name: &str) {
        match pool {
            WritePool::Postgres(pool) => {
                pool.close().await;
                let root = PgPool::connect(admin).await.unwrap();
                let drop = format!("DROP DATABASE IF EXISTS {name} WITH (FORCE)");
                sqlx::Executor::execute(&root, sqlx::raw_sql(&drop))
                    .await
                    .unwrap();
            }
            WritePool::MySql(pool) => {
                pool.close().await;
                let root = MySqlPool::connect(admin).await.unwrap();
                let drop = format!("DROP DATABASE IF EXISTS {name}");
                sqlx::Executor::execute(&root, sqlx::raw_sql(&drop))
                    .await
                    .unwrap();
            }
            WritePool::Sqlite(_) => {}
        }
    }

    async fn execute(pool: &WritePool, sql: &str) {
        match pool {
            WritePool::Sqlite(p) => sqlx::Executor::execute(p, sqlx::raw_sql(sql))
                .await
                .map(drop),
            WritePool::Postgres(p) => sqlx::Executor::execute(p, sqlx::raw_sql(sql))
                .await
                .map(drop),
            WritePool::MySql(p) => sqlx::Executor::execute(p, sqlx::raw_sql(sql))
                .await
                .map(drop),
        }
        .unwrap();
    }

    async fn all_kinds(pool: &WritePool) -> Vec<String> {
        let sql = "SELECT kind FROM audit_log ORDER BY kind";
        match pool {
            WritePool::Sqlite(p) => sqlx::query_scalar(sql).fetch_all(p).await,
            WritePool::Postgres(p) => sqlx::query_scalar(sql).fetch_all(p).await,
            WritePool::MySql(p) => sqlx::query_scalar(sql).fetch_all(p).await,
        }
        .unwrap()
    }

    /// An audit row whose `kind` is unique in the test table: a stand-in for any unique key.
    fn row(kind: &str) -> Write {
        let mut values: Vec<SimpleExpr> = vec![Expr::val("t").into(), Expr::val(kind).into()];
        values.extend(
            (2..Table::AuditLog.columns().len()).map(|_| Expr::val(Option::<String>::None).into()),
        );
        Write::Insert(Row {
            table: Table::AuditLog,
            values,
        })
    }

    fn job(writes: Writes) -> (Job, oneshot::Receiver<Result<(), RepoError>>) {
        let (reply, answer) = oneshot::channel();
        (Job { writes, reply }, answer)
    }

    async fn kinds(pool: &SqlitePool) -> Vec<String> {
        sqlx::query_scalar("SELECT kind FROM audit_log ORDER BY kind")
            .fetch_all(pool)
            .await
            .unwrap()
    }

    #[tokio::test]
    async fn a_group_commits_every_job_together() {
        let pool = database().await;
        let jobs: Vec<Job> = ["a", "b", "c"]
            .iter()
            .map(|k| job(vec![row(k)]).0)
            .collect();
        let results = commit_group(&WritePool::Sqlite(pool.clone()), &jobs).await;
        assert!(results.iter().all(Result::is_ok), "{results:?}");
        assert_eq!(kinds(&pool).await, ["a", "b", "c"]);
    }

    async fn a_failing_job_fails_alone_and_leaves_no_partial_write_on(pool: &WritePool) {
        execute(pool, "INSERT INTO audit_log (kind) VALUES ('taken')").await;
        let jobs = [
            job(vec![row("a")]).0,
            // Its first row is fine, its second hits the unique key: neither may stay.
            job(vec![row("half"), row("taken")]).0,
            job(vec![row("b")]).0,
        ];
        let results = commit_group(pool, &jobs).await;
        assert!(results[0].is_ok() && results[2].is_ok(), "{results:?}");
        assert!(
            matches!(results[1], Err(RepoError::Conflict(_))),
            "{results:?}"
        );
        assert_eq!(all_kinds(pool).await, ["a", "b", "taken"]);
        // The connection is usable afterwards: no transaction was left open.
        execute(pool, "BEGIN; COMMIT").await;
    }

    #[tokio::test]
    async fn a_failing_job_fails_alone_and_leaves_no_partial_write() {
        a_failing_job_fails_alone_and_leaves_no_partial_write_on(&WritePool::Sqlite(
            database().await,
        ))
        .await;
        for env in ["WXAUTH_TEST_POSTGRES_URL", "WXAUTH_TEST_MYSQL_URL"] {
            if let Some((pool, admin, name)) = server_database(env).await {
                a_failing_job_fails_alone_and_leaves_no_partial_write_on(&pool).await;
                drop_database(pool, &admin, &name).await;
            }
        }
    }

    async fn sign_ins_of_a_group_are_recorded_by_one_statement_on(pool: &WritePool) {
        let at = |minute: u8| {
            time::PrimitiveDateTime::new(
                time::macros::date!(2026 - 12 - 01),
                time::Time::from_hms(10, minute, 0).unwrap(),
            )
        };
        let sign_in = |id: i64, minute: u8, key: Option<&str>, unionid: Option<&str>| {
            Write::SignIn(SignIn {
                identity_id: id,
                at: at(minute),
                session_key: key.map(str::to_owned),
                unionid: unionid.map(str::to_owned),
            })
        };
        let jobs = [
            job(vec![sign_in(1, 1, Some("k1"), None)]).0,
            job(vec![sign_in(2, 1, None, None)]).0,
            job(vec![sign_in(1, 2, Some("k2"), Some("u1"))]).0,
        ];
        let results = commit_group(pool, &jobs).await;
        assert!(results.iter().all(Result::is_ok), "{results:?}");
        let sql = "SELECT session_key_enc, unionid, last_login_at IS NOT NULL FROM wechat_identities ORDER BY id";
        let rows: Vec<(Option<String>, Option<String>, bool)> = match pool {
            WritePool::Sqlite(p) => sqlx::query_as(sql).fetch_all(p).await,
            WritePool::Postgres(p) => sqlx::query_as(sql).fetch_all(p).await,
            WritePool::MySql(p) => sqlx::query_as(sql).fetch_all(p).await.map(
                |rows: Vec<(Option<String>, Option<String>, i64)>| {
                    rows.into_iter().map(|(k, u, at)| (k, u, at != 0)).collect()
                },
            ),
        }
        .unwrap();
        let some = |s: &str| Some(s.to_owned());
        assert_eq!(
            rows,
            [
                (some("k2"), some("u1"), true),
                // No new key: the stored one stays.
                (some("k0"), some("u0"), true),
                (some("k0"), None, false),
            ]
        );
    }

    #[tokio::test]
    async fn sign_ins_of_a_group_are_recorded_by_one_statement() {
        sign_ins_of_a_group_are_recorded_by_one_statement_on(&WritePool::Sqlite(database().await))
            .await;
        for env in ["WXAUTH_TEST_POSTGRES_URL", "WXAUTH_TEST_MYSQL_URL"] {
            if let Some((pool, admin, name)) = server_database(env).await {
                sign_ins_of_a_group_are_recorded_by_one_statement_on(&pool).await;
                drop_database(pool, &admin, &name).await;
            }
        }
    }

    /// Waits until a transaction of the test database waits for a row lock.
    async fn until_a_transaction_waits(pool: &WritePool) {
        for _ in 0..50 {
            let waiting: i64 = match pool {
                WritePool::Postgres(p) => sqlx::query_scalar(
                    "SELECT count(*) FROM pg_stat_activity \
                     WHERE wait_event_type = 'Lock' AND datname = current_database()",
                )
                .fetch_one(p)
                .await
                .unwrap(),
                WritePool::MySql(p) => sqlx::query_scalar(
                    "SELECT count(*) FROM information_schema.innodb_trx \
                     WHERE trx_state = 'LOCK WAIT'",
                )
                .fetch_one(p)
                .await
                .unwrap(),
                WritePool::Sqlite(_) => unreachable!("SQLite has one writer"),
            };
            if waiting > 0 {
                return;
            }
            // InnoDB refreshes `innodb_trx` only when it was last read over 100 ms ago.
            tokio::time::sleep(Duration::from_millis(150)).await;
        }
        panic!("the group never waited for the row the other transaction holds");
    }

    /// Another transaction holds identity 3 while the group, holding identity 1, waits for it;
    /// then it asks for identity 1. The database breaks the deadlock by aborting the group (on
    /// PostgreSQL the other transaction waits longer before it checks; on MySQL it has written
    /// more, and InnoDB aborts the lighter one).
    async fn a_group_aborted_to_break_a_deadlock_is_committed_again_on(pool: &WritePool) {
        enum Other {
            Postgres(sqlx::pool::PoolConnection<sqlx::Postgres>),
            MySql(sqlx::pool::PoolConnection<sqlx::MySql>),
        }
        let sign_in = |id: i64| {
            Write::SignIn(SignIn {
                identity_id: id,
                at: time::macros::datetime!(2026-12-02 10:00),
                session_key: Some("group".to_owned()),
                unionid: None,
            })
        };
        let other = match pool {
            WritePool::Postgres(p) => {
                let mut conn = p.acquire().await.unwrap();
                let sql = "SET deadlock_timeout = '10s'; BEGIN; \
                           UPDATE wechat_identities SET unionid = 'other' WHERE id = 3";
                sqlx::Executor::execute(&mut *conn, sqlx::raw_sql(sql))
                    .await
                    .unwrap();
                Other::Postgres(conn)
            }
            WritePool::MySql(p) => {
                let mut conn = p.acquire().await.unwrap();
                let weight: Vec<String> = (0..20).map(|i| format!("('other-{i}')")).collect();
                let sql = format!(
                    "BEGIN; INSERT INTO audit_log (kind) VALUES {}; \
                     UPDATE wechat_identities SET unionid = 'other' WHERE id = 3",
                    weight.join(", ")
                );
                sqlx::Executor::execute(&mut *conn, sqlx::raw_sql(&sql))
                    .await
                    .unwrap();
                Other::MySql(conn)
            }
            WritePool::Sqlite(_) => unreachable!("SQLite has one writer"),
        };
        // One job, so that no replay could hide the abort: it updates 1, then waits for 3.
        let group = {
            let pool = pool.clone();
            tokio::spawn(async move {
                let jobs = [job(vec![sign_in(1), sign_in(3)]).0];
                commit_group(&pool, &jobs).await
            })
        };
        until_a_transaction_waits(pool).await;
        let close = "UPDATE wechat_identities SET unionid = 'other' WHERE id = 1; COMMIT";
        match other {
            Other::Postgres(mut conn) => sqlx::Executor::execute(&mut *conn, sqlx::raw_sql(close))
                .await
                .map(drop),
            Other::MySql(mut conn) => sqlx::Executor::execute(&mut *conn, sqlx::raw_sql(close))
                .await
                .map(drop),
        }
        .expect("the other transaction is not the one aborted");
        let results = group.await.unwrap();
        assert!(results.iter().all(Result::is_ok), "{results:?}");
        let sql = "SELECT session_key_enc FROM wechat_identities WHERE id IN (1, 3) ORDER BY id";
        let keys: Vec<String> = match pool {
            WritePool::Postgres(p) => sqlx::query_scalar(sql).fetch_all(p).await,
            WritePool::MySql(p) => sqlx::query_scalar(sql).fetch_all(p).await,
            WritePool::Sqlite(_) => unreachable!("SQLite has one writer"),
        }
        .unwrap();
        assert_eq!(keys, ["group", "group"]);
    }

    #[tokio::test]
    async fn a_group_aborted_to_break_a_deadlock_is_committed_again() {
        for env in ["WXAUTH_TEST_POSTGRES_URL", "WXAUTH_TEST_MYSQL_URL"] {
            if let Some((pool, admin, name)) = server_database(env).await {
                a_group_aborted_to_break_a_deadlock_is_committed_again_on(&pool).await;
                drop_database(pool, &admin, &name).await;
            }
        }
    }

    #[tokio::test]
    async fn the_queue_answers_each_job_after_its_commit() {
        let pool = database().await;
        let queue = WriteQueue::start(WritePool::Sqlite(pool.clone()), 1).unwrap();
        let (first, second, conflict) = tokio::join!(
            queue.commit(vec![row("x")]),
            queue.commit(vec![row("y")]),
            queue.commit(vec![row("x")]),
        );
        assert!(first.is_ok() && second.is_ok(), "{first:?} {second:?}");
        assert!(
            matches!(conflict, Err(RepoError::Conflict(_))),
            "{conflict:?}"
        );
        assert_eq!(kinds(&pool).await, ["x", "y"]);
    }
}
