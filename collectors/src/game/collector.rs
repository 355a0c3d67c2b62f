//! The game-server collector: reads `app.game_servers` every few seconds and runs, per
//! enabled server, its status poller (RCON), its exporter scraper (Prometheus) and its log
//! follower (a mounted folder). A server whose configuration changed is restarted, a
//! disabled or deleted one stopped; one failing server never stops the others, and each
//! source's last success and last error land in `app.game_source_status`.

use super::logs::{LogFormat, LogSink};
use super::poller::{StatusPoller, scrape};
use super::rcon::{Rcon, RconTimeouts};
use super::records::{GameLogRecord, MetricRecord, StatusRecord};
use super::servers::{GameServer, LogSource, SourceKind, load_servers, report_source};
use super::sftp::SftpSource;
use super::tail::{FolderTailer, LocalFolder, LogFolder};
use crate::Collector;
use crate::ingest::{IngestWriter, SpoolConfig, WriterConfig};
use crate::metrics::{DropReason, Metrics, SourceLabels};
use crate::rules::IngestRules;
use crate::steps::IpHasher;
use chrono::Utc;
use chrono_tz::Tz;
use futures::FutureExt;
use futures::future::BoxFuture;
use sqlx::PgPool;
use std::collections::HashMap;
use std::sync::Arc;
use std::time::Duration;
use tokio::task::JoinSet;
use tokio_util::sync::CancellationToken;

/// The writers of the game tables.
#[derive(Clone)]
pub struct GameWriters {
    pub logs: IngestWriter<GameLogRecord>,
    pub status: IngestWriter<StatusRecord>,
    pub metrics: IngestWriter<MetricRecord>,
}

impl GameWriters {
    /// Starts one writer per bronze table; returns them with their tasks.
    pub fn spawn(
        pool: &PgPool,
        config: WriterConfig,
        metrics: &Metrics,
        spool: Option<SpoolConfig>,
    ) -> (Self, Vec<tokio::task::JoinHandle<()>>) {
        let (logs, logs_task) =
            IngestWriter::spawn_with_spool(pool.clone(), config, metrics.clone(), spool.clone());
        let (status, status_task) =
            IngestWriter::spawn_with_spool(pool.clone(), config, metrics.clone(), spool.clone());
        let (samples, samples_task) =
            IngestWriter::spawn_with_spool(pool.clone(), config, metrics.clone(), spool);
        (
            Self {
                logs,
                status,
                metrics: samples,
            },
            vec![logs_task, status_task, samples_task],
        )
    }
}

/// How the collector runs.
#[derive(Clone, Debug)]
pub struct GameCollectorConfig {
    /// How often `app.game_servers` is read again.
    pub refresh: Duration,
    /// The community's zone (log timestamps are read in it unless a server has its own).
    pub timezone: Tz,
    pub rcon: RconTimeouts,
    /// How often a log folder is looked at.
    pub tail_interval: Duration,
    /// Opens the servers' sealed passwords and keys (`GUILDHALL_SECRET_KEY`).
    pub secret_key: Option<crate::secrets::SecretKey>,
}

/// The collector of every configured game server.
pub struct GameServers {
    pool: PgPool,
    writers: GameWriters,
    metrics: Metrics,
    config: GameCollectorConfig,
    hasher: Arc<IpHasher>,
    http: reqwest::Client,
    /// Opt-outs, read again by each poll loop when older than the refresh interval.
    rules: IngestRules,
}

impl GameServers {
    pub fn new(
        pool: PgPool,
        writers: GameWriters,
        metrics: Metrics,
        config: GameCollectorConfig,
    ) -> anyhow::Result<Self> {
        let http = reqwest::Client::builder()
            .timeout(Duration::from_secs(10))
            .build()?;
        Ok(Self {
            hasher: Arc::new(IpHasher::new(pool.clone())),
            pool,
            writers,
            metrics,
            config,
            http,
            rules: IngestRules::default(),
        })
    }

