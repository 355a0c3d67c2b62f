//! Voice reconciliation and the observation stamps. On every (re)connect (GUILD_CREATE,
//! RESUMED) the bot compares each tracked guild's current voice states with bronze: sessions
//! that ended while it was away are closed at the last time it saw the guild
//! (`observed_until`), people already in voice get their sessions opened. While connected, a
//! heartbeat stamps `observed_until` on the guilds it watches; READY, GUILD_DELETE and a
//! disconnected shard stop the stamping.

use super::state::BotState;
use super::state::connected_shards;
use super::voice::{VOICE_SOURCE, write_all};
use super::{category_of, collector_state, db_id};
use crate::discord::sequencer::VoicePosition;
use crate::discord::{VoiceEvent, VoiceOrigin};
use crate::metrics::SourceLabels;
use crate::rules::IngestRules;
use anyhow::Context as _;
use chrono::{DateTime, Utc};
use serenity::all::{Context, Guild, Ready, ShardManager, UnavailableGuild};
use std::collections::HashMap;
use std::sync::Arc;
use std::time::Duration;
use tokio_util::sync::CancellationToken;

/// GUILD_DELETE: the guild is no longer watched.
pub(super) async fn guild_delete(state: &BotState, gone: &UnavailableGuild) {
    // Kicked, or the guild became unavailable: the bot watched it until now, and no
    // longer. Open sessions there count until this instant.
    let guild_id = db_id(gone.id.get());
    // Only a guild the bot was watching (reconciled in this session) gets stamped.
    if state.unmark_observed(guild_id) {
        stamp_guilds(state, &[guild_id]).await;
        tracing::info!(guild_id, "guild no longer available");
    }
}

/// READY: a new session on this shard.
pub(super) fn ready(state: &BotState, ready: &Ready) {
    // A new session: the cache may still hold voice states from before the reconnect, so
    // nothing is reconciled here. Each guild is reconciled when its GUILD_CREATE brings
    // the current voice states, and only then stamped again. Only this shard's guilds:
    // the other shards' sessions go on.
    for guild in &ready.guilds {
        state.unmark_observed(db_id(guild.id.get()));
    }
    tracing::info!(
        user = %ready.user.name,
        guilds = ready.guilds.len(),
        "connected to the Discord gateway"
    );
}

/// RESUMED: the shard's session goes on, and what it missed was replayed.
pub(super) async fn resumed(state: &BotState, ctx: &Context) {
    tracing::info!("resumed the Discord gateway session");
    reconcile_cached_guilds(state, ctx).await;
}

/// A user's voice state as the reconciliation compares it.
#[derive(Clone, Copy, Debug)]
pub(super) struct PresentUser {
    user_id: i64,
    channel_id: i64,
    self_mute: bool,
    self_deaf: bool,
}

/// The humans in voice in a guild right now, outside excluded channels, who did not opt out
/// (bots are never counted).
pub(super) fn present_users(guild: &Guild, rules: &IngestRules) -> Vec<PresentUser> {
    let guild_id = db_id(guild.id.get());
    guild
        .voice_states
        .values()
        .filter_map(|state| {
            let channel_id = state.channel_id?;
            if rules.is_excluded(
                guild_id,
                db_id(channel_id.get()),
                category_of(guild, channel_id),
            ) || rules.is_opted_out("discord", &state.user_id.get().to_string())
            {
                return None;
            }
            let is_bot = state
                .member
                .as_ref()
                .or_else(|| guild.members.get(&state.user_id))
                .is_some_and(|member| member.user.bot);
            (!is_bot).then(|| PresentUser {
                user_id: db_id(state.user_id.get()),
                channel_id: db_id(channel_id.get()),
                self_mute: state.self_mute,
                self_deaf: state.self_deaf,
            })
        })
        .collect()
}

