//! Backfills started from the browser (`/admin/status`): the server function queues a row
//! in `app.backfills` and notifies [`BACKFILL_CHANNEL`]; this runner, inside the process
//! that runs the scheduler, claims it and runs it through [`Pipeline::backfill_jobs`] (the
//! command line's code path), writing its progress after each chunk and stopping between
//! chunks when it is cancelled.
//!
//! One at a time across every process: the runner holds the advisory lock
//! [`BACKFILL_LOCK_KEY`] on a connection of its own while it runs one. When the process
//! stops, the connection closes and the lock goes with it, so a row still `running` whose
//! lock nobody holds was interrupted: the page shows it so at once, and the next runner to
//! take the lock marks it so.

use super::names::JobName;
use super::runner::{BackfillProgress, Pipeline};
use anyhow::Context;
use app::model::BACKFILL_LOCK_KEY;
use chrono::NaiveDate;
use futures::FutureExt;
use sqlx::PgPool;
use std::ops::ControlFlow;
use std::time::Duration;
use tokio_util::sync::CancellationToken;

pub use app::api::BACKFILL_CHANNEL;

/// How often the runner looks for a queued backfill without being woken (a missed
/// notification, or one queued while the listener reconnected).
const POLL: Duration = Duration::from_secs(10);

/// How a claimed backfill ended.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum BackfillEnd {
    Finished,
    Cancelled,
    Failed,
}

impl BackfillEnd {
    fn as_str(self) -> &'static str {
        match self {
            BackfillEnd::Finished => "finished",
            BackfillEnd::Cancelled => "cancelled",
            BackfillEnd::Failed => "failed",
        }
    }
}

/// Runs queued backfills until `shutdown`: at once when woken, else every [`POLL`]. A
/// backfill running at shutdown stops after its chunk (and is then `interrupted`, never
/// shown as running).
pub async fn run_backfills(pipeline: Pipeline, shutdown: CancellationToken) {
    let mut listener = match listen(pipeline.pool()).await {
        Ok(listener) => Some(listener),
        Err(error) => {
            tracing::warn!(
                error = format!("{error:#}"),
                "cannot listen for backfills; polling only"
            );
            None
        }
    };
    loop {
        match run_next_backfill(&pipeline, &shutdown).await {
            Ok(Some((id, end))) => {
                tracing::info!(backfill = id, end = end.as_str(), "backfill ended");
                continue;
            }
            Ok(None) => {}
            Err(error) => {
                tracing::error!(error = format!("{error:#}"), "running a backfill failed");
            }
        }
        tokio::select! {
            _ = shutdown.cancelled() => return,
            _ = tokio::time::sleep(POLL) => {}
            woken = async {
                match listener.as_mut() {
                    Some(listener) => listener.recv().await.map(|_| ()),
                    None => std::future::pending().await,
                }
            } => {
                if let Err(error) = woken {
                    tracing::warn!(%error, "backfill listener failed");
                    tokio::time::sleep(Duration::from_secs(1)).await;
                }
            }
        }
    }
}

async fn listen(pool: &PgPool) -> anyhow::Result<sqlx::postgres::PgListener> {
    let mut listener = sqlx::postgres::PgListener::connect_with(pool).await?;
    listener.listen(BACKFILL_CHANNEL).await?;
    Ok(listener)
}

/// Takes the runner's lock, marks backfills left `running` by a stopped process as
/// `interrupted`, claims the oldest queued one and runs it to its end. `None` when none is
/// queued or another process holds the lock. A `shutdown` stops it between chunks.
pub async fn run_next_backfill(
    pipeline: &Pipeline,
    shutdown: &CancellationToken,
) -> anyhow::Result<Option<(i64, BackfillEnd)>> {
    let pool = pipeline.pool();
    // The lock lives as long as this connection holds it; closed with the process.
    let mut lock = pool.acquire().await?;
    let locked: bool = sqlx::query_scalar("select pg_try_advisory_lock($1)")
        .bind(BACKFILL_LOCK_KEY)
        .fetch_one(&mut *lock)
        .await?;
    if !locked {
        return Ok(None);
    }
    let outcome = claim_and_run(pipeline, shutdown).await;
    let unlocked = sqlx::query("select pg_advisory_unlock($1)")
        .bind(BACKFILL_LOCK_KEY)
        .execute(&mut *lock)
        .await;
    if let Err(error) = unlocked {
        // Closing the connection releases it.
        tracing::warn!(%error, "releasing the backfill lock failed; closing its connection");
        drop(lock.detach());
    }
    outcome
}

