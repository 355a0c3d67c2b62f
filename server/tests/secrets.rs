//! Secrets at rest: game server passwords and SFTP keys are stored sealed with
//! `GUILDHALL_SECRET_KEY`, log tokens only as their hash; start-up refuses a missing or
//! wrong key naming the server; clear passwords and tokens of earlier versions are sealed
//! and hashed without losing one; `guildhall secrets rotate` re-seals everything; and a
//! real `pg_dump` of a database with every kind of secret holds none of them in clear.

mod support;

use collectors::game::server_settings::{
    Field, FieldError, Problem, SaveError, SecretChange, SecretsCheckError, ServerForm,
    create_server, prepare_secrets, update_server,
};
use collectors::game::servers::{
    GameServer, LoadError, load_servers, server_by_token, settings_by_name,
};
use collectors::game::sftp::{open_private_key, private_key_text};
use collectors::secrets::{SecretError, SecretKey};
use collectors::testing::fake_sftp::FakeSftp;
use sqlx::PgPool;
use std::path::{Path, PathBuf};
use std::process::{Command, Output};
use support::server_url;

/// The clear columns of a game server row (RCON and SFTP passwords, the token) and its
/// token hash.
type ClearColumns = (Option<String>, Option<String>, Option<String>, Vec<u8>);

const KEY_A: &str = "q83vEjRWeJCrze8SNFZ4kKvN7xI0VniQq83vEjRWeJA=";
const KEY_B: &str = "3q2+7wEjRWeJq83vASNFZ4mrze8BI0VniavN7wEjRWc=";

fn key(text: &str) -> SecretKey {
    SecretKey::parse(text).expect("a key")
}

/// The database of a `#[sqlx::test]`, as a URL for the binary and `pg_dump`.
async fn database_url(pool: &PgPool) -> String {
    let name: String = sqlx::query_scalar("select current_database()")
        .fetch_one(pool)
        .await
        .expect("name");
    format!("{}/{name}", server_url())
}

/// Runs the real binary with `env` (and nothing of the caller's Guildhall settings).
async fn guildhall(db: &str, args: &[&str], env: &[(&str, &str)]) -> Output {
    let mut command = Command::new(env!("CARGO_BIN_EXE_guildhall"));
    command
        .args(args)
        .env_remove("GUILDHALL_SECRET_KEY")
        .env_remove("GUILDHALL_RCON_PASSWORD")
        .env_remove("GUILDHALL_SFTP_PASSWORD")
        .env_remove("GUILDHALL_SFTP_KEY_PASSPHRASE")
        .env("DATABASE_URL", db)
        .env("RUST_LOG", "info")
        .env("GUILDHALL_PUBLIC_URL", "https://stats.example.org")
        .current_dir(std::env::temp_dir());
    for (name, value) in env {
        command.env(name, value);
    }
    tokio::task::spawn_blocking(move || command.output().expect("the binary runs"))
        .await
        .expect("ran")
}

fn text(output: &Output) -> String {
    format!(
        "{}{}",
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr)
    )
}

/// A temporary folder with a `logs` folder in it, removed on drop.
struct TempDir(PathBuf);

impl TempDir {
    fn new(what: &str) -> Self {
        let dir = std::env::temp_dir().join(format!(
            "guildhall-secrets-{what}-{:016x}",
            rand::random::<u64>()
        ));
        std::fs::create_dir_all(dir.join("logs")).expect("folder");
        Self(dir)
    }
}

impl Drop for TempDir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

/// An ed25519 key file made by the real `ssh-keygen`, protected by `passphrase`.
fn ssh_keygen(dir: &Path, passphrase: &str) -> PathBuf {
    let path = dir.join("id_ed25519");
    let status = Command::new("ssh-keygen")
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
    path
}

/// The lines of a PEM-like block that carry key material (not the BEGIN/END lines).
fn key_lines(text: &str) -> Vec<String> {
    text.lines()
        .filter(|line| !line.starts_with("-----") && line.len() >= 16)
        .map(str::to_owned)
        .collect()
}

/// The token in `…/ingest/logs/<token>` of a `servers add` or `regenerate-token` output.
fn token_in(said: &str) -> String {
    let at = said.find("/ingest/logs/").expect("a log URL") + "/ingest/logs/".len();
    said[at..]
        .chars()
        .take_while(char::is_ascii_hexdigit)
        .collect()
}

