//! Guildhall's own Prometheus metrics: one registry, passed around explicitly (no global
//! recorder), rendered by the server at `/metrics`.

use prometheus_client::encoding::{EncodeLabelSet, EncodeLabelValue};
use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::family::Family;
use prometheus_client::registry::Registry;
use std::sync::Arc;

/// Why a record did not reach bronze. Every dropped record is counted with one of these.
#[derive(Clone, Copy, Debug, Hash, PartialEq, Eq, EncodeLabelValue)]
#[allow(non_camel_case_types)]
pub enum DropReason {
    /// The same observation was already stored (idempotency key conflict).
    duplicate,
    /// The event came from a bot account; bots are never counted.
    bot,
    /// The event belongs to a guild or server that is not tracked.
    untracked,
    /// The record could not be understood (parse error) or the database refused it.
    invalid,
    /// The event happened in a channel (or category) an admin excluded.
    excluded_channel,
    /// The account belongs to a person who opted out.
    opted_out,
    /// A system message (a join notice, a boost, a pin), not something a member wrote.
    system,
    /// The event arrived while its source was stopping (after the session's writer closed).
    stopping,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct SourceLabels {
    pub source: String,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct DropLabels {
    pub source: String,
    pub reason: DropReason,
}

/// The method of a counted HTTP request: a fixed set, so that invented methods add no series.
#[derive(Clone, Copy, Debug, Hash, PartialEq, Eq, EncodeLabelValue)]
#[allow(clippy::upper_case_acronyms)]
pub enum HttpMethod {
    GET,
    POST,
    HEAD,
    OTHER,
}

impl HttpMethod {
    /// The label of a request's method.
    pub fn of(method: &str) -> Self {
        match method {
            "GET" => HttpMethod::GET,
            "POST" => HttpMethod::POST,
            "HEAD" => HttpMethod::HEAD,
            _ => HttpMethod::OTHER,
        }
    }
}

/// The part of the web app a request went to: a fixed set, never the raw path, so that
/// invented paths add no series.
#[derive(Clone, Copy, Debug, Hash, PartialEq, Eq, EncodeLabelValue)]
#[allow(non_camel_case_types)]
pub enum RouteGroup {
    /// A page of the app (or a path that is none: the not-found page).
    page,
    /// A server function under `/api/`.
    server_fn,
    /// Sign-in, its callbacks, demo sign-in, logout, Steam linking.
    sign_in,
    /// CSV and personal-data downloads.
    export,
    /// The game log endpoint.
    ingest,
    /// Files under `/pkg/`.
    static_file,
    /// `/healthz` and `/metrics`.
    health,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct RequestLabels {
    pub method: HttpMethod,
    pub route: RouteGroup,
    pub status: u16,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct JobLabels {
    pub job: String,
    pub outcome: String,
}

/// All counters Guildhall exports. Cheap to clone (everything inside is shared).
#[derive(Clone)]
pub struct Metrics {
    registry: Arc<Registry>,
    /// Events a collector received from its source, before filtering.
    pub collector_events: Family<SourceLabels, Counter>,
    /// Records written to bronze.
    pub ingested_records: Family<SourceLabels, Counter>,
    /// Records not written, by reason.
    pub dropped_records: Family<DropLabels, Counter>,
    /// HTTP requests served, by method and status.
    pub http_requests: Family<RequestLabels, Counter>,
    /// Pipeline job runs, by job and outcome (`ok` or `error`).
    pub pipeline_runs: Family<JobLabels, Counter>,
    /// Times a source was reconciled with its live state (e.g. the bot on (re)connect).
    pub reconciliations: Family<SourceLabels, Counter>,
    /// Log lines that could not be read (kept in bronze as `unparsed`), by source.
    pub unparsed_lines: Family<SourceLabels, Counter>,
}

impl Default for Metrics {
    fn default() -> Self {
        Self::new()
    }
}

impl Metrics {
    pub fn new() -> Self {
        let mut registry = Registry::with_prefix("guildhall");
        let collector_events = Family::<SourceLabels, Counter>::default();
        let ingested_records = Family::<SourceLabels, Counter>::default();
        let dropped_records = Family::<DropLabels, Counter>::default();
        let http_requests = Family::<RequestLabels, Counter>::default();
        let pipeline_runs = Family::<JobLabels, Counter>::default();
        let reconciliations = Family::<SourceLabels, Counter>::default();
        let unparsed_lines = Family::<SourceLabels, Counter>::default();
        registry.register(
            "unparsed_log_lines",
            "Game log lines that could not be read (kept with their error)",
            unparsed_lines.clone(),
        );
        registry.register(
            "collector_events",
            "Events received by collectors from their sources",
            collector_events.clone(),
        );
        registry.register(
            "ingested_records",
            "Records written to bronze",
            ingested_records.clone(),
        );
        registry.register(
            "dropped_records",
            "Records not written to bronze, by reason",
            dropped_records.clone(),
        );
        registry.register(
            "http_requests",
            "HTTP requests served",
            http_requests.clone(),
        );
        registry.register(
            "pipeline_runs",
            "Pipeline job runs by outcome",
            pipeline_runs.clone(),
        );
        registry.register(
            "reconciliations",
            "Reconciliations of a source with its live state",
            reconciliations.clone(),
        );
        Self {
            registry: Arc::new(registry),
            collector_events,
            ingested_records,
            dropped_records,
            http_requests,
            pipeline_runs,
            reconciliations,
            unparsed_lines,
        }
    }

    /// Counts one dropped record.
    pub fn dropped(&self, source: &str, reason: DropReason) {
        self.dropped_records
            .get_or_create(&DropLabels {
                source: source.to_owned(),
                reason,
            })
            .inc();
    }

    /// Current value of the dropped-records counter for a source and reason.
    pub fn dropped_count(&self, source: &str, reason: DropReason) -> u64 {
        self.dropped_records
            .get_or_create(&DropLabels {
                source: source.to_owned(),
                reason,
            })
            .get()
    }

    /// Counts one event received by a collector.
    pub fn received(&self, source: &str) {
        self.collector_events
            .get_or_create(&SourceLabels {
                source: source.to_owned(),
            })
            .inc();
    }

    /// Renders all metrics in the Prometheus text format.
    pub fn render(&self) -> String {
        let mut out = String::new();
        // Encoding into a String cannot fail.
        let _ = prometheus_client::encoding::text::encode(&mut out, &self.registry);
        out
    }
}
