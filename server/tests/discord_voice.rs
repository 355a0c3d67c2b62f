//! The Discord voice collector end to end: the real serenity client (inside the real
//! `DiscordBot`) against a fake Discord on loopback, writing through the real ingestion
//! writer into a fresh database, then the real pipeline into silver and gold.

mod support;

use chrono::{DateTime, Duration as TimeDelta, NaiveDate, Utc};
use collectors::Collector;
use collectors::discord::VoiceEvent;
use collectors::discord::bot::{BotConfig, BotWriters, DiscordBot};
use collectors::ingest::{IngestWriter, WriterConfig};
use collectors::metrics::{DropReason, Metrics, SourceLabels};
use guildhall::pipeline::{Pipeline, Trigger};
use serde_json::{Value, json};
use serenity::model::event::{Event, GatewayEvent};
use serenity::model::gateway::Ready;
use serenity::model::guild::Guild;
use serenity::model::voice::VoiceState;
use sqlx::PgPool;
use std::collections::HashMap;
use std::time::Duration;
use support::fake_discord::{self, FakeDiscord, GatewayConnection, GuildSpec, Handshake, Member};
use tokio_util::sync::CancellationToken;

const GUILD: u64 = 1_100_000_000_000_000_001;
const LOBBY: u64 = 1_100_000_000_000_000_010;
const CS2: u64 = 1_100_000_000_000_000_011;
const AFK: u64 = 1_100_000_000_000_000_099;

const ALICE: Member = Member {
    id: 1_300_000_000_000_000_001,
    name: "alice",
    bot: false,
};
const BOB: Member = Member {
    id: 1_300_000_000_000_000_002,
    name: "bob",
    bot: false,
};
const CAROL: Member = Member {
    id: 1_300_000_000_000_000_003,
    name: "carol",
    bot: false,
};
const DAVE: Member = Member {
    id: 1_300_000_000_000_000_004,
    name: "dave",
    bot: false,
};
const MUSICBOT: Member = Member {
    id: 1_300_000_000_000_000_009,
    name: "musicbot",
    bot: true,
};

/// GUILDS | GUILD_MEMBERS | GUILD_INVITES | GUILD_VOICE_STATES | GUILD_MESSAGES |
/// GUILD_SCHEDULED_EVENTS; in particular not
/// MESSAGE_CONTENT (1 << 15) unless configured.
const EXPECTED_INTENTS: u64 = 1 | (1 << 1) | (1 << 6) | (1 << 7) | (1 << 9) | (1 << 16);
const MESSAGE_CONTENT: u64 = 1 << 15;

fn id(snowflake: u64) -> i64 {
    i64::try_from(snowflake).expect("snowflake fits i64")
}

