//! The admin console's sections, each with the server function that reads only what it
//! shows: the Discord channels by name (`/admin/discord`), people and roles
//! (`/admin/people`), the audit log a page at a time (`/admin/audit`), the community
//! settings (`/admin/privacy`); and the public privacy page's facts (`/privacy`).

use crate::error::AppError;
use leptos::prelude::*;

/// Every recorded guild's AFK channel, AFK marks and excluded channels, by name, with the
/// channels and categories the bot knows for the pickers. Admins only.
#[server]
pub async fn get_discord_channels() -> Result<crate::model::DiscordChannels, AppError> {
    use crate::model::Permission;
    use crate::model::{AfkMark, ChannelKind, ChannelName, DiscordChannels, GuildChannels};
    use crate::ssr::community::local;
    let (_admin, state) = crate::ssr::authz::require(Permission::Administer).await?;
    let tz = crate::ssr::community::timezone(&state).await?;
    let guilds: Vec<(i64, String, Option<i64>)> = sqlx::query_as(
        "select guild_id, name, afk_channel_id from app.discord_guilds where tracked
         order by name, guild_id",
    )
    .fetch_all(&state.pool)
    .await?;
    // guild, channel, name, kind, category, deleted
    type ChannelRow = (i64, i64, String, String, Option<String>, bool);
    let known: Vec<ChannelRow> = sqlx::query_as(
        "select c.guild_id, c.channel_id, c.name, c.kind, p.name, c.deleted
         from app.discord_channels c
         left join app.discord_channels p on p.guild_id = c.guild_id and p.channel_id = c.parent_id
         where c.guild_id in (select guild_id from app.discord_guilds where tracked)
         -- Categories first, then each category's channels, in Discord's order.
         order by c.guild_id, coalesce(p.position, c.position), coalesce(p.channel_id, c.channel_id),
                  c.parent_id is not null, c.kind in ('voice', 'stage'), c.position, c.name",
    )
    .fetch_all(&state.pool)
    .await?;
    let lookup: std::collections::HashMap<(i64, i64), ChannelName> = known
        .iter()
        .map(|(guild, channel, name, kind, category, _)| {
            (
                (*guild, *channel),
                ChannelName {
                    channel_id: channel.to_string(),
                    name: Some(name.clone()),
                    kind: ChannelKind::parse(kind),
                    category: category.clone(),
                },
            )
        })
        .collect();
    let named = |guild: i64, channel: i64| {
        lookup
            .get(&(guild, channel))
            .cloned()
            .unwrap_or_else(|| ChannelName {
                channel_id: channel.to_string(),
                name: None,
                kind: None,
                category: None,
            })
    };
    let mut marked = super::afk::marked_channels(&state.pool).await?;
    let mut excluded = super::excluded::excluded_channels(&state.pool).await?;
    Ok(DiscordChannels {
        timezone: tz.name().to_owned(),
        guilds: guilds
            .into_iter()
            .map(|(guild_id, name, afk_channel_id)| GuildChannels {
                guild_id: guild_id.to_string(),
                name,
                afk_channel: afk_channel_id.map(|channel| named(guild_id, channel)),
                marked_afk: marked
                    .remove(&guild_id)
                    .unwrap_or_default()
                    .into_iter()
                    .map(|mark| AfkMark {
                        id: mark.id,
                        channel: named(guild_id, mark.channel_id),
                        since: mark.since.map(|at| local(at, tz)),
                    })
                    .collect(),
                excluded: excluded
                    .remove(&guild_id)
                    .unwrap_or_default()
                    .into_iter()
                    .map(|channel| named(guild_id, channel))
                    .collect(),
                channels: known
                    .iter()
                    .filter(|(guild, .., deleted)| *guild == guild_id && !deleted)
                    .map(|(guild, channel, ..)| named(*guild, *channel))
                    .collect(),
            })
            .collect(),
    })
}

/// The web app's users with their roles, admins first. Admins only.
#[server]
pub async fn get_admin_users() -> Result<crate::model::AdminUsers, AppError> {
    use crate::model::{AdminUsers, Permission};
    let (_admin, state) = crate::ssr::authz::require(Permission::Administer).await?;
    let tz = crate::ssr::community::timezone(&state).await?;
    Ok(AdminUsers {
        timezone: tz.name().to_owned(),
        users: super::roles::list_users(&state, tz).await?,
    })
}

/// Page `page` (from 1) of the audit log, newest first. Admins only.
#[server]
pub async fn get_audit_log(page: u32) -> Result<crate::model::AuditPage, AppError> {
    use crate::error::{Field, Problem, Unit};
    use crate::model::{AUDIT_PAGE_SIZE, AuditPage, Permission};
    let (_admin, state) = crate::ssr::authz::require(Permission::Administer).await?;
    // A page number nobody could have followed a link to.
    const MAX_PAGE: u32 = 100_000;
    if !(1..=MAX_PAGE).contains(&page) {
        let problem = Problem::OutOfRange {
            min: 1,
            max: i64::from(MAX_PAGE),
            unit: Unit::Pages,
        };
        return Err(crate::ssr::authz::with_status(AppError::invalid(
            Field::Page,
            problem,
        )));
    }
    let tz = crate::ssr::community::timezone(&state).await?;
    let size = i64::from(AUDIT_PAGE_SIZE);
    let (entries, total) =
        super::roles::audit_log_page(&state.pool, tz, i64::from(page - 1) * size, size).await?;
    let pages = u32::try_from((total + size - 1) / size)
        .unwrap_or(u32::MAX)
        .max(1);
    Ok(AuditPage {
        timezone: tz.name().to_owned(),
        entries,
        page,
        pages,
        total,
    })
}

