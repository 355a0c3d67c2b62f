//! Member growth and leavers for leaders and admins.

use crate::error::AppError;
use crate::model::MemberGrowth;
use leptos::prelude::*;

/// Joins, leaves and net growth for the last `weeks` local weeks (Monday to Sunday), and how
/// long the members who left had stayed.
#[server]
pub async fn get_member_growth(weeks: i32) -> Result<MemberGrowth, AppError> {
    use crate::model::{DiscordComparable, GrowthWeek, MemberSource, Permission, TenureBucket};
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
    let sources: Vec<SourceRow> = sqlx::query_as(
        "with recent as (
                 select * from gold.member_sources
                 where join_month >= date_trunc('month', (now() at time zone $1)::date)
                                     - interval '11 months'
             )
             select r.source, r.invite_code,
                    (select l.label from app.invite_labels l where l.code = r.invite_code
                     order by l.updated_at desc limit 1),
                    (select case when app.is_hidden_discord(i.inviter_id) then null else i.inviter_name end
                     from app.discord_invites i where i.code = r.invite_code
                     order by i.seen_at desc limit 1),
                    sum(r.joined)::int8, sum(r.young_accounts)::int8, sum(r.still_members)::int8,
                    sum(r.active_after_1d)::int8, sum(r.active_after_7d)::int8,
                    sum(r.active_after_30d)::int8,
                    (select 100.0 * sum(t.active) / nullif(sum(t.cohort_size), 0)
                     from gold.member_source_retention t
                     where t.source = r.source and t.invite_code = r.invite_code
                       and t.months_after = 1 and not t.partial
                       and t.join_month >= date_trunc('month', (now() at time zone $1)::date)
                                           - interval '11 months')::float8
             from recent r
             group by r.source, r.invite_code
             order by sum(r.joined) desc, r.invite_code",
    )
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
