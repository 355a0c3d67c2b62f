//! The admin identity editor: find persons by any name or id, link a game account to a
//! person, unlink one, merge two persons. Every change goes through the database functions
//! that write the audit log and recompute exactly the affected days. Admins only.

use crate::error::AppError;
use leptos::prelude::*;

/// A database refusal (a `raise exception` in the identity functions) as a clear 400.
#[cfg(feature = "ssr")]
fn refused(error: sqlx::Error) -> AppError {
    match error {
        sqlx::Error::Database(db) if db.code().as_deref() == Some("P0001") => {
            let error = AppError::BadRequest(db.message().to_owned());
            crate::ssr::authz::set_status(&error);
            error
        }
        other => other.into(),
    }
}

/// Persons whose account id, account name, Discord name or person number matches `query`
/// (at most 20), with their accounts and activity.
#[server]
pub async fn search_persons(query: String) -> Result<Vec<crate::model::PersonSummary>, AppError> {
    use crate::model::{Permission, PersonAccount, PersonSummary};
    let (_admin, state) = crate::ssr::authz::require(Permission::Administer).await?;
    let query = query.trim().to_owned();
    if query.chars().count() < 2 {
        let error = AppError::BadRequest("type at least two characters".into());
        crate::ssr::authz::set_status(&error);
        return Err(error);
    }
    type Row = (
        i64,
        Option<String>,
        i64,
        Option<chrono::NaiveDate>,
        serde_json::Value,
    );
    let rows: Vec<Row> = sqlx::query_as(
        "with pattern as (select '%' || replace(replace($1, '%', ''), '_', '') || '%' as p),
         hits as (
             select i.person_id from silver.user_identities i, pattern
             where i.external_id = $1 or i.display_name ilike pattern.p
             union
             select i.person_id from silver.user_identities i
             join app.users u on i.kind = 'discord' and i.external_id = u.discord_user_id::text,
                  pattern
             where u.username ilike pattern.p or u.display_name ilike pattern.p
             union
             select s.person_id from silver.fact_game_sessions s, pattern
             where s.person_id is not null and s.player_name ilike pattern.p
             union
             select d.person_id from silver.dim_user d where d.person_id::text = $1
         ),
         found as (select person_id from hits where person_id is not null
                   order by person_id limit 20)
         select f.person_id,
                (select coalesce(u.display_name, u.username) from silver.user_identities i
                 join app.users u on i.kind = 'discord' and i.external_id = u.discord_user_id::text
                 where i.person_id = f.person_id limit 1),
                (select count(distinct a.day) from silver.activity_daily a where a.person_id = f.person_id),
                (select max(a.day) from silver.activity_daily a where a.person_id = f.person_id),
                coalesce((select jsonb_agg(jsonb_build_object(
                              'kind', i.kind, 'external_id', i.external_id,
                              'display_name', coalesce(i.display_name,
                                  (select s.player_name from silver.fact_game_sessions s
                                   where s.account_kind = i.kind and s.account_id = i.external_id
                                   order by s.started_at desc limit 1)),
                              'verified_by', i.verified_by) order by i.kind, i.external_id)
                          from silver.user_identities i where i.person_id = f.person_id), '[]')
         from found f order by f.person_id",
    )
    .bind(&query)
    .fetch_all(&state.pool)
    .await?;
    Ok(rows
        .into_iter()
        .map(
            |(person_id, name, active_days, last_active, accounts)| PersonSummary {
                person_id,
                name,
                active_days,
                last_active,
                accounts: serde_json::from_value::<Vec<PersonAccount>>(accounts)
                    .unwrap_or_default(),
            },
        )
        .collect())
}

/// Moves a known Steam or Minecraft account to `person_id`.
#[server]
pub async fn admin_link_identity(
    person_id: i64,
    kind: String,
    external_id: String,
) -> Result<(), AppError> {
    use crate::model::Permission;
    let (admin, state) = crate::ssr::authz::require(Permission::Administer).await?;
    let known: Option<String> = sqlx::query_scalar(
        "select kind from silver.user_identities where kind = $1 and external_id = $2",
    )
    .bind(&kind)
    .bind(external_id.trim())
    .fetch_optional(&state.pool)
    .await?;
    if known.is_none() {
        let error = AppError::BadRequest(format!(
            "no {kind} account '{}' has been seen yet",
            external_id.trim()
        ));
        crate::ssr::authz::set_status(&error);
        return Err(error);
    }
    let person: Option<i64> =
        sqlx::query_scalar("select person_id from silver.dim_user where person_id = $1")
            .bind(person_id)
            .fetch_optional(&state.pool)
            .await?;
    if person.is_none() {
        let error = AppError::BadRequest(format!("person {person_id} does not exist"));
        crate::ssr::authz::set_status(&error);
        return Err(error);
    }
    sqlx::query("select silver.link_identity($1, $2, $3, 'admin', $4, null)")
        .bind(&kind)
        .bind(external_id.trim())
        .bind(person_id)
        .bind(admin.id)
        .execute(&state.pool)
        .await
        .map_err(refused)?;
    tracing::info!(
        admin = admin.id,
        person_id,
        kind,
        "identity linked by an admin"
    );
    Ok(())
}

/// Gives a Steam or Minecraft account a person of its own again.
#[server]
pub async fn admin_unlink_identity(kind: String, external_id: String) -> Result<(), AppError> {
    use crate::model::Permission;
    let (admin, state) = crate::ssr::authz::require(Permission::Administer).await?;
    let person: Option<i64> = sqlx::query_scalar("select silver.unlink_identity($1, $2, $3)")
        .bind(&kind)
        .bind(&external_id)
        .bind(admin.id)
        .fetch_one(&state.pool)
        .await
        .map_err(refused)?;
    if person.is_none() {
        let error = AppError::BadRequest(format!("no {kind} account '{external_id}' is known"));
        crate::ssr::authz::set_status(&error);
        return Err(error);
    }
    tracing::info!(admin = admin.id, kind, "identity unlinked by an admin");
    Ok(())
}

/// Moves every account of person `from` to person `into`.
#[server]
pub async fn merge_persons(into: i64, from: i64) -> Result<(), AppError> {
    use crate::model::Permission;
    let (admin, state) = crate::ssr::authz::require(Permission::Administer).await?;
    let moved: i32 = sqlx::query_scalar("select silver.merge_persons($1, $2, $3)")
        .bind(into)
        .bind(from)
        .bind(admin.id)
        .fetch_one(&state.pool)
        .await
        .map_err(refused)?;
    tracing::info!(admin = admin.id, into, from, moved, "persons merged");
    Ok(())
}