fn form(name: &str) -> ServerForm {
    ServerForm {
        name: name.into(),
        game: "cs2".into(),
        host: "127.0.0.1".into(),
        poll_interval_secs: 60,
        log_source: "http".into(),
        sftp_port: 22,
        metrics_interval_secs: 30,
        ..ServerForm::default()
    }
}

fn by_name<'a>(servers: &'a [GameServer], name: &str) -> &'a GameServer {
    servers.iter().find(|s| s.name == name).expect("the server")
}

#[sqlx::test(migrator = "guildhall::db::MIGRATOR")]
async fn servers_add_seals_passwords_and_a_key_and_a_pg_dump_holds_none_of_them_in_clear(
    pool: PgPool,
) {
    let db = database_url(&pool).await;
    let dir = TempDir::new("dump");
    let passphrase = "pass phrase of the key 7361";
    let key_file = ssh_keygen(&dir.0, passphrase);
    let key_text = std::fs::read_to_string(&key_file).expect("key file");
    // What is kept is the key opened (without its passphrase), sealed: neither the file's
    // lines nor the opened key's lines may show.
    let private = open_private_key(&key_text, Some(passphrase)).expect("opens");
    let opened = private_key_text(&private).expect("text");
    let public = private.public_key().clone();
    let keyed = FakeSftp::start_with_key(dir.0.clone(), "keylogs", None, public)
        .await
        .expect("fake SFTP with a key");
    let sftp_password = "sftp-password-9f8e7d6c";
    let with_password = FakeSftp::start(dir.0.clone(), "pwlogs", sftp_password)
        .await
        .expect("fake SFTP with a password");
    let rcon_password = "rcon-password-1a2b3c4d";
    let env = [("GUILDHALL_SECRET_KEY", KEY_A)];

    let added = guildhall(
        &db,
        &[
            "servers",
            "add",
            "--name",
            "Dust",
            "--game",
            "cs2",
            "--host",
            "127.0.0.1",
            "--rcon-password",
            rcon_password,
            "--log-source",
            "http",
        ],
        &env,
    )
    .await;
    let said = text(&added);
    assert_eq!(added.status.code(), Some(0), "{said}");
    assert!(said.contains("added game server Dust (id "), "{said}");
    assert!(said.contains("HTTP log URL (shown only now"), "{said}");
    let token = token_in(&said);
    assert_eq!(token.len(), 64, "{said}");

    let keyed_port = keyed.addr.port().to_string();
    let added = guildhall(
        &db,
        &[
            "servers",
            "add",
            "--name",
            "Keyed",
            "--game",
            "minecraft",
            "--host",
            "127.0.0.1",
            "--log-source",
            "sftp",
            "--log-path",
            "logs",
            "--sftp-port",
            &keyed_port,
            "--sftp-user",
            "keylogs",
            "--sftp-host-key",
            &keyed.fingerprint,
            "--sftp-key-file",
            key_file.to_str().expect("utf-8"),
        ],
        &[
            ("GUILDHALL_SECRET_KEY", KEY_A),
            ("GUILDHALL_SFTP_KEY_PASSPHRASE", passphrase),
        ],
    )
    .await;
    let said = text(&added);
    // `servers add` logged in with the key before storing it.
    assert_eq!(added.status.code(), Some(0), "{said}");
    assert!(said.contains("SFTP: 0 log file(s) in "), "{said}");

    let pw_port = with_password.addr.port().to_string();
    let added = guildhall(
        &db,
        &[
            "servers",
            "add",
            "--name",
            "Survival",
            "--game",
            "minecraft",
            "--host",
            "127.0.0.1",
            "--log-source",
            "sftp",
            "--log-path",
            "logs",
            "--sftp-port",
            &pw_port,
            "--sftp-user",
            "pwlogs",
            "--sftp-host-key",
            &with_password.fingerprint,
        ],
        &[
            ("GUILDHALL_SECRET_KEY", KEY_A),
            ("GUILDHALL_SFTP_PASSWORD", sftp_password),
        ],
    )
    .await;
    assert_eq!(added.status.code(), Some(0), "{}", text(&added));

    // Stored sealed: the collectors open them with the key.
    let servers = load_servers(&pool, Some(&key(KEY_A))).await.expect("load");
    assert_eq!(
        by_name(&servers, "Dust").rcon_password.as_deref(),
        Some(rcon_password)
    );
    assert_eq!(by_name(&servers, "Dust").rcon_port, Some(27015));
    assert_eq!(
        by_name(&servers, "Survival").sftp_password.as_deref(),
        Some(sftp_password)
    );
    assert_eq!(
        by_name(&servers, "Keyed").sftp_key.as_deref(),
        Some(opened.as_str())
    );
    assert_eq!(by_name(&servers, "Keyed").sftp_password, None);
    // The collector's own SFTP login with the stored key works.
    let (target, folder) = by_name(&servers, "Keyed").sftp_target().expect("target");
    collectors::game::sftp::SftpFolder::connect(&target, &folder)
        .await
        .expect("logs in with the stored key")
        .close()
        .await;
    // The log URL printed once works; only its hash is stored.
    let found = server_by_token(&pool, &token).await.expect("lookup");
    assert_eq!(found.map(|s| s.name), Some("Dust".to_owned()));
    assert_eq!(
        server_by_token(&pool, &"0".repeat(64))
            .await
            .expect("lookup"),
        None
    );
    let stored: Vec<ClearColumns> = sqlx::query_as(
        "select rcon_password, sftp_password, ingest_token, ingest_token_hash
             from app.game_servers order by server_id",
    )
    .fetch_all(&pool)
    .await
    .expect("rows");
    assert_eq!(stored.len(), 3);
    assert!(stored.iter().all(|(rcon, sftp, token, hash)| rcon.is_none()
        && sftp.is_none()
        && token.is_none()
        && hash.len() == 32));

    // `servers list` says what is set, never a secret.
    let list = text(&guildhall(&db, &["servers", "list"], &[]).await);
    assert!(list.contains("log token set sftp key set"), "{list}");
    assert!(list.contains("log token set sftp password set"), "{list}");
    for secret in [rcon_password, sftp_password, token.as_str()] {
        assert!(!list.contains(secret), "{secret} in {list}");
    }

    // The real pg_dump of this machine: no secret in clear, whatever the format.
    let dump = Command::new("pg_dump")
        .args(["--no-owner", &db])
        .output()
        .expect("pg_dump runs");
    assert!(dump.status.success(), "{}", text(&dump));
    let dump = String::from_utf8_lossy(&dump.stdout).into_owned();
    assert!(
        dump.contains("COPY app.game_servers"),
        "the table is dumped"
    );
    let mut secrets = vec![
        rcon_password.to_owned(),
        sftp_password.to_owned(),
        passphrase.to_owned(),
        token.clone(),
    ];
    secrets.extend(key_lines(&key_text));
    secrets.extend(key_lines(&opened));
    assert!(secrets.len() > 6);
    for secret in &secrets {
        assert!(!dump.contains(secret.as_str()), "{secret} is in the dump");
    }
    // Nor hex-encoded (how bytea is dumped).
    for secret in [rcon_password, sftp_password, passphrase, token.as_str()] {
        let hex: String = secret.bytes().map(|b| format!("{b:02x}")).collect();
        assert!(!dump.contains(&hex), "{secret} is in the dump as hex");
    }
}

