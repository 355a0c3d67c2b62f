//! The one ingestion writer every source uses: records are buffered and written to bronze
//! in batches, flushed when the batch is full, on an interval and at shutdown. Writes are
//! idempotent (each record carries a key; a duplicate is skipped and counted), a failed
//! write is retried with backoff instead of being lost, and a record the database refuses
//! is kept in `bronze.rejected_records` with its error. A caller that must know (an HTTP
//! endpoint answering only after commit) writes with [`IngestWriter::write_acked`] and
//! learns how many records were new, duplicates or refused.

mod record;

pub use record::{BronzeRecord, CopyLine, Row};

use crate::metrics::{DropReason, Metrics, SourceLabels};
use sqlx::PgPool;
use std::time::Duration;
use tokio::sync::{mpsc, oneshot};
use tokio::task::JoinHandle;

/// Where records wait while PostgreSQL is unreachable: one file of JSON lines per source,
/// replayed in order once the database is back. Records carry idempotency keys, so a replay
/// that is cut off and repeated stores nothing twice.
#[derive(Clone, Debug)]
pub struct SpoolConfig {
    pub dir: std::path::PathBuf,
    /// Beyond this size the writer stops spooling and holds records in memory (sources
    /// then wait: back-pressure) until the database is back.
    pub max_bytes: u64,
}

impl SpoolConfig {
    /// The spool file of a source.
    pub fn file(&self, source: &str) -> std::path::PathBuf {
        self.dir.join(format!("{source}.spool"))
    }

    /// How many records wait in a source's spool.
    pub fn backlog(&self, source: &str) -> u64 {
        std::fs::read(self.file(source))
            .map(|bytes| bytes.iter().filter(|&&b| b == b'\n').count() as u64)
            .unwrap_or(0)
    }
}

/// How long one write may take before the database counts as unreachable and the records
/// go to the spool.
const WRITE_TIMEOUT: Duration = Duration::from_secs(3);

/// At shutdown (every handle dropped), how long the last write may take before the records
/// go to the spool: a shutdown has a deadline (`GUILDHALL_SHUTDOWN_TIMEOUT_SECS`).
const CLOSING_WRITE_TIMEOUT: Duration = Duration::from_secs(1);

/// What became of records written with [`IngestWriter::write_acked`], once committed.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Receipt {
    /// Stored now.
    pub new: u64,
    /// Already stored before (same idempotency key).
    pub duplicate: u64,
    /// Refused by the database; kept in `bronze.rejected_records`.
    pub refused: u64,
}

