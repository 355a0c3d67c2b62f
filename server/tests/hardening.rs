//! The web layer against a hostile internet: security headers on every answer (a CSP whose
//! nonce is the hydration scripts' own), rate limits per client address with 429 and
//! `Retry-After`, the concurrency limit and the request timeout, no database row for an
//! anonymous sign-in attempt, metrics that invented methods and paths cannot inflate, demo
//! sign-in only by POST and only without real users, CSV downloads that check the role
//! themselves and defuse formulas, and refused sign-ins that leave no Discord id in the logs.
//! The real router and PostgreSQL on loopback; every test gets a fresh database.

#[path = "support/web_app.rs"]
mod web_app;

use axum::body::Body;
use axum::http::{Method, Request, StatusCode, header};
use figment::providers::Serialized;
use guildhall::config::Config;
use guildhall::state::ServerState;
use leptos::server_fn::ServerFn;
use serde_json::{Value, json};
use sqlx::PgPool;
use std::collections::BTreeSet;
use std::sync::Arc;
use std::time::{Duration, Instant};
use tower::ServiceExt;
use web_app::*;

/// The CSP of an answer whose nonce is `nonce`, exactly.
fn expected_policy(nonce: &str) -> String {
    format!(
        "default-src 'self'; script-src 'self' 'nonce-{nonce}' 'wasm-unsafe-eval'; \
         style-src 'self' 'unsafe-inline'; img-src 'self' data:; connect-src 'self'; \
         font-src 'self'; object-src 'none'; base-uri 'none'; form-action 'self'; \
         frame-ancestors 'none'"
    )
}

/// The nonce in a CSP header.
fn nonce_of(policy: &str) -> String {
    policy
        .split("'nonce-")
        .nth(1)
        .and_then(|rest| rest.split('\'').next())
        .unwrap_or_else(|| panic!("no nonce in {policy}"))
        .to_owned()
}

fn assert_security_headers(headers: &reqwest::header::HeaderMap, what: &str) -> String {
    let policy = headers
        .get(header::CONTENT_SECURITY_POLICY)
        .and_then(|v| v.to_str().ok())
        .unwrap_or_else(|| panic!("{what}: no Content-Security-Policy"));
    let nonce = nonce_of(policy);
    assert_eq!(policy, expected_policy(&nonce), "{what}");
    assert_eq!(headers["x-content-type-options"], "nosniff", "{what}");
    assert_eq!(headers["x-frame-options"], "DENY", "{what}");
    assert_eq!(
        headers["referrer-policy"], "strict-origin-when-cross-origin",
        "{what}"
    );
    assert!(
        headers.get(header::STRICT_TRANSPORT_SECURITY).is_none(),
        "{what}: no HSTS on http"
    );
    nonce
}

#[sqlx::test(migrator = "guildhall::db::MIGRATOR")]
async fn every_answer_carries_the_security_headers_and_pages_use_their_nonce(pool: PgPool) {
    let app = start_demo(pool).await;

    // An anonymous page: the hydration scripts carry exactly the nonce of the header, and
    // there is no inline script without it.
    let page = app.get("/").await;
    assert_eq!(page.status(), StatusCode::OK);
    let nonce = assert_security_headers(page.headers(), "/");
    assert_eq!(page.headers()[header::CACHE_CONTROL], "no-store");
    let html = page.text().await.expect("page");
    let scripts: Vec<&str> = html.split("<script").skip(1).collect();
    assert!(
        !scripts.is_empty(),
        "the page has hydration scripts: {html}"
    );
    for script in &scripts {
        let tag = script.split('>').next().unwrap_or_default();
        assert!(
            tag.contains(&format!("nonce=\"{nonce}\"")),
            "a script without this answer's nonce: <script{tag}>"
        );
    }
    // Each answer has a nonce of its own.
    let again = app.get("/").await;
    assert_ne!(assert_security_headers(again.headers(), "/ again"), nonce);

    // Signed in: pages, server functions, downloads, sign-in, errors, the not-found page.
    app.sign_in_demo("leader").await;
    for path in [
        "/",
        "/members",
        "/me",
        "/admin",
        "/no/such/page",
        "/export/leavers.csv",
        "/auth/demo",
        "/healthz",
    ] {
        let response = app.get(path).await;
        assert_security_headers(response.headers(), path);
        assert_eq!(
            response.headers()[header::CACHE_CONTROL],
            "no-store",
            "{path}"
        );
    }
    let answer = app
        .browser
        .post(app.url(app::api::GetMe::PATH))
        .header(header::ACCEPT, "application/json")
        .send()
        .await
        .expect("server function");
    assert_eq!(answer.status(), StatusCode::OK);
    assert_security_headers(answer.headers(), "server function");
    assert_eq!(answer.headers()[header::CACHE_CONTROL], "no-store");
}

