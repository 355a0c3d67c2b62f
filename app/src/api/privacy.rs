//! "My data": a member's rights over what Guildhall holds about them. Hide me (still
//! counted, never named or singled out), opt out (history deleted, accounts kept only as
//! hashes the collectors drop), delete my account (everything deleted). Each asks for a
//! confirmation, applies at once, and wakes the pipeline to count the numbers again.

use crate::error::AppError;
use leptos::prelude::*;

/// Whether the signed-in member is hidden.
#[server]
pub async fn get_my_privacy() -> Result<crate::model::MyPrivacy, AppError> {
    use crate::model::{MyPrivacy, Permission};
    let (user, state) = crate::ssr::authz::require(Permission::OwnData).await?;
    let hidden: bool = sqlx::query_scalar(
        "select exists (select 1 from app.hidden_persons h
                        where h.person_id = silver.person_of_user($1))",
    )
    .bind(user.id)
    .fetch_one(&state.pool)
    .await?;
    Ok(MyPrivacy { hidden })
}

/// Hides the signed-in member from every page (or shows them again).
#[server]
pub async fn set_me_hidden(hidden: bool) -> Result<(), AppError> {
    use crate::model::Permission;
    let (user, state) = crate::ssr::authz::require(Permission::OwnData).await?;
    let mut tx = state.pool.begin().await?;
    let changed = if hidden {
        sqlx::query(
            "insert into app.hidden_persons (person_id) values (silver.person_of_user($1))
             on conflict do nothing",
        )
    } else {
        sqlx::query("delete from app.hidden_persons where person_id = silver.person_of_user($1)")
    }
    .bind(user.id)
    .execute(&mut *tx)
    .await?
    .rows_affected();
    if changed > 0 {
        // Who asked stays out of the log: the point is not to be singled out.
        sqlx::query(
            "insert into app.audit_log (actor_user_id, actor_name, action, subject, before, after)
             values (null, 'a member', $1, 'a member', $2, $3)",
        )
        .bind(crate::model::AuditAction::MemberHidden.as_str())
        .bind(serde_json::json!({ "hidden": !hidden }))
        .bind(serde_json::json!({ "hidden": hidden }))
        .execute(&mut *tx)
        .await?;
    }
    tx.commit().await?;
    tracing::info!(hidden, "a member changed whether they are hidden");
    Ok(())
}

/// Opts the signed-in member out: their history is deleted, their accounts are kept only
/// as hashes so the collectors drop their events, and they are signed out.
#[server]
pub async fn opt_me_out(confirmed: bool) -> Result<(), AppError> {
    erase_me(confirmed, true).await
}

/// Deletes the signed-in member's account and everything Guildhall holds about them; they
/// are signed out. Activity seen later counts as a new, unknown person.
#[server]
pub async fn delete_my_account(confirmed: bool) -> Result<(), AppError> {
    erase_me(confirmed, false).await
}

#[cfg(feature = "ssr")]
async fn erase_me(confirmed: bool, keep_hashes: bool) -> Result<(), AppError> {
    use crate::error::{Field, Problem};
    use crate::model::{AuditAction, Permission};
    let (user, state) = crate::ssr::authz::require(Permission::OwnData).await?;
    if !confirmed {
        let error = AppError::invalid(Field::Confirmed, Problem::NotConfirmed);
        return Err(crate::ssr::authz::with_status(error));
    }
    let action = if keep_hashes {
        AuditAction::MemberOptedOut
    } else {
        AuditAction::MemberDeleted
    };
    let mut tx = state.pool.begin().await?;
    // Every web user of the person (a merged person may have signed in with two Discord
    // accounts), read before the erasure deletes them.
    let users: Vec<i64> = sqlx::query_scalar(
        "select u.id from app.users u
         where u.id = $1
            or u.discord_user_id::text in (
                select i.external_id from silver.user_identities i
                where i.kind = 'discord' and i.person_id = silver.person_of_user($1))",
    )
    .bind(user.id)
    .fetch_all(&mut *tx)
    .await?;
    let accounts: i32 =
        sqlx::query_scalar("select app.erase_person(silver.person_of_user($1), $2, $3)")
            .bind(user.id)
            .bind(keep_hashes)
            .bind(action.as_str())
            .fetch_one(&mut *tx)
            .await
            .map_err(|error| crate::ssr::authz::with_status(AppError::from_raise(error)))?;
    // Signed out everywhere: every session of those users ends with the erasure.
    let sessions = crate::ssr::sessions::end_sessions_of(&mut tx, &users).await?;
    tx.commit().await?;
    crate::ssr::authz::end_session().await?;
    tracing::info!(
        accounts,
        sessions,
        action = action.as_str(),
        "a member's data was erased"
    );
    Ok(())
}
