//! Sign-in: Discord OAuth2 (authorization code with state and PKCE), demo login, logout,
//! linking Steam through Steam's OpenID sign-in, and the error page shown when sign-in fails.
//!
//! Signing in always renews the session id (against session fixation) before the user id
//! is written to the session under [`SESSION_USER_KEY`].
//!
//! Logs here never name the Discord account of a refused sign-in (only of configured roles,
//! which are in the configuration anyway).

pub mod demo;
mod discord;
pub mod steam;
pub mod steam_login;
pub mod steam_openid;

use crate::state::ServerState;
use app::error::AppError;
use app::i18n::{Key, Lang, error_text};
use app::model::Role;
use app::ssr::authz::SESSION_USER_KEY;
use askama::Template;
use axum::http::{HeaderMap, StatusCode};
use axum::response::{Html, IntoResponse, Redirect, Response};
use axum::routing::{MethodRouter, get, post};
use serde::Deserialize;
use sqlx::PgPool;
use tower_sessions::Session;

/// The sign-in routes (`/auth/…`, and Steam linking under `/me/steam/…`).
pub fn routes() -> Vec<(&'static str, MethodRouter<ServerState>)> {
    vec![
        ("/auth/login", get(discord::login)),
        ("/auth/callback", get(discord::callback)),
        // POST only: a GET could be triggered by any other site (an image, a link).
        ("/auth/logout", post(logout)),
        // The page with one button per role; the buttons POST.
        ("/auth/demo", get(demo::page).post(demo::login)),
        ("/me/steam/login", get(steam_login::login)),
        ("/me/steam/return", get(steam_login::finish)),
    ]
}

/// Gives the configured Discord user ids their role (`GUILDHALL_ADMIN_IDS` → admin,
/// `GUILDHALL_LEADER_IDS` → at least leader), creating placeholder users (named after the id)
/// for those who have not signed in yet. Each raise goes into the audit log. Run at start-up.
pub async fn bootstrap_roles(
    pool: &PgPool,
    admin_ids: &[i64],
    leader_ids: &[i64],
) -> anyhow::Result<()> {
    let wanted = admin_ids
        .iter()
        .map(|&id| (id, Role::Admin, "GUILDHALL_ADMIN_IDS"))
        .chain(
            leader_ids
                .iter()
                .filter(|id| !admin_ids.contains(id))
                .map(|&id| (id, Role::Leader, "GUILDHALL_LEADER_IDS")),
        );
    for (id, role, setting) in wanted {
        let raised = raise_configured_role(pool, id, role, setting)
            .await
            .map_err(|error| {
                anyhow::anyhow!(
                    "making Discord user {id} {} ({setting}): {error}",
                    role.as_str()
                )
            })?;
        if let Some(before) = raised {
            tracing::info!(
                discord_user_id = id,
                from = before,
                to = role.as_str(),
                setting,
                "configured role given"
            );
        }
    }
    Ok(())
}

/// Raises one configured user to `role` (never lowers); returns the role before when it
/// changed.
async fn raise_configured_role(
    pool: &PgPool,
    discord_user_id: i64,
    role: Role,
    setting: &str,
) -> Result<Option<String>, sqlx::Error> {
    let mut tx = pool.begin().await?;
    let before: Option<String> = sqlx::query_scalar(
        "with old as (select role from app.users where discord_user_id = $1 for update),
         upserted as (
             insert into app.users (discord_user_id, username, role)
             values ($1, $1::text, $2)
             on conflict (discord_user_id) do update
             set role = excluded.role, updated_at = now()
             where app.role_rank(app.users.role) < app.role_rank(excluded.role)
             returning 1
         )
         select coalesce((select role from old), 'none') from upserted",
    )
    .bind(discord_user_id)
    .bind(role.as_str())
    .fetch_optional(&mut *tx)
    .await?;
    if let Some(before) = &before {
        app::ssr::audit::record(
            &mut tx,
            app::ssr::audit::Actor::Configuration(setting),
            app::model::AuditAction::RoleChanged,
            &format!("user {discord_user_id}"),
            serde_json::json!({ "role": before }),
            serde_json::json!({ "role": role.as_str() }),
        )
        .await?;
    }
    tx.commit().await?;
    Ok(before)
}

