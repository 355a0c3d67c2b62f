//! The web app under test on loopback: the real router, a cookie-keeping HTTP client as the
//! browser, and a fake Discord OAuth2 provider (authorize, token with PKCE check, user and
//! connections endpoints) that is a small axum app on loopback too. Shared by every test
//! that drives the web app (sign-in, roles, data rights, errors, KPI pages).

// Each test binary uses a different part of the harness.
#![allow(dead_code)]

use axum::extract::{Form, Query, State};
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::{IntoResponse, Redirect, Response};
use axum::routing::{get, post};
use axum::{Json, Router};
use figment::providers::Serialized;
use guildhall::config::Config;
use guildhall::state::ServerState;
use leptos::server_fn::ServerFn;
use oauth2::{PkceCodeChallenge, PkceCodeVerifier};
use reqwest::cookie::{CookieStore, Jar};
use serde_json::{Value, json};
use sqlx::PgPool;
use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use url::Url;

#[path = "one_server.rs"]
mod one_server;

/// The Discord application the app under test is configured with.
pub const CLIENT_ID: &str = "112233445566778899";
/// Its client secret.
pub const CLIENT_SECRET: &str = "guildhall-test-secret";
/// The access token the fake provider hands out.
pub const ACCESS_TOKEN: &str = "fake-access-token";
/// The Discord user the fake provider signs in.
pub const DISCORD_ID: i64 = 123_456_789_012_345_678;

// ---------------------------------------------------------------------------------------
// The fake OAuth2 provider.

/// What the provider remembers between authorize and token, and how it should behave.
#[derive(Default)]
pub struct ProviderState {
    /// code → (code_challenge, redirect_uri) issued by `/authorize`.
    pub codes: HashMap<String, (String, String)>,
    /// When set, `/token` answers with this status.
    pub token_failure: Option<StatusCode>,
    /// The user `/users/@me` returns.
    pub user: Value,
    /// Successful token exchanges.
    pub exchanges: u32,
    /// What `/users/@me/connections` returns (an empty list unless a test sets it).
    pub connections: Option<Value>,
}

/// The fake Discord OAuth2 provider on loopback.
#[derive(Clone)]
pub struct FakeProvider {
    pub base: Url,
    pub state: Arc<Mutex<ProviderState>>,
}

impl FakeProvider {
    pub async fn start() -> FakeProvider {
        let state = Arc::new(Mutex::new(ProviderState {
            user: json!({
                "id": DISCORD_ID.to_string(),
                "username": "ada",
                "global_name": "Ada Lovelace",
                "avatar": "a1b2c3",
            }),
            ..ProviderState::default()
        }));
        let app = Router::new()
            .route("/authorize", get(provider_authorize))
            .route("/token", post(provider_token))
            .route("/users/@me", get(provider_user))
            .route("/users/@me/connections", get(provider_connections))
            .with_state(state.clone());
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
            .await
            .expect("bind provider");
        let address = listener.local_addr().expect("provider address");
        tokio::spawn(async move { axum::serve(listener, app).await.expect("provider serves") });
        FakeProvider {
            base: Url::parse(&format!("http://{address}/")).expect("provider url"),
            state,
        }
    }

    pub fn fail_token_endpoint(&self, status: StatusCode) {
        self.state.lock().expect("provider lock").token_failure = Some(status);
    }

    pub fn set_user_id(&self, id: i64) {
        self.state.lock().expect("provider lock").user["id"] = json!(id.to_string());
    }

    /// The account `/users/@me` returns from now on.
    pub fn set_user(&self, id: i64, username: &str, global_name: &str) {
        self.state.lock().expect("provider lock").user = json!({
            "id": id.to_string(),
            "username": username,
            "global_name": global_name,
            "avatar": null,
        });
    }

    /// Ada again (the account every test starts with).
    pub fn reset_user(&self) {
        self.set_user(DISCORD_ID, "ada", "Ada Lovelace");
        self.state.lock().expect("provider lock").user["avatar"] = json!("a1b2c3");
    }

    pub fn set_connections(&self, connections: Value) {
        self.state.lock().expect("provider lock").connections = Some(connections);
    }

    pub fn exchanges(&self) -> u32 {
        self.state.lock().expect("provider lock").exchanges
    }
}