impl Receipt {
    fn add(&mut self, other: Receipt) {
        self.new += other.new;
        self.duplicate += other.duplicate;
        self.refused += other.refused;
    }
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
    Acked(Vec<R>, oneshot::Sender<Receipt>),
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
        Self::spawn_with_spool(pool, config, metrics, None)
    }

    /// Starts the writer task with a spool for outages: while PostgreSQL is unreachable,
    /// batches go to the spool file instead of waiting, and a shutdown ends within seconds
    /// with nothing lost.
    pub fn spawn_with_spool(
        pool: PgPool,
        config: WriterConfig,
        metrics: Metrics,
        spool: Option<SpoolConfig>,
    ) -> (Self, JoinHandle<()>) {
        let batch_size = config.batch_size.max(1);
        let (tx, rx) = mpsc::channel(batch_size * 2);
        let task = tokio::spawn(run_writer::<R>(pool, config, metrics, spool, rx));
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

    /// Writes `records` (after everything queued before them) and returns, once they are
    /// committed, what became of them.
    pub async fn write_acked(&self, records: Vec<R>) -> Result<Receipt, WriterClosed> {
        let (done_tx, done_rx) = oneshot::channel();
        self.tx
            .send(Command::Acked(records, done_tx))
            .await
            .map_err(|_| WriterClosed(R::SOURCE))?;
        done_rx.await.map_err(|_| WriterClosed(R::SOURCE))
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
    spool: Option<SpoolConfig>,
    mut rx: mpsc::Receiver<Command<R>>,
) {
    let batch_size = config.batch_size.max(1);
    let mut buffer: Vec<R> = Vec::with_capacity(batch_size);
    let writer = Writer {
        pool: &pool,
        metrics: &metrics,
        spool: spool.as_ref(),
        batch_size,
    };
    // Records spooled by an earlier run go first.
    writer.replay::<R>().await;
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
                        writer.flush(&mut buffer).await;
                    }
                }
                Some(Command::Flush(done)) => {
                    writer.flush(&mut buffer).await;
                    let _ = done.send(());
                }
                Some(Command::Acked(mut records, mut done)) => {
                    // What was queued or spooled before goes first, so the order stays the
                    // callers'; acknowledged records are committed, never only spooled.
                    // A caller that stops waiting (an HTTP request past its deadline, a
                    // source stopped at shutdown) gets nothing committed on its behalf any
                    // more: it was told the batch is not stored, and its sender resends.
                    let work = async {
                        writer.flush(&mut buffer).await;
                        writer.replay_until_empty::<R>().await;
                        write_with_retry(&pool, &metrics, &mut records).await
                    };
                    let receipt = tokio::select! {
                        receipt = work => Some(receipt),
                        () = done.closed() => None,
                    };
                    match receipt {
                        Some(receipt) => {
                            let _ = done.send(receipt);
                        }
                        None => tracing::debug!(
                            source = R::SOURCE,
                            records = records.len(),
                            "the caller stopped waiting for an acknowledged write; not writing it"
                        ),
                    }
                }
                None => {
                    writer.flush_at_close(&mut buffer).await;
                    tracing::debug!(source = R::SOURCE, "ingestion writer stopped");
                    return;
                }
            },
            _ = ticker.tick() => {
                writer.replay::<R>().await;
                if !buffer.is_empty() {
                    writer.flush(&mut buffer).await;
                }
            }
        }
    }
}

/// One writer task's way to the database, with its spool.
struct Writer<'a> {
    pool: &'a PgPool,
    metrics: &'a Metrics,
    spool: Option<&'a SpoolConfig>,
    batch_size: usize,
}

