//! Game servers in the browser, through the real router: an admin adds, edits, disables,
//! enables and deletes servers (each change audited, passwords never sent back), erases a
//! server's history only with its typed name, and tests connections against real peers on
//! loopback: the fake RCON server (right and wrong password), a closed port, a port that
//! never answers, an HTTP server, the fake SFTP server with an unknown host key, and a
//! Prometheus exporter. Secrets are sealed with `GUILDHALL_SECRET_KEY` (the clear columns
//! stay empty, and a `pg_dump` holds none of them); without a key, a password is refused
//! with the command line's message. Every test gets a fresh database.

#[path = "support/web_app.rs"]
mod web_app;

use app::api::{
    CreateGameServer, DeleteGameServer, GetGameServers, PinGameServerHostKey,
    RegenerateGameServerToken, SetGameServerEnabled, TestGameServer, TestGameServerForm,
    UpdateGameServer,
};
use axum::http::StatusCode;
use collectors::game::rcon::Dialect;
use collectors::game::servers::SecretColumn;
use collectors::secrets::{SecretKey, token_hash};
use collectors::testing::fake_rcon::{FakeRcon, FakeRconConfig};
use collectors::testing::fake_sftp::FakeSftp;
use serde_json::{Value, json};
use sqlx::PgPool;
use web_app::*;

const RCON_PASSWORD: &str = "rcon-Secret-4711";
/// `GUILDHALL_SECRET_KEY` of the tests' app.
const SECRET_KEY: &str = "q83vEjRWeJCrze8SNFZ4kKvN7xI0VniQq83vEjRWeJA=";
const SFTP_PASSWORD: &str = "sftp-Secret-0815";
const CS2_STATUS: &str = include_str!(
    "../../collectors/tests/fixtures/01-cs2-rcon-status/cs2_status_live_strikeman.txt"
);

/// A form as the page sends it: `name` becomes `form[name]`, `rcon_password.value`
/// becomes `form[rcon_password][value]`.
fn form(fields: &[(&str, &str)]) -> Vec<(String, String)> {
    fields
        .iter()
        .map(|(name, value)| {
            let key = match name.split_once('.') {
                Some((field, part)) => format!("form[{field}][{part}]"),
                None => format!("form[{name}]"),
            };
            (key, (*value).to_owned())
        })
        .collect()
}

/// Borrowed pairs for [`TestApp::call`].
fn pairs(owned: &[(String, String)]) -> Vec<(&str, &str)> {
    owned
        .iter()
        .map(|(k, v)| (k.as_str(), v.as_str()))
        .collect()
}

/// A CS2 server on `host:port` with the RCON password `password`.
fn cs2(name: &str, addr: &str, password: &str) -> Vec<(String, String)> {
    let (host, port) = addr.rsplit_once(':').expect("host:port");
    form(&[
        ("name", name),
        ("game", "cs2"),
        ("host", host),
        ("rcon_port", port),
        ("rcon_password.action", "replace"),
        ("rcon_password.value", password),
        ("poll_interval_secs", "30"),
        ("log_source", "http"),
    ])
}

/// Every audit entry: action, subject, before, after.
async fn audit(pool: &PgPool) -> Vec<(String, String, Value, Value)> {
    sqlx::query_as("select action, subject, before, after from app.audit_log order by id")
        .fetch_all(pool)
        .await
        .expect("audit log")
}

/// The app in demo mode with a secret key.
async fn start_admin(pool: PgPool) -> TestApp {
    start(
        pool,
        Options {
            demo: true,
            settings: vec![("secret_key", json!(SECRET_KEY))],
            ..Options::default()
        },
    )
    .await
}

/// The stored RCON password, opened with the key: only its sealed column is ever written.
async fn stored_password(pool: &PgPool, name: &str) -> Option<String> {
    let (server_id, clear, sealed): (i64, Option<String>, Option<Vec<u8>>) = sqlx::query_as(
        "select server_id, rcon_password, rcon_password_sealed from app.game_servers
         where name = $1 and deleted_at is null",
    )
    .bind(name)
    .fetch_one(pool)
    .await
    .expect("the server");
    assert_eq!(clear, None, "no password is stored in clear");
    let key = SecretKey::parse(SECRET_KEY).expect("key");
    sealed.map(|sealed| {
        key.open_str(SecretColumn::RconPassword.place(server_id), &sealed)
            .expect("opens")
    })
}

/// A plain-text `pg_dump` of the test's database (schema and data).
async fn pg_dump(pool: &PgPool) -> String {
    let name: String = sqlx::query_scalar("select current_database()")
        .fetch_one(pool)
        .await
        .expect("name");
    let base = std::env::var("DATABASE_URL")
        .ok()
        .and_then(|url| url.rsplit_once('/').map(|(base, _)| base.to_owned()))
        .unwrap_or_else(|| "postgres://postgres@127.0.0.1:5432".into());
    let url = format!("{base}/{name}");
    let output = tokio::task::spawn_blocking(move || {
        std::process::Command::new("pg_dump")
            .arg(url)
            .output()
            .expect("pg_dump (postgresql-client) must be installed")
    })
    .await
    .expect("pg_dump");
    assert!(output.status.success(), "{output:?}");
    String::from_utf8_lossy(&output.stdout).into_owned()
}

