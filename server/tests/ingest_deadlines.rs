//! The ingest path holds when PostgreSQL misbehaves: with the database cut by a TCP proxy,
//! CS2 log posts are answered 503 within their deadline and nothing is lost or doubled once
//! it is back; a wrong token never makes the server read a body; `/healthz` answers 503
//! within a second (and 200 while other work holds every pooled connection); and a
//! `guildhall serve` stopped during an outage ends within its shutdown deadline with what it
//! held in the spool, which reaches bronze at the next start.

mod support;

use axum::body::Body;
use axum::http::{Request, StatusCode};
use chrono::{DateTime, Utc};
use clap::Parser;
use collectors::game::rcon::Dialect;
use collectors::metrics::Metrics;
use collectors::testing::fake_rcon::{FakeRcon, FakeRconConfig};
use figment::providers::Serialized;
use guildhall::cli::{Cli, Command};
use guildhall::config::Config;
use guildhall::game_servers::{ServersCommand, add_server};
use guildhall::state::ServerState;
use guildhall::web::router;
use sqlx::PgPool;
use std::process::Stdio;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};
use support::proxy::CuttableProxy;
use support::{drop_database, server_url};
use tower::ServiceExt;

const POSTS: &str = include_str!(
    "../../collectors/tests/fixtures/03-source-hl-logs/cs2_http_logaddress_posts_with_headers.txt"
);
const CSGO_STATUS: &str = include_str!(
    "../../collectors/tests/fixtures/01-cs2-rcon-status/csgo_status_client_official_2.txt"
);

/// The ingest deadline these tests configure (`GUILDHALL_GAMES__LOG_ACK_TIMEOUT_MS`).
const ACK_TIMEOUT: Duration = Duration::from_millis(1500);

fn config() -> Config {
    Config::from_figment(
        Config::defaults_figment()
            .merge(Serialized::default("demo", false))
            .merge(Serialized::default("timezone", "UTC"))
            .merge(Serialized::default(
                "games.log_ack_timeout_ms",
                ACK_TIMEOUT.as_millis() as u64,
            )),
    )
    .expect("config")
}

/// A proxy in front of the test's PostgreSQL, and a pool through it that would wait 30 s
/// for a connection: every bound the tests see comes from Guildhall, not from the pool.
async fn cuttable(pool: &PgPool) -> (CuttableProxy, PgPool) {
    let options = pool.connect_options();
    let proxy =
        CuttableProxy::start(format!("{}:{}", options.get_host(), options.get_port())).await;
    let through = sqlx::postgres::PgPoolOptions::new()
        .max_connections(5)
        .acquire_timeout(Duration::from_secs(30))
        .connect_with((*options).clone().port(proxy.port))
        .await
        .expect("pool through the proxy");
    (proxy, through)
}

/// Adds a server the way `guildhall servers add` does.
async fn add(pool: &PgPool, args: &[&str]) -> collectors::game::server_settings::CreatedServer {
    let mut line = vec!["guildhall", "servers", "add"];
    line.extend_from_slice(args);
    let cli = Cli::try_parse_from(line).expect("command line");
    let Some(Command::Servers {
        command: ServersCommand::Add(server),
    }) = cli.command
    else {
        panic!("not `servers add`");
    };
    add_server(pool, None, &server).await.expect("server added")
}

/// A CS2 server pushing its logs over HTTP; its log token.
async fn add_cs2(pool: &PgPool, name: &str) -> String {
    let server = add(
        pool,
        &[
            "--name",
            name,
            "--game",
            "cs2",
            "--host",
            "127.0.0.1",
            "--log-source",
            "http",
        ],
    )
    .await;
    server.ingest_token
}

/// The capture's posts: headers and body of each.
fn posts() -> Vec<(Vec<(String, String)>, String)> {
    POSTS
        .split("\n---\n")
        .filter_map(|block| {
            let headers = block.lines().find_map(|l| l.strip_prefix("HEADERS: "))?;
            let body = block.split_once("BODY:\n")?.1;
            let headers = headers
                .split("; ")
                .filter_map(|h| h.split_once('='))
                .filter(|(k, _)| k.starts_with("X-"))
                .map(|(k, v)| (k.to_owned(), v.to_owned()))
                .collect();
            Some((headers, body.trim_end_matches('\n').to_owned() + "\n"))
        })
        .collect()
}