/// On RESUMED (Discord replayed what was missed, so the cache is current): reconciles every
/// tracked guild whose voice states the cache knows.
async fn reconcile_cached_guilds(state: &BotState, ctx: &Context) {
    let now = Utc::now();
    for guild_id in ctx.cache.guilds() {
        let id = db_id(guild_id.get());
        // This shard's tracked guilds: another shard resumes (or identifies) on its own.
        let on_this_shard = state
            .context_of(id)
            .is_some_and(|kept| kept.shard_id == ctx.shard_id);
        if !state.tracks(id) || !on_this_shard {
            continue;
        }
        // Copy what is needed so no cache lock is held across an await.
        let Some(present) = ctx
            .cache
            .guild(guild_id)
            .map(|guild| present_users(&guild, &state.rules))
        else {
            continue;
        };
        let result = async {
            let last_seen = collector_state::observed_until(&state.pool, id).await?;
            reconcile(state, id, &present, last_seen, now).await
        }
        .await;
        match result {
            Ok(()) if state.is_connected(id).await => {
                stamp_guilds(state, &[id]).await;
                state.mark_observed(id);
            }
            Ok(()) => {}
            Err(error) => {
                tracing::error!(
                    guild_id = id,
                    error = format!("{error:#}"),
                    "reconciliation failed"
                );
            }
        }
    }
}

/// The product rule for (re)connects: users whose latest stored state is "in a channel"
/// but who are not in voice now get a leave at the time the bot last saw the guild; users
/// in voice now whose stored state differs get their current channel at `now`.
pub(super) async fn reconcile(
    state: &BotState,
    guild_id: i64,
    present: &[PresentUser],
    last_seen: Option<DateTime<Utc>>,
    now: DateTime<Utc>,
) -> anyhow::Result<()> {
    // Everything received before this point must be visible to the query below.
    state.writer()?.flush().await?;
    // Each member's latest event, found by skipping from member to member along the
    // (guild, user, time) index: the cost follows the number of members, not the length of
    // the guild's history.
    let rows: Vec<(i64, Option<i64>, DateTime<Utc>)> = sqlx::query_as(
        "with recursive members as (
             (select user_id from bronze.discord_voice_events
              where guild_id = $1 order by user_id limit 1)
             union all
             select (select e.user_id from bronze.discord_voice_events e
                     where e.guild_id = $1 and e.user_id > m.user_id
                     order by e.user_id limit 1)
             from members m
             where m.user_id is not null
         )
         select m.user_id, latest.channel_id, latest.occurred_at
         from members m
         cross join lateral (
             select e.channel_id, e.occurred_at
             from bronze.discord_voice_events e
             where e.guild_id = $1 and e.user_id = m.user_id
             order by e.occurred_at desc, e.event_id desc
             limit 1
         ) latest
         where m.user_id is not null",
    )
    .bind(guild_id)
    .fetch_all(&state.pool)
    .await
    .context("cannot read the stored voice states")?;
    let stored: HashMap<i64, (Option<i64>, DateTime<Utc>)> = rows
        .into_iter()
        .map(|(user, channel, at)| (user, (channel, at)))
        .collect();
    let present_by_user: HashMap<i64, &PresentUser> =
        present.iter().map(|user| (user.user_id, user)).collect();

    let mut closed = 0_usize;
    let mut opened = 0_usize;
    for (&user_id, &(channel, stored_at)) in &stored {
        if channel.is_none() || present_by_user.contains_key(&user_id) {
            continue;
        }
        // Never before the user's own latest event (the heartbeat may lag behind it).
        let left_at = last_seen.unwrap_or(now).max(stored_at).min(now);
        state
            .writer()?
            .write(VoiceEvent {
                guild_id,
                user_id,
                channel_id: None,
                self_mute: false,
                self_deaf: false,
                origin: VoiceOrigin::Reconcile,
                occurred_at: left_at,
            })
            .await?;
        let unblocked = state
            .sequencer
            .observe(guild_id, user_id, VoicePosition::OUT, left_at);
        write_all(state, unblocked).await;
        closed += 1;
    }
    for user in present {
        let stored_state = stored.get(&user.user_id);
        let stored_channel = stored_state.and_then(|(channel, _)| *channel);
        let position = VoicePosition {
            channel_id: Some(user.channel_id),
            self_mute: user.self_mute,
            self_deaf: user.self_deaf,
        };
        if stored_channel == Some(user.channel_id) {
            // Unchanged: the member's next update continues from here.
            let since = stored_state.map_or(now, |(_, at)| *at);
            let unblocked = state
                .sequencer
                .observe(guild_id, user.user_id, position, since);
            write_all(state, unblocked).await;
            continue;
        }
        if let Some((Some(_), stored_at)) = stored_state {
            // They moved to another channel while the bot was away: the old session ends
            // when the bot last saw the guild, not now.
            let left_at = last_seen.unwrap_or(now).max(*stored_at).min(now);
            if left_at < now {
                state
                    .writer()?
                    .write(VoiceEvent {
                        guild_id,
                        user_id: user.user_id,
                        channel_id: None,
                        self_mute: false,
                        self_deaf: false,
                        origin: VoiceOrigin::Reconcile,
                        occurred_at: left_at,
                    })
                    .await?;
                closed += 1;
            }
        }
        state
            .writer()?
            .write(VoiceEvent {
                guild_id,
                user_id: user.user_id,
                channel_id: Some(user.channel_id),
                self_mute: user.self_mute,
                self_deaf: user.self_deaf,
                origin: VoiceOrigin::Reconcile,
                occurred_at: now,
            })
            .await?;
        let unblocked = state
            .sequencer
            .observe(guild_id, user.user_id, position, now);
        write_all(state, unblocked).await;
        opened += 1;
    }
    state.writer()?.flush().await?;
    state
        .metrics
        .reconciliations
        .get_or_create(&SourceLabels {
            source: VOICE_SOURCE.to_owned(),
        })
        .inc();
    tracing::info!(guild_id, closed, opened, "reconciled voice states");
    Ok(())
}

