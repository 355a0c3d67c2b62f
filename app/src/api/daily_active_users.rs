//! Daily active users for the overview page: `gold.daily_active_users` (job
//! `daily_active_users`), a row for every day of the chosen range.

use crate::error::AppError;
use crate::model::DauPoint;
use chrono::NaiveDate;
use leptos::prelude::*;

/// Daily active users for each day from `from` to `to` (inclusive). Leaders and admins.
#[server]
pub async fn get_daily_active_users(
    from: NaiveDate,
    to: NaiveDate,
) -> Result<Vec<DauPoint>, AppError> {
    use crate::error::{Field, Problem};
    use crate::model::Permission;
    let (_user, state) = crate::ssr::authz::require(Permission::ViewKpis).await?;
    // Ten years and a day or two for the leap years.
    const MAX_DAYS: i64 = 3660;
    if to < from {
        let error = AppError::invalid(Field::To, Problem::RangeReversed);
        return Err(crate::ssr::authz::with_status(error));
    }
    if (to - from).num_days() > MAX_DAYS {
        let problem = Problem::RangeTooLong { max_days: MAX_DAYS };
        return Err(crate::ssr::authz::with_status(AppError::invalid(
            Field::From,
            problem,
        )));
    }
    type Row = (NaiveDate, i32, i32, i32, i32, i32, i32, Option<f64>);
    let rows: Vec<Row> = sqlx::query_as(
        "select d::date, coalesce(g.dau_total, 0), coalesce(g.dau_voice, 0),
                coalesce(g.dau_chat, 0), coalesce(g.dau_game, 0), coalesce(g.wau, 0),
                coalesce(g.mau, 0),
                g.stickiness::float8
         from generate_series($1::date, $2::date, interval '1 day') d
         left join gold.daily_active_users g on g.day = d::date
         order by 1",
    )
    .bind(from)
    .bind(to)
    .fetch_all(&state.pool)
    .await?;
    Ok(rows
        .into_iter()
        .map(
            |(day, dau_total, dau_voice, dau_chat, dau_game, wau, mau, stickiness)| DauPoint {
                day,
                dau_total,
                dau_voice,
                dau_chat,
                dau_game,
                wau,
                mau,
                stickiness,
            },
        )
        .collect())
}
