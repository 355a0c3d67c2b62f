//! From raw log bytes to bronze records: lines are split (a partial line waits for the rest,
//! an endless one is cut), parsed by the game's parser, dated (Minecraft prints only the
//! time of day), keyed by a hash of the line, and passed through the ingest steps that hash
//! addresses and reduce chat to its length. A line that cannot be read is kept as an
//! `unparsed` record with its error, never dropped silently.

use super::event::{GameAccount, LogEvent, LogRecord, LogTime, ParseResult, Player};
use super::kind::Game;
use super::records::{GameLogRecord, LogKind};
use crate::metrics::{DropReason, Metrics, SourceLabels};
use crate::rules::IngestRules;
use crate::steps::{IngestStep, IpHasher, Steps};
use chrono::{DateTime, Duration, NaiveDate, NaiveDateTime, NaiveTime, TimeZone, Utc};
use chrono_tz::Tz;
use serde_json::json;
use sha2::{Digest, Sha256};
use std::sync::Arc;

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
            LogFormat::Hl => super::hl_log::parse_hl_line(line),
            LogFormat::Minecraft => super::mc_log::parse_mc_line(line),
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
    let mut last: Option<NaiveTime> = None;
    let mut rollovers = 0;
    for line in lines {
        if let Some(time) = leading_time_of_day(line) {
            if let Some(previous) = last
                && is_next_day(previous, time)
            {
                rollovers += 1;
            }
            last = Some(time);
        }
    }
    rollovers
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

/// The ingest step that replaces a player's address by a salted hash of the day (the
/// address itself is never stored). Run [`prepare_salts`] for the records' days first.
pub struct HashAddress(pub Arc<IpHasher>);

impl IngestStep<GameLogRecord> for HashAddress {
    fn name(&self) -> &'static str {
        "hash_address"
    }

    fn apply(&self, record: &mut GameLogRecord) -> Result<(), DropReason> {
        if let Some(address) = record.address.take() {
            record.ip_hash = self.0.hash(address, record.occurred_at);
        }
        Ok(())
    }
}

/// The ingest step that reduces chat to its length: the text goes no further.
pub struct ChatLength;

impl IngestStep<GameLogRecord> for ChatLength {
    fn name(&self) -> &'static str {
        "chat_length"
    }

    fn apply(&self, record: &mut GameLogRecord) -> Result<(), DropReason> {
        if let Some(text) = record.chat_text.take() {
            let length = text.chars().count();
            let detail = record.detail.get_or_insert_with(|| json!({}));
            if let Some(map) = detail.as_object_mut() {
                map.insert("chat_length".to_owned(), json!(length));
            }
        }
        Ok(())
    }
}

/// Whether a game player belongs to someone who opted out: by their account, or (Minecraft
/// lines name the player without the account) by their Minecraft name.
pub fn player_opted_out(
    rules: &IngestRules,
    name: Option<&str>,
    account: Option<&GameAccount>,
) -> bool {
    let by_account = match account {
        Some(GameAccount::Steam(id)) => rules.is_opted_out("steam", &id.to_string()),
        Some(GameAccount::Minecraft(uuid)) => rules.is_opted_out("minecraft", uuid),
        None => false,
    };
    by_account
        || (!matches!(account, Some(GameAccount::Steam(_)))
            && name.is_some_and(|name| rules.is_opted_out("minecraft_name", &name.to_lowercase())))
}

/// The ingest step that drops the lines of players who opted out.
pub struct OptedOutPlayers(pub IngestRules);

impl IngestStep<GameLogRecord> for OptedOutPlayers {
    fn name(&self) -> &'static str {
        "opted_out"
    }

    fn apply(&self, record: &mut GameLogRecord) -> Result<(), DropReason> {
        if player_opted_out(
            &self.0,
            record.player_name.as_deref(),
            record.account.as_ref(),
        ) {
            return Err(DropReason::opted_out);
        }
        Ok(())
    }
}

/// The steps every game log record passes.
pub fn log_steps(
    metrics: Metrics,
    hasher: Arc<IpHasher>,
    rules: IngestRules,
) -> Steps<GameLogRecord> {
    Steps::new("game_logs", metrics)
        .then(OptedOutPlayers(rules))
        .then(HashAddress(hasher))
        .then(ChatLength)
}

/// The code in a chat line `!link CODE` (any case; 4 to 16 letters and digits).
pub fn link_code(text: &str) -> Option<&str> {
    let text = text.trim();
    let (command, rest) = text.split_at_checked(5)?;
    if !command.eq_ignore_ascii_case("!link") || !rest.starts_with(char::is_whitespace) {
        return None;
    }
    let code = rest.trim();
    (4..=16)
        .contains(&code.len())
        .then_some(code)
        .filter(|c| c.chars().all(|ch| ch.is_ascii_alphanumeric()))
}

