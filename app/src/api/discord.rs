//! The Discord settings admins make on the admin page: which Discord role gives which
//! Guildhall role, and labels for invite codes. Each change is audited.

use crate::error::AppError;
use crate::model::GuildDiscordSettings;
use leptos::prelude::*;

/// Every tracked guild's roles (with their mapping) and invites (with their labels).
#[server]
pub async fn get_discord_settings() -> Result<Vec<GuildDiscordSettings>, AppError> {
    use crate::model::{DiscordRoleMapping, InviteLabel, Permission, Role};
    let (_admin, state) = crate::ssr::authz::require(Permission::Administer).await?;
    let guilds: Vec<(i64, String, Option<bool>, bool)> = sqlx::query_as(
        "select guild_id, name, invites_readable, tracked from app.discord_guilds
         order by not tracked, name, guild_id",
    )
    .fetch_all(&state.pool)
    .await?;
    let roles: Vec<(i64, i64, String, Option<String>)> = sqlx::query_as(
        "select r.guild_id, r.role_id, r.name, m.app_role
         from app.discord_roles r
         left join app.discord_role_mappings m
           on m.guild_id = r.guild_id and m.role_id = r.role_id
         where not r.deleted
         order by r.guild_id, r.position desc, r.name",
    )
    .fetch_all(&state.pool)
    .await?;
    // guild, code, inviter, uses, deleted, label
    type InviteRow = (i64, String, Option<String>, i32, bool, Option<String>);
    let invites: Vec<InviteRow> = sqlx::query_as(
        "select i.guild_id, i.code,
                case when app.is_hidden_discord(i.inviter_id) then null else i.inviter_name end,
                i.uses, i.deleted_at is not null, l.label
         from app.discord_invites i
         left join app.invite_labels l on l.guild_id = i.guild_id and l.code = i.code
         order by i.guild_id, i.deleted_at is not null, i.uses desc, i.code",
    )
    .fetch_all(&state.pool)
    .await?;
    Ok(guilds
        .into_iter()
        .map(
            |(guild_id, name, invites_readable, tracked)| GuildDiscordSettings {
                guild_id: guild_id.to_string(),
                name,
                tracked,
                invites_readable,
                roles: roles
                    .iter()
                    .filter(|(guild, ..)| *guild == guild_id)
                    .map(|(_, role_id, name, app_role)| DiscordRoleMapping {
                        role_id: role_id.to_string(),
                        name: name.clone(),
                        app_role: app_role.as_deref().and_then(Role::parse),
                    })
                    .collect(),
                invites: invites
                    .iter()
                    .filter(|(guild, ..)| *guild == guild_id)
                    .map(|(_, code, inviter, uses, deleted, label)| InviteLabel {
                        code: code.clone(),
                        inviter: inviter.clone(),
                        uses: *uses,
                        deleted: *deleted,
                        label: label.clone(),
                    })
                    .collect(),
            },
        )
        .collect())
}

/// Maps a Discord role of a tracked guild to `admin`, `leader` or `member` (`none` removes
/// the mapping), and applies it to every user at once. Admins only.
#[server]
pub async fn set_role_mapping(
    guild_id: i64,
    role_id: i64,
    app_role: String,
) -> Result<(), AppError> {
    use crate::error::{Field, Problem};
    use crate::model::{AuditAction, Permission, Role};
    let (admin, state) = crate::ssr::authz::require(Permission::Administer).await?;
    let wanted = match app_role.as_str() {
        "none" => None,
        other => match Role::parse(other) {
            Some(role) => Some(role),
            None => {
                let error = AppError::invalid(Field::AppRole, Problem::AppRoleUnknown);
                return Err(crate::ssr::authz::with_status(error));
            }
        },
    };
    let mut tx = state.pool.begin().await?;
    let known: Option<String> = sqlx::query_scalar(
        "select name from app.discord_roles where guild_id = $1 and role_id = $2 and not deleted",
    )
    .bind(guild_id)
    .bind(role_id)
    .fetch_optional(&mut *tx)
    .await?;
    let Some(role_name) = known else {
        let error = AppError::invalid(Field::RoleId, Problem::DiscordRoleUnknown);
        return Err(crate::ssr::authz::with_status(error));
    };
    let before: Option<String> = sqlx::query_scalar(
        "select app_role from app.discord_role_mappings where guild_id = $1 and role_id = $2",
    )
    .bind(guild_id)
    .bind(role_id)
    .fetch_optional(&mut *tx)
    .await?;
    let after = wanted.map(|role| role.as_str().to_owned());
    if before == after {
        return Ok(());
    }
    match &after {
        Some(role) => {
            sqlx::query(
                "insert into app.discord_role_mappings (guild_id, role_id, app_role, updated_by)
                 values ($1, $2, $3, $4)
                 on conflict (guild_id, role_id) do update
                     set app_role = excluded.app_role, updated_by = excluded.updated_by,
                         updated_at = now()",
            )
            .bind(guild_id)
            .bind(role_id)
            .bind(role)
            .bind(admin.id)
            .execute(&mut *tx)
            .await?;
        }
        None => {
            sqlx::query(
                "delete from app.discord_role_mappings where guild_id = $1 and role_id = $2",
            )
            .bind(guild_id)
            .bind(role_id)
            .execute(&mut *tx)
            .await?;
        }
    }
    crate::ssr::audit::record(
        &mut tx,
        crate::ssr::audit::Actor::User(&admin),
        AuditAction::RoleMapped,
        &format!("guild {guild_id}, role {role_id} ({role_name})"),
        serde_json::json!({ "app_role": before }),
        serde_json::json!({ "app_role": after }),
    )
    .await?;
    let changed: i32 = sqlx::query_scalar("select app.apply_discord_role_mappings(null)")
        .fetch_one(&mut *tx)
        .await?;
    tx.commit().await?;
    tracing::info!(
        admin = admin.id,
        guild_id,
        role_id,
        users_changed = changed,
        "role mapping changed"
    );
    Ok(())
}