impl Writer<'_> {
    /// Writes the buffer: committed, or (database unreachable, spool configured and not
    /// full) appended to the spool. Without a spool it waits for the database.
    async fn flush<R: BronzeRecord>(&self, buffer: &mut Vec<R>) {
        if buffer.is_empty() {
            return;
        }
        let Some(spool) = self.spool else {
            write_with_retry(self.pool, self.metrics, buffer).await;
            return;
        };
        // Spooled records are older: while any wait, new ones queue behind them.
        if spool_pending(spool, R::SOURCE) {
            self.replay::<R>().await;
        }
        if !spool_pending(spool, R::SOURCE) {
            match tokio::time::timeout(WRITE_TIMEOUT, write_batch(self.pool, self.metrics, buffer))
                .await
            {
                Ok(Ok(inserted)) => {
                    count_written(self.metrics, R::SOURCE, inserted, buffer.len() as u64);
                    buffer.clear();
                    return;
                }
                Ok(Err(error)) if is_refusal(&error) => {
                    write_with_retry(self.pool, self.metrics, buffer).await;
                    return;
                }
                Ok(Err(error)) => {
                    tracing::warn!(source = R::SOURCE, records = buffer.len(), error = %error, "the database is unreachable; spooling");
                }
                Err(_) => {
                    tracing::warn!(
                        source = R::SOURCE,
                        records = buffer.len(),
                        "the database did not answer in time; spooling"
                    );
                }
            }
        }
        match append_to_spool(spool, buffer) {
            Ok(true) => buffer.clear(),
            Ok(false) => {
                tracing::warn!(
                    source = R::SOURCE,
                    "the spool is full; waiting for the database"
                );
                write_with_retry(self.pool, self.metrics, buffer).await;
            }
            Err(error) => {
                tracing::error!(source = R::SOURCE, error = %error, "cannot write the spool; waiting for the database");
                write_with_retry(self.pool, self.metrics, buffer).await;
            }
        }
    }

    /// The last flush, when every handle is gone (shutdown): bounded in time. Behind a
    /// spool that still waits, the buffer is appended to it (the replay is left for the next
    /// start, however long the spool); otherwise one short try, then the spool. Without a
    /// spool it waits for the database as [`Self::flush`] does.
    async fn flush_at_close<R: BronzeRecord>(&self, buffer: &mut Vec<R>) {
        let Some(spool) = self.spool else {
            self.flush(buffer).await;
            return;
        };
        if buffer.is_empty() {
            return;
        }
        if !spool_pending(spool, R::SOURCE) {
            match tokio::time::timeout(
                CLOSING_WRITE_TIMEOUT,
                write_batch(self.pool, self.metrics, buffer),
            )
            .await
            {
                Ok(Ok(inserted)) => {
                    count_written(self.metrics, R::SOURCE, inserted, buffer.len() as u64);
                    buffer.clear();
                    return;
                }
                Ok(Err(error)) if is_refusal(&error) => {
                    write_with_retry(self.pool, self.metrics, buffer).await;
                    return;
                }
                Ok(Err(_)) | Err(_) => {}
            }
        }
        match append_to_spool(spool, buffer) {
            Ok(true) => {
                tracing::info!(
                    source = R::SOURCE,
                    records = buffer.len(),
                    "stopping: the buffered records are in the spool for the next start"
                );
                buffer.clear();
            }
            Ok(false) => tracing::error!(
                source = R::SOURCE,
                records = buffer.len(),
                "stopping with a full spool: the buffered records are lost"
            ),
            Err(error) => tracing::error!(
                source = R::SOURCE,
                records = buffer.len(),
                error = %error,
                "stopping: cannot write the spool; the buffered records are lost"
            ),
        }
    }

    /// Tries once to write the spooled records, in order; the spool is emptied when all
    /// are committed.
    async fn replay<R: BronzeRecord>(&self) -> bool {
        let Some(spool) = self.spool else {
            return true;
        };
        if !spool_pending(spool, R::SOURCE) {
            return true;
        }
        let (mut records, unreadable): (Vec<R>, Vec<serde_json::Value>) =
            match read_spool(spool, R::SOURCE) {
                Ok(read) => read,
                Err(error) => {
                    tracing::error!(source = R::SOURCE, error = %error, "cannot read the spool");
                    return false;
                }
            };
        // A line cut off by a crash, or written by another version: kept, not dropped.
        for payload in &unreadable {
            tracing::warn!(
                source = R::SOURCE,
                "an unreadable line in the spool is kept in bronze.rejected_records"
            );
            keep_rejected(self.pool, R::SOURCE, payload, "unreadable spool line").await;
        }
        let total = records.len();
        while !records.is_empty() {
            let mut chunk: Vec<R> = records
                .drain(..self.batch_size.min(records.len()))
                .collect();
            match tokio::time::timeout(
                WRITE_TIMEOUT,
                write_batch(self.pool, self.metrics, &mut chunk),
            )
            .await
            {
                Ok(Ok(inserted)) => {
                    count_written(self.metrics, R::SOURCE, inserted, chunk.len() as u64);
                }
                Ok(Err(error)) if is_refusal(&error) => {
                    // Written record by record; refused ones are kept with their error.
                    write_with_retry(self.pool, self.metrics, &mut chunk).await;
                }
                // Still unreachable: the spool stays; what was written counts as duplicate
                // at the next replay.
                _ => return false,
            }
        }
        if let Err(error) = std::fs::remove_file(spool.file(R::SOURCE)) {
            tracing::error!(source = R::SOURCE, error = %error, "cannot empty the spool");
            return false;
        }
        tracing::info!(
            source = R::SOURCE,
            records = total,
            "the database is back; the spool is replayed"
        );
        true
    }

    /// Replays until the spool is empty (for writes that must be committed in order).
    async fn replay_until_empty<R: BronzeRecord>(&self) {
        let mut delay = Duration::from_millis(250);
        while !self.replay::<R>().await {
            tokio::time::sleep(delay).await;
            delay = (delay * 2).min(Duration::from_secs(30));
        }
    }
}

