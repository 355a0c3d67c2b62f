//! Creating and changing game servers, for `guildhall servers add` and the admin pages
//! alike: one validation with field-specific errors, secrets that are only ever written
//! (kept, replaced or cleared, never read back), sealed with the secret key before they
//! reach the database; log tokens stored as their hash and shown once.
//!
//! Also the start-up step that seals clear passwords left by earlier versions and checks
//! that the key opens every stored secret, and the key rotation.

use std::fmt;
use std::path::Path;

use sqlx::{Acquire, PgConnection, PgPool, Postgres, Transaction};

use super::servers::{Game, LogSource, SecretColumn};
use super::sftp::{KeyProblem, open_private_key, private_key_text};
use crate::secrets::{SecretError, SecretKey, new_token, sealed_key_id, token_hash};

/// What to do with a stored secret.
#[derive(Clone, PartialEq, Eq, Default)]
pub enum SecretChange {
    /// Leave it as stored (nothing, when creating).
    #[default]
    Keep,
    /// Store this one instead.
    Replace(String),
    /// Remove it.
    Clear,
}

impl fmt::Debug for SecretChange {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            SecretChange::Keep => "Keep",
            SecretChange::Replace(_) => "Replace(<redacted>)",
            SecretChange::Clear => "Clear",
        })
    }
}

impl SecretChange {
    /// `Replace` when a value is given, else `Keep` (the command line's way).
    pub fn from_option(value: Option<&str>) -> SecretChange {
        match value {
            Some(value) if !value.is_empty() => SecretChange::Replace(value.to_owned()),
            _ => SecretChange::Keep,
        }
    }

    fn is_set_after(&self, stored: bool) -> bool {
        match self {
            SecretChange::Keep => stored,
            SecretChange::Replace(_) => true,
            SecretChange::Clear => false,
        }
    }
}

/// A server as the admin typed it (command line flags or the form), before validation.
#[derive(Clone, Debug, Default)]
pub struct ServerForm {
    pub name: String,
    /// cs2, csgo, tf2, source or minecraft (any case).
    pub game: String,
    pub host: String,
    /// Default: the game's RCON port, when an RCON password is set.
    pub rcon_port: Option<u16>,
    pub rcon_password: SecretChange,
    pub poll_interval_secs: u32,
    /// none, http, file or sftp (any case).
    pub log_source: String,
    pub log_path: Option<String>,
    pub sftp_port: u16,
    pub sftp_user: Option<String>,
    pub sftp_password: SecretChange,
    /// The SFTP login key: a private key in OpenSSH format.
    pub sftp_key: SecretChange,
    /// The key's passphrase, when it has one: used once to open the key, never stored.
    pub sftp_key_passphrase: Option<String>,
    /// `SHA256:…` fingerprint of the SFTP server's host key.
    pub sftp_host_key: Option<String>,
    pub log_timezone: Option<String>,
    pub prometheus_url: Option<String>,
    pub metrics_interval_secs: u32,
    pub capacity: Option<i32>,
}

/// A field of [`ServerForm`].
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Field {
    Name,
    Game,
    Host,
    RconPort,
    RconPassword,
    PollInterval,
    LogSource,
    LogPath,
    SftpPort,
    SftpUser,
    SftpPassword,
    SftpKey,
    SftpKeyPassphrase,
    SftpHostKey,
    LogTimezone,
    PrometheusUrl,
    MetricsInterval,
    Capacity,
}

impl Field {
    /// The `guildhall servers add` flag that sets it.
    pub fn flag(self) -> &'static str {
        match self {
            Field::Name => "--name",
            Field::Game => "--game",
            Field::Host => "--host",
            Field::RconPort => "--rcon-port",
            Field::RconPassword => "--rcon-password",
            Field::PollInterval => "--poll-interval",
            Field::LogSource => "--log-source",
            Field::LogPath => "--log-path",
            Field::SftpPort => "--sftp-port",
            Field::SftpUser => "--sftp-user",
            Field::SftpPassword => "--sftp-password",
            Field::SftpKey => "--sftp-key-file",
            Field::SftpKeyPassphrase => "--sftp-key-passphrase",
            Field::SftpHostKey => "--sftp-host-key",
            Field::LogTimezone => "--log-timezone",
            Field::PrometheusUrl => "--prometheus-url",
            Field::MetricsInterval => "--metrics-interval",
            Field::Capacity => "--capacity",
        }
    }
}

