//! Game log benchmark, in one run:
//! - parsing: every line of the HL-log and Minecraft fixtures through the real line decoder
//!   (parse, date, hash) on one core, repeated to a few million lines: lines per second per
//!   format and for the mix (target ≥ 1,000,000 lines/s per core), and the HL lines each
//!   with a NUL byte (every one kept as unparsed);
//! - import: a historic log folder of `BENCH_IMPORT_MB` (default 1024) MB of HL logs (the
//!   fixture match logs, each copy moved to a day of its own) through
//!   `guildhall import-logs`' code into `bronze.game_log_events`, with its rate; then the
//!   same folder again (every line already stored) and the pipeline over what was imported;
//! - unreadable lines: a file of `BENCH_UNREADABLE_LINES` (default 1,000,000) HL lines none
//!   of which can be read (each with a NUL byte or an invalid UTF-8 byte, so every one is kept
//!   as unparsed with its bytes) against a file of as many readable lines, each imported into
//!   an empty table: both rates and their ratio (target ≥ 0.5).
//!
//! Run with `make bench` (database `guildhall_bench`, created if missing; `DATABASE_URL`
//! overrides). The folder is written to the system's temporary folder and removed after.
// A benchmark reports to the terminal.
#![allow(clippy::print_stdout)]

use anyhow::Context;
use chrono::{Duration, NaiveDate, TimeZone, Utc};
use collectors::game::logs::{LineDecoder, LogFormat};
use collectors::metrics::Metrics;
use figment::providers::Serialized;
use guildhall::config::Config;
use guildhall::pipeline::{Pipeline, Trigger};
use std::io::Write;
use std::path::PathBuf;
use std::time::Instant;

mod common;
use common::truncate;

const HL_FIXTURES: [&str; 3] = [
    include_str!(
        "../../collectors/tests/fixtures/03-source-hl-logs/csgo_local_log_2019_medium.log"
    ),
    include_str!("../../collectors/tests/fixtures/03-source-hl-logs/cs2_full_match_log_1.log"),
    include_str!(
        "../../collectors/tests/fixtures/03-source-hl-logs/cs2_match_log_1_lifecycle_excerpt.log"
    ),
];

const MC_FIXTURES: [&str; 13] = [
    include_str!("../../collectors/tests/fixtures/04-minecraft-logs-rcon/bedrock_start_1.19.log"),
    include_str!(
        "../../collectors/tests/fixtures/04-minecraft-logs-rcon/fabric_1.16.5_loom_server.log"
    ),
    include_str!(
        "../../collectors/tests/fixtures/04-minecraft-logs-rcon/forge_1.12.2_start_stop.log"
    ),
    include_str!(
        "../../collectors/tests/fixtures/04-minecraft-logs-rcon/mcdr_beta18_lifecycle.log"
    ),
    include_str!(
        "../../collectors/tests/fixtures/04-minecraft-logs-rcon/mcdr_bukkit_lifecycle.log"
    ),
    include_str!("../../collectors/tests/fixtures/04-minecraft-logs-rcon/mcdr_forge_lifecycle.log"),
    include_str!(
        "../../collectors/tests/fixtures/04-minecraft-logs-rcon/mcdr_vanilla_lifecycle.log"
    ),
    include_str!(
        "../../collectors/tests/fixtures/04-minecraft-logs-rcon/mcdr_velocity_lifecycle.log"
    ),
    include_str!(
        "../../collectors/tests/fixtures/04-minecraft-logs-rcon/mcdr_waterfall_lifecycle.log"
    ),
    include_str!("../../collectors/tests/fixtures/04-minecraft-logs-rcon/paper_1.8.8_start.log"),
    include_str!(
        "../../collectors/tests/fixtures/04-minecraft-logs-rcon/spigot_1.13_anonymised_login.log"
    ),
    include_str!(
        "../../collectors/tests/fixtures/04-minecraft-logs-rcon/spigot_essentials_list_console_pastebin_gzBNtyCr.log"
    ),
    include_str!(
        "../../collectors/tests/fixtures/04-minecraft-logs-rcon/vanilla_1.21.11pre1_start_stop.log"
    ),
];

