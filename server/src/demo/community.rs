//! The demo community's members and what they do on Discord: engagement, an evening and
//! weekend rhythm, channel switches, AFK moves, mute toggles and sessions that run past
//! midnight, chat, joins through invites, promotions and a raid night every Friday. The
//! same generators feed `guildhall demo`, the tests and the benchmarks.

use chrono::{DateTime, Datelike, Duration, NaiveDate, Utc, Weekday};
use chrono_tz::Tz;
use collectors::discord::{
    JoinSource, MemberEvent, MemberEventKind, MemberOrigin, MessageEvent, ScheduledEventChange,
    VoiceEvent, VoiceOrigin,
};
use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;

/// The demo guild and its channels.
pub const DEMO_GUILD_ID: i64 = 900_000_000_000_000_001;
pub const DEMO_AFK_CHANNEL_ID: i64 = 910_000_000_000_000_099;
pub const DEMO_CHANNEL_IDS: [i64; 5] = [
    910_000_000_000_000_001,
    910_000_000_000_000_002,
    910_000_000_000_000_003,
    910_000_000_000_000_004,
    910_000_000_000_000_005,
];
/// The demo guild's text channels, and a thread in the first one.
pub const DEMO_TEXT_CHANNEL_IDS: [i64; 3] = [
    910_000_000_000_000_201,
    910_000_000_000_000_202,
    910_000_000_000_000_203,
];
pub const DEMO_THREAD_ID: i64 = 910_000_000_000_000_301;
/// First names the demo members' server nicknames are made of.
const DEMO_FIRST_NAMES: [&str; 48] = [
    "Mira", "Jonas", "Lena", "Felix", "Aylin", "Noah", "Emma", "Luca", "Sofia", "Milan", "Hannah",
    "Elias", "Lina", "Paul", "Zoe", "Ben", "Ida", "Finn", "Nele", "Theo", "Clara", "Emil", "Mia",
    "Anton", "Leonie", "Jakob", "Frieda", "Oskar", "Yara", "Henri", "Greta", "Mats", "Ella",
    "Karl", "Romy", "Levi", "Marie", "Jonte", "Alma", "Till", "Pia", "Moritz", "Nora", "Malte",
    "Lotta", "Samu", "Ronja", "Vito",
];

/// Member `index`'s server nickname: a first name, numbered from the second round on.
pub fn demo_nickname(index: u32) -> String {
    let name = DEMO_FIRST_NAMES[index as usize % DEMO_FIRST_NAMES.len()];
    match index as usize / DEMO_FIRST_NAMES.len() {
        0 => name.to_owned(),
        round => format!("{name}{}", round + 1),
    }
}

/// Member `i` has Discord user id `DEMO_USER_BASE + i`.
pub const DEMO_USER_BASE: i64 = 800_000_000_000_000_000;
/// Members 0, 1 and 2 are the demo login's admin, leader and member: regulars who are there
/// from the first day and stay, so each demo role has activity of its own to look at.
pub const DEMO_LOGIN_MEMBERS: u32 = 3;

/// What to generate.
#[derive(Clone, Copy, Debug)]
pub struct DemoParams {
    pub members: u32,
    /// Days of history; the last one is the day before `end`.
    pub days: u32,
    pub seed: u64,
    /// First day not generated (today, for `guildhall demo`).
    pub end: NaiveDate,
    pub timezone: Tz,
}

/// How often a member shows up.
#[derive(Clone, Copy)]
pub(crate) struct Member {
    pub(crate) user_id: i64,
    /// Chance of a voice evening on a weekday.
    pub(crate) daily_chance: f64,
    /// The member's first day in the guild (index into the generated days).
    pub(crate) first_day: u32,
    /// Index of the day they stop coming, if they churn.
    pub(crate) last_day: Option<u32>,
    favourite_channel: usize,
}

/// Generates the community's voice events, member by member. The same parameters always
/// give the same events.
pub fn generate(params: &DemoParams) -> impl Iterator<Item = VoiceEvent> + '_ {
    (0..params.members).flat_map(move |index| member_events(params, index))
}

