//! The join → link → play → regular funnel (`api/funnel.rs`, shown on `pages/members.rs`).

use serde::{Deserialize, Serialize};

/// The funnel of one join month: members who joined, then linked a game account, then
/// played on a tracked server, then were regulars (4 active days in a month).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct FunnelMonth {
    pub month: chrono::NaiveDate,
    pub joined: i64,
    pub linked: i64,
    pub played: i64,
    pub regular: i64,
}