/// Checks the authorization request like Discord would and sends the browser back with a
/// code (the user "consented").
pub async fn provider_authorize(
    State(state): State<Arc<Mutex<ProviderState>>>,
    Query(query): Query<HashMap<String, String>>,
) -> Response {
    let param = |name: &str| query.get(name).cloned().unwrap_or_default();
    if param("client_id") != CLIENT_ID
        || param("response_type") != "code"
        || param("scope") != "identify connections"
        || param("code_challenge_method") != "S256"
        || param("code_challenge").is_empty()
        || param("state").is_empty()
    {
        return (StatusCode::BAD_REQUEST, "bad authorization request").into_response();
    }
    let code = format!("code-{}", rand_suffix());
    let redirect_uri = param("redirect_uri");
    state.lock().expect("provider lock").codes.insert(
        code.clone(),
        (param("code_challenge"), redirect_uri.clone()),
    );
    let mut back = Url::parse(&redirect_uri).expect("redirect_uri is a URL");
    back.query_pairs_mut()
        .append_pair("code", &code)
        .append_pair("state", &param("state"));
    Redirect::to(back.as_str()).into_response()
}

pub fn rand_suffix() -> u64 {
    use std::sync::atomic::{AtomicU64, Ordering};
    static NEXT: AtomicU64 = AtomicU64::new(1);
    NEXT.fetch_add(1, Ordering::Relaxed)
}

/// The token endpoint: client authentication, the code, the redirect URI and the PKCE
/// verifier must all match.
pub async fn provider_token(
    State(state): State<Arc<Mutex<ProviderState>>>,
    headers: HeaderMap,
    Form(form): Form<HashMap<String, String>>,
) -> Response {
    let mut state = state.lock().expect("provider lock");
    if let Some(status) = state.token_failure {
        return (status, Json(json!({"error": "server_error"}))).into_response();
    }
    let invalid = |reason: &str| {
        (
            StatusCode::BAD_REQUEST,
            Json(json!({"error": "invalid_grant", "error_description": reason})),
        )
            .into_response()
    };
    if !client_authenticated(&headers, &form) {
        return (
            StatusCode::UNAUTHORIZED,
            Json(json!({"error": "invalid_client"})),
        )
            .into_response();
    }
    if form.get("grant_type").map(String::as_str) != Some("authorization_code") {
        return invalid("grant_type");
    }
    let Some((challenge, redirect_uri)) =
        form.get("code").and_then(|code| state.codes.remove(code))
    else {
        return invalid("unknown code");
    };
    if form.get("redirect_uri") != Some(&redirect_uri) {
        return invalid("redirect_uri");
    }
    let Some(verifier) = form.get("code_verifier") else {
        return invalid("code_verifier missing");
    };
    let expected =
        PkceCodeChallenge::from_code_verifier_sha256(&PkceCodeVerifier::new(verifier.clone()));
    if expected.as_str() != challenge {
        return invalid("code_verifier does not match the challenge");
    }
    state.exchanges += 1;
    Json(json!({
        "access_token": ACCESS_TOKEN,
        "token_type": "Bearer",
        "expires_in": 604800,
        "refresh_token": "fake-refresh-token",
        "scope": "identify connections",
    }))
    .into_response()
}

/// HTTP Basic (what oauth2 sends by default) or the client id and secret in the form.
pub fn client_authenticated(headers: &HeaderMap, form: &HashMap<String, String>) -> bool {
    if form.get("client_id").map(String::as_str) == Some(CLIENT_ID)
        && form.get("client_secret").map(String::as_str) == Some(CLIENT_SECRET)
    {
        return true;
    }
    let Some(value) = headers
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
    else {
        return false;
    };
    let expected = format!("{CLIENT_ID}:{CLIENT_SECRET}");
    value
        .strip_prefix("Basic ")
        .and_then(|encoded| base64_decode(encoded.trim()))
        .is_some_and(|decoded| decoded == expected.as_bytes())
}

/// Standard base64 without a dependency, enough for a Basic header.
pub fn base64_decode(input: &str) -> Option<Vec<u8>> {
    const ALPHABET: &[u8] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    let mut bits = 0u32;
    let mut count = 0;
    let mut out = Vec::new();
    for byte in input.bytes().filter(|b| *b != b'=') {
        let value = ALPHABET.iter().position(|c| *c == byte)? as u32;
        bits = (bits << 6) | value;
        count += 6;
        if count >= 8 {
            count -= 8;
            out.push((bits >> count) as u8);
            bits &= (1 << count) - 1;
        }
    }
    Some(out)
}

