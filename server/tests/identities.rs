//! One person, many accounts: a member links a Minecraft and a Steam account by the
//! in-game code (the real log path: decoder, ingest steps, `!link` recognised before the
//! chat text is dropped), the day they were in voice and on both servers counts one person
//! in every column, and unlinking gives the numbers back exactly. Through the web app
//! (`support/web_app.rs`), a member links a Steam account Discord vouches for with a click,
//! and an admin's identity editor suggests owners with evidence, flags contradicted links
//! and splits persons.

#[path = "support/web_app.rs"]
mod web_app;

use axum::http::StatusCode;
use chrono::{DateTime, NaiveDate, Utc};
use collectors::discord::{VoiceEvent, VoiceOrigin};
use collectors::game::logs::{LogFormat, LogSink, LogStream};
use collectors::ingest::{IngestWriter, WriterConfig};
use collectors::metrics::Metrics;
use collectors::steps::IpHasher;
use guildhall::clock::Clock;
use guildhall::pipeline::{JobName, Pipeline, Table, Trigger};
use serde_json::{Value, json};
use sqlx::PgPool;
use std::sync::Arc;
use web_app::{DISCORD_ID, Options, run_job, start, start_demo};

const GUILD: i64 = 900;
const MIRA: i64 = 111_000_000_000_000_111;
const MIRA_UUID: &str = "069a79f4-44e9-4726-a5be-fca90e38aaf5";
const MIRA_STEAM: &str = "76561197960290418";

fn at(rfc3339: &str) -> DateTime<Utc> {
    DateTime::parse_from_rfc3339(rfc3339)
        .expect("timestamp")
        .with_timezone(&Utc)
}

async fn setup(pool: &PgPool) -> (i64, i64, i64) {
    let user: i64 = sqlx::query_scalar(
        "insert into app.users (discord_user_id, username, display_name)
         values ($1, 'mira', 'Mira') returning id",
    )
    .bind(MIRA)
    .fetch_one(pool)
    .await
    .expect("user");
    sqlx::query(
        "insert into app.discord_guilds (guild_id, name, observed_until)
         values ($1, 'Test', '2026-11-30T00:00:00Z')",
    )
    .bind(GUILD)
    .execute(pool)
    .await
    .expect("guild");
    let server = |name: &'static str, game: &'static str, source: &'static str| async move {
        sqlx::query_scalar::<_, i64>(
            "insert into app.game_servers (name, game, host, log_source, ingest_token)
             values ($1, $2, '127.0.0.1', $3, md5($1) || md5($2)) returning server_id",
        )
        .bind(name)
        .bind(game)
        .bind(source)
        .fetch_one(pool)
        .await
        .expect("server")
    };
    let minecraft = server("Survival", "minecraft", "file").await;
    let cs2 = server("Dust", "cs2", "http").await;
    (user, minecraft, cs2)
}

async fn voice(pool: &PgPool) {
    let (writer, task) = IngestWriter::spawn(pool.clone(), WriterConfig::default(), Metrics::new());
    for (channel, when) in [
        (Some(5), "2026-11-28T10:00:00Z"),
        (None, "2026-11-28T11:00:00Z"),
    ] {
        writer
            .write(VoiceEvent {
                guild_id: GUILD,
                user_id: MIRA,
                channel_id: channel,
                self_mute: false,
                self_deaf: false,
                origin: VoiceOrigin::Gateway,
                occurred_at: at(when),
            })
            .await
            .expect("voice");
    }
    drop(writer);
    task.await.expect("writer");
}

/// Log lines through the real decoder and ingest steps, committed.
async fn logs(pool: &PgPool, server_id: i64, format: LogFormat, lines: &[&str]) {
    let day = NaiveDate::from_ymd_opt(2026, 11, 28).expect("day");
    let mut stream = LogStream::new(
        server_id,
        format,
        chrono_tz::UTC,
        day,
        at("2026-11-28T23:00:00Z"),
    );
    stream.push(lines.join("\n").as_bytes());
    stream.finish();
    let (writer, task) = IngestWriter::spawn(pool.clone(), WriterConfig::default(), Metrics::new());
    let sink = LogSink::new(
        writer,
        Metrics::new(),
        Arc::new(IpHasher::new(pool.clone())),
    );
    sink.commit(stream.take()).await.expect("logs");
    drop(sink);
    task.await.expect("writer");
}

async fn run(pool: &PgPool) {
    Pipeline::with_clock(
        pool.clone(),
        chrono_tz::UTC,
        Metrics::new(),
        Clock::fixed(at("2026-12-01T12:00:00Z")),
    )
    .run_all(Trigger::Manual)
    .await
    .expect("pipeline");
}

/// (total, voice, game) persons on 28 November.
async fn day_counts(pool: &PgPool) -> (i32, i32, i32) {
    sqlx::query_as(
        "select dau_total, dau_voice, dau_game from gold.daily_active_users where day = '2026-11-28'",
    )
    .fetch_one(pool)
    .await
    .expect("dau")
}

/// Mira on the Minecraft server from 12:00 to 13:00, with her UUID line.
fn mira_minecraft_lines() -> [String; 3] {
    [
        format!("[12:00:00] [User Authenticator #1/INFO]: UUID of player Mira is {MIRA_UUID}"),
        "[12:00:01] [Server thread/INFO]: Mira joined the game".to_owned(),
        "[13:00:00] [Server thread/INFO]: Mira left the game".to_owned(),
    ]
}

async fn person_of(pool: &PgPool, kind: &str, id: &str) -> i64 {
    sqlx::query_scalar(
        "select person_id from silver.user_identities where kind = $1 and external_id = $2",
    )
    .bind(kind)
    .bind(id)
    .fetch_one(pool)
    .await
    .expect("identity")
}

