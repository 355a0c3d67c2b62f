//! Configuration in layers: built-in defaults, then an optional `guildhall.toml`, then the
//! environment. Secrets are wrapped so they never appear in logs or error messages. Bad
//! configuration stops start-up with one message that names the setting.

use anyhow::bail;
use figment::Figment;
use figment::providers::{Env, Format, Serialized, Toml};
use secrecy::{ExposeSecret, SecretString};
use serde::{Deserialize, Deserializer, Serialize};
use std::net::SocketAddr;
use std::path::{Path, PathBuf};

/// Everything Guildhall can be configured with. See docs/configuration.md for each setting.
#[derive(Clone, Debug, Deserialize)]
pub struct Config {
    /// PostgreSQL connection string (`DATABASE_URL`).
    pub database_url: SecretString,
    /// Address the web server listens on (`GUILDHALL_BIND`).
    pub bind: SocketAddr,
    /// Address users reach Guildhall at; the OAuth redirect URL is built from it
    /// (`GUILDHALL_PUBLIC_URL`).
    pub public_url: url::Url,
    /// IANA time zone of the community (`GUILDHALL_TIMEZONE`).
    pub timezone: chrono_tz::Tz,
    /// Demo mode: `/auth/demo` signs anyone in with any role (`GUILDHALL_DEMO`).
    pub demo: bool,
    /// Discord user ids that are always admins (`GUILDHALL_ADMIN_IDS`, comma-separated).
    #[serde(deserialize_with = "id_list")]
    pub admin_ids: Vec<i64>,
    /// Discord user ids that are always at least leaders (`GUILDHALL_LEADER_IDS`).
    #[serde(deserialize_with = "id_list")]
    pub leader_ids: Vec<i64>,
    /// Allows demo mode on an address other than loopback (`GUILDHALL_DEMO_ALLOW_PUBLIC`).
    pub demo_allow_public: bool,
    /// `serve` runs the collectors too; off when `guildhall collect` runs them
    /// (`GUILDHALL_SERVE_COLLECTORS`).
    pub serve_collectors: bool,
    /// Address of the separate `/metrics` listener for Prometheus; empty turns it off
    /// (`GUILDHALL_METRICS_BIND`).
    #[serde(deserialize_with = "optional_addr")]
    pub metrics_bind: Option<SocketAddr>,
    /// Bearer token that opens `/metrics` on the web port too (`GUILDHALL_METRICS_TOKEN`);
    /// without it the web port answers 404 there.
    pub metrics_token: Option<SecretString>,
    /// The key game server passwords and SFTP keys are sealed with: 32 bytes in base64 or
    /// hex (`GUILDHALL_SECRET_KEY`; `guildhall secrets new-key` prints a new one).
    #[serde(default, deserialize_with = "optional_secret_key")]
    pub secret_key: Option<collectors::secrets::SecretKey>,
    /// Directory with the compiled site (`/pkg/…`) (`GUILDHALL_SITE_ROOT`).
    pub site_root: PathBuf,
    /// Directory where records wait while PostgreSQL is unreachable (`GUILDHALL_SPOOL_DIR`).
    pub spool_dir: PathBuf,
    /// Seconds a shutdown may take: open requests, collectors and jobs end, and what the
    /// writers hold is committed or spooled (`GUILDHALL_SHUTDOWN_TIMEOUT_SECS`).
    pub shutdown_timeout_secs: u64,
    pub discord: DiscordConfig,
    pub pipeline: PipelineConfig,
    pub ingest: IngestConfig,
    pub games: GamesConfig,
    pub steam: SteamConfig,
    pub web: WebConfig,
}

