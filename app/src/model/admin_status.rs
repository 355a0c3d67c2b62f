//! `/admin/status` (`api/admin_status.rs`, `pages/admin_status.rs`): the collectors and
//! their sources, the spool, refused records, the pipeline's jobs and runs, and backfills
//! started from the browser. Times are wall-clock times in the community's time zone
//! ([`WallTime`]), converted by PostgreSQL on the server.

use serde::{Deserialize, Serialize};

/// A wall-clock time in the community's time zone ([`AdminStatus::timezone`]).
pub type WallTime = chrono::NaiveDateTime;

/// The advisory lock a process holds while it runs a backfill: one at a time across every
/// process, and a backfill still marked `running` whose lock nobody holds was interrupted.
pub const BACKFILL_LOCK_KEY: i64 = 0x4748_4246;

/// A collector's state.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum CollectorState {
    Running,
    /// Failed; the supervisor retries with backoff.
    Failed,
    Stopped,
    /// Not configured.
    Off,
}

impl CollectorState {
    pub fn as_str(self) -> &'static str {
        match self {
            CollectorState::Running => "running",
            CollectorState::Failed => "failed",
            CollectorState::Stopped => "stopped",
            CollectorState::Off => "off",
        }
    }

    pub fn parse(value: &str) -> Option<Self> {
        match value {
            "running" => Some(CollectorState::Running),
            "failed" => Some(CollectorState::Failed),
            "stopped" => Some(CollectorState::Stopped),
            "off" => Some(CollectorState::Off),
            _ => None,
        }
    }
}

/// One collector (`app.collector_status`) or one source of a game server
/// (`app.game_source_status`), with the rows it wrote to bronze in the last hour.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct SourceHealth {
    /// `discord`, `games`, or the game server's name for one of its sources.
    pub collector: String,
    /// `rcon`, `logs` or `metrics` for a game server's source; empty for a collector.
    pub source: String,
    /// A collector's state as its supervisor reported it; none for a server's source.
    pub state: Option<CollectorState>,
    pub last_success_at: Option<WallTime>,
    pub last_error: Option<String>,
    pub last_error_at: Option<WallTime>,
    pub restarts: Option<u32>,
    /// Rows written to bronze in the last hour (`app.bronze_ingest_counts`).
    pub events_last_hour: i64,
}

/// One file of the spool: records waiting for the database.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct SpoolFile {
    pub source: String,
    pub records: u64,
    pub bytes: u64,
}

/// Records the database refused, per source (kept in `bronze.rejected_records`).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct RejectedRecords {
    pub source: String,
    pub count: i64,
    pub last_error: String,
    pub last_at: WallTime,
}

/// One run of a job (`app.pipeline_runs`).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "ssr", derive(sqlx::FromRow))]
pub struct PipelineRun {
    pub job: String,
    pub trigger: String,
    pub started_at: WallTime,
    /// The span of time the run recomputed, `[from, to)`.
    pub range_from: Option<WallTime>,
    pub range_to: Option<WallTime>,
    pub duration_ms: Option<i64>,
    pub rows_affected: Option<i64>,
    pub error: Option<String>,
}

/// A pipeline job: how far it has read, what waits for it, its last run and its retries.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct JobStatus {
    pub job: String,
    /// The last bronze id it consumed (jobs that read bronze rows).
    pub watermark: Option<i64>,
    /// Bronze rows written and not yet consumed; `None` for per-day jobs. Counted up to
    /// [`BACKLOG_CAP`]: `backlog == BACKLOG_CAP` means at least that many.
    pub backlog: Option<i64>,
    pub last_success_at: Option<WallTime>,
    pub last_run: Option<PipelineRun>,
    /// Failed incremental runs in a row.
    pub attempts: u32,
    pub next_attempt_at: Option<WallTime>,
    pub last_error: Option<String>,
    pub last_error_at: Option<WallTime>,
}

/// Backlogs are counted up to this many rows (a count over millions is not cheap).
pub const BACKLOG_CAP: i64 = 100_000;

/// Where a backfill is.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum BackfillState {
    Queued,
    Running,
    Finished,
    Failed,
    Cancelled,
    /// The process running it stopped before it finished.
    Interrupted,
}

impl BackfillState {
    pub fn as_str(self) -> &'static str {
        match self {
            BackfillState::Queued => "queued",
            BackfillState::Running => "running",
            BackfillState::Finished => "finished",
            BackfillState::Failed => "failed",
            BackfillState::Cancelled => "cancelled",
            BackfillState::Interrupted => "interrupted",
        }
    }

    pub fn parse(value: &str) -> Option<Self> {
        [
            BackfillState::Queued,
            BackfillState::Running,
            BackfillState::Finished,
            BackfillState::Failed,
            BackfillState::Cancelled,
            BackfillState::Interrupted,
        ]
        .into_iter()
        .find(|state| state.as_str() == value)
    }

    /// Waiting or running: the page keeps polling.
    pub fn is_active(self) -> bool {
        matches!(self, BackfillState::Queued | BackfillState::Running)
    }
}

/// A backfill started from the browser (`app.backfills`) and how far it has come.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct BackfillStatus {
    pub id: i64,
    pub from_day: chrono::NaiveDate,
    pub to_day: chrono::NaiveDate,
    pub jobs: Vec<String>,
    pub state: BackfillState,
    pub requested_by: Option<String>,
    pub requested_at: WallTime,
    pub started_at: Option<WallTime>,
    pub finished_at: Option<WallTime>,
    pub days_done: u32,
    pub days_total: u32,
    pub rows_written: i64,
    pub cancel_requested: bool,
    pub error: Option<String>,
    /// Estimated from the rate so far (days done per second since it started).
    pub seconds_left: Option<i64>,
}

/// Everything `/admin/status` shows.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct AdminStatus {
    /// The IANA time zone every [`WallTime`] is in.
    pub timezone: String,
    pub bot_enabled: bool,
    pub sources: Vec<SourceHealth>,
    /// The spool directory and its files with records in them.
    pub spool_dir: String,
    pub spool: Vec<SpoolFile>,
    pub rejected: Vec<RejectedRecords>,
    pub jobs: Vec<JobStatus>,
    pub recent_runs: Vec<PipelineRun>,
    /// The latest backfill, if any.
    pub backfill: Option<BackfillStatus>,
    /// Today in the community's time zone (the backfill form's default and limit).
    pub today: chrono::NaiveDate,
}
