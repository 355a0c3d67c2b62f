//! The pipeline: a registry of SQL transforms (bronze → silver → gold), each run in one
//! transaction, incremental from a stored watermark, backfillable for any range of local
//! days, and recorded in `app.pipeline_runs`. Running a job twice changes nothing.

use crate::clock::{Clock, local_day_start};
use anyhow::{Context, anyhow, bail};
use chrono::{DateTime, Duration, NaiveDate, Utc};
use chrono_tz::Tz;
use collectors::metrics::{JobLabels, Metrics};
use sqlx::{Executor, PgPool, Row};
use std::time::Instant;
use tokio_util::sync::CancellationToken;

/// How a job decides what to process.
#[derive(Clone, Copy, Debug)]
pub enum Progress {
    /// New rows of a bronze table, by its `event_id` (stored as the watermark), plus every
    /// row from `dirty_from` on when a setting change asked for a recompute.
    BronzeIds { table: &'static str },
    /// Local days marked dirty by the jobs upstream, plus the last two days (still open
    /// sessions keep changing them).
    DirtyDays,
}

/// One transform.
#[derive(Clone, Copy, Debug)]
pub struct Job {
    pub name: &'static str,
    pub inputs: &'static [&'static str],
    pub outputs: &'static [&'static str],
    pub progress: Progress,
    /// The SQL script. Its last statement returns `(rows bigint, dirty_from timestamptz)`.
    pub sql: &'static str,
    /// For jobs whose output is per local day: a query for the first instant of their
    /// input, where a recompute of the whole history (after a time zone change) starts.
    pub history_start: Option<&'static str>,
}

/// Every job. The runner orders them by their inputs and outputs ([`plan`]) and marks the
/// jobs that read a job's outputs for recomputation ([`downstream`]).
pub const JOBS: &[Job] = &[
    Job {
        name: "voice_sessions",
        inputs: &["bronze.discord_voice_events", "silver.afk_channel_periods"],
        outputs: &[
            "silver.fact_voice_sessions",
            "silver.dim_user",
            "silver.user_identities",
        ],
        progress: Progress::BronzeIds {
            table: "bronze.discord_voice_events",
        },
        sql: include_str!("jobs/voice_sessions.sql"),
        history_start: None,
    },
    Job {
        name: "activity_daily",
        inputs: &[
            "silver.fact_voice_sessions",
            "silver.user_identities",
            "app.discord_guilds",
        ],
        outputs: &["silver.activity_daily"],
        progress: Progress::DirtyDays,
        sql: include_str!("jobs/activity_daily.sql"),
        history_start: Some("select min(started_at) from silver.fact_voice_sessions"),
    },
    Job {
        name: "daily_active_users",
        inputs: &["silver.activity_daily"],
        outputs: &["gold.daily_active_users"],
        progress: Progress::DirtyDays,
        sql: include_str!("jobs/daily_active_users.sql"),
        history_start: Some(
            "select min(day)::timestamp at time zone 'UTC' from silver.activity_daily",
        ),
    },
];

/// The jobs that read what `job` writes: a change in its output dirties them.
pub fn downstream(job: &Job) -> impl Iterator<Item = &'static Job> + '_ {
    JOBS.iter()
        .filter(move |other| other.inputs.iter().any(|input| job.outputs.contains(input)))
}

/// Every job in an order where each runs after the jobs whose outputs it reads.
pub fn plan() -> Vec<&'static Job> {
    let mut done: Vec<&'static Job> = Vec::with_capacity(JOBS.len());
    while done.len() < JOBS.len() {
        let ready = JOBS.iter().find(|job| {
            !done.iter().any(|d| d.name == job.name)
                && JOBS.iter().all(|upstream| {
                    upstream.name == job.name
                        || done.iter().any(|d| d.name == upstream.name)
                        || !upstream.outputs.iter().any(|o| job.inputs.contains(o))
                })
        });
        match ready {
            Some(job) => done.push(job),
            // A cycle cannot be ordered; the unit test below keeps the registry acyclic.
            None => {
                let rest: Vec<&'static Job> = JOBS
                    .iter()
                    .filter(|job| !done.iter().any(|d| d.name == job.name))
                    .collect();
                done.extend(rest);
            }
        }
    }
    done
}