#[sqlx::test(migrator = "guildhall::db::MIGRATOR")]
async fn accounts_linked_by_in_game_code_count_as_one_person_and_unlinking_gives_the_numbers_back(
    pool: PgPool,
) {
    let (user, minecraft, cs2) = setup(&pool).await;
    voice(&pool).await;
    logs(
        &pool,
        minecraft,
        LogFormat::Minecraft,
        &[
            &format!("[12:00:00] [User Authenticator #1/INFO]: UUID of player Mira is {MIRA_UUID}"),
            "[12:00:01] [Server thread/INFO]: Mira joined the game",
            "[13:00:00] [Server thread/INFO]: Mira left the game",
        ],
    )
    .await;
    logs(&pool, cs2, LogFormat::Hl, &[
        "L 11/28/2026 - 14:00:00: \"Mira<2><[U:1:24690]><>\" connected, address \"203.0.113.7:27005\"",
        "L 11/28/2026 - 14:00:05: \"Mira<2><[U:1:24690]><>\" entered the game",
        "L 11/28/2026 - 15:00:00: \"Mira<2><[U:1:24690]><CT>\" disconnected (reason \"Disconnect\")",
    ])
    .await;
    run(&pool).await;
    let before = day_counts(&pool).await;
    // Three persons: the Discord member and two game accounts of their own.
    assert_eq!(before, (3, 1, 2));

    // The member asks for two codes and says them in game chat (any case).
    let now = at("2026-11-28T15:30:00Z");
    let mc_code = app::ssr::identity::new_link_code(&pool, user, now)
        .await
        .expect("code");
    let cs_code = app::ssr::identity::new_link_code(&pool, user, now)
        .await
        .expect("code");
    assert_eq!(mc_code.expires_at, at("2026-11-28T15:45:00Z"));
    assert_eq!(mc_code.code.len(), 8);
    // A stored `!link` line wakes the pipeline (`serve`'s scheduler listens on this channel).
    let mut wake = sqlx::postgres::PgListener::connect_with(&pool)
        .await
        .expect("listener");
    wake.listen("guildhall_pipeline").await.expect("listen");
    logs(
        &pool,
        minecraft,
        LogFormat::Minecraft,
        &[&format!(
            "[15:35:00] [Server thread/INFO]: <Mira> !link {}",
            mc_code.code
        )],
    )
    .await;
    let woken = tokio::time::timeout(std::time::Duration::from_secs(5), wake.recv())
        .await
        .expect("the pipeline is woken")
        .expect("notification");
    assert_eq!(woken.payload(), "link_code");
    logs(
        &pool,
        cs2,
        LogFormat::Hl,
        &[&format!(
            "L 11/28/2026 - 15:36:00: \"Mira<3><[U:1:24690]><CT>\" say \"!LINK {}\"",
            cs_code.code.to_lowercase()
        )],
    )
    .await;
    // The pipeline redeems the codes (job link_codes): the ingest only kept their hashes.
    run(&pool).await;
    let member = person_of(&pool, "discord", &MIRA.to_string()).await;
    assert_eq!(person_of(&pool, "minecraft", MIRA_UUID).await, member);
    assert_eq!(person_of(&pool, "steam", MIRA_STEAM).await, member);
    let how: Vec<(String, String, Option<i64>, Option<String>)> = sqlx::query_as(
        "select kind, verified_by, verified_by_user, display_name from silver.user_identities
         where kind <> 'discord' order by kind",
    )
    .fetch_all(&pool)
    .await
    .expect("identities");
    assert_eq!(
        how,
        [
            (
                "minecraft".into(),
                "ingame_code".into(),
                Some(user),
                Some("Mira".into())
            ),
            (
                "steam".into(),
                "ingame_code".into(),
                Some(user),
                Some("Mira".into())
            ),
        ]
    );
    run(&pool).await;
    assert_eq!(day_counts(&pool).await, (1, 1, 1));

    // A used code, a wrong one and a late one link nothing; the code text is stored nowhere.
    logs(
        &pool,
        cs2,
        LogFormat::Hl,
        &[
            &format!(
                "L 11/28/2026 - 15:40:00: \"Other<4><[U:1:999]><CT>\" say \"!link {}\"",
                mc_code.code
            ),
            "L 11/28/2026 - 15:41:00: \"Other<4><[U:1:999]><CT>\" say \"!link ZZZZZZZZ\"",
        ],
    )
    .await;
    let late = app::ssr::identity::new_link_code(&pool, user, now)
        .await
        .expect("code");
    logs(
        &pool,
        cs2,
        LogFormat::Hl,
        &[&format!(
            "L 11/28/2026 - 16:00:00: \"Other<4><[U:1:999]><CT>\" say \"!link {}\"",
            late.code
        )],
    )
    .await;
    run(&pool).await;
    let outcomes: Vec<String> =
        sqlx::query_scalar("select outcome from app.link_code_attempts order by id")
            .fetch_all(&pool)
            .await
            .expect("attempts");
    assert_eq!(outcomes, ["linked", "linked", "used", "unknown", "expired"]);
    let leaked: i64 = sqlx::query_scalar(
        "select count(*) from bronze.game_log_events
         where detail::text ilike '%' || $1 || '%' or detail::text ilike '%link%'",
    )
    .bind(&mc_code.code)
    .fetch_one(&pool)
    .await
    .expect("leak check");
    assert_eq!(leaked, 0);
    let audit: Vec<(String, String)> =
        sqlx::query_as("select action, subject from app.audit_log order by id")
            .fetch_all(&pool)
            .await
            .expect("audit");
    assert_eq!(
        audit,
        [
            ("identity.link".into(), format!("minecraft {MIRA_UUID}")),
            ("identity.link".into(), format!("steam {MIRA_STEAM}")),
        ]
    );

    // Unlinked again, every number is what it was.
    assert!(
        app::ssr::identity::unlink(&pool, "minecraft", MIRA_UUID, user)
            .await
            .expect("unlink")
    );
    assert!(
        app::ssr::identity::unlink(&pool, "steam", MIRA_STEAM, user)
            .await
            .expect("unlink")
    );
    run(&pool).await;
    assert_eq!(day_counts(&pool).await, before);
    assert_ne!(person_of(&pool, "steam", MIRA_STEAM).await, member);
}