/// Member `index`'s profile, and the random stream that goes on to their voice visits.
pub(crate) fn member_profile(params: &DemoParams, index: u32) -> (Member, ChaCha8Rng) {
    // Each member has their own stream, so adding members does not change existing ones.
    let mut rng = ChaCha8Rng::seed_from_u64(params.seed ^ (u64::from(index) << 20) ^ 0x9E37_79B9);
    let tier: f64 = rng.r#gen();
    let demo_login = index < DEMO_LOGIN_MEMBERS;
    let daily_chance = if demo_login {
        rng.gen_range(0.45..0.7) // the demo login's own users: regulars
    } else if tier < 0.15 {
        rng.gen_range(0.55..0.9) // core members
    } else if tier < 0.5 {
        rng.gen_range(0.2..0.45) // regulars
    } else {
        rng.gen_range(0.02..0.12) // occasional visitors
    };
    let first_day = if rng.gen_bool(0.7) || demo_login {
        0
    } else {
        rng.gen_range(0..params.days.max(1))
    };
    let last_day = rng
        .gen_bool(0.15)
        .then(|| rng.gen_range(first_day..params.days.max(first_day + 1)))
        .filter(|_| !demo_login);
    let member = Member {
        user_id: DEMO_USER_BASE + i64::from(index),
        daily_chance,
        first_day,
        last_day,
        favourite_channel: rng.gen_range(0..DEMO_CHANNEL_IDS.len()),
    };
    (member, rng)
}

fn member_events(params: &DemoParams, index: u32) -> Vec<VoiceEvent> {
    let (member, mut rng) = member_profile(params, index);
    let mut events = Vec::new();
    let start_day = params.end - Duration::days(i64::from(params.days));
    // A member is in one place at a time: a visit starts only after the previous one (and a
    // break) is over, even when a long night ran into the next day.
    let mut busy_until = DateTime::<Utc>::MIN_UTC;
    for day_index in member.first_day..params.days {
        if member.last_day.is_some_and(|last| day_index > last) {
            break;
        }
        let day = start_day + Duration::days(i64::from(day_index));
        let weekend = matches!(day.weekday(), Weekday::Fri | Weekday::Sat | Weekday::Sun);
        let chance = (member.daily_chance
            * if weekend { 1.4 } else { 1.0 }
            * newcomer_fade(params, index, &member, day_index))
        .min(0.95);
        if !rng.gen_bool(chance) {
            continue;
        }
        let sessions = if rng.gen_bool(0.15) { 2 } else { 1 };
        let mut not_before = busy_until.max(local_instant(params.timezone, day, 8 * 60));
        for _ in 0..sessions {
            // Evenings mostly (17:00–23:30 local), some afternoons, more on weekends.
            let minute_of_day = if rng.gen_bool(if weekend { 0.35 } else { 0.15 }) {
                rng.gen_range(12 * 60..17 * 60)
            } else {
                rng.gen_range(17 * 60..23 * 60 + 30)
            };
            let start = local_instant(params.timezone, day, minute_of_day).max(not_before);
            let minutes: i64 = if rng.gen_bool(0.05) {
                rng.gen_range(240..420) // a long night
            } else {
                rng.gen_range(5..150)
            };
            let end = start + Duration::minutes(minutes);
            push_session(&mut events, &mut rng, &member, start, end);
            not_before = end + Duration::minutes(rng.gen_range(20..120));
        }
        busy_until = not_before;
    }
    events
}

/// How much of their usual activity a member who joined during the history still shows,
/// `day_index` days in: most newcomers fade over a few weeks, about a third become regulars
/// (as in real communities, and so the retention cohorts have their usual shape). Members
/// who were there from the first day do not fade. From a stream of its own, so the rest of
/// the community stays as it is.
fn newcomer_fade(params: &DemoParams, index: u32, member: &Member, day_index: u32) -> f64 {
    if member.first_day == 0 {
        return 1.0;
    }
    let mut rng = ChaCha8Rng::seed_from_u64(params.seed ^ (u64::from(index) << 20) ^ 0xFADE_0001);
    if rng.gen_bool(0.35) {
        return 1.0;
    }
    let fade_days: f64 = rng.gen_range(7.0..45.0);
    let days_in = f64::from(day_index.saturating_sub(member.first_day));
    (-days_in / fade_days).exp().max(0.02)
}

