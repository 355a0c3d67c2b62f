//! `guildhall import-logs` on Minecraft files: a plain file and the same file gzipped give
//! the same records (the day each line is on worked out from the file's name and the
//! midnights it spans), and an import reads a file a buffer at a time, however large: its
//! memory does not grow with the file (measured on this process's peak resident memory, so
//! this binary holds this one test).

use clap::Parser;
use collectors::metrics::Metrics;
use figment::providers::Serialized;
use guildhall::cli::{Cli, Command};
use guildhall::config::Config;
use guildhall::game_servers::{ServersCommand, add_server, import_logs};
use sqlx::PgPool;
use std::io::Write;
use std::path::{Path, PathBuf};

/// The process's resident memory, now (`VmRSS`) or at most since the last reset (`VmHWM`),
/// in bytes.
fn resident(field: &str) -> u64 {
    let status = std::fs::read_to_string("/proc/self/status").expect("/proc/self/status");
    status
        .lines()
        .find_map(|line| line.strip_prefix(field))
        .and_then(|rest| {
            rest.trim()
                .trim_end_matches("kB")
                .trim()
                .parse::<u64>()
                .ok()
        })
        .expect("a size in kB")
        * 1024
}

/// Starts measuring the peak anew (Linux: `5` to `clear_refs` resets `VmHWM`).
fn reset_peak() {
    std::fs::write("/proc/self/clear_refs", "5").expect("reset the peak");
}

fn config() -> Config {
    Config::from_figment(
        Config::defaults_figment()
            .merge(Serialized::default("demo", false))
            .merge(Serialized::default("timezone", "UTC")),
    )
    .expect("config")
}

/// Adds a Minecraft server the way `guildhall servers add` does.
async fn add_minecraft(pool: &PgPool, name: &str) {
    let cli = Cli::try_parse_from([
        "guildhall",
        "servers",
        "add",
        "--name",
        name,
        "--game",
        "minecraft",
        "--host",
        "127.0.0.1",
    ])
    .expect("command line");
    let Some(Command::Servers {
        command: ServersCommand::Add(add),
    }) = cli.command
    else {
        panic!("not `servers add`");
    };
    add_server(pool, None, &add).await.expect("server added");
}

