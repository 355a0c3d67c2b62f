//! From raw log bytes to records: lines are split (a partial line waits for the rest, an
//! endless one is handed on in pieces), parsed by the game's parser, dated (Minecraft prints
//! only the time of day) and keyed by a hash of the line. A line that cannot be read (not
//! UTF-8, a NUL byte, too long, not in the log's format) is kept as an `unparsed` record with
//! its reason and its bytes (addresses and chat text taken out, see [`quarantined_line`]),
//! never dropped silently.

use super::super::event::{LogEvent, LogRecord, LogTime, ParseResult, Player};
use super::super::kind::Game;
use super::super::records::{GameLogRecord, LogKind};
use chrono::{DateTime, Duration, NaiveDate, NaiveDateTime, NaiveTime, TimeZone, Utc};
use chrono_tz::Tz;
use serde_json::json;
use sha2::{Digest, Sha256};
use std::collections::HashMap;

/// Longest line read as a line; longer ones are kept as unparsed, and a line with no break
/// in sight is handed on in pieces (see [`LineSplitter`]).
pub const MAX_LINE_BYTES: usize = 16 * 1024;

/// Repeats within one instant tracked in a short list before a map takes over (a file of
/// unreadable lines dates them all at one instant).
const SAME_INSTANT_LIST: usize = 32;

/// Which parser a server's logs need.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum LogFormat {
    /// The HL log standard of Source games (files, and CS2's HTTP bodies).
    Hl,
    /// Minecraft's `latest.log` layouts.
    Minecraft,
}

impl LogFormat {
    pub fn for_game(game: Game) -> Self {
        match game {
            Game::Minecraft => LogFormat::Minecraft,
            _ => LogFormat::Hl,
        }
    }

    pub fn parse(self, line: &str) -> ParseResult {
        match self {
            LogFormat::Hl => super::super::hl_log::parse_hl_line(line),
            LogFormat::Minecraft => super::super::mc_log::parse_mc_line(line),
        }
    }
}

/// What a decoder saw.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct DecodeCounts {
    pub lines: u64,
    pub events: u64,
    pub ignored: u64,
    pub unparsed: u64,
}

/// Turns the lines of one log stream into records.
pub struct LineDecoder {
    server_id: i64,
    format: LogFormat,
    tz: Tz,
    /// The local day of time-only lines.
    day: NaiveDate,
    last_time: Option<NaiveTime>,
    /// When the last readable line happened (unparsed lines are dated by it).
    last_at: DateTime<Utc>,
    /// Hashes seen at `last_at`, with how often: a line repeated within one instant is a
    /// second event, not a duplicate. The first few in a list, the rest in a map.
    same_instant: Vec<(u64, u32)>,
    same_instant_more: HashMap<u64, u32>,
    same_instant_at: Option<DateTime<Utc>>,
    pub counts: DecodeCounts,
}

impl LineDecoder {
    /// A decoder for a stream whose time-only lines start on `day`, and whose lines before
    /// the first dated one are dated `fallback_at`.
    pub fn new(
        server_id: i64,
        format: LogFormat,
        tz: Tz,
        day: NaiveDate,
        fallback_at: DateTime<Utc>,
    ) -> Self {
        Self {
            server_id,
            format,
            tz,
            day,
            last_time: None,
            last_at: fallback_at,
            same_instant: Vec::new(),
            same_instant_more: HashMap::new(),
            same_instant_at: None,
            counts: DecodeCounts::default(),
        }
    }

    /// The local day time-only lines are on now.
    pub fn day(&self) -> NaiveDate {
        self.day
    }

    /// The record of one line of text (without its line break), or `None` for a line with
    /// nothing to keep.
    pub fn decode(&mut self, line: &str) -> Option<GameLogRecord> {
        let line = line.strip_suffix('\r').unwrap_or(line);
        self.decode_line(Line {
            bytes: line.as_bytes(),
            piece: None,
        })
    }