#[sqlx::test(migrator = "guildhall::db::MIGRATOR")]
async fn hsts_is_sent_when_the_public_url_is_https(pool: PgPool) {
    let config = Config::from_figment(Config::defaults_figment().merge(Serialized::default(
        "public_url",
        "https://guildhall.example",
    )))
    .expect("config");
    let state = ServerState::new(Arc::new(config), pool, collectors::metrics::Metrics::new())
        .expect("state");
    let response = guildhall::web::router(state)
        .expect("router")
        .oneshot(
            Request::get("/healthz")
                .body(Body::empty())
                .expect("request"),
        )
        .await
        .expect("response");
    assert_eq!(
        response.headers()[header::STRICT_TRANSPORT_SECURITY],
        "max-age=31536000; includeSubDomains"
    );
    assert_eq!(response.headers()["x-frame-options"], "DENY");
}

/// A browser that connects from another loopback address (another client).
fn browser_from(address: &str) -> reqwest::Client {
    reqwest::Client::builder()
        .local_address(address.parse::<std::net::IpAddr>().expect("address"))
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .expect("client")
}

#[sqlx::test(migrator = "guildhall::db::MIGRATOR")]
async fn sign_in_is_limited_per_client_address_with_429_and_retry_after(pool: PgPool) {
    let app = start(
        pool,
        Options {
            demo: true,
            settings: vec![
                ("web.sign_in_per_minute", json!(6)),
                ("web.sign_in_burst", json!(3)),
            ],
            ..Options::default()
        },
    )
    .await;
    for _ in 0..3 {
        assert_eq!(app.get("/auth/login").await.status(), StatusCode::SEE_OTHER);
    }
    // The fourth: one request every ten seconds after the burst of three.
    let refused = app.get("/auth/login").await;
    assert_eq!(refused.status(), StatusCode::TOO_MANY_REQUESTS);
    assert_eq!(refused.headers()[header::RETRY_AFTER], "10");
    assert_security_headers(refused.headers(), "429");
    let page = refused.text().await.expect("page");
    assert!(page.contains("Too many requests"), "{page}");

    // The callbacks and demo sign-in count against the same limit; a forged
    // X-Forwarded-For from a peer that is no trusted proxy changes nothing.
    for response in [
        app.get("/auth/callback?code=x&state=y").await,
        app.get("/me/steam/return").await,
        app.demo_post(&[("role", "admin")]).await,
        app.browser
            .get(app.url("/auth/login"))
            .header("x-forwarded-for", "203.0.113.9")
            .send()
            .await
            .expect("login"),
    ] {
        assert_eq!(response.status(), StatusCode::TOO_MANY_REQUESTS);
        assert!(response.headers().contains_key(header::RETRY_AFTER));
    }
    assert_eq!(app.me().await, Value::Null, "the demo sign-in did not run");

    // Another address has its own budget, and pages are not limited.
    let other = browser_from("127.0.0.2");
    let response = other
        .get(app.url("/auth/login"))
        .send()
        .await
        .expect("login");
    assert_eq!(response.status(), StatusCode::SEE_OTHER);
    assert_eq!(app.get("/").await.status(), StatusCode::OK);
}

