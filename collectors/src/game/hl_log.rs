//! The HL log standard: the line format Source 1 games (CS:GO, TF2, HL2DM, L4D…) and CS2 write
//! to their log files, send over UDP (`logaddress_add`) and POST over HTTP
//! (`logaddress_add_http`), read into [`LogRecord`]s by [`parse_hl_line`].
//!
//! Why the format is as it is: it was made in 1999 for Half-Life so that third-party stats
//! programs could follow a match, and every later engine kept it. Each line is a timestamp in
//! the server's local time (no zone) and a free-text body:
//!
//! * file and UDP lines: `L 07/17/2026 - 18:14:24: body`;
//! * CS2 HTTP bodies: `07/17/2026 - 18:14:24.251 - body` (no `L`, milliseconds, ` - `).
//!
//! Bodies that name a player start with a player block `"name<userid><steamid><team>"`
//! (`"name<userid><steamid>"` in `switched from team` lines, `"Console<0>"` for CS2's console).
//! The name is printed as the player chose it, unescaped, so it may hold `<`, `>` and `"`;
//! the other fields never do. So the block is read from the right (the last `<…>` groups),
//! and it ends at the first `>" ` whose prefix reads as a block. A name that itself holds a
//! whole block followed by `" ` makes the line ambiguous (the engine gives no way to tell);
//! the first reading wins, which keeps text a player types after the block (chat) from
//! posing as another player's line.
//!
//! Only a few bodies matter to Guildhall (connects, disconnects, team switches, chat, map and
//! round changes, server start and stop); the rest (kills, damage, purchases, cvars, `rcon
//! from`, plugin output, CS2's multi-line JSON stats, whose every line has the prefix) are
//! well-formed lines with nothing to keep. A log is mostly such lines, so the parser is
//! built to reject them cheaply: fixed-position timestamp, dispatch on the body's first byte,
//! one `memchr` for the end of the player block, the verb checked by its first byte, and no
//! allocation unless an event is returned.
//!
//! A line without the timestamp prefix, or with a broken one, is not in the format: the CS2
//! and CS:GO samples prefix every line, including each line of the JSON blocks, so such a
//! line is a truncated or foreign line and is returned as an error to be counted.

use std::net::{IpAddr, SocketAddr};

use chrono::{NaiveDate, NaiveDateTime, NaiveTime};

use super::event::{GameAccount, LineError, LogEvent, LogRecord, LogTime, ParseResult, Player};
use super::steamid::parse_steam_id;

/// The line does not start with either timestamp shape.
const NO_PREFIX: LineError = LineError("no HL log timestamp prefix");
/// The line starts like a timestamp but is cut or has wrong separators.
const BAD_PREFIX: LineError = LineError("malformed HL log timestamp prefix");
/// The timestamp has the right shape but is not a real date and time.
const BAD_TIME: LineError = LineError("HL log timestamp is not a valid date and time");

/// Parses one HL log line (file, UDP or CS2 HTTP body line; a trailing `\n`, `\r\n` or NUL is
/// ignored).
///
/// `Ok(Some(_))` for the events in [`LogEvent`] that Source servers log, `Ok(None)` for an
/// empty line and for every other well-formed line (kills, cvars, console actions, bots'
/// and players' lines that are not events), `Err` for a line without a valid timestamp
/// prefix.
pub fn parse_hl_line(line: &str) -> ParseResult {
    let line = line.trim_end_matches(['\n', '\r', '\0']);
    if line.is_empty() {
        return Ok(None);
    }
    let (at, body) = split_prefix(line)?;
    Ok(parse_body(body).map(|event| LogRecord {
        at: LogTime::Full(at),
        event,
    }))
}

/// Splits `L MM/DD/YYYY - HH:MM:SS: body` or `MM/DD/YYYY - HH:MM:SS.mmm - body` into the time
/// and the body. Fractions of a second (1 to 9 digits) are accepted in both shapes.
fn split_prefix(line: &str) -> Result<(NaiveDateTime, &str), LineError> {
    let b = line.as_bytes();
    let (start, file_shape) = match b {
        [b'L', b' ', ..] => (2, true),
        [d, ..] if d.is_ascii_digit() => (0, false),
        _ => return Err(NO_PREFIX),
    };
    // MM/DD/YYYY - HH:MM:SS
    let t = b.get(start..start + 21).ok_or(BAD_PREFIX)?;
    if t[2] != b'/' || t[5] != b'/' || &t[10..13] != b" - " || t[15] != b':' || t[18] != b':' {
        return Err(BAD_PREFIX);
    }
    let month = digits(&t[0..2])?;
    let day = digits(&t[3..5])?;
    let year = digits(&t[6..10])?;
    let hour = digits(&t[13..15])?;
    let minute = digits(&t[16..18])?;
    let second = digits(&t[19..21])?;
    let mut i = start + 21;
    let mut nanos = 0;
    if b.get(i) == Some(&b'.') {
        i += 1;
        let frac_start = i;
        while i < b.len() && b[i].is_ascii_digit() && i - frac_start < 9 {
            nanos = nanos * 10 + u32::from(b[i] - b'0');
            i += 1;
        }
        let len = i - frac_start;
        if len == 0 {
            return Err(BAD_PREFIX);
        }
        nanos *= 10u32.pow(9 - len as u32);
    }
    let rest = &b[i..];
    let body_start = if file_shape {
        match rest {
            [b':'] => i + 1,
            [b':', b' ', ..] => i + 2,
            _ => return Err(BAD_PREFIX),
        }
    } else {
        match rest {
            [b' ', b'-'] => i + 2,
            [b' ', b'-', b' ', ..] => i + 3,
            _ => return Err(BAD_PREFIX),
        }
    };
    let date = NaiveDate::from_ymd_opt(year as i32, month, day).ok_or(BAD_TIME)?;
    let time = NaiveTime::from_hms_nano_opt(hour, minute, second, nanos).ok_or(BAD_TIME)?;
    // The prefix is ASCII, so `body_start` is a char boundary.
    let body = line.get(body_start..).ok_or(BAD_PREFIX)?;
    Ok((NaiveDateTime::new(date, time), body))
}

