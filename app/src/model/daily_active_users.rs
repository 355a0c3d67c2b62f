//! Daily active users, WAU, MAU and stickiness (`api/daily_active_users.rs`, `pages/daily_active_users.rs`).

use chrono::NaiveDate;
use serde::{Deserialize, Serialize};

/// One day of `gold.daily_active_users`.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct DauPoint {
    pub day: NaiveDate,
    pub dau_total: i32,
    pub dau_voice: i32,
    pub dau_chat: i32,
    pub dau_game: i32,
    /// Persons active in the 7 days ending on `day`.
    pub wau: i32,
    /// Persons active in the 30 days ending on `day`.
    pub mau: i32,
    /// `dau_total / mau`; `None` when nobody was active in the 30 days.
    pub stickiness: Option<f64>,
}