/// Lines parsed per format.
const PARSE_LINES: usize = 3_000_000;

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let url = std::env::var("DATABASE_URL")
        .unwrap_or_else(|_| "postgres://postgres@127.0.0.1:5432/guildhall_bench".into());
    let import_mb: u64 = std::env::var("BENCH_IMPORT_MB")
        .ok()
        .map(|v| v.parse().context("BENCH_IMPORT_MB must be a number"))
        .transpose()?
        .unwrap_or(1024);

    println!("game log benchmark: parsing on one core, {PARSE_LINES} lines per format");
    let hl = parse_rate(LogFormat::Hl, &HL_FIXTURES);
    let mc = parse_rate(LogFormat::Minecraft, &MC_FIXTURES);
    let mix_secs = hl.secs + mc.secs;
    let mix_lines = (hl.lines + mc.lines) as f64;
    println!("{:>22} {:>14} {:>12}", "format", "lines/s", "events");
    for (name, rate) in [("HL log (Source, CS2)", &hl), ("Minecraft", &mc)] {
        println!(
            "{name:>22} {:>14.0} {:>12}",
            rate.lines as f64 / rate.secs,
            rate.events
        );
    }
    println!("{:>22} {:>14.0}", "mix (equal lines)", mix_lines / mix_secs);
    let broken: Vec<String> = HL_FIXTURES
        .iter()
        .flat_map(|text| text.lines())
        .filter(|line| line.len() > 40)
        .map(|line| format!("{}\u{0}{}", &line[..30], &line[30..]))
        .collect();
    let broken: Vec<&str> = broken.iter().map(String::as_str).collect();
    let unreadable = parse_rate(LogFormat::Hl, &[&broken.join("\n")]);
    println!(
        "{:>22} {:>14.0} {:>12}",
        "unreadable HL lines",
        unreadable.lines as f64 / unreadable.secs,
        unreadable.events
    );

    guildhall::db::create_database_if_missing(&url).await?;
    let pool = guildhall::db::connect(&url).await?;
    guildhall::db::migrate(&pool).await?;
    truncate(&pool).await?;
    sqlx::query("delete from app.game_servers where name = 'Bench CS2'")
        .execute(&pool)
        .await?;
    sqlx::query(
        "insert into app.game_servers (name, game, host, log_source, ingest_token)
         values ('Bench CS2', 'cs2', '127.0.0.1', 'none', repeat('b', 32))",
    )
    .execute(&pool)
    .await?;

    let unreadable_lines: usize = std::env::var("BENCH_UNREADABLE_LINES")
        .ok()
        .map(|v| v.parse().context("BENCH_UNREADABLE_LINES must be a number"))
        .transpose()?
        .unwrap_or(1_000_000);
    let folder = std::env::temp_dir().join(format!("guildhall-bench-logs-{}", std::process::id()));
    let config = Config::from_figment(
        Config::defaults_figment()
            .merge(Serialized::default("demo", false))
            .merge(Serialized::default("timezone", "UTC")),
    )?;
    let unreadable = unreadable_vs_readable(&pool, &config, &folder, unreadable_lines).await;
    let _ = std::fs::remove_dir_all(&folder);
    unreadable?;
    truncate(&pool).await?;

    let started = Instant::now();
    let (files, bytes) = write_folder(&folder, import_mb << 20)?;
    println!(
        "\nimport: {} files, {:.0} MB of HL logs written in {:.1} s",
        files.len(),
        bytes as f64 / f64::from(1 << 20),
        started.elapsed().as_secs_f64()
    );
    let metrics = Metrics::new();
    let outcome = async {
        let started = Instant::now();
        let first =
            guildhall::game_servers::import_logs(&pool, &config, &metrics, "Bench CS2", &files, None)
                .await?;
        let first_secs = started.elapsed().as_secs_f64();
        let started = Instant::now();
        let again =
            guildhall::game_servers::import_logs(&pool, &config, &metrics, "Bench CS2", &files, None)
                .await?;
        let again_secs = started.elapsed().as_secs_f64();
        anyhow::ensure!(again.stored == 0, "the second import stored {}", again.stored);
        anyhow::ensure!(
            again.duplicates == first.stored,
            "the second import saw {} of {} stored lines",
            again.duplicates,
            first.stored
        );
        println!(
            "{:>22} {:>9} {:>12} {:>12} {:>10} {:>12}",
            "import", "seconds", "MB/s", "lines/s", "stored", "events/s"
        );
        for (name, report, secs) in [
            ("first (all new)", first, first_secs),
            ("again (all stored)", again, again_secs),
        ] {
            println!(
                "{name:>22} {secs:>9.1} {:>12.1} {:>12.0} {:>10} {:>12.0}",
                report.bytes as f64 / f64::from(1 << 20) / secs,
                report.lines as f64 / secs,
                report.stored,
                (report.stored + report.duplicates) as f64 / secs
            );
        }
        let pipeline = Pipeline::new(pool.clone(), chrono_tz::UTC, Metrics::new());
        let started = Instant::now();
        let reports = pipeline.run_all(Trigger::Manual).await?;
        let secs = started.elapsed().as_secs_f64();
        let sessions: i64 = sqlx::query_scalar("select count(*) from silver.fact_game_sessions")
            .fetch_one(&pool)
            .await?;
        let hours: i64 = sqlx::query_scalar("select count(*) from gold.server_utilization")
            .fetch_one(&pool)
            .await?;
        let slowest = reports
            .iter()
            .max_by_key(|r| r.duration_ms)
            .map(|r| format!("{} {:.1} s", r.job, r.duration_ms as f64 / 1000.0))
            .unwrap_or_default();
        println!(
            "pipeline over the import: {secs:.1} s ({sessions} game sessions, {hours} server hours; slowest job {slowest})"
        );
        Ok(())
    }
    .await;
    let _ = std::fs::remove_dir_all(&folder);
    if std::env::var_os("BENCH_KEEP").is_none() {
        truncate(&pool).await?;
    }
    outcome
}

