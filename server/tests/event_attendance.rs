//! Event attendance: a member attended a scheduled event when they spent ten minutes in
//! voice in the event's window and channel.

mod support;

use chrono::{DateTime, Utc};
use collectors::discord::ScheduledEventChange;
use collectors::ingest::{IngestWriter, WriterConfig};
use collectors::metrics::Metrics;
use guildhall::pipeline::{JobName, Trigger};
use sqlx::PgPool;
use support::pipeline::*;

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
