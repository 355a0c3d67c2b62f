//! Tests of the `status` and `users` reply parsers over the real replies in the fixtures,
//! and property tests that no input makes them panic.

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
