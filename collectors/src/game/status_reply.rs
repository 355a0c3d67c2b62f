//! The reply to the RCON `status` command of CS2 and Source 1 games (CS:GO, TF2, HL2DM,
//! L4D…), read into a [`StatusReply`]: the map, the player counts and the humans on the
//! server.
//!
//! Why the parser is as it is: `status` is console text for people, not an API, and its layout
//! differs by engine branch and year:
//!
//! * Source 1 prints `key : value` header lines (`hostname`, `version`, `map     : de_dust2`
//!   or `map     : cp_badlands at: 0 x, 0 y, 0 z`, `players : 2 humans, 10 bots (20/0 max)
//!   (not hibernating)`, older `players : 5 (24 max)`), then a table: `# userid name uniqueid
//!   connected ping loss state rate adr` and one `#` row per client. Names are double-quoted
//!   and not escaped, so a name may hold `"`; no column after the name does, so the name runs
//!   from the first to the last `"` of the row. Bots print `BOT` in place of the uniqueid and
//!   no time or ping. CS:GO adds a second number (the client index) after the userid; the
//!   uniqueid is SteamID2 (CS:GO) or SteamID3 (TF2, HL2DM); `connected` is `MM:SS` or
//!   `H:MM:SS`.
//! * CS2 prints no `map` line (the map is the `mapload` spawngroup, `loaded spawngroup(  1)  :
//!   SV:  [1: de_dust2 | main lump | mapload]`), no SteamIDs, `(0 max)` whatever the real
//!   limit, and a table under `---------players--------` whose rows end in a single-quoted
//!   name (`'name'`, also first to last quote) with `BOT` or `[NoChan]` (a connection still
//!   being set up, not a player) in the time column.
//! * The console is shared: other prints can land between the lines of the reply (an engine
//!   warning, a plugin, `log on` echo lines `L 11/25/2019 - 20:20:38: …`), and with
//!   `con_timestamp 1` every line starts with `05/24/2026 - 16:14:57: `. So the reply is
//!   read line by line, a timestamp prefix is stripped, and each line is recognised on its
//!   own, in any order; unknown lines (echoed log lines among them) are skipped.
//!
//! Counts: the player list is the table's human rows; `humans` is their number where the
//! reply has a table, else the header's count. `bots` and `max_players` come from the
//! header (bots counted from `BOT` rows where there is no header).

use super::steamid::parse_steam_id;

/// What a `status` reply says about the server at the moment it was sent.
#[derive(Clone, Debug, PartialEq, Eq, Default)]
pub struct StatusReply {
    /// The map being played (`None` where the reply does not name it).
    pub map: Option<String>,
    /// Humans on the server: the table's human rows, or the header's count where the reply
    /// has no table. 0 for an empty or hibernating server.
    pub humans: u32,
    /// Bots (the header's count, else the table's `BOT` rows; SourceTV/GOTV is a bot).
    pub bots: u32,
    /// The player limit from the header (`(20/0 max)` → 20, `(25 max)` → 25); `None` where
    /// the reply has none or prints 0 (CS2 always prints `(0 max)`).
    pub max_players: Option<u32>,
    /// The humans in the player table, in table order.
    pub players: Vec<StatusPlayer>,
    /// The server says it is hibernating (empty, not simulating).
    pub hibernating: bool,
}

/// One human in the `status` player table.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct StatusPlayer {
    /// The name as printed, without its quotes.
    pub name: String,
    /// The SteamID64, where the row carries a usable SteamID (never in CS2, and not for
    /// `STEAM_ID_PENDING`/`STEAM_ID_LAN`).
    pub steam_id: Option<u64>,
    /// How long the player has been connected, in seconds.
    pub connected_secs: Option<u32>,
    /// The ping in milliseconds.
    pub ping: Option<u32>,
    /// The userid (Source 1, the `<12>` of HL log lines) or id (CS2, the same number as in
    /// its log lines).
    pub slot: Option<u32>,
}

