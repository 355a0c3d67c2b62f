//! The admin console's own server functions: the community settings (validated, audited,
//! taking effect without a restart in the pages and the pipeline), the public privacy page
//! following the settings in force, the audit log a page at a time, the Discord section's
//! channels by name, and the identity review's name comparison (now SQL in job
//! identity_review). Every test gets a fresh database.

#[path = "support/web_app.rs"]
mod web_app;

use app::i18n::{Key, Lang};
use axum::http::StatusCode;
use collectors::metrics::Metrics;
use guildhall::pipeline::{JobName, Pipeline, Trigger};
use serde_json::json;
use sqlx::PgPool;
use web_app::*;

/// The audit log's community-settings entries: (actor, before, after).
async fn settings_audit(pool: &PgPool) -> Vec<(String, serde_json::Value, serde_json::Value)> {
    sqlx::query_as(
        "select actor_name, before, after from app.audit_log
         where action = 'community.settings' order by id",
    )
    .fetch_all(pool)
    .await
    .expect("audit")
}

#[sqlx::test(migrator = "guildhall::db::MIGRATOR")]
async fn community_settings_are_validated_stored_audited_and_fall_back_to_the_configuration(
    pool: PgPool,
) {
    let app = start_demo(pool).await;
    app.sign_in_demo("admin").await;

    // Nothing set: the configured values, each marked as such.
    let (status, settings) = app.call::<app::api::GetCommunitySettings>(&[]).await;
    assert_eq!(status, StatusCode::OK, "{settings}");
    assert_eq!(
        settings["timezone"],
        json!({"value": "Europe/Berlin", "configured": "Europe/Berlin", "set_here": false})
    );
    assert_eq!(
        settings["bronze_retention_days"],
        json!({"value": 400, "configured": 400, "set_here": false})
    );
    assert_eq!(settings["message_lengths"], json!(false));
    let zones = settings["zones"].as_array().expect("zones");
    assert!(
        zones.contains(&json!("America/New_York")),
        "{}",
        zones.len()
    );
    assert!(zones.contains(&json!("Europe/Berlin")));

    // Refused values change nothing.
    for (zone, days) in [
        ("Mars/Olympus", "30"),
        ("UTC", "-1"),
        ("UTC", "36501"),
        ("UTC", "ten"),
    ] {
        let (status, body) = app
            .call::<app::api::SetCommunitySettings>(&[
                ("timezone", zone),
                ("bronze_retention_days", days),
            ])
            .await;
        assert_eq!(status, StatusCode::BAD_REQUEST, "{zone} {days}: {body}");
    }
    let stored: i64 = sqlx::query_scalar("select count(*) from app.community_settings")
        .fetch_one(&app.pool)
        .await
        .expect("settings");
    assert_eq!(stored, 0);
    assert_eq!(settings_audit(&app.pool).await, vec![]);

    // A valid change is stored and audited, and is what the console reads.
    let (status, body) = app
        .call::<app::api::SetCommunitySettings>(&[
            ("timezone", " America/New_York "),
            ("bronze_retention_days", "30"),
        ])
        .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    let (_, settings) = app.call::<app::api::GetCommunitySettings>(&[]).await;
    assert_eq!(
        settings["timezone"],
        json!({"value": "America/New_York", "configured": "Europe/Berlin", "set_here": true})
    );
    assert_eq!(
        settings["bronze_retention_days"],
        json!({"value": 30, "configured": 400, "set_here": true})
    );
    assert_eq!(settings["updated_by"], json!("Demo Admin"));
    // Saved times are on the new zone's clock (New York is 5 or 4 hours behind UTC).
    let updated = settings["updated_at"].as_str().expect("updated_at");
    assert!(
        updated.ends_with("-05:00") || updated.ends_with("-04:00"),
        "{updated}"
    );
    // The same again changes nothing and logs nothing more.
    app.call::<app::api::SetCommunitySettings>(&[
        ("timezone", "America/New_York"),
        ("bronze_retention_days", "30"),
    ])
    .await;
    // Empty values go back to the configuration.
    let (status, _) = app
        .call::<app::api::SetCommunitySettings>(&[("timezone", ""), ("bronze_retention_days", "")])
        .await;
    assert_eq!(status, StatusCode::OK);
    let (_, settings) = app.call::<app::api::GetCommunitySettings>(&[]).await;
    assert_eq!(settings["timezone"]["set_here"], json!(false));
    assert_eq!(settings["timezone"]["value"], json!("Europe/Berlin"));
    assert_eq!(settings["bronze_retention_days"]["value"], json!(400));
    assert_eq!(
        settings_audit(&app.pool).await,
        vec![
            (
                "Demo Admin".to_owned(),
                json!({"timezone": null, "bronze_retention_days": null}),
                json!({"timezone": "America/New_York", "bronze_retention_days": 30}),
            ),
            (
                "Demo Admin".to_owned(),
                json!({"timezone": "America/New_York", "bronze_retention_days": 30}),
                json!({"timezone": null, "bronze_retention_days": null}),
            ),
        ]
    );

    // A leader may neither read nor change them.
    app.sign_in_demo("leader").await;
    let (status, _) = app
        .call::<app::api::SetCommunitySettings>(&[
            ("timezone", "UTC"),
            ("bronze_retention_days", ""),
        ])
        .await;
    assert_eq!(status, StatusCode::FORBIDDEN);
    let (status, _) = app.call::<app::api::GetCommunitySettings>(&[]).await;
    assert_eq!(status, StatusCode::FORBIDDEN);
}