/// Discord's answer to a request without our access token, or `None` when it has it.
pub fn unauthorized(headers: &HeaderMap) -> Option<Response> {
    let authorized = headers
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v == format!("Bearer {ACCESS_TOKEN}"));
    (!authorized).then(|| {
        (
            StatusCode::UNAUTHORIZED,
            Json(json!({"message": "401: Unauthorized"})),
        )
            .into_response()
    })
}

pub async fn provider_user(
    State(state): State<Arc<Mutex<ProviderState>>>,
    headers: HeaderMap,
) -> Response {
    if let Some(refused) = unauthorized(&headers) {
        return refused;
    }
    Json(state.lock().expect("provider lock").user.clone()).into_response()
}

/// `GET /users/@me/connections` with the same bearer check as the user endpoint.
pub async fn provider_connections(
    State(state): State<Arc<Mutex<ProviderState>>>,
    headers: HeaderMap,
) -> Response {
    if let Some(refused) = unauthorized(&headers) {
        return refused;
    }
    let connections = state.lock().expect("provider lock").connections.clone();
    Json(connections.unwrap_or_else(|| json!([]))).into_response()
}

// ---------------------------------------------------------------------------------------
// The app under test and a browser for it.

/// The app under test and the browser that talks to it.
pub struct TestApp {
    _one: std::rc::Rc<tokio::sync::MutexGuard<'static, ()>>,
    pub base: Url,
    pub pool: PgPool,
    pub jar: Arc<Jar>,
    pub browser: reqwest::Client,
    pub provider: FakeProvider,
    pub spool_dir: std::path::PathBuf,
}

/// How the app under test is configured.
pub struct Options {
    pub discord: bool,
    pub demo: bool,
    pub admin_ids: Vec<i64>,
    pub leader_ids: Vec<i64>,
    /// The fake provider's user is a member of a tracked guild (as the bot recorded it).
    pub member: bool,
    /// `GUILDHALL_DISCORD__MESSAGE_CONTENT`: message lengths are counted.
    pub message_content: bool,
    /// More settings, by their path in the configuration (`web.api_burst`), applied last.
    pub settings: Vec<(&'static str, Value)>,
}

impl Default for Options {
    fn default() -> Self {
        Options {
            discord: true,
            demo: false,
            admin_ids: Vec::new(),
            leader_ids: Vec::new(),
            member: true,
            message_content: false,
            settings: Vec::new(),
        }
    }
}

/// Records, as the bot would, that `discord_user_id` joined (or left) the guild (which the
/// bot records).
pub async fn record_membership(pool: &PgPool, discord_user_id: i64, kind: &str, at: &str) {
    sqlx::query(
        "insert into app.discord_guilds (guild_id, name) values (42, 'Test Guild')
         on conflict do nothing",
    )
    .execute(pool)
    .await
    .expect("guild");
    sqlx::query(
        "insert into bronze.discord_member_events
             (source_key, guild_id, user_id, kind, joined_at, observed_at)
         values ($1, 42, $2, $3, case when $3 = 'join' then $4::timestamptz end, $4::timestamptz)
         on conflict do nothing",
    )
    .bind(format!("{discord_user_id}:{kind}:{at}"))
    .bind(discord_user_id)
    .bind(kind)
    .bind(at)
    .execute(pool)
    .await
    .expect("membership");
}

/// The app in demo mode (demo sign-in for every role), Discord configured.
pub async fn start_demo(pool: PgPool) -> TestApp {
    start(
        pool,
        Options {
            demo: true,
            ..Options::default()
        },
    )
    .await
}

pub async fn start(pool: PgPool, options: Options) -> TestApp {
    let one = one_server::one_server().await;
    let provider = FakeProvider::start().await;
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .expect("bind app");
    let address = listener.local_addr().expect("app address");
    let base = Url::parse(&format!("http://{address}/")).expect("app url");
    let spool_dir = std::env::temp_dir().join(format!("guildhall-auth-spool-{}", address.port()));

    let mut figment = Config::defaults_figment()
        .merge(Serialized::default(
            "public_url",
            base.as_str().trim_end_matches('/'),
        ))
        .merge(Serialized::default("demo", options.demo))
        .merge(Serialized::default("admin_ids", options.admin_ids))
        .merge(Serialized::default("leader_ids", options.leader_ids))
        .merge(Serialized::default(
            "discord.message_content",
            options.message_content,
        ))
        .merge(Serialized::default(
            "spool_dir",
            spool_dir.to_string_lossy().into_owned(),
        ))
        .merge(Serialized::default(
            "discord.authorize_url",
            provider.base.join("authorize").expect("url").as_str(),
        ))
        .merge(Serialized::default(
            "discord.token_url",
            provider.base.join("token").expect("url").as_str(),
        ))
        .merge(Serialized::default(
            "discord.userinfo_url",
            provider.base.join("users/@me").expect("url").as_str(),
        ))
        .merge(Serialized::default(
            "discord.connections_url",
            provider
                .base
                .join("users/@me/connections")
                .expect("url")
                .as_str(),
        ));
    if options.discord {
        figment = figment
            .merge(Serialized::default("discord.client_id", CLIENT_ID))
            .merge(Serialized::default("discord.client_secret", CLIENT_SECRET));
    }
    // Every request of a test comes from 127.0.0.1, and some tests sign in many times: room
    // for that (the hardening tests set the limits they prove).
    figment = figment
        .merge(Serialized::default("web.sign_in_per_minute", 6000))
        .merge(Serialized::default("web.sign_in_burst", 1000));
    for (key, value) in options.settings {
        figment = figment.merge(Serialized::default(key, value));
    }
    let config = Arc::new(Config::from_figment(figment).expect("test configuration"));
    if options.member {
        record_membership(&pool, DISCORD_ID, "join", "2026-01-01T10:00:00Z").await;
    }
    guildhall::auth::bootstrap_roles(&pool, &config.admin_ids, &config.leader_ids)
        .await
        .expect("bootstrap admins");

    let state =
        ServerState::new(config, pool.clone(), collectors::metrics::Metrics::new()).expect("state");
    let router = guildhall::web::router(state).expect("router");
    // Served as `guildhall serve` does: with each connection's peer address known.
    tokio::spawn(async move {
        guildhall::web::serve(listener, router, std::future::pending())
            .await
            .expect("app serves")
    });

    let jar = Arc::new(Jar::default());
    let browser = reqwest::Client::builder()
        .cookie_provider(jar.clone())
        .redirect(reqwest::redirect::Policy::none())
        // A request that hangs fails the test with its name instead of stalling CI.
        .timeout(std::time::Duration::from_secs(30))
        .build()
        .expect("browser");
    TestApp {
        _one: one,
        base,
        pool,
        jar,
        browser,
        provider,
        spool_dir,
    }
}

impl TestApp {
    pub fn url(&self, path: &str) -> Url {
        self.base
            .join(path.trim_start_matches('/'))
            .expect("app url")
    }

