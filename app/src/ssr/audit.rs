//! Writing `app.audit_log`: every change an admin makes is recorded in the same transaction
//! as the change itself, so the log never misses one nor records one that did not happen.

use crate::model::{AuditAction, CurrentUser};
use sqlx::PgConnection;

/// Who made a change.
#[derive(Clone, Copy, Debug)]
pub enum Actor<'a> {
    /// A signed-in admin.
    User(&'a CurrentUser),
    /// Guildhall itself, following a setting (e.g. `GUILDHALL_ADMIN_IDS`).
    Configuration(&'a str),
}

/// Records one change made by `actor`.
pub async fn record(
    conn: &mut PgConnection,
    actor: Actor<'_>,
    action: AuditAction,
    subject: &str,
    before: serde_json::Value,
    after: serde_json::Value,
) -> Result<(), sqlx::Error> {
    sqlx::query(
        "insert into app.audit_log (actor_user_id, actor_name, action, subject, before, after)
         values ($1, $2, $3, $4, $5, $6)",
    )
    .bind(match actor {
        Actor::User(user) => Some(user.id),
        Actor::Configuration(_) => None,
    })
    .bind(match actor {
        Actor::User(user) => user.name.clone(),
        Actor::Configuration(setting) => format!("configuration ({setting})"),
    })
    .bind(action.as_str())
    .bind(subject)
    .bind(before)
    .bind(after)
    .execute(conn)
    .await?;
    Ok(())
}
