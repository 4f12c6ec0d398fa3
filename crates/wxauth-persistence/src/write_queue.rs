//! Group commit for SQLite.
//!
//! SQLite runs one write transaction at a time. When every pure-write transaction (a returning
//! login's session-key update, refresh token and audit entry) takes the writer connection for
//! itself, throughput is bounded by the hand-off between transactions: the next waiter must be
//! woken and scheduled on a busy HTTP worker before the writer does anything again.
//!
//! So those transactions are queued to one dedicated thread, which takes everything waiting
//! and commits it together: `BEGIN; <job 1>; <job 2>; …; COMMIT`. If any statement fails, the
//! group is rolled back and replayed job by job, each in its own savepoint
//! (`SAVEPOINT w; …; RELEASE w`), so one job's failure (a unique key, say) reaches that job
//! alone and each job stays atomic. Savepoints are left out of the first attempt: they cost two
//! statements per job and a sub-journal, and conflicts are rare. Every job is answered after
//! the commit that makes it durable.

use sea_orm::sqlx::{self, SqlitePool};
use tokio::sync::{mpsc, oneshot};
use wxauth_core::RepoError;

use crate::errors::sqlx_err;

/// The most jobs one commit carries.
const MAX_GROUP: usize = 256;

struct Job {
    statements: Vec<String>,
    reply: oneshot::Sender<Result<(), RepoError>>,
}

#[derive(Debug, Clone)]
pub(crate) struct WriteQueue {
    sender: mpsc::UnboundedSender<Job>,
}

impl WriteQueue {
    /// Starts the writer thread; it ends when the last queue handle is dropped.
    pub fn start(pool: SqlitePool) -> std::io::Result<Self> {
        let (sender, receiver) = mpsc::unbounded_channel();
        let runtime = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()?;
        std::thread::Builder::new()
            .name("wxauth-sqlite-writer".into())
            .spawn(move || runtime.block_on(writer(pool, receiver)))?;
        Ok(Self { sender })
    }

    /// Commits the statements atomically, together with whatever else is waiting.
    pub async fn commit(&self, statements: Vec<String>) -> Result<(), RepoError> {
        let (reply, answer) = oneshot::channel();
        self.sender
            .send(Job { statements, reply })
            .map_err(|_| RepoError::unavailable("the SQLite writer has stopped"))?;
        answer
            .await
            .map_err(|_| RepoError::unavailable("the SQLite writer has stopped"))?
    }
}

async fn writer(pool: SqlitePool, mut receiver: mpsc::UnboundedReceiver<Job>) {
    while let Some(first) = receiver.recv().await {
        let mut jobs = vec![first];
        while jobs.len() < MAX_GROUP {
            match receiver.try_recv() {
                Ok(job) => jobs.push(job),
                Err(_) => break,
            }
        }
        let results = commit_group(&pool, &jobs).await;
        for (job, result) in jobs.into_iter().zip(results) {
            let _ = job.reply.send(result);
        }
    }
}

fn savepoint(job: &Job) -> String {
    format!("SAVEPOINT w;\n{};\nRELEASE w", job.statements.join(";\n"))
}

