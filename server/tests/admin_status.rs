//! `/admin/status` and what it drives, against the real PostgreSQL (a fresh database per test)
//! and the real router: the collectors' and sources' status with the rows of the last hour,
//! the spool and the jobs' backlogs; a failed job retried with backoff by the scheduler's
//! clock; backfills started from the browser with their progress, cancel and the state a
//! stopped process leaves; and a backfill never overlapping another run of the same job.

mod support;
#[path = "support/web_app.rs"]
mod web_app;

use axum::http::StatusCode;
use chrono::{Duration, Utc};
use collectors::metrics::Metrics;
use guildhall::clock::Clock;
use guildhall::pipeline::{
    BackfillEnd, JobName, Pipeline, Trigger, backfill_chunk_days, retry_delay, run_next_backfill,
};
use serde_json::{Value, json};
use sqlx::PgPool;
use support::pipeline::*;
use tokio_util::sync::CancellationToken;
use web_app::*;

/// The backfill of the test app's community, as the server process runs it.
fn app_pipeline(pool: &PgPool) -> Pipeline {
    Pipeline::with_clock(
        pool.clone(),
        chrono_tz::Europe::Berlin,
        Metrics::new(),
        Clock::fixed(at(NOW)),
    )
}

/// Voice activity on 2026-11-01..=03 (user 1 each day, user 2 on the 2nd).
async fn voice_history(pool: &PgPool) {
    guild(pool, "2026-11-04T00:00:00Z").await;
    ingest(
        pool,
        &Metrics::new(),
        vec![
            event(1, Some(GENERAL), "2026-11-01T18:00:00Z"),
            event(1, None, "2026-11-01T19:00:00Z"),
            event(1, Some(GENERAL), "2026-11-02T18:00:00Z"),
            event(2, Some(GAMING), "2026-11-02T18:30:00Z"),
            event(2, None, "2026-11-02T19:30:00Z"),
            event(1, None, "2026-11-02T20:00:00Z"),
            event(1, Some(GENERAL), "2026-11-03T08:00:00Z"),
            event(1, None, "2026-11-03T09:00:00Z"),
        ],
    )
    .await;
}

/// Waits until `count` sessions of the test database wait for a lock.
async fn until_waiting_for_locks(pool: &PgPool, count: i64) {
    for _ in 0..200 {
        let waiting: i64 = sqlx::query_scalar(
            "select count(*) from pg_stat_activity
             where datname = current_database() and wait_event_type = 'Lock'",
        )
        .fetch_one(pool)
        .await
        .expect("sessions");
        if waiting >= count {
            return;
        }
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
    }
    panic!("{count} sessions never waited for a lock");
}

/// The runs of `job` a trigger made, as (local first day, rows written), in order.
async fn runs_of(pool: &PgPool, job: &str, trigger: &str) -> Vec<(String, Option<i64>)> {
    sqlx::query_as(
        "select to_char(range_from at time zone 'Europe/Berlin', 'YYYY-MM-DD'), rows_affected
         from app.pipeline_runs where job = $1 and trigger = $2 order by id",
    )
    .bind(job)
    .bind(trigger)
    .fetch_all(pool)
    .await
    .expect("runs")
}

#[test]
fn retries_wait_30_s_then_double_up_to_30_minutes() {
    let waits: Vec<i64> = (1..=9).map(|n| retry_delay(n).num_seconds()).collect();
    assert_eq!(waits, vec![30, 60, 120, 240, 480, 960, 1800, 1800, 1800]);
    assert_eq!(backfill_chunk_days(31), 1);
    assert_eq!(backfill_chunk_days(32), 7);
}