#[sqlx::test(migrator = "guildhall::db::MIGRATOR")]
async fn a_time_zone_set_in_the_console_applies_to_pages_and_the_pipeline_without_a_restart(
    pool: PgPool,
) {
    // The pipeline as `serve` builds it, from the configured zone.
    let pipeline = Pipeline::new(pool.clone(), chrono_tz::Europe::Berlin, Metrics::new());
    pipeline
        .run_job(JobName::DailyActiveUsers, Trigger::Manual)
        .await
        .expect("run");
    let zone_of_job = || async {
        sqlx::query_scalar::<_, Option<String>>(
            "select timezone from app.pipeline_state where job = 'daily_active_users'",
        )
        .fetch_one(&pool)
        .await
        .expect("state")
    };
    assert_eq!(zone_of_job().await.as_deref(), Some("Europe/Berlin"));
    assert_eq!(
        pipeline.retention_days_in_force(400).await.expect("days"),
        400
    );

    let app = start_demo(pool.clone()).await;
    app.sign_in_demo("admin").await;
    let (status, body) = app
        .call::<app::api::SetCommunitySettings>(&[
            ("timezone", "Pacific/Kiritimati"),
            ("bronze_retention_days", "0"),
        ])
        .await;
    assert_eq!(status, StatusCode::OK, "{body}");

    // The same pipeline value, not rebuilt: its next run is in the new zone.
    pipeline
        .run_job(JobName::DailyActiveUsers, Trigger::Manual)
        .await
        .expect("run");
    assert_eq!(zone_of_job().await.as_deref(), Some("Pacific/Kiritimati"));
    assert_eq!(
        pipeline.retention_days_in_force(400).await.expect("days"),
        0
    );

    // Pages too: the console's times are on the new zone's clock, and say so.
    let (_, people) = app.call::<app::api::GetAdminUsers>(&[]).await;
    assert_eq!(people["timezone"], json!("Pacific/Kiritimati"));
    let login = people["users"][0]["last_login_at"]
        .as_str()
        .expect("last login");
    assert!(login.ends_with("+14:00"), "{login}");
    let html = app.get("/admin/people").await.text().await.expect("people");
    assert!(html.contains("Pacific/Kiritimati"), "{html}");
}

