//! Pipeline transforms against the real PostgreSQL (a fresh database per test): exact
//! sessions and DAU, idempotence, midnight and time-zone boundaries, late events.

use chrono::{DateTime, NaiveDate, Utc};
use collectors::discord::{
    JoinSource, MemberEvent, MemberEventKind, MemberOrigin, MessageEvent, ScheduledEventChange,
    VoiceEvent, VoiceOrigin,
};
use collectors::ingest::{IngestWriter, WriterConfig};
use collectors::metrics::{DropReason, Metrics};
use guildhall::clock::Clock;
use guildhall::pipeline::{JobName, Pipeline, Table, Trigger};
use sqlx::PgPool;

const GUILD: i64 = 1_000;
const AFK: i64 = 99;
const GENERAL: i64 = 10;
const GAMING: i64 = 11;

fn at(rfc3339: &str) -> DateTime<Utc> {
    DateTime::parse_from_rfc3339(rfc3339)
        .expect("valid timestamp")
        .with_timezone(&Utc)
}

fn day(s: &str) -> NaiveDate {
    NaiveDate::parse_from_str(s, "%Y-%m-%d").expect("valid day")
}

fn event(user: i64, channel: Option<i64>, when: &str) -> VoiceEvent {
    VoiceEvent {
        guild_id: GUILD,
        user_id: user,
        channel_id: channel,
        self_mute: false,
        self_deaf: false,
        origin: VoiceOrigin::Gateway,
        occurred_at: at(when),
    }
}

/// Writes events through the real ingestion writer and waits until they are committed.
async fn ingest(pool: &PgPool, metrics: &Metrics, events: Vec<VoiceEvent>) {
    let (writer, task) =
        IngestWriter::spawn(pool.clone(), WriterConfig::default(), metrics.clone());
    for e in events {
        writer.write(e).await.expect("writer accepts");
    }
    drop(writer);
    task.await.expect("writer finished");
}

async fn guild(pool: &PgPool, observed_until: &str) {
    sqlx::query(
        "insert into app.discord_guilds (guild_id, name, afk_channel_id, observed_until)
         values ($1, 'Test', $2, $3)",
    )
    .bind(GUILD)
    .bind(AFK)
    .bind(at(observed_until))
    .execute(pool)
    .await
    .expect("guild row");
    // The bot saw the AFK channel when it first saw the guild: it stands for all time before.
    sqlx::query(
        "insert into bronze.discord_afk_channel_changes (guild_id, afk_channel_id, observed_at)
         values ($1, $2, '2026-01-01T00:00:00Z')",
    )
    .bind(GUILD)
    .bind(AFK)
    .execute(pool)
    .await
    .expect("AFK channel observation");
}

/// The instant the tests' pipeline takes for "now": expected rows never depend on the date
/// the tests run.
const NOW: &str = "2026-12-01T12:00:00Z";

fn pipeline(pool: &PgPool, tz: chrono_tz::Tz) -> Pipeline {
    pipeline_at(pool, tz, &Clock::fixed(at(NOW)))
}

