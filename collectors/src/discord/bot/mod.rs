//! The Discord bot (serenity): one gateway session per [`Collector::run`], and the
//! `Dispatcher`, the session's one serenity [`EventHandler`], which hands each gateway event
//! the product needs to the module of its concern:
//!
//! - `voice`: voice state updates become [`VoiceEvent`] rows in bronze;
//! - `reconcile`: on every (re)connect the database is reconciled with the guild's current
//!   voice states, so sessions that ended while the bot was away are closed at the last time
//!   it saw the guild, and people already in voice get their sessions opened; the heartbeat
//!   stamps until when it watched;
//! - `messages`, `members`, `scheduled`, `invites`: messages' metadata, member events,
//!   scheduled events and where members come from;
//! - `guilds`: which guilds are recorded, and their names, AFK channels and roles.
//!
//! The handlers share one `state::BotState` per session; records pass the ingest steps
//! (`steps`, and those of their own module) before they are written. The bot's only
//! statements against `app.*` (the collectors' own state) are in `collector_state`.

mod candidates;
mod collector_state;
mod guilds;
mod invite_counts;
mod invites;
mod members;
mod messages;
mod reconcile;
mod scheduled;
mod state;
mod steps;
mod voice;

use crate::Collector;
use crate::discord::sequencer::VoiceSequencer;
use crate::discord::{MemberEvent, MessageEvent, ScheduledEventChange, VoiceEvent};
use crate::ingest::{IngestWriter, SpoolConfig, WriterConfig};
use crate::metrics::Metrics;
use crate::rules::IngestRules;
use crate::steps::Steps;
use anyhow::{Context as _, anyhow};
use chrono::{DateTime, Utc};
use futures::FutureExt;
use futures::future::BoxFuture;
use members::MEMBER_SOURCE;
use messages::{ExcludedTextChannels, MESSAGE_SOURCE, NoSystemMessages};
use secrecy::{ExposeSecret, SecretString};
use serenity::all::{
    Cache, ClientBuilder, Context, EventHandler, GatewayIntents, Guild, GuildChannel, GuildId,
    GuildMemberUpdateEvent, GuildMembersChunkEvent, GuildScheduledEventUserAddEvent,
    GuildScheduledEventUserRemoveEvent, HttpBuilder, InviteCreateEvent, InviteDeleteEvent, Member,
    Message, PartialGuild, Ready, ResumedEvent, Role, RoleId, ScheduledEvent, UnavailableGuild,
    User, VoiceState,
};
use sqlx::PgPool;
use state::{BotState, WriterSlot};
use std::collections::{HashMap, HashSet};
use std::sync::{Arc, Mutex};
use std::time::Duration;
use steps::Tracking;
use steps::{NoBots, OptedOut, TrackedGuilds};
use tokio_util::sync::CancellationToken;
use voice::{ExcludedChannels, SEQUENCE_WAIT, VOICE_SOURCE};

