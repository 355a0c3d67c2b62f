//! The Discord bot (serenity): voice state updates and reconciliation.
//!
//! One [`EventHandler`] matches the gateway events the product needs and hands each to a
//! small handler. Voice state updates become [`VoiceEvent`] rows in bronze; on every
//! (re)connect the bot reconciles the database with the guild's current voice states, so
//! sessions that ended while it was away are closed at the last time it saw the guild and
//! people already in voice get their sessions opened.

mod invites;
mod scheduled;

use crate::Collector;
use crate::discord::sequencer::{VoicePosition, VoiceSequencer};
use crate::discord::{
    MemberEvent, MemberEventKind, MemberOrigin, MessageEvent, ScheduledEventChange, VoiceEvent,
    VoiceOrigin,
};
use crate::ingest::{IngestWriter, SpoolConfig, WriterConfig};
use crate::metrics::{DropReason, Metrics, SourceLabels};
use crate::rules::IngestRules;
use crate::steps::{IngestStep, Steps};
use anyhow::{Context as _, anyhow};
use chrono::{DateTime, Utc};
use futures::FutureExt;
use futures::future::BoxFuture;
use secrecy::{ExposeSecret, SecretString};
use serenity::all::{
    Cache, ClientBuilder, ConnectionStage, Context, EventHandler, GatewayIntents, Guild, GuildId,
    GuildMemberUpdateEvent, GuildMembersChunkEvent, GuildScheduledEventUserAddEvent,
    GuildScheduledEventUserRemoveEvent, HttpBuilder, InviteCreateEvent, InviteDeleteEvent, Member,
    Message, MessageType, PartialGuild, Ready, ResumedEvent, Role, RoleId, ScheduledEvent,
    ShardManager, UnavailableGuild, User, VoiceState,
};
use sqlx::PgPool;
use std::collections::{HashMap, HashSet};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};
use tokio_util::sync::CancellationToken;

/// Discord's real API; any other base (a fake in tests, a proxy) is used through
/// serenity's proxy setting.
const DISCORD_API: &str = "https://discord.com";

/// The `source` label of the bot's voice events in metrics.
const VOICE_SOURCE: &str = "discord_voice";

/// The `source` label of the bot's messages in metrics.
const MESSAGE_SOURCE: &str = "discord_messages";

/// The `source` label of the bot's member events in metrics.
const MEMBER_SOURCE: &str = "discord_members";

/// How long a voice update waits for the update before it (see [`VoiceSequencer`]).
const SEQUENCE_WAIT: Duration = Duration::from_millis(500);

/// How long to wait for serenity to wind its shards down after `shutdown_all`.
const SHUTDOWN_GRACE: Duration = Duration::from_secs(10);

/// How the bot connects and what it records.
#[derive(Clone, Debug)]
pub struct BotConfig {
    /// The bot token; `SecretString` prints as `[REDACTED]`, so no `Debug` can leak it.
    pub token: SecretString,
    /// Base URL of Discord's API (`https://discord.com`); tests point it at a fake.
    pub api_base: String,
    /// Guilds to record; empty records every guild the bot is in.
    pub guilds: Vec<i64>,
    /// How often the bot stamps `app.discord_guilds.observed_until`.
    pub heartbeat: Duration,
    /// How often the bot re-reads excluded channels and opt-outs
    /// ([`crate::rules::REFRESH_INTERVAL`]).
    pub rules_refresh: Duration,
    /// Ask for Discord's (privileged) message-content intent, only to count each message's
    /// characters; the content is dropped at once. Off: `char_count` stays empty.
    pub message_content: bool,
}

impl BotConfig {
    /// The gateway intents the bot asks for. `MESSAGE_CONTENT` only when configured, and
    /// only for the length: Guildhall stores no message content.
    pub fn intents(&self) -> GatewayIntents {
        // GUILD_MEMBERS is privileged too: joins, leaves and the member list need it.
        // GUILD_INVITES: where members come from; GUILD_SCHEDULED_EVENTS: events and who
        // is interested.
        let intents = GatewayIntents::GUILDS
            | GatewayIntents::GUILD_MEMBERS
            | GatewayIntents::GUILD_VOICE_STATES
            | GatewayIntents::GUILD_MESSAGES
            | GatewayIntents::GUILD_INVITES
            | GatewayIntents::GUILD_SCHEDULED_EVENTS;
        if self.message_content {
            intents | GatewayIntents::MESSAGE_CONTENT
        } else {
            intents
        }
    }
}

/// The Discord collector. Each [`Collector::run`] opens one gateway session.
pub struct DiscordBot {
    config: BotConfig,
    pool: PgPool,
    writer: IngestWriter<VoiceEvent>,
    messages: IngestWriter<MessageEvent>,
    members: IngestWriter<MemberEvent>,
    events: IngestWriter<ScheduledEventChange>,
    metrics: Metrics,
    /// Discord refused the privileged intents (close code 4014): later sessions run without
    /// them, so voice (and message counts) keep being recorded.
    privileged_refused: std::sync::atomic::AtomicBool,
}

/// The bot's writers, one per bronze table.
pub struct BotWriters {
    pub voice: IngestWriter<VoiceEvent>,
    pub messages: IngestWriter<MessageEvent>,
    pub members: IngestWriter<MemberEvent>,
    pub events: IngestWriter<ScheduledEventChange>,
}

impl BotWriters {
    /// Starts one writer per bronze table (all with the same batching and spool); returns
    /// them with their tasks, which end once every record is committed or spooled.
    pub fn spawn(
        pool: &PgPool,
        config: WriterConfig,
        metrics: &Metrics,
        spool: Option<SpoolConfig>,
    ) -> (Self, Vec<tokio::task::JoinHandle<()>>) {
        let (voice, voice_task) = IngestWriter::<VoiceEvent>::spawn_with_spool(
            pool.clone(),
            config,
            metrics.clone(),
            spool.clone(),
        );
        let (messages, messages_task) = IngestWriter::<MessageEvent>::spawn_with_spool(
            pool.clone(),
            config,
            metrics.clone(),
            spool.clone(),
        );
        let (members, members_task) = IngestWriter::<MemberEvent>::spawn_with_spool(
            pool.clone(),
            config,
            metrics.clone(),
            spool.clone(),
        );
        let (events, events_task) = IngestWriter::<ScheduledEventChange>::spawn_with_spool(
            pool.clone(),
            config,
            metrics.clone(),
            spool,
        );
        (
            Self {
                voice,
                messages,
                members,
                events,
            },
            vec![voice_task, messages_task, members_task, events_task],
        )
    }
}

