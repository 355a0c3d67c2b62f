//! `/admin/status`: the collectors and their sources, the spool, refused records, the
//! pipeline's jobs and runs, and backfills started from the browser. Admins only.
//!
//! A backfill is a row in `app.backfills`: this process's server functions queue it and
//! wake the runner (`NOTIFY guildhall_backfill`); the server process runs it
//! (`server/src/pipeline/backfills.rs`), which survives the page being closed.

use crate::error::AppError;
use crate::model::{AdminStatus, BackfillStatus};
use chrono::NaiveDate;
use leptos::prelude::*;

/// The channel that wakes the backfill runner.
pub const BACKFILL_CHANNEL: &str = "guildhall_backfill";

/// The longest range a backfill from the browser covers.
pub const BACKFILL_MAX_DAYS: i64 = 3660;

/// Everything `/admin/status` shows. Admins only.
#[server]
pub async fn get_admin_status() -> Result<AdminStatus, AppError> {
    use crate::model::{
        BACKLOG_CAP, CollectorState, JobStatus, Permission, PipelineRun, RejectedRecords,
        SourceHealth, WallTime,
    };
    let (_user, state) = crate::ssr::authz::require(Permission::Administer).await?;
    let tz = crate::ssr::community::timezone(&state)
        .await?
        .name()
        .to_string();
    let tz = &tz;
    type SourceRow = (
        String,
        String,
        Option<String>,
        Option<WallTime>,
        Option<String>,
        Option<WallTime>,
        Option<i32>,
        i64,
    );
    let sources: Vec<SourceRow> = sqlx::query_as(include_str!("admin_status/sources.sql"))
        .bind(tz)
        .fetch_all(&state.pool)
        .await?;
    let sources = sources
        .into_iter()
        .map(
            |(
                collector,
                source,
                st,
                last_success_at,
                last_error,
                last_error_at,
                restarts,
                events,
            )| {
                SourceHealth {
                    collector,
                    source,
                    state: st.as_deref().and_then(CollectorState::parse),
                    last_success_at,
                    last_error,
                    last_error_at,
                    restarts: restarts.map(|n| u32::try_from(n).unwrap_or(0)),
                    events_last_hour: events,
                }
            },
        )
        .collect();

    let (names, inputs): (Vec<String>, Vec<String>) = state
        .settings
        .pipeline_jobs
        .iter()
        .map(|job| {
            (
                job.name.clone(),
                job.bronze_input.clone().unwrap_or_default(),
            )
        })
        .unzip();
    let rows = sqlx::query(include_str!("admin_status/jobs.sql"))
        .bind(&names)
        .bind(&inputs)
        .bind(tz)
        .bind(BACKLOG_CAP)
        .fetch_all(&state.pool)
        .await?;
    let mut jobs = Vec::with_capacity(rows.len());
    for row in rows {
        use sqlx::Row;
        let job: String = row.try_get("job")?;
        let started_at: Option<WallTime> = row.try_get("started_at")?;
        let last_run = match (started_at, row.try_get::<Option<String>, _>("trigger")?) {
            (Some(started_at), Some(trigger)) => Some(PipelineRun {
                job: job.clone(),
                trigger,
                started_at,
                range_from: row.try_get("range_from")?,
                range_to: row.try_get("range_to")?,
                duration_ms: row.try_get("duration_ms")?,
                rows_affected: row.try_get("rows_affected")?,
                error: row.try_get("error")?,
            }),
            _ => None,
        };
        jobs.push(JobStatus {
            job,
            watermark: row.try_get("watermark")?,
            backlog: row.try_get("backlog")?,
            last_success_at: row.try_get("last_success_at")?,
            last_run,
            attempts: u32::try_from(row.try_get::<i32, _>("attempts")?).unwrap_or(0),
            next_attempt_at: row.try_get("next_attempt_at")?,
            last_error: row.try_get("last_error")?,
            last_error_at: row.try_get("last_error_at")?,
        });
    }

    let recent_runs: Vec<PipelineRun> = sqlx::query_as(
        "select job, trigger, started_at at time zone $1 as started_at,
                range_from at time zone $1 as range_from, range_to at time zone $1 as range_to,
                duration_ms, rows_affected, error
         from app.pipeline_runs order by started_at desc, id desc limit 20",
    )
    .bind(tz)
    .fetch_all(&state.pool)
    .await?;
    let rejected: Vec<(String, i64, String, WallTime)> = sqlx::query_as(
        "select distinct on (source) source, count(*) over (partition by source), error,
                rejected_at at time zone $1
         from bronze.rejected_records
         order by source, rejected_at desc, rejected_id desc",
    )
    .bind(tz)
    .fetch_all(&state.pool)
    .await?;
    let today: NaiveDate = sqlx::query_scalar("select (now() at time zone $1)::date")
        .bind(tz)
        .fetch_one(&state.pool)
        .await?;
    Ok(AdminStatus {
        timezone: tz.clone(),
        bot_enabled: state.settings.bot_enabled,
        sources,
        spool_dir: state.settings.spool_dir.display().to_string(),
        spool: state.settings.spool_files(),
        rejected: rejected
            .into_iter()
            .map(|(source, count, last_error, last_at)| RejectedRecords {
                source,
                count,
                last_error,
                last_at,
            })
            .collect(),
        jobs,
        recent_runs,
        backfill: latest_backfill(&state.pool, tz).await?,
        today,
    })
}