    pub async fn get(&self, path: &str) -> reqwest::Response {
        let started = std::time::Instant::now();
        match self.browser.get(self.url(path)).send().await {
            Ok(response) => response,
            // A keep-alive connection the server closed as the request went out: a browser
            // sends an idempotent GET again on a new connection, and so does this test (once).
            Err(error) if error.is_request() && !error.is_timeout() => {
                eprintln!("GET {path} on a reused connection failed ({error:?}); sending it again");
                self.browser
                    .get(self.url(path))
                    .send()
                    .await
                    .unwrap_or_else(|error| panic!("GET {path} (again): {error:?}"))
            }
            Err(error) => panic!(
                "GET {path} after {:?}: {error:?}\n{}",
                started.elapsed(),
                self.diagnose().await
            ),
        }
    }

    /// What the server's database side was doing, for a request that failed: the pool's
    /// counts and every other session on the test database (state, what it waits for, the
    /// statement), read over a connection of its own so that a starved pool cannot hide it.
    pub async fn diagnose(&self) -> String {
        use sqlx::Connection;
        let mut report = format!(
            "pool: size {}, idle {}",
            self.pool.size(),
            self.pool.num_idle()
        );
        let options = (*self.pool.connect_options()).clone();
        match sqlx::PgConnection::connect_with(&options).await {
            Ok(mut connection) => {
                let sessions: Vec<String> = sqlx::query_scalar(
                    "select format('pid %s, %s, waiting for %s/%s: %s', pid, state,
                                   wait_event_type, wait_event, left(query, 200))
                     from pg_stat_activity
                     where datname = current_database() and pid <> pg_backend_pid()",
                )
                .fetch_all(&mut connection)
                .await
                .unwrap_or_default();
                for session in sessions {
                    report.push_str(&format!("\nsession {session}"));
                }
            }
            Err(error) => report.push_str(&format!("\nno diagnostic connection: {error}")),
        }
        report
    }