/// Why a reply could not be read as `status`.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum StatusReplyError {
    /// No line of the reply is one `status` prints (map, players, spawngroup, player table).
    #[error("not a status reply: no map, players, spawngroup or player-table line in it")]
    NotAStatusReply,
}

/// Reads the reply to `status` (one string, all packets joined).
///
/// Lenient by design: lines it does not know are skipped, the order of lines does not
/// matter, a malformed row is left out. It fails only when nothing in the reply is a line
/// that `status` prints, e.g. for `Unknown command "status"` or the output of `users`.
pub fn parse_status_reply(reply: &str) -> Result<StatusReply, StatusReplyError> {
    let mut snapshot = StatusReply::default();
    let mut recognised = false;
    let mut has_table = false;
    let mut header_humans: Option<u32> = None;
    let mut header_bots: Option<u32> = None;
    let mut bot_rows: u32 = 0;
    let mut header_map: Option<String> = None;
    let mut spawngroup_map: Option<String> = None;

    for raw in reply.lines() {
        let line = strip_log_prefix(raw.trim_end_matches(['\r', '\0']));
        let trimmed = line.trim_start();
        if trimmed.is_empty() {
            continue;
        }
        if let Some(row) = source_row(trimmed).or_else(|| cs2_row(trimmed)) {
            recognised = true;
            has_table = true;
            match row {
                Row::Bot => bot_rows += 1,
                Row::Human(p) => snapshot.players.push(p),
                Row::Other => {}
            }
            continue;
        }
        if let Some(map) = cs2_spawngroup_map(trimmed) {
            recognised = true;
            if spawngroup_map.is_none() {
                spawngroup_map = Some(map.to_owned());
            }
            continue;
        }
        let Some((key, value)) = header_line(trimmed) else {
            continue;
        };
        match key {
            "map" => {
                if let Some(map) = value.split_ascii_whitespace().next() {
                    recognised = true;
                    header_map = Some(map.to_owned());
                }
            }
            "players" => {
                if let Some(counts) = players_line(value) {
                    recognised = true;
                    header_humans = counts.humans.or(header_humans);
                    header_bots = counts.bots.or(header_bots);
                    snapshot.max_players = counts.max.filter(|&m| m > 0);
                    snapshot.hibernating = counts.hibernating;
                }
            }
            _ => {}
        }
    }

    if !recognised {
        return Err(StatusReplyError::NotAStatusReply);
    }
    snapshot.map = header_map.or(spawngroup_map);
    let table_humans = u32::try_from(snapshot.players.len()).unwrap_or(u32::MAX);
    snapshot.humans = if has_table {
        table_humans
    } else {
        header_humans.unwrap_or(0)
    };
    snapshot.bots = header_bots.unwrap_or(bot_rows);
    Ok(snapshot)
}

/// Reads the reply to `users`: `<slot:userid:"name">`, one `slot:userid:"name"` row per
/// client, `N users`. Returns `(slot, name)` per row; an empty list for `0 users` or for
/// anything that is not `users` output.
pub fn parse_users_reply(reply: &str) -> Vec<(u32, String)> {
    reply
        .lines()
        .filter_map(|raw| {
            let line = strip_log_prefix(raw.trim_end_matches(['\r', '\0'])).trim();
            let (slot, rest) = line.split_once(':')?;
            let slot = parse_u32(slot)?;
            let (userid, name) = rest.split_once(':')?;
            parse_u32(userid)?;
            let name = name.strip_prefix('"')?.strip_suffix('"')?;
            Some((slot, name.to_owned()))
        })
        .collect()
}

/// A line of the player table.
enum Row {
    /// The column header line, `#end`, or a CS2 `[NoChan]` row (a connection being set up).
    Other,
    /// A bot's row.
    Bot,
    /// A human's row.
    Human(StatusPlayer),
}