#[sqlx::test(migrator = "guildhall::db::MIGRATOR")]
async fn an_admin_manages_a_server_every_change_is_audited_and_no_password_is_sent_back(
    pool: PgPool,
) {
    let app = start_admin(pool).await;
    app.sign_in_demo("admin").await;
    let mut answers = Vec::new();

    // Add: the log address comes back once.
    let added = cs2("Dust Palace", "127.0.0.1:27015", RCON_PASSWORD);
    let (status, saved) = app.call::<CreateGameServer>(&pairs(&added)).await;
    assert_eq!(status, StatusCode::OK, "{saved}");
    let server_id = saved["server_id"].as_i64().expect("server id");
    // The token is in the address once; only its hash is stored.
    let url = saved["log_address"]["url"]
        .as_str()
        .expect("url")
        .to_owned();
    let token = url
        .strip_prefix(&format!("{}ingest/logs/", app.base))
        .expect("the log address")
        .to_owned();
    let (stored_token, hash): (Option<String>, Vec<u8>) = sqlx::query_as(
        "select ingest_token, ingest_token_hash from app.game_servers where server_id = $1",
    )
    .bind(server_id)
    .fetch_one(&app.pool)
    .await
    .expect("token");
    assert_eq!(stored_token, None);
    assert_eq!(hash, token_hash(&token).to_vec());
    assert_eq!(
        saved["log_address"]["command"],
        json!(format!("logaddress_add_http \"{url}\""))
    );
    answers.push(saved);

    // The list says the password is set, and never shows it.
    let (status, list) = app.call::<GetGameServers>(&[]).await;
    assert_eq!(status, StatusCode::OK, "{list}");
    assert_eq!(list["servers"][0]["name"], json!("Dust Palace"));
    assert_eq!(list["servers"][0]["rcon_password_set"], json!(true));
    assert_eq!(list["servers"][0]["rcon_port"], json!(27015));
    assert_eq!(list["servers"][0]["poll_interval_secs"], json!(30));
    answers.push(list);

    // Edit without touching the password keeps it.
    let mut edited = cs2("Dust Palace", "127.0.0.1:27016", "");
    edited.retain(|(k, _)| !k.starts_with("form[rcon_password]"));
    let id = server_id.to_string();
    let mut call: Vec<(&str, &str)> = vec![("server_id", &id)];
    call.extend(pairs(&edited));
    let (status, body) = app.call::<UpdateGameServer>(&call).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!(body["log_address"], Value::Null);
    assert_eq!(
        stored_password(&app.pool, "Dust Palace").await.as_deref(),
        Some(RCON_PASSWORD)
    );
    answers.push(body);

    // Replace it, then remove it.
    let mut replaced = edited.clone();
    replaced.extend(form(&[
        ("rcon_password.action", "replace"),
        ("rcon_password.value", "new-Secret-99"),
    ]));
    let mut call: Vec<(&str, &str)> = vec![("server_id", &id)];
    call.extend(pairs(&replaced));
    let (status, body) = app.call::<UpdateGameServer>(&call).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!(
        stored_password(&app.pool, "Dust Palace").await.as_deref(),
        Some("new-Secret-99")
    );
    let mut cleared = edited.clone();
    cleared.extend(form(&[("rcon_password.action", "clear")]));
    let mut call: Vec<(&str, &str)> = vec![("server_id", &id)];
    call.extend(pairs(&cleared));
    let (status, body) = app.call::<UpdateGameServer>(&call).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!(stored_password(&app.pool, "Dust Palace").await, None);
    let (_, list) = app.call::<GetGameServers>(&[]).await;
    assert_eq!(list["servers"][0]["rcon_password_set"], json!(false));
    answers.push(list);

    // Disable and enable.
    let (status, _) = app
        .call::<SetGameServerEnabled>(&[("server_id", &id), ("enabled", "false")])
        .await;
    assert_eq!(status, StatusCode::OK);
    let (_, list) = app.call::<GetGameServers>(&[]).await;
    assert_eq!(list["servers"][0]["enabled"], json!(false));
    let (status, _) = app
        .call::<SetGameServerEnabled>(&[("server_id", &id), ("enabled", "true")])
        .await;
    assert_eq!(status, StatusCode::OK);

    // A new log token: the old address stops working, the new one is shown once.
    let (status, address) = app
        .call::<RegenerateGameServerToken>(&[("server_id", &id)])
        .await;
    assert_eq!(status, StatusCode::OK, "{address}");
    let new_url = address["url"].as_str().expect("url").to_owned();
    assert_ne!(new_url, url);
    assert_eq!(
        address["command"],
        json!(format!("logaddress_add_http \"{new_url}\""))
    );
    let old = app
        .browser
        .post(&url)
        .body("L 11/30/2026 - 20:00:00: hello\n")
        .send()
        .await
        .expect("old token");
    assert_eq!(old.status(), StatusCode::NOT_FOUND, "the old token is gone");
    answers.push(address);

    // Delete, keeping the history: gone from the list, the row stays for the history pages,
    // and its name is free again.
    sqlx::query(
        "insert into gold.server_utilization (server_id, hour, avg_humans, peak_humans, capacity, utilization_pct)
         values ($1, '2026-11-30 20:00+00', 3, 4, 10, 30)",
    )
    .bind(server_id)
    .execute(&app.pool)
    .await
    .expect("history");
    let (status, deleted) = app
        .call::<DeleteGameServer>(&[
            ("server_id", &id),
            ("erase_history", "false"),
            ("confirmation", ""),
        ])
        .await;
    assert_eq!(status, StatusCode::OK, "{deleted}");
    assert_eq!(
        deleted,
        json!({ "name": "Dust Palace", "erased_rows": null })
    );
    let (_, list) = app.call::<GetGameServers>(&[]).await;
    assert_eq!(list["servers"], json!([]));
    let kept: (bool, i64) = sqlx::query_as(
        "select g.enabled, (select count(*) from gold.server_utilization u where u.server_id = g.server_id)
         from app.game_servers g where g.server_id = $1",
    )
    .bind(server_id)
    .fetch_one(&app.pool)
    .await
    .expect("kept row");
    assert_eq!(kept, (false, 1), "disabled, history kept");
    let (status, body) = app
        .call::<CreateGameServer>(&pairs(&cs2(
            "Dust Palace",
            "127.0.0.1:27015",
            "x-Secret-3141",
        )))
        .await;
    assert_eq!(status, StatusCode::OK, "the name is free again: {body}");

    // Every change in the audit log, with passwords only as set or not.
    let entries = audit(&app.pool).await;
    let actions: Vec<&str> = entries.iter().map(|e| e.0.as_str()).collect();
    assert_eq!(
        actions,
        [
            "game_server.add",
            "game_server.update",
            "game_server.update",
            "game_server.update",
            "game_server.enabled",
            "game_server.enabled",
            "game_server.log_token",
            "game_server.delete",
            "game_server.add",
        ]
    );
    let subject = format!("game server Dust Palace (id {server_id})");
    assert_eq!(entries[0].1, subject);
    assert_eq!(entries[0].2, Value::Null);
    assert_eq!(entries[0].3["rcon_password"], json!("set"));
    assert_eq!(entries[0].3["host"], json!("127.0.0.1"));
    assert_eq!(entries[1].2["rcon_port"], json!(27015));
    assert_eq!(entries[1].3["rcon_port"], json!(27016));
    assert_eq!(entries[3].2["rcon_password"], json!("set"));
    assert_eq!(entries[3].3["rcon_password"], json!("not set"));
    assert_eq!(entries[4].2, json!({ "enabled": true }));
    assert_eq!(entries[4].3, json!({ "enabled": false }));
    assert_eq!(
        entries[7].3,
        json!({ "history": "kept", "erased_rows": null })
    );
    let log_text = serde_json::to_string(&entries).expect("json");
    let answered = serde_json::to_string(&answers).expect("json");
    // The password of the second "Dust Palace" is stored too (sealed).
    assert_eq!(
        stored_password(&app.pool, "Dust Palace").await.as_deref(),
        Some("x-Secret-3141")
    );
    let dump = pg_dump(&app.pool).await;
    assert!(dump.contains("rcon_password_sealed"), "a real dump");
    for secret in [RCON_PASSWORD, "new-Secret-99", "x-Secret-3141"] {
        assert!(!log_text.contains(secret), "the audit log holds a password");
        assert!(!answered.contains(secret), "an answer holds a password");
        assert!(
            !dump.contains(secret),
            "the database holds a password in clear"
        );
    }
    // The log token was in its one answer, and is stored nowhere.
    assert!(!log_text.contains(&token) && !dump.contains(&token));
}