/// Generates the community's messages, member by member, over the same days and with the
/// same arrivals and departures as their voice visits: some members mostly talk, some
/// mostly write. The same parameters always give the same messages.
pub fn generate_messages(params: &DemoParams) -> impl Iterator<Item = MessageEvent> + '_ {
    (0..params.members).flat_map(move |index| member_messages(params, index))
}

fn member_messages(params: &DemoParams, index: u32) -> Vec<MessageEvent> {
    let (member, _) = member_profile(params, index);
    // A stream of its own: the voice visits stay as they are.
    let mut rng = ChaCha8Rng::seed_from_u64(params.seed ^ (u64::from(index) << 20) ^ 0x5EED_C4A7);
    let chat_chance = (member.daily_chance * rng.gen_range(0.3..1.6)).min(0.9);
    let start_day = params.end - Duration::days(i64::from(params.days));
    let mut messages = Vec::new();
    for day_index in member.first_day..params.days {
        if member.last_day.is_some_and(|last| day_index > last) {
            break;
        }
        if !rng.gen_bool(chat_chance * newcomer_fade(params, index, &member, day_index)) {
            continue;
        }
        let day = start_day + Duration::days(i64::from(day_index));
        for _ in 0..rng.gen_range(1..9) {
            let at = local_instant(params.timezone, day, rng.gen_range(9 * 60..24 * 60));
            // Snowflake: milliseconds since Discord's epoch, then worker and sequence bits
            // that keep the ids of members apart.
            let millis = at.timestamp_millis() - 1_420_070_400_000 + rng.gen_range(0..60_000);
            let id = (millis << 22) | (i64::from(index % 1024) << 12) | rng.gen_range(0..4096);
            let in_thread = rng.gen_bool(0.1);
            messages.push(MessageEvent {
                message_id: id,
                guild_id: DEMO_GUILD_ID,
                channel_id: if in_thread {
                    DEMO_THREAD_ID
                } else {
                    DEMO_TEXT_CHANNEL_IDS[rng.gen_range(0..DEMO_TEXT_CHANNEL_IDS.len())]
                },
                parent_channel_id: in_thread.then_some(DEMO_TEXT_CHANNEL_IDS[0]),
                author_id: member.user_id,
                created_at: collectors::discord::snowflake_time(id),
                char_count: Some(rng.gen_range(2..240)),
                attachment_count: i32::from(rng.gen_bool(0.08)),
                is_reply: rng.gen_bool(0.3),
            });
        }
    }
    messages
}

/// Generates the community's joins and leaves: members who are there from the first day
/// joined in the two weeks before it, the others on their first day; members who stop coming
/// leave a few days to weeks later. The same parameters always give the same events.
pub fn generate_member_events(params: &DemoParams) -> impl Iterator<Item = MemberEvent> + '_ {
    (0..params.members).flat_map(move |index| member_joins(params, index))
}

fn member_joins(params: &DemoParams, index: u32) -> Vec<MemberEvent> {
    let (member, _) = member_profile(params, index);
    let mut rng = ChaCha8Rng::seed_from_u64(params.seed ^ (u64::from(index) << 20) ^ 0x301E_5EED);
    let start_day = params.end - Duration::days(i64::from(params.days));
    let join_day = if member.first_day == 0 {
        // Shortly before the generated history starts (so their cohorts have activity).
        start_day - Duration::days(rng.gen_range(0..14))
    } else {
        start_day + Duration::days(i64::from(member.first_day))
    };
    // Early in the morning: visits start at 08:00 and messages at 09:00.
    let joined_at = local_instant(params.timezone, join_day, rng.gen_range(6 * 60..8 * 60));
    let event = |kind, joined_at: Option<DateTime<Utc>>, observed_at| MemberEvent {
        guild_id: DEMO_GUILD_ID,
        user_id: member.user_id,
        kind,
        joined_at,
        roles: Vec::new(),
        nickname: Some(demo_nickname(index)),
        pending: false,
        origin: MemberOrigin::Demo,
        observed_at,
        source: None,
    };
    let mut join = event(MemberEventKind::Join, Some(joined_at), joined_at);
    if member.first_day > 0 {
        // Joined while the bot watched: through one of the guild's invites, mostly.
        join.source = Some(demo_source(&mut rng, &member));
    }
    let mut events = vec![join];
    if index < DEMO_LOGIN_MEMBERS {
        // The demo login's members hold the Member role from the start.
        events[0].roles = vec![DEMO_ROLES[2].0];
    }
    if let Some(last) = member.last_day {
        let leave_day = start_day + Duration::days(i64::from(last) + rng.gen_range(3..30));
        if leave_day < params.end {
            let left_at =
                local_instant(params.timezone, leave_day, rng.gen_range(10 * 60..23 * 60));
            events.push(event(MemberEventKind::Leave, None, left_at));
        }
    }
    // Some regulars are promoted to Officer a while after they joined.
    if member.daily_chance > 0.5 && rng.gen_bool(0.3) {
        let promoted = joined_at + Duration::days(rng.gen_range(20..90));
        let before_leaving = events
            .iter()
            .all(|e| e.kind != MemberEventKind::Leave || e.observed_at > promoted);
        if promoted.date_naive() < params.end && before_leaving {
            let mut update = event(MemberEventKind::Update, Some(joined_at), promoted);
            update.roles = vec![DEMO_ROLES[1].0];
            events.insert(1, update);
        }
    }
    events
}