#[sqlx::test(migrator = "guildhall::db::MIGRATOR")]
async fn without_a_key_a_password_is_refused_with_how_to_create_one_and_nothing_is_stored(
    pool: PgPool,
) {
    let db = database_url(&pool).await;
    let refused = guildhall(
        &db,
        &[
            "servers",
            "add",
            "--name",
            "Dust",
            "--game",
            "cs2",
            "--host",
            "127.0.0.1",
            "--rcon-password",
            "rcon-pw",
        ],
        &[],
    )
    .await;
    let said = text(&refused);
    assert_eq!(refused.status.code(), Some(1), "{said}");
    assert!(
        said.contains(
            "passwords and keys are stored encrypted, and GUILDHALL_SECRET_KEY is not set: \
             create a key with `guildhall secrets new-key`, set it as GUILDHALL_SECRET_KEY"
        ),
        "{said}"
    );
    assert!(!said.contains("rcon-pw"), "{said}");
    let count: i64 = sqlx::query_scalar("select count(*) from app.game_servers")
        .fetch_one(&pool)
        .await
        .expect("count");
    assert_eq!(count, 0);
    // A server without secrets needs no key.
    let added = guildhall(
        &db,
        &[
            "servers",
            "add",
            "--name",
            "Dust",
            "--game",
            "cs2",
            "--host",
            "127.0.0.1",
        ],
        &[],
    )
    .await;
    assert_eq!(added.status.code(), Some(0), "{}", text(&added));
    // The key `secrets new-key` prints is one; it needs no database.
    let first = guildhall(
        "postgres://nobody@127.0.0.1:1/none",
        &["secrets", "new-key"],
        &[],
    )
    .await;
    assert_eq!(first.status.code(), Some(0), "{}", text(&first));
    let first = String::from_utf8_lossy(&first.stdout).trim().to_owned();
    assert_eq!(first.len(), 44);
    SecretKey::parse(&first).expect("a key");
    let second = guildhall(&db, &["secrets", "new-key"], &[]).await;
    assert_ne!(String::from_utf8_lossy(&second.stdout).trim(), first);
}

