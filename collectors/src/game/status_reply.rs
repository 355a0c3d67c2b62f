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
mod tests {
    use super::*;
    use proptest::prelude::*;

    macro_rules! fixture {
        ($name:literal) => {
            concat!(
                env!("CARGO_MANIFEST_DIR"),
                "/tests/fixtures/01-cs2-rcon-status/",
                $name
            )
        };
    }

    fn read(path: &str) -> String {
        std::fs::read_to_string(path).unwrap()
    }

    fn status(path: &str) -> StatusReply {
        parse_status_reply(&read(path)).unwrap()
    }

    /// Name, SteamID64, connected seconds, ping, slot.
    type Expected<'a> = (&'a str, Option<u64>, Option<u32>, Option<u32>, Option<u32>);

    fn player_is(p: &StatusPlayer, (name, steam_id, connected_secs, ping, slot): Expected<'_>) {
        assert_eq!(
            p,
            &StatusPlayer {
                name: name.to_owned(),
                steam_id,
                connected_secs,
                ping,
                slot,
            }
        );
    }

    fn counts_are(
        s: &StatusReply,
        map: Option<&str>,
        humans: u32,
        bots: u32,
        max: Option<u32>,
        hibernating: bool,
    ) {
        assert_eq!(s.map.as_deref(), map, "map");
        assert_eq!(s.humans, humans, "humans");
        assert_eq!(s.bots, bots, "bots");
        assert_eq!(s.max_players, max, "max");
        assert_eq!(s.hibernating, hibernating, "hibernating");
        assert_eq!(s.players.len(), humans as usize, "players");
    }

    #[test]
    fn cs2_live() {
        let s = status(fixture!("cs2_status_live_strikeman.txt"));
        // Header: 1 humans, 2 bots (0 max); table: a [NoChan] connection, one BOT, one human.
        counts_are(&s, Some("de_nuke"), 1, 2, None, false);
        player_is(
            &s.players[0],
            ("XylotoGhost", None, Some(43), Some(24), Some(2)),
        );
    }

    #[test]
    fn csgo_official_1() {
        let s = status(fixture!("csgo_status_client_official_1.txt"));
        // Header says 17 humans; the table lists 7 (the sample was edited), trusted.
        counts_are(&s, Some("de_dust2"), 7, 7, Some(16), false);
        player_is(
            &s.players[0],
            (
                "BonBonn",
                Some(76_561_198_124_621_741),
                Some(21),
                Some(931),
                Some(93),
            ),
        );
        player_is(
            &s.players[6],
            (
                "bambi",
                Some(76_561_198_400_947_077),
                Some(20),
                Some(71),
                Some(96),
            ),
        );
    }

    #[test]
    fn csgo_official_2() {
        let s = status(fixture!("csgo_status_client_official_2.txt"));
        // No column header line, no BOT rows; header 17 humans, 7 bots.
        counts_are(&s, Some("de_dust2"), 9, 7, Some(16), false);
        player_is(
            &s.players[0],
            (
                "V!c_Schnitzel",
                Some(76_561_198_900_601_510),
                Some(23),
                Some(61),
                Some(806),
            ),
        );
        player_is(
            &s.players[3],
            (
                "\u{1d4aa}\u{1d4c2}\u{212f}\u{1d4c7}\u{1d4c9}\u{1d4b6}",
                Some(76_561_199_091_112_475),
                Some(26 * 60 + 29),
                Some(78),
                Some(771),
            ),
        );
        player_is(
            &s.players[6],
            (
                "\\",
                Some(76_561_198_347_602_854),
                Some(41 * 60 + 34),
                Some(142),
                Some(756),
            ),
        );
        player_is(
            &s.players[8],
            (
                "\u{1d4db}\u{1d4ea}\u{1d4f4}\u{1d4ee}\u{1d4f5}\u{1d4f2}\u{1d4f2}",
                Some(76_561_198_799_176_757),
                Some(6 * 60 + 28),
                Some(84),
                Some(803),
            ),
        );
    }

    #[test]
    fn csgo_official_3() {
        let s = status(fixture!("csgo_status_client_official_3.txt"));
        counts_are(&s, Some("de_iris"), 9, 0, Some(10), false);
        player_is(
            &s.players[0],
            (
                "BonBonn",
                Some(76_561_198_124_621_741),
                Some(73),
                Some(56),
                Some(5),
            ),
        );
        player_is(
            &s.players[6],
            (
                "FuNny #muse",
                Some(76_561_198_220_526_912),
                Some(6 * 60 + 51),
                Some(55),
                Some(11),
            ),
        );
        player_is(
            &s.players[8],
            (
                "jansiZERA",
                Some(76_561_198_212_727_603),
                Some(72),
                Some(97),
                Some(14),
            ),
        );
    }

    #[test]
    fn csgo_official_4() {
        let s = status(fixture!("csgo_status_client_official_4.txt"));
        counts_are(&s, Some("cs_agency"), 10, 0, Some(10), false);
        player_is(
            &s.players[0],
            (
                "t0mN",
                Some(76_561_198_165_348_657),
                Some(32),
                Some(49),
                Some(3),
            ),
        );
        player_is(
            &s.players[4],
            (
                "X | knoCtXez",
                Some(76_561_197_991_052_685),
                Some(32),
                Some(48),
                Some(9),
            ),
        );
        player_is(
            &s.players[9],
            (
                "\u{392}\u{3b1}\u{3c3}\u{3b9}\u{3bb}\u{3b1}\u{3ba}\u{3b7}\u{3c2} \u{391}\u{3bd}\u{3b4}\u{3c1}",
                Some(76_561_198_120_693_716),
                Some(32),
                Some(116),
                Some(14),
            ),
        );
    }

    #[test]
    fn csgo_official_5() {
        let s = status(fixture!("csgo_status_client_official_5.txt"));
        // A BOT row in the middle of the table; a duplicated userid row (edited sample).
        counts_are(&s, Some("de_overpass"), 8, 1, Some(7), false);
        player_is(
            &s.players[0],
            (
                "t0mN",
                Some(76_561_198_165_348_657),
                Some(3 * 60 + 23),
                Some(52),
                Some(329),
            ),
        );
        player_is(
            &s.players[1],
            (
                "t0mN",
                Some(76_561_198_980_870_657),
                Some(3 * 60 + 23),
                Some(52),
                Some(329),
            ),
        );
        player_is(
            &s.players[7],
            (
                "Arhhh",
                Some(76_561_198_360_137_518),
                Some(71),
                Some(69),
                Some(342),
            ),
        );
    }

    #[test]
    fn csgo_official_6() {
        let s = status(fixture!("csgo_status_client_official_6.txt"));
        counts_are(&s, Some("de_overpass"), 9, 1, Some(7), false);
        player_is(
            &s.players[0],
            (
                "Salatiga",
                Some(76_561_198_417_896_065),
                Some(5 * 60 + 6),
                Some(47),
                Some(122),
            ),
        );
        player_is(
            &s.players[1],
            (
                "-",
                Some(76_561_199_143_535_155),
                Some(59 * 60 + 28),
                Some(44),
                Some(37),
            ),
        );
        player_is(
            &s.players[7],
            (
                "//////////////",
                Some(76_561_198_173_622_809),
                Some(13),
                Some(93),
                Some(51),
            ),
        );
        player_is(
            &s.players[8],
            (
                "\\\\\\\\\\\\",
                Some(76_561_198_360_137_518),
                Some(13),
                Some(93),
                Some(51),
            ),
        );
    }

    #[test]
    fn csgo_hibernating_empty() {
        let s = status(fixture!(
            "csgo_status_hibernating_empty_gamedig_issue90.txt"
        ));
        counts_are(&s, Some("de_overpass"), 0, 0, Some(12), true);
    }

    #[test]
    fn hl2dm_interleaved() {
        // The map and tags lines are printed between the rows; no players line, no table
        // header (the excerpt is truncated).
        let s = status(fixture!(
            "hl2dm_status_interleaved_partial_source1games_issue6717.txt"
        ));
        counts_are(&s, Some("dm_underpass"), 2, 0, None, false);
        player_is(
            &s.players[0],
            (
                "\u{987a}\u{9042}\u{968f}\u{67ab}",
                Some(76_561_199_800_650_739),
                Some(27 * 60 + 24),
                Some(173),
                Some(760),
            ),
        );
        player_is(
            &s.players[1],
            (
                "Bench",
                Some(76_561_198_835_995_679),
                Some(12),
                Some(174),
                Some(766),
            ),
        );
    }

    #[test]
    fn tf2_empty() {
        let s = status(fixture!("tf2_status_sonikro_empty.txt"));
        // The only row is SourceTV, a bot.
        counts_are(&s, Some("cp_badlands"), 0, 1, Some(25), false);
    }

    #[test]
    fn tf2_nonempty() {
        let s = status(fixture!("tf2_status_sonikro_nonempty.txt"));
        counts_are(&s, Some("cp_badlands"), 1, 1, Some(25), false);
        player_is(
            &s.players[0],
            (
                "sonikro",
                Some(76_561_197_989_428_692),
                Some(20),
                Some(60),
                Some(3),
            ),
        );
    }

    #[test]
    fn tf2_valve_mm_partial() {
        // The poster cut the table after 3 of 24 humans: the rows are what we have.
        let s = status(fixture!(
            "tf2_status_valve_mm_partial_source1games_issue6382.txt"
        ));
        counts_are(&s, Some("cp_dustbowl"), 3, 0, Some(32), false);
        player_is(
            &s.players[0],
            (
                "fffff",
                Some(76_561_197_960_276_959),
                Some(6 * 60 + 13),
                Some(99),
                Some(587),
            ),
        );
        player_is(
            &s.players[1],
            (
                "vvvvvv",
                Some(76_561_197_960_388_851),
                Some(5 * 60 + 34),
                Some(91),
                Some(593),
            ),
        );
        player_is(
            &s.players[2],
            (
                "tv/",
                Some(76_561_197_960_266_061),
                Some(3600 + 48 * 60 + 14),
                Some(32),
                Some(506),
            ),
        );
    }

    #[test]
    fn users_output_is_not_status() {
        let users = read(fixture!("source_users_command_output.txt"));
        assert_eq!(
            parse_status_reply(&users),
            Err(StatusReplyError::NotAStatusReply)
        );
        assert_eq!(parse_users_reply(&users), vec![]);
        let interactive = read(fixture!(
            "csgo_rcon_interactive_users_and_logecho_forewing.txt"
        ));
        // `>>>` prompts, `users` output and masked log echo lines: no status reply in it.
        assert_eq!(
            parse_status_reply(&interactive),
            Err(StatusReplyError::NotAStatusReply)
        );
        assert_eq!(parse_users_reply(&interactive), vec![]);
        assert_eq!(
            parse_users_reply("<slot:userid:\"name\">\n0:2:\"Bob\"\n3:7:\"a:\"b\"\n2 users\n"),
            vec![(0, "Bob".to_owned()), (3, "a:\"b".to_owned())]
        );
    }

    #[test]
    fn every_fixture_parses_or_is_known_not_to() {
        let dir = concat!(
            env!("CARGO_MANIFEST_DIR"),
            "/tests/fixtures/01-cs2-rcon-status"
        );
        let mut seen = 0;
        for entry in std::fs::read_dir(dir).unwrap() {
            let path = entry.unwrap().path();
            let name = path.file_name().unwrap().to_str().unwrap().to_owned();
            if !name.ends_with(".txt") {
                continue;
            }
            seen += 1;
            let result = parse_status_reply(&read(path.to_str().unwrap()));
            let not_status = name.contains("users");
            assert_eq!(result.is_err(), not_status, "{name}: {result:?}");
        }
        assert_eq!(seen, 14);
    }

    #[test]
    fn log_prefixed_and_quoted_edge_cases() {
        let reply = "L 10/22/2024 - 14:20:47: hostname: x\n\
                     L 10/22/2024 - 14:20:47: map     : pl_upward at: 0 x, 0 y, 0 z\n\
                     L 10/22/2024 - 14:20:47: players : 1 humans, 0 bots (24 max)\n\
                     L 10/22/2024 - 14:20:47: # userid name uniqueid connected ping loss state adr\n\
                     L 10/22/2024 - 14:20:48: \"Bob<2><[U:1:5]><>\" entered the game\n\
                     L 10/22/2024 - 14:20:47: #      2 \"say \"hi\" <3>\" STEAM_ID_PENDING 1:02:03 5 0 active loopback\r\n";
        let s = parse_status_reply(reply).unwrap();
        counts_are(&s, Some("pl_upward"), 1, 0, Some(24), false);
        player_is(
            &s.players[0],
            ("say \"hi\" <3>", None, Some(3723), Some(5), Some(2)),
        );

        let cs2 = "players  : 2 humans, 0 bots (0 max) (not hibernating) (unreserved)\n\
                   ---------players--------\n  id     time ping loss      state   rate adr name\n\
                   \x20  3      125   10    0     active 786432 1.2.3.4:5 'O'Brien'\n\
                   \x20  4 01:02:03   20    0     active 786432 1.2.3.5:5 'Big Bob the Builder'\n#end\n";
        let s = parse_status_reply(cs2).unwrap();
        counts_are(&s, None, 2, 0, None, false);
        player_is(
            &s.players[0],
            ("O'Brien", None, Some(125), Some(10), Some(3)),
        );
        player_is(
            &s.players[1],
            ("Big Bob the Builder", None, Some(3723), Some(20), Some(4)),
        );

        let console = "05/24/2026 - 16:14:57: hostname: x\n\
                       05/24/2026 - 16:14:57: map     : ctf_2fort at: 0 x, 0 y, 0 z\n\
                       05/24/2026 - 16:14:57: players : 2 humans, 0 bots (32 max)\n\
                       05/24/2026 - 16:14:57: # userid name uniqueid connected ping loss state\n\
                       05/24/2026 - 16:14:57: #    12 \"a\"  [U:1:7]  01:00  50  0 active\n\
                       07/17/2026 - 18:14:24.251 - #    13 \"b\"  [U:1:8]  02:00  60  0 active\n";
        let s = parse_status_reply(console).unwrap();
        counts_are(&s, Some("ctf_2fort"), 2, 0, Some(32), false);
        player_is(
            &s.players[0],
            (
                "a",
                Some(76_561_197_960_265_735),
                Some(60),
                Some(50),
                Some(12),
            ),
        );
        player_is(
            &s.players[1],
            (
                "b",
                Some(76_561_197_960_265_736),
                Some(120),
                Some(60),
                Some(13),
            ),
        );

        let old = "map     : dm_lockdown\nplayers : 5 (24 max)\n";
        let s = parse_status_reply(old).unwrap();
        counts_are(&s, Some("dm_lockdown"), 0, 0, Some(24), false);

        assert_eq!(
            parse_status_reply("Unknown command \"status\"\n"),
            Err(StatusReplyError::NotAStatusReply)
        );
        assert_eq!(
            parse_status_reply(""),
            Err(StatusReplyError::NotAStatusReply)
        );
    }

    fn all_fixture_lines() -> Vec<String> {
        let dir = concat!(
            env!("CARGO_MANIFEST_DIR"),
            "/tests/fixtures/01-cs2-rcon-status"
        );
        let mut lines = Vec::new();
        for entry in std::fs::read_dir(dir).unwrap() {
            let text = std::fs::read_to_string(entry.unwrap().path()).unwrap();
            lines.extend(text.lines().map(str::to_owned));
        }
        lines
    }

    /// 256 cases, unless `PROPTEST_CASES` says otherwise.
    fn proptest_config() -> ProptestConfig {
        let cases = std::env::var("PROPTEST_CASES")
            .ok()
            .and_then(|c| c.parse().ok())
            .unwrap_or(256);
        ProptestConfig::with_cases(cases)
    }

    proptest! {
        #![proptest_config(proptest_config())]

        #[test]
        fn never_panics(s in "(?s).{0,400}") {
            let _ = parse_status_reply(&s);
            let _ = parse_users_reply(&s);
        }

        #[test]
        fn never_panics_on_mutated_fixtures(
            picks in proptest::collection::vec((any::<prop::sample::Index>(), any::<prop::sample::Index>(), any::<u8>(), 0usize..3), 1..20),
        ) {
            thread_local! {
                static LINES: Vec<String> = all_fixture_lines();
            }
            let mut reply = String::new();
            for (line, at, byte, op) in picks {
                let mut bytes = LINES.with(|l| line.get(l).clone()).into_bytes();
                let pos = if bytes.is_empty() { 0 } else { at.index(bytes.len()) };
                match op {
                    0 if !bytes.is_empty() => { bytes.remove(pos); }
                    1 => bytes.insert(pos, byte),
                    _ => bytes.truncate(pos),
                }
                reply.push_str(&String::from_utf8_lossy(&bytes));
                reply.push('\n');
            }
            let _ = parse_status_reply(&reply);
            let _ = parse_users_reply(&reply);
        }
    }
}
