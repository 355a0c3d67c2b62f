//! `guildhall import-logs` and the lines it cannot read: every line of a file is stored as
//! an event or kept as unparsed with its exact bytes and reason, whatever the bytes (NUL,
//! invalid UTF-8, binary, overlong, CRLF, no `L ` prefix, a time without a date); and a
//! Minecraft file is dated by `--date`, its name or its lines, never by the day it is
//! imported.

use collectors::game::logs::MAX_LINE_BYTES;
use collectors::metrics::Metrics;
use figment::providers::Serialized;
use guildhall::config::Config;
use guildhall::game_servers::import_logs;
use sqlx::PgPool;
use std::path::PathBuf;

fn config() -> Config {
    Config::from_figment(
        Config::defaults_figment()
            .merge(Serialized::default("demo", false))
            .merge(Serialized::default("timezone", "UTC")),
    )
    .expect("config")
}

async fn add_server(pool: &PgPool, name: &str, game: &str) {
    sqlx::query(
        "insert into app.game_servers (name, game, host, log_source, ingest_token)
         values ($1, $2, '127.0.0.1', 'none', md5($1))",
    )
    .bind(name)
    .bind(game)
    .execute(pool)
    .await
    .expect("server");
}

fn folder(test: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(format!("guildhall-{test}-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).expect("folder");
    dir
}

/// The unparsed rows, in the order they were stored: (bytes, reason).
async fn kept(pool: &PgPool) -> Vec<(Vec<u8>, String)> {
    sqlx::query_as(
        "select raw_line, detail->>'error' from bronze.game_log_events
         where kind = 'unparsed' order by event_id",
    )
    .fetch_all(pool)
    .await
    .expect("kept")
}

#[sqlx::test(migrator = "guildhall::db::MIGRATOR")]
async fn every_unreadable_line_of_an_imported_file_is_kept_byte_for_byte_with_its_reason(
    pool: PgPool,
) {
    add_server(&pool, "Match", "cs2").await;
    let dir = folder("unreadable-lines");
    let unreadable: Vec<(Vec<u8>, &str)> = vec![
        (
            b"L 01/19/2026 - 19:09:35: \"Al\0ice<2><[U:1:1]><CT>\" entered the game".to_vec(),
            "NUL byte in the line",
        ),
        (
            b"L 01/19/2026 - 19:09:36: \"J\xf6rg<3><[U:1:2]><CT>\" entered the game".to_vec(),
            "not UTF-8",
        ),
        (
            vec![0x00, 0x01, 0x1f, 0x8b, 0xfe, 0xff, b'\t', 0x7f, 0x80],
            "not UTF-8",
        ),
        (vec![b'A'; MAX_LINE_BYTES + 10], "line too long"),
        (
            b"01/19/2026 - 19:09:37: World triggered \"Round_End\"".to_vec(),
            "malformed HL log timestamp prefix",
        ),
        (
            b"Log file started (file \"logs/L0119000.log\")".to_vec(),
            "no HL log timestamp prefix",
        ),
        (
            b"L 19:09:38: World triggered \"Round_End\"".to_vec(),
            "malformed HL log timestamp prefix",
        ),
    ];
    // Readable lines around them, every line ending in CRLF.
    let mut file = b"L 01/19/2026 - 19:09:34: World triggered \"Round_Start\"\r\n".to_vec();
    for (line, _) in &unreadable {
        file.extend_from_slice(line);
        file.extend_from_slice(b"\r\n");
    }
    file.extend_from_slice(b"L 01/19/2026 - 19:09:40: World triggered \"Round_End\"\r\n");
    let path = dir.join("L0119000.log");
    std::fs::write(&path, &file).expect("write");

    let metrics = Metrics::new();
    let report = import_logs(
        &pool,
        &config(),
        &metrics,
        "Match",
        std::slice::from_ref(&path),
        None,
    )
    .await
    .expect("import");
    assert_eq!(
        (report.lines, report.stored, report.unparsed),
        (9, 9, 7),
        "{report:?}"
    );
    let expected: Vec<(Vec<u8>, String)> = unreadable
        .iter()
        .map(|(line, reason)| (line.clone(), (*reason).to_owned()))
        .collect();
    assert_eq!(kept(&pool).await, expected);

    // Imported again: every line, readable or not, is already stored.
    let again = import_logs(&pool, &config(), &metrics, "Match", &[path], None)
        .await
        .expect("import");
    assert_eq!((again.stored, again.duplicates), (0, 9));
    let _ = std::fs::remove_dir_all(&dir);
}

const MORNING: &str = "\
[09:00:00] [Server thread/INFO]: Starting minecraft server version 1.21.4
[09:00:05] [Server thread/INFO]: Done (4.812s)! For help, type \"help\"
[09:30:00] [Server thread/INFO]: Alex joined the game
";

async fn first_line_day(pool: &PgPool) -> Option<String> {
    sqlx::query_scalar(
        "select to_char(min(occurred_at) at time zone 'UTC', 'YYYY-MM-DD')
         from bronze.game_log_events",
    )
    .fetch_one(pool)
    .await
    .expect("day")
}

#[sqlx::test(migrator = "guildhall::db::MIGRATOR")]
async fn a_minecraft_file_without_a_date_in_its_name_or_lines_needs_date_and_says_so(pool: PgPool) {
    add_server(&pool, "Survival", "minecraft").await;
    let dir = folder("mc-date");
    let metrics = Metrics::new();
    let rotated = dir.join("2025-03-29-2.log.gz");
    let latest = dir.join("latest.log");
    std::fs::write(&latest, MORNING).expect("write");
    std::fs::copy(&latest, &rotated).expect("copy");

    // Undated: refused before anything is stored (the rotated file named first is not
    // imported either), naming the file and the way out.
    let error = import_logs(
        &pool,
        &config(),
        &metrics,
        "Survival",
        &[rotated.clone(), latest.clone()],
        None,
    )
    .await
    .expect_err("an undated file");
    let message = format!("{error:#}");
    assert!(message.contains("latest.log"), "{message}");
    assert!(message.contains("--date YYYY-MM-DD"), "{message}");
    assert_eq!(first_line_day(&pool).await, None);

    // The rotated file takes its date from its name.
    let report = import_logs(&pool, &config(), &metrics, "Survival", &[rotated], None)
        .await
        .expect("import");
    assert_eq!(report.stored, 2);
    assert_eq!(first_line_day(&pool).await.as_deref(), Some("2025-03-29"));

    // With --date, the undated one is on that day.
    sqlx::query("delete from bronze.game_log_events")
        .execute(&pool)
        .await
        .expect("empty");
    let date = chrono::NaiveDate::from_ymd_opt(2024, 7, 1);
    let report = import_logs(&pool, &config(), &metrics, "Survival", &[latest], date)
        .await
        .expect("import");
    assert_eq!(report.stored, 2);
    assert_eq!(first_line_day(&pool).await.as_deref(), Some("2024-07-01"));
    let _ = std::fs::remove_dir_all(&dir);
}