impl DiscordBot {
    pub fn new(config: BotConfig, pool: PgPool, writers: BotWriters, metrics: Metrics) -> Self {
        Self {
            config,
            pool,
            writer: writers.voice,
            messages: writers.messages,
            members: writers.members,
            events: writers.events,
            metrics,
            privileged_refused: std::sync::atomic::AtomicBool::new(false),
        }
    }

    /// The intents this session asks for: the configured ones, without the privileged ones
    /// once Discord refused them.
    fn session_intents(&self) -> GatewayIntents {
        let mut intents = self.config.intents();
        if self
            .privileged_refused
            .load(std::sync::atomic::Ordering::Relaxed)
        {
            intents.remove(GatewayIntents::GUILD_MEMBERS | GatewayIntents::MESSAGE_CONTENT);
            tracing::warn!(
                "Discord refused the privileged intents: recording voice and messages without \
                 them (no member list, joins or message lengths; only configured admins and \
                 leaders can sign in) until they are turned on in Discord's developer portal \
                 and Guildhall restarts"
            );
        }
        intents
    }

    /// What the handlers of one gateway session share.
    fn new_state(&self, rules: &IngestRules) -> Arc<BotState> {
        let tracking = Tracking {
            configured: self.config.guilds.clone(),
            rules: rules.clone(),
        };
        Arc::new(BotState {
            tracking: tracking.clone(),
            applied: Mutex::new(HashMap::new()),
            contexts: Mutex::new(HashMap::new()),
            config: self.config.clone(),
            pool: self.pool.clone(),
            writer: WriterSlot::new(self.writer.clone()),
            metrics: self.metrics.clone(),
            observed: Mutex::new(HashSet::new()),
            shard_manager: std::sync::OnceLock::new(),
            sequencer: VoiceSequencer::new(SEQUENCE_WAIT),
            steps: Steps::new(VOICE_SOURCE, self.metrics.clone())
                .then(TrackedGuilds(tracking.clone()))
                .then(NoBots)
                .then(OptedOut(rules.clone()))
                .then(ExcludedChannels(rules.clone())),
            message_writer: WriterSlot::new(self.messages.clone()),
            member_writer: WriterSlot::new(self.members.clone()),
            member_steps: Steps::new(MEMBER_SOURCE, self.metrics.clone())
                .then(TrackedGuilds(tracking.clone()))
                .then(NoBots)
                .then(OptedOut(rules.clone())),
            member_sync: Mutex::new(HashMap::new()),
            message_steps: Steps::new(MESSAGE_SOURCE, self.metrics.clone())
                .then(TrackedGuilds(tracking.clone()))
                .then(NoBots)
                .then(NoSystemMessages)
                .then(OptedOut(rules.clone()))
                .then(ExcludedTextChannels(rules.clone())),
            event_writer: WriterSlot::new(self.events.clone()),
            event_steps: Steps::new(scheduled::EVENT_SOURCE, self.metrics.clone())
                .then(TrackedGuilds(tracking.clone()))
                .then(OptedOut(rules.clone())),
            invites: tokio::sync::Mutex::new(HashMap::new()),
            rules: rules.clone(),
        })
    }

    /// The handlers' path without serenity's gateway (decoding and a task per event): for
    /// the benchmark that tells Guildhall's share of the cost from serenity's.
    #[doc(hidden)]
    pub async fn handler_path(
        &self,
        guild_create: serde_json::Value,
    ) -> anyhow::Result<HandlerPath> {
        let rules = IngestRules::load(&self.pool).await?;
        let state = self.new_state(&rules);
        let cache = Arc::new(Cache::new());
        let mut event: serenity::all::GuildCreateEvent = serde_json::from_value(guild_create)?;
        cache.update(&mut event);
        Ok(HandlerPath { state, cache })
    }

    async fn run_session(&self, shutdown: CancellationToken) -> anyhow::Result<()> {
        // Excluded channels and opt-outs, kept current while the session runs.
        let rules = IngestRules::load(&self.pool)
            .await
            .context("cannot read the excluded channels and opt-outs")?;
        let state = self.new_state(&rules);

        let mut http = HttpBuilder::new(self.config.token.expose_secret());
        let api_base = self.config.api_base.trim_end_matches('/');
        if api_base != DISCORD_API {
            http = http.proxy(api_base).ratelimiter_disabled(true);
        }
        // Users are kept per guild member only; the member list itself is evicted after each
        // synchronisation chunk (see `evict_synced_members`), so memory stays flat as guilds grow.
        let mut cache_settings = serenity::cache::Settings::default();
        cache_settings.cache_users = false;
        let mut client = ClientBuilder::new_with_http(http.build(), self.session_intents())
            .cache_settings(cache_settings)
            .event_handler_arc(Arc::new(VoiceHandler {
                state: Arc::clone(&state),
            }))
            .await
            .context("cannot set up the Discord client")?;
        let shard_manager = Arc::clone(&client.shard_manager);
        let _ = state.shard_manager.set(Arc::clone(&shard_manager));

        let heartbeat = tokio::spawn(stamp_observed_until(
            Arc::clone(&state),
            Arc::clone(&shard_manager),
            shutdown.child_token(),
        ));
        let overdue = tokio::spawn(write_overdue_updates(
            Arc::clone(&state),
            shutdown.child_token(),
        ));
        let follow = tokio::spawn(follow_tracking(
            Arc::clone(&state),
            self.config.rules_refresh,
            shutdown.child_token(),
        ));
        let refresh = tokio::spawn(rules.keep_fresh(
            self.pool.clone(),
            self.config.rules_refresh,
            shutdown.child_token(),
        ));
        let result = {
            // As many shards as Discord recommends (GET /gateway/bot): each guild's events,
            // member requests and reconciliation stay on its own shard.
            let start = client.start_autosharded();
            tokio::pin!(start);
            tokio::select! {
                result = &mut start => match result {
                    Ok(()) => Err(anyhow!("the Discord gateway connection ended unexpectedly")),
                    Err(error) => {
                        if matches!(
                            error,
                            serenity::Error::Gateway(serenity::all::GatewayError::DisallowedGatewayIntents)
                        ) {
                            self.privileged_refused
                                .store(true, std::sync::atomic::Ordering::Relaxed);
                        }
                        Err(explain_gateway_error(anyhow!(error)))
                    }
                },
                () = shutdown.cancelled() => {
                    tracing::info!("stopping the Discord bot");
                    // The bot watched the guilds of its connected shards until this moment.
                    stamp_connected(&state, &shard_manager).await;
                    shard_manager.shutdown_all().await;
                    if tokio::time::timeout(SHUTDOWN_GRACE, &mut start).await.is_err() {
                        tracing::warn!("the Discord client did not stop in time");
                    }
                    Ok(())
                }
            }
        };
        heartbeat.abort();
        overdue.abort();
        refresh.abort();
        follow.abort();
        // Updates still waiting for a predecessor are written as they are.
        write_all(&state, state.sequencer.drain()).await;
        state.release_writers();
        // Whatever the outcome, the events received so far belong in bronze.
        self.writer
            .flush()
            .await
            .context("cannot flush the voice events")?;
        self.messages
            .flush()
            .await
            .context("cannot flush the messages")?;
        self.members
            .flush()
            .await
            .context("cannot flush the member events")?;
        self.events
            .flush()
            .await
            .context("cannot flush the scheduled-event changes")?;
        result
    }
}

