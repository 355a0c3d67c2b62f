//! Guilds and roles: which guilds are recorded ([`Tracking`], and following the admins'
//! decisions while the session runs), what begins the recording of a guild (GUILD_CREATE),
//! the guild's name and AFK channel (changes of the AFK channel go to bronze), its roles, and
//! its channels and categories by name (for the admin console's pickers).
//! The guild and role state itself is written through [`collector_state`].

use super::collector_state;
use super::reconcile::{present_users, reconcile, stamp_guilds};
use super::state::BotState;
use super::{db_id, members, scheduled};
use anyhow::Context as _;
use chrono::Utc;
use serenity::all::{Context, Guild, GuildChannel, GuildId, PartialGuild, Role, RoleId};
use std::sync::Arc;
use std::time::Duration;
use tokio_util::sync::CancellationToken;

/// GUILD_CREATE: a tracked guild is recorded from now on, an untracked one only named.
pub(super) async fn guild_create(state: &BotState, ctx: &Context, guild: &Guild) {
    let guild_id = db_id(guild.id.get());
    state.keep_context(guild_id, ctx);
    if !state.tracks(guild_id) {
        tracing::debug!(guild_id, "not recording an untracked guild");
        state.set_applied(guild_id, false);
        store_untracked_guild(state, guild_id, &guild.name).await;
        return;
    }
    state.set_applied(guild_id, true);
    start_recording(state, ctx, guild).await;
}

/// GUILD_UPDATE: a tracked guild's name and AFK channel are kept current.
pub(super) async fn guild_update(state: &BotState, new: &PartialGuild) {
    let guild_id = db_id(new.id.get());
    if !state.tracks(guild_id) {
        return;
    }
    if let Err(error) = on_guild_update(state, new).await {
        tracing::error!(
            guild_id,
            error = format!("{error:#}"),
            "handling GUILD_UPDATE failed"
        );
    }
}

/// GUILD_ROLE_CREATE and GUILD_ROLE_UPDATE: a tracked guild's role as it is now.
pub(super) async fn role_changed(state: &BotState, role: &Role) {
    let guild_id = db_id(role.guild_id.get());
    if !state.tracks(guild_id) {
        return;
    }
    if let Err(error) = collector_state::record_role(&state.pool, guild_id, role).await {
        tracing::warn!(guild_id, %error, "cannot record a role");
    }
}

/// GUILD_ROLE_DELETE: the role is marked deleted.
pub(super) async fn role_deleted(state: &BotState, guild_id: GuildId, role_id: RoleId) {
    let stored = collector_state::record_role_deleted(
        &state.pool,
        db_id(guild_id.get()),
        db_id(role_id.get()),
    )
    .await;
    if let Err(error) = stored {
        tracing::warn!(%error, "cannot record a deleted role");
    }
}

/// CHANNEL_CREATE, CHANNEL_UPDATE and their category twins: a tracked guild's channel as it
/// is now.
pub(super) async fn channel_changed(state: &BotState, channel: &GuildChannel) {
    let guild_id = db_id(channel.guild_id.get());
    if !state.tracks(guild_id) {
        return;
    }
    let stored =
        collector_state::record_channels(&state.pool, guild_id, std::iter::once(channel)).await;
    if let Err(error) = stored {
        tracing::warn!(guild_id, %error, "cannot record a channel");
    }
}

/// CHANNEL_DELETE and CATEGORY_DELETE: the channel is marked deleted.
pub(super) async fn channel_deleted(state: &BotState, channel: &GuildChannel) {
    let stored = collector_state::record_channel_deleted(
        &state.pool,
        db_id(channel.guild_id.get()),
        db_id(channel.id.get()),
    )
    .await;
    if let Err(error) = stored {
        tracing::warn!(%error, "cannot record a deleted channel");
    }
}

