//! "Sign in through Steam" on My accounts: `/me/steam/login` sends a signed-in member to
//! Steam with a per-login state in `return_to`; `/me/steam/return` checks Steam's answer
//! (static checks, then `check_authentication` at the configured endpoint, then the nonce
//! against replays) and links the Steam account to the member's person, verified
//! `steam_openid`. Either way the browser lands on `/me?steam=<outcome>`, where the page says
//! what happened.

use super::steam_openid::{OpenIdError, SteamOpenId};
use crate::state::ServerState;
use app::i18n::Lang;
use app::model::Permission;
use app::ssr::authz::authorize;
use axum::extract::{RawQuery, State};
use axum::http::HeaderMap;
use axum::response::{IntoResponse, Redirect, Response};
use chrono::{Duration, Utc};
use serde::{Deserialize, Serialize};
use tower_sessions::Session;
use url::Url;

/// Session key of a Steam login in progress.
const PENDING_STEAM_KEY: &str = "steam_login";
/// How old Steam's answer may be: the member has this long to sign in on Steam's page.
pub const MAX_ANSWER_AGE: Duration = Duration::minutes(10);
/// Accepted nonces are kept this long (well past [`MAX_ANSWER_AGE`], after which an answer is
/// refused as expired anyway).
const NONCE_RETENTION: &str = "1 day";

/// What `/me/steam/login` remembers for the return. Server-side session only.
#[derive(Serialize, Deserialize)]
struct PendingSteamLogin {
    state: String,
}

/// Where the browser lands, and what `/me` says: `linked`, or why not.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Outcome {
    Linked,
    /// The member cancelled on Steam.
    Cancelled,
    /// No login in progress in this browser, a different one, or too old an answer.
    Expired,
    /// The answer was already used once.
    Replayed,
    /// Steam did not confirm the answer, or it failed a check (tampered, foreign).
    Refused,
    /// Steam could not be asked.
    Unavailable,
    /// Saving the link failed (logged).
    Failed,
}

impl Outcome {
    /// The `steam` query value on `/me`.
    pub fn as_str(self) -> &'static str {
        match self {
            Outcome::Linked => "linked",
            Outcome::Cancelled => "cancelled",
            Outcome::Expired => "expired",
            Outcome::Replayed => "replayed",
            Outcome::Refused => "refused",
            Outcome::Unavailable => "unavailable",
            Outcome::Failed => "failed",
        }
    }

    fn of(error: &OpenIdError) -> Self {
        match error {
            OpenIdError::Cancelled => Outcome::Cancelled,
            OpenIdError::ExpiredNonce => Outcome::Expired,
            OpenIdError::Upstream(_) => Outcome::Unavailable,
            _ => Outcome::Refused,
        }
    }

    fn redirect(self) -> Response {
        Redirect::to(&format!("/me?steam={}", self.as_str())).into_response()
    }
}

fn provider(state: &ServerState) -> SteamOpenId {
    SteamOpenId::new(state.config.steam.openid_base.clone())
}

/// The callback for one login: `<public_url>me/steam/return?state=<state>`.
fn return_to(state: &ServerState, login_state: &str) -> Option<Url> {
    let mut url = state.config.public_url.join("me/steam/return").ok()?;
    url.query_pairs_mut().append_pair("state", login_state);
    Some(url)
}

/// `GET /me/steam/login`: a signed-in member is sent to Steam's sign-in page.
pub(super) async fn login(
    State(state): State<ServerState>,
    headers: HeaderMap,
    session: Session,
) -> Response {
    if let Err(error) = authorize(&state.app.pool, &session, Permission::OwnData).await {
        return signed_out(error, Lang::of_request(&headers));
    }
    let login_state: String = rand::random::<[u8; 16]>()
        .iter()
        .map(|byte| format!("{byte:02x}"))
        .collect();
    let Some(return_to) = return_to(&state, &login_state) else {
        tracing::error!(public_url = %state.config.public_url, "the public URL cannot take a path");
        return Outcome::Failed.redirect();
    };
    let pending = PendingSteamLogin { state: login_state };
    if let Err(error) = session.insert(PENDING_STEAM_KEY, pending).await {
        tracing::error!(%error, "storing the pending Steam login in the session failed");
        return Outcome::Failed.redirect();
    }
    let url = provider(&state).login_url(&return_to, &state.config.public_url);
    Redirect::to(url.as_str()).into_response()
}