#[sqlx::test(migrator = "guildhall::db::MIGRATOR")]
async fn start_up_refuses_a_missing_or_wrong_key_and_names_the_server(pool: PgPool) {
    let db = database_url(&pool).await;
    let a = key(KEY_A);
    let b = key(KEY_B);
    // Nothing sealed yet: any key, or none, is fine.
    assert_eq!(prepare_secrets(&pool, None).await.expect("ok").checked, 0);
    create_server(
        &pool,
        Some(&a),
        &ServerForm {
            rcon_password: SecretChange::Replace("rcon-pw".into()),
            ..form("Dust")
        },
    )
    .await
    .expect("created");

    let error = prepare_secrets(&pool, None).await.expect_err("no key");
    assert_eq!(
        error.to_string(),
        format!(
            "the RCON password of game server 'Dust' is stored encrypted, but \
             GUILDHALL_SECRET_KEY is not set: set it to the key it was sealed with (key id {}) \
             and start again",
            a.id()
        )
    );
    let error = prepare_secrets(&pool, Some(&b))
        .await
        .expect_err("wrong key");
    assert!(matches!(
        &error,
        SecretsCheckError::WrongKey {
            error: SecretError::WrongKey { .. },
            ..
        }
    ));
    assert_eq!(
        error.to_string(),
        format!(
            "GUILDHALL_SECRET_KEY (key id {}) does not open the RCON password of game server \
             'Dust': it was sealed with key id {}, not with the key set (id {}). Set \
             GUILDHALL_SECRET_KEY to the key it was sealed with (after `guildhall secrets \
             rotate`: the new key) and start again",
            b.id(),
            a.id(),
            b.id()
        )
    );
    assert_eq!(
        prepare_secrets(&pool, Some(&a)).await.expect("ok").checked,
        1
    );
    // A sealed value moved to another server does not open there.
    create_server(&pool, Some(&a), &form("Mirage"))
        .await
        .expect("created");
    sqlx::query(
        "update app.game_servers set rcon_password_sealed =
             (select rcon_password_sealed from app.game_servers where name = 'Dust')
         where name = 'Mirage'",
    )
    .execute(&pool)
    .await
    .expect("copied");
    let error = prepare_secrets(&pool, Some(&a)).await.expect_err("moved");
    assert!(
        error
            .to_string()
            .contains("does not open the RCON password of game server 'Mirage'"),
        "{error}"
    );
    sqlx::query("update app.game_servers set rcon_password_sealed = null where name = 'Mirage'")
        .execute(&pool)
        .await
        .expect("undone");

    // The real start-up: `collect` stops at once with that sentence.
    for (env, says) in [
        (
            vec![],
            "is stored encrypted, but GUILDHALL_SECRET_KEY is not set",
        ),
        (
            vec![("GUILDHALL_SECRET_KEY", KEY_B)],
            "does not open the RCON password of game server 'Dust'",
        ),
    ] {
        let output = guildhall(&db, &["collect"], &env).await;
        let said = text(&output);
        assert_eq!(output.status.code(), Some(1), "{said}");
        assert!(said.contains(says), "{said}");
        assert!(said.contains("game server 'Dust'"), "{said}");
    }
}

