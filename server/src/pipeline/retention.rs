//! Bronze retention: raw events older than the configured days are deleted once the
//! pipeline has consumed them, except those of sessions still running at the horizon.

use super::names::{JobName, Table};
use super::runner::{LOCK_TIMEOUT, Pipeline};
use anyhow::Context;
use chrono::{DateTime, Duration, Utc};

/// What a retention pass deleted.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct RetentionReport {
    pub table: Table,
    pub deleted: u64,
    pub retained_from: DateTime<Utc>,
}

impl Pipeline {
    /// Deletes bronze voice events older than `keep_days` that the pipeline has consumed,
    /// except the events of sessions still running at the horizon (a rebuild starts at a
    /// session's first event), and records the horizon in `app.bronze_retention`.
    pub async fn apply_retention(&self, keep_days: u32) -> anyhow::Result<RetentionReport> {
        const TABLE: Table = Table::DiscordVoiceEvents;
        // The job that reads it.
        const JOB: JobName = JobName::VoiceSessions;
        let horizon = self.clock.now() - Duration::days(i64::from(keep_days));
        let mut tx = self.pool.begin().await?;
        sqlx::query(&format!("set local lock_timeout = '{LOCK_TIMEOUT}'"))
            .execute(&mut *tx)
            .await?;
        // The job's lock: no run of voice_sessions reads bronze while rows go.
        let watermark: Option<i64> = sqlx::query_scalar(
            "select watermark from app.pipeline_state where job = $1 for update",
        )
        .bind(JOB.as_str())
        .fetch_optional(&mut *tx)
        .await
        .with_context(|| format!("waiting for the lock of job {JOB}"))?;
        let deleted = sqlx::query(
            "delete from bronze.discord_voice_events e
             where e.occurred_at < $1
               and e.event_id <= $2
               and not exists (
                   select 1 from silver.fact_voice_sessions s
                   where s.guild_id = e.guild_id and s.discord_user_id = e.user_id
                     and s.started_at <= e.occurred_at
                     and (s.ended_at is null or s.ended_at >= $1))",
        )
        .bind(horizon)
        .bind(watermark.unwrap_or(0))
        .execute(&mut *tx)
        .await
        .context("deleting old bronze voice events")?
        .rows_affected();
        let retained_from: DateTime<Utc> = sqlx::query_scalar(
            "insert into app.bronze_retention (table_name, retained_from, deleted_rows)
             values ($1, $2, $3)
             on conflict (table_name) do update
                 set retained_from = greatest(app.bronze_retention.retained_from, excluded.retained_from),
                     deleted_rows = app.bronze_retention.deleted_rows + excluded.deleted_rows,
                     ran_at = now()
             returning retained_from",
        )
        .bind(TABLE.as_str())
        .bind(horizon)
        .bind(i64::try_from(deleted).unwrap_or(i64::MAX))
        .fetch_one(&mut *tx)
        .await?;
        tx.commit().await?;
        if deleted > 0 {
            tracing::info!(table = TABLE.as_str(), deleted, %retained_from, "bronze retention");
        }
        Ok(RetentionReport {
            table: TABLE,
            deleted,
            retained_from,
        })
    }
}
