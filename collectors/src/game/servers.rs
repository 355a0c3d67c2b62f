//! The game servers as configured in `app.game_servers`, read at run time: the collector
//! compares each read with the last one and restarts only what changed.

use chrono::{DateTime, Utc};
use sqlx::PgPool;

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

/// One configured server (a row of `app.game_servers`). `Debug` leaves the passwords and
/// the log token out.
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
    pub sftp_host_key: Option<String>,
    pub log_timezone: Option<String>,
    pub ingest_token: String,
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
        Some(if self.host.contains(':') && !self.host.starts_with('[') {
            format!("[{}]:{port}", self.host)
        } else {
            format!("{}:{port}", self.host)
        })
    }

    /// Where and as whom its logs are fetched over SFTP, and the folder; or what is missing.
    pub fn sftp_target(&self) -> Result<(super::sftp::SftpTarget, String), String> {
        let present = |value: &Option<String>| value.clone().filter(|v| !v.trim().is_empty());
        let (Some(user), Some(password), Some(folder)) = (
            present(&self.sftp_user),
            present(&self.sftp_password),
            present(&self.log_path),
        ) else {
            return Err(
                "the log source is SFTP, but its user, password or folder is not set".into(),
            );
        };
        Ok((
            super::sftp::SftpTarget {
                host: self.host.clone(),
                port: self.sftp_port,
                user,
                password,
                host_key: present(&self.sftp_host_key),
                timeout: std::time::Duration::from_secs(15),
            },
            folder,
        ))
    }

    /// The zone the server's log timestamps are in.
    pub fn log_tz(&self, community: chrono_tz::Tz) -> chrono_tz::Tz {
        self.log_timezone
            .as_deref()
            .and_then(|name| name.parse().ok())
            .unwrap_or(community)
    }
}

const SELECT: &str = "select server_id, name, game, host, rcon_port, rcon_password,
        poll_interval_secs, log_source, log_path, sftp_port, sftp_user, sftp_password,
        sftp_host_key, log_timezone, ingest_token, prometheus_url, metrics_interval_secs,
        capacity_override, enabled, updated_at
    from app.game_servers";

#[derive(sqlx::FromRow)]
struct Row {
    server_id: i64,
    name: String,
    game: String,
    host: String,
    rcon_port: Option<i32>,
    rcon_password: Option<String>,
    poll_interval_secs: i32,
    log_source: String,
    log_path: Option<String>,
    sftp_port: i32,
    sftp_user: Option<String>,
    sftp_password: Option<String>,
    sftp_host_key: Option<String>,
    log_timezone: Option<String>,
    ingest_token: String,
    prometheus_url: Option<String>,
    metrics_interval_secs: i32,
    capacity_override: Option<i32>,
    enabled: bool,
    updated_at: DateTime<Utc>,
}

fn from_row(row: Row) -> Option<GameServer> {
    Some(GameServer {
        server_id: row.server_id,
        name: row.name,
        game: Game::parse(&row.game)?,
        host: row.host,
        rcon_port: row.rcon_port.and_then(|p| u16::try_from(p).ok()),
        rcon_password: row.rcon_password,
        poll_interval_secs: u32::try_from(row.poll_interval_secs).unwrap_or(60),
        log_source: LogSource::parse(&row.log_source)?,
        log_path: row.log_path,
        sftp_port: u16::try_from(row.sftp_port).unwrap_or(22),
        sftp_user: row.sftp_user,
        sftp_password: row.sftp_password,
        sftp_host_key: row.sftp_host_key,
        log_timezone: row.log_timezone,
        ingest_token: row.ingest_token,
        prometheus_url: row.prometheus_url,
        metrics_interval_secs: u32::try_from(row.metrics_interval_secs).unwrap_or(30),
        capacity_override: row.capacity_override,
        enabled: row.enabled,
        updated_at: row.updated_at,
    })
}

/// Every configured server, enabled or not, by id.
pub async fn load_servers(pool: &PgPool) -> sqlx::Result<Vec<GameServer>> {
    let rows: Vec<Row> = sqlx::query_as(&format!("{SELECT} order by server_id"))
        .fetch_all(pool)
        .await?;
    Ok(rows.into_iter().filter_map(from_row).collect())
}

/// The enabled server whose HTTP log token is `token`.
pub async fn server_by_token(pool: &PgPool, token: &str) -> sqlx::Result<Option<GameServer>> {
    let row: Option<Row> = sqlx::query_as(&format!("{SELECT} where ingest_token = $1 and enabled"))
        .bind(token)
        .fetch_optional(pool)
        .await?;
    Ok(row.and_then(from_row))
}

/// The server named `name` (or with the id `name`).
pub async fn server_by_name(pool: &PgPool, name: &str) -> sqlx::Result<Option<GameServer>> {
    let id: Option<i64> = name.parse().ok();
    let row: Option<Row> = sqlx::query_as(&format!("{SELECT} where name = $1 or server_id = $2"))
        .bind(name)
        .bind(id)
        .fetch_optional(pool)
        .await?;
    Ok(row.and_then(from_row))
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
