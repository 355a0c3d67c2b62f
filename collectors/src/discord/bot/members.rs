//! Members: joins (with the invite they came through), leaves and updates from the gateway,
//! and the member-list synchronisation each time a guild becomes available (members found
//! present, and leaves for those who left while the bot was away), as [`MemberEvent`] rows
//! in bronze through the member steps.

use super::candidates::MemberCandidate;
use super::state::BotState;
use super::{db_id, instant};
use crate::discord::{MemberEvent, MemberEventKind, MemberOrigin};
use crate::metrics::DropReason;
use anyhow::Context as _;
use chrono::Utc;
use serenity::all::{
    Context, GuildId, GuildMemberUpdateEvent, GuildMembersChunkEvent, Member, User,
};
use std::collections::HashSet;

/// The `source` label of the bot's member events in metrics.
pub(super) const MEMBER_SOURCE: &str = "discord_members";

impl BotState {
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
}

/// GUILD_MEMBER_ADD: a join, with the invite it came through in tracked guilds.
pub(super) async fn member_add(state: &BotState, ctx: &Context, member: &Member) {
    let mut candidate = member_candidate(member, MemberEventKind::Join, MemberOrigin::Gateway);
    // Every join takes its use off the invite counts, also those the steps drop.
    if state.tracks(db_id(member.guild_id.get())) {
        candidate.event.source = Some(state.attribute_join(&ctx.http, member.guild_id).await);
    }
    if let Err(error) = state.write_member(candidate).await {
        tracing::error!(
            error = format!("{error:#}"),
            "handling GUILD_MEMBER_ADD failed"
        );
    }
}

/// GUILD_MEMBER_REMOVE: a leave.
pub(super) async fn member_remove(state: &BotState, guild_id: GuildId, user: &User) {
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
    if let Err(error) = state.write_member(candidate).await {
        tracing::error!(
            error = format!("{error:#}"),
            "handling GUILD_MEMBER_REMOVE failed"
        );
    }
}

/// GUILD_MEMBER_UPDATE: failures are logged.
pub(super) async fn member_update(state: &BotState, event: &GuildMemberUpdateEvent) {
    if let Err(error) = on_member_update(state, event).await {
        tracing::error!(
            error = format!("{error:#}"),
            "handling GUILD_MEMBER_UPDATE failed"
        );
    }
}

/// GUILD_MEMBERS_CHUNK: the chunk's members leave serenity's cache again and are recorded
/// as present; failures are logged.
pub(super) async fn members_chunk(state: &BotState, ctx: &Context, chunk: GuildMembersChunkEvent) {
    evict_synced_members(ctx, &chunk);
    if let Err(error) = on_members_chunk(state, chunk).await {
        tracing::error!(
            error = format!("{error:#}"),
            "handling GUILD_MEMBERS_CHUNK failed"
        );
    }
}

/// Starts a synchronisation of the guild's member list: asks for the whole list, in chunks,
/// on the guild's shard.
pub(super) fn start_sync(state: &BotState, ctx: &Context, guild_id: GuildId) {
    let id = db_id(guild_id.get());
    // The whole member list, in chunks: join dates of members who joined before the
    // bot, and who left while it was away.
    match state.member_sync.lock() {
        Ok(mut sync) => sync.insert(id, HashSet::new()),
        Err(poisoned) => poisoned.into_inner().insert(id, HashSet::new()),
    };
    ctx.shard.chunk_guild(
        guild_id,
        None,
        false,
        serenity::all::ChunkGuildFilter::None,
        None,
    );
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
pub(super) async fn on_member_update(
    state: &BotState,
    event: &GuildMemberUpdateEvent,
) -> anyhow::Result<()> {
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