/// ASCII digits as a number (at most 4 here, so no overflow).
fn digits(d: &[u8]) -> Result<u32, LineError> {
    d.iter().try_fold(0u32, |acc, &c| {
        if c.is_ascii_digit() {
            Ok(acc * 10 + u32::from(c - b'0'))
        } else {
            Err(BAD_PREFIX)
        }
    })
}

/// The event in a body, if it is one Guildhall keeps.
fn parse_body(body: &str) -> Option<LogEvent> {
    match body.as_bytes().first()? {
        b'"' => player_event(body),
        b'W' => {
            let what = body.strip_prefix("World triggered \"")?;
            if is_trigger(what, "Round_Start") {
                Some(LogEvent::RoundStart)
            } else if is_trigger(what, "Round_End") {
                Some(LogEvent::RoundEnd)
            } else {
                None
            }
        }
        b'L' => {
            if let Some(rest) = body.strip_prefix("Loading map \"") {
                map_started(rest)
            } else if body.starts_with("Log file started") {
                Some(LogEvent::ServerStart)
            } else if body.starts_with("Log file closed") {
                Some(LogEvent::ServerStop)
            } else {
                None
            }
        }
        b'S' => map_started(body.strip_prefix("Started map \"")?),
        b's' => (body == "server_message: \"quit\"").then_some(LogEvent::ServerStop),
        _ => None,
    }
}

/// `Round_Start"` or `Round_Start" …` after `World triggered "`.
fn is_trigger(what: &str, name: &str) -> bool {
    what.strip_prefix(name)
        .and_then(|r| r.strip_prefix('"'))
        .is_some_and(|r| r.is_empty() || r.starts_with(' '))
}

/// The map name up to the closing quote (`de_inferno" (CRC "…")` → `de_inferno`).
fn map_started(rest: &str) -> Option<LogEvent> {
    let map = &rest[..rest.find('"')?];
    (!map.is_empty()).then(|| LogEvent::MapStarted {
        map: map.to_owned(),
    })
}

/// A player block read from the right, borrowing from the line.
struct BlockRef<'a> {
    name: &'a str,
    slot: u32,
    id: &'a str,
}

/// What the text between the quotes of a candidate player block is.
enum Block<'a> {
    /// Not a block (a `>" ` inside a name): look further.
    Invalid,
    /// The server console (`Console<0><Console><…>`, CS2's `Console<0>`): no player.
    Console,
    Player(BlockRef<'a>),
}

/// A body that starts with `"`: a player's line or a cvar (`"sv_cheats" = "0"`).
fn player_event(body: &str) -> Option<LogEvent> {
    let mut from = 1;
    loop {
        // The block ends at `>" `; a `"` is found with memchr, then its neighbours checked.
        let quote = from + body.get(from..)?.find('"')?;
        from = quote + 1;
        let b = body.as_bytes();
        if quote < 2 || b[quote - 1] != b'>' || b.get(quote + 1) != Some(&b' ') {
            continue;
        }
        match parse_block(&body[1..quote]) {
            Block::Invalid => {}
            Block::Console => return None,
            Block::Player(block) => return verb(block, &body[quote + 2..]),
        }
    }
}

/// Reads `name<userid><steamid><team>`, `name<userid><steamid>` or `Console<0>` from the
/// right.
fn parse_block(block: &str) -> Block<'_> {
    let Some((p1, g1)) = last_group(block) else {
        return Block::Invalid;
    };
    let Some((p2, g2)) = last_group(p1) else {
        return if p1 == "Console" && is_digits(g1) {
            Block::Console
        } else {
            Block::Invalid
        };
    };
    // `<userid><steamid><team>`: the team group is never id-like nor digits.
    if is_id_like(g2)
        && let Some((p3, g3)) = last_group(p2)
        && let Some(slot) = slot(g3)
    {
        return player_block(p3, slot, g2);
    }
    // `<userid><steamid>` (team switches).
    if is_id_like(g1)
        && let Some(slot) = slot(g2)
    {
        return player_block(p2, slot, g1);
    }
    Block::Invalid
}

