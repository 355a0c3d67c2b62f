//! A member's rights over their own data, through the web app: they see their own activity
//! and export it, delete their account or opt out (and stay out), and a hidden member is
//! counted but never named. Every test gets a fresh database.

#[path = "support/web_app.rs"]
mod web_app;

use axum::http::StatusCode;
use serde_json::{Value, json};
use sqlx::PgPool;
use web_app::*;

#[sqlx::test(migrator = "guildhall::db::MIGRATOR")]
async fn a_member_sees_their_own_voice_minutes_and_active_days(pool: PgPool) {
    use chrono::{Duration, TimeZone, Utc};
    let berlin = chrono_tz::Europe::Berlin;
    let member = guildhall::auth::demo::demo_user(app::model::Role::Member).0;
    let today = Utc::now().with_timezone(&berlin).date_naive();
    let local = |days_ago: i64, hour: u32, minute: u32| {
        let day = today - Duration::days(days_ago);
        berlin
            .from_local_datetime(&day.and_hms_opt(hour, minute, 0).expect("time"))
            .earliest()
            .expect("local time")
            .with_timezone(&Utc)
    };
    sqlx::query("insert into silver.dim_user (person_id) overriding system value values (1)")
        .execute(&pool)
        .await
        .expect("person");
    let sessions = [
        // 90 minutes yesterday evening.
        (local(1, 20, 0), local(1, 21, 30), 10, false),
        // 23:30 → 00:30: 30 minutes on each of two days.
        (local(3, 23, 30), local(2, 0, 30), 10, false),
        // AFK time is not activity.
        (local(4, 20, 0), local(4, 22, 0), 99, true),
        // 30 seconds: under a minute, no active day.
        (
            local(5, 20, 0),
            local(5, 20, 0) + Duration::seconds(30),
            10,
            false,
        ),
        // Older than 30 days.
        (local(40, 20, 0), local(40, 23, 0), 10, false),
    ];
    for (started, ended, channel, afk) in sessions {
        sqlx::query(
            "insert into silver.fact_voice_sessions
                 (guild_id, discord_user_id, started_at, person_id, channel_id, ended_at, is_afk, end_reason)
             values (42, $1, $2, 1, $3, $4, $5, 'leave')",
        )
        .bind(member)
        .bind(started)
        .bind(channel)
        .bind(ended)
        .bind(afk)
        .execute(&pool)
        .await
        .expect("session");
    }
    // The member's Discord account and a linked Minecraft account (person 1): 45 minutes
    // on a Minecraft server 10 days ago, 7 messages 6 days ago; an unlinked account's hour
    // is not theirs.
    let setup = format!(
        "insert into silver.dim_user (person_id) overriding system value values (2);
         insert into silver.user_identities (kind, external_id, person_id) values
             ('discord', '{member}', 1), ('minecraft', 'mine', 1), ('minecraft', 'other', 2);
         insert into app.game_servers (server_id, name, game, host, ingest_token)
             overriding system value values (5, 'mc', 'minecraft', 'h', repeat('x', 32));"
    );
    sqlx::raw_sql(&setup)
        .execute(&pool)
        .await
        .expect("identities");
    for (account, started, minutes) in [
        ("mine", local(10, 20, 0), 45),
        ("other", local(10, 20, 0), 60),
    ] {
        sqlx::query(
            "insert into silver.fact_game_sessions
                 (server_id, player_key, started_at, ended_at, account_kind, account_id, source)
             values (5, 'minecraft:' || $1, $2, $3, 'minecraft', $1, 'log')",
        )
        .bind(account)
        .bind(started)
        .bind(started + Duration::minutes(minutes))
        .execute(&pool)
        .await
        .expect("game session");
    }
    sqlx::query(
        "insert into silver.activity_daily (day, account_kind, account_id, person_id, messages, game_seconds)
         values ($1, 'discord', $2, 1, 7, 0), ($3, 'minecraft', 'mine', 1, 0, 2700)",
    )
    .bind(today - Duration::days(6))
    .bind(member.to_string())
    .bind(today - Duration::days(10))
    .execute(&pool)
    .await
    .expect("activity");
    let app = start_demo(pool).await;
    app.sign_in_demo("member").await;
    let (status, activity) = app.call::<app::api::GetMyActivity>(&[]).await;
    assert_eq!(status, StatusCode::OK, "{activity}");
    // 90 + 60 minutes (the night session is an hour longer or shorter on a DST night); the
    // message day and the game day make five active days.
    let night = (local(2, 0, 30) - local(3, 23, 30)).num_minutes();
    assert_eq!(
        activity,
        json!({ "voice_minutes_30d": 90 + night, "active_days_30d": 5, "messages_30d": 7,
                "game_minutes_30d": [["minecraft", 45]] })
    );
    // The export holds the member's accounts and data, and nobody else's.
    let export = app.get("/me/export.json").await;
    assert_eq!(export.status(), StatusCode::OK);
    assert_eq!(
        export.headers()["content-disposition"],
        "attachment; filename=\"guildhall-my-data.json\""
    );
    let data: serde_json::Value = export.json().await.expect("json");
    let accounts: Vec<&str> = data["accounts"]
        .as_array()
        .expect("accounts")
        .iter()
        .map(|a| a["external_id"].as_str().unwrap_or_default())
        .collect();
    assert_eq!(accounts, [member.to_string().as_str(), "mine"]);
    assert_eq!(data["user"]["discord_user_id"], json!(member.to_string()));
    assert_eq!(data["voice_sessions"].as_array().map(Vec::len), Some(5));
    let games = data["game_sessions"].as_array().expect("games");
    assert_eq!(games.len(), 1);
    assert_eq!(games[0]["account_id"], json!("mine"));
    assert_eq!(data["activity_daily"].as_array().map(Vec::len), Some(2));
    assert!(
        !data.to_string().contains("\"other\""),
        "another person's account leaked"
    );
}

