//! Reads of concurrent requests answered by one statement: the read side of group commit.
//!
//! An authenticated `GET /api/v1/me` reads one account. On PostgreSQL and MySQL each such read
//! alone costs a round trip, a wake-up of a database backend and the driver's work per
//! statement; on SQLite, a hand-off to the connection's thread and back. At thousands a second
//! that is most of the CPU. Requests instead queue their key;
//! a few lanes each take everything waiting and fetch it with one `… WHERE key IN (…)`. A lone
//! request waits for nobody: its lane takes it at once, as a batch of one.

use std::collections::HashMap;
use std::future::Future;
use std::hash::Hash;
use std::pin::Pin;
use std::sync::Arc;

use tokio::sync::{Mutex, mpsc, oneshot};
use wxauth_core::RepoError;

/// The most keys one statement carries.
const MAX_BATCH: usize = 64;

type Fetched<K, V> = Pin<Box<dyn Future<Output = Result<HashMap<K, V>, RepoError>> + Send>>;
type Fetch<K, V> = Arc<dyn Fn(Vec<K>) -> Fetched<K, V> + Send + Sync>;

struct Ask<K, V> {
    key: K,
    reply: oneshot::Sender<Result<Option<V>, RepoError>>,
}

pub(crate) struct ReadBatcher<K, V> {
    sender: mpsc::UnboundedSender<Ask<K, V>>,
}

impl<K, V> std::fmt::Debug for ReadBatcher<K, V> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ReadBatcher").finish_non_exhaustive()
    }
}

impl<K, V> ReadBatcher<K, V>
where
    K: Eq + Hash + Clone + Send + 'static,
    V: Clone + Send + 'static,
{
    /// Starts `lanes` fetchers on the runtime; they end with the last handle. `fetch` answers
    /// a set of keys with the values of those that exist.
    pub fn start(
        lanes: usize,
        fetch: impl Fn(Vec<K>) -> Fetched<K, V> + Send + Sync + 'static,
    ) -> Self {
        let (sender, receiver) = mpsc::unbounded_channel();
        let receiver = Arc::new(Mutex::new(receiver));
        let fetch: Fetch<K, V> = Arc::new(fetch);
        for _ in 0..lanes.max(1) {
            tokio::spawn(lane(receiver.clone(), fetch.clone()));
        }
        Self { sender }
    }

    /// The value of `key`, read together with whatever else is being asked for.
    pub async fn get(&self, key: K) -> Result<Option<V>, RepoError> {
        let (reply, answer) = oneshot::channel();
        let stopped = || RepoError::unavailable("the database reader has stopped");
        self.sender
            .send(Ask { key, reply })
            .map_err(|_| stopped())?;
        answer.await.map_err(|_| stopped())?
    }
}

async fn lane<K, V>(receiver: Arc<Mutex<mpsc::UnboundedReceiver<Ask<K, V>>>>, fetch: Fetch<K, V>)
where
    K: Eq + Hash + Clone + Send + 'static,
    V: Clone + Send + 'static,
{
    loop {
        // One lane at a time collects a batch; the others are fetching meanwhile.
        let batch = {
            let mut receiver = receiver.lock().await;
            let Some(first) = receiver.recv().await else {
                return;
            };
            let mut batch = vec![first];
            while batch.len() < MAX_BATCH {
                match receiver.try_recv() {
                    Ok(ask) => batch.push(ask),
                    Err(_) => break,
                }
            }
            batch
        };
        let mut keys: Vec<K> = Vec::with_capacity(batch.len());
        for ask in &batch {
            if !keys.contains(&ask.key) {
                keys.push(ask.key.clone());
            }
        }
        let fetched = fetch(keys).await;
        for ask in batch {
            let answer = match &fetched {
                Ok(values) => Ok(values.get(&ask.key).cloned()),
                Err(e) => Err(e.clone()),
            };
            let _ = ask.reply.send(answer);
        }
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use std::sync::atomic::{AtomicUsize, Ordering};
    use std::time::Duration;

    use super::*;

    #[tokio::test]
    async fn concurrent_reads_share_statements_and_each_gets_its_own_answer() {
        let statements = Arc::new(AtomicUsize::new(0));
        let counted = statements.clone();
        let batcher = Arc::new(ReadBatcher::start(1, move |keys: Vec<u32>| {
            counted.fetch_add(1, Ordering::Relaxed);
            Box::pin(async move {
                tokio::time::sleep(Duration::from_millis(20)).await;
                // Odd keys exist.
                Ok(keys
                    .into_iter()
                    .filter(|k| k % 2 == 1)
                    .map(|k| (k, k * 10))
                    .collect())
            }) as Fetched<u32, u32>
        }));
        let mut tasks = Vec::new();
        for key in 0..40u32 {
            let batcher = batcher.clone();
            tasks.push(tokio::spawn(async move { (key, batcher.get(key).await) }));
        }
        for task in tasks {
            let (key, answer) = task.await.unwrap();
            let expected = (key % 2 == 1).then_some(key * 10);
            assert_eq!(answer.unwrap(), expected, "key {key}");
        }
        assert!(
            statements.load(Ordering::Relaxed) <= 3,
            "{} statements for 40 reads",
            statements.load(Ordering::Relaxed)
        );
    }

    #[tokio::test]
    async fn a_failed_statement_fails_every_read_it_carried() {
        let batcher = ReadBatcher::start(2, |_keys: Vec<u32>| {
            Box::pin(async { Err(RepoError::unavailable("down")) }) as Fetched<u32, u32>
        });
        assert!(matches!(
            batcher.get(1).await,
            Err(RepoError::Unavailable(_))
        ));
    }
}