/// `!link CODE` said in game chat: the code is redeemed for the account that said it
/// before the chat step drops the text. Minecraft chat names only the player: the account
/// is the UUID its last `UUID of player` line gave (in this batch, or stored before).
async fn redeem_link_codes(
    pool: &sqlx::PgPool,
    rules: &IngestRules,
    records: &[GameLogRecord],
) -> sqlx::Result<()> {
    for (index, record) in records.iter().enumerate() {
        if record.kind != LogKind::Chat
            || player_opted_out(
                rules,
                record.player_name.as_deref(),
                record.account.as_ref(),
            )
        {
            continue;
        }
        let Some(code) = record.chat_text.as_deref().and_then(link_code) else {
            continue;
        };
        let mut account = record.account.clone();
        if account.is_none()
            && let Some(name) = record.player_name.as_deref()
        {
            account = records[..index]
                .iter()
                .rev()
                .find(|r| r.kind == LogKind::Account && r.player_name.as_deref() == Some(name))
                .and_then(|r| r.account.clone());
            if account.is_none() {
                let stored: Option<String> = sqlx::query_scalar(
                    "select account_id from bronze.game_log_events
                     where server_id = $1 and kind = 'account' and player_name = $2
                       and occurred_at <= $3
                     order by occurred_at desc limit 1",
                )
                .bind(record.server_id)
                .bind(name)
                .bind(record.occurred_at)
                .fetch_optional(pool)
                .await?
                .flatten();
                account = stored.map(GameAccount::Minecraft);
            }
        }
        let Some(account) = account else {
            tracing::info!(
                server_id = record.server_id,
                "a !link code from a player without a known account was ignored"
            );
            continue;
        };
        let (kind, id) = match &account {
            GameAccount::Steam(id) => ("steam", id.to_string()),
            GameAccount::Minecraft(uuid) => ("minecraft", uuid.clone()),
        };
        let outcome: String = sqlx::query_scalar("select app.redeem_link_code($1, $2, $3, $4, $5)")
            .bind(code)
            .bind(kind)
            .bind(&id)
            .bind(record.player_name.as_deref())
            .bind(record.occurred_at)
            .fetch_one(pool)
            .await?;
        tracing::info!(server_id = record.server_id, kind, %outcome, "in-game link code");
    }
    Ok(())
}

/// Makes sure the address salts of the records' days exist.
pub async fn prepare_salts(hasher: &IpHasher, records: &[GameLogRecord]) -> sqlx::Result<()> {
    let mut days: Vec<NaiveDate> = records
        .iter()
        .filter(|r| r.address.is_some())
        .map(|r| r.occurred_at.date_naive())
        .collect();
    days.sort_unstable();
    days.dedup();
    for day in days {
        hasher
            .prepare(day.and_time(NaiveTime::MIN).and_utc())
            .await?;
    }
    Ok(())
}

/// Counts a decoder's unparsed lines in the metrics.
pub fn count_unparsed(metrics: &Metrics, source: &str, unparsed: u64) {
    if unparsed > 0 {
        metrics
            .unparsed_lines
            .get_or_create(&SourceLabels {
                source: source.to_owned(),
            })
            .inc_by(unparsed);
    }
}

/// Where decoded log records go: through the steps, then committed (acknowledged) by the
/// writer. Every log source (HTTP, tailed files, SFTP, imports) writes through one.
#[derive(Clone)]
pub struct LogSink {
    writer: crate::ingest::IngestWriter<GameLogRecord>,
    steps: Arc<Steps<GameLogRecord>>,
    hasher: Arc<IpHasher>,
    rules: IngestRules,
}

impl LogSink {
    pub fn new(
        writer: crate::ingest::IngestWriter<GameLogRecord>,
        metrics: Metrics,
        hasher: Arc<IpHasher>,
    ) -> Self {
        let rules = IngestRules::default();
        Self {
            writer,
            steps: Arc::new(log_steps(metrics, hasher.clone(), rules.clone())),
            hasher,
            rules,
        }
    }

    /// Runs the records through the steps and returns once they are committed.
    pub async fn write(
        &self,
        records: Vec<GameLogRecord>,
    ) -> anyhow::Result<crate::ingest::Receipt> {
        if records.is_empty() {
            return Ok(crate::ingest::Receipt::default());
        }
        self.rules
            .refresh_if_older(self.hasher.pool(), crate::rules::REFRESH_INTERVAL)
            .await;
        prepare_salts(&self.hasher, &records).await?;
        redeem_link_codes(self.hasher.pool(), &self.rules, &records).await?;
        let records: Vec<GameLogRecord> = records
            .into_iter()
            .filter_map(|r| self.steps.run(r))
            .collect();
        Ok(self.writer.write_acked(records).await?)
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
