//! Where decoded log records go, from every source alike (HTTP push, a followed folder,
//! SFTP, `import-logs`, the demo): their unparsed lines are counted, the ingest steps run,
//! the writer commits them (and answers only once they are stored), and the source's cursor
//! records how far it has read.

use super::decode::Decoded;
use super::steps::{log_steps, prepare_salts};
use crate::game::records::GameLogRecord;
use crate::ingest::{IngestWriter, Receipt};
use crate::metrics::{Metrics, SourceLabels};
use crate::rules::IngestRules;
use crate::steps::{IpHasher, Steps};
use chrono::NaiveDate;
use sqlx::PgPool;
use std::sync::Arc;

/// The metrics label of game log lines.
const SOURCE: &str = "game_logs";

/// The one path every log source writes through: steps, then the writer.
#[derive(Clone)]
pub struct LogSink {
    writer: IngestWriter<GameLogRecord>,
    steps: Arc<Steps<GameLogRecord>>,
    hasher: Arc<IpHasher>,
    rules: IngestRules,
    metrics: Metrics,
}

/// How far a source has read one stream of a server's logs (`app.game_log_cursors`).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct LogCursor {
    /// `file:<name>` for a file, `http:<instance>` for CS2's HTTP push.
    pub stream: String,
    /// What tells a file from another under the same name (empty while unknown).
    pub file_id: Option<String>,
    /// Bytes read and committed.
    pub offset: i64,
    /// The local day the stream's time-only lines were on.
    pub day: Option<NaiveDate>,
}

impl LogSink {
    pub fn new(
        writer: IngestWriter<GameLogRecord>,
        metrics: Metrics,
        hasher: Arc<IpHasher>,
    ) -> Self {
        let rules = IngestRules::default();
        Self {
            writer,
            steps: Arc::new(log_steps(metrics.clone(), hasher.clone(), rules.clone())),
            hasher,
            rules,
            metrics,
        }
    }

    fn pool(&self) -> &PgPool {
        self.hasher.pool()
    }

    /// Counts the batch's unparsed lines, runs its records through the steps and returns
    /// once they are committed. A `!link` code among them wakes the pipeline, which redeems
    /// it (job `link_codes`).
    pub async fn commit(&self, decoded: Decoded) -> anyhow::Result<Receipt> {
        if decoded.counts.unparsed > 0 {
            self.metrics
                .unparsed_lines
                .get_or_create(&SourceLabels {
                    source: SOURCE.to_owned(),
                })
                .inc_by(decoded.counts.unparsed);
        }
        let records = decoded.records;
        if records.is_empty() {
            return Ok(Receipt::default());
        }
        self.rules
            .refresh_if_older(self.pool(), crate::rules::REFRESH_INTERVAL)
            .await;
        prepare_salts(&self.hasher, &records).await?;
        let records: Vec<GameLogRecord> = records
            .into_iter()
            .filter_map(|r| self.steps.run(r))
            .collect();
        let codes = records.iter().any(GameLogRecord::carries_link_code);
        let receipt = self.writer.write_acked(records).await?;
        if codes && receipt.new > 0 {
            // The pipeline listens on this channel and runs at once.
            if let Err(error) = sqlx::query("select pg_notify('guildhall_pipeline', 'link_code')")
                .execute(self.pool())
                .await
            {
                tracing::warn!(%error, "waking the pipeline for a link code failed");
            }
        }
        Ok(receipt)
    }

    /// Where a source stopped reading a stream of a server's logs, if anywhere.
    pub async fn cursor(&self, server_id: i64, stream: &str) -> sqlx::Result<Option<LogCursor>> {
        let row: Option<(Option<String>, i64, Option<NaiveDate>)> = sqlx::query_as(
            "select file_id, read_offset, log_day from app.game_log_cursors
             where server_id = $1 and stream = $2",
        )
        .bind(server_id)
        .bind(stream)
        .fetch_optional(self.pool())
        .await?;
        Ok(row.map(|(file_id, offset, day)| LogCursor {
            stream: stream.to_owned(),
            file_id,
            offset: offset.max(0),
            day,
        }))
    }

    /// Records how far a source has read (after what it read is committed).
    pub async fn save_cursor(&self, server_id: i64, cursor: &LogCursor) -> sqlx::Result<()> {
        sqlx::query(
            "insert into app.game_log_cursors (server_id, stream, file_id, read_offset, log_day)
             values ($1, $2, $3, $4, $5)
             on conflict (server_id, stream) do update
                 set file_id = coalesce(excluded.file_id, app.game_log_cursors.file_id),
                     read_offset = excluded.read_offset,
                     log_day = coalesce(excluded.log_day, app.game_log_cursors.log_day),
                     updated_at = now()",
        )
        .bind(server_id)
        .bind(&cursor.stream)
        .bind(cursor.file_id.as_deref())
        .bind(cursor.offset)
        .bind(cursor.day)
        .execute(self.pool())
        .await
        .map(|_| ())
    }
}