/// Records the guild's channels and categories; those no longer listed are marked deleted.
async fn store_channels(state: &BotState, guild: &Guild) -> anyhow::Result<()> {
    let guild_id = db_id(guild.id.get());
    collector_state::record_channels(&state.pool, guild_id, guild.channels.values()).await?;
    let ids: Vec<i64> = guild.channels.keys().map(|id| db_id(id.get())).collect();
    collector_state::record_unlisted_channels_deleted(&state.pool, guild_id, &ids).await?;
    Ok(())
}

/// Records the guild's roles (the admin's picker for the role mapping); roles no longer
/// listed are marked deleted.
async fn store_roles(
    state: &BotState,
    guild_id: i64,
    roles: impl Iterator<Item = &Role>,
) -> anyhow::Result<()> {
    let mut ids = Vec::new();
    for role in roles {
        // @everyone (the guild's own id) maps to nothing useful.
        if db_id(role.id.get()) == guild_id {
            continue;
        }
        collector_state::record_role(&state.pool, guild_id, role).await?;
        ids.push(db_id(role.id.get()));
    }
    collector_state::record_unlisted_roles_deleted(&state.pool, guild_id, &ids).await?;
    Ok(())
}

/// Everything that begins the recording of a guild (its GUILD_CREATE, or an admin turning
/// it on): the member list in chunks, the guild and its voice reconciled, its roles, invites
/// and scheduled events.
async fn start_recording(state: &BotState, ctx: &Context, guild: &Guild) {
    let guild_id = db_id(guild.id.get());
    members::start_sync(state, ctx, guild.id);
    if let Err(error) = on_guild_create(state, guild).await {
        tracing::error!(
            guild_id,
            error = format!("{error:#}"),
            "handling GUILD_CREATE failed"
        );
    }
    if let Err(error) = store_roles(state, guild_id, guild.roles.values()).await {
        tracing::warn!(
            guild_id,
            error = format!("{error:#}"),
            "cannot record the roles"
        );
    }
    if let Err(error) = store_channels(state, guild).await {
        tracing::warn!(
            guild_id,
            error = format!("{error:#}"),
            "cannot record the channels"
        );
    }
    state.load_invites(&ctx.http, guild.id).await;
    if let Err(error) = scheduled::sync_guild_events(state, &ctx.http, guild).await {
        tracing::error!(
            guild_id,
            error = format!("{error:#}"),
            "synchronising the scheduled events failed"
        );
    }
}

/// A guild the bot is in but does not record: only its name, for the admin's list.
async fn store_untracked_guild(state: &BotState, guild_id: i64, name: &str) {
    let stored = collector_state::record_untracked_guild(&state.pool, guild_id, name).await;
    if let Err(error) = stored {
        tracing::warn!(guild_id, %error, "cannot record an untracked guild");
    }
}

/// Follows the admins' decisions while the session runs: a guild turned on is recorded from
/// then on as if it had just become available (member list, voice, roles, invites, events);
/// a guild turned off is no longer watched (its open voice sessions count until now).
pub(super) async fn follow_tracking(
    state: Arc<BotState>,
    interval: Duration,
    stop: CancellationToken,
) {
    let mut ticker = tokio::time::interval(interval);
    ticker.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    loop {
        tokio::select! {
            () = stop.cancelled() => return,
            _ = ticker.tick() => {}
        }
        let applied: Vec<(i64, bool)> = match state.applied.lock() {
            Ok(applied) => applied.iter().map(|(g, t)| (*g, *t)).collect(),
            Err(poisoned) => poisoned
                .into_inner()
                .iter()
                .map(|(g, t)| (*g, *t))
                .collect(),
        };
        for (guild_id, was) in applied {
            let now = state.tracks(guild_id);
            if now == was {
                continue;
            }
            let Some(ctx) = state.context_of(guild_id) else {
                continue;
            };
            state.set_applied(guild_id, now);
            if now {
                let guild = ctx
                    .cache
                    .guild(GuildId::new(guild_id as u64))
                    .map(|guild| guild.clone());
                if let Some(guild) = guild {
                    tracing::info!(guild_id, "recording a guild an admin turned on");
                    start_recording(&state, &ctx, &guild).await;
                }
            } else {
                tracing::info!(guild_id, "no longer recording a guild an admin turned off");
                if state.unmark_observed(guild_id) {
                    stamp_guilds(&state, &[guild_id]).await;
                }
                let name = ctx
                    .cache
                    .guild(GuildId::new(guild_id as u64))
                    .map(|guild| guild.name.clone())
                    .unwrap_or_default();
                store_untracked_guild(&state, guild_id, &name).await;
            }
        }
    }
}

