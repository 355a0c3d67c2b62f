//! Property tests of the game log line reader: arbitrary bytes, and real log lines broken in
//! the ways real files break (a NUL, invalid UTF-8, cut short, no `L ` prefix, no date),
//! pushed through each format's stream in arbitrary chunks. Nothing panics, and every line
//! is either read (an event, or a line with nothing to keep) or kept as unparsed with its
//! exact bytes (less addresses and chat text, see `quarantined_line`). `PROPTEST_CASES`
//! sets the number of cases (256 by default).

use chrono::{DateTime, NaiveDate};
use collectors::game::logs::{LogFormat, LogStream, MAX_LINE_BYTES, quarantined_line};
use collectors::game::records::LogKind;
use proptest::prelude::*;

const HL: &str = include_str!("fixtures/03-source-hl-logs/cs2_full_match_log_1.log");
const MC: &str = include_str!("fixtures/04-minecraft-logs-rcon/mcdr_vanilla_lifecycle.log");

fn proptest_config() -> ProptestConfig {
    let cases = std::env::var("PROPTEST_CASES")
        .ok()
        .and_then(|c| c.parse().ok())
        .unwrap_or(256);
    ProptestConfig::with_cases(cases)
}

/// How the decoder must treat one line on its own.
#[derive(Debug, PartialEq, Eq)]
enum Expected {
    /// Read: an event or a line with nothing to keep (whichever the parser says).
    Read,
    /// Kept as unparsed, with these bytes.
    Kept(Vec<u8>),
}

/// The expectation for one line, worked out without the decoder: a line that is not UTF-8,
/// too long, holds a NUL (for HL: before its trailing NULs) or that the parser refuses is
/// kept; a blank line and any line the parser reads are read.
fn expected(format: LogFormat, line: &[u8]) -> Expected {
    let kept = || Expected::Kept(quarantined_line(line).bytes);
    if line.len() > MAX_LINE_BYTES {
        return kept();
    }
    let Ok(text) = std::str::from_utf8(line) else {
        return kept();
    };
    if text.trim().is_empty() {
        return Expected::Read;
    }
    let significant = match format {
        LogFormat::Hl => text.trim_end_matches('\0'),
        LogFormat::Minecraft => text,
    };
    if significant.contains('\0') || format.parse(text).is_err() {
        return kept();
    }
    Expected::Read
}

/// Splits `input` into lines as a log is: at `\n`, a `\r` before it dropped, the last line
/// kept without a break.
fn lines(input: &[u8]) -> Vec<&[u8]> {
    let mut lines: Vec<&[u8]> = input
        .split(|&b| b == b'\n')
        .map(|line| line.strip_suffix(b"\r").unwrap_or(line))
        .collect();
    if input.is_empty() || input.ends_with(b"\n") {
        lines.pop();
    }
    lines
}

/// Pushes `input` through a stream in chunks of the given sizes, then checks every line.
fn check(format: LogFormat, input: &[u8], chunks: &[usize]) -> Result<(), TestCaseError> {
    let mut stream = LogStream::new(
        7,
        format,
        chrono_tz::Europe::Berlin,
        NaiveDate::from_ymd_opt(2026, 3, 28).unwrap_or_default(),
        DateTime::from_timestamp(1_774_656_000, 0).unwrap_or_default(),
    );
    let mut rest = input;
    for &size in chunks.iter().cycle().take(input.len() + 1) {
        if rest.is_empty() {
            break;
        }
        let (chunk, tail) = rest.split_at(size.clamp(1, rest.len()));
        stream.push(chunk);
        rest = tail;
    }
    stream.push(rest);
    stream.finish();
    let decoded = stream.take();
    let expected: Vec<Expected> = lines(input)
        .into_iter()
        .map(|line| expected(format, line))
        .collect();
    let kept: Vec<Vec<u8>> = decoded
        .records
        .iter()
        .filter(|r| r.kind == LogKind::Unparsed)
        .map(|r| r.raw_line.clone().unwrap_or_default())
        .collect();
    let expected_kept: Vec<Vec<u8>> = expected
        .iter()
        .filter_map(|e| match e {
            Expected::Kept(bytes) => Some(bytes.clone()),
            Expected::Read => None,
        })
        .collect();
    prop_assert_eq!(decoded.counts.lines as usize, expected.len());
    prop_assert_eq!(decoded.counts.unparsed as usize, expected_kept.len());
    prop_assert_eq!(
        decoded.counts.events + decoded.counts.ignored + decoded.counts.unparsed,
        decoded.counts.lines
    );
    prop_assert_eq!(kept, expected_kept);
    // Every record is one the database can hold: no NUL in its text.
    for record in &decoded.records {
        let text = format!(
            "{:?}{:?}",
            record.player_name,
            record.detail.as_ref().map(ToString::to_string)
        );
        prop_assert!(
            !text.contains('\0') && !text.contains("\\u0000"),
            "{record:?}"
        );
    }
    Ok(())
}

