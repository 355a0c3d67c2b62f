//! Erasing a person while the pipeline runs: the erasure takes the locks the running jobs
//! hold (as a relink does), so a job that read the person's rows before the erasure cannot
//! write them back after it. Both orders, with the real runner and the real jobs: a job that
//! is running when the erasure starts (the erasure waits for it, then removes what it
//! wrote), and a job that starts while an erasure is under way (it waits at its lock and
//! then finds nothing of the person).

use chrono::{DateTime, Utc};
use collectors::discord::{VoiceEvent, VoiceOrigin};
use collectors::ingest::{IngestWriter, WriterConfig};
use collectors::metrics::Metrics;
use guildhall::clock::Clock;
use guildhall::pipeline::{JobName, Pipeline, Trigger};
use sqlx::PgPool;
use std::time::Duration;

const GUILD: i64 = 900;
const MIRA: i64 = 111_000_000_000_000_111;
const OTTO: i64 = 222_000_000_000_000_222;

fn at(rfc3339: &str) -> DateTime<Utc> {
    DateTime::parse_from_rfc3339(rfc3339)
        .expect("timestamp")
        .with_timezone(&Utc)
}

fn pipeline(pool: &PgPool) -> Pipeline {
    Pipeline::with_clock(
        pool.clone(),
        chrono_tz::UTC,
        Metrics::new(),
        Clock::fixed(at("2026-11-29T23:00:00Z")),
    )
}

/// An hour in voice for each of `users` from `from` (committed through the real writer).
async fn voice_hour(pool: &PgPool, users: &[i64], from: &str, to: &str) {
    let (writer, task) = IngestWriter::spawn(pool.clone(), WriterConfig::default(), Metrics::new());
    for &user in users {
        for (channel, when) in [(Some(5), from), (None, to)] {
            writer
                .write(VoiceEvent {
                    guild_id: GUILD,
                    user_id: user,
                    channel_id: channel,
                    self_mute: false,
                    self_deaf: false,
                    origin: VoiceOrigin::Gateway,
                    occurred_at: at(when),
                })
                .await
                .expect("voice");
        }
    }
    drop(writer);
    task.await.expect("writer");
}

/// Mira and Otto were in voice on 28 November, the pipeline counted it, and Mira was in
/// voice again on the 29th (not counted yet). Returns Mira's person.
async fn setup(pool: &PgPool) -> i64 {
    sqlx::query(
        "insert into app.discord_guilds (guild_id, name, observed_until)
         values ($1, 'Test', '2026-11-30T00:00:00Z')",
    )
    .bind(GUILD)
    .execute(pool)
    .await
    .expect("guild");
    voice_hour(
        pool,
        &[MIRA, OTTO],
        "2026-11-28T10:00:00Z",
        "2026-11-28T11:00:00Z",
    )
    .await;
    pipeline(pool)
        .run_all(Trigger::Manual)
        .await
        .expect("pipeline");
    voice_hour(
        pool,
        &[MIRA],
        "2026-11-29T10:00:00Z",
        "2026-11-29T11:00:00Z",
    )
    .await;
    let person: i64 = sqlx::query_scalar(
        "select person_id from silver.user_identities where kind = 'discord' and external_id = $1",
    )
    .bind(MIRA.to_string())
    .fetch_one(pool)
    .await
    .expect("Mira's person");
    assert!(
        rows_of(pool, person, MIRA)
            .await
            .iter()
            .any(|(_, n)| *n > 0),
        "the pipeline counted Mira before the erasure"
    );
    person
}

/// Every silver and gold table that holds a person or a Discord account, with how many of
/// its rows are the given person's or account's.
async fn rows_of(pool: &PgPool, person: i64, discord: i64) -> Vec<(String, i64)> {
    let columns: Vec<(String, String, String)> = sqlx::query_as(
        "select table_schema, table_name, column_name from information_schema.columns
         where table_schema in ('silver', 'gold')
           and column_name in ('person_id', 'discord_user_id', 'inviter_id', 'account_id',
                               'external_id')
         order by 1, 2, 3",
    )
    .fetch_all(pool)
    .await
    .expect("columns");
    assert!(
        columns.len() >= 10,
        "the tables holding persons: {columns:?}"
    );
    let mut counts = Vec::new();
    for (schema, table, column) in columns {
        // Names from the catalogue, not from input.
        let sql = format!("select count(*) from {schema}.{table} where {column} = $1");
        let query = sqlx::query_scalar::<_, i64>(&sql);
        let query = match column.as_str() {
            "person_id" => query.bind(person),
            "account_id" | "external_id" => query.bind(discord.to_string()),
            _ => query.bind(discord),
        };
        let n = query
            .fetch_one(pool)
            .await
            .unwrap_or_else(|error| panic!("{sql}: {error}"));
        counts.push((format!("{schema}.{table}.{column}"), n));
    }
    counts
}