#[sqlx::test(migrator = "guildhall::db::MIGRATOR")]
async fn a_failed_job_retries_with_backoff_by_the_schedulers_clock_and_a_success_resets_it(
    pool: PgPool,
) {
    voice_history(&pool).await;
    let t0 = at(NOW);
    let clock = Clock::fixed(t0);
    let p = pipeline_at(&pool, chrono_tz::Europe::Berlin, &clock);
    let retry_state = || async {
        sqlx::query_as::<_, (i32, Option<chrono::DateTime<Utc>>, Option<String>)>(
            "select attempts, next_attempt_at, last_error from app.pipeline_state
             where job = 'voice_sessions'",
        )
        .fetch_one(&pool)
        .await
        .expect("state")
    };
    let sessions_runs = || async {
        sqlx::query_scalar::<_, i64>(
            "select count(*) from app.pipeline_runs where job = 'voice_sessions'",
        )
        .fetch_one(&pool)
        .await
        .expect("runs")
    };
    // The job's input is unreadable: its first run fails.
    sqlx::query("alter table bronze.discord_voice_events rename to discord_voice_events_away")
        .execute(&pool)
        .await
        .expect("hide the input");
    p.run_all(Trigger::Schedule)
        .await
        .expect_err("the job fails");
    let (attempts, next, error) = retry_state().await;
    assert_eq!((attempts, next), (1, Some(t0 + Duration::seconds(30))));
    assert!(
        error
            .as_deref()
            .is_some_and(|e| e.contains("discord_voice_events")),
        "{error:?}"
    );
    assert_eq!(
        p.next_retry_at().await.expect("next"),
        Some(t0 + Duration::seconds(30))
    );

    // Before its time the schedule leaves it out (and the rest runs).
    clock.set(t0 + Duration::seconds(29));
    p.run_all(Trigger::Schedule)
        .await
        .expect("the other jobs run");
    assert_eq!(sessions_runs().await, 1, "no attempt before 30 s");

    // Then 1 min, 2 min after each failure.
    clock.set(t0 + Duration::seconds(30));
    p.run_all(Trigger::Schedule).await.expect_err("fails again");
    let (attempts, next, _) = retry_state().await;
    assert_eq!((attempts, next), (2, Some(t0 + Duration::seconds(30 + 60))));
    clock.set(t0 + Duration::seconds(89));
    p.run_all(Trigger::Schedule).await.expect("waiting");
    assert_eq!(sessions_runs().await, 2);
    clock.set(t0 + Duration::seconds(90));
    p.run_all(Trigger::Schedule)
        .await
        .expect_err("fails a third time");
    let (attempts, next, _) = retry_state().await;
    assert_eq!(
        (attempts, next),
        (3, Some(t0 + Duration::seconds(90 + 120)))
    );

    // A person running the job does not wait (and its failure counts too).
    p.run_job(JobName::VoiceSessions, Trigger::Manual)
        .await
        .expect_err("still broken");
    let (attempts, next, _) = retry_state().await;
    assert_eq!(
        (attempts, next),
        (4, Some(t0 + Duration::seconds(90 + 240)))
    );

    // Readable again: the next attempt succeeds and clears the count, the time and the error.
    sqlx::query("alter table bronze.discord_voice_events_away rename to discord_voice_events")
        .execute(&pool)
        .await
        .expect("restore the input");
    clock.set(t0 + Duration::seconds(90 + 240));
    p.run_all(Trigger::Schedule).await.expect("recovered");
    assert_eq!(retry_state().await, (0, None, None));
    assert_eq!(sessions_runs().await, 5);
    assert_eq!(p.next_retry_at().await.expect("next"), None);
}

