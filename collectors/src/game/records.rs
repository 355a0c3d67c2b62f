//! The bronze records of the game servers: log events, status polls and exporter samples,
//! each written through the one ingest writer (batched, idempotent, spooled in outages).

use super::event::GameAccount;
use crate::ingest::{BronzeRecord, Row};
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use serde_json::{Value, json};
use std::net::IpAddr;

/// What a stored log line was.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum LogKind {
    Connected,
    Validated,
    Entered,
    Disconnected,
    Left,
    Team,
    Chat,
    Account,
    Map,
    RoundStart,
    RoundEnd,
    ServerStart,
    ServerStop,
    /// A line that could not be read: kept with its error, counted.
    Unparsed,
}

impl LogKind {
    pub fn as_str(self) -> &'static str {
        match self {
            LogKind::Connected => "connected",
            LogKind::Validated => "validated",
            LogKind::Entered => "entered",
            LogKind::Disconnected => "disconnected",
            LogKind::Left => "left",
            LogKind::Team => "team",
            LogKind::Chat => "chat",
            LogKind::Account => "account",
            LogKind::Map => "map",
            LogKind::RoundStart => "round_start",
            LogKind::RoundEnd => "round_end",
            LogKind::ServerStart => "server_start",
            LogKind::ServerStop => "server_stop",
            LogKind::Unparsed => "unparsed",
        }
    }
}

/// One line of a game server log, on its way to `bronze.game_log_events`. The address and
/// the chat text exist only between the parser and the ingest steps (which hash the one and
/// reduce the other to its length); neither is ever written or spooled.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct GameLogRecord {
    pub server_id: i64,
    pub occurred_at: DateTime<Utc>,
    /// Hash of the line (and its repeat count within the same instant): the same line is
    /// stored once, whichever way it arrived (HTTP, file, SFTP, import).
    pub line_hash: i64,
    pub kind: LogKind,
    pub player_name: Option<String>,
    pub account: Option<GameAccount>,
    pub is_bot: bool,
    /// The player's address until the address step hashes it.
    #[serde(skip)]
    pub address: Option<IpAddr>,
    pub ip_hash: Option<String>,
    /// The chat text until the chat step reduces it to its length.
    #[serde(skip)]
    pub chat_text: Option<String>,
    pub detail: Option<Value>,
    /// An unparsed line's bytes as kept (addresses and chat text taken out, see
    /// [`crate::game::logs::quarantined_line`]); `None` for an event.
    #[serde(default)]
    pub raw_line: Option<Vec<u8>>,
}

impl GameLogRecord {
    fn account_parts(&self) -> (Option<&'static str>, Option<String>) {
        match &self.account {
            Some(GameAccount::Steam(id)) => (Some("steam"), Some(id.to_string())),
            Some(GameAccount::Minecraft(uuid)) => (Some("minecraft"), Some(uuid.clone())),
            None => (None, None),
        }
    }

    /// A chat line `!link CODE` whose code's hash the ingest kept for the pipeline.
    pub fn carries_link_code(&self) -> bool {
        self.kind == LogKind::Chat
            && self
                .detail
                .as_ref()
                .is_some_and(|detail| detail.get("code_hash").is_some())
    }
}

impl BronzeRecord for GameLogRecord {
    const SOURCE: &'static str = "game_logs";
    const TABLE: &'static str = "bronze.game_log_events";
    const KEY: &'static str = "server_id, occurred_at, line_hash";

    fn columns(&self, row: &mut Row<'_>) {
        let (kind, id) = self.account_parts();
        row.int8("server_id", Some(self.server_id))
            .time("occurred_at", Some(self.occurred_at))
            .int8("line_hash", Some(self.line_hash))
            .text("kind", Some(self.kind.as_str()))
            .text("player_name", self.player_name.as_deref())
            .text("account_kind", kind)
            .text("account_id", id.as_deref())
            .bool("is_bot", Some(self.is_bot))
            .text("ip_hash", self.ip_hash.as_deref())
            .json("detail", self.detail.as_ref())
            .bytes("raw_line", self.raw_line.as_deref());
    }

    fn accounts(&self) -> Vec<(&'static str, String)> {
        player_accounts(self.player_name.as_deref(), self.account.as_ref())
    }
}