fn pipeline_at(pool: &PgPool, tz: chrono_tz::Tz, clock: &Clock) -> Pipeline {
    Pipeline::with_clock(pool.clone(), tz, Metrics::new(), clock.clone())
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

fn closed(
    user: i64,
    channel: i64,
    from: &str,
    to: &str,
    seconds: i64,
    afk: bool,
    reason: &str,
) -> SessionRow {
    (
        user,
        channel,
        at(from),
        Some(at(to)),
        Some(seconds),
        afk,
        Some(reason.to_owned()),
    )
}

async fn sessions(pool: &PgPool) -> Vec<SessionRow> {
    sqlx::query_as(
        "select discord_user_id, channel_id, started_at, ended_at, seconds, is_afk, end_reason
         from silver.fact_voice_sessions order by discord_user_id, started_at",
    )
    .fetch_all(pool)
    .await
    .expect("sessions")
}

async fn dau(pool: &PgPool, from: &str, to: &str) -> Vec<(NaiveDate, i32, i32)> {
    sqlx::query_as(
        "select day, dau_total, dau_voice from gold.daily_active_users
         where day between $1::date and $2::date order by day",
    )
    .bind(from)
    .bind(to)
    .fetch_all(pool)
    .await
    .expect("dau")
}

/// Everything the pipeline writes, as text, to compare whole states.
async fn snapshot(pool: &PgPool) -> Vec<String> {
    sqlx::query_scalar(
        "select format('%s', s) from silver.fact_voice_sessions s
         union all select format('%s', i) from silver.user_identities i
         union all select format('%s', c) from silver.fact_chat_daily c
         union all select format('%s|%s|%s|%s|%s', day, dau_total, dau_voice, dau_chat, computed_at)
                   from gold.daily_active_users
         order by 1",
    )
    .fetch_all(pool)
    .await
    .expect("snapshot")
}

#[sqlx::test(migrator = "guildhall::db::MIGRATOR")]
async fn join_mute_switch_afk_leave_become_exact_sessions(pool: PgPool) {
    let metrics = Metrics::new();
    guild(&pool, "2026-11-02T12:00:00Z").await;
    let mut muted = event(1, Some(GENERAL), "2026-11-01T18:10:00Z");
    muted.self_mute = true;
    ingest(
        &pool,
        &metrics,
        vec![
            event(1, Some(GENERAL), "2026-11-01T18:00:00Z"),
            muted, // a mute does not split the session
            event(1, Some(GAMING), "2026-11-01T18:30:00Z"),
            event(1, Some(AFK), "2026-11-01T19:00:00Z"),
            event(1, None, "2026-11-01T19:20:00Z"),
            // user 2 is still in voice: the session stays open
            event(2, Some(GAMING), "2026-11-01T20:00:00Z"),
        ],
    )
    .await;
    pipeline(&pool, chrono_tz::Europe::Berlin)
        .run_all(Trigger::Manual)
        .await
        .expect("pipeline");

    assert_eq!(
        sessions(&pool).await,
        vec![
            closed(
                1,
                GENERAL,
                "2026-11-01T18:00:00Z",
                "2026-11-01T18:30:00Z",
                1800,
                false,
                "switch"
            ),
            closed(
                1,
                GAMING,
                "2026-11-01T18:30:00Z",
                "2026-11-01T19:00:00Z",
                1800,
                false,
                "switch"
            ),
            closed(
                1,
                AFK,
                "2026-11-01T19:00:00Z",
                "2026-11-01T19:20:00Z",
                1200,
                true,
                "leave"
            ),
            (
                2,
                GAMING,
                at("2026-11-01T20:00:00Z"),
                None,
                None,
                false,
                None
            ),
        ]
    );
    // Both count on Nov 1; user 2's open session counts until the guild was last observed
    // (Nov 2, 12:00 UTC = 13:00 Berlin), so Nov 2 has one active user.
    assert_eq!(
        dau(&pool, "2026-11-01", "2026-11-03").await,
        vec![
            (day("2026-11-01"), 2, 2),
            (day("2026-11-02"), 1, 1),
            (day("2026-11-03"), 0, 0)
        ]
    );
    // The run history says which span each run recomputed.
    let ranges: Vec<(String, Option<DateTime<Utc>>)> =
        sqlx::query_as("select job, range_from from app.pipeline_runs order by id")
            .fetch_all(&pool)
            .await
            .expect("runs");
    assert_eq!(
        ranges,
        vec![
            (
                "voice_sessions".to_owned(),
                Some(at("2026-11-01T18:00:00Z"))
            ),
            // No messages and no member events: nothing recomputed.
            ("chat_daily".to_owned(), None),
            ("members".to_owned(), None),
            // No game servers: nothing to rebuild.
            ("game_log_sessions".to_owned(), None),
            // No `!link` lines: nothing redeemed, and a link dirties days by its trigger.
            ("link_codes".to_owned(), None),
            ("game_status_sessions".to_owned(), None),
            // Local midnight of Nov 1 in Berlin.
            (
                "activity_daily".to_owned(),
                Some(at("2026-10-31T23:00:00Z"))
            ),
            // Only the last two days (the clock's yesterday and today) are looked at.
            (
                "server_utilization".to_owned(),
                Some(at("2026-11-29T23:00:00Z"))
            ),
            (
                "daily_active_users".to_owned(),
                Some(at("2026-10-31T23:00:00Z"))
            ),
            (
                "retention_cohorts".to_owned(),
                Some(at("2026-10-31T23:00:00Z"))
            ),
            (
                "discord_comparable".to_owned(),
                Some(at("2026-10-31T23:00:00Z"))
            ),
            (
                "member_sources".to_owned(),
                Some(at("2026-10-31T23:00:00Z"))
            ),
            ("member_growth".to_owned(), Some(at("2026-10-31T23:00:00Z"))),
            ("funnel".to_owned(), Some(at("2026-10-31T23:00:00Z"))),
            (
                "presence_hours".to_owned(),
                Some(at("2026-10-31T23:00:00Z"))
            ),
            (
                "identity_review".to_owned(),
                Some(at("2026-10-31T23:00:00Z"))
            ),
            ("events".to_owned(), Some(at("2026-10-31T23:00:00Z"))),
        ]
    );
    // Each account became one person with a Discord identity.
    let persons: i64 =
        sqlx::query_scalar("select count(*) from silver.user_identities where kind = 'discord'")
            .fetch_one(&pool)
            .await
            .expect("count");
    assert_eq!(persons, 2);
}

#[sqlx::test(migrator = "guildhall::db::MIGRATOR")]
async fn running_every_job_twice_changes_nothing(pool: PgPool) {
    let metrics = Metrics::new();
    guild(&pool, "2026-11-03T00:00:00Z").await;
    ingest(
        &pool,
        &metrics,
        vec![
            event(1, Some(GENERAL), "2026-11-01T18:00:00Z"),
            event(1, None, "2026-11-01T19:00:00Z"),
            event(2, Some(GENERAL), "2026-11-01T22:30:00Z"),
            event(2, Some(GAMING), "2026-11-01T23:30:00Z"),
        ],
    )
    .await;
    let p = pipeline(&pool, chrono_tz::Europe::Berlin);
    p.run_all(Trigger::Manual).await.expect("first run");
    let first = snapshot(&pool).await;
    let reports = p.run_all(Trigger::Manual).await.expect("second run");
    assert_eq!(
        snapshot(&pool).await,
        first,
        "a second run changed the results"
    );
    assert!(
        reports.iter().all(|r| r.rows == 0),
        "second run wrote rows: {reports:?}"
    );

    // A backfill of days the incremental runs covered recomputes to the same values
    // (untouched rows keep even their computed_at).
    p.backfill(day("2026-11-01"), day("2026-11-03"), None)
        .await
        .expect("backfill");
    assert_eq!(
        snapshot(&pool).await,
        first,
        "backfill disagrees with the incremental run"
    );

    let runs: i64 = sqlx::query_scalar(
        "select count(*) from app.pipeline_runs where error is null and finished_at is not null",
    )
    .fetch_one(&pool)
    .await
    .expect("runs");
    assert_eq!(
        runs, 51,
        "every run of the seventeen jobs is in the history"
    );
}

#[sqlx::test(migrator = "guildhall::db::MIGRATOR")]
async fn a_session_across_midnight_counts_on_each_day_it_has_a_minute(pool: PgPool) {
    let metrics = Metrics::new();
    guild(&pool, "2026-11-05T00:00:00Z").await;
    ingest(
        &pool,
        &metrics,
        vec![
            // Berlin is UTC+1 in November: 23:30 → 00:45 local, 30 and 45 minutes.
            event(1, Some(GENERAL), "2026-11-01T22:30:00Z"),
            event(1, None, "2026-11-01T23:45:00Z"),
            // 23:59:30 → 00:00:45 local: 30 s and 45 s, under a minute on both days.
            event(2, Some(GENERAL), "2026-11-02T22:59:30Z"),
            event(2, None, "2026-11-02T23:00:45Z"),
        ],
    )
    .await;
    pipeline(&pool, chrono_tz::Europe::Berlin)
        .run_all(Trigger::Manual)
        .await
        .expect("pipeline");
    assert_eq!(
        dau(&pool, "2026-11-01", "2026-11-04").await,
        vec![
            (day("2026-11-01"), 1, 1),
            (day("2026-11-02"), 1, 1),
            (day("2026-11-03"), 0, 0),
            (day("2026-11-04"), 0, 0),
        ]
    );
}

#[sqlx::test(migrator = "guildhall::db::MIGRATOR")]
async fn days_are_local_days_of_the_configured_time_zone(pool: PgPool) {
    let metrics = Metrics::new();
    guild(&pool, "2026-03-30T00:00:00Z").await;
    // 2026-03-28 23:30 UTC is already 00:30 on March 29 in Berlin (the DST day, 23 hours).
    ingest(
        &pool,
        &metrics,
        vec![
            event(1, Some(GENERAL), "2026-03-28T23:30:00Z"),
            event(1, None, "2026-03-28T23:50:00Z"),
        ],
    )
    .await;
    let berlin = pipeline(&pool, chrono_tz::Europe::Berlin);
    berlin.run_all(Trigger::Manual).await.expect("pipeline");
    berlin
        .backfill(day("2026-03-27"), day("2026-03-30"), None)
        .await
        .expect("backfill");
    assert_eq!(
        dau(&pool, "2026-03-28", "2026-03-29").await,
        vec![(day("2026-03-28"), 0, 0), (day("2026-03-29"), 1, 1)]
    );

    // The same data for a community on UTC counts on March 28.
    let utc = pipeline(&pool, chrono_tz::UTC);
    utc.backfill(day("2026-03-27"), day("2026-03-30"), None)
        .await
        .expect("backfill");
    assert_eq!(
        dau(&pool, "2026-03-28", "2026-03-29").await,
        vec![(day("2026-03-28"), 1, 1), (day("2026-03-29"), 0, 0)]
    );
}

#[sqlx::test(migrator = "guildhall::db::MIGRATOR")]
async fn afk_time_counts_by_the_afk_channels_valid_at_the_time(pool: PgPool) {
    let metrics = Metrics::new();
    guild(&pool, "2026-11-05T00:00:00Z").await;
    const AFTERWARDS: i64 = 12;
    ingest(
        &pool,
        &metrics,
        vec![
            // Nov 1: one member in Discord's AFK channel, one in GAMING.
            event(1, Some(AFK), "2026-11-01T18:00:00Z"),
            event(1, None, "2026-11-01T20:00:00Z"),
            event(2, Some(GAMING), "2026-11-01T18:00:00Z"),
            event(2, None, "2026-11-01T20:00:00Z"),
            // Nov 3, after Discord's AFK channel became GENERAL and the admin marked
            // AFTERWARDS as AFK from Nov 3 on.
            event(3, Some(GENERAL), "2026-11-03T18:00:00Z"),
            event(3, None, "2026-11-03T20:00:00Z"),
            event(4, Some(AFK), "2026-11-03T18:00:00Z"),
            event(4, None, "2026-11-03T20:00:00Z"),
            event(5, Some(AFTERWARDS), "2026-11-03T18:00:00Z"),
            event(5, None, "2026-11-03T20:00:00Z"),
        ],
    )
    .await;
    let p = pipeline(&pool, chrono_tz::Europe::Berlin);
    p.run_all(Trigger::Schedule).await.expect("first run");
    // What the bot records when Discord's AFK channel changes, and what the admin's mark
    // from now on writes (here: from Nov 3).
    sqlx::query(
        "insert into bronze.discord_afk_channel_changes (guild_id, afk_channel_id, observed_at)
         values ($1, $2, '2026-11-02T12:00:00Z')",
    )
    .bind(GUILD)
    .bind(GENERAL)
    .execute(&pool)
    .await
    .expect("Discord's AFK channel changed");
    sqlx::query(
        "insert into app.afk_channels (guild_id, channel_id, valid_from)
         values ($1, $2, '2026-11-03T00:00:00Z')",
    )
    .bind(GUILD)
    .bind(AFTERWARDS)
    .execute(&pool)
    .await
    .expect("admin mark");
    sqlx::query("select app.request_recompute('voice_sessions', '2026-11-03T00:00:00Z')")
        .execute(&pool)
        .await
        .expect("recompute request");
    p.run_all(Trigger::Schedule).await.expect("second run");
    let afk = || async {
        sqlx::query_as::<_, (i64, bool)>(
            "select discord_user_id, is_afk from silver.fact_voice_sessions order by discord_user_id",
        )
        .fetch_all(&pool)
        .await
        .expect("sessions")
    };
    assert_eq!(
        afk().await,
        vec![(1, true), (2, false), (3, true), (4, false), (5, true)],
        "each channel counts as AFK only while it was one"
    );
    assert_eq!(
        dau(&pool, "2026-11-01", "2026-11-03").await,
        vec![
            (day("2026-11-01"), 1, 1),
            (day("2026-11-02"), 0, 0),
            (day("2026-11-03"), 1, 1)
        ]
    );

    // The admin marks GAMING as AFK for all of history: Nov 1 loses its active member.
    sqlx::query(
        "insert into app.afk_channels (guild_id, channel_id, valid_from) values ($1, $2, '-infinity')",
    )
    .bind(GUILD)
    .bind(GAMING)
    .execute(&pool)
    .await
    .expect("admin mark for all of history");
    sqlx::query(
        "select app.request_recompute('voice_sessions',
             (select min(occurred_at) from bronze.discord_voice_events))",
    )
    .execute(&pool)
    .await
    .expect("recompute request");
    p.run_all(Trigger::Schedule).await.expect("third run");
    assert_eq!(
        afk().await,
        vec![(1, true), (2, true), (3, true), (4, false), (5, true)]
    );
    assert_eq!(
        dau(&pool, "2026-11-01", "2026-11-03").await,
        vec![
            (day("2026-11-01"), 0, 0),
            (day("2026-11-02"), 0, 0),
            (day("2026-11-03"), 1, 1)
        ]
    );
}

#[sqlx::test(migrator = "guildhall::db::MIGRATOR")]
async fn late_events_close_open_sessions_and_match_a_full_recompute(pool: PgPool) {
    let metrics = Metrics::new();
    guild(&pool, "2026-11-02T00:00:00Z").await;
    let p = pipeline(&pool, chrono_tz::Europe::Berlin);
    ingest(
        &pool,
        &metrics,
        vec![event(1, Some(GENERAL), "2026-11-01T18:00:00Z")],
    )
    .await;
    p.run_all(Trigger::Schedule).await.expect("first run");
    assert_eq!(sessions(&pool).await[0].3, None, "open while in voice");

    // The switch and the leave arrive in a later batch.
    ingest(
        &pool,
        &metrics,
        vec![
            event(1, Some(GAMING), "2026-11-01T18:40:00Z"),
            event(1, None, "2026-11-01T19:00:00Z"),
        ],
    )
    .await;
    p.run_all(Trigger::Schedule).await.expect("second run");
    let incremental = sessions(&pool).await;
    assert_eq!(
        incremental,
        vec![
            closed(
                1,
                GENERAL,
                "2026-11-01T18:00:00Z",
                "2026-11-01T18:40:00Z",
                2400,
                false,
                "switch"
            ),
            closed(
                1,
                GAMING,
                "2026-11-01T18:40:00Z",
                "2026-11-01T19:00:00Z",
                1200,
                false,
                "leave"
            ),
        ]
    );

    // Rebuilding everything from bronze gives exactly the same sessions.
    p.backfill(
        day("2026-10-01"),
        day("2026-11-30"),
        Some(JobName::VoiceSessions),
    )
    .await
    .expect("backfill");
    assert_eq!(sessions(&pool).await, incremental);
}

#[sqlx::test(migrator = "guildhall::db::MIGRATOR")]
async fn the_same_observation_written_twice_is_stored_once_and_counted(pool: PgPool) {
    let metrics = Metrics::new();
    let e = event(1, Some(GENERAL), "2026-11-01T18:00:00Z");
    ingest(&pool, &metrics, vec![e.clone(), e.clone()]).await;
    ingest(&pool, &metrics, vec![e]).await;
    let stored: i64 = sqlx::query_scalar("select count(*) from bronze.discord_voice_events")
        .fetch_one(&pool)
        .await
        .expect("count");
    assert_eq!(stored, 1);
    assert_eq!(
        metrics.dropped_count("discord_voice", DropReason::duplicate),
        2
    );
}

