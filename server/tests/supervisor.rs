//! The collector supervisor: each collector's state, errors and restarts go to
//! `app.collector_status`, so the web app shows them whichever process runs the collector.

use collectors::Collector;
use futures::FutureExt;
use futures::future::BoxFuture;
use sqlx::PgPool;
use std::sync::Arc;
use std::sync::atomic::{AtomicU32, Ordering};
use std::time::Duration;
use tokio_util::sync::CancellationToken;

/// Fails its first two runs, then runs until cancelled.
struct Flaky {
    runs: AtomicU32,
}

impl Collector for Flaky {
    fn name(&self) -> &'static str {
        "flaky"
    }

    fn run(&self, shutdown: CancellationToken) -> BoxFuture<'_, anyhow::Result<()>> {
        let run = self.runs.fetch_add(1, Ordering::SeqCst);
        async move {
            if run < 2 {
                anyhow::bail!("server unreachable (attempt {})", run + 1);
            }
            shutdown.cancelled().await;
            Ok(())
        }
        .boxed()
    }
}

type StatusRow = (String, bool, Option<String>, bool, i32);

async fn status(pool: &PgPool) -> Option<StatusRow> {
    sqlx::query_as(
        "select state, last_success_at is not null, last_error, last_error_at is not null, restarts
         from app.collector_status where collector = 'flaky'",
    )
    .fetch_optional(pool)
    .await
    .expect("status")
}

#[sqlx::test(migrator = "guildhall::db::MIGRATOR")]
async fn failures_restarts_and_recovery_are_recorded_in_the_database(pool: PgPool) {
    let shutdown = CancellationToken::new();
    let task = tokio::spawn(guildhall::supervisor::supervise(
        Arc::new(Flaky {
            runs: AtomicU32::new(0),
        }),
        pool.clone(),
        shutdown.clone(),
    ));
    // Two failures (backoff 1 s, then 2 s), then it runs.
    let deadline = tokio::time::Instant::now() + Duration::from_secs(20);
    loop {
        let row = status(&pool).await;
        if row.as_ref().is_some_and(|r| r.0 == "running" && r.4 == 2) {
            break;
        }
        assert!(tokio::time::Instant::now() < deadline, "{row:?}");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    assert_eq!(
        status(&pool).await,
        Some((
            "running".to_owned(),
            true,
            Some("server unreachable (attempt 2)".to_owned()),
            true,
            2
        )),
        "running again, with the last error kept for the admin"
    );
    shutdown.cancel();
    task.await.expect("supervisor ends");
    assert_eq!(status(&pool).await.map(|r| r.0), Some("stopped".to_owned()));
}