#[sqlx::test(migrator = "guildhall::db::MIGRATOR")]
async fn erasing_a_servers_history_needs_its_typed_name_and_says_how_many_rows_went(pool: PgPool) {
    let app = start_admin(pool).await;
    app.sign_in_demo("admin").await;
    let (_, saved) = app
        .call::<CreateGameServer>(&pairs(&cs2("Nuke Town", "127.0.0.1:27015", RCON_PASSWORD)))
        .await;
    let server_id = saved["server_id"].as_i64().expect("id");
    let id = server_id.to_string();
    // Another server's history must stay.
    let (_, other) = app
        .call::<CreateGameServer>(&pairs(&cs2("Other", "127.0.0.1:27016", RCON_PASSWORD)))
        .await;
    let other_id = other["server_id"].as_i64().expect("id");
    for server in [server_id, other_id] {
        sqlx::raw_sql(&format!(
            "insert into bronze.game_status_snapshots (server_id, polled_at, humans, bots, players)
                 values ({server}, '2026-11-30 20:00+00', 1, 0, '[]'), ({server}, '2026-11-30 20:01+00', 1, 0, '[]');
             insert into silver.fact_game_sessions (server_id, player_key, player_name, started_at, ended_at, source)
                 values ({server}, 'steam:1', 'Ada', '2026-11-30 20:00+00', '2026-11-30 21:00+00', 'status');
             insert into gold.server_utilization (server_id, hour, avg_humans, peak_humans, capacity, utilization_pct)
                 values ({server}, '2026-11-30 20:00+00', 1, 1, 10, 10);"
        ))
        .execute(&app.pool)
        .await
        .expect("history");
    }

    // The wrong name: refused, nothing erased.
    let (status, body) = app
        .call::<DeleteGameServer>(&[
            ("server_id", &id),
            ("erase_history", "true"),
            ("confirmation", "nuke town"),
        ])
        .await;
    assert_eq!(status, StatusCode::BAD_REQUEST, "{body}");
    assert_eq!(
        body,
        json!({ "Invalid": { "field": "confirmation",
                             "problem": { "ConfirmationMismatch": { "expected": "Nuke Town" } } } })
    );
    let rows: i64 = sqlx::query_scalar("select count(*) from bronze.game_status_snapshots")
        .fetch_one(&app.pool)
        .await
        .expect("rows");
    assert_eq!(rows, 4);

    // The right name: 2 snapshots + 1 session + 1 utilization hour.
    let (status, body) = app
        .call::<DeleteGameServer>(&[
            ("server_id", &id),
            ("erase_history", "true"),
            ("confirmation", "Nuke Town"),
        ])
        .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!(body, json!({ "name": "Nuke Town", "erased_rows": 4 }));
    let left: Vec<(i64, i64)> = sqlx::query_as(
        "select server_id, count(*) from (
             select server_id from bronze.game_status_snapshots
             union all select server_id from silver.fact_game_sessions
             union all select server_id from gold.server_utilization) r
         group by server_id order by server_id",
    )
    .fetch_all(&app.pool)
    .await
    .expect("left");
    assert_eq!(
        left,
        vec![(other_id, 4)],
        "only the other server's history is left"
    );
    let server_rows: i64 =
        sqlx::query_scalar("select count(*) from app.game_servers where server_id = $1")
            .bind(server_id)
            .fetch_one(&app.pool)
            .await
            .expect("row");
    assert_eq!(server_rows, 0);
    // The jobs reading game sessions recompute from the first erased one.
    let dirty: Vec<(String, chrono::DateTime<chrono::Utc>)> = sqlx::query_as(
        "select table_name, from_at from app.pipeline_dirty_tables where table_name = 'silver.fact_game_sessions'",
    )
    .fetch_all(&app.pool)
    .await
    .expect("dirty");
    assert_eq!(
        dirty,
        vec![(
            "silver.fact_game_sessions".to_owned(),
            "2026-11-30T20:00:00Z".parse().expect("time")
        )]
    );
    let last = audit(&app.pool).await.pop().expect("entry");
    assert_eq!(last.0, "game_server.delete");
    assert_eq!(last.3, json!({ "history": "erased", "erased_rows": 4 }));
}

