//! Ending every browser session of some web users at once (an opt-out or a deleted account
//! signs the member out everywhere, not only in the browser that asked). The session store
//! keeps each session as one encoded record in `app.sessions`; which user it is signed in as
//! lies inside that record, so the records are read and the users' ones deleted.

use super::authz::SESSION_USER_KEY;
use tower_sessions::session::Record;

/// Deletes every session in `app.sessions` signed in as one of `user_ids`, in the caller's
/// transaction; returns how many. A record that cannot be read is left alone (and logged):
/// it belongs to no user this code could have signed in.
pub async fn end_sessions_of(
    conn: &mut sqlx::PgConnection,
    user_ids: &[i64],
) -> Result<u64, sqlx::Error> {
    if user_ids.is_empty() {
        return Ok(0);
    }
    let rows: Vec<(String, Vec<u8>)> = sqlx::query_as("select id, data from app.sessions")
        .fetch_all(&mut *conn)
        .await?;
    let mut ended: Vec<String> = Vec::new();
    for (id, data) in rows {
        match rmp_serde::from_slice::<Record>(&data) {
            Ok(record) => {
                let user = record
                    .data
                    .get(SESSION_USER_KEY)
                    .and_then(serde_json::Value::as_i64);
                if user.is_some_and(|user| user_ids.contains(&user)) {
                    ended.push(id);
                }
            }
            Err(error) => tracing::warn!(error = %error, "a stored session cannot be read"),
        }
    }
    if ended.is_empty() {
        return Ok(0);
    }
    let deleted = sqlx::query("delete from app.sessions where id = any($1)")
        .bind(&ended)
        .execute(&mut *conn)
        .await?
        .rows_affected();
    Ok(deleted)
}