#[sqlx::test(migrator = "guildhall::db::MIGRATOR")]
async fn deleting_my_account_signs_me_out_and_opting_out_keeps_me_out(pool: PgPool) {
    let app = start(pool, Options::default()).await;
    app.sign_in_with_discord().await;
    assert_eq!(app.me().await["role"], json!("member"));

    // Unconfirmed: refused, nothing happens.
    let (status, _) = app
        .call::<app::api::DeleteMyAccount>(&[("confirmed", "false")])
        .await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    assert_eq!(app.user_count().await, 1);

    // Deleted: signed out, the account is gone, and signing in again starts afresh.
    let (status, body) = app
        .call::<app::api::DeleteMyAccount>(&[("confirmed", "true")])
        .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!(app.me().await, Value::Null, "the session ended");
    assert_eq!(app.user_count().await, 0);
    let kept: i64 = sqlx::query_scalar("select count(*) from app.opted_out_accounts")
        .fetch_one(&app.pool)
        .await
        .expect("hashes");
    assert_eq!(kept, 0, "a deleted account is not an opt-out");
    // Their membership record went with everything else: the bot records it again at its
    // next member sync, and then they can sign in again.
    record_membership(&app.pool, DISCORD_ID, "join", "2026-01-02T10:00:00Z").await;
    app.sign_in_with_discord().await;
    assert_eq!(app.user_count().await, 1);

    // Opted out: signed out, only the hash is kept, and signing in is refused with why.
    let (status, body) = app
        .call::<app::api::OptMeOut>(&[("confirmed", "true")])
        .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!(app.me().await, Value::Null);
    assert_eq!(app.user_count().await, 0);
    let hashes: Vec<String> = sqlx::query_scalar("select account_hash from app.opted_out_accounts")
        .fetch_all(&app.pool)
        .await
        .expect("hashes");
    assert_eq!(
        hashes,
        vec![collectors::rules::account_hash(
            "discord",
            &DISCORD_ID.to_string()
        )]
    );
    let (callback, _) = app.start_login(None).await;
    let refused = app.browser.get(callback).send().await.expect("callback");
    assert_eq!(refused.status(), StatusCode::FORBIDDEN);
    assert!(
        refused
            .text()
            .await
            .expect("page")
            .contains("You opted out")
    );
    assert_eq!(app.user_count().await, 0, "no account was made again");
}

#[sqlx::test(migrator = "guildhall::db::MIGRATOR")]
async fn a_hidden_member_is_counted_but_never_named(pool: PgPool) {
    let app = start_demo(pool).await;
    app.sign_in_with_discord().await;
    let (status, body) = app
        .call::<app::api::SetMeHidden>(&[("hidden", "true")])
        .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    let (_, privacy) = app.call::<app::api::GetMyPrivacy>(&[]).await;
    assert_eq!(privacy["hidden"], json!(true), "{privacy}");
    // Ada invited someone and played; Bo invited someone too.
    sqlx::raw_sql(&format!(
        "insert into app.discord_invites (guild_id, code, channel_id, inviter_id, inviter_name, uses, max_uses, created_at)
         values (42, 'ada-code', 1, {DISCORD_ID}, 'ada', 3, 0, now()),
                (42, 'bo-code', 1, 77, 'bo', 1, 0, now());
         insert into app.game_servers (server_id, name, game, host, ingest_token)
             overriding system value values (5, 'cs', 'cs2', 'h', repeat('x', 32));
         insert into silver.fact_game_sessions
             (server_id, player_key, started_at, ended_at, account_kind, account_id, person_id,
              player_name, source)
         select 5, 'steam:76561197960287930', now() - interval '2 hours', now() - interval '1 hour',
                'steam', '76561197960287930', person_id, 'AdaPlays', 'log'
         from silver.user_identities where kind = 'discord' and external_id = '{DISCORD_ID}';"
    ))
    .execute(&app.pool)
    .await
    .expect("invites and a session");

    // An admin (by Discord: demo sign-in is refused once Ada, a real user, signed in).
    app.sign_in_with_discord_as(555_000_000_000_000_010, "Grace Hopper", "admin")
        .await;
    let (_, settings) = app.call::<app::api::GetDiscordSettings>(&[]).await;
    let inviters: Vec<(String, Value)> = settings[0]["invites"]
        .as_array()
        .map(|invites| {
            invites
                .iter()
                .map(|i| {
                    (
                        i["code"].as_str().unwrap_or("").to_owned(),
                        i["inviter"].clone(),
                    )
                })
                .collect()
        })
        .unwrap_or_default();
    assert!(
        inviters.contains(&("ada-code".to_owned(), Value::Null)),
        "{settings}"
    );
    assert!(
        inviters.contains(&("bo-code".to_owned(), json!("bo"))),
        "{settings}"
    );
    let csv = app
        .get("/export/game_sessions.csv")
        .await
        .text()
        .await
        .expect("csv");
    assert_eq!(csv.lines().count(), 2, "the session is still there: {csv}");
    assert!(
        !csv.contains("AdaPlays") && !csv.contains("76561197960287930"),
        "{csv}"
    );
    let (_, found) = app
        .call::<app::api::SearchPersons>(&[("query", "ada")])
        .await;
    assert_eq!(found, json!([]));

    // Shown again: named again.
    app.sign_in_with_discord().await;
    app.call::<app::api::SetMeHidden>(&[("hidden", "false")])
        .await;
    app.sign_in_with_discord_as(555_000_000_000_000_010, "Grace Hopper", "admin")
        .await;
    let csv = app
        .get("/export/game_sessions.csv")
        .await
        .text()
        .await
        .expect("csv");
    assert!(csv.contains("AdaPlays"), "{csv}");
}

