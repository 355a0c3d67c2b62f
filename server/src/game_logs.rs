//! CS2's (and CS:GO's) HTTP log shipping: `logaddress_add_http
//! "https://guildhall.example/ingest/logs/<token>"` makes the game server POST its log lines
//! in batches. The token is the server's secret; a wrong one is 404 and stores nothing. The
//! answer is 2xx only once the batch is committed, so a batch the server has to send again
//! is never lost, and a resend adds nothing: every line is keyed by its instant and a hash
//! of its text.
//!
//! The token is checked before the body is read, so a wrong token costs one lookup and no
//! upload. Every step that needs the database (the token lookup, the write) shares one
//! deadline (`GUILDHALL_GAMES__LOG_ACK_TIMEOUT_MS`): past it the answer is 503 and the game
//! server sends the batch again, instead of the request hanging while PostgreSQL is away.

use axum::Router;
use axum::body::Body;
use axum::extract::{Path, State};
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
use std::time::Duration;
use tokio::time::{Instant, timeout_at};

/// What the endpoint needs: the database, the log writer and the community's zone.
#[derive(Clone)]
pub struct LogIngest {
    pool: PgPool,
    sink: LogSink,
    timezone: chrono_tz::Tz,
    body_limit: usize,
    ack_timeout: Duration,
}

impl LogIngest {
    /// Starts the endpoint's writer (every batch is acknowledged, so nothing waits in it at
    /// shutdown).
    pub fn start(
        pool: &PgPool,
        metrics: &Metrics,
        timezone: chrono_tz::Tz,
        body_limit: usize,
        ack_timeout: Duration,
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
            ack_timeout,
        }
    }
}

/// `POST /ingest/logs/{token}`, outside the session and CSRF layers (game servers have
/// neither cookies nor an origin).
pub fn router<S>(ingest: &LogIngest) -> Router<S> {
    Router::new()
        .route("/ingest/logs/{token}", post(ingest_logs))
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

enum BodyError {
    TooLarge,
    Unreadable,
}

/// Reads a body of at most `limit` bytes: refused at once when `Content-Length` announces
/// more, and as soon as more arrives otherwise.
async fn read_body(headers: &HeaderMap, body: Body, limit: usize) -> Result<Vec<u8>, BodyError> {
    use futures::StreamExt as _;
    let announced = headers
        .get(axum::http::header::CONTENT_LENGTH)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.parse::<u64>().ok());
    if announced.is_some_and(|announced| announced > limit as u64) {
        return Err(BodyError::TooLarge);
    }
    let mut bytes = Vec::with_capacity(announced.map_or(8 * 1024, |a| a as usize));
    let mut stream = body.into_data_stream();
    while let Some(chunk) = stream.next().await {
        let chunk = chunk.map_err(|_| BodyError::Unreadable)?;
        if bytes.len() + chunk.len() > limit {
            return Err(BodyError::TooLarge);
        }
        bytes.extend_from_slice(&chunk);
    }
    Ok(bytes)
}

/// The database did not answer in time (or failed): the game server sends the batch again.
fn unavailable() -> Response {
    plain(
        StatusCode::SERVICE_UNAVAILABLE,
        "the database is not reachable; send again later\n",
    )
}

async fn ingest_logs(
    State(ingest): State<LogIngest>,
    Path(token): Path<String>,
    headers: HeaderMap,
    body: Body,
) -> Response {
    let deadline = Instant::now() + ingest.ack_timeout;
    let pool = &ingest.pool;
    let server = match timeout_at(deadline, server_by_token(pool, &token)).await {
        Ok(Ok(Some(server))) => server,
        Ok(Ok(None)) => {
            return plain(
                StatusCode::NOT_FOUND,
                "no enabled game server has this log token\n",
            );
        }
        Ok(Err(error)) => {
            tracing::error!(%error, "looking up a log token failed");
            return unavailable();
        }
        Err(_) => {
            tracing::warn!(
                timeout_ms = ingest.ack_timeout.as_millis() as u64,
                "looking up a log token took too long; answering 503"
            );
            return unavailable();
        }
    };
    // Only now is the body read, up to the size limit.
    let body = match read_body(&headers, body, ingest.body_limit).await {
        Ok(body) => body,
        Err(BodyError::TooLarge) => {
            return plain(
                StatusCode::PAYLOAD_TOO_LARGE,
                "the batch is larger than GUILDHALL_GAMES__LOG_BODY_LIMIT_KB\n",
            );
        }
        Err(BodyError::Unreadable) => {
            return plain(StatusCode::BAD_REQUEST, "the body could not be read\n");
        }
    };
    // A compressed body is not lines at all: the game server is told so. Any other bytes are
    // lines: one that cannot be read (NUL bytes, not UTF-8) is kept as unparsed, and the
    // readable lines around it are stored (refusing the batch would lose them all, as the
    // server would send it again for ever).
    if body.starts_with(&[0x1f, 0x8b]) {
        return plain(
            StatusCode::UNSUPPORTED_MEDIA_TYPE,
            "the body is gzip-compressed binary: expected the text lines logaddress_add_http sends\n",
        );
    }
    let now = Utc::now();
    let tz = server.log_tz(ingest.timezone);
    let mut stream = LogStream::new(
        server.server_id,
        LogFormat::for_game(server.game),
        tz,
        now.with_timezone(&tz).date_naive(),
        now,
    );
    stream.push(&body);
    stream.finish();
    let decoded = stream.take();
    let unparsed = decoded.counts.unparsed;
    // Past the deadline the commit is dropped, and with it the writer's work on this batch:
    // nothing is stored on behalf of a request answered 503 (a resend stores it once).
    let receipt = match timeout_at(deadline, ingest.sink.commit(decoded)).await {
        Ok(Ok(receipt)) => receipt,
        Ok(Err(error)) => {
            tracing::error!(server = %server.name, error = format!("{error:#}"), "storing a log batch failed");
            return plain(
                StatusCode::SERVICE_UNAVAILABLE,
                "the batch could not be stored; send it again\n",
            );
        }
        Err(_) => {
            tracing::warn!(
                server = %server.name,
                timeout_ms = ingest.ack_timeout.as_millis() as u64,
                "storing a log batch took too long; answering 503"
            );
            return plain(
                StatusCode::SERVICE_UNAVAILABLE,
                "the batch could not be stored in time; send it again\n",
            );
        }
    };
    // The batch is committed: what follows is bookkeeping for the admin page, and waits for
    // the database only until the same deadline.
    let header = |name: &str| {
        headers
            .get(name)
            .and_then(|v| v.to_str().ok())
            .map(str::to_owned)
    };
    let bookkeeping = async {
        // Where the server's log stream is (idempotency comes from the lines' keys, since
        // offsets restart at 0 with every new log file).
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
    };
    if timeout_at(deadline, bookkeeping).await.is_err() {
        tracing::warn!(server = %server.name, "recording the log offset and status took too long");
    }
    plain(
        StatusCode::OK,
        format!(
            "stored {} lines ({} already stored, {} unreadable kept)\n",
            receipt.new, receipt.duplicate, unparsed
        ),
    )
}