async fn claim_and_run(
    pipeline: &Pipeline,
    shutdown: &CancellationToken,
) -> anyhow::Result<Option<(i64, BackfillEnd)>> {
    let pool = pipeline.pool().clone();
    // Holding the lock, nobody runs one: any still `running` was interrupted.
    sqlx::query(
        "update app.backfills set state = 'interrupted', finished_at = now(), updated_at = now()
         where state = 'running'",
    )
    .execute(&pool)
    .await
    .context("marking interrupted backfills")?;
    let claimed: Option<(i64, NaiveDate, NaiveDate, Vec<String>)> = sqlx::query_as(
        "update app.backfills set state = 'running', started_at = now(), updated_at = now()
         where id = (select id from app.backfills where state = 'queued' order by id limit 1)
         returning id, from_day, to_day, jobs",
    )
    .fetch_optional(&pool)
    .await
    .context("claiming a queued backfill")?;
    let Some((id, from, to, names)) = claimed else {
        return Ok(None);
    };
    let jobs: Vec<JobName> = names
        .iter()
        .filter_map(|name| {
            let job = JobName::from_name(name);
            if job.is_none() {
                tracing::warn!(
                    backfill = id,
                    job = name.as_str(),
                    "skipping an unknown job"
                );
            }
            job
        })
        .collect();
    tracing::info!(backfill = id, %from, %to, jobs = ?names, "backfill started");
    let shutdown = shutdown.clone();
    let progress_pool = pool.clone();
    let outcome = pipeline
        .backfill_jobs(from, to, &jobs, move |progress: BackfillProgress| {
            let pool = progress_pool.clone();
            let shutdown = shutdown.clone();
            async move {
                let cancel: bool = sqlx::query_scalar(
                    "update app.backfills
                     set days_done = $2, rows_written = $3, updated_at = now()
                     where id = $1 returning cancel_requested",
                )
                .bind(id)
                .bind(i32::try_from(progress.days_done).unwrap_or(i32::MAX))
                .bind(progress.rows)
                .fetch_one(&pool)
                .await
                .context("recording the backfill's progress")?;
                tracing::info!(
                    backfill = id,
                    days_done = progress.days_done,
                    days_total = progress.days_total,
                    rows = progress.rows,
                    "backfill progress"
                );
                Ok::<_, anyhow::Error>(if cancel || shutdown.is_cancelled() {
                    ControlFlow::Break(())
                } else {
                    ControlFlow::Continue(())
                })
            }
            .boxed()
        })
        .await;
    let (end, error) = match outcome {
        Ok((_, true)) => (BackfillEnd::Finished, None),
        Ok((_, false)) => (BackfillEnd::Cancelled, None),
        Err(error) => (BackfillEnd::Failed, Some(format!("{error:#}"))),
    };
    // Stopped by a shutdown, not by the admin: interrupted (it is not finished).
    let state = match end {
        BackfillEnd::Cancelled if !cancel_requested(&pool, id).await? => "interrupted",
        end => end.as_str(),
    };
    sqlx::query(
        "update app.backfills set state = $2, error = $3, finished_at = now(), updated_at = now()
         where id = $1",
    )
    .bind(id)
    .bind(state)
    .bind(&error)
    .execute(&pool)
    .await
    .context("recording the end of the backfill")?;
    if let Some(error) = &error {
        tracing::error!(backfill = id, error, "backfill failed");
    }
    Ok(Some((id, end)))
}

async fn cancel_requested(pool: &PgPool, id: i64) -> anyhow::Result<bool> {
    sqlx::query_scalar("select cancel_requested from app.backfills where id = $1")
        .bind(id)
        .fetch_one(pool)
        .await
        .context("reading whether the backfill was cancelled")
}