/// The handlers as serenity would call them, each after its cache update (see
/// [`DiscordBot::handler_path`]).
#[doc(hidden)]
pub struct HandlerPath {
    state: Arc<BotState>,
    cache: Arc<Cache>,
}

#[doc(hidden)]
impl HandlerPath {
    pub async fn voice(
        &self,
        mut update: serenity::all::VoiceStateUpdateEvent,
    ) -> anyhow::Result<()> {
        let old = self.cache.update(&mut update);
        on_voice_state_update(&self.state, &self.cache, old.as_ref(), &update.voice_state).await
    }

    pub async fn message(&self, message: Message) -> anyhow::Result<()> {
        on_message(&self.state, &self.cache, message).await
    }

    pub async fn member_update(&self, update: &GuildMemberUpdateEvent) -> anyhow::Result<()> {
        on_member_update(&self.state, update).await
    }

    /// Writes what the voice sequencer still holds and lets go of the writers.
    pub async fn finish(self) {
        write_all(&self.state, self.state.sequencer.drain()).await;
        self.state.release_writers();
    }
}

/// The gateway failure as the admin page shows it: Discord refusing the privileged intents
/// says which switches to turn on in the developer portal.
fn explain_gateway_error(error: anyhow::Error) -> anyhow::Error {
    let text = format!("{error:#}").to_lowercase();
    if text.contains("intent") {
        error.context(
            "Discord refused the bot's intents: turn on Server Members Intent (and Message Content \
             Intent when GUILDHALL_DISCORD__MESSAGE_CONTENT is on) for the bot in Discord's developer portal",
        )
    } else {
        error.context("the Discord gateway connection failed")
    }
}

impl Collector for DiscordBot {
    fn name(&self) -> &'static str {
        "discord"
    }

    fn run(&self, shutdown: CancellationToken) -> BoxFuture<'_, anyhow::Result<()>> {
        self.run_session(shutdown).boxed()
    }
}

/// What the event handler and the heartbeat loop share during one gateway session.
struct BotState {
    /// Which guilds are recorded (configuration and the admins' decisions).
    tracking: Tracking,
    /// Per guild the bot has seen in this session, whether it records it now.
    applied: Mutex<HashMap<i64, bool>>,
    /// Per guild, the serenity context of its shard (for starting to record a guild an
    /// admin just turned on: its member list is requested on its shard).
    contexts: Mutex<HashMap<i64, Context>>,
    config: BotConfig,
    pool: PgPool,
    /// The voice events' writer, while the session lasts.
    writer: WriterSlot<VoiceEvent>,
    metrics: Metrics,
    /// Tracked guilds seen (GUILD_CREATE) in this session; the heartbeat stamps these.
    observed: Mutex<HashSet<i64>>,
    /// Serenity's shard manager, once the client exists: tells whether the bot is connected.
    shard_manager: std::sync::OnceLock<Arc<ShardManager>>,
    /// Puts each member's voice updates back into gateway order.
    sequencer: VoiceSequencer,
    /// The steps every voice update passes before the write.
    steps: Steps<VoiceCandidate>,
    /// The messages' writer, while the session lasts (taken away like `writer`).
    message_writer: WriterSlot<MessageEvent>,
    /// The steps every message passes before the write.
    message_steps: Steps<MessageCandidate>,
    /// The member events' writer, while the session lasts.
    member_writer: WriterSlot<MemberEvent>,
    /// The steps every member event passes before the write.
    member_steps: Steps<MemberCandidate>,
    /// Per guild, the members a running synchronisation has found so far.
    member_sync: Mutex<HashMap<i64, HashSet<i64>>>,
    /// The scheduled-event changes' writer, while the session lasts.
    event_writer: WriterSlot<ScheduledEventChange>,
    /// The steps every scheduled-event change passes before the write.
    event_steps: Steps<scheduled::EventCandidate>,
    /// Per guild, its invites and their use counts (where members come from).
    invites: tokio::sync::Mutex<HashMap<i64, invites::GuildInvites>>,
    /// Excluded channels and opt-outs (reconciliation applies them too).
    rules: IngestRules,
}

/// A voice update on its way to bronze, with what the steps judge it by.
struct VoiceCandidate {
    event: VoiceEvent,
    /// The category of the event's channel (from serenity's cache).
    category_id: Option<i64>,
    /// The member's state just before this update, as serenity's cache held it, and the
    /// category of its channel: what the sequencer orders updates by.
    before: Option<(VoicePosition, Option<i64>)>,
    /// The account is a bot (from the event's member, else serenity's cache).
    from_bot: bool,
}

/// What the general steps judge a Discord record by.
trait Candidate: Send + Sync {
    fn guild_id(&self) -> i64;
    fn account_id(&self) -> i64;
    fn is_bot(&self) -> bool;
}

impl Candidate for VoiceCandidate {
    fn guild_id(&self) -> i64 {
        self.event.guild_id
    }
    fn account_id(&self) -> i64 {
        self.event.user_id
    }
    fn is_bot(&self) -> bool {
        self.from_bot
    }
}