#[sqlx::test(migrator = "guildhall::db::MIGRATOR")]
async fn a_demo_community_loaded_in_two_halves_matches_one_load(pool: PgPool) {
    use guildhall::demo::{DemoParams, generate};
    let metrics = Metrics::new();
    let params = DemoParams {
        members: 30,
        days: 20,
        seed: 11,
        end: day("2026-11-01"),
        timezone: chrono_tz::Europe::Berlin,
    };
    guild(&pool, "2026-11-02T00:00:00Z").await;
    let mut events: Vec<_> = generate(&params).collect();
    events.sort_by_key(|e| e.occurred_at);
    let half = events.len() / 2;
    let p = pipeline(&pool, chrono_tz::Europe::Berlin);
    ingest(&pool, &metrics, events[..half].to_vec()).await;
    p.run_all(Trigger::Schedule).await.expect("first half");
    ingest(&pool, &metrics, events[half..].to_vec()).await;
    p.run_all(Trigger::Schedule).await.expect("second half");
    let incremental_sessions = sessions(&pool).await;
    let incremental_dau = dau(&pool, "2026-10-12", "2026-11-01").await;
    assert!(incremental_dau.iter().any(|(_, total, _)| *total > 0));

    p.backfill(day("2026-10-01"), day("2026-11-05"), None)
        .await
        .expect("backfill");
    assert_eq!(sessions(&pool).await, incremental_sessions);
    assert_eq!(
        dau(&pool, "2026-10-12", "2026-11-01").await,
        incremental_dau
    );

    // Cross-check one day against a direct count over the sessions.
    let direct: i64 = sqlx::query_scalar(
        "select count(*) from (
             select person_id from silver.fact_voice_sessions
             where not is_afk
             group by person_id
             having sum(greatest(extract(epoch from
                 least(ended_at, ('2026-10-25'::date + 1)::timestamp at time zone 'Europe/Berlin')
                 - greatest(started_at, '2026-10-25'::date::timestamp at time zone 'Europe/Berlin')), 0)) >= 60) x",
    )
    .fetch_one(&pool)
    .await
    .expect("direct count");
    let gold = incremental_dau
        .iter()
        .find(|(d, _, _)| *d == day("2026-10-25"))
        .map(|r| i64::from(r.1));
    assert_eq!(gold, Some(direct));
}

#[test]
fn unknown_jobs_are_refused_with_the_list_of_jobs() {
    let error = "nope".parse::<JobName>().expect_err("unknown").to_string();
    assert_eq!(
        error,
        "unknown job 'nope'; jobs are: voice_sessions, chat_daily, members, game_log_sessions, link_codes, game_status_sessions, activity_daily, server_utilization, daily_active_users, retention_cohorts, discord_comparable, member_sources, member_growth, funnel, presence_hours, identity_review, events, or all"
    );
}

#[sqlx::test(migrator = "guildhall::db::MIGRATOR")]
async fn a_requested_recompute_rebuilds_history_at_the_next_scheduled_run(pool: PgPool) {
    let metrics = Metrics::new();
    guild(&pool, "2026-11-02T00:00:00Z").await;
    ingest(
        &pool,
        &metrics,
        vec![
            event(1, Some(GAMING), "2026-11-01T18:00:00Z"),
            event(1, None, "2026-11-01T20:00:00Z"),
        ],
    )
    .await;
    let p = pipeline(&pool, chrono_tz::Europe::Berlin);
    p.run_all(Trigger::Schedule).await.expect("first run");
    assert_eq!(
        dau(&pool, "2026-11-01", "2026-11-01").await,
        vec![(day("2026-11-01"), 1, 1)]
    );

    // What marking an AFK channel for all of history does: the mark, a recompute request.
    sqlx::query(
        "insert into app.afk_channels (guild_id, channel_id, valid_from) values ($1, $2, '-infinity')",
    )
    .bind(GUILD)
    .bind(GAMING)
    .execute(&pool)
    .await
    .expect("mark");
    sqlx::query("select app.request_recompute('voice_sessions', $1)")
        .bind(at("2026-11-01T18:00:00Z"))
        .execute(&pool)
        .await
        .expect("request");
    p.run_all(Trigger::Schedule).await.expect("second run");
    let afk: Vec<bool> = sqlx::query_scalar("select is_afk from silver.fact_voice_sessions")
        .fetch_all(&pool)
        .await
        .expect("sessions");
    assert_eq!(afk, vec![true]);
    assert_eq!(
        dau(&pool, "2026-11-01", "2026-11-01").await,
        vec![(day("2026-11-01"), 0, 0)]
    );
    let pending: i64 = sqlx::query_scalar(
        "select count(*) from app.pipeline_dirty_ranges where job = 'voice_sessions'",
    )
    .fetch_one(&pool)
    .await
    .expect("state");
    assert_eq!(pending, 0, "the request is done once it ran");
}

#[sqlx::test(migrator = "guildhall::db::MIGRATOR")]
async fn days_the_scheduler_missed_are_recomputed_when_it_comes_back(pool: PgPool) {
    let metrics = Metrics::new();
    // Someone joins on Nov 10 and stays (the bot keeps watching); the scheduler runs on the
    // 10th, then is down until the 14th.
    guild(&pool, "2026-11-10T12:00:00Z").await;
    ingest(
        &pool,
        &metrics,
        vec![event(1, Some(GENERAL), "2026-11-10T10:00:00Z")],
    )
    .await;
    let clock = Clock::fixed(at("2026-11-10T12:00:00Z"));
    let p = pipeline_at(&pool, chrono_tz::Europe::Berlin, &clock);
    p.run_all(Trigger::Schedule).await.expect("run on the 10th");
    sqlx::query("update app.discord_guilds set observed_until = $1")
        .bind(at("2026-11-14T12:00:00Z"))
        .execute(&pool)
        .await
        .expect("the bot watched on");
    clock.set(at("2026-11-14T12:00:00Z"));
    p.run_all(Trigger::Schedule).await.expect("run on the 14th");
    assert_eq!(
        dau(&pool, "2026-11-10", "2026-11-14").await,
        (10..=14)
            .map(|d| (day(&format!("2026-11-{d}")), 1, 1))
            .collect::<Vec<_>>()
    );
}

#[sqlx::test(migrator = "guildhall::db::MIGRATOR")]
async fn a_failing_job_does_not_stop_the_jobs_after_it(pool: PgPool) {
    let metrics = Metrics::new();
    guild(&pool, "2026-11-02T00:00:00Z").await;
    ingest(
        &pool,
        &metrics,
        vec![
            event(1, Some(GENERAL), "2026-11-01T18:00:00Z"),
            event(1, None, "2026-11-01T19:00:00Z"),
        ],
    )
    .await;
    let p = pipeline(&pool, chrono_tz::Europe::Berlin);
    p.run_job(JobName::VoiceSessions, Trigger::Manual)
        .await
        .expect("sessions");
    // The sessions job breaks (its bronze table is gone); the DAU job still has work.
    sqlx::query("alter table bronze.discord_voice_events rename to discord_voice_events_gone")
        .execute(&pool)
        .await
        .expect("break the first job");
    let error = p
        .run_all(Trigger::Schedule)
        .await
        .expect_err("one job failed")
        .to_string();
    assert!(error.contains("job voice_sessions failed"), "{error}");
    assert_eq!(
        dau(&pool, "2026-11-01", "2026-11-01").await,
        vec![(day("2026-11-01"), 1, 1)],
        "the DAU job ran after the failure"
    );
    let runs: Vec<(String, bool)> = sqlx::query_as(
        "select job, error is null from app.pipeline_runs where trigger = 'schedule' order by id",
    )
    .fetch_all(&pool)
    .await
    .expect("runs");
    assert_eq!(
        runs,
        vec![
            ("voice_sessions".to_owned(), false),
            ("chat_daily".to_owned(), true),
            ("members".to_owned(), true),
            ("game_log_sessions".to_owned(), true),
            ("link_codes".to_owned(), true),
            ("game_status_sessions".to_owned(), true),
            ("activity_daily".to_owned(), true),
            ("server_utilization".to_owned(), true),
            ("daily_active_users".to_owned(), true),
            ("retention_cohorts".to_owned(), true),
            ("discord_comparable".to_owned(), true),
            ("member_sources".to_owned(), true),
            ("member_growth".to_owned(), true),
            ("funnel".to_owned(), true),
            ("presence_hours".to_owned(), true),
            ("identity_review".to_owned(), true),
            ("events".to_owned(), true)
        ]
    );
}

#[sqlx::test(migrator = "guildhall::db::MIGRATOR")]
async fn a_changed_time_zone_recomputes_every_day(pool: PgPool) {
    let metrics = Metrics::new();
    guild(&pool, "2026-11-03T00:00:00Z").await;
    // 23:30–23:45 UTC on Nov 1: Nov 2 after midnight in Berlin, Nov 1 evening in New York.
    ingest(
        &pool,
        &metrics,
        vec![
            event(1, Some(GENERAL), "2026-11-01T23:30:00Z"),
            event(1, None, "2026-11-01T23:45:00Z"),
        ],
    )
    .await;
    pipeline(&pool, chrono_tz::Europe::Berlin)
        .run_all(Trigger::Schedule)
        .await
        .expect("Berlin");
    assert_eq!(
        dau(&pool, "2026-11-02", "2026-11-02").await,
        vec![(day("2026-11-02"), 1, 1)]
    );
    // The community moves to New York time; the next scheduled run recomputes history.
    pipeline(&pool, chrono_tz::America::New_York)
        .run_all(Trigger::Schedule)
        .await
        .expect("New York");
    assert_eq!(
        dau(&pool, "2026-11-01", "2026-11-02").await,
        vec![(day("2026-11-01"), 1, 1), (day("2026-11-02"), 0, 0)]
    );
}

