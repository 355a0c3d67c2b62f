//! The real `DiscordBot` on the fake gateway, with its writers, as the tests run it.

use super::fake_discord::FakeDiscord;
use collectors::Collector;
use collectors::discord::bot::{BotConfig, BotWriters, DiscordBot};
use collectors::ingest::{SpoolConfig, WriterConfig};
use collectors::metrics::Metrics;
use sqlx::PgPool;
use std::time::Duration;
use tokio::task::JoinHandle;
use tokio_util::sync::CancellationToken;

/// A running bot with its own writers (small batches, flushed every 20 ms).
pub struct RunningBot {
    shutdown: CancellationToken,
    run: JoinHandle<anyhow::Result<()>>,
    writers: Vec<JoinHandle<()>>,
}

impl RunningBot {
    /// Starts the bot recording `guilds`.
    pub fn start_guilds(
        pool: &PgPool,
        fake: &FakeDiscord,
        metrics: &Metrics,
        guilds: Vec<i64>,
    ) -> Self {
        Self::start_with(pool, fake, metrics, None, guilds, false)
    }

    /// Starts the bot recording `guild`.
    pub fn start(
        pool: &PgPool,
        fake: &FakeDiscord,
        metrics: &Metrics,
        spool: Option<SpoolConfig>,
        guild: i64,
        message_content: bool,
    ) -> Self {
        Self::start_with(pool, fake, metrics, spool, vec![guild], message_content)
    }

    fn start_with(
        pool: &PgPool,
        fake: &FakeDiscord,
        metrics: &Metrics,
        spool: Option<SpoolConfig>,
        guilds: Vec<i64>,
        message_content: bool,
    ) -> Self {
        let small_batches = WriterConfig {
            batch_size: 100,
            flush_interval: Duration::from_millis(20),
        };
        let (writers, tasks) = BotWriters::spawn(pool, small_batches, metrics, spool);
        let bot = DiscordBot::new(
            BotConfig {
                token: "fake-token".to_owned().into(),
                api_base: fake.api_base.clone(),
                guilds,
                heartbeat: Duration::from_millis(100),
                rules_refresh: Duration::from_millis(100),
                message_content,
            },
            pool.clone(),
            writers,
            metrics.clone(),
        );
        let shutdown = CancellationToken::new();
        let token = shutdown.clone();
        let run = tokio::spawn(async move { bot.run(token).await });
        Self {
            shutdown,
            run,
            writers: tasks,
        }
    }

    /// Cancels the bot, as the supervisor does at shutdown, and waits until its writers
    /// have committed everything.
    pub async fn stop(self) {
        self.shutdown.cancel();
        let result = tokio::time::timeout(Duration::from_secs(20), self.run)
            .await
            .expect("the bot stops within 20 s")
            .expect("the bot task did not panic");
        assert!(result.is_ok(), "the bot returns Ok on shutdown: {result:?}");
        for writer in self.writers {
            tokio::time::timeout(Duration::from_secs(10), writer)
                .await
                .expect("the writer stops")
                .expect("the writer did not panic");
        }
    }
}
