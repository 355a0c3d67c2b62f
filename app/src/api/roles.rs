//! Roles: admins grant and revoke `leader` and `admin` on the admin page. Every change is
//! written to the audit log in the same transaction; the last admin can never be removed,
//! and roles given by configuration (`GUILDHALL_ADMIN_IDS`, `GUILDHALL_LEADER_IDS`) are not
//! lowered here, since the next start would give them back.

use crate::error::AppError;
use crate::model::Role;
use leptos::prelude::*;

/// Sets the role of the user `user_id` (`app.users.id`). Admins only.
#[server]
pub async fn set_user_role(user_id: i64, role: Role) -> Result<(), AppError> {
    use crate::error::Refusal;
    use crate::model::{AuditAction, Permission};
    let (admin, state) = crate::ssr::authz::require(Permission::Administer).await?;
    let mut tx = state.pool.begin().await?;
    // Lock every admin row first: two admins demoting each other at once must not both
    // succeed and leave nobody.
    let admins: Vec<i64> =
        sqlx::query_scalar("select id from app.users where role = 'admin' order by id for update")
            .fetch_all(&mut *tx)
            .await?;
    let target: Option<(i64, String, Option<String>, String)> = sqlx::query_as(
        "select discord_user_id, username, display_name, role from app.users where id = $1 for update",
    )
    .bind(user_id)
    .fetch_optional(&mut *tx)
    .await?;
    let Some((discord_user_id, username, display_name, current)) = target else {
        return Err(refuse(Refusal::UnknownUser));
    };
    let current = Role::parse(&current).ok_or(AppError::Internal)?;
    if current == role {
        return Ok(());
    }
    match state.settings.configured_role(discord_user_id) {
        Some(configured @ Role::Admin) if role < configured => {
            return Err(refuse(Refusal::ConfiguredAdmin));
        }
        Some(configured @ Role::Leader) if role < configured => {
            return Err(refuse(Refusal::ConfiguredLeader));
        }
        _ => {}
    }
    if current == Role::Admin && admins.iter().all(|&id| id == user_id) {
        return Err(refuse(Refusal::LastAdmin));
    }
    sqlx::query("update app.users set role = $2, updated_at = now() where id = $1")
        .bind(user_id)
        .bind(role.as_str())
        .execute(&mut *tx)
        .await?;
    let name = display_name.unwrap_or(username);
    crate::ssr::audit::record(
        &mut tx,
        crate::ssr::audit::Actor::User(&admin),
        AuditAction::RoleChanged,
        &format!("user {discord_user_id} ({name})"),
        serde_json::json!({ "role": current.as_str() }),
        serde_json::json!({ "role": role.as_str() }),
    )
    .await?;
    tx.commit().await?;
    tracing::info!(
        admin = admin.id,
        user_id,
        from = current.as_str(),
        to = role.as_str(),
        "role changed"
    );
    Ok(())
}

/// A refusal, with the HTTP status set for the response.
#[cfg(feature = "ssr")]
fn refuse(refusal: crate::error::Refusal) -> AppError {
    let error = AppError::Refused(refusal);
    crate::ssr::authz::set_status(&error);
    error
}

/// Everyone who has signed in (and the configured admins), admins first; last sign-ins on
/// the clock of `tz`.
#[cfg(feature = "ssr")]
pub(super) async fn list_users(
    state: &crate::ssr::AppState,
    tz: chrono_tz::Tz,
) -> Result<Vec<crate::model::UserRole>, AppError> {
    use crate::model::UserRole;
    type Row = (
        i64,
        i64,
        String,
        Option<String>,
        String,
        Option<chrono::DateTime<chrono::Utc>>,
    );
    let rows: Vec<Row> = sqlx::query_as(
        "select id, discord_user_id, username, display_name, role, last_login_at
         from app.users
         -- A hidden member is never listed; one with a role must stay manageable.
         where role <> 'member' or not app.is_hidden_discord(discord_user_id)
         order by case role when 'admin' then 0 when 'leader' then 1 else 2 end,
                  lower(coalesce(display_name, username)), id
         limit 1000",
    )
    .fetch_all(&state.pool)
    .await?;
    Ok(rows
        .into_iter()
        .filter_map(
            |(user_id, discord_user_id, username, display_name, role, last_login_at)| {
                Some(UserRole {
                    user_id,
                    discord_user_id,
                    name: display_name.unwrap_or(username),
                    role: Role::parse(&role)?,
                    configured: state.settings.configured_role(discord_user_id),
                    last_login_at: last_login_at.map(|at| crate::ssr::community::local(at, tz)),
                })
            },
        )
        .collect())
}

/// One page (`offset`, `limit`) of the audit log, newest first, on the clock of `tz`, and
/// how many entries there are in all.
#[cfg(feature = "ssr")]
pub(super) async fn audit_log_page(
    pool: &sqlx::PgPool,
    tz: chrono_tz::Tz,
    offset: i64,
    limit: i64,
) -> Result<(Vec<crate::model::AuditEntry>, i64), AppError> {
    use crate::model::AuditEntry;
    type Row = (
        chrono::DateTime<chrono::Utc>,
        String,
        String,
        String,
        Option<String>,
        Option<String>,
    );
    let rows: Vec<Row> = sqlx::query_as(
        // A hidden member who linked their own account is not named as its actor.
        "select l.at,
                case when app.is_hidden_discord(u.discord_user_id) then 'a member'
                     else l.actor_name end,
                l.action, l.subject, l.before::text, l.after::text
         from app.audit_log l left join app.users u on u.id = l.actor_user_id
         order by l.at desc, l.id desc offset $1 limit $2",
    )
    .bind(offset)
    .bind(limit)
    .fetch_all(pool)
    .await?;
    let total: i64 = sqlx::query_scalar("select count(*) from app.audit_log")
        .fetch_one(pool)
        .await?;
    let entries = rows
        .into_iter()
        .map(|(at, actor, action, subject, before, after)| AuditEntry {
            at: crate::ssr::community::local(at, tz),
            actor,
            action,
            subject,
            before,
            after,
        })
        .collect();
    Ok((entries, total))
}
