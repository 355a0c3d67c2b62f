//! Server-only parts of the app: the state server functions read from context, and the one
//! permission check every server function and protected route goes through.

pub mod audit;
pub mod authz;
pub mod community;
pub mod game_servers;
pub mod identity;
pub mod sessions;

use leptos::config::LeptosOptions;
use sqlx::PgPool;
use std::sync::Arc;

/// Settings the pages need at request time.
#[derive(Clone, Debug)]
pub struct PageSettings {
    /// IANA time zone of the community as configured (`GUILDHALL_TIMEZONE`); an admin's
    /// choice in `app.community_settings` wins: read it with [`community::timezone`].
    pub timezone: String,
    /// Days of bronze kept as configured (`GUILDHALL_PIPELINE__BRONZE_RETENTION_DAYS`); an
    /// admin's choice wins ([`community::settings`]).
    pub bronze_retention_days: u32,
    /// The bot asks for message content to count characters
    /// (`GUILDHALL_DISCORD__MESSAGE_CONTENT`; a gateway intent, so configuration only).
    pub message_content: bool,
    /// Demo login is available.
    pub demo_mode: bool,
    /// A Discord bot token is configured, so the bot runs.
    pub bot_enabled: bool,
    /// Discord user ids that are admins by configuration (`GUILDHALL_ADMIN_IDS`).
    pub admin_ids: Vec<i64>,
    /// Discord user ids that are leaders by configuration (`GUILDHALL_LEADER_IDS`).
    pub leader_ids: Vec<i64>,
    /// Where the collectors spool records while PostgreSQL is unreachable.
    pub spool_dir: std::path::PathBuf,
    /// The pipeline's jobs in the order they run (for `/admin/status` and its backfills).
    pub pipeline_jobs: Vec<PipelineJob>,
}

/// A pipeline job as the status page knows it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct PipelineJob {
    pub name: String,
    /// The bronze table it reads by id (its backlog), for jobs that do.
    pub bronze_input: Option<String>,
}

impl PageSettings {
    /// The spool's files that hold records, per source (`<source>.spool`, one JSON line
    /// each): records and bytes on disk.
    pub fn spool_files(&self) -> Vec<crate::model::SpoolFile> {
        let Ok(entries) = std::fs::read_dir(&self.spool_dir) else {
            return Vec::new();
        };
        let mut files: Vec<crate::model::SpoolFile> = entries
            .filter_map(Result::ok)
            .filter_map(|entry| {
                let name = entry.file_name().to_string_lossy().into_owned();
                let source = name.strip_suffix(".spool")?.to_owned();
                let bytes = entry.metadata().ok()?.len();
                if bytes == 0 {
                    return None;
                }
                let records = std::fs::read(entry.path())
                    .ok()?
                    .iter()
                    .filter(|&&b| b == b'\n')
                    .count() as u64;
                Some(crate::model::SpoolFile {
                    source,
                    records,
                    bytes,
                })
            })
            .collect();
        files.sort_by(|a, b| a.source.cmp(&b.source));
        files
    }

    /// The role the configuration gives a Discord user, if any.
    pub fn configured_role(&self, discord_user_id: i64) -> Option<crate::model::Role> {
        use crate::model::Role;
        if self.admin_ids.contains(&discord_user_id) {
            Some(Role::Admin)
        } else if self.leader_ids.contains(&discord_user_id) {
            Some(Role::Leader)
        } else {
            None
        }
    }
}

/// Shared state: reaches server functions through Leptos context and axum handlers through
/// `State`.
#[derive(Clone, axum::extract::FromRef)]
pub struct AppState {
    pub pool: PgPool,
    pub leptos_options: LeptosOptions,
    pub settings: Arc<PageSettings>,
}
