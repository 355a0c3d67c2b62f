//! The path from joining the Discord server to playing regularly, per join month: joined →
//! linked a game account → played on a tracked game server → regular (active on at least
//! four days of some month). Each step counts only those who took the step before it; the
//! pipeline keeps the counts in `gold.funnel_monthly` (job funnel).

use crate::error::AppError;
use leptos::prelude::*;

/// The funnel per local month of joining, oldest first. Leaders and admins.
#[server]
pub async fn get_funnel() -> Result<Vec<crate::model::FunnelMonth>, AppError> {
    use crate::model::{FunnelMonth, Permission};
    let (_user, state) = crate::ssr::authz::require(Permission::ViewKpis).await?;
    type Row = (chrono::NaiveDate, i64, i64, i64, i64);
    // Kept by the pipeline (job funnel).
    let rows: Vec<Row> = sqlx::query_as(
        "select join_month, joined::int8, linked::int8, played::int8, regular::int8
         from gold.funnel_monthly
         order by join_month",
    )
    .fetch_all(&state.pool)
    .await?;
    Ok(rows
        .into_iter()
        .map(|(month, joined, linked, played, regular)| FunnelMonth {
            month,
            joined,
            linked,
            played,
            regular,
        })
        .collect())
}
