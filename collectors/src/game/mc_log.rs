//! Minecraft server log lines → [`LogRecord`]s.
//!
//! # Why the lines look the way they do
//!
//! Every Java server logs through Log4j 2 (or, before 1.7, `java.util.logging`), and each
//! distribution ships its own pattern, so the same message arrives behind different heads:
//!
//! | layout | head | who prints it |
//! |---|---|---|
//! | vanilla | `[12:34:56] [Server thread/INFO]: msg` | vanilla ≥ 1.7, Spigot/Bukkit/Paper/Folia `latest.log`, Fabric servers |
//! | console | `[12:34:56 INFO]: msg` | Paper/Spigot terminal (TerminalConsoleAppender), Velocity, Waterfall/BungeeCord |
//! | console + tag | `[12:34:56 INFO] [plugin]: msg` | Velocity/Waterfall plugin loggers |
//! | Forge | `[12:34:56] [Server thread/INFO] [minecraft/DedicatedServer]: msg` | Forge 1.12–1.20 `latest.log` (logger and marker in a third bracket) |
//! | Forge debug / NeoForge | `[10Jan2018 12:34:56.789] [Server thread/INFO] [minecraft/DedicatedServer]: msg` | Forge `debug.log`, NeoForge |
//! | Fabric dev | `[12:34:56] [main/INFO] (Minecraft) msg` | Fabric Loom dev runs (no colon) |
//! | dated | `[2024-01-01 12:34:56] [Server thread/INFO]: msg`, `[2024-01-01 12:34:56 INFO]: msg` | hosts and wrappers that add the date |
//! | Bedrock | `[2019-02-16 01:16:14 INFO] msg` (also `…:14:123 INFO]`) | Bedrock Dedicated Server |
//! | legacy | `2021-01-09 01:41:09 [INFO] msg` | Beta 1.8 – 1.6 (`java.util.logging`) |
//!
//! The time gives [`LogTime::TimeOfDay`] when only a time is printed (the reader supplies the
//! date from the file name and roll-over) and [`LogTime::Full`] when a date is printed too.
//! A Forge date in another locale's month names (`10janv.2018`) keeps its time of day only.
//! ANSI colour codes (console captures) are removed before parsing, into a stack buffer.
//!
//! # Events
//!
//! The messages are the server's own English strings (the server console is never
//! translated), so each event is found by a fixed prefix or suffix:
//!
//! * `UUID of player Name is <uuid>` → [`LogEvent::AccountSeen`] with
//!   [`GameAccount::Minecraft`] (hyphenated or 32 hex digits, normalised to lowercase
//!   hyphenated). A line with this prefix whose name or UUID cannot be read (uploaders
//!   anonymise it as `UUID of player player is uuid`) is an `Err`: it is the line that ties a
//!   name to an account, so losing it must be counted, not hidden.
//! * `Name[/1.2.3.4:5678] logged in with entity id 7 at (…)` (Beta: `Name [/ip:port] …`) →
//!   [`LogEvent::Connected`]; the address is `None` for `[local]`, anonymised (`/**.**…`) or
//!   otherwise unreadable addresses, with or without a port, with or without a host name.
//! * `Name joined the game` (also `Name (formerly known as Old) joined the game`) →
//!   [`LogEvent::Entered`]; `Name left the game` (old servers add a `.`) → [`LogEvent::Left`].
//! * `Name lost connection: reason` → [`LogEvent::Disconnected`]. The login-phase forms
//!   `com.mojang.authlib.GameProfile@…[id=…,name=Name,…] (/ip:port) lost connection: …` and
//!   `Name (/ip:port) lost connection: …` are `Ok(None)`: that player never logged in, so
//!   there is no session to end, and a `Disconnected` for a name that *is* online (a second
//!   client refused with "You logged in from another location"…) would end the wrong one.
//! * `<Name> text`, `[Not Secure] <Name> text` (1.19+ unsigned chat), from any thread
//!   (Paper's `Async Chat Thread - #0`) → [`LogEvent::Chat`] with `team_only: false`.
//!   Chat reformatted by plugins (`[Member] Name: text`) is not recognised.
//! * `Done (3.456s)! For help, type "help"` (Beta: `Done (7202843100ns)!…`, Velocity:
//!   `Done (3.17s)!`) → [`LogEvent::ServerStart`]; `Stopping server` / `Stopping the server`
//!   → [`LogEvent::ServerStop`]. A normal stop prints both (the stop command, then the
//!   server, then sometimes the shutdown hook again): each is its own `ServerStop`, the
//!   sessions transform treats repeats as one. `[Name: Stopping the server]` (op feedback)
//!   is not a stop line.
//!
//! Proxies and Bedrock, which Guildhall can also be pointed at:
//!
//! * Velocity: `[connected player] Name (/ip:port) has connected` → `Connected` (the login to
//!   the network); `… has disconnected` / `… has disconnected: reason` → `Disconnected`;
//!   `[server connection] Name -> lobby …` (moving between back-ends) → `Ok(None)`.
//! * Waterfall/BungeeCord never logs a login line with a name (`[/ip:port] <-> InitialHandler
//!   has connected` comes before the name is known, `ServerConnector` lines repeat on every
//!   server switch), so only the end of a session is read: `[Name] disconnected with: reason`
//!   → `Disconnected`, `[/ip:port|Name] -> UpstreamBridge has disconnected` → `Left`.
//! * Bedrock Dedicated Server: `Player connected: Name, xuid: …` → `Connected` (no address
//!   is printed), `Player Spawned: Name xuid: …` → `Entered`, `Player disconnected: Name,
//!   xuid: …` → `Disconnected`, `Server started.` → `ServerStart`, `Stopping server...` →
//!   `ServerStop`. The XUID is not kept: [`GameAccount`] has no Xbox variant.
//!
//! Names: vanilla names are 3–16 of `[A-Za-z0-9_]`, but offline-mode and modded servers allow
//! more (CJK letters, `-`) and Geyser/Floodgate prefixes Bedrock players with `.`, so a Java
//! name is 1–32 letters or digits of any script, `_`, `.`, `-`, `*`, and no spaces (Floodgate
//! replaces them). Bedrock gamertags may hold inner spaces, so BDS lines allow them. A line
//! whose name fails the rule (`[Plugin] Foo joined the game`, `<Name> left the game` is chat)
//! is `Ok(None)`.
//!
//! # What is an error
//!
//! Everything in a known layout that is not one of the events above is `Ok(None)` (world
//! loading, plugin output, warnings). Java logs are full of multi-line messages (stack
//! traces, mod lists, config dumps) whose later lines carry no head, so a line without a head
//! is `Ok(None)` when it is blank, starts with whitespace, `at `, `Caused by:`,
//! `Suppressed:`, `...`, `Exception in thread `, or is an exception header
//! (`java.util.zip.ZipException: …`: a dotted class name ending in `Exception`, `Error` or
//! `Throwable`, then `:` or the end). Only the rest, and heads that start like a time but do
//! not parse, are `Err`.
//!
//! # Speed
//!
//! No regex and no allocation unless a record is returned: the head is read with fixed byte
//! offsets, and each event is found by a prefix, a suffix, or a test at the first space (names
//! have no spaces), so no line is scanned twice.

use super::event::{GameAccount, LineError, LogEvent, LogRecord, LogTime, ParseResult, Player};
use chrono::{NaiveDate, NaiveTime};
use std::net::{IpAddr, SocketAddr};

/// Lines with ANSI codes up to this length are cleaned on the stack; longer ones (rare) in a
/// heap buffer.
const ANSI_STACK_BUF: usize = 1024;

/// The longest name accepted, in characters.
const MAX_NAME_CHARS: usize = 32;

