//! Ingestion benchmark: 1,000,000 synthetic voice events through the real ingestion writer
//! into PostgreSQL, then a plain `COPY` of the same rows into the same table, and the ratio.
//!
//! Run with `make bench` (database `guildhall_bench`, created if missing; `DATABASE_URL`
//! overrides). `BENCH_EVENTS` changes the number of events.
// A benchmark reports to the terminal.
#![allow(clippy::print_stdout)]

use anyhow::Context;
use collectors::discord::VoiceEvent;
use collectors::ingest::{IngestWriter, WriterConfig};
use collectors::metrics::Metrics;
use guildhall::demo::{DemoParams, generate};
use guildhall::pipeline::{Pipeline, Trigger};
use sqlx::PgPool;
use std::time::{Duration, Instant};

mod common;
use common::{BATCH_SIZE, plain_copy, truncate};

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let url = std::env::var("DATABASE_URL")
        .unwrap_or_else(|_| "postgres://postgres@127.0.0.1:5432/guildhall_bench".into());
    let count: usize = std::env::var("BENCH_EVENTS")
        .ok()
        .map(|v| v.parse().context("BENCH_EVENTS must be a number"))
        .transpose()?
        .unwrap_or(1_000_000);
    guildhall::db::create_database_if_missing(&url).await?;
    let pool = guildhall::db::connect(&url).await?;
    guildhall::db::migrate(&pool).await?;

    let params = DemoParams {
        members: 12_000,
        days: 365,
        seed: 1,
        end: chrono::NaiveDate::from_ymd_opt(2026, 11, 1).context("date")?,
        timezone: chrono_tz::Europe::Berlin,
    };
    let events: Vec<VoiceEvent> = generate(&params).take(count).collect();
    anyhow::ensure!(
        events.len() == count,
        "the generator produced only {} events",
        events.len()
    );
    println!("ingest benchmark: {count} voice events, writer batch size {BATCH_SIZE}");

    truncate(&pool).await?;
    let writer_time = through_writer(&pool, &events).await?;
    let rows = stored(&pool).await?;
    anyhow::ensure!(rows == count as i64, "the writer stored {rows} rows");
    report("ingestion writer", count, writer_time);

    // The pipeline over the same rows: bronze → silver sessions → gold DAU, from scratch.
    let pipeline = Pipeline::new(pool.clone(), params.timezone, Metrics::new());
    let started = Instant::now();
    let reports = pipeline.run_all(Trigger::Manual).await?;
    let pipeline_time = started.elapsed();
    for r in &reports {
        println!(
            "{:>18}: {:>8.2} s, {:>10} rows",
            r.job,
            r.duration_ms as f64 / 1000.0,
            r.rows
        );
    }
    report("pipeline (all jobs)", count, pipeline_time);

    truncate(&pool).await?;
    let copy_time = plain_copy(&pool, &events).await?;
    let rows = stored(&pool).await?;
    anyhow::ensure!(rows == count as i64, "COPY stored {rows} rows");
    report("plain COPY", count, copy_time);

    println!(
        "writer / COPY throughput ratio: {:.2} (1.00 = as fast as COPY)",
        copy_time.as_secs_f64() / writer_time.as_secs_f64()
    );
    truncate(&pool).await?;
    Ok(())
}

fn report(name: &str, count: usize, time: Duration) {
    println!(
        "{name:>18}: {:>8.2} s, {:>10.0} events/s",
        time.as_secs_f64(),
        count as f64 / time.as_secs_f64()
    );
}

async fn stored(pool: &PgPool) -> anyhow::Result<i64> {
    Ok(
        sqlx::query_scalar("select count(*) from bronze.discord_voice_events")
            .fetch_one(pool)
            .await?,
    )
}

async fn through_writer(pool: &PgPool, events: &[VoiceEvent]) -> anyhow::Result<Duration> {
    let started = Instant::now();
    let (writer, task) = IngestWriter::<VoiceEvent>::spawn(
        pool.clone(),
        WriterConfig {
            batch_size: BATCH_SIZE,
            flush_interval: Duration::from_secs(1),
        },
        Metrics::new(),
    );
    for event in events {
        writer.write(event.clone()).await?;
    }
    drop(writer);
    task.await?;
    Ok(started.elapsed())
}
