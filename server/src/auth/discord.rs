//! Discord OAuth2: `/auth/login` sends the browser to Discord with a CSRF `state` and a
//! PKCE challenge; `/auth/callback` checks the state, exchanges the code with the PKCE
//! verifier, reads the user and signs them in.

use super::{NextQuery, Profile, RoleAtSignIn, SignInError, local_path, sign_in, upsert_user};
use crate::config::Config;
use crate::state::ServerState;
use app::i18n::Lang;
use app::model::Role;
use axum::extract::{Query, State};
use axum::http::HeaderMap;
use axum::response::{IntoResponse, Redirect, Response};
use oauth2::basic::BasicClient;
use oauth2::{
    AuthUrl, AuthorizationCode, ClientId, ClientSecret, CsrfToken, EndpointNotSet, EndpointSet,
    PkceCodeChallenge, PkceCodeVerifier, RedirectUrl, Scope, TokenResponse, TokenUrl,
};
use secrecy::ExposeSecret;
use serde::{Deserialize, Deserializer, Serialize};
use tower_sessions::Session;

/// Session key of a login in progress.
const PENDING_LOGIN_KEY: &str = "discord_login";

/// What `/auth/login` remembers for the callback. Lives only in the server-side session.
#[derive(Serialize, Deserialize)]
struct PendingLogin {
    state: String,
    pkce_verifier: String,
    next: Option<String>,
}

type DiscordClient =
    BasicClient<EndpointSet, EndpointNotSet, EndpointNotSet, EndpointNotSet, EndpointSet>;

/// The OAuth2 client for the configured Discord application, or `None` when Discord login
/// is not configured.
fn client(config: &Config) -> Option<DiscordClient> {
    if !config.discord_login_enabled() {
        return None;
    }
    let client_id = config.discord.client_id.clone()?;
    let client_secret = config
        .discord
        .client_secret
        .as_ref()?
        .expose_secret()
        .to_owned();
    let redirect = config.public_url.join("auth/callback").ok()?;
    Some(
        BasicClient::new(ClientId::new(client_id))
            .set_client_secret(ClientSecret::new(client_secret))
            .set_auth_uri(AuthUrl::from_url(config.discord.authorize_url.clone()))
            .set_token_uri(TokenUrl::from_url(config.discord.token_url.clone()))
            .set_redirect_uri(RedirectUrl::from_url(redirect)),
    )
}

/// `GET /auth/login?next=/path`: starts the authorization code flow.
pub(super) async fn login(
    State(state): State<ServerState>,
    headers: HeaderMap,
    session: Session,
    Query(query): Query<NextQuery>,
) -> Response {
    let lang = Lang::of_request(&headers);
    let Some(client) = client(&state.config) else {
        return SignInError::NotConfigured {
            demo: state.config.demo,
        }
        .page(lang);
    };
    let (challenge, verifier) = PkceCodeChallenge::new_random_sha256();
    let (url, csrf) = client
        .authorize_url(CsrfToken::new_random)
        .add_scope(Scope::new("identify".into()))
        // Only to offer the member's verified Steam accounts for linking on "My accounts".
        .add_scope(Scope::new("connections".into()))
        .set_pkce_challenge(challenge)
        .url();
    let pending = PendingLogin {
        state: csrf.secret().clone(),
        pkce_verifier: verifier.secret().clone(),
        next: local_path(query.next.as_deref()),
    };
    if let Err(error) = session.insert(PENDING_LOGIN_KEY, pending).await {
        tracing::error!(%error, "storing the pending login in the session failed");
        return SignInError::Internal.page(lang);
    }
    Redirect::to(url.as_str()).into_response()
}

/// The query Discord sends back to `/auth/callback`.
#[derive(Debug, Deserialize)]
pub(super) struct CallbackQuery {
    code: Option<String>,
    state: Option<String>,
    error: Option<String>,
    error_description: Option<String>,
}

/// `GET /auth/callback`: finishes the flow. Any failure leaves the browser signed out.
pub(super) async fn callback(
    State(state): State<ServerState>,
    headers: HeaderMap,
    session: Session,
    Query(query): Query<CallbackQuery>,
) -> Response {
    match finish_login(&state, &session, query).await {
        Ok(next) => Redirect::to(next.as_deref().unwrap_or("/")).into_response(),
        Err(error) => error.page(Lang::of_request(&headers)),
    }
}

