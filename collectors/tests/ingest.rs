//! The ingestion writer against the real PostgreSQL: it flushes when a batch is full, on
//! its interval and at shutdown, and skips (and counts) duplicates.

mod support;

use chrono::{DateTime, Duration as ChronoDuration, Utc};
use collectors::discord::{VoiceEvent, VoiceOrigin};
use collectors::ingest::{IngestWriter, WriterConfig};
use collectors::metrics::{DropReason, Metrics};
use sqlx::PgPool;
use std::time::Duration;

fn event(n: i64) -> VoiceEvent {
    let base: DateTime<Utc> = DateTime::from_timestamp(1_800_000_000, 0).expect("valid time");
    VoiceEvent {
        guild_id: 1,
        user_id: n,
        channel_id: Some(10),
        self_mute: false,
        self_deaf: false,
        origin: VoiceOrigin::Gateway,
        occurred_at: base + ChronoDuration::seconds(n),
    }
}

async fn stored(pool: &PgPool) -> i64 {
    sqlx::query_scalar("select count(*) from bronze.discord_voice_events")
        .fetch_one(pool)
        .await
        .expect("count")
}

/// Waits up to fifteen seconds for the table to reach `expected` rows.
async fn eventually(pool: &PgPool, expected: i64) -> i64 {
    for _ in 0..300 {
        let n = stored(pool).await;
        if n == expected {
            return n;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    stored(pool).await
}

#[sqlx::test(migrations = "../migrations")]
async fn a_full_batch_is_written_without_waiting_for_the_interval(pool: PgPool) {
    let config = WriterConfig {
        batch_size: 3,
        flush_interval: Duration::from_secs(3600),
    };
    let (writer, _task) = IngestWriter::spawn(pool.clone(), config, Metrics::new());
    writer.write(event(1)).await.expect("write");
    writer.write(event(2)).await.expect("write");
    tokio::time::sleep(Duration::from_millis(200)).await;
    assert_eq!(stored(&pool).await, 0, "a partial batch waits");
    writer.write(event(3)).await.expect("write");
    assert_eq!(eventually(&pool, 3).await, 3);
}

#[sqlx::test(migrations = "../migrations")]
async fn a_partial_batch_is_written_when_the_interval_passes(pool: PgPool) {
    let config = WriterConfig {
        batch_size: 1000,
        flush_interval: Duration::from_millis(100),
    };
    let (writer, _task) = IngestWriter::spawn(pool.clone(), config, Metrics::new());
    writer.write(event(1)).await.expect("write");
    assert_eq!(eventually(&pool, 1).await, 1);
}

#[sqlx::test(migrations = "../migrations")]
async fn what_is_buffered_is_written_at_shutdown_and_on_flush(pool: PgPool) {
    let config = WriterConfig {
        batch_size: 1000,
        flush_interval: Duration::from_secs(3600),
    };
    let (writer, task) = IngestWriter::spawn(pool.clone(), config, Metrics::new());
    writer.write(event(1)).await.expect("write");
    writer.flush().await.expect("flush");
    assert_eq!(stored(&pool).await, 1, "flush returns after the commit");
    writer.write(event(2)).await.expect("write");
    drop(writer);
    task.await.expect("writer ends");
    assert_eq!(stored(&pool).await, 2, "nothing lost at shutdown");
}

#[sqlx::test(migrations = "../migrations")]
async fn duplicates_are_stored_once_and_counted_with_their_reason(pool: PgPool) {
    let metrics = Metrics::new();
    let (writer, task) =
        IngestWriter::spawn(pool.clone(), WriterConfig::default(), metrics.clone());
    for _ in 0..3 {
        writer.write(event(7)).await.expect("write");
    }
    writer.write(event(8)).await.expect("write");
    drop(writer);
    task.await.expect("writer ends");
    assert_eq!(stored(&pool).await, 2);
    assert_eq!(
        metrics.dropped_count("discord_voice", DropReason::duplicate),
        2
    );
    assert!(
        metrics
            .render()
            .contains("guildhall_ingested_records_total{source=\"discord_voice\"} 2")
    );
}

/// A record type of the test's own, in a table with a check the test can violate (and no
/// key: every row is new).
#[derive(serde::Serialize, serde::Deserialize)]
struct Probe {
    n: i32,
}

fn probe(n: i32) -> Probe {
    Probe { n }
}

impl collectors::ingest::BronzeRecord for Probe {
    const SOURCE: &'static str = "probe";
    const TABLE: &'static str = "probe";
    const KEY: &'static str = "";

    fn columns(&self, row: &mut collectors::ingest::Row<'_>) {
        row.int4("n", Some(self.n));
    }
}

#[sqlx::test(migrations = "../migrations")]
async fn a_refused_record_is_dropped_and_counted_and_the_rest_of_its_batch_is_kept(pool: PgPool) {
    sqlx::query("create table probe (n int4 not null check (n > 0))")
        .execute(&pool)
        .await
        .expect("probe table");
    let metrics = Metrics::new();
    let (writer, task) =
        IngestWriter::spawn(pool.clone(), WriterConfig::default(), metrics.clone());
    for n in [1, -1, 2] {
        writer.write(probe(n)).await.expect("write");
    }
    writer
        .flush()
        .await
        .expect("the writer is not stuck on the bad record");
    writer.write(probe(3)).await.expect("write");
    drop(writer);
    task.await.expect("writer ends");
    let stored: Vec<i32> = sqlx::query_scalar("select n from probe order by n")
        .fetch_all(&pool)
        .await
        .expect("rows");
    assert_eq!(stored, vec![1, 2, 3]);
    assert_eq!(metrics.dropped_count("probe", DropReason::invalid), 1);
    // Not lost: kept with its source and the database's reason.
    let rejected: Vec<(String, serde_json::Value, String)> =
        sqlx::query_as("select source, payload, error from bronze.rejected_records")
            .fetch_all(&pool)
            .await
            .expect("rejected records");
    assert_eq!(rejected.len(), 1, "{rejected:?}");
    assert_eq!(rejected[0].0, "probe");
    assert_eq!(rejected[0].1, serde_json::json!({ "n": -1 }));
    assert!(rejected[0].2.contains("probe_n_check"), "{}", rejected[0].2);
}

/// A record with text PostgreSQL cannot hold (a NUL character): refused by its table, and
/// by `jsonb` too.
#[derive(serde::Serialize, serde::Deserialize)]
struct TextProbe {
    text: String,
}

impl collectors::ingest::BronzeRecord for TextProbe {
    const SOURCE: &'static str = "text_probe";
    const TABLE: &'static str = "text_probe";
    const KEY: &'static str = "";

    fn columns(&self, row: &mut collectors::ingest::Row<'_>) {
        row.text("text", Some(&self.text));
    }
}

#[sqlx::test(migrations = "../migrations")]
async fn a_refused_record_jsonb_cannot_hold_is_kept_as_its_json_text_exactly(pool: PgPool) {
    sqlx::query("create table text_probe (text text not null)")
        .execute(&pool)
        .await
        .expect("probe table");
    let (writer, task) = IngestWriter::spawn(pool.clone(), WriterConfig::default(), Metrics::new());
    let receipt = writer
        .write_acked(vec![
            TextProbe {
                text: "fine".into(),
            },
            TextProbe {
                text: "a\0b".into(),
            },
        ])
        .await
        .expect("write");
    assert_eq!((receipt.new, receipt.refused), (1, 1));
    drop(writer);
    task.await.expect("writer ends");
    let payloads: Vec<serde_json::Value> =
        sqlx::query_scalar("select payload from bronze.rejected_records")
            .fetch_all(&pool)
            .await
            .expect("rejected records");
    assert_eq!(
        payloads,
        [serde_json::json!({ "json_text": "{\"text\":\"a\\u0000b\"}" })]
    );
    let back: serde_json::Value =
        serde_json::from_str(payloads[0]["json_text"].as_str().expect("text")).expect("json");
    assert_eq!(back, serde_json::json!({ "text": "a\0b" }));
}

#[sqlx::test(migrations = "../migrations")]
async fn an_acknowledged_write_says_what_was_new_duplicate_or_refused_once_committed(pool: PgPool) {
    sqlx::query("create table probe (n int4 not null check (n > 0) unique)")
        .execute(&pool)
        .await
        .expect("probe table");
    let metrics = Metrics::new();
    let config = WriterConfig {
        batch_size: 1000,
        flush_interval: Duration::from_secs(3600),
    };
    let (writer, task) = IngestWriter::spawn(pool.clone(), config, metrics.clone());
    let first = writer
        .write_acked(vec![probe(1), probe(2)])
        .await
        .expect("acknowledged");
    assert_eq!(
        first,
        collectors::ingest::Receipt {
            new: 2,
            duplicate: 0,
            refused: 0
        }
    );
    // Committed when acknowledged, although the flush interval is an hour.
    let stored: i64 = sqlx::query_scalar("select count(*) from probe")
        .fetch_one(&pool)
        .await
        .expect("count");
    assert_eq!(stored, 2);
    let second = writer
        .write_acked(vec![probe(2), probe(-5), probe(3)])
        .await
        .expect("acknowledged");
    assert_eq!(
        second,
        collectors::ingest::Receipt {
            new: 1,
            duplicate: 1,
            refused: 1
        }
    );
    let stored: Vec<i32> = sqlx::query_scalar("select n from probe order by n")
        .fetch_all(&pool)
        .await
        .expect("rows");
    assert_eq!(stored, vec![1, 2, 3]);
    let kept: i64 = sqlx::query_scalar("select count(*) from bronze.rejected_records")
        .fetch_one(&pool)
        .await
        .expect("rejected");
    assert_eq!(kept, 1);
    drop(writer);
    task.await.expect("writer ends");
}

#[sqlx::test(migrations = "../migrations")]
async fn a_missing_table_is_waited_for_not_taken_for_bad_data(pool: PgPool) {
    // A deploy whose migrations are not applied yet: the writer keeps the records and
    // retries until the table exists.
    let metrics = Metrics::new();
    let (writer, task) =
        IngestWriter::spawn(pool.clone(), WriterConfig::default(), metrics.clone());
    writer.write(probe(1)).await.expect("write");
    let flushed = tokio::spawn({
        let writer = writer.clone();
        async move { writer.flush().await }
    });
    tokio::time::sleep(Duration::from_millis(400)).await;
    assert!(!flushed.is_finished(), "the writer waits for the table");
    sqlx::query("create table probe (n int4 not null check (n > 0))")
        .execute(&pool)
        .await
        .expect("probe table");
    flushed
        .await
        .expect("task")
        .expect("flushed once the table exists");
    drop(writer);
    task.await.expect("writer ends");
    let stored: Vec<i32> = sqlx::query_scalar("select n from probe")
        .fetch_all(&pool)
        .await
        .expect("rows");
    assert_eq!(stored, vec![1]);
    assert_eq!(metrics.dropped_count("probe", DropReason::invalid), 0);
}

/// A pool to the test's database through a proxy that can be cut.
async fn pool_through(pool: &PgPool, proxy: &support::CuttableProxy) -> PgPool {
    let options = (*pool.connect_options()).clone().port(proxy.port);
    sqlx::postgres::PgPoolOptions::new()
        .max_connections(2)
        .acquire_timeout(Duration::from_secs(1))
        .connect_with(options)
        .await
        .expect("pool through the proxy")
}

#[sqlx::test(migrations = "../migrations")]
async fn records_written_during_an_outage_are_spooled_and_replayed_exactly_once(pool: PgPool) {
    let upstream = format!(
        "{}:{}",
        pool.connect_options().get_host(),
        pool.connect_options().get_port()
    );
    let proxy = support::CuttableProxy::start(upstream).await;
    let through = pool_through(&pool, &proxy).await;
    let dir = std::env::temp_dir().join(format!("guildhall-spool-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    let spool = collectors::ingest::SpoolConfig {
        dir: dir.clone(),
        max_bytes: 10 << 20,
    };
    let config = WriterConfig {
        batch_size: 10,
        flush_interval: Duration::from_millis(50),
    };
    let metrics = Metrics::new();
    let (writer, task) = IngestWriter::spawn_with_spool(
        through.clone(),
        config,
        metrics.clone(),
        Some(spool.clone()),
    );
    for n in 1..=5 {
        writer.write(event(n)).await.expect("write");
    }
    writer.flush().await.expect("flushed");
    assert_eq!(stored(&pool).await, 5);

    // PostgreSQL goes away while records keep coming; a shutdown during the outage ends
    // within seconds.
    proxy.cut();
    for n in 6..=40 {
        writer
            .write(event(n))
            .await
            .expect("the writer takes records during the outage");
    }
    drop(writer);
    tokio::time::timeout(Duration::from_secs(15), task)
        .await
        .expect("a shutdown during the outage ends within seconds")
        .expect("writer ends");
    assert_eq!(stored(&pool).await, 5, "nothing reached the database");
    assert_eq!(
        spool.backlog("discord_voice"),
        35,
        "every record is in the spool"
    );
    // A line cut off by a crash, and one another version wrote: not records, but not lost.
    {
        use std::io::Write;
        let mut file = std::fs::OpenOptions::new()
            .append(true)
            .open(spool.file("discord_voice"))
            .expect("spool file");
        file.write_all(b"{\"guild_id\": \"1\", \"shape\": \"older\"}\n{\"guild_id\n")
            .expect("append");
    }

    // Back, with a new writer (a restart): the spool is replayed in order, exactly once.
    proxy.restore();
    let (writer, task) = IngestWriter::spawn_with_spool(
        through.clone(),
        config,
        metrics.clone(),
        Some(spool.clone()),
    );
    writer.write(event(41)).await.expect("write");
    writer.flush().await.expect("flushed");
    drop(writer);
    task.await.expect("writer ends");
    let users: Vec<i64> =
        sqlx::query_scalar("select user_id from bronze.discord_voice_events order by event_id")
            .fetch_all(&pool)
            .await
            .expect("rows");
    assert_eq!(users, (1..=41).collect::<Vec<i64>>(), "in order, each once");
    let kept: Vec<(String, serde_json::Value, String)> = sqlx::query_as(
        "select source, payload, error from bronze.rejected_records order by rejected_id",
    )
    .fetch_all(&pool)
    .await
    .expect("rejected records");
    assert_eq!(
        kept,
        vec![
            (
                "discord_voice".to_owned(),
                serde_json::json!({ "guild_id": "1", "shape": "older" }),
                "unreadable spool line".to_owned()
            ),
            (
                "discord_voice".to_owned(),
                serde_json::json!({ "line": "{\"guild_id" }),
                "unreadable spool line".to_owned()
            ),
        ]
    );
    assert_eq!(spool.backlog("discord_voice"), 0);
    assert!(!spool.file("discord_voice").exists());
    let _ = std::fs::remove_dir_all(&dir);
}