/// Discord's real API; any other base (a fake in tests, a proxy) is used through
/// serenity's proxy setting.
const DISCORD_API: &str = "https://discord.com";

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
    /// `bronze.discord_voice_events`.
    pub voice: IngestWriter<VoiceEvent>,
    /// `bronze.discord_messages`.
    pub messages: IngestWriter<MessageEvent>,
    /// `bronze.discord_member_events`.
    pub members: IngestWriter<MemberEvent>,
    /// `bronze.discord_scheduled_events`.
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
    /// The bot, writing through `writers` (see [`BotWriters::spawn`]).
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
            .event_handler_arc(Arc::new(Dispatcher {
                state: Arc::clone(&state),
            }))
            .await
            .context("cannot set up the Discord client")?;
        let shard_manager = Arc::clone(&client.shard_manager);
        let _ = state.shard_manager.set(Arc::clone(&shard_manager));

        let heartbeat = tokio::spawn(reconcile::stamp_observed_until(
            Arc::clone(&state),
            Arc::clone(&shard_manager),
            shutdown.child_token(),
        ));
        let overdue = tokio::spawn(voice::write_overdue_updates(
            Arc::clone(&state),
            shutdown.child_token(),
        ));
        let follow = tokio::spawn(guilds::follow_tracking(
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
                    reconcile::stamp_connected(&state, &shard_manager).await;
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
        voice::write_all(&state, state.sequencer.drain()).await;
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
    /// VOICE_STATE_UPDATE.
    pub async fn voice(
        &self,
        mut update: serenity::all::VoiceStateUpdateEvent,
    ) -> anyhow::Result<()> {
        let old = self.cache.update(&mut update);
        voice::on_voice_state_update(&self.state, &self.cache, old.as_ref(), &update.voice_state)
            .await
    }

    /// MESSAGE_CREATE.
    pub async fn message(&self, message: Message) -> anyhow::Result<()> {
        messages::on_message(&self.state, &self.cache, message).await
    }

    /// GUILD_MEMBER_UPDATE.
    pub async fn member_update(&self, update: &GuildMemberUpdateEvent) -> anyhow::Result<()> {
        members::on_member_update(&self.state, update).await
    }

    /// Writes what the voice sequencer still holds and lets go of the writers.
    pub async fn finish(self) {
        voice::write_all(&self.state, self.state.sequencer.drain()).await;
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

/// The one serenity [`EventHandler`] of a session: hands each gateway event (after
/// serenity's cache update) to the handler of its concern.
struct Dispatcher {
    state: Arc<BotState>,
}

#[serenity::async_trait]
impl EventHandler for Dispatcher {
    async fn guild_create(&self, ctx: Context, guild: Guild, _is_new: Option<bool>) {
        guilds::guild_create(&self.state, &ctx, &guild).await;
    }

    async fn guild_role_create(&self, _ctx: Context, role: Role) {
        guilds::role_changed(&self.state, &role).await;
    }

    async fn guild_role_update(&self, _ctx: Context, _old: Option<Role>, role: Role) {
        guilds::role_changed(&self.state, &role).await;
    }

    async fn guild_role_delete(
        &self,
        _ctx: Context,
        guild_id: GuildId,
        role_id: RoleId,
        _removed: Option<Role>,
    ) {
        guilds::role_deleted(&self.state, guild_id, role_id).await;
    }

    async fn channel_create(&self, _ctx: Context, channel: GuildChannel) {
        guilds::channel_changed(&self.state, &channel).await;
    }

    async fn category_create(&self, _ctx: Context, category: GuildChannel) {
        guilds::channel_changed(&self.state, &category).await;
    }

    async fn channel_update(&self, _ctx: Context, _old: Option<GuildChannel>, new: GuildChannel) {
        guilds::channel_changed(&self.state, &new).await;
    }

    async fn channel_delete(
        &self,
        _ctx: Context,
        channel: GuildChannel,
        _messages: Option<Vec<Message>>,
    ) {
        guilds::channel_deleted(&self.state, &channel).await;
    }

    async fn category_delete(&self, _ctx: Context, category: GuildChannel) {
        guilds::channel_deleted(&self.state, &category).await;
    }

    async fn guild_scheduled_event_create(&self, _ctx: Context, event: ScheduledEvent) {
        scheduled::on_scheduled_event(&self.state, &event, "create").await;
    }

    async fn guild_scheduled_event_update(&self, _ctx: Context, event: ScheduledEvent) {
        scheduled::on_scheduled_event(&self.state, &event, "update").await;
    }

    async fn guild_scheduled_event_delete(&self, _ctx: Context, event: ScheduledEvent) {
        scheduled::on_scheduled_event(&self.state, &event, "delete").await;
    }

    async fn guild_scheduled_event_user_add(
        &self,
        _ctx: Context,
        subscribed: GuildScheduledEventUserAddEvent,
    ) {
        scheduled::on_user_add(&self.state, &subscribed).await;
    }

    async fn guild_scheduled_event_user_remove(
        &self,
        _ctx: Context,
        unsubscribed: GuildScheduledEventUserRemoveEvent,
    ) {
        scheduled::on_user_remove(&self.state, &unsubscribed).await;
    }

    async fn invite_create(&self, _ctx: Context, data: InviteCreateEvent) {
        self.state.on_invite_create(&data).await;
    }

    async fn invite_delete(&self, _ctx: Context, data: InviteDeleteEvent) {
        self.state.on_invite_delete(&data).await;
    }

    async fn guild_update(&self, _ctx: Context, _old: Option<Guild>, new: PartialGuild) {
        guilds::guild_update(&self.state, &new).await;
    }

    async fn voice_state_update(&self, ctx: Context, old: Option<VoiceState>, new: VoiceState) {
        voice::voice_state_update(&self.state, &ctx.cache, old.as_ref(), &new).await;
    }

    async fn guild_delete(&self, _ctx: Context, gone: UnavailableGuild, _full: Option<Guild>) {
        reconcile::guild_delete(&self.state, &gone).await;
    }

    async fn ready(&self, _ctx: Context, ready: Ready) {
        reconcile::ready(&self.state, &ready);
    }

    async fn guild_member_addition(&self, ctx: Context, member: Member) {
        members::member_add(&self.state, &ctx, &member).await;
    }

    async fn guild_member_removal(
        &self,
        _ctx: Context,
        guild_id: GuildId,
        user: User,
        _member: Option<Member>,
    ) {
        members::member_remove(&self.state, guild_id, &user).await;
    }

    async fn guild_member_update(
        &self,
        _ctx: Context,
        _old: Option<Member>,
        _new: Option<Member>,
        event: GuildMemberUpdateEvent,
    ) {
        members::member_update(&self.state, &event).await;
    }

    async fn guild_members_chunk(&self, ctx: Context, chunk: GuildMembersChunkEvent) {
        members::members_chunk(&self.state, &ctx, chunk).await;
    }

    async fn message(&self, ctx: Context, message: Message) {
        messages::message_create(&self.state, &ctx.cache, message).await;
    }

    async fn resume(&self, ctx: Context, _event: ResumedEvent) {
        reconcile::resumed(&self.state, &ctx).await;
    }
}

/// Discord ids are snowflakes below 2^63 (until the year 2084), so they fit PostgreSQL's
/// `bigint`.
fn db_id(id: u64) -> i64 {
    id as i64
}

/// An instant of serenity's (RFC 3339 underneath) as chrono's.
fn instant(at: &serenity::all::Timestamp) -> Option<DateTime<Utc>> {
    let text = at.to_rfc3339()?;
    DateTime::parse_from_rfc3339(&text)
        .ok()
        .map(|at| at.with_timezone(&Utc))
}

/// The category a guild channel is in, from serenity's cache.
fn category_of(guild: &Guild, channel: serenity::all::ChannelId) -> Option<i64> {
    guild
        .channels
        .get(&channel)
        .and_then(|channel| channel.parent_id)
        .map(|parent| db_id(parent.get()))
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