/// The latest backfill and its progress: what the page polls while one runs. Admins only.
#[server]
pub async fn get_backfill() -> Result<Option<BackfillStatus>, AppError> {
    use crate::model::Permission;
    let (_user, state) = crate::ssr::authz::require(Permission::Administer).await?;
    let tz = crate::ssr::community::timezone(&state).await?;
    latest_backfill(&state.pool, tz.name()).await
}

/// Queues a backfill of the local days `from..=to` for `jobs` (names of the pipeline's
/// jobs; they run in the pipeline's order) and wakes the runner. Returns its id. Refused
/// while another one waits or runs. Admins only.
#[server]
pub async fn start_backfill(
    from: NaiveDate,
    to: NaiveDate,
    #[server(default)] jobs: Vec<String>,
) -> Result<i64, AppError> {
    use crate::error::{Field, Problem, Refusal};
    use crate::model::{BACKFILL_LOCK_KEY, Permission};
    use crate::ssr::authz::with_status;
    let (admin, state) = crate::ssr::authz::require(Permission::Administer).await?;
    if to < from {
        return Err(with_status(AppError::invalid(
            Field::To,
            Problem::RangeReversed,
        )));
    }
    let days = (to - from).num_days() + 1;
    if days > BACKFILL_MAX_DAYS {
        return Err(with_status(AppError::invalid(
            Field::From,
            Problem::RangeTooLong {
                max_days: BACKFILL_MAX_DAYS,
            },
        )));
    }
    let tz = crate::ssr::community::timezone(&state).await?;
    let today: NaiveDate = sqlx::query_scalar("select (now() at time zone $1)::date")
        .bind(tz.name())
        .fetch_one(&state.pool)
        .await?;
    if to > today {
        return Err(with_status(AppError::invalid(
            Field::To,
            Problem::DayInFuture,
        )));
    }
    if jobs.is_empty() {
        return Err(with_status(AppError::invalid(
            Field::Jobs,
            Problem::NoJobChosen,
        )));
    }
    if let Some(unknown) = jobs.iter().find(|job| {
        !state
            .settings
            .pipeline_jobs
            .iter()
            .any(|known| &known.name == *job)
    }) {
        return Err(with_status(AppError::invalid(
            Field::Jobs,
            Problem::JobUnknown {
                job: unknown.clone(),
            },
        )));
    }
    // In the pipeline's order, each once.
    let ordered: Vec<&str> = state
        .settings
        .pipeline_jobs
        .iter()
        .filter(|known| jobs.contains(&known.name))
        .map(|known| known.name.as_str())
        .collect();
    let mut tx = state.pool.begin().await?;
    // A backfill left `running` by a process that stopped no longer blocks a new one.
    sqlx::query(
        "update app.backfills set state = 'interrupted', finished_at = now(), updated_at = now()
         where state = 'running' and not exists (
             select 1 from pg_locks l
             where l.locktype = 'advisory' and l.granted
               and l.database = (select oid from pg_database where datname = current_database())
               and ((l.classid::bigint << 32) | l.objid::bigint) = $1 and l.objsubid = 1)",
    )
    .bind(BACKFILL_LOCK_KEY)
    .execute(&mut *tx)
    .await?;
    let id: Option<i64> = sqlx::query_scalar(
        "insert into app.backfills (from_day, to_day, jobs, requested_by, days_total)
         values ($1, $2, $3, $4, $5)
         on conflict do nothing
         returning id",
    )
    .bind(from)
    .bind(to)
    .bind(&ordered)
    .bind(admin.id)
    .bind(i32::try_from(days).unwrap_or(i32::MAX))
    .fetch_optional(&mut *tx)
    .await?;
    let Some(id) = id else {
        return Err(with_status(AppError::Refused(Refusal::BackfillActive)));
    };
    sqlx::query("select pg_notify($1, $2)")
        .bind(BACKFILL_CHANNEL)
        .bind(id.to_string())
        .execute(&mut *tx)
        .await?;
    crate::ssr::audit::record(
        &mut tx,
        crate::ssr::audit::Actor::User(&admin),
        crate::model::AuditAction::BackfillStarted,
        &format!("backfill {id}"),
        serde_json::Value::Null,
        serde_json::json!({"from": from, "to": to, "jobs": ordered}),
    )
    .await?;
    tx.commit().await?;
    tracing::info!(backfill = id, %from, %to, jobs = ?ordered, admin = admin.id, "backfill queued");
    Ok(id)
}

