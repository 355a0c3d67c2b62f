//! Member growth: joins, leaves and members per local week and how long leavers stayed, as
//! the pipeline keeps them (a second run changes nothing) and as the page and its CSV show
//! them.

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
async fn member_growth_counts_joins_leaves_and_how_long_leavers_stayed(pool: PgPool) {
    // Relative to now, far from the window's edges: joined 10 and 100 days ago (inside the
    // 26 weeks), 300 days ago (before them) and left 20 days ago after 280 days.
    sqlx::query(
        "insert into silver.dim_members
             (guild_id, discord_user_id, first_joined_at, last_joined_at, is_member, left_at)
         values (42, 1, now() - interval '10 days', now() - interval '10 days', true, null),
                (42, 2, now() - interval '100 days', now() - interval '100 days', true, null),
                (42, 3, now() - interval '300 days', now() - interval '300 days', false,
                 now() - interval '20 days')",
    )
    .execute(&pool)
    .await
    .expect("members");
    // The page reads what the pipeline keeps.
    run_job(&pool, JobName::MemberGrowth).await;
    let app = start_demo(pool).await;
    app.sign_in_demo("leader").await;
    let (status, body) = app
        .call::<app::api::GetMemberGrowth>(&[("weeks", "26")])
        .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    let weeks = body["weeks"].as_array().expect("weeks");
    assert_eq!(weeks.len(), 26);
    let sum = |field: &str| {
        weeks
            .iter()
            .map(|w| w[field].as_i64().unwrap_or(0))
            .sum::<i64>()
    };
    assert_eq!(sum("joins"), 2);
    assert_eq!(sum("leaves"), 1);
    assert_eq!(weeks.last().expect("this week")["members"], json!(2));
    // Before the leaver left and the two joined, the guild had one member.
    assert_eq!(weeks.first().expect("26 weeks ago")["members"], json!(1));
    assert_eq!(
        body["tenure"],
        json!([{"bucket": 4, "leavers": 1, "active_before": 0}])
    );
    // The CSV reads the same table through the same function, over every week since the
    // first join: its last 26 weeks are the page's.
    let csv = app
        .get("/export/member_growth_weekly.csv")
        .await
        .text()
        .await
        .expect("csv");
    let lines: Vec<&str> = csv.lines().collect();
    assert_eq!(lines[0], "week_of,joins,leaves,members");
    let page_lines: Vec<String> = weeks
        .iter()
        .map(|w| {
            format!(
                "{},{},{},{}",
                w["week"].as_str().unwrap_or(""),
                w["joins"],
                w["leaves"],
                w["members"]
            )
        })
        .collect();
    assert_eq!(lines[lines.len() - 26..], page_lines);
    let csv_joins: i64 = lines[1..]
        .iter()
        .map(|line| {
            line.split(',')
                .nth(1)
                .and_then(|n| n.parse::<i64>().ok())
                .unwrap_or(0)
        })
        .sum();
    assert_eq!(
        csv_joins, 3,
        "all three joins, the one before the page's weeks too"
    );

    let (status, _) = app
        .call::<app::api::GetMemberGrowth>(&[("weeks", "0")])
        .await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
}
