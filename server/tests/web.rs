//! The operational endpoints: `/healthz` answers 200 only while the database does, and
//! `/metrics` exports Guildhall's counters in the Prometheus text format; privacy, cross-site
//! and language-form checks of the router.

use axum::body::Body;
use axum::http::{Request, StatusCode};
use collectors::metrics::{DropReason, Metrics};
use figment::providers::Serialized;
use guildhall::config::Config;
use guildhall::state::ServerState;
use guildhall::web::router;
use sqlx::PgPool;
use std::sync::Arc;
use tower::ServiceExt;

#[path = "support/one_server.rs"]
mod one_server;

fn state(pool: PgPool, metrics: Metrics) -> ServerState {
    let config =
        Config::from_figment(Config::defaults_figment().merge(Serialized::default("demo", false)))
            .expect("config");
    ServerState::new(Arc::new(config), pool, metrics).expect("state")
}

/// A bundled site as `scripts/bundle-site.sh` writes it, in a fresh temporary folder.
fn bundled_site(name: &str) -> std::path::PathBuf {
    let root = std::env::temp_dir().join(format!("guildhall-site-{name}-{}", std::process::id()));
    let pkg = root.join("pkg");
    std::fs::create_dir_all(&pkg).expect("pkg dir");
    std::fs::write(
        pkg.join("hash.txt"),
        "js: 1111111111111111\nwasm: 2222222222222222\ncss: 3333333333333333\n",
    )
    .expect("hash.txt");
    std::fs::write(pkg.join("guildhall.3333333333333333.css"), "body{margin:0}").expect("css");
    std::fs::write(
        pkg.join("guildhall.3333333333333333.css.gz"),
        b"gzipped-css",
    )
    .expect("gz");
    std::fs::write(pkg.join("guildhall.2222222222222222.wasm"), b"\0asm").expect("wasm");
    std::fs::write(
        pkg.join("guildhall.2222222222222222.wasm.gz"),
        b"gzipped-wasm",
    )
    .expect("gz");
    std::fs::write(
        pkg.join("guildhall.2222222222222222.wasm.br"),
        b"brotli-wasm",
    )
    .expect("br");
    std::fs::write(pkg.join("notes.txt"), "unhashed").expect("plain file");
    root
}

fn state_with_site(pool: PgPool, site_root: &std::path::Path) -> ServerState {
    let config = Config::from_figment(Config::defaults_figment().merge(Serialized::default(
        "site_root",
        site_root.to_string_lossy().into_owned(),
    )))
    .expect("config");
    ServerState::new(Arc::new(config), pool, Metrics::new()).expect("state")
}

async fn get_with(
    app: axum::Router,
    path: &str,
    accept_encoding: &str,
) -> axum::http::Response<Body> {
    app.oneshot(
        Request::get(path)
            .header("accept-encoding", accept_encoding)
            .body(Body::empty())
            .expect("request"),
    )
    .await
    .expect("response")
}

#[tokio::test]
async fn static_files_come_precompressed_with_a_year_of_caching_and_never_touch_the_database() {
    // A pool whose database does not exist: any query or session load would fail.
    let dead = sqlx::postgres::PgPoolOptions::new()
        .acquire_timeout(std::time::Duration::from_millis(200))
        .connect_lazy("postgres://nobody@127.0.0.1:1/none")
        .expect("lazy pool");
    let site = bundled_site("static");
    let _one = one_server::one_server().await;
    let app = router(state_with_site(dead, &site)).expect("router");

    let wasm = get_with(
        app.clone(),
        "/pkg/guildhall.2222222222222222.wasm",
        "gzip, br",
    )
    .await;
    assert_eq!(wasm.status(), StatusCode::OK);
    assert_eq!(wasm.headers()["content-encoding"], "br");
    assert_eq!(
        wasm.headers()["cache-control"],
        "public, max-age=31536000, immutable"
    );
    assert!(wasm.headers().get("set-cookie").is_none());
    // The security headers are on static files too; their caching is their own.
    assert_eq!(wasm.headers()["x-content-type-options"], "nosniff");
    assert!(wasm.headers().contains_key("content-security-policy"));
    let body = axum::body::to_bytes(wasm.into_body(), 1 << 20)
        .await
        .expect("body");
    assert_eq!(&body[..], b"brotli-wasm");

    let css = get_with(app.clone(), "/pkg/guildhall.3333333333333333.css", "gzip").await;
    assert_eq!(css.status(), StatusCode::OK);
    assert_eq!(css.headers()["content-encoding"], "gzip");
    let body = axum::body::to_bytes(css.into_body(), 1 << 20)
        .await
        .expect("body");
    assert_eq!(&body[..], b"gzipped-css");

    let identity = get_with(
        app.clone(),
        "/pkg/guildhall.3333333333333333.css",
        "identity",
    )
    .await;
    assert!(identity.headers().get("content-encoding").is_none());
    let body = axum::body::to_bytes(identity.into_body(), 1 << 20)
        .await
        .expect("body");
    assert_eq!(&body[..], b"body{margin:0}");

    let plain = get_with(app, "/pkg/notes.txt", "gzip").await;
    assert_eq!(plain.status(), StatusCode::OK);
    assert_eq!(plain.headers()["cache-control"], "no-cache");
    std::fs::remove_dir_all(site).ok();
}