/// What is wrong with a field's value.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Problem {
    /// Must not be empty.
    Empty,
    /// Longer than `max` characters.
    TooLong { max: usize },
    /// Not one of cs2, csgo, tf2, source, minecraft.
    UnknownGame { given: String },
    /// Not one of none, http, file, sftp.
    UnknownLogSource { given: String },
    /// Seconds outside `min..=max`.
    OutOfRange { min: u32, max: u32 },
    /// Below `min`.
    TooSmall { min: i64 },
    /// Needed by the chosen log source (`file` needs the folder; `sftp` the user, a
    /// password or key, and the folder).
    RequiredBy { log_source: LogSource },
    /// The log folder is not a folder on this machine.
    NotAFolder { path: String },
    /// Minecraft cannot send its logs over HTTP.
    NoHttpLogs { game: Game },
    /// Not an IANA time zone.
    NotATimeZone { given: String },
    /// Not an http(s) URL.
    NotAnHttpUrl { given: String },
    /// Another server has this name.
    NameTaken { name: String },
    /// The SFTP key cannot be used.
    Key(KeyProblem),
}

/// A field and what is wrong with it. `Display` is the command line's sentence; the admin
/// pages translate field and problem.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct FieldError {
    pub field: Field,
    pub problem: Problem,
}

impl fmt::Display for FieldError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let flag = self.field.flag();
        match &self.problem {
            Problem::Empty => write!(f, "{flag} must not be empty"),
            Problem::TooLong { max } => write!(f, "{flag} must be at most {max} characters"),
            Problem::UnknownGame { given } => write!(
                f,
                "{flag} must be one of cs2, csgo, tf2, source, minecraft (not '{given}')"
            ),
            Problem::UnknownLogSource { given } => write!(
                f,
                "{flag} must be one of none, http, file, sftp (not '{given}')"
            ),
            Problem::OutOfRange { min, max } => {
                write!(f, "{flag} must be between {min} and {max} seconds")
            }
            Problem::TooSmall { min } => write!(f, "{flag} must be at least {min}"),
            Problem::RequiredBy { log_source } => match (log_source, self.field) {
                (LogSource::File, Field::LogPath) => write!(
                    f,
                    "--log-source file needs --log-path (the folder holding the logs)"
                ),
                (LogSource::Sftp, Field::LogPath) => write!(
                    f,
                    "--log-source sftp needs --log-path (the folder on the SFTP server)"
                ),
                (LogSource::Sftp, Field::SftpPassword | Field::SftpKey) => write!(
                    f,
                    "--log-source sftp needs --sftp-password (or GUILDHALL_SFTP_PASSWORD) or --sftp-key-file"
                ),
                (source, field) => {
                    write!(f, "--log-source {} needs {}", source.as_str(), field.flag())
                }
            },
            Problem::NotAFolder { path } => {
                write!(f, "{flag} {path} is not a folder on this machine")
            }
            Problem::NoHttpLogs { .. } => write!(
                f,
                "Minecraft cannot push logs over HTTP: use --log-source file"
            ),
            Problem::NotATimeZone { given } => write!(
                f,
                "{flag} '{given}' is not an IANA time zone (e.g. Europe/Berlin)"
            ),
            Problem::NotAnHttpUrl { given } => {
                write!(f, "{flag} '{given}' is not an http(s) URL")
            }
            Problem::NameTaken { name } => write!(f, "a game server named '{name}' exists already"),
            Problem::Key(problem) => write!(f, "{flag}: {problem}"),
        }
    }
}

/// Which secrets a server has stored (all `false` for a new one).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct StoredSecrets {
    pub rcon_password: bool,
    pub sftp_password: bool,
    pub sftp_key: bool,
}

/// A form that passed [`validate`], normalised for storing.
#[derive(Clone, Debug)]
pub struct ValidServer {
    pub name: String,
    pub game: Game,
    pub host: String,
    pub rcon_port: Option<u16>,
    pub rcon_password: SecretChange,
    pub poll_interval_secs: u32,
    pub log_source: LogSource,
    pub log_path: Option<String>,
    pub sftp_port: u16,
    pub sftp_user: Option<String>,
    pub sftp_password: SecretChange,
    /// `Replace` holds the key in OpenSSH format without passphrase.
    pub sftp_key: SecretChange,
    pub sftp_host_key: Option<String>,
    pub log_timezone: Option<String>,
    pub prometheus_url: Option<String>,
    pub metrics_interval_secs: u32,
    pub capacity: Option<i32>,
}

impl ValidServer {
    /// Whether any secret is to be written (then the secret key is needed).
    pub fn writes_secrets(&self) -> bool {
        [&self.rcon_password, &self.sftp_password, &self.sftp_key]
            .iter()
            .any(|change| matches!(change, SecretChange::Replace(_)))
    }
}

/// Blank text is no value.
fn given(value: &Option<String>) -> Option<String> {
    value
        .as_deref()
        .map(str::trim)
        .filter(|v| !v.is_empty())
        .map(str::to_owned)
}

