//! The servers page's data (`api/servers.rs`, `pages/servers.rs`): who is on each server now, its
//! sources' health, its weekly profile and days.

use chrono::NaiveDate;
use serde::{Deserialize, Serialize};

/// One game server as the servers page shows it: who is on it now and how its sources are.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct ServerNow {
    pub server_id: i64,
    pub name: String,
    pub game: String,
    pub enabled: bool,
    /// Human players now (the last poll, or the open log sessions); `None`: not heard from
    /// lately.
    pub humans_now: Option<i32>,
    pub capacity: Option<i32>,
    pub map: Option<String>,
    /// Names of the players now (from the last poll).
    pub players_now: Vec<String>,
    pub heard_at: Option<chrono::DateTime<chrono::Utc>>,
    /// Per source (rcon, logs, metrics): last success and last error.
    pub sources: Vec<SourceStatus>,
}

/// A game server source's health.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct SourceStatus {
    pub source: String,
    pub last_success_at: Option<chrono::DateTime<chrono::Utc>>,
    pub last_error: Option<String>,
    pub last_error_at: Option<chrono::DateTime<chrono::Utc>>,
}

/// One weekday × hour cell of a server's profile (`gold.server_weekly_profile`).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct ProfileCell {
    pub server_id: i64,
    /// 1 = Monday … 7 = Sunday.
    pub weekday: i16,
    pub hour: i16,
    pub avg_humans: f64,
    pub peak_humans: i32,
    pub utilization_pct: Option<f64>,
    pub low_use: bool,
}

/// One local day of a server: average and peak players.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct ServerDay {
    pub server_id: i64,
    pub day: NaiveDate,
    pub avg_humans: f64,
    pub peak_humans: i32,
    pub utilization_pct: Option<f64>,
}

/// The servers page's data.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct ServersOverview {
    pub servers: Vec<ServerNow>,
    pub profile: Vec<ProfileCell>,
    /// Weeks the profile covers.
    pub weeks: i32,
    pub days: Vec<ServerDay>,
}