fn player_block<'a>(name: &'a str, slot: u32, id: &'a str) -> Block<'a> {
    if id == "Console" {
        Block::Console
    } else {
        Block::Player(BlockRef { name, slot, id })
    }
}

/// `prefix<group>` → `(prefix, group)`; the group holds no `<` or `>`.
fn last_group(s: &str) -> Option<(&str, &str)> {
    let inner = s.strip_suffix('>')?;
    let open = inner.rfind('<')?;
    let group = &inner[open + 1..];
    (!group.contains('>')).then(|| (&inner[..open], group))
}

/// The forms the SteamID field takes: SteamID2/3, and the tokens printed where there is no
/// Steam account.
fn is_id_like(g: &str) -> bool {
    g.starts_with("STEAM_")
        || g.starts_with('[')
        || g.starts_with("VALVE_")
        || matches!(g, "BOT" | "Console" | "HLTV" | "UNKNOWN")
}

fn is_digits(g: &str) -> bool {
    !g.is_empty() && g.bytes().all(|b| b.is_ascii_digit())
}

/// The userid field.
fn slot(g: &str) -> Option<u32> {
    if is_digits(g) { g.parse().ok() } else { None }
}

/// The text after the player block and its `" `.
fn verb(block: BlockRef<'_>, rest: &str) -> Option<LogEvent> {
    let event = match rest.as_bytes().first()? {
        b'c' => {
            let address = rest.strip_prefix("connected, address ")?;
            LogEvent::Connected {
                player: player(&block),
                address: parse_address(address),
            }
        }
        b'S' if rest == "STEAM USERID validated" => LogEvent::Validated {
            player: player(&block),
        },
        b'e' if rest == "entered the game" => LogEvent::Entered {
            player: player(&block),
        },
        b'd' => {
            let after = rest.strip_prefix("disconnected")?;
            let reason = if after.is_empty() {
                None
            } else {
                Some(
                    after
                        .strip_prefix(" (reason \"")?
                        .strip_suffix("\")")?
                        .to_owned(),
                )
            };
            LogEvent::Disconnected {
                player: player(&block),
                reason,
            }
        }
        b's' => {
            if let Some(teams) = rest.strip_prefix("switched from team <") {
                let (from, to) = teams.strip_suffix('>')?.split_once("> to <")?;
                if from.contains(['<', '>']) || to.contains(['<', '>']) {
                    return None;
                }
                LogEvent::TeamSwitch {
                    player: player(&block),
                    from: from.to_owned(),
                    to: to.to_owned(),
                }
            } else if let Some(text) = rest.strip_prefix("say_team \"") {
                LogEvent::Chat {
                    player: player(&block),
                    team_only: true,
                    text: chat_text(text)?.to_owned(),
                }
            } else if let Some(text) = rest.strip_prefix("say \"") {
                LogEvent::Chat {
                    player: player(&block),
                    team_only: false,
                    text: chat_text(text)?.to_owned(),
                }
            } else {
                return None;
            }
        }
        _ => return None,
    };
    Some(event)
}

/// The chat text up to the last `"` (the text may hold `"`); older games append ` (dead)`
/// for a dead player's chat.
fn chat_text(rest: &str) -> Option<&str> {
    rest.strip_suffix('"')
        .or_else(|| rest.strip_suffix("\" (dead)"))
}

/// `"1.2.3.4:27005"`, `"[::1]:27005"`, a bare IP → the IP; `""`, `none`, `loopback`,
/// `"(unknown)"` (bots, SourceTV) → `None`.
fn parse_address(s: &str) -> Option<IpAddr> {
    let s = s
        .strip_prefix('"')
        .map_or(s, |q| q.strip_suffix('"').unwrap_or(q));
    s.parse::<SocketAddr>()
        .map(|a| a.ip())
        .or_else(|_| s.parse::<IpAddr>())
        .ok()
}