    /// The record of one line as the [`LineSplitter`] hands it on, whatever its bytes: an
    /// event, `None` for a line with nothing to keep, or the line kept as unparsed with why.
    pub fn decode_line(&mut self, line: Line<'_>) -> Option<GameLogRecord> {
        let bytes = line.bytes;
        self.counts.lines += 1;
        if let Some(piece) = line.piece {
            self.counts.unparsed += 1;
            return Some(self.unparsed(bytes, "line too long", Some(piece)));
        }
        if bytes.len() > MAX_LINE_BYTES {
            self.counts.unparsed += 1;
            return Some(self.unparsed(bytes, "line too long", None));
        }
        let Ok(line) = std::str::from_utf8(bytes) else {
            self.counts.unparsed += 1;
            return Some(self.unparsed(bytes, "not UTF-8", None));
        };
        if line.trim().is_empty() {
            // A blank line says nothing, whichever source it came from.
            self.counts.ignored += 1;
            return None;
        }
        // PostgreSQL text cannot hold a NUL byte: such a line is kept as bytes, not parsed
        // into names and reasons the database would refuse. (HL lines sent over HTTP may
        // end in NULs, which the HL parser strips.)
        let significant = match self.format {
            LogFormat::Hl => line.trim_end_matches('\0'),
            LogFormat::Minecraft => line,
        };
        if significant.contains('\0') {
            self.counts.unparsed += 1;
            return Some(self.unparsed(bytes, "NUL byte in the line", None));
        }
        match self.format.parse(line) {
            Ok(Some(record)) => {
                self.counts.events += 1;
                Some(self.record(line, record))
            }
            Ok(None) => {
                self.counts.ignored += 1;
                // A time-only line still moves the day forward at midnight.
                if self.format == LogFormat::Minecraft
                    && let Some(time) = leading_time_of_day(bytes)
                {
                    self.advance_time(time);
                }
                None
            }
            Err(error) => {
                self.counts.unparsed += 1;
                Some(self.unparsed(bytes, error.0, None))
            }
        }
    }

    fn advance_time(&mut self, time: NaiveTime) -> NaiveDateTime {
        if let Some(last) = self.last_time
            && is_next_day(last, time)
        {
            self.day = self.day.succ_opt().unwrap_or(self.day);
        }
        self.last_time = Some(time);
        self.day.and_time(time)
    }

    fn instant(&mut self, at: LogTime) -> DateTime<Utc> {
        let local = match at {
            LogTime::Full(at) => {
                self.day = at.date();
                self.last_time = Some(at.time());
                at
            }
            LogTime::TimeOfDay(time) => self.advance_time(time),
        };
        let at = local_to_utc(self.tz, local);
        self.last_at = at;
        at
    }

    fn line_hash(&mut self, at: DateTime<Utc>, line: &[u8]) -> i64 {
        let digest = Sha256::digest(line);
        let mut bytes = [0u8; 8];
        bytes.copy_from_slice(&digest[..8]);
        let base = u64::from_be_bytes(bytes);
        if self.same_instant_at != Some(at) {
            self.same_instant_at = Some(at);
            self.same_instant.clear();
            if !self.same_instant_more.is_empty() {
                // A fresh map: clearing a big one costs its capacity at every instant.
                self.same_instant_more = HashMap::new();
            }
        }
        let listed = self.same_instant.len();
        let repeat = match self.same_instant.iter_mut().find(|(hash, _)| *hash == base) {
            Some((_, count)) => {
                *count += 1;
                *count
            }
            None if listed < SAME_INSTANT_LIST => {
                self.same_instant.push((base, 0));
                0
            }
            None => {
                let count = self.same_instant_more.entry(base).or_insert(u32::MAX);
                *count = count.wrapping_add(1);
                *count
            }
        };
        // The n-th repeat within one instant gets a key of its own.
        (base.wrapping_add(u64::from(repeat).wrapping_mul(0x9E37_79B9_7F4A_7C15))) as i64
    }

