//! The game collector against real peers on loopback: status polls through the RCON
//! protocol (a fake CS:GO and a fake Minecraft server) land as exact snapshots, servers
//! added or changed in the database are picked up without a restart, a log folder is
//! followed through growth, a partial line, rotation, truncation and a restart without
//! losing or repeating a line, and `guildhall servers` / `import-logs` behave as the
//! README says, and a posted log leaves no address and no chat text in a pg_dump or the trace
//! log of the real binary.

mod support;

use collectors::Collector;
use collectors::game::collector::{GameCollectorConfig, GameServers, GameWriters};
use collectors::game::logs::{LogFormat, LogSink};
use collectors::game::rcon::{Dialect, RconTimeouts};
use collectors::game::servers::SecretColumn;
use collectors::game::tail::FolderTailer;
use collectors::ingest::WriterConfig;
use collectors::metrics::Metrics;
use collectors::secrets::SecretKey;
use collectors::steps::IpHasher;
use collectors::testing::fake_rcon::{FakeRcon, FakeRconConfig};
use collectors::testing::fake_sftp::FakeSftp;
use serde_json::{Value, json};
use sqlx::PgPool;
use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::{Command, Output};
use std::sync::Arc;
use std::time::Duration;
use support::{drop_database, server_url};
use tokio_util::sync::CancellationToken;

const CSGO_STATUS: &str = include_str!(
    "../../collectors/tests/fixtures/01-cs2-rcon-status/csgo_status_client_official_2.txt"
);
const CSGO_LOG: &str = include_str!(
    "../../collectors/tests/fixtures/03-source-hl-logs/csgo_local_log_2019_medium.log"
);
const ALEX: &str = "069a79f4-44e9-4726-a5be-fca90e38aaf5";
/// The secret key of these tests (`GUILDHALL_SECRET_KEY`).
const TEST_KEY: &str = "q83vEjRWeJCrze8SNFZ4kKvN7xI0VniQq83vEjRWeJA=";

fn test_key() -> SecretKey {
    SecretKey::parse(TEST_KEY).expect("a key")
}

/// Stores a server's secret sealed, as `servers add` and the admin pages do.
async fn seal(pool: &PgPool, server_id: i64, column: SecretColumn, value: &str) {
    let sealed = test_key().seal_str(column.place(server_id), value);
    let sql = match column {
        SecretColumn::RconPassword => {
            "update app.game_servers set rcon_password_sealed = $2 where server_id = $1"
        }
        SecretColumn::SftpPassword => {
            "update app.game_servers set sftp_password_sealed = $2 where server_id = $1"
        }
        SecretColumn::SftpKey => {
            "update app.game_servers set sftp_key_sealed = $2 where server_id = $1"
        }
    };
    sqlx::query(sql)
        .bind(server_id)
        .bind(sealed)
        .execute(pool)
        .await
        .expect("sealed");
}
const STEVE: &str = "8667ba71-b85a-4004-af54-457a9734eed7";

fn writer_config() -> WriterConfig {
    WriterConfig {
        batch_size: 100,
        flush_interval: Duration::from_millis(20),
    }
}

fn timeouts() -> RconTimeouts {
    RconTimeouts {
        connect: Duration::from_secs(2),
        auth: Duration::from_secs(2),
        reply: Duration::from_secs(2),
        quiet: Duration::from_millis(100),
        min_spacing: Duration::from_millis(50),
    }
}

/// Starts the collector as the supervisor does, re-reading the servers every 100 ms.
fn start_collector(pool: &PgPool) -> CancellationToken {
    let metrics = Metrics::new();
    let (writers, _tasks) = GameWriters::spawn(pool, writer_config(), &metrics, None);
    let collector = GameServers::new(
        pool.clone(),
        writers,
        metrics,
        GameCollectorConfig {
            refresh: Duration::from_millis(100),
            timezone: chrono_tz::UTC,
            rcon: timeouts(),
            tail_interval: Duration::from_millis(100),
            secret_key: Some(test_key()),
        },
    )
    .expect("collector");
    let token = CancellationToken::new();
    let stop = token.clone();
    tokio::spawn(async move { collector.run(stop).await });
    token
}

