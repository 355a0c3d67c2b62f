//! Sign-in end to end: the real router on loopback, driven by a cookie-keeping HTTP client,
//! against a fake OAuth2 provider (authorize, token with PKCE check, user endpoint) that is
//! a small axum app on loopback too. Every test gets a fresh database.

#[path = "support/web_app.rs"]
mod web_app;

use axum::http::{StatusCode, header};
use guildhall::pipeline::JobName;
use leptos::server_fn::ServerFn;
use serde_json::{Value, json};
use sqlx::PgPool;
use web_app::*;

// ---------------------------------------------------------------------------------------
// Discord sign-in.

#[sqlx::test(migrator = "guildhall::db::MIGRATOR")]
async fn discord_sign_in_creates_the_user_and_renews_the_session(pool: PgPool) {
    let app = start(pool, Options::default()).await;
    assert_eq!(app.me().await, Value::Null);

    let (before, after) = app.sign_in_with_discord().await;
    assert_ne!(before, after, "the session id is renewed at sign-in");
    assert_eq!(app.provider.exchanges(), 1);

    let (username, display_name, avatar, role, logged_in): (
        String,
        Option<String>,
        Option<String>,
        String,
        bool,
    ) = sqlx::query_as(
        "select username, display_name, avatar, role, last_login_at is not null
             from app.users where discord_user_id = $1",
    )
    .bind(DISCORD_ID)
    .fetch_one(&app.pool)
    .await
    .expect("the user row exists");
    assert_eq!(username, "ada");
    assert_eq!(display_name.as_deref(), Some("Ada Lovelace"));
    assert_eq!(avatar.as_deref(), Some("a1b2c3"));
    assert_eq!(role, "member");
    assert!(logged_in);

    let me = app.me().await;
    assert_eq!(me["discord_user_id"], json!(DISCORD_ID));
    assert_eq!(me["name"], json!("Ada Lovelace"));
    assert_eq!(me["role"], json!("member"));

    // The pre-login session id no longer signs anyone in.
    assert_eq!(app.me_with_cookie(&before).await, Value::Null);
    assert_eq!(app.me_with_cookie(&after).await["role"], json!("member"));
}

/// One entry of `/users/@me/connections` as Discord sends it.
fn connection(kind: &str, id: &str, name: &str, verified: bool, revoked: bool) -> Value {
    json!({
        "type": kind, "id": id, "name": name, "verified": verified, "revoked": revoked,
        "integrations": [], "friend_sync": false, "show_activity": true,
        "two_way_link": false, "visibility": 1,
    })
}

#[sqlx::test(migrator = "guildhall::db::MIGRATOR")]
async fn only_verified_unrevoked_steam_connections_are_offered_and_one_links_with_a_click(
    pool: PgPool,
) {
    let app = start(pool, Options::default()).await;
    app.provider.set_connections(json!([
        connection("steam", "76561197960287930", "ada_main", true, false),
        connection("steam", "76561197960287931", "ada_unverified", false, false),
        connection("steam", "76561197960287932", "ada_revoked", true, true),
        connection("steam", "not-a-steam-id", "broken", true, false),
        connection("twitch", "31415", "ada_streams", true, false),
        connection("steam", "76561197960287933", "ada_alt", true, false),
    ]));
    app.sign_in_with_discord().await;

    let (status, offered) = app.call::<app::api::GetMySteamConnections>(&[]).await;
    assert_eq!(status, StatusCode::OK, "{offered}");
    assert_eq!(
        offered,
        json!([
            {"steam_id": "76561197960287933", "name": "ada_alt", "linked": false},
            {"steam_id": "76561197960287930", "name": "ada_main", "linked": false},
        ])
    );

    // An account Discord did not vouch for (unverified) cannot be linked this way.
    let (status, body) = app
        .call::<app::api::LinkSteamConnection>(&[("steam_id", "76561197960287931")])
        .await;
    assert_eq!(status, StatusCode::BAD_REQUEST, "{body}");

    let (status, body) = app
        .call::<app::api::LinkSteamConnection>(&[("steam_id", "76561197960287930")])
        .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    let linked: Vec<(String, String, Option<String>, bool)> = sqlx::query_as(
        "select i.external_id, i.verified_by, i.display_name,
                i.person_id = (select person_id from silver.user_identities
                               where kind = 'discord' and external_id = $1::text)
         from silver.user_identities i where i.kind = 'steam'",
    )
    .bind(DISCORD_ID)
    .fetch_all(&app.pool)
    .await
    .expect("identities");
    assert_eq!(
        linked,
        vec![(
            "76561197960287930".to_owned(),
            "oauth_connection".to_owned(),
            Some("ada_main".to_owned()),
            true
        )]
    );
    let (_, offered) = app.call::<app::api::GetMySteamConnections>(&[]).await;
    assert_eq!(offered[1]["linked"], json!(true), "{offered}");
    assert_eq!(offered[0]["linked"], json!(false), "{offered}");

    // Revoked in Discord since: the next sign-in no longer offers it (the link stays).
    app.provider.set_connections(json!([connection(
        "steam",
        "76561197960287933",
        "ada_alt",
        true,
        true
    )]));
    app.sign_in_with_discord().await;
    let (_, offered) = app.call::<app::api::GetMySteamConnections>(&[]).await;
    assert_eq!(offered, json!([]));
    let (status, _) = app
        .call::<app::api::LinkSteamConnection>(&[("steam_id", "76561197960287933")])
        .await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
}

#[sqlx::test(migrator = "guildhall::db::MIGRATOR")]
async fn sign_in_returns_to_a_local_next_path_only(pool: PgPool) {
    let app = start(pool, Options::default()).await;
    let (callback, _) = app.start_login(Some("/kpi?range=30d")).await;
    let response = app.browser.get(callback).send().await.expect("callback");
    assert_eq!(response.status(), StatusCode::SEE_OTHER);
    assert_eq!(response.headers()[header::LOCATION], "/kpi?range=30d");

    let (callback, _) = app.start_login(Some("//evil.example/steal")).await;
    let response = app.browser.get(callback).send().await.expect("callback");
    assert_eq!(response.headers()[header::LOCATION], "/");
}

#[sqlx::test(migrator = "guildhall::db::MIGRATOR")]
async fn an_existing_role_is_kept_at_sign_in(pool: PgPool) {
    sqlx::query(
        "insert into app.users (discord_user_id, username, role) values ($1, 'old-name', 'leader')",
    )
    .bind(DISCORD_ID)
    .execute(&pool)
    .await
    .expect("existing leader");
    let app = start(pool, Options::default()).await;
    app.sign_in_with_discord().await;
    assert_eq!(app.role_of(DISCORD_ID).await.as_deref(), Some("leader"));
    assert_eq!(app.me().await["role"], json!("leader"));
    assert_eq!(app.user_count().await, 1);
}

