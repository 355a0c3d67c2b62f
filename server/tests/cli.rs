//! The binary as an operator meets it: bad configuration stops start-up with one clear
//! message naming the setting (never a panic), and the subcommands do their job.

mod support;

use std::process::{Command, Output};
use support::{drop_database, server_url};

fn guildhall(args: &[&str], env: &[(&str, &str)]) -> Output {
    let mut command = Command::new(env!("CARGO_BIN_EXE_guildhall"));
    command
        .args(args)
        .env_remove("DATABASE_URL")
        .env("RUST_LOG", "info");
    for (key, value) in env {
        command.env(key, value);
    }
    // Run where no guildhall.toml is lying around.
    command.current_dir(std::env::temp_dir());
    command.output().expect("the binary runs")
}

fn stderr_and_stdout(output: &Output) -> String {
    format!(
        "{}{}",
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr)
    )
}

#[test]
fn a_malformed_admin_id_names_the_setting_and_exits_with_failure() {
    let output = guildhall(&["migrate"], &[("GUILDHALL_ADMIN_IDS", "12,abc")]);
    let text = stderr_and_stdout(&output);
    assert_eq!(output.status.code(), Some(1), "{text}");
    assert!(text.contains("GUILDHALL_ADMIN_IDS"), "{text}");
    assert!(text.contains("'abc' is not a Discord id"), "{text}");
    assert!(!text.contains("panicked"), "{text}");
}

#[test]
fn an_unreachable_database_is_reported_without_its_password() {
    let output = guildhall(
        &["migrate"],
        &[(
            "DATABASE_URL",
            "postgres://guildhall:s3cret-pw@127.0.0.1:1/guildhall",
        )],
    );
    let text = stderr_and_stdout(&output);
    assert_eq!(output.status.code(), Some(1), "{text}");
    assert!(
        text.contains(
            "cannot connect to the database server at DATABASE_URL=postgres://guildhall:***@127.0.0.1:1/guildhall"
        ),
        "{text}"
    );
    assert!(!text.contains("s3cret-pw"), "the password leaked: {text}");
    assert!(!text.contains("panicked"), "{text}");
}

#[test]
fn a_missing_config_file_is_named() {
    let output = guildhall(&["--config", "/nonexistent/guildhall.toml", "migrate"], &[]);
    let text = stderr_and_stdout(&output);
    assert_eq!(output.status.code(), Some(1), "{text}");
    assert!(
        text.contains("configuration file /nonexistent/guildhall.toml does not exist"),
        "{text}"
    );
}

#[test]
fn an_unknown_job_lists_the_jobs() {
    let name = format!("guildhall_cli_job_{}", std::process::id());
    let db = format!("{}/{name}", server_url());
    let output = guildhall(&["run-job", "nope"], &[("DATABASE_URL", &db)]);
    drop_database(&name);
    let text = stderr_and_stdout(&output);
    assert_eq!(output.status.code(), Some(1), "{text}");
    assert!(
        text.contains("unknown job 'nope'; jobs are: voice_sessions, chat_daily, members, game_log_sessions, link_codes, game_status_sessions, activity_daily, server_utilization, daily_active_users, retention_cohorts, discord_comparable, member_sources, member_growth, funnel, presence_hours, identity_review, events, or all"),
        "{text}"
    );
}

#[test]
fn migrate_creates_a_missing_database_and_a_second_run_changes_nothing() {
    let name = format!("guildhall_cli_create_{}", std::process::id());
    drop_database(&name);
    let url = format!("{}/{name}", server_url());
    let first = guildhall(&["migrate"], &[("DATABASE_URL", &url)]);
    let text = stderr_and_stdout(&first);
    assert_eq!(first.status.code(), Some(0), "{text}");
    assert!(
        text.contains(&format!("created database database={name}")),
        "{text}"
    );
    let second = guildhall(&["migrate"], &[("DATABASE_URL", &url)]);
    let text = stderr_and_stdout(&second);
    assert_eq!(second.status.code(), Some(0), "{text}");
    assert!(!text.contains("created database"), "{text}");
    drop_database(&name);
}

