//! Voice: VOICE_STATE_UPDATE becomes [`VoiceEvent`] rows in bronze, through the voice steps
//! and the [`VoiceSequencer`] (which puts each member's updates back into gateway order);
//! updates whose predecessor never arrives are written by a background loop.
//!
//! [`VoiceSequencer`]: crate::discord::sequencer::VoiceSequencer

use super::candidates::VoiceCandidate;
use super::state::BotState;
use super::{category_of, db_id};
use crate::discord::sequencer::VoicePosition;
use crate::discord::{VoiceEvent, VoiceOrigin};
use crate::metrics::DropReason;
use crate::rules::IngestRules;
use crate::steps::IngestStep;
use chrono::Utc;
use serenity::all::{Cache, GuildId, VoiceState};
use std::sync::Arc;
use std::time::{Duration, Instant};
use tokio_util::sync::CancellationToken;

/// The `source` label of the bot's voice events in metrics.
pub(super) const VOICE_SOURCE: &str = "discord_voice";

/// How long a voice update waits for the update before it (see
/// [`VoiceSequencer`](crate::discord::sequencer::VoiceSequencer)).
pub(super) const SEQUENCE_WAIT: Duration = Duration::from_millis(500);

/// Keeps excluded channels out of bronze. Entering one is recorded as leaving voice (so the
/// session before it ends there), leaving one as joining the next channel; an update that
/// stays inside excluded channels (mute, deafen, a move between two of them) is dropped.
pub(super) struct ExcludedChannels(pub(super) IngestRules);

impl IngestStep<VoiceCandidate> for ExcludedChannels {
    fn name(&self) -> &'static str {
        "excluded_channels"
    }

    fn apply(&self, candidate: &mut VoiceCandidate) -> Result<(), DropReason> {
        let guild_id = candidate.event.guild_id;
        let excluded = |channel: Option<i64>, category: Option<i64>| {
            channel.is_some_and(|channel| self.0.is_excluded(guild_id, channel, category))
        };
        let now_excluded = excluded(candidate.event.channel_id, candidate.category_id);
        let mut before_excluded = false;
        if let Some((position, category)) = &mut candidate.before
            && excluded(position.channel_id, *category)
        {
            position.channel_id = None;
            before_excluded = true;
        }
        if now_excluded {
            candidate.event.channel_id = None;
            candidate.category_id = None;
            if before_excluded {
                return Err(DropReason::excluded_channel);
            }
        }
        Ok(())
    }
}

/// VOICE_STATE_UPDATE, after serenity's cache update: failures are logged.
pub(super) async fn voice_state_update(
    state: &BotState,
    cache: &Cache,
    old: Option<&VoiceState>,
    new: &VoiceState,
) {
    if let Err(error) = on_voice_state_update(state, cache, old, new).await {
        tracing::error!(
            user_id = new.user_id.get(),
            error = format!("{error:#}"),
            "handling VOICE_STATE_UPDATE failed"
        );
    }
}

/// One voice update as a candidate through the steps and the sequencer to the writer.
pub(super) async fn on_voice_state_update(
    state: &BotState,
    cache: &Cache,
    old: Option<&VoiceState>,
    new: &VoiceState,
) -> anyhow::Result<()> {
    // The receive time is the event time: the gateway does not say when it happened.
    let occurred_at = Utc::now();
    state.metrics.received(VOICE_SOURCE);
    let Some(guild_id) = new.guild_id else {
        // Private calls are not community activity.
        state.metrics.dropped(VOICE_SOURCE, DropReason::untracked);
        return Ok(());
    };
    let category = |channel: Option<serenity::all::ChannelId>| {
        let channel = channel?;
        cache
            .guild(guild_id)
            .and_then(|guild| category_of(&guild, channel))
    };
    let candidate = VoiceCandidate {
        event: VoiceEvent {
            guild_id: db_id(guild_id.get()),
            user_id: db_id(new.user_id.get()),
            channel_id: new.channel_id.map(|channel| db_id(channel.get())),
            self_mute: new.self_mute,
            self_deaf: new.self_deaf,
            origin: VoiceOrigin::Gateway,
            occurred_at,
        },
        category_id: category(new.channel_id),
        // The state serenity's cache held just before this update names its predecessor.
        before: old.map(|old| {
            (
                VoicePosition {
                    channel_id: old.channel_id.map(|channel| db_id(channel.get())),
                    self_mute: old.self_mute,
                    self_deaf: old.self_deaf,
                },
                category(old.channel_id),
            )
        }),
        from_bot: is_bot(cache, guild_id, new),
    };
    let Some(VoiceCandidate { event, before, .. }) = state.steps.run(candidate) else {
        return Ok(());
    };
    let before = before.map(|(position, _)| position);
    let Ok(writer) = state.writer() else {
        // Dispatched just before the session ended: counted, so the metrics add up.
        state.metrics.dropped(VOICE_SOURCE, DropReason::stopping);
        return Ok(());
    };
    for ready in state.sequencer.accept(before, event, Instant::now()) {
        writer.write(ready).await?;
    }
    Ok(())
}

/// Writes updates the sequencer released; a session that ended counts them as `stopping`.
pub(super) async fn write_all(state: &BotState, events: Vec<VoiceEvent>) {
    if events.is_empty() {
        return;
    }
    let Ok(writer) = state.writer() else {
        for _ in events {
            state.metrics.dropped(VOICE_SOURCE, DropReason::stopping);
        }
        return;
    };
    for event in events {
        if let Err(error) = writer.write(event).await {
            tracing::error!(
                error = format!("{error:#}"),
                "writing a voice update failed"
            );
        }
    }
}

/// Background loop: writes voice updates whose predecessor did not arrive in time.
pub(super) async fn write_overdue_updates(state: Arc<BotState>, stop: CancellationToken) {
    let mut ticker = tokio::time::interval(SEQUENCE_WAIT / 2);
    ticker.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    loop {
        tokio::select! {
            () = stop.cancelled() => return,
            _ = ticker.tick() => {}
        }
        let overdue = state.sequencer.overdue(Instant::now());
        if !overdue.is_empty() {
            tracing::debug!(
                updates = overdue.len(),
                "voice updates written without their predecessor"
            );
        }
        write_all(&state, overdue).await;
    }
}

/// Whether a voice state belongs to a bot: from the member in the event, else the cache.
fn is_bot(cache: &Cache, guild_id: GuildId, state: &VoiceState) -> bool {
    if let Some(member) = &state.member {
        return member.user.bot;
    }
    let from_guild = cache.guild(guild_id).and_then(|guild| {
        guild
            .members
            .get(&state.user_id)
            .map(|member| member.user.bot)
    });
    from_guild
        .or_else(|| cache.user(state.user_id).map(|user| user.bot))
        .unwrap_or(false)
}