#[sqlx::test(migrator = "guildhall::db::MIGRATOR")]
async fn five_wrong_codes_from_one_account_silence_it_and_a_member_gets_five_codes_an_hour(
    pool: PgPool,
) {
    let (user, _, cs2) = setup(&pool).await;
    let now = at("2026-11-28T15:30:00Z");
    let mut codes = Vec::new();
    for _ in 0..5 {
        codes.push(
            app::ssr::identity::new_link_code(&pool, user, now)
                .await
                .expect("code"),
        );
    }
    let refused = app::ssr::identity::new_link_code(&pool, user, now).await;
    assert!(
        matches!(refused, Err(app::ssr::identity::CodeError::TooMany)),
        "a sixth code: {refused:?}"
    );
    assert_eq!(app::ssr::identity::CODES_PER_HOUR, 5);
    let mut lines: Vec<String> = (0..5)
        .map(|i| {
            format!(
                "L 11/28/2026 - 15:3{i}:00: \"Guess<4><[U:1:999]><CT>\" say \"!link WRONG00{i}\""
            )
        })
        .collect();
    // The right code after five wrong ones is ignored too.
    lines.push(format!(
        "L 11/28/2026 - 15:36:00: \"Guess<4><[U:1:999]><CT>\" say \"!link {}\"",
        codes[0].code
    ));
    let refs: Vec<&str> = lines.iter().map(String::as_str).collect();
    logs(&pool, cs2, LogFormat::Hl, &refs).await;
    run(&pool).await;
    let outcomes: Vec<String> =
        sqlx::query_scalar("select outcome from app.link_code_attempts order by at")
            .fetch_all(&pool)
            .await
            .expect("attempts");
    assert_eq!(
        outcomes,
        [
            "unknown", "unknown", "unknown", "unknown", "unknown", "limited"
        ]
    );
    let linked: i64 = sqlx::query_scalar(
        "select count(*) from silver.user_identities where verified_by = 'ingame_code'",
    )
    .fetch_one(&pool)
    .await
    .expect("count");
    assert_eq!(linked, 0);
}

#[sqlx::test(migrator = "guildhall::db::MIGRATOR")]
async fn merging_two_persons_counts_them_once_and_the_audit_log_names_the_accounts(pool: PgPool) {
    let (user, minecraft, _) = setup(&pool).await;
    voice(&pool).await;
    logs(
        &pool,
        minecraft,
        LogFormat::Minecraft,
        &[
            &format!("[12:00:00] [User Authenticator #1/INFO]: UUID of player Mira is {MIRA_UUID}"),
            "[12:00:01] [Server thread/INFO]: Mira joined the game",
            "[13:00:00] [Server thread/INFO]: Mira left the game",
        ],
    )
    .await;
    run(&pool).await;
    assert_eq!(day_counts(&pool).await, (2, 1, 1));
    let member = person_of(&pool, "discord", &MIRA.to_string()).await;
    let gamer = person_of(&pool, "minecraft", MIRA_UUID).await;
    let moved: i32 = sqlx::query_scalar("select silver.merge_persons($1, $2, $3)")
        .bind(member)
        .bind(gamer)
        .bind(user)
        .fetch_one(&pool)
        .await
        .expect("merge");
    assert_eq!(moved, 1);
    run(&pool).await;
    assert_eq!(day_counts(&pool).await, (1, 1, 1));
    let session_person: i64 = sqlx::query_scalar("select person_id from silver.fact_game_sessions")
        .fetch_one(&pool)
        .await
        .expect("session");
    assert_eq!(session_person, member);
    let (action, subject, after): (String, String, serde_json::Value) =
        sqlx::query_as("select action, subject, after from app.audit_log order by id desc limit 1")
            .fetch_one(&pool)
            .await
            .expect("audit");
    assert_eq!(action, "identity.merge");
    assert_eq!(subject, format!("person {gamer} into person {member}"));
    assert_eq!(
        after,
        serde_json::json!({"person_id": member, "accounts": [{"kind": "minecraft", "external_id": MIRA_UUID}]})
    );
    let refused = sqlx::query("select silver.merge_persons($1, $1, $2)")
        .bind(member)
        .bind(user)
        .execute(&pool)
        .await
        .expect_err("merging a person into themselves");
    assert!(
        refused
            .to_string()
            .contains("a person cannot be merged into themselves"),
        "{refused}"
    );
}

/// Everything the database holds, as `pg_dump --data-only` writes it.
async fn data_dump(pool: &PgPool) -> String {
    let name: String = sqlx::query_scalar("select current_database()")
        .fetch_one(pool)
        .await
        .expect("database name");
    let mut url = url::Url::parse(&std::env::var("DATABASE_URL").expect("DATABASE_URL"))
        .expect("DATABASE_URL is a URL");
    url.set_path(&name);
    let output = std::process::Command::new("pg_dump")
        .args(["--data-only", url.as_str()])
        .output()
        .expect("pg_dump runs");
    assert!(output.status.success(), "pg_dump failed: {output:?}");
    String::from_utf8(output.stdout).expect("UTF-8 dump")
}