/// The guild's invites: `(code, inviter index)`. Friends' invites bring people who stay;
/// the stream's invite brings many who fade.
pub const DEMO_INVITES: [(&str, u32); 3] = [("friends", 0), ("twitch", 1), ("partner", 2)];

/// The guild's roles besides @everyone.
pub const DEMO_ROLES: [(i64, &str); 3] = [
    (930_000_000_000_000_001, "Moderator"),
    (930_000_000_000_000_002, "Officer"),
    (930_000_000_000_000_003, "Member"),
];

fn demo_source(rng: &mut ChaCha8Rng, member: &Member) -> JoinSource {
    if rng.gen_bool(0.12) {
        return JoinSource::unknown("not_found");
    }
    let (code, inviter) = if member.daily_chance > 0.3 {
        DEMO_INVITES[if rng.gen_bool(0.7) { 0 } else { 2 }]
    } else {
        DEMO_INVITES[if rng.gen_bool(0.7) { 1 } else { 2 }]
    };
    JoinSource::invite(code.to_owned(), Some(DEMO_USER_BASE + i64::from(inviter)))
}

/// The id of the demo's `n`-th scheduled event.
const DEMO_EVENT_BASE: i64 = 940_000_000_000_000_000;

/// The guild's scheduled events: a raid night every Friday at 20:00 (local) in the first
/// voice channel, one cancelled, and the next one still to come; the interested users are
/// most of those who came (found in the generated voice), plus some who did not.
pub fn generate_scheduled_events(params: &DemoParams) -> Vec<ScheduledEventChange> {
    let start_day = params.end - Duration::days(i64::from(params.days));
    let channel = DEMO_CHANNEL_IDS[0];
    let mut fridays: Vec<NaiveDate> = (0..=params.days + 7)
        .map(|i| start_day + Duration::days(i64::from(i)))
        .filter(|day| day.weekday() == Weekday::Fri)
        .collect();
    fridays.truncate(fridays.iter().take_while(|day| **day < params.end).count() + 1);
    // Each member's time in the event channel, from the generated voice.
    let mut presence: Vec<(i64, DateTime<Utc>, DateTime<Utc>)> = Vec::new();
    for index in 0..params.members {
        let mut since: Option<DateTime<Utc>> = None;
        for event in member_events(params, index) {
            match (since, event.channel_id == Some(channel)) {
                (None, true) => since = Some(event.occurred_at),
                (Some(from), false) => {
                    presence.push((event.user_id, from, event.occurred_at));
                    since = None;
                }
                _ => {}
            }
        }
    }
    let mut rng = ChaCha8Rng::seed_from_u64(params.seed ^ 0xE7E7_5EED);
    let mut changes = Vec::new();
    for (n, friday) in fridays.iter().enumerate() {
        let id = DEMO_EVENT_BASE + n as i64;
        let starts = local_instant(params.timezone, *friday, 20 * 60);
        let ends = starts + Duration::hours(2);
        let created = starts - Duration::days(6);
        let upcoming = *friday >= params.end;
        let canceled = !upcoming && n % 9 == 4;
        let description = |change: &str, status: &str, at: DateTime<Utc>| ScheduledEventChange {
            guild_id: DEMO_GUILD_ID,
            scheduled_event_id: id,
            change: change.to_owned(),
            user_id: None,
            name: Some(format!("Raid night #{}", n + 1)),
            channel_id: Some(channel),
            kind: Some("voice".to_owned()),
            status: Some(status.to_owned()),
            starts_at: Some(starts),
            ends_at: Some(ends),
            origin: "demo".to_owned(),
            observed_at: at,
        };
        changes.push(description("create", "scheduled", created));
        let interest = |user_id: i64, change: &str, at: DateTime<Utc>| ScheduledEventChange {
            guild_id: DEMO_GUILD_ID,
            scheduled_event_id: id,
            change: change.to_owned(),
            user_id: Some(user_id),
            name: None,
            channel_id: None,
            kind: None,
            status: None,
            starts_at: None,
            ends_at: None,
            origin: "demo".to_owned(),
            observed_at: at,
        };
        let window = (starts - Duration::minutes(15), ends + Duration::minutes(15));
        let mut came: Vec<i64> = presence
            .iter()
            .filter(|(_, from, to)| (*to.min(&window.1) - *from.max(&window.0)).num_minutes() >= 10)
            .map(|(user, _, _)| *user)
            .collect();
        came.sort_unstable();
        came.dedup();
        let mut interested: Vec<i64> = came.iter().copied().filter(|_| rng.gen_bool(0.7)).collect();
        for _ in 0..rng.gen_range(1..5) {
            interested.push(DEMO_USER_BASE + i64::from(rng.gen_range(0..params.members.max(1))));
        }
        if upcoming {
            interested = (0..rng.gen_range(4..12))
                .map(|_| DEMO_USER_BASE + i64::from(rng.gen_range(0..params.members.max(1))))
                .collect();
        }
        interested.sort_unstable();
        interested.dedup();
        for user in interested {
            let at = created + Duration::minutes(rng.gen_range(10..6 * 24 * 60));
            changes.push(interest(user, "user_add", at.min(starts)));
        }
        if canceled {
            changes.push(description(
                "update",
                "canceled",
                starts - Duration::hours(3),
            ));
        } else if !upcoming {
            changes.push(description("update", "active", starts));
            changes.push(description("update", "completed", ends));
        }
    }
    changes
}