/// A Source 1 table line: `# userid name …` header, `#end`, or a client row
/// `# 93 2 "name" STEAM_0:1:82178006 00:21 931 83 spawning 196608`,
/// `#      3 "sonikro"  [U:1:29162964]  00:20  60  0 active 169.254.249.16:18930`,
/// `#103 "Jeff" BOT active 64`.
fn source_row(line: &str) -> Option<Row> {
    let after_hash = line.strip_prefix('#')?;
    let head = after_hash.trim_start();
    if head.starts_with("userid") {
        return Some(Row::Other);
    }
    if head == "end" {
        return Some(Row::Other);
    }
    let open = line.find('"')?;
    let close = line.rfind('"')?;
    if close <= open {
        return None;
    }
    // Before the name: the userid and, in CS:GO, the slot.
    let mut numbers = line[1..open].split_ascii_whitespace();
    let userid = parse_u32(numbers.next()?)?;
    if let Some(slot) = numbers.next() {
        parse_u32(slot)?;
    }
    if numbers.next().is_some() {
        return None;
    }
    let name = &line[open + 1..close];
    let mut cols = line[close + 1..].split_ascii_whitespace();
    let uniqueid = cols.next()?;
    if uniqueid == "BOT" {
        return Some(Row::Bot);
    }
    // Anything else in that column is not a client row but some other `#` print.
    if !(uniqueid.starts_with("STEAM_") || uniqueid.starts_with('[')) {
        return None;
    }
    let connected_secs = cols.next().and_then(parse_duration);
    let ping = cols.next().and_then(parse_u32);
    Some(Row::Human(StatusPlayer {
        name: name.to_owned(),
        steam_id: parse_steam_id(uniqueid),
        connected_secs,
        ping,
        slot: Some(userid),
    }))
}

/// A CS2 table line (leading spaces already trimmed): the `id time ping loss state rate adr
/// name` header or a row `2    00:43   24    0     active 786432 85.216.99.177:62135
/// 'XylotoGhost'`, `0      BOT    0    0     active      0 'Squad'`. `[NoChan]` rows are
/// connections being set up and yield nothing; `#end` is handled as a Source line.
fn cs2_row(line: &str) -> Option<Row> {
    if line.starts_with("id ") && line.ends_with(" name") && line.contains(" ping ") {
        return Some(Row::Other);
    }
    let open = line.find('\'')?;
    let close = line.rfind('\'')?;
    if close <= open || !line[close + 1..].trim().is_empty() {
        return None;
    }
    let mut cols = line[..open].split_ascii_whitespace();
    let id = parse_u32(cols.next()?)?;
    let time = cols.next()?;
    let ping = parse_u32(cols.next()?)?;
    parse_u32(cols.next()?)?; // loss
    let state = cols.next()?;
    if !state.bytes().all(|b| b.is_ascii_alphabetic()) {
        return None;
    }
    let connected_secs = match time {
        "BOT" => return Some(Row::Bot),
        "[NoChan]" => return Some(Row::Other),
        t => Some(parse_duration(t)?),
    };
    Some(Row::Human(StatusPlayer {
        name: line[open + 1..close].to_owned(),
        steam_id: None,
        connected_secs,
        ping: Some(ping),
        slot: Some(id),
    }))
}

/// The map of a CS2 `loaded spawngroup(  1)  : SV:  [1: de_dust2 | main lump | mapload]`
/// line: the first field of a `mapload` group that is not a prefab.
fn cs2_spawngroup_map(line: &str) -> Option<&str> {
    let rest = line.strip_prefix("loaded spawngroup(")?;
    let open = rest.find('[')?;
    let inner = rest[open + 1..].strip_suffix(']')?;
    let mut fields = inner.split('|').map(str::trim);
    let first = fields.next()?;
    let mut mapload = false;
    for field in fields {
        match field {
            "mapload" => mapload = true,
            "point_prefab" => return None,
            _ => {}
        }
    }
    if !mapload {
        return None;
    }
    // `1: de_dust2` → `de_dust2`
    let name = first.split_once(':').map_or(first, |(_, n)| n).trim();
    (!name.is_empty()).then_some(name)
}