/// The RCON part of a test of `fields` before saving.
async fn rcon_check(app: &TestApp, fields: &[(String, String)]) -> Value {
    let (status, report) = app.call::<TestGameServerForm>(&pairs(fields)).await;
    assert_eq!(status, StatusCode::OK, "{report}");
    assert!(
        !report.to_string().contains(RCON_PASSWORD),
        "a test answer holds the password"
    );
    report["rcon"].clone()
}

#[sqlx::test(migrator = "guildhall::db::MIGRATOR")]
async fn a_connection_test_shows_the_status_answer_or_exactly_what_failed(pool: PgPool) {
    let app = start_admin(pool).await;
    app.sign_in_demo("admin").await;
    let fake = FakeRcon::start(FakeRconConfig::new(Dialect::Cs2, RCON_PASSWORD)).await;
    fake.set_reply("status", CS2_STATUS);

    // The right password: `status` answered, with the map and the players.
    let answered = rcon_check(&app, &cs2("Test", &fake.addr(), RCON_PASSWORD)).await;
    assert_eq!(
        answered,
        json!({ "Answered": { "command": "status", "map": "de_nuke", "humans": 1, "bots": 2,
                              "max_players": null, "players": ["XylotoGhost"] } })
    );
    assert_eq!(fake.commands(), vec!["status".to_owned()]);

    // The wrong password.
    let wrong = rcon_check(&app, &cs2("Test", &fake.addr(), "not-the-password")).await;
    assert_eq!(
        wrong,
        json!({ "Failed": { "problem": "WrongPassword", "address": fake.addr() } })
    );

    // A closed port: refused.
    let closed = {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
            .await
            .expect("bind");
        listener.local_addr().expect("addr").to_string()
    };
    let refused = rcon_check(&app, &cs2("Test", &closed, RCON_PASSWORD)).await;
    assert_eq!(
        refused,
        json!({ "Failed": { "problem": "Refused", "address": closed } })
    );

    // A port that accepts and never answers: a timeout (the test waits 5 s for auth).
    let silent = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .expect("bind");
    let silent_addr = silent.local_addr().expect("addr").to_string();
    let holder = tokio::spawn(async move {
        let mut open = Vec::new();
        while let Ok((socket, _)) = silent.accept().await {
            open.push(socket);
        }
    });
    let started = std::time::Instant::now();
    let timeout = rcon_check(&app, &cs2("Test", &silent_addr, RCON_PASSWORD)).await;
    assert_eq!(
        timeout,
        json!({ "Failed": { "problem": "Timeout", "address": silent_addr } })
    );
    assert!(started.elapsed() < std::time::Duration::from_secs(15));
    holder.abort();

    // An HTTP server (the app itself): not RCON.
    let http_addr = app
        .base
        .host_str()
        .map(|h| format!("{h}:{}", app.base.port().unwrap_or(80)));
    let http_addr = http_addr.expect("app address");
    let not_rcon = rcon_check(&app, &cs2("Test", &http_addr, RCON_PASSWORD)).await;
    assert_eq!(
        not_rcon,
        json!({ "Failed": { "problem": "NotRcon", "address": http_addr } })
    );

    // A saved server tests with its stored password.
    let (_, saved) = app
        .call::<CreateGameServer>(&pairs(&cs2("Stored", &fake.addr(), RCON_PASSWORD)))
        .await;
    let id = saved["server_id"].as_i64().expect("id").to_string();
    let (status, report) = app.call::<TestGameServer>(&[("server_id", &id)]).await;
    assert_eq!(status, StatusCode::OK, "{report}");
    assert_eq!(report["rcon"]["Answered"]["map"], json!("de_nuke"));
    assert_eq!(report["logs"], json!("Http"));
    assert_eq!(report["metrics"], Value::Null);
    // … and an edit that keeps the password tests with the stored one too.
    let mut kept = cs2("Stored", &fake.addr(), "");
    kept.retain(|(k, _)| !k.starts_with("form[rcon_password]"));
    let mut call: Vec<(&str, &str)> = vec![("server_id", &id)];
    call.extend(pairs(&kept));
    let (status, report) = app.call::<TestGameServerForm>(&call).await;
    assert_eq!(status, StatusCode::OK, "{report}");
    assert_eq!(report["rcon"]["Answered"]["humans"], json!(1));
}

