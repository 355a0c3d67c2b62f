//! Runs the background work of `guildhall serve` (and `guildhall collect`): the collectors,
//! restarted with backoff when they fail, their state in `app.collector_status` for the
//! admin page, and (in `serve`) the pipeline scheduler.

use crate::config::Config;
use crate::pipeline::{Pipeline, run_scheduler};
use app::model::CollectorState;
use collectors::Collector;
use collectors::discord::bot::{BotConfig, BotWriters, DiscordBot};
use collectors::game::collector::{GameCollectorConfig, GameServers, GameWriters};
use collectors::game::rcon::RconTimeouts;
use collectors::ingest::WriterConfig;
use collectors::metrics::Metrics;
use sqlx::PgPool;
use std::sync::Arc;
use std::time::Duration;
use tokio::task::JoinSet;
use tokio_util::sync::CancellationToken;

/// The running background tasks.
pub struct Background {
    tasks: JoinSet<()>,
    writers: Vec<tokio::task::JoinHandle<()>>,
}

/// Of a shutdown's deadline, the time kept for the ingestion writers to commit or spool
/// their last records once the collectors are gone (their closing write takes at most a
/// second before it spools).
const WRITERS_RESERVE: Duration = Duration::from_secs(3);

/// How a [`Background::stop`] went.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Stopped {
    /// Collectors and jobs that did not end by themselves in time and were cancelled.
    pub aborted_tasks: usize,
    /// Writers still busy at the deadline (their records in memory are lost).
    pub unfinished_writers: usize,
}

impl Background {
    /// Stops within `grace` (once the shutdown token is cancelled): the collectors and jobs
    /// get until [`WRITERS_RESERVE`] before the deadline to end by themselves, then are
    /// cancelled (a job's transaction rolls back; a source's batch that was not committed is
    /// read again at the next start). Their writers then commit what they hold, or spool it
    /// while PostgreSQL is away. Whatever is still running at the deadline is left behind.
    pub async fn stop(mut self, grace: Duration) -> Stopped {
        let started = tokio::time::Instant::now();
        let deadline = started + grace;
        let tasks_deadline = deadline - WRITERS_RESERVE.min(grace / 2);
        let mut stopped = Stopped::default();
        let ended = tokio::time::timeout_at(tasks_deadline, async {
            while self.tasks.join_next().await.is_some() {}
        })
        .await;
        if ended.is_err() {
            stopped.aborted_tasks = self.tasks.len();
            tracing::warn!(
                tasks = stopped.aborted_tasks,
                "shutting down: collectors or jobs did not stop in time; cancelling them"
            );
            self.tasks.abort_all();
            let _ = tokio::time::timeout_at(deadline, async {
                while self.tasks.join_next().await.is_some() {}
            })
            .await;
        }
        for writer in self.writers {
            if tokio::time::timeout_at(deadline, writer).await.is_err() {
                stopped.unfinished_writers += 1;
            }
        }
        if stopped.unfinished_writers > 0 {
            tracing::error!(
                writers = stopped.unfinished_writers,
                "shutting down: ingestion writers did not finish by the deadline; what they held in memory is lost"
            );
        }
        tracing::info!(
            seconds = format!("{:.1}", started.elapsed().as_secs_f64()),
            "background work stopped"
        );
        stopped
    }
}

/// What to start.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Work {
    /// Collectors and the pipeline scheduler (`serve`).
    Everything,
    /// Only the pipeline scheduler (`serve` while `guildhall collect` runs the collectors).
    PipelineOnly,
    /// Only the collectors (`guildhall collect`).
    CollectorsOnly,
}

/// Starts the collectors and the scheduler.
pub fn start(
    config: &Config,
    pool: PgPool,
    metrics: Metrics,
    pipeline: Pipeline,
    work: Work,
    shutdown: CancellationToken,
) -> Background {
    let mut tasks = JoinSet::new();
    let mut writers = Vec::new();
    let writer_config = WriterConfig {
        batch_size: config.ingest.batch_size,
        flush_interval: Duration::from_millis(config.ingest.flush_interval_ms),
    };

    let collectors = work != Work::PipelineOnly;
    match config.bot_token().filter(|_| collectors) {
        Some(token) => {
            let (bot_writers, bot_tasks) =
                BotWriters::spawn(&pool, writer_config, &metrics, Some(config.spool()));
            writers.extend(bot_tasks);
            let bot = DiscordBot::new(
                BotConfig {
                    token: token.to_owned().into(),
                    api_base: config
                        .discord
                        .api_base
                        .as_str()
                        .trim_end_matches('/')
                        .to_owned(),
                    guilds: config.discord.guilds.clone(),
                    heartbeat: Duration::from_secs(30),
                    rules_refresh: collectors::rules::REFRESH_INTERVAL,
                    message_content: config.discord.message_content,
                },
                pool.clone(),
                bot_writers,
                metrics.clone(),
            );
            tasks.spawn(supervise(Arc::new(bot), pool.clone(), shutdown.clone()));
        }
        None if collectors => {
            tracing::info!("DISCORD_BOT_TOKEN is not set; the Discord bot is off");
            let pool = pool.clone();
            tasks.spawn(async move {
                report(&pool, "discord", CollectorState::Off, None, 0).await;
            });
        }
        None => {}
    }

    if collectors {
        let (game_writers, game_tasks) =
            GameWriters::spawn(&pool, writer_config, &metrics, Some(config.spool()));
        writers.extend(game_tasks);
        match GameServers::new(
            pool.clone(),
            game_writers,
            metrics.clone(),
            GameCollectorConfig {
                refresh: Duration::from_secs(config.games.refresh_secs),
                timezone: config.timezone,
                rcon: RconTimeouts::default(),
                tail_interval: Duration::from_secs(2),
                secret_key: config.secret_key.clone(),
            },
        ) {
            Ok(games) => {
                tasks.spawn(supervise(Arc::new(games), pool.clone(), shutdown.clone()));
            }
            Err(error) => tracing::error!(%error, "the game server collector cannot start"),
        }
    }

    if work == Work::CollectorsOnly {
        return Background { tasks, writers };
    }
    tasks.spawn(delete_expired_sessions(pool.clone(), shutdown.clone()));

    // Backfills from the browser run where the pipeline runs, whatever its interval.
    tasks.spawn(crate::pipeline::run_backfills(
        pipeline.clone(),
        shutdown.clone(),
    ));
    if config.pipeline.interval_secs > 0 {
        tasks.spawn(run_scheduler(
            pipeline,
            Duration::from_secs(config.pipeline.interval_secs),
            config.pipeline.bronze_retention_days,
            shutdown,
        ));
    }
    Background { tasks, writers }
}