    fn record(&mut self, line: &str, parsed: LogRecord) -> GameLogRecord {
        let occurred_at = self.instant(parsed.at);
        let line_hash = self.line_hash(occurred_at, line.as_bytes());
        let mut record = GameLogRecord {
            server_id: self.server_id,
            occurred_at,
            line_hash,
            kind: LogKind::Unparsed,
            player_name: None,
            account: None,
            is_bot: false,
            address: None,
            ip_hash: None,
            chat_text: None,
            detail: None,
            raw_line: None,
        };
        let with_player = |record: &mut GameLogRecord, player: Player| {
            record.player_name = Some(player.name);
            record.account = player.account;
            record.is_bot = player.bot;
        };
        match parsed.event {
            LogEvent::Connected { player, address } => {
                record.kind = LogKind::Connected;
                with_player(&mut record, player);
                record.address = address;
            }
            LogEvent::Validated { player } => {
                record.kind = LogKind::Validated;
                with_player(&mut record, player);
            }
            LogEvent::Entered { player } => {
                record.kind = LogKind::Entered;
                with_player(&mut record, player);
            }
            LogEvent::Disconnected { player, reason } => {
                record.kind = LogKind::Disconnected;
                with_player(&mut record, player);
                record.detail = reason.map(|reason| json!({ "reason": cut(&reason, 200) }));
            }
            LogEvent::Left { player } => {
                record.kind = LogKind::Left;
                with_player(&mut record, player);
            }
            LogEvent::TeamSwitch { player, from, to } => {
                record.kind = LogKind::Team;
                with_player(&mut record, player);
                record.detail = Some(json!({ "from": from, "to": to }));
            }
            LogEvent::Chat {
                player,
                team_only,
                text,
            } => {
                record.kind = LogKind::Chat;
                with_player(&mut record, player);
                record.chat_text = Some(text);
                record.detail = Some(json!({ "team_only": team_only }));
            }
            LogEvent::AccountSeen { player } => {
                record.kind = LogKind::Account;
                with_player(&mut record, player);
            }
            LogEvent::MapStarted { map } => {
                record.kind = LogKind::Map;
                record.detail = Some(json!({ "map": map }));
            }
            LogEvent::RoundStart => record.kind = LogKind::RoundStart,
            LogEvent::RoundEnd => record.kind = LogKind::RoundEnd,
            LogEvent::ServerStart => record.kind = LogKind::ServerStart,
            LogEvent::ServerStop => record.kind = LogKind::ServerStop,
        }
        record
    }

    fn unparsed(&mut self, line: &[u8], error: &str, piece: Option<u32>) -> GameLogRecord {
        let at = self.last_at;
        let line_hash = self.line_hash(at, line);
        let kept = quarantined_line(line);
        let mut detail = json!({ "error": error });
        if let Some(piece) = piece {
            detail["piece"] = json!(piece);
        }
        if let Some(length) = kept.chat_length {
            detail["chat_length"] = json!(length);
        }
        GameLogRecord {
            server_id: self.server_id,
            occurred_at: at,
            line_hash,
            kind: LogKind::Unparsed,
            player_name: None,
            account: None,
            is_bot: false,
            address: None,
            ip_hash: None,
            chat_text: None,
            detail: Some(detail),
            raw_line: Some(kept.bytes),
        }
    }
}

/// A local time of the server's zone as an instant (the earlier one in the autumn's
/// repeated hour, the first valid one after the spring gap).
pub fn local_to_utc(tz: Tz, local: NaiveDateTime) -> DateTime<Utc> {
    match tz.from_local_datetime(&local) {
        chrono::LocalResult::Single(at) => at.with_timezone(&Utc),
        chrono::LocalResult::Ambiguous(earlier, _) => earlier.with_timezone(&Utc),
        chrono::LocalResult::None => tz
            .from_local_datetime(&(local + Duration::hours(1)))
            .earliest()
            .map_or_else(|| local.and_utc(), |at| at.with_timezone(&Utc)),
    }
}

/// The time of day went back by more than half a day: midnight passed (a clock set back a
/// little is not a new day).
fn is_next_day(last: NaiveTime, time: NaiveTime) -> bool {
    last.signed_duration_since(time) > Duration::hours(12)
}

/// `[HH:MM:SS` at the start of a Minecraft line (any layout that begins with the time).
fn leading_time_of_day(line: &[u8]) -> Option<NaiveTime> {
    let rest = line.strip_prefix(b"[")?;
    let time = std::str::from_utf8(rest.get(..8)?).ok()?;
    NaiveTime::parse_from_str(time, "%H:%M:%S").ok()
}

/// How often the time of day goes backwards (midnight passes) in a Minecraft log: a file
/// whose last line is on day D began on D minus this many days.
pub fn day_rollovers<'a>(lines: impl IntoIterator<Item = &'a str>) -> u32 {
    let mut counter = RolloverCounter::default();
    for line in lines {
        counter.line(line.as_bytes());
    }
    counter.rollovers()
}

/// [`day_rollovers`] for lines that arrive one by one (a file streamed, never held whole),
/// and whether any line printed its date.
#[derive(Clone, Copy, Debug, Default)]
pub struct RolloverCounter {
    last: Option<NaiveTime>,
    rollovers: u32,
    dated: bool,
}