/// Background loop: while connected, stamps `observed_until = now()` on the guilds seen in
/// this session, so a later reconciliation knows until when the bot was watching. Whenever
/// the shard is not connected (reconnecting, or restarted by serenity) the guilds are
/// forgotten; each is stamped again only after its GUILD_CREATE or RESUMED reconciled it.
/// Logs errors and keeps going.
pub(super) async fn stamp_observed_until(
    state: Arc<BotState>,
    shard_manager: Arc<ShardManager>,
    stop: CancellationToken,
) {
    let mut ticker = tokio::time::interval(state.config.heartbeat.max(Duration::from_millis(10)));
    ticker.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    loop {
        tokio::select! {
            () = stop.cancelled() => return,
            _ = ticker.tick() => {}
        }
        stamp_connected(&state, &shard_manager).await;
    }
}

/// Stamps the observed guilds whose shard is connected; the others are forgotten until
/// their GUILD_CREATE or RESUMED reconciles them again.
pub(super) async fn stamp_connected(state: &BotState, shard_manager: &ShardManager) {
    let connected = connected_shards(shard_manager).await;
    for guild_id in state.observed_guilds() {
        let shard = state.context_of(guild_id).map(|ctx| ctx.shard_id);
        if !shard.is_some_and(|shard| connected.contains(&shard)) {
            state.unmark_observed(guild_id);
        }
    }
    stamp_once(state).await;
}

/// Stamps `observed_until = now()` on the guilds seen in this session.
async fn stamp_once(state: &BotState) {
    let guilds = state.observed_guilds();
    stamp_guilds(state, &guilds).await;
}

/// Stamps `observed_until = now()` on the given guilds.
pub(super) async fn stamp_guilds(state: &BotState, guilds: &[i64]) {
    if guilds.is_empty() {
        return;
    }
    let result = collector_state::record_observed_until(&state.pool, guilds).await;
    if let Err(error) = result {
        tracing::warn!(error = %error, "stamping the guilds' observed_until failed");
    }
}