async fn post(
    app: &axum::Router,
    token: &str,
    headers: &[(String, String)],
    body: Body,
) -> (StatusCode, String) {
    let mut request =
        Request::post(format!("/ingest/logs/{token}")).header("content-type", "text/plain");
    for (k, v) in headers {
        request = request.header(k.as_str(), v.as_str());
    }
    let response = app
        .clone()
        .oneshot(request.body(body).expect("request"))
        .await
        .expect("response");
    let status = response.status();
    let bytes = axum::body::to_bytes(response.into_body(), 1 << 20)
        .await
        .expect("body");
    (status, String::from_utf8_lossy(&bytes).into_owned())
}

/// Stored log events of a server by kind.
async fn kinds(pool: &PgPool, server: &str) -> Vec<(String, i64)> {
    sqlx::query_as(
        "select e.kind, count(*) from bronze.game_log_events e
         join app.game_servers g using (server_id)
         where g.name = $1 group by e.kind order by e.kind",
    )
    .bind(server)
    .fetch_all(pool)
    .await
    .expect("kinds")
}

#[sqlx::test(migrator = "guildhall::db::MIGRATOR")]
async fn log_posts_during_an_outage_are_503_within_the_deadline_and_nothing_is_lost_or_doubled(
    pool: PgPool,
) {
    // The same capture into a server whose database never goes away: what a clean run stores.
    let clean_token = add_cs2(&pool, "clean").await;
    let clean_app =
        router(ServerState::new(Arc::new(config()), pool.clone(), Metrics::new()).expect("state"))
            .expect("router");
    let posts = posts();
    assert_eq!(posts.len(), 14, "the capture holds 14 posts");
    for (headers, body) in &posts {
        let (status, text) = post(&clean_app, &clean_token, headers, body.clone().into()).await;
        assert_eq!(status, StatusCode::OK, "{text}");
    }
    let clean = kinds(&pool, "clean").await;
    // Counted by hand in the capture (see games.rs).
    for (kind, count) in [
        ("connected", 119),
        ("entered", 119),
        ("team", 119),
        ("map", 11),
    ] {
        assert!(
            clean.contains(&(kind.to_owned(), count)),
            "{kind}: {clean:?}"
        );
    }

    // The server under test talks to PostgreSQL through the proxy.
    let token = add_cs2(&pool, "cut").await;
    let (proxy, through) = cuttable(&pool).await;
    let app = router(
        ServerState::new(Arc::new(config()), through.clone(), Metrics::new()).expect("state"),
    )
    .expect("router");
    let mut resend = Vec::new();
    for (i, (headers, body)) in posts.iter().enumerate() {
        // Posts 4 to 8 arrive while the database is cut (the first of them with the token
        // lookup cut, the others too: each waits for the database on its own).
        if i == 4 {
            proxy.cut();
        }
        if i == 9 {
            proxy.restore();
        }
        let started = Instant::now();
        let (status, text) = post(&app, &token, headers, body.clone().into()).await;
        let took = started.elapsed();
        assert!(
            took < ACK_TIMEOUT + Duration::from_secs(2),
            "post {i} took {took:?}"
        );
        if (4..9).contains(&i) {
            assert_eq!(status, StatusCode::SERVICE_UNAVAILABLE, "post {i}: {text}");
            resend.push(i);
        } else {
            assert_eq!(status, StatusCode::OK, "post {i}: {text}");
        }
    }
    // While the database was away nothing of the 503 posts was stored; everything acknowledged
    // was. CS2 sends again what it got no 2xx for.
    for i in resend {
        let (headers, body) = &posts[i];
        let (status, text) = post(&app, &token, headers, body.clone().into()).await;
        assert_eq!(status, StatusCode::OK, "resent post {i}: {text}");
    }
    // Every line once: exactly what the clean run stored, kind by kind.
    assert_eq!(kinds(&pool, "cut").await, clean);
    drop(app);
    through.close().await;
}

