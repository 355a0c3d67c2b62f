//! The game servers as the admin edits them (`api/game_servers.rs`,
//! `pages/admin_servers/`): the form of every field of `guildhall servers add`, a server
//! as the list shows it, and what a connection test found.
//!
//! Secrets travel one way only: the form carries a new RCON or SFTP password to the server,
//! nothing carries one back (a server shows whether a password is set, never the password).

use serde::{Deserialize, Serialize};

use super::SourceStatus;

/// What saving does with a stored secret.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum SecretAction {
    /// Leave it as it is (unset stays unset).
    #[default]
    Keep,
    /// Store the new value given with it.
    Replace,
    /// Remove it.
    Clear,
}

/// A secret field of the form: what to do, and the new value for [`SecretAction::Replace`].
#[derive(Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default)]
pub struct SecretInput {
    pub action: SecretAction,
    pub value: String,
}

impl std::fmt::Debug for SecretInput {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        // Never the value.
        f.debug_struct("SecretInput")
            .field("action", &self.action)
            .finish_non_exhaustive()
    }
}

impl SecretInput {
    /// A new value.
    pub fn replace(value: &str) -> Self {
        Self {
            action: SecretAction::Replace,
            value: value.to_owned(),
        }
    }
}

/// The add/edit form: every field of `guildhall servers add`, as typed (numbers are text,
/// so a wrong one is answered next to its field rather than refused as a whole request).
/// Empty text means "not set" (or the default, where there is one).
#[derive(Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default)]
pub struct GameServerForm {
    pub name: String,
    /// `cs2`, `csgo`, `tf2`, `source` or `minecraft`.
    pub game: String,
    pub host: String,
    /// Empty: the game's default port (27015 Source, 25575 Minecraft).
    pub rcon_port: String,
    pub rcon_password: SecretInput,
    /// Seconds between status polls (5–3600; empty: 60).
    pub poll_interval_secs: String,
    /// `none`, `http`, `file` or `sftp`.
    pub log_source: String,
    /// The log folder on this machine (`file`) or on the SFTP server (`sftp`).
    pub log_path: String,
    /// Empty: 22.
    pub sftp_port: String,
    pub sftp_user: String,
    pub sftp_password: SecretInput,
    /// The SFTP login key: a private key in OpenSSH format, pasted.
    pub sftp_key: SecretInput,
    /// The key's passphrase, when it has one: used once to open a new key, never stored.
    pub sftp_key_passphrase: String,
    /// The pinned host key fingerprint, `SHA256:…`.
    pub sftp_host_key: String,
    /// IANA zone of the log times; empty: the community's.
    pub log_timezone: String,
    pub prometheus_url: String,
    /// Seconds between exporter scrapes (5–3600; empty: 30).
    pub metrics_interval_secs: String,
    /// Player slots when the server's own maximum is not what counts; empty: the server's.
    pub capacity: String,
}

impl std::fmt::Debug for GameServerForm {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("GameServerForm")
            .field("name", &self.name)
            .field("game", &self.game)
            .field("host", &self.host)
            .field("rcon_port", &self.rcon_port)
            .field("rcon_password", &self.rcon_password)
            .field("log_source", &self.log_source)
            .field("sftp_password", &self.sftp_password)
            .field("sftp_key", &self.sftp_key)
            .finish_non_exhaustive()
    }
}

/// One configured server as the admin page lists it. No password and no log token: only
/// whether a password is set.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct GameServerSettings {
    pub server_id: i64,
    pub name: String,
    pub game: String,
    pub host: String,
    pub rcon_port: Option<u16>,
    pub rcon_password_set: bool,
    pub poll_interval_secs: u32,
    pub log_source: String,
    pub log_path: Option<String>,
    pub sftp_port: u16,
    pub sftp_user: Option<String>,
    pub sftp_password_set: bool,
    /// Whether an SFTP login key is set (never the key).
    pub sftp_key_set: bool,
    pub sftp_host_key: Option<String>,
    pub log_timezone: Option<String>,
    pub prometheus_url: Option<String>,
    pub metrics_interval_secs: u32,
    pub capacity: Option<i32>,
    pub enabled: bool,
    /// Per source (rcon, logs, metrics): last success and last error.
    pub sources: Vec<SourceStatus>,
}

