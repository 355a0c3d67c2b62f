//! AFK channels an admin marks, besides the one Discord reports. A mark applies from now on
//! by default, or to all of history when the admin says so; taking it off works the same
//! way. Each change is audited and asks the pipeline to recompute the sessions it touches.

use crate::error::AppError;
use leptos::prelude::*;

/// Marks `channel_id` of `guild_id` as AFK: from now on, or for all of history. Admins only.
#[server]
pub async fn mark_afk_channel(
    guild_id: i64,
    channel_id: i64,
    #[server(default)] whole_history: bool,
) -> Result<(), AppError> {
    use crate::error::{Field, Problem};
    use crate::model::{AuditAction, Permission};
    let (admin, state) = crate::ssr::authz::require(Permission::Administer).await?;
    if channel_id <= 0 {
        let error = AppError::invalid(Field::ChannelId, Problem::ChannelIdNotPositive);
        return Err(crate::ssr::authz::with_status(error));
    }
    let mut tx = state.pool.begin().await?;
    let tracked: Option<i64> = sqlx::query_scalar(
        "select guild_id from app.discord_guilds where guild_id = $1 and tracked for update",
    )
    .bind(guild_id)
    .fetch_optional(&mut *tx)
    .await?;
    if tracked.is_none() {
        let error = AppError::invalid(Field::GuildId, Problem::GuildNotTracked);
        return Err(crate::ssr::authz::with_status(error));
    }
    // Only a channel the bot knows: the console picks it by name.
    let known: bool = sqlx::query_scalar(
        "select exists (select 1 from app.discord_channels
                        where guild_id = $1 and channel_id = $2 and not deleted)",
    )
    .bind(guild_id)
    .bind(channel_id)
    .fetch_one(&mut *tx)
    .await?;
    if !known {
        let error = AppError::invalid(Field::ChannelId, Problem::ChannelUnknown);
        return Err(crate::ssr::authz::with_status(error));
    }
    let already: Option<i64> = sqlx::query_scalar(
        "select id from app.afk_channels
         where guild_id = $1 and channel_id = $2 and (valid_to is null or valid_to > now())",
    )
    .bind(guild_id)
    .bind(channel_id)
    .fetch_optional(&mut *tx)
    .await?;
    if already.is_some() {
        return Ok(());
    }
    let since: Option<chrono::DateTime<chrono::Utc>> = sqlx::query_scalar(
        "insert into app.afk_channels (guild_id, channel_id, valid_from, marked_by)
         values ($1, $2, case when $3 then '-infinity'::timestamptz else now() end, $4)
         returning case when valid_from = '-infinity' then null else valid_from end",
    )
    .bind(guild_id)
    .bind(channel_id)
    .bind(whole_history)
    .bind(admin.id)
    .fetch_one(&mut *tx)
    .await?;
    crate::ssr::audit::record(
        &mut tx,
        crate::ssr::audit::Actor::User(&admin),
        AuditAction::AfkChannelMarked,
        &format!("guild {guild_id}, channel {channel_id}"),
        serde_json::Value::Null,
        serde_json::json!({ "afk_since": since_text(since) }),
    )
    .await?;
    request_recompute(&mut tx, guild_id, whole_history).await?;
    tx.commit().await?;
    tracing::info!(
        admin = admin.id,
        guild_id,
        channel_id,
        whole_history,
        "AFK channel marked"
    );
    Ok(())
}

/// Takes the AFK mark `id` (`app.afk_channels.id`) off: from now on, or for all of history
/// (as if it had never been marked). Admins only.
#[server]
pub async fn unmark_afk_channel(id: i64, whole_history: bool) -> Result<(), AppError> {
    use crate::error::{Field, Problem};
    use crate::model::{AuditAction, Permission};
    let (admin, state) = crate::ssr::authz::require(Permission::Administer).await?;
    let mut tx = state.pool.begin().await?;
    let mark: Option<(i64, i64, Option<chrono::DateTime<chrono::Utc>>)> = sqlx::query_as(
        "select guild_id, channel_id,
                case when valid_from = '-infinity' then null else valid_from end
         from app.afk_channels
         where id = $1 and (valid_to is null or valid_to > now()) for update",
    )
    .bind(id)
    .fetch_optional(&mut *tx)
    .await?;
    let Some((guild_id, channel_id, since)) = mark else {
        let error = AppError::invalid(Field::Id, Problem::AfkMarkUnknown);
        return Err(crate::ssr::authz::with_status(error));
    };
    // A mark that never applied to anything before now is simply removed.
    let started = since.is_none_or(|since| since < chrono::Utc::now());
    if whole_history || !started {
        sqlx::query("delete from app.afk_channels where id = $1")
            .bind(id)
            .execute(&mut *tx)
            .await?;
    } else {
        sqlx::query("update app.afk_channels set valid_to = now() where id = $1")
            .bind(id)
            .execute(&mut *tx)
            .await?;
    }
    crate::ssr::audit::record(
        &mut tx,
        crate::ssr::audit::Actor::User(&admin),
        AuditAction::AfkChannelUnmarked,
        &format!("guild {guild_id}, channel {channel_id}"),
        serde_json::json!({ "afk_since": since_text(since) }),
        serde_json::json!({ "afk_until": if whole_history { "never AFK".to_owned() } else { "now".to_owned() } }),
    )
    .await?;
    request_recompute(&mut tx, guild_id, whole_history).await?;
    tx.commit().await?;
    tracing::info!(
        admin = admin.id,
        guild_id,
        channel_id,
        whole_history,
        "AFK mark removed"
    );
    Ok(())
}

/// How the audit log writes when a mark starts.
#[cfg(feature = "ssr")]
fn since_text(since: Option<chrono::DateTime<chrono::Utc>>) -> String {
    since.map_or_else(|| "always".to_owned(), |at| at.to_rfc3339())
}

/// Marks the AFK periods changed, so the pipeline evaluates the sessions' AFK flags again:
/// from now, or for all of history (`-infinity`; silver keeps sessions whose bronze events retention deleted).
#[cfg(feature = "ssr")]
async fn request_recompute(
    tx: &mut sqlx::PgConnection,
    _guild_id: i64,
    whole_history: bool,
) -> Result<(), sqlx::Error> {
    sqlx::query(
        "select app.mark_dirty('silver.afk_channel_periods',
             case when $1 then '-infinity'::timestamptz else now() end)",
    )
    .bind(whole_history)
    .execute(tx)
    .await?;
    Ok(())
}

/// The marks that count now, per guild.
#[cfg(feature = "ssr")]
pub(super) async fn marked_channels(
    pool: &sqlx::PgPool,
) -> Result<std::collections::HashMap<i64, Vec<crate::model::MarkedAfkChannel>>, AppError> {
    use crate::model::MarkedAfkChannel;
    let rows: Vec<(i64, i64, i64, Option<chrono::DateTime<chrono::Utc>>)> = sqlx::query_as(
        "select id, guild_id, channel_id,
                case when valid_from = '-infinity' then null else valid_from end
         from app.afk_channels
         where valid_to is null or valid_to > now()
         order by guild_id, channel_id, id",
    )
    .fetch_all(pool)
    .await?;
    let mut marked: std::collections::HashMap<i64, Vec<MarkedAfkChannel>> = Default::default();
    for (id, guild_id, channel_id, since) in rows {
        marked.entry(guild_id).or_default().push(MarkedAfkChannel {
            id,
            channel_id,
            since,
        });
    }
    Ok(marked)
}
