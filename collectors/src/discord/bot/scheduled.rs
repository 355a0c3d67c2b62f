//! Scheduled events: their changes and who is interested, live from the gateway, and a
//! synchronisation whenever a guild becomes available (the events GUILD_CREATE lists, the
//! interested users from REST), so what happened while the bot was away is noticed.

use super::candidates::EventCandidate;
use super::state::BotState;
use super::{db_id, instant};
use crate::discord::ScheduledEventChange;
use crate::metrics::DropReason;
use anyhow::Context as _;
use chrono::{DateTime, Utc};
use serenity::all::{
    Guild, GuildId, GuildScheduledEventUserAddEvent, GuildScheduledEventUserRemoveEvent, Http,
    ScheduledEvent, ScheduledEventId, ScheduledEventStatus, ScheduledEventType, UserPagination,
};
use std::collections::HashSet;

/// The `source` label of scheduled-event changes in metrics.
pub(super) const EVENT_SOURCE: &str = "discord_events";

/// Interested users per REST page (Discord's maximum).
const USERS_PAGE: u64 = 100;

fn kind(kind: ScheduledEventType) -> &'static str {
    match kind {
        ScheduledEventType::StageInstance => "stage",
        ScheduledEventType::Voice => "voice",
        // External, and whatever Discord adds: attendance is then looked for everywhere.
        _ => "external",
    }
}

fn status(status: ScheduledEventStatus) -> &'static str {
    match status {
        ScheduledEventStatus::Active => "active",
        ScheduledEventStatus::Completed => "completed",
        ScheduledEventStatus::Canceled => "canceled",
        _ => "scheduled",
    }
}

/// The event as one bronze row.
fn event_change(
    event: &ScheduledEvent,
    change: &str,
    origin: &str,
    observed_at: DateTime<Utc>,
) -> ScheduledEventChange {
    ScheduledEventChange {
        guild_id: db_id(event.guild_id.get()),
        scheduled_event_id: db_id(event.id.get()),
        change: change.to_owned(),
        user_id: None,
        name: Some(event.name.clone()),
        channel_id: event.channel_id.map(|channel| db_id(channel.get())),
        kind: Some(kind(event.kind).to_owned()),
        status: Some(status(event.status).to_owned()),
        starts_at: instant(&event.start_time),
        ends_at: event.end_time.as_ref().and_then(instant),
        origin: origin.to_owned(),
        observed_at,
    }
}

/// One user's interest as one bronze row.
fn interest_change(
    guild_id: i64,
    scheduled_event_id: i64,
    user_id: i64,
    change: &str,
    origin: &str,
    observed_at: DateTime<Utc>,
) -> ScheduledEventChange {
    ScheduledEventChange {
        user_id: Some(user_id),
        ..bare_change(guild_id, scheduled_event_id, change, origin, observed_at)
    }
}

/// A change that carries neither a description nor a user (an event no longer listed).
fn bare_change(
    guild_id: i64,
    scheduled_event_id: i64,
    change: &str,
    origin: &str,
    observed_at: DateTime<Utc>,
) -> ScheduledEventChange {
    ScheduledEventChange {
        guild_id,
        scheduled_event_id,
        change: change.to_owned(),
        user_id: None,
        name: None,
        channel_id: None,
        kind: None,
        status: None,
        starts_at: None,
        ends_at: None,
        origin: origin.to_owned(),
        observed_at,
    }
}

impl BotState {
    /// Runs a change through the steps (tracked guild, opted-out users) and writes it.
    pub(super) async fn write_event_change(
        &self,
        change: ScheduledEventChange,
    ) -> anyhow::Result<()> {
        self.metrics.received(EVENT_SOURCE);
        let Some(EventCandidate { change }) = self.event_steps.run(EventCandidate { change })
        else {
            return Ok(());
        };
        let Some(writer) = self.event_writer.get() else {
            self.metrics.dropped(EVENT_SOURCE, DropReason::stopping);
            return Ok(());
        };
        writer.write(change).await?;
        Ok(())
    }
}

/// GUILD_SCHEDULED_EVENT_CREATE, _UPDATE and _DELETE (`change`): the event as it is now.
pub(super) async fn on_scheduled_event(state: &BotState, event: &ScheduledEvent, change: &str) {
    let change = event_change(event, change, "gateway", Utc::now());
    if let Err(error) = state.write_event_change(change).await {
        tracing::error!(
            error = format!("{error:#}"),
            "handling a scheduled-event change failed"
        );
    }
}

/// GUILD_SCHEDULED_EVENT_USER_ADD: a user is interested.
pub(super) async fn on_user_add(state: &BotState, subscribed: &GuildScheduledEventUserAddEvent) {
    on_interest(
        state,
        subscribed.guild_id,
        subscribed.scheduled_event_id.get(),
        subscribed.user_id.get(),
        "user_add",
    )
    .await;
}

/// GUILD_SCHEDULED_EVENT_USER_REMOVE: a user is no longer interested.
pub(super) async fn on_user_remove(
    state: &BotState,
    unsubscribed: &GuildScheduledEventUserRemoveEvent,
) {
    on_interest(
        state,
        unsubscribed.guild_id,
        unsubscribed.scheduled_event_id.get(),
        unsubscribed.user_id.get(),
        "user_remove",
    )
    .await;
}

