//! Tests of the configuration layers, and of docs/configuration.md against them.

use super::*;
use figment::providers::Serialized;

fn with(key: &str, value: impl Serialize) -> anyhow::Result<Config> {
    Config::from_figment(Config::defaults_figment().merge(Serialized::default(key, value)))
}

/// The configuration reference (docs/configuration.md), as users read it.
const CONFIGURATION_DOC: &str = include_str!("../../../docs/configuration.md");

/// One row of the configuration table in docs/configuration.md.
#[derive(Debug)]
struct Setting {
    env: String,
    key: Option<String>,
    default: String,
}

fn documented_settings() -> Vec<Setting> {
    let table = CONFIGURATION_DOC
        .split("| environment variable | file key | default | meaning |")
        .nth(1)
        .expect("docs/configuration.md has the configuration table");
    let settings: Vec<Setting> = table
        .lines()
        .skip(2)
        .take_while(|line| line.starts_with('|'))
        .map(|line| {
            let cells: Vec<&str> = line
                .split(" | ")
                .map(|c| c.trim_matches(['|', ' ']))
                .collect();
            let unquote = |cell: &str| cell.trim_matches('`').to_owned();
            Setting {
                env: unquote(cells[0]),
                key: (cells[1] != "—").then(|| unquote(cells[1])),
                default: unquote(cells[2]),
            }
        })
        .collect();
    assert!(
        settings.len() >= 20,
        "the table was not found whole: {settings:?}"
    );
    settings
}

/// The merged value at a dotted key, as docs/configuration.md writes it.
fn rendered(figment: &Figment, key: &str) -> String {
    figment
        .find_value(key)
        .map(|value| value_text(&value))
        .unwrap_or_else(|_| "unset".into())
}

fn value_text(value: &figment::value::Value) -> String {
    use figment::value::Value;
    match value {
        Value::String(_, text) if text.is_empty() => "empty".into(),
        Value::String(_, text) => text.clone(),
        Value::Bool(_, value) => value.to_string(),
        Value::Num(_, number) => number
            .to_u128()
            .map(|n| n.to_string())
            .or_else(|| number.to_i128().map(|n| n.to_string()))
            .unwrap_or_else(|| format!("{number:?}")),
        Value::Array(_, items) if items.is_empty() => "empty".into(),
        Value::Array(_, items) if items.len() == 1 => value_text(&items[0]),
        other => format!("{other:?}"),
    }
}

/// A valid value for each setting: as written in the environment, in TOML, and as the
/// merged configuration renders it.
fn sample(key: &str) -> (&'static str, &'static str, &'static str) {
    match key {
        "database_url" => (
            "postgres://u@db.example:5432/gh",
            "\"postgres://u@db.example:5432/gh\"",
            "postgres://u@db.example:5432/gh",
        ),
        "bind" => ("127.0.0.1:4000", "\"127.0.0.1:4000\"", "127.0.0.1:4000"),
        "public_url" => (
            "https://stats.example.org",
            "\"https://stats.example.org\"",
            "https://stats.example.org",
        ),
        "timezone" => (
            "America/New_York",
            "\"America/New_York\"",
            "America/New_York",
        ),
        "demo" | "demo_allow_public" | "discord.message_content" => ("true", "true", "true"),
        "serve_collectors" => ("false", "false", "false"),
        "admin_ids" | "leader_ids" | "discord.guilds" => (
            "123456789012345678",
            "[123456789012345678]",
            "123456789012345678",
        ),
        "metrics_bind" => ("127.0.0.1:9555", "\"127.0.0.1:9555\"", "127.0.0.1:9555"),
        "metrics_token" => ("scrape-secret", "\"scrape-secret\"", "scrape-secret"),
        "secret_key" => (
            "q83vEjRWeJCrze8SNFZ4kKvN7xI0VniQq83vEjRWeJA=",
            "\"q83vEjRWeJCrze8SNFZ4kKvN7xI0VniQq83vEjRWeJA=\"",
            "q83vEjRWeJCrze8SNFZ4kKvN7xI0VniQq83vEjRWeJA=",
        ),
        "site_root" => ("/srv/site", "\"/srv/site\"", "/srv/site"),
        "spool_dir" => (
            "/var/lib/guildhall/spool",
            "\"/var/lib/guildhall/spool\"",
            "/var/lib/guildhall/spool",
        ),
        "discord.client_id" => (
            "987654321098765432",
            "987654321098765432",
            "987654321098765432",
        ),
        "discord.client_secret" => ("client-secret", "\"client-secret\"", "client-secret"),
        "discord.bot_token" => ("bot-token", "\"bot-token\"", "bot-token"),
        "discord.api_base"
        | "discord.authorize_url"
        | "discord.token_url"
        | "discord.userinfo_url"
        | "discord.connections_url"
        | "steam.openid_base" => (
            "http://127.0.0.1:9/x",
            "\"http://127.0.0.1:9/x\"",
            "http://127.0.0.1:9/x",
        ),
        "pipeline.interval_secs"
        | "pipeline.bronze_retention_days"
        | "ingest.batch_size"
        | "ingest.flush_interval_ms"
        | "ingest.spool_max_mb"
        | "games.refresh_secs"
        | "games.log_body_limit_kb"
        | "games.profile_weeks"
        | "shutdown_timeout_secs"
        | "web.max_concurrent_requests"
        | "web.request_timeout_secs"
        | "web.sign_in_per_minute"
        | "web.sign_in_burst"
        | "web.link_code_per_minute"
        | "web.link_code_burst"
        | "web.ingest_per_minute"
        | "web.ingest_burst"
        | "web.api_per_minute"
        | "web.api_burst" => ("17", "17", "17"),
        "web.trusted_proxies" => ("10.0.0.2", "[\"10.0.0.2\"]", "10.0.0.2"),
        "games.log_ack_timeout_ms" => ("2500", "2500", "2500"),
        other => {
            panic!("docs/configuration.md lists `{other}`: add a sample value for it to this test")
        }
    }
}