/// The web layer's limits (`GUILDHALL_WEB__*`): per-address rate limits, the concurrency
/// limit and the request timeout. A rate of 0 per minute turns that limit off.
#[derive(Clone, Debug, Deserialize)]
pub struct WebConfig {
    /// Requests handled at once; more are answered 503 at once
    /// (`GUILDHALL_WEB__MAX_CONCURRENT_REQUESTS`).
    pub max_concurrent_requests: usize,
    /// Longest time a request may take until its answer starts, in seconds; then 503
    /// (`GUILDHALL_WEB__REQUEST_TIMEOUT_SECS`).
    pub request_timeout_secs: u64,
    /// Addresses of reverse proxies whose `X-Forwarded-For` names the client
    /// (`GUILDHALL_WEB__TRUSTED_PROXIES`, comma-separated); empty: the peer address counts.
    #[serde(deserialize_with = "address_list")]
    pub trusted_proxies: Vec<std::net::IpAddr>,
    /// Sign-in, OAuth and Steam callbacks, demo sign-in, per client address
    /// (`GUILDHALL_WEB__SIGN_IN_PER_MINUTE`, `GUILDHALL_WEB__SIGN_IN_BURST`).
    pub sign_in_per_minute: u32,
    pub sign_in_burst: u32,
    /// New link codes (`GUILDHALL_WEB__LINK_CODE_PER_MINUTE`, `…_BURST`).
    pub link_code_per_minute: u32,
    pub link_code_burst: u32,
    /// The game log endpoint `/ingest/logs/…` (`GUILDHALL_WEB__INGEST_PER_MINUTE`, `…_BURST`).
    pub ingest_per_minute: u32,
    pub ingest_burst: u32,
    /// Server functions `/api/…` (`GUILDHALL_WEB__API_PER_MINUTE`, `…_BURST`).
    pub api_per_minute: u32,
    pub api_burst: u32,
}

#[derive(Clone, Debug, Deserialize)]
pub struct GamesConfig {
    /// Seconds between reads of the game server list (`app.game_servers`): added, changed
    /// and disabled servers are picked up this fast (`GUILDHALL_GAMES__REFRESH_SECS`).
    pub refresh_secs: u64,
    /// Largest CS2 HTTP log body accepted, in KiB (`GUILDHALL_GAMES__LOG_BODY_LIMIT_KB`).
    pub log_body_limit_kb: usize,
    /// Longest a CS2 HTTP log post waits for the database (token lookup and write) before
    /// it is answered 503 and the game server sends it again, in milliseconds
    /// (`GUILDHALL_GAMES__LOG_ACK_TIMEOUT_MS`).
    pub log_ack_timeout_ms: u64,
    /// Weeks the servers' weekday × hour profile covers (`GUILDHALL_GAMES__PROFILE_WEEKS`).
    pub profile_weeks: u32,
}

#[derive(Clone, Debug, Deserialize)]
pub struct DiscordConfig {
    /// OAuth2 client id of the Discord application (`DISCORD_CLIENT_ID`). A number, but
    /// kept as text: it only ever goes into URLs.
    #[serde(default, deserialize_with = "optional_id_text")]
    pub client_id: Option<String>,
    /// OAuth2 client secret (`DISCORD_CLIENT_SECRET`).
    pub client_secret: Option<SecretString>,
    /// Bot token; without it the bot stays off (`DISCORD_BOT_TOKEN`).
    pub bot_token: Option<SecretString>,
    /// Guild ids the bot records; empty means every guild the bot is in
    /// (`GUILDHALL_DISCORD__GUILDS`, comma-separated).
    #[serde(deserialize_with = "id_list")]
    pub guilds: Vec<i64>,
    /// Ask for the privileged message-content intent, only to count characters
    /// (`GUILDHALL_DISCORD__MESSAGE_CONTENT`).
    pub message_content: bool,
    /// Base of Discord's REST API and gateway discovery (`GUILDHALL_DISCORD__API_BASE`).
    pub api_base: url::Url,
    /// OAuth2 authorize endpoint (`GUILDHALL_DISCORD__AUTHORIZE_URL`).
    pub authorize_url: url::Url,
    /// OAuth2 token endpoint (`GUILDHALL_DISCORD__TOKEN_URL`).
    pub token_url: url::Url,
    /// Endpoint returning the signed-in user (`GUILDHALL_DISCORD__USERINFO_URL`).
    pub userinfo_url: url::Url,
    /// Endpoint returning the signed-in user's connected accounts, read with the
    /// `connections` scope for their Steam accounts (`GUILDHALL_DISCORD__CONNECTIONS_URL`).
    pub connections_url: url::Url,
}

#[derive(Clone, Debug, Deserialize)]
pub struct SteamConfig {
    /// Base of Steam's OpenID provider: members are sent to `<base>openid/login` and the
    /// answer is checked there (`GUILDHALL_STEAM__OPENID_BASE`).
    pub openid_base: url::Url,
}

#[derive(Clone, Debug, Deserialize)]
pub struct PipelineConfig {
    /// Seconds between scheduled pipeline runs inside `serve`; 0 turns the scheduler off
    /// (`GUILDHALL_PIPELINE__INTERVAL_SECS`).
    pub interval_secs: u64,
    /// Days of bronze rows kept once transformed; 0 keeps them all
    /// (`GUILDHALL_PIPELINE__BRONZE_RETENTION_DAYS`).
    pub bronze_retention_days: u32,
}

