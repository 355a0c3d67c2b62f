//! SteamID normalisation: every form a Source server prints, reduced to the SteamID64 that
//! the Steam Web API, OpenID and profile URLs use.
//!
//! Why there are three forms: a SteamID is one 64-bit number, `universe (8 bits) | account
//! type (4) | instance (20) | account id (32)`. Games print it in whatever form their engine
//! branch grew up with:
//!
//! * SteamID2 `STEAM_X:Y:Z` (GoldSrc, Source 1 up to CS:GO, L4D): the account id is `2·Z + Y`,
//!   `X` is meant to be the universe but old engines print 0 for the public universe, newer
//!   ones 1, so both mean "public" here. Account type and instance are implied (a user on a
//!   desktop client).
//! * SteamID3 `[U:1:N]` (Orange Box and later TF2/HL2DM logs and `status`, CS2): type letter,
//!   universe and the account id itself; instance only where it is not the default
//!   (`[A:1:N:I]` for an anonymous game server).
//! * SteamID64 (web, OpenID): the whole number in decimal.
//!
//! Guildhall keys player accounts on the SteamID64 of an *individual* account in the public
//! universe, so [`parse_steam_id`] accepts only those and returns `None` for bots, the console,
//! placeholders (`STEAM_ID_PENDING`, `STEAM_ID_LAN`), account id 0 and server ids (`[A:…]`,
//! `[G:…]`), which are never a person.

/// The public universe.
const UNIVERSE_PUBLIC: u64 = 1;
/// The account type of a person's account.
const TYPE_INDIVIDUAL: u64 = 1;
/// The instance of a person's desktop account (the only one a player has).
const INSTANCE_DESKTOP: u64 = 1;
/// The largest instance value (20 bits).
const INSTANCE_MAX: u64 = 0x000F_FFFF;
/// Instance flags of a chat id: clan chat, lobby (SteamID3 letters `c` and `L`).
const CHAT_FLAG_CLAN: u64 = 0x0008_0000;
const CHAT_FLAG_LOBBY: u64 = 0x0004_0000;

/// Assembles a SteamID64 from its four fields (none are range-checked beyond their width).
const fn compose(universe: u64, account_type: u64, instance: u64, account_id: u32) -> u64 {
    (universe << 56) | (account_type << 52) | ((instance & INSTANCE_MAX) << 32) | account_id as u64
}

/// The SteamID64 of the individual account `account_id` in the public universe.
const fn individual(account_id: u32) -> u64 {
    compose(
        UNIVERSE_PUBLIC,
        TYPE_INDIVIDUAL,
        INSTANCE_DESKTOP,
        account_id,
    )
}

/// Parses a SteamID in any of its printed forms and returns the SteamID64 of the person's
/// account, or `None` if `s` is not the id of a real person.
///
/// Accepted (surrounding ASCII whitespace ignored):
/// * `STEAM_0:Y:Z` and `STEAM_1:Y:Z` (the prefix in either case), `Y` 0 or 1;
/// * `[U:1:N]` and `U:1:N`;
/// * a decimal SteamID64 of an individual account in the public universe
///   (`7656119…`).
///
/// `None` for `BOT`, `Console`, `STEAM_ID_PENDING`, `STEAM_ID_LAN`, account id 0
/// (`[U:1:0]`, `STEAM_0:0:0`), other universes, server and group ids (`[A:…]`, `[G:…]`,
/// `[g:…]`, their SteamID64s) and anything else.
pub fn parse_steam_id(s: &str) -> Option<u64> {
    let s = s.trim_ascii();
    let bytes = s.as_bytes();
    let id64 = if bytes.len() >= 6 && bytes[..6].eq_ignore_ascii_case(b"STEAM_") {
        parse_id2(&s[6..])?
    } else if bytes.first().is_some_and(|b| b.is_ascii_digit()) {
        digits_u64(s)?
    } else {
        parse_id3_any(s)?
    };
    is_individual(id64).then_some(id64)
}

