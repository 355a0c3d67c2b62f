//! The game servers as configured in `app.game_servers`, read at run time: the collector
//! compares each read with the last one and restarts only what changed.

use chrono::{DateTime, Utc};
use sqlx::PgPool;

use crate::secrets::{Place, SecretError, SecretKey, same_hash, sealed_key_id, token_hash};

pub use super::kind::Game;

/// Where a server's logs come from.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum LogSource {
    None,
    /// CS2/CS:GO `logaddress_add_http` POSTs to Guildhall.
    Http,
    /// A folder on this machine (a mounted volume).
    File,
    /// A folder on an SFTP server.
    Sftp,
}

impl LogSource {
    pub const ALL: [LogSource; 4] = [
        LogSource::None,
        LogSource::Http,
        LogSource::File,
        LogSource::Sftp,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            LogSource::None => "none",
            LogSource::Http => "http",
            LogSource::File => "file",
            LogSource::Sftp => "sftp",
        }
    }

    pub fn parse(text: &str) -> Option<LogSource> {
        LogSource::ALL
            .into_iter()
            .find(|source| source.as_str() == text)
    }
}

/// One configured server (a row of `app.game_servers`) with its secrets opened, for the
/// collectors. `Debug` leaves the passwords and the key out.
#[derive(Clone, PartialEq, Eq)]
pub struct GameServer {
    pub server_id: i64,
    pub name: String,
    pub game: Game,
    pub host: String,
    pub rcon_port: Option<u16>,
    pub rcon_password: Option<String>,
    pub poll_interval_secs: u32,
    pub log_source: LogSource,
    pub log_path: Option<String>,
    pub sftp_port: u16,
    pub sftp_user: Option<String>,
    pub sftp_password: Option<String>,
    /// The SFTP login key, OpenSSH private key format without passphrase.
    pub sftp_key: Option<String>,
    pub sftp_host_key: Option<String>,
    pub log_timezone: Option<String>,
    pub prometheus_url: Option<String>,
    pub metrics_interval_secs: u32,
    pub capacity_override: Option<i32>,
    pub enabled: bool,
    pub updated_at: DateTime<Utc>,
}

impl std::fmt::Debug for GameServer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("GameServer")
            .field("server_id", &self.server_id)
            .field("name", &self.name)
            .field("game", &self.game)
            .field("host", &self.host)
            .field("rcon_port", &self.rcon_port)
            .field("log_source", &self.log_source)
            .field("log_path", &self.log_path)
            .field("sftp_port", &self.sftp_port)
            .field("sftp_user", &self.sftp_user)
            .field("sftp_host_key", &self.sftp_host_key)
            .field("enabled", &self.enabled)
            .finish_non_exhaustive()
    }
}

impl GameServer {
    /// The RCON address, when RCON is configured (a port and a password).
    pub fn rcon_addr(&self) -> Option<String> {
        let port = self.rcon_port?;
        self.rcon_password.as_ref().filter(|p| !p.is_empty())?;
        Some(host_port(&self.host, port))
    }

    /// Where and as whom its logs are fetched over SFTP, and the folder; or what is missing.
    /// A key, when one is set, is used instead of the password.
    pub fn sftp_target(&self) -> Result<(super::sftp::SftpTarget, String), String> {
        let present = |value: &Option<String>| value.clone().filter(|v| !v.trim().is_empty());
        let auth = match (present(&self.sftp_key), present(&self.sftp_password)) {
            (Some(key), _) => super::sftp::SftpAuth::key(&key, None).map_err(|e| e.to_string())?,
            (None, Some(password)) => super::sftp::SftpAuth::Password(password),
            (None, None) => {
                return Err(
                    "the log source is SFTP, but neither its password nor its key is set".into(),
                );
            }
        };
        let (Some(user), Some(folder)) = (present(&self.sftp_user), present(&self.log_path)) else {
            return Err("the log source is SFTP, but its user or folder is not set".into());
        };
        Ok((
            super::sftp::SftpTarget {
                host: self.host.clone(),
                port: self.sftp_port,
                user,
                auth,
                host_key: present(&self.sftp_host_key),
                timeout: std::time::Duration::from_secs(15),
            },
            folder,
        ))
    }

    /// The zone the server's log timestamps are in.
    pub fn log_tz(&self, community: chrono_tz::Tz) -> chrono_tz::Tz {
        log_tz(self.log_timezone.as_deref(), community)
    }
}