#[derive(Clone, Debug, Deserialize)]
pub struct IngestConfig {
    /// Records per batch written to bronze (`GUILDHALL_INGEST__BATCH_SIZE`).
    pub batch_size: usize,
    /// Longest wait before a partial batch is written, in milliseconds
    /// (`GUILDHALL_INGEST__FLUSH_INTERVAL_MS`).
    pub flush_interval_ms: u64,
    /// Largest size of each source's spool, in MiB (`GUILDHALL_INGEST__SPOOL_MAX_MB`).
    pub spool_max_mb: u64,
}

/// The defaults, as a serializable layer under the file and the environment.
#[derive(Serialize)]
struct Defaults {
    database_url: &'static str,
    bind: &'static str,
    public_url: &'static str,
    timezone: &'static str,
    demo: bool,
    admin_ids: Vec<i64>,
    leader_ids: Vec<i64>,
    demo_allow_public: bool,
    serve_collectors: bool,
    metrics_bind: &'static str,
    site_root: &'static str,
    spool_dir: &'static str,
    shutdown_timeout_secs: u64,
    discord: DiscordDefaults,
    pipeline: PipelineDefaults,
    ingest: IngestDefaults,
    games: GamesDefaults,
    steam: SteamDefaults,
    web: WebDefaults,
}

#[derive(Serialize)]
struct WebDefaults {
    max_concurrent_requests: usize,
    request_timeout_secs: u64,
    trusted_proxies: Vec<String>,
    sign_in_per_minute: u32,
    sign_in_burst: u32,
    link_code_per_minute: u32,
    link_code_burst: u32,
    ingest_per_minute: u32,
    ingest_burst: u32,
    api_per_minute: u32,
    api_burst: u32,
}

#[derive(Serialize)]
struct SteamDefaults {
    openid_base: &'static str,
}

#[derive(Serialize)]
struct GamesDefaults {
    refresh_secs: u64,
    log_body_limit_kb: usize,
    log_ack_timeout_ms: u64,
    profile_weeks: u32,
}

#[derive(Serialize)]
struct DiscordDefaults {
    guilds: Vec<i64>,
    message_content: bool,
    api_base: &'static str,
    authorize_url: &'static str,
    token_url: &'static str,
    userinfo_url: &'static str,
    connections_url: &'static str,
}

#[derive(Serialize)]
struct PipelineDefaults {
    interval_secs: u64,
    bronze_retention_days: u32,
}

#[derive(Serialize)]
struct IngestDefaults {
    batch_size: usize,
    flush_interval_ms: u64,
    spool_max_mb: u64,
}

fn defaults() -> Defaults {
    Defaults {
        database_url: "postgres://postgres@127.0.0.1:5432/guildhall",
        bind: "127.0.0.1:3000",
        public_url: "http://127.0.0.1:3000",
        timezone: "Europe/Berlin",
        demo: false,
        admin_ids: Vec::new(),
        leader_ids: Vec::new(),
        demo_allow_public: false,
        serve_collectors: true,
        metrics_bind: "127.0.0.1:9300",
        site_root: "target/site",
        spool_dir: "spool",
        shutdown_timeout_secs: 8,
        discord: DiscordDefaults {
            guilds: Vec::new(),
            message_content: false,
            api_base: "https://discord.com",
            authorize_url: "https://discord.com/oauth2/authorize",
            token_url: "https://discord.com/api/oauth2/token",
            userinfo_url: "https://discord.com/api/users/@me",
            connections_url: "https://discord.com/api/users/@me/connections",
        },
        pipeline: PipelineDefaults {
            interval_secs: 60,
            bronze_retention_days: 400,
        },
        ingest: IngestDefaults {
            batch_size: 1000,
            flush_interval_ms: 1000,
            spool_max_mb: 1024,
        },
        games: GamesDefaults {
            refresh_secs: 10,
            log_body_limit_kb: 1024,
            log_ack_timeout_ms: 3000,
            profile_weeks: 8,
        },
        steam: SteamDefaults {
            openid_base: "https://steamcommunity.com/",
        },
        web: WebDefaults {
            max_concurrent_requests: 512,
            request_timeout_secs: 30,
            trusted_proxies: Vec::new(),
            sign_in_per_minute: 20,
            sign_in_burst: 10,
            link_code_per_minute: 2,
            link_code_burst: 10,
            ingest_per_minute: 1200,
            ingest_burst: 200,
            api_per_minute: 1800,
            api_burst: 300,
        },
    }
}

