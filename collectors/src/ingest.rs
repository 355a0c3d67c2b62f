//! The one ingestion writer every source uses: records are buffered and written to bronze
//! in batches, flushed when the batch is full, on an interval and at shutdown. Writes are
//! idempotent (each record carries a key; a duplicate is skipped and counted), and a failed
//! write is retried with backoff instead of being lost.

use crate::metrics::{DropReason, Metrics, SourceLabels};
use futures::future::BoxFuture;
use sqlx::PgPool;
use std::time::Duration;
use tokio::sync::{mpsc, oneshot};
use tokio::task::JoinHandle;

/// A record type that lives in a bronze table.
pub trait BronzeRecord: Send + Sync + Sized + 'static {
    /// Name of the source, used as the `source` label in metrics.
    const SOURCE: &'static str;

    /// Inserts a batch in one statement, skipping rows whose idempotency key is already
    /// stored. Returns how many rows were new.
    fn insert_batch<'c>(
        conn: &'c mut sqlx::PgConnection,
        batch: &'c [Self],
    ) -> BoxFuture<'c, sqlx::Result<u64>>;
}

/// When the writer flushes.
#[derive(Clone, Copy, Debug)]
pub struct WriterConfig {
    /// Flush as soon as this many records are buffered.
    pub batch_size: usize,
    /// Flush at least this often while records are waiting.
    pub flush_interval: Duration,
}

impl Default for WriterConfig {
    fn default() -> Self {
        Self {
            batch_size: 1000,
            flush_interval: Duration::from_secs(1),
        }
    }
}