/// A game player's accounts as opt-outs are kept: the account, and (Minecraft lines name the
/// player without the account) the lower-cased name of a player not known by a SteamID.
fn player_accounts(
    name: Option<&str>,
    account: Option<&GameAccount>,
) -> Vec<(&'static str, String)> {
    let mut accounts = Vec::with_capacity(2);
    match account {
        Some(GameAccount::Steam(id)) => accounts.push(("steam", id.to_string())),
        Some(GameAccount::Minecraft(uuid)) => accounts.push(("minecraft", uuid.clone())),
        None => {}
    }
    if !matches!(account, Some(GameAccount::Steam(_)))
        && let Some(name) = name
    {
        accounts.push(("minecraft_name", name.to_lowercase()));
    }
    accounts
}

/// A human player in a status poll.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct SnapshotPlayer {
    pub name: String,
    pub account: Option<GameAccount>,
    pub connected_secs: Option<u32>,
    pub ping: Option<u32>,
}

/// One status poll, on its way to `bronze.game_status_snapshots`.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct StatusRecord {
    pub server_id: i64,
    pub polled_at: DateTime<Utc>,
    pub map: Option<String>,
    pub humans: i32,
    pub bots: i32,
    pub max_players: Option<i32>,
    pub players: Vec<SnapshotPlayer>,
}

impl StatusRecord {
    fn players_json(&self) -> Value {
        Value::Array(
            self.players
                .iter()
                .map(|p| {
                    let (kind, id) = match &p.account {
                        Some(GameAccount::Steam(id)) => (Some("steam"), Some(id.to_string())),
                        Some(GameAccount::Minecraft(uuid)) => {
                            (Some("minecraft"), Some(uuid.clone()))
                        }
                        None => (None, None),
                    };
                    json!({
                        "name": p.name,
                        "account_kind": kind,
                        "account_id": id,
                        "connected_secs": p.connected_secs,
                        "ping": p.ping,
                    })
                })
                .collect(),
        )
    }
}

impl BronzeRecord for StatusRecord {
    const SOURCE: &'static str = "game_status";
    const TABLE: &'static str = "bronze.game_status_snapshots";
    const KEY: &'static str = "server_id, polled_at";

    fn columns(&self, row: &mut Row<'_>) {
        row.int8("server_id", Some(self.server_id))
            .time("polled_at", Some(self.polled_at))
            .text("map", self.map.as_deref())
            .int4("humans", Some(self.humans))
            .int4("bots", Some(self.bots))
            .int4("max_players", self.max_players)
            .json("players", Some(&self.players_json()));
    }

    fn accounts(&self) -> Vec<(&'static str, String)> {
        self.players
            .iter()
            .flat_map(|player| player_accounts(Some(&player.name), player.account.as_ref()))
            .collect()
    }

    /// The poll stays (its head counts are anonymous); opted-out players leave its list.
    fn keep_without_opted_out(&mut self, opted_out: &dyn Fn(&str, &str) -> bool) -> bool {
        self.players.retain(|player| {
            !player_accounts(Some(&player.name), player.account.as_ref())
                .iter()
                .any(|(kind, id)| opted_out(kind, id))
        });
        true
    }
}

/// One exporter scrape, on its way to `bronze.game_metric_samples`.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct MetricRecord {
    pub server_id: i64,
    pub scraped_at: DateTime<Utc>,
    pub players_online: Option<f64>,
    pub tps: Option<f64>,
    pub tick_ms: Option<f64>,
    pub memory_used_bytes: Option<f64>,
    pub memory_max_bytes: Option<f64>,
    pub bad_lines: i32,
}

impl BronzeRecord for MetricRecord {
    const SOURCE: &'static str = "game_metrics";
    const TABLE: &'static str = "bronze.game_metric_samples";
    const KEY: &'static str = "server_id, scraped_at";

    fn columns(&self, row: &mut Row<'_>) {
        row.int8("server_id", Some(self.server_id))
            .time("scraped_at", Some(self.scraped_at))
            .float8("players_online", self.players_online)
            .float8("tps", self.tps)
            .float8("tick_ms", self.tick_ms)
            .float8("memory_used_bytes", self.memory_used_bytes)
            .float8("memory_max_bytes", self.memory_max_bytes)
            .int4("bad_lines", Some(self.bad_lines));
    }
}