    /// The value of the session cookie the browser holds, if any.
    pub fn session_cookie(&self) -> Option<String> {
        let header = self.jar.cookies(&self.base)?;
        header
            .to_str()
            .ok()?
            .split("; ")
            .find_map(|pair| pair.strip_prefix("guildhall_session="))
            .map(str::to_owned)
    }

    /// Calls a server function (form-encoded, as the browser does) and returns the status
    /// and the JSON body.
    pub async fn call<F: ServerFn>(&self, form: &[(&str, &str)]) -> (StatusCode, Value) {
        self.call_with(&self.browser, F::PATH, form).await
    }

    pub async fn call_with(
        &self,
        client: &reqwest::Client,
        path: &str,
        form: &[(&str, &str)],
    ) -> (StatusCode, Value) {
        let response = client
            .post(self.url(path))
            .header(header::ACCEPT, "application/json")
            .form(form)
            .send()
            .await;
        let response = match response {
            Ok(response) => response,
            Err(error) => panic!("POST {path}: {error:?}\n{}", self.diagnose().await),
        };
        let status = response.status();
        let body = response.text().await.expect("server function body");
        (
            status,
            serde_json::from_str(&body).unwrap_or(Value::String(body)),
        )
    }

    /// The signed-in user as `get_me` reports it (`null` when signed out).
    pub async fn me(&self) -> Value {
        let (status, body) = self.call::<app::api::GetMe>(&[]).await;
        assert_eq!(status, StatusCode::OK, "get_me: {body}");
        body
    }

    /// `get_me` from another browser that presents only the given session cookie.
    pub async fn me_with_cookie(&self, session: &str) -> Value {
        let mut headers = HeaderMap::new();
        headers.insert(
            header::COOKIE,
            format!("guildhall_session={session}")
                .parse()
                .expect("cookie header"),
        );
        let client = reqwest::Client::builder()
            .default_headers(headers)
            .redirect(reqwest::redirect::Policy::none())
            .build()
            .expect("client");
        let (status, body) = self.call_with(&client, app::api::GetMe::PATH, &[]).await;
        assert_eq!(status, StatusCode::OK, "get_me: {body}");
        body
    }

    /// `/auth/login` → the fake provider's consent → the callback URL with code and state.
    /// Returns the callback URL and the session cookie the browser had before (`/auth/login`
    /// itself sets none: the login in progress is in a cookie of its own).
    pub async fn start_login(&self, next: Option<&str>) -> (Url, Option<String>) {
        let login_path = match next {
            Some(next) => format!("/auth/login?next={}", urlencode(next)),
            None => "/auth/login".to_owned(),
        };
        let session_before = self.session_cookie();
        let response = self.get(&login_path).await;
        assert_eq!(response.status(), StatusCode::SEE_OTHER, "login redirects");
        let authorize = location(&response);
        assert_eq!(
            self.session_cookie(),
            session_before,
            "starting a login leaves the session alone"
        );
        assert!(
            response
                .headers()
                .get_all(header::SET_COOKIE)
                .iter()
                .any(|c| c.to_str().is_ok_and(|c| c.starts_with("guildhall_login="))),
            "login sets the login cookie"
        );
        let pre_login_session = session_before;

        // The authorization request as Discord sees it.
        let query: HashMap<String, String> = authorize.query_pairs().into_owned().collect();
        assert!(
            authorize
                .as_str()
                .starts_with(self.provider.base.join("authorize").expect("url").as_str())
        );
        assert_eq!(query.get("client_id").map(String::as_str), Some(CLIENT_ID));
        assert_eq!(
            query.get("redirect_uri"),
            Some(&self.url("/auth/callback").to_string())
        );
        assert_eq!(
            query.get("scope").map(String::as_str),
            Some("identify connections")
        );
        assert_eq!(query.get("response_type").map(String::as_str), Some("code"));
        assert_eq!(
            query.get("code_challenge_method").map(String::as_str),
            Some("S256")
        );
        assert!(query.get("code_challenge").is_some_and(|c| c.len() >= 43));
        assert!(query.get("state").is_some_and(|s| s.len() >= 16));

        let consent = self
            .browser
            .get(authorize)
            .send()
            .await
            .expect("provider authorize");
        assert_eq!(
            consent.status(),
            StatusCode::SEE_OTHER,
            "provider accepted the request"
        );
        let callback = location(&consent);
        assert_eq!(callback.path(), "/auth/callback");
        (callback, pre_login_session)
    }

