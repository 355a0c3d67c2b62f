//! Messages in Discord, recorded as metadata only: once each, without bots, webhooks or
//! system messages, and with their content in no table and no dump.

mod support;

use chrono::{DateTime, Duration as TimeDelta, Utc};
use collectors::metrics::{DropReason, Metrics, SourceLabels};
use serde_json::{Value, json};
use sqlx::PgPool;
use support::discord::*;
use support::fake_discord::{self, FakeDiscord};

/// The guild with a text channel and a thread in it.
fn guild_with_chat() -> Value {
    let mut d = fake_discord::guild_create(&guild_spec(vec![]));
    let channels = d["channels"].as_array_mut().expect("channels");
    let mut chat = channels[0].clone();
    chat["id"] = json!(CHAT.to_string());
    chat["name"] = json!("chat");
    chat["type"] = json!(0);
    let mut thread = chat.clone();
    channels.push(chat);
    thread["id"] = json!(THREAD.to_string());
    thread["name"] = json!("a thread");
    thread["type"] = json!(11);
    thread["parent_id"] = json!(CHAT.to_string());
    d["threads"] = json!([thread]);
    d
}

/// A row of `bronze.discord_messages`: metadata only.
#[derive(sqlx::FromRow, Debug, PartialEq)]
struct MessageRow {
    message_id: i64,
    channel_id: i64,
    parent_channel_id: Option<i64>,
    author_id: i64,
    char_count: Option<i32>,
    attachment_count: i32,
    is_reply: bool,
}

#[sqlx::test(migrator = "guildhall::db::MIGRATOR")]
async fn messages_are_stored_as_metadata_once_without_bots_webhooks_or_system_messages(
    pool: PgPool,
) {
    let fake = FakeDiscord::start().await;
    let metrics = Metrics::new();
    let bot = start_bot_with(&pool, &fake, &metrics, None, true);
    let conn = fake.next_connection().await;
    assert_eq!(conn.intents(), EXPECTED_INTENTS | MESSAGE_CONTENT);
    conn.dispatch("READY", fake_discord::ready(&[GUILD], &fake.gateway_url));
    conn.dispatch("GUILD_CREATE", guild_with_chat());
    wait_for_observed_until(&pool, Utc::now() - TimeDelta::seconds(5)).await;

    let first: u64 = 1_447_000_000_000_000_000;
    let mut webhook = message_create(first + 5, CHAT, &BOB, 0, 0);
    webhook["webhook_id"] = json!("1447000000000000999");
    for payload in [
        message_create(first, CHAT, &ALICE, 0, 2),
        message_create(first + 1, THREAD, &BOB, 19, 0),
        // The same message again (a replay after a resume): stored once.
        message_create(first, CHAT, &ALICE, 0, 2),
        message_create(first + 3, CHAT, &MUSICBOT, 0, 0),
        message_create(first + 4, CHAT, &CAROL, 7, 0),
        webhook,
    ] {
        serde_json::from_value::<serenity::model::channel::Message>(payload.clone())
            .expect("serenity accepts the fake message");
        conn.dispatch("MESSAGE_CREATE", payload);
    }
    wait_until("every message to be handled", || {
        metrics
            .collector_events
            .get_or_create(&SourceLabels {
                source: "discord_messages".to_owned(),
            })
            .get()
            == 6
    })
    .await;
    bot.stop().await;

    let rows: Vec<MessageRow> = sqlx::query_as(
        "select message_id, channel_id, parent_channel_id, author_id, char_count,
                attachment_count, is_reply
         from bronze.discord_messages order by message_id",
    )
    .fetch_all(&pool)
    .await
    .expect("messages");
    let sentinel_chars = i32::try_from(SENTINEL.chars().count()).expect("short");
    assert_eq!(
        rows,
        vec![
            MessageRow {
                message_id: id(first),
                channel_id: id(CHAT),
                parent_channel_id: None,
                author_id: id(ALICE.id),
                char_count: Some(sentinel_chars),
                attachment_count: 2,
                is_reply: false,
            },
            MessageRow {
                message_id: id(first + 1),
                channel_id: id(THREAD),
                parent_channel_id: Some(id(CHAT)),
                author_id: id(BOB.id),
                char_count: Some(sentinel_chars),
                attachment_count: 0,
                is_reply: true,
            },
        ]
    );
    let created: DateTime<Utc> =
        sqlx::query_scalar("select created_at from bronze.discord_messages where message_id = $1")
            .bind(id(first))
            .fetch_one(&pool)
            .await
            .expect("created_at");
    assert_eq!(created, collectors::discord::snowflake_time(id(first)));
    let dropped = |reason| metrics.dropped_count("discord_messages", reason);
    assert_eq!(dropped(DropReason::bot), 2, "the bot and the webhook");
    assert_eq!(dropped(DropReason::system), 1);
    assert_eq!(dropped(DropReason::duplicate), 1);

    // The content is nowhere in the database.
    let database = pool
        .connect_options()
        .get_database()
        .expect("a test database")
        .to_owned();
    let dump = std::process::Command::new("pg_dump")
        .args([
            "-h",
            "127.0.0.1",
            "-U",
            "postgres",
            "--data-only",
            &database,
        ])
        .output()
        .expect("pg_dump runs");
    assert!(
        dump.status.success(),
        "{}",
        String::from_utf8_lossy(&dump.stderr)
    );
    let dump = String::from_utf8_lossy(&dump.stdout);
    assert!(
        dump.contains(&id(first).to_string()),
        "the dump holds the data"
    );
    assert!(
        !dump.contains(SENTINEL),
        "message content reached the database"
    );
}
