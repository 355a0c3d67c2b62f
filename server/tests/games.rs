//! Game servers end to end: CS2's real HTTP log posts against the endpoint (idempotent,
//! token-checked, text only), privacy of what is stored, and a hand-made server evening
//! through the sessions and utilization jobs with numbers worked out by hand.

use axum::body::Body;
use axum::http::{Request, StatusCode};
use collectors::metrics::Metrics;
use figment::providers::Serialized;
use guildhall::config::Config;
use guildhall::pipeline::{Pipeline, Trigger};
use guildhall::state::ServerState;
use guildhall::web::router;
use sqlx::PgPool;
use std::sync::Arc;
use tower::ServiceExt;

const POSTS: &str = include_str!(
    "../../collectors/tests/fixtures/03-source-hl-logs/cs2_http_logaddress_posts_with_headers.txt"
);

fn state(pool: PgPool) -> ServerState {
    let config = Config::from_figment(
        Config::defaults_figment()
            .merge(Serialized::default("demo", false))
            .merge(Serialized::default("timezone", "UTC")),
    )
    .expect("config");
    ServerState::new(Arc::new(config), pool, Metrics::new()).expect("state")
}

async fn add_server(pool: &PgPool, name: &str, game: &str, token: &str) -> i64 {
    sqlx::query_scalar(
        "insert into app.game_servers (name, game, host, log_source, ingest_token)
         values ($1, $2, '127.0.0.1', 'http', $3) returning server_id",
    )
    .bind(name)
    .bind(game)
    .bind(token)
    .fetch_one(pool)
    .await
    .expect("server")
}

/// The capture's posts: headers and body of each.
fn posts() -> Vec<(Vec<(String, String)>, String)> {
    POSTS
        .split("\n---\n")
        .filter_map(|block| {
            let headers = block.lines().find_map(|l| l.strip_prefix("HEADERS: "))?;
            let body = block.split_once("BODY:\n")?.1;
            let headers = headers
                .split("; ")
                .filter_map(|h| h.split_once('='))
                .filter(|(k, _)| k.starts_with("X-"))
                .map(|(k, v)| (k.to_owned(), v.to_owned()))
                .collect();
            Some((headers, body.trim_end_matches('\n').to_owned() + "\n"))
        })
        .collect()
}

async fn post(
    app: &axum::Router,
    token: &str,
    headers: &[(String, String)],
    body: Vec<u8>,
) -> (StatusCode, String) {
    let mut request =
        Request::post(format!("/ingest/logs/{token}")).header("content-type", "text/plain");
    for (k, v) in headers {
        request = request.header(k.as_str(), v.as_str());
    }
    let response = app
        .clone()
        .oneshot(request.body(Body::from(body)).expect("request"))
        .await
        .expect("response");
    let status = response.status();
    let bytes = axum::body::to_bytes(response.into_body(), 1 << 20)
        .await
        .expect("body");
    (status, String::from_utf8_lossy(&bytes).into_owned())
}

async fn count(pool: &PgPool, kind: &str) -> i64 {
    sqlx::query_scalar("select count(*) from bronze.game_log_events where kind = $1")
        .bind(kind)
        .fetch_one(pool)
        .await
        .expect("count")
}

const TOKEN: &str = "0123456789abcdef0123456789abcdef";

#[sqlx::test(migrator = "guildhall::db::MIGRATOR")]
async fn cs2_http_posts_are_stored_once_and_a_replay_adds_nothing(pool: PgPool) {
    add_server(&pool, "cs2", "cs2", TOKEN).await;
    let app = router(state(pool.clone())).expect("router");
    let posts = posts();
    assert_eq!(posts.len(), 14, "the capture holds 14 posts");
    for (headers, body) in &posts {
        let (status, text) = post(&app, TOKEN, headers, body.clone().into_bytes()).await;
        assert_eq!(status, StatusCode::OK, "{text}");
    }
    // Counted by hand in the capture: 120 bot connects and entries, 120 team switches and
    // 12 map loads, no unreadable line. Posts 12 and 13 both carry the map load, Wiscar's connect,
    // entry and team switch of 18:17:03.022, byte for byte: the server sent those lines twice, and they
    // are stored once.
    assert_eq!(count(&pool, "connected").await, 119);
    assert_eq!(count(&pool, "entered").await, 119);
    assert_eq!(count(&pool, "team").await, 119);
    assert_eq!(count(&pool, "map").await, 11);
    assert_eq!(count(&pool, "unparsed").await, 0);
    let total: i64 = sqlx::query_scalar("select count(*) from bronze.game_log_events")
        .fetch_one(&pool)
        .await
        .expect("total");
    // The same batches again (CS2 resends what it got no 2xx for): nothing new.
    for (headers, body) in &posts {
        let (status, text) = post(&app, TOKEN, headers, body.clone().into_bytes()).await;
        assert_eq!(status, StatusCode::OK, "{text}");
        assert!(text.starts_with("stored 0 lines"), "{text}");
    }
    let again: i64 = sqlx::query_scalar("select count(*) from bronze.game_log_events")
        .fetch_one(&pool)
        .await
        .expect("total");
    assert_eq!(again, total);
    let offset: i64 = sqlx::query_scalar(
        "select read_offset from app.game_log_cursors where stream = 'http:7be6ded70c65df71'",
    )
    .fetch_one(&pool)
    .await
    .expect("cursor");
    assert_eq!(
        offset.to_string(),
        posts
            .last()
            .expect("post")
            .0
            .iter()
            .find(|(k, _)| k == "X-LogBytes-EndOffset")
            .expect("end")
            .1
    );
}

