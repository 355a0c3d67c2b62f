//! Shared test peers for the server's integration tests.

// Each test binary uses a different part of the support code.
#![allow(dead_code)]

pub mod bot;
pub mod discord;
pub mod fake_discord;
pub mod pipeline;
// The same cuttable TCP proxy the collectors' tests use, from one place.
#[path = "../../../collectors/tests/support/mod.rs"]
pub mod proxy;

/// The PostgreSQL server the tests use (`DATABASE_URL` without its database).
pub fn server_url() -> String {
    std::env::var("DATABASE_URL")
        .ok()
        .and_then(|url| url.rsplit_once('/').map(|(base, _)| base.to_owned()))
        .unwrap_or_else(|| "postgres://postgres@127.0.0.1:5432".into())
}

/// Drops a database the test created (force: the binary under test may still hold it).
pub fn drop_database(name: &str) {
    let _ = std::process::Command::new("psql")
        .args([&format!("{}/postgres", server_url()), "-qc"])
        .arg(format!("drop database if exists {name} with (force)"))
        .output();
}