#[sqlx::test(migrator = "guildhall::db::MIGRATOR")]
async fn behind_a_trusted_proxy_the_forwarded_address_counts(pool: PgPool) {
    let app = start(
        pool,
        Options {
            settings: vec![
                ("web.sign_in_per_minute", json!(1)),
                ("web.sign_in_burst", json!(1)),
                ("web.trusted_proxies", json!("127.0.0.1")),
            ],
            ..Options::default()
        },
    )
    .await;
    let login = |client: &'static str| {
        app.browser
            .get(app.url("/auth/login"))
            .header("x-forwarded-for", client)
            .send()
    };
    assert_eq!(
        login("198.51.100.1").await.expect("login").status(),
        StatusCode::SEE_OTHER
    );
    let refused = login("198.51.100.1").await.expect("login");
    assert_eq!(refused.status(), StatusCode::TOO_MANY_REQUESTS);
    assert_eq!(refused.headers()[header::RETRY_AFTER], "60");
    assert_eq!(
        login("198.51.100.2").await.expect("login").status(),
        StatusCode::SEE_OTHER
    );
}

#[sqlx::test(migrator = "guildhall::db::MIGRATOR")]
async fn server_functions_link_codes_and_the_log_endpoint_are_limited(pool: PgPool) {
    let app = start(
        pool,
        Options {
            demo: true,
            settings: vec![
                ("web.api_per_minute", json!(60)),
                ("web.api_burst", json!(5)),
                ("web.link_code_per_minute", json!(1)),
                ("web.link_code_burst", json!(2)),
                ("web.ingest_per_minute", json!(60)),
                ("web.ingest_burst", json!(2)),
            ],
            ..Options::default()
        },
    )
    .await;
    for _ in 0..5 {
        assert_eq!(
            app.call::<app::api::GetMe>(&[]).await.0,
            StatusCode::OK,
            "within the burst"
        );
    }
    let refused = app
        .browser
        .post(app.url(app::api::GetMe::PATH))
        .send()
        .await
        .expect("server function");
    assert_eq!(refused.status(), StatusCode::TOO_MANY_REQUESTS);
    assert_eq!(refused.headers()[header::RETRY_AFTER], "1");
    assert_eq!(
        refused.text().await.expect("body"),
        "too many requests from this address: try again in 1 s\n"
    );

    // Link codes have a limit of their own (not the server functions' budget).
    app.sign_in_demo("member").await;
    for _ in 0..2 {
        let (status, body) = app.call::<app::api::NewLinkCode>(&[]).await;
        assert_eq!(status, StatusCode::OK, "{body}");
    }
    let (status, _) = app.call::<app::api::NewLinkCode>(&[]).await;
    assert_eq!(status, StatusCode::TOO_MANY_REQUESTS);
    let codes: i64 = sqlx::query_scalar("select count(*) from app.link_codes")
        .fetch_one(&app.pool)
        .await
        .expect("codes");
    assert_eq!(codes, 2, "the refused request made no code");

    // The game log endpoint.
    let post_logs = || {
        app.browser
            .post(app.url("/ingest/logs/no-such-token"))
            .body("line\n")
            .send()
    };
    for _ in 0..2 {
        assert_eq!(
            post_logs().await.expect("ingest").status(),
            StatusCode::NOT_FOUND
        );
    }
    let refused = post_logs().await.expect("ingest");
    assert_eq!(refused.status(), StatusCode::TOO_MANY_REQUESTS);
    assert_eq!(refused.headers()[header::RETRY_AFTER], "1");
}

#[sqlx::test(migrator = "guildhall::db::MIGRATOR")]
async fn requests_over_the_concurrency_limit_or_the_timeout_get_503(pool: PgPool) {
    let app = start(
        pool.clone(),
        Options {
            demo: true,
            settings: vec![
                ("web.max_concurrent_requests", json!(1)),
                ("web.request_timeout_secs", json!(2)),
            ],
            ..Options::default()
        },
    )
    .await;
    app.sign_in_demo("member").await;
    // Hold the session table: a signed-in server function call waits for it.
    let mut lock = pool.begin().await.expect("transaction");
    sqlx::query("lock table app.sessions in access exclusive mode")
        .execute(&mut *lock)
        .await
        .expect("lock");
    let started = Instant::now();
    let waiting = tokio::spawn({
        let browser = app.browser.clone();
        let url = app.url(app::api::GetMe::PATH);
        async move { browser.post(url).send().await.expect("waiting request") }
    });
    // The one slot is taken: another request is refused at once.
    tokio::time::sleep(Duration::from_millis(500)).await;
    let busy = browser_from("127.0.0.3")
        .get(app.url("/healthz"))
        .send()
        .await
        .expect("busy");
    assert_eq!(busy.status(), StatusCode::SERVICE_UNAVAILABLE);
    assert_eq!(busy.headers()[header::RETRY_AFTER], "1");
    assert!(started.elapsed() < Duration::from_secs(2));
    // The waiting one is answered 503 when its time is up, not when the lock goes.
    let timed_out = waiting.await.expect("joined");
    assert_eq!(timed_out.status(), StatusCode::SERVICE_UNAVAILABLE);
    let waited = started.elapsed();
    assert!(
        waited >= Duration::from_secs(2) && waited < Duration::from_secs(5),
        "{waited:?}"
    );
    lock.rollback().await.expect("unlock");
    assert_eq!(app.get("/healthz").await.status(), StatusCode::OK);
}