async fn on_interest(
    state: &BotState,
    guild_id: GuildId,
    event_id: u64,
    user_id: u64,
    change: &str,
) {
    let change = interest_change(
        db_id(guild_id.get()),
        db_id(event_id),
        db_id(user_id),
        change,
        "gateway",
        Utc::now(),
    );
    if let Err(error) = state.write_event_change(change).await {
        tracing::error!(
            error = format!("{error:#}"),
            "handling a scheduled-event interest failed"
        );
    }
}

/// Synchronises a guild's scheduled events after GUILD_CREATE: every listed event is
/// recorded as it is now; events the database still holds as upcoming or running but the
/// guild no longer lists are recorded as gone; each listed event's interested users are
/// read from REST, and users recorded as interested who are no longer get a removal.
pub(super) async fn sync_guild_events(
    state: &BotState,
    http: &Http,
    guild: &Guild,
) -> anyhow::Result<()> {
    let now = Utc::now();
    let guild_id = db_id(guild.id.get());
    let listed: HashSet<i64> = guild
        .scheduled_events
        .iter()
        .map(|event| db_id(event.id.get()))
        .collect();
    for event in &guild.scheduled_events {
        state
            .write_event_change(event_change(event, "sync", "sync", now))
            .await?;
    }
    flush(state).await?;
    let recorded: Vec<i64> = sqlx::query_scalar(
        "select scheduled_event_id from (
             select distinct on (scheduled_event_id) scheduled_event_id, change, status
             from bronze.discord_scheduled_events
             where guild_id = $1 and change in ('create', 'update', 'delete', 'sync', 'gone')
             order by scheduled_event_id, observed_at desc, change_id desc
         ) latest
         where change not in ('delete', 'gone') and status in ('scheduled', 'active')",
    )
    .bind(guild_id)
    .fetch_all(&state.pool)
    .await
    .context("cannot read the recorded scheduled events")?;
    for gone in recorded.into_iter().filter(|id| !listed.contains(id)) {
        state
            .write_event_change(bare_change(guild_id, gone, "gone", "sync", now))
            .await?;
    }
    let mut interested_total = 0_usize;
    for event in &guild.scheduled_events {
        match interested_users(http, guild.id, event.id).await {
            Ok(users) => {
                interested_total += users.len();
                sync_interest(state, guild_id, db_id(event.id.get()), &users, now).await?;
            }
            Err(error) => tracing::warn!(
                guild_id,
                scheduled_event_id = event.id.get(),
                error = format!("{error:#}"),
                "cannot read who is interested in a scheduled event; the gateway's changes \
                 still count"
            ),
        }
    }
    flush(state).await?;
    tracing::info!(
        guild_id,
        events = listed.len(),
        interested = interested_total,
        "scheduled events synchronised"
    );
    Ok(())
}

async fn flush(state: &BotState) -> anyhow::Result<()> {
    if let Some(writer) = state.event_writer.get() {
        writer.flush().await?;
    }
    Ok(())
}

/// Every user interested in an event, page by page.
async fn interested_users(
    http: &Http,
    guild_id: GuildId,
    event_id: ScheduledEventId,
) -> anyhow::Result<Vec<i64>> {
    let mut users = Vec::new();
    let mut after = None;
    loop {
        let page = http
            .get_scheduled_event_users(guild_id, event_id, Some(USERS_PAGE), after, Some(false))
            .await
            .context("GET scheduled-events/{id}/users")?;
        let last = page.iter().map(|entry| entry.user.id).max();
        users.extend(
            page.iter()
                .filter(|entry| !entry.user.bot)
                .map(|entry| db_id(entry.user.id.get())),
        );
        match last {
            Some(last) if page.len() as u64 >= USERS_PAGE => {
                after = Some(UserPagination::After(last));
            }
            _ => return Ok(users),
        }
    }
}

async fn sync_interest(
    state: &BotState,
    guild_id: i64,
    scheduled_event_id: i64,
    users: &[i64],
    now: DateTime<Utc>,
) -> anyhow::Result<()> {
    for &user in users {
        state
            .write_event_change(interest_change(
                guild_id,
                scheduled_event_id,
                user,
                "user_sync",
                "sync",
                now,
            ))
            .await?;
    }
    flush(state).await?;
    let recorded: Vec<i64> = sqlx::query_scalar(
        "select user_id from (
             select distinct on (user_id) user_id, change
             from bronze.discord_scheduled_events
             where scheduled_event_id = $1 and user_id is not null
             order by user_id, observed_at desc, change_id desc
         ) latest
         where change <> 'user_remove'",
    )
    .bind(scheduled_event_id)
    .fetch_all(&state.pool)
    .await
    .context("cannot read who was recorded as interested")?;
    let now_interested: HashSet<i64> = users.iter().copied().collect();
    for user in recorded
        .into_iter()
        .filter(|user| !now_interested.contains(user))
    {
        state
            .write_event_change(interest_change(
                guild_id,
                scheduled_event_id,
                user,
                "user_remove",
                "sync",
                now,
            ))
            .await?;
    }
    Ok(())
}
