//! The bronze records of the game servers: log events, status polls and exporter samples,
//! each written through the one ingest writer (batched, idempotent, spooled in outages).

use super::event::GameAccount;
use crate::ingest::{BronzeRecord, CopyLine};
use chrono::{DateTime, Utc};
use futures::FutureExt;
use futures::future::BoxFuture;
use serde_json::{Value, json};
use std::net::IpAddr;

/// What a stored log line was.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
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
    pub const ALL: [LogKind; 14] = [
        LogKind::Connected,
        LogKind::Validated,
        LogKind::Entered,
        LogKind::Disconnected,
        LogKind::Left,
        LogKind::Team,
        LogKind::Chat,
        LogKind::Account,
        LogKind::Map,
        LogKind::RoundStart,
        LogKind::RoundEnd,
        LogKind::ServerStart,
        LogKind::ServerStop,
        LogKind::Unparsed,
    ];

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

    pub fn parse(text: &str) -> Option<LogKind> {
        LogKind::ALL.into_iter().find(|kind| kind.as_str() == text)
    }
}

/// One line of a game server log, on its way to `bronze.game_log_events`. The address and
/// the chat text exist only between the parser and the ingest steps (which hash the one and
/// reduce the other to its length); neither is ever written or spooled.
#[derive(Clone, Debug, PartialEq)]
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
    pub address: Option<IpAddr>,
    pub ip_hash: Option<String>,
    /// The chat text until the chat step reduces it to its length.
    pub chat_text: Option<String>,
    pub detail: Option<Value>,
}

impl GameLogRecord {
    fn account_parts(&self) -> (Option<&'static str>, Option<String>) {
        match &self.account {
            Some(GameAccount::Steam(id)) => (Some("steam"), Some(id.to_string())),
            Some(GameAccount::Minecraft(uuid)) => (Some("minecraft"), Some(uuid.clone())),
            None => (None, None),
        }
    }
}

impl BronzeRecord for GameLogRecord {
    const SOURCE: &'static str = "game_logs";

    const COPY_STATEMENT: &'static str = "copy bronze.game_log_events
        (server_id, occurred_at, line_hash, kind, player_name, account_kind, account_id,
         is_bot, ip_hash, detail)
        from stdin (format text)";

    fn copy_line(&self, line: &mut CopyLine<'_>) {
        let (kind, id) = self.account_parts();
        line.value(Some(self.server_id))
            .text(Some(&self.occurred_at.to_rfc3339()))
            .value(Some(self.line_hash))
            .text(Some(self.kind.as_str()))
            .text(self.player_name.as_deref())
            .text(kind)
            .text(id.as_deref())
            .value(Some(self.is_bot))
            .text(self.ip_hash.as_deref())
            .text(self.detail.as_ref().map(Value::to_string).as_deref());
    }