/// A temporary folder of log files, removed on drop.
struct Folder(std::path::PathBuf);

impl Drop for Folder {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

#[sqlx::test(migrator = "guildhall::db::MIGRATOR")]
async fn an_unknown_sftp_host_key_is_shown_and_only_a_confirmed_key_is_trusted(pool: PgPool) {
    let app = start_admin(pool).await;
    app.sign_in_demo("admin").await;
    let root = Folder(std::env::temp_dir().join(format!("guildhall-admin-sftp-{}", rand_suffix())));
    let logs = root.0.join("logs");
    std::fs::create_dir_all(&logs).expect("folder");
    for (i, name) in ["a.log", "b.log", "c.log", "notes.txt"].iter().enumerate() {
        std::fs::write(logs.join(name), "x".repeat(i + 1)).expect("file");
        // Distinct modification times, oldest first.
        std::thread::sleep(std::time::Duration::from_millis(1100));
    }
    let sftp = FakeSftp::start(root.0.clone(), "logs", SFTP_PASSWORD)
        .await
        .expect("fake sftp");
    let port = sftp.addr.port().to_string();
    let fields = |host_key: &str| {
        form(&[
            ("name", "Survival"),
            ("game", "minecraft"),
            ("host", "127.0.0.1"),
            ("log_source", "sftp"),
            ("log_path", "/logs"),
            ("sftp_port", &port),
            ("sftp_user", "logs"),
            ("sftp_password.action", "replace"),
            ("sftp_password.value", SFTP_PASSWORD),
            ("sftp_host_key", host_key),
        ])
    };

    // Saving without a confirmed key is refused at the field.
    let (status, body) = app.call::<CreateGameServer>(&pairs(&fields(""))).await;
    assert_eq!(status, StatusCode::BAD_REQUEST, "{body}");
    assert_eq!(
        body,
        json!({ "Invalid": { "field": "sftp_host_key", "problem": "HostKeyNotConfirmed" } })
    );

    // The test shows the key the server presents; nothing is trusted.
    let (status, report) = app.call::<TestGameServerForm>(&pairs(&fields(""))).await;
    assert_eq!(status, StatusCode::OK, "{report}");
    assert_eq!(
        report["logs"],
        json!({ "Failed": { "problem": { "UnknownHostKey": { "fingerprint": sftp.fingerprint } } } })
    );
    assert_eq!(
        report["rcon"],
        json!({ "Failed": { "problem": "NotConfigured", "address": "127.0.0.1:25575" } })
    );

    // Confirmed: saved with the pin, and the test lists the newest log files.
    let (status, saved) = app
        .call::<CreateGameServer>(&pairs(&fields(&sftp.fingerprint)))
        .await;
    assert_eq!(status, StatusCode::OK, "{saved}");
    assert_eq!(
        saved["log_address"],
        Value::Null,
        "Minecraft sends no HTTP logs"
    );
    let id = saved["server_id"].as_i64().expect("id").to_string();
    let (status, report) = app.call::<TestGameServer>(&[("server_id", &id)]).await;
    assert_eq!(status, StatusCode::OK, "{report}");
    let listed = &report["logs"]["Listed"];
    assert_eq!(listed["folder"], json!("/logs"));
    assert_eq!(listed["total"], json!(3));
    let names: Vec<&str> = listed["files"]
        .as_array()
        .expect("files")
        .iter()
        .map(|f| f["name"].as_str().expect("name"))
        .collect();
    assert_eq!(names, ["c.log", "b.log", "a.log"], "newest first");
    assert_eq!(listed["files"][0]["bytes"], json!(3));
    assert!(!report.to_string().contains(SFTP_PASSWORD));
    let (_, list) = app.call::<GetGameServers>(&[]).await;
    assert_eq!(list["servers"][0]["sftp_password_set"], json!(true));
    assert_eq!(list["servers"][0]["sftp_host_key"], json!(sftp.fingerprint));
    assert!(!list.to_string().contains(SFTP_PASSWORD));

    // A pin that is not a fingerprint is refused; another server's key is refused when
    // connecting, naming both keys.
    let (status, body) = app
        .call::<PinGameServerHostKey>(&[("server_id", &id), ("fingerprint", "MD5:12:34")])
        .await;
    assert_eq!(status, StatusCode::BAD_REQUEST, "{body}");
    let other = "SHA256:uLHWZzkCBfBeLsjQAEqLtM1E79NdyfV2ReZlDoWHRTs";
    let (status, body) = app
        .call::<PinGameServerHostKey>(&[("server_id", &id), ("fingerprint", other)])
        .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    let (_, report) = app.call::<TestGameServer>(&[("server_id", &id)]).await;
    assert_eq!(
        report["logs"],
        json!({ "Failed": { "problem": { "HostKeyChanged": { "presented": sftp.fingerprint, "pinned": other } } } })
    );
    let last = audit(&app.pool).await.pop().expect("entry");
    assert_eq!(last.0, "game_server.host_key");
    assert_eq!(last.2, json!({ "sftp_host_key": sftp.fingerprint }));
    assert_eq!(last.3, json!({ "sftp_host_key": other }));
}

#[sqlx::test(migrator = "guildhall::db::MIGRATOR")]
async fn a_connection_test_scrapes_the_exporter_once_and_shows_players_and_tps(pool: PgPool) {
    let app = start_admin(pool).await;
    app.sign_in_demo("admin").await;
    let exporter = axum::Router::new()
        .route(
            "/metrics",
            axum::routing::get(|| async {
                "# TYPE mc_players_online_total gauge\n\
                 mc_players_online_total{world=\"world\"} 3\n\
                 mc_players_online_total{world=\"world_nether\"} 1\n\
                 mc_tps 19.8\n\
                 this is not a metric\n"
            }),
        )
        .route(
            "/broken",
            axum::routing::get(|| async { (StatusCode::INTERNAL_SERVER_ERROR, "no") }),
        );
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .expect("bind");
    let addr = listener.local_addr().expect("addr");
    tokio::spawn(async move { axum::serve(listener, exporter).await.expect("exporter") });
    let fields = |url: String| {
        form(&[
            ("name", "Creative"),
            ("game", "minecraft"),
            ("host", "127.0.0.1"),
            ("prometheus_url", &url),
        ])
    };
    let (status, report) = app
        .call::<TestGameServerForm>(&pairs(&fields(format!("http://{addr}/metrics"))))
        .await;
    assert_eq!(status, StatusCode::OK, "{report}");
    assert_eq!(
        report["metrics"],
        json!({ "Scraped": { "players": 4.0, "tps": 19.8, "bad_lines": 1 } })
    );
    let (_, report) = app
        .call::<TestGameServerForm>(&pairs(&fields(format!("http://{addr}/broken"))))
        .await;
    assert_eq!(
        report["metrics"],
        json!({ "Failed": { "problem": { "Status": 500 } } })
    );
}

#[sqlx::test(migrator = "guildhall::db::MIGRATOR")]
async fn leaders_and_members_are_refused_every_game_server_function(pool: PgPool) {
    let app = start_admin(pool).await;
    app.sign_in_demo("admin").await;
    let (_, saved) = app
        .call::<CreateGameServer>(&pairs(&cs2("Kept", "127.0.0.1:27015", RCON_PASSWORD)))
        .await;
    let id = saved["server_id"].as_i64().expect("id").to_string();
    let before = audit(&app.pool).await.len();
    for role in ["member", "leader"] {
        app.sign_in_demo(role).await;
        let calls: Vec<(&str, Vec<(String, String)>)> = vec![
            (
                <GetGameServers as leptos::server_fn::ServerFn>::PATH,
                vec![],
            ),
            (
                <CreateGameServer as leptos::server_fn::ServerFn>::PATH,
                cs2("Sneaky", "127.0.0.1:27015", "x"),
            ),
            (
                <DeleteGameServer as leptos::server_fn::ServerFn>::PATH,
                vec![
                    ("server_id".into(), id.clone()),
                    ("erase_history".into(), "true".into()),
                    ("confirmation".into(), "Kept".into()),
                ],
            ),
            (
                <TestGameServer as leptos::server_fn::ServerFn>::PATH,
                vec![("server_id".into(), id.clone())],
            ),
        ];
        for (path, fields) in calls {
            let (status, body) = app.call_with(&app.browser, path, &pairs(&fields)).await;
            assert_eq!(status, StatusCode::FORBIDDEN, "{role} {path}: {body}");
            assert!(!body.to_string().contains(RCON_PASSWORD));
        }
        let response = app.get("/admin/servers").await;
        assert_error_page(response, StatusCode::FORBIDDEN, "not allowed").await;
    }
    assert_eq!(audit(&app.pool).await.len(), before, "nothing changed");
    let names: Vec<String> = sqlx::query_scalar("select name from app.game_servers")
        .fetch_all(&app.pool)
        .await
        .expect("names");
    assert_eq!(names, ["Kept"]);
    // The admin sees the page, rendered on the server with the server on it.
    app.sign_in_demo("admin").await;
    let response = app.get("/admin/servers").await;
    assert_eq!(response.status(), StatusCode::OK);
    let page = response.text().await.expect("page");
    assert!(page.contains("Kept"), "the page lists the server");
    assert!(!page.contains(RCON_PASSWORD), "the page holds no password");
}

/// An ed25519 key made by the real `ssh-keygen`, protected by `passphrase`: its text.
fn ssh_keygen(dir: &std::path::Path, passphrase: &str) -> String {
    let path = dir.join("id_ed25519");
    let status = std::process::Command::new("ssh-keygen")
        .args([
            "-q",
            "-t",
            "ed25519",
            "-N",
            passphrase,
            "-C",
            "guildhall-test",
            "-f",
        ])
        .arg(&path)
        .status()
        .expect("ssh-keygen (openssh-client) must be installed");
    assert!(status.success());
    std::fs::read_to_string(path).expect("the key")
}

#[sqlx::test(migrator = "guildhall::db::MIGRATOR")]
async fn an_sftp_key_pasted_with_its_passphrase_logs_in_and_is_only_ever_said_to_be_set(
    pool: PgPool,
) {
    let app = start_admin(pool).await;
    app.sign_in_demo("admin").await;
    let root = Folder(std::env::temp_dir().join(format!("guildhall-admin-key-{}", rand_suffix())));
    std::fs::create_dir_all(root.0.join("logs")).expect("folder");
    std::fs::write(root.0.join("logs").join("latest.log"), "x").expect("file");
    let passphrase = "phrase of the pasted key 2718";
    let key_text = ssh_keygen(&root.0, passphrase);
    let private =
        collectors::game::sftp::open_private_key(&key_text, Some(passphrase)).expect("opens");
    let opened = collectors::game::sftp::private_key_text(&private).expect("text");
    let sftp = FakeSftp::start_with_key(
        root.0.clone(),
        "keylogs",
        None,
        private.public_key().clone(),
    )
    .await
    .expect("fake SFTP with a key");
    let port = sftp.addr.port().to_string();
    let fields = form(&[
        ("name", "Keyed"),
        ("game", "minecraft"),
        ("host", "127.0.0.1"),
        ("log_source", "sftp"),
        ("log_path", "/logs"),
        ("sftp_port", &port),
        ("sftp_user", "keylogs"),
        ("sftp_key.action", "replace"),
        ("sftp_key.value", &key_text),
        ("sftp_key_passphrase", passphrase),
        ("sftp_host_key", &sftp.fingerprint),
    ]);
    let mut answers = Vec::new();
    let (status, report) = app.call::<TestGameServerForm>(&pairs(&fields)).await;
    assert_eq!(status, StatusCode::OK, "{report}");
    assert_eq!(report["logs"]["Listed"]["total"], json!(1), "{report}");
    answers.push(report);
    let (status, saved) = app.call::<CreateGameServer>(&pairs(&fields)).await;
    assert_eq!(status, StatusCode::OK, "{saved}");
    let id = saved["server_id"].as_i64().expect("id").to_string();
    answers.push(saved);
    let (status, report) = app.call::<TestGameServer>(&[("server_id", &id)]).await;
    assert_eq!(status, StatusCode::OK, "{report}");
    assert_eq!(report["logs"]["Listed"]["total"], json!(1), "{report}");
    answers.push(report);
    let (_, list) = app.call::<GetGameServers>(&[]).await;
    assert_eq!(list["servers"][0]["sftp_key_set"], json!(true));
    assert_eq!(list["servers"][0]["sftp_password_set"], json!(false));
    answers.push(list);
    // The audit entry says "set", never the key.
    let last = audit(&app.pool).await.pop().expect("entry");
    assert_eq!(last.3["sftp_key"], json!("set"));
    // Neither the pasted key, nor the opened one, nor the passphrase is sent back or stored
    // in clear.
    let answered = serde_json::to_string(&answers).expect("json");
    let log_text = serde_json::to_string(&last).expect("json");
    let dump = pg_dump(&app.pool).await;
    let lines = |text: &str| -> Vec<String> {
        text.lines()
            .filter(|line| !line.starts_with("-----") && line.len() > 20)
            .map(str::to_owned)
            .collect()
    };
    let mut secrets = lines(&key_text);
    secrets.extend(lines(&opened));
    secrets.push(passphrase.to_owned());
    for secret in &secrets {
        assert!(
            !answered.contains(secret.as_str()),
            "an answer holds the key"
        );
        assert!(
            !log_text.contains(secret.as_str()),
            "the audit log holds the key"
        );
        assert!(
            !dump.contains(secret.as_str()),
            "the database holds the key in clear"
        );
    }
    // Kept on an edit, removed with "clear" (then a password is needed).
    let mut cleared = form(&[
        ("name", "Keyed"),
        ("game", "minecraft"),
        ("host", "127.0.0.1"),
        ("log_source", "sftp"),
        ("log_path", "/logs"),
        ("sftp_port", &port),
        ("sftp_user", "keylogs"),
        ("sftp_host_key", &sftp.fingerprint),
    ]);
    let mut call: Vec<(&str, &str)> = vec![("server_id", &id)];
    call.extend(pairs(&cleared));
    let (status, body) = app.call::<UpdateGameServer>(&call).await;
    assert_eq!(status, StatusCode::OK, "kept: {body}");
    cleared.extend(form(&[("sftp_key.action", "clear")]));
    let mut call: Vec<(&str, &str)> = vec![("server_id", &id)];
    call.extend(pairs(&cleared));
    let (status, body) = app.call::<UpdateGameServer>(&call).await;
    assert_eq!(status, StatusCode::BAD_REQUEST, "{body}");
    assert_eq!(
        body,
        json!({ "Invalid": { "field": "sftp_password", "problem": "Required" } })
    );
}

#[sqlx::test(migrator = "guildhall::db::MIGRATOR")]
async fn a_form_with_several_problems_answers_every_field_at_once_and_saves_nothing(pool: PgPool) {
    let app = start_admin(pool).await;
    app.sign_in_demo("admin").await;
    let broken = form(&[
        ("name", ""),
        ("game", "cs2"),
        ("host", "127.0.0.1"),
        ("rcon_port", "27015"),
        ("rcon_password.action", "replace"),
        ("rcon_password.value", RCON_PASSWORD),
        ("poll_interval_secs", "1"),
        ("log_source", "http"),
        ("log_timezone", "Mars/Olympus"),
        ("capacity", "many"),
    ]);
    let (status, body) = app.call::<CreateGameServer>(&pairs(&broken)).await;
    assert_eq!(status, StatusCode::BAD_REQUEST, "{body}");
    assert_eq!(
        body,
        json!({ "Invalid": {
            "field": "name",
            "problem": "Required",
            "also": [
                ["poll_interval", { "OutOfRange": { "min": 5, "max": 3600, "unit": "Seconds" } }],
                ["log_timezone", { "TimezoneUnknown": { "name": "Mars/Olympus" } }],
                ["capacity", "NotANumber"],
            ],
        } })
    );
    let servers: i64 = sqlx::query_scalar("select count(*) from app.game_servers")
        .fetch_one(&app.pool)
        .await
        .expect("servers");
    assert_eq!(servers, 0, "nothing half-saved");
}