#[sqlx::test(migrator = "guildhall::db::MIGRATOR")]
async fn the_status_shows_collectors_sources_events_of_the_last_hour_spool_and_backlogs(
    pool: PgPool,
) {
    voice_history(&pool).await;
    sqlx::query(
        "insert into app.collector_status (collector, state, last_success_at, last_error, last_error_at, restarts)
         values ('discord', 'running', '2026-11-05T10:00:00Z', 'gateway closed', '2026-11-05T09:30:00Z', 2)",
    )
    .execute(&pool)
    .await
    .expect("collector");
    let server_id: i64 = sqlx::query_scalar(
        "insert into app.game_servers (name, game, host, rcon_port, ingest_token)
         values ('Dust', 'cs2', '127.0.0.1', 27015, 'abcdefghijklmnopqrstuvwxyz12') returning server_id",
    )
    .fetch_one(&pool)
    .await
    .expect("server");
    sqlx::query(
        "insert into app.game_source_status (server_id, source, last_success_at, last_error, last_error_at)
         values ($1, 'rcon', null, 'connection refused', '2026-11-05T11:00:00Z')",
    )
    .bind(server_id)
    .execute(&pool)
    .await
    .expect("source status");
    sqlx::query(
        "insert into bronze.game_status_snapshots (server_id, polled_at, humans)
         select $1, '2026-11-05T00:00:00Z'::timestamptz + n * interval '1 minute', 3
         from generate_series(1, 4) n",
    )
    .bind(server_id)
    .execute(&pool)
    .await
    .expect("snapshots");
    // Rows written more than an hour ago are not in the last hour.
    sqlx::query(
        "insert into app.bronze_ingest_counts (table_name, server_id, minute, rows)
         values ('discord_voice_events', 0, date_trunc('minute', now()) - interval '61 minutes', 100)",
    )
    .execute(&pool)
    .await
    .expect("an old count");

    let app = start_demo(pool).await;
    std::fs::create_dir_all(&app.spool_dir).expect("spool dir");
    std::fs::write(app.spool_dir.join("discord_voice.spool"), "{}\n{}\n{}\n").expect("spool");
    app.sign_in_demo("admin").await;
    let (status, body) = app.call::<app::api::GetAdminStatus>(&[]).await;
    std::fs::remove_dir_all(&app.spool_dir).ok();
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!(body["timezone"], json!("Europe/Berlin"));
    let sources = body["sources"].as_array().expect("sources");
    assert_eq!(
        sources[0],
        json!({
            "collector": "discord", "source": "", "state": "running",
            // 11:00 and 10:30 in Berlin (UTC+1 in November).
            "last_success_at": "2026-11-05T11:00:00", "last_error": "gateway closed",
            "last_error_at": "2026-11-05T10:30:00", "restarts": 2,
            // The 8 voice events and the test user's join written just now; the count of
            // 61 minutes ago is not.
            "events_last_hour": 9,
        })
    );
    assert_eq!(
        sources[1],
        json!({
            "collector": "Dust", "source": "rcon", "state": null,
            "last_success_at": null, "last_error": "connection refused",
            "last_error_at": "2026-11-05T12:00:00", "restarts": null,
            "events_last_hour": 4,
        })
    );
    assert_eq!(sources.len(), 2, "{sources:?}");
    assert_eq!(
        body["spool"],
        json!([{"source": "discord_voice", "records": 3, "bytes": 9}])
    );
    let job = |name: &str| -> Value {
        body["jobs"]
            .as_array()
            .expect("jobs")
            .iter()
            .find(|job| job["job"] == json!(name))
            .cloned()
            .unwrap_or_else(|| panic!("no job {name}"))
    };
    assert_eq!(
        body["jobs"][0]["job"],
        json!("voice_sessions"),
        "plan order"
    );
    assert_eq!(job("voice_sessions")["backlog"], json!(8));
    assert_eq!(job("voice_sessions")["watermark"], json!(0));
    assert_eq!(job("game_status_sessions")["backlog"], json!(4));
    assert_eq!(
        job("daily_active_users")["backlog"],
        json!(null),
        "a per-day job"
    );
    assert_eq!(job("voice_sessions")["last_run"], json!(null));

    // After a run nothing waits, and the run is the job's last.
    app_pipeline(&app.pool)
        .run_job(JobName::VoiceSessions, Trigger::Manual)
        .await
        .expect("run");
    let (_, body) = app.call::<app::api::GetAdminStatus>(&[]).await;
    let sessions = &body["jobs"][0];
    assert_eq!(sessions["backlog"], json!(0));
    assert_eq!(sessions["watermark"], json!(8));
    assert_eq!(sessions["last_run"]["trigger"], json!("manual"));
    assert_eq!(
        sessions["last_run"]["rows_affected"],
        json!(4),
        "four sessions"
    );
    assert_eq!(sessions["attempts"], json!(0));
}

