//! Identity benchmark: a demo community with a year of history (voice, chat, both game
//! servers), then the member with the most active days on a linked Steam account is
//! unlinked and linked again, and two members are merged; each change is committed and the
//! pipeline run until every KPI follows it. An idle pipeline run is the yardstick.
//!
//! Run with `make bench` (database `guildhall_bench`, created if missing; `DATABASE_URL`
//! overrides). `BENCH_IDENTITY_MEMBERS` (default 300) changes the community's size.
// A benchmark reports to the terminal.
#![allow(clippy::print_stdout)]

use anyhow::Context;
use collectors::metrics::Metrics;
use guildhall::demo::DemoParams;
use guildhall::pipeline::{Pipeline, Trigger};
use sqlx::PgPool;
use std::time::{Duration, Instant};

mod common;
use common::truncate;

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let url = std::env::var("DATABASE_URL")
        .unwrap_or_else(|_| "postgres://postgres@127.0.0.1:5432/guildhall_bench".into());
    let members: u32 = std::env::var("BENCH_IDENTITY_MEMBERS")
        .ok()
        .map(|v| v.parse().context("BENCH_IDENTITY_MEMBERS must be a number"))
        .transpose()?
        .unwrap_or(300);
    guildhall::db::create_database_if_missing(&url).await?;
    let pool = guildhall::db::connect(&url).await?;
    guildhall::db::migrate(&pool).await?;
    truncate(&pool).await?;

    let params = DemoParams {
        members,
        days: 365,
        seed: 3,
        end: chrono::Utc::now().date_naive(),
        timezone: chrono_tz::Europe::Berlin,
    };
    let metrics = Metrics::new();
    let started = Instant::now();
    guildhall::demo::write(&pool, &params, &metrics).await?;
    let pipeline = Pipeline::new(pool.clone(), params.timezone, Metrics::new());
    pipeline.run_all(Trigger::Manual).await?;
    println!(
        "identity benchmark: {members} members, 365 days (demo written and computed in {:.1} s)",
        started.elapsed().as_secs_f64()
    );

    let (steam, person, days): (String, i64, i64) = sqlx::query_as(
        "select i.external_id, i.person_id, count(*)
         from silver.user_identities i
         join silver.activity_daily a on a.account_kind = 'steam' and a.account_id = i.external_id
         where i.kind = 'steam' and i.verified_by <> 'observed'
         group by 1, 2 order by 3 desc limit 1",
    )
    .fetch_one(&pool)
    .await
    .context("the demo has no linked Steam account")?;
    let (other, other_days): (i64, i64) = sqlx::query_as(
        "select a.person_id, count(distinct a.day) from silver.activity_daily a
         where a.person_id <> $1 group by 1 order by 2 desc limit 1",
    )
    .bind(person)
    .fetch_one(&pool)
    .await?;

    let idle = timed(&pipeline, async { Ok(()) }).await?;
    let unlink = timed(&pipeline, async {
        sqlx::query("select silver.unlink_identity('steam', $1, null)")
            .bind(&steam)
            .execute(&pool)
            .await?;
        Ok(())
    })
    .await?;
    let separate: i64 = persons_on_active_days(&pool).await?;
    let link = timed(&pipeline, async {
        sqlx::query("select silver.link_identity('steam', $1, $2, 'admin', null, null)")
            .bind(&steam)
            .bind(person)
            .execute(&pool)
            .await?;
        Ok(())
    })
    .await?;
    let together: i64 = persons_on_active_days(&pool).await?;
    let merge = timed(&pipeline, async {
        sqlx::query("select silver.merge_persons($1, $2, null)")
            .bind(person)
            .bind(other)
            .execute(&pool)
            .await?;
        Ok(())
    })
    .await?;
    anyhow::ensure!(
        separate > together,
        "unlinking did not split the person's days ({separate} vs {together})"
    );

    println!(
        "{:>44} {:>12} {:>10}",
        "change, committed and recomputed", "time", "× idle"
    );
    for (name, time) in [
        ("idle pipeline run (nothing changed)", idle),
        (
            &*format!("unlink a Steam account ({days} active days)"),
            unlink,
        ),
        ("link it again", link),
        (
            &*format!("merge a person with {other_days} active days"),
            merge,
        ),
    ] {
        println!(
            "{name:>44} {:>9.0} ms {:>10.2}",
            time.as_secs_f64() * 1000.0,
            time.as_secs_f64() / idle.as_secs_f64().max(1e-9)
        );
    }
    if std::env::var_os("BENCH_KEEP").is_none() {
        truncate(&pool).await?;
    }
    Ok(())
}

/// The change, then one pipeline run: the time until every KPI table follows it.
async fn timed(
    pipeline: &Pipeline,
    change: impl std::future::Future<Output = anyhow::Result<()>>,
) -> anyhow::Result<Duration> {
    let started = Instant::now();
    change.await?;
    let mut reports = pipeline.run_all(Trigger::Manual).await?;
    let elapsed = started.elapsed();
    reports.sort_by_key(|r| std::cmp::Reverse(r.duration_ms));
    let slowest: Vec<String> = reports
        .iter()
        .take(3)
        .map(|r| format!("{} {} ms ({} rows)", r.job, r.duration_ms, r.rows))
        .collect();
    println!("  slowest jobs: {}", slowest.join(", "));
    Ok(elapsed)
}

/// Sum over days of the persons active that day.
async fn persons_on_active_days(pool: &PgPool) -> anyhow::Result<i64> {
    Ok(sqlx::query_scalar(
        "select coalesce(sum(dau_total), 0)::bigint from gold.daily_active_users",
    )
    .fetch_one(pool)
    .await?)
}
