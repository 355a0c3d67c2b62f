//! Where members come from: each invite's joins, and how long those members stayed and
//! stayed active.

mod support;

use chrono::NaiveDate;
use collectors::discord::{JoinSource, MemberEvent, MemberEventKind};
use collectors::ingest::{IngestWriter, WriterConfig};
use collectors::metrics::Metrics;
use guildhall::pipeline::{JobName, Trigger};
use sqlx::PgPool;
use support::pipeline::*;

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