    async fn run_servers(&self, shutdown: CancellationToken) -> anyhow::Result<()> {
        let mut running: HashMap<i64, (GameServer, CancellationToken)> = HashMap::new();
        let mut tasks = JoinSet::new();
        loop {
            match load_servers(&self.pool, self.config.secret_key.as_ref()).await {
                Ok(servers) => {
                    let wanted: HashMap<i64, GameServer> = servers
                        .into_iter()
                        .filter(|s| s.enabled)
                        .map(|s| (s.server_id, s))
                        .collect();
                    running.retain(|id, (server, token)| {
                        let keep = wanted.get(id) == Some(server);
                        if !keep {
                            tracing::info!(server = %server.name, "game server changed or disabled: stopping its sources");
                            token.cancel();
                        }
                        keep
                    });
                    for (id, server) in wanted {
                        if running.contains_key(&id) {
                            continue;
                        }
                        tracing::info!(server = %server.name, game = server.game.as_str(), "starting the game server's sources");
                        let token = shutdown.child_token();
                        self.start_server(&mut tasks, &server, token.clone());
                        running.insert(id, (server, token));
                    }
                }
                // The database is away, or a secret does not open (the key was rotated
                // under a running process): keep what runs, try again later.
                Err(error) => tracing::warn!(%error, "cannot read the game servers"),
            }
            // Finished tasks are collected (their errors were reported where they happened).
            while tasks.try_join_next().is_some() {}
            tokio::select! {
                _ = shutdown.cancelled() => break,
                _ = tokio::time::sleep(self.config.refresh) => {}
            }
        }
        while tasks.join_next().await.is_some() {}
        Ok(())
    }

    fn start_server(&self, tasks: &mut JoinSet<()>, server: &GameServer, stop: CancellationToken) {
        if let (Some(addr), Some(password)) = (server.rcon_addr(), server.rcon_password.clone()) {
            let rcon = Rcon::new(addr, password, server.game.dialect(), self.config.rcon);
            let poller = StatusPoller::new(server.server_id, server.game, rcon);
            tasks.spawn(poll_loop(
                self.pool.clone(),
                StatusSink {
                    writer: self.writers.status.clone(),
                    metrics: self.metrics.clone(),
                    rules: self.rules.clone(),
                },
                server.server_id,
                Duration::from_secs(u64::from(server.poll_interval_secs)),
                poller,
                stop.clone(),
            ));
        }
        if let Some(url) = server.prometheus_url.clone().filter(|u| !u.is_empty()) {
            tasks.spawn(scrape_loop(
                self.pool.clone(),
                self.writers.metrics.clone(),
                self.metrics.clone(),
                self.http.clone(),
                server.server_id,
                url,
                Duration::from_secs(u64::from(server.metrics_interval_secs)),
                stop.clone(),
            ));
        }
        match server.log_source {
            LogSource::File => match server.log_path.clone().filter(|p| !p.is_empty()) {
                Some(folder) => {
                    self.start_tailer(tasks, server, LocalFolder::new(folder.into()), stop)
                }
                None => self.report_missing(
                    tasks,
                    server,
                    "the log source is a folder, but no folder is set".into(),
                ),
            },
            LogSource::Sftp => match server.sftp_target() {
                Ok((target, folder)) => {
                    self.start_tailer(tasks, server, SftpSource::new(target, folder), stop);
                }
                Err(missing) => self.report_missing(tasks, server, missing),
            },
            // HTTP logs arrive at the web server; nothing runs here.
            LogSource::Http | LogSource::None => {}
        }
    }
}

impl GameServers {
    /// Follows a server's log folder, wherever it is.
    fn start_tailer<F: LogFolder + Sync + 'static>(
        &self,
        tasks: &mut JoinSet<()>,
        server: &GameServer,
        folder: F,
        stop: CancellationToken,
    ) {
        let tailer = FolderTailer::with_folder(
            server.server_id,
            LogFormat::for_game(server.game),
            server.log_tz(self.config.timezone),
            folder,
            LogSink::new(
                self.writers.logs.clone(),
                self.metrics.clone(),
                self.hasher.clone(),
            ),
        );
        tasks.spawn(tail_loop(
            self.pool.clone(),
            server.server_id,
            tailer,
            self.config.tail_interval,
            stop,
        ));
    }

    /// A log source that cannot start says why on the server's status.
    fn report_missing(&self, tasks: &mut JoinSet<()>, server: &GameServer, why: String) {
        let pool = self.pool.clone();
        let id = server.server_id;
        tasks.spawn(async move { report(&pool, id, SourceKind::Logs, Some(&why)).await });
    }
}

impl Collector for GameServers {
    fn name(&self) -> &'static str {
        "game_servers"
    }

    fn run(&self, shutdown: CancellationToken) -> BoxFuture<'_, anyhow::Result<()>> {
        self.run_servers(shutdown).boxed()
    }
}

/// Waits `period` from the start of each round (not from its end), or until `stop`.
async fn wait(stop: &CancellationToken, until: tokio::time::Instant) -> bool {
    tokio::select! {
        _ = stop.cancelled() => false,
        _ = tokio::time::sleep_until(until) => true,
    }
}

async fn report(pool: &PgPool, server_id: i64, source: SourceKind, error: Option<&str>) {
    if let Err(db_error) = report_source(pool, server_id, source, error).await {
        tracing::warn!(error = %db_error, "cannot record a game source's status");
    }
}