#[sqlx::test(migrator = "guildhall::db::MIGRATOR")]
async fn a_person_counts_once_with_the_time_of_all_their_accounts(pool: PgPool) {
    let metrics = Metrics::new();
    guild(&pool, "2026-11-02T00:00:00Z").await;
    // Two Discord accounts, 40 seconds of voice each on Nov 1: neither reaches a minute.
    ingest(
        &pool,
        &metrics,
        vec![
            event(1, Some(GENERAL), "2026-11-01T18:00:00Z"),
            event(1, None, "2026-11-01T18:00:40Z"),
            event(2, Some(GAMING), "2026-11-01T19:00:00Z"),
            event(2, None, "2026-11-01T19:00:40Z"),
        ],
    )
    .await;
    let p = pipeline(&pool, chrono_tz::Europe::Berlin);
    p.run_all(Trigger::Schedule).await.expect("run");
    let rows: Vec<(NaiveDate, String, i64)> = sqlx::query_as(
        "select day, account_id, voice_seconds from silver.activity_daily order by account_id",
    )
    .fetch_all(&pool)
    .await
    .expect("activity");
    assert_eq!(
        rows,
        vec![
            (day("2026-11-01"), "1".to_owned(), 40),
            (day("2026-11-01"), "2".to_owned(), 40)
        ]
    );
    assert_eq!(
        dau(&pool, "2026-11-01", "2026-11-01").await,
        vec![(day("2026-11-01"), 0, 0)]
    );

    // Linked to one person, their 80 seconds make that person active, once.
    sqlx::query(
        "update silver.user_identities set person_id =
             (select person_id from silver.user_identities where external_id = '1')
         where external_id = '2'",
    )
    .execute(&pool)
    .await
    .expect("link");
    sqlx::query("select app.request_recompute('activity_daily', '2026-10-31T23:00:00Z')")
        .execute(&pool)
        .await
        .expect("recompute the account's days");
    p.run_all(Trigger::Schedule)
        .await
        .expect("run after linking");
    assert_eq!(
        dau(&pool, "2026-11-01", "2026-11-01").await,
        vec![(day("2026-11-01"), 1, 1)]
    );
}

#[sqlx::test(migrator = "guildhall::db::MIGRATOR")]
async fn bronze_retention_never_makes_a_recompute_or_backfill_lose_a_session(pool: PgPool) {
    let metrics = Metrics::new();
    guild(&pool, NOW).await;
    ingest(
        &pool,
        &metrics,
        vec![
            // Long past: gone from bronze after retention.
            event(1, Some(GENERAL), "2026-11-01T10:00:00Z"),
            event(1, None, "2026-11-01T11:00:00Z"),
            event(2, Some(GENERAL), "2026-11-05T10:00:00Z"),
            event(2, None, "2026-11-05T10:30:00Z"),
            // Running at the horizon (Nov 21, 12:00): its events stay.
            event(2, Some(GAMING), "2026-11-20T20:00:00Z"),
            // Recent.
            event(3, Some(GENERAL), "2026-11-25T10:00:00Z"),
            event(3, None, "2026-11-25T12:00:00Z"),
        ],
    )
    .await;
    let p = pipeline(&pool, chrono_tz::Europe::Berlin);
    p.run_all(Trigger::Schedule).await.expect("first run");
    let open_since_nov_20 = (
        2,
        GAMING,
        at("2026-11-20T20:00:00Z"),
        None,
        None,
        false,
        None,
    );
    let before = vec![
        closed(
            1,
            GENERAL,
            "2026-11-01T10:00:00Z",
            "2026-11-01T11:00:00Z",
            3600,
            false,
            "leave",
        ),
        closed(
            2,
            GENERAL,
            "2026-11-05T10:00:00Z",
            "2026-11-05T10:30:00Z",
            1800,
            false,
            "leave",
        ),
        open_since_nov_20.clone(),
        closed(
            3,
            GENERAL,
            "2026-11-25T10:00:00Z",
            "2026-11-25T12:00:00Z",
            7200,
            false,
            "leave",
        ),
    ];
    assert_eq!(sessions(&pool).await, before);

    let report = p.apply_retention(10).await.expect("retention");
    assert_eq!(report.deleted, 4);
    assert_eq!(report.retained_from, at("2026-11-21T12:00:00Z"));
    let kept: Vec<(i64, DateTime<Utc>)> = sqlx::query_as(
        "select user_id, occurred_at from bronze.discord_voice_events order by occurred_at",
    )
    .fetch_all(&pool)
    .await
    .expect("bronze");
    assert_eq!(
        kept,
        vec![
            (2, at("2026-11-20T20:00:00Z")),
            (3, at("2026-11-25T10:00:00Z")),
            (3, at("2026-11-25T12:00:00Z")),
        ]
    );

    // An AFK mark for all of history re-evaluates silver; nothing is lost.
    sqlx::query(
        "insert into app.afk_channels (guild_id, channel_id, valid_from) values ($1, $2, '-infinity')",
    )
    .bind(GUILD)
    .bind(GAMING)
    .execute(&pool)
    .await
    .expect("mark");
    sqlx::query("select app.request_recompute('voice_sessions', '-infinity')")
        .execute(&pool)
        .await
        .expect("request");
    p.run_all(Trigger::Schedule).await.expect("recompute");
    let mut after = before.clone();
    after[2].5 = true;
    assert_eq!(sessions(&pool).await, after);

    // A backfill over everything rebuilds only what bronze still holds.
    p.backfill(day("2026-10-01"), day("2026-11-30"), None)
        .await
        .expect("backfill");
    assert_eq!(sessions(&pool).await, after);
    assert_eq!(
        dau(&pool, "2026-11-01", "2026-11-01").await,
        vec![(day("2026-11-01"), 1, 1)]
    );
}

#[sqlx::test(migrator = "guildhall::db::MIGRATOR")]
async fn a_relinked_account_dirties_exactly_the_days_it_was_active(pool: PgPool) {
    let metrics = Metrics::new();
    guild(&pool, NOW).await;
    ingest(
        &pool,
        &metrics,
        vec![
            event(1, Some(GENERAL), "2026-11-02T10:00:00Z"),
            event(1, None, "2026-11-02T11:00:00Z"),
            event(1, Some(GENERAL), "2026-11-03T10:00:00Z"),
            event(1, None, "2026-11-03T11:00:00Z"),
            event(1, Some(GENERAL), "2026-11-10T10:00:00Z"),
            event(1, None, "2026-11-10T11:00:00Z"),
            event(2, Some(GENERAL), "2026-11-03T10:00:00Z"),
            event(2, None, "2026-11-03T11:00:00Z"),
            event(2, Some(GENERAL), "2026-11-20T10:00:00Z"),
            event(2, None, "2026-11-20T11:00:00Z"),
        ],
    )
    .await;
    let p = pipeline(&pool, chrono_tz::Europe::Berlin);
    p.run_all(Trigger::Schedule).await.expect("first run");
    assert_eq!(
        dau(&pool, "2026-11-03", "2026-11-03").await,
        vec![(day("2026-11-03"), 2, 2)]
    );

    // Account 2 turns out to be account 1's person (a link): its days, and only those.
    sqlx::query(
        "update silver.user_identities
         set person_id = (select person_id from silver.user_identities
                          where kind = 'discord' and external_id = '1')
         where kind = 'discord' and external_id = '2'",
    )
    .execute(&pool)
    .await
    .expect("relink");
    // Its activity rows moved to the person at once (their numbers stay what they were)...
    let owners: Vec<i64> = sqlx::query_scalar(
        "select distinct person_id from silver.activity_daily where account_id in ('1', '2')",
    )
    .fetch_all(&pool)
    .await
    .expect("owners");
    assert_eq!(owners.len(), 1, "both accounts' days are one person's");
    // ...its days are marked on silver.activity_daily (the trigger names no job)...
    let spans = [
        ("2026-11-02T23:00:00Z", "2026-11-03T23:00:00Z"),
        ("2026-11-19T23:00:00Z", "2026-11-20T23:00:00Z"),
    ];
    let marked: Vec<(String, DateTime<Utc>, DateTime<Utc>)> = sqlx::query_as(
        "select table_name, from_at, to_at from app.pipeline_dirty_tables order by from_at, id",
    )
    .fetch_all(&pool)
    .await
    .expect("marks");
    assert_eq!(
        marked,
        spans
            .iter()
            .map(|(from, to)| (Table::ActivityDaily.as_str().to_owned(), at(from), at(to)))
            .collect::<Vec<_>>()
    );
    // ...and the jobs that count persons (those reading it) recompute exactly its days.
    assert_eq!(p.distribute_dirty_tables().await.expect("distribute"), 2);
    let requested: Vec<(String, DateTime<Utc>, DateTime<Utc>)> = sqlx::query_as(
        "select job, from_at, to_at from app.pipeline_dirty_ranges order by from_at, job",
    )
    .fetch_all(&pool)
    .await
    .expect("requests");
    let jobs = [
        "daily_active_users",
        "retention_cohorts",
        "discord_comparable",
        "member_sources",
        "member_growth",
        "funnel",
        "identity_review",
    ];
    let expected: Vec<(String, DateTime<Utc>, DateTime<Utc>)> = spans
        .into_iter()
        .flat_map(|(from, to)| {
            let mut by_name = jobs;
            by_name.sort_unstable();
            by_name.map(|job| (job.to_owned(), at(from), at(to)))
        })
        .collect();
    assert_eq!(requested, expected);
    p.run_all(Trigger::Schedule).await.expect("second run");
    // One person now: Nov 3 counts them once.
    assert_eq!(
        dau(&pool, "2026-11-03", "2026-11-03").await,
        vec![(day("2026-11-03"), 1, 1)]
    );
    let runs: Vec<(DateTime<Utc>, DateTime<Utc>)> = sqlx::query_as(
        "select range_from, range_to from app.pipeline_runs
         where job = 'daily_active_users' order by id desc limit 1",
    )
    .fetch_all(&pool)
    .await
    .expect("runs");
    // The run covered Nov 3 up to the recent days; the 10th was not dirty but lies inside
    // the reported span (the history reports the outermost days).
    assert_eq!(runs[0].0, at("2026-11-02T23:00:00Z"));
    let pending: i64 = sqlx::query_scalar("select count(*) from app.pipeline_dirty_ranges")
        .fetch_one(&pool)
        .await
        .expect("pending");
    assert_eq!(pending, 0);
}

fn message(id: i64, author: i64, channel: i64, thread_of: Option<i64>, when: &str) -> MessageEvent {
    MessageEvent {
        message_id: id,
        guild_id: GUILD,
        channel_id: channel,
        parent_channel_id: thread_of,
        author_id: author,
        created_at: at(when),
        char_count: Some(10),
        attachment_count: 1,
        is_reply: thread_of.is_some(),
    }
}

