//! Guildhall's data sources. Each source is one module behind the [`Collector`] trait and
//! writes raw records to bronze through the one [`ingest::IngestWriter`].

pub mod discord;
pub mod game;
pub mod ingest;
pub mod metrics;
pub mod rules;
pub mod secrets;
pub mod steps;
#[cfg(any(test, feature = "testing"))]
pub mod testing;

use futures::future::BoxFuture;
use tokio_util::sync::CancellationToken;

/// A long-running data source. The supervisor in the server starts each collector, restarts
/// it with backoff when it fails, and stops it through the cancellation token.
pub trait Collector: Send + Sync + 'static {
    /// Stable name used in logs, metrics and the admin status page (e.g. `discord`).
    fn name(&self) -> &'static str;

    /// Runs until `shutdown` is cancelled (returns `Ok`) or the source fails (returns the
    /// error; the supervisor restarts it).
    fn run(&self, shutdown: CancellationToken) -> BoxFuture<'_, anyhow::Result<()>>;
}