/// `host:port`, with brackets around an IPv6 address.
pub fn host_port(host: &str, port: u16) -> String {
    if host.contains(':') && !host.starts_with('[') {
        format!("[{host}]:{port}")
    } else {
        format!("{host}:{port}")
    }
}

fn log_tz(zone: Option<&str>, community: chrono_tz::Tz) -> chrono_tz::Tz {
    zone.and_then(|name| name.parse().ok()).unwrap_or(community)
}

/// A server's settings as the admin pages and `servers list` show them: everything but its
/// secrets, of which only whether each is set.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct GameServerSettings {
    pub server_id: i64,
    pub name: String,
    pub game: Game,
    pub host: String,
    pub rcon_port: Option<u16>,
    pub rcon_password_set: bool,
    pub poll_interval_secs: u32,
    pub log_source: LogSource,
    pub log_path: Option<String>,
    pub sftp_port: u16,
    pub sftp_user: Option<String>,
    pub sftp_password_set: bool,
    pub sftp_key_set: bool,
    pub sftp_host_key: Option<String>,
    pub log_timezone: Option<String>,
    pub prometheus_url: Option<String>,
    pub metrics_interval_secs: u32,
    pub capacity_override: Option<i32>,
    pub enabled: bool,
    pub updated_at: DateTime<Utc>,
}

impl GameServerSettings {
    /// The zone the server's log timestamps are in.
    pub fn log_tz(&self, community: chrono_tz::Tz) -> chrono_tz::Tz {
        log_tz(self.log_timezone.as_deref(), community)
    }

    /// The RCON address, when RCON is configured (a port and a password).
    pub fn rcon_addr(&self) -> Option<String> {
        let port = self.rcon_port?;
        self.rcon_password_set.then(|| host_port(&self.host, port))
    }
}

/// The table secrets of game servers live in.
pub const TABLE: &str = "app.game_servers";

/// The sealed secret columns of `app.game_servers`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum SecretColumn {
    RconPassword,
    SftpPassword,
    SftpKey,
}

impl SecretColumn {
    pub const ALL: [SecretColumn; 3] = [
        SecretColumn::RconPassword,
        SecretColumn::SftpPassword,
        SecretColumn::SftpKey,
    ];

    pub fn column(self) -> &'static str {
        match self {
            SecretColumn::RconPassword => "rcon_password_sealed",
            SecretColumn::SftpPassword => "sftp_password_sealed",
            SecretColumn::SftpKey => "sftp_key_sealed",
        }
    }

    /// What it is, for messages.
    pub fn describe(self) -> &'static str {
        match self {
            SecretColumn::RconPassword => "RCON password",
            SecretColumn::SftpPassword => "SFTP password",
            SecretColumn::SftpKey => "SFTP key",
        }
    }

    /// Where a server's value of this secret lives (the associated data it is sealed to).
    pub fn place(self, server_id: i64) -> Place<'static> {
        Place {
            table: TABLE,
            column: self.column(),
            row: server_id,
        }
    }
}

/// Why the servers could not be loaded with their secrets.
#[derive(Debug, thiserror::Error)]
pub enum LoadError {
    #[error(transparent)]
    Database(#[from] sqlx::Error),
    #[error(
        "game server '{server}' has a sealed {what}, but GUILDHALL_SECRET_KEY is not set: set it \
         to the key the secrets were sealed with (key id {key_id})"
    )]
    NoKey {
        server: String,
        what: &'static str,
        key_id: String,
    },
    #[error("the {what} of game server '{server}' cannot be opened: {error}")]
    Secret {
        server: String,
        what: &'static str,
        error: SecretError,
    },
}

const SELECT: &str = "select server_id, name, game, host, rcon_port, rcon_password_sealed,
        poll_interval_secs, log_source, log_path, sftp_port, sftp_user, sftp_password_sealed,
        sftp_key_sealed, sftp_host_key, log_timezone, prometheus_url, metrics_interval_secs,
        capacity_override, enabled, updated_at, ingest_token_hash
    from app.game_servers";

#[derive(sqlx::FromRow)]
struct Row {
    server_id: i64,
    name: String,
    game: String,
    host: String,
    rcon_port: Option<i32>,
    rcon_password_sealed: Option<Vec<u8>>,
    poll_interval_secs: i32,
    log_source: String,
    log_path: Option<String>,
    sftp_port: i32,
    sftp_user: Option<String>,
    sftp_password_sealed: Option<Vec<u8>>,
    sftp_key_sealed: Option<Vec<u8>>,
    sftp_host_key: Option<String>,
    log_timezone: Option<String>,
    prometheus_url: Option<String>,
    metrics_interval_secs: i32,
    capacity_override: Option<i32>,
    enabled: bool,
    updated_at: DateTime<Utc>,
    ingest_token_hash: Vec<u8>,
}

