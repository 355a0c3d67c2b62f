//! Server functions: the browser's only way to read data. Each one starts with the
//! permission check.

mod accounts;
mod admin_status;
mod afk;
mod console;
mod daily_active_users;
mod discord;
mod events;
mod excluded;
mod funnel;
mod game_servers;
mod identities;
mod members;
mod privacy;
mod retention;
mod roles;
mod servers;

pub use accounts::*;
pub use admin_status::*;
pub use afk::*;
pub use console::*;
pub use daily_active_users::*;
pub use discord::*;
pub use events::*;
pub use excluded::*;
pub use funnel::*;
pub use game_servers::*;
pub use identities::*;
pub use members::*;
pub use privacy::*;
pub use retention::*;
pub use roles::*;
pub use servers::*;

use crate::error::AppError;
use crate::model::CurrentUser;
use leptos::prelude::*;

/// The signed-in user, or `None` for a visitor.
#[server]
pub async fn get_me() -> Result<Option<CurrentUser>, AppError> {
    let (user, _state) = crate::ssr::authz::visitor().await?;
    Ok(user)
}

/// The signed-in member's own voice activity over the last 30 days.
#[server]
pub async fn get_my_activity() -> Result<crate::model::MyActivity, AppError> {
    use crate::model::{MyActivity, Permission};
    let (user, state) = crate::ssr::authz::require(Permission::OwnData).await?;
    let tz = crate::ssr::community::timezone(&state).await?;
    let (minutes, voice_days): (i64, Vec<chrono::NaiveDate>) =
        sqlx::query_as(include_str!("my_activity_voice.sql"))
            .bind(user.discord_user_id)
            .bind(tz.name())
            .fetch_one(&state.pool)
            .await?;
    // The other sources, over every account of the member's person.
    let (messages, other_days): (i64, Vec<chrono::NaiveDate>) = sqlx::query_as(
        "select coalesce(sum(a.messages), 0)::bigint,
                coalesce(array_agg(distinct a.day) filter (where a.messages > 0 or a.game_seconds >= 60
                                                              or a.voice_seconds >= 60), '{}')
         from silver.activity_daily a
         where a.person_id = (select person_id from silver.user_identities
                              where kind = 'discord' and external_id = $1::text)
           and a.day > (now() at time zone $2)::date - 30",
    )
    .bind(user.discord_user_id)
    .bind(tz.name())
    .fetch_one(&state.pool)
    .await?;
    let games: Vec<(String, i64)> = sqlx::query_as(include_str!("my_activity_games.sql"))
        .bind(user.discord_user_id)
        .fetch_all(&state.pool)
        .await?;
    // Voice days as the voice figure counts them, and the days of the other sources.
    let active: std::collections::BTreeSet<chrono::NaiveDate> =
        voice_days.into_iter().chain(other_days).collect();
    Ok(MyActivity {
        voice_minutes_30d: minutes,
        active_days_30d: i64::try_from(active.len()).unwrap_or(i64::MAX),
        messages_30d: messages,
        game_minutes_30d: games,
    })
}
