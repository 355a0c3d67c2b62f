//! The real binary started with the settings the README documents, each checked by the effect
//! a user sees: sign-in goes to the configured Discord application, the bot connects with the
//! configured token, `/metrics` is where the README says, demo mode refuses a public address.

mod support;

use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};
use support::fake_discord::{FakeDiscord, Handshake};
use support::{drop_database, server_url};

/// A `guildhall serve` process with its own database, stopped and cleaned up on drop.
struct Served {
    child: Child,
    base: String,
    database: String,
}

impl Drop for Served {
    fn drop(&mut self) {
        let _ = Command::new("kill")
            .args(["-TERM", &self.child.id().to_string()])
            .status();
        let _ = self.child.wait();
        drop_database(&self.database);
    }
}

/// A port nobody listens on right now.
fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|listener| listener.local_addr())
        .map(|address| address.port())
        .expect("a free port")
}

/// Starts `guildhall serve` with exactly `env` (plus a database and a port of its own) and
/// waits until `/healthz` answers.
async fn serve(test: &str, env: &[(&str, &str)]) -> Served {
    serve_logging_to(test, env, Stdio::null()).await
}

/// [`serve`], with the log (stderr) going to `log`.
async fn serve_logging_to(test: &str, env: &[(&str, &str)], log: Stdio) -> Served {
    let database = format!("guildhall_settings_{test}_{}", std::process::id());
    drop_database(&database);
    let port = free_port();
    let base = format!("http://127.0.0.1:{port}");
    let mut command = Command::new(env!("CARGO_BIN_EXE_guildhall"));
    command
        .arg("serve")
        .env_clear()
        .env("PATH", std::env::var("PATH").unwrap_or_default())
        .env("DATABASE_URL", format!("{}/{database}", server_url()))
        .env("GUILDHALL_BIND", format!("127.0.0.1:{port}"))
        .env("GUILDHALL_PIPELINE__INTERVAL_SECS", "0")
        .env("RUST_LOG", "info")
        .current_dir(std::env::temp_dir())
        .stdout(Stdio::null())
        .stderr(log);
    if !env.iter().any(|(key, _)| *key == "GUILDHALL_METRICS_BIND") {
        command.env("GUILDHALL_METRICS_BIND", "");
    }
    for (key, value) in env {
        command.env(key, value);
    }
    let child = command.spawn().expect("serve starts");
    let served = Served {
        child,
        base,
        database,
    };
    let client = reqwest::Client::new();
    let deadline = Instant::now() + Duration::from_secs(60);
    loop {
        if client
            .get(format!("{}/healthz", served.base))
            .send()
            .await
            .is_ok_and(|r| r.status().is_success())
        {
            return served;
        }
        assert!(Instant::now() < deadline, "serve did not become healthy");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

fn no_redirects() -> reqwest::Client {
    reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .expect("client")
}

#[tokio::test]
async fn sign_in_goes_to_the_discord_application_named_by_discord_client_id() {
    let served = serve(
        "client_id",
        &[
            ("DISCORD_CLIENT_ID", "123456789012345678"),
            ("DISCORD_CLIENT_SECRET", "documented-secret"),
            ("GUILDHALL_PUBLIC_URL", "http://stats.example.test"),
        ],
    )
    .await;
    let response = no_redirects()
        .get(format!("{}/auth/login", served.base))
        .send()
        .await
        .expect("login answers");
    assert!(response.status().is_redirection(), "{}", response.status());
    let location = response
        .headers()
        .get("location")
        .and_then(|v| v.to_str().ok())
        .expect("a location")
        .to_owned();
    let url = url::Url::parse(&location).expect("an absolute URL");
    assert_eq!(
        url.as_str().split('?').next(),
        Some("https://discord.com/oauth2/authorize")
    );
    let query: std::collections::HashMap<String, String> = url.query_pairs().into_owned().collect();
    assert_eq!(query["client_id"], "123456789012345678");
    assert_eq!(
        query["redirect_uri"],
        "http://stats.example.test/auth/callback"
    );
    assert!(!location.contains("documented-secret"), "{location}");
}

#[tokio::test]
async fn the_bot_connects_with_the_token_from_discord_bot_token() {
    let fake = FakeDiscord::start().await;
    let _served = serve(
        "bot_token",
        &[
            ("DISCORD_BOT_TOKEN", "documented-bot-token"),
            ("GUILDHALL_DISCORD__API_BASE", &fake.api_base),
        ],
    )
    .await;
    let connection = tokio::time::timeout(Duration::from_secs(30), fake.next_connection())
        .await
        .expect("the bot connects to the gateway");
    let Handshake::Identify(identify) = connection.handshake else {
        panic!("expected IDENTIFY");
    };
    let token = identify["token"].as_str().expect("a token");
    assert_eq!(token.trim_start_matches("Bot "), "documented-bot-token");
}

#[tokio::test]
async fn metrics_are_served_on_their_own_listener_and_closed_on_the_web_port() {
    let metrics_port = free_port();
    let metrics_bind = format!("127.0.0.1:{metrics_port}");
    let served = serve(
        "metrics",
        &[("GUILDHALL_METRICS_BIND", metrics_bind.as_str())],
    )
    .await;
    let client = reqwest::Client::new();
    let web = client
        .get(format!("{}/metrics", served.base))
        .send()
        .await
        .expect("answers");
    assert_eq!(web.status(), 404, "the web port must not expose /metrics");
    let own = client
        .get(format!("http://{metrics_bind}/metrics"))
        .send()
        .await
        .expect("answers");
    assert_eq!(own.status(), 200);
    let text = own.text().await.expect("body");
    assert!(text.contains("guildhall_http_requests"), "{text}");
}

#[tokio::test]
async fn metrics_on_the_web_port_need_the_bearer_token_from_guildhall_metrics_token() {
    let served = serve(
        "metrics_token",
        &[("GUILDHALL_METRICS_TOKEN", "documented-scrape-token")],
    )
    .await;
    let client = reqwest::Client::new();
    let url = format!("{}/metrics", served.base);
    let anonymous = client.get(&url).send().await.expect("answers");
    assert_eq!(anonymous.status(), 401);
    let wrong = client
        .get(&url)
        .bearer_auth("wrong")
        .send()
        .await
        .expect("answers");
    assert_eq!(wrong.status(), 401);
    let right = client
        .get(&url)
        .bearer_auth("documented-scrape-token")
        .send()
        .await
        .expect("answers");
    assert_eq!(right.status(), 200);
}

#[test]
fn demo_mode_on_a_public_address_stops_start_up_with_a_clear_message() {
    let output = Command::new(env!("CARGO_BIN_EXE_guildhall"))
        .arg("serve")
        .env_remove("DATABASE_URL")
        .env("GUILDHALL_DEMO", "true")
        .env("GUILDHALL_BIND", "0.0.0.0:3000")
        .current_dir(std::env::temp_dir())
        .output()
        .expect("runs");
    let text = String::from_utf8_lossy(&output.stderr);
    assert_eq!(output.status.code(), Some(1), "{text}");
    assert!(
        text.contains("demo mode lets anyone sign in as an admin"),
        "{text}"
    );
    assert!(text.contains("GUILDHALL_DEMO_ALLOW_PUBLIC=true"), "{text}");
}

/// Content that must never reach a log or the database.
const SENTINEL: &str = "documented-sentinel-content-91c2";

#[tokio::test]
async fn message_content_reaches_neither_the_log_at_trace_level_nor_the_database() {
    use support::fake_discord::{self, GuildSpec, Member};
    const GUILD: u64 = 1_200_000_000_000_000_001;
    const CHAT: u64 = 1_200_000_000_000_000_020;
    const AUTHOR: Member = Member {
        id: 1_300_000_000_000_000_777,
        name: "writer",
        bot: false,
    };
    let fake = FakeDiscord::start().await;
    let log_path =
        std::env::temp_dir().join(format!("guildhall_privacy_{}.log", std::process::id()));
    let log = std::fs::File::create(&log_path).expect("log file");
    let served = serve_logging_to(
        "privacy",
        &[
            ("DISCORD_BOT_TOKEN", "privacy-bot-token"),
            ("GUILDHALL_DISCORD__API_BASE", &fake.api_base),
            ("GUILDHALL_DISCORD__MESSAGE_CONTENT", "true"),
            ("GUILDHALL_INGEST__FLUSH_INTERVAL_MS", "20"),
            ("RUST_LOG", "trace"),
        ],
        Stdio::from(log),
    )
    .await;
    let connection = tokio::time::timeout(Duration::from_secs(30), fake.next_connection())
        .await
        .expect("the bot connects to the gateway");
    connection.dispatch("READY", fake_discord::ready(&[GUILD], &fake.gateway_url));
    connection.dispatch(
        "GUILD_CREATE",
        fake_discord::guild_create(&GuildSpec {
            id: GUILD,
            name: "Privacy",
            channels: vec![(CHAT, "chat")],
            afk_channel_id: None,
            members: vec![AUTHOR],
            voice: vec![],
            events: vec![],
            roles: vec![],
        }),
    );
    let message = |id: u64| {
        serde_json::json!({
            "id": id.to_string(),
            "channel_id": CHAT.to_string(),
            "guild_id": GUILD.to_string(),
            "author": {"id": AUTHOR.id.to_string(), "username": AUTHOR.name,
                       "discriminator": "0", "global_name": null, "avatar": null},
            "content": SENTINEL,
            "timestamp": "2026-11-30T18:00:00.000000+00:00",
            "edited_timestamp": null, "tts": false, "mention_everyone": false,
            "mentions": [], "mention_roles": [], "attachments": [], "embeds": [],
            "pinned": false, "type": 0
        })
    };
    connection.dispatch("MESSAGE_CREATE", message(1_447_100_000_000_000_000));
    // One that serenity cannot read (no author): serenity would log such a payload whole.
    let mut unreadable = message(1_447_100_000_000_000_001);
    unreadable.as_object_mut().expect("object").remove("author");
    connection.dispatch("MESSAGE_CREATE", unreadable);

    let database = format!("{}/{}", server_url(), served.database);
    let pool = sqlx::PgPool::connect(&database).await.expect("database");
    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        let stored: i64 = sqlx::query_scalar("select count(*) from bronze.discord_messages")
            .fetch_one(&pool)
            .await
            .expect("count");
        if stored == 1 {
            break;
        }
        assert!(Instant::now() < deadline, "the message was not stored");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    let char_count: Option<i32> =
        sqlx::query_scalar("select char_count from bronze.discord_messages")
            .fetch_one(&pool)
            .await
            .expect("char_count");
    assert_eq!(
        char_count,
        Some(i32::try_from(SENTINEL.len()).expect("short"))
    );
    let dump = Command::new("pg_dump")
        .args(["--data-only", &database])
        .output()
        .expect("pg_dump runs");
    assert!(
        dump.status.success(),
        "{}",
        String::from_utf8_lossy(&dump.stderr)
    );
    assert!(!String::from_utf8_lossy(&dump.stdout).contains(SENTINEL));
    pool.close().await;
    drop(served);

    let log = std::fs::read_to_string(&log_path).expect("the log");
    let _ = std::fs::remove_file(&log_path);
    assert!(
        log.contains("TRACE"),
        "the log is at trace level: {} bytes",
        log.len()
    );
    assert!(log.contains("Guildhall is serving"), "{log}");
    assert!(
        !log.contains(SENTINEL),
        "message content reached the log: {}",
        log.lines()
            .find(|line| line.contains(SENTINEL))
            .unwrap_or_default()
    );
}