/// A header line `key : value` (any spaces around the colon); the key is one lowercase word
/// such as `map`, `players`, `hostname`, `os/type`.
fn header_line(line: &str) -> Option<(&str, &str)> {
    let (key, value) = line.split_once(':')?;
    let key = key.trim_end();
    if key.is_empty()
        || !key
            .bytes()
            .all(|b| b.is_ascii_lowercase() || b == b'/' || b == b' ')
        || key.contains("  ")
    {
        return None;
    }
    Some((key, value.trim()))
}

/// What the `players` line says.
struct PlayerCounts {
    humans: Option<u32>,
    bots: Option<u32>,
    max: Option<u32>,
    hibernating: bool,
}

/// The value of a `players` line: `17 humans, 7 bots (16/0 max) (not hibernating)`,
/// `0 humans, 1 bots (25 max)`, `1 humans, 2 bots (0 max) (not hibernating) (unreserved)`,
/// older `5 (24 max)`.
fn players_line(value: &str) -> Option<PlayerCounts> {
    let mut counts = PlayerCounts {
        humans: None,
        bots: None,
        max: None,
        hibernating: false,
    };
    let mut previous: Option<&str> = None;
    for word in value.split_ascii_whitespace() {
        let bare = word.trim_end_matches(',');
        match bare {
            "humans" | "human" => counts.humans = previous.and_then(parse_u32),
            "bots" | "bot" => counts.bots = previous.and_then(parse_u32),
            "max)" => {
                counts.max = previous
                    .and_then(|p| p.strip_prefix('('))
                    .and_then(|p| p.split('/').next())
                    .and_then(parse_u32);
            }
            "(hibernating)" => counts.hibernating = true,
            _ => {}
        }
        previous = Some(bare);
    }
    (counts.humans.is_some() || counts.bots.is_some() || counts.max.is_some()).then_some(counts)
}

/// Strips a log or console timestamp from the start of a line: `L 11/25/2019 - 20:20:38: `
/// (log echo), `05/24/2026 - 16:14:57: ` (`con_timestamp 1`), `07/17/2026 - 18:14:24.251 - `
/// (CS2); digits may be masked with `*`. Other lines are returned unchanged.
fn strip_log_prefix(line: &str) -> &str {
    const SHAPE: &[u8; 21] = b"00/00/0000 - 00:00:00";
    let b = line.as_bytes();
    let start = if b.starts_with(b"L ") { 2 } else { 0 };
    let Some(stamp) = b.get(start..start + SHAPE.len()) else {
        return line;
    };
    let matches = SHAPE.iter().zip(stamp).all(|(&want, &got)| {
        if want == b'0' {
            got.is_ascii_digit() || got == b'*'
        } else {
            want == got
        }
    });
    if !matches {
        return line;
    }
    let mut i = start + SHAPE.len();
    if b.get(i) == Some(&b'.') {
        i += 1;
        while b.get(i).is_some_and(u8::is_ascii_digit) {
            i += 1;
        }
    }
    let rest = &line[i..];
    rest.strip_prefix(": ")
        .or_else(|| rest.strip_prefix(" - "))
        .unwrap_or(line)
}

/// A run of ASCII digits as `u32`.
fn parse_u32(s: &str) -> Option<u32> {
    if s.is_empty() || s.len() > 10 || !s.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    s.parse().ok()
}

/// `SS`, `MM:SS` or `H:MM:SS` as seconds.
fn parse_duration(s: &str) -> Option<u32> {
    let mut total: u32 = 0;
    let mut parts = 0;
    for part in s.split(':') {
        parts += 1;
        if parts > 3 {
            return None;
        }
        total = total.checked_mul(60)?.checked_add(parse_u32(part)?)?;
    }
    Some(total)
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests;