/// Imports a file of `lines` unreadable HL lines and one of as many readable ones, each into
/// an empty table, and prints both rates and their ratio.
async fn unreadable_vs_readable(
    pool: &sqlx::PgPool,
    config: &Config,
    folder: &std::path::Path,
    lines: usize,
) -> anyhow::Result<()> {
    std::fs::create_dir_all(folder)?;
    let template: Vec<&str> = HL_FIXTURES[..2]
        .iter()
        .flat_map(|text| text.lines())
        .filter(|line| line.len() > 40 && line.starts_with("L "))
        .collect();
    let first_day = NaiveDate::from_ymd_opt(2021, 1, 1).context("date")?;
    let readable = folder.join("readable.log");
    let unreadable = folder.join("unreadable.log");
    let mut good = std::io::BufWriter::with_capacity(1 << 20, std::fs::File::create(&readable)?);
    let mut bad = std::io::BufWriter::with_capacity(1 << 20, std::fs::File::create(&unreadable)?);
    let (mut written, mut copy) = (0, 0i64);
    'files: loop {
        let date = (first_day + Duration::days(copy))
            .format("%m/%d/%Y")
            .to_string();
        for (i, line) in template.iter().enumerate() {
            if written == lines {
                break 'files;
            }
            // "L 11/24/2019 - 21:43:38: …": the date moved to this copy's day.
            let line = format!("L {date}{}", &line[12..]);
            writeln!(good, "{line}")?;
            // The same line with a NUL byte or a byte that is not UTF-8 in its body.
            let mut broken = line.into_bytes();
            broken.insert(30, if i % 2 == 0 { 0x00 } else { 0xff });
            bad.write_all(&broken)?;
            bad.write_all(b"\n")?;
            written += 1;
        }
        copy += 1;
    }
    good.flush()?;
    bad.flush()?;
    drop((good, bad));
    println!("\nunreadable lines: {lines} HL lines per file, each imported into an empty table");
    println!(
        "{:>22} {:>9} {:>12} {:>12} {:>10} {:>10}",
        "file", "seconds", "MB/s", "lines/s", "stored", "unparsed"
    );
    let mut rates = Vec::new();
    for (name, file) in [("readable", &readable), ("unreadable", &unreadable)] {
        truncate(pool).await?;
        let started = Instant::now();
        let report = guildhall::game_servers::import_logs(
            pool,
            config,
            &Metrics::new(),
            "Bench CS2",
            std::slice::from_ref(file),
            None,
        )
        .await?;
        let secs = started.elapsed().as_secs_f64().max(1e-9);
        anyhow::ensure!(report.lines == lines as u64, "{name}: {report:?}");
        if name == "unreadable" {
            anyhow::ensure!(
                report.unparsed == lines as u64 && report.stored == lines as u64,
                "every unreadable line is kept: {report:?}"
            );
        }
        let rate = report.lines as f64 / secs;
        println!(
            "{name:>22} {secs:>9.1} {:>12.1} {rate:>12.0} {:>10} {:>10}",
            report.bytes as f64 / f64::from(1 << 20) / secs,
            report.stored,
            report.unparsed
        );
        rates.push(rate);
    }
    println!(
        "{:>22} {:.2} (target ≥ 0.5)",
        "unreadable / readable",
        rates[1] / rates[0]
    );
    Ok(())
}