#[sqlx::test(migrator = "guildhall::db::MIGRATOR")]
async fn the_public_privacy_page_states_what_the_settings_in_force_collect(pool: PgPool) {
    let app = start(
        pool.clone(),
        Options {
            demo: true,
            message_content: true,
            ..Options::default()
        },
    )
    .await;
    // Signed out, in both languages: the configured retention, lengths counted, no bot.
    let (status, facts) = app.call::<app::api::GetPrivacyFacts>(&[]).await;
    assert_eq!(status, StatusCode::OK, "{facts}");
    assert_eq!(
        facts,
        json!({
            "discord_bot": false, "message_lengths": true, "rcon_servers": 0,
            "log_servers": 0, "metrics_servers": 0, "bronze_retention_days": 400,
            "timezone": "Europe/Berlin",
        })
    );
    let page = |lang: Lang| {
        let app = &app;
        async move {
            app.jar
                .add_cookie_str(&format!("lang={}; Path=/", lang.code()), &app.base);
            let response = app.get("/privacy").await;
            assert_eq!(response.status(), StatusCode::OK);
            response.text().await.expect("privacy page")
        }
    };
    let retention =
        |lang: Lang, days: i64| Key::PrivacyRetention.fill(lang, &[("days", &lang.int(days))]);
    for lang in [Lang::De, Lang::En] {
        let html = page(lang).await;
        assert!(html.contains(&retention(lang, 400)), "{lang:?}: {html}");
        assert!(html.contains(Key::PrivacyNoDiscord.text(lang)), "{lang:?}");
        assert!(html.contains(Key::PrivacyNoGames.text(lang)), "{lang:?}");
        assert!(
            html.contains(Key::PrivacyNeverContent.text(lang)),
            "{lang:?}"
        );
    }

    // Game servers, and another retention set by an admin: the page follows.
    sqlx::raw_sql(
        "insert into app.game_servers (name, game, host, rcon_port, log_source, ingest_token, prometheus_url, enabled)
         values ('cs', 'cs2', '127.0.0.1', 27015, 'http', 'token-aaaaaaaaaaaaaaaaaaaaaaaa', null, true),
                ('mc', 'minecraft', '127.0.0.1', 25575, 'none', 'token-bbbbbbbbbbbbbbbbbbbbbbbb', 'http://127.0.0.1:9225/metrics', true),
                ('old', 'cs2', '127.0.0.1', 27016, 'http', 'token-cccccccccccccccccccccccc', null, false)",
    )
    .execute(&pool)
    .await
    .expect("game servers");
    app.sign_in_demo("admin").await;
    let (status, body) = app
        .call::<app::api::SetCommunitySettings>(&[
            ("timezone", ""),
            ("bronze_retention_days", "30"),
        ])
        .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    app.browser
        .post(app.url("/auth/logout"))
        .send()
        .await
        .expect("logout");
    let (_, facts) = app.call::<app::api::GetPrivacyFacts>(&[]).await;
    assert_eq!(facts["rcon_servers"], json!(2));
    assert_eq!(facts["log_servers"], json!(1));
    assert_eq!(facts["metrics_servers"], json!(1));
    assert_eq!(facts["bronze_retention_days"], json!(30));
    for lang in [Lang::De, Lang::En] {
        let html = page(lang).await;
        assert!(html.contains(&retention(lang, 30)), "{lang:?}: {html}");
        assert!(!html.contains(&retention(lang, 400)), "{lang:?}");
        let rcon = Key::PrivacyRcon.fill(lang, &[("count", "2")]);
        assert!(html.contains(&rcon), "{lang:?}: {html}");
        assert!(!html.contains(Key::PrivacyNoGames.text(lang)), "{lang:?}");
    }

    // Without message content, the page says lengths are not counted.
    let other = start(
        pool,
        Options {
            demo: true,
            ..Options::default()
        },
    )
    .await;
    let (_, facts) = other.call::<app::api::GetPrivacyFacts>(&[]).await;
    assert_eq!(facts["message_lengths"], json!(false));
}

#[sqlx::test(migrator = "guildhall::db::MIGRATOR")]
async fn the_audit_log_is_read_a_page_at_a_time_newest_first(pool: PgPool) {
    let app = start_demo(pool).await;
    app.sign_in_demo("admin").await;
    // Only these entries (whatever signing in may have logged is not what this is about).
    sqlx::raw_sql(
        "delete from app.audit_log;
         insert into app.audit_log (actor_name, action, subject, at)
         select 'someone', 'user.role', 'entry ' || n,
                timestamptz '2026-11-01 12:00Z' + n * interval '1 minute'
         from generate_series(1, 120) n",
    )
    .execute(&app.pool)
    .await
    .expect("audit entries");
    let subjects = |page: &serde_json::Value| -> Vec<String> {
        page["entries"]
            .as_array()
            .expect("entries")
            .iter()
            .map(|e| e["subject"].as_str().expect("subject").to_owned())
            .collect()
    };
    let (status, first) = app.call::<app::api::GetAuditLog>(&[("page", "1")]).await;
    assert_eq!(status, StatusCode::OK, "{first}");
    assert_eq!(
        (
            first["page"].clone(),
            first["pages"].clone(),
            first["total"].clone()
        ),
        (json!(1), json!(3), json!(120))
    );
    let first = subjects(&first);
    assert_eq!(first.len(), 50);
    assert_eq!(first[0], "entry 120");
    assert_eq!(first[49], "entry 71");
    let (_, last) = app.call::<app::api::GetAuditLog>(&[("page", "3")]).await;
    let last_subjects = subjects(&last);
    assert_eq!(last_subjects.len(), 20);
    assert_eq!(last_subjects[19], "entry 1");
    // On the community's clock (Berlin, winter: UTC+1).
    assert_eq!(
        last["entries"][19]["at"],
        json!("2026-11-01T13:01:00+01:00")
    );
    assert_eq!(last["timezone"], json!("Europe/Berlin"));
    let (status, _) = app.call::<app::api::GetAuditLog>(&[("page", "0")]).await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
}