#[sqlx::test(migrator = "guildhall::db::MIGRATOR")]
async fn pages_link_the_fingerprinted_bundle_and_are_compressed(pool: PgPool) {
    let site = bundled_site("page");
    let _one = one_server::one_server().await;
    let app = router(state_with_site(pool, &site)).expect("router");
    let response = get_with(app.clone(), "/", "identity").await;
    assert_eq!(response.status(), StatusCode::OK);
    let html = axum::body::to_bytes(response.into_body(), 1 << 22)
        .await
        .expect("body");
    let html = String::from_utf8_lossy(&html);
    for name in [
        "/pkg/guildhall.3333333333333333.css",
        "/pkg/guildhall.1111111111111111.js",
        "/pkg/guildhall.2222222222222222.wasm",
    ] {
        assert!(
            html.contains(name),
            "the page does not link {name}:\n{html}"
        );
    }
    let compressed = get_with(app, "/", "gzip").await;
    assert_eq!(compressed.headers()["content-encoding"], "gzip");
    std::fs::remove_dir_all(site).ok();
}

async fn get(app: axum::Router, path: &str) -> (StatusCode, String) {
    let response = app
        .oneshot(Request::get(path).body(Body::empty()).expect("request"))
        .await
        .expect("response");
    let status = response.status();
    let bytes = axum::body::to_bytes(response.into_body(), 1 << 20)
        .await
        .expect("body");
    (status, String::from_utf8_lossy(&bytes).into_owned())
}

#[sqlx::test(migrator = "guildhall::db::MIGRATOR")]
async fn healthz_is_ok_while_the_database_answers_and_503_when_it_does_not(pool: PgPool) {
    let _one = one_server::one_server().await;
    let app = router(state(pool.clone(), Metrics::new())).expect("router");
    assert_eq!(
        get(app.clone(), "/healthz").await,
        (StatusCode::OK, "ok\n".into())
    );
    pool.close().await;
    assert_eq!(
        get(app, "/healthz").await,
        (
            StatusCode::SERVICE_UNAVAILABLE,
            "database unreachable\n".into()
        )
    );
}

#[sqlx::test(migrator = "guildhall::db::MIGRATOR")]
async fn metrics_count_requests_collector_events_and_drops(pool: PgPool) {
    let metrics = Metrics::new();
    metrics.received("discord_voice");
    metrics.received("discord_voice");
    metrics.dropped("discord_voice", DropReason::bot);
    let _one = one_server::one_server().await;
    let app = router(state(pool, metrics.clone())).expect("router");
    get(app.clone(), "/healthz").await;
    get(app.clone(), "/healthz").await;
    // Without GUILDHALL_METRICS_TOKEN the web port has no /metrics (counted as a 404)…
    assert_eq!(get(app, "/metrics").await.0, StatusCode::NOT_FOUND);
    // …and the metrics listener serves them.
    let (status, text) = get(guildhall::web::metrics_router(metrics), "/metrics").await;
    assert_eq!(status, StatusCode::OK);
    for line in [
        "guildhall_collector_events_total{source=\"discord_voice\"} 2",
        "guildhall_dropped_records_total{source=\"discord_voice\",reason=\"bot\"} 1",
        "guildhall_http_requests_total{method=\"GET\",route=\"health\",status=\"200\"} 2",
        "# TYPE guildhall_pipeline_runs counter",
    ] {
        assert!(text.contains(line), "missing `{line}` in:\n{text}");
    }
}

#[sqlx::test(migrator = "guildhall::db::MIGRATOR")]
async fn no_table_has_a_column_for_message_content_or_ip_addresses(pool: PgPool) {
    let columns: Vec<String> = sqlx::query_scalar(
        "select table_schema || '.' || table_name || '.' || column_name
         from information_schema.columns
         where table_schema in ('bronze', 'silver', 'gold', 'app')
           and (column_name ~* '(content|message_text|body|^ip$|ip_addr|address)')",
    )
    .fetch_all(&pool)
    .await
    .expect("columns");
    assert_eq!(columns, Vec::<String>::new());
}

#[sqlx::test(migrator = "guildhall::db::MIGRATOR")]
async fn every_silver_and_gold_table_and_column_is_described(pool: PgPool) {
    let undocumented: Vec<String> = sqlx::query_scalar(
        "select c.table_schema || '.' || c.table_name || '.' || c.column_name
         from information_schema.columns c
         join pg_class t on t.relname = c.table_name
         join pg_namespace n on n.oid = t.relnamespace and n.nspname = c.table_schema
         where c.table_schema in ('silver', 'gold')
           and col_description(t.oid, c.ordinal_position::int) is null
         union all
         select n.nspname || '.' || t.relname
         from pg_class t join pg_namespace n on n.oid = t.relnamespace
         where n.nspname in ('silver', 'gold') and t.relkind = 'r'
           and obj_description(t.oid, 'pg_class') is null
         order by 1",
    )
    .fetch_all(&pool)
    .await
    .expect("comments");
    assert_eq!(undocumented, Vec::<String>::new());
}

