//! From raw log bytes to records: lines are split (a partial line waits for the rest, an
//! endless one is cut), parsed by the game's parser, dated (Minecraft prints only the time
//! of day) and keyed by a hash of the line. A line that cannot be read is kept as an
//! `unparsed` record with its error, never dropped silently.

use super::super::event::{LogEvent, LogRecord, LogTime, ParseResult, Player};
use super::super::kind::Game;
use super::super::records::{GameLogRecord, LogKind};
use chrono::{DateTime, Duration, NaiveDate, NaiveDateTime, NaiveTime, TimeZone, Utc};
use chrono_tz::Tz;
use serde_json::json;
use sha2::{Digest, Sha256};

/// Longest line kept whole; longer ones are cut (and counted as unparsed).
pub const MAX_LINE_BYTES: usize = 16 * 1024;

/// How much of an unparsed line is kept (after addresses are removed).
const UNPARSED_KEEP_CHARS: usize = 200;

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
    /// second event, not a duplicate.
    same_instant: Vec<(u64, u32)>,
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
            same_instant_at: None,
            counts: DecodeCounts::default(),
        }
    }

    /// The local day time-only lines are on now.
    pub fn day(&self) -> NaiveDate {
        self.day
    }

    /// The record of one line (without its line break), or `None` for a line with nothing
    /// to keep.
    pub fn decode(&mut self, line: &str) -> Option<GameLogRecord> {
        let line = line.strip_suffix('\r').unwrap_or(line);
        self.counts.lines += 1;
        if line.trim().is_empty() {
            // A blank line says nothing, whichever source it came from.
            self.counts.ignored += 1;
            return None;
        }
        if line.len() > MAX_LINE_BYTES {
            self.counts.unparsed += 1;
            return Some(self.unparsed(line, "line too long"));
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
                    && let Some(time) = leading_time_of_day(line)
                {
                    self.advance_time(time);
                }
                None
            }
            Err(error) => {
                self.counts.unparsed += 1;
                Some(self.unparsed(line, error.0))
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

    fn line_hash(&mut self, at: DateTime<Utc>, line: &str) -> i64 {
        let digest = Sha256::digest(line.as_bytes());
        let mut bytes = [0u8; 8];
        bytes.copy_from_slice(&digest[..8]);
        let base = u64::from_be_bytes(bytes);
        if self.same_instant_at != Some(at) {
            self.same_instant_at = Some(at);
            self.same_instant.clear();
        }
        let repeat = match self.same_instant.iter_mut().find(|(hash, _)| *hash == base) {
            Some((_, count)) => {
                *count += 1;
                *count
            }
            None => {
                self.same_instant.push((base, 0));
                0
            }
        };
        // The n-th repeat within one instant gets a key of its own.
        (base.wrapping_add(u64::from(repeat).wrapping_mul(0x9E37_79B9_7F4A_7C15))) as i64
    }

    fn record(&mut self, line: &str, parsed: LogRecord) -> GameLogRecord {
        let occurred_at = self.instant(parsed.at);
        let line_hash = self.line_hash(occurred_at, line);
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

    fn unparsed(&mut self, line: &str, error: &str) -> GameLogRecord {
        let at = self.last_at;
        let line_hash = self.line_hash(at, line);
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
            detail: Some(json!({ "error": error, "line": redact_line(line) })),
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
fn leading_time_of_day(line: &str) -> Option<NaiveTime> {
    let rest = line.strip_prefix('[')?;
    let time = rest.get(..8)?;
    NaiveTime::parse_from_str(time, "%H:%M:%S").ok()
}

/// How often the time of day goes backwards (midnight passes) in a Minecraft log: a file
/// whose last line is on day D began on D minus this many days.
pub fn day_rollovers<'a>(lines: impl IntoIterator<Item = &'a str>) -> u32 {
    let mut counter = RolloverCounter::default();
    for line in lines {
        counter.line(line);
    }
    counter.rollovers()
}

/// [`day_rollovers`] for lines that arrive one by one (a file streamed, never held whole).
#[derive(Clone, Copy, Debug, Default)]
pub struct RolloverCounter {
    last: Option<NaiveTime>,
    rollovers: u32,
}

impl RolloverCounter {
    /// Counts one line.
    pub fn line(&mut self, line: &str) {
        if let Some(time) = leading_time_of_day(line) {
            if let Some(previous) = self.last
                && is_next_day(previous, time)
            {
                self.rollovers += 1;
            }
            self.last = Some(time);
        }
    }

    /// Midnights passed so far.
    pub fn rollovers(&self) -> u32 {
        self.rollovers
    }
}

fn cut(text: &str, chars: usize) -> String {
    text.chars().take(chars).collect()
}

/// An unparsed line as it may be stored: addresses removed, cut to a couple of hundred
/// characters.
pub fn redact_line(line: &str) -> String {
    let mut out = String::with_capacity(line.len().min(UNPARSED_KEEP_CHARS + 8));
    for token in line.split_inclusive(|c: char| {
        c.is_whitespace()
            || c == '"'
            || c == '/'
            || c == '['
            || c == ']'
            || c == '('
            || c == ')'
            || c == ','
    }) {
        let (word, sep) = match token.char_indices().last() {
            Some((i, c)) if c.is_whitespace() || "\"/[](),".contains(c) => token.split_at(i),
            _ => (token, ""),
        };
        if looks_like_address(word) {
            out.push_str("[address]");
        } else {
            out.push_str(word);
        }
        out.push_str(sep);
        if out.chars().count() > UNPARSED_KEEP_CHARS {
            break;
        }
    }
    cut(&out, UNPARSED_KEEP_CHARS)
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

/// Splits a byte stream into lines, keeping a partial last line for the next chunk.
#[derive(Default)]
pub struct LineSplitter {
    partial: Vec<u8>,
}

impl LineSplitter {
    /// The complete lines of `chunk` (after what was left over), without their breaks.
    /// Invalid UTF-8 is replaced, an endless line is cut at [`MAX_LINE_BYTES`].
    pub fn push(&mut self, chunk: &[u8], mut line: impl FnMut(&str)) {
        let mut rest = chunk;
        while let Some(end) = rest.iter().position(|&b| b == b'\n') {
            let (head, tail) = rest.split_at(end);
            if self.partial.is_empty() {
                line(&String::from_utf8_lossy(head));
            } else {
                self.partial.extend_from_slice(head);
                let whole = std::mem::take(&mut self.partial);
                line(&String::from_utf8_lossy(&whole));
            }
            rest = &tail[1..];
        }
        if self.partial.len() + rest.len() > MAX_LINE_BYTES * 2 {
            // No line break in sight: emit what there is as one (over-long) line.
            self.partial.extend_from_slice(rest);
            let whole = std::mem::take(&mut self.partial);
            line(&String::from_utf8_lossy(&whole));
        } else {
            self.partial.extend_from_slice(rest);
        }
    }

    /// Bytes waiting for their line break.
    pub fn pending(&self) -> usize {
        self.partial.len()
    }

    /// The last line of a finished stream (without a final line break).
    pub fn finish(&mut self, line: impl FnMut(&str)) {
        let mut line = line;
        if !self.partial.is_empty() {
            let whole = std::mem::take(&mut self.partial);
            line(&String::from_utf8_lossy(&whole));
        }
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
            .push(bytes, |line| records.extend(decoder.decode(line)));
    }

    /// The stream ended: its last line needs no line break.
    pub fn finish(&mut self) {
        let (decoder, records) = (&mut self.decoder, &mut self.records);
        self.splitter
            .finish(|line| records.extend(decoder.decode(line)));
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
        let detail = record.detail.unwrap();
        let kept = detail["line"].as_str().unwrap();
        assert_eq!(kept, "garbage from [address] and [address] here");
        assert_eq!(d.counts.unparsed, 1);
    }

    #[test]
    fn the_splitter_keeps_partial_lines_for_the_next_chunk() {
        let mut splitter = LineSplitter::default();
        let mut lines = Vec::new();
        splitter.push(b"one\ntw", |l| lines.push(l.to_owned()));
        splitter.push(b"o\r\nthree", |l| lines.push(l.to_owned()));
        assert_eq!(lines, ["one", "two\r"]);
        assert_eq!(splitter.pending(), 5);
        splitter.finish(|l| lines.push(l.to_owned()));
        assert_eq!(lines, ["one", "two\r", "three"]);
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