/// Where status polls go: opted-out players are taken out of the snapshot (counted as
/// dropped), then the writer.
struct StatusSink {
    writer: IngestWriter<StatusRecord>,
    metrics: Metrics,
    rules: IngestRules,
}

impl StatusSink {
    /// Takes the players who opted out out of a poll; returns how many.
    fn without_opted_out(&self, record: &mut StatusRecord) -> usize {
        let before = record.players.len();
        record.players.retain(|player| {
            !super::logs::player_opted_out(&self.rules, Some(&player.name), player.account.as_ref())
        });
        let dropped = before - record.players.len();
        for _ in 0..dropped {
            self.metrics.dropped("game_status", DropReason::opted_out);
        }
        dropped
    }
}

async fn poll_loop(
    pool: PgPool,
    sink: StatusSink,
    server_id: i64,
    period: Duration,
    mut poller: StatusPoller,
    stop: CancellationToken,
) {
    let mut last_error: Option<String> = None;
    loop {
        let round = tokio::time::Instant::now();
        let polled_at = Utc::now();
        let outcome = tokio::select! {
            _ = stop.cancelled() => return,
            outcome = poller.poll(polled_at) => outcome,
        };
        match outcome {
            Ok(mut record) => {
                sink.rules
                    .refresh_if_older(&pool, crate::rules::REFRESH_INTERVAL)
                    .await;
                sink.without_opted_out(&mut record);
                let metrics = &sink.metrics;
                metrics
                    .collector_events
                    .get_or_create(&SourceLabels {
                        source: "game_status".into(),
                    })
                    .inc();
                if sink.writer.write(record).await.is_err() {
                    return;
                }
                if last_error.take().is_some() {
                    tracing::info!(server_id, "status polls work again");
                }
                report(&pool, server_id, SourceKind::Rcon, None).await;
            }
            Err(error) => {
                let message = error.to_string();
                if last_error.as_deref() != Some(&message) {
                    tracing::warn!(server_id, error = %message, "status poll failed");
                }
                report(&pool, server_id, SourceKind::Rcon, Some(&message)).await;
                last_error = Some(message);
            }
        }
        if !wait(&stop, round + period).await {
            return;
        }
    }
}

#[allow(clippy::too_many_arguments)]
async fn scrape_loop(
    pool: PgPool,
    writer: IngestWriter<MetricRecord>,
    metrics: Metrics,
    http: reqwest::Client,
    server_id: i64,
    url: String,
    period: Duration,
    stop: CancellationToken,
) {
    let mut last_error: Option<String> = None;
    loop {
        let round = tokio::time::Instant::now();
        let outcome = tokio::select! {
            _ = stop.cancelled() => return,
            outcome = scrape(&http, server_id, &url, Utc::now()) => outcome,
        };
        match outcome {
            Ok(record) => {
                metrics
                    .collector_events
                    .get_or_create(&SourceLabels {
                        source: "game_metrics".into(),
                    })
                    .inc();
                if writer.write(record).await.is_err() {
                    return;
                }
                last_error = None;
                report(&pool, server_id, SourceKind::Metrics, None).await;
            }
            Err(error) => {
                let message = error.to_string();
                if last_error.as_deref() != Some(&message) {
                    tracing::warn!(server_id, error = %message, "exporter scrape failed");
                }
                report(&pool, server_id, SourceKind::Metrics, Some(&message)).await;
                last_error = Some(message);
            }
        }
        if !wait(&stop, round + period).await {
            return;
        }
    }
}

async fn tail_loop<F: LogFolder>(
    pool: PgPool,
    server_id: i64,
    mut tailer: FolderTailer<F>,
    period: Duration,
    stop: CancellationToken,
) {
    let mut last_error: Option<String> = None;
    let mut reported_ok = false;
    loop {
        let round = tokio::time::Instant::now();
        let outcome = tokio::select! {
            _ = stop.cancelled() => return,
            outcome = tailer.poll_once() => outcome,
        };
        match outcome {
            Ok(lines) => {
                last_error = None;
                // Success is recorded when lines came, and once at the start.
                if lines > 0 || !reported_ok {
                    report(&pool, server_id, SourceKind::Logs, None).await;
                    reported_ok = true;
                }
            }
            Err(error) => {
                let message = format!("{error:#}");
                if last_error.as_deref() != Some(&message) {
                    tracing::warn!(server_id, error = %message, "reading the log folder failed");
                    report(&pool, server_id, SourceKind::Logs, Some(&message)).await;
                }
                last_error = Some(message);
            }
        }
        if !wait(&stop, round + period).await {
            return;
        }
    }
}