/// Checks every field of `form` (for a server whose stored secrets are `stored`) and
/// returns all problems found, field by field; or the values to store. SFTP settings and
/// secrets are kept only while the log source is SFTP.
pub fn validate(form: &ServerForm, stored: StoredSecrets) -> Result<ValidServer, Vec<FieldError>> {
    let mut errors = Vec::new();
    let mut fail = |field: Field, problem: Problem| errors.push(FieldError { field, problem });

    let name = form.name.trim().to_owned();
    if name.is_empty() {
        fail(Field::Name, Problem::Empty);
    } else if name.chars().count() > 100 {
        fail(Field::Name, Problem::TooLong { max: 100 });
    }
    let game = Game::parse(&form.game.trim().to_ascii_lowercase());
    if game.is_none() {
        fail(
            Field::Game,
            Problem::UnknownGame {
                given: form.game.clone(),
            },
        );
    }
    let log_source = LogSource::parse(&form.log_source.trim().to_ascii_lowercase());
    if log_source.is_none() {
        fail(
            Field::LogSource,
            Problem::UnknownLogSource {
                given: form.log_source.clone(),
            },
        );
    }
    let host = form.host.trim().to_owned();
    if host.is_empty() {
        fail(Field::Host, Problem::Empty);
    }
    if !(5..=3600).contains(&form.poll_interval_secs) {
        fail(
            Field::PollInterval,
            Problem::OutOfRange { min: 5, max: 3600 },
        );
    }
    if !(5..=3600).contains(&form.metrics_interval_secs) {
        fail(
            Field::MetricsInterval,
            Problem::OutOfRange { min: 5, max: 3600 },
        );
    }
    if form.capacity.is_some_and(|capacity| capacity <= 0) {
        fail(Field::Capacity, Problem::TooSmall { min: 1 });
    }
    if form.rcon_port == Some(0) {
        fail(Field::RconPort, Problem::TooSmall { min: 1 });
    }
    if form.sftp_port == 0 {
        fail(Field::SftpPort, Problem::TooSmall { min: 1 });
    }
    if matches!(&form.rcon_password, SecretChange::Replace(p) if p.is_empty()) {
        fail(Field::RconPassword, Problem::Empty);
    }
    let log_path = given(&form.log_path);
    let sftp = log_source == Some(LogSource::Sftp);
    let mut sftp_key = if sftp {
        form.sftp_key.clone()
    } else {
        SecretChange::Clear
    };
    match log_source {
        Some(LogSource::File) => match log_path.as_deref() {
            None => fail(
                Field::LogPath,
                Problem::RequiredBy {
                    log_source: LogSource::File,
                },
            ),
            Some(path) if !Path::new(path).is_dir() => fail(
                Field::LogPath,
                Problem::NotAFolder {
                    path: path.to_owned(),
                },
            ),
            Some(_) => {}
        },
        Some(LogSource::Sftp) => {
            let required = Problem::RequiredBy {
                log_source: LogSource::Sftp,
            };
            if given(&form.sftp_user).is_none() {
                fail(Field::SftpUser, required.clone());
            }
            if log_path.is_none() {
                fail(Field::LogPath, required.clone());
            }
            if let SecretChange::Replace(text) = &form.sftp_key {
                match open_private_key(text, form.sftp_key_passphrase.as_deref()) {
                    Ok(key) => match private_key_text(&key) {
                        Some(text) => sftp_key = SecretChange::Replace(text),
                        None => fail(Field::SftpKey, Problem::Key(KeyProblem::NotAKey)),
                    },
                    Err(problem @ (KeyProblem::NotAKey | KeyProblem::Rsa)) => {
                        fail(Field::SftpKey, Problem::Key(problem));
                    }
                    Err(problem) => fail(Field::SftpKeyPassphrase, Problem::Key(problem)),
                }
            }
            let password_set = !matches!(&form.sftp_password, SecretChange::Replace(p) if p.is_empty())
                && form.sftp_password.is_set_after(stored.sftp_password);
            if !password_set && !form.sftp_key.is_set_after(stored.sftp_key) {
                fail(Field::SftpPassword, required);
            }
        }
        Some(LogSource::Http) if game == Some(Game::Minecraft) => fail(
            Field::LogSource,
            Problem::NoHttpLogs {
                game: Game::Minecraft,
            },
        ),
        _ => {}
    }
    let log_timezone = given(&form.log_timezone);
    if let Some(zone) = log_timezone.as_deref()
        && zone.parse::<chrono_tz::Tz>().is_err()
    {
        fail(
            Field::LogTimezone,
            Problem::NotATimeZone {
                given: zone.to_owned(),
            },
        );
    }
    let prometheus_url = given(&form.prometheus_url);
    if let Some(url) = prometheus_url.as_deref() {
        match reqwest::Url::parse(url) {
            Ok(parsed) if matches!(parsed.scheme(), "http" | "https") => {}
            _ => fail(
                Field::PrometheusUrl,
                Problem::NotAnHttpUrl {
                    given: url.to_owned(),
                },
            ),
        }
    }
    let (Some(game), Some(log_source)) = (game, log_source) else {
        return Err(errors);
    };
    if !errors.is_empty() {
        return Err(errors);
    }
    let rcon_set = form.rcon_password.is_set_after(stored.rcon_password);
    Ok(ValidServer {
        name,
        game,
        host,
        rcon_port: form
            .rcon_port
            .or(rcon_set.then(|| game.default_rcon_port())),
        rcon_password: form.rcon_password.clone(),
        poll_interval_secs: form.poll_interval_secs,
        log_source,
        log_path,
        sftp_port: form.sftp_port,
        sftp_user: sftp.then(|| given(&form.sftp_user)).flatten(),
        sftp_password: if sftp {
            form.sftp_password.clone()
        } else {
            SecretChange::Clear
        },
        sftp_key,
        sftp_host_key: sftp.then(|| given(&form.sftp_host_key)).flatten(),
        log_timezone,
        prometheus_url,
        metrics_interval_secs: form.metrics_interval_secs,
        capacity: form.capacity,
    })
}