/// A message on its way to bronze. Its content was counted (with the message-content
/// intent) and dropped before this exists.
struct MessageCandidate {
    event: MessageEvent,
    /// The category of the channel (for a thread: of its parent channel).
    category_id: Option<i64>,
    /// Sent by a bot account, or through a webhook.
    from_bot: bool,
    /// A system message (joins, boosts, pins, thread notices…), not something a member wrote.
    is_system: bool,
}

impl Candidate for MessageCandidate {
    fn guild_id(&self) -> i64 {
        self.event.guild_id
    }
    fn account_id(&self) -> i64 {
        self.event.author_id
    }
    fn is_bot(&self) -> bool {
        self.from_bot
    }
}

/// A member event on its way to bronze.
struct MemberCandidate {
    event: MemberEvent,
    from_bot: bool,
}

impl Candidate for MemberCandidate {
    fn guild_id(&self) -> i64 {
        self.event.guild_id
    }
    fn account_id(&self) -> i64 {
        self.event.user_id
    }
    fn is_bot(&self) -> bool {
        self.from_bot
    }
}

/// Drops system messages: only what members wrote is chat activity.
struct NoSystemMessages;

impl IngestStep<MessageCandidate> for NoSystemMessages {
    fn name(&self) -> &'static str {
        "no_system_messages"
    }

    fn apply(&self, candidate: &mut MessageCandidate) -> Result<(), DropReason> {
        if candidate.is_system {
            Err(DropReason::system)
        } else {
            Ok(())
        }
    }
}

/// Drops messages in excluded channels, or in threads of excluded channels, or in excluded
/// categories.
struct ExcludedTextChannels(IngestRules);

impl IngestStep<MessageCandidate> for ExcludedTextChannels {
    fn name(&self) -> &'static str {
        "excluded_channels"
    }

    fn apply(&self, candidate: &mut MessageCandidate) -> Result<(), DropReason> {
        let event = &candidate.event;
        let excluded = self
            .0
            .is_excluded(event.guild_id, event.channel_id, candidate.category_id)
            || event.parent_channel_id.is_some_and(|parent| {
                self.0
                    .is_excluded(event.guild_id, parent, candidate.category_id)
            });
        if excluded {
            Err(DropReason::excluded_channel)
        } else {
            Ok(())
        }
    }
}

/// The one rule: an empty list tracks every guild the bot is in.
fn tracks(guilds: &[i64], guild_id: i64) -> bool {
    guilds.is_empty() || guilds.contains(&guild_id)
}

/// Drops updates from guilds the configuration does not track.
/// The configured guilds and the admins' decisions: which guilds are recorded now.
#[derive(Clone)]
struct Tracking {
    configured: Vec<i64>,
    rules: IngestRules,
}

impl Tracking {
    /// An admin's decision wins; without one, the configuration (every guild when empty).
    fn tracks(&self, guild_id: i64) -> bool {
        self.rules
            .tracking(guild_id)
            .unwrap_or_else(|| tracks(&self.configured, guild_id))
    }
}

struct TrackedGuilds(Tracking);

impl<C: Candidate> IngestStep<C> for TrackedGuilds {
    fn name(&self) -> &'static str {
        "tracked_guilds"
    }

    fn apply(&self, candidate: &mut C) -> Result<(), DropReason> {
        if self.0.tracks(candidate.guild_id()) {
            Ok(())
        } else {
            Err(DropReason::untracked)
        }
    }
}

/// Drops updates of bot accounts: bots are never counted.
struct NoBots;

impl<C: Candidate> IngestStep<C> for NoBots {
    fn name(&self) -> &'static str {
        "no_bots"
    }

    fn apply(&self, candidate: &mut C) -> Result<(), DropReason> {
        if candidate.is_bot() {
            Err(DropReason::bot)
        } else {
            Ok(())
        }
    }
}

/// Drops the updates of people who opted out.
struct OptedOut(IngestRules);

impl<C: Candidate> IngestStep<C> for OptedOut {
    fn name(&self) -> &'static str {
        "opted_out"
    }

    fn apply(&self, candidate: &mut C) -> Result<(), DropReason> {
        if self
            .0
            .is_opted_out("discord", &candidate.account_id().to_string())
        {
            Err(DropReason::opted_out)
        } else {
            Ok(())
        }
    }
}

/// Keeps excluded channels out of bronze. Entering one is recorded as leaving voice (so the
/// session before it ends there), leaving one as joining the next channel; an update that
/// stays inside excluded channels (mute, deafen, a move between two of them) is dropped.
struct ExcludedChannels(IngestRules);

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

/// A writer the session holds until it ends, then gives up, so no task serenity leaves
/// behind can keep the writer (and with it the server's shutdown) alive.
struct WriterSlot<R>(std::sync::RwLock<Option<IngestWriter<R>>>);

impl<R> WriterSlot<R> {
    fn new(writer: IngestWriter<R>) -> Self {
        Self(std::sync::RwLock::new(Some(writer)))
    }

