//! `/healthz`: 200 when PostgreSQL answers, 503 within a second when it does not.
//!
//! The check runs on a connection of its own (a pool of one, opened on first use), so a
//! health probe neither waits behind the app's pool when other work holds every connection
//! nor takes a connection that work needs; and the whole check has a short deadline, so a
//! stopped or unreachable database is reported at once instead of after the pool's acquire
//! timeout.

use axum::Router;
use axum::extract::State;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use sqlx::PgPool;
use sqlx::postgres::PgPoolOptions;
use std::time::Duration;

/// Where it answers.
pub const PATH: &str = "/healthz";

/// How long the check may take in all (connecting included).
pub const HEALTH_TIMEOUT: Duration = Duration::from_millis(800);

/// The probe's own pool, and the app's (closed at shutdown: then the app is not healthy).
#[derive(Clone)]
struct Health {
    own: PgPool,
    app: PgPool,
}

/// `GET /healthz`, outside the session layers: a probe reads no session.
pub fn router<S>(pool: &PgPool) -> Router<S> {
    // The app's connection settings, but a pool of its own: one connection, opened lazily,
    // closed after a minute unused.
    let own = PgPoolOptions::new()
        .max_connections(1)
        .min_connections(0)
        .acquire_timeout(HEALTH_TIMEOUT)
        .idle_timeout(Duration::from_secs(60))
        .connect_lazy_with((*pool.connect_options()).clone());
    Router::new().route(PATH, get(healthz)).with_state(Health {
        own,
        app: pool.clone(),
    })
}

/// 200 only when the database answers within [`HEALTH_TIMEOUT`] (and the app's pool is
/// open).
async fn healthz(State(health): State<Health>) -> Response {
    if health.app.is_closed() {
        return unavailable();
    }
    let check = sqlx::query_scalar::<_, i32>("select 1").fetch_one(&health.own);
    match tokio::time::timeout(HEALTH_TIMEOUT, check).await {
        Ok(Ok(_)) => (StatusCode::OK, "ok\n").into_response(),
        Ok(Err(error)) => {
            tracing::warn!(%error, "health check: database unreachable");
            unavailable()
        }
        Err(_) => {
            tracing::warn!(
                timeout_ms = HEALTH_TIMEOUT.as_millis() as u64,
                "health check: the database did not answer in time"
            );
            unavailable()
        }
    }
}

fn unavailable() -> Response {
    (StatusCode::SERVICE_UNAVAILABLE, "database unreachable\n").into_response()
}