impl Row {
    fn sealed(&self, column: SecretColumn) -> Option<&[u8]> {
        match column {
            SecretColumn::RconPassword => self.rcon_password_sealed.as_deref(),
            SecretColumn::SftpPassword => self.sftp_password_sealed.as_deref(),
            SecretColumn::SftpKey => self.sftp_key_sealed.as_deref(),
        }
    }

    fn open(
        &self,
        key: Option<&SecretKey>,
        column: SecretColumn,
    ) -> Result<Option<String>, LoadError> {
        let Some(sealed) = self.sealed(column) else {
            return Ok(None);
        };
        let Some(key) = key else {
            return Err(LoadError::NoKey {
                server: self.name.clone(),
                what: column.describe(),
                key_id: sealed_key_id(sealed).unwrap_or_else(|| "unknown".into()),
            });
        };
        key.open_str(column.place(self.server_id), sealed)
            .map(Some)
            .map_err(|error| LoadError::Secret {
                server: self.name.clone(),
                what: column.describe(),
                error,
            })
    }
}

fn settings_from_row(row: Row) -> Option<GameServerSettings> {
    Some(GameServerSettings {
        server_id: row.server_id,
        game: Game::parse(&row.game)?,
        log_source: LogSource::parse(&row.log_source)?,
        rcon_port: row.rcon_port.and_then(|p| u16::try_from(p).ok()),
        rcon_password_set: row.rcon_password_sealed.is_some(),
        poll_interval_secs: u32::try_from(row.poll_interval_secs).unwrap_or(60),
        sftp_port: u16::try_from(row.sftp_port).unwrap_or(22),
        sftp_password_set: row.sftp_password_sealed.is_some(),
        sftp_key_set: row.sftp_key_sealed.is_some(),
        metrics_interval_secs: u32::try_from(row.metrics_interval_secs).unwrap_or(30),
        name: row.name,
        host: row.host,
        log_path: row.log_path,
        sftp_user: row.sftp_user,
        sftp_host_key: row.sftp_host_key,
        log_timezone: row.log_timezone,
        prometheus_url: row.prometheus_url,
        capacity_override: row.capacity_override,
        enabled: row.enabled,
        updated_at: row.updated_at,
    })
}

fn server_from_row(row: Row, key: Option<&SecretKey>) -> Result<Option<GameServer>, LoadError> {
    let rcon_password = row.open(key, SecretColumn::RconPassword)?;
    let sftp_password = row.open(key, SecretColumn::SftpPassword)?;
    let sftp_key = row.open(key, SecretColumn::SftpKey)?;
    let Some(settings) = settings_from_row(row) else {
        return Ok(None);
    };
    Ok(Some(GameServer {
        server_id: settings.server_id,
        name: settings.name,
        game: settings.game,
        host: settings.host,
        rcon_port: settings.rcon_port,
        rcon_password,
        poll_interval_secs: settings.poll_interval_secs,
        log_source: settings.log_source,
        log_path: settings.log_path,
        sftp_port: settings.sftp_port,
        sftp_user: settings.sftp_user,
        sftp_password,
        sftp_key,
        sftp_host_key: settings.sftp_host_key,
        log_timezone: settings.log_timezone,
        prometheus_url: settings.prometheus_url,
        metrics_interval_secs: settings.metrics_interval_secs,
        capacity_override: settings.capacity_override,
        enabled: settings.enabled,
        updated_at: settings.updated_at,
    }))
}

/// Every configured server, enabled or not, by id, with its secrets opened with `key`.
pub async fn load_servers(
    pool: &PgPool,
    key: Option<&SecretKey>,
) -> Result<Vec<GameServer>, LoadError> {
    let rows: Vec<Row> = sqlx::query_as(&format!("{SELECT} order by server_id"))
        .fetch_all(pool)
        .await?;
    let mut servers = Vec::with_capacity(rows.len());
    for row in rows {
        servers.extend(server_from_row(row, key)?);
    }
    Ok(servers)
}

