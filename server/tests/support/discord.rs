//! The Discord the collector tests share: a test guild with its channels and members on the
//! fake Discord, the real bot recording it, and what the bot wrote, read back as named rows.

use super::bot::RunningBot;
use super::fake_discord::{self, FakeDiscord, GatewayConnection, GuildSpec, Member};
use super::pipeline::VoiceSession;
use chrono::{DateTime, Utc};
use collectors::ingest::SpoolConfig;
use collectors::metrics::{Metrics, SourceLabels};
use guildhall::pipeline::Pipeline;
use serde_json::{Value, json};
use serenity::model::event::{Event, GatewayEvent};
use sqlx::PgPool;
use std::time::Duration;

pub const GUILD: u64 = 1_100_000_000_000_000_001;

pub const LOBBY: u64 = 1_100_000_000_000_000_010;

pub const CS2: u64 = 1_100_000_000_000_000_011;

pub const AFK: u64 = 1_100_000_000_000_000_099;

pub const ALICE: Member = Member {
    id: 1_300_000_000_000_000_001,
    name: "alice",
    bot: false,
};

pub const BOB: Member = Member {
    id: 1_300_000_000_000_000_002,
    name: "bob",
    bot: false,
};

pub const CAROL: Member = Member {
    id: 1_300_000_000_000_000_003,
    name: "carol",
    bot: false,
};

pub const DAVE: Member = Member {
    id: 1_300_000_000_000_000_004,
    name: "dave",
    bot: false,
};

pub const MUSICBOT: Member = Member {
    id: 1_300_000_000_000_000_009,
    name: "musicbot",
    bot: true,
};

/// GUILDS | GUILD_MEMBERS | GUILD_INVITES | GUILD_VOICE_STATES | GUILD_MESSAGES |
/// GUILD_SCHEDULED_EVENTS; in particular not
/// MESSAGE_CONTENT (1 << 15) unless configured.
pub const EXPECTED_INTENTS: u64 = 1 | (1 << 1) | (1 << 6) | (1 << 7) | (1 << 9) | (1 << 16);

pub const MESSAGE_CONTENT: u64 = 1 << 15;

pub fn id(snowflake: u64) -> i64 {
    i64::try_from(snowflake).expect("snowflake fits i64")
}

pub fn guild_spec(voice: Vec<(u64, u64)>) -> GuildSpec {
    GuildSpec {
        id: GUILD,
        name: "Guildhall Test",
        channels: vec![(LOBBY, "Lobby"), (CS2, "CS2"), (AFK, "AFK")],
        afk_channel_id: Some(AFK),
        members: vec![ALICE, BOB, CAROL, DAVE, MUSICBOT],
        voice,
        events: vec![],
        roles: vec![],
    }
}

/// Starts the bot recording the test guild.
pub fn start_bot(pool: &PgPool, fake: &FakeDiscord, metrics: &Metrics) -> RunningBot {
    start_bot_with(pool, fake, metrics, None, false)
}

/// Starts the bot recording the test guild, with a spool and message content as given.
pub fn start_bot_with(
    pool: &PgPool,
    fake: &FakeDiscord,
    metrics: &Metrics,
    spool: Option<SpoolConfig>,
    message_content: bool,
) -> RunningBot {
    RunningBot::start(pool, fake, metrics, spool, id(GUILD), message_content)
}

/// Waits until the bot connected, then sends READY and GUILD_CREATE.
pub async fn connect(fake: &FakeDiscord, spec: &GuildSpec) -> GatewayConnection {
    let conn = fake.next_connection().await;
    conn.dispatch("READY", fake_discord::ready(&[GUILD], &fake.gateway_url));
    conn.dispatch("GUILD_CREATE", fake_discord::guild_create(spec));
    conn
}

/// A row of `bronze.discord_voice_events`.
#[derive(sqlx::FromRow, Debug, Clone, PartialEq)]
pub struct VoiceEventRow {
    pub user_id: i64,
    pub channel_id: Option<i64>,
    pub origin: String,
    pub self_mute: bool,
    pub occurred_at: DateTime<Utc>,
}