/// Whether `id64` is a person's account: public universe, individual type, desktop
/// instance, non-zero account id.
fn is_individual(id64: u64) -> bool {
    id64 >> 56 == UNIVERSE_PUBLIC
        && (id64 >> 52) & 0xF == TYPE_INDIVIDUAL
        && (id64 >> 32) & INSTANCE_MAX == INSTANCE_DESKTOP
        && id64 as u32 != 0
}

/// `X:Y:Z` after `STEAM_`: `X` 0 or 1 (both the public universe), `Y` 0 or 1, `Z` the
/// account id's upper 31 bits.
fn parse_id2(rest: &str) -> Option<u64> {
    let mut parts = rest.split(':');
    let universe = parts.next()?;
    let low = parts.next()?;
    let high = parts.next()?;
    if parts.next().is_some() || !matches!(universe, "0" | "1") {
        return None;
    }
    let low = match low {
        "0" => 0,
        "1" => 1,
        _ => return None,
    };
    let high = u32::try_from(digits_u64(high)?).ok()?;
    let account_id = high.checked_mul(2)?.checked_add(low)?;
    Some(individual(account_id))
}

/// A SteamID3 of any account type, `[L:U:A]`, `[L:U:A:I]` or the same without brackets,
/// as a SteamID64 (not checked for being a person's).
fn parse_id3_any(s: &str) -> Option<u64> {
    let inner = match s.strip_prefix('[') {
        Some(rest) => rest.strip_suffix(']')?,
        None => s,
    };
    let mut parts = inner.split(':');
    let letter = parts.next()?;
    let universe = digits_u64(parts.next()?)?;
    let account_id = u32::try_from(digits_u64(parts.next()?)?).ok()?;
    let instance = match parts.next() {
        Some(i) => Some(digits_u64(i)?),
        None => None,
    };
    if parts.next().is_some() || universe > 0xFF {
        return None;
    }
    let (account_type, default_instance) = match letter {
        "I" | "i" => (0, 0),
        "U" => (1, INSTANCE_DESKTOP),
        "M" => (2, 0),
        "G" => (3, 0),
        "A" => (4, 0),
        "P" => (5, 0),
        "C" => (6, 0),
        "g" => (7, 0),
        "T" => (8, 0),
        "c" => (8, CHAT_FLAG_CLAN),
        "L" => (8, CHAT_FLAG_LOBBY),
        "a" => (10, 0),
        _ => return None,
    };
    let instance = instance.unwrap_or(default_instance);
    if instance > INSTANCE_MAX {
        return None;
    }
    Some(compose(universe, account_type, instance, account_id))
}

/// A non-empty run of ASCII digits (no sign, no spaces) that fits a `u64`.
fn digits_u64(s: &str) -> Option<u64> {
    if s.is_empty() {
        return None;
    }
    s.bytes().try_fold(0u64, |acc, b| {
        if b.is_ascii_digit() {
            acc.checked_mul(10)?.checked_add(u64::from(b - b'0'))
        } else {
            None
        }
    })
}

/// The SteamID2 form of a SteamID64, `STEAM_1:Y:Z` (universe as stored: 1 for public
/// accounts, the form CS:GO, L4D and later Source 1 games print; older games print
/// `STEAM_0:` for the same account).
pub fn steam_id2(id64: u64) -> String {
    let account_id = id64 as u32;
    format!(
        "STEAM_{}:{}:{}",
        id64 >> 56,
        account_id & 1,
        account_id >> 1
    )
}