#[sqlx::test(migrator = "guildhall::db::MIGRATOR")]
async fn a_backfill_started_from_the_browser_runs_day_by_day_and_reports_its_progress(
    pool: PgPool,
) {
    voice_history(&pool).await;
    let app = start_demo(pool).await;
    app.sign_in_demo("admin").await;
    let p = app_pipeline(&app.pool);
    p.run_all(Trigger::Schedule).await.expect("incremental");
    let dau_before = dau(&app.pool, "2026-11-01", "2026-11-03").await;
    assert_eq!(dau_before.len(), 3);

    // Refused with the field it concerns.
    for (form, field, problem) in [
        (
            vec![
                ("from", "2026-11-03"),
                ("to", "2026-11-01"),
                ("jobs[0]", "voice_sessions"),
            ],
            "to",
            json!("RangeReversed"),
        ),
        (
            vec![("from", "2026-11-01"), ("to", "2026-11-03")],
            "jobs",
            json!("NoJobChosen"),
        ),
        (
            vec![
                ("from", "2026-11-01"),
                ("to", "2026-11-03"),
                ("jobs[0]", "nonsense"),
            ],
            "jobs",
            json!({"JobUnknown": {"job": "nonsense"}}),
        ),
        (
            vec![
                ("from", "2999-01-01"),
                ("to", "2999-01-02"),
                ("jobs[0]", "voice_sessions"),
            ],
            "to",
            json!("DayInFuture"),
        ),
    ] {
        let (status, body) = app.call::<app::api::StartBackfill>(&form).await;
        assert_eq!(status, StatusCode::BAD_REQUEST, "{body}");
        assert_eq!(
            body,
            json!({"Invalid": {"field": field, "problem": problem}})
        );
    }

    let (status, id) = app
        .call::<app::api::StartBackfill>(&[
            ("from", "2026-11-01"),
            ("to", "2026-11-03"),
            // Chosen out of order: they run in the pipeline's.
            ("jobs[0]", "daily_active_users"),
            ("jobs[1]", "voice_sessions"),
        ])
        .await;
    assert_eq!(status, StatusCode::OK, "{id}");
    let (_, queued) = app.call::<app::api::GetBackfill>(&[]).await;
    assert_eq!(queued["id"], id);
    assert_eq!(queued["state"], json!("queued"));
    assert_eq!(
        queued["jobs"],
        json!(["voice_sessions", "daily_active_users"])
    );
    assert_eq!(
        (queued["days_done"].clone(), queued["days_total"].clone()),
        (json!(0), json!(3))
    );
    assert_eq!(queued["requested_by"], json!("Demo Admin"));

    // One at a time.
    let (status, body) = app
        .call::<app::api::StartBackfill>(&[
            ("from", "2026-11-01"),
            ("to", "2026-11-01"),
            ("jobs[0]", "voice_sessions"),
        ])
        .await;
    assert_eq!(status, StatusCode::CONFLICT, "{body}");
    assert_eq!(body, json!({"Refused": "BackfillActive"}));

    // The server process runs it: day by day, every chosen job per day, in plan order.
    let ended = run_next_backfill(&p, &CancellationToken::new())
        .await
        .expect("backfill");
    assert_eq!(
        ended,
        Some((id.as_i64().expect("id"), BackfillEnd::Finished))
    );
    let sessions = runs_of(&app.pool, "voice_sessions", "backfill").await;
    let days: Vec<&str> = sessions.iter().map(|(day, _)| day.as_str()).collect();
    assert_eq!(days, vec!["2026-11-01", "2026-11-02", "2026-11-03"]);
    let order: Vec<String> = sqlx::query_scalar(
        "select job from app.pipeline_runs where trigger = 'backfill' order by id",
    )
    .fetch_all(&app.pool)
    .await
    .expect("order");
    assert_eq!(
        order,
        [
            "voice_sessions",
            "daily_active_users",
            "voice_sessions",
            "daily_active_users",
            "voice_sessions",
            "daily_active_users"
        ]
    );
    let rows: i64 = sqlx::query_scalar(
        "select sum(rows_affected)::bigint from app.pipeline_runs where trigger = 'backfill'",
    )
    .fetch_one(&app.pool)
    .await
    .expect("rows");
    let (_, done) = app.call::<app::api::GetBackfill>(&[]).await;
    assert_eq!(done["state"], json!("finished"));
    assert_eq!(
        (done["days_done"].clone(), done["days_total"].clone()),
        (json!(3), json!(3))
    );
    assert_eq!(done["rows_written"], json!(rows));
    assert!(rows > 0);
    assert_eq!(done["error"], json!(null));
    assert!(done["finished_at"].is_string(), "{done}");
    // The same figures as the incremental runs computed.
    assert_eq!(dau(&app.pool, "2026-11-01", "2026-11-03").await, dau_before);
    // The status page shows it too.
    let (_, status) = app.call::<app::api::GetAdminStatus>(&[]).await;
    assert_eq!(status["backfill"]["id"], id);
    // Nothing else is queued.
    assert_eq!(
        run_next_backfill(&p, &CancellationToken::new())
            .await
            .expect("none"),
        None
    );
}