/// A small standalone HTML page for a refused or failed request, in `lang`.
pub fn error_page(lang: Lang, status: StatusCode, message: Key) -> Response {
    ErrorPage::new(lang, status, message.text(lang).to_owned()).into_response()
}

/// The error page for an error of the app (a refused permission, a failed request), in
/// `lang`, with the error's own status.
pub fn app_error_page(lang: Lang, error: &AppError) -> Response {
    let status = StatusCode::from_u16(error.status()).unwrap_or(StatusCode::FORBIDDEN);
    ErrorPage::new(lang, status, error_text(error, lang)).into_response()
}

/// Why signing in did not work, as the user is told.
#[derive(Debug)]
pub(crate) enum SignInError {
    /// No Discord client id and secret configured.
    NotConfigured { demo: bool },
    /// Discord returned an error other than a declined consent.
    Provider,
    /// The user declined on Discord's consent screen.
    Denied,
    /// No login was started in this browser, or `state` does not match it.
    BadState,
    /// The callback came without a code.
    MissingCode,
    /// Discord's token or user endpoint failed.
    Upstream,
    /// Demo login while demo mode is off.
    DemoOff,
    /// Demo login while real (non-demo) users have signed in.
    DemoRealUsers,
    /// `/auth/demo` with a role that does not exist.
    UnknownRole,
    /// The account is not a member of a tracked guild (and not a configured admin or leader).
    NotAMember,
    /// Guildhall has not read any tracked guild's member list yet.
    MembersUnknown,
    /// The account's owner opted out: nothing about them is recorded.
    OptedOut,
    /// Database or session store failed (already logged).
    Internal,
}

/// Whether a Discord account may sign in as a member: it is a member of a tracked guild now,
/// by the latest event the bot recorded (bronze, so a join counts before the pipeline ran).
pub(crate) async fn check_membership(
    pool: &sqlx::PgPool,
    discord_user_id: i64,
) -> Result<(), SignInError> {
    let (known, member): (bool, bool) = sqlx::query_as(
        // The guilds the bot records now (`tracked`: the configuration or an admin's
        // decision, as the bot applied it).
        "with tracked as (select guild_id from app.discord_guilds where tracked)
         select
             exists (select 1 from bronze.discord_member_events
                     where guild_id in (select guild_id from tracked)),
             exists (select 1 from (
                 select distinct on (guild_id) guild_id, kind
                 from bronze.discord_member_events
                 where user_id = $1 and guild_id in (select guild_id from tracked)
                 order by guild_id, observed_at desc, event_id desc
             ) latest where kind <> 'leave')",
    )
    .bind(discord_user_id)
    .fetch_one(pool)
    .await
    .map_err(|error| {
        tracing::error!(%error, "checking the membership failed");
        SignInError::Internal
    })?;
    match (member, known) {
        (true, _) => Ok(()),
        (false, true) => {
            // Not the account: a refused sign-in is nobody Guildhall may record.
            tracing::info!("sign-in refused: not a member of a tracked guild");
            Err(SignInError::NotAMember)
        }
        (false, false) => Err(SignInError::MembersUnknown),
    }
}

impl SignInError {
    /// The page that tells the user, in `lang`.
    pub(crate) fn page(self, lang: Lang) -> Response {
        let (status, message) = match self {
            SignInError::NotConfigured { demo } => {
                let message = if demo {
                    Key::AuthNotConfiguredDemo
                } else {
                    Key::AuthNotConfigured
                };
                let mut page = ErrorPage::new(
                    lang,
                    StatusCode::SERVICE_UNAVAILABLE,
                    message.text(lang).to_owned(),
                );
                page.demo_links = demo;
                return page.into_response();
            }
            SignInError::Provider => (StatusCode::BAD_REQUEST, Key::AuthProvider),
            SignInError::Denied => (StatusCode::FORBIDDEN, Key::AuthDenied),
            SignInError::BadState => (StatusCode::BAD_REQUEST, Key::AuthBadState),
            SignInError::MissingCode => (StatusCode::BAD_REQUEST, Key::AuthMissingCode),
            SignInError::Upstream => (StatusCode::BAD_GATEWAY, Key::AuthUpstream),
            SignInError::DemoOff => (StatusCode::NOT_FOUND, Key::NotFound),
            SignInError::DemoRealUsers => (StatusCode::FORBIDDEN, Key::AuthDemoRealUsers),
            SignInError::UnknownRole => (StatusCode::BAD_REQUEST, Key::AuthUnknownRole),
            SignInError::NotAMember => (StatusCode::FORBIDDEN, Key::AuthNotAMember),
            SignInError::MembersUnknown => {
                (StatusCode::SERVICE_UNAVAILABLE, Key::AuthMembersUnknown)
            }
            SignInError::OptedOut => (StatusCode::FORBIDDEN, Key::AuthOptedOut),
            SignInError::Internal => (StatusCode::INTERNAL_SERVER_ERROR, Key::AuthInternal),
        };
        error_page(lang, status, message)
    }
}