/// Looks a job up by name.
pub fn job(name: &str) -> anyhow::Result<&'static Job> {
    JOBS.iter().find(|job| job.name == name).ok_or_else(|| {
        let names: Vec<_> = JOBS.iter().map(|job| job.name).collect();
        anyhow!(
            "unknown job '{name}'; jobs are: {}, or all",
            names.join(", ")
        )
    })
}

/// Why a job ran.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Trigger {
    Schedule,
    Manual,
    Backfill,
}

impl Trigger {
    fn as_str(self) -> &'static str {
        match self {
            Trigger::Schedule => "schedule",
            Trigger::Manual => "manual",
            Trigger::Backfill => "backfill",
        }
    }
}

/// What one run did.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct RunReport {
    pub job: &'static str,
    pub rows: i64,
    pub duration_ms: i64,
}

/// Runs jobs against one database.
#[derive(Clone)]
pub struct Pipeline {
    pool: PgPool,
    timezone: Tz,
    metrics: Metrics,
    clock: Clock,
}

/// How long a run waits for another process's lock on a job or a bronze table before it
/// gives up (and is retried at the next tick).
const LOCK_TIMEOUT: &str = "30s";

/// A span of time `[from, to)`.
type Span = (DateTime<Utc>, DateTime<Utc>);

/// The parameters a script reads with `current_setting('guildhall.…')`.
struct Params {
    from_id: i64,
    to_id: i64,
    /// Instants to rebuild from bronze: `[from, to)`, open-ended without `to`.
    range: Option<(DateTime<Utc>, Option<DateTime<Utc>>)>,
    days: (NaiveDate, NaiveDate),
}

impl Pipeline {
    pub fn new(pool: PgPool, timezone: Tz, metrics: Metrics) -> Self {
        Self::with_clock(pool, timezone, metrics, Clock::system())
    }

    /// A pipeline whose "now" (today, the last two days) comes from `clock`.
    pub fn with_clock(pool: PgPool, timezone: Tz, metrics: Metrics, clock: Clock) -> Self {
        Self {
            pool,
            timezone,
            metrics,
            clock,
        }
    }

    /// Runs every job once, in dependency order, incrementally. A failing job does not stop
    /// the others (each is recorded in the run history); the error names every job that
    /// failed.
    pub async fn run_all(&self, trigger: Trigger) -> anyhow::Result<Vec<RunReport>> {
        let mut reports = Vec::with_capacity(JOBS.len());
        let mut failures = Vec::new();
        for job in plan() {
            match self.run(job, trigger, None).await {
                Ok(report) => reports.push(report),
                Err(error) => {
                    tracing::error!(job = job.name, error = format!("{error:#}"), "job failed");
                    failures.push(format!("{error:#}"));
                }
            }
        }
        if !failures.is_empty() {
            bail!("{}", failures.join("; "));
        }
        Ok(reports)
    }

    /// Runs one job incrementally.
    pub async fn run_job(&self, name: &str, trigger: Trigger) -> anyhow::Result<RunReport> {
        self.run(job(name)?, trigger, None).await
    }

    /// Recomputes the local days `from..=to` for every job (or one), in dependency order.
    pub async fn backfill(
        &self,
        from: NaiveDate,
        to: NaiveDate,
        only: Option<&str>,
    ) -> anyhow::Result<Vec<RunReport>> {
        if to < from {
            bail!("--to ({to}) is before --from ({from})");
        }
        let jobs: Vec<&Job> = match only {
            Some(name) => vec![job(name)?],
            None => plan(),
        };
        let mut reports = Vec::with_capacity(jobs.len());
        for job in jobs {
            tracing::info!(job = job.name, %from, %to, "backfilling");
            reports.push(self.run(job, Trigger::Backfill, Some((from, to))).await?);
        }
        Ok(reports)
    }

