//! Server-only parts of the app: the state server functions read from context, and the one
//! permission check every server function and protected route goes through.

pub mod authz;

pub use crate::model::CollectorStatus;
use leptos::config::LeptosOptions;
use sqlx::PgPool;
use std::collections::BTreeMap;
use std::sync::{Arc, RwLock};

/// Settings the pages need at request time.
#[derive(Clone, Debug)]
pub struct PageSettings {
    /// IANA time zone of the community; all KPI days are local days in it.
    pub timezone: String,
    /// Demo login is available.
    pub demo_mode: bool,
    /// A Discord bot token is configured, so the bot runs.
    pub bot_enabled: bool,
}

/// Live status of every collector, written by the supervisor.
#[derive(Clone, Debug, Default)]
pub struct StatusBoard(Arc<RwLock<BTreeMap<String, CollectorStatus>>>);

impl StatusBoard {
    pub fn set(&self, name: &str, status: CollectorStatus) {
        if let Ok(mut map) = self.0.write() {
            map.insert(name.to_owned(), status);
        }
    }

    pub fn snapshot(&self) -> BTreeMap<String, CollectorStatus> {
        self.0.read().map(|map| map.clone()).unwrap_or_default()
    }
}

/// Shared state: reaches server functions through Leptos context and axum handlers through
/// `State`.
#[derive(Clone, axum::extract::FromRef)]
pub struct AppState {
    pub pool: PgPool,
    pub leptos_options: LeptosOptions,
    pub settings: Arc<PageSettings>,
    pub collectors: StatusBoard,
}
