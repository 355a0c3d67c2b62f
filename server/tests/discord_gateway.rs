//! The bot's connection to Discord's gateway: restarts and reconnects reconcile who came
//! and went while away, resumes lose and double nothing, guilds come, change and go, an
//! admin switches a guild's recording on and off, refused privileged intents leave voice
//! recorded, two shards each observe their own guild, and every payload the fake sends
//! parses in serenity.

mod support;

use chrono::{DateTime, Duration as TimeDelta, Utc};
use collectors::Collector;
use collectors::discord::bot::{BotConfig, BotWriters, DiscordBot};
use collectors::ingest::WriterConfig;
use collectors::metrics::{DropReason, Metrics};
use guildhall::pipeline::Trigger;
use serde_json::{Value, json};
use serenity::model::gateway::Ready;
use serenity::model::guild::Guild;
use serenity::model::voice::VoiceState;
use sqlx::PgPool;
use std::time::Duration;
use support::discord::*;
use support::fake_discord::{self, FakeDiscord, GuildSpec, Handshake};
use support::pipeline::sessions;
use tokio_util::sync::CancellationToken;

#[sqlx::test(migrator = "guildhall::db::MIGRATOR")]
async fn a_restart_reconciles_who_left_and_who_joined_while_away(pool: PgPool) {
    let fake = FakeDiscord::start().await;
    let metrics = Metrics::new();

    // First session: Alice and Bob are in voice at connect, Carol joins live.
    let bot = start_bot(&pool, &fake, &metrics);
    let conn = connect(
        &fake,
        &guild_spec(vec![(ALICE.id, LOBBY), (BOB.id, CS2), (MUSICBOT.id, LOBBY)]),
    )
    .await;
    let opened = wait_for_rows(&pool, 2).await;
    voice_update(&pool, &conn, &CAROL, Some(LOBBY), false, 3).await;
    // Let the heartbeat stamp observed_until at least once after Carol's join.
    let carol_joined = wait_for_rows(&pool, 3).await[2].occurred_at;
    wait_for_observed_until(&pool, carol_joined).await;
    bot.stop().await;
    let last_seen = observed_until(&pool).await;
    assert!(last_seen >= carol_joined);

    // While the bot is away, Bob leaves and Dave joins.
    tokio::time::sleep(Duration::from_millis(300)).await;
    let bot = start_bot(&pool, &fake, &metrics);
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
    let dave_seen = rows[4].occurred_at;
    wait_for_observed_until(&pool, dave_seen).await;
    bot.stop().await;

    let alice_opened = opened
        .iter()
        .find(|row| row.user_id == id(ALICE.id))
        .expect("alice opened")
        .occurred_at;
    let bob_opened = opened
        .iter()
        .find(|row| row.user_id == id(BOB.id))
        .expect("bob opened")
        .occurred_at;
    let shape: Vec<(i64, Option<i64>, &str)> = rows[2..]
        .iter()
        .map(|row| (row.user_id, row.channel_id, row.origin.as_str()))
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
    assert_eq!(rows[3].occurred_at, last_seen);
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
    expected.sort_by_key(|row| (row.discord_user_id, row.started_at));
    let mut actual = sessions(&pool).await;
    // `seconds` is rounded by PostgreSQL; compare the rest exactly.
    for row in actual.iter_mut().chain(expected.iter_mut()) {
        row.seconds = row.seconds.map(|_| 0);
    }
    assert_eq!(actual, expected);
}

#[sqlx::test(migrator = "guildhall::db::MIGRATOR")]
async fn a_dropped_connection_resumes_without_losing_or_duplicating_events(pool: PgPool) {
    let fake = FakeDiscord::start().await;
    let metrics = Metrics::new();
    let bot = start_bot(&pool, &fake, &metrics);
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

    let shape: Vec<(i64, Option<i64>, String)> = voice_events(&pool)
        .await
        .into_iter()
        .map(|row| (row.user_id, row.channel_id, row.origin))
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
    let bot = start_bot(&pool, &fake, &metrics);
    let conn = connect(&fake, &guild_spec(vec![(ALICE.id, LOBBY), (BOB.id, CS2)])).await;
    let joined = wait_for_rows(&pool, 2).await[1].occurred_at;
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
        .map(|row| (row.user_id, row.channel_id, row.origin.as_str()))
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
    for VoiceEventRow {
        user_id: user,
        channel_id: channel,
        occurred_at,
        ..
    } in &rows[2..]
    {
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
        .map(|s| (s.discord_user_id, s.channel_id, s.end_reason))
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
async fn a_reconnect_request_mid_stream_resumes_without_losing_or_doubling_anything(pool: PgPool) {
    let fake = FakeDiscord::start().await;
    let metrics = Metrics::new();
    let bot = start_bot(&pool, &fake, &metrics);
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

    let shape: Vec<(i64, Option<i64>)> = voice_events(&pool)
        .await
        .into_iter()
        .map(|row| (row.user_id, row.channel_id))
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
async fn a_guild_that_goes_away_is_no_longer_marked_as_observed(pool: PgPool) {
    let fake = FakeDiscord::start().await;
    let metrics = Metrics::new();
    let bot = start_bot(&pool, &fake, &metrics);
    let conn = connect(&fake, &guild_spec(vec![(ALICE.id, LOBBY)])).await;
    let alice_joined = wait_for_rows(&pool, 1).await[0].occurred_at;
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
    let bot = start_bot(&pool, &fake, &metrics);
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
    let bot = start_bot(&pool, &fake, &metrics);
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