#[sqlx::test(migrator = "guildhall::db::MIGRATOR")]
async fn the_discord_section_names_channels_and_marks_only_channels_the_bot_knows(pool: PgPool) {
    sqlx::raw_sql(
        "insert into app.discord_guilds (guild_id, name, afk_channel_id) values (42, 'Test Guild', 9);
         insert into app.discord_channels (guild_id, channel_id, name, kind, parent_id, position, deleted) values
             (42, 100, 'Voice', 'category', null, 1, false),
             (42, 7, 'Lobby', 'voice', 100, 0, false),
             (42, 9, 'AFK', 'voice', 100, 5, false),
             (42, 700, 'general', 'text', null, 0, false),
             (42, 701, 'old', 'text', null, 2, true);",
    )
    .execute(&pool)
    .await
    .expect("guild and channels");
    let app = start_demo(pool).await;
    app.sign_in_demo("admin").await;
    let (status, body) = app
        .call::<app::api::ExcludeChannel>(&[("guild_id", "42"), ("channel_id", "700")])
        .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    // An id the bot never saw, or saw deleted, cannot be picked.
    for channel in ["12345", "701"] {
        let (status, body) = app
            .call::<app::api::ExcludeChannel>(&[("guild_id", "42"), ("channel_id", channel)])
            .await;
        assert_eq!(status, StatusCode::BAD_REQUEST, "{channel}: {body}");
        assert_eq!(
            body["Invalid"]["problem"],
            json!("ChannelUnknown"),
            "{body}"
        );
    }
    let (status, channels) = app.call::<app::api::GetDiscordChannels>(&[]).await;
    assert_eq!(status, StatusCode::OK, "{channels}");
    let guild = &channels["guilds"][0];
    assert_eq!(
        guild["afk_channel"],
        json!({"channel_id": "9", "name": "AFK", "kind": "voice", "category": "Voice"})
    );
    assert_eq!(
        guild["excluded"],
        json!([{"channel_id": "700", "name": "general", "kind": "text", "category": null}])
    );
    let picker: Vec<&str> = guild["channels"]
        .as_array()
        .expect("channels")
        .iter()
        .map(|c| c["name"].as_str().expect("name"))
        .collect();
    // Discord's order, categories before their channels, deleted ones left out.
    assert_eq!(picker, vec!["general", "Voice", "Lobby", "AFK"]);
}

#[sqlx::test(migrator = "guildhall::db::MIGRATOR")]
async fn names_are_compared_in_sql_as_the_identity_review_compares_them(pool: PgPool) {
    let similarity = |a: &'static str, b: &'static str| {
        let pool = pool.clone();
        async move {
            sqlx::query_scalar::<_, f64>("select silver.name_similarity($1, $2)")
                .bind(a)
                .bind(b)
                .fetch_one(&pool)
                .await
                .expect("similarity")
        }
    };
    let close = |got: f64, want: f64| (got - want).abs() < 1e-12;
    // The same name in other dress is alike.
    assert_eq!(similarity("Mira", "mira").await, 1.0);
    assert_eq!(similarity("xXMiraXx", "Mira").await, 0.75);
    assert!(close(
        similarity("Mira_99", "mira").await,
        0.5 + 0.5 * 4.0 / 6.0
    ));
    // Numbers tell namesakes apart.
    assert!(close(
        similarity("moritz2_99", "Moritz2").await,
        0.5 + 0.5 * 7.0 / 9.0
    ));
    assert!(close(similarity("moritz2_99", "Moritz5").await, 0.7));
    assert!(close(similarity("till6", "Till2").await, 0.7));
    assert_eq!(similarity("till6", "Till6").await, 1.0);
    // Different names are not.
    assert_eq!(similarity("Jonas", "Mira").await, 0.0);
    assert!(similarity("Miriam", "Mira").await < 0.5);
    assert_eq!(similarity("", "Mira").await, 0.0);
    assert_eq!(similarity("42", "17").await, 0.0);
}
