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
             select i.person_id from silver.user_identities i
             join bronze.discord_member_events e
               on i.kind = 'discord' and i.external_id = e.user_id::text, pattern
             where e.nickname ilike pattern.p
             union
             select s.person_id from silver.fact_game_sessions s, pattern
             where s.person_id is not null and s.player_name ilike pattern.p
             union
             select d.person_id from silver.dim_user d where d.person_id::text = $1
         ),
         found as (select person_id from hits
                   where person_id is not null
                     -- Hidden members are never singled out, not even here.
                     and person_id not in (select person_id from app.hidden_persons)
                   order by person_id limit 20)
         select f.person_id,
                (select app.discord_name(i.external_id) from silver.user_identities i
                 where i.person_id = f.person_id and i.kind = 'discord'
                 order by i.external_id limit 1),
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

/// Moves the chosen accounts (`kind:external_id`) of person `person_id` to a new person of
/// their own, undoing a wrong link or merge; at least one account stays.
#[server]
pub async fn split_person(
    person_id: i64,
    #[server(default)] accounts: Vec<String>,
) -> Result<i64, AppError> {
    use crate::model::Permission;
    let (admin, state) = crate::ssr::authz::require(Permission::Administer).await?;
    let Some((kinds, ids)) = accounts
        .iter()
        .map(|account| account.split_once(':'))
        .collect::<Option<(Vec<&str>, Vec<&str>)>>()
        .filter(|(kinds, _)| !kinds.is_empty())
    else {
        let error = AppError::BadRequest("choose the accounts to split off".into());
        crate::ssr::authz::set_status(&error);
        return Err(error);
    };
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

/// Work for the editor: game accounts no member owns yet with the member they most likely
/// belong to (name similarity and hours played while that member was in voice, over the last
/// `days`), and links the data contradicts (one account on two servers at once; a linked
/// member never in voice or chat on any day the account played). Hidden members are left out.
#[server]
pub async fn get_identity_review(days: i64) -> Result<crate::model::IdentityReview, AppError> {
    use crate::model::{IdentityReview, IdentitySuggestion, Permission, SuspectLink};
    use std::collections::HashMap;
    let (_admin, state) = crate::ssr::authz::require(Permission::Administer).await?;
    let days = days.clamp(7, 365);
    let since = chrono::Utc::now() - chrono::Duration::days(days);
    // The 30 game accounts no Discord member owns that played most (clock hours), each with
    // the hours it played while a member was in voice (not AFK). Open sessions last until
    // their server (or guild) was last heard from, as in activity_daily.
    type Unowned = (
        String,
        String,
        Option<String>,
        i64,
        sqlx::types::Json<Vec<(i64, i64)>>,
    );
    let unowned: Vec<Unowned> = sqlx::query_as(
        "with review_hours as (
             select i.kind, i.external_id, h.hour
             from silver.user_identities i
             join silver.fact_game_sessions s
               on s.account_kind = i.kind and s.account_id = i.external_id and s.started_at >= $1
             left join silver.game_server_heard heard on heard.server_id = s.server_id
             cross join lateral generate_series(
                 date_trunc('hour', s.started_at),
                 coalesce(s.ended_at, heard.heard_until, s.started_at) - interval '1 microsecond',
                 interval '1 hour') h (hour)
             where i.kind in ('steam', 'minecraft')
               and not exists (select 1 from silver.user_identities d
                               where d.person_id = i.person_id and d.kind = 'discord')
               and i.person_id not in (select person_id from app.hidden_persons)
             group by 1, 2, 3
         ),
         top as (
             select kind, external_id, count(*) as hours from review_hours
             group by 1, 2 order by 3 desc, 1, 2 limit 30
         ),
         top_hours as (
             select r.* from review_hours r join top t using (kind, external_id)
         ),
         voice as (
             select v.person_id, h.hour
             from silver.fact_voice_sessions v
             left join app.discord_guilds g on g.guild_id = v.guild_id
             cross join lateral generate_series(
                 date_trunc('hour', v.started_at),
                 coalesce(v.ended_at, greatest(g.observed_until, v.started_at), v.started_at)
                     - interval '1 microsecond',
                 interval '1 hour') h (hour)
             where v.started_at >= $1 and not v.is_afk
             group by 1, 2
         ),
         together as (
             select r.kind, r.external_id, v.person_id, count(*) as hours
             from top_hours r join voice v on v.hour = r.hour
             group by 1, 2, 3
         )
         select t.kind, t.external_id,
                (select s.player_name from silver.fact_game_sessions s
                 where s.account_kind = t.kind and s.account_id = t.external_id
                   and s.player_name is not null
                 order by s.started_at desc limit 1),
                t.hours,
                coalesce((select jsonb_agg(jsonb_build_array(w.person_id, w.hours))
                          from together w
                          where w.kind = t.kind and w.external_id = t.external_id), '[]')
         from top t order by t.hours desc, t.kind, t.external_id",
    )
    .bind(since)
    .fetch_all(&state.pool)
    .await?;
    // Every Discord member with a name to compare: web name, server nickname or account name.
    let members: Vec<(i64, Option<String>)> = sqlx::query_as(
        "select d.person_id, app.discord_name(d.external_id)
         from silver.user_identities d
         where d.kind = 'discord'
           and d.person_id not in (select person_id from app.hidden_persons)",
    )
    .fetch_all(&state.pool)
    .await?;
    let names: HashMap<i64, String> = members
        .into_iter()
        .filter_map(|(person, name)| Some((person, name?)))
        .collect();
    let mut suggestions = Vec::new();
    for (kind, external_id, player_name, played_hours, together) in unowned {
        let voice: HashMap<i64, i64> = together.0.into_iter().collect();
        let mut candidates: Vec<IdentitySuggestion> = names
            .iter()
            .filter_map(|(&person, name)| {
                let similarity = player_name.as_deref().map_or(0.0, |player| {
                    crate::ssr::identity::name_similarity(player, name)
                });
                let together_hours = voice.get(&person).copied().unwrap_or(0);
                let share = together_hours as f64 / played_hours.max(1) as f64;
                // Worth a look: the names are alike, or they were together for a while.
                let plausible = similarity >= 0.5 || (together_hours >= 3 && share >= 0.5);
                plausible.then(|| IdentitySuggestion {
                    kind: kind.clone(),
                    external_id: external_id.clone(),
                    player_name: player_name.clone(),
                    played_hours,
                    candidate_person: person,
                    candidate_name: name.clone(),
                    name_similarity: similarity,
                    together_hours,
                    score: 0.6 * similarity + 0.4 * share.min(1.0),
                })
            })
            .collect();
        candidates.sort_by(|a, b| {
            b.score
                .total_cmp(&a.score)
                .then(a.candidate_person.cmp(&b.candidate_person))
        });
        suggestions.extend(candidates.into_iter().take(3));
    }
    suggestions.sort_by(|a, b| {
        b.score
            .total_cmp(&a.score)
            .then_with(|| a.kind.cmp(&b.kind))
            .then_with(|| a.external_id.cmp(&b.external_id))
    });
    suggestions.truncate(20);

    let suspects: Vec<SuspectLink> = sqlx::query_as(
        "with linked as (
             select i.kind, i.external_id, i.person_id, i.verified_by,
                    (select app.discord_name(d.external_id) from silver.user_identities d
                     where d.person_id = i.person_id and d.kind = 'discord'
                     order by d.external_id limit 1) as person_name
             from silver.user_identities i
             where i.kind in ('steam', 'minecraft')
               and exists (select 1 from silver.user_identities d
                           where d.person_id = i.person_id and d.kind = 'discord')
               and i.person_id not in (select person_id from app.hidden_persons)
         ),
         both_servers as (
             select l.kind, l.external_id, count(*) as times,
                    max(greatest(a.started_at, b.started_at)) as last_at
             from linked l
             join silver.fact_game_sessions a
               on a.account_kind = l.kind and a.account_id = l.external_id and a.started_at >= $1
             join silver.fact_game_sessions b
               on b.account_kind = l.kind and b.account_id = l.external_id
              and b.server_id > a.server_id and b.started_at >= $1 - interval '1 day'
             -- An open session lasts until its server was last heard from.
             left join silver.game_server_heard ha on ha.server_id = a.server_id
             left join silver.game_server_heard hb on hb.server_id = b.server_id
             where least(coalesce(a.ended_at, ha.heard_until, a.started_at),
                         coalesce(b.ended_at, hb.heard_until, b.started_at))
                   - greatest(a.started_at, b.started_at) > interval '5 minutes'
             group by 1, 2
         ),
         -- Days the account played, with the member's Discord activity of the same day: none
         -- on any of five or more.
         never_online as (
             select l.kind, l.external_id, count(*) as played_days, max(g.day) as last_day
             from linked l
             join silver.activity_daily g
               on g.account_kind = l.kind and g.account_id = l.external_id
              and g.game_seconds > 0 and g.day >= ($1 at time zone 'UTC')::date
             left join silver.activity_daily d
               on d.person_id = l.person_id and d.account_kind = 'discord' and d.day = g.day
              and (d.voice_seconds > 0 or d.messages > 0)
             group by 1, 2
             having count(*) >= 5 and count(d.day) = 0
         ),
         found as (
             select kind, external_id, 'two_servers' as reason, times as n, last_at from both_servers
             union all
             select kind, external_id, 'never_online', played_days,
                    last_day::timestamp at time zone 'UTC' from never_online
         )
         select f.kind, f.external_id,
                (select s.player_name from silver.fact_game_sessions s
                 where s.account_kind = f.kind and s.account_id = f.external_id
                   and s.player_name is not null
                 order by s.started_at desc limit 1) as player_name,
                l.person_id, l.person_name, l.verified_by, f.reason, f.n as count, f.last_at
         from found f join linked l using (kind, external_id)
         order by f.n desc, f.kind, f.external_id
         limit 50",
    )
    .bind(since)
    .fetch_all(&state.pool)
    .await?;
    Ok(IdentityReview {
        suggestions,
        suspects,
        days,
    })
}
