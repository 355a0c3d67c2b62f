//! Records of an account that opted out while they waited (in the writer's buffer, or in the
//! spool during an outage) are dropped when they are written: the real writer checks the
//! batch's accounts against `app.opted_out_accounts` in the transaction that stores it, and
//! an opt-out under way makes it wait until the hashes are committed.

use chrono::{DateTime, Utc};
use collectors::discord::{VoiceEvent, VoiceOrigin};
use collectors::game::event::GameAccount;
use collectors::game::records::{GameLogRecord, LogKind, SnapshotPlayer, StatusRecord};
use collectors::ingest::{BronzeRecord, IngestWriter, SpoolConfig, WriterConfig};
use collectors::metrics::{DropReason, Metrics};
use sqlx::PgPool;
use std::time::Duration;

const MIRA: i64 = 111_000_000_000_000_111;
const OTTO: i64 = 222_000_000_000_000_222;

fn at(rfc3339: &str) -> DateTime<Utc> {
    DateTime::parse_from_rfc3339(rfc3339)
        .expect("timestamp")
        .with_timezone(&Utc)
}

fn voice(user: i64, when: &str) -> VoiceEvent {
    VoiceEvent {
        guild_id: 900,
        user_id: user,
        channel_id: Some(5),
        self_mute: false,
        self_deaf: false,
        origin: VoiceOrigin::Gateway,
        occurred_at: at(when),
    }
}

/// A writer that flushes only when asked.
fn buffered() -> WriterConfig {
    WriterConfig {
        batch_size: 1000,
        flush_interval: Duration::from_secs(3600),
    }
}

/// The Discord accounts whose voice events are stored.
async fn stored_voice(pool: &PgPool) -> Vec<i64> {
    sqlx::query_scalar("select user_id from bronze.discord_voice_events order by user_id")
        .fetch_all(pool)
        .await
        .expect("stored")
}

/// Mira opts out as the web app does it: her person is erased and her account kept as a
/// hash. `conn` is the transaction it runs in.
async fn opt_out_mira(conn: &mut sqlx::PgConnection) {
    sqlx::query("select silver.ensure_discord_persons(array[$1::bigint])")
        .bind(MIRA)
        .execute(&mut *conn)
        .await
        .expect("person");
    let erased: i32 = sqlx::query_scalar(
        "select app.erase_person(
             (select person_id from silver.user_identities
              where kind = 'discord' and external_id = $1::text),
             true, 'member.opt_out')",
    )
    .bind(MIRA)
    .fetch_one(&mut *conn)
    .await
    .expect("opt-out");
    assert_eq!(erased, 1);
}

#[sqlx::test(migrations = "../migrations")]
async fn buffered_records_of_an_account_that_opted_out_meanwhile_are_dropped_at_write(
    pool: PgPool,
) {
    let metrics = Metrics::new();
    let (writer, task) = IngestWriter::spawn(pool.clone(), buffered(), metrics.clone());
    writer
        .write(voice(MIRA, "2026-11-28T10:00:00Z"))
        .await
        .expect("write");
    writer
        .write(voice(OTTO, "2026-11-28T10:00:01Z"))
        .await
        .expect("write");
    // Both wait in the buffer while Mira opts out.
    let mut conn = pool.acquire().await.expect("connection");
    opt_out_mira(&mut conn).await;
    writer.flush().await.expect("flush");
    assert_eq!(stored_voice(&pool).await, [OTTO]);
    assert_eq!(
        metrics.dropped_count("discord_voice", DropReason::opted_out),
        1
    );
    assert_eq!(
        metrics.dropped_count("discord_voice", DropReason::duplicate),
        0,
        "the dropped record is not counted as a duplicate"
    );
    drop(writer);
    task.await.expect("writer ends");
}

#[sqlx::test(migrations = "../migrations")]
async fn spooled_records_of_an_account_that_opted_out_meanwhile_are_dropped_at_replay(
    pool: PgPool,
) {
    // Records spooled during an outage (as the writer spools them: one JSON line each).
    let dir = std::env::temp_dir().join(format!(
        "guildhall-opt-out-spool-{}-{}",
        std::process::id(),
        Utc::now().timestamp_nanos_opt().unwrap_or_default()
    ));
    let spool = SpoolConfig {
        dir: dir.clone(),
        max_bytes: 1 << 20,
    };
    std::fs::create_dir_all(&dir).expect("spool dir");
    let lines: String = [
        voice(MIRA, "2026-11-28T10:00:00Z"),
        voice(OTTO, "2026-11-28T10:00:01Z"),
        voice(MIRA, "2026-11-28T11:00:00Z"),
    ]
    .iter()
    .map(|record| format!("{}\n", record.to_json()))
    .collect();
    std::fs::write(spool.file(VoiceEvent::SOURCE), lines).expect("spool file");
    assert_eq!(spool.backlog(VoiceEvent::SOURCE), 3);

    // Mira opts out before the database is back for the writer.
    let mut conn = pool.acquire().await.expect("connection");
    opt_out_mira(&mut conn).await;

    let metrics = Metrics::new();
    let (writer, task) = IngestWriter::<VoiceEvent>::spawn_with_spool(
        pool.clone(),
        buffered(),
        metrics.clone(),
        Some(spool.clone()),
    );
    writer.flush().await.expect("flush");
    assert_eq!(stored_voice(&pool).await, [OTTO]);
    assert_eq!(
        spool.backlog(VoiceEvent::SOURCE),
        0,
        "the spool is replayed"
    );
    assert_eq!(
        metrics.dropped_count("discord_voice", DropReason::opted_out),
        2
    );
    drop(writer);
    task.await.expect("writer ends");
    let _ = std::fs::remove_dir_all(&dir);
}

