//! What the handlers of one gateway session share ([`BotState`]): which guilds are recorded,
//! the shard contexts, the writers (each in a [`WriterSlot`] the session gives up when it
//! ends), the step chains and the guilds being watched.

use super::BotConfig;
use super::candidates::{EventCandidate, MemberCandidate, MessageCandidate, VoiceCandidate};
use super::invite_counts::GuildInvites;
use super::steps::Tracking;
use crate::discord::sequencer::VoiceSequencer;
use crate::discord::{MemberEvent, MessageEvent, ScheduledEventChange, VoiceEvent};
use crate::ingest::IngestWriter;
use crate::metrics::Metrics;
use crate::rules::IngestRules;
use crate::steps::Steps;
use anyhow::anyhow;
use serenity::all::{ConnectionStage, Context, ShardManager};
use sqlx::PgPool;
use std::collections::{HashMap, HashSet};
use std::sync::{Arc, Mutex};

/// What the event handler and the heartbeat loop share during one gateway session.
pub(super) struct BotState {
    /// Which guilds are recorded (configuration and the admins' decisions).
    pub(super) tracking: Tracking,
    /// Per guild the bot has seen in this session, whether it records it now.
    pub(super) applied: Mutex<HashMap<i64, bool>>,
    /// Per guild, the serenity context of its shard (for starting to record a guild an
    /// admin just turned on: its member list is requested on its shard).
    pub(super) contexts: Mutex<HashMap<i64, Context>>,
    pub(super) config: BotConfig,
    pub(super) pool: PgPool,
    /// The voice events' writer, while the session lasts.
    pub(super) writer: WriterSlot<VoiceEvent>,
    pub(super) metrics: Metrics,
    /// Tracked guilds seen (GUILD_CREATE) in this session; the heartbeat stamps these.
    pub(super) observed: Mutex<HashSet<i64>>,
    /// Serenity's shard manager, once the client exists: tells whether the bot is connected.
    pub(super) shard_manager: std::sync::OnceLock<Arc<ShardManager>>,
    /// Puts each member's voice updates back into gateway order.
    pub(super) sequencer: VoiceSequencer,
    /// The steps every voice update passes before the write.
    pub(super) steps: Steps<VoiceCandidate>,
    /// The messages' writer, while the session lasts (taken away like `writer`).
    pub(super) message_writer: WriterSlot<MessageEvent>,
    /// The steps every message passes before the write.
    pub(super) message_steps: Steps<MessageCandidate>,
    /// The member events' writer, while the session lasts.
    pub(super) member_writer: WriterSlot<MemberEvent>,
    /// The steps every member event passes before the write.
    pub(super) member_steps: Steps<MemberCandidate>,
    /// Per guild, the members a running synchronisation has found so far.
    pub(super) member_sync: Mutex<HashMap<i64, HashSet<i64>>>,
    /// The scheduled-event changes' writer, while the session lasts.
    pub(super) event_writer: WriterSlot<ScheduledEventChange>,
    /// The steps every scheduled-event change passes before the write.
    pub(super) event_steps: Steps<EventCandidate>,
    /// Per guild, its invites and their use counts (where members come from).
    pub(super) invites: tokio::sync::Mutex<HashMap<i64, GuildInvites>>,
    /// Excluded channels and opt-outs (reconciliation applies them too).
    pub(super) rules: IngestRules,
}

/// A writer the session holds until it ends, then gives up, so no task serenity leaves
/// behind can keep the writer (and with it the server's shutdown) alive.
pub(super) struct WriterSlot<R>(std::sync::RwLock<Option<IngestWriter<R>>>);

impl<R> WriterSlot<R> {
    /// A slot holding `writer` until [`WriterSlot::release`].
    pub(super) fn new(writer: IngestWriter<R>) -> Self {
        Self(std::sync::RwLock::new(Some(writer)))
    }

