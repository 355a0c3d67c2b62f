//! The funnel: of the members who joined in a month, how many linked a game account, played
//! and became regulars, each step counted only after the one before; the pipeline recounts
//! a regular when their days change, and the page reads what it keeps.

mod support;
#[path = "support/web_app.rs"]
mod web_app;

use axum::http::StatusCode;
use chrono::NaiveDate;
use guildhall::pipeline::{JobName, Trigger};
use serde_json::json;
use sqlx::PgPool;
use support::pipeline::{day, pipeline};
use web_app::{run_job, start_demo};

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
async fn the_funnel_counts_each_step_only_after_the_step_before(pool: PgPool) {
    // Three members joined in October (Berlin): Ana linked, played and came on four days of
    // a month; Ben linked but never played; Cem did nothing more. One joined in November
    // and played on an account nobody linked, which is not their step.
    sqlx::raw_sql(
        "insert into silver.dim_user (person_id) overriding system value values (1), (2), (3), (4), (5);
         insert into silver.dim_members (guild_id, discord_user_id, first_joined_at, is_member) values
             (42, 11, '2026-10-03T10:00:00Z', true), (42, 12, '2026-10-20T10:00:00Z', true),
             (42, 13, '2026-10-31T22:30:00Z', true), (42, 14, '2026-11-02T10:00:00Z', true);
         insert into silver.user_identities (kind, external_id, person_id, verified_by) values
             ('discord', '11', 1, 'observed'), ('steam', '765', 1, 'ingame_code'),
             ('discord', '12', 2, 'observed'), ('minecraft', 'ben', 2, 'ingame_code'),
             ('discord', '13', 3, 'observed'), ('discord', '14', 4, 'observed'),
             ('steam', '999', 5, 'observed');
         insert into app.game_servers (server_id, name, game, host, ingest_token)
             overriding system value values (5, 'cs', 'cs2', 'h', repeat('x', 32));
         insert into silver.fact_game_sessions
             (server_id, player_key, started_at, ended_at, account_kind, account_id, person_id, source)
         values (5, 'steam:765', '2026-10-05T18:00:00Z', '2026-10-05T19:00:00Z', 'steam', '765', 1, 'log'),
                (5, 'steam:999', '2026-11-05T18:00:00Z', '2026-11-05T19:00:00Z', 'steam', '999', 5, 'log');
         insert into silver.activity_daily (day, account_kind, account_id, person_id, voice_seconds) values
             ('2026-10-05', 'discord', '11', 1, 600), ('2026-10-06', 'discord', '11', 1, 600),
             ('2026-10-07', 'discord', '11', 1, 600), ('2026-10-08', 'discord', '11', 1, 600),
             ('2026-10-21', 'discord', '12', 2, 600), ('2026-10-22', 'discord', '12', 2, 600),
             ('2026-10-23', 'discord', '12', 2, 600), ('2026-11-24', 'discord', '12', 2, 600);",
    )
    .execute(&pool)
    .await
    .expect("community");
    // The page reads what the pipeline keeps.
    run_job(&pool, JobName::Funnel).await;
    let app = start_demo(pool).await;
    app.sign_in_demo("leader").await;
    let (status, funnel) = app.call::<app::api::GetFunnel>(&[]).await;
    assert_eq!(status, StatusCode::OK, "{funnel}");
    // Cem joined at 23:30 Berlin time on 31 October: October.
    assert_eq!(
        funnel,
        json!([
            {"month": "2026-10-01", "joined": 3, "linked": 2, "played": 1, "regular": 1},
            {"month": "2026-11-01", "joined": 1, "linked": 0, "played": 0, "regular": 0},
        ])
    );
}