fn player(block: &BlockRef<'_>) -> Player {
    let bot = block.id == "BOT";
    Player {
        name: block.name.to_owned(),
        account: if bot {
            None
        } else {
            parse_steam_id(block.id).map(GameAccount::Steam)
        },
        slot: Some(block.slot),
        bot,
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::super::steamid::steam_id2;
    use super::*;
    use proptest::prelude::*;
    use std::net::Ipv4Addr;

    macro_rules! fixture {
        ($name:literal) => {
            concat!(
                env!("CARGO_MANIFEST_DIR"),
                "/tests/fixtures/03-source-hl-logs/",
                $name
            )
        };
    }

    fn read(path: &str) -> String {
        std::fs::read_to_string(path).unwrap()
    }

    fn at(y: i32, mo: u32, d: u32, h: u32, mi: u32, s: u32, ms: u32) -> LogTime {
        LogTime::Full(
            NaiveDate::from_ymd_opt(y, mo, d)
                .unwrap()
                .and_hms_milli_opt(h, mi, s, ms)
                .unwrap(),
        )
    }

    fn event(line: &str) -> LogEvent {
        parse_hl_line(line).unwrap().unwrap().event
    }

    fn steam(name: &str, slot: u32, id64: u64) -> Player {
        Player {
            name: name.to_owned(),
            account: Some(GameAccount::Steam(id64)),
            slot: Some(slot),
            bot: false,
        }
    }

    fn bot(name: &str, slot: u32) -> Player {
        Player {
            name: name.to_owned(),
            account: None,
            slot: Some(slot),
            bot: true,
        }
    }

    /// Events by kind, and the other outcomes, over a set of lines.
    #[derive(Debug, Default, PartialEq, Eq)]
    struct Counts {
        lines: usize,
        errors: usize,
        nothing: usize,
        connected: usize,
        connected_bots: usize,
        validated: usize,
        entered: usize,
        disconnected: usize,
        disconnected_bots: usize,
        team_switches: usize,
        team_switches_without_account: usize,
        chat: usize,
        team_chat: usize,
        maps: usize,
        round_starts: usize,
        round_ends: usize,
        server_starts: usize,
        server_stops: usize,
    }

    fn count<'a>(lines: impl Iterator<Item = &'a str>) -> Counts {
        let mut c = Counts::default();
        for line in lines {
            c.lines += 1;
            let record = match parse_hl_line(line) {
                Err(_) => {
                    c.errors += 1;
                    continue;
                }
                Ok(None) => {
                    c.nothing += 1;
                    continue;
                }
                Ok(Some(r)) => r,
            };
            assert!(matches!(record.at, LogTime::Full(_)));
            match record.event {
                LogEvent::Connected { player, .. } => {
                    c.connected += 1;
                    c.connected_bots += usize::from(player.bot);
                }
                LogEvent::Validated { .. } => c.validated += 1,
                LogEvent::Entered { .. } => c.entered += 1,
                LogEvent::Disconnected { player, .. } => {
                    c.disconnected += 1;
                    c.disconnected_bots += usize::from(player.bot);
                }
                LogEvent::TeamSwitch { player, .. } => {
                    c.team_switches += 1;
                    c.team_switches_without_account += usize::from(player.account.is_none());
                }
                LogEvent::Chat { team_only, .. } => {
                    if team_only {
                        c.team_chat += 1;
                    } else {
                        c.chat += 1;
                    }
                }
                LogEvent::MapStarted { .. } => c.maps += 1,
                LogEvent::RoundStart => c.round_starts += 1,
                LogEvent::RoundEnd => c.round_ends += 1,
                LogEvent::ServerStart => c.server_starts += 1,
                LogEvent::ServerStop => c.server_stops += 1,
                LogEvent::Left { .. } | LogEvent::AccountSeen { .. } => {
                    panic!("not a Source event: {line}")
                }
            }
        }
        c
    }

    /// The CS2 match log and its excerpt hold the same events (the excerpt is a grep of the
    /// lifecycle lines): counted with `grep -Ec` on the verb patterns.
    fn cs2_match_events(lines: usize, nothing: usize) -> Counts {
        Counts {
            lines,
            errors: 0,
            nothing,
            connected: 11,
            connected_bots: 1, // SourceTV, address "(unknown)"
            validated: 10,
            entered: 11,
            disconnected: 11,
            disconnected_bots: 1, // CSTV
            team_switches: 32,
            team_switches_without_account: 10, // <STEAM_ID_PENDING> at the end
            chat: 23,
            team_chat: 7,
            maps: 1,
            round_starts: 16,
            round_ends: 16,
            server_starts: 1,
            server_stops: 1,
        }
    }

    #[test]
    fn cs2_full_match_log() {
        let text = read(fixture!("cs2_full_match_log_1.log"));
        // 140 events in 5384 lines; every line, JSON blocks included, has the prefix.
        assert_eq!(count(text.lines()), cs2_match_events(5384, 5384 - 140));
    }

    #[test]
    fn cs2_lifecycle_excerpt() {
        let text = read(fixture!("cs2_match_log_1_lifecycle_excerpt.log"));
        assert_eq!(count(text.lines()), cs2_match_events(433, 433 - 140));
    }

    #[test]
    fn csgo_local_log() {
        let text = read(fixture!("csgo_local_log_2019_medium.log"));
        assert_eq!(
            count(text.lines()),
            Counts {
                lines: 967,
                errors: 0,
                nothing: 967 - 91,
                connected: 9,
                connected_bots: 9, // address ""
                validated: 0,
                entered: 9,
                disconnected: 10,
                disconnected_bots: 9,
                team_switches: 36,
                team_switches_without_account: 34, // bots
                chat: 0,
                team_chat: 0,
                maps: 0,
                round_starts: 13,
                round_ends: 11,
                server_starts: 1,
                server_stops: 2, // server_message: "quit", Log file closed
            }
        );
    }

    /// One `logaddress_add_http` POST as the capture tool wrote it.
    struct Post<'a> {
        begin: usize,
        end: usize,
        content_length: usize,
        body: &'a str,
    }

    /// The POSTs of `cs2_http_logaddress_posts_with_headers.txt`: `HEADERS: K=V; K=V…`, then
    /// `BODY:`, the body (exactly Content-Length bytes, ending in `\n`), an empty line, `---`.
    fn http_posts(text: &str) -> Vec<Post<'_>> {
        let mut posts = Vec::new();
        let mut rest = text;
        while let Some(h) = rest.find("HEADERS: ") {
            let after = &rest[h + "HEADERS: ".len()..];
            let (headers, after) = after.split_once("\nBODY:\n").unwrap();
            let header = |key: &str| -> usize {
                headers
                    .split("; ")
                    .find_map(|kv| kv.strip_prefix(key)?.strip_prefix('='))
                    .unwrap()
                    .parse()
                    .unwrap()
            };
            let end = after.find("\n---\n").unwrap();
            posts.push(Post {
                begin: header("X-LogBytes-BeginOffset"),
                end: header("X-LogBytes-EndOffset"),
                content_length: header("Content-Length"),
                body: &after[..end],
            });
            rest = &after[end..];
        }
        posts
    }

    #[test]
    fn cs2_http_bodies() {
        let text = read(fixture!("cs2_http_logaddress_posts_with_headers.txt"));
        let posts = http_posts(&text);
        assert_eq!(posts.len(), 14);
        let mut previous_end = 0;
        for post in &posts {
            assert_eq!(post.body.len(), post.content_length);
            assert_eq!(post.end - post.begin, post.body.len());
            // Offsets run on from the previous POST, or restart at 0 with a new log file
            // (each map load).
            assert!(post.begin == 0 || post.begin == previous_end);
            assert!(post.body.ends_with('\n'));
            previous_end = post.end;
        }
        assert_eq!(
            (posts[0].begin, posts[0].end, posts[1].begin, posts[1].end),
            (0, 118, 118, 271)
        );
        let body_lines = || posts.iter().flat_map(|p| p.body.lines());
        // 12 map loads, each with 10 bots joining; the one chat line is the console's
        // (`"Console<0>" say "HLSW-paso0-test"`), not a player's.
        assert_eq!(
            count(body_lines()),
            Counts {
                lines: 2463,
                errors: 0,
                nothing: 2463 - 372,
                connected: 120,
                connected_bots: 120,
                validated: 0,
                entered: 120,
                disconnected: 0,
                disconnected_bots: 0,
                team_switches: 120,
                team_switches_without_account: 120,
                chat: 0,
                team_chat: 0,
                maps: 12,
                round_starts: 0,
                round_ends: 0,
                server_starts: 0,
                server_stops: 0,
            }
        );
        // Fed whole, the capture's own framing lines are not HL lines: `[time] POST /log`,
        // `HEADERS: …`, `BODY:`, `---` (14 × 4) are errors, its 14 empty lines are nothing.
        let whole = count(text.lines());
        assert_eq!((whole.lines, whole.errors), (2533, 56));
        assert_eq!(whole.nothing, 2463 - 372 + 14);
    }

    #[test]
    fn csgo_http_request() {
        let text = read(fixture!("csgo_http_logaddress_request_2019.txt"));
        let (head, body) = text.split_once("\n\n").unwrap();
        assert_eq!(
            parse_hl_line(body.trim_end_matches('\n')),
            Ok(None),
            "World triggered \"Game_Commencing\""
        );
        assert_eq!(count(body.lines()).nothing, 1);
        // The request line, the headers and the two comment lines are not HL lines.
        let head = count(head.lines());
        assert_eq!((head.lines, head.errors), (16, 16));
        // The header's own timestamp has the HTTP body shape.
        let ts = head_value(&text, "x-timestamp: ");
        assert!(split_prefix(&format!("{ts} - x")).is_ok());
    }

    fn head_value<'a>(text: &'a str, key: &str) -> &'a str {
        text.lines().find_map(|l| l.strip_prefix(key)).unwrap()
    }

    #[test]
    fn connected_with_address() {
        let line = "L 01/19/2026 - 18:55:53: \"Czar<1><[U:1:91379634]><>\" connected, address \"90.229.190.71:62716\"";
        assert_eq!(
            parse_hl_line(line),
            Ok(Some(LogRecord {
                at: at(2026, 1, 19, 18, 55, 53, 0),
                event: LogEvent::Connected {
                    player: steam("Czar", 1, 76_561_198_051_645_362),
                    address: Some(IpAddr::V4(Ipv4Addr::new(90, 229, 190, 71))),
                },
            }))
        );
        for (addr, want) in [
            ("\"none\"", None),
            ("none", None),
            ("\"loopback\"", None),
            ("\"\"", None),
            ("\"(unknown)\"", None),
            ("\"10.0.0.1\"", Some("10.0.0.1")),
            ("\"[2001:db8::1]:27005\"", Some("2001:db8::1")),
        ] {
            let line = format!(
                "L 11/24/2019 - 21:43:39: \"a b<2><STEAM_1:1:42376214><>\" connected, address {addr}"
            );
            assert_eq!(
                event(&line),
                LogEvent::Connected {
                    player: steam("a b", 2, 76_561_198_045_018_157),
                    address: want.map(|w| w.parse().unwrap()),
                },
                "{line}"
            );
        }
    }

    #[test]
    fn bot_connected_and_cs2_http_shape() {
        let line =
            "07/17/2026 - 18:14:40.023 - \"Bluefish<0><BOT><>\" connected, address \"(unknown)\"";
        assert_eq!(
            parse_hl_line(line),
            Ok(Some(LogRecord {
                at: at(2026, 7, 17, 18, 14, 40, 23),
                event: LogEvent::Connected {
                    player: bot("Bluefish", 0),
                    address: None,
                },
            }))
        );
    }

    #[test]
    fn lifecycle_lines() {
        let p = || steam("Czar", 1, 76_561_198_051_645_362);
        assert_eq!(
            event(
                "L 01/19/2026 - 18:55:54: \"Czar<1><[U:1:91379634]><>\" STEAM USERID validated\r"
            ),
            LogEvent::Validated { player: p() }
        );
        assert_eq!(
            event("L 01/19/2026 - 18:56:18: \"Czar<1><[U:1:91379634]><>\" entered the game\r\n"),
            LogEvent::Entered { player: p() }
        );
        assert_eq!(
            event(
                "L 01/19/2026 - 19:14:00: \"Czar<1><[U:1:91379634]><TERRORIST>\" disconnected (reason \"NETWORK_DISCONNECT_LOOPDEACTIVATE\")"
            ),
            LogEvent::Disconnected {
                player: p(),
                reason: Some("NETWORK_DISCONNECT_LOOPDEACTIVATE".to_owned()),
            }
        );
        assert_eq!(
            event("L 01/19/2026 - 19:14:00: \"Czar<1><[U:1:91379634]><CT>\" disconnected"),
            LogEvent::Disconnected {
                player: p(),
                reason: None,
            }
        );
        assert_eq!(
            event(
                "L 01/19/2026 - 18:56:20: \"Czar<1><[U:1:91379634]>\" switched from team <Unassigned> to <TERRORIST>"
            ),
            LogEvent::TeamSwitch {
                player: p(),
                from: "Unassigned".to_owned(),
                to: "TERRORIST".to_owned(),
            }
        );
        assert_eq!(
            event(
                "L 01/19/2026 - 19:14:54: \"Czar<1><STEAM_ID_PENDING>\" switched from team <TERRORIST> to <Unassigned>"
            ),
            LogEvent::TeamSwitch {
                player: Player {
                    name: "Czar".to_owned(),
                    account: None,
                    slot: Some(1),
                    bot: false,
                },
                from: "TERRORIST".to_owned(),
                to: "Unassigned".to_owned(),
            }
        );
        assert_eq!(
            event(
                "L 11/24/2019 - 22:01:57: \"Uri<13><BOT><Unassigned>\" disconnected (reason \"Kicked by Console\")"
            ),
            LogEvent::Disconnected {
                player: bot("Uri", 13),
                reason: Some("Kicked by Console".to_owned()),
            }
        );
        assert_eq!(
            event(
                "L 11/24/2019 - 21:43:39: \"Uri<13><BOT>\" switched from team <Unassigned> to <CT>"
            ),
            LogEvent::TeamSwitch {
                player: bot("Uri", 13),
                from: "Unassigned".to_owned(),
                to: "CT".to_owned(),
            }
        );
    }

    #[test]
    fn chat_lines() {
        let line = "L 01/19/2026 - 19:09:34: \"Wiethoofd<10><[U:1:29856109]><TERRORIST>\" say \"admin, he's doing it \"sideways\"\"";
        assert_eq!(
            event(line),
            LogEvent::Chat {
                player: steam("Wiethoofd", 10, 76_561_197_990_121_837),
                team_only: false,
                text: "admin, he's doing it \"sideways\"".to_owned(),
            }
        );
        assert_eq!(
            event(
                "L 01/19/2026 - 18:58:59: \"ThatGuyHS<7><[U:1:268200068]><TERRORIST>\" say_team \"!ready\""
            ),
            LogEvent::Chat {
                player: steam("ThatGuyHS", 7, 76_561_198_228_465_796),
                team_only: true,
                text: "!ready".to_owned(),
            }
        );
        // CS2 chat may hold colour control bytes; a dead player's chat in older games.
        assert_eq!(
            event(
                "L 01/19/2026 - 18:58:59: \"x<7><STEAM_0:0:6851981><CT>\" say \"\u{10}[CM]\u{1} \u{200b}ok\" (dead)"
            ),
            LogEvent::Chat {
                player: steam("x", 7, 76_561_197_973_969_690),
                team_only: false,
                text: "\u{10}[CM]\u{1} \u{200b}ok".to_owned(),
            }
        );
        assert_eq!(
            event("L 01/19/2026 - 18:58:59: \"x<7><BOT><CT>\" say \"\""),
            LogEvent::Chat {
                player: bot("x", 7),
                team_only: false,
                text: String::new(),
            }
        );
    }

    #[test]
    fn names_with_brackets_and_quotes() {
        let line = "L 01/19/2026 - 19:09:34: \"<a>\"b\" <1><BOT><CT> x<3><[U:1:91379634]><CT>\" say \"hi\"";
        assert_eq!(
            event(line),
            LogEvent::Chat {
                player: steam("<a>\"b\" <1><BOT><CT> x", 3, 76_561_198_051_645_362),
                team_only: false,
                text: "hi".to_owned(),
            }
        );
        // `>" ` inside the name: not a block, the search goes on.
        let line =
            "L 01/19/2026 - 19:09:34: \"a>\" say \"b<3><STEAM_1:1:42376214><>\" entered the game";
        assert_eq!(
            event(line),
            LogEvent::Entered {
                player: steam("a>\" say \"b", 3, 76_561_198_045_018_157)
            }
        );
        // A name ending in `<n><id>` in a two-group line.
        let line = "L 01/19/2026 - 19:09:34: \"z<9><BOT><3><[U:1:91379634]>\" switched from team <CT> to <TERRORIST>";
        assert_eq!(
            event(line),
            LogEvent::TeamSwitch {
                player: steam("z<9><BOT>", 3, 76_561_198_051_645_362),
                from: "CT".to_owned(),
                to: "TERRORIST".to_owned(),
            }
        );
        // Chat text that looks like another player's line stays text.
        let line =
            "L 01/19/2026 - 19:09:34: \"a<3><BOT><CT>\" say \"b<4><[U:1:91379634]><CT>\" say \"x\"";
        assert_eq!(
            event(line),
            LogEvent::Chat {
                player: bot("a", 3),
                team_only: false,
                text: "b<4><[U:1:91379634]><CT>\" say \"x".to_owned(),
            }
        );
        // A victim's name cannot turn a kill line into an event.
        let line = "L 01/19/2026 - 19:09:34: \"a<3><BOT><CT>\" [1 2 3] killed \"b<4><[U:1:91379634]><CT>\" say \"<5><BOT><T>\" [4 5 6] with \"ak47\"";
        assert_eq!(parse_hl_line(line), Ok(None));
    }

    #[test]
    fn console_is_not_a_player() {
        for line in [
            "L 01/19/2026 - 19:09:34: \"Console<0><Console><Console>\" say \"hello\"",
            "07/17/2026 - 18:14:24.329 - \"Console<0>\" say \"HLSW-paso0-test\"",
            "07/17/2026 - 18:14:24.329 - \"Console<0>\" say \"x<2><[U:1:5]><CT>\" say \"y\"",
        ] {
            assert_eq!(parse_hl_line(line), Ok(None), "{line}");
        }
    }

    #[test]
    fn world_map_and_server_lines() {
        let t = "L 01/19/2026 - 18:55:38: ";
        let cases = [
            (
                "Loading map \"de_inferno\"",
                Some(LogEvent::MapStarted {
                    map: "de_inferno".to_owned(),
                }),
            ),
            (
                "Started map \"cp_badlands\" (CRC \"-1234\")",
                Some(LogEvent::MapStarted {
                    map: "cp_badlands".to_owned(),
                }),
            ),
            (
                "World triggered \"Round_Start\"",
                Some(LogEvent::RoundStart),
            ),
            ("World triggered \"Round_End\"", Some(LogEvent::RoundEnd)),
            ("World triggered \"Round_Started\"", None),
            ("World triggered \"Match_Start\" on \"de_inferno\"", None),
            (
                "Log file started (file \"logs/L000.log\") (game \"csgo\") (version \"10603\")",
                Some(LogEvent::ServerStart),
            ),
            ("Log file closed", Some(LogEvent::ServerStop)),
            ("server_message: \"quit\"", Some(LogEvent::ServerStop)),
            ("server_message: \"restart\"", None),
            ("Started:  \"\"", None),
            ("Loading map \"\"", None),
            ("\"sv_cheats\" = \"false\"", None),
            ("server_cvar: \"mp_maxrounds\" \"24\"", None),
            ("rcon from \"1.2.3.4:5\": command \"say hi\"", None),
            ("[META] Loaded 0 plugins (2 already loaded)", None),
            ("JSON_BEGIN{", None),
            ("\"players\" : {", None),
            ("}}JSON_END", None),
            ("\"Czar<1><[U:1:91379634]><CT>\" purchased \"ak47\"", None),
            (
                "\"Czar<1><[U:1:91379634]><CT>\" [1 2 3] killed \"Uri<13><BOT><T>\" [4 5 6] with \"ak47\"",
                None,
            ),
            ("", None),
        ];
        for (body, want) in cases {
            let line = format!("{t}{body}");
            assert_eq!(
                parse_hl_line(&line).map(|r| r.map(|r| r.event)),
                Ok(want),
                "{line}"
            );
        }
    }

    #[test]
    fn timestamps() {
        assert_eq!(parse_hl_line(""), Ok(None));
        assert_eq!(parse_hl_line("\r\n"), Ok(None));
        assert_eq!(parse_hl_line("L 01/19/2026 - 18:55:38:"), Ok(None));
        assert_eq!(parse_hl_line("07/17/2026 - 18:14:24.251 - "), Ok(None));
        assert_eq!(
            parse_hl_line("07/17/2026 - 18:14:24 - Log file closed")
                .unwrap()
                .unwrap()
                .at,
            at(2026, 7, 17, 18, 14, 24, 0)
        );
        assert_eq!(
            parse_hl_line("L 07/17/2026 - 18:14:24.5: Log file closed")
                .unwrap()
                .unwrap()
                .at,
            at(2026, 7, 17, 18, 14, 24, 500)
        );
        for (line, err) in [
            ("Log file closed", NO_PREFIX),
            (" L 01/19/2026 - 18:55:38: Log file closed", NO_PREFIX),
            ("\"name<1><BOT><>\" entered the game", NO_PREFIX),
            ("L 01/19/2026 - 18:55:38 Log file closed", BAD_PREFIX),
            ("L 01/19/2026 - 18:55:38.: x", BAD_PREFIX),
            ("L 01/19/2026 - 18:55:38 - x", BAD_PREFIX),
            ("07/17/2026 - 18:14:24.251: x", BAD_PREFIX),
            ("L 1/19/2026 - 18:55:38: x", BAD_PREFIX),
            ("L 01/19/2026 18:55:38: x", BAD_PREFIX),
            ("L 01/19/2026 - 18:55", BAD_PREFIX),
            (
                "L **/**/20** - **:**:**: \"Derek<4><BOT><>\" entered the game",
                BAD_PREFIX,
            ),
            ("L 13/19/2026 - 18:55:38: x", BAD_TIME),
            ("L 02/30/2026 - 18:55:38: x", BAD_TIME),
            ("L 01/19/2026 - 24:00:00: x", BAD_TIME),
            ("07/17/2026 - 18:60:24.251 - x", BAD_TIME),
        ] {
            assert_eq!(parse_hl_line(line), Err(err), "{line}");
        }
    }

    /// Every line of the HL fixtures (logs and HTTP bodies).
    fn fixture_lines() -> Vec<String> {
        let mut lines: Vec<String> = Vec::new();
        for path in [
            fixture!("cs2_full_match_log_1.log"),
            fixture!("csgo_local_log_2019_medium.log"),
            fixture!("cs2_match_log_1_lifecycle_excerpt.log"),
        ] {
            lines.extend(read(path).lines().map(str::to_owned));
        }
        let http = read(fixture!("cs2_http_logaddress_posts_with_headers.txt"));
        for post in http_posts(&http) {
            lines.extend(post.body.lines().map(str::to_owned));
        }
        lines
    }

    /// Names and texts for generated player lines: anything but line breaks, with the
    /// block's characters made likely.
    const FREE_TEXT: &str = r#"[^\r\n]{0,8}([<>" ][^\r\n]{0,6}){0,4}"#;

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
        fn never_panics(s in "(?s).{0,300}") {
            let _ = parse_hl_line(&s);
        }

        #[test]
        fn never_panics_with_a_prefix(body in "(?s).{0,300}", http in any::<bool>()) {
            let line = if http {
                format!("07/17/2026 - 18:14:24.251 - {body}")
            } else {
                format!("L 01/19/2026 - 18:55:38: {body}")
            };
            let _ = parse_hl_line(&line);
        }

        #[test]
        fn never_panics_on_mutated_fixture_lines(
            line in any::<prop::sample::Index>(),
            edits in proptest::collection::vec((any::<prop::sample::Index>(), any::<u8>(), 0usize..3), 1..6),
        ) {
            thread_local! {
                static LINES: Vec<String> = fixture_lines();
            }
            let mut bytes = LINES.with(|l| line.get(l).clone()).into_bytes();
            for (at, byte, op) in edits {
                let pos = if bytes.is_empty() { 0 } else { at.index(bytes.len()) };
                match op {
                    0 if !bytes.is_empty() => { bytes.remove(pos); }
                    1 => bytes.insert(pos, byte),
                    _ => bytes.truncate(pos),
                }
            }
            let _ = parse_hl_line(&String::from_utf8_lossy(&bytes));
        }

        #[test]
        fn any_name_and_text_round_trip(
            name in FREE_TEXT,
            text in FREE_TEXT,
            slot in any::<u32>(),
            account in 1u32..,
            team_only in any::<bool>(),
        ) {
            // The one ambiguity: a name that holds a whole block and `" ` (see the module doc).
            prop_assume!(!name.contains(">\" "));
            let id64 = 0x0110_0001_0000_0000 | u64::from(account);
            let verb = if team_only { "say_team" } else { "say" };
            let line = format!(
                "L 01/19/2026 - 18:55:38: \"{name}<{slot}><[U:1:{account}]><CT>\" {verb} \"{text}\""
            );
            let want = LogEvent::Chat {
                player: steam(&name, slot, id64),
                team_only,
                text: text.clone(),
            };
            prop_assert_eq!(event(&line), want);
            let line = format!(
                "07/17/2026 - 18:14:24.251 - \"{name}<{slot}><{}>\" switched from team <CT> to <TERRORIST>",
                steam_id2(id64)
            );
            let want = LogEvent::TeamSwitch {
                player: steam(&name, slot, id64),
                from: "CT".to_owned(),
                to: "TERRORIST".to_owned(),
            };
            prop_assert_eq!(event(&line), want);
        }
    }
}
