//! RCON replies to `list` and `list uuids` → [`ListReply`].
//!
//! # Why the replies look the way they do
//!
//! The reply is the command's chat feedback as plain text, so it follows whoever answers the
//! command:
//!
//! * vanilla ≥ 1.13 (and Paper, Purpur, Fabric, Forge, which keep the vanilla command):
//!   `There are 2 of a max of 20 players online: Alice, Bob`; with no one online the list is
//!   empty (`…players online: ` or `…online:`). `list uuids` prints each player as
//!   `Alice (069a79f4-44e9-4726-a5be-fca90e38aaf5)`.
//! * vanilla / CraftBukkit 1.7–1.12: `There are 2/20 players online:` and the names as a
//!   second message; RCON joins the two messages with a newline, or with nothing at all on
//!   some versions (`…online:Alice, Bob`), so both are read.
//! * Essentials replaces the command on Spigot/Paper: `There are 2 out of maximum 20 players
//!   online.` (or `There are 2/1 out of maximum 20 players online.` when one more player is
//!   vanished: the numbers are visible and hidden players, so online is their sum), then one
//!   line per permission group, `Admins: Alice` / `default: [AFK]Bob, [HIDDEN]Carol`, each
//!   name being the player's *display* name (chat prefixes like `[Member]`, nicknames).
//! * Spigot/Paper and Essentials colour the text with `§` codes (`§6There are §c2§6 …`);
//!   they are removed first.
//!
//! Names: `[…]` tags in front of a name (`[AFK]`, `[HIDDEN]`, `[Member]`) are removed; an
//! Essentials nickname cannot be told from a name and is kept as printed. A UUID in
//! parentheses after a name is normalised to lowercase hyphenated; one that looks like a UUID
//! but is not is an error.
//!
//! `online` is the count the header states; `players` is what the reply lists. They can
//! differ (Essentials leaves vanished players out for senders without permission), so they
//! are not checked against each other.

use super::mc_log::normalize_uuid;
use thiserror::Error;

/// A parsed `list` / `list uuids` reply.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ListReply {
    /// Players online, as the header counts them (Essentials: visible + hidden).
    pub online: u32,
    /// The server's player limit, where the reply states it (every known wording does).
    pub max: Option<u32>,
    /// The players listed, in the reply's order.
    pub players: Vec<ListReplyPlayer>,
}

/// One player in a `list` reply.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ListReplyPlayer {
    /// The name as listed, without colour codes and `[…]` tags.
    pub name: String,
    /// The UUID (`list uuids`), lowercase hyphenated.
    pub uuid: Option<String>,
}

/// Why a reply is not a `list` reply.
#[derive(Clone, Debug, PartialEq, Eq, Error)]
pub enum ListReplyError {
    /// The reply is empty or only whitespace (the server answered nothing).
    #[error("empty reply to `list`")]
    Empty,
    /// No line of the reply has the `There are N … players online` header; holds the first
    /// line (cut to 80 characters).
    #[error("not a `list` reply: no \"There are N … players online\" header (first line: {0:?})")]
    NoHeader(String),
    /// The header is there but a count in it is not a number that fits a `u32`.
    #[error("unreadable player count in the `list` header {0:?}")]
    BadCount(String),
    /// An entry carries something shaped like a UUID that is not one.
    #[error("player entry {0:?} has an invalid UUID")]
    BadUuid(String),
}

/// Parses the reply to `list` or `list uuids` (see the module documentation for the
/// wordings). Lines before the header are ignored.
pub fn parse_list_reply(reply: &str) -> Result<ListReply, ListReplyError> {
    let clean = strip_colour_codes(reply);
    if clean.trim().is_empty() {
        return Err(ListReplyError::Empty);
    }
    let mut lines = clean.lines().map(str::trim);
    let first_line = clean.lines().map(str::trim).find(|l| !l.is_empty());
    let header = lines.by_ref().find_map(|l| {
        l.find("There are ")
            .and_then(|i| l.get(i + "There are ".len()..))
    });
    let Some(header) = header else {
        let first: String = first_line.unwrap_or_default().chars().take(80).collect();
        return Err(ListReplyError::NoHeader(first));
    };
    let (online, max, tail) = parse_header(header)?;
    let mut players = Vec::new();
    push_names(tail, &mut players)?;
    for line in lines {
        // Essentials group lines: `Admins: Alice, Bob`.
        let names = line.split_once(": ").map_or(line, |(_, names)| names);
        push_names(names, &mut players)?;
    }
    Ok(ListReply {
        online,
        max,
        players,
    })
}