/// The writer is gone (the server is shutting down).
#[derive(Debug, thiserror::Error)]
#[error("the ingestion writer for {0} has stopped")]
pub struct WriterClosed(&'static str);

enum Command<R> {
    Record(R),
    Flush(oneshot::Sender<()>),
}

/// Handle to a running writer task. Cheap to clone; the task flushes what is left and ends
/// when the last handle is dropped.
pub struct IngestWriter<R> {
    tx: mpsc::Sender<Command<R>>,
}

impl<R> Clone for IngestWriter<R> {
    fn clone(&self) -> Self {
        Self {
            tx: self.tx.clone(),
        }
    }
}

impl<R: BronzeRecord> IngestWriter<R> {
    /// Starts the writer task. Await the returned handle after dropping every writer to be
    /// sure the last batch is committed.
    pub fn spawn(pool: PgPool, config: WriterConfig, metrics: Metrics) -> (Self, JoinHandle<()>) {
        let batch_size = config.batch_size.max(1);
        let (tx, rx) = mpsc::channel(batch_size * 2);
        let task = tokio::spawn(run_writer::<R>(pool, config, metrics, rx));
        (Self { tx }, task)
    }

    /// Queues one record. Waits when the buffer is full (back-pressure while the database
    /// is slow or away), so nothing is dropped.
    pub async fn write(&self, record: R) -> Result<(), WriterClosed> {
        self.tx
            .send(Command::Record(record))
            .await
            .map_err(|_| WriterClosed(R::SOURCE))
    }

    /// Writes everything queued so far and returns once it is committed.
    pub async fn flush(&self) -> Result<(), WriterClosed> {
        let (done_tx, done_rx) = oneshot::channel();
        self.tx
            .send(Command::Flush(done_tx))
            .await
            .map_err(|_| WriterClosed(R::SOURCE))?;
        done_rx.await.map_err(|_| WriterClosed(R::SOURCE))
    }
}

async fn run_writer<R: BronzeRecord>(
    pool: PgPool,
    config: WriterConfig,
    metrics: Metrics,
    mut rx: mpsc::Receiver<Command<R>>,
) {
    let batch_size = config.batch_size.max(1);
    let mut buffer: Vec<R> = Vec::with_capacity(batch_size);
    // The first tick comes one interval from now (a plain `interval` ticks at once, which
    // would flush the first partial batch early).
    let mut ticker = tokio::time::interval_at(
        tokio::time::Instant::now() + config.flush_interval,
        config.flush_interval,
    );
    ticker.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    loop {
        tokio::select! {
            command = rx.recv() => match command {
                Some(Command::Record(record)) => {
                    buffer.push(record);
                    if buffer.len() >= batch_size {
                        write_with_retry(&pool, &metrics, &mut buffer).await;
                    }
                }
                Some(Command::Flush(done)) => {
                    write_with_retry(&pool, &metrics, &mut buffer).await;
                    let _ = done.send(());
                }
                None => {
                    write_with_retry(&pool, &metrics, &mut buffer).await;
                    tracing::debug!(source = R::SOURCE, "ingestion writer stopped");
                    return;
                }
            },
            _ = ticker.tick() => {
                if !buffer.is_empty() {
                    write_with_retry(&pool, &metrics, &mut buffer).await;
                }
            }
        }
    }
}

/// Writes the buffer, retrying with exponential backoff (up to 30 s between tries) while the
/// database is unreachable or busy. Records are only removed from the buffer once committed.
/// When the database refuses the batch itself (a constraint, bad data), the records are
/// written one by one so the good ones are kept; each refused one is logged and counted as
/// `invalid` instead of blocking the source for ever.
async fn write_with_retry<R: BronzeRecord>(pool: &PgPool, metrics: &Metrics, buffer: &mut Vec<R>) {
    if buffer.is_empty() {
        return;
    }
    match write_until_accepted(pool, buffer).await {
        Ok(inserted) => count_written(metrics, R::SOURCE, inserted, buffer.len() as u64),
        Err(error) => {
            tracing::warn!(
                source = R::SOURCE,
                records = buffer.len(),
                error = %error,
                "the database refused a batch; writing its records one by one"
            );
            for record in buffer.iter() {
                match write_until_accepted(pool, std::slice::from_ref(record)).await {
                    Ok(inserted) => count_written(metrics, R::SOURCE, inserted, 1),
                    Err(error) => {
                        tracing::error!(source = R::SOURCE, error = %error, "record refused by the database; dropped");
                        metrics.dropped(R::SOURCE, DropReason::invalid);
                    }
                }
            }
        }
    }
    buffer.clear();
}

/// Tries until the database either commits `records` (returns how many were new) or refuses
/// them for a reason retrying cannot fix (returns that error).
async fn write_until_accepted<R: BronzeRecord>(pool: &PgPool, records: &[R]) -> sqlx::Result<u64> {
    let mut delay = Duration::from_millis(250);
    loop {
        match write_batch(pool, records).await {
            Ok(inserted) => return Ok(inserted),
            Err(error) if is_refusal(&error) => return Err(error),
            Err(error) => {
                tracing::warn!(
                    source = R::SOURCE,
                    records = records.len(),
                    retry_in_ms = delay.as_millis() as u64,
                    error = %error,
                    "writing to bronze failed; keeping the records and retrying"
                );
                tokio::time::sleep(delay).await;
                delay = (delay * 2).min(Duration::from_secs(30));
            }
        }
    }
}

/// The database refused the data itself: bad values (SQLSTATE class 22) or constraint
/// violations (23). Anything else (connection, disk, deadlock, shutdown, and also a missing
/// table or permission while a deploy is half done) is worth retrying.
fn is_refusal(error: &sqlx::Error) -> bool {
    match error {
        sqlx::Error::Database(db) => db
            .code()
            .is_some_and(|code| code.starts_with("22") || code.starts_with("23")),
        _ => false,
    }
}

fn count_written(metrics: &Metrics, source: &str, inserted: u64, total: u64) {
    metrics
        .ingested_records
        .get_or_create(&SourceLabels {
            source: source.to_owned(),
        })
        .inc_by(inserted);
    for _ in inserted..total {
        metrics.dropped(source, DropReason::duplicate);
    }
}

async fn write_batch<R: BronzeRecord>(pool: &PgPool, buffer: &[R]) -> sqlx::Result<u64> {
    let mut conn = pool.acquire().await?;
    R::insert_batch(&mut conn, buffer).await
}