    async fn run(
        &self,
        job: &'static Job,
        trigger: Trigger,
        days: Option<(NaiveDate, NaiveDate)>,
    ) -> anyhow::Result<RunReport> {
        let started = Instant::now();
        let range =
            days.map(|(from, to)| (self.day_start(from), self.day_start(to + Duration::days(1))));
        let run_id: i64 = sqlx::query_scalar(
            "insert into app.pipeline_runs (job, trigger, range_from, range_to)
             values ($1, $2, $3, $4) returning id",
        )
        .bind(job.name)
        .bind(trigger.as_str())
        .bind(range.map(|r| r.0))
        .bind(range.map(|r| r.1))
        .fetch_one(&self.pool)
        .await
        .context("recording the pipeline run")?;

        // Boxed as `Send` here, where the lifetimes are concrete: sqlx's executor bounds are
        // otherwise too general for the compiler to prove the scheduler task `Send`.
        let execution: futures::future::BoxFuture<'_, anyhow::Result<(i64, Option<Span>)>> =
            Box::pin(self.execute(job, days, range));
        let outcome = execution.await;
        let duration_ms = i64::try_from(started.elapsed().as_millis()).unwrap_or(i64::MAX);
        let (rows, processed, error) = match &outcome {
            Ok((rows, processed)) => (Some(*rows), *processed, None),
            Err(error) => (None, None, Some(format!("{error:#}"))),
        };
        sqlx::query(
            "update app.pipeline_runs
             set finished_at = now(), rows_affected = $2, duration_ms = $3, error = $4,
                 range_from = coalesce(range_from, $5), range_to = coalesce(range_to, $6)
             where id = $1",
        )
        .bind(run_id)
        .bind(rows)
        .bind(duration_ms)
        .bind(&error)
        .bind(processed.map(|r| r.0))
        .bind(processed.map(|r| r.1))
        .execute(&self.pool)
        .await
        .context("recording the pipeline run")?;
        self.metrics
            .pipeline_runs
            .get_or_create(&JobLabels {
                job: job.name.to_owned(),
                outcome: if error.is_none() { "ok" } else { "error" }.to_owned(),
            })
            .inc();
        let (rows, _) = outcome.with_context(|| format!("job {} failed", job.name))?;
        Ok(RunReport {
            job: job.name,
            rows,
            duration_ms,
        })
    }