    /// The whole Discord sign-in; returns the session cookie before (if any) and after.
    pub async fn sign_in_with_discord(&self) -> (Option<String>, String) {
        let (callback, before) = self.start_login(None).await;
        let response = self.browser.get(callback).send().await.expect("callback");
        assert_eq!(
            response.status(),
            StatusCode::SEE_OTHER,
            "{}",
            response.text().await.unwrap_or_default()
        );
        assert_eq!(location(&response).path(), "/");
        let after = self.session_cookie().expect("signed-in session cookie");
        (before, after)
    }

    /// Signs in with Discord as another member of the guild, `discord_user_id` named `name`,
    /// who holds `role` (given before the sign-in, as an admin would have). For tests that
    /// need an admin or a leader once a real user has signed in, when demo sign-in is
    /// refused. The provider signs in Ada again afterwards.
    pub async fn sign_in_with_discord_as(&self, discord_user_id: i64, name: &str, role: &str) {
        record_membership(&self.pool, discord_user_id, "join", "2026-01-01T10:00:00Z").await;
        sqlx::query(
            "insert into app.users (discord_user_id, username, display_name, role)
             values ($1, $2, $2, $3)
             on conflict (discord_user_id) do update set role = excluded.role",
        )
        .bind(discord_user_id)
        .bind(name)
        .bind(role)
        .execute(&self.pool)
        .await
        .expect("the user and their role");
        self.provider
            .set_user(discord_user_id, &name.to_lowercase(), name);
        self.sign_in_with_discord().await;
        self.provider.reset_user();
    }

    /// Signs in as the demo user of `role` (demo mode must be on), as the demo page's
    /// button does.
    pub async fn sign_in_demo(&self, role: &str) {
        let response = self.demo_post(&[("role", role)]).await;
        assert_eq!(response.status(), StatusCode::SEE_OTHER);
    }

    /// Posts the demo sign-in form.
    pub async fn demo_post(&self, form: &[(&str, &str)]) -> reqwest::Response {
        self.browser
            .post(self.url("/auth/demo"))
            .form(form)
            .send()
            .await
            .expect("demo sign-in")
    }

    pub async fn user_count(&self) -> i64 {
        sqlx::query_scalar("select count(*) from app.users")
            .fetch_one(&self.pool)
            .await
            .expect("count users")
    }

    pub async fn role_of(&self, discord_user_id: i64) -> Option<String> {
        sqlx::query_scalar("select role from app.users where discord_user_id = $1")
            .bind(discord_user_id)
            .fetch_optional(&self.pool)
            .await
            .expect("user role")
    }
}

pub fn location(response: &reqwest::Response) -> Url {
    let value = response
        .headers()
        .get(header::LOCATION)
        .and_then(|v| v.to_str().ok())
        .expect("a Location header");
    response.url().join(value).expect("Location is a URL")
}

pub fn urlencode(value: &str) -> String {
    url::form_urlencoded::byte_serialize(value.as_bytes()).collect()
}

/// Replaces the `state` parameter of a callback URL.
pub fn with_state(callback: &Url, state: &str) -> Url {
    let pairs: Vec<(String, String)> = callback
        .query_pairs()
        .into_owned()
        .map(|(k, v)| {
            if k == "state" {
                (k, state.to_owned())
            } else {
                (k, v)
            }
        })
        .collect();
    let mut url = callback.clone();
    url.query_pairs_mut().clear().extend_pairs(pairs);
    url
}

pub async fn assert_error_page(
    response: reqwest::Response,
    status: StatusCode,
    needle: &str,
) -> String {
    assert_eq!(response.status(), status);
    let content_type = response
        .headers()
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .unwrap_or_default()
        .to_owned();
    assert!(content_type.starts_with("text/html"), "{content_type}");
    let body = response.text().await.expect("error page body");
    assert!(body.contains(needle), "expected {needle:?} in {body}");
    assert!(body.contains("Back to Guildhall"), "{body}");
    body
}

/// Runs one pipeline job now, in the demo community's time zone: pages read what the
/// pipeline keeps, so a test writes silver, runs the job and then asks the page.
pub async fn run_job(pool: &PgPool, job: guildhall::pipeline::JobName) {
    guildhall::pipeline::Pipeline::new(
        pool.clone(),
        chrono_tz::Europe::Berlin,
        collectors::metrics::Metrics::new(),
    )
    .run_job(job, guildhall::pipeline::Trigger::Manual)
    .await
    .unwrap_or_else(|error| panic!("job {job}: {error:#}"));
}