    fn insert_batch<'c>(
        conn: &'c mut sqlx::PgConnection,
        batch: &'c [Self],
    ) -> BoxFuture<'c, sqlx::Result<u64>> {
        async move {
            let n = batch.len();
            let mut servers = Vec::with_capacity(n);
            let mut times = Vec::with_capacity(n);
            let mut hashes = Vec::with_capacity(n);
            let mut kinds = Vec::with_capacity(n);
            let mut names = Vec::with_capacity(n);
            let mut account_kinds = Vec::with_capacity(n);
            let mut account_ids = Vec::with_capacity(n);
            let mut bots = Vec::with_capacity(n);
            let mut ip_hashes = Vec::with_capacity(n);
            let mut details = Vec::with_capacity(n);
            for record in batch {
                let (kind, id) = record.account_parts();
                servers.push(record.server_id);
                times.push(record.occurred_at);
                hashes.push(record.line_hash);
                kinds.push(record.kind.as_str());
                names.push(record.player_name.clone());
                account_kinds.push(kind);
                account_ids.push(id);
                bots.push(record.is_bot);
                ip_hashes.push(record.ip_hash.clone());
                details.push(record.detail.clone());
            }
            let result = sqlx::query(
                "insert into bronze.game_log_events
                     (server_id, occurred_at, line_hash, kind, player_name, account_kind,
                      account_id, is_bot, ip_hash, detail)
                 select * from unnest($1::int8[], $2::timestamptz[], $3::int8[], $4::text[],
                                      $5::text[], $6::text[], $7::text[], $8::bool[],
                                      $9::text[], $10::jsonb[])
                 on conflict (server_id, occurred_at, line_hash) do nothing",
            )
            .bind(servers)
            .bind(times)
            .bind(hashes)
            .bind(kinds)
            .bind(names)
            .bind(account_kinds)
            .bind(account_ids)
            .bind(bots)
            .bind(ip_hashes)
            .bind(details)
            .execute(conn)
            .await?;
            Ok(result.rows_affected())
        }
        .boxed()
    }

    fn to_json(&self) -> Value {
        let (kind, id) = self.account_parts();
        json!({
            "server_id": self.server_id.to_string(),
            "occurred_at": self.occurred_at.to_rfc3339(),
            "line_hash": self.line_hash.to_string(),
            "kind": self.kind.as_str(),
            "player_name": self.player_name,
            "account_kind": kind,
            "account_id": id,
            "is_bot": self.is_bot,
            "ip_hash": self.ip_hash,
            "detail": self.detail,
        })
    }

    fn from_json(value: &Value) -> Option<Self> {
        let text = |key: &str| value.get(key).and_then(Value::as_str).map(str::to_owned);
        let number = |key: &str| value.get(key)?.as_str()?.parse::<i64>().ok();
        let account = match (text("account_kind").as_deref(), text("account_id")) {
            (Some("steam"), Some(id)) => Some(GameAccount::Steam(id.parse().ok()?)),
            (Some("minecraft"), Some(id)) => Some(GameAccount::Minecraft(id)),
            _ => None,
        };
        Some(Self {
            server_id: number("server_id")?,
            occurred_at: DateTime::parse_from_rfc3339(&text("occurred_at")?)
                .ok()?
                .with_timezone(&Utc),
            line_hash: number("line_hash")?,
            kind: LogKind::parse(&text("kind")?)?,
            player_name: text("player_name"),
            account,
            is_bot: value.get("is_bot")?.as_bool()?,
            address: None,
            ip_hash: text("ip_hash"),
            chat_text: None,
            detail: value.get("detail").filter(|d| !d.is_null()).cloned(),
        })
    }
}

/// A human player in a status poll.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SnapshotPlayer {
    pub name: String,
    pub account: Option<GameAccount>,
    pub connected_secs: Option<u32>,
    pub ping: Option<u32>,
}

/// One status poll, on its way to `bronze.game_status_snapshots`.
#[derive(Clone, Debug, PartialEq)]
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

    fn players_from_json(value: &Value) -> Option<Vec<SnapshotPlayer>> {
        value
            .as_array()?
            .iter()
            .map(|p| {
                let text = |key: &str| p.get(key).and_then(Value::as_str).map(str::to_owned);
                let number = |key: &str| {
                    p.get(key)
                        .and_then(Value::as_u64)
                        .and_then(|n| u32::try_from(n).ok())
                };
                let account = match (text("account_kind").as_deref(), text("account_id")) {
                    (Some("steam"), Some(id)) => Some(GameAccount::Steam(id.parse().ok()?)),
                    (Some("minecraft"), Some(id)) => Some(GameAccount::Minecraft(id)),
                    _ => None,
                };
                Some(SnapshotPlayer {
                    name: text("name")?,
                    account,
                    connected_secs: number("connected_secs"),
                    ping: number("ping"),
                })
            })
            .collect()
    }
}

impl BronzeRecord for StatusRecord {
    const SOURCE: &'static str = "game_status";

    const COPY_STATEMENT: &'static str = "copy bronze.game_status_snapshots
        (server_id, polled_at, map, humans, bots, max_players, players)
        from stdin (format text)";

    fn copy_line(&self, line: &mut CopyLine<'_>) {
        line.value(Some(self.server_id))
            .text(Some(&self.polled_at.to_rfc3339()))
            .text(self.map.as_deref())
            .value(Some(self.humans))
            .value(Some(self.bots))
            .value(self.max_players)
            .text(Some(&self.players_json().to_string()));
    }