async fn ingest_messages(pool: &PgPool, metrics: &Metrics, messages: Vec<MessageEvent>) {
    let (writer, task) =
        IngestWriter::spawn(pool.clone(), WriterConfig::default(), metrics.clone());
    for m in messages {
        writer.write(m).await.expect("writer accepts");
    }
    drop(writer);
    task.await.expect("writer finished");
}

const CHAT: i64 = 20;
const THREAD: i64 = 21;

/// day, channel, account, messages, characters, attachments, replies
type ChatRow = (NaiveDate, i64, i64, i32, Option<i64>, i32, i32);

#[sqlx::test(migrator = "guildhall::db::MIGRATOR")]
async fn chat_counts_per_local_day_and_a_person_active_in_voice_and_chat_counts_once(pool: PgPool) {
    let metrics = Metrics::new();
    guild(&pool, NOW).await;
    // Nov 2 in Berlin: user 1 speaks 10 minutes and writes twice (once in a thread of the
    // chat channel); user 2 only writes. 23:30 UTC on Nov 2 is Nov 3 in Berlin.
    ingest(
        &pool,
        &metrics,
        vec![
            event(1, Some(GENERAL), "2026-11-02T18:00:00Z"),
            event(1, None, "2026-11-02T18:10:00Z"),
        ],
    )
    .await;
    ingest_messages(
        &pool,
        &metrics,
        vec![
            message(101, 1, CHAT, None, "2026-11-02T19:00:00Z"),
            message(102, 1, THREAD, Some(CHAT), "2026-11-02T19:05:00Z"),
            message(103, 2, CHAT, None, "2026-11-02T20:00:00Z"),
            message(104, 2, CHAT, None, "2026-11-02T23:30:00Z"),
        ],
    )
    .await;
    let p = pipeline(&pool, chrono_tz::Europe::Berlin);
    p.run_all(Trigger::Schedule).await.expect("run");

    let chat: Vec<ChatRow> = sqlx::query_as(
        "select day, channel_id, discord_user_id, messages, characters, attachments, replies
         from silver.fact_chat_daily order by day, discord_user_id",
    )
    .fetch_all(&pool)
    .await
    .expect("chat");
    assert_eq!(
        chat,
        vec![
            (day("2026-11-02"), CHAT, 1, 2, Some(20), 2, 1),
            (day("2026-11-02"), CHAT, 2, 1, Some(10), 1, 0),
            (day("2026-11-03"), CHAT, 2, 1, Some(10), 1, 0),
        ]
    );
    let dau: Vec<(NaiveDate, i32, i32, i32)> = sqlx::query_as(
        "select day, dau_total, dau_voice, dau_chat from gold.daily_active_users
         where day between '2026-11-02' and '2026-11-03' order by day",
    )
    .fetch_all(&pool)
    .await
    .expect("dau");
    assert_eq!(
        dau,
        vec![(day("2026-11-02"), 2, 1, 2), (day("2026-11-03"), 1, 0, 1)]
    );

    // The same message again (a replay) and a second run change nothing.
    ingest_messages(
        &pool,
        &metrics,
        vec![message(101, 1, CHAT, None, "2026-11-02T19:00:00Z")],
    )
    .await;
    let before = snapshot(&pool).await;
    p.run_all(Trigger::Schedule).await.expect("second run");
    assert_eq!(snapshot(&pool).await, before);

    // A late message on Nov 2 changes that day only.
    ingest_messages(
        &pool,
        &metrics,
        vec![message(105, 3, CHAT, None, "2026-11-02T21:00:00Z")],
    )
    .await;
    p.run_all(Trigger::Schedule).await.expect("third run");
    let dau: Vec<(NaiveDate, i32, i32, i32)> = sqlx::query_as(
        "select day, dau_total, dau_voice, dau_chat from gold.daily_active_users
         where day between '2026-11-02' and '2026-11-03' order by day",
    )
    .fetch_all(&pool)
    .await
    .expect("dau");
    assert_eq!(
        dau,
        vec![(day("2026-11-02"), 3, 1, 3), (day("2026-11-03"), 1, 0, 1)]
    );
}

/// day, dau_total, wau, mau, stickiness (as text, 4 decimals)
type TrailingRow = (NaiveDate, i32, i32, i32, Option<String>);

async fn trailing(pool: &PgPool, days: &[&str]) -> Vec<TrailingRow> {
    let days: Vec<NaiveDate> = days.iter().map(|d| day(d)).collect();
    sqlx::query_as(
        "select day, dau_total, wau, mau, stickiness::text from gold.daily_active_users
         where day = any($1) order by day",
    )
    .bind(days)
    .fetch_all(pool)
    .await
    .expect("trailing")
}

fn row(d: &str, dau: i32, wau: i32, mau: i32, stickiness: Option<&str>) -> TrailingRow {
    (day(d), dau, wau, mau, stickiness.map(str::to_owned))
}

#[sqlx::test(migrator = "guildhall::db::MIGRATOR")]
async fn wau_mau_and_stickiness_count_persons_over_the_trailing_local_days(pool: PgPool) {
    let metrics = Metrics::new();
    guild(&pool, NOW).await;
    // Person 1 speaks on Nov 1 and writes on Nov 10, person 2 writes on Nov 5, person 3
    // speaks on Nov 20 (Berlin days).
    ingest(
        &pool,
        &metrics,
        vec![
            event(1, Some(GENERAL), "2026-11-01T18:00:00Z"),
            event(1, None, "2026-11-01T18:10:00Z"),
            event(3, Some(GENERAL), "2026-11-20T18:00:00Z"),
            event(3, None, "2026-11-20T18:05:00Z"),
        ],
    )
    .await;
    ingest_messages(
        &pool,
        &metrics,
        vec![
            message(201, 2, CHAT, None, "2026-11-05T12:00:00Z"),
            message(202, 1, CHAT, None, "2026-11-10T12:00:00Z"),
        ],
    )
    .await;
    let p = pipeline(&pool, chrono_tz::Europe::Berlin);
    p.run_all(Trigger::Schedule).await.expect("run");
    let days = [
        "2026-11-01",
        "2026-11-05",
        "2026-11-07",
        "2026-11-08",
        "2026-11-10",
        "2026-11-20",
        "2026-11-30",
        "2026-12-01",
    ];
    assert_eq!(
        trailing(&pool, &days).await,
        vec![
            row("2026-11-01", 1, 1, 1, Some("1.0000")),
            row("2026-11-05", 1, 2, 2, Some("0.5000")),
            row("2026-11-07", 0, 2, 2, Some("0.0000")),
            // Nov 2–8: only person 2.
            row("2026-11-08", 0, 1, 2, Some("0.0000")),
            row("2026-11-10", 1, 2, 2, Some("0.5000")),
            // Nov 14–20: person 3; Oct 22–Nov 20: all three.
            row("2026-11-20", 1, 1, 3, Some("0.3333")),
            row("2026-11-30", 0, 0, 3, Some("0.0000")),
            // Nov 2–Dec 1: person 1 still counts by Nov 10.
            row("2026-12-01", 0, 0, 3, Some("0.0000")),
        ]
    );

    // A late message of a fourth person on Nov 3 changes the windows of the 29 days after.
    ingest_messages(
        &pool,
        &metrics,
        vec![message(203, 4, CHAT, None, "2026-11-03T12:00:00Z")],
    )
    .await;
    p.run_all(Trigger::Schedule).await.expect("second run");
    assert_eq!(
        trailing(
            &pool,
            &["2026-11-05", "2026-11-30", "2026-12-01", "2026-12-02"]
        )
        .await,
        vec![
            row("2026-11-05", 1, 3, 3, Some("0.3333")),
            row("2026-11-30", 0, 0, 4, Some("0.0000")),
            row("2026-12-01", 0, 0, 4, Some("0.0000")),
        ]
    );
}

fn member_event(user: i64, kind: MemberEventKind, when: &str) -> MemberEvent {
    MemberEvent {
        guild_id: GUILD,
        user_id: user,
        kind,
        joined_at: (kind != MemberEventKind::Leave).then(|| at(when)),
        roles: vec![5, 6],
        nickname: None,
        pending: false,
        origin: MemberOrigin::Gateway,
        observed_at: at(when),
        source: None,
    }
}

/// cohort month, k, size, active, percentage (text), partial
type CohortRow = (NaiveDate, i32, i32, i32, Option<String>, bool);

fn cohort(month: &str, k: i32, size: i32, active: i32, pct: &str, partial: bool) -> CohortRow {
    (day(month), k, size, active, Some(pct.to_owned()), partial)
}