fn folder(test: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(format!("guildhall-{test}-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).expect("folder");
    dir
}

fn gzip(text: &[u8]) -> Vec<u8> {
    let mut encoder = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast());
    encoder.write_all(text).expect("gzip");
    encoder.finish().expect("gzip")
}

/// A rotated log of an evening that runs past midnight: its name gives the day of its last
/// line (30 November), so its first lines are on 29 November.
const EVENING: &str = "\
[22:10:00] [Server thread/INFO]: Starting minecraft server version 1.21.4
[22:10:05] [Server thread/INFO]: Done (4.812s)! For help, type \"help\"
[23:50:00] [User Authenticator #1/INFO]: UUID of player Alex is 0f1e2d3c-4b5a-6978-8796-a5b4c3d2e1f0
[23:50:01] [Server thread/INFO]: Alex[/203.0.113.7:50000] logged in with entity id 12 at (0.5, 64.0, 0.5)
[23:50:01] [Server thread/INFO]: Alex joined the game
[23:59:59] [Server thread/INFO]: Saving the game (this may take a moment!)
[00:10:00] [Server thread/INFO]: Alex left the game
[00:20:00] [Server thread/INFO]: Stopping server
";

async fn rows(pool: &PgPool) -> Vec<(String, String, Option<String>)> {
    sqlx::query_as(
        "select kind, to_char(occurred_at at time zone 'UTC', 'YYYY-MM-DD HH24:MI:SS'), player_name
         from bronze.game_log_events order by occurred_at, kind",
    )
    .fetch_all(pool)
    .await
    .expect("rows")
}

#[sqlx::test(migrator = "guildhall::db::MIGRATOR")]
async fn minecraft_files_plain_and_gzipped_give_the_same_records_and_memory_stays_flat(
    pool: PgPool,
) {
    let config = config();
    let metrics = Metrics::new();
    add_minecraft(&pool, "Survival").await;
    let dir = folder("mc-import");

    // The plain file: the records of the evening, on the days the midnight puts them on.
    let plain = dir.join("2026-11-30-1.log");
    std::fs::write(&plain, EVENING).expect("write");
    let report = import_logs(&pool, &config, &metrics, "Survival", &[plain], None)
        .await
        .expect("import");
    assert_eq!((report.lines, report.stored, report.unparsed), (8, 6, 0));
    let expected: Vec<(String, String, Option<String>)> = [
        ("server_start", "2026-11-29 22:10:05", None),
        ("account", "2026-11-29 23:50:00", Some("Alex")),
        ("connected", "2026-11-29 23:50:01", Some("Alex")),
        ("entered", "2026-11-29 23:50:01", Some("Alex")),
        ("left", "2026-11-30 00:10:00", Some("Alex")),
        ("server_stop", "2026-11-30 00:20:00", None),
    ]
    .into_iter()
    .map(|(kind, at, name)| (kind.to_owned(), at.to_owned(), name.map(str::to_owned)))
    .collect();
    assert_eq!(rows(&pool).await, expected);

    // The same file gzipped (in two members, as logrotate's concatenation leaves it): the
    // same records, so every one is already stored.
    let gz = dir.join("2026-11-30-1.log.gz");
    let split = EVENING.find("[23:59:59]").expect("a line");
    let mut bytes = gzip(&EVENING.as_bytes()[..split]);
    bytes.extend(gzip(&EVENING.as_bytes()[split..]));
    std::fs::write(&gz, bytes).expect("write");
    let report = import_logs(&pool, &config, &metrics, "Survival", &[gz], None)
        .await
        .expect("import");
    assert_eq!((report.lines, report.stored, report.duplicates), (8, 0, 6));
    assert_eq!(rows(&pool).await, expected);

    // A large file (48 MiB of lines with nothing to keep, over several days), plain and
    // gzipped, written a line at a time: the import's peak memory stays far below the
    // file's size (a file read whole would add at least its size).
    let large_plain = dir.join("2026-10-20-1.log");
    let large_gz = dir.join("2026-10-21-1.log.gz");
    let lines = write_large(&large_plain, &large_gz, 48 << 20);
    for file in [large_plain, large_gz] {
        let before = resident("VmRSS:");
        reset_peak();
        let report = import_logs(
            &pool,
            &config,
            &metrics,
            "Survival",
            std::slice::from_ref(&file),
            None,
        )
        .await
        .expect("import");
        let grown = resident("VmHWM:").saturating_sub(before);
        assert_eq!(report.lines, lines, "{}", file.display());
        assert_eq!(report.stored, 0, "{}", file.display());
        assert!(
            grown < 16 << 20,
            "importing {} (48 MiB of text) grew the resident memory by {grown} bytes",
            file.display()
        );
    }
    let _ = std::fs::remove_dir_all(&dir);
}

/// Writes `size` bytes of Minecraft lines with nothing to keep to `plain` and, gzipped, to
/// `gz`, a line at a time; returns the number of lines.
fn write_large(plain: &Path, gz: &Path, size: usize) -> u64 {
    let mut plain = std::io::BufWriter::new(std::fs::File::create(plain).expect("create"));
    let mut gz = flate2::write::GzEncoder::new(
        std::io::BufWriter::new(std::fs::File::create(gz).expect("create")),
        flate2::Compression::fast(),
    );
    let (mut written, mut lines, mut second) = (0, 0, 0u32);
    while written < size {
        let t = second % 86_400;
        let line = format!(
            "[{:02}:{:02}:{:02}] [Server thread/INFO]: Saving the game (this may take a moment!)\n",
            t / 3600,
            t / 60 % 60,
            t % 60
        );
        plain.write_all(line.as_bytes()).expect("write");
        gz.write_all(line.as_bytes()).expect("write");
        written += line.len();
        lines += 1;
        second += 2;
    }
    plain.flush().expect("flush");
    gz.finish().expect("gzip").flush().expect("flush");
    lines
}