#[sqlx::test(migrator = "guildhall::db::MIGRATOR")]
async fn a_configured_admin_becomes_admin(pool: PgPool) {
    let other_admin = 555_000_000_000_000_001;
    // A member who is later named an admin in the configuration.
    sqlx::query(
        "insert into app.users (discord_user_id, username, role) values ($1, 'ada', 'member')",
    )
    .bind(DISCORD_ID)
    .execute(&pool)
    .await
    .expect("existing member");
    let app = start(
        pool,
        Options {
            admin_ids: vec![DISCORD_ID, other_admin],
            ..Options::default()
        },
    )
    .await;
    // Bootstrap ran at start: the member is promoted, the unknown id has a placeholder.
    assert_eq!(app.role_of(DISCORD_ID).await.as_deref(), Some("admin"));
    let placeholder: (String, String) =
        sqlx::query_as("select username, role from app.users where discord_user_id = $1")
            .bind(other_admin)
            .fetch_one(&app.pool)
            .await
            .expect("placeholder admin");
    assert_eq!(placeholder, (other_admin.to_string(), "admin".to_owned()));
    // Running it again changes nothing.
    guildhall::auth::bootstrap_roles(&app.pool, &[DISCORD_ID, other_admin], &[])
        .await
        .expect("idempotent");
    assert_eq!(app.user_count().await, 2);

    // Someone demoted in the database is an admin again when signing in.
    sqlx::query("update app.users set role = 'member' where discord_user_id = $1")
        .bind(DISCORD_ID)
        .execute(&app.pool)
        .await
        .expect("demote");
    app.sign_in_with_discord().await;
    assert_eq!(app.role_of(DISCORD_ID).await.as_deref(), Some("admin"));
    assert_eq!(app.me().await["role"], json!("admin"));

    // And the placeholder user takes the real name at their first sign-in.
    app.get("/auth/logout").await;
    app.provider.set_user_id(other_admin);
    app.sign_in_with_discord().await;
    let me = app.me().await;
    assert_eq!(me["discord_user_id"], json!(other_admin));
    assert_eq!(me["role"], json!("admin"));
    assert_eq!(me["name"], json!("Ada Lovelace"));
}

#[sqlx::test(migrator = "guildhall::db::MIGRATOR")]
async fn a_wrong_or_missing_state_is_refused(pool: PgPool) {
    let app = start(pool, Options::default()).await;

    // A callback nobody started in this browser.
    let response = app.get("/auth/callback?code=abc&state=forged").await;
    assert_error_page(response, StatusCode::BAD_REQUEST, "invalid or has expired").await;

    // A started login, but the state was tampered with.
    let (callback, _) = app.start_login(None).await;
    let response = app
        .browser
        .get(with_state(&callback, "forged-state"))
        .send()
        .await
        .expect("callback");
    let body = assert_error_page(response, StatusCode::BAD_REQUEST, "invalid or has expired").await;
    assert!(body.contains("Sign in again"), "{body}");

    // The state is single-use: the failed attempt consumed it.
    let response = app
        .browser
        .get(callback)
        .send()
        .await
        .expect("replayed callback");
    assert_error_page(response, StatusCode::BAD_REQUEST, "invalid or has expired").await;

    // No state at all.
    app.start_login(None).await;
    let response = app.get("/auth/callback?code=abc").await;
    assert_error_page(response, StatusCode::BAD_REQUEST, "invalid or has expired").await;

    assert_eq!(app.provider.exchanges(), 0, "no code was exchanged");
    assert_eq!(app.user_count().await, 0);
    assert_eq!(app.me().await, Value::Null);
}

#[sqlx::test(migrator = "guildhall::db::MIGRATOR")]
async fn a_declined_consent_signs_nobody_in(pool: PgPool) {
    let app = start(pool, Options::default()).await;
    let (callback, _) = app.start_login(None).await;
    let state = callback
        .query_pairs()
        .find(|(k, _)| k == "state")
        .map(|(_, v)| v.into_owned())
        .expect("state");
    let response = app
        .get(&format!(
            "/auth/callback?error=access_denied&error_description={}&state={}",
            urlencode("The resource owner or authorization server denied the request <b>"),
            urlencode(&state)
        ))
        .await;
    let body = assert_error_page(response, StatusCode::FORBIDDEN, "cancelled the sign-in").await;
    assert!(
        !body.contains("resource owner"),
        "Discord's text is logged, not shown: {body}"
    );

    // The code from before cannot be used after the refusal either.
    let response = app.browser.get(callback).send().await.expect("callback");
    assert_eq!(response.status(), StatusCode::BAD_REQUEST);

    assert_eq!(app.user_count().await, 0);
    assert_eq!(app.me().await, Value::Null);
}

#[sqlx::test(migrator = "guildhall::db::MIGRATOR")]
async fn a_failing_token_endpoint_shows_502(pool: PgPool) {
    let app = start(pool, Options::default()).await;
    for failure in [StatusCode::INTERNAL_SERVER_ERROR, StatusCode::BAD_REQUEST] {
        app.provider.fail_token_endpoint(failure);
        let (callback, _) = app.start_login(None).await;
        let response = app.browser.get(callback).send().await.expect("callback");
        let body =
            assert_error_page(response, StatusCode::BAD_GATEWAY, "Discord did not confirm").await;
        assert!(!body.contains("server_error"), "{body}");
        assert!(!body.contains(CLIENT_SECRET), "{body}");
    }
    assert_eq!(app.user_count().await, 0);
    assert_eq!(app.me().await, Value::Null);
}

#[sqlx::test(migrator = "guildhall::db::MIGRATOR")]
async fn login_without_discord_configuration_explains_what_is_missing(pool: PgPool) {
    let app = start(
        pool.clone(),
        Options {
            discord: false,
            ..Options::default()
        },
    )
    .await;
    let response = app.get("/auth/login").await;
    let body = assert_error_page(
        response,
        StatusCode::SERVICE_UNAVAILABLE,
        "DISCORD_CLIENT_ID",
    )
    .await;
    assert!(!body.contains("/auth/demo"), "{body}");

    let demo = start(
        pool,
        Options {
            discord: false,
            demo: true,
            ..Options::default()
        },
    )
    .await;
    let response = demo.get("/auth/login").await;
    let body = assert_error_page(
        response,
        StatusCode::SERVICE_UNAVAILABLE,
        "DISCORD_CLIENT_SECRET",
    )
    .await;
    assert!(body.contains("/auth/demo?role=admin"), "{body}");
}

// ---------------------------------------------------------------------------------------
// Permissions.