#[derive(Template)]
#[template(path = "auth_error.html")]
struct ErrorPage {
    lang: Lang,
    status: StatusCode,
    message: String,
    demo_links: bool,
}

impl ErrorPage {
    fn new(lang: Lang, status: StatusCode, message: String) -> Self {
        ErrorPage {
            lang,
            status,
            message,
            demo_links: false,
        }
    }

    /// The heading: what happened, in a few words.
    fn title(&self) -> &'static str {
        let key = match self.status.as_u16() {
            400 => Key::AuthTitleSignInFailed,
            401 => Key::AuthTitleSignIn,
            403 => Key::AuthTitleDenied,
            404 => Key::AuthTitleNotFound,
            429 => Key::AuthTitleTooManyRequests,
            502 => Key::AuthTitleDiscordSilent,
            503 => Key::AuthTitleUnavailable,
            _ => Key::AuthTitleFailed,
        };
        key.text(self.lang)
    }

    /// The language code for `<html lang>`.
    fn lang_code(&self) -> &'static str {
        self.lang.code()
    }

    /// The link back to the app.
    fn back_home(&self) -> &'static str {
        Key::AuthBackHome.text(self.lang)
    }

    /// The link to sign in again.
    fn sign_in_again_text(&self) -> &'static str {
        Key::AuthSignInAgain.text(self.lang)
    }

    /// The line before the demo sign-in links.
    fn demo_on(&self) -> &'static str {
        Key::AuthDemoOn.text(self.lang)
    }

    /// The link to the demo sign-in page.
    fn demo_link(&self) -> &'static str {
        Key::DemoTitle.text(self.lang)
    }

    /// Whether offering a fresh sign-in makes sense.
    fn sign_in_again(&self) -> bool {
        matches!(self.status.as_u16(), 400 | 401 | 403 | 502)
    }
}

impl IntoResponse for ErrorPage {
    fn into_response(self) -> Response {
        let status = self.status;
        match self.render() {
            Ok(html) => (status, Html(html)).into_response(),
            Err(error) => {
                tracing::error!(%error, "rendering the error page failed");
                (status, self.message).into_response()
            }
        }
    }
}

/// Signs a user in: renews the session id first, then stores the user.
async fn sign_in(session: &Session, user_id: i64) -> Result<(), SignInError> {
    session.cycle_id().await.map_err(|error| {
        tracing::error!(%error, "renewing the session id failed");
        SignInError::Internal
    })?;
    session
        .insert(SESSION_USER_KEY, user_id)
        .await
        .map_err(|error| {
            tracing::error!(%error, "writing the signed-in user to the session failed");
            SignInError::Internal
        })?;
    tracing::info!(user_id, "signed in");
    Ok(())
}

/// Where a sign-in may send the browser afterwards: only paths on this site, never another
/// origin (`//host`, `/\host`) or anything with control characters.
pub(crate) fn local_path(next: Option<&str>) -> Option<String> {
    let next = next?;
    let local = next.starts_with('/')
        && !next.starts_with("//")
        && !next.starts_with("/\\")
        && !next.chars().any(|c| c.is_control() || c == '\\');
    local.then(|| next.to_owned())
}

/// The query of `/auth/login`.
#[derive(Debug, Deserialize)]
struct NextQuery {
    next: Option<String>,
}

/// What signing in does to a user's role.
#[derive(Clone, Copy, Debug)]
pub(crate) enum RoleAtSignIn {
    /// New users get this role; existing ones keep theirs.
    NewUsers(Role),
    /// The user gets at least this role (configured admins and leaders).
    AtLeast(Role),
    /// The user gets exactly this role (the fixed demo users).
    Exactly(Role),
}

