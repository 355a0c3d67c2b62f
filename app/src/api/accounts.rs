//! "My accounts": the signed-in member's accounts, a one-time code to link a game account
//! by saying `!link CODE` in game chat, and unlinking a game account.

use crate::error::AppError;
use leptos::prelude::*;

/// The signed-in member's accounts: their Discord account and every linked game account.
#[server]
pub async fn get_my_accounts() -> Result<Vec<crate::model::MyAccount>, AppError> {
    use crate::model::{MyAccount, Permission};
    let (user, state) = crate::ssr::authz::require(Permission::OwnData).await?;
    type Row = (
        String,
        String,
        Option<String>,
        String,
        chrono::DateTime<chrono::Utc>,
    );
    let rows: Vec<Row> = sqlx::query_as(
        "select i.kind, i.external_id,
                coalesce(i.display_name,
                         (select coalesce(u.display_name, u.username) from app.users u
                          where i.kind = 'discord' and u.discord_user_id::text = i.external_id)),
                i.verified_by, i.linked_at
         from silver.user_identities i
         where i.person_id = (select person_id from silver.user_identities
                              where kind = 'discord' and external_id = $1::text)
         order by i.kind = 'discord' desc, i.kind, i.linked_at",
    )
    .bind(user.discord_user_id)
    .fetch_all(&state.pool)
    .await?;
    Ok(rows
        .into_iter()
        .map(
            |(kind, external_id, display_name, verified_by, linked_at)| MyAccount {
                kind,
                external_id,
                display_name,
                verified_by,
                linked_at,
            },
        )
        .collect())
}

/// A new one-time code (15 minutes) to say in game chat as `!link CODE`.
#[server]
pub async fn new_link_code() -> Result<crate::model::ShownLinkCode, AppError> {
    use crate::model::{Permission, ShownLinkCode};
    let (user, state) = crate::ssr::authz::require(Permission::OwnData).await?;
    match crate::ssr::identity::new_link_code(&state.pool, user.id, chrono::Utc::now()).await {
        Ok(code) => {
            tracing::info!(user = user.id, "in-game link code issued");
            Ok(ShownLinkCode {
                code: code.code,
                expires_at: code.expires_at,
            })
        }
        Err(crate::ssr::identity::CodeError::TooMany) => {
            let problem = crate::error::Problem::TooManyLinkCodes {
                per_hour: crate::ssr::identity::CODES_PER_HOUR,
            };
            Err(crate::ssr::authz::with_status(AppError::invalid_request(
                problem,
            )))
        }
        Err(crate::ssr::identity::CodeError::Database(error)) => Err(error.into()),
    }
}

/// The member's in-game codes of the last day that were said but linked nothing, with why:
/// the account is verified as another member's (only an admin can move it), or the code had
/// expired or was used.
#[server]
pub async fn get_my_link_attempts() -> Result<Vec<crate::model::MyLinkAttempt>, AppError> {
    use crate::model::{MyLinkAttempt, Permission};
    let (user, state) = crate::ssr::authz::require(Permission::OwnData).await?;
    let rows: Vec<(chrono::DateTime<chrono::Utc>, String, String, String)> = sqlx::query_as(
        "select at, kind, external_id, outcome from app.link_code_attempts
         where user_id = $1 and outcome in ('verified', 'expired', 'used')
           and at > now() - interval '1 day'
         order by at desc, id desc
         limit 20",
    )
    .bind(user.id)
    .fetch_all(&state.pool)
    .await?;
    Ok(rows
        .into_iter()
        .map(|(at, kind, external_id, outcome)| MyLinkAttempt {
            at,
            kind,
            external_id,
            outcome,
        })
        .collect())
}

/// Unlinks one of the member's own game accounts (never the Discord account one signs in
/// with). The KPI tables are recomputed at the pipeline's next run.
#[server]
pub async fn unlink_my_account(kind: String, external_id: String) -> Result<(), AppError> {
    use crate::error::{Field, Problem};
    use crate::model::Permission;
    let (user, state) = crate::ssr::authz::require(Permission::OwnData).await?;
    let mine: Option<String> = sqlx::query_scalar(
        "select i.kind from silver.user_identities i
         where i.kind = $1 and i.external_id = $2
           and i.person_id = (select person_id from silver.user_identities
                              where kind = 'discord' and external_id = $3::text)",
    )
    .bind(&kind)
    .bind(&external_id)
    .bind(user.discord_user_id)
    .fetch_optional(&state.pool)
    .await?;
    let refusal = match mine.as_deref() {
        None => Some(AppError::invalid(
            Field::ExternalId,
            Problem::AccountNotYours,
        )),
        Some("discord") => Some(AppError::invalid(Field::Kind, Problem::SignInAccountStays)),
        Some(_) => None,
    };
    if let Some(error) = refusal {
        return Err(crate::ssr::authz::with_status(error));
    }
    crate::ssr::identity::unlink(&state.pool, &kind, &external_id, user.id).await?;
    tracing::info!(user = user.id, kind, "game account unlinked");
    Ok(())
}

/// The Steam accounts the member's Discord connections show (verified, not revoked, as of
/// their last sign-in), and whether each is linked to them already.
#[server]
pub async fn get_my_steam_connections() -> Result<Vec<crate::model::SteamConnection>, AppError> {
    use crate::model::{Permission, SteamConnection};
    let (user, state) = crate::ssr::authz::require(Permission::OwnData).await?;
    let rows: Vec<(String, Option<String>, bool)> = sqlx::query_as(
        "select c.external_id, c.name,
                exists (select 1 from silver.user_identities i
                        where i.kind = 'steam' and i.external_id = c.external_id
                          and i.person_id = (select person_id from silver.user_identities
                                             where kind = 'discord' and external_id = $2::text))
         from app.discord_connections c
         where c.user_id = $1 and c.kind = 'steam'
         order by c.name, c.external_id",
    )
    .bind(user.id)
    .bind(user.discord_user_id)
    .fetch_all(&state.pool)
    .await?;
    Ok(rows
        .into_iter()
        .map(|(steam_id, name, linked)| SteamConnection {
            steam_id,
            name,
            linked,
        })
        .collect())
}

/// Links one of the Steam accounts the member's Discord connections vouch for.
#[server]
pub async fn link_steam_connection(steam_id: String) -> Result<(), AppError> {
    use crate::error::{Field, Problem};
    use crate::model::Permission;
    let (user, state) = crate::ssr::authz::require(Permission::OwnData).await?;
    let name: Option<Option<String>> = sqlx::query_scalar(
        "select name from app.discord_connections
         where user_id = $1 and kind = 'steam' and external_id = $2",
    )
    .bind(user.id)
    .bind(&steam_id)
    .fetch_optional(&state.pool)
    .await?;
    let Some(name) = name else {
        let error = AppError::invalid(Field::SteamId, Problem::SteamNotConnected);
        return Err(crate::ssr::authz::with_status(error));
    };
    crate::ssr::identity::link_own(
        &state.pool,
        user.id,
        "steam",
        &steam_id,
        "oauth_connection",
        name.as_deref(),
    )
    .await?;
    tracing::info!(
        user = user.id,
        "Steam account linked through the Discord connection"
    );
    Ok(())
}