#[sqlx::test(migrator = "guildhall::db::MIGRATOR")]
async fn an_opted_out_member_leaves_only_hashes_their_events_are_dropped_and_the_numbers_recount(
    pool: PgPool,
) {
    let (user, minecraft, cs2) = setup(&pool).await;
    voice(&pool).await;
    let mira_lines = mira_minecraft_lines();
    let mira_lines: Vec<&str> = mira_lines.iter().map(String::as_str).collect();
    logs(&pool, minecraft, LogFormat::Minecraft, &mira_lines).await;
    logs(&pool, cs2, LogFormat::Hl, &[
        "L 11/28/2026 - 14:00:00: \"Mira<2><[U:1:24690]><>\" connected, address \"203.0.113.7:27005\"",
        "L 11/28/2026 - 14:00:05: \"Mira<2><[U:1:24690]><>\" entered the game",
        "L 11/28/2026 - 15:00:00: \"Mira<2><[U:1:24690]><CT>\" disconnected (reason \"Disconnect\")",
        "L 11/28/2026 - 15:00:01: \"Ana<4><[U:1:555]><>\" entered the game",
        "L 11/28/2026 - 16:00:00: \"Ana<4><[U:1:555]><CT>\" disconnected (reason \"Disconnect\")",
    ])
    .await;
    run(&pool).await;
    let member = person_of(&pool, "discord", &MIRA.to_string()).await;
    for (kind, id) in [("minecraft", MIRA_UUID), ("steam", MIRA_STEAM)] {
        sqlx::query("select silver.link_identity($1, $2, $3, 'ingame_code', $4, 'Mira')")
            .bind(kind)
            .bind(id)
            .bind(member)
            .bind(user)
            .execute(&pool)
            .await
            .expect("link");
    }
    run(&pool).await;
    // Mira (voice, both games) and Ana (CS2).
    assert_eq!(day_counts(&pool).await, (2, 1, 2));

    let erased: i32 = sqlx::query_scalar("select app.erase_person($1, true, 'member.opt_out')")
        .bind(member)
        .fetch_one(&pool)
        .await
        .expect("opt out");
    assert_eq!(erased, 3);
    run(&pool).await;
    assert_eq!(day_counts(&pool).await, (1, 0, 1), "only Ana is left");

    let dump = data_dump(&pool).await;
    for trace in [
        MIRA.to_string().as_str(),
        MIRA_UUID,
        MIRA_STEAM,
        "Mira",
        "mira",
    ] {
        assert!(!dump.contains(trace), "the dump still holds {trace}");
    }
    // The hashes the collectors compare with are the database's.
    let hashes: Vec<String> =
        sqlx::query_scalar("select account_hash from app.opted_out_accounts order by 1")
            .fetch_all(&pool)
            .await
            .expect("hashes");
    let mut expected = vec![
        collectors::rules::account_hash("discord", &MIRA.to_string()),
        collectors::rules::account_hash("minecraft", MIRA_UUID),
        collectors::rules::account_hash("steam", MIRA_STEAM),
        collectors::rules::account_hash("minecraft_name", "mira"),
    ];
    expected.sort();
    assert_eq!(hashes, expected);

    // Further events from any of her accounts are dropped at ingest, with the reason.
    let metrics = Metrics::new();
    let day = NaiveDate::from_ymd_opt(2026, 11, 29).expect("day");
    for (server, format, lines) in [
        (minecraft, LogFormat::Minecraft, mira_lines.clone()),
        (
            cs2,
            LogFormat::Hl,
            vec!["L 11/29/2026 - 14:00:05: \"Mira<2><[U:1:24690]><>\" entered the game"],
        ),
    ] {
        let mut stream = LogStream::new(
            server,
            format,
            chrono_tz::UTC,
            day,
            at("2026-11-29T23:00:00Z"),
        );
        stream.push(lines.join("\n").as_bytes());
        stream.finish();
        let (writer, task) =
            IngestWriter::spawn(pool.clone(), WriterConfig::default(), Metrics::new());
        let sink = LogSink::new(
            writer,
            metrics.clone(),
            Arc::new(IpHasher::new(pool.clone())),
        );
        sink.commit(stream.take()).await.expect("logs");
        drop(sink);
        task.await.expect("writer");
    }
    assert_eq!(
        metrics.dropped_count("game_logs", collectors::metrics::DropReason::opted_out),
        4
    );
    let rules = collectors::rules::IngestRules::load(&pool)
        .await
        .expect("rules");
    assert!(rules.is_opted_out("discord", &MIRA.to_string()));
    assert!(!rules.is_opted_out("discord", "5"));
    let dump = data_dump(&pool).await;
    assert!(
        !dump.contains("Mira"),
        "a dropped line reached the database"
    );
}

#[sqlx::test(migrator = "guildhall::db::MIGRATOR")]
async fn a_deleted_member_leaves_no_trace_and_is_recorded_afresh_when_they_come_back(pool: PgPool) {
    let (user, minecraft, _cs2) = setup(&pool).await;
    voice(&pool).await;
    let mira_lines = mira_minecraft_lines();
    let mira_lines: Vec<&str> = mira_lines.iter().map(String::as_str).collect();
    logs(&pool, minecraft, LogFormat::Minecraft, &mira_lines).await;
    run(&pool).await;
    let member = person_of(&pool, "discord", &MIRA.to_string()).await;
    sqlx::query("select silver.link_identity('minecraft', $1, $2, 'ingame_code', $3, 'Mira')")
        .bind(MIRA_UUID)
        .bind(member)
        .bind(user)
        .execute(&pool)
        .await
        .expect("link");
    run(&pool).await;
    let before = day_counts(&pool).await;
    assert_eq!(before.0, 1, "Mira is the one person of the day");

    // Someone else's entry, whose words could match a name: it stays as it is.
    sqlx::query(
        "insert into app.audit_log (actor_name, action, subject, after)
         values ('Root', 'guild.channel.exclude', 'guild 900 channel 5 (Mira-talk)',
                 '{\"by\": \"admin\"}')",
    )
    .execute(&pool)
    .await
    .expect("another entry");
    let erased: i32 = sqlx::query_scalar("select app.erase_person($1, false, 'member.delete')")
        .bind(member)
        .fetch_one(&pool)
        .await
        .expect("delete");
    assert_eq!(erased, 2);
    let other: (String, String) = sqlx::query_as(
        "select subject, after::text from app.audit_log where action = 'guild.channel.exclude'",
    )
    .fetch_one(&pool)
    .await
    .expect("the other entry");
    assert_eq!(
        other,
        (
            "guild 900 channel 5 (Mira-talk)".to_owned(),
            "{\"by\": \"admin\"}".to_owned()
        )
    );
    sqlx::query("delete from app.audit_log where action = 'guild.channel.exclude'")
        .execute(&pool)
        .await
        .expect("out of the way of the dump check");
    run(&pool).await;
    assert_eq!(
        day_counts(&pool).await,
        (0, 0, 0),
        "the day counts nobody now"
    );
    let dump = data_dump(&pool).await;
    for trace in [MIRA.to_string().as_str(), MIRA_UUID, "Mira", "mira"] {
        assert!(!dump.contains(trace), "the dump still holds {trace}");
    }
    let hashes: i64 = sqlx::query_scalar("select count(*) from app.opted_out_accounts")
        .fetch_one(&pool)
        .await
        .expect("hashes");
    assert_eq!(hashes, 0, "deleting is not opting out");
    let entry: (String, String) =
        sqlx::query_as("select action, actor_name from app.audit_log order by id desc limit 1")
            .fetch_one(&pool)
            .await
            .expect("audit");
    assert_eq!(entry.0, "member.delete");

    // Playing again later is recorded, as a new person of its own.
    logs(&pool, minecraft, LogFormat::Minecraft, &mira_lines).await;
    run(&pool).await;
    let bronze: i64 =
        sqlx::query_scalar("select count(*) from bronze.game_log_events where account_id = $1")
            .bind(MIRA_UUID)
            .fetch_one(&pool)
            .await
            .expect("bronze");
    assert!(bronze > 0, "her new lines were kept");
    let again = person_of(&pool, "minecraft", MIRA_UUID).await;
    assert_ne!(again, member, "a person of its own, not the deleted one");
    assert_eq!(day_counts(&pool).await.2, 1, "and counted again");
}

