//! Retention cohorts: each join month is followed month by month, and leavers stay in the
//! cohort they joined.

mod support;

use chrono::{DateTime, NaiveDate, Utc};
use collectors::discord::MemberEventKind;
use collectors::ingest::{IngestWriter, WriterConfig};
use collectors::metrics::Metrics;
use guildhall::pipeline::Trigger;
use sqlx::PgPool;
use support::pipeline::*;

/// A cell of `gold.retention_cohorts`: of the members who joined in `cohort_month`, how
/// many were active `months_after` months later.
#[derive(sqlx::FromRow, Debug, PartialEq)]
struct CohortRow {
    cohort_month: NaiveDate,
    months_after: i32,
    cohort_size: i32,
    active: i32,
    percentage: Option<String>,
    partial: bool,
}

fn cohort(month: &str, k: i32, size: i32, active: i32, pct: &str, partial: bool) -> CohortRow {
    CohortRow {
        cohort_month: day(month),
        months_after: k,
        cohort_size: size,
        active,
        percentage: Some(pct.to_owned()),
        partial,
    }
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
        "select cohort_month, months_after, cohort_size, active, percentage::text as percentage, partial
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
        "select cohort_month, months_after, cohort_size, active, percentage::text as percentage, partial
         from gold.retention_cohorts order by cohort_month, months_after",
    )
    .fetch_all(&pool)
    .await
    .expect("cohorts");
    p.run_all(Trigger::Schedule).await.expect("second run");
    let after: Vec<CohortRow> = sqlx::query_as(
        "select cohort_month, months_after, cohort_size, active, percentage::text as percentage, partial
         from gold.retention_cohorts order by cohort_month, months_after",
    )
    .fetch_all(&pool)
    .await
    .expect("cohorts");
    assert_eq!(after, before);
}