#[sqlx::test(migrator = "guildhall::db::MIGRATOR")]
async fn a_cancelled_backfill_stops_between_chunks_and_waits_for_the_jobs_lock(pool: PgPool) {
    voice_history(&pool).await;
    let app = start_demo(pool).await;
    app.sign_in_demo("admin").await;
    let p = app_pipeline(&app.pool);
    p.run_all(Trigger::Schedule).await.expect("incremental");
    let (status, id) = app
        .call::<app::api::StartBackfill>(&[
            ("from", "2026-11-01"),
            ("to", "2026-11-05"),
            ("jobs[0]", "daily_active_users"),
        ])
        .await;
    assert_eq!(status, StatusCode::OK, "{id}");

    // Another run of the job holds its lock (as the scheduler or `run-job` would).
    let mut other_run = app.pool.begin().await.expect("tx");
    sqlx::query("select 1 from app.pipeline_state where job = 'daily_active_users' for update")
        .execute(&mut *other_run)
        .await
        .expect("lock the job");
    let backfill = tokio::spawn({
        let p = p.clone();
        async move { run_next_backfill(&p, &CancellationToken::new()).await }
    });
    until_waiting_for_locks(&app.pool, 1).await;
    // It waits: no run of its own has finished, no day is done.
    let (_, running) = app.call::<app::api::GetBackfill>(&[]).await;
    assert_eq!(running["state"], json!("running"));
    assert_eq!(running["days_done"], json!(0));
    assert_eq!(
        runs_of(&app.pool, "daily_active_users", "backfill").await,
        vec![("2026-11-01".to_owned(), None)],
        "started, not finished"
    );

    // Cancelled while it waits: it finishes the day it is in, then stops.
    let (status, body) = app
        .call::<app::api::CancelBackfill>(&[("id", &id.to_string())])
        .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    let (_, cancelling) = app.call::<app::api::GetBackfill>(&[]).await;
    assert_eq!(cancelling["cancel_requested"], json!(true));
    assert_eq!(cancelling["state"], json!("running"));
    other_run.commit().await.expect("release");
    let ended = backfill.await.expect("task").expect("backfill");
    assert_eq!(
        ended,
        Some((id.as_i64().expect("id"), BackfillEnd::Cancelled))
    );
    let runs = runs_of(&app.pool, "daily_active_users", "backfill").await;
    assert_eq!(runs.len(), 1, "one day, then the cancel: {runs:?}");
    assert!(runs[0].1.is_some(), "that day finished");
    let (_, cancelled) = app.call::<app::api::GetBackfill>(&[]).await;
    assert_eq!(cancelled["state"], json!("cancelled"));
    assert_eq!(
        (
            cancelled["days_done"].clone(),
            cancelled["days_total"].clone()
        ),
        (json!(1), json!(5))
    );
    assert_eq!(cancelled["seconds_left"], json!(null));

    // A queued one is cancelled at once.
    let (_, queued) = app
        .call::<app::api::StartBackfill>(&[
            ("from", "2026-11-01"),
            ("to", "2026-11-01"),
            ("jobs[0]", "daily_active_users"),
        ])
        .await;
    app.call::<app::api::CancelBackfill>(&[("id", &queued.to_string())])
        .await;
    let (_, state) = app.call::<app::api::GetBackfill>(&[]).await;
    assert_eq!(state["state"], json!("cancelled"));
    assert_eq!(
        run_next_backfill(&p, &CancellationToken::new())
            .await
            .expect("none"),
        None
    );
    // A cancel of an ended backfill changes nothing and records nothing.
    app.call::<app::api::CancelBackfill>(&[("id", &queued.to_string())])
        .await;

    // Every start and every cancel that changed something is in the audit log.
    let audit: Vec<(String, String, Option<String>, String)> = sqlx::query_as(
        "select action, subject, before->>'state', actor_name from app.audit_log
         where action like 'pipeline.backfill.%' order by id",
    )
    .fetch_all(&app.pool)
    .await
    .expect("audit");
    let first = format!("backfill {id}");
    let second = format!("backfill {queued}");
    assert_eq!(
        audit
            .iter()
            .map(|(action, subject, before, _)| (
                action.as_str(),
                subject.as_str(),
                before.as_deref()
            ))
            .collect::<Vec<_>>(),
        vec![
            ("pipeline.backfill.start", first.as_str(), None),
            ("pipeline.backfill.cancel", first.as_str(), Some("running")),
            ("pipeline.backfill.start", second.as_str(), None),
            ("pipeline.backfill.cancel", second.as_str(), Some("queued")),
        ]
    );
}