/// The community settings in force, each with its configured default. Admins only.
#[server]
pub async fn get_community_settings() -> Result<crate::model::CommunitySettings, AppError> {
    use crate::model::{CommunitySettings, Permission, SettingValue};
    let (_admin, state) = crate::ssr::authz::require(Permission::Administer).await?;
    let effective = crate::ssr::community::settings(&state).await?;
    let tz = effective.timezone;
    Ok(CommunitySettings {
        timezone: SettingValue {
            value: tz.name().to_owned(),
            configured: state.settings.timezone.clone(),
            set_here: effective.timezone_set,
        },
        bronze_retention_days: SettingValue {
            value: effective.bronze_retention_days,
            configured: state.settings.bronze_retention_days,
            set_here: effective.retention_set,
        },
        message_lengths: state.settings.message_content,
        updated_at: effective
            .updated_at
            .map(|at| crate::ssr::community::local(at, tz)),
        updated_by: effective.updated_by,
        zones: chrono_tz::TZ_VARIANTS
            .iter()
            .map(|zone| zone.name().to_owned())
            .collect(),
    })
}

/// The longest bronze retention an admin can set (100 years).
pub const MAX_RETENTION_DAYS: u32 = 36_500;

/// Sets the community's time zone (an IANA name) and bronze retention (days, 0 keeps
/// everything); an empty value goes back to the configured one. Takes effect without a
/// restart: pages read it per request, the pipeline at its next run (a new time zone
/// recomputes the history in it). Audited. Admins only.
#[server]
pub async fn set_community_settings(
    timezone: String,
    bronze_retention_days: String,
) -> Result<(), AppError> {
    use crate::error::{Field, Problem, Unit};
    use crate::model::{AuditAction, Permission};
    let (admin, state) = crate::ssr::authz::require(Permission::Administer).await?;
    let timezone = timezone.trim();
    let zone: Option<chrono_tz::Tz> = if timezone.is_empty() {
        None
    } else {
        match timezone.parse::<chrono_tz::Tz>() {
            Ok(zone) => Some(zone),
            Err(_) => {
                let problem = Problem::TimezoneUnknown {
                    name: timezone.chars().take(64).collect(),
                };
                return Err(crate::ssr::authz::with_status(AppError::invalid(
                    Field::Timezone,
                    problem,
                )));
            }
        }
    };
    let days = bronze_retention_days.trim();
    let days: Option<u32> = if days.is_empty() {
        None
    } else {
        match days.parse::<u32>() {
            Ok(days) if days <= MAX_RETENTION_DAYS => Some(days),
            _ => {
                let problem = Problem::OutOfRange {
                    min: 0,
                    max: i64::from(MAX_RETENTION_DAYS),
                    unit: Unit::Days,
                };
                return Err(crate::ssr::authz::with_status(AppError::invalid(
                    Field::BronzeRetentionDays,
                    problem,
                )));
            }
        }
    };
    let mut tx = state.pool.begin().await?;
    let before: Option<(Option<String>, Option<i32>)> = sqlx::query_as(
        "select timezone, bronze_retention_days from app.community_settings for update",
    )
    .fetch_optional(&mut *tx)
    .await?;
    let before = before.unwrap_or((None, None));
    let after = (
        zone.map(|zone| zone.name().to_owned()),
        days.map(|days| i32::try_from(days).unwrap_or(i32::MAX)),
    );
    if before == after {
        return Ok(());
    }
    sqlx::query(
        "insert into app.community_settings (only_row, timezone, bronze_retention_days, updated_by, updated_at)
         values (true, $1, $2, $3, now())
         on conflict (only_row) do update
             set timezone = excluded.timezone,
                 bronze_retention_days = excluded.bronze_retention_days,
                 updated_by = excluded.updated_by, updated_at = excluded.updated_at",
    )
    .bind(&after.0)
    .bind(after.1)
    .bind(admin.id)
    .execute(&mut *tx)
    .await?;
    crate::ssr::audit::record(
        &mut tx,
        crate::ssr::audit::Actor::User(&admin),
        AuditAction::SettingsChanged,
        "community settings",
        serde_json::json!({ "timezone": before.0, "bronze_retention_days": before.1 }),
        serde_json::json!({ "timezone": after.0, "bronze_retention_days": after.1 }),
    )
    .await?;
    tx.commit().await?;
    tracing::info!(
        admin = admin.id,
        timezone = after.0.as_deref().unwrap_or("(configured)"),
        bronze_retention_days = ?after.1,
        "community settings changed"
    );
    Ok(())
}

/// What Guildhall collects here, from the settings in force: for the public privacy page,
/// so anyone may read it, signed in or not.
#[server]
pub async fn get_privacy_facts() -> Result<crate::model::PrivacyFacts, AppError> {
    use crate::model::PrivacyFacts;
    let state = use_context::<crate::ssr::AppState>().ok_or(AppError::Internal)?;
    let effective = crate::ssr::community::settings(&state).await?;
    let (rcon, logs, metrics): (i64, i64, i64) = sqlx::query_as(
        "select count(*) filter (where rcon_port is not null),
                count(*) filter (where log_source <> 'none'),
                count(*) filter (where prometheus_url is not null)
         from app.game_servers where enabled",
    )
    .fetch_one(&state.pool)
    .await?;
    Ok(PrivacyFacts {
        discord_bot: state.settings.bot_enabled,
        message_lengths: state.settings.message_content,
        rcon_servers: rcon,
        log_servers: logs,
        metrics_servers: metrics,
        bronze_retention_days: effective.bronze_retention_days,
        timezone: effective.timezone.name().to_owned(),
    })
}
