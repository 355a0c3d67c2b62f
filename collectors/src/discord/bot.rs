//! The Discord bot (serenity): voice state updates and reconciliation.

use crate::Collector;
use crate::discord::VoiceEvent;
use crate::ingest::IngestWriter;
use crate::metrics::Metrics;
use futures::FutureExt;
use futures::future::BoxFuture;
use sqlx::PgPool;
use std::time::Duration;
use tokio_util::sync::CancellationToken;

/// How the bot connects and what it records.
#[derive(Clone, Debug)]
pub struct BotConfig {
    pub token: String,
    /// Base URL of Discord's API (`https://discord.com`); tests point it at a fake.
    pub api_base: String,
    /// Guilds to record; empty records every guild the bot is in.
    pub guilds: Vec<i64>,
    /// How often the bot stamps `app.discord_guilds.observed_until`.
    pub heartbeat: Duration,
}

pub struct DiscordBot {
    config: BotConfig,
    pool: PgPool,
    writer: IngestWriter<VoiceEvent>,
    metrics: Metrics,
}

impl DiscordBot {
    pub fn new(config: BotConfig, pool: PgPool, writer: IngestWriter<VoiceEvent>, metrics: Metrics) -> Self {
        Self {
            config,
            pool,
            writer,
            metrics,
        }
    }
}

impl Collector for DiscordBot {
    fn name(&self) -> &'static str {
        "discord"
    }

    fn run(&self, shutdown: CancellationToken) -> BoxFuture<'_, anyhow::Result<()>> {
        let _ = (&self.config, &self.pool, &self.writer, &self.metrics);
        async move {
            shutdown.cancelled().await;
            Ok(())
        }
        .boxed()
    }
}
