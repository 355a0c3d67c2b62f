//! The supply-chain check `make audit` runs (`scripts/audit.sh`: cargo-deny against the RustSec
//! advisory database snapshot, offline): it passes on the project's Cargo.lock, fails on a lock
//! file naming a crate release with known advisories, says clearly when the snapshot is
//! missing, and every advisory it is told to ignore carries a reason.
//!
//! Needs cargo-deny (`scripts/setup.sh --audit`, which `make test` runs) and the snapshot in
//! `../shared/advisory-db` (or `ADVISORY_DB`).

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};
use std::process::{Command, Output};

fn repo() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .expect("the server crate sits in the repository")
        .to_path_buf()
}

/// Runs `scripts/audit.sh` on a project folder (Cargo.toml + Cargo.lock).
fn audit(project: &Path, advisory_db: Option<&Path>) -> Output {
    let mut command = Command::new(repo().join("scripts/audit.sh"));
    command.arg(project);
    if let Some(db) = advisory_db {
        command.env("ADVISORY_DB", db);
    }
    command.output().expect("scripts/audit.sh runs")
}

fn text(output: &Output) -> String {
    format!(
        "{}{}",
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr)
    )
}

/// The advisory ids cargo-deny reported (its `├ ID: RUSTSEC-…` lines).
fn reported_ids(output: &str) -> BTreeSet<String> {
    let id = regex::Regex::new(r"ID: (RUSTSEC-\d{4}-\d{4})").expect("regex");
    id.captures_iter(output).map(|c| c[1].to_owned()).collect()
}

