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

impl Background {
    /// Waits for every task to stop (after the shutdown token was cancelled) and for the
    /// ingestion writers to commit their last batches.
    pub async fn wait(mut self) {
        while self.tasks.join_next().await.is_some() {}
        for writer in self.writers {
            let _ = writer.await;
        }
    }
}

/// Starts the collectors and the scheduler.
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
