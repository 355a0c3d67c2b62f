//! Who counts as active: exact daily active users in the community's local days (across
//! midnight and time zones, one person over all their accounts, voice and chat counted
//! once), WAU, MAU and stickiness over trailing local days, and the daily numbers in
//! Discord's own terms (communicators, activation, week-one retention).

mod support;

use chrono::NaiveDate;
use collectors::discord::MemberEventKind;
use collectors::ingest::{IngestWriter, WriterConfig};
use collectors::metrics::Metrics;
use guildhall::pipeline::Trigger;
use sqlx::PgPool;
use support::pipeline::*;

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
/// A day's trailing counts in `gold.daily_active_users`.
#[derive(sqlx::FromRow, Debug, PartialEq)]
struct TrailingRow {
    day: NaiveDate,
    dau_total: i32,
    wau: i32,
    mau: i32,
    stickiness: Option<String>,
}

async fn trailing(pool: &PgPool, days: &[&str]) -> Vec<TrailingRow> {
    let days: Vec<NaiveDate> = days.iter().map(|d| day(d)).collect();
    sqlx::query_as(
        "select day, dau_total, wau, mau, stickiness::text as stickiness from gold.daily_active_users
         where day = any($1) order by day",
    )
    .bind(days)
    .fetch_all(pool)
    .await
    .expect("trailing")
}

fn row(d: &str, dau: i32, wau: i32, mau: i32, stickiness: Option<&str>) -> TrailingRow {
    TrailingRow {
        day: day(d),
        dau_total: dau,
        wau,
        mau,
        stickiness: stickiness.map(str::to_owned),
    }
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
