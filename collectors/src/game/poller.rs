//! The status poller and the exporter scraper: one poll of one server each, turned into a
//! bronze record. The collector calls them on each server's interval.

use super::event::GameAccount;
use super::kind::Game;
use super::list_reply::parse_list_reply;
use super::prometheus::{
    MAX_SCRAPE_BYTES, ScrapeError, fetch_scrape, parse_metrics, server_metrics,
};
use super::rcon::{Rcon, RconError};
use super::records::{MetricRecord, SnapshotPlayer, StatusRecord};
use super::status_reply::parse_status_reply;
use chrono::{DateTime, Utc};

/// Why a poll gave no snapshot.
#[derive(Debug, thiserror::Error)]
pub enum PollError {
    #[error("RCON: {0}")]
    Rcon(#[from] RconError),
    #[error("the server's answer to `{command}` could not be read: {reason}")]
    Unreadable {
        command: &'static str,
        reason: String,
    },
}

/// Polls a server's players once: `status` on Source games, `list uuids` (or `list` where
/// the server does not know it) on Minecraft.
pub struct StatusPoller {
    server_id: i64,
    game: Game,
    rcon: Rcon,
    /// Minecraft before 1.13 (and some forks) know only `list`.
    list_uuids: bool,
}

impl StatusPoller {
    pub fn new(server_id: i64, game: Game, rcon: Rcon) -> Self {
        Self {
            server_id,
            game,
            rcon,
            list_uuids: true,
        }
    }

    /// One poll, stamped `polled_at`.
    pub async fn poll(&mut self, polled_at: DateTime<Utc>) -> Result<StatusRecord, PollError> {
        match self.game {
            Game::Minecraft => self.poll_minecraft(polled_at).await,
            _ => {
                let reply = self.rcon.exec("status").await?;
                let status = parse_status_reply(&reply).map_err(|error| PollError::Unreadable {
                    command: "status",
                    reason: error.to_string(),
                })?;
                Ok(StatusRecord {
                    server_id: self.server_id,
                    polled_at,
                    map: status.map,
                    humans: i32::try_from(status.players.len()).unwrap_or(i32::MAX),
                    bots: i32::try_from(status.bots).unwrap_or(i32::MAX),
                    max_players: status.max_players.and_then(|m| i32::try_from(m).ok()),
                    players: status
                        .players
                        .into_iter()
                        .map(|p| SnapshotPlayer {
                            name: p.name,
                            account: p.steam_id.map(GameAccount::Steam),
                            connected_secs: p.connected_secs,
                            ping: p.ping,
                        })
                        .collect(),
                })
            }
        }
    }

    async fn poll_minecraft(
        &mut self,
        polled_at: DateTime<Utc>,
    ) -> Result<StatusRecord, PollError> {
        let mut list = None;
        if self.list_uuids {
            let reply = self.rcon.exec("list uuids").await?;
            match parse_list_reply(&reply) {
                Ok(parsed) => list = Some(parsed),
                Err(_) => {
                    tracing::info!(
                        server_id = self.server_id,
                        "the server does not know `list uuids`: polling `list`"
                    );
                    self.list_uuids = false;
                }
            }
        }
        let list = match list {
            Some(list) => list,
            None => {
                let reply = self.rcon.exec("list").await?;
                parse_list_reply(&reply).map_err(|error| PollError::Unreadable {
                    command: "list",
                    reason: error.to_string(),
                })?
            }
        };
        Ok(StatusRecord {
            server_id: self.server_id,
            polled_at,
            map: None,
            // Hidden players (vanish plugins) are counted, though not named.
            humans: i32::try_from(list.online.max(list.players.len() as u32)).unwrap_or(i32::MAX),
            bots: 0,
            max_players: list.max.and_then(|m| i32::try_from(m).ok()),
            players: list
                .players
                .into_iter()
                .map(|p| SnapshotPlayer {
                    name: p.name,
                    account: p.uuid.map(GameAccount::Minecraft),
                    connected_secs: None,
                    ping: None,
                })
                .collect(),
        })
    }
}

/// Scrapes a Prometheus exporter once; the body may be at most [`MAX_SCRAPE_BYTES`].
pub async fn scrape(
    http: &reqwest::Client,
    server_id: i64,
    url: &str,
    scraped_at: DateTime<Utc>,
) -> Result<MetricRecord, ScrapeError> {
    let text = fetch_scrape(http, url, MAX_SCRAPE_BYTES).await?;
    let scrape = parse_metrics(&text);
    let values = server_metrics(&scrape);
    Ok(MetricRecord {
        server_id,
        scraped_at,
        players_online: values.players_online,
        tps: values.tps,
        tick_ms: values.tick_ms,
        memory_used_bytes: values.memory_used_bytes,
        memory_max_bytes: values.memory_max_bytes,
        bad_lines: i32::try_from(scrape.bad_lines.len()).unwrap_or(i32::MAX),
    })
}