/// Nothing of the person is left in silver, gold or bronze, and Otto is still counted.
async fn assert_erased(pool: &PgPool, person: i64) {
    let left: Vec<(String, i64)> = rows_of(pool, person, MIRA)
        .await
        .into_iter()
        .filter(|(_, n)| *n > 0)
        .collect();
    assert_eq!(
        left,
        Vec::<(String, i64)>::new(),
        "rows of the erased person"
    );
    let bronze: i64 =
        sqlx::query_scalar("select count(*) from bronze.discord_voice_events where user_id = $1")
            .bind(MIRA)
            .fetch_one(pool)
            .await
            .expect("bronze");
    assert_eq!(bronze, 0);
    let otto: i64 = sqlx::query_scalar(
        "select count(*) from silver.fact_voice_sessions where discord_user_id = $1",
    )
    .bind(OTTO)
    .fetch_one(pool)
    .await
    .expect("otto");
    assert_eq!(otto, 1, "everyone else is still counted");
    let dau: Vec<(String, i32)> = sqlx::query_as(
        "select day::text, dau_total from gold.daily_active_users
         where dau_total > 0 order by day",
    )
    .fetch_all(pool)
    .await
    .expect("dau");
    assert_eq!(
        dau,
        [("2026-11-28".to_owned(), 1)],
        "the days are counted without the erased person"
    );
}

