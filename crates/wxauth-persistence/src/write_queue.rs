//! Group commit for SQLite.
//!
//! SQLite runs one write transaction at a time. When every pure-write transaction (a returning
//! login's session-key update, refresh token and audit entry) takes the writer connection for
//! itself, throughput is bounded by the hand-off between transactions: the next waiter must be
//! woken and scheduled on a busy HTTP worker before the writer does anything again.
//!
//! So those transactions are queued to one dedicated thread, which takes everything waiting
//! and commits it together: `BEGIN; SAVEPOINT w; …; RELEASE w; SAVEPOINT w; …; COMMIT`. Each
//! job keeps its own atomicity through its savepoint. If any statement fails, the group is
//! rolled back and replayed job by job, so one job's failure (a unique key, say) reaches that
//! job alone. Every job is answered after the commit that makes it durable.

use sea_orm::sqlx::{self, SqlitePool};
use tokio::sync::{mpsc, oneshot};
use wxauth_core::RepoError;

use crate::lazy_tx::sqlx_err;

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
            .map_err(|_| RepoError::Unavailable("the SQLite writer has stopped".into()))?;
        answer
            .await
            .map_err(|_| RepoError::Unavailable("the SQLite writer has stopped".into()))?
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
    let all_failed = |e: RepoError| jobs.iter().map(|_| Err(clone_err(&e))).collect();
    let mut conn = match pool.acquire().await {
        Ok(conn) => conn,
        Err(e) => return all_failed(sqlx_err(e)),
    };
    let conn: &mut sqlx::SqliteConnection = &mut conn;

    // Everything in one round trip: the common case.
    let group: Vec<String> = jobs.iter().map(savepoint).collect();
    let batch = format!("BEGIN;\n{};\nCOMMIT", group.join(";\n"));
    match sqlx::Executor::execute(&mut *conn, batch.as_str()).await {
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
        match sqlx::Executor::execute(&mut *conn, savepoint(job).as_str()).await {
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

fn clone_err(e: &RepoError) -> RepoError {
    match e {
        RepoError::Conflict(what) => RepoError::Conflict(what),
        RepoError::Unavailable(m) => RepoError::Unavailable(m.clone()),
        RepoError::Other(m) => RepoError::Other(m.clone()),
    }
}