    /// The writer, while the session lasts.
    pub(super) fn get(&self) -> Option<IngestWriter<R>> {
        match self.0.read() {
            Ok(guard) => guard.clone(),
            Err(poisoned) => poisoned.into_inner().clone(),
        }
    }

    fn release(&self) {
        match self.0.write() {
            Ok(mut writer) => writer.take(),
            Err(poisoned) => poisoned.into_inner().take(),
        };
    }
}

impl BotState {
    /// Whether the guild is recorded now.
    pub(super) fn tracks(&self, guild_id: i64) -> bool {
        self.tracking.tracks(guild_id)
    }

    /// Notes whether the guild is recorded now (what [`super::guilds::follow_tracking`]
    /// compares the admins' decisions with).
    pub(super) fn set_applied(&self, guild_id: i64, tracked: bool) {
        match self.applied.lock() {
            Ok(mut applied) => applied.insert(guild_id, tracked),
            Err(poisoned) => poisoned.into_inner().insert(guild_id, tracked),
        };
    }

    /// Keeps the context of the guild's shard.
    pub(super) fn keep_context(&self, guild_id: i64, ctx: &Context) {
        match self.contexts.lock() {
            Ok(mut kept) => kept.insert(guild_id, ctx.clone()),
            Err(poisoned) => poisoned.into_inner().insert(guild_id, ctx.clone()),
        };
    }

    /// The context of the guild's shard, once its GUILD_CREATE arrived.
    pub(super) fn context_of(&self, guild_id: i64) -> Option<Context> {
        match self.contexts.lock() {
            Ok(kept) => kept.get(&guild_id).cloned(),
            Err(poisoned) => poisoned.into_inner().get(&guild_id).cloned(),
        }
    }

    /// The voice writer, while the session lasts.
    pub(super) fn writer(&self) -> anyhow::Result<IngestWriter<VoiceEvent>> {
        self.writer
            .get()
            .ok_or_else(|| anyhow!("the Discord session has ended"))
    }

    /// Gives up every writer: the session has ended.
    pub(super) fn release_writers(&self) {
        self.writer.release();
        self.message_writer.release();
        self.member_writer.release();
        self.event_writer.release();
    }

    /// The guilds the heartbeat stamps.
    pub(super) fn observed_guilds(&self) -> Vec<i64> {
        match self.observed.lock() {
            Ok(observed) => observed.iter().copied().collect(),
            Err(poisoned) => poisoned.into_inner().iter().copied().collect(),
        }
    }

    /// Starts stamping a guild.
    pub(super) fn mark_observed(&self, guild_id: i64) {
        match self.observed.lock() {
            Ok(mut observed) => observed.insert(guild_id),
            Err(poisoned) => poisoned.into_inner().insert(guild_id),
        };
    }

    /// Stops stamping a guild; returns whether it was being stamped.
    pub(super) fn unmark_observed(&self, guild_id: i64) -> bool {
        match self.observed.lock() {
            Ok(mut observed) => observed.remove(&guild_id),
            Err(poisoned) => poisoned.into_inner().remove(&guild_id),
        }
    }

    /// Whether the shard of a guild is connected right now.
    pub(super) async fn is_connected(&self, guild_id: i64) -> bool {
        let (Some(manager), Some(ctx)) = (self.shard_manager.get(), self.context_of(guild_id))
        else {
            return false;
        };
        connected_shards(manager).await.contains(&ctx.shard_id)
    }
}

/// The shards serenity is connected on right now. Serenity removes a runner it restarts and
/// records each stage change, so this is the most current view it offers.
pub(super) async fn connected_shards(
    shard_manager: &ShardManager,
) -> HashSet<serenity::all::ShardId> {
    let runners = shard_manager.runners.lock().await;
    runners
        .iter()
        .filter(|(_, runner)| runner.stage == ConnectionStage::Connected)
        .map(|(id, _)| *id)
        .collect()
}