/// `[table]\nkey = value` for a dotted key.
fn toml_line(key: &str, value: &str) -> String {
    match key.rsplit_once('.') {
        Some((table, key)) => format!("[{table}]\n{key} = {value}\n"),
        None => format!("{key} = {value}\n"),
    }
}

/// Settings that only make sense together with another one.
fn companions(key: &str) -> &'static [(&'static str, &'static str)] {
    match key {
        "discord.client_id" => &[("DISCORD_CLIENT_SECRET", "client-secret")],
        "discord.client_secret" => &[("DISCORD_CLIENT_ID", "1")],
        _ => &[],
    }
}

#[test]
fn every_default_in_the_configuration_doc_is_the_built_in_default() {
    let figment = Config::defaults_figment();
    Config::from_figment(figment.clone()).expect("the defaults are valid");
    for setting in documented_settings() {
        let Some(key) = &setting.key else {
            assert_eq!(setting.env, "RUST_LOG");
            assert_eq!(setting.default, crate::telemetry::DEFAULT_LOG_FILTER);
            continue;
        };
        assert_eq!(rendered(&figment, key), setting.default, "{}", setting.env);
    }
}

#[test]
fn every_setting_in_the_configuration_doc_is_read_from_the_environment_as_documented() {
    for setting in documented_settings() {
        let Some(key) = setting.key.clone() else {
            continue;
        };
        let (env_value, _, expected) = sample(&key);
        figment::Jail::expect_with(|jail| {
            jail.clear_env();
            jail.set_env(&setting.env, env_value);
            for (name, value) in companions(&key) {
                jail.set_env(name, value);
            }
            let layers = Config::layers(Path::new("guildhall.toml"));
            assert_eq!(rendered(&layers, &key), expected, "{}", setting.env);
            Config::from_figment(layers)
                .map_err(|error| format!("{}={env_value}: {error:#}", setting.env))?;
            Ok(())
        });
    }
}

#[test]
fn every_setting_in_the_configuration_doc_is_read_from_the_file_as_documented() {
    for setting in documented_settings() {
        let Some(key) = setting.key.clone() else {
            continue;
        };
        let (_, toml_value, expected) = sample(&key);
        figment::Jail::expect_with(|jail| {
            jail.clear_env();
            for (name, value) in companions(&key) {
                jail.set_env(name, value);
            }
            jail.create_file("guildhall.toml", &toml_line(&key, toml_value))?;
            let layers = Config::layers(Path::new("guildhall.toml"));
            assert_eq!(rendered(&layers, &key), expected, "{key} in the file");
            Config::from_figment(layers).map_err(|error| format!("{key}: {error:#}"))?;
            Ok(())
        });
    }
}

#[test]
fn the_documented_example_file_loads() {
    let example = CONFIGURATION_DOC
        .split("Example `guildhall.toml`:")
        .nth(1)
        .and_then(|rest| rest.split("```toml").nth(1))
        .and_then(|rest| rest.split("```").next())
        .expect("docs/configuration.md has an example guildhall.toml");
    figment::Jail::expect_with(|jail| {
        jail.clear_env();
        jail.create_file("guildhall.toml", example)?;
        let config = Config::load(None).map_err(|error| format!("{error:#}"))?;
        assert_eq!(config.admin_ids, vec![123_456_789_012_345_678]);
        assert_eq!(config.discord.guilds, vec![234_567_890_123_456_789]);
        assert_eq!(config.public_url.as_str(), "https://stats.example.org/");
        Ok(())
    });
}

