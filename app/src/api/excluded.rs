//! Channels and categories an admin excludes: nothing in them is recorded from then on
//! (running collectors re-read the list within seconds). Each change is audited.

use crate::error::AppError;
use leptos::prelude::*;

/// Excludes a channel, or a whole category, of `guild_id`. Admins only.
#[server]
pub async fn exclude_channel(guild_id: i64, channel_id: i64) -> Result<(), AppError> {
    use crate::error::{Field, Problem};
    use crate::model::{AuditAction, Permission};
    let (admin, state) = crate::ssr::authz::require(Permission::Administer).await?;
    if channel_id <= 0 {
        let error = AppError::invalid(Field::ChannelId, Problem::ChannelIdNotPositive);
        return Err(crate::ssr::authz::with_status(error));
    }
    let mut tx = state.pool.begin().await?;
    let tracked: Option<i64> = sqlx::query_scalar(
        "select guild_id from app.discord_guilds where guild_id = $1 and tracked",
    )
    .bind(guild_id)
    .fetch_optional(&mut *tx)
    .await?;
    if tracked.is_none() {
        let error = AppError::invalid(Field::GuildId, Problem::GuildNotTracked);
        return Err(crate::ssr::authz::with_status(error));
    }
    // Only a channel or category the bot knows: the console picks it by name.
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
    let added = sqlx::query(
        "insert into app.excluded_channels (guild_id, channel_id) values ($1, $2)
         on conflict do nothing",
    )
    .bind(guild_id)
    .bind(channel_id)
    .execute(&mut *tx)
    .await?
    .rows_affected();
    if added > 0 {
        crate::ssr::audit::record(
            &mut tx,
            crate::ssr::audit::Actor::User(&admin),
            AuditAction::ChannelExcluded,
            &format!("guild {guild_id}, channel {channel_id}"),
            serde_json::json!({ "recorded": true }),
            serde_json::json!({ "recorded": false }),
        )
        .await?;
    }
    tx.commit().await?;
    tracing::info!(admin = admin.id, guild_id, channel_id, "channel excluded");
    Ok(())
}

/// Records a channel (or category) again from now on. Admins only.
#[server]
pub async fn include_channel(guild_id: i64, channel_id: i64) -> Result<(), AppError> {
    use crate::error::{Field, Problem};
    use crate::model::{AuditAction, Permission};
    let (admin, state) = crate::ssr::authz::require(Permission::Administer).await?;
    let mut tx = state.pool.begin().await?;
    let removed =
        sqlx::query("delete from app.excluded_channels where guild_id = $1 and channel_id = $2")
            .bind(guild_id)
            .bind(channel_id)
            .execute(&mut *tx)
            .await?
            .rows_affected();
    if removed == 0 {
        let error = AppError::invalid(Field::ChannelId, Problem::ChannelNotExcluded);
        return Err(crate::ssr::authz::with_status(error));
    }
    crate::ssr::audit::record(
        &mut tx,
        crate::ssr::audit::Actor::User(&admin),
        AuditAction::ChannelIncluded,
        &format!("guild {guild_id}, channel {channel_id}"),
        serde_json::json!({ "recorded": false }),
        serde_json::json!({ "recorded": true }),
    )
    .await?;
    tx.commit().await?;
    tracing::info!(
        admin = admin.id,
        guild_id,
        channel_id,
        "channel recorded again"
    );
    Ok(())
}

/// The excluded channels, per guild.
#[cfg(feature = "ssr")]
pub(super) async fn excluded_channels(
    pool: &sqlx::PgPool,
) -> Result<std::collections::HashMap<i64, Vec<i64>>, AppError> {
    let rows: Vec<(i64, i64)> = sqlx::query_as(
        "select guild_id, channel_id from app.excluded_channels order by guild_id, channel_id",
    )
    .fetch_all(pool)
    .await?;
    let mut by_guild: std::collections::HashMap<i64, Vec<i64>> = Default::default();
    for (guild, channel) in rows {
        by_guild.entry(guild).or_default().push(channel);
    }
    Ok(by_guild)
}
