//! Static checks of the deployment files (no Docker engine runs here): the compose file
//! wires Guildhall to TimescaleDB with health checks, takes every secret from `.env`, and
//! uses only settings the README documents.

use serde_json::{Map, Value};
use std::collections::BTreeSet;

fn read(path: &str) -> String {
    let full = format!("{}/../{path}", env!("CARGO_MANIFEST_DIR"));
    std::fs::read_to_string(&full).unwrap_or_else(|e| panic!("cannot read {full}: {e}"))
}

fn compose() -> Value {
    serde_saphyr::from_str(&read("docker-compose.yml")).expect("docker-compose.yml is valid YAML")
}

fn env_of<'a>(compose: &'a Value, service: &str) -> &'a Map<String, Value> {
    compose["services"][service]["environment"]
        .as_object()
        .unwrap_or_else(|| panic!("{service} has an environment mapping"))
}

/// Every `${NAME…}` reference in a text.
fn references(text: &str) -> BTreeSet<String> {
    let pattern = regex::Regex::new(r"\$\{([A-Z_][A-Z0-9_]*)").expect("regex");
    pattern
        .captures_iter(text)
        .map(|c| c[1].to_owned())
        .collect()
}

#[test]
fn guildhall_waits_for_a_healthy_timescaledb() {
    let compose = compose();
    let services = compose["services"].as_object().expect("services");
    let names: BTreeSet<_> = services.keys().map(String::as_str).collect();
    assert_eq!(names, BTreeSet::from(["guildhall", "timescaledb"]));
    assert_eq!(
        compose["services"]["guildhall"]["depends_on"]["timescaledb"]["condition"].as_str(),
        Some("service_healthy")
    );
    let url = env_of(&compose, "guildhall")
        .get("DATABASE_URL")
        .and_then(Value::as_str)
        .expect("DATABASE_URL");
    assert!(url.contains("@timescaledb:5432/"), "{url}");
}

#[test]
fn every_service_has_a_health_check() {
    let compose = compose();
    for (name, service) in compose["services"].as_object().expect("services") {
        let test = &service["healthcheck"]["test"];
        assert!(test.is_array(), "{name:?} has no health check");
    }
    let guildhall_check = format!(
        "{:?}",
        compose["services"]["guildhall"]["healthcheck"]["test"]
    );
    assert!(guildhall_check.contains("/healthz"), "{guildhall_check}");
}

#[test]
fn secrets_come_from_the_env_file_and_are_documented_there() {
    let compose_text = read("docker-compose.yml");
    let compose = compose();
    for secret in ["DISCORD_CLIENT_SECRET", "DISCORD_BOT_TOKEN"] {
        let value = env_of(&compose, "guildhall")
            .get(secret)
            .and_then(Value::as_str)
            .expect(secret);
        assert!(
            value.starts_with("${"),
            "{secret} must come from .env, not be written in"
        );
    }
    let password = env_of(&compose, "timescaledb")
        .get("POSTGRES_PASSWORD")
        .and_then(Value::as_str)
        .expect("POSTGRES_PASSWORD");
    assert!(password.starts_with("${POSTGRES_PASSWORD"), "{password}");
    let example = read(".env.example");
    for name in references(&compose_text) {
        assert!(
            example.contains(&format!("{name}=")),
            "{name} is missing from .env.example"
        );
    }
}

#[test]
fn every_setting_the_compose_file_uses_is_in_the_readme() {
    let compose = compose();
    let readme = read("README.md");
    for key in env_of(&compose, "guildhall").keys() {
        assert!(
            readme.contains(&format!("`{key}`")),
            "{key} is not documented in README.md"
        );
    }
}

#[test]
fn the_image_pins_the_same_wasm_bindgen_as_the_workspace() {
    let cargo = read("Cargo.toml");
    let pinned = regex::Regex::new(r#"wasm-bindgen = "=([0-9.]+)""#)
        .expect("regex")
        .captures(&cargo)
        .map(|c| c[1].to_owned())
        .expect("wasm-bindgen is pinned");
    assert!(read("Dockerfile").contains(&format!("wasm-bindgen-cli --version {pinned}")));
}

#[test]
fn the_repository_tracks_no_links_and_no_build_outputs() {
    // A committed link to a path on one machine broke `make run` on every fresh clone.
    let root = format!("{}/..", env!("CARGO_MANIFEST_DIR"));
    let output = std::process::Command::new("git")
        .args(["-C", &root, "ls-files", "-s"])
        .output()
        .expect("git runs");
    assert!(output.status.success(), "git ls-files failed");
    let listing = String::from_utf8_lossy(&output.stdout);
    assert!(
        listing.lines().count() > 50,
        "not the whole tree: {listing}"
    );
    for line in listing.lines() {
        let (meta, path) = line
            .split_once('\t')
            .expect("mode, object, stage, tab, path");
        assert!(
            !meta.starts_with("120000"),
            "a symbolic link is tracked: {path}"
        );
        let outputs = [
            "target",
            "node_modules",
            "test-results",
            "playwright-report",
        ];
        assert!(
            !path.split('/').any(|part| outputs.contains(&part)),
            "a build output is tracked: {path}"
        );
    }
}