#[sqlx::test(migrations = false)]
async fn clear_passwords_and_tokens_of_an_earlier_version_are_sealed_and_hashed_without_losing_one(
    pool: PgPool,
) {
    // The database as an earlier version left it: every migration before this change.
    let dir = TempDir::new("migrations");
    let source = Path::new(env!("CARGO_MANIFEST_DIR")).join("../migrations");
    for entry in std::fs::read_dir(&source).expect("migrations") {
        let path = entry.expect("entry").path();
        let name = path
            .file_name()
            .expect("name")
            .to_string_lossy()
            .into_owned();
        if name.as_str() < "20261208400000" {
            std::fs::copy(&path, dir.0.join(&name)).expect("copied");
        }
    }
    sqlx::migrate::Migrator::new(dir.0.as_path())
        .await
        .expect("earlier migrations")
        .run(&pool)
        .await
        .expect("applied");
    let old_token = "0123456789abcdef0123456789abcdef";
    sqlx::query(
        "insert into app.game_servers (name, game, host, rcon_port, rcon_password, log_source,
             log_path, sftp_user, sftp_password, ingest_token)
         values ('Old', 'minecraft', '127.0.0.1', 25575, 'old-rcon', 'sftp', 'logs', 'u',
                 'old-sftp', $1),
                ('Plain', 'cs2', '127.0.0.1', null, null, 'http', null, null, null,
                 'fedcba9876543210fedcba9876543210')",
    )
    .bind(old_token)
    .execute(&pool)
    .await
    .expect("old rows");

    guildhall::db::MIGRATOR.run(&pool).await.expect("migrated");

    // The old log URL still works; the token is gone from the table.
    let found = server_by_token(&pool, old_token).await.expect("lookup");
    assert_eq!(found.map(|s| s.name), Some("Old".to_owned()));
    let tokens: i64 =
        sqlx::query_scalar("select count(*) from app.game_servers where ingest_token is not null")
            .fetch_one(&pool)
            .await
            .expect("count");
    assert_eq!(tokens, 0);
    // A token written in clear by an older script is hashed too.
    sqlx::query(
        "update app.game_servers set ingest_token = 'a-token-written-in-clear-by-a-script'
         where name = 'Plain'",
    )
    .execute(&pool)
    .await
    .expect("written");
    let found = server_by_token(&pool, "a-token-written-in-clear-by-a-script")
        .await
        .expect("lookup");
    assert_eq!(found.map(|s| s.name), Some("Plain".to_owned()));

    // Without a key: a start-up error naming the server; the passwords stay as they were.
    let error = prepare_secrets(&pool, None).await.expect_err("no key");
    assert_eq!(
        error.to_string(),
        "game server(s) 'Old' have passwords stored in clear by an earlier version of \
         Guildhall; they are sealed at the first start with a secret key: create one with \
         `guildhall secrets new-key`, set it as GUILDHALL_SECRET_KEY (and keep a copy: \
         without it the passwords cannot be read) and start again"
    );
    let clear: (Option<String>, Option<String>) = sqlx::query_as(
        "select rcon_password, sftp_password from app.game_servers where name = 'Old'",
    )
    .fetch_one(&pool)
    .await
    .expect("row");
    assert_eq!(
        clear,
        (Some("old-rcon".to_owned()), Some("old-sftp".to_owned()))
    );

    // The first start with a key seals them and empties the clear columns.
    let a = key(KEY_A);
    let report = prepare_secrets(&pool, Some(&a)).await.expect("sealed");
    assert_eq!((report.sealed_now, report.checked), (2, 2));
    let clear: (Option<String>, Option<String>) = sqlx::query_as(
        "select rcon_password, sftp_password from app.game_servers where name = 'Old'",
    )
    .fetch_one(&pool)
    .await
    .expect("row");
    assert_eq!(clear, (None, None));
    let servers = load_servers(&pool, Some(&a)).await.expect("load");
    let old = by_name(&servers, "Old");
    assert_eq!(old.rcon_password.as_deref(), Some("old-rcon"));
    assert_eq!(old.sftp_password.as_deref(), Some("old-sftp"));
    // Again: nothing more to seal.
    assert_eq!(
        prepare_secrets(&pool, Some(&a))
            .await
            .expect("ok")
            .sealed_now,
        0
    );
}

