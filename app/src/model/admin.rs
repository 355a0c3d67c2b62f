//! The console's status section (`get_admin_overview` in `api/mod.rs`, `pages/admin.rs`):
//! collectors, pipeline runs, refused records.

use serde::{Deserialize, Serialize};

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

/// What the supervisor reported about one collector (`app.collector_status`), shown on the
/// admin page.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct CollectorStatus {
    pub state: CollectorState,
    /// Last time it was seen running.
    pub last_success_at: Option<chrono::DateTime<chrono::Utc>>,
    pub last_error: Option<String>,
    pub last_error_at: Option<chrono::DateTime<chrono::Utc>>,
    pub restarts: u32,
}

/// One row of the pipeline run history.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "ssr", derive(sqlx::FromRow))]
pub struct PipelineRun {
    pub job: String,
    pub trigger: String,
    pub started_at: chrono::DateTime<chrono::Utc>,
    /// The span of time the run recomputed, `[from, to)`.
    pub range_from: Option<chrono::DateTime<chrono::Utc>>,
    pub range_to: Option<chrono::DateTime<chrono::Utc>>,
    pub duration_ms: Option<i64>,
    pub rows_affected: Option<i64>,
    pub error: Option<String>,
}

/// What the console's status section shows.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct AdminOverview {
    pub bot_enabled: bool,
    pub collectors: Vec<(String, CollectorStatus)>,
    pub recent_runs: Vec<PipelineRun>,
    /// Records the database refused, per source (kept in `bronze.rejected_records`).
    pub rejected: Vec<RejectedRecords>,
    /// Records waiting in the spool for the database, per source.
    pub spool_backlog: Vec<(String, u64)>,
}

/// Refused records of one source.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct RejectedRecords {
    pub source: String,
    pub count: i64,
    pub last_error: String,
    pub last_at: chrono::DateTime<chrono::Utc>,
}
