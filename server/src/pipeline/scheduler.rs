//! The scheduler inside `serve`: every job on an interval, at once when the database asks
//! (`NOTIFY guildhall_pipeline`), and bronze retention hourly; it logs a failure and goes on.
//! A job that failed is retried with backoff (30 s, 1 min, 2 min, … up to 30 min; see
//! `runner::retry_delay`), woken for at its time even between ticks.

use super::runner::{Pipeline, Trigger};
use sqlx::PgPool;
use std::time::Instant;
use tokio_util::sync::CancellationToken;

/// How often the scheduler applies bronze retention.
const RETENTION_EVERY: std::time::Duration = std::time::Duration::from_secs(3600);

/// The channel the database notifies when an account changed person or a member's data
/// was erased (`app.wake_pipeline`, `app.erase_person`): the scheduler runs at once.
pub const WAKE_CHANNEL: &str = "guildhall_pipeline";

/// Listens on [`WAKE_CHANNEL`]; `None` (logged) when the database refuses, and the
/// scheduler keeps to its interval.
async fn wake_listener(pool: &PgPool) -> Option<sqlx::postgres::PgListener> {
    let mut listener = match sqlx::postgres::PgListener::connect_with(pool).await {
        Ok(listener) => listener,
        Err(error) => {
            tracing::warn!(%error, "cannot listen for pipeline wake-ups; running on the interval only");
            return None;
        }
    };
    if let Err(error) = listener.listen(WAKE_CHANNEL).await {
        tracing::warn!(%error, "cannot listen for pipeline wake-ups; running on the interval only");
        return None;
    }
    Some(listener)
}

/// Runs every job on an interval until `shutdown`, and at once (after a short pause that
/// gathers a burst) when the database says an account changed person. Failures are logged
/// (and recorded in the run history); the loop never dies.
/// Bronze retention (`retention_days`, 0 = keep everything, unless an admin chose other days
/// in the console) runs after a successful run, at most once an hour.
pub async fn run_scheduler(
    pipeline: Pipeline,
    interval: std::time::Duration,
    retention_days: u32,
    shutdown: CancellationToken,
) {
    let mut ticker = tokio::time::interval(interval);
    ticker.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    let mut last_retention: Option<Instant> = None;
    let mut listener = wake_listener(&pipeline.pool).await;
    // A failed job's next attempt, when it comes before the next tick.
    let mut retry_at: Option<chrono::DateTime<chrono::Utc>> = None;
    loop {
        let retry_in = retry_at.map(|at| (at - pipeline.now()).to_std().unwrap_or_default());
        let trigger = tokio::select! {
            _ = shutdown.cancelled() => return,
            _ = ticker.tick() => Trigger::Schedule,
            _ = async {
                match retry_in {
                    Some(wait) => tokio::time::sleep(wait).await,
                    None => std::future::pending().await,
                }
            } => Trigger::Schedule,
            woken = async {
                match listener.as_mut() {
                    // A lost connection is re-established by the listener on the next call.
                    Some(listener) => listener.recv().await.map(|_| ()),
                    None => std::future::pending().await,
                }
            } => {
                if let Err(error) = woken {
                    tracing::warn!(%error, "pipeline wake-up listener failed");
                    tokio::time::sleep(std::time::Duration::from_secs(1)).await;
                    continue;
                }
                // One transaction notifies once; a short pause lets a burst commit first.
                tokio::time::sleep(std::time::Duration::from_millis(200)).await;
                Trigger::Schedule
            }
        };
        match pipeline.run_all(trigger).await {
            Err(error) => {
                tracing::error!(
                    error = format!("{error:#}"),
                    "scheduled pipeline run failed"
                );
            }
            Ok(_) if last_retention.is_none_or(|at| at.elapsed() >= RETENTION_EVERY) => {
                last_retention = Some(Instant::now());
                // An admin's choice in the console wins over the configured days.
                let keep = match pipeline.retention_days_in_force(retention_days).await {
                    Ok(days) => days,
                    Err(error) => {
                        tracing::error!(error = format!("{error:#}"), "bronze retention failed");
                        continue;
                    }
                };
                if keep > 0
                    && let Err(error) = pipeline.apply_retention(keep).await
                {
                    tracing::error!(error = format!("{error:#}"), "bronze retention failed");
                }
            }
            Ok(_) => {}
        }
        retry_at = match pipeline.next_retry_at().await {
            Ok(at) => at,
            Err(error) => {
                tracing::warn!(error = format!("{error:#}"), "cannot read the next retry");
                None
            }
        };
    }
}