/// Records the guild's name and AFK channel, then reconciles its voice states against the
/// database. Voice is missing for as long as the bot was away: departed users are closed
/// at the guild's previous `observed_until`.
async fn on_guild_create(state: &BotState, guild: &Guild) -> anyhow::Result<()> {
    let now = Utc::now();
    let guild_id = db_id(guild.id.get());
    let last_seen = collector_state::observed_until(&state.pool, guild_id)
        .await
        .context("cannot read the guild's last observation")?;
    let afk_channel_id = guild
        .afk_metadata
        .as_ref()
        .map(|afk| db_id(afk.afk_channel_id.get()));
    store_guild(state, guild_id, &guild.name, afk_channel_id).await?;

    reconcile(
        state,
        guild_id,
        &present_users(guild, &state.rules),
        last_seen,
        now,
    )
    .await?;
    // Only now is the guild known to be watched: stamp it and keep stamping it, unless the
    // connection dropped while reconciling (then the next GUILD_CREATE does it).
    if state.is_connected(guild_id).await {
        stamp_guilds(state, &[guild_id]).await;
        state.mark_observed(guild_id);
    }
    tracing::info!(guild_id, name = %guild.name, "guild available");
    Ok(())
}

/// Stores a guild's name and current AFK channel, and records in bronze when the AFK
/// channel Discord reports is not the one recorded last (the pipeline recomputes the
/// sessions from that moment on).
async fn store_guild(
    state: &BotState,
    guild_id: i64,
    name: &str,
    afk_channel_id: Option<i64>,
) -> anyhow::Result<()> {
    let mut tx = state.pool.begin().await?;
    collector_state::record_tracked_guild(&mut *tx, guild_id, name, afk_channel_id)
        .await
        .context("cannot store the guild")?;
    let recorded: Option<Option<i64>> = sqlx::query_scalar(
        "select afk_channel_id from bronze.discord_afk_channel_changes
         where guild_id = $1 order by observed_at desc, change_id desc limit 1",
    )
    .bind(guild_id)
    .fetch_optional(&mut *tx)
    .await
    .context("cannot read the recorded AFK channel")?;
    let changed = recorded != Some(afk_channel_id);
    if changed {
        sqlx::query(
            "insert into bronze.discord_afk_channel_changes (guild_id, afk_channel_id, observed_at)
             values ($1, $2, now())",
        )
        .bind(guild_id)
        .bind(afk_channel_id)
        .execute(&mut *tx)
        .await
        .context("cannot record the AFK channel")?;
    }
    tx.commit().await.context("cannot store the guild")?;
    if changed && recorded.is_some() {
        tracing::info!(guild_id, ?afk_channel_id, "the guild's AFK channel changed");
    }
    Ok(())
}

/// Keeps the guild's name and AFK channel current when an admin changes them in Discord.
async fn on_guild_update(state: &BotState, guild: &PartialGuild) -> anyhow::Result<()> {
    let afk_channel_id = guild
        .afk_metadata
        .as_ref()
        .map(|afk| db_id(afk.afk_channel_id.get()));
    store_guild(state, db_id(guild.id.get()), &guild.name, afk_channel_id).await
}