#[sqlx::test(migrator = "guildhall::db::MIGRATOR")]
async fn erasing_a_member_marks_the_tables_their_rows_left_and_names_no_job(pool: PgPool) {
    let (user, minecraft, _cs2) = setup(&pool).await;
    voice(&pool).await;
    let mira_lines = mira_minecraft_lines();
    let mira_lines: Vec<&str> = mira_lines.iter().map(String::as_str).collect();
    logs(&pool, minecraft, LogFormat::Minecraft, &mira_lines).await;
    run(&pool).await;
    let member = person_of(&pool, "discord", &MIRA.to_string()).await;
    sqlx::query("select silver.link_identity('minecraft', $1, $2, 'ingame_code', $3, 'Mira')")
        .bind(MIRA_UUID)
        .bind(member)
        .bind(user)
        .execute(&pool)
        .await
        .expect("link");
    run(&pool).await;

    sqlx::query("select app.erase_person($1, false, 'member.delete')")
        .bind(member)
        .execute(&pool)
        .await
        .expect("delete");
    // Her one active day (28 November, in the pipeline's UTC) on the tables her sessions,
    // messages and day rows left; her memberships and event answers from then on.
    let marks: Vec<(String, DateTime<Utc>, Option<DateTime<Utc>>)> = sqlx::query_as(
        "select table_name, from_at, nullif(to_at, 'infinity') from app.pipeline_dirty_tables
         order by to_at, table_name",
    )
    .fetch_all(&pool)
    .await
    .expect("marks");
    let day = (at("2026-11-28T00:00:00Z"), Some(at("2026-11-29T00:00:00Z")));
    let from_then = (at("2026-11-28T00:00:00Z"), None);
    let expected: Vec<(String, DateTime<Utc>, Option<DateTime<Utc>>)> = [
        (Table::ActivityDaily, day),
        (Table::FactChatDaily, day),
        (Table::FactGameSessions, day),
        (Table::FactVoiceSessions, day),
        (Table::DiscordScheduledEvents, from_then),
        (Table::DimMembers, from_then),
    ]
    .into_iter()
    .map(|(table, (from, to))| (table.as_str().to_owned(), from, to))
    .collect();
    assert_eq!(marks, expected);
    let named: i64 = sqlx::query_scalar("select count(*) from app.pipeline_dirty_ranges")
        .fetch_one(&pool)
        .await
        .expect("requests");
    assert_eq!(named, 0, "the function names no job");

    // The job graph hands them on: every job that read her rows recomputes (those
    // app.erase_person used to name among them).
    let p = Pipeline::with_clock(
        pool.clone(),
        chrono_tz::UTC,
        Metrics::new(),
        Clock::fixed(at("2026-12-01T12:00:00Z")),
    );
    p.distribute_dirty_tables().await.expect("distribute");
    let requested: Vec<(String, bool)> = sqlx::query_as(
        "select distinct job, to_at = 'infinity' from app.pipeline_dirty_ranges order by 2, 1",
    )
    .fetch_all(&pool)
    .await
    .expect("requests");
    let on_her_day = [
        JobName::ActivityDaily,
        JobName::DailyActiveUsers,
        JobName::DiscordComparable,
        JobName::Events,
        JobName::Funnel,
        JobName::IdentityReview,
        JobName::MemberGrowth,
        JobName::MemberSources,
        JobName::PresenceHours,
        JobName::RetentionCohorts,
        JobName::ServerUtilization,
    ];
    let from_her_first_day = [
        JobName::DiscordComparable,
        JobName::Events,
        JobName::Funnel,
        JobName::MemberGrowth,
        JobName::MemberSources,
        JobName::RetentionCohorts,
    ];
    let expected: Vec<(String, bool)> = on_her_day
        .iter()
        .map(|job| (job.as_str().to_owned(), false))
        .chain(
            from_her_first_day
                .iter()
                .map(|job| (job.as_str().to_owned(), true)),
        )
        .collect();
    assert_eq!(requested, expected);
    run(&pool).await;
    assert_eq!(
        day_counts(&pool).await,
        (0, 0, 0),
        "nobody is left that day"
    );
}

/// One entry of `/users/@me/connections` as Discord sends it.
fn connection(kind: &str, id: &str, name: &str, verified: bool, revoked: bool) -> Value {
    json!({
        "type": kind, "id": id, "name": name, "verified": verified, "revoked": revoked,
        "integrations": [], "friend_sync": false, "show_activity": true,
        "two_way_link": false, "visibility": 1,
    })
}

#[sqlx::test(migrator = "guildhall::db::MIGRATOR")]
async fn only_verified_unrevoked_steam_connections_are_offered_and_one_links_with_a_click(
    pool: PgPool,
) {
    let app = start(pool, Options::default()).await;
    app.provider.set_connections(json!([
        connection("steam", "76561197960287930", "ada_main", true, false),
        connection("steam", "76561197960287931", "ada_unverified", false, false),
        connection("steam", "76561197960287932", "ada_revoked", true, true),
        connection("steam", "not-a-steam-id", "broken", true, false),
        connection("twitch", "31415", "ada_streams", true, false),
        connection("steam", "76561197960287933", "ada_alt", true, false),
    ]));
    app.sign_in_with_discord().await;

    let (status, offered) = app.call::<app::api::GetMySteamConnections>(&[]).await;
    assert_eq!(status, StatusCode::OK, "{offered}");
    assert_eq!(
        offered,
        json!([
            {"steam_id": "76561197960287933", "name": "ada_alt", "linked": false},
            {"steam_id": "76561197960287930", "name": "ada_main", "linked": false},
        ])
    );

    // An account Discord did not vouch for (unverified) cannot be linked this way.
    let (status, body) = app
        .call::<app::api::LinkSteamConnection>(&[("steam_id", "76561197960287931")])
        .await;
    assert_eq!(status, StatusCode::BAD_REQUEST, "{body}");

    let (status, body) = app
        .call::<app::api::LinkSteamConnection>(&[("steam_id", "76561197960287930")])
        .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    #[derive(sqlx::FromRow, Debug, PartialEq)]
    struct LinkedSteam {
        external_id: String,
        verified_by: String,
        display_name: Option<String>,
        same_person_as_discord: bool,
    }
    let linked: Vec<LinkedSteam> = sqlx::query_as(
        "select i.external_id, i.verified_by, i.display_name,
                i.person_id = (select person_id from silver.user_identities
                               where kind = 'discord' and external_id = $1::text)
                    as same_person_as_discord
         from silver.user_identities i where i.kind = 'steam'",
    )
    .bind(DISCORD_ID)
    .fetch_all(&app.pool)
    .await
    .expect("identities");
    assert_eq!(
        linked,
        vec![LinkedSteam {
            external_id: "76561197960287930".to_owned(),
            verified_by: "oauth_connection".to_owned(),
            display_name: Some("ada_main".to_owned()),
            same_person_as_discord: true,
        }]
    );
    let (_, offered) = app.call::<app::api::GetMySteamConnections>(&[]).await;
    assert_eq!(offered[1]["linked"], json!(true), "{offered}");
    assert_eq!(offered[0]["linked"], json!(false), "{offered}");

    // Revoked in Discord since: the next sign-in no longer offers it (the link stays).
    app.provider.set_connections(json!([connection(
        "steam",
        "76561197960287933",
        "ada_alt",
        true,
        true
    )]));
    app.sign_in_with_discord().await;
    let (_, offered) = app.call::<app::api::GetMySteamConnections>(&[]).await;
    assert_eq!(offered, json!([]));
    let (status, _) = app
        .call::<app::api::LinkSteamConnection>(&[("steam_id", "76561197960287933")])
        .await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
}