impl RolloverCounter {
    /// Counts one line (without its line break).
    pub fn line(&mut self, line: &[u8]) {
        if let Some(time) = leading_time_of_day(line) {
            if let Some(previous) = self.last
                && is_next_day(previous, time)
            {
                self.rollovers += 1;
            }
            self.last = Some(time);
        }
        if !self.dated
            && let Ok(text) = std::str::from_utf8(line)
        {
            self.dated = super::super::mc_log::line_date(text).is_some();
        }
    }

    /// Midnights passed so far.
    pub fn rollovers(&self) -> u32 {
        self.rollovers
    }

    /// Whether a line so far printed its date (a layout with dates needs no day from
    /// outside).
    pub fn dated(&self) -> bool {
        self.dated
    }
}

fn cut(text: &str, chars: usize) -> String {
    text.chars().take(chars).collect()
}

/// What is kept of an unparsed line: its bytes, less what must never be stored.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct QuarantinedLine {
    pub bytes: Vec<u8>,
    /// Characters of the chat text taken out, when the line looked like chat.
    pub chat_length: Option<usize>,
}

/// What replaces an address in a kept line.
pub const ADDRESS_MARK: &[u8] = b"[address]";

/// What replaces the text of a line that looks like chat.
pub const CHAT_MARK: &[u8] = b"[chat]";

/// An unparsed line as it is stored: its exact bytes (whatever they are: NUL, invalid
/// UTF-8, binary), except that what the privacy promise keeps out of the database is taken
/// out here too: an address (IPv4, IPv6, with or without a port) becomes `[address]`, and
/// the text of a line that looks like chat (HL `" say "…"`, `" say_team "…"`; Minecraft
/// `<Name> text`) becomes `[chat]`, with its length kept as chat's is. A line with neither
/// is kept byte for byte.
pub fn quarantined_line(line: &[u8]) -> QuarantinedLine {
    let (head, chat) = match chat_span(line) {
        Some((start, end)) => (&line[..start], Some((start, end))),
        None => (line, None),
    };
    let mut bytes = Vec::with_capacity(line.len());
    redact_addresses(head, &mut bytes);
    let chat_length = chat.map(|(start, end)| {
        bytes.extend_from_slice(CHAT_MARK);
        bytes.extend_from_slice(&line[end..]);
        String::from_utf8_lossy(&line[start..end]).chars().count()
    });
    QuarantinedLine { bytes, chat_length }
}

/// Where the chat text of a line that looks like chat is (start, end): after HL's
/// `" say "` / `" say_team "` up to a closing quote at the end, or after Minecraft's first
/// `<Name> ` (a name of 1 to 40 bytes without spaces, then a space or the end) to the end.
fn chat_span(line: &[u8]) -> Option<(usize, usize)> {
    for marker in [&b"\" say \""[..], b"\" say_team \""] {
        if let Some(at) = find(line, marker) {
            let start = at + marker.len();
            let end = if line.len() > start && line.ends_with(b"\"") {
                line.len() - 1
            } else {
                line.len()
            };
            return Some((start, end));
        }
    }
    let mut from = 0;
    while let Some(open) = line[from..]
        .iter()
        .position(|&b| b == b'<')
        .map(|i| from + i)
    {
        let name = &line[open + 1..];
        if let Some(close) = name.iter().take(41).position(|&b| b == b'>')
            && close > 0
            && !name[..close].iter().any(u8::is_ascii_whitespace)
            && matches!(name.get(close + 1), None | Some(b' '))
        {
            let start = (open + 1 + close + 2).min(line.len());
            return Some((start, line.len()));
        }
        from = open + 1;
    }
    None
}

fn find(haystack: &[u8], needle: &[u8]) -> Option<usize> {
    haystack.windows(needle.len()).position(|w| w == needle)
}

/// Copies `line` to `out` with every word that is an address replaced by [`ADDRESS_MARK`]
/// (words end at whitespace, quotes, slashes, brackets, parentheses and commas).
fn redact_addresses(line: &[u8], out: &mut Vec<u8>) {
    let is_separator = |b: &u8| b.is_ascii_whitespace() || b"\"/[](),".contains(b);
    let mut rest = line;
    while !rest.is_empty() {
        let end = rest.iter().position(is_separator).unwrap_or(rest.len());
        let (word, tail) = rest.split_at(end);
        // Only a word with a dot or a colon can be an address: the rest is copied as is.
        if word.len() >= 2
            && word.iter().any(|&b| b == b'.' || b == b':')
            && std::str::from_utf8(word).is_ok_and(looks_like_address)
        {
            out.extend_from_slice(ADDRESS_MARK);
        } else {
            out.extend_from_slice(word);
        }
        match tail.split_first() {
            Some((separator, tail)) => {
                out.push(*separator);
                rest = tail;
            }
            None => break,
        }
    }
}