#[sqlx::test(migrator = "guildhall::db::MIGRATOR")]
async fn anonymous_sign_in_attempts_write_nothing_to_the_database(pool: PgPool) {
    let app = start(pool, Options::default()).await;
    let rows = || async {
        sqlx::query_scalar::<_, i64>("select count(*) from app.sessions")
            .fetch_one(&app.pool)
            .await
            .expect("sessions")
    };
    let before = rows().await;
    for _ in 0..25 {
        let response = app.get("/auth/login").await;
        assert_eq!(response.status(), StatusCode::SEE_OTHER);
    }
    // A forged callback reads nothing from the store either.
    app.get("/auth/callback?code=x&state=y").await;
    assert_eq!(rows().await, before);
    assert_eq!(before, 0);
    // The sign-in itself still works (and then writes its session).
    app.sign_in_with_discord().await;
    assert_eq!(rows().await, 1);
}

/// Every series of `/metrics` (name and labels, without the value), without the `status`
/// label: a status is one of HTTP's fixed codes, and which one a request gets can vary with
/// the machine's load (a 503 from the timeout), not with what the client invents.
fn series(text: &str) -> BTreeSet<String> {
    text.lines()
        .filter(|line| !line.starts_with('#'))
        .filter_map(|line| line.rsplit_once(' ').map(|(series, _)| series.to_owned()))
        .map(|series| match series.find(",status=\"") {
            Some(at) => {
                let rest = &series[at + ",status=\"".len()..];
                let end = rest.find('"').map_or(rest.len(), |end| end + 1);
                format!("{}{}", &series[..at], &rest[end..])
            }
            None => series,
        })
        .collect()
}

#[sqlx::test(migrator = "guildhall::db::MIGRATOR")]
async fn invented_methods_and_paths_add_no_metric_series(pool: PgPool) {
    let metrics = collectors::metrics::Metrics::new();
    let config = Config::from_figment(
        Config::defaults_figment().merge(Serialized::default("web.api_per_minute", 0)),
    )
    .expect("config");
    let state = ServerState::new(Arc::new(config), pool, metrics.clone()).expect("state");
    let router = guildhall::web::router(state).expect("router");
    let send = |method: &str, path: String| {
        let request = Request::builder()
            .method(Method::from_bytes(method.as_bytes()).expect("method"))
            .uri(path)
            .body(Body::empty())
            .expect("request");
        router.clone().oneshot(request)
    };
    // One of each kind first.
    send("BREW", "/invented-0".into()).await.expect("response");
    send("GET", "/invented-0".into()).await.expect("response");
    send("POST", "/api/invented0".into())
        .await
        .expect("response");
    let before = metrics.render();
    for i in 1..=300 {
        send(&format!("BREW{i}"), format!("/invented-{i}/x{i}"))
            .await
            .expect("response");
        send("GET", format!("/invented-{i}?q={i}"))
            .await
            .expect("response");
        send("POST", format!("/api/invented{i}"))
            .await
            .expect("response");
    }
    let after = metrics.render();
    assert_eq!(series(&after), series(&before), "{after}");
    assert!(
        after.contains("guildhall_http_requests_total{method=\"OTHER\",route=\"page\""),
        "{after}"
    );
    assert!(!after.contains("BREW"), "{after}");
    assert!(!after.contains("invented"), "{after}");
}

