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

/// Everything Guildhall can be configured with. See the README for each setting.
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
    /// Directory with the compiled site (`/pkg/…`) (`GUILDHALL_SITE_ROOT`).
    pub site_root: PathBuf,
    pub discord: DiscordConfig,
    pub pipeline: PipelineConfig,
    pub ingest: IngestConfig,
}

#[derive(Clone, Debug, Deserialize)]
pub struct DiscordConfig {
    /// OAuth2 client id of the Discord application (`DISCORD_CLIENT_ID`).
    pub client_id: Option<String>,
    /// OAuth2 client secret (`DISCORD_CLIENT_SECRET`).
    pub client_secret: Option<SecretString>,
    /// Bot token; without it the bot stays off (`DISCORD_BOT_TOKEN`).
    pub bot_token: Option<SecretString>,
    /// Guild ids the bot records; empty means every guild the bot is in
    /// (`GUILDHALL_DISCORD__GUILDS`, comma-separated).
    #[serde(deserialize_with = "id_list")]
    pub guilds: Vec<i64>,
    /// Base of Discord's REST API and gateway discovery (`GUILDHALL_DISCORD__API_BASE`).
    pub api_base: url::Url,
    /// OAuth2 authorize endpoint (`GUILDHALL_DISCORD__AUTHORIZE_URL`).
    pub authorize_url: url::Url,
    /// OAuth2 token endpoint (`GUILDHALL_DISCORD__TOKEN_URL`).
    pub token_url: url::Url,
    /// Endpoint returning the signed-in user (`GUILDHALL_DISCORD__USERINFO_URL`).
    pub userinfo_url: url::Url,
}

#[derive(Clone, Debug, Deserialize)]
pub struct PipelineConfig {
    /// Seconds between scheduled pipeline runs inside `serve`; 0 turns the scheduler off
    /// (`GUILDHALL_PIPELINE__INTERVAL_SECS`).
    pub interval_secs: u64,
}

#[derive(Clone, Debug, Deserialize)]
pub struct IngestConfig {
    /// Records per batch written to bronze (`GUILDHALL_INGEST__BATCH_SIZE`).
    pub batch_size: usize,
    /// Longest wait before a partial batch is written, in milliseconds
    /// (`GUILDHALL_INGEST__FLUSH_INTERVAL_MS`).
    pub flush_interval_ms: u64,
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
    site_root: &'static str,
    discord: DiscordDefaults,
    pipeline: PipelineDefaults,
    ingest: IngestDefaults,
}

#[derive(Serialize)]
struct DiscordDefaults {
    guilds: Vec<i64>,
    api_base: &'static str,
    authorize_url: &'static str,
    token_url: &'static str,
    userinfo_url: &'static str,
}

#[derive(Serialize)]
struct PipelineDefaults {
    interval_secs: u64,
}

#[derive(Serialize)]
struct IngestDefaults {
    batch_size: usize,
    flush_interval_ms: u64,
}

fn defaults() -> Defaults {
    Defaults {
        database_url: "postgres://postgres@127.0.0.1:5432/guildhall",
        bind: "127.0.0.1:3000",
        public_url: "http://127.0.0.1:3000",
        timezone: "Europe/Berlin",
        demo: false,
        admin_ids: Vec::new(),
        site_root: "target/site",
        discord: DiscordDefaults {
            guilds: Vec::new(),
            api_base: "https://discord.com",
            authorize_url: "https://discord.com/oauth2/authorize",
            token_url: "https://discord.com/api/oauth2/token",
            userinfo_url: "https://discord.com/api/users/@me",
        },
        pipeline: PipelineDefaults { interval_secs: 60 },
        ingest: IngestDefaults {
            batch_size: 1000,
            flush_interval_ms: 1000,
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
        Self::from_figment(
            Figment::from(Serialized::defaults(defaults()))
                .merge(Toml::file(&path))
                .merge(env_layer()),
        )
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
        if self.ingest.batch_size == 0 {
            bail!("GUILDHALL_INGEST__BATCH_SIZE must be at least 1");
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
                .map(|key| key.as_str().replacen("discord_", "discord.", 1).into()),
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
mod tests {
    use super::*;
    use figment::providers::Serialized;

    fn with(key: &str, value: impl Serialize) -> anyhow::Result<Config> {
        Config::from_figment(Config::defaults_figment().merge(Serialized::default(key, value)))
    }

    #[test]
    fn defaults_are_valid_and_match_the_readme() {
        let config = Config::from_figment(Config::defaults_figment()).expect("defaults load");
        assert_eq!(config.bind.to_string(), "127.0.0.1:3000");
        assert_eq!(config.timezone, chrono_tz::Europe::Berlin);
        assert!(!config.demo);
        assert!(config.admin_ids.is_empty());
        assert_eq!(config.pipeline.interval_secs, 60);
        assert!(config.bot_token().is_none());
        assert!(!config.discord_login_enabled());
    }

    #[test]
    fn admin_ids_accept_a_comma_separated_string() {
        let config = with("admin_ids", "123, 456").expect("valid ids");
        assert_eq!(config.admin_ids, vec![123, 456]);
    }

    #[test]
    fn the_readme_example_file_loads() {
        let file = r#"
            public_url = "https://stats.example.org"
            timezone = "Europe/Berlin"
            admin_ids = [123456789012345678]

            [discord]
            guilds = [234567890123456789]

            [pipeline]
            interval_secs = 60
        "#;
        let config = Config::from_figment(
            Config::defaults_figment().merge(figment::providers::Toml::string(file)),
        )
        .expect("the example is valid");
        assert_eq!(config.admin_ids, vec![123_456_789_012_345_678]);
        assert_eq!(config.discord.guilds, vec![234_567_890_123_456_789]);
        assert_eq!(config.public_url.as_str(), "https://stats.example.org/");
    }

    #[test]
    fn malformed_admin_id_names_the_setting() {
        let error = with("admin_ids", "123,abc")
            .expect_err("must fail")
            .to_string();
        assert!(error.contains("GUILDHALL_ADMIN_IDS"), "{error}");
        assert!(error.contains("'abc' is not a Discord id"), "{error}");
    }

    #[test]
    fn unknown_time_zone_names_the_setting() {
        let error = with("timezone", "Mars/Olympus")
            .expect_err("must fail")
            .to_string();
        assert!(error.contains("GUILDHALL_TIMEZONE"), "{error}");
    }

    #[test]
    fn client_id_without_secret_is_refused() {
        let error = with("discord", serde_json::json!({"client_id": "42"}))
            .expect_err("must fail")
            .to_string();
        assert!(error.contains("DISCORD_CLIENT_SECRET"), "{error}");
    }

    #[test]
    fn secrets_never_print() {
        let config = Config::from_figment(
            Config::defaults_figment()
                .merge(Serialized::default(
                    "database_url",
                    "postgres://u:hunter2@db/x",
                ))
                .merge(Serialized::default("discord.bot_token", "bot-secret-token")),
        )
        .expect("valid");
        let printed = format!("{config:?}");
        assert!(!printed.contains("hunter2"), "{printed}");
        assert!(!printed.contains("bot-secret-token"), "{printed}");
        assert_eq!(config.database_url_redacted(), "postgres://u:***@db/x");
    }
}