#[sqlx::test(migrator = "guildhall::db::MIGRATOR")]
async fn admin_functions_and_pages_refuse_everyone_but_admins(pool: PgPool) {
    sqlx::query("insert into app.discord_guilds (guild_id, name) values (42, 'Test Guild') on conflict do nothing")
        .execute(&pool)
        .await
        .expect("a tracked guild");
    let app = start_demo(pool).await;
    let afk_form: &[(&str, &str)] = &[
        ("guild_id", "42"),
        ("channel_id", "7"),
        ("whole_history", "false"),
    ];

    // Anonymous: 401 everywhere.
    assert_eq!(
        app.call::<app::api::GetAdminOverview>(&[]).await.0,
        StatusCode::UNAUTHORIZED
    );
    assert_eq!(
        app.call::<app::api::MarkAfkChannel>(afk_form).await.0,
        StatusCode::UNAUTHORIZED
    );
    assert_eq!(app.get("/admin").await.status(), StatusCode::UNAUTHORIZED);
    assert_eq!(
        app.get("/admin/settings").await.status(),
        StatusCode::UNAUTHORIZED
    );

    // Member and leader: 403 from every admin function and page.
    for role in ["member", "leader"] {
        app.sign_in_demo(role).await;
        assert_eq!(app.me().await["role"], json!(role));
        assert_eq!(
            app.call::<app::api::GetAdminOverview>(&[]).await.0,
            StatusCode::FORBIDDEN,
            "{role}"
        );
        assert_eq!(
            app.call::<app::api::MarkAfkChannel>(afk_form).await.0,
            StatusCode::FORBIDDEN,
            "{role}"
        );
        let response = app.get("/admin").await;
        assert_error_page(response, StatusCode::FORBIDDEN, "not allowed").await;
    }
    let marked: Vec<i64> = sqlx::query_scalar("select channel_id from app.afk_channels")
        .fetch_all(&app.pool)
        .await
        .expect("marks");
    assert_eq!(marked, Vec::<i64>::new(), "refused calls changed nothing");

    // Admin: allowed, and sees what the database refused.
    sqlx::query(
        "insert into bronze.rejected_records (source, payload, error)
         values ('discord_voice', '{}', 'first'), ('discord_voice', '{}', 'latest')",
    )
    .execute(&app.pool)
    .await
    .expect("rejected records");
    app.sign_in_demo("admin").await;
    let (status, overview) = app.call::<app::api::GetAdminOverview>(&[]).await;
    assert_eq!(status, StatusCode::OK, "{overview}");
    assert_eq!(overview["guilds"][0]["guild_id"], json!(42));
    assert_eq!(overview["rejected"][0]["source"], json!("discord_voice"));
    assert_eq!(overview["rejected"][0]["count"], json!(2));
    assert_eq!(overview["rejected"][0]["last_error"], json!("latest"));
    assert_eq!(overview["spool_backlog"], json!([]));
    // Records waiting in the spool show as the source's backlog.
    let spool_dir = &app.spool_dir;
    std::fs::create_dir_all(spool_dir).expect("spool dir");
    std::fs::write(spool_dir.join("discord_voice.spool"), "{}\n{}\n{}\n").expect("spool");
    let (_, overview) = app.call::<app::api::GetAdminOverview>(&[]).await;
    assert_eq!(overview["spool_backlog"], json!([["discord_voice", 3]]));
    std::fs::remove_dir_all(spool_dir).ok();
    let (status, body) = app.call::<app::api::MarkAfkChannel>(afk_form).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    let marked: Vec<i64> = sqlx::query_scalar("select channel_id from app.afk_channels")
        .fetch_all(&app.pool)
        .await
        .expect("marks");
    assert_eq!(marked, vec![7]);
    let response = app.get("/admin").await;
    assert_eq!(response.status(), StatusCode::OK, "the admin sees /admin");
    let page = response.text().await.expect("admin page");
    assert!(
        page.contains("Test Guild"),
        "the admin page lists the guilds: {page}"
    );
}

// ---------------------------------------------------------------------------------------
// Roles granted on the admin page, and the audit log.

/// The `app.users.id` of a Discord user.
async fn user_id_of(pool: &PgPool, discord_user_id: i64) -> String {
    let id: i64 = sqlx::query_scalar("select id from app.users where discord_user_id = $1")
        .bind(discord_user_id)
        .fetch_one(pool)
        .await
        .expect("the user exists");
    id.to_string()
}

/// `(actor, action, subject, before, after)` of every audit entry, oldest first.
async fn audit_entries(pool: &PgPool) -> Vec<(String, String, String, Value, Value)> {
    sqlx::query_as(
        "select actor_name, action, subject, before, after from app.audit_log order by id",
    )
    .fetch_all(pool)
    .await
    .expect("audit log")
}

#[sqlx::test(migrator = "guildhall::db::MIGRATOR")]
async fn an_admin_grants_and_revokes_leader_and_every_change_is_in_the_audit_log(pool: PgPool) {
    let app = start(pool, Options::default()).await;
    // Ada signs in with Discord and is a member.
    app.sign_in_with_discord().await;
    assert_eq!(app.me().await["role"], json!("member"));
    app.browser
        .post(app.url("/auth/logout"))
        .send()
        .await
        .expect("logout");
    // An admin makes her a leader, then an admin.
    let admin_app = start(
        app.pool.clone(),
        Options {
            demo: true,
            ..Options::default()
        },
    )
    .await;
    admin_app.sign_in_demo("admin").await;
    let ada = user_id_of(&app.pool, DISCORD_ID).await;
    for role in ["leader", "admin", "member"] {
        let (status, body) = admin_app
            .call::<app::api::SetUserRole>(&[("user_id", &ada), ("role", role)])
            .await;
        assert_eq!(status, StatusCode::OK, "{role}: {body}");
        assert_eq!(app.role_of(DISCORD_ID).await.as_deref(), Some(role));
    }
    // Setting the role she has changes nothing and logs nothing.
    let (status, _) = admin_app
        .call::<app::api::SetUserRole>(&[("user_id", &ada), ("role", "member")])
        .await;
    assert_eq!(status, StatusCode::OK);
    let subject = format!("user {DISCORD_ID} (Ada Lovelace)");
    assert_eq!(
        audit_entries(&app.pool).await,
        vec![
            (
                "Demo Admin".into(),
                "user.role".into(),
                subject.clone(),
                json!({"role": "member"}),
                json!({"role": "leader"})
            ),
            (
                "Demo Admin".into(),
                "user.role".into(),
                subject.clone(),
                json!({"role": "leader"}),
                json!({"role": "admin"})
            ),
            (
                "Demo Admin".into(),
                "user.role".into(),
                subject,
                json!({"role": "admin"}),
                json!({"role": "member"})
            ),
        ]
    );
    // The admin page shows the people and the log.
    let (status, overview) = admin_app.call::<app::api::GetAdminOverview>(&[]).await;
    assert_eq!(status, StatusCode::OK, "{overview}");
    assert_eq!(overview["audit_log"][0]["action"], json!("user.role"));
    assert_eq!(
        overview["audit_log"][0]["after"],
        json!("{\"role\": \"member\"}")
    );
    let ada_row = overview["users"]
        .as_array()
        .expect("users")
        .iter()
        .find(|user| user["discord_user_id"] == json!(DISCORD_ID))
        .expect("Ada is listed");
    assert_eq!(ada_row["role"], json!("member"));
    // A leader may not change roles.
    admin_app.sign_in_demo("leader").await;
    let (status, _) = admin_app
        .call::<app::api::SetUserRole>(&[("user_id", &ada), ("role", "admin")])
        .await;
    assert_eq!(status, StatusCode::FORBIDDEN);
    assert_eq!(app.role_of(DISCORD_ID).await.as_deref(), Some("member"));
}