/// An unparsed line of text as it is kept (see [`quarantined_line`]), as text.
pub fn redact_line(line: &str) -> String {
    String::from_utf8_lossy(&quarantined_line(line.as_bytes()).bytes).into_owned()
}

fn looks_like_address(word: &str) -> bool {
    let word = word.trim_matches(|c: char| c == '\'' || c == '<' || c == '>');
    if word.parse::<std::net::IpAddr>().is_ok() || word.parse::<std::net::SocketAddr>().is_ok() {
        return true;
    }
    // ip:port written without brackets for IPv6, or with a trailing colon.
    match word.rsplit_once(':') {
        Some((host, port)) if port.chars().all(|c| c.is_ascii_digit()) => {
            host.parse::<std::net::IpAddr>().is_ok()
        }
        _ => false,
    }
}

/// One line as the [`LineSplitter`] hands it on: its bytes without the line break, and, for a line
/// with no break in sight, which piece of it this is.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Line<'a> {
    pub bytes: &'a [u8],
    /// `Some(n)`: the n-th piece (from 0) of a line too long to hold; its pieces in order
    /// are the line.
    pub piece: Option<u32>,
}

/// Splits a byte stream into lines, keeping a partial last line for the next chunk. Bytes
/// are handed on as they are (any encoding, NUL bytes, `\r`); a line with no break in sight
/// is handed on in pieces once more than twice [`MAX_LINE_BYTES`] wait, so memory stays
/// bounded and no byte of it is lost.
#[derive(Default)]
pub struct LineSplitter {
    partial: Vec<u8>,
    /// Pieces of the current line handed on so far.
    pieces: u32,
}