#[sqlx::test(migrator = "guildhall::db::MIGRATOR")]
async fn the_editor_suggests_owners_with_evidence_flags_contradicted_links_and_splits(
    pool: PgPool,
) {
    // Ten days ago (relative, so the window of 90 days always holds it): Mira was in voice
    // 18–21 h while the unowned Steam account xXMiraXx played 18:30–20:30; Jonas was in voice
    // 18–19 h. Ana's Minecraft account played alone. Jonas's linked Steam account was on two
    // servers at once; his linked Minecraft account played on five days he never came to
    // Discord. A hidden member named Mira is never offered.
    sqlx::raw_sql(
        "insert into silver.dim_user (person_id) overriding system value
             values (1), (2), (3), (4), (7);
         select setval(pg_get_serial_sequence('silver.dim_user', 'person_id'), 100);
         insert into app.users (discord_user_id, username, display_name) values
             (11, 'mira', 'Mira'), (12, 'jonas', 'Jonas'), (17, 'mira2', 'Mira');
         insert into silver.user_identities (kind, external_id, person_id, verified_by) values
             ('discord', '11', 1, 'observed'), ('discord', '12', 2, 'observed'),
             ('discord', '17', 7, 'observed'),
             ('steam', '76561197960000001', 3, 'observed'),
             ('minecraft', 'mc-ana', 4, 'observed'),
             ('steam', '76561197960000002', 2, 'ingame_code'),
             ('minecraft', 'mc-jonas', 2, 'admin');
         insert into app.hidden_persons (person_id) values (7);
         insert into app.game_servers (server_id, name, game, host, ingest_token)
             overriding system value values
             (5, 'cs', 'cs2', 'h', repeat('x', 32)), (6, 'cs-2', 'cs2', 'h', repeat('y', 32));
         create temporary table base as select date_trunc('day', now()) - interval '10 days' as at;
         insert into silver.fact_voice_sessions
             (guild_id, discord_user_id, started_at, ended_at, person_id, channel_id, is_afk)
         select 42, u, b.at + s, b.at + e, p, 1, false
         from base b, (values (11, 1, interval '18 hours', interval '21 hours'),
                              (17, 7, interval '18 hours', interval '21 hours'),
                              (12, 2, interval '18 hours', interval '19 hours')) v (u, p, s, e);
         insert into silver.fact_game_sessions
             (server_id, player_key, started_at, ended_at, account_kind, account_id, person_id,
              player_name, source)
         select sv, 'steam:' || id, b.at + s, b.at + e, k, id, p, n, 'log'
         from base b, (values
             (5, 'steam', '76561197960000001', 3, 'xXMiraXx', interval '18 hours 30 minutes', interval '20 hours 30 minutes'),
             (5, 'minecraft', 'mc-ana', 4, 'Ana', interval '2 days 10 hours', interval '2 days 12 hours'),
             (5, 'steam', '76561197960000002', 2, 'jonas', interval '1 day 20 hours', interval '1 day 22 hours'),
             (6, 'steam', '76561197960000002', 2, 'jonas', interval '1 day 21 hours', interval '1 day 23 hours')
         ) g (sv, k, id, p, n, s, e);
         insert into silver.activity_daily (day, account_kind, account_id, person_id, game_seconds, voice_seconds)
         select (b.at + d * interval '1 day')::date, 'minecraft', 'mc-jonas', 2, 3600, 0
         from base b, generate_series(1, 5) d
         union all
         select (b.at + interval '6 days')::date, 'discord', '12', 2, 0, 600 from base b;",
    )
    .execute(&pool)
    .await
    .expect("community");
    // The editor reads the review the pipeline keeps.
    run_job(&pool, JobName::PresenceHours).await;
    run_job(&pool, JobName::IdentityReview).await;
    let app = start_demo(pool).await;
    app.sign_in_demo("admin").await;

    let (status, review) = app.call::<app::api::GetIdentityReview>(&[]).await;
    assert_eq!(status, StatusCode::OK, "{review}");
    assert_eq!(
        review["suggestions"],
        json!([{
            "kind": "steam", "external_id": "76561197960000001", "player_name": "xXMiraXx",
            "played_hours": 3, "candidate_person": 1, "candidate_name": "Mira",
            "name_similarity": 0.75, "together_hours": 3, "score": 0.85,
        }])
    );
    let base: chrono::DateTime<chrono::Utc> =
        sqlx::query_scalar("select date_trunc('day', now()) - interval '10 days'")
            .fetch_one(&app.pool)
            .await
            .expect("base");
    let never_last = (base + chrono::Duration::days(5)).date_naive();
    assert_eq!(
        review["suspects"],
        json!([
            {
                "kind": "minecraft", "external_id": "mc-jonas", "player_name": null,
                "person_id": 2, "person_name": "Jonas", "verified_by": "admin",
                "reason": "never_online", "count": 5,
                "last_at": never_last.and_hms_opt(0, 0, 0).expect("midnight").and_utc(),
            },
            {
                "kind": "steam", "external_id": "76561197960000002", "player_name": "jonas",
                "person_id": 2, "person_name": "Jonas", "verified_by": "ingame_code",
                "reason": "two_servers", "count": 1,
                "last_at": base + chrono::Duration::hours(24 + 21),
            },
        ])
    );

    // Accepting the suggestion links the account; it is no longer suggested.
    let (status, body) = app
        .call::<app::api::AdminLinkIdentity>(&[
            ("person_id", "1"),
            ("kind", "steam"),
            ("external_id", "76561197960000001"),
        ])
        .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    let (_, review) = app.call::<app::api::GetIdentityReview>(&[]).await;
    assert_eq!(review["suggestions"], json!([]));

    // Split it off again: a new person with the account and its sessions; the last account
    // of a person cannot be split off, nor nothing at all.
    let (status, new_person) = app
        .call::<app::api::SplitPerson>(&[
            ("person_id", "1"),
            ("accounts[0]", "steam:76561197960000001"),
        ])
        .await;
    assert_eq!(status, StatusCode::OK, "{new_person}");
    let new_person = new_person.as_i64().expect("the new person");
    let moved: (i64, i64) = sqlx::query_as(
        "select (select person_id from silver.user_identities where external_id = '76561197960000001'),
                (select min(person_id) from silver.fact_game_sessions where account_id = '76561197960000001')",
    )
    .fetch_one(&app.pool)
    .await
    .expect("moved");
    assert_eq!(moved, (new_person, new_person));
    let (status, body) = app
        .call::<app::api::SplitPerson>(&[("person_id", "1"), ("accounts[0]", "discord:11")])
        .await;
    assert_eq!(status, StatusCode::BAD_REQUEST, "{body}");
    let (status, _) = app
        .call::<app::api::SplitPerson>(&[("person_id", "1")])
        .await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    let actions: Vec<String> = sqlx::query_scalar(
        "select action from app.audit_log where action like 'identity.%' order by id",
    )
    .fetch_all(&app.pool)
    .await
    .expect("audit");
    assert_eq!(actions, vec!["identity.link", "identity.split"]);

    // The search finds Mira and the split-off xXMiraXx, never the hidden member.
    let (_, found) = app
        .call::<app::api::SearchPersons>(&[("query", "mira")])
        .await;
    let ids: Vec<i64> = found
        .as_array()
        .expect("persons")
        .iter()
        .map(|p| p["person_id"].as_i64().expect("id"))
        .collect();
    assert_eq!(ids, vec![1, new_person]);
}