#[sqlx::test(migrator = "guildhall::db::MIGRATOR")]
async fn a_post_whose_write_outlives_the_deadline_is_503_and_its_resend_is_stored_once(
    pool: PgPool,
) {
    let token = add_cs2(&pool, "cs2").await;
    let (proxy, through) = cuttable(&pool).await;
    let app = router(
        ServerState::new(Arc::new(config()), through.clone(), Metrics::new()).expect("state"),
    )
    .expect("router");
    let line = "11/28/2026 - 20:00:00.000 - Loading map \"de_dust2\"\n";
    // The token lookup succeeds; the write waits for a lock another session holds, past
    // the deadline.
    let mut blocker = pool.begin().await.expect("transaction");
    sqlx::query("lock table bronze.game_log_events in access exclusive mode")
        .execute(&mut *blocker)
        .await
        .expect("lock");
    let started = Instant::now();
    let (status, text) = post(&app, &token, &[], line.into()).await;
    let took = started.elapsed();
    assert_eq!(status, StatusCode::SERVICE_UNAVAILABLE, "{text}");
    assert!(took >= ACK_TIMEOUT, "{took:?}");
    assert!(took < ACK_TIMEOUT + Duration::from_secs(2), "{took:?}");
    blocker.rollback().await.expect("unlock");
    let (status, text) = post(&app, &token, &[], line.into()).await;
    assert_eq!(status, StatusCode::OK, "{text}");
    let maps: i64 = sqlx::query_scalar("select count(*) from bronze.game_log_events")
        .fetch_one(&pool)
        .await
        .expect("count");
    assert_eq!(maps, 1);
    drop(app);
    through.close().await;
    drop(proxy);
}

/// A request body of one log line that records whether anyone read it.
fn watched_body(read: Arc<AtomicBool>) -> Body {
    let mut sent = false;
    Body::from_stream(futures::stream::poll_fn(move |_| {
        read.store(true, Ordering::SeqCst);
        if sent {
            return std::task::Poll::Ready(None);
        }
        sent = true;
        std::task::Poll::Ready(Some(Ok::<_, std::io::Error>(
            "11/28/2026 - 20:00:00.000 - Loading map \"de_dust2\"\n",
        )))
    }))
}

#[sqlx::test(migrator = "guildhall::db::MIGRATOR")]
async fn a_wrong_token_is_refused_before_the_body_is_read(pool: PgPool) {
    let token = add_cs2(&pool, "cs2").await;
    let app =
        router(ServerState::new(Arc::new(config()), pool.clone(), Metrics::new()).expect("state"))
            .expect("router");
    let read = Arc::new(AtomicBool::new(false));
    let (status, _) = post(
        &app,
        "not-the-token-not-the-token-0000",
        &[],
        watched_body(read.clone()),
    )
    .await;
    assert_eq!(status, StatusCode::NOT_FOUND);
    assert!(
        !read.load(Ordering::SeqCst),
        "the body of a wrong token was read"
    );
    // The right token reads the same kind of body and stores its line.
    let (status, text) = post(&app, &token, &[], watched_body(read.clone())).await;
    assert_eq!(status, StatusCode::OK, "{text}");
    assert!(read.load(Ordering::SeqCst));
    assert!(text.starts_with("stored 1 lines"), "{text}");
    // A body announced larger than the limit is refused without being read.
    let read = Arc::new(AtomicBool::new(false));
    let response = app
        .clone()
        .oneshot(
            Request::post(format!("/ingest/logs/{token}"))
                .header("content-length", (2 << 20).to_string())
                .body(watched_body(read.clone()))
                .expect("request"),
        )
        .await
        .expect("response");
    assert_eq!(response.status(), StatusCode::PAYLOAD_TOO_LARGE);
    assert!(!read.load(Ordering::SeqCst));
}

#[sqlx::test(migrator = "guildhall::db::MIGRATOR")]
async fn healthz_is_503_within_a_second_while_postgres_is_cut_and_ok_while_the_pool_is_busy(
    pool: PgPool,
) {
    let (proxy, through) = cuttable(&pool).await;
    let app = router(
        ServerState::new(Arc::new(config()), through.clone(), Metrics::new()).expect("state"),
    )
    .expect("router");
    let health = |app: axum::Router| async move {
        let started = Instant::now();
        let response = app
            .oneshot(
                Request::get("/healthz")
                    .body(Body::empty())
                    .expect("request"),
            )
            .await
            .expect("response");
        (response.status(), started.elapsed())
    };
    assert_eq!(health(app.clone()).await.0, StatusCode::OK);

    // Every connection of the app's pool is taken by other work: the probe has its own.
    let mut held = Vec::new();
    for _ in 0..5 {
        held.push(through.acquire().await.expect("connection"));
    }
    let (status, took) = health(app.clone()).await;
    assert_eq!(status, StatusCode::OK, "{took:?}");
    assert!(took < Duration::from_secs(1), "{took:?}");
    drop(held);

    proxy.cut();
    for _ in 0..3 {
        let (status, took) = health(app.clone()).await;
        assert_eq!(status, StatusCode::SERVICE_UNAVAILABLE);
        assert!(took < Duration::from_millis(1200), "{took:?}");
    }
    proxy.restore();
    let back = Instant::now();
    loop {
        let (status, _) = health(app.clone()).await;
        if status == StatusCode::OK {
            break;
        }
        assert!(
            back.elapsed() < Duration::from_secs(10),
            "healthz stayed 503"
        );
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    drop(app);
    through.close().await;
}

/// A port nobody listens on right now.
fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|listener| listener.local_addr())
        .map(|address| address.port())
        .expect("a free port")
}