/// Why a server was not saved.
#[derive(Debug, thiserror::Error)]
pub enum SaveError {
    /// Fields to correct (every one found).
    #[error("{}", .0.iter().map(ToString::to_string).collect::<Vec<_>>().join("\n"))]
    Invalid(Vec<FieldError>),
    /// A secret is to be stored, but no secret key is set.
    #[error(
        "passwords and keys are stored encrypted, and GUILDHALL_SECRET_KEY is not set: create \
         a key with `guildhall secrets new-key`, set it as GUILDHALL_SECRET_KEY wherever \
         Guildhall runs (and keep a copy: without it the stored passwords cannot be read), \
         then try again"
    )]
    NoKey,
    /// No server has this id.
    #[error("no game server has the id {0}")]
    NotFound(i64),
    #[error(transparent)]
    Database(#[from] sqlx::Error),
}

/// A server just created, with its log token: shown this once, stored only as its hash.
#[derive(Clone, PartialEq, Eq)]
pub struct CreatedServer {
    pub server_id: i64,
    pub name: String,
    pub ingest_token: String,
}

impl fmt::Debug for CreatedServer {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("CreatedServer")
            .field("server_id", &self.server_id)
            .field("name", &self.name)
            .finish_non_exhaustive()
    }
}

/// Validates and stores a new server in one transaction; its secrets sealed with `key`.
pub async fn create_server(
    pool: &PgPool,
    key: Option<&SecretKey>,
    form: &ServerForm,
) -> Result<CreatedServer, SaveError> {
    let mut tx = pool.begin().await?;
    let created = create_server_in(&mut tx, key, form).await?;
    tx.commit().await?;
    Ok(created)
}

/// [`create_server`] inside the caller's transaction (which commits it, e.g. with its
/// audit entry).
pub async fn create_server_in(
    conn: &mut PgConnection,
    key: Option<&SecretKey>,
    form: &ServerForm,
) -> Result<CreatedServer, SaveError> {
    let valid = validate(form, StoredSecrets::default()).map_err(SaveError::Invalid)?;
    if valid.writes_secrets() && key.is_none() {
        return Err(SaveError::NoKey);
    }
    let token = new_token();
    // A savepoint: a refused name leaves the caller's transaction usable.
    let mut tx = conn.begin().await?;
    let inserted: Result<i64, sqlx::Error> = sqlx::query_scalar(
        "insert into app.game_servers
             (name, game, host, rcon_port, poll_interval_secs, log_source, log_path,
              log_timezone, ingest_token_hash, prometheus_url, metrics_interval_secs,
              capacity_override, sftp_port, sftp_user, sftp_host_key)
         values ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15)
         returning server_id",
    )
    .bind(&valid.name)
    .bind(valid.game.as_str())
    .bind(&valid.host)
    .bind(valid.rcon_port.map(i32::from))
    .bind(seconds(valid.poll_interval_secs))
    .bind(valid.log_source.as_str())
    .bind(valid.log_path.as_deref())
    .bind(valid.log_timezone.as_deref())
    .bind(token_hash(&token))
    .bind(valid.prometheus_url.as_deref())
    .bind(seconds(valid.metrics_interval_secs))
    .bind(valid.capacity)
    .bind(i32::from(valid.sftp_port))
    .bind(valid.sftp_user.as_deref())
    .bind(valid.sftp_host_key.as_deref())
    .fetch_one(&mut *tx)
    .await;
    let server_id = inserted.map_err(|error| name_taken(error, &valid.name))?;
    write_secrets(&mut tx, key, server_id, &valid).await?;
    tx.commit().await?;
    Ok(CreatedServer {
        server_id,
        name: valid.name,
        ingest_token: token,
    })
}