impl LineSplitter {
    /// The complete lines of `chunk` (after what was left over), without their line break
    /// (`\n` or `\r\n`).
    pub fn push(&mut self, chunk: &[u8], mut line: impl FnMut(Line<'_>)) {
        let mut rest = chunk;
        while let Some(end) = rest.iter().position(|&b| b == b'\n') {
            let (head, tail) = rest.split_at(end);
            if self.partial.is_empty() {
                self.emit(head, &mut line);
            } else {
                self.partial.extend_from_slice(head);
                let whole = std::mem::take(&mut self.partial);
                self.emit(&whole, &mut line);
            }
            self.pieces = 0;
            rest = &tail[1..];
        }
        if self.partial.len() + rest.len() > MAX_LINE_BYTES * 2 {
            // No line break in sight: hand on what there is as a piece of the line.
            self.partial.extend_from_slice(rest);
            let whole = std::mem::take(&mut self.partial);
            line(Line {
                bytes: &whole,
                piece: Some(self.pieces),
            });
            self.pieces += 1;
        } else {
            self.partial.extend_from_slice(rest);
        }
    }

    /// Hands on a complete line without the `\r` of a `\r\n` break: the last piece of a
    /// line handed on in pieces (if anything is left of it).
    fn emit(&self, bytes: &[u8], line: &mut impl FnMut(Line<'_>)) {
        let bytes = bytes.strip_suffix(b"\r").unwrap_or(bytes);
        if self.pieces == 0 {
            line(Line { bytes, piece: None });
        } else if !bytes.is_empty() {
            line(Line {
                bytes,
                piece: Some(self.pieces),
            });
        }
    }

    /// Bytes waiting for their line break.
    pub fn pending(&self) -> usize {
        self.partial.len()
    }

    /// The last line of a finished stream (without a final line break).
    pub fn finish(&mut self, mut line: impl FnMut(Line<'_>)) {
        if !self.partial.is_empty() {
            let whole = std::mem::take(&mut self.partial);
            self.emit(&whole, &mut line);
        }
        self.pieces = 0;
    }
}

/// One stream of log bytes (an HTTP batch, a file followed or imported) as records: bytes
/// are split into lines and each line decoded; [`LogStream::take`] hands on what was decoded
/// since the last take, for the [`super::LogSink`] to commit.
pub struct LogStream {
    splitter: LineSplitter,
    decoder: LineDecoder,
    records: Vec<GameLogRecord>,
    taken: DecodeCounts,
}

/// Records decoded from a stream, with what the decoder saw while reading them.
#[derive(Debug, Default)]
pub struct Decoded {
    pub records: Vec<GameLogRecord>,
    /// Lines read, events, ignored and unparsed lines, for these records only.
    pub counts: DecodeCounts,
}

impl LogStream {
    /// A stream whose time-only lines start on `day` and whose lines before the first dated
    /// one are dated `fallback_at` (see [`LineDecoder::new`]).
    pub fn new(
        server_id: i64,
        format: LogFormat,
        tz: Tz,
        day: NaiveDate,
        fallback_at: DateTime<Utc>,
    ) -> Self {
        Self {
            splitter: LineSplitter::default(),
            decoder: LineDecoder::new(server_id, format, tz, day, fallback_at),
            records: Vec::new(),
            taken: DecodeCounts::default(),
        }
    }

    /// Decodes the complete lines of `bytes`; a partial last line waits for the next push.
    pub fn push(&mut self, bytes: &[u8]) {
        let (decoder, records) = (&mut self.decoder, &mut self.records);
        self.splitter
            .push(bytes, |line| records.extend(decoder.decode_line(line)));
    }

    /// The stream ended: its last line needs no line break.
    pub fn finish(&mut self) {
        let (decoder, records) = (&mut self.decoder, &mut self.records);
        self.splitter
            .finish(|line| records.extend(decoder.decode_line(line)));
    }

    /// Records decoded and not yet taken.
    pub fn ready(&self) -> usize {
        self.records.len()
    }

    /// What was decoded since the last take.
    pub fn take(&mut self) -> Decoded {
        let now = self.decoder.counts;
        let counts = DecodeCounts {
            lines: now.lines - self.taken.lines,
            events: now.events - self.taken.events,
            ignored: now.ignored - self.taken.ignored,
            unparsed: now.unparsed - self.taken.unparsed,
        };
        self.taken = now;
        Decoded {
            records: std::mem::take(&mut self.records),
            counts,
        }
    }

    /// Bytes of a partial line waiting for their line break.
    pub fn pending(&self) -> usize {
        self.splitter.pending()
    }

    /// Forgets the partial line waiting (its bytes are read again from its start).
    pub fn forget_partial_line(&mut self) {
        self.splitter = LineSplitter::default();
    }

    /// The local day time-only lines are on now.
    pub fn day(&self) -> NaiveDate {
        self.decoder.day()
    }

    /// Everything the stream's decoder saw.
    pub fn counts(&self) -> DecodeCounts {
        self.decoder.counts
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    fn decoder(format: LogFormat) -> LineDecoder {
        LineDecoder::new(
            7,
            format,
            chrono_tz::Europe::Berlin,
            NaiveDate::from_ymd_opt(2026, 3, 28).unwrap(),
            DateTime::parse_from_rfc3339("2026-03-28T00:00:00Z")
                .unwrap()
                .with_timezone(&Utc),
        )
    }

    #[test]
    fn minecraft_lines_move_to_the_next_day_after_midnight() {
        let mut d = decoder(LogFormat::Minecraft);
        let a = d
            .decode("[23:59:58] [Server thread/INFO]: Alice joined the game")
            .unwrap();
        let b = d
            .decode("[00:00:03] [Server thread/INFO]: Alice left the game")
            .unwrap();
        assert_eq!(a.occurred_at.to_rfc3339(), "2026-03-28T22:59:58+00:00");
        // 29 March 2026 is the spring change in Berlin: 00:00:03 is still CET.
        assert_eq!(b.occurred_at.to_rfc3339(), "2026-03-28T23:00:03+00:00");
        assert_eq!(d.day(), NaiveDate::from_ymd_opt(2026, 3, 29).unwrap());
    }

    #[test]
    fn a_line_repeated_within_one_instant_is_a_second_event_with_its_own_key() {
        let mut d = decoder(LogFormat::Minecraft);
        let line = "[12:00:00] [Server thread/INFO]: <Alice> gg";
        let a = d.decode(line).unwrap();
        let b = d.decode(line).unwrap();
        assert_ne!(a.line_hash, b.line_hash);
        let mut again = decoder(LogFormat::Minecraft);
        assert_eq!(again.decode(line).unwrap().line_hash, a.line_hash);
        assert_eq!(again.decode(line).unwrap().line_hash, b.line_hash);
    }

    #[test]
    fn unparsed_lines_are_kept_without_their_addresses() {
        let mut d = decoder(LogFormat::Hl);
        let record = d
            .decode("garbage from 203.0.113.9:27005 and 2001:db8::1 here")
            .unwrap();
        assert_eq!(record.kind, LogKind::Unparsed);
        assert_eq!(
            record.raw_line.as_deref(),
            Some(&b"garbage from [address] and [address] here"[..])
        );
        assert_eq!(
            record.detail.unwrap()["error"],
            "no HL log timestamp prefix"
        );
        assert_eq!(d.counts.unparsed, 1);
    }

    /// Decodes `bytes` as one stream, returning its unparsed records' (kept bytes, reason).
    fn kept(format: LogFormat, bytes: &[u8]) -> (Vec<(Vec<u8>, String)>, DecodeCounts) {
        let mut stream = LogStream::new(
            7,
            format,
            chrono_tz::UTC,
            NaiveDate::from_ymd_opt(2026, 3, 28).unwrap(),
            DateTime::from_timestamp(1_774_656_000, 0).unwrap(),
        );
        stream.push(bytes);
        stream.finish();
        let decoded = stream.take();
        let kept = decoded
            .records
            .into_iter()
            .filter(|r| r.kind == LogKind::Unparsed)
            .map(|r| {
                let error = r.detail.unwrap()["error"].as_str().unwrap().to_owned();
                (r.raw_line.unwrap(), error)
            })
            .collect();
        (kept, decoded.counts)
    }

    #[test]
    fn every_kind_of_unreadable_hl_line_is_kept_byte_for_byte_with_its_reason() {
        let good = b"L 01/19/2026 - 19:09:34: World triggered \"Round_Start\"";
        let mut input = Vec::new();
        let cases: [(&[u8], &str); 6] = [
            (
                b"L 01/19/2026 - 19:09:35: \"Al\0ice<2><[U:1:1]><CT>\" entered the game",
                "NUL byte in the line",
            ),
            (
                b"L 01/19/2026 - 19:09:36: \"B\xffob<3><[U:1:2]><CT>\" entered the game",
                "not UTF-8",
            ),
            (b"\x1f\x8b\x08\x00\x00\x01\x02\x03\x04\xc3", "not UTF-8"),
            (
                b"01/19/2026 19:09:37: World triggered \"Round_End\"",
                "malformed HL log timestamp prefix",
            ),
            (b"Loading map \"de_dust2\"", "no HL log timestamp prefix"),
            (
                b"L 19:09:38: World triggered \"Round_End\"",
                "malformed HL log timestamp prefix",
            ),
        ];
        input.extend_from_slice(good);
        input.extend_from_slice(b"\r\n");
        for (line, _) in &cases {
            input.extend_from_slice(line);
            input.extend_from_slice(b"\r\n");
        }
        let long = vec![b'x'; MAX_LINE_BYTES + 1];
        input.extend_from_slice(&long);
        input.push(b'\n');
        let (kept, counts) = kept(LogFormat::Hl, &input);
        let mut expected: Vec<(Vec<u8>, String)> = cases
            .iter()
            .map(|(line, error)| (line.to_vec(), (*error).to_owned()))
            .collect();
        expected.push((long, "line too long".to_owned()));
        assert_eq!(kept, expected);
        assert_eq!(counts.lines, 8);
        assert_eq!(counts.unparsed, 7);
    }

    #[test]
    fn a_trailing_nul_of_an_hl_line_is_read_but_a_minecraft_line_with_a_nul_is_kept() {
        let (kept_hl, hl) = kept(
            LogFormat::Hl,
            b"L 01/19/2026 - 19:09:34: World triggered \"Round_Start\"\0\0\n",
        );
        assert_eq!((kept_hl.len(), hl.events), (0, 1));
        let line = b"[12:00:00] [Server thread/INFO]: Al\0ice joined the game";
        let (kept_mc, mc) = kept(LogFormat::Minecraft, line);
        assert_eq!(
            kept_mc,
            [(line.to_vec(), "NUL byte in the line".to_owned())]
        );
        assert_eq!(mc.events, 0);
    }

    #[test]
    fn an_unreadable_line_that_looks_like_chat_keeps_the_length_of_its_text_not_the_text() {
        let mut d = decoder(LogFormat::Hl);
        let record = d
            .decode_line(Line {
                bytes: b"L 01/19/2026 - 19:09:\xff: \"Al<2><[U:1:1]><CT>\" say \"meet at 10.0.0.1 \xe2\x9c\x93\"",
                piece: None,
            })
            .unwrap();
        assert_eq!(
            record.raw_line.as_deref(),
            Some(&b"L 01/19/2026 - 19:09:\xff: \"Al<2><[U:1:1]><CT>\" say \"[chat]\""[..])
        );
        assert_eq!(record.detail.as_ref().unwrap()["chat_length"], 18);
        let mut d = decoder(LogFormat::Minecraft);
        let record = d
            .decode_line(Line {
                bytes: b"[12:00:00] [Async Chat Thread - #0/INFO]: <Bob> my secret\0",
                piece: None,
            })
            .unwrap();
        assert_eq!(
            record.raw_line.as_deref(),
            Some(&b"[12:00:00] [Async Chat Thread - #0/INFO]: <Bob> [chat]"[..])
        );
        assert_eq!(record.detail.as_ref().unwrap()["chat_length"], 10);
    }

    #[test]
    fn thousands_of_unreadable_lines_at_one_instant_each_get_a_key_of_their_own() {
        let mut d = decoder(LogFormat::Hl);
        let mut keys = std::collections::HashSet::new();
        for i in 0..5000 {
            let line = if i % 2 == 0 {
                "garbage"
            } else {
                "more garbage"
            };
            let record = d.decode(line).unwrap();
            assert!(keys.insert(record.line_hash), "line {i}");
        }
        // The same stream read again gives the same keys (a re-import stores nothing).
        let mut again = decoder(LogFormat::Hl);
        for i in 0..5000 {
            let line = if i % 2 == 0 {
                "garbage"
            } else {
                "more garbage"
            };
            assert!(keys.contains(&again.decode(line).unwrap().line_hash));
        }
    }

    #[test]
    fn an_endless_line_is_handed_on_in_numbered_pieces_that_together_are_the_line() {
        let mut splitter = LineSplitter::default();
        let mut lines: Vec<(Vec<u8>, Option<u32>)> = Vec::new();
        let endless: Vec<u8> = (0..5 * MAX_LINE_BYTES)
            .map(|i| (i % 251) as u8 | 1)
            .collect();
        let endless: Vec<u8> = endless
            .into_iter()
            .map(|b| if b == b'\n' { b'm' } else { b })
            .collect();
        for chunk in endless.chunks(4096) {
            splitter.push(chunk, |l| lines.push((l.bytes.to_vec(), l.piece)));
        }
        splitter.push(b"\r\nnext\n", |l| lines.push((l.bytes.to_vec(), l.piece)));
        let (pieces, rest) = lines.split_at(lines.len() - 1);
        assert_eq!(rest, [(b"next".to_vec(), None)]);
        let numbers: Vec<Option<u32>> = pieces.iter().map(|(_, piece)| *piece).collect();
        let expected: Vec<Option<u32>> = (0..pieces.len() as u32).map(Some).collect();
        assert_eq!(numbers, expected);
        assert!(pieces.len() >= 2);
        assert_eq!(pieces.concat_bytes(), endless);
    }

    trait ConcatBytes {
        fn concat_bytes(&self) -> Vec<u8>;
    }

    impl ConcatBytes for [(Vec<u8>, Option<u32>)] {
        fn concat_bytes(&self) -> Vec<u8> {
            self.iter()
                .flat_map(|(bytes, _)| bytes.iter().copied())
                .collect()
        }
    }

    #[test]
    fn the_splitter_keeps_partial_lines_for_the_next_chunk() {
        let mut splitter = LineSplitter::default();
        let mut lines = Vec::new();
        splitter.push(b"one\ntw", |l| lines.push(l.bytes.to_vec()));
        splitter.push(b"o\r\nthree", |l| lines.push(l.bytes.to_vec()));
        assert_eq!(lines, [&b"one"[..], b"two"]);
        assert_eq!(splitter.pending(), 5);
        splitter.finish(|l| lines.push(l.bytes.to_vec()));
        assert_eq!(lines, [&b"one"[..], b"two", b"three"]);
    }

    #[test]
    fn rollovers_count_the_midnights_of_a_file() {
        let lines = [
            "[22:00:00] a",
            "[23:59:00] b",
            "[00:01:00] c",
            "[13:00:00] d",
            "[00:00:01] e",
        ];
        assert_eq!(day_rollovers(lines), 2);
    }
}