fn spool_pending(spool: &SpoolConfig, source: &str) -> bool {
    std::fs::metadata(spool.file(source)).is_ok_and(|meta| meta.len() > 0)
}

/// Appends records as JSON lines and syncs them to disk. `false`: the spool is full.
fn append_to_spool<R: BronzeRecord>(spool: &SpoolConfig, records: &[R]) -> std::io::Result<bool> {
    use std::io::Write as _;
    let path = spool.file(R::SOURCE);
    let size = std::fs::metadata(&path).map(|meta| meta.len()).unwrap_or(0);
    let mut lines = Vec::with_capacity(records.len() * 200);
    for record in records {
        serde_json::to_writer(&mut lines, &record.to_json())?;
        lines.push(b'\n');
    }
    if size + lines.len() as u64 > spool.max_bytes {
        return Ok(false);
    }
    std::fs::create_dir_all(&spool.dir)?;
    let mut file = std::fs::OpenOptions::new()
        .create(true)
        .append(true)
        .open(&path)?;
    file.write_all(&lines)?;
    file.sync_data()?;
    Ok(true)
}

/// The spool's records, and the lines that are not one (as JSON, or as their text).
fn read_spool<R: BronzeRecord>(
    spool: &SpoolConfig,
    source: &str,
) -> std::io::Result<(Vec<R>, Vec<serde_json::Value>)> {
    let text = std::fs::read_to_string(spool.file(source))?;
    let mut records = Vec::new();
    let mut unreadable = Vec::new();
    for line in text.lines().filter(|line| !line.trim().is_empty()) {
        match serde_json::from_str::<serde_json::Value>(line) {
            Ok(value) => match R::from_json(&value) {
                Some(record) => records.push(record),
                None => unreadable.push(value),
            },
            Err(_) => unreadable.push(serde_json::json!({ "line": line })),
        }
    }
    Ok((records, unreadable))
}

/// Writes the buffer, retrying with exponential backoff (up to 30 s between tries) while the
/// database is unreachable or busy. Records are only removed from the buffer once committed.
/// When the database refuses the batch itself (a constraint, bad data), the records are
/// written one by one so the good ones are kept; each refused one is kept in
/// `bronze.rejected_records` with its error, logged and counted as `invalid`, instead of
/// blocking the source for ever.
async fn write_with_retry<R: BronzeRecord>(
    pool: &PgPool,
    metrics: &Metrics,
    buffer: &mut Vec<R>,
) -> Receipt {
    let mut receipt = Receipt::default();
    if buffer.is_empty() {
        return receipt;
    }
    match write_until_accepted(pool, metrics, buffer).await {
        Ok(inserted) => {
            receipt.add(count_written(
                metrics,
                R::SOURCE,
                inserted,
                buffer.len() as u64,
            ));
        }
        Err(error) => {
            tracing::warn!(
                source = R::SOURCE,
                records = buffer.len(),
                error = %error,
                "the database refused a batch; writing its records one by one"
            );
            for record in std::mem::take(buffer) {
                let mut one = vec![record];
                match write_until_accepted(pool, metrics, &mut one).await {
                    Ok(inserted) => receipt.add(count_written(
                        metrics,
                        R::SOURCE,
                        inserted,
                        one.len() as u64,
                    )),
                    Err(error) => {
                        tracing::error!(source = R::SOURCE, error = %error, "record refused by the database; kept in bronze.rejected_records");
                        for record in &one {
                            quarantine(pool, record, &error).await;
                        }
                        metrics.dropped(R::SOURCE, DropReason::invalid);
                        receipt.refused += 1;
                    }
                }
            }
        }
    }
    buffer.clear();
    receipt
}

/// Keeps a refused record with its error, retrying while the database is unreachable.
async fn quarantine<R: BronzeRecord>(pool: &PgPool, record: &R, refusal: &sqlx::Error) {
    keep_rejected(pool, R::SOURCE, &record.to_json(), &refusal.to_string()).await;
}

