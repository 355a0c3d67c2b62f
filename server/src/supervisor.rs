//! Runs the background work of `guildhall serve`: the collectors (restarted with backoff
//! when they fail, their state on the admin page) and the pipeline scheduler.

use crate::config::Config;
use crate::pipeline::{Pipeline, run_scheduler};
use app::ssr::{CollectorStatus, StatusBoard};
use collectors::Collector;
use collectors::discord::VoiceEvent;
use collectors::discord::bot::{BotConfig, DiscordBot};
use collectors::ingest::{IngestWriter, WriterConfig};
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
pub fn start(
    config: &Config,
    pool: PgPool,
    metrics: Metrics,
    board: StatusBoard,
    pipeline: Pipeline,
    shutdown: CancellationToken,
) -> Background {
    let mut tasks = JoinSet::new();
    let mut writers = Vec::new();
    let writer_config = WriterConfig {
        batch_size: config.ingest.batch_size,
        flush_interval: Duration::from_millis(config.ingest.flush_interval_ms),
    };

    match config.bot_token() {
        Some(token) => {
            let (writer, writer_task) = IngestWriter::<VoiceEvent>::spawn_with_spool(
                pool.clone(),
                writer_config,
                metrics.clone(),
                Some(config.spool()),
            );
            writers.push(writer_task);
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
                },
                pool.clone(),
                writer,
                metrics.clone(),
            );
            tasks.spawn(supervise(Arc::new(bot), board.clone(), shutdown.clone()));
        }
        None => {
            tracing::info!("DISCORD_BOT_TOKEN is not set; the Discord bot is off");
            board.set(
                "discord",
                CollectorStatus {
                    state: "off".into(),
                    last_error: None,
                    restarts: 0,
                },
            );
        }
    }

    tasks.spawn(delete_expired_sessions(pool.clone(), shutdown.clone()));

    if config.pipeline.interval_secs > 0 {
        tasks.spawn(run_scheduler(
            pipeline,
            Duration::from_secs(config.pipeline.interval_secs),
            shutdown,
        ));
    }
    Background { tasks, writers }
}

/// Runs one collector until shutdown, restarting it with exponential backoff (1 s up to
/// 5 min) whenever it fails.
pub async fn supervise(
    collector: Arc<dyn Collector>,
    board: StatusBoard,
    shutdown: CancellationToken,
) {
    let name = collector.name();
    let mut restarts = 0u32;
    let mut delay = Duration::from_secs(1);
    loop {
        board.set(
            name,
            CollectorStatus {
                state: "running".into(),
                last_error: None,
                restarts,
            },
        );
        let result = collector.run(shutdown.clone()).await;
        if shutdown.is_cancelled() {
            board.set(
                name,
                CollectorStatus {
                    state: "stopped".into(),
                    last_error: None,
                    restarts,
                },
            );
            return;
        }
        let error = match result {
            Ok(()) => "stopped unexpectedly".to_owned(),
            Err(error) => format!("{error:#}"),
        };
        tracing::error!(collector = name, error = %error, retry_in_s = delay.as_secs(), "collector failed");
        restarts += 1;
        board.set(
            name,
            CollectorStatus {
                state: "failed".into(),
                last_error: Some(error),
                restarts,
            },
        );
        tokio::select! {
            _ = shutdown.cancelled() => return,
            _ = tokio::time::sleep(delay) => {}
        }
        delay = (delay * 2).min(Duration::from_secs(300));
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