    /// The writer, while the session lasts.
    fn get(&self) -> Option<IngestWriter<R>> {
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
    fn tracks(&self, guild_id: i64) -> bool {
        self.tracking.tracks(guild_id)
    }

    fn set_applied(&self, guild_id: i64, tracked: bool) {
        match self.applied.lock() {
            Ok(mut applied) => applied.insert(guild_id, tracked),
            Err(poisoned) => poisoned.into_inner().insert(guild_id, tracked),
        };
    }

    fn keep_context(&self, guild_id: i64, ctx: &Context) {
        match self.contexts.lock() {
            Ok(mut kept) => kept.insert(guild_id, ctx.clone()),
            Err(poisoned) => poisoned.into_inner().insert(guild_id, ctx.clone()),
        };
    }

    fn context_of(&self, guild_id: i64) -> Option<Context> {
        match self.contexts.lock() {
            Ok(kept) => kept.get(&guild_id).cloned(),
            Err(poisoned) => poisoned.into_inner().get(&guild_id).cloned(),
        }
    }

    /// The voice writer, while the session lasts.
    fn writer(&self) -> anyhow::Result<IngestWriter<VoiceEvent>> {
        self.writer
            .get()
            .ok_or_else(|| anyhow!("the Discord session has ended"))
    }

    fn release_writers(&self) {
        self.writer.release();
        self.message_writer.release();
        self.member_writer.release();
        self.event_writer.release();
    }

    /// Runs a member event through the steps and writes it.
    async fn write_member(&self, candidate: MemberCandidate) -> anyhow::Result<()> {
        self.metrics.received(MEMBER_SOURCE);
        let Some(MemberCandidate { event, .. }) = self.member_steps.run(candidate) else {
            return Ok(());
        };
        let Some(writer) = self.member_writer.get() else {
            self.metrics.dropped(MEMBER_SOURCE, DropReason::stopping);
            return Ok(());
        };
        writer.write(event).await?;
        Ok(())
    }

    fn observed_guilds(&self) -> Vec<i64> {
        match self.observed.lock() {
            Ok(observed) => observed.iter().copied().collect(),
            Err(poisoned) => poisoned.into_inner().iter().copied().collect(),
        }
    }

    fn mark_observed(&self, guild_id: i64) {
        match self.observed.lock() {
            Ok(mut observed) => observed.insert(guild_id),
            Err(poisoned) => poisoned.into_inner().insert(guild_id),
        };
    }

    /// Stops stamping a guild; returns whether it was being stamped.
    fn unmark_observed(&self, guild_id: i64) -> bool {
        match self.observed.lock() {
            Ok(mut observed) => observed.remove(&guild_id),
            Err(poisoned) => poisoned.into_inner().remove(&guild_id),
        }
    }

    /// Whether the shard of a guild is connected right now.
    async fn is_connected(&self, guild_id: i64) -> bool {
        let (Some(manager), Some(ctx)) = (self.shard_manager.get(), self.context_of(guild_id))
        else {
            return false;
        };
        connected_shards(manager).await.contains(&ctx.shard_id)
    }
}

/// Discord ids are snowflakes below 2^63 (until the year 2084), so they fit PostgreSQL's
/// `bigint`.
fn db_id(id: u64) -> i64 {
    id as i64
}

/// A user's voice state as the reconciliation compares it.
#[derive(Clone, Copy, Debug)]
struct PresentUser {
    user_id: i64,
    channel_id: i64,
    self_mute: bool,
    self_deaf: bool,
}

/// The humans in voice in a guild right now, outside excluded channels, who did not opt out
/// (bots are never counted).
fn present_users(guild: &Guild, rules: &IngestRules) -> Vec<PresentUser> {
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

struct VoiceHandler {
    state: Arc<BotState>,
}

impl VoiceHandler {
    async fn on_role(&self, role: Role) {
        let guild_id = db_id(role.guild_id.get());
        if !self.state.tracks(guild_id) {
            return;
        }
        if let Err(error) = upsert_role(&self.state.pool, guild_id, &role).await {
            tracing::warn!(guild_id, %error, "cannot record a role");
        }
    }

    async fn on_scheduled_event(&self, event: &ScheduledEvent, change: &str) {
        let change = scheduled::event_change(event, change, "gateway", Utc::now());
        if let Err(error) = self.state.write_event_change(change).await {
            tracing::error!(
                error = format!("{error:#}"),
                "handling a scheduled-event change failed"
            );
        }
    }

    async fn on_interest(&self, guild_id: GuildId, event_id: u64, user_id: u64, change: &str) {
        let change = scheduled::interest_change(
            db_id(guild_id.get()),
            db_id(event_id),
            db_id(user_id),
            change,
            "gateway",
            Utc::now(),
        );
        if let Err(error) = self.state.write_event_change(change).await {
            tracing::error!(
                error = format!("{error:#}"),
                "handling a scheduled-event interest failed"
            );
        }
    }
}

async fn upsert_role(pool: &PgPool, guild_id: i64, role: &Role) -> sqlx::Result<()> {
    sqlx::query(
        "insert into app.discord_roles (guild_id, role_id, name, position, deleted, updated_at)
         values ($1, $2, $3, $4, false, now())
         on conflict (guild_id, role_id) do update
             set name = excluded.name, position = excluded.position, deleted = false,
                 updated_at = excluded.updated_at",
    )
    .bind(guild_id)
    .bind(db_id(role.id.get()))
    .bind(&role.name)
    .bind(i32::from(role.position))
    .execute(pool)
    .await?;
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
        upsert_role(&state.pool, guild_id, role).await?;
        ids.push(db_id(role.id.get()));
    }
    sqlx::query(
        "update app.discord_roles set deleted = true, updated_at = now()
         where guild_id = $1 and not deleted and not (role_id = any($2))",
    )
    .bind(guild_id)
    .bind(&ids)
    .execute(&state.pool)
    .await?;
    Ok(())
}

#[serenity::async_trait]
impl EventHandler for VoiceHandler {
    async fn guild_create(&self, ctx: Context, guild: Guild, _is_new: Option<bool>) {
        let guild_id = db_id(guild.id.get());
        self.state.keep_context(guild_id, &ctx);
        if !self.state.tracks(guild_id) {
            tracing::debug!(guild_id, "not recording an untracked guild");
            self.state.set_applied(guild_id, false);
            store_untracked_guild(&self.state, guild_id, &guild.name).await;
            return;
        }
        self.state.set_applied(guild_id, true);
        start_recording(&self.state, &ctx, &guild).await;
    }
    async fn guild_role_create(&self, _ctx: Context, role: Role) {
        self.on_role(role).await;
    }

    async fn guild_role_update(&self, _ctx: Context, _old: Option<Role>, role: Role) {
        self.on_role(role).await;
    }

    async fn guild_role_delete(
        &self,
        _ctx: Context,
        guild_id: GuildId,
        role_id: RoleId,
        _removed: Option<Role>,
    ) {
        let stored = sqlx::query(
            "update app.discord_roles set deleted = true, updated_at = now()
             where guild_id = $1 and role_id = $2",
        )
        .bind(db_id(guild_id.get()))
        .bind(db_id(role_id.get()))
        .execute(&self.state.pool)
        .await;
        if let Err(error) = stored {
            tracing::warn!(%error, "cannot record a deleted role");
        }
    }

    async fn guild_scheduled_event_create(&self, _ctx: Context, event: ScheduledEvent) {
        self.on_scheduled_event(&event, "create").await;
    }

    async fn guild_scheduled_event_update(&self, _ctx: Context, event: ScheduledEvent) {
        self.on_scheduled_event(&event, "update").await;
    }

    async fn guild_scheduled_event_delete(&self, _ctx: Context, event: ScheduledEvent) {
        self.on_scheduled_event(&event, "delete").await;
    }