#[sqlx::test(migrator = "guildhall::db::MIGRATOR")]
async fn rotation_reseals_every_secret_then_the_old_key_fails_and_the_new_one_works(pool: PgPool) {
    let db = database_url(&pool).await;
    let (a, b) = (key(KEY_A), key(KEY_B));
    let dir = TempDir::new("rotate");
    let key_file = ssh_keygen(&dir.0, "");
    let key_text = std::fs::read_to_string(&key_file).expect("key");
    create_server(
        &pool,
        Some(&a),
        &ServerForm {
            rcon_password: SecretChange::Replace("rcon-pw".into()),
            ..form("Dust")
        },
    )
    .await
    .expect("created");
    create_server(
        &pool,
        Some(&a),
        &ServerForm {
            game: "minecraft".into(),
            log_source: "sftp".into(),
            log_path: Some("logs".into()),
            sftp_user: Some("u".into()),
            sftp_password: SecretChange::Replace("sftp-pw".into()),
            sftp_key: SecretChange::Replace(key_text.clone()),
            rcon_password: SecretChange::Replace("mc-rcon".into()),
            ..form("Survival")
        },
    )
    .await
    .expect("created");
    create_server(&pool, Some(&a), &form("NoSecrets"))
        .await
        .expect("created");
    let before: Vec<Option<Vec<u8>>> =
        sqlx::query_scalar("select rcon_password_sealed from app.game_servers order by server_id")
            .fetch_all(&pool)
            .await
            .expect("sealed");

    // With the wrong current key nothing changes.
    let refused = guildhall(
        &db,
        &[
            "secrets",
            "rotate",
            "--new-key-env",
            "GUILDHALL_NEW_SECRET_KEY",
        ],
        &[
            ("GUILDHALL_SECRET_KEY", KEY_B),
            ("GUILDHALL_NEW_SECRET_KEY", KEY_A),
        ],
    )
    .await;
    assert_eq!(refused.status.code(), Some(1), "{}", text(&refused));
    let unchanged: Vec<Option<Vec<u8>>> =
        sqlx::query_scalar("select rcon_password_sealed from app.game_servers order by server_id")
            .fetch_all(&pool)
            .await
            .expect("sealed");
    assert_eq!(unchanged, before);

    let rotated = guildhall(
        &db,
        &[
            "secrets",
            "rotate",
            "--new-key-env",
            "GUILDHALL_NEW_SECRET_KEY",
        ],
        &[
            ("GUILDHALL_SECRET_KEY", KEY_A),
            ("GUILDHALL_NEW_SECRET_KEY", KEY_B),
        ],
    )
    .await;
    let said = text(&rotated);
    assert_eq!(rotated.status.code(), Some(0), "{said}");
    assert!(
        said.contains(&format!(
            "sealed 4 secret(s) of 2 game server(s) again with key id {} (was {})",
            b.id(),
            a.id()
        )),
        "{said}"
    );
    match load_servers(&pool, Some(&a)).await {
        Err(LoadError::Secret {
            error: SecretError::WrongKey { sealed_with, .. },
            ..
        }) => assert_eq!(sealed_with, b.id()),
        other => panic!("the old key still opens: {other:?}"),
    }
    let servers = load_servers(&pool, Some(&b))
        .await
        .expect("the new key opens");
    assert_eq!(
        by_name(&servers, "Dust").rcon_password.as_deref(),
        Some("rcon-pw")
    );
    let survival = by_name(&servers, "Survival");
    assert_eq!(survival.rcon_password.as_deref(), Some("mc-rcon"));
    assert_eq!(survival.sftp_password.as_deref(), Some("sftp-pw"));
    assert_eq!(
        survival
            .sftp_key
            .as_deref()
            .map(|k| open_private_key(k, None).is_ok()),
        Some(true)
    );
    assert_eq!(
        prepare_secrets(&pool, Some(&b)).await.expect("ok").checked,
        4
    );
    assert!(prepare_secrets(&pool, Some(&a)).await.is_err());
}

