//! Writing `app.audit_log`: every change an admin makes is recorded in the same transaction
//! as the change itself, so the log never misses one nor records one that did not happen.

use crate::model::{AuditAction, CurrentUser};
use sqlx::PgConnection;

/// Records one change made by `actor`.
pub async fn record(
    conn: &mut PgConnection,
    actor: &CurrentUser,
    action: AuditAction,
    subject: &str,
    before: serde_json::Value,
    after: serde_json::Value,
) -> Result<(), sqlx::Error> {
    sqlx::query(
        "insert into app.audit_log (actor_user_id, actor_name, action, subject, before, after)
         values ($1, $2, $3, $4, $5, $6)",
    )
    .bind(actor.id)
    .bind(&actor.name)
    .bind(action.as_str())
    .bind(subject)
    .bind(before)
    .bind(after)
    .execute(conn)
    .await?;
    Ok(())
}
