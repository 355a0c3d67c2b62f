//! Retention cohorts (`api/retention.rs`, `pages/retention.rs`).

use chrono::NaiveDate;
use serde::{Deserialize, Serialize};

/// One cell of `gold.retention_cohorts`.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct CohortCell {
    pub cohort_month: NaiveDate,
    pub months_after: i32,
    pub cohort_size: i32,
    pub active: i32,
    pub percentage: Option<f64>,
    pub partial: bool,
}