/// Calls a server function from a browser that presents only the given session cookie.
async fn call_as<F: leptos::server_fn::ServerFn>(
    app: &TestApp,
    session: &str,
    form: &[(&str, &str)],
) -> (StatusCode, Value) {
    let mut headers = axum::http::HeaderMap::new();
    headers.insert(
        axum::http::header::COOKIE,
        format!("guildhall_session={session}")
            .parse()
            .expect("cookie header"),
    );
    let client = reqwest::Client::builder()
        .default_headers(headers)
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .expect("client");
    app.call_with(&client, F::PATH, form).await
}

/// The browser forgets its session cookie (as another browser would not have it).
fn forget_session(app: &TestApp) {
    app.jar
        .add_cookie_str("guildhall_session=; Max-Age=0; Path=/", &app.base);
    assert_eq!(app.session_cookie(), None);
}

async fn stored_sessions(pool: &PgPool, ids: &[&str]) -> i64 {
    sqlx::query_scalar("select count(*) from app.sessions where id = any($1)")
        .bind(ids)
        .fetch_one(pool)
        .await
        .expect("sessions")
}

#[sqlx::test(migrator = "guildhall::db::MIGRATOR")]
async fn opting_out_or_deleting_ends_every_session_of_the_member_and_no_one_elses(pool: PgPool) {
    const OTHER: i64 = 333_000_000_000_000_333;
    let app = start(pool, Options::default()).await;
    // The member on a phone and on a computer: two sessions.
    let (_, phone) = app.sign_in_with_discord().await;
    forget_session(&app);
    let (_, computer) = app.sign_in_with_discord().await;
    assert_ne!(phone, computer);
    // Someone else, signed in elsewhere.
    forget_session(&app);
    app.provider.set_user_id(OTHER);
    record_membership(&app.pool, OTHER, "join", "2026-01-02T10:00:00Z").await;
    let (_, other) = app.sign_in_with_discord().await;
    for (session, who) in [
        (&phone, DISCORD_ID),
        (&computer, DISCORD_ID),
        (&other, OTHER),
    ] {
        assert_eq!(
            app.me_with_cookie(session).await["discord_user_id"],
            json!(who)
        );
    }
    assert_eq!(
        stored_sessions(
            &app.pool,
            &[phone.as_str(), computer.as_str(), other.as_str()]
        )
        .await,
        3
    );

    // Opting out on the phone ends the computer's session too.
    let (status, body) =
        call_as::<app::api::OptMeOut>(&app, &phone, &[("confirmed", "true")]).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!(
        stored_sessions(&app.pool, &[phone.as_str(), computer.as_str()]).await,
        0
    );
    assert_eq!(app.me_with_cookie(&computer).await, Value::Null);
    assert_eq!(stored_sessions(&app.pool, &[other.as_str()]).await, 1);
    assert_eq!(
        app.me_with_cookie(&other).await["discord_user_id"],
        json!(OTHER)
    );

    // Deleting an account does the same: the other member, on two browsers now.
    forget_session(&app);
    let (_, second) = app.sign_in_with_discord().await;
    assert_eq!(
        stored_sessions(&app.pool, &[other.as_str(), second.as_str()]).await,
        2
    );
    let (status, body) =
        call_as::<app::api::DeleteMyAccount>(&app, &second, &[("confirmed", "true")]).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!(
        stored_sessions(&app.pool, &[other.as_str(), second.as_str()]).await,
        0
    );
    assert_eq!(app.me_with_cookie(&other).await, Value::Null);
}