/// `GET /me/steam/return?state=…&openid.…`: Steam's answer.
pub(super) async fn finish(
    State(state): State<ServerState>,
    headers: HeaderMap,
    session: Session,
    RawQuery(query): RawQuery,
) -> Response {
    let user = match authorize(&state.app.pool, &session, Permission::OwnData).await {
        Ok(user) => user,
        Err(error) => return signed_out(error, Lang::of_request(&headers)),
    };
    let outcome = link(&state, &session, user.id, query.as_deref().unwrap_or("")).await;
    match outcome {
        Outcome::Linked => tracing::info!(user = user.id, "Steam account linked through Steam"),
        outcome => tracing::info!(
            user = user.id,
            outcome = outcome.as_str(),
            "Steam sign-in not linked"
        ),
    }
    outcome.redirect()
}

async fn link(state: &ServerState, session: &Session, user_id: i64, query: &str) -> Outcome {
    // The pending login is used once, whatever happens next.
    let pending: Option<PendingSteamLogin> = match session.remove(PENDING_STEAM_KEY).await {
        Ok(pending) => pending,
        Err(error) => {
            tracing::error!(%error, "reading the pending Steam login failed");
            return Outcome::Failed;
        }
    };
    let params: Vec<(String, String)> = url::form_urlencoded::parse(query.as_bytes())
        .into_owned()
        .collect();
    let Some(pending) = pending else {
        return Outcome::Expired;
    };
    let Some(expected) = return_to(state, &pending.state) else {
        return Outcome::Failed;
    };
    let steam = provider(state);
    let assertion =
        match steam.check_assertion(&params, expected.as_str(), Utc::now(), MAX_ANSWER_AGE) {
            Ok(assertion) => assertion,
            Err(error) => return Outcome::of(&error),
        };
    if let Err(error) = steam.verify(&state.http, &params).await {
        if let OpenIdError::Upstream(reason) = &error {
            tracing::warn!(reason, "Steam's check_authentication failed");
        }
        return Outcome::of(&error);
    }
    match remember_nonce(&state.app.pool, &assertion.nonce).await {
        Ok(true) => {}
        Ok(false) => return Outcome::Replayed,
        Err(error) => {
            tracing::error!(%error, "recording the Steam nonce failed");
            return Outcome::Failed;
        }
    }
    let steam_id = assertion.steam_id.to_string();
    match app::ssr::identity::link_own(
        &state.app.pool,
        user_id,
        "steam",
        &steam_id,
        "steam_openid",
        None,
    )
    .await
    {
        Ok(()) => Outcome::Linked,
        Err(error) => {
            tracing::error!(%error, "linking the Steam account failed");
            Outcome::Failed
        }
    }
}

/// Stores an accepted nonce; `false` when it was accepted before (a replay). Forgets nonces
/// older than [`NONCE_RETENTION`] on the way.
async fn remember_nonce(pool: &sqlx::PgPool, nonce: &str) -> Result<bool, sqlx::Error> {
    sqlx::query(&format!(
        "delete from app.steam_openid_nonces where used_at < now() - interval '{NONCE_RETENTION}'"
    ))
    .execute(pool)
    .await?;
    let inserted = sqlx::query(
        "insert into app.steam_openid_nonces (nonce) values ($1) on conflict (nonce) do nothing",
    )
    .bind(nonce)
    .execute(pool)
    .await?
    .rows_affected();
    Ok(inserted == 1)
}

/// Not signed in: sign in first and come back to My accounts; signed in without the
/// permission: the error page, in `lang`.
fn signed_out(error: app::error::AppError, lang: Lang) -> Response {
    match error {
        app::error::AppError::Unauthorized => Redirect::to("/auth/login?next=/me").into_response(),
        error => super::app_error_page(lang, &error),
    }
}