#[test]
fn a_numeric_client_id_from_the_environment_is_accepted() {
    figment::Jail::expect_with(|jail| {
        jail.clear_env();
        jail.set_env("GUILDHALL_DISCORD__CLIENT_ID", "123456789012345678");
        jail.set_env("DISCORD_CLIENT_SECRET", "s");
        let config = Config::load(None).map_err(|error| format!("{error:#}"))?;
        assert_eq!(
            config.discord.client_id.as_deref(),
            Some("123456789012345678")
        );
        assert!(config.discord_login_enabled());
        Ok(())
    });
}

#[test]
fn demo_mode_on_a_public_address_is_refused_unless_forced() {
    let public = Config::defaults_figment()
        .merge(Serialized::default("demo", true))
        .merge(Serialized::default("bind", "0.0.0.0:3000"));
    let error = Config::from_figment(public.clone())
        .expect_err("refused")
        .to_string();
    assert!(error.contains("GUILDHALL_BIND=0.0.0.0:3000"), "{error}");
    assert!(
        error.contains("GUILDHALL_DEMO_ALLOW_PUBLIC=true"),
        "{error}"
    );
    Config::from_figment(public.merge(Serialized::default("demo_allow_public", true)))
        .expect("forced");
    Config::from_figment(
        Config::defaults_figment()
            .merge(Serialized::default("demo", true))
            .merge(Serialized::default("bind", "[::1]:3000")),
    )
    .expect("loopback is fine");
}

#[test]
fn admin_ids_accept_a_comma_separated_string() {
    let config = with("admin_ids", "123, 456").expect("valid ids");
    assert_eq!(config.admin_ids, vec![123, 456]);
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
            .merge(Serialized::default("discord.bot_token", "bot-secret-token"))
            .merge(Serialized::default("discord.client_id", "1"))
            .merge(Serialized::default(
                "discord.client_secret",
                "client-secret-value",
            ))
            .merge(Serialized::default("metrics_token", "metrics-secret-value"))
            .merge(Serialized::default(
                "secret_key",
                "q83vEjRWeJCrze8SNFZ4kKvN7xI0VniQq83vEjRWeJA=",
            )),
    )
    .expect("valid");
    let printed = format!("{config:?}");
    for secret in [
        "hunter2",
        "bot-secret-token",
        "client-secret-value",
        "metrics-secret-value",
        "q83vEjRWeJCrze8SNFZ4kKvN7xI0VniQq83vEjRWeJA",
    ] {
        assert!(!printed.contains(secret), "{secret} printed: {printed}");
    }
    // The bot's own configuration, which collectors log, hides the token too.
    let bot = collectors::discord::bot::BotConfig {
        token: config.bot_token().expect("token").to_owned().into(),
        api_base: "https://discord.com".into(),
        guilds: vec![],
        heartbeat: std::time::Duration::from_secs(30),
        rules_refresh: collectors::rules::REFRESH_INTERVAL,
        message_content: false,
    };
    let printed = format!("{bot:?}");
    assert!(!printed.contains("bot-secret-token"), "{printed}");
    assert_eq!(config.database_url_redacted(), "postgres://u:***@db/x");
}

#[test]
fn a_secret_key_that_is_not_32_bytes_is_refused_without_repeating_it() {
    figment::Jail::expect_with(|jail| {
        jail.clear_env();
        jail.set_env("GUILDHALL_SECRET_KEY", "not-a-key-but-a-password");
        let error = Config::from_figment(Config::layers(Path::new("guildhall.toml")))
            .expect_err("refused")
            .to_string();
        assert_eq!(
            error,
            "invalid setting GUILDHALL_SECRET_KEY: it is not 32 bytes in base64 (44 characters) \
             or hex (64 characters); create one with `guildhall secrets new-key`"
        );
        jail.set_env("GUILDHALL_SECRET_KEY", "0f".repeat(32));
        let config = Config::from_figment(Config::layers(Path::new("guildhall.toml")))
            .map_err(|e| e.to_string())?;
        assert_eq!(
            config.secret_key,
            Some(collectors::secrets::SecretKey::from_bytes([0x0f; 32]))
        );
        Ok(())
    });
}

#[test]
fn deadlines_out_of_range_name_their_setting() {
    for (key, value, setting) in [
        (
            "games.log_ack_timeout_ms",
            50,
            "GUILDHALL_GAMES__LOG_ACK_TIMEOUT_MS",
        ),
        (
            "games.log_ack_timeout_ms",
            60_001,
            "GUILDHALL_GAMES__LOG_ACK_TIMEOUT_MS",
        ),
        (
            "shutdown_timeout_secs",
            0,
            "GUILDHALL_SHUTDOWN_TIMEOUT_SECS",
        ),
    ] {
        let error = with(key, value).expect_err("must fail").to_string();
        assert!(error.contains(setting), "{key}={value}: {error}");
    }
    assert_eq!(
        with("games.log_ack_timeout_ms", 100)
            .expect("valid")
            .games
            .log_ack_timeout_ms,
        100
    );
}