/// One visit: join, maybe mute, maybe switch channel, maybe drift into AFK, leave.
fn push_session(
    events: &mut Vec<VoiceEvent>,
    rng: &mut ChaCha8Rng,
    member: &Member,
    start: DateTime<Utc>,
    end: DateTime<Utc>,
) {
    let event = |channel_id: Option<i64>, self_mute: bool, occurred_at: DateTime<Utc>| VoiceEvent {
        guild_id: DEMO_GUILD_ID,
        user_id: member.user_id,
        channel_id,
        self_mute,
        self_deaf: false,
        origin: VoiceOrigin::Demo,
        occurred_at,
    };
    let channel = if rng.gen_bool(0.7) {
        DEMO_CHANNEL_IDS[member.favourite_channel]
    } else {
        DEMO_CHANNEL_IDS[rng.gen_range(0..DEMO_CHANNEL_IDS.len())]
    };
    let length = (end - start).num_seconds().max(60);
    events.push(event(Some(channel), false, start));
    // Within the visit: maybe a channel switch, maybe a mute, in time order, each in the
    // channel the member is in at that moment.
    let switch = rng.gen_bool(0.2).then(|| {
        let at = start + Duration::seconds(rng.gen_range(1..length));
        (
            at,
            DEMO_CHANNEL_IDS[rng.gen_range(0..DEMO_CHANNEL_IDS.len())],
        )
    });
    let mute_at = rng
        .gen_bool(0.3)
        .then(|| start + Duration::seconds(rng.gen_range(1..length)));
    let mut muted = false;
    let mut current = channel;
    let mut changes: Vec<(DateTime<Utc>, Option<i64>)> = Vec::new();
    if let Some((at, other)) = switch.filter(|(_, other)| *other != channel) {
        changes.push((at, Some(other)));
    }
    if let Some(at) = mute_at {
        changes.push((at, None));
    }
    changes.sort_by_key(|(at, _)| *at);
    for (at, switch_to) in changes {
        match switch_to {
            Some(other) => current = other,
            None => muted = true,
        }
        events.push(event(Some(current), muted, at));
    }
    if rng.gen_bool(0.08) {
        // Idle: Discord moves them to the AFK channel, where they sit before leaving.
        events.push(event(Some(DEMO_AFK_CHANNEL_ID), true, end));
        let afk_end = end + Duration::minutes(rng.gen_range(5..20));
        events.push(event(None, false, afk_end));
    } else {
        events.push(event(None, false, end));
    }
}