#[sqlx::test(migrator = "guildhall::db::MIGRATOR")]
async fn a_posted_line_with_a_nul_or_invalid_utf8_is_kept_as_its_bytes_and_the_rest_stored(
    pool: PgPool,
) {
    add_server(&pool, "cs2", "cs2", TOKEN).await;
    let app = router(state(pool.clone())).expect("router");
    let nul = b"07/17/2026 - 18:14:41.000 - \"Bo\0b<3><BOT><>\" entered the game".to_vec();
    let latin1 = b"07/17/2026 - 18:14:42.000 - \"J\xf6rg<4><BOT><>\" entered the game".to_vec();
    let mut body = b"07/17/2026 - 18:14:40.023 - Loading map \"ar_pool_day\"\n".to_vec();
    for line in [&nul, &latin1] {
        body.extend_from_slice(line);
        body.push(b'\n');
    }
    let (status, text) = post(&app, TOKEN, &[], body.clone()).await;
    assert_eq!(status, StatusCode::OK, "{text}");
    assert_eq!(
        text,
        "stored 3 lines (0 already stored, 2 unreadable kept)\n"
    );
    let kept: Vec<(Vec<u8>, String)> = sqlx::query_as(
        "select raw_line, detail->>'error' from bronze.game_log_events
         where kind = 'unparsed' order by event_id",
    )
    .fetch_all(&pool)
    .await
    .expect("kept");
    assert_eq!(
        kept,
        [
            (nul, "NUL byte in the line".to_owned()),
            (latin1, "not UTF-8".to_owned())
        ]
    );
    assert_eq!(count(&pool, "map").await, 1);
    // The server sends the batch again: nothing is stored twice.
    let (status, text) = post(&app, TOKEN, &[], body).await;
    assert_eq!(status, StatusCode::OK, "{text}");
    assert_eq!(
        text,
        "stored 0 lines (3 already stored, 2 unreadable kept)\n"
    );
}

#[sqlx::test(migrator = "guildhall::db::MIGRATOR")]
async fn a_wrong_token_binary_or_oversized_body_stores_nothing(pool: PgPool) {
    add_server(&pool, "cs2", "cs2", TOKEN).await;
    let app = router(state(pool.clone())).expect("router");
    let line = b"07/17/2026 - 18:14:40.023 - Loading map \"ar_pool_day\"\n".to_vec();
    let (status, _) = post(&app, "not-the-token-not-the-token-0000", &[], line.clone()).await;
    assert_eq!(status, StatusCode::NOT_FOUND);
    let (status, text) = post(&app, TOKEN, &[], vec![0x1f, 0x8b, 0x08, 0x00, 0xff, 0x00]).await;
    assert_eq!(status, StatusCode::UNSUPPORTED_MEDIA_TYPE, "{text}");
    assert!(text.contains("binary"), "{text}");
    let (status, _) = post(&app, TOKEN, &[], vec![b'a'; 2 * 1024 * 1024]).await;
    assert_eq!(status, StatusCode::PAYLOAD_TOO_LARGE);
    let total: i64 = sqlx::query_scalar("select count(*) from bronze.game_log_events")
        .fetch_one(&pool)
        .await
        .expect("total");
    assert_eq!(total, 0);
}

#[sqlx::test(migrator = "guildhall::db::MIGRATOR")]
async fn addresses_and_chat_text_are_never_stored(pool: PgPool) {
    add_server(&pool, "cs2", "cs2", TOKEN).await;
    let app = router(state(pool.clone())).expect("router");
    let body = "11/28/2026 - 20:00:00.000 - \"Alice<2><[U:1:1001]><>\" connected, address \"203.0.113.77:27005\"\n\
                11/28/2026 - 20:00:05.000 - \"Alice<2><[U:1:1001]><>\" say \"my secret plan\"\n\
                garbage from 198.51.100.23:1234\n";
    let (status, text) = post(&app, TOKEN, &[], body.as_bytes().to_vec()).await;
    assert_eq!(status, StatusCode::OK, "{text}");
    let dump: String = sqlx::query_scalar(
        "select string_agg(row_to_json(e)::text, E'\\n') from bronze.game_log_events e",
    )
    .fetch_one(&pool)
    .await
    .expect("rows");
    assert!(!dump.contains("203.0.113.77"), "{dump}");
    assert!(!dump.contains("198.51.100.23"), "{dump}");
    assert!(!dump.contains("secret"), "{dump}");
    assert!(
        dump.contains("\"chat_length\": 14") || dump.contains("\"chat_length\":14"),
        "{dump}"
    );
    let hashed: i64 =
        sqlx::query_scalar("select count(*) from bronze.game_log_events where ip_hash is not null")
            .fetch_one(&pool)
            .await
            .expect("hashed");
    assert_eq!(hashed, 1);
}