impl GameServerSettings {
    /// The form filled with this server's settings, secrets kept.
    pub fn form(&self) -> GameServerForm {
        let text = |value: &Option<String>| value.clone().unwrap_or_default();
        GameServerForm {
            name: self.name.clone(),
            game: self.game.clone(),
            host: self.host.clone(),
            rcon_port: self.rcon_port.map(|p| p.to_string()).unwrap_or_default(),
            rcon_password: SecretInput::default(),
            poll_interval_secs: self.poll_interval_secs.to_string(),
            log_source: self.log_source.clone(),
            log_path: text(&self.log_path),
            sftp_port: self.sftp_port.to_string(),
            sftp_user: text(&self.sftp_user),
            sftp_password: SecretInput::default(),
            sftp_key: SecretInput::default(),
            sftp_key_passphrase: String::new(),
            sftp_host_key: text(&self.sftp_host_key),
            log_timezone: text(&self.log_timezone),
            prometheus_url: text(&self.prometheus_url),
            metrics_interval_secs: self.metrics_interval_secs.to_string(),
            capacity: self.capacity.map(|c| c.to_string()).unwrap_or_default(),
        }
    }
}

/// Where a server sends its logs over HTTP: shown once, when the token is made (it is not
/// kept readable).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct LogAddress {
    /// `<public url>/ingest/logs/<token>`.
    pub url: String,
    /// The line for the server's config: `logaddress_add_http "<url>"`.
    pub command: String,
}

/// A server just saved.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct SavedGameServer {
    pub server_id: i64,
    pub name: String,
    /// For a new server that sends logs over HTTP (CS2, CS:GO, or log source `http`).
    pub log_address: Option<LogAddress>,
}

/// What deleting a server did.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct DeletedGameServer {
    pub name: String,
    /// Rows of its history erased (bronze, silver and gold), when erasing was chosen.
    pub erased_rows: Option<i64>,
}

/// Why RCON failed, as the admin needs to know it.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub enum RconProblem {
    /// Nothing listens on the port.
    Refused,
    /// The host cannot be reached (unknown name, no route).
    Unreachable,
    /// No answer in time.
    Timeout,
    /// The password was refused.
    WrongPassword,
    /// Something answers, but not RCON.
    NotRcon,
    /// The server closed the connection.
    Closed,
    /// The answer to `status`/`list` could not be read.
    Unreadable,
    /// No RCON password is set, so RCON is not used.
    NotConfigured,
    /// Anything else.
    Other,
}

/// The RCON part of a connection test.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub enum RconCheck {
    /// Authenticated, and the command's answer.
    Answered {
        /// `status` or `list`.
        command: String,
        map: Option<String>,
        humans: i32,
        bots: i32,
        max_players: Option<i32>,
        players: Vec<String>,
    },
    Failed {
        problem: RconProblem,
        /// `host:port` that was tried.
        address: String,
    },
}

/// Why the log source failed.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub enum LogsProblem {
    /// The SFTP server's key is not pinned: shown for the admin to check and confirm.
    UnknownHostKey {
        fingerprint: String,
    },
    /// The SFTP server presents another key than the pinned one.
    HostKeyChanged {
        presented: String,
        pinned: String,
    },
    Refused,
    Unreachable,
    Timeout,
    /// User or password refused.
    LoginRefused,
    /// The server takes no password logins.
    NoPasswordLogin,
    /// User or key refused.
    KeyRefused,
    /// The server takes no key logins.
    NoKeyLogin,
    NoSuchFolder,
    NotAFolder,
    PermissionDenied,
    Other,
}

/// One log file found in the folder.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct LogFileSeen {
    pub name: String,
    pub bytes: u64,
    /// On the community's clock.
    pub modified: Option<super::LocalTime>,
}

/// The log part of a connection test.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub enum LogsCheck {
    /// The folder (SFTP or on this machine) was listed: its newest files, newest first.
    Listed {
        folder: String,
        files: Vec<LogFileSeen>,
        total: u32,
    },
    /// HTTP logs arrive when the server sends them; nothing to try from here.
    Http,
    Failed {
        problem: LogsProblem,
    },
}

/// Why a Prometheus scrape failed.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub enum MetricsProblem {
    Unreachable,
    Timeout,
    /// The exporter answered with this HTTP status.
    Status(u16),
    Other,
}

/// The Prometheus part of a connection test.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub enum MetricsCheck {
    Scraped {
        players: Option<f64>,
        tps: Option<f64>,
        bad_lines: i32,
    },
    Failed {
        problem: MetricsProblem,
    },
}

/// The servers section: every server, and the community's time zone its times are in.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct GameServersSection {
    /// The IANA time zone the section's times are in.
    pub zone: String,
    pub servers: Vec<GameServerSettings>,
}

/// What a connection test found, per configured source.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct ConnectionReport {
    pub rcon: RconCheck,
    /// `None`: no log source.
    pub logs: Option<LogsCheck>,
    /// `None`: no exporter.
    pub metrics: Option<MetricsCheck>,
}