#[sqlx::test(migrator = "guildhall::db::MIGRATOR")]
async fn the_last_admin_cannot_be_removed(pool: PgPool) {
    let app = start_demo(pool).await;
    app.sign_in_demo("admin").await;
    let (demo_admin, _) = guildhall::auth::demo::demo_user(app::model::Role::Admin);
    let me = user_id_of(&app.pool, demo_admin).await;
    let (status, body) = app
        .call::<app::api::SetUserRole>(&[("user_id", &me), ("role", "leader")])
        .await;
    assert_eq!(status, StatusCode::CONFLICT, "{body}");
    assert_eq!(body, json!({"Refused": "LastAdmin"}));
    assert_eq!(app.role_of(demo_admin).await.as_deref(), Some("admin"));
    assert!(audit_entries(&app.pool).await.is_empty());

    // With a second admin, the first may step down.
    sqlx::query(
        "insert into app.users (discord_user_id, username, role) values (77, 'second', 'admin')",
    )
    .execute(&app.pool)
    .await
    .expect("second admin");
    let (status, body) = app
        .call::<app::api::SetUserRole>(&[("user_id", &me), ("role", "leader")])
        .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!(app.role_of(demo_admin).await.as_deref(), Some("leader"));
}

#[sqlx::test(migrator = "guildhall::db::MIGRATOR")]
async fn configured_roles_are_given_at_start_and_sign_in_and_cannot_be_lowered_on_the_page(
    pool: PgPool,
) {
    let configured_admin = 555_000_000_000_000_002;
    let app = start(
        pool,
        Options {
            demo: true,
            admin_ids: vec![configured_admin],
            leader_ids: vec![DISCORD_ID],
            ..Options::default()
        },
    )
    .await;
    // GUILDHALL_LEADER_IDS: Ada is a leader before and after her first sign-in.
    assert_eq!(app.role_of(DISCORD_ID).await.as_deref(), Some("leader"));
    app.sign_in_with_discord().await;
    assert_eq!(app.me().await["role"], json!("leader"));
    // Start-up wrote both raises into the audit log.
    let entries = audit_entries(&app.pool).await;
    assert_eq!(entries.len(), 2, "{entries:?}");
    assert_eq!(entries[0].0, "configuration (GUILDHALL_ADMIN_IDS)");
    assert_eq!(entries[1].0, "configuration (GUILDHALL_LEADER_IDS)");
    assert_eq!(entries[1].4, json!({"role": "leader"}));

    app.sign_in_demo("admin").await;
    let ada = user_id_of(&app.pool, DISCORD_ID).await;
    let (status, body) = app
        .call::<app::api::SetUserRole>(&[("user_id", &ada), ("role", "member")])
        .await;
    assert_eq!(status, StatusCode::CONFLICT);
    assert_eq!(body, json!({"Refused": "ConfiguredLeader"}));
    let configured = user_id_of(&app.pool, configured_admin).await;
    let (status, body) = app
        .call::<app::api::SetUserRole>(&[("user_id", &configured), ("role", "leader")])
        .await;
    assert_eq!(status, StatusCode::CONFLICT);
    assert_eq!(body, json!({"Refused": "ConfiguredAdmin"}));
    // Raising a configured leader to admin is fine, and a later sign-in keeps it.
    let (status, _) = app
        .call::<app::api::SetUserRole>(&[("user_id", &ada), ("role", "admin")])
        .await;
    assert_eq!(status, StatusCode::OK);
    app.sign_in_with_discord().await;
    assert_eq!(app.me().await["role"], json!("admin"));
}