#[sqlx::test(migrator = "guildhall::db::MIGRATOR")]
async fn a_secret_is_kept_replaced_or_cleared_and_settings_only_say_whether_it_is_set(
    pool: PgPool,
) {
    let a = key(KEY_A);
    let created = create_server(
        &pool,
        Some(&a),
        &ServerForm {
            rcon_password: SecretChange::Replace("first".into()),
            ..form("Dust")
        },
    )
    .await
    .expect("created");
    let rcon = |servers: Vec<GameServer>| servers[0].rcon_password.clone();

    let keep = ServerForm {
        host: "10.0.0.9".into(),
        ..form("Dust")
    };
    update_server(&pool, None, created.server_id, &keep)
        .await
        .expect("kept without the key");
    assert_eq!(
        rcon(load_servers(&pool, Some(&a)).await.expect("load")),
        Some("first".into())
    );
    let settings = settings_by_name(&pool, "Dust")
        .await
        .expect("ok")
        .expect("found");
    assert_eq!(settings.host, "10.0.0.9");
    assert!(settings.rcon_password_set);
    assert!(!settings.sftp_password_set && !settings.sftp_key_set);

    let replace = ServerForm {
        rcon_password: SecretChange::Replace("second".into()),
        ..form("Dust")
    };
    assert!(matches!(
        update_server(&pool, None, created.server_id, &replace).await,
        Err(SaveError::NoKey)
    ));
    update_server(&pool, Some(&a), created.server_id, &replace)
        .await
        .expect("replaced");
    assert_eq!(
        rcon(load_servers(&pool, Some(&a)).await.expect("load")),
        Some("second".into())
    );

    let clear = ServerForm {
        rcon_password: SecretChange::Clear,
        ..form("Dust")
    };
    update_server(&pool, None, created.server_id, &clear)
        .await
        .expect("cleared");
    assert_eq!(
        rcon(load_servers(&pool, Some(&a)).await.expect("load")),
        None
    );
    let settings = settings_by_name(&pool, "Dust")
        .await
        .expect("ok")
        .expect("found");
    assert!(!settings.rcon_password_set);
    assert_eq!(settings.rcon_addr(), None);

    // Field-specific errors; nothing half-saved.
    create_server(&pool, Some(&a), &form("Mirage"))
        .await
        .expect("created");
    let taken = ServerForm {
        host: "10.1.1.1".into(),
        ..form("Mirage")
    };
    match update_server(&pool, Some(&a), created.server_id, &taken).await {
        Err(SaveError::Invalid(errors)) => assert_eq!(
            errors,
            vec![FieldError {
                field: Field::Name,
                problem: Problem::NameTaken {
                    name: "Mirage".into()
                }
            }]
        ),
        other => panic!("renamed onto another server: {other:?}"),
    }
    let settings = settings_by_name(&pool, "Dust")
        .await
        .expect("ok")
        .expect("found");
    // The refused update changed nothing (the host stays that of the last saved form).
    assert_eq!(settings.host, "127.0.0.1");
    assert!(matches!(
        update_server(&pool, Some(&a), 999_999, &keep).await,
        Err(SaveError::NotFound(999_999))
    ));
}

#[sqlx::test(migrator = "guildhall::db::MIGRATOR")]
async fn a_regenerated_token_is_shown_once_and_the_old_url_stops_working(pool: PgPool) {
    let db = database_url(&pool).await;
    let created = create_server(&pool, None, &form("Dust"))
        .await
        .expect("created");
    assert!(
        server_by_token(&pool, &created.ingest_token)
            .await
            .expect("ok")
            .is_some()
    );
    let output = guildhall(&db, &["servers", "regenerate-token", "Dust"], &[]).await;
    let said = text(&output);
    assert_eq!(output.status.code(), Some(0), "{said}");
    assert!(
        said.contains("new log token for Dust: the old URL no longer works"),
        "{said}"
    );
    assert!(
        said.contains("HTTP log URL (shown only now; `guildhall servers regenerate-token` makes a new one): https://stats.example.org/ingest/logs/"),
        "{said}"
    );
    let token = token_in(&said);
    assert_eq!(token.len(), 64);
    assert_ne!(token, created.ingest_token);
    assert!(
        server_by_token(&pool, &created.ingest_token)
            .await
            .expect("ok")
            .is_none()
    );
    assert_eq!(
        server_by_token(&pool, &token)
            .await
            .expect("ok")
            .map(|s| s.name),
        Some("Dust".to_owned())
    );
    let list = text(&guildhall(&db, &["servers", "list"], &[]).await);
    assert!(list.contains("log token set"), "{list}");
    assert!(!list.contains(&token), "{list}");
    let missing = guildhall(&db, &["servers", "regenerate-token", "Nope"], &[]).await;
    assert!(text(&missing).contains("no game server is named 'Nope'"));
}
