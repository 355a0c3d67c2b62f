//! The path from joining the Discord server to playing regularly, per join month: joined →
//! linked a game account → played on a tracked game server → regular (active on at least
//! four days of some month). Each step counts only those who took the step before it.

use crate::error::AppError;
use leptos::prelude::*;

/// The funnel per local month of joining, oldest first. Leaders and admins.
#[server]
pub async fn get_funnel() -> Result<Vec<crate::model::FunnelMonth>, AppError> {
    use crate::model::{FunnelMonth, Permission};
    let (_user, state) = crate::ssr::authz::require(Permission::ViewKpis).await?;
    type Row = (chrono::NaiveDate, i64, i64, i64, i64);
    let rows: Vec<Row> = sqlx::query_as(
        "with joined as (
             select m.discord_user_id, min(m.first_joined_at) as joined_at
             from silver.dim_members m
             where m.first_joined_at is not null
             group by 1
         ),
         persons as (
             select j.discord_user_id, j.joined_at, i.person_id
             from joined j
             left join silver.user_identities i
                    on i.kind = 'discord' and i.external_id = j.discord_user_id::text
         ),
         steps as (
             select p.joined_at,
                    exists (select 1 from silver.user_identities g
                            where g.person_id = p.person_id and g.kind <> 'discord'
                              and g.verified_by <> 'observed') as linked,
                    exists (select 1 from silver.fact_game_sessions s
                            where s.person_id = p.person_id) as played,
                    exists (select 1 from silver.activity_daily a
                            where a.person_id = p.person_id
                            group by date_trunc('month', a.day)
                            having count(distinct a.day) >= 4) as regular
             from persons p
         )
         select date_trunc('month', joined_at at time zone $1)::date,
                count(*),
                count(*) filter (where linked),
                count(*) filter (where linked and played),
                count(*) filter (where linked and played and regular)
         from steps
         group by 1
         order by 1",
    )
    .bind(&state.settings.timezone)
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
