//! The binary as an operator meets it: bad configuration stops start-up with one clear
//! message naming the setting (never a panic), and the subcommands do their job.

use std::process::{Command, Output};

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
    assert!(text.contains("cannot connect to PostgreSQL at"), "{text}");
    assert!(
        text.contains("postgres://guildhall:***@127.0.0.1:1/guildhall"),
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
    let db = format!(
        "{}/guildhall_cli_test",
        std::env::var("DATABASE_URL")
            .ok()
            .and_then(|url| url.rsplit_once('/').map(|(base, _)| base.to_owned()))
            .unwrap_or_else(|| "postgres://postgres@127.0.0.1:5432".into())
    );
    let output = guildhall(&["run-job", "nope"], &[("DATABASE_URL", &db)]);
    let text = stderr_and_stdout(&output);
    assert_eq!(output.status.code(), Some(1), "{text}");
    assert!(
        text.contains("unknown job 'nope'; jobs are: voice_sessions, daily_active_users, or all"),
        "{text}"
    );
}