#[sqlx::test(migrator = "guildhall::db::MIGRATOR")]
async fn a_backfill_and_a_run_job_of_the_same_job_take_turns(pool: PgPool) {
    voice_history(&pool).await;
    let p = pipeline(&pool, chrono_tz::Europe::Berlin);
    p.run_all(Trigger::Schedule).await.expect("incremental");
    sqlx::query(
        "insert into app.backfills (from_day, to_day, jobs, days_total)
         values ('2026-11-01', '2026-11-01', '{daily_active_users}', 1)",
    )
    .execute(&pool)
    .await
    .expect("queued");

    // The backfill's run takes the job's lock, then waits for its output table.
    let mut blocker = pool.begin().await.expect("tx");
    sqlx::query("lock table gold.daily_active_users in access exclusive mode")
        .execute(&mut *blocker)
        .await
        .expect("lock the output");
    let backfill = tokio::spawn({
        let p = p.clone();
        async move { run_next_backfill(&p, &CancellationToken::new()).await }
    });
    until_waiting_for_locks(&pool, 1).await;
    // `run-job` on the same job now: it waits for the job's lock, the backfill holds it.
    let run_job = tokio::spawn({
        let p = p.clone();
        async move { p.run_job(JobName::DailyActiveUsers, Trigger::Manual).await }
    });
    until_waiting_for_locks(&pool, 2).await;
    let waiting_for_the_job: Vec<String> = sqlx::query_scalar(
        "select left(query, 60) from pg_stat_activity
         where datname = current_database() and wait_event_type = 'Lock'
           and query like '%app.pipeline_state where job = $1 for update'",
    )
    .fetch_all(&pool)
    .await
    .expect("waiters");
    assert_eq!(
        waiting_for_the_job.len(),
        1,
        "run-job waits for the job's lock"
    );
    let manual_runs: Vec<Option<i64>> =
        sqlx::query_scalar("select rows_affected from app.pipeline_runs where trigger = 'manual'")
            .fetch_all(&pool)
            .await
            .expect("manual");
    assert_eq!(
        manual_runs,
        vec![None],
        "run-job has not run while the backfill holds the job"
    );

    blocker.commit().await.expect("release");
    let ended = backfill.await.expect("task").expect("backfill");
    assert!(
        matches!(ended, Some((_, BackfillEnd::Finished))),
        "{ended:?}"
    );
    run_job.await.expect("task").expect("run-job");
    // One after the other: the backfill's run finished before run-job's began its work.
    let (backfill_done, manual_done): (chrono::DateTime<Utc>, chrono::DateTime<Utc>) =
        sqlx::query_as(
            "select (select finished_at from app.pipeline_runs where trigger = 'backfill'),
                    (select finished_at from app.pipeline_runs where trigger = 'manual')",
        )
        .fetch_one(&pool)
        .await
        .expect("finish times");
    assert!(backfill_done <= manual_done);
}