#[sqlx::test(migrator = "guildhall::db::MIGRATOR")]
async fn retention_cohorts_follow_each_join_month_and_leavers_stay_in_theirs(pool: PgPool) {
    let metrics = Metrics::new();
    guild(&pool, NOW).await;
    let (writer, task) =
        IngestWriter::spawn(pool.clone(), WriterConfig::default(), metrics.clone());
    for event in [
        member_event(1, MemberEventKind::Join, "2026-09-10T12:00:00Z"),
        member_event(2, MemberEventKind::Join, "2026-09-20T12:00:00Z"),
        member_event(2, MemberEventKind::Leave, "2026-10-01T12:00:00Z"),
        member_event(3, MemberEventKind::Join, "2026-10-03T12:00:00Z"),
        // 00:30 on Dec 1 in Berlin: the December cohort.
        member_event(4, MemberEventKind::Join, "2026-11-30T23:30:00Z"),
    ] {
        writer.write(event).await.expect("write");
    }
    drop(writer);
    task.await.expect("writer");
    ingest(
        &pool,
        &metrics,
        vec![
            event(1, Some(GENERAL), "2026-09-12T18:00:00Z"),
            event(1, None, "2026-09-12T18:10:00Z"),
            event(2, Some(GENERAL), "2026-09-21T18:00:00Z"),
            event(2, None, "2026-09-21T18:10:00Z"),
            event(3, Some(GENERAL), "2026-10-04T18:00:00Z"),
            event(3, None, "2026-10-04T18:10:00Z"),
        ],
    )
    .await;
    ingest_messages(
        &pool,
        &metrics,
        vec![
            message(301, 1, CHAT, None, "2026-10-05T12:00:00Z"),
            message(302, 3, CHAT, None, "2026-11-15T12:00:00Z"),
            message(303, 4, CHAT, None, "2026-12-01T08:00:00Z"),
        ],
    )
    .await;
    let p = pipeline(&pool, chrono_tz::Europe::Berlin);
    p.run_all(Trigger::Schedule).await.expect("run");

    let cohorts: Vec<CohortRow> = sqlx::query_as(
        "select cohort_month, months_after, cohort_size, active, percentage::text, partial
         from gold.retention_cohorts order by cohort_month, months_after",
    )
    .fetch_all(&pool)
    .await
    .expect("cohorts");
    assert_eq!(
        cohorts,
        vec![
            cohort("2026-09-01", 0, 2, 2, "100.00", false),
            cohort("2026-09-01", 1, 2, 1, "50.00", false),
            cohort("2026-09-01", 2, 2, 0, "0.00", false),
            cohort("2026-09-01", 3, 2, 0, "0.00", true),
            cohort("2026-10-01", 0, 1, 1, "100.00", false),
            cohort("2026-10-01", 1, 1, 1, "100.00", false),
            cohort("2026-10-01", 2, 1, 0, "0.00", true),
            cohort("2026-12-01", 0, 1, 1, "100.00", true),
        ]
    );
    let leaver: (bool, Option<DateTime<Utc>>, bool, i32, Vec<i64>) = sqlx::query_as(
        "select is_member, left_at, left_at_noticed, rejoins, roles from silver.dim_members
         where discord_user_id = 2",
    )
    .fetch_one(&pool)
    .await
    .expect("leaver");
    assert_eq!(
        leaver,
        (
            false,
            Some(at("2026-10-01T12:00:00Z")),
            false,
            0,
            vec![5, 6]
        )
    );

    // A second run changes nothing.
    let before: Vec<CohortRow> = sqlx::query_as(
        "select cohort_month, months_after, cohort_size, active, percentage::text, partial
         from gold.retention_cohorts order by cohort_month, months_after",
    )
    .fetch_all(&pool)
    .await
    .expect("cohorts");
    p.run_all(Trigger::Schedule).await.expect("second run");
    let after: Vec<CohortRow> = sqlx::query_as(
        "select cohort_month, months_after, cohort_size, active, percentage::text, partial
         from gold.retention_cohorts order by cohort_month, months_after",
    )
    .fetch_all(&pool)
    .await
    .expect("cohorts");
    assert_eq!(after, before);
}

/// day, communicators, weekly, new members, activated, rate, retained, retention, complete
type ComparableRow = (
    NaiveDate,
    i32,
    i32,
    i32,
    i32,
    Option<String>,
    i32,
    Option<String>,
    bool,
);

#[sqlx::test(migrator = "guildhall::db::MIGRATOR")]
async fn discord_comparable_numbers_count_communicators_activation_and_week_one_retention(
    pool: PgPool,
) {
    let metrics = Metrics::new();
    guild(&pool, NOW).await;
    let (writer, task) =
        IngestWriter::spawn(pool.clone(), WriterConfig::default(), metrics.clone());
    for (user, when) in [
        (1, "2026-11-02T09:00:00Z"),
        (2, "2026-11-02T09:00:00Z"),
        (3, "2026-11-02T09:00:00Z"),
        (4, "2026-11-25T09:00:00Z"),
    ] {
        writer
            .write(member_event(user, MemberEventKind::Join, when))
            .await
            .expect("join");
    }
    drop(writer);
    task.await.expect("writer");
    // Person 1: three messages in the first week, back in the second. Person 2: one message
    // on the join day only. Person 3: five minutes of voice in the first week.
    ingest_messages(
        &pool,
        &metrics,
        vec![
            message(401, 1, CHAT, None, "2026-11-03T10:00:00Z"),
            message(402, 1, CHAT, None, "2026-11-03T11:00:00Z"),
            message(403, 1, CHAT, None, "2026-11-03T12:00:00Z"),
            message(404, 2, CHAT, None, "2026-11-02T12:00:00Z"),
            message(405, 1, CHAT, None, "2026-11-10T12:00:00Z"),
        ],
    )
    .await;
    ingest(
        &pool,
        &metrics,
        vec![
            event(3, Some(GENERAL), "2026-11-04T18:00:00Z"),
            event(3, None, "2026-11-04T18:05:00Z"),
        ],
    )
    .await;
    pipeline(&pool, chrono_tz::Europe::Berlin)
        .run_all(Trigger::Schedule)
        .await
        .expect("run");
    let rows: Vec<ComparableRow> = sqlx::query_as(
        "select day, communicators, communicators_week, new_members, activated,
                activation_rate::text, week1_retained, week1_retention::text, complete
         from gold.discord_comparable_daily
         where day in ('2026-11-02', '2026-11-03', '2026-11-10', '2026-11-25')
         order by day",
    )
    .fetch_all(&pool)
    .await
    .expect("rows");
    let pct = |text: &str| Some(text.to_owned());
    assert_eq!(
        rows,
        vec![
            (
                day("2026-11-02"),
                1,
                1,
                3,
                2,
                pct("66.67"),
                1,
                pct("33.33"),
                true
            ),
            (day("2026-11-03"), 1, 2, 0, 0, None, 0, None, true),
            (day("2026-11-10"), 1, 2, 0, 0, None, 0, None, true),
            (
                day("2026-11-25"),
                0,
                0,
                1,
                0,
                pct("0.00"),
                0,
                pct("0.00"),
                false
            ),
        ]
    );
}

fn joined_through(user: i64, when: &str, source: Option<(&str, i64)>) -> MemberEvent {
    let mut join = member_event(user, MemberEventKind::Join, when);
    join.source = Some(match source {
        Some((code, inviter)) => JoinSource::invite(code.to_owned(), Some(inviter)),
        None => JoinSource::unknown("not_found"),
    });
    join
}

/// An account created on 2026-10-02 (its snowflake says so): younger than 3 days when it
/// joins on 2026-10-03.
const YOUNG: i64 = 1_555_368_719_155_200_000;

/// join month, source, code, inviter, joined, young, still members, active after 1/7/30 days
type SourceRow = (
    NaiveDate,
    String,
    String,
    Option<i64>,
    i32,
    i32,
    i32,
    i32,
    i32,
    i32,
);

#[sqlx::test(migrator = "guildhall::db::MIGRATOR")]
async fn member_sources_count_each_invites_joins_and_how_long_they_stayed_active(pool: PgPool) {
    let metrics = Metrics::new();
    guild(&pool, NOW).await;
    let (writer, task) =
        IngestWriter::spawn(pool.clone(), WriterConfig::default(), metrics.clone());
    for event in [
        joined_through(1, "2026-09-10T12:00:00Z", Some(("twitch", 100))),
        joined_through(2, "2026-09-20T12:00:00Z", Some(("twitch", 100))),
        member_event(2, MemberEventKind::Leave, "2026-10-01T12:00:00Z"),
        joined_through(3, "2026-09-25T12:00:00Z", None),
        joined_through(YOUNG, "2026-10-03T12:00:00Z", Some(("friends", 101))),
    ] {
        writer.write(event).await.expect("write");
    }
    drop(writer);
    task.await.expect("writer");
    ingest(
        &pool,
        &metrics,
        vec![
            // 1: two days after joining, and 35 days after.
            event(1, Some(GENERAL), "2026-09-12T18:00:00Z"),
            event(1, None, "2026-09-12T18:10:00Z"),
            event(1, Some(GENERAL), "2026-10-15T18:00:00Z"),
            event(1, None, "2026-10-15T18:10:00Z"),
            // 2: the day after joining only.
            event(2, Some(GENERAL), "2026-09-21T18:00:00Z"),
            event(2, None, "2026-09-21T18:10:00Z"),
            // 3: on the join day only.
            event(3, Some(GENERAL), "2026-09-25T18:00:00Z"),
            event(3, None, "2026-09-25T18:10:00Z"),
        ],
    )
    .await;
    // The young account writes 8 days after joining.
    ingest_messages(
        &pool,
        &metrics,
        vec![message(401, YOUNG, CHAT, None, "2026-10-11T12:00:00Z")],
    )
    .await;
    let p = pipeline(&pool, chrono_tz::Europe::Berlin);
    p.run_all(Trigger::Schedule).await.expect("run");

    let sources = || async {
        sqlx::query_as::<_, SourceRow>(
            "select join_month, source, invite_code, inviter_id, joined, young_accounts,
                    still_members, active_after_1d, active_after_7d, active_after_30d
             from gold.member_sources order by join_month, source, invite_code",
        )
        .fetch_all(&pool)
        .await
        .expect("sources")
    };
    let expected: Vec<SourceRow> = vec![
        (
            day("2026-09-01"),
            "invite".into(),
            "twitch".into(),
            Some(100),
            2,
            0,
            1,
            2,
            1,
            1,
        ),
        (
            day("2026-09-01"),
            "unknown".into(),
            String::new(),
            None,
            1,
            0,
            1,
            0,
            0,
            0,
        ),
        (
            day("2026-10-01"),
            "invite".into(),
            "friends".into(),
            Some(101),
            1,
            1,
            1,
            1,
            1,
            0,
        ),
    ];
    assert_eq!(sources().await, expected);
    let retention: Vec<(i32, i32, i32, Option<String>, bool)> = sqlx::query_as(
        "select months_after, cohort_size, active, percentage::text, partial
         from gold.member_source_retention
         where join_month = '2026-09-01' and invite_code = 'twitch' order by months_after",
    )
    .fetch_all(&pool)
    .await
    .expect("retention");
    assert_eq!(
        retention,
        vec![
            (0, 2, 2, Some("100.00".to_owned()), false),
            (1, 2, 1, Some("50.00".to_owned()), false),
            (2, 2, 0, Some("0.00".to_owned()), false),
            (3, 2, 0, Some("0.00".to_owned()), true),
        ]
    );
    // A second run changes nothing.
    let reports = p.run_all(Trigger::Schedule).await.expect("second run");
    assert_eq!(sources().await, expected);
    assert!(
        reports
            .iter()
            .filter(|r| r.job == JobName::MemberSources)
            .all(|r| r.rows == 0),
        "{reports:?}"
    );

    // A late visit of 1 in November recounts November's cell only; earlier cells stay.
    ingest(
        &pool,
        &metrics,
        vec![
            event(1, Some(GENERAL), "2026-11-20T18:00:00Z"),
            event(1, None, "2026-11-20T18:10:00Z"),
        ],
    )
    .await;
    p.run_all(Trigger::Schedule).await.expect("third run");
    let retention: Vec<(i32, i32, i32, Option<String>, bool)> = sqlx::query_as(
        "select months_after, cohort_size, active, percentage::text, partial
         from gold.member_source_retention
         where join_month = '2026-09-01' and invite_code = 'twitch' order by months_after",
    )
    .fetch_all(&pool)
    .await
    .expect("retention");
    assert_eq!(
        retention,
        vec![
            (0, 2, 2, Some("100.00".to_owned()), false),
            (1, 2, 1, Some("50.00".to_owned()), false),
            (2, 2, 1, Some("50.00".to_owned()), false),
            (3, 2, 0, Some("0.00".to_owned()), true),
        ]
    );
}