/// A run that lasted this long was healthy: the next failure starts the backoff afresh.
const HEALTHY_RUN: Duration = Duration::from_secs(60);

/// How often a running collector's `last_success_at` is refreshed.
const STATUS_REFRESH: Duration = Duration::from_secs(30);

/// Runs one collector until shutdown, restarting it with exponential backoff (1 s up to
/// 5 min; back to 1 s after a healthy run) whenever it fails. Its state goes to
/// `app.collector_status`.
pub async fn supervise(collector: Arc<dyn Collector>, pool: PgPool, shutdown: CancellationToken) {
    let name = collector.name();
    let mut restarts = 0u32;
    let mut delay = Duration::from_secs(1);
    loop {
        report(&pool, name, CollectorState::Running, None, restarts).await;
        let started = tokio::time::Instant::now();
        let run = collector.run(shutdown.clone());
        tokio::pin!(run);
        let mut refresh = tokio::time::interval_at(started + STATUS_REFRESH, STATUS_REFRESH);
        let result = loop {
            tokio::select! {
                result = &mut run => break result,
                _ = refresh.tick() => {
                    report(&pool, name, CollectorState::Running, None, restarts).await;
                }
            }
        };
        if shutdown.is_cancelled() {
            report(&pool, name, CollectorState::Stopped, None, restarts).await;
            return;
        }
        if started.elapsed() >= HEALTHY_RUN {
            delay = Duration::from_secs(1);
        }
        let error = match result {
            Ok(()) => "stopped unexpectedly".to_owned(),
            Err(error) => format!("{error:#}"),
        };
        tracing::error!(collector = name, error = %error, retry_in_s = delay.as_secs(), "collector failed");
        restarts += 1;
        report(&pool, name, CollectorState::Failed, Some(&error), restarts).await;
        tokio::select! {
            _ = shutdown.cancelled() => return,
            _ = tokio::time::sleep(delay) => {}
        }
        delay = (delay * 2).min(Duration::from_secs(300));
    }
}

/// Writes a collector's state. `running` also stamps `last_success_at`; an error is kept
/// (with its time) until the next one, so the admin page shows the last error even after a
/// recovery. A database that is away is only logged: the collector goes on.
pub async fn report(
    pool: &PgPool,
    name: &str,
    state: CollectorState,
    error: Option<&str>,
    restarts: u32,
) {
    let result = sqlx::query(
        "insert into app.collector_status
             (collector, state, last_success_at, last_error, last_error_at, restarts, updated_at)
         values ($1, $2, case when $2 = 'running' then now() end, $3,
                 case when $3 is not null then now() end, $4, now())
         on conflict (collector) do update
         set state = excluded.state,
             last_success_at = coalesce(excluded.last_success_at, app.collector_status.last_success_at),
             last_error = coalesce(excluded.last_error, app.collector_status.last_error),
             last_error_at = coalesce(excluded.last_error_at, app.collector_status.last_error_at),
             restarts = excluded.restarts,
             updated_at = excluded.updated_at",
    )
    .bind(name)
    .bind(state.as_str())
    .bind(error)
    .bind(i32::try_from(restarts).unwrap_or(i32::MAX))
    .execute(pool)
    .await;
    if let Err(error) = result {
        tracing::warn!(collector = name, %error, "recording the collector's state failed");
    }
}

/// Removes expired browser sessions every hour.
async fn delete_expired_sessions(pool: PgPool, shutdown: CancellationToken) {
    let mut ticker = tokio::time::interval(Duration::from_secs(3600));
    loop {
        tokio::select! {
            _ = shutdown.cancelled() => return,
            _ = ticker.tick() => {
                match sqlx::query("delete from app.sessions where expiry_date < now()").execute(&pool).await {
                    Ok(done) if done.rows_affected() > 0 => {
                        tracing::debug!(sessions = done.rows_affected(), "deleted expired sessions");
                    }
                    Ok(_) => {}
                    Err(error) => tracing::warn!(%error, "deleting expired sessions failed"),
                }
            }
        }
    }
}