/// Reads the header after `There are `; returns online, max and the text after the colon
/// (names on the same line).
fn parse_header(h: &str) -> Result<(u32, Option<u32>, &str), ListReplyError> {
    let bad = || ListReplyError::BadCount(h.chars().take(80).collect());
    let (first, rest) = leading_number(h).ok_or_else(bad)?;
    if let Some(rest) = rest.strip_prefix(" of a max of ") {
        let (max, rest) = leading_number(rest).ok_or_else(bad)?;
        let tail = rest
            .strip_prefix(" players online:")
            .ok_or_else(|| no_header(h))?;
        return Ok((first, Some(max), tail));
    }
    if let Some(rest) = rest.strip_prefix(" out of maximum ") {
        let (max, rest) = leading_number(rest).ok_or_else(bad)?;
        let tail = essentials_tail(rest).ok_or_else(|| no_header(h))?;
        return Ok((first, Some(max), tail));
    }
    if let Some(rest) = rest.strip_prefix('/') {
        let (second, rest) = leading_number(rest).ok_or_else(bad)?;
        if let Some(tail) = rest.strip_prefix(" players online:") {
            return Ok((first, Some(second), tail));
        }
        if let Some(rest) = rest.strip_prefix(" out of maximum ") {
            let (max, rest) = leading_number(rest).ok_or_else(bad)?;
            let tail = essentials_tail(rest).ok_or_else(|| no_header(h))?;
            let online = first.checked_add(second).ok_or_else(bad)?;
            return Ok((online, Some(max), tail));
        }
    }
    Err(no_header(h))
}

fn no_header(h: &str) -> ListReplyError {
    let mut text = String::from("There are ");
    text.extend(h.chars().take(70));
    ListReplyError::NoHeader(text)
}

fn essentials_tail(rest: &str) -> Option<&str> {
    rest.strip_prefix(" players online.")
        .or_else(|| rest.strip_prefix(" players online"))
}

/// A decimal number at the start of `s` (leading spaces allowed) and the rest.
fn leading_number(s: &str) -> Option<(u32, &str)> {
    let s = s.trim_start();
    let end = s.find(|c: char| !c.is_ascii_digit()).unwrap_or(s.len());
    let number = s.get(..end)?.parse().ok()?;
    Some((number, s.get(end..)?))
}

/// Splits a comma-separated run of names and adds them.
fn push_names(names: &str, players: &mut Vec<ListReplyPlayer>) -> Result<(), ListReplyError> {
    for entry in names.split(',') {
        if let Some(player) = list_entry(entry)? {
            players.push(player);
        }
    }
    Ok(())
}

/// `Alice`, `[AFK]Bob`, `Carol (069a79f4-…)`.
fn list_entry(entry: &str) -> Result<Option<ListReplyPlayer>, ListReplyError> {
    let mut name = entry.trim();
    while let Some(rest) = name.strip_prefix('[') {
        match rest.find(']') {
            Some(close) => name = rest.get(close + 1..).unwrap_or_default().trim_start(),
            None => break,
        }
    }
    let mut uuid = None;
    if let Some(inner) = name.strip_suffix(')')
        && let Some(open) = inner.rfind(" (")
    {
        let candidate = inner.get(open + 2..).unwrap_or_default();
        if looks_like_uuid(candidate) {
            uuid = Some(
                normalize_uuid(candidate)
                    .ok_or_else(|| ListReplyError::BadUuid(entry.trim().to_owned()))?,
            );
            name = inner.get(..open).unwrap_or_default().trim_end();
        }
    }
    if name.is_empty() {
        return Ok(None);
    }
    Ok(Some(ListReplyPlayer {
        name: name.to_owned(),
        uuid,
    }))
}

