//! Discord OAuth2: `/auth/login` sends the browser to Discord with a CSRF `state` and a
//! PKCE challenge; `/auth/callback` checks the state, exchanges the code with the PKCE
//! verifier, reads the user and signs them in.
//!
//! The login in progress lives in a short-lived signed cookie, not in the session store: an
//! anonymous visitor to `/auth/login` writes nothing to the database.

use super::{NextQuery, Profile, RoleAtSignIn, SignInError, local_path, sign_in, upsert_user};
use crate::config::Config;
use crate::state::ServerState;
use app::i18n::Lang;
use app::model::Role;
use axum::extract::{Query, State};
use axum::http::{HeaderMap, HeaderValue, header};
use axum::response::{IntoResponse, Redirect, Response};
use hmac::{Hmac, Mac};
use oauth2::basic::BasicClient;
use oauth2::{
    AuthUrl, AuthorizationCode, ClientId, ClientSecret, CsrfToken, EndpointNotSet, EndpointSet,
    PkceCodeChallenge, PkceCodeVerifier, RedirectUrl, Scope, TokenResponse, TokenUrl,
};
use secrecy::ExposeSecret;
use serde::{Deserialize, Deserializer, Serialize};
use std::sync::OnceLock;
use tower_sessions::Session;

/// The cookie of a login in progress (`__Host-` on https: only this host can set it).
const LOGIN_COOKIE: &str = "guildhall_login";
const LOGIN_COOKIE_SECURE: &str = "__Host-guildhall_login";
/// How long a started login may take on Discord's page.
const LOGIN_MAX_AGE_SECS: i64 = 600;

/// What `/auth/login` remembers for the callback, in a signed, HttpOnly cookie that expires
/// after [`LOGIN_MAX_AGE_SECS`].
#[derive(Debug, PartialEq, Serialize, Deserialize)]
struct PendingLogin {
    state: String,
    pkce_verifier: String,
    next: Option<String>,
    /// Unix seconds after which the login is refused.
    expires: i64,
}

/// The key that signs login cookies: random, made once per process (a restart while someone
/// is on Discord's page asks them to start again).
fn signing_key() -> &'static [u8; 32] {
    static KEY: OnceLock<[u8; 32]> = OnceLock::new();
    KEY.get_or_init(rand::random)
}

/// HMAC-SHA256 with `key` (HMAC takes keys of any length: `None` does not happen).
fn mac(key: &[u8]) -> Option<Hmac<sha2::Sha256>> {
    <Hmac<sha2::Sha256> as Mac>::new_from_slice(key).ok()
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|byte| format!("{byte:02x}")).collect()
}

fn unhex(text: &str) -> Option<Vec<u8>> {
    if !text.len().is_multiple_of(2) {
        return None;
    }
    (0..text.len())
        .step_by(2)
        .map(|i| u8::from_str_radix(text.get(i..i + 2)?, 16).ok())
        .collect()
}

impl PendingLogin {
    /// `<hex of the JSON>.<hex of its HMAC-SHA256>`.
    fn seal(&self, key: &[u8]) -> Option<String> {
        let json = serde_json::to_vec(self).ok()?;
        let mut signer = mac(key)?;
        signer.update(&json);
        let tag = signer.finalize().into_bytes();
        Some(format!("{}.{}", hex(&json), hex(&tag)))
    }

    /// The login in a cookie value, if it is signed with `key` and not expired at `now`.
    fn open(value: &str, key: &[u8], now: i64) -> Option<PendingLogin> {
        let (json, tag) = value.split_once('.')?;
        let (json, tag) = (unhex(json)?, unhex(tag)?);
        let mut verifier = mac(key)?;
        verifier.update(&json);
        // Constant-time comparison.
        verifier.verify_slice(&tag).ok()?;
        let pending: PendingLogin = serde_json::from_slice(&json).ok()?;
        (pending.expires >= now).then_some(pending)
    }
}

fn login_cookie_name(config: &Config) -> &'static str {
    if config.public_url.scheme() == "https" {
        LOGIN_COOKIE_SECURE
    } else {
        LOGIN_COOKIE
    }
}