    async fn guild_scheduled_event_user_add(
        &self,
        _ctx: Context,
        subscribed: GuildScheduledEventUserAddEvent,
    ) {
        self.on_interest(
            subscribed.guild_id,
            subscribed.scheduled_event_id.get(),
            subscribed.user_id.get(),
            "user_add",
        )
        .await;
    }

    async fn guild_scheduled_event_user_remove(
        &self,
        _ctx: Context,
        unsubscribed: GuildScheduledEventUserRemoveEvent,
    ) {
        self.on_interest(
            unsubscribed.guild_id,
            unsubscribed.scheduled_event_id.get(),
            unsubscribed.user_id.get(),
            "user_remove",
        )
        .await;
    }

    async fn invite_create(&self, _ctx: Context, data: InviteCreateEvent) {
        self.state.on_invite_create(&data).await;
    }

    async fn invite_delete(&self, _ctx: Context, data: InviteDeleteEvent) {
        self.state.on_invite_delete(&data).await;
    }

    async fn guild_update(&self, _ctx: Context, _old: Option<Guild>, new: PartialGuild) {
        let guild_id = db_id(new.id.get());
        if !self.state.tracks(guild_id) {
            return;
        }
        if let Err(error) = on_guild_update(&self.state, &new).await {
            tracing::error!(
                guild_id,
                error = format!("{error:#}"),
                "handling GUILD_UPDATE failed"
            );
        }
    }

    async fn voice_state_update(&self, ctx: Context, old: Option<VoiceState>, new: VoiceState) {
        if let Err(error) = on_voice_state_update(&self.state, &ctx.cache, old.as_ref(), &new).await
        {
            tracing::error!(
                user_id = new.user_id.get(),
                error = format!("{error:#}"),
                "handling VOICE_STATE_UPDATE failed"
            );
        }
    }

    async fn guild_delete(&self, _ctx: Context, gone: UnavailableGuild, _full: Option<Guild>) {
        // Kicked, or the guild became unavailable: the bot watched it until now, and no
        // longer. Open sessions there count until this instant.
        let guild_id = db_id(gone.id.get());
        // Only a guild the bot was watching (reconciled in this session) gets stamped.
        if self.state.unmark_observed(guild_id) {
            stamp_guilds(&self.state, &[guild_id]).await;
            tracing::info!(guild_id, "guild no longer available");
        }
    }

    async fn ready(&self, _ctx: Context, ready: Ready) {
        // A new session: the cache may still hold voice states from before the reconnect, so
        // nothing is reconciled here. Each guild is reconciled when its GUILD_CREATE brings
        // the current voice states, and only then stamped again. Only this shard's guilds:
        // the other shards' sessions go on.
        for guild in &ready.guilds {
            self.state.unmark_observed(db_id(guild.id.get()));
        }
        tracing::info!(
            user = %ready.user.name,
            guilds = ready.guilds.len(),
            "connected to the Discord gateway"
        );
    }

    async fn guild_member_addition(&self, ctx: Context, member: Member) {
        let mut candidate = member_candidate(&member, MemberEventKind::Join, MemberOrigin::Gateway);
        // Every join takes its use off the invite counts, also those the steps drop.
        if self.state.tracks(db_id(member.guild_id.get())) {
            candidate.event.source =
                Some(self.state.attribute_join(&ctx.http, member.guild_id).await);
        }
        if let Err(error) = self.state.write_member(candidate).await {
            tracing::error!(
                error = format!("{error:#}"),
                "handling GUILD_MEMBER_ADD failed"
            );
        }
    }

    async fn guild_member_removal(
        &self,
        _ctx: Context,
        guild_id: GuildId,
        user: User,
        _member: Option<Member>,
    ) {
        let candidate = MemberCandidate {
            event: MemberEvent {
                guild_id: db_id(guild_id.get()),
                user_id: db_id(user.id.get()),
                kind: MemberEventKind::Leave,
                joined_at: None,
                roles: Vec::new(),
                nickname: None,
                pending: false,
                origin: MemberOrigin::Gateway,
                observed_at: Utc::now(),
                source: None,
            },
            from_bot: user.bot,
        };
        if let Err(error) = self.state.write_member(candidate).await {
            tracing::error!(
                error = format!("{error:#}"),
                "handling GUILD_MEMBER_REMOVE failed"
            );
        }
    }

    async fn guild_member_update(
        &self,
        _ctx: Context,
        _old: Option<Member>,
        _new: Option<Member>,
        event: GuildMemberUpdateEvent,
    ) {
        if let Err(error) = on_member_update(&self.state, &event).await {
            tracing::error!(
                error = format!("{error:#}"),
                "handling GUILD_MEMBER_UPDATE failed"
            );
        }
    }

    async fn guild_members_chunk(&self, ctx: Context, chunk: GuildMembersChunkEvent) {
        evict_synced_members(&ctx, &chunk);
        if let Err(error) = on_members_chunk(&self.state, chunk).await {
            tracing::error!(
                error = format!("{error:#}"),
                "handling GUILD_MEMBERS_CHUNK failed"
            );
        }
    }

    async fn message(&self, ctx: Context, message: Message) {
        if let Err(error) = on_message(&self.state, &ctx.cache, message).await {
            // The error names no content: the message was reduced to metadata first.
            tracing::error!(
                error = format!("{error:#}"),
                "handling MESSAGE_CREATE failed"
            );
        }
    }

