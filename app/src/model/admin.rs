//! The admin page's overview (`get_admin_overview` in `api/mod.rs`, `pages/admin.rs`): collectors,
//! guild settings, pipeline runs, refused records.

use serde::{Deserialize, Serialize};

use super::{AuditEntry, MarkedAfkChannel, UserRole};

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

/// A tracked Discord guild and its voice settings.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct GuildSettings {
    pub guild_id: i64,
    pub name: String,
    /// The AFK channel Discord reports for the guild now.
    pub afk_channel_id: Option<i64>,
    /// Channels an admin marked as AFK that still count now, besides Discord's.
    pub marked_afk: Vec<MarkedAfkChannel>,
    /// Channels and categories whose activity is not recorded.
    pub excluded: Vec<i64>,
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

/// Everything the admin page shows.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct AdminOverview {
    pub bot_enabled: bool,
    pub collectors: Vec<(String, CollectorStatus)>,
    pub guilds: Vec<GuildSettings>,
    pub recent_runs: Vec<PipelineRun>,
    pub users: Vec<UserRole>,
    pub audit_log: Vec<AuditEntry>,
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