async fn commit_group(pool: &SqlitePool, jobs: &[Job]) -> Vec<Result<(), RepoError>> {
    let all_failed = |e: RepoError| jobs.iter().map(|_| Err(e.clone())).collect();
    let mut conn = match pool.acquire().await {
        Ok(conn) => conn,
        Err(e) => return all_failed(sqlx_err(e)),
    };
    let conn: &mut sqlx::SqliteConnection = &mut conn;

    // Everything in one round trip: the common case. `raw_sql`, because a plain `&str` would be
    // prepared and kept in the statement cache, and every group is a new text.
    let group: Vec<String> = jobs.iter().map(|job| job.statements.join(";\n")).collect();
    let batch = format!("BEGIN;\n{};\nCOMMIT", group.join(";\n"));
    match sqlx::Executor::execute(&mut *conn, sqlx::raw_sql(&batch)).await {
        Ok(_) => return jobs.iter().map(|_| Ok(())).collect(),
        Err(e) => {
            if let Err(rollback) = sqlx::Executor::execute(&mut *conn, "ROLLBACK").await {
                tracing::error!(error = %rollback, "SQLite writer cannot roll back a failed group");
                return all_failed(sqlx_err(e));
            }
            if jobs.len() == 1 {
                return vec![Err(sqlx_err(e))];
            }
        }
    }

    // Something failed: replay job by job, each in its own savepoint, to find whose it was.
    let mut results = Vec::with_capacity(jobs.len());
    if let Err(e) = sqlx::Executor::execute(&mut *conn, "BEGIN").await {
        return all_failed(sqlx_err(e));
    }
    for job in jobs {
        match sqlx::Executor::execute(&mut *conn, sqlx::raw_sql(&savepoint(job))).await {
            Ok(_) => results.push(Ok(())),
            Err(e) => {
                if let Err(undo) =
                    sqlx::Executor::execute(&mut *conn, "ROLLBACK TO w; RELEASE w").await
                {
                    tracing::error!(error = %undo, "SQLite writer cannot undo a failed job");
                    let _ = sqlx::Executor::execute(&mut *conn, "ROLLBACK").await;
                    return all_failed(sqlx_err(e));
                }
                results.push(Err(sqlx_err(e)));
            }
        }
    }
    if let Err(e) = sqlx::Executor::execute(&mut *conn, "COMMIT").await {
        let _ = sqlx::Executor::execute(&mut *conn, "ROLLBACK").await;
        return all_failed(sqlx_err(e));
    }
    results
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    async fn database() -> SqlitePool {
        // One connection: an in-memory database lives as long as its connection.
        let pool = sqlx::sqlite::SqlitePoolOptions::new()
            .max_connections(1)
            .connect("sqlite::memory:")
            .await
            .unwrap();
        sqlx::Executor::execute(&pool, "CREATE TABLE t (k TEXT NOT NULL UNIQUE)")
            .await
            .unwrap();
        pool
    }

    fn job(statements: &[&str]) -> (Job, oneshot::Receiver<Result<(), RepoError>>) {
        let (reply, answer) = oneshot::channel();
        let statements = statements.iter().map(|s| s.to_string()).collect();
        (Job { statements, reply }, answer)
    }

    async fn keys(pool: &SqlitePool) -> Vec<String> {
        sqlx::query_scalar("SELECT k FROM t ORDER BY k")
            .fetch_all(pool)
            .await
            .unwrap()
    }

    #[tokio::test]
    async fn a_group_commits_every_job_together() {
        let pool = database().await;
        let jobs: Vec<Job> = ["a", "b", "c"]
            .iter()
            .map(|k| job(&[&format!("INSERT INTO t (k) VALUES ('{k}')")]).0)
            .collect();
        let results = commit_group(&pool, &jobs).await;
        assert!(results.iter().all(Result::is_ok), "{results:?}");
        assert_eq!(keys(&pool).await, ["a", "b", "c"]);
    }

    #[tokio::test]
    async fn a_failing_job_fails_alone_and_leaves_no_partial_write() {
        let pool = database().await;
        sqlx::Executor::execute(&pool, "INSERT INTO t (k) VALUES ('taken')")
            .await
            .unwrap();
        let jobs = [
            job(&["INSERT INTO t (k) VALUES ('a')"]).0,
            // Its first statement succeeds, its second hits the unique key: neither may stay.
            job(&[
                "INSERT INTO t (k) VALUES ('half')",
                "INSERT INTO t (k) VALUES ('taken')",
            ])
            .0,
            job(&["INSERT INTO t (k) VALUES ('b')"]).0,
        ];
        let results = commit_group(&pool, &jobs).await;
        assert!(results[0].is_ok() && results[2].is_ok(), "{results:?}");
        assert!(
            matches!(results[1], Err(RepoError::Conflict(_))),
            "{results:?}"
        );
        assert_eq!(keys(&pool).await, ["a", "b", "taken"]);
        // The connection is usable afterwards: no transaction was left open.
        assert!(
            sqlx::Executor::execute(&pool, "BEGIN; COMMIT")
                .await
                .is_ok()
        );
    }

    #[tokio::test]
    async fn the_queue_answers_each_job_after_its_commit() {
        let pool = database().await;
        let queue = WriteQueue::start(pool.clone()).unwrap();
        let (first, second, conflict) = tokio::join!(
            queue.commit(vec!["INSERT INTO t (k) VALUES ('x')".into()]),
            queue.commit(vec!["INSERT INTO t (k) VALUES ('y')".into()]),
            queue.commit(vec!["INSERT INTO t (k) VALUES ('x')".into()]),
        );
        assert!(first.is_ok() && second.is_ok(), "{first:?} {second:?}");
        assert!(
            matches!(conflict, Err(RepoError::Conflict(_))),
            "{conflict:?}"
        );
        assert_eq!(keys(&pool).await, ["x", "y"]);
    }
}
