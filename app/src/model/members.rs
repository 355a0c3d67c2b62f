//! The members page's data (`api/members.rs`, `pages/members.rs`): growth, tenure,
//! Discord-comparable figures and where members come from.

use chrono::NaiveDate;
use serde::{Deserialize, Serialize};

/// One local week (Monday to Sunday) of member growth.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct GrowthWeek {
    /// The Monday the week starts on.
    pub week: NaiveDate,
    /// Accounts whose first join falls in the week.
    pub joins: i64,
    /// Accounts who left in the week and are not back.
    pub leaves: i64,
    /// Members at the end of the week.
    pub members: i64,
}

/// How long members who left had stayed: bucket 0 (< 1 day), 1 (< 1 week), 2 (< 30 days),
/// 3 (< 90 days), 4 (< 1 year), 5 (longer).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct TenureBucket {
    pub bucket: i32,
    pub leavers: i64,
    /// Of those, active (as for DAU) in the 30 days before they left.
    pub active_before: i64,
}

/// Figures as Discord's Server Insights defines them (see `gold.discord_comparable_daily`).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct DiscordComparable {
    /// Persons who communicated in the 7 days ending today.
    pub communicators_week: i64,
    /// New members of the last 30 days whose first week is over.
    pub new_members: i64,
    /// Of those, the share activated in their first week (percent).
    pub activation_rate: Option<f64>,
    /// New members of the 30 days before the last two weeks.
    pub retention_base: i64,
    /// Of those, the share who communicated in their second week (percent).
    pub week1_retention: Option<f64>,
}

/// The members page's data.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct MemberGrowth {
    pub weeks: Vec<GrowthWeek>,
    pub tenure: Vec<TenureBucket>,
    pub comparable: DiscordComparable,
    /// Where the members of the last 12 months came from, most joins first.
    pub sources: Vec<MemberSource>,
    /// Whether the bot may read every tracked guild's invites (Manage Server); `None`
    /// before it looked.
    pub invites_readable: Option<bool>,
}

/// Where members came from over the last 12 months, per invite (or unknown).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct MemberSource {
    /// `invite` or `unknown`.
    pub source: String,
    /// The invite code; empty for unknown.
    pub code: String,
    /// The admin's label for the code.
    pub label: Option<String>,
    /// Who created the invite (their Discord name as last seen).
    pub inviter: Option<String>,
    pub joined: i64,
    pub young_accounts: i64,
    pub still_members: i64,
    pub active_after_1d: i64,
    pub active_after_7d: i64,
    pub active_after_30d: i64,
    /// Of the persons whose join month + 1 is over, the share active in it (percent).
    pub month1_retention: Option<f64>,
}