fn scheduled(
    id: i64,
    change: &str,
    status: &str,
    channel: Option<i64>,
    start: &str,
    end: Option<&str>,
    when: &str,
) -> ScheduledEventChange {
    ScheduledEventChange {
        guild_id: GUILD,
        scheduled_event_id: id,
        change: change.to_owned(),
        user_id: None,
        name: Some(format!("Event {id}")),
        channel_id: channel,
        kind: Some(
            if channel.is_some() {
                "voice"
            } else {
                "external"
            }
            .to_owned(),
        ),
        status: Some(status.to_owned()),
        starts_at: Some(at(start)),
        ends_at: end.map(at),
        origin: "gateway".to_owned(),
        observed_at: at(when),
    }
}

fn interest(id: i64, user: i64, change: &str, when: &str) -> ScheduledEventChange {
    ScheduledEventChange {
        guild_id: GUILD,
        scheduled_event_id: id,
        change: change.to_owned(),
        user_id: Some(user),
        name: None,
        channel_id: None,
        kind: None,
        status: None,
        starts_at: None,
        ends_at: None,
        origin: "gateway".to_owned(),
        observed_at: at(when),
    }
}

/// event, interested, attended, both, no-shows, walk-ins, rate
type AttendanceRow = (i64, i32, i32, i32, i32, i32, Option<String>);

#[sqlx::test(migrator = "guildhall::db::MIGRATOR")]
async fn attendance_is_ten_minutes_of_voice_in_the_events_window_and_channel(pool: PgPool) {
    let metrics = Metrics::new();
    guild(&pool, NOW).await;
    let (writer, task) = IngestWriter::<ScheduledEventChange>::spawn(
        pool.clone(),
        WriterConfig::default(),
        metrics.clone(),
    );
    for change in [
        // A voice event in General, 19:00-21:00: the window is 18:45-21:15.
        scheduled(
            1,
            "create",
            "scheduled",
            Some(GENERAL),
            "2026-11-20T19:00:00Z",
            Some("2026-11-20T21:00:00Z"),
            "2026-11-15T10:00:00Z",
        ),
        interest(1, 1, "user_add", "2026-11-15T11:00:00Z"),
        interest(1, 2, "user_add", "2026-11-15T11:00:00Z"),
        interest(1, 3, "user_add", "2026-11-15T11:00:00Z"),
        // 6 was interested, then not.
        interest(1, 6, "user_add", "2026-11-15T11:00:00Z"),
        interest(1, 6, "user_remove", "2026-11-16T11:00:00Z"),
        scheduled(
            1,
            "update",
            "completed",
            Some(GENERAL),
            "2026-11-20T19:00:00Z",
            Some("2026-11-20T21:00:00Z"),
            "2026-11-20T21:00:00Z",
        ),
        // An external event without an end: the window is 18:45-21:00, any channel.
        scheduled(
            2,
            "create",
            "scheduled",
            None,
            "2026-11-21T19:00:00Z",
            None,
            "2026-11-15T10:00:00Z",
        ),
        // A deleted event is not summarised.
        scheduled(
            3,
            "create",
            "scheduled",
            Some(GENERAL),
            "2026-11-22T19:00:00Z",
            None,
            "2026-11-15T10:00:00Z",
        ),
        interest(3, 1, "user_add", "2026-11-15T11:00:00Z"),
        scheduled(
            3,
            "delete",
            "scheduled",
            Some(GENERAL),
            "2026-11-22T19:00:00Z",
            None,
            "2026-11-16T10:00:00Z",
        ),
    ] {
        writer.write(change).await.expect("write");
    }
    drop(writer);
    task.await.expect("writer");
    ingest(
        &pool,
        &metrics,
        vec![
            // 1 (interested): 40 minutes in General inside the window: attended.
            event(1, Some(GENERAL), "2026-11-20T18:50:00Z"),
            event(1, None, "2026-11-20T19:30:00Z"),
            // 2 (interested): 21:10-21:40, only 5 minutes inside the window: a no-show.
            event(2, Some(GENERAL), "2026-11-20T21:10:00Z"),
            event(2, None, "2026-11-20T21:40:00Z"),
            // 3 (interested): in another channel: a no-show.
            event(3, Some(GAMING), "2026-11-20T19:00:00Z"),
            event(3, None, "2026-11-20T20:00:00Z"),
            // 4: 30 minutes without being interested: a walk-in.
            event(4, Some(GENERAL), "2026-11-20T20:00:00Z"),
            event(4, None, "2026-11-20T20:30:00Z"),
            // 5: 5 + 6 minutes in two visits: 11 minutes, a walk-in.
            event(5, Some(GENERAL), "2026-11-20T19:00:00Z"),
            event(5, None, "2026-11-20T19:05:00Z"),
            event(5, Some(GENERAL), "2026-11-20T19:20:00Z"),
            event(5, None, "2026-11-20T19:26:00Z"),
            // 6 (no longer interested): 20 minutes: a walk-in.
            event(6, Some(GENERAL), "2026-11-20T20:00:00Z"),
            event(6, None, "2026-11-20T20:20:00Z"),
            // External event: 3 plays in Gaming (attended), 1 idles in AFK (not counted).
            event(3, Some(GAMING), "2026-11-21T19:00:00Z"),
            event(3, None, "2026-11-21T20:00:00Z"),
            event(1, Some(AFK), "2026-11-21T19:00:00Z"),
            event(1, None, "2026-11-21T20:00:00Z"),
        ],
    )
    .await;
    let p = pipeline(&pool, chrono_tz::Europe::Berlin);
    p.run_all(Trigger::Schedule).await.expect("run");
    let attendance = || async {
        sqlx::query_as::<_, AttendanceRow>(
            "select scheduled_event_id, interested, attended, interested_attended, no_shows,
                    walk_ins, attendance_rate::text
             from gold.event_attendance order by scheduled_event_id",
        )
        .fetch_all(&pool)
        .await
        .expect("attendance")
    };
    let expected: Vec<AttendanceRow> = vec![
        (1, 3, 4, 1, 2, 3, Some("33.33".to_owned())),
        (2, 0, 1, 0, 0, 1, None),
    ];
    assert_eq!(attendance().await, expected);
    let statuses: Vec<(i64, String, DateTime<Utc>, DateTime<Utc>)> = sqlx::query_as(
        "select scheduled_event_id, status, window_from, window_to from silver.dim_events
         order by scheduled_event_id",
    )
    .fetch_all(&pool)
    .await
    .expect("events");
    assert_eq!(
        statuses,
        vec![
            (
                1,
                "completed".to_owned(),
                at("2026-11-20T18:45:00Z"),
                at("2026-11-20T21:15:00Z")
            ),
            (
                2,
                "scheduled".to_owned(),
                at("2026-11-21T18:45:00Z"),
                at("2026-11-21T21:00:00Z")
            ),
            (
                3,
                "deleted".to_owned(),
                at("2026-11-22T18:45:00Z"),
                at("2026-11-22T21:00:00Z")
            ),
        ]
    );
    // A second run changes nothing.
    let reports = p.run_all(Trigger::Schedule).await.expect("second run");
    assert_eq!(attendance().await, expected);
    assert!(
        reports
            .iter()
            .filter(|r| r.job == JobName::Events)
            .all(|r| r.rows == 0),
        "{reports:?}"
    );
}