impl Config {
    /// Loads the configuration: defaults, then `file` (if it exists; `guildhall.toml` by
    /// default, or `GUILDHALL_CONFIG`), then the environment.
    pub fn load(file: Option<&Path>) -> anyhow::Result<Config> {
        let env_file = std::env::var_os("GUILDHALL_CONFIG").map(PathBuf::from);
        let explicit = file.map(Path::to_path_buf).or(env_file);
        if let Some(path) = &explicit
            && !path.exists()
        {
            bail!("configuration file {} does not exist", path.display());
        }
        let path = explicit.unwrap_or_else(|| PathBuf::from("guildhall.toml"));
        Self::from_figment(Self::layers(&path))
    }

    /// The layers `load` reads, for a configuration file at `path`: defaults, the file (when
    /// it exists), the environment.
    pub fn layers(path: &Path) -> Figment {
        Figment::from(Serialized::defaults(defaults()))
            .merge(Toml::file(path))
            .merge(env_layer())
    }

    /// Builds a configuration from a figment (used by `load` and by tests).
    pub fn from_figment(figment: Figment) -> anyhow::Result<Config> {
        let config: Config = figment.extract().map_err(describe_error)?;
        config.validate()?;
        Ok(config)
    }

    /// Defaults only, for tests that set the rest themselves.
    pub fn defaults_figment() -> Figment {
        Figment::from(Serialized::defaults(defaults()))
    }

    fn validate(&self) -> anyhow::Result<()> {
        let has_id = self
            .discord
            .client_id
            .as_deref()
            .is_some_and(|s| !s.is_empty());
        let has_secret = self
            .discord
            .client_secret
            .as_ref()
            .is_some_and(|s| !s.expose_secret().is_empty());
        if has_id != has_secret {
            bail!(
                "DISCORD_CLIENT_ID and DISCORD_CLIENT_SECRET must be set together (only {} is set)",
                if has_id {
                    "DISCORD_CLIENT_ID"
                } else {
                    "DISCORD_CLIENT_SECRET"
                }
            );
        }
        if self.games.refresh_secs == 0 {
            bail!("GUILDHALL_GAMES__REFRESH_SECS must be at least 1");
        }
        if self.games.log_body_limit_kb == 0 {
            bail!("GUILDHALL_GAMES__LOG_BODY_LIMIT_KB must be at least 1");
        }
        if !(100..=60_000).contains(&self.games.log_ack_timeout_ms) {
            bail!(
                "GUILDHALL_GAMES__LOG_ACK_TIMEOUT_MS must be between 100 and 60000 (is {})",
                self.games.log_ack_timeout_ms
            );
        }
        if !(1..=3600).contains(&self.shutdown_timeout_secs) {
            bail!(
                "GUILDHALL_SHUTDOWN_TIMEOUT_SECS must be between 1 and 3600 (is {})",
                self.shutdown_timeout_secs
            );
        }
        if !(1..=104).contains(&self.games.profile_weeks) {
            bail!(
                "GUILDHALL_GAMES__PROFILE_WEEKS must be between 1 and 104 (is {})",
                self.games.profile_weeks
            );
        }
        if self.web.max_concurrent_requests == 0 {
            bail!("GUILDHALL_WEB__MAX_CONCURRENT_REQUESTS must be at least 1");
        }
        if self.web.request_timeout_secs == 0 {
            bail!("GUILDHALL_WEB__REQUEST_TIMEOUT_SECS must be at least 1");
        }
        for (per_minute, burst, setting) in [
            (
                self.web.sign_in_per_minute,
                self.web.sign_in_burst,
                "SIGN_IN",
            ),
            (
                self.web.link_code_per_minute,
                self.web.link_code_burst,
                "LINK_CODE",
            ),
            (self.web.ingest_per_minute, self.web.ingest_burst, "INGEST"),
            (self.web.api_per_minute, self.web.api_burst, "API"),
        ] {
            if per_minute > 0 && burst == 0 {
                bail!(
                    "GUILDHALL_WEB__{setting}_BURST must be at least 1 while \
                     GUILDHALL_WEB__{setting}_PER_MINUTE is on (0 turns the limit off)"
                );
            }
        }
        if self.ingest.batch_size == 0 {
            bail!("GUILDHALL_INGEST__BATCH_SIZE must be at least 1");
        }
        if self.demo && !self.bind.ip().is_loopback() && !self.demo_allow_public {
            bail!(
                "demo mode lets anyone sign in as an admin, so it only runs on a loopback address, \
                 but GUILDHALL_BIND={} can be reached from the network: bind to 127.0.0.1, \
                 turn GUILDHALL_DEMO off, or set GUILDHALL_DEMO_ALLOW_PUBLIC=true if you really \
                 mean to expose a demo",
                self.bind
            );
        }
        if self.metrics_bind == Some(self.bind) {
            bail!(
                "GUILDHALL_METRICS_BIND={} is the web server's address (GUILDHALL_BIND): give \
                 the metrics listener a port of its own, or leave it empty to turn it off",
                self.bind
            );
        }
        Ok(())
    }

