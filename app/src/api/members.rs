//! Member growth and leavers for leaders and admins.

use crate::error::AppError;
use crate::model::MemberGrowth;
use leptos::prelude::*;

/// Joins, leaves and net growth for the last `weeks` local weeks (Monday to Sunday), and how
/// long the members who left had stayed.
#[server]
pub async fn get_member_growth(weeks: i32) -> Result<MemberGrowth, AppError> {
    use crate::model::{DiscordComparable, GrowthWeek, Permission, TenureBucket};
    let (_user, state) = crate::ssr::authz::require(Permission::ViewKpis).await?;
    if !(1..=520).contains(&weeks) {
        let error = AppError::BadRequest("choose between 1 and 520 weeks".into());
        crate::ssr::authz::set_status(&error);
        return Err(error);
    }
    let tz = &state.settings.timezone;
    type WeekRow = (chrono::NaiveDate, i64, i64, i64);
    let rows: Vec<WeekRow> = sqlx::query_as(
        "with members as (
             select (first_joined_at at time zone $1)::date as joined,
                    case when not is_member then (left_at at time zone $1)::date end as left_on
             from silver.dim_members
             where first_joined_at is not null
         ),
         weeks as (
             select w::date as week
             from generate_series(
                 date_trunc('week', (now() at time zone $1)::date) - make_interval(weeks => $2 - 1),
                 date_trunc('week', (now() at time zone $1)::date),
                 interval '1 week') w
         )
         select w.week,
                (select count(*) from members m
                 where m.joined >= w.week and m.joined < w.week + 7),
                (select count(*) from members m
                 where m.left_on >= w.week and m.left_on < w.week + 7),
                (select count(*) from members m
                 where m.joined < w.week + 7 and (m.left_on is null or m.left_on >= w.week + 7))
         from weeks w
         order by w.week",
    )
    .bind(tz)
    .bind(weeks)
    .fetch_all(&state.pool)
    .await?;
    type TenureRow = (i32, i64, i64);
    let tenure: Vec<TenureRow> = sqlx::query_as(
        "with leavers as (
             select m.discord_user_id, m.left_at,
                    m.left_at - coalesce(m.last_joined_at, m.first_joined_at) as stayed
             from silver.dim_members m
             where not m.is_member and m.left_at is not null
         )
         select case when stayed < interval '1 day' then 0
                     when stayed < interval '7 days' then 1
                     when stayed < interval '30 days' then 2
                     when stayed < interval '90 days' then 3
                     when stayed < interval '365 days' then 4
                     else 5 end as bucket,
                count(*),
                -- Active (as for DAU) on any of the 30 days before they left.
                count(*) filter (where exists (
                    select 1 from silver.activity_daily a
                    where a.account_kind = 'discord' and a.account_id = l.discord_user_id::text
                      and a.day between (l.left_at at time zone $1)::date - 30
                                    and (l.left_at at time zone $1)::date
                      and (a.voice_seconds >= 60 or a.messages >= 1 or a.game_seconds >= 60)))
         from leavers l
         group by 1
         order by 1",
    )
    .bind(tz)
    .fetch_all(&state.pool)
    .await?;
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
    Ok(MemberGrowth {
        comparable: DiscordComparable {
            communicators_week,
            new_members,
            activation_rate,
            retention_base,
            week1_retention,
        },
        weeks: rows
            .into_iter()
            .map(|(week, joins, leaves, members)| GrowthWeek {
                week,
                joins,
                leaves,
                members,
            })
            .collect(),
        tenure: tenure
            .into_iter()
            .map(|(bucket, leavers, active_before)| TenureBucket {
                bucket,
                leavers,
                active_before,
            })
            .collect(),
    })
}
