//! What the game log parsers find in a line: one [`LogRecord`] per line worth keeping, in
//! the same shape for Source (HL log standard, CS2 HTTP bodies) and Minecraft logs, so the
//! ingest step, the bronze table and the sessions transform handle every game alike.

use chrono::{NaiveDateTime, NaiveTime};
use std::net::IpAddr;

/// An account on a game platform, normalised: SteamID64 for every SteamID form, a
/// lowercase hyphenated UUID for Minecraft.
#[derive(Clone, Debug, PartialEq, Eq, Hash, serde::Serialize, serde::Deserialize)]
#[serde(tag = "kind", content = "id", rename_all = "snake_case")]
pub enum GameAccount {
    /// A SteamID64 (`7656119…`), whatever form the game printed (SteamID2, SteamID3).
    Steam(u64),
    /// A Minecraft UUID, `xxxxxxxx-xxxx-xxxx-xxxx-xxxxxxxxxxxx`, lowercase.
    Minecraft(String),
}

/// A player as a log line names them.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Player {
    /// The in-game name as printed (unescaped, may hold any character).
    pub name: String,
    /// The account, where the line carries one (`None` for Minecraft lines other than the
    /// UUID line, and for Source lines without a usable SteamID).
    pub account: Option<GameAccount>,
    /// The server's user id (`<12>` in HL lines), where printed.
    pub slot: Option<u32>,
    /// A bot (`BOT` in place of the SteamID), never counted as a human.
    pub bot: bool,
}

/// When a line happened, as far as the line says: HL lines carry date and time (the
/// server's local time); Minecraft's `latest.log` lines carry only the time of day and the
/// reader supplies the date (file name, rotation, day roll-over).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum LogTime {
    Full(NaiveDateTime),
    TimeOfDay(NaiveTime),
}

/// One parsed line.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct LogRecord {
    pub at: LogTime,
    pub event: LogEvent,
}

/// The events Guildhall keeps from game logs.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum LogEvent {
    /// Source: `"…" connected, address "ip:port"`; Minecraft: `name[/ip:port] logged in…`.
    /// The address is replaced by a salted hash at the ingest step and never stored.
    Connected {
        player: Player,
        address: Option<IpAddr>,
    },
    /// Source: `STEAM USERID validated`.
    Validated { player: Player },
    /// Source: `entered the game`; Minecraft: `name joined the game`.
    Entered { player: Player },
    /// Source: `disconnected (reason "…")`; Minecraft: `name lost connection: reason` (a
    /// separate `Left` follows on newer servers).
    Disconnected {
        player: Player,
        reason: Option<String>,
    },
    /// Minecraft: `name left the game`.
    Left { player: Player },
    /// Source: `switched from team <A> to <B>`.
    TeamSwitch {
        player: Player,
        from: String,
        to: String,
    },
    /// A chat line. The text lives only until the link-code check at the ingest step, which
    /// reduces it to its length before anything is stored.
    Chat {
        player: Player,
        team_only: bool,
        text: String,
    },
    /// Minecraft: `UUID of player name is …` — ties a name to an account for the lines
    /// that follow.
    AccountSeen { player: Player },
    /// Source: `Loading map "…"` / `Started map "…"`.
    MapStarted { map: String },
    /// Source: `World triggered "Round_Start"`.
    RoundStart,
    /// Source: `World triggered "Round_End"`.
    RoundEnd,
    /// Source: `Log file started`; Minecraft: `Done (…)! For help, type "help"`.
    ServerStart,
    /// Source: `Log file closed` / `server_message: "quit"`; Minecraft: `Stopping server`.
    ServerStop,
}

/// Why a line could not be read. The line is kept (addresses hashed, text cut) with this
/// reason and counted, never dropped silently.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct LineError(pub &'static str);

impl std::fmt::Display for LineError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.0)
    }
}

impl std::error::Error for LineError {}

/// What a parser makes of one line: `Ok(Some(record))` for an event Guildhall keeps,
/// `Ok(None)` for a well-formed line with nothing to keep (cvars, kills, plugin output),
/// `Err` for a line that is not in the log's format at all.
pub type ParseResult = Result<Option<LogRecord>, LineError>;