#[sqlx::test(migrator = "guildhall::db::MIGRATOR")]
async fn afk_marks_apply_from_now_or_to_all_of_history_and_are_audited(pool: PgPool) {
    sqlx::query("insert into app.discord_guilds (guild_id, name) values (42, 'Test Guild') on conflict do nothing")
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
    let marks: Vec<(i64, bool, bool)> = sqlx::query_as(
        "select channel_id, valid_from = '-infinity', valid_to is null from app.afk_channels order by id",
    )
    .fetch_all(&app.pool)
    .await
    .expect("marks");
    assert_eq!(marks, vec![(7, false, true), (8, true, true)]);
    let (_, overview) = app.call::<app::api::GetAdminOverview>(&[]).await;
    let listed: Vec<(i64, bool)> = overview["guilds"][0]["marked_afk"]
        .as_array()
        .expect("marks")
        .iter()
        .map(|m| (m["channel_id"].as_i64().expect("id"), m["since"].is_null()))
        .collect();
    assert_eq!(listed, vec![(7, false), (8, true)]);

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
    let marks: Vec<(i64, bool, bool)> = sqlx::query_as(
        "select channel_id, valid_from = '-infinity', valid_to is not null from app.afk_channels order by id",
    )
    .fetch_all(&app.pool)
    .await
    .expect("marks");
    assert_eq!(
        marks,
        vec![(8, true, true)],
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

// ---------------------------------------------------------------------------------------
// Permission by construction: every server function and page, for every role.

/// Who gets through. `Open`: everyone; otherwise the lowest role allowed.
#[derive(Clone, Copy, Debug, PartialEq)]
enum Allowed {
    Everyone,
    AtLeast(&'static str),
}

/// The declared permission of every server function, with arguments that pass validation.
/// A server function missing here fails the test below: add it with its permission.
fn server_function_permission(path: &str) -> (Allowed, Vec<(&'static str, &'static str)>) {
    use app::api::*;
    let member = Allowed::AtLeast("member");
    let leader = Allowed::AtLeast("leader");
    let admin = Allowed::AtLeast("admin");
    match path {
        p if p == GetMe::PATH => (Allowed::Everyone, vec![]),
        p if p == GetMyActivity::PATH => (member, vec![]),
        p if p == GetMyAccounts::PATH => (member, vec![]),
        p if p == NewLinkCode::PATH => (member, vec![]),
        p if p == GetMyPrivacy::PATH => (member, vec![]),
        p if p == SetMeHidden::PATH => (member, vec![("hidden", "false")]),
        // Unconfirmed: allowed roles get past the check and are refused for that.
        p if p == OptMeOut::PATH => (member, vec![("confirmed", "false")]),
        p if p == DeleteMyAccount::PATH => (member, vec![("confirmed", "false")]),
        p if p == GetMySteamConnections::PATH => (member, vec![]),
        p if p == LinkSteamConnection::PATH => (member, vec![("steam_id", "76561197960265729")]),
        p if p == UnlinkMyAccount::PATH => (
            member,
            vec![("kind", "steam"), ("external_id", "76561197960265729")],
        ),
        p if p == GetDailyActiveUsers::PATH => {
            (leader, vec![("from", "2026-11-01"), ("to", "2026-11-07")])
        }
        p if p == GetAdminOverview::PATH => (admin, vec![]),
        p if p == GetRetentionCohorts::PATH => (leader, vec![]),
        p if p == GetMemberGrowth::PATH => (leader, vec![("weeks", "26")]),
        p if p == GetFunnel::PATH => (leader, vec![]),
        p if p == SearchPersons::PATH => (admin, vec![("query", "ab")]),
        p if p == AdminLinkIdentity::PATH => (
            admin,
            vec![
                ("person_id", "999999"),
                ("kind", "steam"),
                ("external_id", "1"),
            ],
        ),
        p if p == AdminUnlinkIdentity::PATH => {
            (admin, vec![("kind", "steam"), ("external_id", "1")])
        }
        p if p == MergePersons::PATH => (admin, vec![("into", "999998"), ("from", "999999")]),
        p if p == GetIdentityReview::PATH => (admin, vec![("days", "90")]),
        p if p == SplitPerson::PATH => (
            admin,
            vec![("person_id", "999999"), ("accounts[0]", "steam:1")],
        ),
        p if p == GetEvents::PATH => (leader, vec![("past", "50")]),
        p if p == GetServerUtilization::PATH => (leader, vec![("days", "30")]),
        p if p == GetDiscordSettings::PATH => (admin, vec![]),
        p if p == SetGuildTracking::PATH => (admin, vec![("guild_id", "999"), ("tracked", "true")]),
        p if p == SetRoleMapping::PATH => (
            admin,
            vec![("guild_id", "42"), ("role_id", "7"), ("app_role", "none")],
        ),
        p if p == SetInviteLabel::PATH => (
            admin,
            vec![("guild_id", "42"), ("code", "abc"), ("label", "")],
        ),
        p if p == ExcludeChannel::PATH => (admin, vec![("guild_id", "42"), ("channel_id", "7")]),
        p if p == IncludeChannel::PATH => (admin, vec![("guild_id", "42"), ("channel_id", "8")]),
        p if p == SetUserRole::PATH => (admin, vec![("user_id", "999999"), ("role", "leader")]),
        p if p == MarkAfkChannel::PATH => (
            admin,
            vec![
                ("guild_id", "42"),
                ("channel_id", "7"),
                ("whole_history", "false"),
            ],
        ),
        p if p == UnmarkAfkChannel::PATH => {
            (admin, vec![("id", "999999"), ("whole_history", "false")])
        }
        other => panic!(
            "the server function {other} has no declared permission in this test: add it with the role it needs"
        ),
    }
}

fn rank(role: &str) -> u8 {
    match role {
        "member" => 1,
        "leader" => 2,
        "admin" => 3,
        _ => 0,
    }
}

#[sqlx::test(migrator = "guildhall::db::MIGRATOR")]
async fn every_server_function_and_page_allows_exactly_the_roles_it_declares(pool: PgPool) {
    sqlx::query("insert into app.discord_guilds (guild_id, name) values (42, 'Test Guild') on conflict do nothing")
        .execute(&pool)
        .await
        .expect("a tracked guild");
    let app = start_demo(pool).await;
    let mut paths: Vec<&'static str> = leptos::server_fn::axum::server_fn_paths()
        .map(|(path, _)| path)
        .collect();
    paths.sort_unstable();
    paths.dedup();
    assert!(
        paths.len() >= 7,
        "server functions were not registered: {paths:?}"
    );
    let pages: [(&str, Allowed); 20] = [
        ("/", Allowed::Everyone),
        ("/me", Allowed::Everyone),
        ("/me/export.json", Allowed::AtLeast("member")),
        ("/retention", Allowed::AtLeast("leader")),
        ("/members", Allowed::AtLeast("leader")),
        ("/events", Allowed::AtLeast("leader")),
        ("/servers", Allowed::AtLeast("leader")),
        ("/export/server_utilization.csv", Allowed::AtLeast("leader")),
        (
            "/export/server_weekly_profile.csv",
            Allowed::AtLeast("leader"),
        ),
        ("/export/server_daily.csv", Allowed::AtLeast("leader")),
        ("/export/game_sessions.csv", Allowed::AtLeast("leader")),
        ("/export/event_attendance.csv", Allowed::AtLeast("leader")),
        ("/export/member_sources.csv", Allowed::AtLeast("leader")),
        (
            "/export/member_source_retention.csv",
            Allowed::AtLeast("leader"),
        ),
        ("/export/retention_cohorts.csv", Allowed::AtLeast("leader")),
        ("/export/daily_active_users.csv", Allowed::AtLeast("leader")),
        (
            "/export/discord_comparable_daily.csv",
            Allowed::AtLeast("leader"),
        ),
        (
            "/export/member_growth_weekly.csv",
            Allowed::AtLeast("leader"),
        ),
        ("/export/leavers.csv", Allowed::AtLeast("leader")),
        ("/admin", Allowed::AtLeast("admin")),
    ];

    for visitor in ["anonymous", "member", "leader", "admin"] {
        if visitor == "anonymous" {
            app.browser
                .post(app.url("/auth/logout"))
                .send()
                .await
                .expect("logout");
        } else {
            app.sign_in_demo(visitor).await;
        }
        for path in &paths {
            let (allowed, form) = server_function_permission(path);
            let (status, body) = app.call_with(&app.browser, path, &form).await;
            let expected_through = match allowed {
                Allowed::Everyone => true,
                Allowed::AtLeast(role) => rank(visitor) >= rank(role),
            };
            if expected_through {
                assert!(
                    status != StatusCode::UNAUTHORIZED && status != StatusCode::FORBIDDEN,
                    "{visitor} must get through {path}: {status} {body}"
                );
            } else {
                let refusal = if visitor == "anonymous" {
                    StatusCode::UNAUTHORIZED
                } else {
                    StatusCode::FORBIDDEN
                };
                assert_eq!(status, refusal, "{visitor} must be refused {path}: {body}");
            }
        }
        for (page, allowed) in pages {
            let status = app.get(page).await.status();
            let through = match allowed {
                Allowed::Everyone => true,
                Allowed::AtLeast(role) => rank(visitor) >= rank(role),
            };
            if through {
                assert_eq!(status, StatusCode::OK, "{visitor} must see {page}");
            } else {
                assert!(
                    status == StatusCode::UNAUTHORIZED || status == StatusCode::FORBIDDEN,
                    "{visitor} must be refused {page}: {status}"
                );
            }
        }
    }
    // Nothing a refused call sent changed anything.
    let marks: i64 = sqlx::query_scalar("select count(*) from app.afk_channels")
        .fetch_one(&app.pool)
        .await
        .expect("marks");
    assert_eq!(marks, 1, "only the admin's call marked a channel");
}

#[sqlx::test(migrator = "guildhall::db::MIGRATOR")]
async fn the_funnel_counts_each_step_only_after_the_step_before(pool: PgPool) {
    // Three members joined in October (Berlin): Ana linked, played and came on four days of
    // a month; Ben linked but never played; Cem did nothing more. One joined in November
    // and played on an account nobody linked, which is not their step.
    sqlx::raw_sql(
        "insert into silver.dim_user (person_id) overriding system value values (1), (2), (3), (4), (5);
         insert into silver.dim_members (guild_id, discord_user_id, first_joined_at, is_member) values
             (42, 11, '2026-10-03T10:00:00Z', true), (42, 12, '2026-10-20T10:00:00Z', true),
             (42, 13, '2026-10-31T22:30:00Z', true), (42, 14, '2026-11-02T10:00:00Z', true);
         insert into silver.user_identities (kind, external_id, person_id, verified_by) values
             ('discord', '11', 1, 'observed'), ('steam', '765', 1, 'ingame_code'),
             ('discord', '12', 2, 'observed'), ('minecraft', 'ben', 2, 'ingame_code'),
             ('discord', '13', 3, 'observed'), ('discord', '14', 4, 'observed'),
             ('steam', '999', 5, 'observed');
         insert into app.game_servers (server_id, name, game, host, ingest_token)
             overriding system value values (5, 'cs', 'cs2', 'h', repeat('x', 32));
         insert into silver.fact_game_sessions
             (server_id, player_key, started_at, ended_at, account_kind, account_id, person_id, source)
         values (5, 'steam:765', '2026-10-05T18:00:00Z', '2026-10-05T19:00:00Z', 'steam', '765', 1, 'log'),
                (5, 'steam:999', '2026-11-05T18:00:00Z', '2026-11-05T19:00:00Z', 'steam', '999', 5, 'log');
         insert into silver.activity_daily (day, account_kind, account_id, person_id, voice_seconds) values
             ('2026-10-05', 'discord', '11', 1, 600), ('2026-10-06', 'discord', '11', 1, 600),
             ('2026-10-07', 'discord', '11', 1, 600), ('2026-10-08', 'discord', '11', 1, 600),
             ('2026-10-21', 'discord', '12', 2, 600), ('2026-10-22', 'discord', '12', 2, 600),
             ('2026-10-23', 'discord', '12', 2, 600), ('2026-11-24', 'discord', '12', 2, 600);",
    )
    .execute(&pool)
    .await
    .expect("community");
    // The page reads what the pipeline keeps.
    run_job(&pool, JobName::Funnel).await;
    let app = start_demo(pool).await;
    app.sign_in_demo("leader").await;
    let (status, funnel) = app.call::<app::api::GetFunnel>(&[]).await;
    assert_eq!(status, StatusCode::OK, "{funnel}");
    // Cem joined at 23:30 Berlin time on 31 October: October.
    assert_eq!(
        funnel,
        json!([
            {"month": "2026-10-01", "joined": 3, "linked": 2, "played": 1, "regular": 1},
            {"month": "2026-11-01", "joined": 1, "linked": 0, "played": 0, "regular": 0},
        ])
    );
}

// ---------------------------------------------------------------------------------------
// Demo login and logout.

#[sqlx::test(migrator = "guildhall::db::MIGRATOR")]
async fn demo_login_is_not_found_outside_demo_mode(pool: PgPool) {
    let app = start(pool, Options::default()).await;
    let response = app.get("/auth/demo?role=admin").await;
    assert_eq!(response.status(), StatusCode::NOT_FOUND);
    assert_eq!(app.user_count().await, 0);
    assert_eq!(app.me().await, Value::Null);
}

#[sqlx::test(migrator = "guildhall::db::MIGRATOR")]
async fn demo_login_signs_in_with_the_requested_role(pool: PgPool) {
    let app = start(
        pool,
        Options {
            discord: false,
            demo: true,
            ..Options::default()
        },
    )
    .await;
    for (role, name) in [
        ("leader", "Demo Leader"),
        ("admin", "Demo Admin"),
        ("member", "Demo Member"),
    ] {
        let before = app.session_cookie();
        app.sign_in_demo(role).await;
        let after = app.session_cookie();
        assert!(after.is_some());
        assert_ne!(before, after, "the session id is renewed");
        let me = app.me().await;
        assert_eq!(me["role"], json!(role));
        assert_eq!(me["name"], json!(name));
    }
    assert_eq!(app.user_count().await, 3);

    let response = app.get("/auth/demo?role=leader&next=/kpi").await;
    assert_eq!(response.headers()[header::LOCATION], "/kpi");
    let response = app.get("/auth/demo?role=owner").await;
    assert_eq!(response.status(), StatusCode::BAD_REQUEST);
    assert_eq!(app.me().await["role"], json!("leader"));
    // An outsider (not a member of the guild, whose member list the bot has read) gets the
    // refusal a Discord sign-in gets, and signs nobody in.
    let response = app.get("/auth/demo?role=outsider").await;
    assert_eq!(response.status(), StatusCode::FORBIDDEN);
    let body = response.text().await.expect("body");
    assert!(body.contains("is not a member"), "{body}");
    assert_eq!(app.user_count().await, 3);
}

#[sqlx::test(migrator = "guildhall::db::MIGRATOR")]
async fn logout_ends_the_session(pool: PgPool) {
    let app = start(pool, Options::default()).await;
    let (_, signed_in) = app.sign_in_with_discord().await;
    assert_eq!(app.me().await["role"], json!("member"));

    let response = app
        .browser
        .post(app.url("/auth/logout"))
        .send()
        .await
        .expect("logout");
    assert_eq!(response.status(), StatusCode::SEE_OTHER);
    assert_eq!(response.headers()[header::LOCATION], "/");
    assert_eq!(app.me().await, Value::Null);

    // The old session cookie is dead on the server too.
    let sessions: i64 = sqlx::query_scalar("select count(*) from app.sessions where id = $1")
        .bind(&signed_in)
        .fetch_one(&app.pool)
        .await
        .expect("sessions");
    assert_eq!(sessions, 0);
    assert_eq!(app.me_with_cookie(&signed_in).await, Value::Null);

    // A cross-site GET (an image, a link) cannot sign anyone out.
    app.sign_in_with_discord().await;
    let response = app.get("/auth/logout").await;
    assert_eq!(response.status(), StatusCode::METHOD_NOT_ALLOWED);
    assert_eq!(app.me().await["role"], json!("member"));
}

// ---------------------------------------------------------------------------------------
// A member's own page.

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
async fn only_members_of_a_tracked_guild_and_configured_admins_can_sign_in(pool: PgPool) {
    // Nobody's membership is known yet: the page says the member list is missing.
    let app = start(
        pool,
        Options {
            member: false,
            ..Options::default()
        },
    )
    .await;
    let (callback, _) = app.start_login(None).await;
    let response = app.browser.get(callback).send().await.expect("callback");
    assert_error_page(
        response,
        StatusCode::SERVICE_UNAVAILABLE,
        "does not know the members",
    )
    .await;
    assert_eq!(app.user_count().await, 0);

    // Someone else is a member, Ada is not: refused, with the reason.
    record_membership(&app.pool, 999, "join", "2026-01-01T10:00:00Z").await;
    let (callback, _) = app.start_login(None).await;
    let response = app.browser.get(callback).send().await.expect("callback");
    assert_error_page(response, StatusCode::FORBIDDEN, "not a member").await;
    assert_eq!(app.user_count().await, 0);

    // Ada joins: she can sign in.
    record_membership(&app.pool, DISCORD_ID, "join", "2026-02-01T10:00:00Z").await;
    app.sign_in_with_discord().await;
    assert_eq!(app.me().await["role"], json!("member"));

    // Ada leaves: refused again.
    app.get("/auth/logout").await;
    record_membership(&app.pool, DISCORD_ID, "leave", "2026-03-01T10:00:00Z").await;
    let (callback, _) = app.start_login(None).await;
    let response = app.browser.get(callback).send().await.expect("callback");
    assert_error_page(response, StatusCode::FORBIDDEN, "not a member").await;
}

#[sqlx::test(migrator = "guildhall::db::MIGRATOR")]
async fn a_configured_admin_signs_in_without_being_a_member(pool: PgPool) {
    let app = start(
        pool,
        Options {
            member: false,
            admin_ids: vec![DISCORD_ID],
            ..Options::default()
        },
    )
    .await;
    app.sign_in_with_discord().await;
    assert_eq!(app.me().await["role"], json!("admin"));
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

#[sqlx::test(migrator = "guildhall::db::MIGRATOR")]
async fn an_admin_excludes_a_channel_and_records_it_again_and_both_are_audited(pool: PgPool) {
    sqlx::query("insert into app.discord_guilds (guild_id, name) values (42, 'Test Guild') on conflict do nothing")
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

#[sqlx::test(migrator = "guildhall::db::MIGRATOR")]
async fn a_mapped_discord_role_applies_at_sign_in_and_when_the_roles_change(pool: PgPool) {
    // The bot recorded the guild's Officer role and Ada (a member) getting it.
    sqlx::query("insert into app.discord_guilds (guild_id, name) values (42, 'Test Guild') on conflict do nothing")
        .execute(&pool)
        .await
        .expect("guild");
    sqlx::query(
        "insert into app.discord_roles (guild_id, role_id, name) values (42, 7, 'Officer')",
    )
    .execute(&pool)
    .await
    .expect("role");
    sqlx::query(
        "insert into bronze.discord_member_events
             (source_key, guild_id, user_id, kind, joined_at, roles, observed_at)
         values ('ada-present', 42, $1, 'update', '2026-01-01T10:00:00Z', '{7}',
                 '2026-01-02T10:00:00Z')",
    )
    .bind(DISCORD_ID)
    .execute(&pool)
    .await
    .expect("membership with the role");
    let app = start_demo(pool).await;

    // An admin maps Officer to leader (an unknown role is refused).
    app.sign_in_demo("admin").await;
    let (status, body) = app
        .call::<app::api::SetRoleMapping>(&[
            ("guild_id", "42"),
            ("role_id", "8"),
            ("app_role", "leader"),
        ])
        .await;
    assert_eq!(status, StatusCode::BAD_REQUEST, "{body}");
    let (status, body) = app
        .call::<app::api::SetRoleMapping>(&[
            ("guild_id", "42"),
            ("role_id", "7"),
            ("app_role", "leader"),
        ])
        .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    let entries = audit_entries(&app.pool).await;
    let last = entries.last().expect("an audit entry");
    assert_eq!(
        (last.1.as_str(), last.2.as_str(), &last.3, &last.4),
        (
            "guild.role_mapping",
            "guild 42, role 7 (Officer)",
            &json!({ "app_role": null }),
            &json!({ "app_role": "leader" })
        )
    );
    app.browser
        .post(app.url("/auth/logout"))
        .send()
        .await
        .expect("logout");

    // Ada signs in: a leader through her Discord role; her own role stays member.
    app.sign_in_with_discord().await;
    assert_eq!(app.me().await["role"], json!("leader"));
    assert_eq!(app.role_of(DISCORD_ID).await.as_deref(), Some("member"));
    assert_eq!(app.get("/members").await.status(), StatusCode::OK);

    // Discord takes the role away; the members job applies it.
    sqlx::query(
        "insert into bronze.discord_member_events
             (source_key, guild_id, user_id, kind, joined_at, roles, observed_at)
         values ('ada-update', 42, $1, 'update', '2026-01-01T10:00:00Z', '{}',
                 '2026-02-01T10:00:00Z')",
    )
    .bind(DISCORD_ID)
    .execute(&app.pool)
    .await
    .expect("role removed");
    run_job(&app.pool, JobName::Members).await;
    assert_eq!(app.me().await["role"], json!("member"));
    assert_eq!(app.get("/members").await.status(), StatusCode::FORBIDDEN);
}

#[sqlx::test(migrator = "guildhall::db::MIGRATOR")]
async fn the_editor_suggests_owners_with_evidence_flags_contradicted_links_and_splits(
    pool: PgPool,
) {
    // Ten days ago (relative, so the window of 90 days always holds it): Mira was in voice
    // 18–21 h while the unowned Steam account xXMiraXx played 18:30–20:30; Jonas was in voice
    // 18–19 h. Ana's Minecraft account played alone. Jonas's linked Steam account was on two
    // servers at once; his linked Minecraft account played on five days he never came to
    // Discord. A hidden member named Mira is never offered.
    sqlx::raw_sql(
        "insert into silver.dim_user (person_id) overriding system value
             values (1), (2), (3), (4), (7);
         select setval(pg_get_serial_sequence('silver.dim_user', 'person_id'), 100);
         insert into app.users (discord_user_id, username, display_name) values
             (11, 'mira', 'Mira'), (12, 'jonas', 'Jonas'), (17, 'mira2', 'Mira');
         insert into silver.user_identities (kind, external_id, person_id, verified_by) values
             ('discord', '11', 1, 'observed'), ('discord', '12', 2, 'observed'),
             ('discord', '17', 7, 'observed'),
             ('steam', '76561197960000001', 3, 'observed'),
             ('minecraft', 'mc-ana', 4, 'observed'),
             ('steam', '76561197960000002', 2, 'ingame_code'),
             ('minecraft', 'mc-jonas', 2, 'admin');
         insert into app.hidden_persons (person_id) values (7);
         insert into app.game_servers (server_id, name, game, host, ingest_token)
             overriding system value values
             (5, 'cs', 'cs2', 'h', repeat('x', 32)), (6, 'cs-2', 'cs2', 'h', repeat('y', 32));
         create temporary table base as select date_trunc('day', now()) - interval '10 days' as at;
         insert into silver.fact_voice_sessions
             (guild_id, discord_user_id, started_at, ended_at, person_id, channel_id, is_afk)
         select 42, u, b.at + s, b.at + e, p, 1, false
         from base b, (values (11, 1, interval '18 hours', interval '21 hours'),
                              (17, 7, interval '18 hours', interval '21 hours'),
                              (12, 2, interval '18 hours', interval '19 hours')) v (u, p, s, e);
         insert into silver.fact_game_sessions
             (server_id, player_key, started_at, ended_at, account_kind, account_id, person_id,
              player_name, source)
         select sv, 'steam:' || id, b.at + s, b.at + e, k, id, p, n, 'log'
         from base b, (values
             (5, 'steam', '76561197960000001', 3, 'xXMiraXx', interval '18 hours 30 minutes', interval '20 hours 30 minutes'),
             (5, 'minecraft', 'mc-ana', 4, 'Ana', interval '2 days 10 hours', interval '2 days 12 hours'),
             (5, 'steam', '76561197960000002', 2, 'jonas', interval '1 day 20 hours', interval '1 day 22 hours'),
             (6, 'steam', '76561197960000002', 2, 'jonas', interval '1 day 21 hours', interval '1 day 23 hours')
         ) g (sv, k, id, p, n, s, e);
         insert into silver.activity_daily (day, account_kind, account_id, person_id, game_seconds, voice_seconds)
         select (b.at + d * interval '1 day')::date, 'minecraft', 'mc-jonas', 2, 3600, 0
         from base b, generate_series(1, 5) d
         union all
         select (b.at + interval '6 days')::date, 'discord', '12', 2, 0, 600 from base b;",
    )
    .execute(&pool)
    .await
    .expect("community");
    // The editor reads the review the pipeline keeps.
    run_job(&pool, JobName::PresenceHours).await;
    run_job(&pool, JobName::IdentityReview).await;
    let app = start_demo(pool).await;
    app.sign_in_demo("admin").await;

    let (status, review) = app
        .call::<app::api::GetIdentityReview>(&[("days", "90")])
        .await;
    assert_eq!(status, StatusCode::OK, "{review}");
    assert_eq!(
        review["suggestions"],
        json!([{
            "kind": "steam", "external_id": "76561197960000001", "player_name": "xXMiraXx",
            "played_hours": 3, "candidate_person": 1, "candidate_name": "Mira",
            "name_similarity": 0.75, "together_hours": 3, "score": 0.85,
        }])
    );
    let base: chrono::DateTime<chrono::Utc> =
        sqlx::query_scalar("select date_trunc('day', now()) - interval '10 days'")
            .fetch_one(&app.pool)
            .await
            .expect("base");
    let never_last = (base + chrono::Duration::days(5)).date_naive();
    assert_eq!(
        review["suspects"],
        json!([
            {
                "kind": "minecraft", "external_id": "mc-jonas", "player_name": null,
                "person_id": 2, "person_name": "Jonas", "verified_by": "admin",
                "reason": "never_online", "count": 5,
                "last_at": never_last.and_hms_opt(0, 0, 0).expect("midnight").and_utc(),
            },
            {
                "kind": "steam", "external_id": "76561197960000002", "player_name": "jonas",
                "person_id": 2, "person_name": "Jonas", "verified_by": "ingame_code",
                "reason": "two_servers", "count": 1,
                "last_at": base + chrono::Duration::hours(24 + 21),
            },
        ])
    );

    // Accepting the suggestion links the account; it is no longer suggested.
    let (status, body) = app
        .call::<app::api::AdminLinkIdentity>(&[
            ("person_id", "1"),
            ("kind", "steam"),
            ("external_id", "76561197960000001"),
        ])
        .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    let (_, review) = app
        .call::<app::api::GetIdentityReview>(&[("days", "90")])
        .await;
    assert_eq!(review["suggestions"], json!([]));

    // Split it off again: a new person with the account and its sessions; the last account
    // of a person cannot be split off, nor nothing at all.
    let (status, new_person) = app
        .call::<app::api::SplitPerson>(&[
            ("person_id", "1"),
            ("accounts[0]", "steam:76561197960000001"),
        ])
        .await;
    assert_eq!(status, StatusCode::OK, "{new_person}");
    let new_person = new_person.as_i64().expect("the new person");
    let moved: (i64, i64) = sqlx::query_as(
        "select (select person_id from silver.user_identities where external_id = '76561197960000001'),
                (select min(person_id) from silver.fact_game_sessions where account_id = '76561197960000001')",
    )
    .fetch_one(&app.pool)
    .await
    .expect("moved");
    assert_eq!(moved, (new_person, new_person));
    let (status, body) = app
        .call::<app::api::SplitPerson>(&[("person_id", "1"), ("accounts[0]", "discord:11")])
        .await;
    assert_eq!(status, StatusCode::BAD_REQUEST, "{body}");
    let (status, _) = app
        .call::<app::api::SplitPerson>(&[("person_id", "1")])
        .await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    let actions: Vec<String> = sqlx::query_scalar(
        "select action from app.audit_log where action like 'identity.%' order by id",
    )
    .fetch_all(&app.pool)
    .await
    .expect("audit");
    assert_eq!(actions, vec!["identity.link", "identity.split"]);

    // The search finds Mira and the split-off xXMiraXx, never the hidden member.
    let (_, found) = app
        .call::<app::api::SearchPersons>(&[("query", "mira")])
        .await;
    let ids: Vec<i64> = found
        .as_array()
        .expect("persons")
        .iter()
        .map(|p| p["person_id"].as_i64().expect("id"))
        .collect();
    assert_eq!(ids, vec![1, new_person]);
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

    app.sign_in_demo("admin").await;
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
    app.sign_in_demo("admin").await;
    let csv = app
        .get("/export/game_sessions.csv")
        .await
        .text()
        .await
        .expect("csv");
    assert!(csv.contains("AdaPlays"), "{csv}");
}

/// Runs one pipeline job now, in the demo community's time zone.
async fn run_job(pool: &PgPool, job: JobName) {
    guildhall::pipeline::Pipeline::new(
        pool.clone(),
        chrono_tz::Europe::Berlin,
        collectors::metrics::Metrics::new(),
    )
    .run_job(job, guildhall::pipeline::Trigger::Manual)
    .await
    .unwrap_or_else(|error| panic!("job {job}: {error:#}"));
}