    /// Runs the job's script in one transaction and moves its state forward. Returns the
    /// rows written and the span of time the run recomputed (for the run history).
    async fn execute(
        &self,
        job: &'static Job,
        days: Option<(NaiveDate, NaiveDate)>,
        range: Option<(DateTime<Utc>, DateTime<Utc>)>,
    ) -> anyhow::Result<(i64, Option<Span>)> {
        let safe_to_id = match job.progress {
            Progress::BronzeIds { table } => Some(self.committed_max_id(table).await?),
            Progress::DirtyDays => None,
        };
        let mut tx = self.pool.begin().await?;
        sqlx::query(&format!("set local lock_timeout = '{LOCK_TIMEOUT}'"))
            .execute(&mut *tx)
            .await?;
        sqlx::query(
            "insert into app.pipeline_state (job) values ($1) on conflict (job) do nothing",
        )
        .bind(job.name)
        .execute(&mut *tx)
        .await?;
        // The row lock makes concurrent runs of one job (scheduler, CLI, admin) wait in turn.
        let state = sqlx::query(
            "select watermark, dirty_from, last_success_at, timezone
             from app.pipeline_state where job = $1 for update",
        )
        .bind(job.name)
        .fetch_one(&mut *tx)
        .await
        .with_context(|| format!("waiting for the lock of job {}", job.name))?;
        let watermark: i64 = state.try_get("watermark")?;
        let mut dirty_from: Option<DateTime<Utc>> = state.try_get("dirty_from")?;
        let last_success_at: Option<DateTime<Utc>> = state.try_get("last_success_at")?;
        let last_timezone: Option<String> = state.try_get("timezone")?;

        // Days computed in another time zone are all wrong now: recompute from the start
        // of the job's input.
        if let (Some(query), Some(previous)) = (job.history_start, &last_timezone)
            && previous != self.timezone.name()
        {
            let start: Option<DateTime<Utc>> =
                sqlx::query_scalar(query).fetch_one(&mut *tx).await?;
            tracing::info!(
                job = job.name,
                from = previous.as_str(),
                to = self.timezone.name(),
                "the time zone changed: recomputing the whole history"
            );
            if let Some(start) = start {
                // A day earlier too: in the new zone the first day may start earlier.
                let start = start - Duration::days(1);
                dirty_from = Some(dirty_from.map_or(start, |dirty| dirty.min(start)));
            }
        }

        let now = self.clock.now();
        let today = now.with_timezone(&self.timezone).date_naive();
        let params = match (job.progress, days) {
            // A backfill recomputes its range and leaves the incremental state alone.
            (Progress::BronzeIds { .. }, Some(_)) => Params {
                from_id: watermark,
                to_id: watermark,
                range: range.map(|(from, to)| (from, Some(to))),
                days: (today, today),
            },
            // Besides the new rows, rebuild everything from `dirty_from` when a setting
            // change asked for it (e.g. the AFK channel).
            (Progress::BronzeIds { .. }, None) => Params {
                from_id: watermark,
                to_id: safe_to_id.unwrap_or(watermark).max(watermark),
                range: dirty_from.map(|from| (from, None)),
                days: (today, today),
            },
            (Progress::DirtyDays, Some(days)) => Params {
                from_id: 0,
                to_id: 0,
                range: None,
                days,
            },
            (Progress::DirtyDays, None) => {
                // Open sessions keep changing every day since the last run: yesterday and
                // today, or every day back to the last run when the scheduler was down.
                let last_run_day = last_success_at
                    .map(|t| t.with_timezone(&self.timezone).date_naive())
                    .unwrap_or(today);
                let recent = (today - Duration::days(1)).min(last_run_day);
                let from = dirty_from
                    .map(|t| t.with_timezone(&self.timezone).date_naive())
                    .map_or(recent, |dirty| dirty.min(recent));
                Params {
                    from_id: 0,
                    to_id: 0,
                    range: None,
                    days: (from, today),
                }
            }
        };
        self.set_params(&mut tx, &params).await?;
        let rows = (&mut *tx)
            .fetch_all(sqlx::raw_sql(job.sql))
            .await
            .with_context(|| format!("running {}.sql", job.name))?;
        let last = rows
            .last()
            .ok_or_else(|| anyhow!("{}.sql returned no result row", job.name))?;
        let affected: i64 = last.try_get("rows")?;
        let output_dirty_from: Option<DateTime<Utc>> = last.try_get("dirty_from")?;

        let incremental = days.is_none();
        sqlx::query(
            "update app.pipeline_state
             set watermark = $2,
                 dirty_from = case when $3 then null else dirty_from end,
                 last_success_at = case when $3 then $4 else last_success_at end,
                 timezone = case when $3 then $5 else timezone end,
                 updated_at = now()
             where job = $1",
        )
        .bind(job.name)
        .bind(params.to_id.max(watermark))
        .bind(incremental)
        .bind(now)
        .bind(self.timezone.name())
        .execute(&mut *tx)
        .await?;
        if let Some(from) = output_dirty_from {
            for downstream in downstream(job) {
                sqlx::query("select app.request_recompute($1, $2)")
                    .bind(downstream.name)
                    .bind(from)
                    .execute(&mut *tx)
                    .await?;
            }
        }
        tx.commit().await?;
        let processed = match job.progress {
            Progress::DirtyDays => Some((
                self.day_start(params.days.0),
                self.day_start(params.days.1 + Duration::days(1)),
            )),
            Progress::BronzeIds { .. } => output_dirty_from.map(|from| (from, now)),
        };
        Ok((affected, processed))
    }

