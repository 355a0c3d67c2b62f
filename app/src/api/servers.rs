//! The game servers page for leaders and admins: players now, the weekday × hour profile
//! and the last days.

use crate::error::AppError;
use crate::model::ServersOverview;
use leptos::prelude::*;

/// Every configured server with its players now, the profile, and the last `days` days.
#[server]
pub async fn get_server_utilization(days: i32) -> Result<ServersOverview, AppError> {
    use crate::error::{Field, Problem, Unit};
    use crate::model::{Permission, ProfileCell, ServerDay, ServerNow, SourceStatus};
    use chrono::{DateTime, Utc};
    let (_user, state) = crate::ssr::authz::require(Permission::ViewKpis).await?;
    if !(1..=366).contains(&days) {
        let problem = Problem::OutOfRange {
            min: 1,
            max: 366,
            unit: Unit::Days,
        };
        return Err(crate::ssr::authz::with_status(AppError::invalid(
            Field::Days,
            problem,
        )));
    }
    // id, name, game, enabled, humans now, capacity, map, players, heard at.
    type ServerRow = (
        i64,
        String,
        String,
        bool,
        Option<i32>,
        Option<i32>,
        Option<String>,
        Option<Vec<String>>,
        Option<DateTime<Utc>>,
    );
    let servers: Vec<ServerRow> = sqlx::query_as(include_str!("servers/servers_now.sql"))
        .fetch_all(&state.pool)
        .await?;
    type SourceRow = (
        i64,
        String,
        Option<DateTime<Utc>>,
        Option<String>,
        Option<DateTime<Utc>>,
    );
    let sources: Vec<SourceRow> = sqlx::query_as(
        // Every source the server is configured for, reported on or not yet.
        "select g.server_id, s.source, st.last_success_at, st.last_error, st.last_error_at
         from app.game_servers g
         cross join lateral (values
             ('rcon', g.rcon_port is not null and g.rcon_password_sealed is not null),
             ('logs', g.log_source <> 'none'),
             ('metrics', coalesce(g.prometheus_url, '') <> '')) s (source, configured)
         left join app.game_source_status st
                on st.server_id = g.server_id and st.source = s.source
         where s.configured
         order by 1, 2",
    )
    .fetch_all(&state.pool)
    .await?;
    type ProfileRow = (i64, i16, i16, f64, i32, Option<f64>, bool, i32);
    let profile: Vec<ProfileRow> = sqlx::query_as(
        "select server_id, weekday, hour, avg_humans::float8, peak_humans,
                utilization_pct::float8, low_use, weeks
         from gold.server_weekly_profile order by server_id, weekday, hour",
    )
    .fetch_all(&state.pool)
    .await?;
    let day_rows: Vec<(i64, chrono::NaiveDate, f64, i32, Option<f64>)> = sqlx::query_as(
        "select u.server_id, (u.hour at time zone $1)::date,
                avg(u.avg_humans)::float8, max(u.peak_humans),
                case when max(u.capacity) > 0
                     then (avg(u.avg_humans) * 100.0 / max(u.capacity))::float8 end
         from gold.server_utilization u
         where u.hour >= (date_trunc('day', now() at time zone $1) - ($2 - 1) * interval '1 day')
                         at time zone $1
         group by 1, 2 order by 1, 2 desc",
    )
    .bind(crate::ssr::community::timezone(&state).await?.name())
    .bind(days)
    .fetch_all(&state.pool)
    .await?;
    let weeks = profile.first().map_or(0, |row| row.7);
    Ok(ServersOverview {
        servers: servers
            .into_iter()
            .map(
                |(server_id, name, game, enabled, humans_now, capacity, map, players, heard_at)| {
                    ServerNow {
                        server_id,
                        name,
                        game,
                        enabled,
                        humans_now,
                        capacity,
                        map,
                        players_now: players.unwrap_or_default(),
                        heard_at,
                        sources: sources
                            .iter()
                            .filter(|s| s.0 == server_id)
                            .map(|s| SourceStatus {
                                source: s.1.clone(),
                                last_success_at: s.2,
                                last_error: s.3.clone(),
                                last_error_at: s.4,
                            })
                            .collect(),
                    }
                },
            )
            .collect(),
        profile: profile
            .into_iter()
            .map(
                |(
                    server_id,
                    weekday,
                    hour,
                    avg_humans,
                    peak_humans,
                    utilization_pct,
                    low_use,
                    _,
                )| {
                    ProfileCell {
                        server_id,
                        weekday,
                        hour,
                        avg_humans,
                        peak_humans,
                        utilization_pct,
                        low_use,
                    }
                },
            )
            .collect(),
        weeks,
        days: day_rows
            .into_iter()
            .map(
                |(server_id, day, avg_humans, peak_humans, utilization_pct)| ServerDay {
                    server_id,
                    day,
                    avg_humans,
                    peak_humans,
                    utilization_pct,
                },
            )
            .collect(),
    })
}