async fn add_rcon_server(pool: &PgPool, name: &str, game: &str, addr: &str, password: &str) -> i64 {
    let port: i32 = addr
        .rsplit_once(':')
        .expect("port")
        .1
        .parse()
        .expect("port");
    let id = sqlx::query_scalar(
        "insert into app.game_servers (name, game, host, rcon_port,
             poll_interval_secs, ingest_token)
         values ($1, $2, '127.0.0.1', $3, 5, md5($1) || md5($2)) returning server_id",
    )
    .bind(name)
    .bind(game)
    .bind(port)
    .fetch_one(pool)
    .await
    .expect("server");
    seal(pool, id, SecretColumn::RconPassword, password).await;
    id
}

/// Waits up to 10 s for `query` (one bigint) to reach `at_least`.
async fn wait_for(pool: &PgPool, query: &str, at_least: i64) -> i64 {
    let deadline = tokio::time::Instant::now() + Duration::from_secs(10);
    loop {
        let n: i64 = sqlx::query_scalar(query)
            .fetch_one(pool)
            .await
            .expect("count");
        if n >= at_least || tokio::time::Instant::now() > deadline {
            return n;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

type SnapshotRow = (Option<String>, i32, i32, Option<i32>, Value);

async fn snapshot(pool: &PgPool, server_id: i64) -> SnapshotRow {
    sqlx::query_as(
        "select map, humans, bots, max_players, players from bronze.game_status_snapshots
         where server_id = $1 order by polled_at limit 1",
    )
    .bind(server_id)
    .fetch_one(pool)
    .await
    .expect("snapshot")
}

async fn source_status(pool: &PgPool, server_id: i64) -> (bool, Option<String>) {
    sqlx::query_as(
        "select last_success_at is not null, last_error from app.game_source_status
         where server_id = $1 and source = 'rcon'",
    )
    .bind(server_id)
    .fetch_optional(pool)
    .await
    .expect("status")
    .unwrap_or((false, None))
}

#[sqlx::test(migrator = "guildhall::db::MIGRATOR")]
async fn status_polls_land_as_exact_snapshots_and_servers_added_or_changed_are_picked_up_without_a_restart(
    pool: PgPool,
) {
    let csgo = FakeRcon::start(FakeRconConfig::new(Dialect::Source, "csgo-pw")).await;
    csgo.set_reply("status", CSGO_STATUS);
    let csgo_id = add_rcon_server(&pool, "Dust", "csgo", &csgo.addr(), "csgo-pw").await;
    let stop = start_collector(&pool);

    let count = "select count(*) from bronze.game_status_snapshots where server_id = ";
    assert_eq!(wait_for(&pool, &format!("{count}{csgo_id}"), 1).await, 1);
    let (map, humans, bots, max, players) = snapshot(&pool, csgo_id).await;
    assert_eq!(
        (map.as_deref(), humans, bots, max),
        (Some("de_dust2"), 9, 7, Some(16))
    );
    let players = players.as_array().expect("players").clone();
    assert_eq!(players.len(), 9);
    assert_eq!(
        players[0],
        json!({"name": "V!c_Schnitzel", "account_kind": "steam",
               "account_id": "76561198900601510", "connected_secs": 23, "ping": 61})
    );
    assert_eq!(
        players[6],
        json!({"name": "\\", "account_kind": "steam",
               "account_id": "76561198347602854", "connected_secs": 2494, "ping": 142})
    );
    assert_eq!(source_status(&pool, csgo_id).await, (true, None));
    assert_eq!(csgo.commands(), vec!["status".to_owned()]);

    // A Minecraft server added while the collector runs.
    let minecraft = FakeRcon::start(FakeRconConfig::new(Dialect::Minecraft, "mc-pw")).await;
    minecraft.set_reply(
        "list uuids",
        &format!("There are 2 of a max of 20 players online: Alex ({ALEX}), Steve ({STEVE})"),
    );
    let mc_id = add_rcon_server(&pool, "Survival", "minecraft", &minecraft.addr(), "mc-pw").await;
    assert_eq!(wait_for(&pool, &format!("{count}{mc_id}"), 1).await, 1);
    let (map, humans, bots, max, players) = snapshot(&pool, mc_id).await;
    assert_eq!((map, humans, bots, max), (None, 2, 0, Some(20)));
    assert_eq!(
        players,
        json!([
            {"name": "Alex", "account_kind": "minecraft", "account_id": ALEX,
             "connected_secs": null, "ping": null},
            {"name": "Steve", "account_kind": "minecraft", "account_id": STEVE,
             "connected_secs": null, "ping": null},
        ])
    );

    // A changed password restarts the server's poller, which now fails and says why.
    seal(&pool, mc_id, SecretColumn::RconPassword, "wrong").await;
    sqlx::query("update app.game_servers set updated_at = now() where server_id = $1")
        .bind(mc_id)
        .execute(&pool)
        .await
        .expect("update");
    let error = wait_for(
        &pool,
        &format!(
            "select count(*) from app.game_source_status where server_id = {mc_id}
             and last_error = 'RCON: the RCON server refused the password'"
        ),
        1,
    )
    .await;
    assert_eq!(error, 1);
    // The other server goes on.
    assert_eq!(source_status(&pool, csgo_id).await, (true, None));
    stop.cancel();
}

fn temp_folder(label: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(format!(
        "guildhall-{label}-{}-{}",
        std::process::id(),
        rand::random::<u32>()
    ));
    std::fs::create_dir_all(&dir).expect("folder");
    dir
}

fn append(path: &Path, text: &str) {
    let mut file = std::fs::OpenOptions::new()
        .create(true)
        .append(true)
        .open(path)
        .expect("open");
    file.write_all(text.as_bytes()).expect("write");
}

fn tailer(pool: &PgPool, server_id: i64, folder: &Path) -> FolderTailer {
    let metrics = Metrics::new();
    let (writer, _task) =
        collectors::ingest::IngestWriter::spawn(pool.clone(), writer_config(), metrics.clone());
    let sink = LogSink::new(writer, metrics, Arc::new(IpHasher::new(pool.clone())));
    FolderTailer::new(
        server_id,
        LogFormat::Minecraft,
        chrono_tz::UTC,
        folder.to_owned(),
        sink,
    )
}

/// Every stored event but unparsed lines: time of day, kind and player, in order.
async fn events(pool: &PgPool, server_id: i64) -> Vec<String> {
    sqlx::query_scalar(
        "select to_char(occurred_at at time zone 'UTC', 'HH24:MI:SS') || ' ' || kind
                || coalesce(' ' || player_name, '')
         from bronze.game_log_events where server_id = $1 and kind <> 'unparsed'
         order by occurred_at, kind",
    )
    .bind(server_id)
    .fetch_all(pool)
    .await
    .expect("events")
}

#[sqlx::test(migrator = "guildhall::db::MIGRATOR")]
async fn a_log_folder_is_followed_through_growth_rotation_truncation_and_a_restart_without_losing_or_repeating_a_line(
    pool: PgPool,
) {
    let server_id: i64 = sqlx::query_scalar(
        "insert into app.game_servers (name, game, host, log_source, log_path, ingest_token)
         values ('Survival', 'minecraft', '127.0.0.1', 'file', '/x', repeat('t', 32))
         returning server_id",
    )
    .fetch_one(&pool)
    .await
    .expect("server");
    let folder = temp_folder("tail");
    let latest = folder.join("latest.log");
    append(
        &latest,
        &format!(
            "[10:00:00] [User Authenticator #1/INFO]: UUID of player Alex is {ALEX}\n\
             [10:00:01] [Server thread/INFO]: Alex joined the game\n\
             [10:00:02] [Server thread/INFO]: <Alex> hello everyone\n\
             [10:00:03] [Server thread/INFO]: Bob joi"
        ),
    );
    // Not a log file: never read.
    append(
        &folder.join("notes.txt"),
        "[10:00:04] [Server thread/INFO]: Eve joined the game\n",
    );
    let mut tail = tailer(&pool, server_id, &folder);
    assert_eq!(tail.poll_once().await.expect("poll"), 3);
    assert_eq!(
        events(&pool, server_id).await,
        [
            "10:00:00 account Alex",
            "10:00:01 entered Alex",
            "10:00:02 chat Alex"
        ]
    );

    // The partial line is completed.
    append(&latest, "ned the game\n");
    assert_eq!(tail.poll_once().await.expect("poll"), 1);
    assert_eq!(tail.poll_once().await.expect("poll"), 0);

    // Lines written just before the rotation, then latest.log moved away and a new one begun.
    append(
        &latest,
        "[10:05:00] [Server thread/INFO]: Alex left the game\n",
    );
    std::fs::rename(&latest, folder.join("2026-01-01-1.log.gz.tmp")).expect("rotate");
    append(
        &latest,
        "[10:06:00] [Server thread/INFO]: Done (3.456s)! For help, type \"help\"\n\
         [10:06:30] [Server thread/INFO]: Bob joined the game\n",
    );
    assert_eq!(tail.poll_once().await.expect("poll"), 3);

    // A restart resumes at the stored offset: only what came meanwhile is read.
    drop(tail);
    append(
        &latest,
        "[10:07:00] [Server thread/INFO]: Bob left the game\n",
    );
    let mut tail = tailer(&pool, server_id, &folder);
    assert_eq!(tail.poll_once().await.expect("poll"), 1);

    // Truncated in place (same file, shorter than the offset): read again from the start.
    std::fs::write(
        &latest,
        "[10:08:00] [Server thread/INFO]: Carol joined the game\n",
    )
    .expect("truncate");
    assert_eq!(tail.poll_once().await.expect("poll"), 1);

    // A line that is no log line is kept as unparsed, never dropped.
    append(&latest, "this is not a log line\n");
    assert_eq!(tail.poll_once().await.expect("poll"), 1);

    assert_eq!(
        events(&pool, server_id).await,
        [
            "10:00:00 account Alex",
            "10:00:01 entered Alex",
            "10:00:02 chat Alex",
            "10:00:03 entered Bob",
            "10:05:00 left Alex",
            "10:06:00 server_start",
            "10:06:30 entered Bob",
            "10:07:00 left Bob",
            "10:08:00 entered Carol",
        ]
    );
    let unparsed: Vec<(Vec<u8>, Value)> = sqlx::query_as(
        "select raw_line, detail from bronze.game_log_events where server_id = $1 and kind = 'unparsed'",
    )
    .bind(server_id)
    .fetch_all(&pool)
    .await
    .expect("unparsed");
    assert_eq!(unparsed.len(), 1);
    assert_eq!(unparsed[0].0, b"this is not a log line");
    let cursor: i64 = sqlx::query_scalar(
        "select read_offset from app.game_log_cursors where server_id = $1 and stream = 'file:latest.log'",
    )
    .bind(server_id)
    .fetch_one(&pool)
    .await
    .expect("cursor");
    assert_eq!(
        cursor,
        std::fs::metadata(&latest).expect("meta").len() as i64
    );
    let _ = std::fs::remove_dir_all(&folder);
}

fn guildhall(args: &[&str], db: &str) -> Output {
    Command::new(env!("CARGO_BIN_EXE_guildhall"))
        .args(args)
        .env("DATABASE_URL", db)
        .env("RUST_LOG", "info")
        .env("GUILDHALL_TIMEZONE", "UTC")
        .env("GUILDHALL_SECRET_KEY", TEST_KEY)
        .current_dir(std::env::temp_dir())
        .output()
        .expect("the binary runs")
}

fn text(output: &Output) -> String {
    format!(
        "{}{}",
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr)
    )
}

#[test]
fn servers_add_refuses_bad_input_with_the_reason_and_import_logs_reads_gzip_once() {
    let name = format!("guildhall_cli_games_{}", std::process::id());
    drop_database(&name);
    let db = format!("{}/{name}", server_url());
    assert_eq!(guildhall(&["migrate"], &db).status.code(), Some(0));

    for (args, reason) in [
        (
            vec!["--game", "quake", "--host", "h"],
            "--game must be one of cs2, csgo, tf2, source, minecraft (not 'quake')",
        ),
        (
            vec!["--game", "cs2", "--host", "h", "--log-source", "ftp"],
            "--log-source must be one of none, http, file, sftp (not 'ftp')",
        ),
        (
            vec!["--game", "minecraft", "--host", "h", "--log-source", "http"],
            "Minecraft cannot push logs over HTTP: use --log-source file",
        ),
        (
            vec![
                "--game",
                "cs2",
                "--host",
                "h",
                "--log-source",
                "file",
                "--log-path",
                "/nonexistent/logs",
            ],
            "--log-path /nonexistent/logs is not a folder on this machine",
        ),
        (
            vec!["--game", "cs2", "--host", "h", "--poll-interval", "1"],
            "--poll-interval must be between 5 and 3600 seconds",
        ),
        (
            vec![
                "--game",
                "cs2",
                "--host",
                "h",
                "--log-timezone",
                "Mars/Olympus",
            ],
            "--log-timezone 'Mars/Olympus' is not an IANA time zone (e.g. Europe/Berlin)",
        ),
        (
            vec![
                "--game",
                "cs2",
                "--host",
                "h",
                "--prometheus-url",
                "ftp://x",
            ],
            "--prometheus-url 'ftp://x' is not an http(s) URL",
        ),
    ] {
        let mut full = vec!["servers", "add", "--name", "Bad"];
        full.extend(args);
        let output = guildhall(&full, &db);
        let said = text(&output);
        assert_eq!(output.status.code(), Some(1), "{said}");
        assert!(said.contains(reason), "{reason}: {said}");
        assert!(!said.contains("panicked"), "{said}");
    }

    let added = guildhall(
        &[
            "servers", "add", "--name", "Dust", "--game", "csgo", "--host", "10.0.0.5",
        ],
        &db,
    );
    let said = text(&added);
    assert_eq!(added.status.code(), Some(0), "{said}");
    assert!(said.contains("added game server Dust (id 1)"), "{said}");
    assert!(said.contains("/ingest/logs/"), "{said}");
    let again = guildhall(
        &[
            "servers", "add", "--name", "Dust", "--game", "csgo", "--host", "10.0.0.5",
        ],
        &db,
    );
    assert!(text(&again).contains("a game server named 'Dust' exists already"));
    let list = text(&guildhall(&["servers", "list"], &db));
    assert!(list.contains("Dust"), "{list}");
    assert!(list.contains("csgo"), "{list}");

    // The fixture log, gzipped in two members (as logrotate's concatenation leaves it).
    let folder = temp_folder("import");
    let gz = folder.join("L0802000.log.gz");
    let half = CSGO_LOG.len() / 2;
    let split = CSGO_LOG[..half].rfind('\n').expect("a line break") + 1;
    let mut bytes = Vec::new();
    for part in [&CSGO_LOG[..split], &CSGO_LOG[split..]] {
        let mut encoder = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast());
        encoder.write_all(part.as_bytes()).expect("gzip");
        bytes.extend(encoder.finish().expect("gzip"));
    }
    std::fs::write(&gz, bytes).expect("write");
    let gz_arg = gz.to_string_lossy().into_owned();
    let first = guildhall(&["import-logs", "Dust", &gz_arg], &db);
    let said = text(&first);
    assert_eq!(first.status.code(), Some(0), "{said}");
    // Not on a terminal: progress and the result come as log lines.
    assert!(said.contains("importing"), "{said}");
    assert!(said.contains("lines=967"), "{said}");
    assert!(said.contains("stored=91"), "{said}");
    let second = guildhall(&["import-logs", "Dust", &gz_arg], &db);
    let said = text(&second);
    assert!(said.contains("stored=0"), "{said}");
    assert!(said.contains("already_stored=91"), "{said}");

    let missing = guildhall(&["import-logs", "Nope", &gz_arg], &db);
    assert!(text(&missing).contains("no game server is named 'Nope'"));
    let _ = std::fs::remove_dir_all(&folder);
    drop_database(&name);
}

/// `guildhall servers add …` against the database of a `#[sqlx::test]`.
async fn add_with_cli(pool: &PgPool, args: Vec<String>) -> Output {
    let name: String = sqlx::query_scalar("select current_database()")
        .fetch_one(pool)
        .await
        .expect("name");
    let db = format!("{}/{name}", server_url());
    tokio::task::spawn_blocking(move || {
        let mut full = vec!["servers".to_owned(), "add".to_owned()];
        full.extend(args);
        let full: Vec<&str> = full.iter().map(String::as_str).collect();
        guildhall(&full, &db)
    })
    .await
    .expect("the binary ran")
}

#[sqlx::test(migrator = "guildhall::db::MIGRATOR")]
async fn logs_are_pulled_over_sftp_through_growth_and_rotation_with_the_host_key_pinned(
    pool: PgPool,
) {
    let root = temp_folder("sftp");
    std::fs::create_dir_all(root.join("mc/logs")).expect("folder");
    let latest = root.join("mc/logs/latest.log");
    append(
        &latest,
        &format!(
            "[10:00:00] [User Authenticator #1/INFO]: UUID of player Alex is {ALEX}\n\
             [10:00:01] [Server thread/INFO]: Alex joined the game\n"
        ),
    );
    let sftp = FakeSftp::start(root.clone(), "gamelogs", "sftp-pw")
        .await
        .expect("fake SFTP");
    let port = sftp.addr.port().to_string();
    let base = |name: &str| -> Vec<String> {
        [
            "--name",
            name,
            "--game",
            "minecraft",
            "--host",
            "127.0.0.1",
            "--log-source",
            "sftp",
            "--log-path",
            "mc/logs",
            "--sftp-port",
            &port,
            "--sftp-user",
            "gamelogs",
            "--sftp-password",
            "sftp-pw",
        ]
        .iter()
        .map(|s| (*s).to_owned())
        .collect()
    };

    // Without a pin, `servers add` names the key to check and stores nothing.
    let refused = add_with_cli(&pool, base("Survival")).await;
    let said = text(&refused);
    assert_eq!(refused.status.code(), Some(1), "{said}");
    assert!(
        said.contains(&format!("presented host key {}", sftp.fingerprint)),
        "{said}"
    );
    assert!(said.contains("--sftp-host-key"), "{said}");
    assert!(!said.contains("sftp-pw"), "the password leaked: {said}");
    let servers: i64 = sqlx::query_scalar("select count(*) from app.game_servers")
        .fetch_one(&pool)
        .await
        .expect("count");
    assert_eq!(servers, 0);
    let mut wrong = base("Survival");
    wrong[15] = "not-the-password".into();
    wrong.extend(["--sftp-host-key".to_owned(), sftp.fingerprint.clone()]);
    let said = text(&add_with_cli(&pool, wrong).await);
    assert!(
        said.contains("refused user 'gamelogs' with this password"),
        "{said}"
    );

    let mut pinned = base("Survival");
    pinned.extend(["--sftp-host-key".to_owned(), sftp.fingerprint.clone()]);
    let added = add_with_cli(&pool, pinned).await;
    let said = text(&added);
    assert_eq!(added.status.code(), Some(0), "{said}");
    assert!(said.contains("SFTP: 1 log file(s) in /mc/logs"), "{said}");
    let server_id: i64 = sqlx::query_scalar("select server_id from app.game_servers")
        .fetch_one(&pool)
        .await
        .expect("server");

    let stop = start_collector(&pool);
    let count =
        format!("select count(*) from bronze.game_log_events where server_id = {server_id}");
    assert_eq!(wait_for(&pool, &count, 2).await, 2);
    append(&latest, "[10:01:00] [Server thread/INFO]: <Alex> hi\n");
    assert_eq!(wait_for(&pool, &count, 3).await, 3);
    // Lines just before the rotation reach the old handle; the new latest.log starts again.
    append(
        &latest,
        "[10:05:00] [Server thread/INFO]: Alex left the game\n",
    );
    std::fs::rename(&latest, root.join("mc/logs/2026-01-01-1.log.gz.tmp")).expect("rotate");
    append(
        &latest,
        "[10:06:00] [Server thread/INFO]: Done (3.456s)! For help, type \"help\"\n\
         [10:06:30] [Server thread/INFO]: Bob joined the game\n",
    );
    assert_eq!(wait_for(&pool, &count, 6).await, 6);
    assert_eq!(
        events(&pool, server_id).await,
        [
            "10:00:00 account Alex",
            "10:00:01 entered Alex",
            "10:01:00 chat Alex",
            "10:05:00 left Alex",
            "10:06:00 server_start",
            "10:06:30 entered Bob",
        ]
    );
    let logs: (bool, Option<String>) = sqlx::query_as(
        "select last_success_at is not null, last_error from app.game_source_status
         where server_id = $1 and source = 'logs'",
    )
    .bind(server_id)
    .fetch_one(&pool)
    .await
    .expect("status");
    assert_eq!(logs, (true, None));

    // A server whose key is not pinned (set in the database) says why on its status.
    let creative: i64 = sqlx::query_scalar(
        "insert into app.game_servers (name, game, host, log_source, log_path, sftp_port,
             sftp_user, ingest_token)
         values ('Creative', 'minecraft', '127.0.0.1', 'sftp', 'mc/logs', $1, 'gamelogs',
                 repeat('c', 32))
         returning server_id",
    )
    .bind(i32::from(sftp.addr.port()))
    .fetch_one(&pool)
    .await
    .expect("server");
    seal(&pool, creative, SecretColumn::SftpPassword, "sftp-pw").await;
    let unpinned = wait_for(
        &pool,
        &format!(
            "select count(*) from app.game_source_status s join app.game_servers g using (server_id)
             where g.name = 'Creative' and s.source = 'logs'
               and s.last_error like '%presented host key {}%'",
            sftp.fingerprint
        ),
        1,
    )
    .await;
    assert_eq!(unpinned, 1);
    stop.cancel();
    let _ = std::fs::remove_dir_all(&root);
}