/// `Set-Cookie` for the login cookie with `value`, living `max_age` seconds (0 deletes it).
fn login_cookie(config: &Config, value: &str, max_age: i64) -> Option<HeaderValue> {
    let secure = if config.public_url.scheme() == "https" {
        "; Secure"
    } else {
        ""
    };
    HeaderValue::from_str(&format!(
        "{}={value}; Path=/; Max-Age={max_age}; HttpOnly; SameSite=Lax{secure}",
        login_cookie_name(config)
    ))
    .ok()
}

/// The login cookie's value in the request, if any.
fn login_cookie_value(config: &Config, headers: &HeaderMap) -> Option<String> {
    let name = login_cookie_name(config);
    headers
        .get_all(header::COOKIE)
        .iter()
        .filter_map(|value| value.to_str().ok())
        .flat_map(|value| value.split(';'))
        .filter_map(|pair| pair.trim().split_once('='))
        .find(|(key, _)| *key == name)
        .map(|(_, value)| value.to_owned())
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
        expires: chrono::Utc::now().timestamp() + LOGIN_MAX_AGE_SECS,
    };
    let Some(cookie) = pending
        .seal(signing_key())
        .and_then(|sealed| login_cookie(&state.config, &sealed, LOGIN_MAX_AGE_SECS))
    else {
        tracing::error!("the login cookie is not a valid header");
        return SignInError::Internal.page(lang);
    };
    ([(header::SET_COOKIE, cookie)], Redirect::to(url.as_str())).into_response()
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
    // The pending login is used once, whatever happens next: its cookie goes.
    let pending = login_cookie_value(&state.config, &headers).and_then(|value| {
        PendingLogin::open(&value, signing_key(), chrono::Utc::now().timestamp())
    });
    let mut response = match finish_login(&state, &session, pending, query).await {
        Ok(next) => Redirect::to(next.as_deref().unwrap_or("/")).into_response(),
        Err(error) => error.page(Lang::of_request(&headers)),
    };
    if let Some(expired) = login_cookie(&state.config, "", 0) {
        response.headers_mut().append(header::SET_COOKIE, expired);
    }
    response
}

async fn finish_login(
    state: &ServerState,
    session: &Session,
    pending: Option<PendingLogin>,
    query: CallbackQuery,
) -> Result<Option<String>, SignInError> {
    let client = client(&state.config).ok_or(SignInError::NotConfigured {
        demo: state.config.demo,
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
        tracing::warn!("sign-in callback with a state that does not match the login cookie");
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

#[cfg(test)]
mod tests {
    use super::*;

    fn pending(expires: i64) -> PendingLogin {
        PendingLogin {
            state: "s".into(),
            pkce_verifier: "v".into(),
            next: Some("/me".into()),
            expires,
        }
    }

    #[test]
    fn a_sealed_login_opens_with_its_key_until_it_expires() {
        let key = [7u8; 32];
        let sealed = pending(1_000).seal(&key).expect("sealed");
        assert_eq!(
            PendingLogin::open(&sealed, &key, 1_000),
            Some(pending(1_000))
        );
        assert_eq!(PendingLogin::open(&sealed, &key, 1_001), None, "expired");
        assert_eq!(
            PendingLogin::open(&sealed, &[8u8; 32], 0),
            None,
            "other key"
        );
    }

    #[test]
    fn a_changed_login_cookie_is_refused() {
        let key = [7u8; 32];
        let sealed = pending(1_000).seal(&key).expect("sealed");
        let (json, tag) = sealed.split_once('.').expect("two parts");
        // Another `next`, the old signature.
        let forged = String::from_utf8(unhex(json).expect("hex"))
            .expect("json")
            .replace("/me", "/xx");
        assert_eq!(
            PendingLogin::open(&format!("{}.{tag}", hex(forged.as_bytes())), &key, 0),
            None
        );
        assert_eq!(PendingLogin::open("not-a-cookie", &key, 0), None);
        assert_eq!(PendingLogin::open(&format!("{json}."), &key, 0), None);
    }
}
