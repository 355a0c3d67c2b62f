//! The collectors' own state in `app.*`: the only place the bot reads or writes `app.*`
//! tables. What it records here is not community activity (that goes to bronze) but what
//! the bot itself knows and the admin page shows: the guilds it is in and whether they are
//! recorded, until when it watched each guild (`observed_until`), the guilds' roles (the
//! picker for the role mapping), their channels and categories (the names the admin
//! console's pickers show), and their invites (where members come from).
//!
//! Each function runs one statement and names what it records; the handlers decide when,
//! log failures and add context.

use super::{db_id, instant};
use chrono::{DateTime, Utc};
use serenity::all::{ChannelType, GuildChannel, Role, Timestamp, User};
use sqlx::{PgExecutor, PgPool};

/// Records a guild the bot is in but does not record: only its name, for the admin's list.
pub(super) async fn record_untracked_guild(
    pool: &PgPool,
    guild_id: i64,
    name: &str,
) -> sqlx::Result<()> {
    sqlx::query(
        "insert into app.discord_guilds (guild_id, name, tracked, updated_at)
         values ($1, $2, false, now())
         on conflict (guild_id) do update
             set name = excluded.name, tracked = false, updated_at = excluded.updated_at",
    )
    .bind(guild_id)
    .bind(name)
    .execute(pool)
    .await?;
    Ok(())
}

/// Records a recorded guild's name and current AFK channel (in the caller's transaction,
/// which records AFK channel changes in bronze alongside).
pub(super) async fn record_tracked_guild<'e>(
    executor: impl PgExecutor<'e>,
    guild_id: i64,
    name: &str,
    afk_channel_id: Option<i64>,
) -> sqlx::Result<()> {
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
    .execute(executor)
    .await?;
    Ok(())
}

/// Until when the bot last watched the guild (`None`: never, or not known).
pub(super) async fn observed_until(
    pool: &PgPool,
    guild_id: i64,
) -> sqlx::Result<Option<DateTime<Utc>>> {
    Ok(
        sqlx::query_scalar("select observed_until from app.discord_guilds where guild_id = $1")
            .bind(guild_id)
            .fetch_optional(pool)
            .await?
            .flatten(),
    )
}

/// Records that the bot watched the given guilds until now (`observed_until` only moves
/// forward).
pub(super) async fn record_observed_until(pool: &PgPool, guilds: &[i64]) -> sqlx::Result<()> {
    sqlx::query(
        "update app.discord_guilds
         set observed_until = greatest(observed_until, now()), updated_at = now()
         where guild_id = any($1)",
    )
    .bind(guilds)
    .execute(pool)
    .await?;
    Ok(())
}

/// Records a role as it is now (created, changed, or listed again).
pub(super) async fn record_role(pool: &PgPool, guild_id: i64, role: &Role) -> sqlx::Result<()> {
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

/// Records the guild's roles that are no longer `listed` as deleted.
pub(super) async fn record_unlisted_roles_deleted(
    pool: &PgPool,
    guild_id: i64,
    listed: &[i64],
) -> sqlx::Result<()> {
    sqlx::query(
        "update app.discord_roles set deleted = true, updated_at = now()
         where guild_id = $1 and not deleted and not (role_id = any($2))",
    )
    .bind(guild_id)
    .bind(listed)
    .execute(pool)
    .await?;
    Ok(())
}

/// Records one role as deleted.
pub(super) async fn record_role_deleted(
    pool: &PgPool,
    guild_id: i64,
    role_id: i64,
) -> sqlx::Result<()> {
    sqlx::query(
        "update app.discord_roles set deleted = true, updated_at = now()
         where guild_id = $1 and role_id = $2",
    )
    .bind(guild_id)
    .bind(role_id)
    .execute(pool)
    .await?;
    Ok(())
}

/// What a channel is, as `app.discord_channels.kind` keeps it.
fn channel_kind(kind: ChannelType) -> &'static str {
    match kind {
        ChannelType::Text => "text",
        ChannelType::Voice => "voice",
        ChannelType::Category => "category",
        ChannelType::News => "announcement",
        ChannelType::Stage => "stage",
        ChannelType::Forum => "forum",
        _ => "other",
    }
}

/// Records channels and categories of a guild as they are now (created, changed, or listed
/// again). Threads are not channels an admin picks: they are left out.
pub(super) async fn record_channels<'a>(
    pool: &PgPool,
    guild_id: i64,
    channels: impl Iterator<Item = &'a GuildChannel>,
) -> sqlx::Result<()> {
    let mut ids = Vec::new();
    let mut names = Vec::new();
    let mut kinds = Vec::new();
    let mut parents = Vec::new();
    let mut positions = Vec::new();
    for channel in channels.filter(|channel| channel.thread_metadata.is_none()) {
        ids.push(db_id(channel.id.get()));
        names.push(channel.name.clone());
        kinds.push(channel_kind(channel.kind));
        parents.push(channel.parent_id.map(|parent| db_id(parent.get())));
        positions.push(i32::from(channel.position));
    }
    sqlx::query(
        "insert into app.discord_channels
             (guild_id, channel_id, name, kind, parent_id, position, deleted, updated_at)
         select $1, c.id, c.name, c.kind, c.parent, c.position, false, now()
         from unnest($2::bigint[], $3::text[], $4::text[], $5::bigint[], $6::int[])
              c (id, name, kind, parent, position)
         on conflict (guild_id, channel_id) do update
             set name = excluded.name, kind = excluded.kind, parent_id = excluded.parent_id,
                 position = excluded.position, deleted = false,
                 updated_at = excluded.updated_at",
    )
    .bind(guild_id)
    .bind(&ids)
    .bind(&names)
    .bind(&kinds)
    .bind(&parents)
    .bind(&positions)
    .execute(pool)
    .await?;
    Ok(())
}

