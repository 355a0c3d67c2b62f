//! The community settings an admin makes in the console (`app.community_settings`) over
//! the configured defaults: the time zone and bronze retention. A column left empty means
//! the configured value (`GUILDHALL_TIMEZONE`, `GUILDHALL_PIPELINE__BRONZE_RETENTION_DAYS`).
//! Read per request, so a change applies without a restart.

use super::AppState;
use chrono::{DateTime, FixedOffset, Utc};

/// The settings in force, and whether an admin set each one.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Effective {
    pub timezone: chrono_tz::Tz,
    pub timezone_set: bool,
    pub bronze_retention_days: u32,
    pub retention_set: bool,
    pub updated_at: Option<DateTime<Utc>>,
    pub updated_by: Option<String>,
}

/// The settings in force: an admin's choice, else the configuration.
pub async fn settings(state: &AppState) -> Result<Effective, sqlx::Error> {
    type Row = (Option<String>, Option<i32>, DateTime<Utc>, Option<String>);
    let row: Option<Row> = sqlx::query_as(
        "select s.timezone, s.bronze_retention_days, s.updated_at,
                coalesce(u.display_name, u.username)
         from app.community_settings s left join app.users u on u.id = s.updated_by",
    )
    .fetch_optional(&state.pool)
    .await?;
    let configured_tz = state
        .settings
        .timezone
        .parse::<chrono_tz::Tz>()
        .unwrap_or(chrono_tz::Europe::Berlin);
    let (tz, days, updated_at, updated_by) = match row {
        Some((tz, days, at, by)) => (tz, days, Some(at), by),
        None => (None, None, None, None),
    };
    let set_tz = tz.and_then(|name| name.parse::<chrono_tz::Tz>().ok());
    let set_days = days.and_then(|days| u32::try_from(days).ok());
    Ok(Effective {
        timezone: set_tz.unwrap_or(configured_tz),
        timezone_set: set_tz.is_some(),
        bronze_retention_days: set_days.unwrap_or(state.settings.bronze_retention_days),
        retention_set: set_days.is_some(),
        updated_at,
        updated_by,
    })
}

/// The community's time zone in force.
pub async fn timezone(state: &AppState) -> Result<chrono_tz::Tz, sqlx::Error> {
    Ok(settings(state).await?.timezone)
}

/// An instant as the clock on the community's wall shows it.
pub fn local(at: DateTime<Utc>, tz: chrono_tz::Tz) -> DateTime<FixedOffset> {
    at.with_timezone(&tz).fixed_offset()
}
