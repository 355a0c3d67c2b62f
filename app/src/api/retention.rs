//! Retention cohorts for leaders and admins.

use crate::error::AppError;
use crate::model::CohortCell;
use leptos::prelude::*;

/// Every cell of `gold.retention_cohorts`, by cohort month and months after.
#[server]
pub async fn get_retention_cohorts() -> Result<Vec<CohortCell>, AppError> {
    use crate::model::Permission;
    let (_user, state) = crate::ssr::authz::require(Permission::ViewKpis).await?;
    type Row = (chrono::NaiveDate, i32, i32, i32, Option<f64>, bool);
    let rows: Vec<Row> = sqlx::query_as(
        "select cohort_month, months_after, cohort_size, active, percentage::float8, partial
         from gold.retention_cohorts
         order by cohort_month, months_after",
    )
    .fetch_all(&state.pool)
    .await?;
    Ok(rows
        .into_iter()
        .map(
            |(cohort_month, months_after, cohort_size, active, percentage, partial)| CohortCell {
                cohort_month,
                months_after,
                cohort_size,
                active,
                percentage,
                partial,
            },
        )
        .collect())
}