struct Rate {
    lines: usize,
    events: usize,
    secs: f64,
}

/// Decodes the fixtures' lines, over and over, until `PARSE_LINES` lines were read.
fn parse_rate(format: LogFormat, fixtures: &[&str]) -> Rate {
    let lines: Vec<&str> = fixtures.iter().flat_map(|text| text.lines()).collect();
    let day = NaiveDate::from_ymd_opt(2026, 1, 19).unwrap_or_default();
    let modified = Utc
        .with_ymd_and_hms(2026, 1, 20, 0, 0, 0)
        .single()
        .unwrap_or_default();
    let mut decoder = LineDecoder::new(1, format, chrono_tz::Europe::Berlin, day, modified);
    let mut events = 0;
    let mut read = 0;
    let started = Instant::now();
    while read < PARSE_LINES {
        for line in &lines {
            if decoder.decode(line).is_some() {
                events += 1;
            }
        }
        read += lines.len();
    }
    Rate {
        lines: read,
        events,
        secs: started.elapsed().as_secs_f64().max(1e-9),
    }
}

/// Writes copies of the HL match logs, each on a day of its own (so no line repeats), in
/// files of about 32 MB, until `target` bytes; returns the files and the bytes written.
fn write_folder(folder: &PathBuf, target: u64) -> anyhow::Result<(Vec<PathBuf>, u64)> {
    std::fs::create_dir_all(folder)?;
    let template: Vec<&str> = HL_FIXTURES[..2]
        .iter()
        .flat_map(|text| text.lines())
        .filter(|line| line.len() > 12 && line.starts_with("L "))
        .collect();
    let first_day = NaiveDate::from_ymd_opt(2020, 1, 1).context("date")?;
    let mut files = Vec::new();
    let mut written = 0u64;
    let mut copy = 0i64;
    while written < target {
        let path = folder.join(format!("L{:04}.log", files.len()));
        let mut out = std::io::BufWriter::with_capacity(1 << 20, std::fs::File::create(&path)?);
        let mut in_file = 0u64;
        while in_file < 32 << 20 && written + in_file < target {
            let date = (first_day + Duration::days(copy))
                .format("%m/%d/%Y")
                .to_string();
            for line in &template {
                // "L 11/24/2019 - 21:43:38: …": the date moved to this copy's day.
                writeln!(out, "L {date}{}", &line[12..])?;
                in_file += line.len() as u64 + 1;
            }
            copy += 1;
        }
        out.flush()?;
        written += in_file;
        files.push(path);
    }
    Ok((files, written))
}