/// Records the guild's channels that are no longer `listed` as deleted.
pub(super) async fn record_unlisted_channels_deleted(
    pool: &PgPool,
    guild_id: i64,
    listed: &[i64],
) -> sqlx::Result<()> {
    sqlx::query(
        "update app.discord_channels set deleted = true, updated_at = now()
         where guild_id = $1 and not deleted and not (channel_id = any($2))",
    )
    .bind(guild_id)
    .bind(listed)
    .execute(pool)
    .await?;
    Ok(())
}

/// Records one channel or category as deleted.
pub(super) async fn record_channel_deleted(
    pool: &PgPool,
    guild_id: i64,
    channel_id: i64,
) -> sqlx::Result<()> {
    sqlx::query(
        "update app.discord_channels set deleted = true, updated_at = now()
         where guild_id = $1 and channel_id = $2",
    )
    .bind(guild_id)
    .bind(channel_id)
    .execute(pool)
    .await?;
    Ok(())
}

/// Records whether the bot may read the guild's invites, and that it just checked.
pub(super) async fn record_invites_readable(
    pool: &PgPool,
    guild_id: i64,
    readable: bool,
) -> sqlx::Result<()> {
    sqlx::query(
        "update app.discord_guilds
         set invites_readable = $2, invites_checked_at = now()
         where guild_id = $1",
    )
    .bind(guild_id)
    .bind(readable)
    .execute(pool)
    .await?;
    Ok(())
}

/// An invite as `app.discord_invites` keeps it, from a listing or from INVITE_CREATE.
pub(super) struct StoredInvite<'a> {
    pub(super) code: &'a str,
    pub(super) channel_id: i64,
    pub(super) inviter: Option<&'a User>,
    pub(super) uses: u64,
    pub(super) max_uses: u8,
    pub(super) created_at: &'a Timestamp,
    /// Seconds until it expires; 0: never.
    pub(super) max_age: u32,
}

/// Records an invite as now seen (again).
pub(super) async fn record_invite<'e>(
    executor: impl PgExecutor<'e>,
    guild_id: i64,
    invite: StoredInvite<'_>,
) -> sqlx::Result<()> {
    sqlx::query(
        "insert into app.discord_invites
             (guild_id, code, channel_id, inviter_id, inviter_name, uses, max_uses,
              created_at, expires_at, deleted_at, seen_at)
         values ($1, $2, $3, $4, $5, $6, $7, $8,
                 case when $9 > 0 then $8 + make_interval(secs => $9) end, null, now())
         on conflict (guild_id, code) do update
             set uses = excluded.uses,
                 max_uses = excluded.max_uses,
                 inviter_id = excluded.inviter_id,
                 inviter_name = excluded.inviter_name,
                 deleted_at = null,
                 seen_at = excluded.seen_at",
    )
    .bind(guild_id)
    .bind(invite.code)
    .bind(invite.channel_id)
    .bind(invite.inviter.map(|user| db_id(user.id.get())))
    .bind(invite.inviter.map(|user| user.name.clone()))
    .bind(i32::try_from(invite.uses).unwrap_or(i32::MAX))
    .bind(i32::from(invite.max_uses))
    .bind(instant(invite.created_at))
    .bind(f64::from(invite.max_age))
    .execute(executor)
    .await?;
    Ok(())
}

/// Records the guild's invites that are no longer `listed` as deleted (or expired).
pub(super) async fn record_unlisted_invites_deleted<'e>(
    executor: impl PgExecutor<'e>,
    guild_id: i64,
    listed: &[String],
) -> sqlx::Result<()> {
    sqlx::query(
        "update app.discord_invites set deleted_at = now()
         where guild_id = $1 and deleted_at is null and not (code = any($2))",
    )
    .bind(guild_id)
    .bind(listed)
    .execute(executor)
    .await?;
    Ok(())
}

/// Records one invite as deleted.
pub(super) async fn record_invite_deleted(
    pool: &PgPool,
    guild_id: i64,
    code: &str,
) -> sqlx::Result<()> {
    sqlx::query(
        "update app.discord_invites set deleted_at = now()
         where guild_id = $1 and code = $2 and deleted_at is null",
    )
    .bind(guild_id)
    .bind(code)
    .execute(pool)
    .await?;
    Ok(())
}