/// A `!link` line stored as the ingest stores it (only the code's hash), said at `said` by
/// the game server's clock and received at `received`.
async fn link_line(
    pool: &PgPool,
    server: i64,
    steam_id: &str,
    code: &str,
    said: &str,
    received: &str,
) {
    sqlx::query(
        "insert into bronze.game_log_events
             (server_id, occurred_at, line_hash, kind, player_name, account_kind, account_id,
              detail, ingested_at)
         values ($1, $2, hashtextextended($3 || $4 || $2::text, 0), 'chat', 'Player', 'steam', $3,
                 jsonb_build_object('code_hash', app.link_code_hash($4), 'chat_length', 14),
                 $5)",
    )
    .bind(server)
    .bind(at(said))
    .bind(steam_id)
    .bind(code)
    .bind(at(received))
    .execute(pool)
    .await
    .expect("link line");
}

/// The outcomes of an account's `!link` attempts, in the order they were redeemed.
async fn outcomes_of(pool: &PgPool, steam_id: &str) -> Vec<String> {
    sqlx::query_scalar(
        "select outcome from app.link_code_attempts where kind = 'steam' and external_id = $1
         order by id",
    )
    .bind(steam_id)
    .fetch_all(pool)
    .await
    .expect("attempts")
}

#[sqlx::test(migrator = "guildhall::db::MIGRATOR")]
async fn wrong_codes_count_by_when_their_lines_were_received_not_by_the_time_written_in_them(
    pool: PgPool,
) {
    let (user, _, cs2) = setup(&pool).await;
    let now = at("2026-11-28T15:30:00Z");
    let code_a = app::ssr::identity::new_link_code(&pool, user, now)
        .await
        .expect("code");
    let code_c = app::ssr::identity::new_link_code(&pool, user, now)
        .await
        .expect("code");
    const A: &str = "76561197960265729";
    const B: &str = "76561197960265730";
    const C: &str = "76561197960265731";
    // A: five wrong codes in lines dated years back, all received within a minute, then
    // the right code: silenced (the dates cannot spread the attempts out).
    for (i, year) in (2020..2025).enumerate() {
        link_line(
            &pool,
            cs2,
            A,
            &format!("WRONG00{i}"),
            &format!("{year}-01-01T12:00:00Z"),
            &format!("2026-12-01T10:00:0{i}Z"),
        )
        .await;
    }
    link_line(
        &pool,
        cs2,
        A,
        &code_a.code,
        "2026-11-28T15:36:00Z",
        "2026-12-01T10:00:05Z",
    )
    .await;
    // B: five wrong codes in lines dated years ahead, received within a minute: the sixth
    // is ignored too.
    for (i, year) in (2031..2036).enumerate() {
        link_line(
            &pool,
            cs2,
            B,
            &format!("WRONG10{i}"),
            &format!("{year}-01-01T12:00:00Z"),
            &format!("2026-12-01T10:00:2{i}Z"),
        )
        .await;
    }
    link_line(
        &pool,
        cs2,
        B,
        "WRONG106",
        "2036-01-01T12:00:00Z",
        "2026-12-01T10:00:26Z",
    )
    .await;
    // C: five wrong codes in lines dated within one minute but received two hours before
    // the right one: they no longer count, and the right code links.
    for i in 0..5 {
        link_line(
            &pool,
            cs2,
            C,
            &format!("WRONG20{i}"),
            &format!("2026-11-28T15:31:0{i}Z"),
            &format!("2026-12-01T08:00:0{i}Z"),
        )
        .await;
    }
    link_line(
        &pool,
        cs2,
        C,
        &code_c.code,
        "2026-11-28T15:32:00Z",
        "2026-12-01T10:00:10Z",
    )
    .await;
    run_job(&pool, JobName::LinkCodes).await;

    let unknown = |n: usize| vec!["unknown".to_owned(); n];
    assert_eq!(
        outcomes_of(&pool, A).await,
        [unknown(5), vec!["limited".to_owned()]].concat()
    );
    assert_eq!(
        outcomes_of(&pool, B).await,
        [unknown(5), vec!["limited".to_owned()]].concat()
    );
    assert_eq!(
        outcomes_of(&pool, C).await,
        [unknown(5), vec!["linked".to_owned()]].concat()
    );
    // Attempts keep both times: when the line was received (the limit's) and its own.
    let (received, said): (DateTime<Utc>, DateTime<Utc>) = sqlx::query_as(
        "select at, said_at from app.link_code_attempts
         where external_id = $1 and outcome = 'linked'",
    )
    .bind(C)
    .fetch_one(&pool)
    .await
    .expect("attempt");
    assert_eq!(
        (received, said),
        (at("2026-12-01T10:00:10Z"), at("2026-11-28T15:32:00Z"))
    );
    let mira = person_of(&pool, "discord", &MIRA.to_string()).await;
    assert_eq!(person_of(&pool, "steam", C).await, mira);
    let a_person: Option<i64> = sqlx::query_scalar(
        "select person_id from silver.user_identities where kind = 'steam' and external_id = $1",
    )
    .bind(A)
    .fetch_optional(&pool)
    .await
    .expect("identity of A");
    assert_ne!(a_person, Some(mira), "A stays unlinked");
}

