//! Pipeline tick benchmark: what a scheduled run costs when nothing happened (idle) and
//! after one minute of new voice events (incremental), with 1× and 10× as much history of
//! the same community. The cost of a tick must follow what is new, not how much is old:
//! the target is that 10× history costs at most 1.5× as much.
//!
//! Run with `make bench` (database `guildhall_bench`, created if missing; `DATABASE_URL`
//! overrides). `BENCH_TICK_MEMBERS` and `BENCH_TICK_DAYS` (the 1× history) change the size;
//! `BENCH_KEEP=1` leaves the 10× data in place for `explain analyze`.
// A benchmark reports to the terminal.
#![allow(clippy::print_stdout)]

use anyhow::Context;
use chrono::{DateTime, Duration, Utc};
use collectors::discord::{VoiceEvent, VoiceOrigin};
use collectors::ingest::{IngestWriter, WriterConfig};
use collectors::metrics::Metrics;
use guildhall::clock::Clock;
use guildhall::demo::{DEMO_GUILD_ID, DemoParams, generate};
use guildhall::pipeline::{Pipeline, Trigger};
use sqlx::PgPool;
use std::time::Instant;

mod common;
use common::{plain_copy, truncate};

/// Ticks measured per kind; the median is reported.
const REPEATS: usize = 15;
/// New events in each incremental tick's minute.
const EVENTS_PER_MINUTE: i64 = 200;

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let url = std::env::var("DATABASE_URL")
        .unwrap_or_else(|_| "postgres://postgres@127.0.0.1:5432/guildhall_bench".into());
    let members: u32 = env_number("BENCH_TICK_MEMBERS", 2_000)?;
    let days: u32 = env_number("BENCH_TICK_DAYS", 30)?;
    guildhall::db::create_database_if_missing(&url).await?;
    let pool = guildhall::db::connect(&url).await?;
    guildhall::db::migrate(&pool).await?;

    println!(
        "pipeline tick benchmark: {members} members, history of {days} and {} days, median of {REPEATS} ticks",
        days * 10
    );
    let small = measure(&pool, members, days).await?;
    let large = measure(&pool, members, days * 10).await?;
    if std::env::var_os("BENCH_KEEP").is_none() {
        truncate(&pool).await?;
    }

    println!(
        "{:>22} {:>14} {:>14} {:>10}",
        "tick", "1× history", "10× history", "10× / 1×"
    );
    for (name, a, b) in [
        ("idle", small.idle_ms, large.idle_ms),
        (
            "incremental (1 min)",
            small.incremental_ms,
            large.incremental_ms,
        ),
    ] {
        println!(
            "{name:>22} {a:>11.1} ms {b:>11.1} ms {:>10.2}",
            b / a.max(0.001)
        );
    }
    println!(
        "history: {} and {} voice events, {} and {} sessions",
        small.events, large.events, small.sessions, large.sessions
    );
    Ok(())
}

fn env_number<T: std::str::FromStr>(name: &str, default: T) -> anyhow::Result<T> {
    match std::env::var(name) {
        Ok(value) => value
            .parse()
            .map_err(|_| anyhow::anyhow!("{name} must be a number")),
        Err(_) => Ok(default),
    }
}

struct Ticks {
    idle_ms: f64,
    incremental_ms: f64,
    events: usize,
    sessions: i64,
}

async fn measure(pool: &PgPool, members: u32, days: u32) -> anyhow::Result<Ticks> {
    truncate(pool).await?;
    sqlx::query("delete from app.discord_guilds")
        .execute(pool)
        .await?;
    let params = DemoParams {
        members,
        days,
        seed: 3,
        end: chrono::NaiveDate::from_ymd_opt(2026, 11, 1).context("date")?,
        timezone: chrono_tz::Europe::Berlin,
    };
    let events: Vec<VoiceEvent> = generate(&params).collect();
    let history_end = events
        .iter()
        .map(|e| e.occurred_at)
        .max()
        .context("the generator wrote nothing")?;
    plain_copy(pool, &events).await?;
    sqlx::query(
        "insert into app.discord_guilds (guild_id, name, observed_until) values ($1, 'Bench', $2)",
    )
    .bind(DEMO_GUILD_ID)
    .bind(history_end)
    .execute(pool)
    .await?;
    sqlx::query("analyze").execute(pool).await?;

    // Catch up once, as a running installation has.
    let clock = Clock::fixed(history_end + Duration::minutes(1));
    let pipeline =
        Pipeline::with_clock(pool.clone(), params.timezone, Metrics::new(), clock.clone());
    pipeline.run_all(Trigger::Schedule).await?;
    sqlx::query("analyze").execute(pool).await?;
    let sessions: i64 = sqlx::query_scalar("select count(*) from silver.fact_voice_sessions")
        .fetch_one(pool)
        .await?;

    let mut idle = Vec::with_capacity(REPEATS);
    for _ in 0..REPEATS {
        let started = Instant::now();
        pipeline.run_all(Trigger::Schedule).await?;
        idle.push(started.elapsed().as_secs_f64() * 1000.0);
    }

    let mut incremental = Vec::with_capacity(REPEATS);
    let mut minute_start = history_end + Duration::minutes(1);
    for round in 0..REPEATS {
        write_minute(pool, minute_start, round as i64).await?;
        minute_start += Duration::minutes(1);
        clock.set(minute_start);
        sqlx::query("update app.discord_guilds set observed_until = $1")
            .bind(minute_start)
            .execute(pool)
            .await?;
        let started = Instant::now();
        pipeline.run_all(Trigger::Schedule).await?;
        incremental.push(started.elapsed().as_secs_f64() * 1000.0);
    }
    Ok(Ticks {
        idle_ms: median(idle),
        incremental_ms: median(incremental),
        events: events.len(),
        sessions,
    })
}

/// One minute of new activity through the real ingestion writer: members joining,
/// switching and leaving voice.
async fn write_minute(pool: &PgPool, start: DateTime<Utc>, round: i64) -> anyhow::Result<()> {
    let (writer, task) =
        IngestWriter::<VoiceEvent>::spawn(pool.clone(), WriterConfig::default(), Metrics::new());
    for i in 0..EVENTS_PER_MINUTE {
        let user_id = 1_000_000 + (round * EVENTS_PER_MINUTE + i) / 2;
        let channel_id = (i % 2 == 0).then_some(910_000_000_000_000_000 + i % 7);
        writer
            .write(VoiceEvent {
                guild_id: DEMO_GUILD_ID,
                user_id,
                channel_id,
                self_mute: false,
                self_deaf: false,
                origin: VoiceOrigin::Gateway,
                occurred_at: start + Duration::milliseconds(i * 60_000 / EVENTS_PER_MINUTE),
            })
            .await?;
    }
    drop(writer);
    task.await?;
    Ok(())
}

fn median(mut values: Vec<f64>) -> f64 {
    values.sort_by(f64::total_cmp);
    values[values.len() / 2]
}