/// Validates and stores a server's new settings in one transaction: a secret is kept,
/// replaced (sealed with `key`) or cleared as the form says.
pub async fn update_server(
    pool: &PgPool,
    key: Option<&SecretKey>,
    server_id: i64,
    form: &ServerForm,
) -> Result<(), SaveError> {
    let mut tx = pool.begin().await?;
    update_server_in(&mut tx, key, server_id, form).await?;
    tx.commit().await?;
    Ok(())
}

/// [`update_server`] inside the caller's transaction (which commits it, e.g. with its
/// audit entry).
pub async fn update_server_in(
    conn: &mut PgConnection,
    key: Option<&SecretKey>,
    server_id: i64,
    form: &ServerForm,
) -> Result<(), SaveError> {
    let mut tx = conn.begin().await?;
    let stored: Option<(bool, bool, bool)> = sqlx::query_as(
        "select rcon_password_sealed is not null, sftp_password_sealed is not null,
                sftp_key_sealed is not null
         from app.game_servers where server_id = $1 for update",
    )
    .bind(server_id)
    .fetch_optional(&mut *tx)
    .await?;
    let Some((rcon_password, sftp_password, sftp_key)) = stored else {
        return Err(SaveError::NotFound(server_id));
    };
    let stored = StoredSecrets {
        rcon_password,
        sftp_password,
        sftp_key,
    };
    let valid = validate(form, stored).map_err(SaveError::Invalid)?;
    if valid.writes_secrets() && key.is_none() {
        return Err(SaveError::NoKey);
    }
    let updated = sqlx::query(
        "update app.game_servers
            set name = $2, game = $3, host = $4, rcon_port = $5, poll_interval_secs = $6,
                log_source = $7, log_path = $8, log_timezone = $9, prometheus_url = $10,
                metrics_interval_secs = $11, capacity_override = $12, sftp_port = $13,
                sftp_user = $14, sftp_host_key = $15, updated_at = now()
          where server_id = $1",
    )
    .bind(server_id)
    .bind(&valid.name)
    .bind(valid.game.as_str())
    .bind(&valid.host)
    .bind(valid.rcon_port.map(i32::from))
    .bind(seconds(valid.poll_interval_secs))
    .bind(valid.log_source.as_str())
    .bind(valid.log_path.as_deref())
    .bind(valid.log_timezone.as_deref())
    .bind(valid.prometheus_url.as_deref())
    .bind(seconds(valid.metrics_interval_secs))
    .bind(valid.capacity)
    .bind(i32::from(valid.sftp_port))
    .bind(valid.sftp_user.as_deref())
    .bind(valid.sftp_host_key.as_deref())
    .execute(&mut *tx)
    .await;
    updated.map_err(|error| name_taken(error, &valid.name))?;
    write_secrets(&mut tx, key, server_id, &valid).await?;
    tx.commit().await?;
    Ok(())
}

/// A new log token for the server: the old URL stops working. Shown this once; `None` when
/// no server has the id.
pub async fn regenerate_token(pool: &PgPool, server_id: i64) -> sqlx::Result<Option<String>> {
    let mut conn = pool.acquire().await?;
    regenerate_token_in(&mut conn, server_id).await
}

/// [`regenerate_token`] inside the caller's transaction.
pub async fn regenerate_token_in(
    conn: &mut PgConnection,
    server_id: i64,
) -> sqlx::Result<Option<String>> {
    let token = new_token();
    let updated = sqlx::query(
        "update app.game_servers set ingest_token_hash = $2, updated_at = now()
         where server_id = $1",
    )
    .bind(server_id)
    .bind(token_hash(&token))
    .execute(conn)
    .await?;
    Ok((updated.rows_affected() == 1).then_some(token))
}

fn seconds(secs: u32) -> i32 {
    i32::try_from(secs).unwrap_or(i32::MAX)
}

fn name_taken(error: sqlx::Error, name: &str) -> SaveError {
    match &error {
        sqlx::Error::Database(db) if db.constraint() == Some("game_servers_name_key") => {
            SaveError::Invalid(vec![FieldError {
                field: Field::Name,
                problem: Problem::NameTaken {
                    name: name.to_owned(),
                },
            }])
        }
        _ => SaveError::Database(error),
    }
}

async fn write_secrets(
    tx: &mut PgConnection,
    key: Option<&SecretKey>,
    server_id: i64,
    valid: &ValidServer,
) -> Result<(), SaveError> {
    for (column, change) in [
        (SecretColumn::RconPassword, &valid.rcon_password),
        (SecretColumn::SftpPassword, &valid.sftp_password),
        (SecretColumn::SftpKey, &valid.sftp_key),
    ] {
        let sealed = match change {
            SecretChange::Keep => continue,
            SecretChange::Clear => None,
            SecretChange::Replace(value) => {
                let key = key.ok_or(SaveError::NoKey)?;
                Some(key.seal_str(column.place(server_id), value))
            }
        };
        set_sealed(tx, server_id, column, sealed.as_deref()).await?;
    }
    Ok(())
}