/// Labels an invite code of a tracked guild ("Twitch", "partner server"); an empty label
/// removes it. Admins only.
#[server]
pub async fn set_invite_label(guild_id: i64, code: String, label: String) -> Result<(), AppError> {
    use crate::error::{Field, Problem};
    use crate::model::{AuditAction, Permission};
    let (admin, state) = crate::ssr::authz::require(Permission::Administer).await?;
    let label = label.trim().to_owned();
    // The longest label.
    const MAX_LABEL: u32 = 80;
    if label.chars().count() > MAX_LABEL as usize {
        let problem = Problem::LabelTooLong { max: MAX_LABEL };
        return Err(crate::ssr::authz::with_status(AppError::invalid(
            Field::Label,
            problem,
        )));
    }
    let mut tx = state.pool.begin().await?;
    let known: Option<String> = sqlx::query_scalar(
        "select code from app.discord_invites where guild_id = $1 and code = $2",
    )
    .bind(guild_id)
    .bind(&code)
    .fetch_optional(&mut *tx)
    .await?;
    if known.is_none() {
        let error = AppError::invalid(Field::Code, Problem::InviteUnknown);
        return Err(crate::ssr::authz::with_status(error));
    }
    let before: Option<String> =
        sqlx::query_scalar("select label from app.invite_labels where guild_id = $1 and code = $2")
            .bind(guild_id)
            .bind(&code)
            .fetch_optional(&mut *tx)
            .await?;
    let after = (!label.is_empty()).then_some(label);
    if before == after {
        return Ok(());
    }
    match &after {
        Some(label) => {
            sqlx::query(
                "insert into app.invite_labels (guild_id, code, label, updated_by)
                 values ($1, $2, $3, $4)
                 on conflict (guild_id, code) do update
                     set label = excluded.label, updated_by = excluded.updated_by,
                         updated_at = now()",
            )
            .bind(guild_id)
            .bind(&code)
            .bind(label)
            .bind(admin.id)
            .execute(&mut *tx)
            .await?;
        }
        None => {
            sqlx::query("delete from app.invite_labels where guild_id = $1 and code = $2")
                .bind(guild_id)
                .bind(&code)
                .execute(&mut *tx)
                .await?;
        }
    }
    crate::ssr::audit::record(
        &mut tx,
        crate::ssr::audit::Actor::User(&admin),
        AuditAction::InviteLabelled,
        &format!("guild {guild_id}, invite {code}"),
        serde_json::json!({ "label": before }),
        serde_json::json!({ "label": after }),
    )
    .await?;
    tx.commit().await?;
    tracing::info!(admin = admin.id, guild_id, %code, "invite label changed");
    Ok(())
}

/// Records a guild the bot is in, or stops recording it (from now on; what was recorded
/// stays). The bot follows within seconds: a guild turned on gets its member list, voice,
/// roles, invites and events read as if it had just become available. Admins only.
#[server]
pub async fn set_guild_tracking(guild_id: i64, tracked: bool) -> Result<(), AppError> {
    use crate::error::{Field, Problem};
    use crate::model::{AuditAction, Permission};
    let (admin, state) = crate::ssr::authz::require(Permission::Administer).await?;
    let mut tx = state.pool.begin().await?;
    let current: Option<(String, bool)> = sqlx::query_as(
        "select name, tracked from app.discord_guilds where guild_id = $1 for update",
    )
    .bind(guild_id)
    .fetch_optional(&mut *tx)
    .await?;
    let Some((name, before)) = current else {
        let error = AppError::invalid(Field::GuildId, Problem::GuildUnknown);
        return Err(crate::ssr::authz::with_status(error));
    };
    sqlx::query(
        "insert into app.discord_guild_tracking (guild_id, tracked, updated_by)
         values ($1, $2, $3)
         on conflict (guild_id) do update
             set tracked = excluded.tracked, updated_by = excluded.updated_by,
                 updated_at = now()",
    )
    .bind(guild_id)
    .bind(tracked)
    .bind(admin.id)
    .execute(&mut *tx)
    .await?;
    crate::ssr::audit::record(
        &mut tx,
        crate::ssr::audit::Actor::User(&admin),
        AuditAction::GuildTracking,
        &format!("guild {guild_id} ({name})"),
        serde_json::json!({ "tracked": before }),
        serde_json::json!({ "tracked": tracked }),
    )
    .await?;
    tx.commit().await?;
    tracing::info!(
        admin = admin.id,
        guild_id,
        tracked,
        "guild tracking changed"
    );
    Ok(())
}
