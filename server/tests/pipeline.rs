//! The pipeline itself against the real PostgreSQL (a fresh database per test): voice events
//! become exact sessions (mutes, switches, AFK channels valid at the time, late events),
//! every job run twice changes nothing, the scheduler recomputes what was requested, missed
//! or changed (time zone, a relinked account), a failing job stops no other, bronze
//! retention never loses a session, and presence hours stay up to date. The KPIs have
//! files of their own (`daily_active_users.rs`, `retention_cohorts.rs`, …).

mod support;

use chrono::{DateTime, Utc};
use collectors::metrics::{DropReason, Metrics};
use guildhall::clock::Clock;
use guildhall::pipeline::{JobName, Table, Trigger};
use sqlx::PgPool;
use support::pipeline::*;

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
            open(2, GAMING, "2026-11-01T20:00:00Z"),
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
    // Two incremental passes, then the three days backfilled one day at a time.
    assert_eq!(
        runs,
        17 * 2 + 17 * 3,
        "every run of the seventeen jobs is in the history"
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
    assert_eq!(
        sessions(&pool).await[0].ended_at,
        None,
        "open while in voice"
    );

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
    let open_since_nov_20 = open(2, GAMING, "2026-11-20T20:00:00Z");
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
    after[2].is_afk = true;
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

/// PostgreSQL's statistics of a table: -1 rows until it is first analysed.
async fn planned_rows(pool: &PgPool, table: &str) -> f32 {
    sqlx::query_scalar("select reltuples from pg_class where oid = $1::regclass")
        .bind(table)
        .fetch_one(pool)
        .await
        .expect("reltuples")
}

#[sqlx::test(migrator = "guildhall::db::MIGRATOR")]
async fn a_large_change_refreshes_the_statistics_of_the_job_input_and_outputs(pool: PgPool) {
    let metrics = Metrics::new();
    guild(&pool, "2026-11-02T12:00:00Z").await;
    // 10,000 sessions (20,000 joins and leaves): past the runner's threshold of 10,000 rows
    // read or written; a small change would leave the statistics to autovacuum.
    let events: Vec<_> = (0..10_000_i64)
        .flat_map(|user| {
            [
                event(user, Some(GENERAL), "2026-11-01T18:00:00Z"),
                event(user, None, "2026-11-01T19:00:00Z"),
            ]
        })
        .collect();
    ingest(&pool, &metrics, events).await;
    assert_eq!(
        planned_rows(&pool, "bronze.discord_voice_events").await,
        -1.0
    );
    assert_eq!(
        planned_rows(&pool, "silver.fact_voice_sessions").await,
        -1.0
    );
    pipeline(&pool, chrono_tz::Europe::Berlin)
        .run_job(JobName::VoiceSessions, Trigger::Manual)
        .await
        .expect("sessions");
    // Analysed before the run (its input) and after it (its outputs).
    assert_eq!(
        planned_rows(&pool, "bronze.discord_voice_events").await,
        20_000.0
    );
    assert_eq!(
        planned_rows(&pool, "silver.fact_voice_sessions").await,
        10_000.0
    );
}
