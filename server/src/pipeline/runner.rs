//! Running a job: one transaction per job, under its lock, over the new bronze rows or the
//! dirty local days, with its run recorded in `app.pipeline_runs`; marks on tables handed to
//! the jobs that read them; backfills of any range.

use super::names::{JobName, Table};
use super::registry::{JOBS, Job, Progress, downstream, job, plan};
use crate::clock::{Clock, local_day_start};
use anyhow::{Context, anyhow, bail};
use chrono::{DateTime, Duration, NaiveDate, Utc};
use chrono_tz::Tz;
use collectors::metrics::{JobLabels, Metrics};
use futures::FutureExt;
use futures::future::BoxFuture;
use sqlx::{Executor, PgPool, Row};
use std::ops::ControlFlow;
use std::time::Instant;

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
    pub job: JobName,
    pub rows: i64,
    pub duration_ms: i64,
}

/// How far a backfill has come, after each chunk.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct BackfillProgress {
    pub days_done: u32,
    pub days_total: u32,
    /// Rows the finished runs wrote.
    pub rows: i64,
}

/// Days a backfill recomputes per chunk: one for a range of up to a month (progress day by
/// day, a cancel within one day's work), a week for longer ones (each run of a job has a
/// fixed cost).
pub fn backfill_chunk_days(days_total: u32) -> u32 {
    if days_total <= 31 { 1 } else { 7 }
}

/// The first retry of a failed job waits this long; each further failure doubles it.
pub const RETRY_FIRST: Duration = Duration::seconds(30);
/// The longest wait between retries.
pub const RETRY_MAX: Duration = Duration::minutes(30);

/// How long the scheduler waits before the next run of a job that failed `attempts` times
/// in a row: 30 s, 1 min, 2 min, … up to [`RETRY_MAX`].
pub fn retry_delay(attempts: u32) -> Duration {
    let doublings = attempts.saturating_sub(1).min(16);
    (RETRY_FIRST * 2_i32.pow(doublings)).min(RETRY_MAX)
}

/// Runs jobs against one database.
#[derive(Clone)]
pub struct Pipeline {
    pub(super) pool: PgPool,
    pub(super) timezone: Tz,
    pub(super) metrics: Metrics,
    pub(super) clock: Clock,
    pub(super) profile_weeks: u32,
}

/// How many weeks the servers' weekday × hour profile covers unless configured.
pub const DEFAULT_PROFILE_WEEKS: u32 = 8;

/// How long a run waits for another process's lock on a job or a bronze table before it
/// gives up (and is retried at the next tick).
pub(super) const LOCK_TIMEOUT: &str = "30s";

/// A script that runs longer than this is logged as slow (job, script, days and time).
const SLOW_SCRIPT: std::time::Duration = std::time::Duration::from_secs(1);

/// Rows a job writes (or new bronze rows it reads) from which its tables' statistics are
/// refreshed at once (see [`Pipeline::refresh_statistics`]).
const ANALYZE_AFTER_ROWS: i64 = 10_000;

/// A span of time `[from, to)`.
type Span = (DateTime<Utc>, DateTime<Utc>);

/// The parameters a script reads with `current_setting('guildhall.…')`.
#[derive(Clone, Copy)]
struct Params {
    from_id: i64,
    to_id: i64,
    /// A span of instants `[from, to)` to recompute, open-ended without `to`.
    range: Option<(DateTime<Utc>, Option<DateTime<Utc>>)>,
    /// Whether the span is rebuilt from bronze (a backfill), not only re-evaluated against
    /// the settings (an AFK channel change).
    rebuild: bool,
    days: (NaiveDate, NaiveDate),
}

/// Where `-infinity` (a request for all of history) is read: 1970-01-01, before any input.
fn beginning_of_time() -> DateTime<Utc> {
    DateTime::<Utc>::UNIX_EPOCH
}

/// Merges spans of time that overlap or touch.
fn merge_spans(mut spans: Vec<Span>) -> Vec<Span> {
    spans.sort();
    let mut merged: Vec<Span> = Vec::with_capacity(spans.len());
    for (from, to) in spans {
        match merged.last_mut() {
            Some(last) if from <= last.1 => last.1 = last.1.max(to),
            _ => merged.push((from, to)),
        }
    }
    merged
}