/// Parses one line of a Minecraft server (or proxy) log.
///
/// `Ok(Some(_))` for an event Guildhall keeps, `Ok(None)` for a line with nothing to keep
/// (including stack-trace continuations), `Err` for a line in no known layout. A trailing
/// `\n` / `\r\n` and a leading BOM are ignored. See the module documentation for the rules.
pub fn parse_mc_line(line: &str) -> ParseResult {
    let line = line.strip_prefix('\u{feff}').unwrap_or(line);
    let line = line.strip_suffix('\n').unwrap_or(line);
    let line = line.strip_suffix('\r').unwrap_or(line);
    if line.contains('\u{1b}') {
        return parse_without_ansi(line);
    }
    parse_clean(line)
}

/// Normalises a Minecraft UUID (hyphenated, or 32 hex digits without hyphens, any case) to
/// the lowercase hyphenated form `xxxxxxxx-xxxx-xxxx-xxxx-xxxxxxxxxxxx`; `None` if it is not
/// one.
pub fn normalize_uuid(s: &str) -> Option<String> {
    let b = s.as_bytes();
    let valid = match b.len() {
        36 => b.iter().enumerate().all(|(i, c)| {
            if matches!(i, 8 | 13 | 18 | 23) {
                *c == b'-'
            } else {
                c.is_ascii_hexdigit()
            }
        }),
        32 => b.iter().all(u8::is_ascii_hexdigit),
        _ => false,
    };
    if !valid {
        return None;
    }
    let mut out = String::with_capacity(36);
    for (digits, &c) in b.iter().filter(|&&c| c != b'-').enumerate() {
        if matches!(digits, 8 | 12 | 16 | 20) {
            out.push('-');
        }
        out.push(char::from(c.to_ascii_lowercase()));
    }
    Some(out)
}

// ---------------------------------------------------------------------------------------
// ANSI
// ---------------------------------------------------------------------------------------

fn parse_without_ansi(line: &str) -> ParseResult {
    let src = line.as_bytes();
    if src.len() <= ANSI_STACK_BUF {
        let mut buf = [0u8; ANSI_STACK_BUF];
        let n = strip_ansi(src, &mut buf);
        parse_bytes(buf.get(..n).unwrap_or_default())
    } else {
        let mut buf = vec![0u8; src.len()];
        let n = strip_ansi(src, &mut buf);
        parse_bytes(buf.get(..n).unwrap_or_default())
    }
}

fn parse_bytes(b: &[u8]) -> ParseResult {
    match std::str::from_utf8(b) {
        Ok(s) => parse_clean(s),
        Err(_) => Err(LineError(
            "line is not valid UTF-8 after removing ANSI codes",
        )),
    }
}

/// Copies `src` into `dst` without ANSI escape sequences (CSI `ESC [ … final`, OSC
/// `ESC ] … BEL`/`ESC \`, and two-byte `ESC x`); returns the length written. Only ASCII bytes
/// are removed, so valid UTF-8 stays valid. `dst` must be at least as long as `src`.
fn strip_ansi(src: &[u8], dst: &mut [u8]) -> usize {
    let mut n = 0;
    let mut i = 0;
    while let Some(&c) = src.get(i) {
        if c != 0x1b {
            if let Some(slot) = dst.get_mut(n) {
                *slot = c;
                n += 1;
            }
            i += 1;
            continue;
        }
        i += 1;
        match src.get(i) {
            Some(b'[') => {
                i += 1;
                while let Some(&p) = src.get(i) {
                    if (0x40..=0x7e).contains(&p) {
                        i += 1;
                        break;
                    }
                    if !(0x20..=0x3f).contains(&p) {
                        break;
                    }
                    i += 1;
                }
            }
            Some(b']') => {
                i += 1;
                while let Some(&p) = src.get(i) {
                    if p == 0x07 {
                        i += 1;
                        break;
                    }
                    if p == 0x1b && src.get(i + 1) == Some(&b'\\') {
                        i += 2;
                        break;
                    }
                    if !p.is_ascii() {
                        break;
                    }
                    i += 1;
                }
            }
            Some(&p) if (0x20..=0x7e).contains(&p) => i += 1,
            _ => {}
        }
    }
    n
}

// ---------------------------------------------------------------------------------------
// Heads
// ---------------------------------------------------------------------------------------

/// What the start of a line is.
enum Head<'a> {
    /// A known head: the time and the message after it.
    Msg(LogTime, &'a str),
    /// Does not start like any head (maybe a continuation line).
    None,
    /// Starts like a head but breaks off.
    Bad(&'static str),
}

/// The date a line prints, when its layout prints one (`[2026-03-29 12:00:00] …`, Forge's
/// `[29Mar2026 12:00:00.000] …`); `None` for the usual time-only lines.
pub fn line_date(line: &str) -> Option<NaiveDate> {
    let line = line.strip_prefix('\u{feff}').unwrap_or(line);
    match split_head(line) {
        Head::Msg(LogTime::Full(at), _) => Some(at.date()),
        _ => None,
    }
}

fn parse_clean(line: &str) -> ParseResult {
    match split_head(line) {
        Head::Msg(at, msg) => Ok(message_event(msg)?.map(|event| LogRecord { at, event })),
        Head::Bad(reason) => Err(LineError(reason)),
        Head::None => classify_headless(line),
    }
}

fn split_head(line: &str) -> Head<'_> {
    match line.as_bytes().first() {
        Some(b'[') => bracket_head(line.get(1..).unwrap_or_default()),
        Some(b) if b.is_ascii_digit() => legacy_head(line),
        _ => Head::None,
    }
}

/// A head that opens with `[` and a time: `[time] [thread/LEVEL]…` or `[time LEVEL]…`.
fn bracket_head(s: &str) -> Head<'_> {
    let Some((at, rest)) = parse_timestamp(s) else {
        return Head::None;
    };
    if let Some(rest) = rest.strip_prefix(']') {
        thread_head(at, rest)
    } else if let Some(rest) = rest.strip_prefix(' ') {
        level_head(at, rest)
    } else {
        Head::Bad("unexpected character after the time in the log head")
    }
}

/// After `[time]`: ` [thread/LEVEL]` then `: msg`, ` [logger]: msg` (Forge) or
/// ` (logger) msg` (Fabric dev).
fn thread_head(at: LogTime, rest: &str) -> Head<'_> {
    let Some(rest) = rest.strip_prefix(" [") else {
        return Head::Bad("expected ' [thread/LEVEL]' after the time");
    };
    let Some(close) = rest.find(']') else {
        return Head::Bad("unterminated [thread/LEVEL] in the log head");
    };
    let inner = rest.get(..close).unwrap_or_default();
    let level = inner.rsplit_once('/').map_or(inner, |(_, level)| level);
    if !is_level(level) {
        return Head::Bad("no log level in [thread/LEVEL]");
    }
    let after = rest.get(close + 1..).unwrap_or_default();
    if let Some(msg) = after.strip_prefix(": ") {
        return Head::Msg(at, msg);
    }
    if after.is_empty() || after == ":" {
        return Head::Msg(at, "");
    }
    if let Some(tagged) = after.strip_prefix(" [") {
        return match tagged.find("]: ") {
            Some(j) => Head::Msg(at, tagged.get(j + 3..).unwrap_or_default()),
            None if tagged.ends_with("]:") => Head::Msg(at, ""),
            None => Head::Bad("unterminated [logger] in a Forge log head"),
        };
    }
    if let Some(tagged) = after.strip_prefix(" (") {
        return match tagged.find(") ") {
            Some(j) => Head::Msg(at, tagged.get(j + 2..).unwrap_or_default()),
            None if tagged.ends_with(')') => Head::Msg(at, ""),
            None => Head::Bad("unterminated (logger) in a Fabric log head"),
        };
    }
    Head::Bad("unexpected text after [thread/LEVEL]")
}