    /// Discord login is possible (client id and secret configured).
    pub fn discord_login_enabled(&self) -> bool {
        self.discord
            .client_id
            .as_deref()
            .is_some_and(|s| !s.is_empty())
    }

    /// The bot token, when the bot should run.
    pub fn bot_token(&self) -> Option<&str> {
        self.discord
            .bot_token
            .as_ref()
            .map(|t| t.expose_secret())
            .filter(|t| !t.is_empty())
    }

    /// Where each source's records wait while PostgreSQL is unreachable.
    pub fn spool(&self) -> collectors::ingest::SpoolConfig {
        collectors::ingest::SpoolConfig {
            dir: self.spool_dir.clone(),
            max_bytes: self.ingest.spool_max_mb.saturating_mul(1 << 20),
        }
    }

    /// The bearer token that opens `/metrics` on the web port, when one is set.
    pub fn metrics_token(&self) -> Option<&str> {
        self.metrics_token
            .as_ref()
            .map(|t| t.expose_secret())
            .filter(|t| !t.is_empty())
    }

    /// The database URL with any password replaced, for messages.
    pub fn database_url_redacted(&self) -> String {
        redact_url(self.database_url.expose_secret())
    }
}

/// Environment variables: `DATABASE_URL`, `DISCORD_CLIENT_ID`, `DISCORD_CLIENT_SECRET`,
/// `DISCORD_BOT_TOKEN`, and `GUILDHALL_*` for everything else (`__` separates nesting).
fn env_layer() -> Figment {
    Figment::new()
        .merge(Env::prefixed("GUILDHALL_").split("__").ignore(&["config"]))
        .merge(Env::raw().only(&["database_url"]))
        .merge(
            Env::raw()
                .only(&[
                    "discord_client_id",
                    "discord_client_secret",
                    "discord_bot_token",
                ])
                // Keys arrive as spelled in the environment (upper case); figment lowercases
                // them only after this mapping.
                .map(|key| {
                    key.as_str()
                        .to_ascii_lowercase()
                        .replacen("discord_", "discord.", 1)
                        .into()
                }),
        )
}

/// Turns a figment error into one line naming the setting the way the user spells it.
fn describe_error(error: figment::Error) -> anyhow::Error {
    let path = error.path.join(".");
    if path.is_empty() {
        // Not about one setting: usually a configuration file that is not valid TOML.
        let source = error
            .metadata
            .as_ref()
            .and_then(|metadata| metadata.source.as_ref())
            .map(|source| format!(" in {source}"))
            .unwrap_or_default();
        return anyhow::anyhow!("invalid configuration{source}: {}", error.kind);
    }
    anyhow::anyhow!("invalid setting {}: {}", env_name(&path), error.kind)
}

/// The environment variable for a dotted setting path.
fn env_name(path: &str) -> String {
    match path {
        "database_url" => "DATABASE_URL".into(),
        "discord.client_id" => "DISCORD_CLIENT_ID".into(),
        "discord.client_secret" => "DISCORD_CLIENT_SECRET".into(),
        "discord.bot_token" => "DISCORD_BOT_TOKEN".into(),
        other => format!("GUILDHALL_{}", other.replace('.', "__").to_uppercase()),
    }
}