/// The server named `name` (or with the id `name`), with its secrets opened with `key`.
pub async fn server_by_name(
    pool: &PgPool,
    name: &str,
    key: Option<&SecretKey>,
) -> Result<Option<GameServer>, LoadError> {
    match row_by_name(pool, name).await? {
        Some(row) => server_from_row(row, key),
        None => Ok(None),
    }
}

/// The server with the id `server_id`, with its secrets opened with `key`.
pub async fn server_by_id(
    pool: &PgPool,
    server_id: i64,
    key: Option<&SecretKey>,
) -> Result<Option<GameServer>, LoadError> {
    let row: Option<Row> = sqlx::query_as(&format!("{SELECT} where server_id = $1"))
        .bind(server_id)
        .fetch_optional(pool)
        .await?;
    match row {
        Some(row) => server_from_row(row, key),
        None => Ok(None),
    }
}

async fn row_by_name(pool: &PgPool, name: &str) -> sqlx::Result<Option<Row>> {
    let id: Option<i64> = name.parse().ok();
    // A deleted server (history kept) may share its name with a configured one: that one.
    sqlx::query_as(&format!(
        "{SELECT} where name = $1 or server_id = $2 order by deleted_at is not null limit 1"
    ))
    .bind(name)
    .bind(id)
    .fetch_optional(pool)
    .await
}

/// Every configured server's settings (no secrets), by id.
pub async fn load_settings(pool: &PgPool) -> sqlx::Result<Vec<GameServerSettings>> {
    let rows: Vec<Row> = sqlx::query_as(&format!("{SELECT} order by server_id"))
        .fetch_all(pool)
        .await?;
    Ok(rows.into_iter().filter_map(settings_from_row).collect())
}

/// The settings (no secrets) of the server named `name` (or with the id `name`).
pub async fn settings_by_name(
    pool: &PgPool,
    name: &str,
) -> sqlx::Result<Option<GameServerSettings>> {
    Ok(row_by_name(pool, name).await?.and_then(settings_from_row))
}

/// The settings of the server with the id `server_id`.
pub async fn settings_by_id(
    pool: &PgPool,
    server_id: i64,
) -> sqlx::Result<Option<GameServerSettings>> {
    let row: Option<Row> = sqlx::query_as(&format!("{SELECT} where server_id = $1"))
        .bind(server_id)
        .fetch_optional(pool)
        .await?;
    Ok(row.and_then(settings_from_row))
}

/// The enabled server whose HTTP log token is `token`: looked up by the token's SHA-256
/// (the only form stored), and the stored hash compared in constant time.
pub async fn server_by_token(
    pool: &PgPool,
    token: &str,
) -> sqlx::Result<Option<GameServerSettings>> {
    let hash = token_hash(token);
    let row: Option<Row> = sqlx::query_as(&format!(
        "{SELECT} where ingest_token_hash = $1 and enabled"
    ))
    .bind(&hash)
    .fetch_optional(pool)
    .await?;
    Ok(row
        .filter(|row| same_hash(&row.ingest_token_hash, &hash))
        .and_then(settings_from_row))
}

/// Which of a server's sources a status is about.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum SourceKind {
    Rcon,
    Logs,
    Metrics,
}

impl SourceKind {
    pub fn as_str(self) -> &'static str {
        match self {
            SourceKind::Rcon => "rcon",
            SourceKind::Logs => "logs",
            SourceKind::Metrics => "metrics",
        }
    }
}

/// Records a source's success (`error` = None) or failure in `app.game_source_status`.
pub async fn report_source(
    pool: &PgPool,
    server_id: i64,
    source: SourceKind,
    error: Option<&str>,
) -> sqlx::Result<()> {
    let query = match error {
        None => sqlx::query(
            "insert into app.game_source_status (server_id, source, last_success_at)
             values ($1, $2, now())
             on conflict (server_id, source) do update set last_success_at = now()",
        )
        .bind(server_id)
        .bind(source.as_str()),
        Some(error) => sqlx::query(
            "insert into app.game_source_status (server_id, source, last_error, last_error_at)
             values ($1, $2, $3, now())
             on conflict (server_id, source) do update
                 set last_error = excluded.last_error, last_error_at = now()",
        )
        .bind(server_id)
        .bind(source.as_str())
        .bind(error),
    };
    query
        .execute(pool)
        .await
        .map(|_| ())
        // A server deleted meanwhile has nothing to report to.
        .or_else(|error| match &error {
            sqlx::Error::Database(db) if db.is_foreign_key_violation() => Ok(()),
            _ => Err(error),
        })
}