#[sqlx::test(migrator = "guildhall::db::MIGRATOR")]
async fn demo_sign_in_is_a_post_and_refused_once_real_users_signed_in(pool: PgPool) {
    let app = start_demo(pool).await;
    // The page: one form per role, each posting to /auth/demo.
    let page = app.get("/auth/demo?next=/members").await;
    assert_eq!(page.status(), StatusCode::OK);
    let html = page.text().await.expect("page");
    assert_eq!(
        html.matches("<form method=\"post\" action=\"/auth/demo\">")
            .count(),
        4,
        "{html}"
    );
    for role in ["leader", "admin", "member", "outsider"] {
        assert!(
            html.contains(&format!("value=\"{role}\"")),
            "{role}: {html}"
        );
    }
    assert!(html.contains("name=\"next\" value=\"/members\""), "{html}");
    // A link (a GET) signs nobody in.
    let response = app.get("/auth/demo?role=admin").await;
    assert_eq!(response.status(), StatusCode::OK);
    assert_eq!(app.me().await, Value::Null);
    // A form posted from another site is refused.
    let response = app
        .browser
        .post(app.url("/auth/demo"))
        .header(header::ORIGIN, "https://evil.example")
        .form(&[("role", "admin")])
        .send()
        .await
        .expect("cross-site");
    assert_eq!(response.status(), StatusCode::FORBIDDEN);
    assert_eq!(app.me().await, Value::Null);
    app.sign_in_demo("admin").await;
    assert_eq!(app.me().await["role"], json!("admin"));

    // A real member signs in with Discord: from now on demo sign-in is refused.
    app.sign_in_with_discord().await;
    app.browser
        .post(app.url("/auth/logout"))
        .send()
        .await
        .expect("logout");
    let refused = app.demo_post(&[("role", "admin")]).await;
    assert_error_page(refused, StatusCode::FORBIDDEN, "real users have signed in").await;
    assert_eq!(app.me().await, Value::Null);
    let page = app.get("/auth/demo").await;
    assert_eq!(page.status(), StatusCode::FORBIDDEN);
}

/// A download from a router with nothing but the export routes and sessions: no guard in
/// front, so the handlers' own checks are all there is.
async fn unguarded_download(pool: &PgPool, path: &str) -> StatusCode {
    let config = Config::from_figment(Config::defaults_figment()).expect("config");
    let state = ServerState::new(
        Arc::new(config),
        pool.clone(),
        collectors::metrics::Metrics::new(),
    )
    .expect("state");
    let store = tower_sessions_sqlx_store::PostgresStore::new(pool.clone())
        .with_schema_name("app")
        .and_then(|store| store.with_table_name("sessions"))
        .expect("store");
    let router = axum::Router::new()
        .route(
            "/export/{table}",
            axum::routing::get(guildhall::web::export::export_csv),
        )
        .route(
            "/me/export.json",
            axum::routing::get(guildhall::web::export::export_my_data),
        )
        .layer(tower_sessions::SessionManagerLayer::new(store))
        .with_state(state);
    router
        .oneshot(Request::get(path).body(Body::empty()).expect("request"))
        .await
        .expect("response")
        .status()
}