/// Any byte but a line break.
fn any_byte() -> impl Strategy<Value = u8> {
    any::<u8>().prop_map(|b| if b == b'\n' { b'N' } else { b })
}

/// One line of arbitrary bytes (no line break), short or near the length limit.
fn any_line() -> impl Strategy<Value = Vec<u8>> {
    prop_oneof![
        8 => proptest::collection::vec(any_byte(), 0..120),
        1 => proptest::collection::vec(any_byte(), MAX_LINE_BYTES - 4..MAX_LINE_BYTES + 4),
    ]
}

/// A real line broken the way real files break.
fn broken_line(fixture: &'static str) -> impl Strategy<Value = Vec<u8>> {
    let lines: Vec<&'static str> = fixture.lines().filter(|l| !l.is_empty()).collect();
    (
        proptest::sample::select(lines),
        0usize..6,
        any::<prop::sample::Index>(),
        any::<u8>(),
    )
        .prop_map(|(line, how, at, byte)| {
            let mut bytes = line.as_bytes().to_vec();
            let at = at.index(bytes.len() + 1);
            match how {
                0 => {}
                1 => bytes.insert(at, 0),
                2 => bytes.insert(at, 0x80 | (byte & 0x3f)),
                3 => bytes.truncate(at),
                4 => {
                    bytes = bytes.strip_prefix(b"L ").unwrap_or(&bytes).to_vec();
                }
                // The date taken out of `L MM/DD/YYYY - HH:MM:SS:` or `[date time]`.
                _ => {
                    if bytes.len() > 14 {
                        bytes.drain(2..14);
                    }
                }
            }
            bytes.retain(|&b| b != b'\n');
            bytes
        })
}

/// Joins lines with `\n` or `\r\n`, with or without a break after the last.
fn join(lines: &[Vec<u8>], crlf: bool, last_break: bool) -> Vec<u8> {
    let mut out = Vec::new();
    for (i, line) in lines.iter().enumerate() {
        out.extend_from_slice(line);
        if i + 1 < lines.len() || last_break {
            if crlf {
                out.push(b'\r');
            }
            out.push(b'\n');
        }
    }
    out
}

fn chunk_sizes() -> impl Strategy<Value = Vec<usize>> {
    proptest::collection::vec(1usize..4096, 1..8)
}

proptest! {
    #![proptest_config(proptest_config())]

    #[test]
    fn arbitrary_bytes_are_read_or_kept_in_either_format(
        lines in proptest::collection::vec(any_line(), 0..12),
        crlf in any::<bool>(),
        last_break in any::<bool>(),
        chunks in chunk_sizes(),
    ) {
        let input = join(&lines, crlf, last_break);
        check(LogFormat::Hl, &input, &chunks)?;
        check(LogFormat::Minecraft, &input, &chunks)?;
    }

    #[test]
    fn broken_hl_lines_are_read_or_kept(
        lines in proptest::collection::vec(broken_line(HL), 1..20),
        crlf in any::<bool>(),
        chunks in chunk_sizes(),
    ) {
        check(LogFormat::Hl, &join(&lines, crlf, true), &chunks)?;
    }

    #[test]
    fn broken_minecraft_lines_are_read_or_kept(
        lines in proptest::collection::vec(broken_line(MC), 1..20),
        crlf in any::<bool>(),
        chunks in chunk_sizes(),
    ) {
        check(LogFormat::Minecraft, &join(&lines, crlf, true), &chunks)?;
    }

    /// Without an address or anything that looks like chat (no `.` or `:`, no `"` or `<`),
    /// a kept line is its exact bytes.
    #[test]
    fn a_kept_line_without_addresses_or_chat_is_its_exact_bytes(
        line in proptest::collection::vec(
            any::<u8>().prop_map(|b| if b".:\"<\n".contains(&b) { b'x' } else { b }),
            0..200,
        ),
    ) {
        prop_assert_eq!(quarantined_line(&line).bytes, line);
    }
}