#[tokio::test]
async fn a_posted_log_leaves_no_address_and_no_chat_text_in_a_pg_dump_or_the_trace_log() {
    let name = format!("guildhall_cli_game_privacy_{}", std::process::id());
    drop_database(&name);
    let db = format!("{}/{name}", server_url());
    assert_eq!(guildhall(&["migrate"], &db).status.code(), Some(0));
    let token = "privacy-token-privacy-token-0001";
    let inserted = Command::new("psql")
        .args([&db, "-qc"])
        .arg(format!(
            "insert into app.game_servers (name, game, host, log_source, ingest_token)
             values ('Dust', 'cs2', '127.0.0.1', 'http', '{token}')"
        ))
        .status()
        .expect("psql");
    assert!(inserted.success());
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .expect("a free port")
        .port();
    let base = format!("http://127.0.0.1:{port}");
    // The trace log goes to a file: a pipe nobody reads fills up and stalls the server.
    let log_path = std::env::temp_dir().join(format!("{name}.log"));
    let log_file = std::fs::File::create(&log_path).expect("log file");
    let mut child = Command::new(env!("CARGO_BIN_EXE_guildhall"))
        .arg("serve")
        .env("DATABASE_URL", &db)
        .env("GUILDHALL_BIND", format!("127.0.0.1:{port}"))
        .env("GUILDHALL_PUBLIC_URL", &base)
        .env("GUILDHALL_METRICS_BIND", "")
        .env("RUST_LOG", "trace")
        .current_dir(std::env::temp_dir())
        .stdout(log_file.try_clone().expect("log file"))
        .stderr(log_file)
        .spawn()
        .expect("serve starts");
    let http = reqwest::Client::builder()
        .timeout(Duration::from_secs(10))
        .build()
        .expect("client");
    let mut healthy = false;
    for _ in 0..200 {
        if http
            .get(format!("{base}/healthz"))
            .send()
            .await
            .is_ok_and(|r| r.status().is_success())
        {
            healthy = true;
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    assert!(healthy, "the server did not become healthy");
    let body = "11/28/2026 - 20:00:00.000 - \"Alice<2><[U:1:1001]><>\" connected, address \"203.0.113.77:27005\"\n\
                11/28/2026 - 20:00:05.000 - \"Alice<2><[U:1:1001]><>\" say \"my sentinel-chat-text plan\"\n\
                garbage from 198.51.100.23:1234\n";
    let posted = http
        .post(format!("{base}/ingest/logs/{token}"))
        .header("content-type", "text/plain")
        .body(body)
        .send()
        .await
        .expect("post");
    assert_eq!(posted.status().as_u16(), 200);
    Command::new("kill")
        .args(["-TERM", &child.id().to_string()])
        .status()
        .expect("kill");
    child.wait().expect("serve ends");
    let log = std::fs::read_to_string(&log_path).expect("the log");
    let _ = std::fs::remove_file(&log_path);
    let dump = Command::new("pg_dump").arg(&db).output().expect("pg_dump");
    assert!(dump.status.success());
    let dump = String::from_utf8_lossy(&dump.stdout).into_owned();
    assert!(dump.contains("Alice"), "the events were stored");
    for secret in ["203.0.113.77", "198.51.100.23", "sentinel-chat-text"] {
        assert!(!dump.contains(secret), "{secret} is in the pg_dump");
        assert!(!log.contains(secret), "{secret} is in the trace log");
    }
    assert!(
        log.contains("TRACE") || log.contains("DEBUG"),
        "the log is at trace level"
    );
    drop_database(&name);
}