/// `guildhall` with exactly these settings.
fn guildhall(database_url: &str, spool: &std::path::Path, port: u16) -> std::process::Command {
    let mut command = std::process::Command::new(env!("CARGO_BIN_EXE_guildhall"));
    command
        .env_clear()
        .env("PATH", std::env::var("PATH").unwrap_or_default())
        .env("DATABASE_URL", database_url)
        .env("GUILDHALL_BIND", format!("127.0.0.1:{port}"))
        .env("GUILDHALL_METRICS_BIND", "")
        .env("GUILDHALL_PIPELINE__INTERVAL_SECS", "0")
        .env("GUILDHALL_GAMES__REFRESH_SECS", "1")
        .env("GUILDHALL_SPOOL_DIR", spool)
        .env("GUILDHALL_SHUTDOWN_TIMEOUT_SECS", SHUTDOWN_TIMEOUT_SECS)
        .env("RUST_LOG", "info")
        // RCON passwords are sealed at rest: a test key.
        .env("GUILDHALL_SECRET_KEY", "0f".repeat(32))
        .current_dir(std::env::temp_dir());
    command
}

const SHUTDOWN_TIMEOUT_SECS: &str = "6";

async fn wait_healthy(port: u16) {
    let client = reqwest::Client::new();
    let deadline = Instant::now() + Duration::from_secs(60);
    loop {
        if client
            .get(format!("http://127.0.0.1:{port}/healthz"))
            .send()
            .await
            .is_ok_and(|r| r.status().is_success())
        {
            return;
        }
        assert!(Instant::now() < deadline, "serve did not become healthy");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

async fn wait_for(what: &str, limit: Duration, mut done: impl AsyncFnMut() -> bool) {
    let started = Instant::now();
    while !done().await {
        assert!(started.elapsed() < limit, "waited {limit:?} for {what}");
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
}

/// The `polled_at` of each record in a spool file.
fn spooled(path: &std::path::Path) -> Vec<DateTime<Utc>> {
    std::fs::read_to_string(path)
        .unwrap_or_default()
        .lines()
        .map(|line| {
            let value: serde_json::Value = serde_json::from_str(line).expect("a JSON line");
            value["polled_at"]
                .as_str()
                .and_then(|t| t.parse().ok())
                .expect("polled_at")
        })
        .collect()
}

async fn snapshots(pool: &PgPool) -> Vec<DateTime<Utc>> {
    sqlx::query_scalar("select polled_at from bronze.game_status_snapshots order by polled_at")
        .fetch_all(pool)
        .await
        .expect("snapshots")
}

/// The same instant once stored: PostgreSQL keeps microseconds, the spool nanoseconds.
fn same_instant(stored: &DateTime<Utc>, spooled: &DateTime<Utc>) -> bool {
    (*stored - *spooled).abs() < chrono::TimeDelta::microseconds(1)
}

fn status_polls(fake: &FakeRcon) -> usize {
    fake.commands().iter().filter(|c| *c == "status").count()
}

#[tokio::test]
async fn serve_stopped_during_an_outage_ends_within_its_deadline_and_spools_what_it_held() {
    let database = format!("guildhall_shutdown_{}", std::process::id());
    drop_database(&database);
    let direct_url = format!("{}/{database}", server_url());
    let upstream = direct_url
        .split('@')
        .nth(1)
        .and_then(|rest| rest.split('/').next())
        .expect("host:port")
        .to_owned();
    let proxy = CuttableProxy::start(upstream).await;
    let proxied_url = format!("postgres://postgres@127.0.0.1:{}/{database}", proxy.port);
    let spool = std::env::temp_dir().join(format!("guildhall-shutdown-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&spool);
    let spool_file = spool.join("game_status.spool");

    // A CS:GO server answering `status` over RCON, polled every 5 s.
    let fake = FakeRcon::start(FakeRconConfig::new(Dialect::Source, "rcon-pw")).await;
    fake.set_reply("status", CSGO_STATUS);
    let port = free_port();
    let added = guildhall(&direct_url, &spool, port)
        .args([
            "servers",
            "add",
            "--name",
            "Dust",
            "--game",
            "csgo",
            "--host",
            "127.0.0.1",
            "--poll-interval",
            "5",
            "--rcon-password",
            "rcon-pw",
            "--rcon-port",
        ])
        .arg(fake.addr().rsplit(':').next().expect("port"))
        .output()
        .expect("servers add runs");
    assert!(
        added.status.success(),
        "{}",
        String::from_utf8_lossy(&added.stderr)
    );
    let pool = sqlx::postgres::PgPoolOptions::new()
        .max_connections(2)
        .connect(&direct_url)
        .await
        .expect("direct pool");

    let log = std::fs::File::create(spool.with_extension("log")).expect("log file");
    let mut child = guildhall(&proxied_url, &spool, port)
        .arg("serve")
        .stdout(Stdio::null())
        .stderr(log)
        .spawn()
        .expect("serve starts");
    wait_healthy(port).await;
    wait_for(
        "a first snapshot in bronze",
        Duration::from_secs(30),
        async || !snapshots(&pool).await.is_empty(),
    )
    .await;

    // PostgreSQL goes away; the collector keeps polling into the spool.
    proxy.cut();
    let cut_at = Utc::now();
    let polls_at_cut = status_polls(&fake);
    wait_for(
        "two polls during the outage",
        Duration::from_secs(30),
        async || status_polls(&fake) >= polls_at_cut + 2,
    )
    .await;
    tokio::time::sleep(Duration::from_millis(500)).await;

    // Stopped now, it ends within its deadline.
    let stopping = Instant::now();
    let _ = std::process::Command::new("kill")
        .args(["-TERM", &child.id().to_string()])
        .status();
    let status = loop {
        if let Some(status) = child.try_wait().expect("wait") {
            break status;
        }
        if stopping.elapsed() > Duration::from_secs(30) {
            let _ = child.kill();
            panic!("serve did not stop within 30 s");
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    };
    let took = stopping.elapsed();
    eprintln!("serve stopped {took:?} after SIGTERM with PostgreSQL cut");
    let limit =
        Duration::from_secs(SHUTDOWN_TIMEOUT_SECS.parse().expect("secs")) + Duration::from_secs(2);
    let log_text = std::fs::read_to_string(spool.with_extension("log")).unwrap_or_default();
    assert!(took < limit, "stopping took {took:?}\n{log_text}");
    assert!(status.success(), "{status:?}\n{log_text}");
    let answered = status_polls(&fake);

    // What was polled during the outage is in the spool, and not in bronze.
    let in_spool = spooled(&spool_file);
    let in_bronze = snapshots(&pool).await;
    let during: Vec<&DateTime<Utc>> = in_spool.iter().filter(|at| **at >= cut_at).collect();
    assert!(during.len() >= 2, "{in_spool:?}\n{log_text}");
    for at in &during {
        assert!(
            !in_bronze.iter().any(|stored| same_instant(stored, at)),
            "{at} is in bronze already"
        );
    }

    // The next start (the database back) replays the spool into bronze.
    proxy.restore();
    let log = std::fs::File::create(spool.with_extension("log2")).expect("log file");
    let restarted_at = Utc::now();
    let mut child = guildhall(&proxied_url, &spool, port)
        .arg("serve")
        .stdout(Stdio::null())
        .stderr(log)
        .spawn()
        .expect("serve starts again");
    wait_healthy(port).await;
    wait_for(
        "the spool to be replayed",
        Duration::from_secs(30),
        async || spooled(&spool_file).is_empty(),
    )
    .await;
    let _ = std::process::Command::new("kill")
        .args(["-TERM", &child.id().to_string()])
        .status();
    let _ = child.wait();
    let stored = snapshots(&pool).await;
    for at in &in_spool {
        assert_eq!(
            stored.iter().filter(|s| same_instant(s, at)).count(),
            1,
            "{at} once in bronze"
        );
    }
    // Every poll answered before the restart is stored once: none was lost at the stop.
    let before_restart = stored.iter().filter(|at| **at < restarted_at).count();
    assert_eq!(before_restart, answered, "{stored:?}");

    pool.close().await;
    drop_database(&database);
    let _ = std::fs::remove_dir_all(&spool);
    let _ = std::fs::remove_file(spool.with_extension("log"));
    let _ = std::fs::remove_file(spool.with_extension("log2"));
}
