//! CS2's (and CS:GO's) HTTP log shipping: `logaddress_add_http
//! "https://guildhall.example/ingest/logs/<token>"` makes the game server POST its log lines
//! in batches. The token is the server's secret; a wrong one is 404 and stores nothing. The
//! answer is 2xx only once the batch is committed, so a batch the server has to send again
//! is never lost, and a resend adds nothing: every line is keyed by its instant and a hash
//! of its text.

use axum::Router;
use axum::body::Bytes;
use axum::extract::{DefaultBodyLimit, Path, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::post;
use chrono::Utc;
use collectors::game::logs::{LogCursor, LogFormat, LogSink, LogStream};
use collectors::game::records::GameLogRecord;
use collectors::game::servers::{SourceKind, report_source, server_by_token};
use collectors::ingest::{IngestWriter, WriterConfig};
use collectors::metrics::Metrics;
use collectors::steps::IpHasher;
use sqlx::PgPool;
use std::sync::Arc;

/// What the endpoint needs: the database, the log writer and the community's zone.
#[derive(Clone)]
pub struct LogIngest {
    pool: PgPool,
    sink: LogSink,
    timezone: chrono_tz::Tz,
    body_limit: usize,
}

impl LogIngest {
    /// Starts the endpoint's writer (every batch is acknowledged, so nothing waits in it at
    /// shutdown).
    pub fn start(
        pool: &PgPool,
        metrics: &Metrics,
        timezone: chrono_tz::Tz,
        body_limit: usize,
    ) -> Self {
        let (writer, _task) = IngestWriter::<GameLogRecord>::spawn(
            pool.clone(),
            WriterConfig::default(),
            metrics.clone(),
        );
        Self {
            pool: pool.clone(),
            sink: LogSink::new(
                writer,
                metrics.clone(),
                Arc::new(IpHasher::new(pool.clone())),
            ),
            timezone,
            body_limit,
        }
    }
}

/// `POST /ingest/logs/{token}`, outside the session and CSRF layers (game servers have
/// neither cookies nor an origin).
pub fn router<S>(ingest: &LogIngest) -> Router<S> {
    Router::new()
        .route("/ingest/logs/{token}", post(ingest_logs))
        .layer(DefaultBodyLimit::max(ingest.body_limit))
        .with_state(ingest.clone())
}

fn plain(status: StatusCode, message: impl Into<String>) -> Response {
    (
        status,
        [("content-type", "text/plain; charset=utf-8")],
        message.into(),
    )
        .into_response()
}

async fn ingest_logs(
    State(ingest): State<LogIngest>,
    Path(token): Path<String>,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    let pool = &ingest.pool;
    let server = match server_by_token(pool, &token).await {
        Ok(Some(server)) => server,
        Ok(None) => {
            return plain(
                StatusCode::NOT_FOUND,
                "no enabled game server has this log token\n",
            );
        }
        Err(error) => {
            tracing::error!(%error, "looking up a log token failed");
            return plain(
                StatusCode::SERVICE_UNAVAILABLE,
                "the database is not reachable; send again later\n",
            );
        }
    };
    if body.contains(&0) {
        return plain(
            StatusCode::UNSUPPORTED_MEDIA_TYPE,
            "the body is binary: expected the text lines logaddress_add_http sends\n",
        );
    }
    let Ok(text) = std::str::from_utf8(&body) else {
        return plain(
            StatusCode::UNSUPPORTED_MEDIA_TYPE,
            "the body is not UTF-8 text: expected the text lines logaddress_add_http sends\n",
        );
    };
    let now = Utc::now();
    let tz = server.log_tz(ingest.timezone);
    let mut stream = LogStream::new(
        server.server_id,
        LogFormat::for_game(server.game),
        tz,
        now.with_timezone(&tz).date_naive(),
        now,
    );
    stream.push(text.as_bytes());
    stream.finish();
    let decoded = stream.take();
    let unparsed = decoded.counts.unparsed;
    let receipt = match ingest.sink.commit(decoded).await {
        Ok(receipt) => receipt,
        Err(error) => {
            tracing::error!(server = %server.name, error = format!("{error:#}"), "storing a log batch failed");
            return plain(
                StatusCode::SERVICE_UNAVAILABLE,
                "the batch could not be stored; send it again\n",
            );
        }
    };
    // Where the server's log stream is (for the admin page; idempotency comes from the
    // lines' keys, since offsets restart at 0 with every new log file).
    let header = |name: &str| {
        headers
            .get(name)
            .and_then(|v| v.to_str().ok())
            .map(str::to_owned)
    };
    if let Some(end) = header("x-logbytes-endoffset").and_then(|v| v.parse::<i64>().ok()) {
        let instance = header("x-server-instance-token").unwrap_or_default();
        let cursor = LogCursor {
            stream: format!("http:{}", instance.chars().take(64).collect::<String>()),
            file_id: None,
            offset: end,
            day: None,
        };
        if let Err(error) = ingest.sink.save_cursor(server.server_id, &cursor).await {
            tracing::warn!(%error, "recording the HTTP log offset failed");
        }
    }
    if let Err(error) = report_source(pool, server.server_id, SourceKind::Logs, None).await {
        tracing::warn!(%error, "recording the log source's status failed");
    }
    plain(
        StatusCode::OK,
        format!(
            "stored {} lines ({} already stored, {} unreadable kept)\n",
            receipt.new, receipt.duplicate, unparsed
        ),
    )
}