fn guild_spec(voice: Vec<(u64, u64)>) -> GuildSpec {
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

/// A running bot on the fake gateway, recording the test guild.
struct RunningBot;

impl RunningBot {
    fn start(pool: &PgPool, fake: &FakeDiscord, metrics: &Metrics) -> support::bot::RunningBot {
        Self::start_configured(pool, fake, metrics, None, false)
    }

    fn start_with_spool(
        pool: &PgPool,
        fake: &FakeDiscord,
        metrics: &Metrics,
        spool: Option<collectors::ingest::SpoolConfig>,
    ) -> support::bot::RunningBot {
        Self::start_configured(pool, fake, metrics, spool, false)
    }

    fn start_configured(
        pool: &PgPool,
        fake: &FakeDiscord,
        metrics: &Metrics,
        spool: Option<collectors::ingest::SpoolConfig>,
        message_content: bool,
    ) -> support::bot::RunningBot {
        support::bot::RunningBot::start(pool, fake, metrics, spool, id(GUILD), message_content)
    }
}

/// Waits until the bot connected, then sends READY and GUILD_CREATE.
async fn connect(fake: &FakeDiscord, spec: &GuildSpec) -> GatewayConnection {
    let conn = fake.next_connection().await;
    conn.dispatch("READY", fake_discord::ready(&[GUILD], &fake.gateway_url));
    conn.dispatch("GUILD_CREATE", fake_discord::guild_create(spec));
    conn
}

type BronzeRow = (i64, Option<i64>, String, bool, DateTime<Utc>);

async fn bronze(pool: &PgPool) -> Vec<BronzeRow> {
    sqlx::query_as(
        "select user_id, channel_id, origin, self_mute, occurred_at
         from bronze.discord_voice_events order by occurred_at, event_id",
    )
    .fetch_all(pool)
    .await
    .expect("bronze rows")
}

/// Waits until bronze holds exactly `n` rows.
async fn wait_for_rows(pool: &PgPool, n: usize) -> Vec<BronzeRow> {
    let deadline = tokio::time::Instant::now() + Duration::from_secs(15);
    loop {
        let rows = bronze(pool).await;
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

async fn wait_until(what: &str, mut condition: impl FnMut() -> bool) {
    let deadline = tokio::time::Instant::now() + Duration::from_secs(15);
    while !condition() {
        assert!(
            tokio::time::Instant::now() < deadline,
            "timed out waiting for {what}"
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

/// Sends a voice state update and waits until its row is in bronze.
async fn voice_update(
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

fn received(metrics: &Metrics) -> u64 {
    metrics
        .collector_events
        .get_or_create(&SourceLabels {
            source: "discord_voice".to_owned(),
        })
        .get()
}

fn reconciliations(metrics: &Metrics) -> u64 {
    metrics
        .reconciliations
        .get_or_create(&SourceLabels {
            source: "discord_voice".to_owned(),
        })
        .get()
}

/// The guild's `observed_until`, if the guild row exists and has been stamped.
async fn stamped_until(pool: &PgPool) -> Option<DateTime<Utc>> {
    sqlx::query_scalar("select observed_until from app.discord_guilds where guild_id = $1")
        .bind(id(GUILD))
        .fetch_optional(pool)
        .await
        .expect("guild row")
        .flatten()
}

async fn observed_until(pool: &PgPool) -> DateTime<Utc> {
    stamped_until(pool).await.expect("observed_until is set")
}

/// Waits until the guild's `observed_until` has reached `at`.
async fn wait_for_observed_until(pool: &PgPool, at: DateTime<Utc>) {
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

type SessionRow = (
    i64,
    i64,
    DateTime<Utc>,
    Option<DateTime<Utc>>,
    Option<i64>,
    bool,
    Option<String>,
);

async fn sessions(pool: &PgPool) -> Vec<SessionRow> {
    sqlx::query_as(
        "select discord_user_id, channel_id, started_at, ended_at, seconds, is_afk, end_reason
         from silver.fact_voice_sessions order by discord_user_id, started_at",
    )
    .fetch_all(pool)
    .await
    .expect("sessions")
}

fn session(
    user: &Member,
    channel: u64,
    started: DateTime<Utc>,
    ended: Option<(DateTime<Utc>, &str)>,
    is_afk: bool,
) -> SessionRow {
    (
        id(user.id),
        id(channel),
        started,
        ended.map(|(at, _)| at),
        ended.map(|(at, _)| (at - started).num_seconds()),
        is_afk,
        ended.map(|(_, reason)| reason.to_owned()),
    )
}

fn pipeline(pool: &PgPool) -> Pipeline {
    Pipeline::new(pool.clone(), chrono_tz::Europe::Berlin, Metrics::new())
}

/// Moves the captured events onto a scripted timeline: each user's events, in the order
/// they were received, get the given offsets (seconds) from `base`. The capture itself
/// stamps receive times; this makes the sessions' lengths and the DAU threshold (one
/// minute) exact without a test that runs for minutes.
async fn retime(pool: &PgPool, base: DateTime<Utc>, offsets: &[(&Member, &[i64])]) {
    let rows: Vec<(i64, i64)> = sqlx::query_as(
        "select event_id, user_id from bronze.discord_voice_events order by occurred_at, event_id",
    )
    .fetch_all(pool)
    .await
    .expect("events");
    let mut next: HashMap<i64, usize> = HashMap::new();
    for (event_id, user_id) in rows {
        let (_, user_offsets) = offsets
            .iter()
            .find(|(member, _)| id(member.id) == user_id)
            .expect("every user has a timeline");
        let index = next.entry(user_id).or_default();
        let offset = user_offsets[*index];
        *index += 1;
        sqlx::query("update bronze.discord_voice_events set occurred_at = $2 where event_id = $1")
            .bind(event_id)
            .bind(base + TimeDelta::seconds(offset))
            .execute(pool)
            .await
            .expect("retime");
    }
    for (member, user_offsets) in offsets {
        assert_eq!(
            next.get(&id(member.id)).copied().unwrap_or(0),
            user_offsets.len()
        );
    }
}

fn at(rfc3339: &str) -> DateTime<Utc> {
    DateTime::parse_from_rfc3339(rfc3339)
        .expect("valid timestamp")
        .with_timezone(&Utc)
}

#[sqlx::test(migrator = "guildhall::db::MIGRATOR")]
async fn voice_updates_become_bronze_rows_sessions_and_dau(pool: PgPool) {
    let fake = FakeDiscord::start().await;
    let metrics = Metrics::new();
    let bot = RunningBot::start(&pool, &fake, &metrics);

    // Alice is already in the lobby when the bot connects: reconciliation opens her session.
    let conn = connect(
        &fake,
        &guild_spec(vec![(ALICE.id, LOBBY), (MUSICBOT.id, LOBBY)]),
    )
    .await;
    assert_eq!(conn.intents(), EXPECTED_INTENTS);
    assert_eq!(
        conn.intents() & MESSAGE_CONTENT,
        0,
        "never asks for message content"
    );
    let alice_joined = wait_for_rows(&pool, 1).await[0].4;

    // Bob joins, switches, is moved to AFK and leaves; Carol joins and stays; Alice mutes;
    // Dave drops in for a moment.
    voice_update(&pool, &conn, &BOB, Some(LOBBY), false, 2).await;
    voice_update(&pool, &conn, &BOB, Some(CS2), false, 3).await;
    voice_update(&pool, &conn, &BOB, Some(AFK), false, 4).await;
    voice_update(&pool, &conn, &BOB, None, false, 5).await;
    voice_update(&pool, &conn, &CAROL, Some(CS2), false, 6).await;
    voice_update(&pool, &conn, &ALICE, Some(LOBBY), true, 7).await;
    voice_update(&pool, &conn, &DAVE, Some(LOBBY), false, 8).await;
    voice_update(&pool, &conn, &DAVE, None, false, 9).await;
    // A bot's update is counted as dropped and never stored.
    conn.dispatch(
        "VOICE_STATE_UPDATE",
        fake_discord::voice_state_update(GUILD, &MUSICBOT, Some(CS2), false),
    );
    wait_until("the bot's update to be dropped", || {
        metrics.dropped_count("discord_voice", DropReason::bot) == 1
    })
    .await;
    // Stamped by the heartbeat while connected.
    wait_for_observed_until(&pool, alice_joined).await;
    let seen = observed_until(&pool).await;
    bot.stop().await;

    let rows = bronze(&pool).await;
    let shape: Vec<(i64, Option<i64>, &str, bool)> = rows
        .iter()
        .map(|(user, channel, origin, mute, _)| (*user, *channel, origin.as_str(), *mute))
        .collect();
    assert_eq!(
        shape,
        vec![
            (id(ALICE.id), Some(id(LOBBY)), "reconcile", false),
            (id(BOB.id), Some(id(LOBBY)), "gateway", false),
            (id(BOB.id), Some(id(CS2)), "gateway", false),
            (id(BOB.id), Some(id(AFK)), "gateway", false),
            (id(BOB.id), None, "gateway", false),
            (id(CAROL.id), Some(id(CS2)), "gateway", false),
            (id(ALICE.id), Some(id(LOBBY)), "gateway", true),
            (id(DAVE.id), Some(id(LOBBY)), "gateway", false),
            (id(DAVE.id), None, "gateway", false),
        ]
    );
    assert!(
        rows.windows(2).all(|pair| pair[0].4 < pair[1].4),
        "receive times increase"
    );
    assert_eq!(
        received(&metrics),
        9,
        "8 human updates and 1 bot update received"
    );
    assert_eq!(metrics.dropped_count("discord_voice", DropReason::bot), 1);
    assert_eq!(
        metrics.dropped_count("discord_voice", DropReason::untracked),
        0
    );
    assert_eq!(
        metrics.dropped_count("discord_voice", DropReason::duplicate),
        0
    );

    let guild: (String, Option<i64>, DateTime<Utc>) = sqlx::query_as(
        "select name, afk_channel_id, observed_until from app.discord_guilds where guild_id = $1",
    )
    .bind(id(GUILD))
    .fetch_one(&pool)
    .await
    .expect("guild row");
    assert_eq!(guild.0, "Guildhall Test");
    assert_eq!(guild.1, Some(id(AFK)));
    assert!(guild.2 >= seen, "observed_until only moves forward");
    assert!(
        guild.2 >= rows[8].4,
        "observed until at least the last event"
    );
    assert!(
        fake.rest_calls()
            .iter()
            .any(|call| call.starts_with("GET /api/v10/gateway")),
        "serenity asked the fake for the gateway URL: {:?}",
        fake.rest_calls()
    );

    // The exact timeline (Berlin, 10 March 2026, from 18:00).
    let base = at("2026-03-10T17:00:00Z");
    let min = 60;
    retime(
        &pool,
        base,
        &[
            (&ALICE, &[0, 62 * min]),
            (&BOB, &[min, 5 * min, 30 * min, 60 * min]),
            (&CAROL, &[61 * min]),
            (&DAVE, &[63 * min, 63 * min + 30]),
        ],
    )
    .await;
    sqlx::query("update app.discord_guilds set observed_until = $2 where guild_id = $1")
        .bind(id(GUILD))
        .bind(base + TimeDelta::seconds(64 * min))
        .execute(&pool)
        .await
        .expect("observed_until");
    pipeline(&pool)
        .run_all(Trigger::Manual)
        .await
        .expect("pipeline");

    let t = |seconds: i64| base + TimeDelta::seconds(seconds);
    assert_eq!(
        sessions(&pool).await,
        vec![
            // The mute does not split Alice's session; she is still in voice.
            session(&ALICE, LOBBY, t(0), None, false),
            session(&BOB, LOBBY, t(min), Some((t(5 * min), "switch")), false),
            session(&BOB, CS2, t(5 * min), Some((t(30 * min), "switch")), false),
            session(&BOB, AFK, t(30 * min), Some((t(60 * min), "leave")), true),
            session(&CAROL, CS2, t(61 * min), None, false),
            session(
                &DAVE,
                LOBBY,
                t(63 * min),
                Some((t(63 * min + 30), "leave")),
                false
            ),
        ]
    );
    // Alice (64 min), Bob (29 min outside AFK) and Carol (3 min until last observed) are
    // active; Dave's 30 seconds are below the one-minute threshold.
    let dau: Vec<(NaiveDate, i32, i32)> = sqlx::query_as(
        "select day, dau_total, dau_voice from gold.daily_active_users
         where dau_total > 0 or dau_voice > 0 or day = '2026-03-10' order by day",
    )
    .fetch_all(&pool)
    .await
    .expect("dau");
    assert_eq!(
        dau,
        vec![(NaiveDate::from_ymd_opt(2026, 3, 10).expect("day"), 3, 3)]
    );
}

#[sqlx::test(migrator = "guildhall::db::MIGRATOR")]
async fn bursts_of_one_members_updates_become_exact_sessions_in_gateway_order(pool: PgPool) {
    let fake = FakeDiscord::start().await;
    let metrics = Metrics::new();
    let bot = RunningBot::start(&pool, &fake, &metrics);
    let conn = connect(&fake, &guild_spec(vec![])).await;
    wait_for_observed_until(&pool, Utc::now() - TimeDelta::seconds(5)).await;

    // What a temporary-channel bot does: join the lobby and be moved at once; then switch
    // and leave at once. Sent back to back, never waiting for the bot; serenity handles
    // them concurrently. (The handler order that reverses them is reproduced exactly in the
    // sequencer's unit tests; here the whole path must keep gateway order.)
    const ROUNDS: usize = 20;
    for _ in 0..ROUNDS {
        for (member, first, second) in [(&BOB, LOBBY, CS2), (&CAROL, CS2, LOBBY)] {
            conn.dispatch(
                "VOICE_STATE_UPDATE",
                fake_discord::voice_state_update(GUILD, member, Some(first), false),
            );
            conn.dispatch(
                "VOICE_STATE_UPDATE",
                fake_discord::voice_state_update(GUILD, member, Some(second), false),
            );
            conn.dispatch(
                "VOICE_STATE_UPDATE",
                fake_discord::voice_state_update(GUILD, member, Some(first), false),
            );
            conn.dispatch(
                "VOICE_STATE_UPDATE",
                fake_discord::voice_state_update(GUILD, member, None, false),
            );
        }
    }
    let rows = wait_for_rows(&pool, ROUNDS * 8).await;
    bot.stop().await;

    // Per member, bronze in time order is exactly the gateway order.
    for (member, first, second) in [(&BOB, LOBBY, CS2), (&CAROL, CS2, LOBBY)] {
        let channels: Vec<Option<i64>> = rows
            .iter()
            .filter(|row| row.0 == id(member.id))
            .map(|row| row.1)
            .collect();
        let expected: Vec<Option<i64>> = (0..ROUNDS)
            .flat_map(|_| [Some(id(first)), Some(id(second)), Some(id(first)), None])
            .collect();
        assert_eq!(channels, expected, "{}", member.name);
    }
    // And the sessions follow: three per round and member, all closed, none left open.
    pipeline(&pool)
        .run_all(Trigger::Manual)
        .await
        .expect("pipeline");
    let sessions = sessions(&pool).await;
    assert_eq!(sessions.len(), ROUNDS * 2 * 3, "{sessions:?}");
    assert!(
        sessions.iter().all(|s| s.3.is_some()),
        "a ghost session stayed open: {sessions:?}"
    );
    for member in [&BOB, &CAROL] {
        let reasons: Vec<&str> = sessions
            .iter()
            .filter(|s| s.0 == id(member.id))
            .map(|s| s.6.as_deref().unwrap_or("open"))
            .collect();
        let expected: Vec<&str> = (0..ROUNDS)
            .flat_map(|_| ["switch", "switch", "leave"])
            .collect();
        assert_eq!(reasons, expected, "{}", member.name);
    }
}

/// A pool to the test's database through a proxy that can be cut.
async fn pool_through(pool: &PgPool, proxy: &support::proxy::CuttableProxy) -> PgPool {
    let options = (*pool.connect_options()).clone().port(proxy.port);
    sqlx::postgres::PgPoolOptions::new()
        .max_connections(5)
        .acquire_timeout(Duration::from_secs(1))
        .connect_with(options)
        .await
        .expect("pool through the proxy")
}

#[sqlx::test(migrator = "guildhall::db::MIGRATOR")]
async fn a_database_outage_while_discord_keeps_sending_loses_and_doubles_nothing(pool: PgPool) {
    const CUT: Duration = Duration::from_secs(30);
    let upstream = format!(
        "{}:{}",
        pool.connect_options().get_host(),
        pool.connect_options().get_port()
    );
    let proxy = support::proxy::CuttableProxy::start(upstream).await;
    let through = pool_through(&pool, &proxy).await;
    let dir = std::env::temp_dir().join(format!("guildhall-outage-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    let spool = collectors::ingest::SpoolConfig {
        dir: dir.clone(),
        max_bytes: 10 << 20,
    };
    let fake = FakeDiscord::start().await;
    let metrics = Metrics::new();
    let bot = RunningBot::start_with_spool(&through, &fake, &metrics, Some(spool.clone()));
    let conn = connect(&fake, &guild_spec(vec![])).await;
    wait_for_observed_until(&pool, Utc::now() - TimeDelta::seconds(5)).await;

    // PostgreSQL is cut for 30 seconds; members keep joining and leaving all the while.
    proxy.cut();
    let started = std::time::Instant::now();
    let mut sent = 0;
    while started.elapsed() < CUT {
        let member = [&BOB, &CAROL, &DAVE][sent % 3];
        let channel = (sent / 3 % 2 == 0).then_some(LOBBY);
        conn.dispatch(
            "VOICE_STATE_UPDATE",
            fake_discord::voice_state_update(GUILD, member, channel, false),
        );
        sent += 1;
        tokio::time::sleep(Duration::from_millis(500)).await;
    }
    assert_eq!(
        bronze(&pool).await.len(),
        0,
        "nothing reached the database during the cut"
    );
    assert!(
        spool.backlog("discord_voice") > 0,
        "the spool holds what came"
    );
    proxy.restore();
    let rows = wait_for_rows(&pool, sent).await;
    wait_until("the spool to empty", || spool.backlog("discord_voice") == 0).await;
    assert_eq!(rows.len(), sent, "every event once");

    // Cut again and stop the bot during the outage: it ends within seconds, and what it
    // had goes to the spool and into bronze at the next start.
    proxy.cut();
    for member in [&BOB, &CAROL, &DAVE] {
        conn.dispatch(
            "VOICE_STATE_UPDATE",
            fake_discord::voice_state_update(GUILD, member, Some(CS2), false),
        );
    }
    wait_until("the updates to be received", || {
        received(&metrics) >= (sent + 3) as u64
    })
    .await;
    let stopping = std::time::Instant::now();
    bot.stop().await;
    assert!(
        stopping.elapsed() < Duration::from_secs(15),
        "{:?}",
        stopping.elapsed()
    );
    assert_eq!(spool.backlog("discord_voice"), 3);
    proxy.restore();
    let (writer, task) = IngestWriter::<VoiceEvent>::spawn_with_spool(
        through.clone(),
        WriterConfig::default(),
        metrics.clone(),
        Some(spool.clone()),
    );
    writer.flush().await.expect("replayed");
    drop(writer);
    task.await.expect("writer ends");
    let rows = bronze(&pool).await;
    assert_eq!(rows.len(), sent + 3, "every event exactly once");
    let keys: std::collections::HashSet<(i64, DateTime<Utc>)> =
        rows.iter().map(|row| (row.0, row.4)).collect();
    assert_eq!(keys.len(), rows.len(), "no event twice");
    assert_eq!(spool.backlog("discord_voice"), 0);
    let _ = std::fs::remove_dir_all(&dir);
}

#[sqlx::test(migrator = "guildhall::db::MIGRATOR")]
async fn a_restart_reconciles_who_left_and_who_joined_while_away(pool: PgPool) {
    let fake = FakeDiscord::start().await;
    let metrics = Metrics::new();

    // First session: Alice and Bob are in voice at connect, Carol joins live.
    let bot = RunningBot::start(&pool, &fake, &metrics);
    let conn = connect(
        &fake,
        &guild_spec(vec![(ALICE.id, LOBBY), (BOB.id, CS2), (MUSICBOT.id, LOBBY)]),
    )
    .await;
    let opened = wait_for_rows(&pool, 2).await;
    voice_update(&pool, &conn, &CAROL, Some(LOBBY), false, 3).await;
    // Let the heartbeat stamp observed_until at least once after Carol's join.
    let carol_joined = wait_for_rows(&pool, 3).await[2].4;
    wait_for_observed_until(&pool, carol_joined).await;
    bot.stop().await;
    let last_seen = observed_until(&pool).await;
    assert!(last_seen >= carol_joined);

    // While the bot is away, Bob leaves and Dave joins.
    tokio::time::sleep(Duration::from_millis(300)).await;
    let bot = RunningBot::start(&pool, &fake, &metrics);
    let _conn = connect(
        &fake,
        &guild_spec(vec![
            (ALICE.id, LOBBY),
            (CAROL.id, LOBBY),
            (DAVE.id, CS2),
            (MUSICBOT.id, LOBBY),
        ]),
    )
    .await;
    let rows = wait_for_rows(&pool, 5).await;
    // Stamped again now that the guild is seen again (right after the reconciliation has
    // flushed its rows, so poll for it).
    let dave_seen = rows[4].4;
    wait_for_observed_until(&pool, dave_seen).await;
    bot.stop().await;

    let alice_opened = opened
        .iter()
        .find(|row| row.0 == id(ALICE.id))
        .expect("alice opened")
        .4;
    let bob_opened = opened
        .iter()
        .find(|row| row.0 == id(BOB.id))
        .expect("bob opened")
        .4;
    let shape: Vec<(i64, Option<i64>, &str)> = rows[2..]
        .iter()
        .map(|(user, channel, origin, _, _)| (*user, *channel, origin.as_str()))
        .collect();
    assert_eq!(
        shape,
        vec![
            (id(CAROL.id), Some(id(LOBBY)), "gateway"),
            (id(BOB.id), None, "reconcile"),
            (id(DAVE.id), Some(id(CS2)), "reconcile"),
        ]
    );
    // Bob's leave is dated when the bot last saw the guild; Dave's join when it came back.
    assert_eq!(rows[3].4, last_seen);
    assert!(dave_seen > last_seen + TimeDelta::milliseconds(250));

    pipeline(&pool)
        .run_all(Trigger::Manual)
        .await
        .expect("pipeline");
    let mut expected = vec![
        session(&ALICE, LOBBY, alice_opened, None, false),
        session(&BOB, CS2, bob_opened, Some((last_seen, "reconcile")), false),
        session(&CAROL, LOBBY, carol_joined, None, false),
        session(&DAVE, CS2, dave_seen, None, false),
    ];
    expected.sort_by_key(|row| (row.0, row.2));
    let mut actual = sessions(&pool).await;
    // `seconds` is rounded by PostgreSQL; compare the rest exactly.
    for row in actual.iter_mut().chain(expected.iter_mut()) {
        row.4 = row.4.map(|_| 0);
    }
    assert_eq!(actual, expected);
}

#[sqlx::test(migrator = "guildhall::db::MIGRATOR")]
async fn a_dropped_connection_resumes_without_losing_or_duplicating_events(pool: PgPool) {
    let fake = FakeDiscord::start().await;
    let metrics = Metrics::new();
    let bot = RunningBot::start(&pool, &fake, &metrics);
    let conn = connect(&fake, &guild_spec(vec![(ALICE.id, LOBBY)])).await;
    wait_for_rows(&pool, 1).await;

    // Discord's gateway node goes away; serenity resumes the session on a new connection.
    conn.drop_connection();
    let resumed = fake.next_connection().await;
    match &resumed.handshake {
        Handshake::Resume(d) => {
            assert_eq!(d["session_id"], "sess");
            // READY and GUILD_CREATE were dispatches 1 and 2.
            assert_eq!(d["seq"], 2);
        }
        Handshake::Identify(d) => panic!("expected RESUME, got IDENTIFY {d}"),
    }
    // Discord replays what was missed, then confirms the resume; the bot reconciles the
    // cached voice states, which already match the database: nothing is added.
    voice_update(&pool, &resumed, &BOB, Some(CS2), false, 2).await;
    resumed.dispatch("RESUMED", json!({}));
    // Serenity runs handlers concurrently: wait for the resume's reconciliation before the
    // next update, so the test knows which state the reconciliation saw.
    wait_until("the reconciliation after RESUMED", || {
        reconciliations(&metrics) == 2
    })
    .await;
    voice_update(&pool, &resumed, &ALICE, None, false, 3).await;
    tokio::time::sleep(Duration::from_millis(200)).await;
    bot.stop().await;

    let shape: Vec<(i64, Option<i64>, String)> = bronze(&pool)
        .await
        .into_iter()
        .map(|(user, channel, origin, _, _)| (user, channel, origin))
        .collect();
    assert_eq!(
        shape,
        vec![
            (id(ALICE.id), Some(id(LOBBY)), "reconcile".to_owned()),
            (id(BOB.id), Some(id(CS2)), "gateway".to_owned()),
            (id(ALICE.id), None, "gateway".to_owned()),
        ]
    );
}

#[sqlx::test(migrator = "guildhall::db::MIGRATOR")]
async fn a_reconnect_closes_departures_and_switches_at_the_last_time_the_bot_saw_the_guild(
    pool: PgPool,
) {
    let fake = FakeDiscord::start().await;
    let metrics = Metrics::new();
    let bot = RunningBot::start(&pool, &fake, &metrics);
    let conn = connect(&fake, &guild_spec(vec![(ALICE.id, LOBBY), (BOB.id, CS2)])).await;
    let joined = wait_for_rows(&pool, 2).await[1].4;
    // Let the heartbeat stamp the guild, then lose the connection.
    wait_for_observed_until(&pool, joined).await;
    tokio::time::sleep(Duration::from_millis(300)).await;
    let dropped_at = Utc::now();
    conn.drop_connection();

    // Discord refuses the resume; the bot identifies afresh in the same process.
    let resumed = fake.next_connection().await;
    assert!(matches!(resumed.handshake, Handshake::Resume(_)));
    resumed.invalidate_session();
    let fresh = fake.next_connection().await;
    assert!(matches!(fresh.handshake, Handshake::Identify(_)));
    let ready_at = Utc::now();
    fresh.dispatch("READY", fake_discord::ready(&[GUILD], &fake.gateway_url));
    // Several heartbeats pass between READY and GUILD_CREATE: none may claim the bot saw
    // the guild in that time.
    tokio::time::sleep(Duration::from_millis(400)).await;
    // While away: Alice moved to CS2, Bob left, Dave joined.
    fresh.dispatch(
        "GUILD_CREATE",
        fake_discord::guild_create(&guild_spec(vec![(ALICE.id, CS2), (DAVE.id, LOBBY)])),
    );
    let rows = wait_for_rows(&pool, 6).await;
    bot.stop().await;

    let after: Vec<(i64, Option<i64>, &str)> = rows[2..]
        .iter()
        .map(|(user, channel, origin, _, _)| (*user, *channel, origin.as_str()))
        .collect();
    let mut sorted = after.clone();
    sorted.sort();
    let mut expected = vec![
        (id(ALICE.id), None, "reconcile"),
        (id(ALICE.id), Some(id(CS2)), "reconcile"),
        (id(BOB.id), None, "reconcile"),
        (id(DAVE.id), Some(id(LOBBY)), "reconcile"),
    ];
    expected.sort();
    assert_eq!(sorted, expected);
    for (user, channel, _, _, occurred_at) in &rows[2..] {
        if channel.is_none() {
            // Departures (Bob) and the end of Alice's old session: when the bot last saw the
            // guild, around the drop (serenity may take a moment to notice it), never in
            // the new session before its GUILD_CREATE was reconciled.
            assert!(
                *occurred_at < ready_at,
                "user {user} closed at {occurred_at}, after the new session began at {ready_at} \
                 (the connection dropped at {dropped_at})"
            );
        } else {
            assert!(*occurred_at > ready_at + TimeDelta::milliseconds(400));
        }
    }

    pipeline(&pool)
        .run_all(Trigger::Manual)
        .await
        .expect("pipeline");
    let reasons: Vec<(i64, i64, Option<String>)> = sessions(&pool)
        .await
        .into_iter()
        .map(|(user, channel, _, _, _, _, reason)| (user, channel, reason))
        .collect();
    assert_eq!(
        reasons,
        vec![
            (id(ALICE.id), id(LOBBY), Some("reconcile".to_owned())),
            (id(ALICE.id), id(CS2), None),
            (id(BOB.id), id(CS2), Some("reconcile".to_owned())),
            (id(DAVE.id), id(LOBBY), None),
        ]
    );
}

#[sqlx::test(migrator = "guildhall::db::MIGRATOR")]
async fn a_guild_that_goes_away_is_no_longer_marked_as_observed(pool: PgPool) {
    let fake = FakeDiscord::start().await;
    let metrics = Metrics::new();
    let bot = RunningBot::start(&pool, &fake, &metrics);
    let conn = connect(&fake, &guild_spec(vec![(ALICE.id, LOBBY)])).await;
    let alice_joined = wait_for_rows(&pool, 1).await[0].4;
    // While the guild is there, the heartbeat (every 100 ms) keeps stamping it.
    wait_for_observed_until(&pool, alice_joined).await;
    let first = observed_until(&pool).await;
    wait_for_observed_until(&pool, first + TimeDelta::microseconds(1)).await;

    let removed_at = Utc::now();
    conn.dispatch(
        "GUILD_DELETE",
        json!({ "id": GUILD.to_string(), "unavailable": true }),
    );
    // The value must settle (it is stamped once more when the guild goes away) and then
    // stay put: Alice's open session must not keep growing while the guild is gone. While
    // the heartbeat (every 100 ms) still stamps, it never stays put for 400 ms.
    wait_for_observed_until(&pool, removed_at).await;
    let deadline = tokio::time::Instant::now() + Duration::from_secs(5);
    let mut last = observed_until(&pool).await;
    loop {
        tokio::time::sleep(Duration::from_millis(400)).await;
        let now = observed_until(&pool).await;
        if now == last {
            break;
        }
        assert!(
            tokio::time::Instant::now() < deadline,
            "observed_until keeps moving after GUILD_DELETE"
        );
        last = now;
    }
    assert!(last >= removed_at, "stamped once more when it went away");
    bot.stop().await;
}

/// GUILD_UPDATE: the guild's object without voice states, members or channels.
fn guild_update(spec: &GuildSpec) -> Value {
    let mut d = fake_discord::guild_create(spec);
    if let Some(object) = d.as_object_mut() {
        for key in [
            "voice_states",
            "members",
            "channels",
            "threads",
            "presences",
        ] {
            object.remove(key);
        }
    }
    d
}

#[sqlx::test(migrator = "guildhall::db::MIGRATOR")]
async fn a_guild_update_keeps_the_name_and_afk_channel_current(pool: PgPool) {
    let fake = FakeDiscord::start().await;
    let metrics = Metrics::new();
    let bot = RunningBot::start(&pool, &fake, &metrics);
    let spec = guild_spec(vec![]);
    let conn = connect(&fake, &spec).await;
    let stored = || async {
        sqlx::query_as::<_, (String, Option<i64>)>(
            "select name, afk_channel_id from app.discord_guilds where guild_id = $1",
        )
        .bind(id(GUILD))
        .fetch_optional(&pool)
        .await
        .expect("guild row")
    };
    let deadline = tokio::time::Instant::now() + Duration::from_secs(15);
    while stored().await.is_none() {
        assert!(
            tokio::time::Instant::now() < deadline,
            "GUILD_CREATE never stored"
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    assert_eq!(
        stored().await,
        Some(("Guildhall Test".to_owned(), Some(id(AFK))))
    );

    // An admin renames the guild and makes the lobby the AFK channel.
    let renamed = GuildSpec {
        name: "Guildhall Renamed",
        afk_channel_id: Some(LOBBY),
        ..spec
    };
    conn.dispatch("GUILD_UPDATE", guild_update(&renamed));
    let expected = Some(("Guildhall Renamed".to_owned(), Some(id(LOBBY))));
    while stored().await != expected {
        assert!(
            tokio::time::Instant::now() < deadline,
            "GUILD_UPDATE never stored"
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    bot.stop().await;
}

/// A payload serenity cannot deserialize is silently dropped as an unknown event, so every
/// payload the fake sends must parse into serenity's own model types.
#[test]
fn fake_payloads_deserialize_into_serenity_models() {
    let ready: Ready = serde_json::from_value(fake_discord::ready(&[GUILD], "ws://127.0.0.1:1"))
        .expect("READY parses");
    assert!(ready.user.bot);

    for voice in [
        vec![(ALICE.id, LOBBY), (MUSICBOT.id, LOBBY)],
        vec![(ALICE.id, LOBBY), (BOB.id, CS2)],
        vec![],
    ] {
        let d = fake_discord::guild_create(&guild_spec(voice.clone()));
        let guild: Guild = serde_json::from_value(d.clone()).expect("GUILD_CREATE parses");
        assert_eq!(guild.voice_states.len(), voice.len());
        assert_eq!(
            guild.afk_metadata.map(|afk| afk.afk_channel_id.get()),
            Some(AFK)
        );
        assert!(guild.members.values().any(|member| member.user.bot));
        assert_dispatch_is_known("GUILD_CREATE", d);
    }

    for (member, channel, mute) in [
        (&BOB, Some(LOBBY), false),
        (&BOB, None, false),
        (&ALICE, Some(LOBBY), true),
        (&MUSICBOT, Some(CS2), false),
    ] {
        let d = fake_discord::voice_state_update(GUILD, member, channel, mute);
        let state: VoiceState =
            serde_json::from_value(d.clone()).expect("VOICE_STATE_UPDATE parses");
        assert_eq!(state.channel_id.map(|c| c.get()), channel);
        assert_eq!(state.self_mute, mute);
        assert_eq!(state.member.as_ref().map(|m| m.user.bot), Some(member.bot));
        assert_dispatch_is_known("VOICE_STATE_UPDATE", d);
    }
    assert_dispatch_is_known("READY", fake_discord::ready(&[GUILD], "ws://127.0.0.1:1"));

    let update = guild_update(&guild_spec(vec![]));
    let partial: serenity::model::guild::PartialGuild =
        serde_json::from_value(update.clone()).expect("GUILD_UPDATE parses");
    assert_eq!(
        partial.afk_metadata.map(|afk| afk.afk_channel_id.get()),
        Some(AFK)
    );
    assert_dispatch_is_known("GUILD_UPDATE", update);
}

fn assert_dispatch_is_known(event: &str, d: Value) {
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

const GAMES_CATEGORY: u64 = 1_100_000_000_000_000_050;

/// The guild with CS2 inside a "Games" category.
fn guild_with_category(voice: Vec<(u64, u64)>) -> Value {
    let mut d = fake_discord::guild_create(&guild_spec(voice));
    let channels = d["channels"].as_array_mut().expect("channels");
    let mut category = channels[0].clone();
    category["id"] = json!(GAMES_CATEGORY.to_string());
    category["name"] = json!("Games");
    category["type"] = json!(4);
    for channel in channels.iter_mut() {
        if channel["id"] == json!(CS2.to_string()) {
            channel["parent_id"] = json!(GAMES_CATEGORY.to_string());
        }
    }
    channels.push(category);
    d
}

async fn opt_out(pool: &PgPool, member: &Member) {
    sqlx::query(
        "with person as (insert into silver.dim_user default values returning person_id),
              identity as (
                  insert into silver.user_identities (kind, external_id, person_id, verified_by)
                  select 'discord', $1, person_id, 'observed' from person
              )
         insert into app.opt_outs (person_id) select person_id from person",
    )
    .bind(member.id.to_string())
    .execute(pool)
    .await
    .expect("opt out");
}

#[sqlx::test(migrator = "guildhall::db::MIGRATOR")]
async fn excluded_channels_and_opted_out_people_are_not_recorded_and_changes_apply_while_running(
    pool: PgPool,
) {
    sqlx::query("insert into app.excluded_channels (guild_id, channel_id) values ($1, $2)")
        .bind(id(GUILD))
        .bind(id(GAMES_CATEGORY))
        .execute(&pool)
        .await
        .expect("exclude the category");
    opt_out(&pool, &DAVE).await;
    let fake = FakeDiscord::start().await;
    let metrics = Metrics::new();
    let bot = RunningBot::start(&pool, &fake, &metrics);
    let conn = fake.next_connection().await;
    conn.dispatch("READY", fake_discord::ready(&[GUILD], &fake.gateway_url));
    // Carol sits in CS2 (excluded through its category) as the bot connects: not opened.
    conn.dispatch("GUILD_CREATE", guild_with_category(vec![(CAROL.id, CS2)]));
    wait_for_observed_until(&pool, Utc::now() - TimeDelta::seconds(5)).await;
    let dropped = |reason| metrics.dropped_count("discord_voice", reason);

    // Alice: lobby, into the excluded CS2 (recorded as leaving voice), muted there
    // (dropped), back to the lobby (a join), out.
    voice_update(&pool, &conn, &ALICE, Some(LOBBY), false, 1).await;
    voice_update(&pool, &conn, &ALICE, Some(CS2), false, 2).await;
    conn.dispatch(
        "VOICE_STATE_UPDATE",
        fake_discord::voice_state_update(GUILD, &ALICE, Some(CS2), true),
    );
    wait_until("the mute in CS2 to be dropped", || {
        dropped(DropReason::excluded_channel) == 1
    })
    .await;
    voice_update(&pool, &conn, &ALICE, Some(LOBBY), false, 3).await;
    voice_update(&pool, &conn, &ALICE, None, false, 4).await;
    // Dave opted out: nothing of his is stored.
    conn.dispatch(
        "VOICE_STATE_UPDATE",
        fake_discord::voice_state_update(GUILD, &DAVE, Some(LOBBY), false),
    );
    wait_until("Dave's update to be dropped", || {
        dropped(DropReason::opted_out) == 1
    })
    .await;

    // An admin excludes the lobby while the bot runs: it applies without a restart.
    sqlx::query("insert into app.excluded_channels (guild_id, channel_id) values ($1, $2)")
        .bind(id(GUILD))
        .bind(id(LOBBY))
        .execute(&pool)
        .await
        .expect("exclude the lobby");
    tokio::time::sleep(Duration::from_millis(500)).await;
    conn.dispatch(
        "VOICE_STATE_UPDATE",
        fake_discord::voice_state_update(GUILD, &BOB, Some(LOBBY), false),
    );
    voice_update(&pool, &conn, &BOB, Some(AFK), false, 6).await;
    bot.stop().await;

    let rows: Vec<(i64, Option<i64>, bool)> = bronze(&pool)
        .await
        .into_iter()
        .map(|(user, channel, _, mute, _)| (user, channel, mute))
        .collect();
    assert_eq!(
        rows,
        vec![
            (id(ALICE.id), Some(id(LOBBY)), false),
            (id(ALICE.id), None, false),
            (id(ALICE.id), Some(id(LOBBY)), false),
            (id(ALICE.id), None, false),
            // Bob joined the now excluded lobby: recorded as out of voice, then the AFK
            // channel.
            (id(BOB.id), None, false),
            (id(BOB.id), Some(id(AFK)), false),
        ]
    );
    assert_eq!(dropped(DropReason::excluded_channel), 1);
    assert_eq!(dropped(DropReason::opted_out), 1);
}

const CHAT: u64 = 1_100_000_000_000_000_020;
const THREAD: u64 = 1_100_000_000_000_000_021;
/// Content no table, dump or log may ever hold.
const SENTINEL: &str = "guildhall-sentinel-content-7f3a";

/// The guild with a text channel and a thread in it.
fn guild_with_chat() -> Value {
    let mut d = fake_discord::guild_create(&guild_spec(vec![]));
    let channels = d["channels"].as_array_mut().expect("channels");
    let mut chat = channels[0].clone();
    chat["id"] = json!(CHAT.to_string());
    chat["name"] = json!("chat");
    chat["type"] = json!(0);
    let mut thread = chat.clone();
    channels.push(chat);
    thread["id"] = json!(THREAD.to_string());
    thread["name"] = json!("a thread");
    thread["type"] = json!(11);
    thread["parent_id"] = json!(CHAT.to_string());
    d["threads"] = json!([thread]);
    d
}

/// A MESSAGE_CREATE in the guild: `kind` 0 is a regular message, 19 a reply, 7 a join notice.
fn message_create(id: u64, channel: u64, author: &Member, kind: u8, attachments: usize) -> Value {
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

type MessageRow = (i64, i64, Option<i64>, i64, Option<i32>, i32, bool);

#[sqlx::test(migrator = "guildhall::db::MIGRATOR")]
async fn messages_are_stored_as_metadata_once_without_bots_webhooks_or_system_messages(
    pool: PgPool,
) {
    let fake = FakeDiscord::start().await;
    let metrics = Metrics::new();
    let bot = RunningBot::start_configured(&pool, &fake, &metrics, None, true);
    let conn = fake.next_connection().await;
    assert_eq!(conn.intents(), EXPECTED_INTENTS | MESSAGE_CONTENT);
    conn.dispatch("READY", fake_discord::ready(&[GUILD], &fake.gateway_url));
    conn.dispatch("GUILD_CREATE", guild_with_chat());
    wait_for_observed_until(&pool, Utc::now() - TimeDelta::seconds(5)).await;

    let first: u64 = 1_447_000_000_000_000_000;
    let mut webhook = message_create(first + 5, CHAT, &BOB, 0, 0);
    webhook["webhook_id"] = json!("1447000000000000999");
    for payload in [
        message_create(first, CHAT, &ALICE, 0, 2),
        message_create(first + 1, THREAD, &BOB, 19, 0),
        // The same message again (a replay after a resume): stored once.
        message_create(first, CHAT, &ALICE, 0, 2),
        message_create(first + 3, CHAT, &MUSICBOT, 0, 0),
        message_create(first + 4, CHAT, &CAROL, 7, 0),
        webhook,
    ] {
        serde_json::from_value::<serenity::model::channel::Message>(payload.clone())
            .expect("serenity accepts the fake message");
        conn.dispatch("MESSAGE_CREATE", payload);
    }
    wait_until("every message to be handled", || {
        metrics
            .collector_events
            .get_or_create(&SourceLabels {
                source: "discord_messages".to_owned(),
            })
            .get()
            == 6
    })
    .await;
    bot.stop().await;

    let rows: Vec<MessageRow> = sqlx::query_as(
        "select message_id, channel_id, parent_channel_id, author_id, char_count,
                attachment_count, is_reply
         from bronze.discord_messages order by message_id",
    )
    .fetch_all(&pool)
    .await
    .expect("messages");
    let sentinel_chars = i32::try_from(SENTINEL.chars().count()).expect("short");
    assert_eq!(
        rows,
        vec![
            (
                id(first),
                id(CHAT),
                None,
                id(ALICE.id),
                Some(sentinel_chars),
                2,
                false
            ),
            (
                id(first + 1),
                id(THREAD),
                Some(id(CHAT)),
                id(BOB.id),
                Some(sentinel_chars),
                0,
                true
            ),
        ]
    );
    let created: DateTime<Utc> =
        sqlx::query_scalar("select created_at from bronze.discord_messages where message_id = $1")
            .bind(id(first))
            .fetch_one(&pool)
            .await
            .expect("created_at");
    assert_eq!(created, collectors::discord::snowflake_time(id(first)));
    let dropped = |reason| metrics.dropped_count("discord_messages", reason);
    assert_eq!(dropped(DropReason::bot), 2, "the bot and the webhook");
    assert_eq!(dropped(DropReason::system), 1);
    assert_eq!(dropped(DropReason::duplicate), 1);

    // The content is nowhere in the database.
    let database = pool
        .connect_options()
        .get_database()
        .expect("a test database")
        .to_owned();
    let dump = std::process::Command::new("pg_dump")
        .args([
            "-h",
            "127.0.0.1",
            "-U",
            "postgres",
            "--data-only",
            &database,
        ])
        .output()
        .expect("pg_dump runs");
    assert!(
        dump.status.success(),
        "{}",
        String::from_utf8_lossy(&dump.stderr)
    );
    let dump = String::from_utf8_lossy(&dump.stdout);
    assert!(
        dump.contains(&id(first).to_string()),
        "the dump holds the data"
    );
    assert!(
        !dump.contains(SENTINEL),
        "message content reached the database"
    );
}

type MemberRow = (
    i64,
    String,
    Option<DateTime<Utc>>,
    Vec<i64>,
    Option<String>,
    String,
);

/// account, first join, member now, leave only noticed, roles
type DimMemberRow = (i64, Option<DateTime<Utc>>, bool, bool, Vec<i64>);

async fn member_events(pool: &PgPool) -> Vec<MemberRow> {
    sqlx::query_as(
        "select user_id, kind, joined_at, roles, nickname, origin
         from bronze.discord_member_events order by event_id",
    )
    .fetch_all(pool)
    .await
    .expect("member events")
}

async fn wait_for_member_events(pool: &PgPool, n: usize) -> Vec<MemberRow> {
    let deadline = tokio::time::Instant::now() + Duration::from_secs(15);
    loop {
        let rows = member_events(pool).await;
        if rows.len() >= n {
            return rows;
        }
        assert!(
            tokio::time::Instant::now() < deadline,
            "expected {n} member events, have {rows:?}"
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

fn member_with(member: &Member, joined_at: &str, roles: &[u64], nick: Option<&str>) -> Value {
    let mut d = fake_discord::member_json(member, joined_at);
    d["guild_id"] = json!(GUILD.to_string());
    d["roles"] = json!(roles.iter().map(u64::to_string).collect::<Vec<_>>());
    d["nick"] = json!(nick);
    d
}

#[sqlx::test(migrator = "guildhall::db::MIGRATOR")]
async fn joins_leaves_updates_and_the_member_list_become_bronze_and_dim_members(pool: PgPool) {
    // Dave was recorded as a member in an earlier run; he left while the bot was away.
    sqlx::query(
        "insert into bronze.discord_member_events
             (source_key, guild_id, user_id, kind, joined_at, observed_at)
         values ('earlier', $1, $2, 'join', '2026-01-05T10:00:00Z', '2026-01-05T10:00:00Z')",
    )
    .bind(id(GUILD))
    .bind(id(DAVE.id))
    .execute(&pool)
    .await
    .expect("an earlier member");
    let fake = FakeDiscord::start().await;
    let metrics = Metrics::new();
    let bot = RunningBot::start(&pool, &fake, &metrics);
    let conn = connect(&fake, &guild_spec(vec![])).await;
    // The bot asks for the whole member list (op 8) after GUILD_CREATE.
    wait_until("the member list to be requested", || {
        conn.received().iter().any(|payload| {
            payload["op"] == json!(8) && payload["d"]["guild_id"] == json!(GUILD.to_string())
        })
    })
    .await;
    // Two chunks: Alice and Bob (joined before the bot), and the music bot (not recorded).
    let chunk = |members: Vec<Value>, index: u32| {
        json!({
            "guild_id": GUILD.to_string(),
            "members": members,
            "chunk_index": index,
            "chunk_count": 2,
            "not_found": []
        })
    };
    let chunks = [
        chunk(
            vec![
                member_with(&ALICE, "2025-03-01T10:00:00.000000+00:00", &[77], None),
                member_with(&BOB, "2026-06-15T10:00:00.000000+00:00", &[], Some("bobby")),
            ],
            0,
        ),
        chunk(
            vec![member_with(
                &MUSICBOT,
                "2025-01-01T10:00:00.000000+00:00",
                &[],
                None,
            )],
            1,
        ),
    ];
    for payload in chunks {
        assert_dispatch_is_known("GUILD_MEMBERS_CHUNK", payload.clone());
        conn.dispatch("GUILD_MEMBERS_CHUNK", payload);
    }
    let mut synced = wait_for_member_events(&pool, 4).await;
    // The chunk's members come in map order.
    synced[1..3].sort_by_key(|row| row.0);
    let present = |member: &Member, joined: &str, roles: Vec<i64>, nick: Option<&str>| {
        (
            id(member.id),
            "present".to_owned(),
            Some(at(joined)),
            roles,
            nick.map(str::to_owned),
            "sync".to_owned(),
        )
    };
    let expected_sync = vec![
        (
            id(DAVE.id),
            "join".to_owned(),
            Some(at("2026-01-05T10:00:00Z")),
            vec![],
            None,
            "gateway".to_owned(),
        ),
        present(&ALICE, "2025-03-01T10:00:00Z", vec![77], None),
        present(&BOB, "2026-06-15T10:00:00Z", vec![], Some("bobby")),
        // Dave is gone from the list: a leave, as noticed now.
        (
            id(DAVE.id),
            "leave".to_owned(),
            None,
            vec![],
            None,
            "sync".to_owned(),
        ),
    ];
    assert_eq!(synced, expected_sync);

    // Live: Carol joins, Alice gets a role, Bob leaves.
    let join = member_with(&CAROL, "2026-11-30T20:00:00.000000+00:00", &[], None);
    let mut update = member_with(&ALICE, "2025-03-01T10:00:00.000000+00:00", &[77, 78], None);
    update["pending"] = json!(false);
    let leave = json!({
        "guild_id": GUILD.to_string(),
        "user": fake_discord::member_json(&BOB, "2026-06-15T10:00:00.000000+00:00")["user"].clone()
    });
    for (event, payload) in [
        ("GUILD_MEMBER_ADD", join),
        ("GUILD_MEMBER_UPDATE", update),
        ("GUILD_MEMBER_REMOVE", leave),
    ] {
        assert_dispatch_is_known(event, payload.clone());
        let n = member_events(&pool).await.len() + 1;
        conn.dispatch(event, payload);
        wait_for_member_events(&pool, n).await;
    }
    bot.stop().await;
    let live: Vec<(i64, String, Vec<i64>, String)> = member_events(&pool)
        .await
        .into_iter()
        .skip(4)
        .map(|(user, kind, _, roles, _, origin)| (user, kind, roles, origin))
        .collect();
    assert_eq!(
        live,
        vec![
            (
                id(CAROL.id),
                "join".to_owned(),
                vec![],
                "gateway".to_owned()
            ),
            (
                id(ALICE.id),
                "update".to_owned(),
                vec![77, 78],
                "gateway".to_owned()
            ),
            (id(BOB.id), "leave".to_owned(), vec![], "gateway".to_owned()),
        ]
    );

    // Silver: first join, membership, a leave that was only noticed.
    pipeline(&pool)
        .run_all(Trigger::Manual)
        .await
        .expect("pipeline");
    let members: Vec<DimMemberRow> = sqlx::query_as(
        "select discord_user_id, first_joined_at, is_member, left_at_noticed, roles
         from silver.dim_members order by discord_user_id",
    )
    .fetch_all(&pool)
    .await
    .expect("dim_members");
    assert_eq!(
        members,
        vec![
            (
                id(ALICE.id),
                Some(at("2025-03-01T10:00:00Z")),
                true,
                false,
                vec![77, 78]
            ),
            (
                id(BOB.id),
                Some(at("2026-06-15T10:00:00Z")),
                false,
                false,
                vec![]
            ),
            (
                id(CAROL.id),
                Some(at("2026-11-30T20:00:00Z")),
                true,
                false,
                vec![]
            ),
            (
                id(DAVE.id),
                Some(at("2026-01-05T10:00:00Z")),
                false,
                true,
                vec![]
            ),
        ]
    );
}

#[sqlx::test(migrator = "guildhall::db::MIGRATOR")]
async fn a_reconnect_request_mid_stream_resumes_without_losing_or_doubling_anything(pool: PgPool) {
    let fake = FakeDiscord::start().await;
    let metrics = Metrics::new();
    let bot = RunningBot::start(&pool, &fake, &metrics);
    let conn = connect(&fake, &guild_spec(vec![])).await;
    wait_for_observed_until(&pool, Utc::now() - TimeDelta::seconds(5)).await;
    voice_update(&pool, &conn, &ALICE, Some(LOBBY), false, 1).await;
    conn.dispatch(
        "MESSAGE_CREATE",
        message_create(1_447_200_000_000_000_000, CHAT, &BOB, 0, 0),
    );

    // Discord asks the bot to reconnect (op 7) while a session is open.
    conn.request_reconnect();
    let resumed = fake.next_connection().await;
    let Handshake::Resume(d) = &resumed.handshake else {
        panic!("expected RESUME after op 7");
    };
    assert_eq!(d["session_id"], "sess");
    // The resumed session replays the message (Discord replays what the client may have
    // missed) and goes on.
    resumed.dispatch(
        "MESSAGE_CREATE",
        message_create(1_447_200_000_000_000_000, CHAT, &BOB, 0, 0),
    );
    resumed.dispatch("RESUMED", json!({}));
    // Handlers run concurrently: let the resume's reconciliation finish first, so it compares
    // the state before the next update (as in the dropped-connection test).
    wait_until("the reconciliation after RESUMED", || {
        reconciliations(&metrics) == 2
    })
    .await;
    voice_update(&pool, &resumed, &ALICE, Some(CS2), false, 2).await;
    voice_update(&pool, &resumed, &ALICE, None, false, 3).await;
    bot.stop().await;

    let shape: Vec<(i64, Option<i64>)> = bronze(&pool)
        .await
        .into_iter()
        .map(|(user, channel, ..)| (user, channel))
        .collect();
    assert_eq!(
        shape,
        vec![
            (id(ALICE.id), Some(id(LOBBY))),
            (id(ALICE.id), Some(id(CS2))),
            (id(ALICE.id), None),
        ]
    );
    let messages: i64 = sqlx::query_scalar("select count(*) from bronze.discord_messages")
        .fetch_one(&pool)
        .await
        .expect("messages");
    assert_eq!(messages, 1, "the replayed message is stored once");
    pipeline(&pool)
        .run_all(Trigger::Manual)
        .await
        .expect("pipeline");
    let reasons: Vec<Option<String>> =
        sqlx::query_scalar("select end_reason from silver.fact_voice_sessions order by started_at")
            .fetch_all(&pool)
            .await
            .expect("sessions");
    assert_eq!(
        reasons,
        vec![Some("switch".to_owned()), Some("leave".to_owned())]
    );
}

#[sqlx::test(migrator = "guildhall::db::MIGRATOR")]
async fn refused_privileged_intents_leave_voice_recorded_without_them(pool: PgPool) {
    let fake = FakeDiscord::start().await;
    let metrics = Metrics::new();
    let writer_config = WriterConfig {
        batch_size: 100,
        flush_interval: Duration::from_millis(20),
    };
    let (bot_writers, writer_tasks) = BotWriters::spawn(&pool, writer_config, &metrics, None);
    let bot = std::sync::Arc::new(DiscordBot::new(
        BotConfig {
            token: "fake-token".to_owned().into(),
            api_base: fake.api_base.clone(),
            guilds: vec![id(GUILD)],
            heartbeat: Duration::from_millis(100),
            rules_refresh: Duration::from_millis(100),
            message_content: true,
        },
        pool.clone(),
        bot_writers,
        metrics.clone(),
    ));

    // Discord closes the first session: the privileged intents are not enabled (4014).
    let first = {
        let bot = std::sync::Arc::clone(&bot);
        tokio::spawn(async move { bot.run(CancellationToken::new()).await })
    };
    let conn = fake.next_connection().await;
    assert_eq!(conn.intents(), EXPECTED_INTENTS | MESSAGE_CONTENT);
    conn.close_with(4014);
    let error = tokio::time::timeout(Duration::from_secs(20), first)
        .await
        .expect("the session ends")
        .expect("no panic")
        .expect_err("the refusal is an error");
    assert!(
        format!("{error:#}").contains("turn on Server Members Intent"),
        "{error:#}"
    );

    // The next session (the supervisor's restart) asks without them, and voice is recorded.
    let shutdown = CancellationToken::new();
    let second = {
        let bot = std::sync::Arc::clone(&bot);
        let shutdown = shutdown.clone();
        tokio::spawn(async move { bot.run(shutdown).await })
    };
    let conn = fake.next_connection().await;
    assert_eq!(
        conn.intents(),
        EXPECTED_INTENTS & !(1 << 1),
        "the same intents without GUILD_MEMBERS and MESSAGE_CONTENT"
    );
    conn.dispatch("READY", fake_discord::ready(&[GUILD], &fake.gateway_url));
    conn.dispatch(
        "GUILD_CREATE",
        fake_discord::guild_create(&guild_spec(vec![])),
    );
    wait_for_observed_until(&pool, Utc::now() - TimeDelta::seconds(5)).await;
    voice_update(&pool, &conn, &ALICE, Some(LOBBY), false, 1).await;
    shutdown.cancel();
    tokio::time::timeout(Duration::from_secs(20), second)
        .await
        .expect("the bot stops")
        .expect("no panic")
        .expect("a clean stop");
    drop(bot);
    for task in writer_tasks {
        tokio::time::timeout(Duration::from_secs(10), task)
            .await
            .expect("writer stops")
            .expect("writer did not panic");
    }
}

/// change, user, name, status, origin of each bronze scheduled-event row, in order.
type EventRow = (
    i64,
    String,
    Option<i64>,
    Option<String>,
    Option<String>,
    String,
);

async fn event_rows(pool: &PgPool) -> Vec<EventRow> {
    sqlx::query_as(
        "select scheduled_event_id, change, user_id, name, status, origin
         from bronze.discord_scheduled_events order by change_id",
    )
    .fetch_all(pool)
    .await
    .expect("scheduled-event rows")
}

async fn wait_for_event_rows(pool: &PgPool, n: usize) -> Vec<EventRow> {
    let deadline = tokio::time::Instant::now() + Duration::from_secs(15);
    loop {
        let rows = event_rows(pool).await;
        if rows.len() >= n {
            return rows;
        }
        assert!(
            tokio::time::Instant::now() < deadline,
            "expected {n} scheduled-event rows, have {rows:?}"
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

const RAID: u64 = 1_100_000_000_000_000_701;
const MOVIE: u64 = 1_100_000_000_000_000_702;
const OLD_EVENT: u64 = 1_100_000_000_000_000_703;

#[sqlx::test(migrator = "guildhall::db::MIGRATOR")]
async fn scheduled_events_and_interest_are_recorded_live_and_synchronised_on_reconnect(
    pool: PgPool,
) {
    // An earlier run saw an event that has ended since, and Carol interested in the raid.
    sqlx::query(
        "insert into bronze.discord_scheduled_events
             (source_key, guild_id, scheduled_event_id, change, user_id, name, channel_id, kind,
              status, starts_at, ends_at, origin, observed_at)
         values ('old', $1, $2, 'create', null, 'Old', $3, 'voice', 'scheduled',
                 '2026-11-01T19:00:00Z', null, 'gateway', '2026-10-30T10:00:00Z'),
                ('carol', $1, $4, 'user_add', $5, null, null, null, null, null, null,
                 'gateway', '2026-10-30T11:00:00Z')",
    )
    .bind(id(GUILD))
    .bind(id(OLD_EVENT))
    .bind(id(LOBBY))
    .bind(id(RAID))
    .bind(id(CAROL.id))
    .execute(&pool)
    .await
    .expect("earlier observations");
    let raid = fake_discord::scheduled_event(
        GUILD,
        RAID,
        "Raid night",
        Some(LOBBY),
        "2026-12-04T19:00:00+00:00",
        Some("2026-12-04T21:00:00+00:00"),
        1,
    );
    let fake = FakeDiscord::start().await;
    // Alice and 120 others are interested: more than one REST page, so the bot pages.
    let mut users: Vec<u64> = (1..=120).map(|n| 1_200_000_000_000_000_000 + n).collect();
    users.push(ALICE.id);
    fake.set_event_users(RAID, &users);
    let metrics = Metrics::new();
    let bot = RunningBot::start(&pool, &fake, &metrics);
    let mut spec = guild_spec(vec![]);
    spec.events = vec![raid.clone()];
    let conn = connect(&fake, &spec).await;
    assert_dispatch_is_known("GUILD_CREATE", fake_discord::guild_create(&spec));

    // The sync: the raid as listed, the old event gone, the 121 interested users, and Carol
    // (interested before, no longer) removed.
    let synced = wait_for_event_rows(&pool, 2 + 1 + 1 + 121 + 1).await;
    let sync_rows: Vec<&EventRow> = synced.iter().skip(2).collect();
    assert_eq!(
        sync_rows[0],
        &(
            id(RAID),
            "sync".to_owned(),
            None,
            Some("Raid night".to_owned()),
            Some("scheduled".to_owned()),
            "sync".to_owned()
        )
    );
    assert_eq!(
        sync_rows[1],
        &(
            id(OLD_EVENT),
            "gone".to_owned(),
            None,
            None,
            None,
            "sync".to_owned()
        )
    );
    let mut interested: Vec<i64> = sync_rows
        .iter()
        .filter(|row| row.1 == "user_sync")
        .filter_map(|row| row.2)
        .collect();
    interested.sort_unstable();
    let mut expected: Vec<i64> = users.iter().map(|&user| id(user)).collect();
    expected.sort_unstable();
    assert_eq!(interested, expected);
    assert_eq!(
        sync_rows.last().copied(),
        Some(&(
            id(RAID),
            "user_remove".to_owned(),
            Some(id(CAROL.id)),
            None,
            None,
            "sync".to_owned()
        ))
    );
    let pages = fake
        .rest_calls()
        .iter()
        .filter(|call| call.contains(&format!("/scheduled-events/{RAID}/users")))
        .count();
    assert_eq!(pages, 2, "121 users come in two pages of 100");

    // Live: a new external event, Bob interested, Alice no longer, the raid starts, the
    // movie night is deleted.
    let movie = fake_discord::scheduled_event(
        GUILD,
        MOVIE,
        "Movie night",
        None,
        "2026-12-05T19:00:00+00:00",
        None,
        1,
    );
    let mut started = raid.clone();
    started["status"] = json!(2);
    let user = |event: u64, member: &Member| {
        json!({
            "guild_scheduled_event_id": event.to_string(),
            "user_id": member.id.to_string(),
            "guild_id": GUILD.to_string()
        })
    };
    let live = [
        ("GUILD_SCHEDULED_EVENT_CREATE", movie.clone()),
        ("GUILD_SCHEDULED_EVENT_USER_ADD", user(MOVIE, &BOB)),
        ("GUILD_SCHEDULED_EVENT_USER_REMOVE", user(RAID, &ALICE)),
        ("GUILD_SCHEDULED_EVENT_UPDATE", started),
        ("GUILD_SCHEDULED_EVENT_DELETE", movie),
    ];
    let before = synced.len();
    for (n, (event, payload)) in live.into_iter().enumerate() {
        assert_dispatch_is_known(event, payload.clone());
        conn.dispatch(event, payload);
        wait_for_event_rows(&pool, before + n + 1).await;
    }
    bot.stop().await;
    let rows = event_rows(&pool).await;
    assert_eq!(
        rows[before..].to_vec(),
        vec![
            (
                id(MOVIE),
                "create".to_owned(),
                None,
                Some("Movie night".to_owned()),
                Some("scheduled".to_owned()),
                "gateway".to_owned()
            ),
            (
                id(MOVIE),
                "user_add".to_owned(),
                Some(id(BOB.id)),
                None,
                None,
                "gateway".to_owned()
            ),
            (
                id(RAID),
                "user_remove".to_owned(),
                Some(id(ALICE.id)),
                None,
                None,
                "gateway".to_owned()
            ),
            (
                id(RAID),
                "update".to_owned(),
                None,
                Some("Raid night".to_owned()),
                Some("active".to_owned()),
                "gateway".to_owned()
            ),
            (
                id(MOVIE),
                "delete".to_owned(),
                None,
                Some("Movie night".to_owned()),
                Some("scheduled".to_owned()),
                "gateway".to_owned()
            ),
        ]
    );
    let kinds: Vec<(i64, Option<String>, Option<i64>)> = sqlx::query_as(
        "select scheduled_event_id, kind, channel_id from bronze.discord_scheduled_events
         where change = 'create'",
    )
    .fetch_all(&pool)
    .await
    .expect("kinds");
    assert_eq!(
        kinds,
        vec![
            (id(OLD_EVENT), Some("voice".to_owned()), Some(id(LOBBY))),
            (id(MOVIE), Some("external".to_owned()), None)
        ]
    );

    // Silver: the old event completed while the bot was away, the movie night is deleted,
    // the raid is running with 120 interested (Alice and Carol no longer).
    pipeline(&pool)
        .run_all(Trigger::Manual)
        .await
        .expect("pipeline");
    let events: Vec<(i64, String, String)> = sqlx::query_as(
        "select scheduled_event_id, status, kind from silver.dim_events order by scheduled_event_id",
    )
    .fetch_all(&pool)
    .await
    .expect("dim_events");
    assert_eq!(
        events,
        vec![
            (id(RAID), "active".to_owned(), "voice".to_owned()),
            (id(MOVIE), "deleted".to_owned(), "external".to_owned()),
            (id(OLD_EVENT), "completed".to_owned(), "voice".to_owned()),
        ]
    );
    let interested: Vec<(i64, i32)> = sqlx::query_as(
        "select scheduled_event_id, interested from gold.event_attendance order by scheduled_event_id",
    )
    .fetch_all(&pool)
    .await
    .expect("attendance");
    assert_eq!(interested, vec![(id(RAID), 120), (id(OLD_EVENT), 0)]);
}

const WELCOME_INVITE: &str = "welcome";
const STREAM_INVITE: &str = "stream";

async fn join_sources(
    pool: &PgPool,
) -> Vec<(
    i64,
    Option<String>,
    Option<String>,
    Option<i64>,
    Option<String>,
)> {
    sqlx::query_as(
        "select user_id, join_source, invite_code, inviter_id, join_source_note
         from bronze.discord_member_events where kind = 'join' order by event_id",
    )
    .fetch_all(pool)
    .await
    .expect("join sources")
}

#[sqlx::test(migrator = "guildhall::db::MIGRATOR")]
async fn each_join_is_attributed_to_the_invite_whose_count_rose_and_roles_are_kept(pool: PgPool) {
    let fake = FakeDiscord::start().await;
    fake.set_invites(GUILD, &[(WELCOME_INVITE, &ALICE, 3, 0)]);
    let metrics = Metrics::new();
    let bot = RunningBot::start(&pool, &fake, &metrics);
    let mut spec = guild_spec(vec![]);
    spec.roles = vec![
        (1_100_000_000_000_000_901, "Officer"),
        (1_100_000_000_000_000_902, "Raider"),
    ];
    let conn = connect(&fake, &spec).await;
    wait_for_observed_until(&pool, Utc::now() - TimeDelta::seconds(5)).await;
    let stored_invites = || async {
        sqlx::query_as::<_, (String, Option<i64>, i32)>(
            "select code, inviter_id, uses from app.discord_invites order by code",
        )
        .fetch_all(&pool)
        .await
        .expect("invites")
    };
    let deadline = tokio::time::Instant::now() + Duration::from_secs(15);
    while stored_invites().await.is_empty() {
        assert!(
            tokio::time::Instant::now() < deadline,
            "the invites were never stored"
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }

    // Dave joins through the welcome invite (its count rises to 4).
    fake.set_invites(GUILD, &[(WELCOME_INVITE, &ALICE, 4, 0)]);
    let n = member_events(&pool).await.len();
    conn.dispatch(
        "GUILD_MEMBER_ADD",
        member_with(&DAVE, "2026-12-01T10:00:00.000000+00:00", &[], None),
    );
    wait_for_member_events(&pool, n + 1).await;
    // Bob creates a one-use invite; Carol joins through it and Discord deletes it at once.
    conn.dispatch(
        "INVITE_CREATE",
        fake_discord::invite_create(GUILD, STREAM_INVITE, &BOB, 1),
    );
    assert_dispatch_is_known(
        "INVITE_CREATE",
        fake_discord::invite_create(GUILD, STREAM_INVITE, &BOB, 1),
    );
    let deadline = tokio::time::Instant::now() + Duration::from_secs(15);
    while stored_invites().await.len() < 2 {
        assert!(
            tokio::time::Instant::now() < deadline,
            "INVITE_CREATE was never stored"
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    let deleted = json!({
        "channel_id": (GUILD + 10).to_string(),
        "guild_id": GUILD.to_string(),
        "code": STREAM_INVITE
    });
    assert_dispatch_is_known("INVITE_DELETE", deleted.clone());
    conn.dispatch("INVITE_DELETE", deleted);
    conn.dispatch(
        "GUILD_MEMBER_ADD",
        member_with(&CAROL, "2026-12-01T11:00:00.000000+00:00", &[], None),
    );
    wait_for_member_events(&pool, n + 2).await;
    // No count rose: a vanity URL or an admin's add.
    conn.dispatch(
        "GUILD_MEMBER_ADD",
        member_with(&BOB, "2026-12-01T12:00:00.000000+00:00", &[], None),
    );
    wait_for_member_events(&pool, n + 3).await;
    // The bot loses Manage Server.
    fake.deny_invites(GUILD);
    conn.dispatch(
        "GUILD_MEMBER_ADD",
        member_with(&ALICE, "2026-12-01T13:00:00.000000+00:00", &[], None),
    );
    wait_for_member_events(&pool, n + 4).await;
    bot.stop().await;

    assert_eq!(
        join_sources(&pool).await,
        vec![
            (
                id(DAVE.id),
                Some("invite".to_owned()),
                Some(WELCOME_INVITE.to_owned()),
                Some(id(ALICE.id)),
                None
            ),
            (
                id(CAROL.id),
                Some("invite".to_owned()),
                Some(STREAM_INVITE.to_owned()),
                Some(id(BOB.id)),
                None
            ),
            (
                id(BOB.id),
                Some("unknown".to_owned()),
                None,
                None,
                Some("not_found".to_owned())
            ),
            (
                id(ALICE.id),
                Some("unknown".to_owned()),
                None,
                None,
                Some("no_permission".to_owned())
            ),
        ]
    );
    let readable: Option<bool> =
        sqlx::query_scalar("select invites_readable from app.discord_guilds where guild_id = $1")
            .bind(id(GUILD))
            .fetch_one(&pool)
            .await
            .expect("readable");
    assert_eq!(
        readable,
        Some(false),
        "the admin page can say why sources are unknown"
    );
    let roles: Vec<(i64, String)> = sqlx::query_as(
        "select role_id, name from app.discord_roles where not deleted order by role_id",
    )
    .fetch_all(&pool)
    .await
    .expect("roles");
    assert_eq!(
        roles,
        vec![
            (1_100_000_000_000_000_901, "Officer".to_owned()),
            (1_100_000_000_000_000_902, "Raider".to_owned())
        ]
    );

    // Silver keeps the first join's source; the young account is Dave's only if his id says
    // so (these ids date from 2024).
    pipeline(&pool)
        .run_all(Trigger::Manual)
        .await
        .expect("pipeline");
    let dim: Vec<(i64, String, Option<String>, bool)> = sqlx::query_as(
        "select discord_user_id, join_source, invite_code, young_account
         from silver.dim_members where discord_user_id = any($1) order by discord_user_id",
    )
    .bind(vec![id(DAVE.id), id(CAROL.id)])
    .fetch_all(&pool)
    .await
    .expect("dim_members");
    let mut expected = vec![
        (
            id(CAROL.id),
            "invite".to_owned(),
            Some(STREAM_INVITE.to_owned()),
            false,
        ),
        (
            id(DAVE.id),
            "invite".to_owned(),
            Some(WELCOME_INVITE.to_owned()),
            false,
        ),
    ];
    expected.sort();
    assert_eq!(dim, expected);
}

const OTHER: u64 = 1_100_000_000_000_000_002;
const OTHER_LOBBY: u64 = 1_100_000_000_000_000_020;

async fn tracked_flag(pool: &PgPool, guild: u64) -> Option<bool> {
    sqlx::query_scalar("select tracked from app.discord_guilds where guild_id = $1")
        .bind(id(guild))
        .fetch_optional(pool)
        .await
        .expect("tracked flag")
}

async fn wait_for_tracked(pool: &PgPool, guild: u64, tracked: bool) {
    let deadline = tokio::time::Instant::now() + Duration::from_secs(15);
    while tracked_flag(pool, guild).await != Some(tracked) {
        assert!(
            tokio::time::Instant::now() < deadline,
            "guild {guild} never became tracked = {tracked}"
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

#[sqlx::test(migrator = "guildhall::db::MIGRATOR")]
async fn an_admin_turns_the_recording_of_a_guild_on_and_off_while_the_bot_runs(pool: PgPool) {
    let fake = FakeDiscord::start().await;
    let metrics = Metrics::new();
    // Configured to record GUILD only; the bot is in OTHER too, where Alice is in voice.
    let bot = RunningBot::start(&pool, &fake, &metrics);
    let conn = fake.next_connection().await;
    conn.dispatch(
        "READY",
        fake_discord::ready(&[GUILD, OTHER], &fake.gateway_url),
    );
    conn.dispatch(
        "GUILD_CREATE",
        fake_discord::guild_create(&guild_spec(vec![])),
    );
    let other = GuildSpec {
        id: OTHER,
        name: "Other Guild",
        channels: vec![(OTHER_LOBBY, "Lobby")],
        afk_channel_id: None,
        members: vec![ALICE],
        voice: vec![(ALICE.id, OTHER_LOBBY)],
        events: vec![],
        roles: vec![],
    };
    conn.dispatch("GUILD_CREATE", fake_discord::guild_create(&other));
    wait_for_tracked(&pool, GUILD, true).await;
    wait_for_tracked(&pool, OTHER, false).await;
    let in_other = || async {
        sqlx::query_scalar::<_, i64>(
            "select count(*) from bronze.discord_voice_events where guild_id = $1",
        )
        .bind(id(OTHER))
        .fetch_one(&pool)
        .await
        .expect("count")
    };
    assert_eq!(
        in_other().await,
        0,
        "an untracked guild's voice is not recorded"
    );

    // An admin turns OTHER on: the bot records it as if it had just become available.
    sqlx::query("insert into app.discord_guild_tracking (guild_id, tracked) values ($1, true)")
        .bind(id(OTHER))
        .execute(&pool)
        .await
        .expect("turn on");
    wait_for_tracked(&pool, OTHER, true).await;
    let deadline = tokio::time::Instant::now() + Duration::from_secs(15);
    while in_other().await == 0 {
        assert!(
            tokio::time::Instant::now() < deadline,
            "Alice's voice in OTHER was never reconciled"
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    let origin: String =
        sqlx::query_scalar("select origin from bronze.discord_voice_events where guild_id = $1")
            .bind(id(OTHER))
            .fetch_one(&pool)
            .await
            .expect("origin");
    assert_eq!(
        origin, "reconcile",
        "Alice, already in voice, gets her session opened"
    );
    wait_until("the member list of OTHER is requested", || {
        conn.received().iter().any(|payload| {
            payload["op"] == 8 && payload["d"]["guild_id"] == json!(OTHER.to_string())
        })
    })
    .await;

    // And turns GUILD off: Bob's voice there is dropped as untracked from now on.
    sqlx::query("insert into app.discord_guild_tracking (guild_id, tracked) values ($1, false)")
        .bind(id(GUILD))
        .execute(&pool)
        .await
        .expect("turn off");
    wait_for_tracked(&pool, GUILD, false).await;
    let dropped = metrics.dropped_count("discord_voice", DropReason::untracked);
    conn.dispatch(
        "VOICE_STATE_UPDATE",
        fake_discord::voice_state_update(GUILD, &BOB, Some(LOBBY), false),
    );
    wait_until("Bob's update is dropped", || {
        metrics.dropped_count("discord_voice", DropReason::untracked) > dropped
    })
    .await;
    bot.stop().await;
    let in_guild: i64 =
        sqlx::query_scalar("select count(*) from bronze.discord_voice_events where guild_id = $1")
            .bind(id(GUILD))
            .fetch_one(&pool)
            .await
            .expect("count");
    assert_eq!(in_guild, 0);
}

#[sqlx::test(migrator = "guildhall::db::MIGRATOR")]
async fn with_two_shards_each_guild_is_recorded_and_observed_on_its_own_shard(pool: PgPool) {
    let fake = FakeDiscord::start().await;
    fake.set_shards(2);
    let metrics = Metrics::new();
    let bot =
        support::bot::RunningBot::start_guilds(&pool, &fake, &metrics, vec![id(GUILD), id(OTHER)]);
    // Serenity opens both shards (one after the other) and says which one each is.
    let first = fake.next_connection().await;
    let second = fake.next_connection().await;
    let (zero, one) = if first.shard() == 0 {
        (first, second)
    } else {
        (second, first)
    };
    assert_eq!((zero.shard(), one.shard()), (0, 1));
    zero.dispatch("READY", fake_discord::ready(&[GUILD], &fake.gateway_url));
    zero.dispatch(
        "GUILD_CREATE",
        fake_discord::guild_create(&guild_spec(vec![])),
    );
    one.dispatch("READY", fake_discord::ready(&[OTHER], &fake.gateway_url));
    let other = GuildSpec {
        id: OTHER,
        name: "Other Guild",
        channels: vec![(OTHER_LOBBY, "Lobby")],
        afk_channel_id: None,
        members: vec![ALICE],
        voice: vec![],
        events: vec![],
        roles: vec![],
    };
    one.dispatch("GUILD_CREATE", fake_discord::guild_create(&other));
    let stamped = |guild: u64| {
        let pool = pool.clone();
        async move {
            sqlx::query_scalar::<_, Option<DateTime<Utc>>>(
                "select observed_until from app.discord_guilds where guild_id = $1",
            )
            .bind(id(guild))
            .fetch_optional(&pool)
            .await
            .expect("observed_until")
            .flatten()
        }
    };
    let deadline = tokio::time::Instant::now() + Duration::from_secs(15);
    while stamped(GUILD).await.is_none() || stamped(OTHER).await.is_none() {
        assert!(
            tokio::time::Instant::now() < deadline,
            "both guilds are observed"
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    // Each shard's member request asks for its own guild.
    wait_until("shard 0 requests GUILD's members", || {
        zero.received()
            .iter()
            .any(|p| p["op"] == 8 && p["d"]["guild_id"] == json!(GUILD.to_string()))
    })
    .await;
    wait_until("shard 1 requests OTHER's members", || {
        one.received()
            .iter()
            .any(|p| p["op"] == 8 && p["d"]["guild_id"] == json!(OTHER.to_string()))
    })
    .await;
    // Voice on both shards is recorded.
    zero.dispatch(
        "VOICE_STATE_UPDATE",
        fake_discord::voice_state_update(GUILD, &BOB, Some(LOBBY), false),
    );
    one.dispatch(
        "VOICE_STATE_UPDATE",
        fake_discord::voice_state_update(OTHER, &ALICE, Some(OTHER_LOBBY), false),
    );
    let guilds = || async {
        sqlx::query_scalar::<_, i64>(
            "select distinct guild_id from bronze.discord_voice_events order by guild_id",
        )
        .fetch_all(&pool)
        .await
        .expect("guilds")
    };
    let deadline = tokio::time::Instant::now() + Duration::from_secs(15);
    while guilds().await.len() < 2 {
        assert!(
            tokio::time::Instant::now() < deadline,
            "voice on both shards"
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    assert_eq!(guilds().await, vec![id(GUILD), id(OTHER)]);

    // Both guilds go on being stamped, each by its own connected shard.
    let (guild_before, other_before) = (stamped(GUILD).await, stamped(OTHER).await);
    let deadline = tokio::time::Instant::now() + Duration::from_secs(15);
    while stamped(GUILD).await <= guild_before || stamped(OTHER).await <= other_before {
        assert!(
            tokio::time::Instant::now() < deadline,
            "both guilds stay observed"
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    bot.stop().await;
}