/// A fresh empty folder under the system's temporary directory.
fn scratch(name: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(format!("guildhall-{name}-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).expect("temporary folder");
    dir
}

fn write(path: PathBuf, contents: &str) {
    std::fs::create_dir_all(path.parent().expect("a parent folder")).expect("folder");
    std::fs::write(&path, contents).expect("write fixture file");
}

/// rustls-webpki 0.102.8: the release serenity 0.12.5 brought in through tokio-tungstenite
/// 0.21 before the `[patch]`, with its real crates.io checksum.
const ADVISED_CRATE: &str = "rustls-webpki";
const ADVISED_VERSION: &str = "0.102.8";
const ADVISED_CHECKSUM: &str = "64ca1bc8749bd4cf37b5ce386cc146580777b4e8572c7b97baf22c83f444bee9";

/// A one-crate project whose Cargo.lock names `ADVISED_CRATE` `ADVISED_VERSION` from crates.io.
/// So that cargo resolves it offline, crates.io is replaced by a local folder holding an empty
/// crate of that name, version and checksum (the check reads names, versions and sources,
/// never the code).
fn project_locking_an_advised_release() -> PathBuf {
    let dir = scratch("advised-lock");
    write(
        dir.join("Cargo.toml"),
        &format!(
            "[package]\nname = \"advised-lock\"\nversion = \"0.1.0\"\nedition = \"2021\"\n\
             publish = false\n\n[dependencies]\n{ADVISED_CRATE} = \"={ADVISED_VERSION}\"\n\n\
             [workspace]\n"
        ),
    );
    write(dir.join("src/lib.rs"), "");
    write(
        dir.join("Cargo.lock"),
        &format!(
            "version = 4\n\n[[package]]\nname = \"advised-lock\"\nversion = \"0.1.0\"\n\
             dependencies = [\n \"{ADVISED_CRATE}\",\n]\n\n[[package]]\nname = \"{ADVISED_CRATE}\"\n\
             version = \"{ADVISED_VERSION}\"\n\
             source = \"registry+https://github.com/rust-lang/crates.io-index\"\n\
             checksum = \"{ADVISED_CHECKSUM}\"\n"
        ),
    );
    write(
        dir.join(".cargo/config.toml"),
        "[source.crates-io]\nreplace-with = \"fixture\"\n\n[source.fixture]\ndirectory = \"vendor\"\n",
    );
    let vendored = dir.join("vendor").join(ADVISED_CRATE);
    write(
        vendored.join("Cargo.toml"),
        &format!(
            "[package]\nname = \"{ADVISED_CRATE}\"\nversion = \"{ADVISED_VERSION}\"\nedition = \"2021\"\n"
        ),
    );
    write(vendored.join("src/lib.rs"), "");
    write(
        vendored.join(".cargo-checksum.json"),
        &format!("{{\"files\":{{}},\"package\":\"{ADVISED_CHECKSUM}\"}}"),
    );
    dir
}

#[test]
fn the_projects_lock_file_has_no_known_advisory() {
    let output = audit(&repo(), None);
    let text = text(&output);
    assert_eq!(output.status.code(), Some(0), "{text}");
    assert!(text.contains("advisories ok"), "{text}");
    assert_eq!(reported_ids(&text), BTreeSet::new(), "{text}");
}

#[test]
fn a_lock_file_with_an_advised_release_fails_the_check_and_names_each_advisory() {
    let project = project_locking_an_advised_release();
    let output = audit(&project, None);
    let text = text(&output);
    assert_eq!(output.status.code(), Some(1), "{text}");
    assert!(text.contains("advisories FAILED"), "{text}");
    assert!(
        text.contains(&format!("{ADVISED_CRATE} {ADVISED_VERSION} registry+")),
        "{text}"
    );
    // Every advisory of the snapshot that affects 0.102.8; RUSTSEC-2023-0053 was fixed in
    // 0.101.4 and is not among them.
    let expected: BTreeSet<String> = [
        "RUSTSEC-2026-0049",
        "RUSTSEC-2026-0098",
        "RUSTSEC-2026-0099",
        "RUSTSEC-2026-0104",
    ]
    .map(String::from)
    .into();
    assert_eq!(reported_ids(&text), expected, "{text}");
    std::fs::remove_dir_all(project).expect("remove the fixture");
}

#[test]
fn a_missing_snapshot_is_reported_as_such() {
    let nowhere = scratch("no-advisory-db").join("advisory-db");
    let output = audit(&repo(), Some(&nowhere));
    let text = text(&output);
    assert_eq!(output.status.code(), Some(2), "{text}");
    assert!(
        text.contains(&format!(
            "audit: no RustSec advisory database snapshot at {}",
            nowhere.display()
        )),
        "{text}"
    );
    assert!(text.contains("set ADVISORY_DB"), "{text}");
}

#[test]
fn every_ignored_advisory_exists_in_the_snapshot_and_has_a_reason() {
    let config: toml::Table = std::fs::read_to_string(repo().join("deny.toml"))
        .expect("deny.toml")
        .parse()
        .expect("deny.toml is TOML");
    let ignore = config["advisories"]["ignore"]
        .as_array()
        .expect("advisories.ignore is a list");
    let db = std::env::var_os("ADVISORY_DB")
        .map(PathBuf::from)
        .unwrap_or_else(|| repo().join("../shared/advisory-db"));
    for entry in ignore {
        let id = entry["id"].as_str().expect("each ignore entry has an id");
        let reason = entry
            .get("reason")
            .and_then(toml::Value::as_str)
            .unwrap_or_default();
        assert!(
            reason.len() >= 40,
            "{id}: the reason must say why: {reason:?}"
        );
        let known = std::fs::read_dir(db.join("crates"))
            .expect("the snapshot's crates folder")
            .filter_map(Result::ok)
            .any(|krate| krate.path().join(format!("{id}.md")).is_file());
        assert!(known, "{id} is not an advisory of the snapshot");
    }
}

/// The `[patch]` that replaced serenity's tokio-tungstenite 0.21 must leave the bot a TLS
/// backend: serenity's gateway client, given a `wss://` URL (as Discord's gateway is), opens
/// the connection with a TLS ClientHello that names the host (SNI). The listener here reads
/// that ClientHello and hangs up, so the connection itself fails.
#[tokio::test]
async fn the_bots_gateway_client_opens_wss_urls_with_tls() {
    use serenity::gateway::Shard;
    use serenity::model::gateway::{GatewayIntents, ShardInfo};
    use serenity::model::id::ShardId;
    use tokio::io::AsyncReadExt;

    let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .expect("bind");
    let port = listener.local_addr().expect("address").port();
    let first_record = tokio::spawn(async move {
        let (mut stream, _) = listener.accept().await.expect("the client connects");
        let mut header = [0u8; 5];
        stream
            .read_exact(&mut header)
            .await
            .expect("a record header");
        let length = usize::from(u16::from_be_bytes([header[3], header[4]]));
        let mut body = vec![0u8; length];
        stream.read_exact(&mut body).await.expect("the record");
        (header, body)
    });

    let url = std::sync::Arc::new(tokio::sync::Mutex::new(format!("wss://localhost:{port}")));
    let connected = tokio::time::timeout(
        std::time::Duration::from_secs(10),
        Shard::new(
            url,
            "not-a-token",
            ShardInfo {
                id: ShardId(0),
                total: 1,
            },
            GatewayIntents::GUILDS,
            None,
        ),
    )
    .await
    .expect("the client gives up once the listener hangs up");
    assert!(
        connected.is_err(),
        "no TLS server answered, yet it connected"
    );

    let (header, body) = first_record.await.expect("listener task");
    assert_eq!(header[0], 0x16, "a TLS handshake record, not plain HTTP");
    assert_eq!(body[0], 0x01, "the handshake is a ClientHello");
    assert!(
        body.windows(b"localhost".len()).any(|w| w == b"localhost"),
        "the ClientHello names the host (SNI)"
    );
}