    /// The highest id of a bronze table below which every row is committed. Taking a SHARE
    /// lock waits for transactions that are inserting right now; ids handed out after it
    /// are all larger, so nothing committed late can slip under the watermark.
    async fn committed_max_id(&self, table: &'static str) -> anyhow::Result<i64> {
        let mut tx = self.pool.begin().await?;
        sqlx::query(&format!("set local lock_timeout = '{LOCK_TIMEOUT}'"))
            .execute(&mut *tx)
            .await?;
        // `table` comes from the static job registry, never from input.
        sqlx::query(&format!("lock table {table} in share mode"))
            .execute(&mut *tx)
            .await?;
        let max: Option<i64> = sqlx::query_scalar(&format!("select max(event_id) from {table}"))
            .fetch_one(&mut *tx)
            .await?;
        tx.commit().await?;
        Ok(max.unwrap_or(0))
    }

    async fn set_params(
        &self,
        conn: &mut sqlx::PgConnection,
        params: &Params,
    ) -> anyhow::Result<()> {
        let (range_from, range_to) = params
            .range
            .map(|(from, to)| {
                (
                    from.to_rfc3339(),
                    to.map_or_else(|| "infinity".to_owned(), |to| to.to_rfc3339()),
                )
            })
            .unwrap_or_default();
        let settings = [
            ("guildhall.from_id", params.from_id.to_string()),
            ("guildhall.to_id", params.to_id.to_string()),
            ("guildhall.range_from", range_from),
            ("guildhall.range_to", range_to),
            ("guildhall.day_from", params.days.0.to_string()),
            ("guildhall.day_to", params.days.1.to_string()),
            ("guildhall.tz", self.timezone.name().to_owned()),
        ];
        for (name, value) in settings {
            sqlx::query("select set_config($1, $2, true)")
                .bind(name)
                .bind(value)
                .execute(&mut *conn)
                .await?;
        }
        Ok(())
    }

    /// The instant a local day starts in the community's time zone.
    fn day_start(&self, day: NaiveDate) -> DateTime<Utc> {
        local_day_start(self.timezone, day)
    }
}

/// Runs every job on an interval until `shutdown`. Failures are logged (and recorded in the
/// run history); the loop never dies.
pub async fn run_scheduler(
    pipeline: Pipeline,
    interval: std::time::Duration,
    shutdown: CancellationToken,
) {
    let mut ticker = tokio::time::interval(interval);
    ticker.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    loop {
        tokio::select! {
            _ = shutdown.cancelled() => return,
            _ = ticker.tick() => {
                if let Err(error) = pipeline.run_all(Trigger::Schedule).await {
                    tracing::error!(error = format!("{error:#}"), "scheduled pipeline run failed");
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn names(jobs: impl IntoIterator<Item = &'static Job>) -> Vec<&'static str> {
        jobs.into_iter().map(|job| job.name).collect()
    }

    #[test]
    fn jobs_run_after_the_jobs_whose_outputs_they_read() {
        assert_eq!(
            names(plan()),
            vec!["voice_sessions", "activity_daily", "daily_active_users"]
        );
        let plan = plan();
        for (position, job) in plan.iter().enumerate() {
            for later in &plan[position + 1..] {
                assert!(
                    !job.inputs.iter().any(|input| later.outputs.contains(input)),
                    "{} reads what {} writes but runs first",
                    job.name,
                    later.name
                );
            }
        }
    }

    #[test]
    fn a_change_dirties_exactly_the_jobs_that_read_it() {
        let by_name = |name| job(name).expect("job");
        assert_eq!(
            names(downstream(by_name("voice_sessions"))),
            vec!["activity_daily"]
        );
        assert_eq!(
            names(downstream(by_name("activity_daily"))),
            vec!["daily_active_users"]
        );
        assert!(names(downstream(by_name("daily_active_users"))).is_empty());
    }

    #[test]
    fn every_job_is_named_once() {
        let mut all = names(JOBS.iter());
        all.sort_unstable();
        all.dedup();
        assert_eq!(all.len(), JOBS.len());
    }
}