    fn insert_batch<'c>(
        conn: &'c mut sqlx::PgConnection,
        batch: &'c [Self],
    ) -> BoxFuture<'c, sqlx::Result<u64>> {
        async move {
            let mut new = 0;
            for record in batch {
                new += sqlx::query(
                    "insert into bronze.game_status_snapshots
                         (server_id, polled_at, map, humans, bots, max_players, players)
                     values ($1, $2, $3, $4, $5, $6, $7)
                     on conflict (server_id, polled_at) do nothing",
                )
                .bind(record.server_id)
                .bind(record.polled_at)
                .bind(&record.map)
                .bind(record.humans)
                .bind(record.bots)
                .bind(record.max_players)
                .bind(record.players_json())
                .execute(&mut *conn)
                .await?
                .rows_affected();
            }
            Ok(new)
        }
        .boxed()
    }

    fn to_json(&self) -> Value {
        json!({
            "server_id": self.server_id.to_string(),
            "polled_at": self.polled_at.to_rfc3339(),
            "map": self.map,
            "humans": self.humans,
            "bots": self.bots,
            "max_players": self.max_players,
            "players": self.players_json(),
        })
    }

    fn from_json(value: &Value) -> Option<Self> {
        let int = |key: &str| {
            value
                .get(key)
                .and_then(Value::as_i64)
                .and_then(|n| i32::try_from(n).ok())
        };
        Some(Self {
            server_id: value.get("server_id")?.as_str()?.parse().ok()?,
            polled_at: DateTime::parse_from_rfc3339(value.get("polled_at")?.as_str()?)
                .ok()?
                .with_timezone(&Utc),
            map: value.get("map").and_then(Value::as_str).map(str::to_owned),
            humans: int("humans")?,
            bots: int("bots")?,
            max_players: int("max_players"),
            players: Self::players_from_json(value.get("players")?)?,
        })
    }
}

/// One exporter scrape, on its way to `bronze.game_metric_samples`.
#[derive(Clone, Debug, PartialEq)]
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

    const COPY_STATEMENT: &'static str = "copy bronze.game_metric_samples
        (server_id, scraped_at, players_online, tps, tick_ms, memory_used_bytes,
         memory_max_bytes, bad_lines)
        from stdin (format text)";

    fn copy_line(&self, line: &mut CopyLine<'_>) {
        line.value(Some(self.server_id))
            .text(Some(&self.scraped_at.to_rfc3339()))
            .value(self.players_online.filter(|v| v.is_finite()))
            .value(self.tps.filter(|v| v.is_finite()))
            .value(self.tick_ms.filter(|v| v.is_finite()))
            .value(self.memory_used_bytes.filter(|v| v.is_finite()))
            .value(self.memory_max_bytes.filter(|v| v.is_finite()))
            .value(Some(self.bad_lines));
    }

    fn insert_batch<'c>(
        conn: &'c mut sqlx::PgConnection,
        batch: &'c [Self],
    ) -> BoxFuture<'c, sqlx::Result<u64>> {
        async move {
            let mut new = 0;
            for r in batch {
                let finite = |v: Option<f64>| v.filter(|v| v.is_finite());
                new += sqlx::query(
                    "insert into bronze.game_metric_samples
                         (server_id, scraped_at, players_online, tps, tick_ms, memory_used_bytes,
                          memory_max_bytes, bad_lines)
                     values ($1, $2, $3, $4, $5, $6, $7, $8)
                     on conflict (server_id, scraped_at) do nothing",
                )
                .bind(r.server_id)
                .bind(r.scraped_at)
                .bind(finite(r.players_online))
                .bind(finite(r.tps))
                .bind(finite(r.tick_ms))
                .bind(finite(r.memory_used_bytes))
                .bind(finite(r.memory_max_bytes))
                .bind(r.bad_lines)
                .execute(&mut *conn)
                .await?
                .rows_affected();
            }
            Ok(new)
        }
        .boxed()
    }

    fn to_json(&self) -> Value {
        let finite = |v: Option<f64>| v.filter(|v| v.is_finite());
        json!({
            "server_id": self.server_id.to_string(),
            "scraped_at": self.scraped_at.to_rfc3339(),
            "players_online": finite(self.players_online),
            "tps": finite(self.tps),
            "tick_ms": finite(self.tick_ms),
            "memory_used_bytes": finite(self.memory_used_bytes),
            "memory_max_bytes": finite(self.memory_max_bytes),
            "bad_lines": self.bad_lines,
        })
    }

    fn from_json(value: &Value) -> Option<Self> {
        let number = |key: &str| value.get(key).and_then(Value::as_f64);
        Some(Self {
            server_id: value.get("server_id")?.as_str()?.parse().ok()?,
            scraped_at: DateTime::parse_from_rfc3339(value.get("scraped_at")?.as_str()?)
                .ok()?
                .with_timezone(&Utc),
            players_online: number("players_online"),
            tps: number("tps"),
            tick_ms: number("tick_ms"),
            memory_used_bytes: number("memory_used_bytes"),
            memory_max_bytes: number("memory_max_bytes"),
            bad_lines: i32::try_from(value.get("bad_lines")?.as_i64()?).ok()?,
        })
    }
}
