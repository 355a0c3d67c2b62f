//! Scheduled events in Discord, recorded: events and who is interested, live and
//! synchronised on reconnect, become `silver.dim_events` and the interest in
//! `gold.event_attendance`.

mod support;

use collectors::metrics::Metrics;
use guildhall::pipeline::Trigger;
use serde_json::json;
use sqlx::PgPool;
use support::discord::*;
use support::fake_discord::{self, FakeDiscord, Member};

/// A row of `bronze.discord_scheduled_events`, as the test compares them in order.
#[derive(sqlx::FromRow, Debug, Clone, PartialEq)]
struct EventRow {
    scheduled_event_id: i64,
    change: String,
    user_id: Option<i64>,
    name: Option<String>,
    status: Option<String>,
    origin: String,
}

async fn event_rows(pool: &PgPool) -> Vec<EventRow> {
    sqlx::query_as(
        "select scheduled_event_id, change, user_id, name, status, origin
         from bronze.discord_scheduled_events order by change_id",
    )
    .fetch_all(pool)
    .await
    .expect("scheduled-event rows")
}

async fn wait_for_event_rows(pool: &PgPool, n: usize) -> Vec<EventRow> {
    wait_for_at_least("scheduled-event rows", n, || event_rows(pool)).await
}

const RAID: u64 = 1_100_000_000_000_000_701;

const MOVIE: u64 = 1_100_000_000_000_000_702;

const OLD_EVENT: u64 = 1_100_000_000_000_000_703;