    async fn resume(&self, ctx: Context, _event: ResumedEvent) {
        tracing::info!("resumed the Discord gateway session");
        reconcile_cached_guilds(&self.state, &ctx).await;
    }
}

/// Everything that begins the recording of a guild (its GUILD_CREATE, or an admin turning
/// it on): the member list in chunks, the guild and its voice reconciled, its roles, invites
/// and scheduled events.
async fn start_recording(state: &BotState, ctx: &Context, guild: &Guild) {
    let guild_id = db_id(guild.id.get());
    // The whole member list, in chunks: join dates of members who joined before the
    // bot, and who left while it was away.
    match state.member_sync.lock() {
        Ok(mut sync) => sync.insert(guild_id, HashSet::new()),
        Err(poisoned) => poisoned.into_inner().insert(guild_id, HashSet::new()),
    };
    ctx.shard.chunk_guild(
        guild.id,
        None,
        false,
        serenity::all::ChunkGuildFilter::None,
        None,
    );
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
    let stored = sqlx::query(
        "insert into app.discord_guilds (guild_id, name, tracked, updated_at)
         values ($1, $2, false, now())
         on conflict (guild_id) do update
             set name = excluded.name, tracked = false, updated_at = excluded.updated_at",
    )
    .bind(guild_id)
    .bind(name)
    .execute(&state.pool)
    .await;
    if let Err(error) = stored {
        tracing::warn!(guild_id, %error, "cannot record an untracked guild");
    }
}

/// Follows the admins' decisions while the session runs: a guild turned on is recorded from
/// then on as if it had just become available (member list, voice, roles, invites, events);
/// a guild turned off is no longer watched (its open voice sessions count until now).
async fn follow_tracking(state: Arc<BotState>, interval: Duration, stop: CancellationToken) {
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
    let last_seen: Option<DateTime<Utc>> =
        sqlx::query_scalar("select observed_until from app.discord_guilds where guild_id = $1")
            .bind(guild_id)
            .fetch_optional(&state.pool)
            .await
            .context("cannot read the guild's last observation")?
            .flatten();
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
    sqlx::query(
        "insert into app.discord_guilds (guild_id, name, afk_channel_id, tracked, updated_at)
         values ($1, $2, $3, true, now())
         on conflict (guild_id) do update
             set name = excluded.name,
                 afk_channel_id = excluded.afk_channel_id,
                 tracked = true,
                 updated_at = excluded.updated_at",
    )
    .bind(guild_id)
    .bind(name)
    .bind(afk_channel_id)
    .execute(&mut *tx)
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

async fn on_voice_state_update(
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

/// An instant of serenity's (RFC 3339 underneath) as chrono's.
fn instant(at: &serenity::all::Timestamp) -> Option<DateTime<Utc>> {
    let text = at.to_rfc3339()?;
    DateTime::parse_from_rfc3339(&text)
        .ok()
        .map(|at| at.with_timezone(&Utc))
}

/// A member as a join (GUILD_MEMBER_ADD) or as found present by a synchronisation. Both are
/// stamped with the join instant, so the same join seen twice is stored once.
fn member_candidate(
    member: &Member,
    kind: MemberEventKind,
    origin: MemberOrigin,
) -> MemberCandidate {
    let joined_at = member.joined_at.as_ref().and_then(instant);
    MemberCandidate {
        event: MemberEvent {
            guild_id: db_id(member.guild_id.get()),
            user_id: db_id(member.user.id.get()),
            kind,
            joined_at,
            roles: member.roles.iter().map(|role| db_id(role.get())).collect(),
            nickname: member.nick.clone(),
            pending: member.pending,
            origin,
            observed_at: joined_at.unwrap_or_else(Utc::now),
            source: None,
        },
        from_bot: member.user.bot,
    }
}

/// Takes the members of a synchronisation chunk out of serenity's cache again (serenity keeps
/// every member it is sent, which for a guild of 100,000 would be most of the bot's memory);
/// members in voice stay, as the reconciliation and the bot check read them. Serenity has no
/// setting for this: its own removal (GUILD_MEMBER_REMOVE's cache update) does it.
fn evict_synced_members(ctx: &Context, chunk: &GuildMembersChunkEvent) {
    let in_voice: HashSet<serenity::all::UserId> = ctx
        .cache
        .guild(chunk.guild_id)
        .map(|guild| guild.voice_states.keys().copied().collect())
        .unwrap_or_default();
    for member in chunk.members.values() {
        if in_voice.contains(&member.user.id) {
            continue;
        }
        let removal = serde_json::json!({
            "guild_id": chunk.guild_id.to_string(),
            "user": { "id": member.user.id.to_string(), "username": "", "discriminator": "0" },
        });
        match serde_json::from_value::<serenity::all::GuildMemberRemoveEvent>(removal) {
            Ok(mut removal) => {
                ctx.cache.update(&mut removal);
            }
            Err(error) => {
                tracing::debug!(%error, "cannot evict a synchronised member from the cache");
                return;
            }
        }
    }
}

/// A member's update (roles, nickname, pending) as one bronze row.
async fn on_member_update(state: &BotState, event: &GuildMemberUpdateEvent) -> anyhow::Result<()> {
    let candidate = MemberCandidate {
        event: MemberEvent {
            guild_id: db_id(event.guild_id.get()),
            user_id: db_id(event.user.id.get()),
            kind: MemberEventKind::Update,
            joined_at: instant(&event.joined_at),
            roles: event.roles.iter().map(|role| db_id(role.get())).collect(),
            nickname: event.nick.clone(),
            pending: event.pending,
            origin: MemberOrigin::Gateway,
            observed_at: Utc::now(),
            source: None,
        },
        from_bot: event.user.bot,
    };
    state.write_member(candidate).await
}

/// One chunk of a member-list synchronisation: every member in it is recorded as present
/// (stored once per join); after the last chunk, members the database still counts but the
/// list no longer holds get a leave, stamped when the bot noticed.
async fn on_members_chunk(state: &BotState, chunk: GuildMembersChunkEvent) -> anyhow::Result<()> {
    let guild_id = db_id(chunk.guild_id.get());
    let last = chunk.chunk_index + 1 >= chunk.chunk_count;
    for member in chunk.members.values() {
        let user_id = db_id(member.user.id.get());
        match state.member_sync.lock() {
            Ok(mut sync) => sync.entry(guild_id).or_default().insert(user_id),
            Err(poisoned) => poisoned
                .into_inner()
                .entry(guild_id)
                .or_default()
                .insert(user_id),
        };
        state
            .write_member(member_candidate(
                member,
                MemberEventKind::Present,
                MemberOrigin::Sync,
            ))
            .await?;
    }
    if !last {
        return Ok(());
    }
    let found = match state.member_sync.lock() {
        Ok(mut sync) => sync.remove(&guild_id),
        Err(poisoned) => poisoned.into_inner().remove(&guild_id),
    }
    .unwrap_or_default();
    // Everything written so far must be visible to the query.
    if let Some(writer) = state.member_writer.get() {
        writer.flush().await?;
    }
    let current: Vec<i64> = sqlx::query_scalar(
        "select user_id from (
             select distinct on (user_id) user_id, kind
             from bronze.discord_member_events
             where guild_id = $1
             order by user_id, observed_at desc, event_id desc
         ) latest
         where kind <> 'leave'",
    )
    .bind(guild_id)
    .fetch_all(&state.pool)
    .await
    .context("cannot read the recorded members")?;
    let now = Utc::now();
    let mut noticed = 0_usize;
    for user_id in current.into_iter().filter(|user| !found.contains(user)) {
        state
            .write_member(MemberCandidate {
                event: MemberEvent {
                    guild_id,
                    user_id,
                    kind: MemberEventKind::Leave,
                    joined_at: None,
                    roles: Vec::new(),
                    nickname: None,
                    pending: false,
                    origin: MemberOrigin::Sync,
                    observed_at: now,
                    source: None,
                },
                from_bot: false,
            })
            .await?;
        noticed += 1;
    }
    tracing::info!(
        guild_id,
        members = found.len(),
        left_while_away = noticed,
        "member list synchronised"
    );
    Ok(())
}

/// Reduces a message to its metadata (the content only to its length, with the intent) and
/// writes it through the message steps.
async fn on_message(state: &BotState, cache: &Cache, message: Message) -> anyhow::Result<()> {
    state.metrics.received(MESSAGE_SOURCE);
    let char_count = state
        .config
        .message_content
        .then(|| i32::try_from(message.content.chars().count()).unwrap_or(i32::MAX));
    // The content goes here, before anything else sees the message.
    let Message {
        id,
        channel_id,
        guild_id,
        author,
        attachments,
        webhook_id,
        kind,
        message_reference,
        ..
    } = message;
    let Some(guild_id) = guild_id else {
        // Direct messages are not community activity.
        state.metrics.dropped(MESSAGE_SOURCE, DropReason::untracked);
        return Ok(());
    };
    // A thread (forum posts are threads) counts in its parent channel; a channel in its
    // category. From serenity's cache.
    let (parent_channel_id, category_id) = cache
        .guild(guild_id)
        .map(|guild| {
            if let Some(thread) = guild.threads.iter().find(|t| t.id == channel_id) {
                let parent = thread.parent_id;
                let category = parent
                    .and_then(|parent| guild.channels.get(&parent))
                    .and_then(|parent| parent.parent_id);
                (
                    parent.map(|p| db_id(p.get())),
                    category.map(|c| db_id(c.get())),
                )
            } else {
                (None, category_of(&guild, channel_id))
            }
        })
        .unwrap_or((None, None));
    let message_id = db_id(id.get());
    let candidate = MessageCandidate {
        event: MessageEvent {
            message_id,
            guild_id: db_id(guild_id.get()),
            channel_id: db_id(channel_id.get()),
            parent_channel_id,
            author_id: db_id(author.id.get()),
            created_at: crate::discord::snowflake_time(message_id),
            char_count,
            attachment_count: i32::try_from(attachments.len()).unwrap_or(i32::MAX),
            is_reply: kind == MessageType::InlineReply || message_reference.is_some(),
        },
        category_id,
        from_bot: author.bot || webhook_id.is_some(),
        is_system: !matches!(kind, MessageType::Regular | MessageType::InlineReply),
    };
    let Some(MessageCandidate { event, .. }) = state.message_steps.run(candidate) else {
        return Ok(());
    };
    let Some(writer) = state.message_writer.get() else {
        state.metrics.dropped(MESSAGE_SOURCE, DropReason::stopping);
        return Ok(());
    };
    writer.write(event).await?;
    Ok(())
}

/// Writes updates the sequencer released; a session that ended counts them as `stopping`.
async fn write_all(state: &BotState, events: Vec<VoiceEvent>) {
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
async fn write_overdue_updates(state: Arc<BotState>, stop: CancellationToken) {
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

/// The category a guild channel is in, from serenity's cache.
fn category_of(guild: &Guild, channel: serenity::all::ChannelId) -> Option<i64> {
    guild
        .channels
        .get(&channel)
        .and_then(|channel| channel.parent_id)
        .map(|parent| db_id(parent.get()))
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
            let last_seen: Option<DateTime<Utc>> = sqlx::query_scalar(
                "select observed_until from app.discord_guilds where guild_id = $1",
            )
            .bind(id)
            .fetch_optional(&state.pool)
            .await?
            .flatten();
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
async fn reconcile(
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
async fn stamp_observed_until(
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
async fn stamp_connected(state: &BotState, shard_manager: &ShardManager) {
    let connected = connected_shards(shard_manager).await;
    for guild_id in state.observed_guilds() {
        let shard = state.context_of(guild_id).map(|ctx| ctx.shard_id);
        if !shard.is_some_and(|shard| connected.contains(&shard)) {
            state.unmark_observed(guild_id);
        }
    }
    stamp_once(state).await;
}

/// The shards serenity is connected on right now. Serenity removes a runner it restarts and
/// records each stage change, so this is the most current view it offers.
async fn connected_shards(shard_manager: &ShardManager) -> HashSet<serenity::all::ShardId> {
    let runners = shard_manager.runners.lock().await;
    runners
        .iter()
        .filter(|(_, runner)| runner.stage == ConnectionStage::Connected)
        .map(|(id, _)| *id)
        .collect()
}

/// Stamps `observed_until = now()` on the guilds seen in this session.
async fn stamp_once(state: &BotState) {
    let guilds = state.observed_guilds();
    stamp_guilds(state, &guilds).await;
}

/// Stamps `observed_until = now()` on the given guilds.
async fn stamp_guilds(state: &BotState, guilds: &[i64]) {
    if guilds.is_empty() {
        return;
    }
    let result = sqlx::query(
        "update app.discord_guilds
         set observed_until = greatest(observed_until, now()), updated_at = now()
         where guild_id = any($1)",
    )
    .bind(guilds)
    .execute(&state.pool)
    .await;
    if let Err(error) = result {
        tracing::warn!(error = %error, "stamping the guilds' observed_until failed");
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn refused_privileged_intents_say_which_switches_to_turn_on() {
        let refused = explain_gateway_error(anyhow!(serenity::Error::Gateway(
            serenity::all::GatewayError::DisallowedGatewayIntents
        )));
        let text = format!("{refused:#}");
        assert!(
            text.starts_with("Discord refused the bot's intents: turn on Server Members Intent"),
            "{text}"
        );
        assert!(
            text.ends_with("Disallowed gateway intents were provided"),
            "{text}"
        );
        let other = explain_gateway_error(anyhow!("connection reset"));
        assert_eq!(
            format!("{other:#}"),
            "the Discord gateway connection failed: connection reset"
        );
    }
}