/// Hex digits and hyphens, long enough that it was meant as a UUID.
fn looks_like_uuid(s: &str) -> bool {
    s.len() >= 20 && s.bytes().all(|b| b.is_ascii_hexdigit() || b == b'-')
}

/// Removes `§x` colour/format codes (and a dangling `§`).
fn strip_colour_codes(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    let mut chars = s.chars();
    while let Some(c) = chars.next() {
        if c == '§' {
            chars.next();
        } else {
            out.push(c);
        }
    }
    out
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    const FIXTURES: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/fixtures");

    fn p(name: &str) -> ListReplyPlayer {
        ListReplyPlayer {
            name: name.to_owned(),
            uuid: None,
        }
    }

    fn pu(name: &str, uuid: &str) -> ListReplyPlayer {
        ListReplyPlayer {
            name: name.to_owned(),
            uuid: Some(uuid.to_owned()),
        }
    }

    fn list(
        online: u32,
        max: u32,
        players: Vec<ListReplyPlayer>,
    ) -> Result<ListReply, ListReplyError> {
        Ok(ListReply {
            online,
            max: Some(max),
            players,
        })
    }

    #[test]
    fn vanilla() {
        assert_eq!(
            parse_list_reply("There are 2 of a max of 20 players online: Alice, Bob"),
            list(2, 20, vec![p("Alice"), p("Bob")])
        );
        assert_eq!(
            parse_list_reply("There are 0 of a max of 20 players online: "),
            list(0, 20, vec![])
        );
        assert_eq!(
            parse_list_reply("There are 0 of a max of 20 players online:"),
            list(0, 20, vec![])
        );
        assert_eq!(
            parse_list_reply(
                "There are 2 of a max of 20 players online: Alice (069a79f4-44e9-4726-a5be-fca90e38aaf5), Bob (853C80EF3C3749FDAA49938B674ADAE6)"
            ),
            list(
                2,
                20,
                vec![
                    pu("Alice", "069a79f4-44e9-4726-a5be-fca90e38aaf5"),
                    pu("Bob", "853c80ef-3c37-49fd-aa49-938b674adae6")
                ]
            )
        );
        assert_eq!(
            parse_list_reply(
                "There are 1 of a max of 20 players online: Alice (069a79f4-44e9-4726-a5be-fca90e38aaf)"
            ),
            Err(ListReplyError::BadUuid(
                "Alice (069a79f4-44e9-4726-a5be-fca90e38aaf)".into()
            ))
        );
    }

    #[test]
    fn old_vanilla() {
        assert_eq!(
            parse_list_reply("There are 2/20 players online:\nAlice, Bob\n"),
            list(2, 20, vec![p("Alice"), p("Bob")])
        );
        assert_eq!(
            parse_list_reply("There are 2/20 players online:Alice, Bob"),
            list(2, 20, vec![p("Alice"), p("Bob")])
        );
        assert_eq!(
            parse_list_reply("There are 0/20 players online:\n"),
            list(0, 20, vec![])
        );
    }

    #[test]
    fn paper_colours() {
        assert_eq!(
            parse_list_reply(
                "§6There are §c2§6 of a max of §c20§6 players online: §fAlice§6, §fBob"
            ),
            list(2, 20, vec![p("Alice"), p("Bob")])
        );
    }

    #[test]
    fn essentials() {
        assert_eq!(
            parse_list_reply(
                "§6There are §c3§6 out of maximum §c20§6 players online.\n§6Admins§r: §fAlice§f\n§6default§r: §7[AFK]§r§fBob§f, Carol§f"
            ),
            list(3, 20, vec![p("Alice"), p("Bob"), p("Carol")])
        );
        assert_eq!(
            parse_list_reply(
                "§6There are §c2§6/§c1§6 out of maximum §c20§6 players online.\n§6default§r: Alice§f, §7[HIDDEN]§r[Member]Bob§f, Carol"
            ),
            list(3, 20, vec![p("Alice"), p("Bob"), p("Carol")])
        );
    }

    /// The console's `/list` from the pastebin fixture (log heads removed: the RCON reply is
    /// the messages).
    #[test]
    fn essentials_fixture() {
        let text = std::fs::read_to_string(format!(
            "{FIXTURES}/04-minecraft-logs-rcon/spigot_essentials_list_console_pastebin_gzBNtyCr.log"
        ))
        .unwrap();
        let messages: Vec<&str> = text
            .lines()
            .map(|l| l.split_once("]: ").unwrap().1)
            .collect();
        assert_eq!(
            parse_list_reply(&messages[1..3].join("\n")),
            list(1, 100, vec![p("md_5")])
        );
        assert_eq!(parse_list_reply(messages[14]), list(0, 100, vec![]));
    }

    /// The real Paper 1.16.2 replies quoted in fixture 05.
    #[test]
    fn paper_fixture() {
        let text = std::fs::read_to_string(format!(
            "{FIXTURES}/05-minecraft-prometheus/joshi425_exporter_player_online_issue10.txt"
        ))
        .unwrap();
        let replies: Vec<&str> = text
            .lines()
            .filter(|l| l.contains("players online"))
            .map(|l| l.split_once("]: ").unwrap().1)
            .collect();
        assert_eq!(replies.len(), 2);
        assert_eq!(parse_list_reply(replies[0]), list(0, 20, vec![]));
        assert_eq!(
            parse_list_reply(replies[1]),
            list(1, 20, vec![p("Joshi425")])
        );
    }

    #[test]
    fn errors() {
        assert_eq!(parse_list_reply(""), Err(ListReplyError::Empty));
        assert_eq!(parse_list_reply(" \n§r"), Err(ListReplyError::Empty));
        assert_eq!(
            parse_list_reply("Unknown command. Type \"/help\" for help."),
            Err(ListReplyError::NoHeader(
                "Unknown command. Type \"/help\" for help.".into()
            ))
        );
        assert_eq!(
            parse_list_reply("There are many players online"),
            Err(ListReplyError::BadCount("many players online".into()))
        );
        assert_eq!(
            parse_list_reply("There are 99999999999 of a max of 20 players online:"),
            Err(ListReplyError::BadCount(
                "99999999999 of a max of 20 players online:".into()
            ))
        );
        assert!(matches!(
            parse_list_reply("There are 2 players here"),
            Err(ListReplyError::NoHeader(_))
        ));
        assert_eq!(
            ListReplyError::NoHeader("x".into()).to_string(),
            "not a `list` reply: no \"There are N … players online\" header (first line: \"x\")"
        );
    }

    fn config() -> ProptestConfig {
        let cases = std::env::var("PROPTEST_CASES")
            .ok()
            .and_then(|v| v.parse().ok())
            .unwrap_or(256);
        ProptestConfig::with_cases(cases)
    }

    const SAMPLES: [&str; 5] = [
        "There are 2 of a max of 20 players online: Alice (069a79f4-44e9-4726-a5be-fca90e38aaf5), Bob",
        "There are 2/20 players online:\nAlice, Bob",
        "§6There are §c2§6/§c1§6 out of maximum §c20§6 players online.\n§6default§r: §7[AFK]§fAlice, [HIDDEN]Bob",
        "There are 1 out of maximum 100 players online.\ndefault: [Member]md_5",
        "There are 0 of a max of 20 players online:",
    ];

    proptest! {
        #![proptest_config(config())]

        #[test]
        fn never_panics_on_arbitrary_strings(s in any::<String>()) {
            let _ = parse_list_reply(&s);
        }

        #[test]
        fn never_panics_on_mutated_replies(
            which in any::<prop::sample::Index>(),
            at in any::<prop::sample::Index>(),
            cut in any::<prop::sample::Index>(),
            insert in r"[§\[\]() ,:/0-9a-f\n-]{0,5}",
        ) {
            let chars: Vec<char> = SAMPLES[which.index(SAMPLES.len())].chars().collect();
            let i = at.index(chars.len() + 1);
            let j = i + cut.index(chars.len() + 1 - i);
            let mutated: String = chars[..i].iter().copied().chain(insert.chars()).chain(chars[j..].iter().copied()).collect();
            let _ = parse_list_reply(&mutated);
        }
    }
}