#[sqlx::test(migrator = "guildhall::db::MIGRATOR")]
async fn scheduled_events_and_interest_are_recorded_live_and_synchronised_on_reconnect(
    pool: PgPool,
) {
    // An earlier run saw an event that has ended since, and Carol interested in the raid.
    sqlx::query(
        "insert into bronze.discord_scheduled_events
             (source_key, guild_id, scheduled_event_id, change, user_id, name, channel_id, kind,
              status, starts_at, ends_at, origin, observed_at)
         values ('old', $1, $2, 'create', null, 'Old', $3, 'voice', 'scheduled',
                 '2026-11-01T19:00:00Z', null, 'gateway', '2026-10-30T10:00:00Z'),
                ('carol', $1, $4, 'user_add', $5, null, null, null, null, null, null,
                 'gateway', '2026-10-30T11:00:00Z')",
    )
    .bind(id(GUILD))
    .bind(id(OLD_EVENT))
    .bind(id(LOBBY))
    .bind(id(RAID))
    .bind(id(CAROL.id))
    .execute(&pool)
    .await
    .expect("earlier observations");
    let raid = fake_discord::scheduled_event(
        GUILD,
        RAID,
        "Raid night",
        Some(LOBBY),
        "2026-12-04T19:00:00+00:00",
        Some("2026-12-04T21:00:00+00:00"),
        1,
    );
    let fake = FakeDiscord::start().await;
    // Alice and 120 others are interested: more than one REST page, so the bot pages.
    let mut users: Vec<u64> = (1..=120).map(|n| 1_200_000_000_000_000_000 + n).collect();
    users.push(ALICE.id);
    fake.set_event_users(RAID, &users);
    let metrics = Metrics::new();
    let bot = start_bot(&pool, &fake, &metrics);
    let mut spec = guild_spec(vec![]);
    spec.events = vec![raid.clone()];
    let conn = connect(&fake, &spec).await;
    assert_dispatch_is_known("GUILD_CREATE", fake_discord::guild_create(&spec));

    // The sync: the raid as listed, the old event gone, the 121 interested users, and Carol
    // (interested before, no longer) removed.
    let synced = wait_for_event_rows(&pool, 2 + 1 + 1 + 121 + 1).await;
    let sync_rows: Vec<&EventRow> = synced.iter().skip(2).collect();
    assert_eq!(
        sync_rows[0],
        &EventRow {
            scheduled_event_id: id(RAID),
            change: "sync".to_owned(),
            user_id: None,
            name: Some("Raid night".to_owned()),
            status: Some("scheduled".to_owned()),
            origin: "sync".to_owned(),
        }
    );
    assert_eq!(
        sync_rows[1],
        &EventRow {
            scheduled_event_id: id(OLD_EVENT),
            change: "gone".to_owned(),
            user_id: None,
            name: None,
            status: None,
            origin: "sync".to_owned(),
        }
    );
    let mut interested: Vec<i64> = sync_rows
        .iter()
        .filter(|row| row.change == "user_sync")
        .filter_map(|row| row.user_id)
        .collect();
    interested.sort_unstable();
    let mut expected: Vec<i64> = users.iter().map(|&user| id(user)).collect();
    expected.sort_unstable();
    assert_eq!(interested, expected);
    assert_eq!(
        sync_rows.last().copied(),
        Some(&EventRow {
            scheduled_event_id: id(RAID),
            change: "user_remove".to_owned(),
            user_id: Some(id(CAROL.id)),
            name: None,
            status: None,
            origin: "sync".to_owned(),
        })
    );
    let pages = fake
        .rest_calls()
        .iter()
        .filter(|call| call.contains(&format!("/scheduled-events/{RAID}/users")))
        .count();
    assert_eq!(pages, 2, "121 users come in two pages of 100");

    // Live: a new external event, Bob interested, Alice no longer, the raid starts, the
    // movie night is deleted.
    let movie = fake_discord::scheduled_event(
        GUILD,
        MOVIE,
        "Movie night",
        None,
        "2026-12-05T19:00:00+00:00",
        None,
        1,
    );
    let mut started = raid.clone();
    started["status"] = json!(2);
    let user = |event: u64, member: &Member| {
        json!({
            "guild_scheduled_event_id": event.to_string(),
            "user_id": member.id.to_string(),
            "guild_id": GUILD.to_string()
        })
    };
    let live = [
        ("GUILD_SCHEDULED_EVENT_CREATE", movie.clone()),
        ("GUILD_SCHEDULED_EVENT_USER_ADD", user(MOVIE, &BOB)),
        ("GUILD_SCHEDULED_EVENT_USER_REMOVE", user(RAID, &ALICE)),
        ("GUILD_SCHEDULED_EVENT_UPDATE", started),
        ("GUILD_SCHEDULED_EVENT_DELETE", movie),
    ];
    let before = synced.len();
    for (n, (event, payload)) in live.into_iter().enumerate() {
        assert_dispatch_is_known(event, payload.clone());
        conn.dispatch(event, payload);
        wait_for_event_rows(&pool, before + n + 1).await;
    }
    bot.stop().await;
    let rows = event_rows(&pool).await;
    assert_eq!(
        rows[before..].to_vec(),
        vec![
            EventRow {
                scheduled_event_id: id(MOVIE),
                change: "create".to_owned(),
                user_id: None,
                name: Some("Movie night".to_owned()),
                status: Some("scheduled".to_owned()),
                origin: "gateway".to_owned(),
            },
            EventRow {
                scheduled_event_id: id(MOVIE),
                change: "user_add".to_owned(),
                user_id: Some(id(BOB.id)),
                name: None,
                status: None,
                origin: "gateway".to_owned(),
            },
            EventRow {
                scheduled_event_id: id(RAID),
                change: "user_remove".to_owned(),
                user_id: Some(id(ALICE.id)),
                name: None,
                status: None,
                origin: "gateway".to_owned(),
            },
            EventRow {
                scheduled_event_id: id(RAID),
                change: "update".to_owned(),
                user_id: None,
                name: Some("Raid night".to_owned()),
                status: Some("active".to_owned()),
                origin: "gateway".to_owned(),
            },
            EventRow {
                scheduled_event_id: id(MOVIE),
                change: "delete".to_owned(),
                user_id: None,
                name: Some("Movie night".to_owned()),
                status: Some("scheduled".to_owned()),
                origin: "gateway".to_owned(),
            },
        ]
    );
    let kinds: Vec<(i64, Option<String>, Option<i64>)> = sqlx::query_as(
        "select scheduled_event_id, kind, channel_id from bronze.discord_scheduled_events
         where change = 'create'",
    )
    .fetch_all(&pool)
    .await
    .expect("kinds");
    assert_eq!(
        kinds,
        vec![
            (id(OLD_EVENT), Some("voice".to_owned()), Some(id(LOBBY))),
            (id(MOVIE), Some("external".to_owned()), None)
        ]
    );

    // Silver: the old event completed while the bot was away, the movie night is deleted,
    // the raid is running with 120 interested (Alice and Carol no longer).
    pipeline(&pool)
        .run_all(Trigger::Manual)
        .await
        .expect("pipeline");
    let events: Vec<(i64, String, String)> = sqlx::query_as(
        "select scheduled_event_id, status, kind from silver.dim_events order by scheduled_event_id",
    )
    .fetch_all(&pool)
    .await
    .expect("dim_events");
    assert_eq!(
        events,
        vec![
            (id(RAID), "active".to_owned(), "voice".to_owned()),
            (id(MOVIE), "deleted".to_owned(), "external".to_owned()),
            (id(OLD_EVENT), "completed".to_owned(), "voice".to_owned()),
        ]
    );
    let interested: Vec<(i64, i32)> = sqlx::query_as(
        "select scheduled_event_id, interested from gold.event_attendance order by scheduled_event_id",
    )
    .fetch_all(&pool)
    .await
    .expect("attendance");
    assert_eq!(interested, vec![(id(RAID), 120), (id(OLD_EVENT), 0)]);
}