#[test]
fn serve_stops_cleanly_on_sigterm() {
    let name = format!("guildhall_cli_serve_{}", std::process::id());
    drop_database(&name);
    let url = format!("{}/{name}", server_url());
    let child = Command::new(env!("CARGO_BIN_EXE_guildhall"))
        .arg("serve")
        .env("DATABASE_URL", &url)
        .env("GUILDHALL_BIND", "127.0.0.1:0")
        .env("GUILDHALL_METRICS_BIND", "")
        .env("RUST_LOG", "info")
        .current_dir(std::env::temp_dir())
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .expect("serve starts");
    // Wait until it serves (it logs once the listener is bound).
    let mut waited = 0;
    loop {
        std::thread::sleep(std::time::Duration::from_millis(100));
        waited += 100;
        let ready = Command::new("psql")
            .args([&url, "-tAc", "select count(*) from app.pipeline_runs"])
            .output()
            .is_ok_and(|o| {
                String::from_utf8_lossy(&o.stdout)
                    .trim()
                    .parse::<i64>()
                    .unwrap_or(0)
                    > 0
            });
        if ready || waited > 20_000 {
            break;
        }
    }
    let killed = Command::new("kill")
        .args(["-TERM", &child.id().to_string()])
        .status()
        .expect("kill runs");
    assert!(killed.success());
    let output = child.wait_with_output().expect("serve ends");
    let text = stderr_and_stdout(&output);
    assert_eq!(output.status.code(), Some(0), "{text}");
    assert!(text.contains("Guildhall is serving"), "{text}");
    assert!(text.contains("shutting down"), "{text}");
    drop_database(&name);
}

#[test]
fn a_configuration_file_that_is_not_toml_is_named() {
    let file = std::env::temp_dir().join(format!("guildhall-bad-{}.toml", std::process::id()));
    std::fs::write(&file, "timezone = \"Europe/Berlin\nbind = 3000\n").expect("write file");
    let output = guildhall(&["--config", file.to_str().expect("path"), "migrate"], &[]);
    let text = stderr_and_stdout(&output);
    assert_eq!(output.status.code(), Some(1), "{text}");
    // Figment prints the path relative to the working directory.
    let name = file
        .file_name()
        .expect("name")
        .to_string_lossy()
        .into_owned();
    assert!(text.contains("invalid configuration in "), "{text}");
    assert!(
        text.contains(&format!("{name}: TOML parse error")),
        "{text}"
    );
    std::fs::remove_file(&file).ok();
}

#[test]
fn a_setting_of_the_wrong_type_in_the_file_names_its_environment_variable() {
    let file = std::env::temp_dir().join(format!("guildhall-type-{}.toml", std::process::id()));
    std::fs::write(&file, "[pipeline]\ninterval_secs = \"often\"\n").expect("write file");
    let output = guildhall(&["--config", file.to_str().expect("path"), "migrate"], &[]);
    let text = stderr_and_stdout(&output);
    assert_eq!(output.status.code(), Some(1), "{text}");
    assert!(
        text.contains("invalid setting GUILDHALL_PIPELINE__INTERVAL_SECS"),
        "{text}"
    );
    std::fs::remove_file(&file).ok();
}

#[test]
fn collect_runs_the_collectors_on_their_own_and_reports_them_in_the_database() {
    let name = format!("guildhall_cli_collect_{}", std::process::id());
    drop_database(&name);
    let url = format!("{}/{name}", server_url());
    let child = Command::new(env!("CARGO_BIN_EXE_guildhall"))
        .arg("collect")
        .env("DATABASE_URL", &url)
        .env("RUST_LOG", "info")
        .env_remove("DISCORD_BOT_TOKEN")
        .current_dir(std::env::temp_dir())
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .expect("collect starts");
    // Without a token the bot is off, and says so where the web app reads it.
    let mut state = String::new();
    for _ in 0..200 {
        std::thread::sleep(std::time::Duration::from_millis(100));
        let output = Command::new("psql")
            .args([
                &url,
                "-tAc",
                "select state from app.collector_status where collector = 'discord'",
            ])
            .output();
        if let Ok(output) = output {
            state = String::from_utf8_lossy(&output.stdout).trim().to_owned();
            if !state.is_empty() {
                break;
            }
        }
    }
    let killed = Command::new("kill")
        .args(["-TERM", &child.id().to_string()])
        .status()
        .expect("kill runs");
    assert!(killed.success());
    let output = child.wait_with_output().expect("collect ends");
    let text = stderr_and_stdout(&output);
    assert_eq!(state, "off", "{text}");
    assert_eq!(output.status.code(), Some(0), "{text}");
    assert!(text.contains("collectors are running"), "{text}");
    assert!(
        !text.contains("Guildhall is serving"),
        "collect serves no web app: {text}"
    );
    drop_database(&name);
}