/// Every voice event in bronze, in the order they happened.
pub async fn voice_events(pool: &PgPool) -> Vec<VoiceEventRow> {
    sqlx::query_as(
        "select user_id, channel_id, origin, self_mute, occurred_at
         from bronze.discord_voice_events order by occurred_at, event_id",
    )
    .fetch_all(pool)
    .await
    .expect("bronze rows")
}

/// Waits until bronze holds exactly `n` rows.
pub async fn wait_for_rows(pool: &PgPool, n: usize) -> Vec<VoiceEventRow> {
    let deadline = tokio::time::Instant::now() + Duration::from_secs(15);
    loop {
        let rows = voice_events(pool).await;
        if rows.len() == n {
            return rows;
        }
        assert!(
            rows.len() < n && tokio::time::Instant::now() < deadline,
            "expected {n} bronze rows, have {}: {rows:?}",
            rows.len()
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

pub async fn wait_until(what: &str, mut condition: impl FnMut() -> bool) {
    let deadline = tokio::time::Instant::now() + Duration::from_secs(15);
    while !condition() {
        assert!(
            tokio::time::Instant::now() < deadline,
            "timed out waiting for {what}"
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

/// Reads `what` until there are at least `n` rows (for up to 15 seconds) and returns them.
pub async fn wait_for_at_least<T: std::fmt::Debug, F: Future<Output = Vec<T>>>(
    what: &str,
    n: usize,
    mut read: impl FnMut() -> F,
) -> Vec<T> {
    let deadline = tokio::time::Instant::now() + Duration::from_secs(15);
    loop {
        let rows = read().await;
        if rows.len() >= n {
            return rows;
        }
        assert!(
            tokio::time::Instant::now() < deadline,
            "expected {n} {what}, have {rows:?}"
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

/// Sends a voice state update and waits until its row is in bronze.
pub async fn voice_update(
    pool: &PgPool,
    conn: &GatewayConnection,
    member: &Member,
    channel: Option<u64>,
    self_mute: bool,
    rows_after: usize,
) {
    conn.dispatch(
        "VOICE_STATE_UPDATE",
        fake_discord::voice_state_update(GUILD, member, channel, self_mute),
    );
    wait_for_rows(pool, rows_after).await;
}

pub fn received(metrics: &Metrics) -> u64 {
    metrics
        .collector_events
        .get_or_create(&SourceLabels {
            source: "discord_voice".to_owned(),
        })
        .get()
}

pub fn reconciliations(metrics: &Metrics) -> u64 {
    metrics
        .reconciliations
        .get_or_create(&SourceLabels {
            source: "discord_voice".to_owned(),
        })
        .get()
}

/// The guild's `observed_until`, if the guild row exists and has been stamped.
pub async fn stamped_until(pool: &PgPool) -> Option<DateTime<Utc>> {
    sqlx::query_scalar("select observed_until from app.discord_guilds where guild_id = $1")
        .bind(id(GUILD))
        .fetch_optional(pool)
        .await
        .expect("guild row")
        .flatten()
}

pub async fn observed_until(pool: &PgPool) -> DateTime<Utc> {
    stamped_until(pool).await.expect("observed_until is set")
}

/// Waits until the guild's `observed_until` has reached `at`.
pub async fn wait_for_observed_until(pool: &PgPool, at: DateTime<Utc>) {
    let deadline = tokio::time::Instant::now() + Duration::from_secs(15);
    loop {
        let stamped = stamped_until(pool).await;
        if stamped.is_some_and(|stamped| stamped >= at) {
            return;
        }
        assert!(
            tokio::time::Instant::now() < deadline,
            "observed_until stayed at {stamped:?}, expected at least {at}"
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

pub fn session(
    user: &Member,
    channel: u64,
    started: DateTime<Utc>,
    ended: Option<(DateTime<Utc>, &str)>,
    is_afk: bool,
) -> VoiceSession {
    VoiceSession {
        discord_user_id: id(user.id),
        channel_id: id(channel),
        started_at: started,
        ended_at: ended.map(|(at, _)| at),
        seconds: ended.map(|(at, _)| (at - started).num_seconds()),
        is_afk,
        end_reason: ended.map(|(_, reason)| reason.to_owned()),
    }
}

pub fn pipeline(pool: &PgPool) -> Pipeline {
    Pipeline::new(pool.clone(), chrono_tz::Europe::Berlin, Metrics::new())
}

pub fn at(rfc3339: &str) -> DateTime<Utc> {
    DateTime::parse_from_rfc3339(rfc3339)
        .expect("valid timestamp")
        .with_timezone(&Utc)
}

pub fn assert_dispatch_is_known(event: &str, d: Value) {
    let frame = json!({ "op": 0, "t": event, "s": 1, "d": d });
    let parsed: GatewayEvent = serde_json::from_value(frame).expect("gateway frame parses");
    match parsed {
        GatewayEvent::Dispatch(_, Event::Unknown(unknown)) => {
            panic!("{event} arrives as an unknown event: {unknown:?}")
        }
        GatewayEvent::Dispatch(..) => {}
        other => panic!("{event} is not a dispatch: {other:?}"),
    }
}

pub const CHAT: u64 = 1_100_000_000_000_000_020;

pub const THREAD: u64 = 1_100_000_000_000_000_021;

/// Content no table, dump or log may ever hold.
pub const SENTINEL: &str = "guildhall-sentinel-content-7f3a";

/// A MESSAGE_CREATE in the guild: `kind` 0 is a regular message, 19 a reply, 7 a join notice.
pub fn message_create(
    id: u64,
    channel: u64,
    author: &Member,
    kind: u8,
    attachments: usize,
) -> Value {
    json!({
        "id": id.to_string(),
        "channel_id": channel.to_string(),
        "guild_id": GUILD.to_string(),
        "author": {
            "id": author.id.to_string(),
            "username": author.name,
            "discriminator": "0",
            "global_name": null,
            "avatar": null,
            "bot": author.bot
        },
        "content": SENTINEL,
        "timestamp": "2026-11-30T18:00:00.000000+00:00",
        "edited_timestamp": null,
        "tts": false,
        "mention_everyone": false,
        "mentions": [],
        "mention_roles": [],
        "attachments": (0..attachments).map(|n| json!({
            "id": (id + 1000 + n as u64).to_string(),
            "filename": "screenshot.png",
            "size": 1024,
            "url": "https://cdn.example/screenshot.png",
            "proxy_url": "https://media.example/screenshot.png"
        })).collect::<Vec<_>>(),
        "embeds": [],
        "pinned": false,
        "type": kind
    })
}

/// A row of `bronze.discord_member_events`.
#[derive(sqlx::FromRow, Debug, Clone, PartialEq)]
pub struct MemberEventRow {
    pub user_id: i64,
    pub kind: String,
    pub joined_at: Option<DateTime<Utc>>,
    pub roles: Vec<i64>,
    pub nickname: Option<String>,
    pub origin: String,
}

/// Every member event in bronze, in the order they were written.
pub async fn member_events(pool: &PgPool) -> Vec<MemberEventRow> {
    sqlx::query_as(
        "select user_id, kind, joined_at, roles, nickname, origin
         from bronze.discord_member_events order by event_id",
    )
    .fetch_all(pool)
    .await
    .expect("member events")
}

pub async fn wait_for_member_events(pool: &PgPool, n: usize) -> Vec<MemberEventRow> {
    wait_for_at_least("member events", n, || member_events(pool)).await
}

pub fn member_with(member: &Member, joined_at: &str, roles: &[u64], nick: Option<&str>) -> Value {
    let mut d = fake_discord::member_json(member, joined_at);
    d["guild_id"] = json!(GUILD.to_string());
    d["roles"] = json!(roles.iter().map(u64::to_string).collect::<Vec<_>>());
    d["nick"] = json!(nick);
    d
}
