//! Channels an admin sets apart: AFK marks apply from now on or to all of history (and ask
//! the pipeline to recompute from then), excluded channels are excluded and recorded again,
//! and both are audited. Every test gets a fresh database.

#[path = "support/web_app.rs"]
mod web_app;

use axum::http::StatusCode;
use sqlx::PgPool;
use web_app::*;

#[sqlx::test(migrator = "guildhall::db::MIGRATOR")]
async fn afk_marks_apply_from_now_or_to_all_of_history_and_are_audited(pool: PgPool) {
    sqlx::raw_sql("insert into app.discord_guilds (guild_id, name) values (42, 'Test Guild') on conflict do nothing;
                   insert into app.discord_channels (guild_id, channel_id, name, kind)
                   values (42, 7, 'Lobby', 'voice'), (42, 8, 'AFK', 'voice'), (42, 700, 'general', 'text')")
        .execute(&pool)
        .await
        .expect("a tracked guild");
    sqlx::query(
        "insert into bronze.discord_voice_events (source_key, guild_id, user_id, channel_id, occurred_at)
         values ('k', 42, 1, 7, '2026-10-01T12:00:00Z')",
    )
    .execute(&pool)
    .await
    .expect("an old voice event");
    let app = start_demo(pool).await;
    app.sign_in_demo("admin").await;
    // The spans marked so far on the AFK periods (the voice sessions' job reads them): (from
    // all of history?, the latest finite start).
    let requested = || async {
        sqlx::query_as::<_, (Option<bool>, Option<chrono::DateTime<chrono::Utc>>)>(
            "select bool_or(from_at = '-infinity'),
                    max(from_at) filter (where from_at > '-infinity')
             from app.pipeline_dirty_tables where table_name = 'silver.afk_channel_periods'",
        )
        .fetch_one(&app.pool)
        .await
        .expect("requests")
    };

    // From now on: the recompute starts now.
    let before = chrono::Utc::now();
    let (status, body) = app
        .call::<app::api::MarkAfkChannel>(&[
            ("guild_id", "42"),
            ("channel_id", "7"),
            ("whole_history", "false"),
        ])
        .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    let (whole, from_now) = requested().await;
    assert_eq!(whole, Some(false));
    let from_now = from_now.expect("a recompute was requested");
    assert!(
        from_now >= before - chrono::Duration::seconds(1),
        "{from_now}"
    );
    // For all of history: a span from the beginning of time.
    let (status, body) = app
        .call::<app::api::MarkAfkChannel>(&[
            ("guild_id", "42"),
            ("channel_id", "8"),
            ("whole_history", "true"),
        ])
        .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!(requested().await, (Some(true), Some(from_now)));
    #[derive(sqlx::FromRow, Debug, PartialEq)]
    struct Mark {
        channel_id: i64,
        for_all_of_history: bool,
        open: bool,
    }
    let marks: Vec<Mark> = sqlx::query_as(
        "select channel_id, valid_from = '-infinity' as for_all_of_history, valid_to is null as open
         from app.afk_channels order by id",
    )
    .fetch_all(&app.pool)
    .await
    .expect("marks");
    assert_eq!(
        marks,
        vec![
            Mark {
                channel_id: 7,
                for_all_of_history: false,
                open: true
            },
            Mark {
                channel_id: 8,
                for_all_of_history: true,
                open: true
            }
        ]
    );
    // The console lists them by the names the bot knows.
    let (_, channels) = app.call::<app::api::GetDiscordChannels>(&[]).await;
    let listed: Vec<(&str, &str, bool)> = channels["guilds"][0]["marked_afk"]
        .as_array()
        .expect("marks")
        .iter()
        .map(|m| {
            (
                m["channel"]["channel_id"].as_str().expect("id"),
                m["channel"]["name"].as_str().expect("name"),
                m["since"].is_null(),
            )
        })
        .collect();
    assert_eq!(listed, vec![("7", "Lobby", false), ("8", "AFK", true)]);

    // Off from now on: the past stays AFK. Off for all of history: the mark is gone.
    let ids: Vec<i64> = sqlx::query_scalar("select id from app.afk_channels order by id")
        .fetch_all(&app.pool)
        .await
        .expect("ids");
    let (status, _) = app
        .call::<app::api::UnmarkAfkChannel>(&[
            ("id", &ids[1].to_string()),
            ("whole_history", "false"),
        ])
        .await;
    assert_eq!(status, StatusCode::OK);
    let (status, _) = app
        .call::<app::api::UnmarkAfkChannel>(&[
            ("id", &ids[0].to_string()),
            ("whole_history", "true"),
        ])
        .await;
    assert_eq!(status, StatusCode::OK);
    #[derive(sqlx::FromRow, Debug, PartialEq)]
    struct EndedMark {
        channel_id: i64,
        for_all_of_history: bool,
        ended: bool,
    }
    let marks: Vec<EndedMark> = sqlx::query_as(
        "select channel_id, valid_from = '-infinity' as for_all_of_history, valid_to is not null as ended
         from app.afk_channels order by id",
    )
    .fetch_all(&app.pool)
    .await
    .expect("marks");
    assert_eq!(
        marks,
        vec![EndedMark {
            channel_id: 8,
            for_all_of_history: true,
            ended: true
        }],
        "8 stays AFK for the past, 7 never was"
    );
    let actions: Vec<String> = sqlx::query_scalar("select action from app.audit_log order by id")
        .fetch_all(&app.pool)
        .await
        .expect("audit");
    assert_eq!(
        actions,
        vec![
            "guild.afk_channel.mark",
            "guild.afk_channel.mark",
            "guild.afk_channel.unmark",
            "guild.afk_channel.unmark"
        ]
    );
}

#[sqlx::test(migrator = "guildhall::db::MIGRATOR")]
async fn an_admin_excludes_a_channel_and_records_it_again_and_both_are_audited(pool: PgPool) {
    sqlx::raw_sql("insert into app.discord_guilds (guild_id, name) values (42, 'Test Guild') on conflict do nothing;
                   insert into app.discord_channels (guild_id, channel_id, name, kind)
                   values (42, 7, 'Lobby', 'voice'), (42, 8, 'AFK', 'voice'), (42, 700, 'general', 'text')")
        .execute(&pool)
        .await
        .expect("a tracked guild");
    let app = start_demo(pool).await;
    app.sign_in_demo("admin").await;
    let excluded = || async {
        sqlx::query_scalar::<_, i64>(
            "select channel_id from app.excluded_channels where guild_id = 42 order by channel_id",
        )
        .fetch_all(&app.pool)
        .await
        .expect("excluded")
    };
    let (status, body) = app
        .call::<app::api::ExcludeChannel>(&[("guild_id", "42"), ("channel_id", "700")])
        .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!(excluded().await, vec![700]);
    // Excluding it twice changes nothing and logs nothing more.
    app.call::<app::api::ExcludeChannel>(&[("guild_id", "42"), ("channel_id", "700")])
        .await;
    let (status, _) = app
        .call::<app::api::ExcludeChannel>(&[("guild_id", "43"), ("channel_id", "700")])
        .await;
    assert_eq!(status, StatusCode::BAD_REQUEST, "an untracked guild");
    let (status, body) = app
        .call::<app::api::IncludeChannel>(&[("guild_id", "42"), ("channel_id", "700")])
        .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert!(excluded().await.is_empty());
    let (status, _) = app
        .call::<app::api::IncludeChannel>(&[("guild_id", "42"), ("channel_id", "700")])
        .await;
    assert_eq!(status, StatusCode::BAD_REQUEST, "not excluded any more");
    let log: Vec<(String, String)> = sqlx::query_as(
        "select action, subject from app.audit_log where action like 'guild.channel.%' order by id",
    )
    .fetch_all(&app.pool)
    .await
    .expect("audit log");
    assert_eq!(
        log,
        vec![
            (
                "guild.channel.exclude".to_owned(),
                "guild 42, channel 700".to_owned()
            ),
            (
                "guild.channel.include".to_owned(),
                "guild 42, channel 700".to_owned()
            ),
        ]
    );
}