/// After `[time `: `LEVEL]` then `: msg`, ` [tag]: msg` (proxy plugins) or ` msg` (Bedrock).
fn level_head(at: LogTime, rest: &str) -> Head<'_> {
    let Some(close) = rest.find(']') else {
        return Head::Bad("unterminated [time LEVEL] in the log head");
    };
    if !is_level(rest.get(..close).unwrap_or_default()) {
        return Head::Bad("no log level in [time LEVEL]");
    }
    let after = rest.get(close + 1..).unwrap_or_default();
    if let Some(msg) = after.strip_prefix(": ") {
        return Head::Msg(at, msg);
    }
    if after.is_empty() || after == ":" {
        return Head::Msg(at, "");
    }
    if let Some(tagged) = after.strip_prefix(" [")
        && let Some(j) = tagged.find("]: ")
    {
        return Head::Msg(at, tagged.get(j + 3..).unwrap_or_default());
    }
    match after.strip_prefix(' ') {
        Some(msg) => Head::Msg(at, msg),
        None => Head::Bad("unexpected text after [time LEVEL]"),
    }
}

/// `YYYY-MM-DD HH:MM:SS [LEVEL] msg` (Beta 1.8 – 1.6).
fn legacy_head(line: &str) -> Head<'_> {
    let Some((date, rest)) = parse_iso_date(line) else {
        return Head::None;
    };
    let Some((time, rest)) = rest.strip_prefix(' ').and_then(parse_hms) else {
        return Head::None;
    };
    let at = LogTime::Full(date.and_time(time));
    let Some(rest) = rest.strip_prefix(" [") else {
        return Head::Bad("expected ' [LEVEL]' after the date and time");
    };
    let Some(close) = rest.find(']') else {
        return Head::Bad("unterminated [LEVEL] in the log head");
    };
    let inner = rest.get(..close).unwrap_or_default();
    let level = inner.rsplit_once('/').map_or(inner, |(_, level)| level);
    if !is_level(level) {
        return Head::Bad("no log level in [LEVEL]");
    }
    let after = rest.get(close + 1..).unwrap_or_default();
    if after.is_empty() || after == ":" {
        return Head::Msg(at, "");
    }
    match after.strip_prefix(": ").or_else(|| after.strip_prefix(' ')) {
        Some(msg) => Head::Msg(at, msg),
        None => Head::Bad("unexpected text after [LEVEL]"),
    }
}

fn is_level(s: &str) -> bool {
    (1..=10).contains(&s.len()) && s.bytes().all(|b| b.is_ascii_uppercase())
}

/// `HH:MM:SS[.fff]`, `YYYY-MM-DD HH:MM:SS[.fff]` or `ddMMMyyyy HH:MM:SS[.fff]`.
fn parse_timestamp(s: &str) -> Option<(LogTime, &str)> {
    if let Some((time, rest)) = parse_hms(s) {
        return Some((LogTime::TimeOfDay(time), rest));
    }
    if let Some((date, rest)) = parse_iso_date(s) {
        let rest = rest.strip_prefix(' ').or_else(|| rest.strip_prefix('T'))?;
        let (time, rest) = parse_hms(rest)?;
        return Some((LogTime::Full(date.and_time(time)), rest));
    }
    let (date, rest) = parse_forge_date(s)?;
    let (time, rest) = parse_hms(rest.strip_prefix(' ')?)?;
    let at = match date {
        Some(date) => LogTime::Full(date.and_time(time)),
        None => LogTime::TimeOfDay(time),
    };
    Some((at, rest))
}

fn digit(b: &[u8], i: usize) -> Option<u32> {
    b.get(i)
        .filter(|c| c.is_ascii_digit())
        .map(|c| u32::from(c - b'0'))
}

fn two_digits(b: &[u8], i: usize) -> Option<u32> {
    Some(digit(b, i)? * 10 + digit(b, i + 1)?)
}

fn four_digits(b: &[u8], i: usize) -> Option<i32> {
    let v = two_digits(b, i)? * 100 + two_digits(b, i + 2)?;
    i32::try_from(v).ok()
}

/// `HH:MM:SS` with an optional fraction after `.`, `,` or `:` (BDS prints `:123`).
fn parse_hms(s: &str) -> Option<(NaiveTime, &str)> {
    let b = s.as_bytes();
    if b.get(2) != Some(&b':') || b.get(5) != Some(&b':') {
        return None;
    }
    let (h, m, sec) = (two_digits(b, 0)?, two_digits(b, 3)?, two_digits(b, 6)?);
    let mut end = 8;
    let mut nanos = 0u32;
    if matches!(b.get(8), Some(b'.' | b',' | b':')) && digit(b, 9).is_some() {
        end = 9;
        let mut places = 0;
        while let Some(d) = digit(b, end) {
            if places < 9 {
                nanos = nanos * 10 + d;
                places += 1;
            }
            end += 1;
        }
        for _ in places..9 {
            nanos *= 10;
        }
    }
    let time = NaiveTime::from_hms_nano_opt(h, m, sec, nanos)?;
    Some((time, s.get(end..)?))
}

/// `YYYY-MM-DD`.
fn parse_iso_date(s: &str) -> Option<(NaiveDate, &str)> {
    let b = s.as_bytes();
    if b.get(4) != Some(&b'-') || b.get(7) != Some(&b'-') {
        return None;
    }
    let date = NaiveDate::from_ymd_opt(four_digits(b, 0)?, two_digits(b, 5)?, two_digits(b, 8)?)?;
    Some((date, s.get(10..)?))
}

/// Log4j's `ddMMMyyyy` (Forge `debug.log`, NeoForge). The month is the JVM locale's
/// abbreviation: English ones give a date, any other word gives `Some(None)` (time only).
fn parse_forge_date(s: &str) -> Option<(Option<NaiveDate>, &str)> {
    let b = s.as_bytes();
    let day = two_digits(b, 0)?;
    let rest = s.get(2..)?;
    let month_len = rest.find(|c: char| c.is_ascii_digit())?;
    let month_word = rest.get(..month_len)?;
    if month_word.is_empty()
        || month_word.len() > 12
        || month_word.contains(|c: char| c.is_whitespace() || c == ']' || c == ':')
    {
        return None;
    }
    let rest = rest.get(month_len..)?;
    let year = four_digits(rest.as_bytes(), 0)?;
    let rest = rest.get(4..)?;
    let date = english_month(month_word).and_then(|m| NaiveDate::from_ymd_opt(year, m, day));
    Some((date, rest))
}

fn english_month(word: &str) -> Option<u32> {
    const MONTHS: [&str; 12] = [
        "jan", "feb", "mar", "apr", "may", "jun", "jul", "aug", "sep", "oct", "nov", "dec",
    ];
    let word = word.strip_suffix('.').unwrap_or(word);
    if word.len() != 3 {
        return None;
    }
    let position = MONTHS.iter().position(|m| m.eq_ignore_ascii_case(word))?;
    u32::try_from(position + 1).ok()
}

// ---------------------------------------------------------------------------------------
// Lines without a head
// ---------------------------------------------------------------------------------------

fn classify_headless(line: &str) -> ParseResult {
    let Some(first) = line.chars().next() else {
        return Ok(None);
    };
    if first.is_whitespace()
        || line.starts_with("at ")
        || line.starts_with("Caused by:")
        || line.starts_with("Suppressed:")
        || line.starts_with("...")
        || line.starts_with("Exception in thread ")
        || is_exception_header(line)
    {
        return Ok(None);
    }
    Err(LineError(
        "not a Minecraft log line: no known time/level head and not a stack-trace continuation",
    ))
}