/// The instant of a local time of day (minutes after midnight) on a local day.
pub(crate) fn local_instant(tz: Tz, day: NaiveDate, minute_of_day: u32) -> DateTime<Utc> {
    let midnight = day.and_hms_opt(0, 0, 0).unwrap_or_default();
    crate::clock::local_instant(tz, midnight + Duration::minutes(i64::from(minute_of_day)))
}

#[cfg(test)]
mod tests {
    #[test]
    fn every_member_joins_once_before_their_first_visit_and_leavers_leave_after_their_last() {
        let params = params(7);
        let joins: Vec<MemberEvent> = generate_member_events(&params).collect();
        let voice: Vec<VoiceEvent> = generate(&params).collect();
        for index in 0..params.members {
            let user = DEMO_USER_BASE + i64::from(index);
            let mine: Vec<&MemberEvent> = joins.iter().filter(|e| e.user_id == user).collect();
            assert_eq!(mine[0].kind, MemberEventKind::Join, "member {index}");
            assert!(mine.len() <= 3);
            // A promotion comes between the join and a leave.
            let mine: Vec<&MemberEvent> = mine
                .into_iter()
                .filter(|e| e.kind != MemberEventKind::Update)
                .collect();
            let first_visit = voice
                .iter()
                .filter(|e| e.user_id == user)
                .map(|e| e.occurred_at)
                .min();
            let last_visit = voice
                .iter()
                .filter(|e| e.user_id == user)
                .map(|e| e.occurred_at)
                .max();
            if let Some(first) = first_visit {
                assert!(
                    mine[0].observed_at <= first,
                    "member {index} visits before joining"
                );
            }
            if let (Some(leave), Some(last)) = (mine.get(1), last_visit) {
                assert_eq!(leave.kind, MemberEventKind::Leave);
                assert!(
                    leave.observed_at > last,
                    "member {index} visits after leaving"
                );
            }
        }
    }

    #[test]
    fn messages_come_from_members_on_their_days_with_unique_ids() {
        let params = params(7);
        let messages: Vec<MessageEvent> = generate_messages(&params).collect();
        assert!(messages.len() > 100, "{}", messages.len());
        let ids: std::collections::HashSet<i64> = messages.iter().map(|m| m.message_id).collect();
        assert_eq!(ids.len(), messages.len(), "every message id is unique");
        for m in &messages {
            assert_eq!(
                m.created_at,
                collectors::discord::snowflake_time(m.message_id)
            );
            assert_eq!(
                m.parent_channel_id.is_some(),
                m.channel_id == DEMO_THREAD_ID
            );
            let day = m.created_at.with_timezone(&params.timezone).date_naive();
            assert!(day < params.end, "{day} is not before {}", params.end);
        }
        // The same seed gives the same messages.
        assert_eq!(generate_messages(&params).collect::<Vec<_>>(), messages);
    }

    use super::*;

    fn params(seed: u64) -> DemoParams {
        DemoParams {
            members: 40,
            days: 30,
            seed,
            end: NaiveDate::from_ymd_opt(2026, 11, 1).expect("valid date"),
            timezone: chrono_tz::Europe::Berlin,
        }
    }

    #[test]
    fn same_seed_gives_the_same_community() {
        let a: Vec<_> = generate(&params(7)).collect();
        let b: Vec<_> = generate(&params(7)).collect();
        assert!(!a.is_empty());
        assert_eq!(a, b);
    }