/// Writes one sealed column (no SQL is built from input: one statement per column).
async fn set_sealed(
    tx: &mut PgConnection,
    server_id: i64,
    column: SecretColumn,
    sealed: Option<&[u8]>,
) -> sqlx::Result<()> {
    let sql = match column {
        SecretColumn::RconPassword => {
            "update app.game_servers set rcon_password_sealed = $2, rcon_password = null where server_id = $1"
        }
        SecretColumn::SftpPassword => {
            "update app.game_servers set sftp_password_sealed = $2, sftp_password = null where server_id = $1"
        }
        SecretColumn::SftpKey => {
            "update app.game_servers set sftp_key_sealed = $2 where server_id = $1"
        }
    };
    sqlx::query(sql)
        .bind(server_id)
        .bind(sealed)
        .execute(tx)
        .await
        .map(|_| ())
}

/// Why the stored secrets cannot be used with the key set.
#[derive(Debug, thiserror::Error)]
pub enum SecretsCheckError {
    /// Passwords in clear from an earlier version, and no key to seal them with.
    #[error(
        "game server(s) {servers} have passwords stored in clear by an earlier version of \
         Guildhall; they are sealed at the first start with a secret key: create one with \
         `guildhall secrets new-key`, set it as GUILDHALL_SECRET_KEY (and keep a copy: \
         without it the passwords cannot be read) and start again"
    )]
    ClearWithoutKey { servers: String },
    /// Sealed secrets, and no key.
    #[error(
        "the {what} of game server '{server}' is stored encrypted, but GUILDHALL_SECRET_KEY is \
         not set: set it to the key it was sealed with (key id {key_id}) and start again"
    )]
    NoKey {
        server: String,
        what: &'static str,
        key_id: String,
    },
    /// The key set does not open a secret.
    #[error(
        "GUILDHALL_SECRET_KEY (key id {key_id}) does not open the {what} of game server \
         '{server}': {error}. Set GUILDHALL_SECRET_KEY to the key it was sealed with (after \
         `guildhall secrets rotate`: the new key) and start again"
    )]
    WrongKey {
        server: String,
        what: &'static str,
        key_id: String,
        error: SecretError,
    },
    #[error(transparent)]
    Database(#[from] sqlx::Error),
}

#[derive(sqlx::FromRow)]
struct SecretRow {
    server_id: i64,
    name: String,
    rcon_password: Option<String>,
    sftp_password: Option<String>,
    rcon_password_sealed: Option<Vec<u8>>,
    sftp_password_sealed: Option<Vec<u8>>,
    sftp_key_sealed: Option<Vec<u8>>,
}

impl SecretRow {
    fn sealed(&self) -> [(SecretColumn, Option<&[u8]>); 3] {
        [
            (
                SecretColumn::RconPassword,
                self.rcon_password_sealed.as_deref(),
            ),
            (
                SecretColumn::SftpPassword,
                self.sftp_password_sealed.as_deref(),
            ),
            (SecretColumn::SftpKey, self.sftp_key_sealed.as_deref()),
        ]
    }

    /// Clear passwords of an earlier version (empty ones count as none).
    fn clear(&self) -> [(SecretColumn, Option<&str>); 2] {
        fn present(v: &Option<String>) -> Option<&str> {
            v.as_deref().filter(|v| !v.is_empty())
        }
        [
            (SecretColumn::RconPassword, present(&self.rcon_password)),
            (SecretColumn::SftpPassword, present(&self.sftp_password)),
        ]
    }

    fn has_clear(&self) -> bool {
        self.clear().iter().any(|(_, value)| value.is_some())
    }
}

async fn secret_rows(tx: &mut Transaction<'_, Postgres>) -> sqlx::Result<Vec<SecretRow>> {
    sqlx::query_as(
        "select server_id, name, rcon_password, sftp_password, rcon_password_sealed,
                sftp_password_sealed, sftp_key_sealed
         from app.game_servers
         where rcon_password is not null or sftp_password is not null
            or rcon_password_sealed is not null or sftp_password_sealed is not null
            or sftp_key_sealed is not null
         order by server_id
         for update",
    )
    .fetch_all(&mut **tx)
    .await
}

/// Seals the clear passwords in `row` with `key` (when its sealed column is still empty)
/// and empties the clear columns. Returns how many it sealed.
async fn seal_clear(
    tx: &mut Transaction<'_, Postgres>,
    key: &SecretKey,
    row: &SecretRow,
) -> sqlx::Result<usize> {
    let mut sealed = 0;
    for ((column, clear), (_, already)) in row.clear().into_iter().zip(row.sealed()) {
        if let Some(clear) = clear
            && already.is_none()
        {
            let value = key.seal_str(column.place(row.server_id), clear);
            set_sealed(tx, row.server_id, column, Some(&value)).await?;
            sealed += 1;
        }
    }
    sqlx::query(
        "update app.game_servers set rcon_password = null, sftp_password = null
         where server_id = $1",
    )
    .bind(row.server_id)
    .execute(&mut **tx)
    .await?;
    Ok(sealed)
}

