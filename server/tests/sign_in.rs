//! Signing in, end to end: the real router on loopback, driven by a cookie-keeping HTTP
//! client, against a fake Discord OAuth2 provider (authorize, token with PKCE check, user
//! endpoint) on loopback too. Sessions are renewed, the state is checked and single-use,
//! only members of a tracked guild and configured admins get in, configured roles apply, and
//! demo sign-in and sign-out work as documented. Every test gets a fresh database.

#[path = "support/web_app.rs"]
mod web_app;

use axum::http::{StatusCode, header};
use serde_json::{Value, json};
use sqlx::PgPool;
use web_app::*;

#[sqlx::test(migrator = "guildhall::db::MIGRATOR")]
async fn discord_sign_in_creates_the_user_and_renews_the_session(pool: PgPool) {
    let app = start(pool, Options::default()).await;
    assert_eq!(app.me().await, Value::Null);
    // A session id planted in the browser before sign-in (session fixation) …
    let planted = "AAAAAAAAAAAAAAAAAAAAAA";
    app.jar
        .add_cookie_str(&format!("guildhall_session={planted}; Path=/"), &app.base);

    let (before, after) = app.sign_in_with_discord().await;
    assert_eq!(before.as_deref(), Some(planted));
    assert_ne!(planted, after, "the session id is renewed at sign-in");
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

    // … signs nobody in.
    assert_eq!(app.me_with_cookie(planted).await, Value::Null);
    assert_eq!(app.me_with_cookie(&after).await["role"], json!("member"));
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
    assert!(body.contains("href=\"/auth/demo\""), "{body}");
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
async fn demo_login_is_not_found_outside_demo_mode(pool: PgPool) {
    let app = start(pool, Options::default()).await;
    let response = app.demo_post(&[("role", "admin")]).await;
    assert_eq!(response.status(), StatusCode::NOT_FOUND);
    let response = app.get("/auth/demo").await;
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

    let response = app.demo_post(&[("role", "leader"), ("next", "/kpi")]).await;
    assert_eq!(response.headers()[header::LOCATION], "/kpi");
    let response = app.demo_post(&[("role", "owner")]).await;
    assert_eq!(response.status(), StatusCode::BAD_REQUEST);
    assert_eq!(app.me().await["role"], json!("leader"));
    // An outsider (not a member of the guild, whose member list the bot has read) gets the
    // refusal a Discord sign-in gets, and signs nobody in.
    let response = app.demo_post(&[("role", "outsider")]).await;
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