#[sqlx::test(migrations = "../migrations")]
async fn a_batch_written_while_an_opt_out_is_under_way_waits_for_it_and_drops_the_account(
    pool: PgPool,
) {
    let (writer, task) = IngestWriter::spawn(pool.clone(), buffered(), Metrics::new());
    writer
        .write(voice(MIRA, "2026-11-28T10:00:00Z"))
        .await
        .expect("write");
    writer
        .write(voice(OTTO, "2026-11-28T10:00:01Z"))
        .await
        .expect("write");
    // The opt-out is under way (its hashes not committed yet) when the batch is written.
    let mut opt_out = pool.begin().await.expect("transaction");
    let opt_out_pid: i32 = sqlx::query_scalar("select pg_backend_pid()")
        .fetch_one(&mut *opt_out)
        .await
        .expect("pid");
    opt_out_mira(&mut opt_out).await;
    let flush = tokio::spawn({
        let writer = writer.clone();
        async move { writer.flush().await }
    });
    let mut waiting = 0_i64;
    for _ in 0..200 {
        waiting = sqlx::query_scalar(
            "select count(*) from pg_stat_activity
             where wait_event_type = 'Lock' and $1 = any (pg_blocking_pids(pid))",
        )
        .bind(opt_out_pid)
        .fetch_one(&pool)
        .await
        .expect("waiting");
        if waiting > 0 {
            break;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    assert_eq!(waiting, 1, "the writer waits for the opt-out");
    assert!(!flush.is_finished());
    opt_out.commit().await.expect("opt-out commits");
    flush.await.expect("flush task").expect("flush");
    assert_eq!(stored_voice(&pool).await, [OTTO]);
    drop(writer);
    task.await.expect("writer ends");
}

#[sqlx::test(migrations = "../migrations")]
async fn game_lines_go_and_status_polls_lose_the_player_when_the_account_opted_out(pool: PgPool) {
    // Opted out: a Steam account, and a Minecraft player by name (lines without the UUID).
    sqlx::query(
        "insert into app.opted_out_accounts (account_hash)
         values (app.account_hash('steam', '76561197960290418')),
                (app.account_hash('minecraft_name', 'mira'))",
    )
    .execute(&pool)
    .await
    .expect("hashes");
    let line = |hash: i64, name: &str, account: Option<GameAccount>| GameLogRecord {
        server_id: 1,
        occurred_at: at("2026-11-28T10:00:00Z") + chrono::Duration::seconds(hash),
        line_hash: hash,
        kind: LogKind::Entered,
        player_name: Some(name.to_owned()),
        account,
        is_bot: false,
        address: None,
        ip_hash: None,
        chat_text: None,
        detail: None,
        raw_line: None,
    };
    let (logs, logs_task) = IngestWriter::spawn(pool.clone(), buffered(), Metrics::new());
    for record in [
        line(1, "Mira", Some(GameAccount::Steam(76_561_197_960_290_418))),
        line(2, "Mira", None),
        line(3, "Otto", None),
        // A Steam player named like her is someone else.
        line(4, "mira", Some(GameAccount::Steam(76_561_197_960_287_930))),
    ] {
        logs.write(record).await.expect("write");
    }
    logs.flush().await.expect("flush");
    let lines: Vec<i64> =
        sqlx::query_scalar("select line_hash from bronze.game_log_events order by line_hash")
            .fetch_all(&pool)
            .await
            .expect("lines");
    assert_eq!(lines, [3, 4]);

    let (polls, polls_task) = IngestWriter::spawn(pool.clone(), buffered(), Metrics::new());
    let player = |name: &str| SnapshotPlayer {
        name: name.to_owned(),
        account: None,
        connected_secs: Some(60),
        ping: None,
    };
    polls
        .write(StatusRecord {
            server_id: 1,
            polled_at: at("2026-11-28T10:05:00Z"),
            map: None,
            humans: 2,
            bots: 0,
            max_players: Some(20),
            players: vec![player("Mira"), player("Otto")],
        })
        .await
        .expect("write");
    polls.flush().await.expect("flush");
    let (humans, names): (i32, Vec<String>) = sqlx::query_as(
        "select humans, array(select p->>'name' from jsonb_array_elements(players) p)
         from bronze.game_status_snapshots",
    )
    .fetch_one(&pool)
    .await
    .expect("poll");
    assert_eq!(
        (humans, names),
        (2, vec!["Otto".to_owned()]),
        "counted, not named"
    );
    drop((logs, polls));
    logs_task.await.expect("writer ends");
    polls_task.await.expect("writer ends");
}