#[sqlx::test(migrator = "guildhall::db::MIGRATOR")]
async fn downloads_check_the_role_themselves_and_defuse_formulas(pool: PgPool) {
    for path in ["/export/event_attendance.csv", "/me/export.json"] {
        assert_eq!(
            unguarded_download(&pool, path).await,
            StatusCode::UNAUTHORIZED,
            "{path} without the guard"
        );
    }

    sqlx::query(
        "insert into gold.event_attendance
             (scheduled_event_id, guild_id, name, kind, status, starts_at, interested, attended,
              interested_attended, no_shows, walk_ins, attendance_rate)
         values (1, 42, '=HYPERLINK(\"http://evil.example\",\"Raid\")', 'voice', 'completed',
                 '2026-11-06 19:00+00', 4, 3, 2, 2, -3, -12.50),
                (2, 42, '@SUM(A1)', 'voice', 'completed', '2026-11-13 19:00+00', 1, 1, 1, 0, 0, 100),
                (3, 42, '-2+3', 'voice', 'completed', '2026-11-20 19:00+00', 0, 0, 0, 0, 0, null),
                (4, 42, 'Raid night, +1', 'voice', 'completed', '2026-11-27 19:00+00', 0, 0, 0, 0, 0, null)",
    )
    .execute(&pool)
    .await
    .expect("events");
    let app = start_demo(pool).await;
    app.sign_in_demo("leader").await;
    let response = app.get("/export/event_attendance.csv").await;
    assert_eq!(response.status(), StatusCode::OK);
    let csv = response.text().await.expect("csv");
    let rows: Vec<&str> = csv.lines().collect();
    assert_eq!(
        rows,
        [
            "scheduled_event_id,guild_id,name,kind,status,starts_at,ends_at,interested,attended,\
             interested_attended,no_shows,walk_ins,attendance_rate",
            "1,42,\"'=HYPERLINK(\"\"http://evil.example\"\",\"\"Raid\"\")\",voice,completed,\
             2026-11-06 19:00:00+00,,4,3,2,2,-3,-12.50",
            "2,42,'@SUM(A1),voice,completed,2026-11-13 19:00:00+00,,1,1,1,0,0,100.00",
            "3,42,'-2+3,voice,completed,2026-11-20 19:00:00+00,,0,0,0,0,0,",
            "4,42,\"Raid night, +1\",voice,completed,2026-11-27 19:00:00+00,,0,0,0,0,0,",
        ]
    );
}

/// Collects everything logged while it is the default subscriber.
#[derive(Clone, Default)]
struct CapturedLogs(Arc<std::sync::Mutex<Vec<u8>>>);

impl std::io::Write for CapturedLogs {
    fn write(&mut self, bytes: &[u8]) -> std::io::Result<usize> {
        if let Ok(mut buffer) = self.0.lock() {
            buffer.extend_from_slice(bytes);
        }
        Ok(bytes.len())
    }
    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

impl<'a> tracing_subscriber::fmt::MakeWriter<'a> for CapturedLogs {
    type Writer = CapturedLogs;
    fn make_writer(&'a self) -> Self::Writer {
        self.clone()
    }
}

#[sqlx::test(migrator = "guildhall::db::MIGRATOR")]
async fn a_refused_sign_in_leaves_no_discord_id_in_the_logs(pool: PgPool) {
    let logs = CapturedLogs::default();
    let subscriber = tracing_subscriber::fmt()
        .with_max_level(tracing::Level::TRACE)
        .with_writer(logs.clone())
        .finish();
    // See web.rs: a global subscriber so that callsite interest is always asked.
    let _ = tracing::subscriber::set_global_default(tracing_subscriber::registry());
    let _guard = tracing::subscriber::set_default(subscriber);

    // The member list is known, and the provider's account is not on it.
    record_membership(&pool, 555, "join", "2026-01-01T10:00:00Z").await;
    let app = start(
        pool,
        Options {
            member: false,
            ..Options::default()
        },
    )
    .await;
    let (callback, _) = app.start_login(None).await;
    let refused = app.browser.get(callback).send().await.expect("callback");
    assert_eq!(refused.status(), StatusCode::FORBIDDEN);
    // An opted-out account is refused too.
    sqlx::query(
        "insert into app.opted_out_accounts (account_hash)
         values (app.account_hash('discord', $1::text))",
    )
    .bind(DISCORD_ID)
    .execute(&app.pool)
    .await
    .expect("opt-out");
    let (callback, _) = app.start_login(None).await;
    let refused = app.browser.get(callback).send().await.expect("callback");
    assert_eq!(refused.status(), StatusCode::FORBIDDEN);

    let text = String::from_utf8_lossy(&logs.0.lock().expect("logs")).into_owned();
    assert!(
        text.contains("sign-in refused: not a member of a tracked guild")
            && text.contains("sign-in refused: the account opted out"),
        "the refusals were logged, so the check can see them:\n{text}"
    );
    assert!(
        !text.contains(&DISCORD_ID.to_string()),
        "a refused Discord id was logged:\n{text}"
    );
}