/// A hand-made evening on one server (UTC, capacity 10): A plays 20:00–21:30, B 20:30–20:45
/// and again 23:50–00:20 across midnight, C enters at 21:10 and the server stops at 21:40
/// (ending C's session), D joins at 22:00 and never leaves before the last line at 22:30.
#[sqlx::test(migrator = "guildhall::db::MIGRATOR")]
async fn a_hand_made_evening_gives_exact_sessions_and_utilization(pool: PgPool) {
    let id = add_server(&pool, "mc", "minecraft", TOKEN).await;
    sqlx::query("update app.game_servers set capacity_override = 10, log_source = 'file' where server_id = $1")
        .bind(id)
        .execute(&pool)
        .await
        .expect("capacity");
    let lines = [
        "[20:00:00] [Server thread/INFO]: A joined the game",
        "[20:30:00] [Server thread/INFO]: B joined the game",
        "[20:45:00] [Server thread/INFO]: B left the game",
        "[21:10:00] [Server thread/INFO]: C joined the game",
        "[21:30:00] [Server thread/INFO]: A left the game",
        "[21:40:00] [Server thread/INFO]: Stopping server",
        "[21:41:00] [Server thread/INFO]: Done (3.2s)! For help, type \"help\"",
        "[22:00:00] [Server thread/INFO]: D joined the game",
        "[22:30:00] [Server thread/INFO]: <D> hi",
        "[23:50:00] [Server thread/INFO]: B joined the game",
        "[00:20:00] [Server thread/INFO]: B left the game",
    ];
    let tz = chrono_tz::UTC;
    let day = chrono::NaiveDate::from_ymd_opt(2026, 11, 28).expect("day");
    let start = day.and_hms_opt(0, 0, 0).expect("midnight").and_utc();
    let mut stream = collectors::game::logs::LogStream::new(
        id,
        collectors::game::logs::LogFormat::Minecraft,
        tz,
        day,
        start,
    );
    stream.push(lines.join("\n").as_bytes());
    stream.finish();
    let (writer, task) =
        collectors::ingest::IngestWriter::spawn(pool.clone(), Default::default(), Metrics::new());
    let sink = collectors::game::logs::LogSink::new(
        writer,
        Metrics::new(),
        Arc::new(collectors::steps::IpHasher::new(pool.clone())),
    );
    sink.commit(stream.take()).await.expect("write");
    drop(sink);
    let _ = task.await;
    let clock = guildhall::clock::Clock::fixed("2026-11-29T12:00:00Z".parse().expect("now"));
    let pipeline = Pipeline::with_clock(pool.clone(), tz, Metrics::new(), clock);
    pipeline.run_all(Trigger::Manual).await.expect("jobs");

    let sessions: Vec<(String, String, Option<String>, Option<String>)> = sqlx::query_as(
        "select player_key, to_char(started_at, 'DD HH24:MI'), to_char(ended_at, 'DD HH24:MI'), end_reason
         from silver.fact_game_sessions order by started_at, player_key",
    )
    .fetch_all(&pool)
    .await
    .expect("sessions");
    let s = |k: &str, a: &str, b: Option<&str>, r: Option<&str>| {
        (
            k.to_owned(),
            a.to_owned(),
            b.map(str::to_owned),
            r.map(str::to_owned),
        )
    };
    assert_eq!(
        sessions,
        vec![
            s("name:A", "28 20:00", Some("28 21:30"), Some("disconnect")),
            s("name:B", "28 20:30", Some("28 20:45"), Some("disconnect")),
            s("name:C", "28 21:10", Some("28 21:40"), Some("server_stop")),
            s("name:D", "28 22:00", None, None),
            s("name:B", "28 23:50", Some("29 00:20"), Some("disconnect")),
        ]
    );
    // Hours by hand: 20:00 A 60 min + B 15 min = 75 player-minutes → 1.25 avg, peak 2;
    // 21:00 A 30 + C 30 = 60 → 1.0, peak 2; 22:00 D 60 (open: until the last line heard,
    // 00:20, so the whole hour) → 1.0; 23:00 D 60 + B 10 → 70/60 = 1.167, peak 2.
    let hours: Vec<(String, String, i32, String)> = sqlx::query_as(
        "select to_char(hour, 'DD HH24'), avg_humans::text, peak_humans, coalesce(utilization_pct::text, '')
         from gold.server_utilization where hour between '2026-11-28 20:00Z' and '2026-11-28 23:00Z' order by hour",
    )
    .fetch_all(&pool)
    .await
    .expect("hours");
    let h = |a: &str, b: &str, c: i32, d: &str| (a.to_owned(), b.to_owned(), c, d.to_owned());
    assert_eq!(
        hours,
        vec![
            h("28 20", "1.250", 2, "12.50"),
            h("28 21", "1.000", 2, "10.00"),
            h("28 22", "1.000", 1, "10.00"),
            h("28 23", "1.167", 2, "11.67"),
        ]
    );
}