/// Ranges of dirty days less than this far apart are recomputed as one: each run of a job
/// has a fixed cost (a relinked account active on 269 scattered days made 100 runs of every
/// per-day job downstream, 8.5 s; as one run of a year, well under a second).
const MERGE_GAP_DAYS: i64 = 31;

/// Merges inclusive day ranges that overlap, touch, or lie less than `MERGE_GAP_DAYS` apart
/// (recomputing the days between changes nothing, and costs less than another run).
fn merge_days(mut ranges: Vec<(NaiveDate, NaiveDate)>) -> Vec<(NaiveDate, NaiveDate)> {
    ranges.sort();
    let mut merged: Vec<(NaiveDate, NaiveDate)> = Vec::with_capacity(ranges.len());
    for (from, to) in ranges {
        match merged.last_mut() {
            Some(last) if from <= last.1 + Duration::days(MERGE_GAP_DAYS) => {
                last.1 = last.1.max(to)
            }
            _ => merged.push((from, to)),
        }
    }
    merged
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
            profile_weeks: DEFAULT_PROFILE_WEEKS,
        }
    }

    /// A pipeline whose servers' weekday × hour profile covers the last `weeks` weeks.
    pub fn with_profile_weeks(mut self, weeks: u32) -> Self {
        self.profile_weeks = weeks.max(1);
        self
    }

    /// Runs every job once, in dependency order, incrementally. A failing job does not stop
    /// the others (each is recorded in the run history); the error names every job that
    /// failed.
    pub async fn run_all(&self, trigger: Trigger) -> anyhow::Result<Vec<RunReport>> {
        let this = self.in_force().await?;
        // Once per pass: no job marks a table, so the marks are all there before the first.
        this.distribute_dirty_tables().await?;
        // A job that failed waits out its backoff on the schedule; a person asking (`run`)
        // does not wait.
        let waiting: Vec<String> = if trigger == Trigger::Schedule {
            sqlx::query_scalar("select job from app.pipeline_state where next_attempt_at > $1")
                .bind(self.clock.now())
                .fetch_all(&self.pool)
                .await
                .context("reading the jobs waiting to retry")?
        } else {
            Vec::new()
        };
        let mut reports = Vec::with_capacity(JOBS.len());
        let mut failures = Vec::new();
        for job in plan() {
            if waiting.iter().any(|name| name == job.name.as_str()) {
                tracing::debug!(job = job.name.as_str(), "waiting to retry after a failure");
                continue;
            }
            match this.run(job, trigger, None).await {
                Ok(report) => reports.push(report),
                Err(error) => {
                    tracing::error!(
                        job = job.name.as_str(),
                        error = format!("{error:#}"),
                        "job failed"
                    );
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
    pub async fn run_job(&self, name: JobName, trigger: Trigger) -> anyhow::Result<RunReport> {
        let job = job(name);
        let this = self.in_force().await?;
        this.distribute_dirty_tables().await?;
        this.run(job, trigger, None).await
    }

    /// This pipeline in the community's time zone in force: an admin's choice in the console
    /// (`app.community_settings`), else the configured one. Read at every run, so a change
    /// applies without a restart (and, as any change of zone, recomputes the history).
    async fn in_force(&self) -> anyhow::Result<Pipeline> {
        let chosen: Option<String> =
            sqlx::query_scalar("select timezone from app.community_settings")
                .fetch_optional(&self.pool)
                .await
                .context("reading the community settings")?
                .flatten();
        let mut pipeline = self.clone();
        if let Some(zone) = chosen.and_then(|name| name.parse::<Tz>().ok()) {
            pipeline.timezone = zone;
        }
        Ok(pipeline)
    }

    /// Days of bronze kept: an admin's choice in the console (`app.community_settings`),
    /// else `configured`. Read before each retention pass.
    pub async fn retention_days_in_force(&self, configured: u32) -> anyhow::Result<u32> {
        let chosen: Option<i32> =
            sqlx::query_scalar("select bronze_retention_days from app.community_settings")
                .fetch_optional(&self.pool)
                .await
                .context("reading the community settings")?
                .flatten();
        Ok(chosen
            .and_then(|days| u32::try_from(days).ok())
            .unwrap_or(configured))
    }

    /// Recomputes the local days `from..=to` for every job (or one), in dependency order,
    /// chunk by chunk (see [`Pipeline::backfill_jobs`]), logging its progress.
    pub async fn backfill(
        &self,
        from: NaiveDate,
        to: NaiveDate,
        only: Option<JobName>,
    ) -> anyhow::Result<Vec<RunReport>> {
        let jobs: Vec<JobName> = match only {
            Some(name) => vec![name],
            None => JobName::ALL.to_vec(),
        };
        let (reports, _) = self
            .backfill_jobs(from, to, &jobs, |progress| {
                tracing::info!(
                    days_done = progress.days_done,
                    days_total = progress.days_total,
                    rows = progress.rows,
                    "backfilling"
                );
                futures::future::ready(Ok::<_, anyhow::Error>(ControlFlow::Continue(()))).boxed()
            })
            .await?;
        Ok(reports)
    }

    /// Recomputes the local days `from..=to` for `jobs`: chunk by chunk
    /// ([`backfill_chunk_days`]), each chunk through every chosen job in dependency order,
    /// each run one transaction under the job's lock (so it takes turns with the scheduler's
    /// and the CLI's runs of the same job). After each chunk `after_chunk` hears the
    /// progress and may stop the backfill there (a cancel): what is done stays done, and
    /// every table is consistent. The command line and the browser's backfills both come
    /// here. Returns the runs and whether it ran to the end.
    pub async fn backfill_jobs<F>(
        &self,
        from: NaiveDate,
        to: NaiveDate,
        jobs: &[JobName],
        mut after_chunk: F,
    ) -> anyhow::Result<(Vec<RunReport>, bool)>
    where
        F: FnMut(BackfillProgress) -> BoxFuture<'static, anyhow::Result<ControlFlow<()>>>,
    {
        if to < from {
            bail!("--to ({to}) is before --from ({from})");
        }
        let chosen: Vec<&Job> = plan()
            .into_iter()
            .filter(|job| jobs.contains(&job.name))
            .collect();
        let days_total = u32::try_from((to - from).num_days() + 1).unwrap_or(u32::MAX);
        let chunk = backfill_chunk_days(days_total);
        let mut progress = BackfillProgress {
            days_done: 0,
            days_total,
            rows: 0,
        };
        let this = self.in_force().await?;
        let mut reports = Vec::new();
        let mut start = from;
        while start <= to {
            let end = (start + Duration::days(i64::from(chunk) - 1)).min(to);
            for &job in &chosen {
                tracing::debug!(job = job.name.as_str(), %start, %end, "backfilling");
                let report = this.run(job, Trigger::Backfill, Some((start, end))).await?;
                progress.rows += report.rows;
                reports.push(report);
            }
            progress.days_done += u32::try_from((end - start).num_days() + 1).unwrap_or(0);
            start = end + Duration::days(1);
            if after_chunk(progress).await?.is_break() && start <= to {
                return Ok((reports, false));
            }
        }
        Ok((reports, true))
    }

    /// Hands every span a trigger or setting marked on a table (`app.mark_dirty`) to each
    /// job that reads the table, as a span that job recomputes at its next run. Returns how
    /// many marks were handed on.
    pub async fn distribute_dirty_tables(&self) -> anyhow::Result<usize> {
        // Every (job, table it reads) of the graph.
        let (jobs, tables): (Vec<&str>, Vec<&str>) = JOBS
            .iter()
            .flat_map(|job| {
                job.inputs
                    .iter()
                    .map(move |table| (job.name.as_str(), table.as_str()))
            })
            .unzip();
        // In SQL: a mark may be open-ended (`infinity`), which chrono cannot hold.
        let (marks, unread): (i64, Vec<String>) = sqlx::query_as(
            "with marks as (
                 delete from app.pipeline_dirty_tables returning table_name, from_at, to_at
             ),
             readers as (
                 select * from unnest($1::text[], $2::text[]) r (job, table_name)
             ),
             handed_on as (
                 insert into app.pipeline_dirty_ranges (job, from_at, to_at)
                 select r.job, m.from_at, m.to_at
                 from marks m join readers r using (table_name)
                 returning 1
             )
             select (select count(*) from marks),
                    array(select distinct m.table_name from marks m
                          where not exists (select 1 from readers r
                                            where r.table_name = m.table_name)),
                    (select count(*) from handed_on)",
        )
        .bind(&jobs)
        .bind(&tables)
        .fetch_one(&self.pool)
        .await
        .map(|(marks, unread, _handed_on): (i64, Vec<String>, i64)| (marks, unread))
        .context("handing the tables marked as changed to the jobs that read them")?;
        for table in unread {
            tracing::warn!(table, "no pipeline job reads a table marked as changed");
        }
        Ok(usize::try_from(marks).unwrap_or(0))
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
        .bind(job.name.as_str())
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
                job: job.name.as_str().to_owned(),
                outcome: if error.is_none() { "ok" } else { "error" }.to_owned(),
            })
            .inc();
        if days.is_none() {
            self.record_attempt(job, error.as_deref()).await?;
        }
        let (rows, _) = outcome.with_context(|| format!("job {} failed", job.name))?;
        Ok(RunReport {
            job: job.name,
            rows,
            duration_ms,
        })
    }

    /// Keeps count of an incremental run's failures in a row: a failure sets the next
    /// attempt [`retry_delay`] after now (by the pipeline's clock) and keeps its error; a
    /// success clears them.
    async fn record_attempt(&self, job: &Job, error: Option<&str>) -> anyhow::Result<()> {
        match error {
            None => {
                sqlx::query(
                    "update app.pipeline_state
                     set attempts = 0, next_attempt_at = null, last_error = null,
                         last_error_at = null
                     where job = $1 and (attempts > 0 or last_error is not null)",
                )
                .bind(job.name.as_str())
                .execute(&self.pool)
                .await
            }
            Some(error) => {
                let now = self.clock.now();
                let attempts: i32 = sqlx::query_scalar(
                    "select coalesce((select attempts from app.pipeline_state where job = $1), 0)",
                )
                .bind(job.name.as_str())
                .fetch_one(&self.pool)
                .await
                .context("reading the job's failures")?;
                let attempts = u32::try_from(attempts).unwrap_or(0) + 1;
                let outputs: Vec<&str> = job.outputs.iter().map(|table| table.as_str()).collect();
                tracing::warn!(
                    job = job.name.as_str(),
                    attempts,
                    retry_in_s = retry_delay(attempts).num_seconds(),
                    "job failed; retrying with backoff"
                );
                sqlx::query(
                    "insert into app.pipeline_state
                         (job, outputs, attempts, next_attempt_at, last_error, last_error_at)
                     values ($1, $2, $3, $4, $5, $6)
                     on conflict (job) do update
                     set attempts = excluded.attempts, next_attempt_at = excluded.next_attempt_at,
                         last_error = excluded.last_error, last_error_at = excluded.last_error_at",
                )
                .bind(job.name.as_str())
                .bind(&outputs)
                .bind(i32::try_from(attempts).unwrap_or(i32::MAX))
                .bind(now + retry_delay(attempts))
                .bind(error)
                .bind(now)
                .execute(&self.pool)
                .await
            }
        }
        .context("recording the job's attempt")?;
        Ok(())
    }

    /// When the next job waiting to retry is due, if it is still to come.
    pub async fn next_retry_at(&self) -> anyhow::Result<Option<DateTime<Utc>>> {
        sqlx::query_scalar(
            "select min(next_attempt_at) from app.pipeline_state where next_attempt_at > $1",
        )
        .bind(self.clock.now())
        .fetch_one(&self.pool)
        .await
        .context("reading the next retry")
    }

    /// The pipeline's "now".
    pub fn now(&self) -> DateTime<Utc> {
        self.clock.now()
    }

    /// The pool the pipeline works on.
    pub fn pool(&self) -> &PgPool {
        &self.pool
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
        if let (Progress::BronzeIds { table }, Some(to_id)) = (job.progress, safe_to_id) {
            // Many new rows (a first run, a big import): the input's statistics first, or
            // the job's own plan is made for a table PostgreSQL thinks is empty.
            let watermark: Option<i64> =
                sqlx::query_scalar("select watermark from app.pipeline_state where job = $1")
                    .bind(job.name.as_str())
                    .fetch_optional(&self.pool)
                    .await?;
            if to_id - watermark.unwrap_or(0) >= ANALYZE_AFTER_ROWS {
                self.refresh_statistics(job, &[table]).await;
            }
        }
        // The tables it writes go with its state: SQL finds a table's job there (the time zone
        // of its days, the lock a relink or an erasure waits for) without naming the job. The
        // row is committed before the run, so that even a job's first run holds a lock others
        // can see and wait for.
        let outputs: Vec<&str> = job.outputs.iter().map(|table| table.as_str()).collect();
        sqlx::query(
            "insert into app.pipeline_state (job, outputs) values ($1, $2)
             on conflict (job) do nothing",
        )
        .bind(job.name.as_str())
        .bind(&outputs)
        .execute(&self.pool)
        .await?;
        let mut tx = self.pool.begin().await?;
        sqlx::query(&format!("set local lock_timeout = '{LOCK_TIMEOUT}'"))
            .execute(&mut *tx)
            .await?;
        // The row lock makes concurrent runs of one job (scheduler, CLI, admin) wait in turn.
        let state = sqlx::query(
            "select watermark, last_success_at, timezone
             from app.pipeline_state where job = $1 for update",
        )
        .bind(job.name.as_str())
        .fetch_one(&mut *tx)
        .await
        .with_context(|| format!("waiting for the lock of job {}", job.name))?;
        let watermark: i64 = state.try_get("watermark")?;
        let last_success_at: Option<DateTime<Utc>> = state.try_get("last_success_at")?;
        let last_timezone: Option<String> = state.try_get("timezone")?;

        let incremental = days.is_none();
        // A job that recomputes the recent days only now and then, and did so lately, leaves
        // them (and changes to them) for a later run; older changes it takes now.
        let today_local = self.clock.now().with_timezone(&self.timezone).date_naive();
        let deferred_from = match (incremental, job.recent_every, last_success_at) {
            (true, Some(every), Some(last))
                if self.clock.now() - last < Duration::from_std(every).unwrap_or(Duration::MAX) =>
            {
                Some(self.day_start(today_local - Duration::days(1)))
            }
            _ => None,
        };
        // The spans asked for since the last run; taken (and gone once this commits) only by
        // an incremental run. A failed run rolls back and leaves them for the next one.
        let mut dirty: Vec<Span> = Vec::new();
        if incremental {
            // Infinite instants do not fit chrono: `-infinity` is read as the earliest
            // instant PostgreSQL and chrono share, `infinity` as open-ended.
            let requested: Vec<(DateTime<Utc>, Option<DateTime<Utc>>)> = sqlx::query_as(
                "delete from app.pipeline_dirty_ranges
                 where job = $1 and ($2::timestamptz is null or from_at < $2)
                 returning greatest(from_at, to_timestamp(0)),
                           nullif(to_at, 'infinity')",
            )
            .bind(job.name.as_str())
            .bind(deferred_from)
            .fetch_all(&mut *tx)
            .await?;
            dirty.extend(
                requested
                    .into_iter()
                    .map(|(from, to)| (from, to.unwrap_or(DateTime::<Utc>::MAX_UTC))),
            );
        }

        // Days computed in another time zone are all wrong now: recompute from the start
        // of the job's input.
        if let (Some(query), Some(previous)) = (job.history_start, &last_timezone)
            && previous != self.timezone.name()
        {
            let start: Option<DateTime<Utc>> =
                sqlx::query_scalar(query).fetch_one(&mut *tx).await?;
            tracing::info!(
                job = job.name.as_str(),
                from = previous.as_str(),
                to = self.timezone.name(),
                "the time zone changed: recomputing the whole history"
            );
            if let Some(start) = start {
                // A day earlier too: in the new zone the first day may start earlier.
                dirty.push((start - Duration::days(1), DateTime::<Utc>::MAX_UTC));
            }
        }
        // A per-day job's first run computes its whole history (a job added to an
        // installation that already has data starts with all of it).
        // (Jobs that read bronze ids start from id 0, which is all of it already.)
        if incremental
            && last_success_at.is_none()
            && matches!(job.progress, Progress::DirtyDays)
            && let Some(query) = job.history_start
        {
            let start: Option<DateTime<Utc>> =
                sqlx::query_scalar(query).fetch_one(&mut *tx).await?;
            if let Some(start) = start {
                dirty.push((start, DateTime::<Utc>::MAX_UTC));
            }
        }

        // A span from the beginning of time starts, for a per-day job, at its first input.
        if let Some(query) = job.history_start
            && dirty.iter().any(|span| span.0 <= beginning_of_time())
        {
            let start: Option<DateTime<Utc>> =
                sqlx::query_scalar(query).fetch_one(&mut *tx).await?;
            let start = start.map_or(self.clock.now(), |start| start - Duration::days(1));
            for span in &mut dirty {
                span.0 = span.0.max(start);
            }
            dirty.retain(|span| span.1 > span.0);
        }
        let dirty = merge_spans(dirty);

        let now = self.clock.now();
        let today = now.with_timezone(&self.timezone).date_naive();
        let open_ended = |to: DateTime<Utc>| (to < DateTime::<Utc>::MAX_UTC).then_some(to);
        let runs: Vec<Params> = match (job.progress, days) {
            // A backfill rebuilds its range from bronze and leaves the incremental state alone.
            (Progress::BronzeIds { .. }, Some(_)) => vec![Params {
                from_id: watermark,
                to_id: watermark,
                range: range.map(|(from, to)| (from, Some(to))),
                rebuild: true,
                days: (today, today),
            }],
            // The new rows, then each span a setting change asked to re-evaluate.
            (Progress::BronzeIds { .. }, None) => {
                let to_id = safe_to_id.unwrap_or(watermark).max(watermark);
                let mut runs = vec![Params {
                    from_id: watermark,
                    to_id,
                    range: None,
                    rebuild: false,
                    days: (today, today),
                }];
                runs.extend(dirty.iter().map(|&(from, to)| Params {
                    from_id: to_id,
                    to_id,
                    range: Some((from, open_ended(to))),
                    rebuild: false,
                    days: (today, today),
                }));
                runs
            }
            (Progress::DirtyDays, Some(days)) => vec![Params {
                from_id: 0,
                to_id: 0,
                range: None,
                rebuild: false,
                days,
            }],
            (Progress::DirtyDays, None) => {
                // Open sessions keep changing every day since the last run: yesterday and
                // today, or every day back to the last run when the scheduler was down.
                let last_run_day = last_success_at
                    .map(|t| t.with_timezone(&self.timezone).date_naive())
                    .unwrap_or(today);
                let recent = (today - Duration::days(1)).min(last_run_day);
                let local_day = |t: DateTime<Utc>| t.with_timezone(&self.timezone).date_naive();
                let mut ranges = if deferred_from.is_some() {
                    Vec::new()
                } else {
                    vec![(recent, today)]
                };
                ranges.extend(dirty.iter().map(|&(from, to)| {
                    let last = match open_ended(to) {
                        // The span ends before `to`: the day of its last instant.
                        Some(to) => local_day(to - Duration::microseconds(1)),
                        None => today,
                    };
                    (local_day(from).min(today), last.min(today))
                }));
                merge_days(ranges)
                    .into_iter()
                    .map(|days| Params {
                        from_id: 0,
                        to_id: 0,
                        range: None,
                        rebuild: false,
                        days,
                    })
                    .collect()
            }
        };

        let mut affected = 0_i64;
        let mut changed: Vec<Span> = Vec::new();
        for params in &runs {
            self.set_params(&mut tx, params).await?;
            let statement_started = Instant::now();
            let rows = (&mut *tx)
                .fetch_all(sqlx::raw_sql(job.sql))
                .await
                .with_context(|| format!("running {}.sql", job.name))?;
            let elapsed = statement_started.elapsed();
            // The job, its script and the span it covered, never the SQL (that is at
            // `debug`, from sqlx).
            if elapsed >= SLOW_SCRIPT {
                tracing::warn!(
                    job = job.name.as_str(),
                    script = format!("jobs/{}.sql", job.name),
                    covered = %match job.progress {
                        Progress::DirtyDays => format!("days {}..={}", params.days.0, params.days.1),
                        Progress::BronzeIds { .. } => {
                            format!("events {}..={}", params.from_id + 1, params.to_id)
                        }
                    },
                    ms = elapsed.as_millis() as u64,
                    "slow pipeline script"
                );
            }
            let last = rows
                .last()
                .ok_or_else(|| anyhow!("{}.sql returned no result row", job.name))?;
            affected += last.try_get::<i64, _>("rows")?;
            let from: Option<DateTime<Utc>> = last.try_get("dirty_from")?;
            let to: Option<DateTime<Utc>> = last.try_get("dirty_to")?;
            if let Some(from) = from {
                changed.push((from, to.unwrap_or(DateTime::<Utc>::MAX_UTC)));
            }
        }
        let changed = merge_spans(changed);

        let to_id = runs.first().map_or(watermark, |params| params.to_id);
        sqlx::query(
            "update app.pipeline_state
             set watermark = $2,
                 last_success_at = case when $3 then $4 else last_success_at end,
                 timezone = case when $3 then $5 else timezone end,
                 outputs = $6,
                 updated_at = now()
             where job = $1",
        )
        .bind(job.name.as_str())
        .bind(to_id.max(watermark))
        // The recent days were brought up to date (not left for later).
        .bind(incremental && deferred_from.is_none())
        .bind(now)
        .bind(self.timezone.name())
        .bind(&outputs)
        .execute(&mut *tx)
        .await?;
        for &(from, to) in &changed {
            for downstream in downstream(job) {
                sqlx::query("select app.request_recompute($1, $2, $3)")
                    .bind(downstream.name.as_str())
                    .bind(from)
                    .bind(open_ended(to))
                    .execute(&mut *tx)
                    .await?;
            }
        }
        tx.commit().await?;
        if affected >= ANALYZE_AFTER_ROWS {
            self.refresh_statistics(job, job.outputs).await;
        }
        let processed = match job.progress {
            Progress::DirtyDays => runs
                .iter()
                .map(|params| params.days)
                .reduce(|a, b| (a.0.min(b.0), a.1.max(b.1)))
                .map(|(from, to)| (self.day_start(from), self.day_start(to + Duration::days(1)))),
            Progress::BronzeIds { .. } => changed
                .iter()
                .copied()
                .reduce(|a, b| (a.0.min(b.0), a.1.max(b.1)))
                .map(|(from, to)| (from, open_ended(to).unwrap_or(now))),
        };
        Ok((affected, processed))
    }

    /// PostgreSQL plans each statement by its statistics, which are stale after a large
    /// change (a first run, a backfill, a big import) until autovacuum gets to them: minutes
    /// later, or never where autovacuum is off, and a plan made for an empty table over
    /// millions of rows turns seconds into many minutes (at 20,000 members, `chat_daily`
    /// 501 s and `identity_review` more than 7 minutes, 26 s with statistics). So a job's
    /// bronze input is analysed before a run with many new rows, and its outputs after a run
    /// that wrote many. A failure is logged and changes nothing else.
    async fn refresh_statistics(&self, job: &Job, tables: &[Table]) {
        for &table in tables {
            let started = Instant::now();
            // `table` comes from the static job registry, never from input.
            match sqlx::query(&format!("analyze {table}"))
                .execute(&self.pool)
                .await
            {
                Ok(_) => tracing::debug!(
                    job = %job.name,
                    %table,
                    ms = started.elapsed().as_millis() as u64,
                    "statistics refreshed after a large change"
                ),
                Err(error) => {
                    tracing::warn!(job = %job.name, %table, %error, "refreshing statistics failed")
                }
            }
        }
    }

    /// The highest id of a bronze table below which every row is committed. Taking a SHARE
    /// lock waits for transactions that are inserting right now; ids handed out after it
    /// are all larger, so nothing committed late can slip under the watermark.
    async fn committed_max_id(&self, table: Table) -> anyhow::Result<i64> {
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
            ("guildhall.rebuild", params.rebuild.to_string()),
            ("guildhall.day_from", params.days.0.to_string()),
            ("guildhall.day_to", params.days.1.to_string()),
            (
                "guildhall.today",
                self.clock
                    .now()
                    .with_timezone(&self.timezone)
                    .date_naive()
                    .to_string(),
            ),
            ("guildhall.tz", self.timezone.name().to_owned()),
            ("guildhall.now", self.clock.now().to_rfc3339()),
            ("guildhall.profile_weeks", self.profile_weeks.to_string()),
            // PostgreSQL's JIT compiles a query whose estimated cost is high (temporary tables
            // have no statistics): server_utilization's idle run took 1.3 s, 0.2 s of it
            // work. The jobs' queries are short; JIT does not pay off for them.
            ("jit", "off".to_owned()),
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