/// Cancels backfill `id`: a queued one at once, a running one after the chunk it is in
/// (what is done stays, every table consistent). Nothing happens to one that has ended.
/// Admins only.
#[server]
pub async fn cancel_backfill(id: i64) -> Result<(), AppError> {
    use crate::model::Permission;
    let (admin, state) = crate::ssr::authz::require(Permission::Administer).await?;
    let mut tx = state.pool.begin().await?;
    let before: Option<String> = sqlx::query_scalar(
        "update app.backfills b
         set cancel_requested = true,
             state = case when b.state = 'queued' then 'cancelled' else b.state end,
             finished_at = case when b.state = 'queued' then now() else b.finished_at end,
             updated_at = now()
         from (select id, state from app.backfills where id = $1 for update) old
         where b.id = old.id and b.state in ('queued', 'running')
         returning old.state",
    )
    .bind(id)
    .fetch_optional(&mut *tx)
    .await?;
    // Only a cancel that changed something is a change to record.
    if let Some(before) = before {
        crate::ssr::audit::record(
            &mut tx,
            crate::ssr::audit::Actor::User(&admin),
            crate::model::AuditAction::BackfillCancelled,
            &format!("backfill {id}"),
            serde_json::json!({"state": before}),
            serde_json::json!({"cancel_requested": true}),
        )
        .await?;
    }
    tx.commit().await?;
    tracing::info!(backfill = id, admin = admin.id, "backfill cancel requested");
    Ok(())
}

#[cfg(feature = "ssr")]
async fn latest_backfill(
    pool: &sqlx::PgPool,
    timezone: &str,
) -> Result<Option<BackfillStatus>, AppError> {
    use crate::model::{BACKFILL_LOCK_KEY, BackfillState};
    use sqlx::Row;
    let Some(row) = sqlx::query(include_str!("admin_status/backfill.sql"))
        .bind(timezone)
        .bind(BACKFILL_LOCK_KEY)
        .fetch_optional(pool)
        .await?
    else {
        return Ok(None);
    };
    let state: String = row.try_get("state")?;
    let Some(state) = BackfillState::parse(&state) else {
        tracing::error!(state, "unknown backfill state");
        return Err(AppError::Internal);
    };
    let count = |name: &str| -> Result<u32, sqlx::Error> {
        Ok(u32::try_from(row.try_get::<i32, _>(name)?).unwrap_or(0))
    };
    Ok(Some(BackfillStatus {
        id: row.try_get("id")?,
        from_day: row.try_get("from_day")?,
        to_day: row.try_get("to_day")?,
        jobs: row.try_get("jobs")?,
        state,
        requested_by: row.try_get("requested_by")?,
        requested_at: row.try_get("requested_at")?,
        started_at: row.try_get("started_at")?,
        finished_at: row.try_get("finished_at")?,
        days_done: count("days_done")?,
        days_total: count("days_total")?,
        rows_written: row.try_get("rows_written")?,
        cancel_requested: row.try_get("cancel_requested")?,
        error: row.try_get("error")?,
        seconds_left: row.try_get("seconds_left")?,
    }))
}