async fn finish_login(
    state: &ServerState,
    session: &Session,
    query: CallbackQuery,
) -> Result<Option<String>, SignInError> {
    let client = client(&state.config).ok_or(SignInError::NotConfigured {
        demo: state.config.demo,
    })?;
    // The pending login is used once, whatever happens next.
    let pending: Option<PendingLogin> =
        session.remove(PENDING_LOGIN_KEY).await.map_err(|error| {
            tracing::error!(%error, "reading the pending login from the session failed");
            SignInError::Internal
        })?;

    if let Some(error) = query.error.as_deref() {
        let description: String = query
            .error_description
            .as_deref()
            .unwrap_or_default()
            .chars()
            .take(200)
            .collect();
        tracing::info!(error = %error.chars().take(64).collect::<String>(), %description, "Discord refused the sign-in");
        return Err(if error == "access_denied" {
            SignInError::Denied
        } else {
            SignInError::Provider
        });
    }

    let Some(pending) = pending else {
        tracing::info!("sign-in callback without a login in progress");
        return Err(SignInError::BadState);
    };
    if query.state.as_deref() != Some(pending.state.as_str()) {
        tracing::warn!("sign-in callback with a state that does not match the session");
        return Err(SignInError::BadState);
    }
    let Some(code) = query.code.filter(|code| !code.is_empty()) else {
        return Err(SignInError::MissingCode);
    };

    let token = client
        .exchange_code(AuthorizationCode::new(code))
        .set_pkce_verifier(PkceCodeVerifier::new(pending.pkce_verifier))
        .request_async(&state.http)
        .await
        .map_err(|error| {
            tracing::warn!(%error, "Discord's token endpoint failed");
            SignInError::Upstream
        })?;

    let user = fetch_user(state, token.access_token().secret()).await?;
    let opted_out: bool = sqlx::query_scalar(
        "select exists (select 1 from app.opted_out_accounts
                        where account_hash = app.account_hash('discord', $1::text))",
    )
    .bind(user.id)
    .fetch_one(&state.app.pool)
    .await
    .map_err(|error| {
        tracing::error!(%error, "checking the opt-outs failed");
        SignInError::Internal
    })?;
    if opted_out {
        tracing::info!("sign-in refused: the account opted out");
        return Err(SignInError::OptedOut);
    }
    let profile = Profile {
        discord_user_id: user.id,
        username: &user.username,
        display_name: user.global_name.as_deref(),
        avatar: user.avatar.as_deref(),
    };
    // A configured admin or leader gets at least that role (and may sign in whatever the
    // member list says); anyone else must be a member of a tracked guild. A role granted on
    // the admin page is kept.
    let role = match state.app.settings.configured_role(user.id) {
        Some(role) => RoleAtSignIn::AtLeast(role),
        None => {
            super::check_membership(&state.app.pool, user.id).await?;
            RoleAtSignIn::NewUsers(Role::Member)
        }
    };
    let user_id = upsert_user(&state.app.pool, &profile, role).await?;
    // The connections only offer accounts to link: without them sign-in still works.
    match fetch_steam_connections(state, token.access_token().secret()).await {
        Ok(connections) => {
            if let Err(error) = store_connections(&state.app.pool, user_id, &connections).await {
                tracing::warn!(%error, "storing the Discord connections failed");
            }
        }
        Err(error) => tracing::warn!(%error, "Discord's connections endpoint failed"),
    }
    sign_in(session, user_id).await?;
    Ok(pending.next)
}

/// One entry of Discord's `GET /users/@me/connections`.
#[derive(Debug, Deserialize)]
struct Connection {
    #[serde(rename = "type")]
    kind: String,
    id: String,
    name: Option<String>,
    #[serde(default)]
    verified: bool,
    #[serde(default)]
    revoked: bool,
}

/// The member's Steam connections Discord verified and that are not revoked, as
/// `(SteamID64, name)`. Anything else is ignored.
async fn fetch_steam_connections(
    state: &ServerState,
    access_token: &str,
) -> Result<Vec<(String, Option<String>)>, reqwest::Error> {
    let connections: Vec<Connection> = state
        .http
        .get(state.config.discord.connections_url.clone())
        .bearer_auth(access_token)
        .send()
        .await?
        .error_for_status()?
        .json()
        .await?;
    Ok(connections
        .into_iter()
        .filter(|c| c.kind == "steam" && c.verified && !c.revoked)
        .filter(|c| crate::auth::steam::is_steam_id64(&c.id))
        .map(|c| (c.id, c.name))
        .collect())
}

/// Replaces the web user's stored Steam connections by the ones Discord shows now.
async fn store_connections(
    pool: &sqlx::PgPool,
    user_id: i64,
    connections: &[(String, Option<String>)],
) -> sqlx::Result<()> {
    let ids: Vec<&str> = connections.iter().map(|(id, _)| id.as_str()).collect();
    let names: Vec<Option<&str>> = connections.iter().map(|(_, n)| n.as_deref()).collect();
    let mut tx = pool.begin().await?;
    sqlx::query("delete from app.discord_connections where user_id = $1")
        .bind(user_id)
        .execute(&mut *tx)
        .await?;
    sqlx::query(
        "insert into app.discord_connections (user_id, kind, external_id, name)
         select $1, 'steam', c.id, c.name from unnest($2::text[], $3::text[]) as c (id, name)
         on conflict do nothing",
    )
    .bind(user_id)
    .bind(&ids)
    .bind(&names)
    .execute(&mut *tx)
    .await?;
    tx.commit().await
}

/// The fields of Discord's `GET /users/@me` we keep.
#[derive(Debug, Deserialize)]
struct DiscordUser {
    #[serde(deserialize_with = "snowflake")]
    id: i64,
    username: String,
    global_name: Option<String>,
    avatar: Option<String>,
}

async fn fetch_user(state: &ServerState, access_token: &str) -> Result<DiscordUser, SignInError> {
    let response = state
        .http
        .get(state.config.discord.userinfo_url.clone())
        .bearer_auth(access_token)
        .send()
        .await
        .and_then(reqwest::Response::error_for_status)
        .map_err(|error| {
            tracing::warn!(%error, "Discord's user endpoint failed");
            SignInError::Upstream
        })?;
    response.json::<DiscordUser>().await.map_err(|error| {
        tracing::warn!(%error, "Discord's user endpoint sent an unexpected answer");
        SignInError::Upstream
    })
}

/// Discord sends ids as strings (they do not fit a JavaScript number); accept numbers too.
fn snowflake<'de, D: Deserializer<'de>>(deserializer: D) -> Result<i64, D::Error> {
    #[derive(Deserialize)]
    #[serde(untagged)]
    enum Id {
        Text(String),
        Number(i64),
    }
    let id = match Id::deserialize(deserializer)? {
        Id::Text(text) => text.parse::<i64>().map_err(serde::de::Error::custom)?,
        Id::Number(id) => id,
    };
    if id <= 0 {
        return Err(serde::de::Error::custom(
            "a Discord id is a positive number",
        ));
    }
    Ok(id)
}