/// What the start-up step did.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct SecretsReport {
    /// Clear passwords of an earlier version sealed now.
    pub sealed_now: usize,
    /// Sealed secrets checked to open with the key.
    pub checked: usize,
}

/// The start-up step, in one transaction: seals the passwords an earlier version stored in
/// clear (with `key`; without a key that is an error naming the servers), then checks that
/// `key` opens every stored secret. Nothing stored: `Ok` with or without a key.
pub async fn prepare_secrets(
    pool: &PgPool,
    key: Option<&SecretKey>,
) -> Result<SecretsReport, SecretsCheckError> {
    let mut tx = pool.begin().await?;
    let rows = secret_rows(&mut tx).await?;
    let mut report = SecretsReport::default();
    let clear: Vec<&str> = rows
        .iter()
        .filter(|row| row.has_clear())
        .map(|row| row.name.as_str())
        .collect();
    match key {
        None if !clear.is_empty() => {
            return Err(SecretsCheckError::ClearWithoutKey {
                servers: clear
                    .iter()
                    .map(|name| format!("'{name}'"))
                    .collect::<Vec<_>>()
                    .join(", "),
            });
        }
        None => {}
        Some(key) => {
            for row in rows.iter().filter(|row| row.has_clear()) {
                report.sealed_now += seal_clear(&mut tx, key, row).await?;
            }
        }
    }
    // What is stored now, the values just sealed included.
    let rows = if report.sealed_now > 0 {
        secret_rows(&mut tx).await?
    } else {
        rows
    };
    for row in &rows {
        for (column, sealed) in row.sealed() {
            let Some(sealed) = sealed else { continue };
            check_opens(key, row, column, sealed)?;
            report.checked += 1;
        }
    }
    tx.commit().await?;
    Ok(report)
}

fn check_opens(
    key: Option<&SecretKey>,
    row: &SecretRow,
    column: SecretColumn,
    sealed: &[u8],
) -> Result<Vec<u8>, SecretsCheckError> {
    let Some(key) = key else {
        return Err(SecretsCheckError::NoKey {
            server: row.name.clone(),
            what: column.describe(),
            key_id: sealed_key_id(sealed).unwrap_or_else(|| "unknown".into()),
        });
    };
    key.open(column.place(row.server_id), sealed)
        .map_err(|error| SecretsCheckError::WrongKey {
            server: row.name.clone(),
            what: column.describe(),
            key_id: key.id(),
            error,
        })
}

/// What a rotation did.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct RotateReport {
    /// Secrets sealed again with the new key (clear passwords of an earlier version
    /// included).
    pub secrets: usize,
    /// Servers they belong to.
    pub servers: usize,
}

