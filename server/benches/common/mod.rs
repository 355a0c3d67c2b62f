//! What the benchmarks share: emptying the tables they fill and a plain `COPY` of voice
//! events, the yardstick for the ingestion writer.
#![allow(dead_code)]

use collectors::discord::VoiceEvent;
use sqlx::PgPool;
use std::fmt::Write as _;
use std::time::{Duration, Instant};

pub const BATCH_SIZE: usize = 5000;

/// Empties bronze, silver, gold and the pipeline state.
pub async fn truncate(pool: &PgPool) -> anyhow::Result<()> {
    sqlx::query(
        "truncate bronze.discord_voice_events, bronze.discord_messages, bronze.discord_member_events,
                  bronze.discord_scheduled_events, bronze.game_log_events,
                  bronze.game_status_snapshots, bronze.game_metric_samples,
                  silver.fact_game_sessions, silver.server_load, silver.game_server_heard,
                  gold.server_utilization, gold.server_weekly_profile,
                  silver.fact_voice_sessions, silver.fact_chat_daily, silver.dim_members,
                  silver.activity_daily, silver.event_participants, silver.dim_events,
                  silver.user_identities, app.hidden_persons, silver.dim_user,
                  gold.daily_active_users, gold.retention_cohorts, gold.discord_comparable_daily,
                  gold.member_sources, gold.member_source_retention, gold.event_attendance,
                  gold.member_growth_weekly, gold.leaver_tenure, gold.funnel_monthly,
                  silver.person_regular_months, silver.voice_presence_hours,
                  silver.game_presence_hours, silver.identity_review_accounts,
                  silver.identity_review_suspects, silver.identity_review_state,
                  silver.identity_review_suggestions,
                  app.pipeline_state, app.pipeline_dirty_ranges, app.pipeline_dirty_tables
         restart identity",
    )
    .execute(pool)
    .await?;
    Ok(())
}

/// Writes the events with one plain `COPY`, the fastest way PostgreSQL takes rows.
pub async fn plain_copy(pool: &PgPool, events: &[VoiceEvent]) -> anyhow::Result<Duration> {
    let started = Instant::now();
    let mut conn = pool.acquire().await?;
    let mut copy = conn
        .copy_in_raw(
            "copy bronze.discord_voice_events
                 (source_key, guild_id, user_id, channel_id, self_mute, self_deaf, origin, occurred_at)
             from stdin (format text)",
        )
        .await?;
    let mut buffer = String::with_capacity(BATCH_SIZE * 128);
    for chunk in events.chunks(BATCH_SIZE) {
        buffer.clear();
        for e in chunk {
            let channel = e
                .channel_id
                .map_or_else(|| "\\N".to_owned(), |c| c.to_string());
            writeln!(
                buffer,
                "{}\t{}\t{}\t{}\t{}\t{}\t{}\t{}",
                e.source_key(),
                e.guild_id,
                e.user_id,
                channel,
                e.self_mute,
                e.self_deaf,
                e.origin.as_str(),
                e.occurred_at.to_rfc3339()
            )?;
        }
        copy.send(buffer.as_bytes()).await?;
    }
    copy.finish().await?;
    Ok(started.elapsed())
}
