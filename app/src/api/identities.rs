//! The admin identity editor: find persons by any name or id, link a game account to a
//! person, unlink one, merge two persons. Every change goes through the database functions
//! that write the audit log and recompute exactly the affected days. Admins only.

use crate::error::AppError;
use leptos::prelude::*;

/// A database refusal (a `raise exception` in the identity functions) as the problem it
/// means, a 400; the checks before each call leave it for a change made meanwhile.
#[cfg(feature = "ssr")]
fn refused(error: sqlx::Error) -> AppError {
    crate::ssr::authz::with_status(AppError::from_raise(error))
}

/// Only Steam and Minecraft accounts are linked and unlinked by hand (as the database
/// functions insist).
#[cfg(feature = "ssr")]
fn check_linkable(kind: &str) -> Result<(), AppError> {
    use crate::error::{Field, Problem};
    if matches!(kind, "steam" | "minecraft") {
        return Ok(());
    }
    let problem = Problem::KindNotLinkable {
        kind: kind.to_owned(),
    };
    Err(crate::ssr::authz::with_status(AppError::invalid(
        Field::Kind,
        problem,
    )))
}

/// Whether person `person_id` exists.
#[cfg(feature = "ssr")]
async fn person_exists(pool: &sqlx::PgPool, person_id: i64) -> Result<bool, AppError> {
    Ok(
        sqlx::query_scalar("select exists (select 1 from silver.dim_user where person_id = $1)")
            .bind(person_id)
            .fetch_one(pool)
            .await?,
    )
}