/// Collects everything logged while it is the default subscriber.
#[derive(Clone, Default)]
struct CapturedLogs(std::sync::Arc<std::sync::Mutex<Vec<u8>>>);

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
async fn client_ip_addresses_never_reach_the_logs(pool: PgPool) {
    let logs = CapturedLogs::default();
    let subscriber = tracing_subscriber::fmt()
        .with_max_level(tracing::Level::TRACE)
        .with_writer(logs.clone())
        .finish();
    // With no global subscriber, a parallel test's thread can have a callsite's interest
    // cached as "never" (tokio-rs/tracing#2743): set one so interest is always asked.
    let _ = tracing::subscriber::set_global_default(tracing_subscriber::registry());
    let _guard = tracing::subscriber::set_default(subscriber);

    let _one = one_server::one_server().await;
    let app = router(state(pool, Metrics::new())).expect("router");
    for path in [
        "/",
        "/admin",
        "/auth/login",
        "/auth/callback?state=x&code=y",
        "/nope",
    ] {
        let request = Request::get(path)
            .header("x-forwarded-for", "203.0.113.77")
            .header("x-real-ip", "203.0.113.77")
            .header("forwarded", "for=203.0.113.77")
            .body(Body::empty())
            .expect("request");
        let _ = app.clone().oneshot(request).await.expect("response");
    }
    let text = String::from_utf8_lossy(&logs.0.lock().expect("logs")).into_owned();
    assert!(
        !text.is_empty(),
        "nothing was captured, so the check proves nothing"
    );
    assert!(
        !text.contains("203.0.113.77"),
        "a client IP was logged:\n{text}"
    );
}

#[sqlx::test(migrator = "guildhall::db::MIGRATOR")]
async fn posts_from_another_site_are_refused(pool: PgPool) {
    let _one = one_server::one_server().await;
    let app = router(state(pool, Metrics::new())).expect("router");
    let post = |origin: Option<&str>| {
        let mut request = Request::post(<app::api::GetMe as leptos::server_fn::ServerFn>::PATH)
            .header("host", "127.0.0.1:3000")
            .header("accept", "application/json")
            .header("content-type", "application/x-www-form-urlencoded");
        if let Some(origin) = origin {
            request = request.header("origin", origin);
        }
        request.body(Body::empty()).expect("request")
    };
    let status = |request: Request<Body>| {
        let app = app.clone();
        async move {
            let response: axum::response::Response = app.oneshot(request).await.expect("response");
            response.status()
        }
    };
    assert_eq!(
        status(post(Some("https://evil.example"))).await,
        StatusCode::FORBIDDEN
    );
    assert_eq!(
        status(post(Some("http://127.0.0.1:4000"))).await,
        StatusCode::FORBIDDEN
    );
    assert_eq!(
        status(post(Some("http://127.0.0.1:3000"))).await,
        StatusCode::OK
    );
    assert_eq!(status(post(None)).await, StatusCode::OK);
    // Behind a reverse proxy that rewrites Host, the configured public URL is accepted.
    let mut proxied = post(Some("http://127.0.0.1:3000"));
    proxied
        .headers_mut()
        .insert("host", "10.0.0.5:3000".parse().expect("header"));
    assert_eq!(status(proxied).await, StatusCode::OK);
}

#[sqlx::test(migrator = "guildhall::db::MIGRATOR")]
async fn the_language_form_sets_the_cookie_and_returns_to_the_same_page(pool: PgPool) {
    let _one = one_server::one_server().await;
    let app = router(state(pool, Metrics::new())).expect("router");
    let choose = |body: &'static str| {
        let app = app.clone();
        async move {
            let request = Request::post("/lang")
                .header("content-type", "application/x-www-form-urlencoded")
                .body(Body::from(body))
                .expect("request");
            let response = app.oneshot(request).await.expect("response");
            let header = |name: &str| {
                response
                    .headers()
                    .get(name)
                    .map(|value| value.to_str().expect("ascii").to_owned())
            };
            (response.status(), header("location"), header("set-cookie"))
        }
    };
    assert_eq!(
        choose("lang=de&next=%2F%3Ffrom%3D2026-01-01%26to%3D2026-01-31").await,
        (
            StatusCode::SEE_OTHER,
            Some("/?from=2026-01-01&to=2026-01-31".to_owned()),
            Some("lang=de; Path=/; Max-Age=31536000; SameSite=Lax".to_owned())
        )
    );
    // Never off to another site.
    assert_eq!(
        choose("lang=en&next=%2F%2Fevil.example%2F").await,
        (
            StatusCode::SEE_OTHER,
            Some("/".to_owned()),
            Some("lang=en; Path=/; Max-Age=31536000; SameSite=Lax".to_owned())
        )
    );
    assert_eq!(
        choose("lang=fr&next=%2F").await,
        (StatusCode::BAD_REQUEST, None, None)
    );
}
