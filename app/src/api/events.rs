//! Scheduled events and their attendance for leaders and admins.

use crate::error::AppError;
use crate::model::EventsOverview;
use leptos::prelude::*;

/// Upcoming and running events (soonest first) and the last `past` events that ended or
/// were cancelled (newest first), with interested against attended.
#[server]
pub async fn get_events(past: i32) -> Result<EventsOverview, AppError> {
    use crate::error::{Field, Problem, Unit};
    use crate::model::{EventAttendance, Permission};
    let (_user, state) = crate::ssr::authz::require(Permission::ViewKpis).await?;
    if !(1..=500).contains(&past) {
        let problem = Problem::OutOfRange {
            min: 1,
            max: 500,
            unit: Unit::PastEvents,
        };
        return Err(crate::ssr::authz::with_status(AppError::invalid(
            Field::Past,
            problem,
        )));
    }
    // id, name, kind, status, local start, interested, attended, both, no-shows, walk-ins,
    // rate, upcoming.
    type Row = (
        String,
        String,
        String,
        String,
        chrono::NaiveDateTime,
        i32,
        i32,
        i32,
        i32,
        i32,
        Option<f64>,
        bool,
    );
    let rows: Vec<Row> = sqlx::query_as(
        "(select scheduled_event_id::text, name, kind, status, starts_at at time zone $1,
                     interested, attended, interested_attended, no_shows, walk_ins,
                     attendance_rate::float8, true
              from gold.event_attendance
              where status in ('scheduled', 'active')
              order by starts_at, scheduled_event_id)
             union all
             (select scheduled_event_id::text, name, kind, status, starts_at at time zone $1,
                     interested, attended, interested_attended, no_shows, walk_ins,
                     attendance_rate::float8, false
              from gold.event_attendance
              where status in ('completed', 'canceled')
              order by starts_at desc, scheduled_event_id desc
              limit $2)",
    )
    .bind(crate::ssr::community::timezone(&state).await?.name())
    .bind(i64::from(past))
    .fetch_all(&state.pool)
    .await?;
    let mut overview = EventsOverview {
        upcoming: Vec::new(),
        past: Vec::new(),
    };
    for (
        id,
        name,
        kind,
        status,
        starts_local,
        interested,
        attended,
        both,
        no_shows,
        walk_ins,
        rate,
        upcoming,
    ) in rows
    {
        let event = EventAttendance {
            id,
            name,
            kind,
            status,
            starts_local,
            interested,
            attended,
            interested_attended: both,
            no_shows,
            walk_ins,
            attendance_rate: rate,
        };
        if upcoming {
            overview.upcoming.push(event);
        } else {
            overview.past.push(event);
        }
    }
    Ok(overview)
}