#[sqlx::test(migrator = "guildhall::db::MIGRATOR")]
async fn member_growth_counts_local_weeks_and_leavers_tenure_and_a_second_run_changes_nothing(
    pool: PgPool,
) {
    // Berlin, the clock on Tuesday 1 December. Ana joins on Monday 2 November and stays;
    // Ben joins on the 3rd, is in voice on the 10th and leaves on the 18th (15 days: under
    // 30); Cem joins and leaves on the 9th (10 hours: under a day); Dee joins at 23:30 UTC
    // on Sunday 29 November, 00:30 on Monday 30 November in Berlin.
    sqlx::raw_sql(
        "insert into silver.dim_user (person_id) overriding system value values (2);
         insert into silver.dim_members
             (guild_id, discord_user_id, first_joined_at, last_joined_at, is_member, left_at)
         values (42, 1, '2026-11-02T10:00:00Z', '2026-11-02T10:00:00Z', true, null),
                (42, 2, '2026-11-03T10:00:00Z', '2026-11-03T10:00:00Z', false, '2026-11-18T10:00:00Z'),
                (42, 3, '2026-11-09T10:00:00Z', '2026-11-09T10:00:00Z', false, '2026-11-09T20:00:00Z'),
                (42, 4, '2026-11-29T23:30:00Z', '2026-11-29T23:30:00Z', true, null);
         insert into silver.user_identities (kind, external_id, person_id) values ('discord', '2', 2);
         insert into silver.activity_daily (day, account_kind, account_id, person_id, voice_seconds)
         values ('2026-11-10', 'discord', '2', 2, 600);",
    )
    .execute(&pool)
    .await
    .expect("members");
    let p = pipeline(&pool, chrono_tz::Europe::Berlin);
    let first = p
        .run_job(JobName::MemberGrowth, Trigger::Schedule)
        .await
        .expect("first run");
    assert_eq!(first.rows, 7, "five weeks and two tenure rows");
    let weeks: Vec<(NaiveDate, i32, i32, i32)> = sqlx::query_as(
        "select week_of, joins, leaves, members from gold.member_growth_weekly order by week_of",
    )
    .fetch_all(&pool)
    .await
    .expect("weeks");
    assert_eq!(
        weeks,
        vec![
            (day("2026-11-02"), 2, 0, 2),
            (day("2026-11-09"), 1, 1, 2),
            (day("2026-11-16"), 0, 1, 1),
            (day("2026-11-23"), 0, 0, 1),
            (day("2026-11-30"), 1, 0, 2),
        ]
    );
    let tenure: Vec<(NaiveDate, i16, i32, i32)> = sqlx::query_as(
        "select left_month, bucket, leavers, active_before from gold.leaver_tenure
         order by left_month, bucket",
    )
    .fetch_all(&pool)
    .await
    .expect("tenure");
    assert_eq!(
        tenure,
        vec![(day("2026-11-01"), 0, 1, 0), (day("2026-11-01"), 2, 1, 1)]
    );
    let second = p
        .run_job(JobName::MemberGrowth, Trigger::Schedule)
        .await
        .expect("second run");
    assert_eq!(second.rows, 0, "a second run changes nothing");

    // Ana leaves on 25 November after 23 days; her months are counted again.
    sqlx::raw_sql(
        "update silver.dim_members set is_member = false, left_at = '2026-11-25T10:00:00Z'
         where discord_user_id = 1;
         select app.request_recompute('member_growth', '2026-11-01T00:00:00Z');",
    )
    .execute(&pool)
    .await
    .expect("a leave");
    p.run_job(JobName::MemberGrowth, Trigger::Schedule)
        .await
        .expect("third run");
    let last_weeks: Vec<(NaiveDate, i32, i32)> = sqlx::query_as(
        "select week_of, leaves, members from gold.member_growth_weekly
         where week_of >= '2026-11-23' order by week_of",
    )
    .fetch_all(&pool)
    .await
    .expect("weeks");
    assert_eq!(
        last_weeks,
        vec![(day("2026-11-23"), 1, 0), (day("2026-11-30"), 0, 1)]
    );
    let under_30_days: (i32, i32) =
        sqlx::query_as("select leavers, active_before from gold.leaver_tenure where bucket = 2")
            .fetch_one(&pool)
            .await
            .expect("tenure");
    assert_eq!(under_30_days, (2, 1));

    // Cem's linked Steam account was on a game server for two minutes the day he left:
    // active before leaving, as for daily active users (every account of the person).
    sqlx::raw_sql(
        "insert into silver.dim_user (person_id) overriding system value values (3);
         insert into silver.user_identities (kind, external_id, person_id)
         values ('discord', '3', 3), ('steam', '765', 3);
         insert into silver.activity_daily (day, account_kind, account_id, person_id, game_seconds)
         values ('2026-11-09', 'steam', '765', 3, 120);
         select app.mark_dirty('silver.activity_daily', '2026-11-08T23:00:00Z', '2026-11-09T23:00:00Z');",
    )
    .execute(&pool)
    .await
    .expect("a game");
    p.run_job(JobName::MemberGrowth, Trigger::Schedule)
        .await
        .expect("fourth run");
    let under_a_day: (i32, i32) =
        sqlx::query_as("select leavers, active_before from gold.leaver_tenure where bucket = 0")
            .fetch_one(&pool)
            .await
            .expect("tenure");
    assert_eq!(under_a_day, (1, 1));
}

#[sqlx::test(migrator = "guildhall::db::MIGRATOR")]
async fn the_funnel_recounts_a_regular_when_their_days_change_and_a_second_run_changes_nothing(
    pool: PgPool,
) {
    // Ana joined in October, linked Steam, played, and was active on four November days.
    sqlx::raw_sql(
        "insert into silver.dim_user (person_id) overriding system value values (1);
         insert into silver.dim_members (guild_id, discord_user_id, first_joined_at, is_member)
         values (42, 11, '2026-10-03T10:00:00Z', true);
         insert into silver.user_identities (kind, external_id, person_id, verified_by) values
             ('discord', '11', 1, 'observed'), ('steam', '765', 1, 'ingame_code');
         insert into app.game_servers (server_id, name, game, host, ingest_token)
             overriding system value values (5, 'cs', 'cs2', 'h', repeat('x', 32));
         insert into silver.fact_game_sessions
             (server_id, player_key, started_at, ended_at, account_kind, account_id, person_id, source)
         values (5, 'steam:765', '2026-11-05T18:00:00Z', '2026-11-05T19:00:00Z', 'steam', '765', 1, 'log');
         insert into silver.activity_daily (day, account_kind, account_id, person_id, voice_seconds)
         values ('2026-11-05', 'discord', '11', 1, 600), ('2026-11-06', 'discord', '11', 1, 600),
                ('2026-11-07', 'discord', '11', 1, 600), ('2026-11-08', 'discord', '11', 1, 600);",
    )
    .execute(&pool)
    .await
    .expect("community");
    let p = pipeline(&pool, chrono_tz::Europe::Berlin);
    let funnel = || async {
        sqlx::query_as::<_, (NaiveDate, i32, i32, i32, i32)>(
            "select join_month, joined, linked, played, regular from gold.funnel_monthly",
        )
        .fetch_all(&pool)
        .await
        .expect("funnel")
    };
    p.run_job(JobName::Funnel, Trigger::Schedule)
        .await
        .expect("first run");
    assert_eq!(funnel().await, vec![(day("2026-10-01"), 1, 1, 1, 1)]);
    let second = p
        .run_job(JobName::Funnel, Trigger::Schedule)
        .await
        .expect("second run");
    assert_eq!(second.rows, 0, "a second run changes nothing");

    // One of her four days turns out to be another account's: not regular any more.
    sqlx::raw_sql(
        "delete from silver.activity_daily where day = '2026-11-08';
         select app.mark_dirty('silver.activity_daily', '2026-11-07T23:00:00Z', '2026-11-08T23:00:00Z');",
    )
    .execute(&pool)
    .await
    .expect("a day less");
    p.run_job(JobName::Funnel, Trigger::Schedule)
        .await
        .expect("third run");
    assert_eq!(funnel().await, vec![(day("2026-10-01"), 1, 1, 1, 0)]);

    // Ten seconds of voice make no active day (silver.is_active_person_day): still three.
    sqlx::raw_sql(
        "insert into silver.activity_daily (day, account_kind, account_id, person_id, voice_seconds)
         values ('2026-11-09', 'discord', '11', 1, 10);
         select app.mark_dirty('silver.activity_daily', '2026-11-08T23:00:00Z', '2026-11-09T23:00:00Z');",
    )
    .execute(&pool)
    .await
    .expect("ten seconds");
    p.run_job(JobName::Funnel, Trigger::Schedule)
        .await
        .expect("fourth run");
    assert_eq!(funnel().await, vec![(day("2026-10-01"), 1, 1, 1, 0)]);
}

#[sqlx::test(migrator = "guildhall::db::MIGRATOR")]
async fn presence_hours_bring_the_recent_days_up_to_date_hourly_and_older_changes_at_once(
    pool: PgPool,
) {
    // The clock stands at 12:00 UTC on 1 December; Ana was in voice 10:00–11:30 today.
    sqlx::raw_sql(
        "insert into silver.dim_user (person_id) overriding system value values (1);
         insert into silver.fact_voice_sessions
             (guild_id, discord_user_id, started_at, ended_at, person_id, channel_id, is_afk)
         values (42, 11, '2026-12-01T10:00:00Z', '2026-12-01T11:30:00Z', 1, 7, false);",
    )
    .execute(&pool)
    .await
    .expect("a session");
    let hours = || async {
        sqlx::query_scalar::<_, DateTime<Utc>>(
            "select hour from silver.voice_presence_hours order by hour",
        )
        .fetch_all(&pool)
        .await
        .expect("hours")
    };
    let at_noon = pipeline(&pool, chrono_tz::Europe::Berlin);
    at_noon
        .run_job(JobName::PresenceHours, Trigger::Schedule)
        .await
        .expect("first run");
    assert_eq!(
        hours().await,
        vec![at("2026-12-01T10:00:00Z"), at("2026-12-01T11:00:00Z")]
    );

    // Bob's session today waits for the hour; Cem's of four days ago is taken at once.
    sqlx::raw_sql(
        "insert into silver.fact_voice_sessions
             (guild_id, discord_user_id, started_at, ended_at, person_id, channel_id, is_afk)
         values (42, 12, '2026-12-01T11:00:00Z', '2026-12-01T11:50:00Z', 1, 7, false),
                (42, 13, '2026-11-27T08:10:00Z', '2026-11-27T08:40:00Z', 1, 7, false);
         select app.mark_dirty('silver.fact_voice_sessions', '2026-12-01T11:00:00Z', '2026-12-01T12:00:00Z');
         select app.mark_dirty('silver.fact_voice_sessions', '2026-11-27T08:00:00Z', '2026-11-27T09:00:00Z');",
    )
    .execute(&pool)
    .await
    .expect("two sessions");
    at_noon
        .run_job(JobName::PresenceHours, Trigger::Schedule)
        .await
        .expect("a run within the hour");
    let users = || async {
        sqlx::query_scalar::<_, i64>(
            "select distinct discord_user_id from silver.voice_presence_hours order by 1",
        )
        .fetch_all(&pool)
        .await
        .expect("users")
    };
    assert_eq!(users().await, vec![11, 13], "Cem at once, Bob not yet");
    let waiting: i64 = sqlx::query_scalar(
        "select count(*) from app.pipeline_dirty_ranges where job = 'presence_hours'",
    )
    .fetch_one(&pool)
    .await
    .expect("waiting");
    assert_eq!(waiting, 1, "today's change waits");

    let an_hour_later = pipeline_at(
        &pool,
        chrono_tz::Europe::Berlin,
        &Clock::fixed(at("2026-12-01T13:01:00Z")),
    );
    an_hour_later
        .run_job(JobName::PresenceHours, Trigger::Schedule)
        .await
        .expect("a run an hour later");
    assert_eq!(users().await, vec![11, 12, 13]);
}