#[sqlx::test(migrator = "guildhall::db::MIGRATOR")]
async fn a_backfill_left_running_by_a_stopped_process_shows_and_becomes_interrupted(pool: PgPool) {
    // As a process that stopped mid-backfill leaves it: `running`, nobody holding the lock.
    sqlx::query(
        "insert into app.backfills (from_day, to_day, jobs, days_total, days_done, state, started_at)
         values ('2026-11-01', '2026-11-10', '{daily_active_users}', 10, 4, 'running', now())",
    )
    .execute(&pool)
    .await
    .expect("left running");
    let app = start_demo(pool).await;
    app.sign_in_demo("admin").await;
    let (_, shown) = app.call::<app::api::GetBackfill>(&[]).await;
    assert_eq!(shown["state"], json!("interrupted"));
    assert_eq!(shown["days_done"], json!(4));
    // It does not block a new one, and the runner records it as interrupted.
    let (status, body) = app
        .call::<app::api::StartBackfill>(&[
            ("from", "2026-11-01"),
            ("to", "2026-11-01"),
            ("jobs[0]", "daily_active_users"),
        ])
        .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    let states: Vec<String> = sqlx::query_scalar("select state from app.backfills order by id")
        .fetch_all(&app.pool)
        .await
        .expect("states");
    assert_eq!(states, vec!["interrupted", "queued"]);
    let ended = run_next_backfill(&app_pipeline(&app.pool), &CancellationToken::new())
        .await
        .expect("runs");
    assert!(
        matches!(ended, Some((_, BackfillEnd::Finished))),
        "{ended:?}"
    );
}

#[sqlx::test(migrator = "guildhall::db::MIGRATOR")]
async fn a_shutdown_interrupts_a_running_backfill_after_its_chunk(pool: PgPool) {
    voice_history(&pool).await;
    let p = pipeline(&pool, chrono_tz::Europe::Berlin);
    sqlx::query(
        "insert into app.backfills (from_day, to_day, jobs, days_total)
         values ('2026-11-01', '2026-11-03', '{daily_active_users}', 3)",
    )
    .execute(&pool)
    .await
    .expect("queued");
    let shutdown = CancellationToken::new();
    shutdown.cancel();
    let ended = run_next_backfill(&p, &shutdown).await.expect("runs");
    assert!(
        matches!(ended, Some((_, BackfillEnd::Cancelled))),
        "{ended:?}"
    );
    let (state, done): (String, i32) = sqlx::query_as("select state, days_done from app.backfills")
        .fetch_one(&pool)
        .await
        .expect("state");
    assert_eq!((state.as_str(), done), ("interrupted", 1));
}