/// The backends waiting for a lock `pid` holds, once there is one (within ten seconds).
async fn waiting_for(pool: &PgPool, pid: i32) -> Vec<i32> {
    for _ in 0..200 {
        let waiting: Vec<i32> = sqlx::query_scalar(
            "select pid from pg_stat_activity
             where wait_event_type = 'Lock' and $1 = any (pg_blocking_pids(pid))",
        )
        .bind(pid)
        .fetch_all(pool)
        .await
        .expect("waiting backends");
        if !waiting.is_empty() {
            return waiting;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    panic!("no backend waits for {pid}");
}

async fn backend_pid(conn: &mut sqlx::PgConnection) -> i32 {
    sqlx::query_scalar("select pg_backend_pid()")
        .fetch_one(conn)
        .await
        .expect("pid")
}

#[sqlx::test(migrator = "guildhall::db::MIGRATOR")]
async fn an_erasure_waits_for_the_running_job_and_then_removes_what_it_wrote(pool: PgPool) {
    let person = setup(&pool).await;

    // The job voice_sessions runs, has read Mira's new events, and is about to write her
    // session (held there by a lock on its output, so that the erasure starts meanwhile).
    let mut hold = pool.begin().await.expect("hold");
    let hold_pid = backend_pid(&mut hold).await;
    sqlx::query("lock table silver.fact_voice_sessions in exclusive mode")
        .execute(&mut *hold)
        .await
        .expect("hold the job's output");
    let job = tokio::spawn({
        let pipeline = pipeline(&pool);
        async move {
            pipeline
                .run_job(JobName::VoiceSessions, Trigger::Manual)
                .await
        }
    });
    let job_pids = waiting_for(&pool, hold_pid).await;
    assert_eq!(job_pids.len(), 1, "the job is running: {job_pids:?}");

    // Mira opts out meanwhile: the erasure waits for the running job (its lock), not for
    // the table.
    let mut erase_conn = pool.acquire().await.expect("connection");
    let erase_pid = backend_pid(&mut erase_conn).await;
    let erase = tokio::spawn(async move {
        sqlx::query_scalar::<_, i32>("select app.erase_person($1, true, 'member.opt_out')")
            .bind(person)
            .fetch_one(&mut *erase_conn)
            .await
    });
    assert_eq!(waiting_for(&pool, job_pids[0]).await, [erase_pid]);
    let blockers: Vec<i32> = sqlx::query_scalar("select unnest(pg_blocking_pids($1))")
        .bind(erase_pid)
        .fetch_all(&pool)
        .await
        .expect("blockers");
    assert_eq!(blockers, job_pids, "the erasure waits for the job alone");
    assert!(!erase.is_finished());

    // The job writes Mira's session and commits; then the erasure removes it with the rest.
    hold.commit().await.expect("release");
    job.await.expect("job task").expect("the job ran");
    let accounts = erase.await.expect("erase task").expect("the erasure ran");
    assert_eq!(accounts, 1);
    pipeline(&pool)
        .run_all(Trigger::Manual)
        .await
        .expect("pipeline");
    assert_erased(&pool, person).await;
}

#[sqlx::test(migrator = "guildhall::db::MIGRATOR")]
async fn a_job_that_starts_during_an_erasure_waits_at_its_lock_and_finds_nothing_of_the_person(
    pool: PgPool,
) {
    let person = setup(&pool).await;
    pipeline(&pool)
        .run_all(Trigger::Manual)
        .await
        .expect("pipeline");

    // The erasure is under way (not committed yet).
    let mut erase = pool.begin().await.expect("erase");
    let erase_pid = backend_pid(&mut erase).await;
    let accounts: i32 = sqlx::query_scalar("select app.erase_person($1, true, 'member.opt_out')")
        .bind(person)
        .fetch_one(&mut *erase)
        .await
        .expect("erase");
    assert_eq!(accounts, 1);

    // activity_daily recounts the last two days from silver, where Mira's sessions are
    // still visible to anyone but the erasure: it waits at its own lock.
    let job = tokio::spawn({
        let pipeline = pipeline(&pool);
        async move {
            pipeline
                .run_job(JobName::ActivityDaily, Trigger::Manual)
                .await
        }
    });
    let waiting = waiting_for(&pool, erase_pid).await;
    assert_eq!(waiting.len(), 1, "{waiting:?}");
    let query: String = sqlx::query_scalar("select query from pg_stat_activity where pid = $1")
        .bind(waiting[0])
        .fetch_one(&pool)
        .await
        .expect("query");
    assert!(
        query.contains("app.pipeline_state") && query.contains("for update"),
        "the job waits at its lock: {query}"
    );

    erase.commit().await.expect("erasure commits");
    job.await.expect("job task").expect("the job ran");
    pipeline(&pool)
        .run_all(Trigger::Manual)
        .await
        .expect("pipeline");
    assert_erased(&pool, person).await;
}

#[sqlx::test(migrator = "guildhall::db::MIGRATOR")]
async fn erasing_a_person_deletes_the_unreadable_lines_that_name_their_accounts_and_no_others(
    pool: PgPool,
) {
    // Person 1: a Steam account (account id 1) and a Minecraft account; person 2: another
    // Steam account.
    sqlx::raw_sql(
        "insert into silver.dim_user (person_id) overriding system value values (1), (2);
         insert into silver.user_identities (kind, external_id, person_id) values
             ('steam', '76561197960265729', 1), ('minecraft', 'Mirabelle', 1),
             ('steam', '76561197960265999', 2);
         insert into app.game_servers (server_id, name, game, host, ingest_token)
             overriding system value values (5, 'cs', 'cs2', 'h', repeat('x', 32));",
    )
    .execute(&pool)
    .await
    .expect("persons");
    let lines: [&[u8]; 6] = [
        b"L 12/01/2026 - 10:00:00: \"Mira<3><[U:1:1]><>\" broken\x00tail",
        b"L 12/01/2026 - 10:00:01: \"Mira<3><STEAM_1:1:0><>\" \xff odd",
        b"[10:00:02] [Server thread/INFO]: Mirabelle \x00 lost connection",
        b"garbage naming 76561197960265729 in full",
        b"L 12/01/2026 - 10:00:03: \"Otto<4><[U:1:271]><>\" broken\x00tail",
        b"unreadable and nobody's",
    ];
    for (i, line) in lines.iter().enumerate() {
        sqlx::query(
            "insert into bronze.game_log_events (server_id, occurred_at, line_hash, kind, raw_line, detail)
             values (5, '2026-12-01T10:00:00Z', $1, 'unparsed', $2, '{\"error\": \"test\"}')",
        )
        .bind(i as i64)
        .bind(*line)
        .execute(&pool)
        .await
        .expect("unreadable line");
    }
    let erased: i32 = sqlx::query_scalar("select app.erase_person(1, true, 'member.opt_out')")
        .fetch_one(&pool)
        .await
        .expect("erase");
    assert_eq!(erased, 2);
    let left: Vec<Vec<u8>> =
        sqlx::query_scalar("select raw_line from bronze.game_log_events order by line_hash")
            .fetch_all(&pool)
            .await
            .expect("lines");
    assert_eq!(left, vec![lines[4].to_vec(), lines[5].to_vec()]);
}