/// Persons whose account id, account name, Discord name or person number matches `query`
/// (at most 20), with their accounts and activity.
#[server]
pub async fn search_persons(query: String) -> Result<Vec<crate::model::PersonSummary>, AppError> {
    use crate::error::{Field, Problem};
    use crate::model::{Permission, PersonAccount, PersonSummary};
    // The fewest characters a search takes.
    const MIN_QUERY: u32 = 2;
    let (_admin, state) = crate::ssr::authz::require(Permission::Administer).await?;
    let query = query.trim().to_owned();
    if query.chars().count() < MIN_QUERY as usize {
        let problem = Problem::SearchTooShort { min: MIN_QUERY };
        return Err(crate::ssr::authz::with_status(AppError::invalid(
            Field::Query,
            problem,
        )));
    }
    type Row = (
        i64,
        Option<String>,
        i64,
        Option<chrono::NaiveDate>,
        serde_json::Value,
    );
    let rows: Vec<Row> = sqlx::query_as(include_str!("identities/search_persons.sql"))
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
    use crate::error::{Field, Problem};
    use crate::model::Permission;
    let (admin, state) = crate::ssr::authz::require(Permission::Administer).await?;
    check_linkable(&kind)?;
    let known: Option<String> = sqlx::query_scalar(
        "select kind from silver.user_identities where kind = $1 and external_id = $2",
    )
    .bind(&kind)
    .bind(external_id.trim())
    .fetch_optional(&state.pool)
    .await?;
    if known.is_none() {
        let problem = Problem::AccountUnknown {
            kind,
            external_id: external_id.trim().to_owned(),
        };
        return Err(crate::ssr::authz::with_status(AppError::invalid(
            Field::ExternalId,
            problem,
        )));
    }
    if !person_exists(&state.pool, person_id).await? {
        let problem = Problem::PersonUnknown { person_id };
        return Err(crate::ssr::authz::with_status(AppError::invalid(
            Field::PersonId,
            problem,
        )));
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
    use crate::error::{Field, Problem};
    use crate::model::Permission;
    let (admin, state) = crate::ssr::authz::require(Permission::Administer).await?;
    check_linkable(&kind)?;
    let person: Option<i64> = sqlx::query_scalar("select silver.unlink_identity($1, $2, $3)")
        .bind(&kind)
        .bind(&external_id)
        .bind(admin.id)
        .fetch_one(&state.pool)
        .await
        .map_err(refused)?;
    if person.is_none() {
        let problem = Problem::AccountUnknown { kind, external_id };
        return Err(crate::ssr::authz::with_status(AppError::invalid(
            Field::ExternalId,
            problem,
        )));
    }
    tracing::info!(admin = admin.id, kind, "identity unlinked by an admin");
    Ok(())
}

/// Moves every account of person `from` to person `into`.
#[server]
pub async fn merge_persons(into: i64, from: i64) -> Result<(), AppError> {
    use crate::error::{Field, Problem};
    use crate::model::Permission;
    let (admin, state) = crate::ssr::authz::require(Permission::Administer).await?;
    // What silver.merge_persons checks, said in the user's language.
    if into == from {
        let error = AppError::invalid(Field::From, Problem::MergeIntoItself);
        return Err(crate::ssr::authz::with_status(error));
    }
    for (person_id, field) in [(into, Field::Into), (from, Field::From)] {
        if !person_exists(&state.pool, person_id).await? {
            let problem = Problem::PersonUnknown { person_id };
            return Err(crate::ssr::authz::with_status(AppError::invalid(
                field, problem,
            )));
        }
    }
    let has_accounts: bool = sqlx::query_scalar(
        "select exists (select 1 from silver.user_identities where person_id = $1)",
    )
    .bind(from)
    .fetch_one(&state.pool)
    .await?;
    if !has_accounts {
        let problem = Problem::PersonHasNoAccounts { person_id: from };
        return Err(crate::ssr::authz::with_status(AppError::invalid(
            Field::From,
            problem,
        )));
    }
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

/// Moves the chosen accounts (`kind:external_id`) of person `person_id` to a new person of
/// their own, undoing a wrong link or merge; at least one account stays.
#[server]
pub async fn split_person(
    person_id: i64,
    #[server(default)] accounts: Vec<String>,
) -> Result<i64, AppError> {
    use crate::error::{Field, Problem};
    use crate::model::Permission;
    use std::collections::BTreeSet;
    let (admin, state) = crate::ssr::authz::require(Permission::Administer).await?;
    let Some((kinds, ids)) = accounts
        .iter()
        .map(|account| account.split_once(':'))
        .collect::<Option<(Vec<&str>, Vec<&str>)>>()
        .filter(|(kinds, _)| !kinds.is_empty())
    else {
        let error = AppError::invalid(Field::Accounts, Problem::SplitNothingChosen);
        return Err(crate::ssr::authz::with_status(error));
    };
    // What silver.split_person checks, said in the user's language: every chosen account
    // is the person's, and at least one stays.
    let owned: Vec<(String, String)> =
        sqlx::query_as("select kind, external_id from silver.user_identities where person_id = $1")
            .bind(person_id)
            .fetch_all(&state.pool)
            .await?;
    let owned: BTreeSet<(&str, &str)> = owned
        .iter()
        .map(|(kind, id)| (kind.as_str(), id.as_str()))
        .collect();
    let chosen: BTreeSet<(&str, &str)> = kinds.iter().copied().zip(ids.iter().copied()).collect();
    if !chosen.is_subset(&owned) {
        let problem = Problem::SplitForeignAccount { person_id };
        return Err(crate::ssr::authz::with_status(AppError::invalid(
            Field::Accounts,
            problem,
        )));
    }
    if chosen == owned {
        let problem = Problem::SplitKeepsOne { person_id };
        return Err(crate::ssr::authz::with_status(AppError::invalid(
            Field::Accounts,
            problem,
        )));
    }
    let new_person: i64 = sqlx::query_scalar("select silver.split_person($1, $2, $3, $4)")
        .bind(person_id)
        .bind(&kinds)
        .bind(&ids)
        .bind(admin.id)
        .fetch_one(&state.pool)
        .await
        .map_err(refused)?;
    tracing::info!(
        admin = admin.id,
        person_id,
        new_person,
        moved = kinds.len(),
        "person split"
    );
    Ok(new_person)
}

/// The days the identity review covers: job identity_review computes it for this window.
pub const REVIEW_WINDOW_DAYS: i64 = 90;

/// Work for the editor, over the last [`REVIEW_WINDOW_DAYS`] as the pipeline keeps it (at
/// most an hour old): game accounts no member owns yet with the member they most likely
/// belong to (name similarity and hours played while that member was in voice), and links
/// the data contradicts (one account on two servers at once; a linked member never in voice
/// or chat on any day the account played). Hidden members are left out. Everything is
/// computed by job identity_review (comparing player names with 20,000 members' names per
/// request took 2.7-5.5 s); this only reads it and drops what changed since.
#[server]
pub async fn get_identity_review() -> Result<crate::model::IdentityReview, AppError> {
    use crate::model::{IdentityReview, IdentitySuggestion, Permission, SuspectLink};
    let (_admin, state) = crate::ssr::authz::require(Permission::Administer).await?;
    let suggestions: Vec<IdentitySuggestion> = sqlx::query_as(
        "select s.kind, s.external_id, r.player_name, r.played_hours::int8 as played_hours,
                s.candidate_person, c.name as candidate_name, s.name_similarity,
                s.together_hours::int8 as together_hours, s.score
         from silver.identity_review_suggestions s
         join silver.identity_review_accounts r using (kind, external_id)
         join silver.user_identities i using (kind, external_id)
         cross join lateral (
             select app.discord_name(d.external_id) as name from silver.user_identities d
             where d.person_id = s.candidate_person and d.kind = 'discord'
             order by d.external_id limit 1) c
         -- Linked to a member or hidden since the review was computed: not offered.
         where not exists (select 1 from silver.user_identities d
                           where d.person_id = i.person_id and d.kind = 'discord')
           and i.person_id not in (select person_id from app.hidden_persons)
           and s.candidate_person not in (select person_id from app.hidden_persons)
           and c.name is not null
         order by s.score desc, s.kind, s.external_id, s.candidate_person
         limit 20",
    )
    .fetch_all(&state.pool)
    .await?;

    // Links the data contradicts, as the pipeline found them (job identity_review); a link
    // undone or a member hidden since is left out.
    let suspects: Vec<SuspectLink> = sqlx::query_as(
        "select s.kind, s.external_id,
                (select g.player_name from silver.fact_game_sessions g
                 where g.account_kind = s.kind and g.account_id = s.external_id
                   and g.player_name is not null
                 order by g.started_at desc limit 1) as player_name,
                i.person_id,
                (select app.discord_name(d.external_id) from silver.user_identities d
                 where d.person_id = i.person_id and d.kind = 'discord'
                 order by d.external_id limit 1) as person_name,
                i.verified_by, s.reason, s.count::int8 as count, s.last_at
         from silver.identity_review_suspects s
         join silver.user_identities i
           on i.kind = s.kind and i.external_id = s.external_id and i.person_id = s.person_id
         where i.person_id not in (select person_id from app.hidden_persons)
         order by s.count desc, s.kind, s.external_id
         limit 50",
    )
    .fetch_all(&state.pool)
    .await?;
    let days: Option<i32> =
        sqlx::query_scalar("select window_days from silver.identity_review_state")
            .fetch_optional(&state.pool)
            .await?;
    Ok(IdentityReview {
        suggestions,
        suspects,
        days: days.map_or(REVIEW_WINDOW_DAYS, i64::from),
    })
}