/// Inserts or updates a user and records the login; returns `app.users.id`.
async fn upsert_user(
    pool: &PgPool,
    profile: &Profile<'_>,
    role: RoleAtSignIn,
) -> Result<i64, SignInError> {
    let (role, mode) = match role {
        RoleAtSignIn::NewUsers(role) => (role, "new"),
        RoleAtSignIn::AtLeast(role) => (role, "at_least"),
        RoleAtSignIn::Exactly(role) => (role, "exactly"),
    };
    let id: i64 = sqlx::query_scalar(
        "insert into app.users (discord_user_id, username, display_name, avatar, role, last_login_at)
         values ($1, $2, $3, $4, $5, now())
         on conflict (discord_user_id) do update
         set username = excluded.username,
             display_name = excluded.display_name,
             avatar = excluded.avatar,
             role = case
                 when $6 = 'exactly' then excluded.role
                 when $6 = 'at_least'
                      and app.role_rank(excluded.role) > app.role_rank(app.users.role)
                     then excluded.role
                 else app.users.role
             end,
             updated_at = now(),
             last_login_at = now()
         returning id",
    )
    .bind(profile.discord_user_id)
    .bind(profile.username)
    .bind(profile.display_name)
    .bind(profile.avatar)
    .bind(role.as_str())
    .bind(mode)
    .fetch_one(pool)
    .await
    .map_err(|error| {
        tracing::error!(%error, "saving the user failed");
        SignInError::Internal
    })?;
    // The Discord roles the bot recorded last give their mapped role at every sign-in.
    sqlx::query("select app.apply_discord_role_mappings(array[$1::bigint])")
        .bind(profile.discord_user_id)
        .execute(pool)
        .await
        .map_err(|error| {
            tracing::error!(%error, "applying the role mapping failed");
            SignInError::Internal
        })?;
    Ok(id)
}

/// What we store about a Discord account.
struct Profile<'a> {
    discord_user_id: i64,
    username: &'a str,
    display_name: Option<&'a str>,
    avatar: Option<&'a str>,
}

/// `POST /auth/logout`: ends the session (deleting it from the store).
async fn logout(headers: HeaderMap, session: Session) -> Response {
    if let Err(error) = session.flush().await {
        tracing::error!(%error, "ending the session failed");
        return SignInError::Internal.page(Lang::of_request(&headers));
    }
    Redirect::to("/").into_response()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_local_paths_are_followed() {
        assert_eq!(local_path(Some("/kpi?x=1")).as_deref(), Some("/kpi?x=1"));
        assert_eq!(local_path(Some("//evil.example")), None);
        assert_eq!(local_path(Some("/\\evil.example")), None);
        assert_eq!(local_path(Some("https://evil.example")), None);
        assert_eq!(local_path(Some("/a\r\nSet-Cookie: x")), None);
        assert_eq!(local_path(None), None);
    }

    #[test]
    fn error_page_escapes_the_message() {
        let page = ErrorPage::new(
            Lang::En,
            StatusCode::FORBIDDEN,
            "<script>alert(1)</script>".into(),
        );
        let html = page.render().expect("renders");
        assert!(html.contains("&#60;script&#62;"), "{html}");
        assert!(!html.contains("<script>"), "{html}");
        assert!(html.contains("Access denied"), "{html}");
    }

    #[test]
    fn the_error_page_is_all_in_the_chosen_language() {
        for (lang, other) in [(Lang::De, Lang::En), (Lang::En, Lang::De)] {
            let mut page = ErrorPage::new(
                lang,
                StatusCode::SERVICE_UNAVAILABLE,
                Key::AuthNotConfiguredDemo.text(lang).to_owned(),
            );
            page.demo_links = true;
            let html = page.render().expect("renders");
            assert!(
                html.contains(&format!("<html lang=\"{}\">", lang.code())),
                "{html}"
            );
            for key in [
                Key::AuthTitleUnavailable,
                Key::AuthBackHome,
                Key::AuthDemoOn,
            ] {
                assert!(html.contains(key.text(lang)), "{key:?} in {html}");
                assert!(!html.contains(key.text(other)), "{key:?} in {html}");
            }
        }
    }
}
