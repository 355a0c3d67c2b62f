//! Member growth and leavers for leaders and admins.

use crate::error::AppError;
use crate::model::MemberGrowth;
use leptos::prelude::*;

/// Joins, leaves and net growth for the last `weeks` local weeks (Monday to Sunday), and how
/// long the members who left had stayed.
#[server]
pub async fn get_member_growth(weeks: i32) -> Result<MemberGrowth, AppError> {
    use crate::error::{Field, Problem, Unit};
    use crate::model::{DiscordComparable, MemberSource, Permission};
    let (_user, state) = crate::ssr::authz::require(Permission::ViewKpis).await?;
    if !(1..=520).contains(&weeks) {
        let problem = Problem::OutOfRange {
            min: 1,
            max: 520,
            unit: Unit::Weeks,
        };
        return Err(crate::ssr::authz::with_status(AppError::invalid(
            Field::Weeks,
            problem,
        )));
    }
    let tz = crate::ssr::community::timezone(&state).await?.name();
    let weeks_rows = growth_weeks(&state.pool, tz, Some(weeks)).await?;
    let tenure = leaver_tenure(&state.pool).await?;
    // Activation needs a newcomer's first week to be over, retention their second.
    type ComparableRow = (i64, i64, Option<f64>, i64, Option<f64>);
    let (communicators_week, new_members, activation_rate, retention_base, week1_retention): ComparableRow =
        sqlx::query_as(
            "with today as (select (now() at time zone $1)::date as day)
             select
                 coalesce((select communicators_week from gold.discord_comparable_daily g, today t
                           where g.day = t.day), 0)::int8,
                 coalesce((select sum(new_members) from gold.discord_comparable_daily g, today t
                           where g.day between t.day - 36 and t.day - 7), 0)::int8,
                 (select 100.0 * sum(activated) / nullif(sum(new_members), 0)
                  from gold.discord_comparable_daily g, today t
                  where g.day between t.day - 36 and t.day - 7)::float8,
                 coalesce((select sum(new_members) from gold.discord_comparable_daily g, today t
                           where g.day between t.day - 43 and t.day - 14), 0)::int8,
                 (select 100.0 * sum(week1_retained) / nullif(sum(new_members), 0)
                  from gold.discord_comparable_daily g, today t
                  where g.day between t.day - 43 and t.day - 14)::float8",
        )
        .bind(tz)
        .fetch_one(&state.pool)
        .await?;
    // source, code, label, inviter, joined, young, still members, active after 1/7/30 days,
    // month-1 retention.
    type SourceRow = (
        String,
        String,
        Option<String>,
        Option<String>,
        i64,
        i64,
        i64,
        i64,
        i64,
        i64,
        Option<f64>,
    );
    let sources: Vec<SourceRow> = sqlx::query_as(include_str!("members/member_sources.sql"))
        .bind(tz)
        .fetch_all(&state.pool)
        .await?;
    let invites_readable: Option<bool> = sqlx::query_scalar(
        "select bool_and(invites_readable) from app.discord_guilds
         where tracked and invites_readable is not null",
    )
    .fetch_one(&state.pool)
    .await?;
    Ok(MemberGrowth {
        invites_readable,
        sources: sources
            .into_iter()
            .map(
                |(
                    source,
                    code,
                    label,
                    inviter,
                    joined,
                    young_accounts,
                    still_members,
                    d1,
                    d7,
                    d30,
                    month1,
                )| {
                    MemberSource {
                        source,
                        code,
                        label,
                        inviter,
                        joined,
                        young_accounts,
                        still_members,
                        active_after_1d: d1,
                        active_after_7d: d7,
                        active_after_30d: d30,
                        month1_retention: month1,
                    }
                },
            )
            .collect(),
        comparable: DiscordComparable {
            communicators_week,
            new_members,
            activation_rate,
            retention_base,
            week1_retention,
        },
        weeks: weeks_rows,
        tenure,
    })
}

/// Joins, leaves and members per local week from `gold.member_growth_weekly`: the last
/// `weeks` weeks up to the current one (weeks the pipeline has not reached yet carry the
/// last known members), or every week with `None`. The members page and
/// `/export/member_growth_weekly.csv` both read through here.
#[cfg(feature = "ssr")]
pub async fn growth_weeks(
    pool: &sqlx::PgPool,
    timezone: &str,
    weeks: Option<i32>,
) -> Result<Vec<crate::model::GrowthWeek>, sqlx::Error> {
    use crate::model::GrowthWeek;
    type WeekRow = (chrono::NaiveDate, i64, i64, i64);
    let rows: Vec<WeekRow> = sqlx::query_as(include_str!("members/growth_weeks.sql"))
        .bind(timezone)
        .bind(weeks)
        .fetch_all(pool)
        .await?;
    Ok(rows
        .into_iter()
        .map(|(week, joins, leaves, members)| GrowthWeek {
            week,
            joins,
            leaves,
            members,
        })
        .collect())
}

/// How long the members who left had stayed, per bucket, over every leave
/// (`gold.leaver_tenure`, a row per month and bucket).
#[cfg(feature = "ssr")]
async fn leaver_tenure(
    pool: &sqlx::PgPool,
) -> Result<Vec<crate::model::TenureBucket>, sqlx::Error> {
    use crate::model::TenureBucket;
    let rows: Vec<(i32, i64, i64)> = sqlx::query_as(
        "select bucket::int4, sum(leavers)::int8, sum(active_before)::int8
         from gold.leaver_tenure
         group by bucket
         having sum(leavers) > 0
         order by bucket",
    )
    .fetch_all(pool)
    .await?;
    Ok(rows
        .into_iter()
        .map(|(bucket, leavers, active_before)| TenureBucket {
            bucket,
            leavers,
            active_before,
        })
        .collect())
}