#[sqlx::test(migrator = "guildhall::db::MIGRATOR")]
async fn an_in_game_code_never_moves_an_account_verified_as_someone_elses_but_an_admin_can(
    pool: PgPool,
) {
    const ADMIN: i64 = 444_000_000_000_000_444;
    const OTTO: i64 = 222_000_000_000_000_222;
    const BY_OPENID: &str = "76561197960266001";
    const BY_CONNECTION: &str = "76561197960266002";
    const OWN: &str = "76561197960266003";
    let app = start(
        pool,
        Options {
            admin_ids: vec![ADMIN],
            ..Options::default()
        },
    )
    .await;
    let cs2: i64 = sqlx::query_scalar(
        "insert into app.game_servers (name, game, host, log_source, ingest_token)
         values ('Dust', 'cs2', '127.0.0.1', 'http', md5('Dust')) returning server_id",
    )
    .fetch_one(&app.pool)
    .await
    .expect("server");
    // Otto's Steam accounts, one verified by Steam sign-in, one by his Discord connection.
    sqlx::query("select silver.ensure_discord_persons(array[$1::bigint, $2::bigint])")
        .bind(OTTO)
        .bind(DISCORD_ID)
        .execute(&app.pool)
        .await
        .expect("persons");
    let otto = person_of(&app.pool, "discord", &OTTO.to_string()).await;
    let member = person_of(&app.pool, "discord", &DISCORD_ID.to_string()).await;
    for (steam, how, person) in [
        (BY_OPENID, "steam_openid", otto),
        (BY_CONNECTION, "oauth_connection", otto),
        // And one of the member's own, verified by Steam sign-in.
        (OWN, "steam_openid", member),
    ] {
        sqlx::query("select silver.link_identity('steam', $1, $2, $3, null, null)")
            .bind(steam)
            .bind(person)
            .bind(how)
            .execute(&app.pool)
            .await
            .expect("verified link");
    }

    // The member says their codes from each of the three accounts.
    app.sign_in_with_discord().await;
    let user: i64 = sqlx::query_scalar("select id from app.users where discord_user_id = $1")
        .bind(DISCORD_ID)
        .fetch_one(&app.pool)
        .await
        .expect("user");
    let now = at("2026-11-28T15:30:00Z");
    // Received just now (/me shows the last day's attempts), in this order.
    let received = Utc::now() - chrono::Duration::seconds(10);
    for (i, steam) in [BY_OPENID, BY_CONNECTION, OWN].into_iter().enumerate() {
        let code = app::ssr::identity::new_link_code(&app.pool, user, now)
            .await
            .expect("code");
        link_line(
            &app.pool,
            cs2,
            steam,
            &code.code,
            &format!("2026-11-28T15:3{}:00Z", i + 1),
            &(received + chrono::Duration::seconds(i as i64)).to_rfc3339(),
        )
        .await;
    }
    run_job(&app.pool, JobName::LinkCodes).await;

    // Otto's accounts stay his, as verified as they were; the member's own stays verified
    // by Steam sign-in (a code is weaker proof).
    let links: Vec<(String, i64, String)> = sqlx::query_as(
        "select external_id, person_id, verified_by from silver.user_identities
         where kind = 'steam' order by external_id",
    )
    .fetch_all(&app.pool)
    .await
    .expect("links");
    assert_eq!(
        links,
        vec![
            (BY_OPENID.to_owned(), otto, "steam_openid".to_owned()),
            (
                BY_CONNECTION.to_owned(),
                otto,
                "oauth_connection".to_owned()
            ),
            (OWN.to_owned(), member, "steam_openid".to_owned()),
        ]
    );
    assert_eq!(outcomes_of(&app.pool, BY_OPENID).await, ["verified"]);
    assert_eq!(outcomes_of(&app.pool, BY_CONNECTION).await, ["verified"]);
    assert_eq!(outcomes_of(&app.pool, OWN).await, ["linked"]);

    // The member sees on /me why those two codes linked nothing (newest first).
    let (status, attempts) = app.call::<app::api::GetMyLinkAttempts>(&[]).await;
    assert_eq!(status, StatusCode::OK, "{attempts}");
    let seen: Vec<(String, String)> = attempts
        .as_array()
        .expect("attempts")
        .iter()
        .map(|a| {
            (
                a["external_id"].as_str().unwrap_or_default().to_owned(),
                a["outcome"].as_str().unwrap_or_default().to_owned(),
            )
        })
        .collect();
    assert_eq!(
        seen,
        [
            (BY_CONNECTION.to_owned(), "verified".to_owned()),
            (BY_OPENID.to_owned(), "verified".to_owned()),
        ]
    );

    // An admin can move it.
    app.jar
        .add_cookie_str("guildhall_session=; Max-Age=0; Path=/", &app.base);
    app.provider.set_user_id(ADMIN);
    web_app::record_membership(&app.pool, ADMIN, "join", "2026-01-02T10:00:00Z").await;
    app.sign_in_with_discord().await;
    let (status, body) = app
        .call::<app::api::AdminLinkIdentity>(&[
            ("person_id", &member.to_string()),
            ("kind", "steam"),
            ("external_id", BY_OPENID),
        ])
        .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!(person_of(&app.pool, "steam", BY_OPENID).await, member);
}