/// `java.util.zip.ZipException: incorrect data check`, `java.lang.NullPointerException`.
fn is_exception_header(line: &str) -> bool {
    let class = match line.split_once(':') {
        Some((class, rest)) if rest.is_empty() || rest.starts_with(' ') => class,
        Some(_) => return false,
        None => line,
    };
    let mut segments = 0;
    for segment in class.split('.') {
        let mut chars = segment.chars();
        let Some(first) = chars.next() else {
            return false;
        };
        if !(first.is_ascii_alphabetic() || first == '_' || first == '$')
            || !chars.all(|c| c.is_ascii_alphanumeric() || c == '_' || c == '$')
        {
            return false;
        }
        segments += 1;
    }
    segments >= 2
        && (class.ends_with("Exception")
            || class.ends_with("Error")
            || class.ends_with("Throwable"))
}

// ---------------------------------------------------------------------------------------
// Messages
// ---------------------------------------------------------------------------------------

fn player(name: &str) -> Player {
    Player {
        name: name.to_owned(),
        account: None,
        slot: None,
        bot: false,
    }
}

/// A Java-edition name: 1–32 letters/digits of any script, `_`, `.`, `-`, `*`; no spaces.
fn is_java_name(s: &str) -> bool {
    let mut count = 0;
    for c in s.chars() {
        count += 1;
        if count > MAX_NAME_CHARS || !(c.is_alphanumeric() || matches!(c, '_' | '.' | '-' | '*')) {
            return false;
        }
    }
    count > 0
}

/// A Bedrock gamertag: like a Java name, plus inner spaces.
fn is_bedrock_name(s: &str) -> bool {
    if s.starts_with(' ') || s.ends_with(' ') {
        return false;
    }
    let mut count = 0;
    for c in s.chars() {
        count += 1;
        if count > MAX_NAME_CHARS
            || !(c.is_alphanumeric() || matches!(c, '_' | '.' | '-' | '*' | ' '))
        {
            return false;
        }
    }
    count > 0
}

fn java_player(name: &str) -> Option<Player> {
    is_java_name(name).then(|| player(name))
}

fn message_event(msg: &str) -> Result<Option<LogEvent>, LineError> {
    let m = msg.trim_end();
    let Some(&first) = m.as_bytes().first() else {
        return Ok(None);
    };
    let event = match first {
        b'<' => return Ok(chat(msg)),
        b'[' => return Ok(bracketed_message(m, msg)),
        b'U' => match m.strip_prefix("UUID of player ") {
            Some(rest) => return account_seen(rest).map(Some),
            None => None,
        },
        b'D' => is_done(m).then_some(LogEvent::ServerStart),
        b'S' => match m {
            "Stopping server" | "Stopping the server" | "Stopping server..." => {
                Some(LogEvent::ServerStop)
            }
            "Server started." => Some(LogEvent::ServerStart),
            _ => None,
        },
        b'P' => bedrock_player(m),
        _ => None,
    };
    if event.is_some() {
        return Ok(event);
    }
    Ok(name_first_event(m))
}

/// Lines that start with a name: joined/left (by suffix), lost connection / logged in (at
/// the first space, as names have none).
fn name_first_event(m: &str) -> Option<LogEvent> {
    let last = *m.as_bytes().last()?;
    if last == b'e' {
        if let Some(name) = m.strip_suffix(" joined the game") {
            let name = name
                .find(" (formerly known as ")
                .filter(|_| name.ends_with(')'))
                .and_then(|i| name.get(..i))
                .unwrap_or(name);
            return java_player(name).map(|player| LogEvent::Entered { player });
        }
        if let Some(name) = m.strip_suffix(" left the game") {
            return java_player(name).map(|player| LogEvent::Left { player });
        }
    } else if last == b'.'
        && let Some(name) = m.strip_suffix(" left the game.")
    {
        return java_player(name).map(|player| LogEvent::Left { player });
    }
    let space = m.find(' ')?;
    let (first_word, rest) = m.split_at(space);
    if let Some(reason) = rest.strip_prefix(" lost connection: ") {
        let player = java_player(first_word)?;
        let reason = (!reason.is_empty()).then(|| reason.to_owned());
        return Some(LogEvent::Disconnected { player, reason });
    }
    if rest == " lost connection" {
        let player = java_player(first_word)?;
        return Some(LogEvent::Disconnected {
            player,
            reason: None,
        });
    }
    if rest.starts_with(" logged in with entity id ") {
        return connected(first_word);
    }
    // Beta 1.8: `Name [/ip:port] logged in with entity id …`.
    if rest.as_bytes().get(1) == Some(&b'[') {
        let after = rest.get(1..)?;
        let space2 = after.find(' ')?;
        let (bracket, tail) = after.split_at(space2);
        if tail.starts_with(" logged in with entity id ") && bracket.ends_with(']') {
            let player = java_player(first_word)?;
            let address = bracket.get(1..bracket.len() - 1).and_then(parse_address);
            return Some(LogEvent::Connected { player, address });
        }
    }
    None
}

/// `Name[/1.2.3.4:5678]`, `Name[local]`, `Name` (no address).
fn connected(prefix: &str) -> Option<LogEvent> {
    let (name, address) = match prefix.find('[') {
        Some(open) if prefix.ends_with(']') => (
            prefix.get(..open)?,
            prefix
                .get(open + 1..prefix.len() - 1)
                .and_then(parse_address),
        ),
        Some(_) => return None,
        None => (prefix, None),
    };
    let player = java_player(name)?;
    Some(LogEvent::Connected { player, address })
}

/// Java's `InetSocketAddress.toString()`: `/1.2.3.4:5678`, `host/1.2.3.4:5678`,
/// `/[::1]:5678` or `/0:0:0:0:0:0:0:1:5678`, with or without the port. `local` and
/// anonymised addresses give `None`.
fn parse_address(s: &str) -> Option<IpAddr> {
    let s = s.trim();
    let s = s.rsplit_once('/').map_or(s, |(_, ip)| ip);
    if let Ok(ip) = s.parse::<IpAddr>() {
        return Some(ip);
    }
    if let Ok(socket) = s.parse::<SocketAddr>() {
        return Some(socket.ip());
    }
    let (host, port) = s.rsplit_once(':')?;
    if port.is_empty() || !port.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    let host = host
        .strip_prefix('[')
        .and_then(|h| h.strip_suffix(']'))
        .unwrap_or(host);
    host.parse().ok()
}

/// `UUID of player Name is 069a79f4-…` (after the prefix).
fn account_seen(rest: &str) -> Result<LogEvent, LineError> {
    let Some((name, uuid)) = rest.split_once(" is ") else {
        return Err(LineError("UUID of player line without ' is '"));
    };
    if !is_java_name(name) {
        return Err(LineError("UUID of player line with an unreadable name"));
    }
    let Some(uuid) = normalize_uuid(uuid.trim()) else {
        return Err(LineError("UUID of player line with an invalid UUID"));
    };
    let mut player = player(name);
    player.account = Some(GameAccount::Minecraft(uuid));
    Ok(LogEvent::AccountSeen { player })
}

/// `Done (3.456s)! For help, type "help"`, `Done (7202843100ns)! …`, Velocity `Done (3.17s)!`.
fn is_done(m: &str) -> bool {
    let Some(rest) = m.strip_prefix("Done (") else {
        return false;
    };
    let Some(close) = rest.find(")!") else {
        return false;
    };
    let duration = rest.get(..close).unwrap_or_default();
    let after = rest.get(close + 2..).unwrap_or_default();
    duration.len() <= 24
        && duration.as_bytes().first().is_some_and(u8::is_ascii_digit)
        && duration
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'.' || b == b',')
        && (after.is_empty() || after.starts_with(" For help"))
}

/// `<Name> text` (the untrimmed message, so the text is kept as printed).
fn chat(msg: &str) -> Option<LogEvent> {
    let rest = msg.strip_prefix('<')?;
    let close = rest.find('>')?;
    let name = rest.get(..close)?;
    let text = rest.get(close + 1..)?;
    let text = text.strip_prefix(' ').unwrap_or(text);
    let player = java_player(name)?;
    Some(LogEvent::Chat {
        player,
        team_only: false,
        text: text.to_owned(),
    })
}