/// Keeps what could not be written in `bronze.rejected_records` with the reason, retrying
/// while the database is unreachable. A payload `jsonb` cannot hold (a NUL character) is
/// kept as its JSON text in a string, `{"json_text": "…"}`: JSON text escapes every control
/// character, so this is always storable and gives the payload back exactly.
async fn keep_rejected(pool: &PgPool, source: &str, payload: &serde_json::Value, error: &str) {
    let mut delay = Duration::from_millis(250);
    let mut payload = std::borrow::Cow::Borrowed(payload);
    let mut as_text = false;
    loop {
        let kept = sqlx::query(
            "insert into bronze.rejected_records (source, payload, error) values ($1, $2, $3)",
        )
        .bind(source)
        .bind(payload.as_ref())
        .bind(error)
        .execute(pool)
        .await;
        match kept {
            Ok(_) => return,
            Err(failure) if is_refusal(&failure) && !as_text => {
                tracing::warn!(source, error = %failure, "the refused record is kept as JSON text");
                as_text = true;
                payload = std::borrow::Cow::Owned(
                    serde_json::json!({ "json_text": payload.to_string() }),
                );
            }
            Err(failure) if is_refusal(&failure) => {
                tracing::error!(source, error = %failure, "the refused record cannot be kept either");
                return;
            }
            Err(failure) => {
                tracing::warn!(source, error = %failure, retry_in_ms = delay.as_millis() as u64, "keeping a refused record failed; retrying");
                tokio::time::sleep(delay).await;
                delay = (delay * 2).min(Duration::from_secs(30));
            }
        }
    }
}