/// Opens every stored secret with `old` and seals it again with `new`, in one transaction:
/// all or nothing. Clear passwords of an earlier version are sealed with `new` too.
pub async fn rotate_key(
    pool: &PgPool,
    old: &SecretKey,
    new: &SecretKey,
) -> Result<RotateReport, SecretsCheckError> {
    let mut tx = pool.begin().await?;
    let rows = secret_rows(&mut tx).await?;
    let mut report = RotateReport::default();
    for row in &rows {
        let mut resealed = Vec::new();
        for (column, sealed) in row.sealed() {
            let Some(sealed) = sealed else { continue };
            let plain = check_opens(Some(old), row, column, sealed)?;
            resealed.push((column, new.seal(column.place(row.server_id), &plain)));
        }
        for (column, sealed) in &resealed {
            set_sealed(&mut tx, row.server_id, *column, Some(sealed)).await?;
        }
        report.secrets += resealed.len();
        if row.has_clear() {
            report.secrets += seal_clear(&mut tx, new, row).await?;
        }
        report.servers += 1;
    }
    tx.commit().await?;
    Ok(report)
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    fn form() -> ServerForm {
        ServerForm {
            name: "Main".into(),
            game: "cs2".into(),
            host: "127.0.0.1".into(),
            poll_interval_secs: 60,
            log_source: "none".into(),
            sftp_port: 22,
            metrics_interval_secs: 30,
            ..ServerForm::default()
        }
    }

    fn problems(form: &ServerForm, stored: StoredSecrets) -> Vec<(Field, Problem)> {
        validate(form, stored)
            .err()
            .unwrap_or_default()
            .into_iter()
            .map(|e| (e.field, e.problem))
            .collect()
    }

    #[test]
    fn every_bad_field_is_named_with_its_problem() {
        let bad = ServerForm {
            name: " ".into(),
            game: "quake".into(),
            host: "".into(),
            poll_interval_secs: 1,
            log_source: "ftp".into(),
            metrics_interval_secs: 7200,
            capacity: Some(0),
            log_timezone: Some("Mars/Olympus".into()),
            prometheus_url: Some("ftp://x".into()),
            ..form()
        };
        assert_eq!(
            problems(&bad, StoredSecrets::default()),
            vec![
                (Field::Name, Problem::Empty),
                (
                    Field::Game,
                    Problem::UnknownGame {
                        given: "quake".into()
                    }
                ),
                (
                    Field::LogSource,
                    Problem::UnknownLogSource {
                        given: "ftp".into()
                    }
                ),
                (Field::Host, Problem::Empty),
                (
                    Field::PollInterval,
                    Problem::OutOfRange { min: 5, max: 3600 }
                ),
                (
                    Field::MetricsInterval,
                    Problem::OutOfRange { min: 5, max: 3600 }
                ),
                (Field::Capacity, Problem::TooSmall { min: 1 }),
                (
                    Field::LogTimezone,
                    Problem::NotATimeZone {
                        given: "Mars/Olympus".into()
                    }
                ),
                (
                    Field::PrometheusUrl,
                    Problem::NotAnHttpUrl {
                        given: "ftp://x".into()
                    }
                ),
            ]
        );
    }

    #[test]
    fn the_command_line_sentences_stay_as_they_were() {
        let sentence = |field, problem| FieldError { field, problem }.to_string();
        assert_eq!(
            sentence(Field::Name, Problem::Empty),
            "--name must not be empty"
        );
        assert_eq!(
            sentence(
                Field::Game,
                Problem::UnknownGame {
                    given: "quake".into()
                }
            ),
            "--game must be one of cs2, csgo, tf2, source, minecraft (not 'quake')"
        );
        assert_eq!(
            sentence(
                Field::PollInterval,
                Problem::OutOfRange { min: 5, max: 3600 }
            ),
            "--poll-interval must be between 5 and 3600 seconds"
        );
        assert_eq!(
            sentence(
                Field::LogPath,
                Problem::RequiredBy {
                    log_source: LogSource::File
                }
            ),
            "--log-source file needs --log-path (the folder holding the logs)"
        );
        assert_eq!(
            sentence(
                Field::LogSource,
                Problem::NoHttpLogs {
                    game: Game::Minecraft
                }
            ),
            "Minecraft cannot push logs over HTTP: use --log-source file"
        );
        assert_eq!(
            sentence(
                Field::Name,
                Problem::NameTaken {
                    name: "Main".into()
                }
            ),
            "a game server named 'Main' exists already"
        );
    }

    #[test]
    fn sftp_needs_user_folder_and_a_password_or_key_stored_or_given() {
        let sftp = ServerForm {
            log_source: "sftp".into(),
            ..form()
        };
        let required = Problem::RequiredBy {
            log_source: LogSource::Sftp,
        };
        assert_eq!(
            problems(&sftp, StoredSecrets::default()),
            vec![
                (Field::SftpUser, required.clone()),
                (Field::LogPath, required.clone()),
                (Field::SftpPassword, required.clone()),
            ]
        );
        let complete = ServerForm {
            sftp_user: Some("logs".into()),
            log_path: Some("/logs".into()),
            ..sftp
        };
        // A stored key is kept; a stored password cleared with no key left is not enough.
        let stored_key = StoredSecrets {
            sftp_key: true,
            ..StoredSecrets::default()
        };
        assert!(validate(&complete, stored_key).is_ok());
        let clearing = ServerForm {
            sftp_key: SecretChange::Clear,
            ..complete.clone()
        };
        assert_eq!(
            problems(&clearing, stored_key),
            vec![(Field::SftpPassword, required)]
        );
        let not_a_key = ServerForm {
            sftp_key: SecretChange::Replace("hello".into()),
            ..complete
        };
        assert_eq!(
            problems(&not_a_key, StoredSecrets::default()),
            vec![(Field::SftpKey, Problem::Key(KeyProblem::NotAKey))]
        );
    }

    #[test]
    fn sftp_secrets_are_dropped_when_the_source_is_not_sftp() {
        let valid = validate(
            &ServerForm {
                sftp_password: SecretChange::Replace("pw".into()),
                sftp_user: Some("logs".into()),
                rcon_password: SecretChange::Replace("rcon".into()),
                ..form()
            },
            StoredSecrets::default(),
        )
        .unwrap();
        assert_eq!(valid.sftp_password, SecretChange::Clear);
        assert_eq!(valid.sftp_key, SecretChange::Clear);
        assert_eq!(valid.sftp_user, None);
        assert_eq!(valid.rcon_port, Some(27015));
        assert!(!format!("{valid:?}").contains("rcon\""));
    }
}