/// Messages that start with `[`: unsigned chat, Velocity, Waterfall; anything else (plugin
/// output, op feedback) is nothing.
fn bracketed_message(m: &str, msg: &str) -> Option<LogEvent> {
    if let Some(rest) = msg.strip_prefix("[Not Secure] ") {
        return chat(rest);
    }
    if let Some(rest) = m.strip_prefix("[connected player] ") {
        return velocity_player(rest);
    }
    if let Some(inner) = m
        .strip_suffix("] -> UpstreamBridge has disconnected")
        .and_then(|s| s.strip_prefix('['))
    {
        let name = inner
            .split('|')
            .find(|part| !part.starts_with('/'))
            .unwrap_or(inner);
        return java_player(name).map(|player| LogEvent::Left { player });
    }
    let rest = m.strip_prefix('[')?;
    let close = rest.find("] disconnected with: ")?;
    let player = java_player(rest.get(..close)?)?;
    let reason = rest.get(close + "] disconnected with: ".len()..)?;
    let reason = (!reason.is_empty()).then(|| reason.to_owned());
    Some(LogEvent::Disconnected { player, reason })
}

/// Velocity, after `[connected player] `: `Name (/ip:port) has connected`,
/// `… has disconnected`, `… has disconnected: reason`.
fn velocity_player(rest: &str) -> Option<LogEvent> {
    let open = rest.find(" (")?;
    let name = rest.get(..open)?;
    let after = rest.get(open + 2..)?;
    let close = after.find(") has ")?;
    let address = after.get(..close).and_then(parse_address);
    let what = after.get(close + ") has ".len()..)?;
    let player = java_player(name)?;
    match what {
        "connected" => Some(LogEvent::Connected { player, address }),
        "disconnected" => Some(LogEvent::Disconnected {
            player,
            reason: None,
        }),
        _ => {
            let reason = what.strip_prefix("disconnected: ")?;
            let reason = (!reason.is_empty()).then(|| reason.to_owned());
            Some(LogEvent::Disconnected { player, reason })
        }
    }
}