/// The SteamID3 form of a SteamID64: `[U:1:N]` for a person's account; other account types
/// with their letter (`[G:1:N]`, `[g:1:N]`), and the instance appended where it is not the
/// type's default (`[A:1:N:I]` for an anonymous game server).
pub fn steam_id3(id64: u64) -> String {
    let universe = id64 >> 56;
    let account_type = (id64 >> 52) & 0xF;
    let instance = (id64 >> 32) & INSTANCE_MAX;
    let account_id = id64 as u32;
    let (letter, default_instance) = match account_type {
        1 => ('U', INSTANCE_DESKTOP),
        2 => ('M', 0),
        3 => ('G', 0),
        4 => ('A', 0),
        5 => ('P', 0),
        6 => ('C', 0),
        7 => ('g', 0),
        8 if instance & CHAT_FLAG_CLAN != 0 => ('c', CHAT_FLAG_CLAN),
        8 if instance & CHAT_FLAG_LOBBY != 0 => ('L', CHAT_FLAG_LOBBY),
        8 => ('T', 0),
        10 => ('a', 0),
        _ => ('I', 0),
    };
    if instance == default_instance {
        format!("[{letter}:{universe}:{account_id}]")
    } else {
        format!("[{letter}:{universe}:{account_id}:{instance}]")
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    const CONVERSION_TABLE: &str = concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/tests/fixtures/08-steam-openid-steamid/steamid_conversion_table_from_collected_fixtures.csv"
    );
    const SERVER_IDS: &str = concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/tests/fixtures/08-steam-openid-steamid/server_steamids_from_status_outputs.csv"
    );

    /// The CSV's data rows, split on commas (no field in these files holds a comma).
    fn csv_rows(path: &str) -> Vec<Vec<String>> {
        let text = std::fs::read_to_string(path).unwrap();
        text.lines()
            .skip(1)
            .filter(|l| !l.is_empty())
            .map(|l| l.split(',').map(str::to_owned).collect())
            .collect()
    }

    #[test]
    fn every_row_of_the_conversion_table() {
        let rows = csv_rows(CONVERSION_TABLE);
        assert_eq!(rows.len(), 56);
        for row in &rows {
            // as_seen,seen_in,account_id,steamid2_x0,steamid2_x1,steamid3,steamid64
            let [as_seen, _seen_in, account_id, id2_x0, id2_x1, id3, id64] = &row[..] else {
                panic!("row with {} fields: {row:?}", row.len());
            };
            let id64: u64 = id64.parse().unwrap();
            let account_id: u64 = account_id.parse().unwrap();
            assert_eq!(id64 & 0xFFFF_FFFF, account_id, "{row:?}");
            // The last row's `as_seen` lists all three forms.
            for seen in as_seen.split(" / ") {
                assert_eq!(parse_steam_id(seen), Some(id64), "{seen}");
            }
            assert_eq!(parse_steam_id(id2_x0), Some(id64), "{id2_x0}");
            assert_eq!(parse_steam_id(id2_x1), Some(id64), "{id2_x1}");
            assert_eq!(parse_steam_id(id3), Some(id64), "{id3}");
            let bare = id3.trim_start_matches('[').trim_end_matches(']');
            assert_eq!(parse_steam_id(bare), Some(id64), "{bare}");
            assert_eq!(parse_steam_id(&id64.to_string()), Some(id64));
            assert_eq!(&steam_id2(id64), id2_x1);
            assert_eq!(&steam_id3(id64), id3);
        }
    }

    #[test]
    fn server_ids_decode_with_the_same_layout_but_are_not_players() {
        let rows = csv_rows(SERVER_IDS);
        assert_eq!(rows.len(), 5);
        for row in &rows {
            // as_seen,seen_in,type_letter,account_type,instance,account_id,printed,recomputed,match
            let (id3, printed) = row[0].split_once(" (").unwrap();
            let printed_from_as_seen: u64 = printed.trim_end_matches(')').parse().unwrap();
            let printed: u64 = row[6].parse().unwrap();
            assert_eq!(printed, printed_from_as_seen);
            assert_eq!(parse_id3_any(id3), Some(printed), "{id3}");
            assert_eq!(steam_id3(printed), id3);
            assert_eq!((printed >> 52) & 0xF, row[3].parse::<u64>().unwrap());
            assert_eq!(
                (printed >> 32) & INSTANCE_MAX,
                row[4].parse::<u64>().unwrap()
            );
            assert_eq!(printed & 0xFFFF_FFFF, row[5].parse::<u64>().unwrap());
            assert_eq!(parse_steam_id(id3), None, "{id3}");
            assert_eq!(parse_steam_id(&printed.to_string()), None, "{printed}");
        }
    }

    #[test]
    fn placeholders_and_non_players_are_none() {
        for s in [
            "BOT",
            "Console",
            "STEAM_ID_PENDING",
            "STEAM_ID_LAN",
            "[U:1:0]",
            "U:1:0",
            "STEAM_0:0:0",
            "STEAM_1:0:0",
            "[A:1:1871475725:44792]",
            "[G:1:13064182]",
            "[g:1:4]",
            "[U:2:123]",
            "[U:1:123:2]",
            "STEAM_2:0:123",
            "STEAM_0:2:123",
            "STEAM_0:1:2147483648",
            "STEAM_0:1:+5",
            "[U:1:+5]",
            "[U:1:4294967296]",
            "[U:1:5",
            "U:1:5]",
            "+76561197960265729",
            "76561197960265728",
            "18446744073709551616",
            "",
            "   ",
            "HLTV",
            "0",
        ] {
            assert_eq!(parse_steam_id(s), None, "{s:?}");
        }
    }

    #[test]
    fn edges_of_the_accepted_forms() {
        assert_eq!(parse_steam_id("STEAM_0:1:0"), Some(76_561_197_960_265_729));
        assert_eq!(parse_steam_id("steam_1:1:0"), Some(76_561_197_960_265_729));
        assert_eq!(parse_steam_id(" [U:1:1] "), Some(76_561_197_960_265_729));
        assert_eq!(parse_steam_id("[U:1:1:1]"), Some(76_561_197_960_265_729));
        assert_eq!(
            parse_steam_id("STEAM_0:1:2147483647"),
            Some(individual(u32::MAX))
        );
        assert_eq!(
            parse_steam_id("[U:1:4294967295]"),
            Some(individual(u32::MAX))
        );
        assert_eq!(steam_id2(individual(u32::MAX)), "STEAM_1:1:2147483647");
        assert_eq!(steam_id3(individual(u32::MAX)), "[U:1:4294967295]");
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
        fn never_panics(s in ".*") {
            let _ = parse_steam_id(&s);
        }

        #[test]
        fn never_panics_on_id_like_strings(s in r"(STEAM_|\[?[UAGgIiMPCTcLa]:)?[0-9:\]\[]{0,30}") {
            let _ = parse_steam_id(&s);
        }

        #[test]
        fn never_panics_on_mutated_fixture_ids(
            pick in any::<prop::sample::Index>(),
            edits in proptest::collection::vec((any::<prop::sample::Index>(), any::<u8>(), 0usize..3), 1..4),
        ) {
            thread_local! {
                static IDS: Vec<String> = csv_rows(CONVERSION_TABLE)
                    .into_iter()
                    .chain(csv_rows(SERVER_IDS))
                    .flatten()
                    .collect();
            }
            let mut bytes = IDS.with(|ids| pick.get(ids).clone()).into_bytes();
            for (at, byte, op) in edits {
                let pos = if bytes.is_empty() { 0 } else { at.index(bytes.len()) };
                match op {
                    0 if !bytes.is_empty() => { bytes.remove(pos); }
                    1 => bytes.insert(pos, byte),
                    _ => bytes.truncate(pos),
                }
            }
            let s = String::from_utf8_lossy(&bytes);
            if let Some(id64) = parse_steam_id(&s) {
                // Whatever is accepted is a person's id, and prints back to a form that
                // parses to the same id.
                prop_assert!(is_individual(id64));
                prop_assert_eq!(parse_steam_id(&steam_id3(id64)), Some(id64));
            }
        }

        #[test]
        fn every_individual_id_round_trips(account_id in 1u32..) {
            let id64 = individual(account_id);
            prop_assert_eq!(parse_steam_id(&steam_id2(id64)), Some(id64));
            prop_assert_eq!(parse_steam_id(&steam_id3(id64)), Some(id64));
            prop_assert_eq!(parse_steam_id(&id64.to_string()), Some(id64));
        }

        #[test]
        fn formatting_any_u64_never_panics(id64 in any::<u64>()) {
            let _ = steam_id2(id64);
            let id3 = steam_id3(id64);
            if (id64 >> 56) <= 0xFF && (id64 >> 52) & 0xF != 9 && (id64 >> 52) & 0xF < 11 {
                // Every layout steam_id3 can name parses back to the same number, except
                // chat ids whose flags the letter does not carry.
                if (id64 >> 52) & 0xF != 8 {
                    prop_assert_eq!(parse_id3_any(&id3), Some(id64));
                }
            }
        }
    }
}