    #[test]
    fn a_member_is_in_one_place_at_a_time_and_no_observation_repeats() {
        let p = DemoParams {
            members: 300,
            days: 365,
            ..params(5)
        };
        let events: Vec<_> = generate(&p).collect();
        let keys: std::collections::HashSet<_> =
            events.iter().map(VoiceEvent::source_key).collect();
        assert_eq!(keys.len(), events.len(), "an observation repeats");
        // Per member, events are in time order: visits never overlap.
        for pair in events.windows(2) {
            if pair[0].user_id == pair[1].user_id {
                assert!(
                    pair[0].occurred_at <= pair[1].occurred_at,
                    "overlap: {pair:?}"
                );
            }
        }
    }

    #[test]
    fn the_demo_login_users_come_regularly_from_the_first_week_to_the_last() {
        for seed in [1, 7, 42] {
            let p = DemoParams {
                days: 120,
                ..params(seed)
            };
            let window_start = local_instant(p.timezone, p.end - Duration::days(120), 0);
            let window_end = local_instant(p.timezone, p.end, 0);
            let events: Vec<_> = generate(&p).collect();
            for index in 0..DEMO_LOGIN_MEMBERS {
                let user = DEMO_USER_BASE + i64::from(index);
                let mut visits: Vec<DateTime<Utc>> = vec![window_start];
                visits.extend(
                    events
                        .iter()
                        .filter(|e| e.user_id == user && e.channel_id.is_some())
                        .map(|e| e.occurred_at),
                );
                visits.push(window_end);
                let longest_gap = visits
                    .windows(2)
                    .map(|pair| pair[1] - pair[0])
                    .max()
                    .expect("two instants");
                assert!(
                    longest_gap < Duration::days(8),
                    "seed {seed}, member {index}: {} days without a visit",
                    longest_gap.num_days()
                );
            }
        }
    }

    #[test]
    fn another_seed_gives_another_community() {
        let a: Vec<_> = generate(&params(7)).collect();
        let b: Vec<_> = generate(&params(8)).collect();
        assert_ne!(a, b);
    }

    #[test]
    fn every_visit_ends_with_a_leave_inside_the_generated_window() {
        let p = params(3);
        let start = local_instant(p.timezone, p.end - Duration::days(30), 0);
        let mut by_user: std::collections::BTreeMap<i64, Vec<&VoiceEvent>> = Default::default();
        let events: Vec<_> = generate(&p).collect();
        for e in &events {
            assert!(e.occurred_at >= start, "event before the window: {e:?}");
            by_user.entry(e.user_id).or_default().push(e);
        }
        for (user, mut evs) in by_user {
            evs.sort_by_key(|e| e.occurred_at);
            assert_eq!(
                evs.last().map(|e| e.channel_id),
                Some(None),
                "user {user} never leaves"
            );
        }
    }

    #[test]
    fn the_community_has_afk_moves_switches_and_sessions_past_midnight() {
        let p = DemoParams {
            members: 120,
            days: 60,
            ..params(42)
        };
        let events: Vec<_> = generate(&p).collect();
        assert!(
            events
                .iter()
                .any(|e| e.channel_id == Some(DEMO_AFK_CHANNEL_ID))
        );
        // A session past midnight: a join on one local day followed by that user's leave on the next.
        let mut crossing = 0;
        let mut open: std::collections::HashMap<i64, DateTime<Utc>> = Default::default();
        for e in &events {
            match e.channel_id {
                Some(_) => {
                    open.entry(e.user_id).or_insert(e.occurred_at);
                }
                None => {
                    if let Some(start) = open.remove(&e.user_id) {
                        let tz = p.timezone;
                        if start.with_timezone(&tz).date_naive()
                            != e.occurred_at.with_timezone(&tz).date_naive()
                        {
                            crossing += 1;
                        }
                    }
                }
            }
        }
        assert!(crossing > 0, "no session crosses midnight");
        // More visits on Saturdays than on Tuesdays.
        let joins_on = |weekday: Weekday| {
            events
                .iter()
                .filter(|e| e.channel_id.is_some() && !e.self_mute)
                .filter(|e| e.occurred_at.with_timezone(&p.timezone).weekday() == weekday)
                .count()
        };
        assert!(joins_on(Weekday::Sat) > joins_on(Weekday::Tue));
    }
}