/// Accepts ids as a list (`[1, 2]` in TOML) or a comma-separated string (environment).
fn id_list<'de, D: Deserializer<'de>>(deserializer: D) -> Result<Vec<i64>, D::Error> {
    #[derive(Deserialize)]
    #[serde(untagged)]
    enum Ids {
        List(Vec<IdValue>),
        One(IdValue),
    }
    #[derive(Deserialize)]
    #[serde(untagged)]
    enum IdValue {
        Number(i64),
        Text(String),
    }
    fn parse_text(text: &str) -> Result<Vec<i64>, String> {
        text.split(',')
            .map(str::trim)
            .filter(|part| !part.is_empty())
            .map(|part| match part.parse::<i64>() {
                Ok(id) if id > 0 => Ok(id),
                _ => Err(format!("'{part}' is not a Discord id (a positive number)")),
            })
            .collect()
    }
    let values = match Ids::deserialize(deserializer)? {
        Ids::List(values) => values,
        Ids::One(value) => vec![value],
    };
    let mut ids = Vec::new();
    for value in values {
        match value {
            IdValue::Number(id) if id > 0 => ids.push(id),
            IdValue::Number(id) => {
                return Err(serde::de::Error::custom(format!(
                    "'{id}' is not a Discord id (a positive number)"
                )));
            }
            IdValue::Text(text) => ids.extend(parse_text(&text).map_err(serde::de::Error::custom)?),
        }
    }
    Ok(ids)
}

/// Accepts a Discord id as a number (TOML, or a numeric environment value) or as text.
fn optional_id_text<'de, D: Deserializer<'de>>(
    deserializer: D,
) -> Result<Option<String>, D::Error> {
    #[derive(Deserialize)]
    #[serde(untagged)]
    enum IdValue {
        Number(u64),
        Text(String),
    }
    let text = match Option::<IdValue>::deserialize(deserializer)? {
        None => return Ok(None),
        Some(IdValue::Number(id)) => id.to_string(),
        Some(IdValue::Text(text)) => text.trim().to_owned(),
    };
    if text.is_empty() {
        return Ok(None);
    }
    if !text.bytes().all(|b| b.is_ascii_digit()) {
        return Err(serde::de::Error::custom(format!(
            "'{text}' is not a Discord application id (a number)"
        )));
    }
    Ok(Some(text))
}

/// IP addresses as a list (TOML) or a comma-separated string (environment).
fn address_list<'de, D: Deserializer<'de>>(
    deserializer: D,
) -> Result<Vec<std::net::IpAddr>, D::Error> {
    #[derive(Deserialize)]
    #[serde(untagged)]
    enum Addresses {
        List(Vec<String>),
        One(String),
    }
    let parts: Vec<String> = match Addresses::deserialize(deserializer)? {
        Addresses::List(list) => list,
        Addresses::One(text) => text.split(',').map(str::to_owned).collect(),
    };
    parts
        .iter()
        .map(|part| part.trim())
        .filter(|part| !part.is_empty())
        .map(|part| {
            part.parse().map_err(|_| {
                serde::de::Error::custom(format!("'{part}' is not an IP address such as 10.0.0.2"))
            })
        })
        .collect()
}

/// An address, or nothing for an empty value (`GUILDHALL_METRICS_BIND=`).
fn optional_addr<'de, D: Deserializer<'de>>(
    deserializer: D,
) -> Result<Option<SocketAddr>, D::Error> {
    let text = Option::<String>::deserialize(deserializer)?.unwrap_or_default();
    let text = text.trim();
    if text.is_empty() {
        return Ok(None);
    }
    text.parse().map(Some).map_err(|_| {
        serde::de::Error::custom(format!("'{text}' is not an address such as 127.0.0.1:9300"))
    })
}

/// A secret key in base64 or hex, or nothing for an empty value. The message never
/// repeats the value.
fn optional_secret_key<'de, D: Deserializer<'de>>(
    deserializer: D,
) -> Result<Option<collectors::secrets::SecretKey>, D::Error> {
    let text = Option::<SecretString>::deserialize(deserializer)?;
    let Some(text) = text else { return Ok(None) };
    let text = text.expose_secret().trim();
    if text.is_empty() {
        return Ok(None);
    }
    collectors::secrets::SecretKey::parse(text)
        .map(Some)
        .map_err(serde::de::Error::custom)
}

/// Replaces the password in a URL with `***`.
pub fn redact_url(raw: &str) -> String {
    match url::Url::parse(raw) {
        Ok(mut url) => {
            if url.password().is_some() {
                let _ = url.set_password(Some("***"));
            }
            url.to_string()
        }
        Err(_) => "(unparseable URL)".into(),
    }
}

#[cfg(test)]
// figment's `Jail` closures must return its (large) `figment::Error`.
#[allow(clippy::result_large_err)]
mod tests;