/// Bedrock Dedicated Server: `Player connected: Name, xuid: …`, `Player Spawned: Name xuid:
/// …`, `Player disconnected: Name, xuid: …`.
fn bedrock_player(m: &str) -> Option<LogEvent> {
    fn name_before<'a>(rest: &'a str, marker: &str) -> &'a str {
        rest.find(marker)
            .and_then(|i| rest.get(..i))
            .unwrap_or(rest)
            .trim_end()
    }
    fn bedrock(name: &str) -> Option<Player> {
        is_bedrock_name(name).then(|| player(name))
    }
    if let Some(rest) = m.strip_prefix("Player connected: ") {
        let player = bedrock(name_before(rest, ", xuid"))?;
        return Some(LogEvent::Connected {
            player,
            address: None,
        });
    }
    if let Some(rest) = m.strip_prefix("Player disconnected: ") {
        let player = bedrock(name_before(rest, ", xuid"))?;
        return Some(LogEvent::Disconnected {
            player,
            reason: None,
        });
    }
    if let Some(rest) = m.strip_prefix("Player Spawned: ") {
        let player = bedrock(name_before(rest, " xuid"))?;
        return Some(LogEvent::Entered { player });
    }
    None
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;
    use proptest::prelude::*;
    use std::net::{Ipv4Addr, Ipv6Addr};

    const FIXTURES: &str = concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/tests/fixtures/04-minecraft-logs-rcon"
    );

    fn fixture(name: &str) -> String {
        std::fs::read_to_string(format!("{FIXTURES}/{name}")).unwrap()
    }

    fn all_fixture_lines() -> Vec<String> {
        let mut names: Vec<_> = std::fs::read_dir(FIXTURES)
            .unwrap()
            .map(|e| e.unwrap().file_name().into_string().unwrap())
            .filter(|n| n.ends_with(".log"))
            .collect();
        names.sort();
        names
            .iter()
            .flat_map(|n| fixture(n).lines().map(str::to_owned).collect::<Vec<_>>())
            .collect()
    }

    #[derive(Debug, Default, PartialEq, Eq)]
    struct Counts {
        lines: usize,
        account_seen: usize,
        connected: usize,
        entered: usize,
        disconnected: usize,
        left: usize,
        chat: usize,
        start: usize,
        stop: usize,
        other: usize,
        err: usize,
    }

    fn count(text: &str) -> Counts {
        let mut c = Counts::default();
        for line in text.lines() {
            c.lines += 1;
            match parse_mc_line(line) {
                Err(_) => c.err += 1,
                Ok(None) => {}
                Ok(Some(r)) => match r.event {
                    LogEvent::AccountSeen { .. } => c.account_seen += 1,
                    LogEvent::Connected { .. } => c.connected += 1,
                    LogEvent::Entered { .. } => c.entered += 1,
                    LogEvent::Disconnected { .. } => c.disconnected += 1,
                    LogEvent::Left { .. } => c.left += 1,
                    LogEvent::Chat { .. } => c.chat += 1,
                    LogEvent::ServerStart => c.start += 1,
                    LogEvent::ServerStop => c.stop += 1,
                    _ => c.other += 1,
                },
            }
        }
        c
    }

    /// Expected counts, derived with grep from the files (see the module docs for the rules
    /// the greps encode) and checked line by line where they first disagreed.
    #[test]
    fn fixture_counts() {
        let d = Counts::default();
        let expected: [(&str, Counts); 13] = [
            (
                "bedrock_start_1.19.log",
                Counts {
                    lines: 8,
                    start: 1,
                    ..d
                },
            ),
            (
                "fabric_1.16.5_loom_server.log",
                Counts {
                    lines: 84,
                    start: 1,
                    stop: 2,
                    ..d
                },
            ),
            (
                "forge_1.12.2_start_stop.log",
                Counts {
                    lines: 123,
                    start: 1,
                    stop: 2,
                    ..d
                },
            ),
            (
                "mcdr_beta18_lifecycle.log",
                Counts {
                    lines: 69,
                    connected: 1,
                    disconnected: 1,
                    chat: 3,
                    start: 3,
                    stop: 5,
                    ..d
                },
            ),
            (
                "mcdr_bukkit_lifecycle.log",
                Counts {
                    lines: 88,
                    connected: 1,
                    disconnected: 1,
                    left: 1,
                    chat: 2,
                    start: 1,
                    stop: 2,
                    ..d
                },
            ),
            (
                "mcdr_forge_lifecycle.log",
                Counts {
                    lines: 73,
                    connected: 2,
                    entered: 2,
                    disconnected: 1,
                    left: 1,
                    chat: 1,
                    start: 1,
                    stop: 1,
                    ..d
                },
            ),
            (
                "mcdr_vanilla_lifecycle.log",
                Counts {
                    lines: 74,
                    connected: 1,
                    entered: 1,
                    start: 1,
                    stop: 2,
                    ..d
                },
            ),
            (
                "mcdr_velocity_lifecycle.log",
                Counts {
                    lines: 63,
                    connected: 1,
                    disconnected: 1,
                    start: 1,
                    ..d
                },
            ),
            (
                "mcdr_waterfall_lifecycle.log",
                Counts {
                    lines: 46,
                    disconnected: 1,
                    left: 1,
                    ..d
                },
            ),
            (
                "paper_1.8.8_start.log",
                Counts {
                    lines: 200,
                    start: 1,
                    stop: 2,
                    ..d
                },
            ),
            (
                "spigot_1.13_anonymised_login.log",
                Counts {
                    lines: 463,
                    connected: 1,
                    start: 1,
                    stop: 1,
                    err: 1,
                    ..d
                },
            ),
            (
                "spigot_essentials_list_console_pastebin_gzBNtyCr.log",
                Counts {
                    lines: 15,
                    account_seen: 1,
                    connected: 1,
                    disconnected: 2,
                    left: 2,
                    ..d
                },
            ),
            (
                "vanilla_1.21.11pre1_start_stop.log",
                Counts {
                    lines: 35,
                    start: 1,
                    stop: 2,
                    ..d
                },
            ),
        ];
        let mut on_disk: Vec<_> = std::fs::read_dir(FIXTURES)
            .unwrap()
            .map(|e| e.unwrap().file_name().into_string().unwrap())
            .filter(|n| n.ends_with(".log"))
            .collect();
        on_disk.sort();
        let mut listed: Vec<_> = expected.iter().map(|(n, _)| (*n).to_owned()).collect();
        listed.sort();
        assert_eq!(on_disk, listed, "every fixture file has expected counts");
        for (name, want) in expected {
            assert_eq!(count(&fixture(name)), want, "{name}");
        }
    }

    #[test]
    fn the_only_fixture_error_is_the_anonymised_uuid_line() {
        let text = fixture("spigot_1.13_anonymised_login.log");
        let errors: Vec<_> = text
            .lines()
            .filter_map(|l| parse_mc_line(l).err().map(|e| (l, e)))
            .collect();
        assert_eq!(
            errors,
            [(
                "[15:53:18] [User Authenticator #11/INFO]: UUID of player player is uuid",
                LineError("UUID of player line with an invalid UUID")
            )]
        );
    }

    fn tod(h: u32, m: u32, s: u32) -> LogTime {
        LogTime::TimeOfDay(NaiveTime::from_hms_opt(h, m, s).unwrap())
    }

    fn full(y: i32, mo: u32, d: u32, h: u32, mi: u32, s: u32, ms: u32) -> LogTime {
        LogTime::Full(
            NaiveDate::from_ymd_opt(y, mo, d)
                .unwrap()
                .and_hms_milli_opt(h, mi, s, ms)
                .unwrap(),
        )
    }

    fn rec(at: LogTime, event: LogEvent) -> ParseResult {
        Ok(Some(LogRecord { at, event }))
    }

    fn p(name: &str) -> Player {
        player(name)
    }

    fn ip4(a: u8, b: u8, c: u8, d: u8) -> Option<IpAddr> {
        Some(IpAddr::V4(Ipv4Addr::new(a, b, c, d)))
    }

    #[test]
    fn layouts() {
        let start = LogEvent::ServerStart;
        // vanilla / Spigot / Paper / Folia latest.log
        assert_eq!(
            parse_mc_line(
                "[12:34:56] [Server thread/INFO]: Done (3.456s)! For help, type \"help\""
            ),
            rec(tod(12, 34, 56), start.clone())
        );
        // Paper / Spigot console, Velocity, Waterfall
        assert_eq!(
            parse_mc_line("[12:34:56 INFO]: Done (12.080s)! For help, type \"help\""),
            rec(tod(12, 34, 56), start.clone())
        );
        // Forge latest.log
        assert_eq!(
            parse_mc_line(
                "[00:53:15] [Server thread/INFO] [minecraft/DedicatedServer]: Done (4.505s)! For help, type \"help\""
            ),
            rec(tod(0, 53, 15), start.clone())
        );
        // Forge debug.log / NeoForge, with date and milliseconds
        assert_eq!(
            parse_mc_line(
                "[10Jan2018 12:34:56.789] [Server thread/INFO] [minecraft/DedicatedServer]: Stopping server"
            ),
            rec(full(2018, 1, 10, 12, 34, 56, 789), LogEvent::ServerStop)
        );
        // … in a non-English JVM locale: the time survives
        assert_eq!(
            parse_mc_line(
                "[10févr.2018 12:34:56.789] [Server thread/INFO] [minecraft/DedicatedServer]: Stopping server"
            ),
            Ok(Some(LogRecord {
                at: LogTime::TimeOfDay(NaiveTime::from_hms_milli_opt(12, 34, 56, 789).unwrap()),
                event: LogEvent::ServerStop
            }))
        );
        // Fabric dev (no colon)
        assert_eq!(
            parse_mc_line("[11:47:24] [Server thread/INFO] (Minecraft) Stopping the server"),
            rec(tod(11, 47, 24), LogEvent::ServerStop)
        );
        // dated variants
        assert_eq!(
            parse_mc_line("[2024-01-01 12:34:56] [Server thread/INFO]: Stopping server"),
            rec(full(2024, 1, 1, 12, 34, 56, 0), LogEvent::ServerStop)
        );
        assert_eq!(
            parse_mc_line("[2024-01-01 12:34:56 INFO]: Stopping server"),
            rec(full(2024, 1, 1, 12, 34, 56, 0), LogEvent::ServerStop)
        );
        // Bedrock (with and without BDS's `:ms`)
        assert_eq!(
            parse_mc_line("[2019-02-16 01:16:19 INFO] Server started."),
            rec(full(2019, 2, 16, 1, 16, 19, 0), start.clone())
        );
        assert_eq!(
            parse_mc_line("[2023-05-12 10:00:00:123 INFO] Server started."),
            rec(full(2023, 5, 12, 10, 0, 0, 123), start.clone())
        );
        // Beta 1.8 – 1.6
        assert_eq!(
            parse_mc_line(
                "2021-01-09 01:41:17 [INFO] Done (7202843100ns)! For help, type \"help\" or \"?\""
            ),
            rec(full(2021, 1, 9, 1, 41, 17, 0), start.clone())
        );
        // Velocity plugin tag
        assert_eq!(
            parse_mc_line("[00:23:39 INFO] [viaversion]: Loading 1.12 -> 1.13 mappings..."),
            Ok(None)
        );
        // ANSI colours, CRLF, BOM
        assert_eq!(
            parse_mc_line(
                "\u{1b}[m\u{1b}[33m[12:34:56 INFO]: \u{1b}[0;33;1mAlice joined the game\u{1b}[m\r\n"
            ),
            rec(tod(12, 34, 56), LogEvent::Entered { player: p("Alice") })
        );
        assert_eq!(
            parse_mc_line("\u{feff}[12:34:56] [Server thread/INFO]: Stopping server\r"),
            rec(tod(12, 34, 56), LogEvent::ServerStop)
        );
        let long = format!(
            "\u{1b}[0m[12:34:56] [Server thread/INFO]: <Bob> {}",
            "x".repeat(3000)
        );
        assert!(matches!(
            parse_mc_line(&long),
            Ok(Some(LogRecord {
                event: LogEvent::Chat { .. },
                ..
            }))
        ));
    }

    #[test]
    fn account_seen() {
        let want = |uuid: &str| {
            let mut player = p("Notch");
            player.account = Some(GameAccount::Minecraft(uuid.to_owned()));
            rec(tod(12, 0, 1), LogEvent::AccountSeen { player })
        };
        assert_eq!(
            parse_mc_line(
                "[12:00:01] [User Authenticator #1/INFO]: UUID of player Notch is 069a79f4-44e9-4726-a5be-fca90e38aaf5"
            ),
            want("069a79f4-44e9-4726-a5be-fca90e38aaf5")
        );
        assert_eq!(
            parse_mc_line(
                "[12:00:01] [User Authenticator #1/INFO]: UUID of player Notch is 069A79F444E94726A5BEFCA90E38AAF5"
            ),
            want("069a79f4-44e9-4726-a5be-fca90e38aaf5")
        );
        assert_eq!(
            parse_mc_line(
                "[12:00:01 INFO]: UUID of player Notch is 069a79f4-44e9-4726-a5be-fca90e38aaf"
            ),
            Err(LineError("UUID of player line with an invalid UUID"))
        );
        // Floodgate's `.` prefix
        let mut player = p(".Steve");
        player.account = Some(GameAccount::Minecraft(
            "00000000-0000-0000-0009-01f64f65c7c3".to_owned(),
        ));
        assert_eq!(
            parse_mc_line(
                "[12:00:01 INFO]: UUID of player .Steve is 00000000-0000-0000-0009-01f64f65c7c3"
            ),
            rec(tod(12, 0, 1), LogEvent::AccountSeen { player })
        );
    }

    #[test]
    fn connected() {
        let t = tod(23, 52, 53);
        let conn = |name: &str, address| {
            rec(
                t,
                LogEvent::Connected {
                    player: p(name),
                    address,
                },
            )
        };
        assert_eq!(
            parse_mc_line(
                "[23:52:53] [Server thread/INFO]: Fallen_Breath[/127.0.0.1:9477] logged in with entity id 574 at (97.5, 283.5, 145.4)"
            ),
            conn("Fallen_Breath", ip4(127, 0, 0, 1))
        );
        assert_eq!(
            parse_mc_line(
                "[23:52:53] [Server thread/INFO]: Alice[local] logged in with entity id 1 at (0.5, 64.0, 0.5)"
            ),
            conn("Alice", None)
        );
        assert_eq!(
            parse_mc_line(
                "[23:52:53] [Server thread/INFO]: Alice[/10.1.2.3] logged in with entity id 1 at (0.5, 64.0, 0.5)"
            ),
            conn("Alice", ip4(10, 1, 2, 3))
        );
        assert_eq!(
            parse_mc_line(
                "[23:52:53] [Server thread/INFO]: Alice[localhost/192.168.0.7:50000] logged in with entity id 1 at (0.5, 64.0, 0.5)"
            ),
            conn("Alice", ip4(192, 168, 0, 7))
        );
        assert_eq!(
            parse_mc_line(
                "[23:52:53] [Server thread/INFO]: Alice[/[0:0:0:0:0:0:0:1]:50000] logged in with entity id 1 at (0.5, 64.0, 0.5)"
            ),
            conn("Alice", Some(IpAddr::V6(Ipv6Addr::LOCALHOST)))
        );
        assert_eq!(
            parse_mc_line(
                "[23:52:53] [Server thread/INFO]: Alice[/0:0:0:0:0:0:0:1:50000] logged in with entity id 1 at (0.5, 64.0, 0.5)"
            ),
            conn("Alice", Some(IpAddr::V6(Ipv6Addr::LOCALHOST)))
        );
        assert_eq!(
            parse_mc_line(
                "[23:52:53] [Server thread/INFO]: Player[/**.**.**.**:12345] logged in with entity id 23423 at ([world]-3434.9, 34.0, -345346.9)"
            ),
            conn("Player", None)
        );
        // Beta 1.8: a space before the address
        assert_eq!(
            parse_mc_line(
                "2021-01-09 01:41:34 [INFO] Fallen_Breath [/127.0.0.1:10679] logged in with entity id 7777 at (-250.5, 68.6, 227.5)"
            ),
            rec(
                full(2021, 1, 9, 1, 41, 34, 0),
                LogEvent::Connected {
                    player: p("Fallen_Breath"),
                    address: ip4(127, 0, 0, 1)
                }
            )
        );
        // Velocity: the login to the network
        assert_eq!(
            parse_mc_line(
                "[00:23:45 INFO]: [connected player] Fallen_Breath (/127.0.0.1:13580) has connected"
            ),
            rec(
                tod(0, 23, 45),
                LogEvent::Connected {
                    player: p("Fallen_Breath"),
                    address: ip4(127, 0, 0, 1)
                }
            )
        );
        assert_eq!(
            parse_mc_line(
                "[00:23:45 INFO]: [server connection] Fallen_Breath -> lobby has connected"
            ),
            Ok(None)
        );
        // Bedrock Dedicated Server: gamertags may hold spaces
        assert_eq!(
            parse_mc_line(
                "[2023-05-12 10:00:00:123 INFO] Player connected: Some Gamer, xuid: 2535412345678901"
            ),
            rec(
                full(2023, 5, 12, 10, 0, 0, 123),
                LogEvent::Connected {
                    player: p("Some Gamer"),
                    address: None
                }
            )
        );
    }

    #[test]
    fn entered_left_disconnected() {
        let t = tod(0, 55, 0);
        assert_eq!(
            parse_mc_line(
                "[00:55:00] [Server thread/INFO] [minecraft/DedicatedServer]: Fallen_Breath joined the game"
            ),
            rec(
                t,
                LogEvent::Entered {
                    player: p("Fallen_Breath")
                }
            )
        );
        assert_eq!(
            parse_mc_line(
                "[00:55:00] [Server thread/INFO]: Alice (formerly known as Alyx) joined the game"
            ),
            rec(t, LogEvent::Entered { player: p("Alice") })
        );
        assert_eq!(
            parse_mc_line("[00:55:00] [Server thread/INFO]: 玩家一号 joined the game"),
            rec(
                t,
                LogEvent::Entered {
                    player: p("玩家一号")
                }
            )
        );
        assert_eq!(
            parse_mc_line("[00:55:00] [Server thread/INFO]: Fallen_Breath left the game"),
            rec(
                t,
                LogEvent::Left {
                    player: p("Fallen_Breath")
                }
            )
        );
        assert_eq!(
            parse_mc_line("[00:55:00] [Server thread/INFO]: md_5 left the game."),
            rec(t, LogEvent::Left { player: p("md_5") })
        );
        assert_eq!(
            parse_mc_line(
                "[00:55:00] [Server thread/INFO] [minecraft/ServerPlayNetHandler]: Fallen_Breath lost connection: Disconnected"
            ),
            rec(
                t,
                LogEvent::Disconnected {
                    player: p("Fallen_Breath"),
                    reason: Some("Disconnected".into())
                }
            )
        );
        assert_eq!(
            parse_mc_line(
                "[00:55:00] [Server thread/INFO]: Alice lost connection: Timed out: read: connection reset"
            ),
            rec(
                t,
                LogEvent::Disconnected {
                    player: p("Alice"),
                    reason: Some("Timed out: read: connection reset".into())
                }
            )
        );
        // login-phase disconnects: no session to end
        assert_eq!(
            parse_mc_line(
                "[00:55:00] [Server thread/INFO]: com.mojang.authlib.GameProfile@6b2c1a[id=<null>,name=Alice,properties={},legacy=false] (/1.2.3.4:5678) lost connection: You are not white-listed on this server!"
            ),
            Ok(None)
        );
        assert_eq!(
            parse_mc_line(
                "[00:55:00] [Server thread/INFO]: Alice (/1.2.3.4:5678) lost connection: Disconnected"
            ),
            Ok(None)
        );
        // not joins: plugin output, chat, op feedback
        for line in [
            "[00:55:00] [Server thread/INFO]: [Essentials] Alice joined the game",
            "[00:55:00] [Server thread/INFO]: The player Alice joined the game",
            "[00:55:00] [Server thread/INFO]: [Fallen_Breath: Stopping the server]",
            "[00:55:00] [Server thread/INFO]: CONSOLE: Stopping the server..",
            "[00:55:00] [Server thread/INFO]: Done preparing level",
        ] {
            assert_eq!(parse_mc_line(line), Ok(None), "{line}");
        }
        assert!(matches!(
            parse_mc_line("[00:55:00] [Server thread/INFO]: <Alice> Bob joined the game"),
            Ok(Some(LogRecord {
                event: LogEvent::Chat { .. },
                ..
            }))
        ));
        // Velocity and Waterfall ends of session
        assert_eq!(
            parse_mc_line(
                "[00:23:52 INFO]: [connected player] Fallen_Breath (/127.0.0.1:13580) has disconnected: You were kicked"
            ),
            rec(
                tod(0, 23, 52),
                LogEvent::Disconnected {
                    player: p("Fallen_Breath"),
                    reason: Some("You were kicked".into())
                }
            )
        );
        assert_eq!(
            parse_mc_line(
                "[00:23:52 INFO]: [connected player] Fallen_Breath (/127.0.0.1:13580) has disconnected"
            ),
            rec(
                tod(0, 23, 52),
                LogEvent::Disconnected {
                    player: p("Fallen_Breath"),
                    reason: None
                }
            )
        );
        assert_eq!(
            parse_mc_line(
                "[02:21:35 INFO]: [Fallen_Breath] disconnected with: Internal Exception: java.lang.StackOverflowError"
            ),
            rec(
                tod(2, 21, 35),
                LogEvent::Disconnected {
                    player: p("Fallen_Breath"),
                    reason: Some("Internal Exception: java.lang.StackOverflowError".into())
                }
            )
        );
        assert_eq!(
            parse_mc_line(
                "[02:21:36 INFO]: [/127.0.0.1:14426|Fallen_Breath] -> UpstreamBridge has disconnected"
            ),
            rec(
                tod(2, 21, 36),
                LogEvent::Left {
                    player: p("Fallen_Breath")
                }
            )
        );
        // Bedrock
        let bt = full(2023, 5, 12, 10, 0, 0, 0);
        assert_eq!(
            parse_mc_line(
                "[2023-05-12 10:00:00 INFO] Player Spawned: Some Gamer xuid: 2535412345678901, pfid: 1234"
            ),
            rec(
                bt,
                LogEvent::Entered {
                    player: p("Some Gamer")
                }
            )
        );
        assert_eq!(
            parse_mc_line(
                "[2023-05-12 10:00:00 INFO] Player disconnected: Some Gamer, xuid: 2535412345678901, pfid: 1234"
            ),
            rec(
                bt,
                LogEvent::Disconnected {
                    player: p("Some Gamer"),
                    reason: None
                }
            )
        );
    }

    #[test]
    fn chat() {
        let chat = |name: &str, text: &str| {
            rec(
                tod(0, 12, 10),
                LogEvent::Chat {
                    player: p(name),
                    team_only: false,
                    text: text.to_owned(),
                },
            )
        };
        assert_eq!(
            parse_mc_line("[00:12:10 INFO]: <Fallen_Breath> test"),
            chat("Fallen_Breath", "test")
        );
        assert_eq!(
            parse_mc_line("[00:12:10] [Server thread/INFO]: [Not Secure] <Alice> hello <3 > world"),
            chat("Alice", "hello <3 > world")
        );
        assert_eq!(
            parse_mc_line("[00:12:10] [Async Chat Thread - #0/INFO]: <Bob> gg "),
            chat("Bob", "gg ")
        );
        assert_eq!(
            parse_mc_line("[00:12:10] [Server thread/INFO]: <[Member]md_5> hi"),
            Ok(None)
        );
        assert_eq!(
            parse_mc_line("[00:12:10] [Server thread/INFO]: <no end"),
            Ok(None)
        );
    }

    #[test]
    fn start_and_stop() {
        let t = tod(11, 0, 23);
        for msg in ["Stopping server", "Stopping the server"] {
            assert_eq!(
                parse_mc_line(&format!("[11:00:23] [Server thread/INFO]: {msg}")),
                rec(t, LogEvent::ServerStop)
            );
        }
        assert_eq!(
            parse_mc_line("[00:23:40 INFO]: Done (3.17s)!"),
            rec(tod(0, 23, 40), LogEvent::ServerStart)
        );
        assert_eq!(parse_mc_line("[00:23:40 INFO]: Done (soon)!"), Ok(None));
    }

    #[test]
    fn continuations_and_errors() {
        for line in [
            "",
            "\tat net.minecraft.server.MinecraftServer.run(MinecraftServer.java:717)",
            "at java.lang.Thread.run(Thread.java:748) [?:1.8.0_144]",
            "Caused by: java.util.zip.ZipException: incorrect data check",
            "... 25 more",
            "\t... 25 more",
            "\t- fabric-api-base 0.4.0+3cc0f0907d",
            "java.lang.NullPointerException",
            "net.minecraft.server.v1_13_R1.ReportedException: Loading NBT data",
            "java.util.concurrent.ExecutionException: net.minecraft.server.v1_13_R1.ReportedException: Loading NBT data",
            "   ",
        ] {
            assert_eq!(parse_mc_line(line), Ok(None), "{line:?}");
        }
        for line in [
            "hello world",
            "> list",
            "example.com: not an exception",
            "[Pterodactyl Daemon]: Checking server disk space usage",
            "[12:34] [Server thread/INFO]: short time",
            "2024-13-01 12:00:00 [INFO] bad month",
        ] {
            assert!(parse_mc_line(line).is_err(), "{line:?}");
        }
        for line in [
            "[12:34:56] garbage",
            "[12:34:56] [Server thread]: no level",
            "[12:34:56 info]: lowercase level",
            "[25:00:00] [Server thread/INFO]: hour 25",
        ] {
            assert!(parse_mc_line(line).is_err(), "{line:?}");
        }
    }

    #[test]
    fn uuid_normalisation() {
        assert_eq!(
            normalize_uuid("069A79F4-44E9-4726-A5BE-FCA90E38AAF5").as_deref(),
            Some("069a79f4-44e9-4726-a5be-fca90e38aaf5")
        );
        assert_eq!(
            normalize_uuid("069a79f444e94726a5befca90e38aaf5").as_deref(),
            Some("069a79f4-44e9-4726-a5be-fca90e38aaf5")
        );
        assert_eq!(normalize_uuid("069a79f4-44e94-726-a5be-fca90e38aaf5"), None);
        assert_eq!(normalize_uuid("069a79f4-44e9-4726-a5be-fca90e38aafz"), None);
        assert_eq!(normalize_uuid("uuid"), None);
    }

    fn config() -> ProptestConfig {
        let cases = std::env::var("PROPTEST_CASES")
            .ok()
            .and_then(|v| v.parse().ok())
            .unwrap_or(256);
        ProptestConfig::with_cases(cases)
    }

    /// Applies one edit to `line` at char positions: insert `s`, delete a range, or cut.
    fn mutate(
        line: &str,
        op: u8,
        a: prop::sample::Index,
        b: prop::sample::Index,
        s: &str,
    ) -> String {
        let chars: Vec<char> = line.chars().collect();
        let n = chars.len() + 1;
        let (i, j) = (a.index(n), b.index(n));
        let (lo, hi) = (i.min(j), i.max(j));
        match op % 3 {
            0 => chars[..lo]
                .iter()
                .chain(s.chars().collect::<Vec<_>>().iter())
                .chain(chars[lo..].iter())
                .collect(),
            1 => chars[..lo].iter().chain(chars[hi..].iter()).collect(),
            _ => chars[..lo].iter().collect(),
        }
    }

    proptest! {
        #![proptest_config(config())]

        #[test]
        fn never_panics_on_arbitrary_strings(s in any::<String>()) {
            let _ = parse_mc_line(&s);
        }

        #[test]
        fn never_panics_on_head_like_strings(s in r"\[[0-9:\- a-zA-Z./]{0,30}[\] ]{0,2}.{0,40}") {
            let _ = parse_mc_line(&s);
        }

        #[test]
        fn never_panics_on_mutated_fixture_lines(
            line in any::<prop::sample::Index>(),
            op in any::<u8>(),
            a in any::<prop::sample::Index>(),
            b in any::<prop::sample::Index>(),
            s in r"[\[\]<> :/\x1b\u{feff}é玩0-9a-z]{0,4}",
        ) {
            let lines = all_fixture_lines();
            let mutated = mutate(&lines[line.index(lines.len())], op, a, b, &s);
            let _ = parse_mc_line(&mutated);
        }
    }
}