/// Tries until the database either commits `records` (returns how many were new) or refuses
/// them for a reason retrying cannot fix (returns that error).
async fn write_until_accepted<R: BronzeRecord>(
    pool: &PgPool,
    metrics: &Metrics,
    records: &mut Vec<R>,
) -> sqlx::Result<u64> {
    let mut delay = Duration::from_millis(250);
    loop {
        match write_batch(pool, metrics, records).await {
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

fn count_written(metrics: &Metrics, source: &str, inserted: u64, total: u64) -> Receipt {
    metrics
        .ingested_records
        .get_or_create(&SourceLabels {
            source: source.to_owned(),
        })
        .inc_by(inserted);
    for _ in inserted..total {
        metrics.dropped(source, DropReason::duplicate);
    }
    Receipt {
        new: inserted,
        duplicate: total - inserted,
        refused: 0,
    }
}

/// A pooled connection used for a `COPY`, closed on drop unless the `COPY` finished. A
/// write cut off by a timeout (the caller's deadline, [`WRITE_TIMEOUT`]) while PostgreSQL
/// waits (a lock, a slow disk) leaves the server expecting `COPY` data; returned to the
/// pool, the connection would wait for the server for ever.
struct CopyConnection(Option<sqlx::pool::PoolConnection<sqlx::Postgres>>);

impl CopyConnection {
    fn get(&mut self) -> &mut sqlx::PgConnection {
        match &mut self.0 {
            Some(conn) => conn,
            None => unreachable!("the connection is taken only by `keep`"),
        }
    }

    /// The `COPY` finished: the connection goes back to the pool.
    fn keep(mut self) {
        self.0.take();
    }
}

impl Drop for CopyConnection {
    fn drop(&mut self) {
        if let Some(conn) = &mut self.0 {
            conn.close_on_drop();
        }
    }
}

/// Writes a batch: by `COPY` (as fast as bronze can take rows), and only when that finds a
/// key already stored (a replay, a reconnect) again by an insert that skips duplicates.
/// Records of accounts that opted out since they were made (while they waited in the buffer
/// or the spool) are taken out of `buffer` first, counted as dropped, and never stored.
async fn write_batch<R: BronzeRecord>(
    pool: &PgPool,
    metrics: &Metrics,
    buffer: &mut Vec<R>,
) -> sqlx::Result<u64> {
    match write_checked(pool, metrics, buffer, Store::Copy).await {
        Err(error) if is_unique_violation(&error) => {
            write_checked(pool, metrics, buffer, Store::Insert).await
        }
        written => written,
    }
}

/// How a batch goes into its table.
#[derive(Clone, Copy)]
enum Store {
    Copy,
    /// An insert that skips stored keys.
    Insert,
}

/// One try at a batch on a connection of its own, closed after a failure or when the try is
/// cut off (a failed `COPY` can leave the protocol mid-stream: never reuse that connection).
async fn write_checked<R: BronzeRecord>(
    pool: &PgPool,
    metrics: &Metrics,
    buffer: &mut Vec<R>,
    store: Store,
) -> sqlx::Result<u64> {
    let mut conn = CopyConnection(Some(pool.acquire().await?));
    let written = write_on(conn.get(), metrics, buffer, store).await;
    if written.is_ok() {
        conn.keep();
    }
    written
}

/// The batch in one transaction with the opt-out check: under a SHARE lock of
/// `app.opted_out_accounts` (an opt-out takes a lock that conflicts, so it waits for this
/// batch to commit, and a batch checked after it sees its hashes), the batch's accounts are
/// looked up by their hashes, their records dropped, and the rest stored. A batch that
/// names no account is stored without the check.
async fn write_on<R: BronzeRecord>(
    conn: &mut sqlx::PgConnection,
    metrics: &Metrics,
    buffer: &mut Vec<R>,
    store: Store,
) -> sqlx::Result<u64> {
    use sqlx::Connection as _;
    let mut hashes: Vec<String> = buffer
        .iter()
        .flat_map(|record| record.accounts())
        .map(|(kind, id)| crate::rules::account_hash(kind, &id))
        .collect();
    if hashes.is_empty() {
        return store_batch(conn, buffer.as_slice(), store).await;
    }
    hashes.sort_unstable();
    hashes.dedup();
    let mut tx = conn.begin().await?;
    sqlx::query("lock table app.opted_out_accounts in share mode")
        .execute(&mut *tx)
        .await?;
    let opted_out: std::collections::HashSet<String> = sqlx::query_scalar(
        "select account_hash from app.opted_out_accounts where account_hash = any($1)",
    )
    .bind(&hashes)
    .fetch_all(&mut *tx)
    .await?
    .into_iter()
    .collect();
    if !opted_out.is_empty() {
        let is_opted_out =
            |kind: &str, id: &str| opted_out.contains(&crate::rules::account_hash(kind, id));
        let before = buffer.len();
        buffer.retain_mut(|record| record.keep_without_opted_out(&is_opted_out));
        for _ in buffer.len()..before {
            metrics.dropped(R::SOURCE, DropReason::opted_out);
        }
        tracing::debug!(
            source = R::SOURCE,
            dropped = before - buffer.len(),
            "records of opted-out accounts dropped at write"
        );
    }
    let stored = store_batch(&mut tx, buffer.as_slice(), store).await?;
    tx.commit().await?;
    Ok(stored)
}

async fn store_batch<R: BronzeRecord>(
    conn: &mut sqlx::PgConnection,
    buffer: &[R],
    store: Store,
) -> sqlx::Result<u64> {
    match store {
        Store::Copy => copy_batch(conn, buffer).await,
        Store::Insert => record::insert_batch(conn, buffer).await,
    }
}

async fn copy_batch<R: BronzeRecord>(
    conn: &mut sqlx::PgConnection,
    buffer: &[R],
) -> sqlx::Result<u64> {
    // Sent in chunks as they are formatted: PostgreSQL stores one chunk while the next is
    // written, so the two cores work at once.
    const CHUNK: usize = 256;
    let Some(first) = buffer.first() else {
        return Ok(0);
    };
    let mut copy = conn.copy_in_raw(&record::copy_statement(first)).await?;
    let mut lines = String::with_capacity(CHUNK * 160);
    for chunk in buffer.chunks(CHUNK) {
        lines.clear();
        for item in chunk {
            record::copy_line(item, &mut lines);
            lines.push('\n');
        }
        if let Err(error) = copy.send(lines.as_bytes()).await {
            let _ = copy.abort("the batch could not be sent").await;
            return Err(error);
        }
    }
    copy.finish().await
}

fn is_unique_violation(error: &sqlx::Error) -> bool {
    matches!(error, sqlx::Error::Database(db) if db.code().as_deref() == Some("23505"))
}
