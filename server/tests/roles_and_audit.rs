//! Who may do what: every server function and page allows exactly the roles it declares,
//! admins grant and revoke roles (never the last admin, never below a configured role), a
//! Discord role mapped to an app role applies at sign-in and when Discord changes it, and
//! every change is in the audit log. Every test gets a fresh database.

#[path = "support/web_app.rs"]
mod web_app;

use axum::http::StatusCode;
use guildhall::pipeline::JobName;
use leptos::server_fn::ServerFn;
use serde_json::{Value, json};
use sqlx::PgPool;
use std::collections::BTreeSet;
use web_app::*;

#[sqlx::test(migrator = "guildhall::db::MIGRATOR")]
async fn admin_functions_and_pages_refuse_everyone_but_admins(pool: PgPool) {
    sqlx::raw_sql("insert into app.discord_guilds (guild_id, name) values (42, 'Test Guild') on conflict do nothing;
                   insert into app.discord_channels (guild_id, channel_id, name, kind)
                   values (42, 7, 'Lobby', 'voice'), (42, 8, 'AFK', 'voice'), (42, 700, 'general', 'text')")
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
        app.call::<app::api::GetAdminStatus>(&[]).await.0,
        StatusCode::UNAUTHORIZED
    );
    assert_eq!(
        app.get("/admin/status").await.status(),
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
            app.call::<app::api::GetAdminStatus>(&[]).await.0,
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
        let response = app.get("/admin/status").await;
        assert_error_page(response, StatusCode::FORBIDDEN, "not allowed").await;
    }
    let marked: Vec<i64> = sqlx::query_scalar("select channel_id from app.afk_channels")
        .fetch_all(&app.pool)
        .await
        .expect("marks");
    assert_eq!(marked, Vec::<i64>::new(), "refused calls changed nothing");

    // Admin: allowed, and sees what the database refused and what waits in the spool.
    sqlx::query(
        "insert into bronze.rejected_records (source, payload, error)
         values ('discord_voice', '{}', 'first'), ('discord_voice', '{}', 'latest')",
    )
    .execute(&app.pool)
    .await
    .expect("rejected records");
    app.sign_in_demo("admin").await;
    let (status, channels) = app.call::<app::api::GetDiscordChannels>(&[]).await;
    assert_eq!(status, StatusCode::OK, "{channels}");
    assert_eq!(channels["guilds"][0]["guild_id"], json!("42"));
    let (status, admin_status) = app.call::<app::api::GetAdminStatus>(&[]).await;
    assert_eq!(status, StatusCode::OK, "{admin_status}");
    assert_eq!(
        admin_status["rejected"][0]["source"],
        json!("discord_voice")
    );
    assert_eq!(admin_status["rejected"][0]["count"], json!(2));
    assert_eq!(admin_status["rejected"][0]["last_error"], json!("latest"));
    assert_eq!(admin_status["spool"], json!([]));
    // Records waiting in the spool show as the source's backlog.
    let spool_dir = &app.spool_dir;
    std::fs::create_dir_all(spool_dir).expect("spool dir");
    std::fs::write(spool_dir.join("discord_voice.spool"), "{}\n{}\n{}\n").expect("spool");
    let (_, admin_status) = app.call::<app::api::GetAdminStatus>(&[]).await;
    assert_eq!(
        admin_status["spool"],
        json!([{"source": "discord_voice", "records": 3, "bytes": 9}])
    );
    std::fs::remove_dir_all(spool_dir).ok();
    let (status, body) = app.call::<app::api::MarkAfkChannel>(afk_form).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    let marked: Vec<i64> = sqlx::query_scalar("select channel_id from app.afk_channels")
        .fetch_all(&app.pool)
        .await
        .expect("marks");
    assert_eq!(marked, vec![7]);
    let response = app.get("/admin/discord").await;
    assert_eq!(
        response.status(),
        StatusCode::OK,
        "the admin sees /admin/discord"
    );
    let page = response.text().await.expect("admin page");
    assert!(
        page.contains("Test Guild"),
        "the Discord section lists the guilds: {page}"
    );
    assert!(
        page.contains("Lobby"),
        "the marked AFK channel is named: {page}"
    );
}

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
        p if p == GetMyLinkAttempts::PATH => (member, vec![]),
        p if p == LinkSteamConnection::PATH => (member, vec![("steam_id", "76561197960265729")]),
        p if p == UnlinkMyAccount::PATH => (
            member,
            vec![("kind", "steam"), ("external_id", "76561197960265729")],
        ),
        p if p == GetDailyActiveUsers::PATH => {
            (leader, vec![("from", "2026-11-01"), ("to", "2026-11-07")])
        }
        p if p == GetAdminStatus::PATH => (admin, vec![]),
        p if p == GetBackfill::PATH => (admin, vec![]),
        // A reversed range: allowed roles get past the check and are refused for that.
        p if p == StartBackfill::PATH => (
            admin,
            vec![
                ("from", "2026-11-02"),
                ("to", "2026-11-01"),
                ("jobs[0]", "voice_sessions"),
            ],
        ),
        p if p == CancelBackfill::PATH => (admin, vec![("id", "999999")]),
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
        p if p == GetIdentityReview::PATH => (admin, vec![]),
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
        p if p == GetDiscordChannels::PATH => (admin, vec![]),
        p if p == GetAdminUsers::PATH => (admin, vec![]),
        p if p == GetAuditLog::PATH => (admin, vec![("page", "1")]),
        p if p == GetCommunitySettings::PATH => (admin, vec![]),
        // Empty values: as configured, which changes nothing on a fresh database.
        p if p == SetCommunitySettings::PATH => {
            (admin, vec![("timezone", ""), ("bronze_retention_days", "")])
        }
        p if p == GetPrivacyFacts::PATH => (Allowed::Everyone, vec![]),
        p if p == UnmarkAfkChannel::PATH => {
            (admin, vec![("id", "999999"), ("whole_history", "false")])
        }
        // Game servers (/admin/servers): unknown ids and empty forms pass the role check and
        // are refused for that.
        p if p == GetGameServers::PATH => (admin, vec![]),
        p if p == CreateGameServer::PATH => (admin, vec![("form[name]", "")]),
        p if p == UpdateGameServer::PATH => {
            (admin, vec![("server_id", "999999"), ("form[name]", "x")])
        }
        p if p == SetGameServerEnabled::PATH => {
            (admin, vec![("server_id", "999999"), ("enabled", "false")])
        }
        p if p == DeleteGameServer::PATH => (
            admin,
            vec![
                ("server_id", "999999"),
                ("erase_history", "false"),
                ("confirmation", ""),
            ],
        ),
        p if p == RegenerateGameServerToken::PATH => (admin, vec![("server_id", "999999")]),
        p if p == PinGameServerHostKey::PATH => (
            admin,
            vec![("server_id", "999999"), ("fingerprint", "SHA256:x")],
        ),
        p if p == TestGameServer::PATH => (admin, vec![("server_id", "999999")]),
        p if p == TestGameServerForm::PATH => (admin, vec![("form[name]", "")]),
        other => panic!(
            "the server function {other} has no declared permission in this test: add it with the role it needs"
        ),
    }
}

