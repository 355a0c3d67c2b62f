//! Voice in Discord, recorded: the real serenity client (inside the real `DiscordBot`)
//! against a fake Discord on loopback writes every voice update once through the real
//! ingestion writer (through a database outage too, but never for excluded channels or
//! opted-out people), and the real pipeline turns them into exact sessions and DAU.

mod support;

use chrono::{DateTime, Duration as TimeDelta, NaiveDate, Utc};
use collectors::discord::VoiceEvent;
use collectors::ingest::{IngestWriter, WriterConfig};
use collectors::metrics::{DropReason, Metrics};
use guildhall::pipeline::Trigger;
use serde_json::{Value, json};
use sqlx::PgPool;
use std::collections::HashMap;
use std::time::Duration;
use support::discord::*;
use support::fake_discord::{self, FakeDiscord, Member};
use support::pipeline::sessions;

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

#[sqlx::test(migrator = "guildhall::db::MIGRATOR")]
async fn voice_updates_become_bronze_rows_sessions_and_dau(pool: PgPool) {
    let fake = FakeDiscord::start().await;
    let metrics = Metrics::new();
    let bot = start_bot(&pool, &fake, &metrics);

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
    let alice_joined = wait_for_rows(&pool, 1).await[0].occurred_at;

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

    let rows = voice_events(&pool).await;
    let shape: Vec<(i64, Option<i64>, &str, bool)> = rows
        .iter()
        .map(|row| {
            (
                row.user_id,
                row.channel_id,
                row.origin.as_str(),
                row.self_mute,
            )
        })
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
        rows.windows(2)
            .all(|pair| pair[0].occurred_at < pair[1].occurred_at),
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

    #[derive(sqlx::FromRow)]
    struct GuildRow {
        name: String,
        afk_channel_id: Option<i64>,
        observed_until: DateTime<Utc>,
    }
    let guild: GuildRow = sqlx::query_as(
        "select name, afk_channel_id, observed_until from app.discord_guilds where guild_id = $1",
    )
    .bind(id(GUILD))
    .fetch_one(&pool)
    .await
    .expect("guild row");
    assert_eq!(guild.name, "Guildhall Test");
    assert_eq!(guild.afk_channel_id, Some(id(AFK)));
    assert!(
        guild.observed_until >= seen,
        "observed_until only moves forward"
    );
    assert!(
        guild.observed_until >= rows[8].occurred_at,
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
    let bot = start_bot(&pool, &fake, &metrics);
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
            .filter(|row| row.user_id == id(member.id))
            .map(|row| row.channel_id)
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
        sessions.iter().all(|s| s.ended_at.is_some()),
        "a ghost session stayed open: {sessions:?}"
    );
    for member in [&BOB, &CAROL] {
        let reasons: Vec<&str> = sessions
            .iter()
            .filter(|s| s.discord_user_id == id(member.id))
            .map(|s| s.end_reason.as_deref().unwrap_or("open"))
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
    let bot = start_bot_with(&through, &fake, &metrics, Some(spool.clone()), false);
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
        voice_events(&pool).await.len(),
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
    let rows = voice_events(&pool).await;
    assert_eq!(rows.len(), sent + 3, "every event exactly once");
    let keys: std::collections::HashSet<(i64, DateTime<Utc>)> = rows
        .iter()
        .map(|row| (row.user_id, row.occurred_at))
        .collect();
    assert_eq!(keys.len(), rows.len(), "no event twice");
    assert_eq!(spool.backlog("discord_voice"), 0);
    let _ = std::fs::remove_dir_all(&dir);
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
    let bot = start_bot(&pool, &fake, &metrics);
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

    let rows: Vec<(i64, Option<i64>, bool)> = voice_events(&pool)
        .await
        .into_iter()
        .map(|row| (row.user_id, row.channel_id, row.self_mute))
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