/// What this test does with a route the app serves.
enum Expect {
    /// Visited by every role: these paths, open to these roles.
    Visit(Allowed, &'static [&'static str]),
    /// Not a page to visit; where its access is tested instead.
    Elsewhere(&'static str),
}

/// Every route the app serves, as registered, with what this test expects of it.
fn route_table() -> Vec<(&'static str, Expect)> {
    use Expect::{Elsewhere, Visit};
    let leader = Allowed::AtLeast("leader");
    vec![
        ("/", Visit(Allowed::Everyone, &["/"])),
        ("/me", Visit(Allowed::Everyone, &["/me"])),
        (
            "/me/export.json",
            Visit(Allowed::AtLeast("member"), &["/me/export.json"]),
        ),
        ("/retention", Visit(leader, &["/retention"])),
        ("/members", Visit(leader, &["/members"])),
        ("/events", Visit(leader, &["/events"])),
        ("/servers", Visit(leader, &["/servers"])),
        (
            "/export/{table}",
            Visit(
                leader,
                &[
                    "/export/server_utilization.csv",
                    "/export/server_weekly_profile.csv",
                    "/export/server_daily.csv",
                    "/export/game_sessions.csv",
                    "/export/event_attendance.csv",
                    "/export/member_sources.csv",
                    "/export/member_source_retention.csv",
                    "/export/retention_cohorts.csv",
                    "/export/daily_active_users.csv",
                    "/export/discord_comparable_daily.csv",
                    "/export/member_growth_weekly.csv",
                    "/export/leavers.csv",
                ],
            ),
        ),
        ("/admin", Visit(Allowed::AtLeast("admin"), &["/admin"])),
        (
            "/admin/status",
            Visit(Allowed::AtLeast("admin"), &["/admin/status"]),
        ),
        (
            "/admin/discord",
            Visit(Allowed::AtLeast("admin"), &["/admin/discord"]),
        ),
        (
            "/admin/servers",
            Visit(Allowed::AtLeast("admin"), &["/admin/servers"]),
        ),
        (
            "/admin/identities",
            Visit(Allowed::AtLeast("admin"), &["/admin/identities"]),
        ),
        (
            "/admin/people",
            Visit(Allowed::AtLeast("admin"), &["/admin/people"]),
        ),
        (
            "/admin/privacy",
            Visit(Allowed::AtLeast("admin"), &["/admin/privacy"]),
        ),
        (
            "/admin/audit",
            Visit(Allowed::AtLeast("admin"), &["/admin/audit"]),
        ),
        ("/privacy", Visit(Allowed::Everyone, &["/privacy"])),
        ("/lang", Elsewhere("a form POST: errors.rs, web.rs")),
        ("/healthz", Elsewhere("web.rs")),
        (
            "/metrics",
            Elsewhere("bearer token: web.rs, documented_settings.rs"),
        ),
        ("/auth/login", Elsewhere("sign_in.rs")),
        ("/auth/callback", Elsewhere("sign_in.rs")),
        ("/auth/logout", Elsewhere("sign_in.rs")),
        ("/auth/demo", Elsewhere("sign_in.rs, hardening.rs")),
        ("/me/steam/login", Elsewhere("steam_openid.rs")),
        ("/me/steam/return", Elsewhere("steam_openid.rs")),
        (
            "/api/{*fn_name}",
            Elsewhere("server_function_permission, above"),
        ),
        ("/ingest/logs/{token}", Elsewhere("games.rs: the log token")),
        ("/pkg/{*file}", Elsewhere("web.rs: static files")),
    ]
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
    sqlx::raw_sql("insert into app.discord_guilds (guild_id, name) values (42, 'Test Guild') on conflict do nothing;
                   insert into app.discord_channels (guild_id, channel_id, name, kind)
                   values (42, 7, 'Lobby', 'voice'), (42, 8, 'AFK', 'voice'), (42, 700, 'general', 'text')")
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
    // Every route the app serves is in this test's table, and declared guarded or public
    // in the app (`guildhall::web::routes`): a new route without a declared role fails here.
    let table = route_table();
    let served: BTreeSet<String> = guildhall::web::routes::route_paths().into_iter().collect();
    let listed: BTreeSet<String> = table.iter().map(|(route, _)| (*route).to_owned()).collect();
    assert_eq!(
        listed, served,
        "this test's route table must list exactly the routes the app serves"
    );
    for route in &served {
        assert!(
            guildhall::web::routes::is_declared(route),
            "{route} is neither in GUARDED_PAGES nor in PUBLIC_PAGES"
        );
    }
    let pages: Vec<(&str, Allowed)> = table
        .iter()
        .filter_map(|(_, expect)| match expect {
            Expect::Visit(allowed, paths) => Some(paths.iter().map(move |p| (*p, *allowed))),
            Expect::Elsewhere(tested_in) => {
                assert!(!tested_in.is_empty(), "say where the route is tested");
                None
            }
        })
        .flatten()
        .collect();

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
        for &(page, allowed) in &pages {
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

/// The `app.users.id` of a Discord user.
async fn user_id_of(pool: &PgPool, discord_user_id: i64) -> String {
    let id: i64 = sqlx::query_scalar("select id from app.users where discord_user_id = $1")
        .bind(discord_user_id)
        .fetch_one(pool)
        .await
        .expect("the user exists");
    id.to_string()
}

/// An entry of `app.audit_log`: who changed what, and how it was before and after.
#[derive(sqlx::FromRow, Debug, PartialEq)]
struct AuditEntry {
    actor_name: String,
    action: String,
    subject: String,
    before: Value,
    after: Value,
}

/// Every audit entry, oldest first.
async fn audit_entries(pool: &PgPool) -> Vec<AuditEntry> {
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
    // (Demo sign-in is refused now that Ada, a real user, has signed in.)
    admin_app
        .sign_in_with_discord_as(555_000_000_000_000_010, "Grace Hopper", "admin")
        .await;
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
            AuditEntry {
                actor_name: "Grace Hopper".into(),
                action: "user.role".into(),
                subject: subject.clone(),
                before: json!({"role": "member"}),
                after: json!({"role": "leader"}),
            },
            AuditEntry {
                actor_name: "Grace Hopper".into(),
                action: "user.role".into(),
                subject: subject.clone(),
                before: json!({"role": "leader"}),
                after: json!({"role": "admin"}),
            },
            AuditEntry {
                actor_name: "Grace Hopper".into(),
                action: "user.role".into(),
                subject,
                before: json!({"role": "admin"}),
                after: json!({"role": "member"}),
            },
        ]
    );
    // The console shows the people and the log.
    let (status, log) = admin_app
        .call::<app::api::GetAuditLog>(&[("page", "1")])
        .await;
    assert_eq!(status, StatusCode::OK, "{log}");
    assert_eq!(log["entries"][0]["action"], json!("user.role"));
    assert_eq!(log["entries"][0]["after"], json!("{\"role\": \"member\"}"));
    let (status, people) = admin_app.call::<app::api::GetAdminUsers>(&[]).await;
    assert_eq!(status, StatusCode::OK, "{people}");
    let ada_row = people["users"]
        .as_array()
        .expect("users")
        .iter()
        .find(|user| user["discord_user_id"] == json!(DISCORD_ID))
        .expect("Ada is listed");
    assert_eq!(ada_row["role"], json!("member"));
    // A leader may not change roles.
    admin_app
        .sign_in_with_discord_as(555_000_000_000_000_011, "Linus Leader", "leader")
        .await;
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
    assert_eq!(entries[0].actor_name, "configuration (GUILDHALL_ADMIN_IDS)");
    assert_eq!(
        entries[1].actor_name,
        "configuration (GUILDHALL_LEADER_IDS)"
    );
    assert_eq!(entries[1].after, json!({"role": "leader"}));

    // The configured admin (demo sign-in is refused now that Ada has signed in).
    app.sign_in_with_discord_as(configured_admin, "Grace Hopper", "admin")
        .await;
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
async fn a_mapped_discord_role_applies_at_sign_in_and_when_the_roles_change(pool: PgPool) {
    // The bot recorded the guild's Officer role and Ada (a member) getting it.
    sqlx::raw_sql("insert into app.discord_guilds (guild_id, name) values (42, 'Test Guild') on conflict do nothing;
                   insert into app.discord_channels (guild_id, channel_id, name, kind)
                   values (42, 7, 'Lobby', 'voice'), (42, 8, 'AFK', 'voice'), (42, 700, 'general', 'text')")
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
        (
            last.action.as_str(),
            last.subject.as_str(),
            &last.before,
            &last.after
        ),
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
