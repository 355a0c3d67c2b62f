//! Following a folder of log files, mounted ([`LocalFolder`]) or on an SFTP server
//! ([`super::sftp::SftpSource`]): every `*.log` file in it is read from where Guildhall
//! stopped (`app.game_log_cursors`), so a restart resumes at the stored offset. A file
//! replaced under its name (Minecraft's rotation of `latest.log`) is drained through the
//! still-open old handle, then the new one is read from 0; a file shorter than the offset
//! was truncated or replaced and is read again from 0 (after draining the old handle).
//! Files untouched for a day when first seen are history: `guildhall import-logs` takes
//! those.

use super::logs::{LineDecoder, LineSplitter, LogFormat, LogSink, count_unparsed, day_rollovers};
use super::records::GameLogRecord;
use crate::metrics::Metrics;
use chrono::{DateTime, Duration, NaiveDate, Utc};
use chrono_tz::Tz;
use sqlx::PgPool;
use std::collections::HashMap;
use std::future::Future;
use std::os::unix::fs::MetadataExt;
use std::path::PathBuf;
use tokio::io::{AsyncRead, AsyncReadExt, AsyncSeekExt};

/// Bytes read (and committed) at a time.
const CHUNK: usize = 512 * 1024;

/// A file seen for the first time counts as history when untouched for this long.
const HISTORY_AGE_HOURS: i64 = 24;

/// A reader of one log file, positioned where reading goes on.
pub type LogReader = Box<dyn AsyncRead + Unpin + Send + Sync>;

/// A folder of log files, wherever it is.
pub trait LogFolder: Send {
    /// The `*.log` files in it now.
    fn list(&mut self) -> impl Future<Output = anyhow::Result<Vec<Entry>>> + Send;
    /// Opens a file at `offset`; the reader goes on reading that file even when it is
    /// renamed or replaced afterwards.
    fn open(
        &mut self,
        name: &str,
        offset: u64,
    ) -> impl Future<Output = anyhow::Result<LogReader>> + Send;
    /// A whole file.
    fn read_all(&mut self, name: &str) -> impl Future<Output = anyhow::Result<Vec<u8>>> + Send;
}

/// One file in a log folder.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Entry {
    pub name: String,
    pub len: u64,
    pub modified: DateTime<Utc>,
    /// What tells this file from another under the same name (device and inode here; a
    /// hash of its first bytes over SFTP); empty while unknown.
    pub file_id: String,
}

/// A folder on this machine (a mounted volume).
pub struct LocalFolder {
    path: PathBuf,
}

impl LocalFolder {
    pub fn new(path: PathBuf) -> Self {
        Self { path }
    }
}

impl LogFolder for LocalFolder {
    async fn list(&mut self) -> anyhow::Result<Vec<Entry>> {
        let folder = &self.path;
        let mut dir = tokio::fs::read_dir(folder).await.map_err(|error| {
            anyhow::anyhow!("cannot read the log folder {}: {error}", folder.display())
        })?;
        let mut entries = Vec::new();
        while let Some(item) = dir.next_entry().await? {
            let name = item.file_name().to_string_lossy().into_owned();
            if !name.ends_with(".log") {
                continue;
            }
            let meta = item.metadata().await?;
            if !meta.is_file() {
                continue;
            }
            let modified: DateTime<Utc> =
                meta.modified().map_or_else(|_| Utc::now(), DateTime::from);
            entries.push(Entry {
                name,
                len: meta.len(),
                modified,
                file_id: format!("{}:{}", meta.dev(), meta.ino()),
            });
        }
        Ok(entries)
    }

    async fn open(&mut self, name: &str, offset: u64) -> anyhow::Result<LogReader> {
        let mut handle = tokio::fs::File::open(self.path.join(name)).await?;
        handle.seek(std::io::SeekFrom::Start(offset)).await?;
        Ok(Box::new(handle))
    }

    async fn read_all(&mut self, name: &str) -> anyhow::Result<Vec<u8>> {
        Ok(tokio::fs::read(self.path.join(name)).await?)
    }
}

/// One server's log folder.
pub struct FolderTailer<F: LogFolder = LocalFolder> {
    server_id: i64,
    format: LogFormat,
    tz: Tz,
    folder: F,
    pool: PgPool,
    sink: LogSink,
    metrics: Metrics,
    files: HashMap<String, TailedFile>,
}

struct TailedFile {
    file_id: String,
    /// Bytes read so far (the cursor is this minus the partial line waiting).
    offset: u64,
    handle: Option<LogReader>,
    splitter: LineSplitter,
    decoder: LineDecoder,
}

impl FolderTailer<LocalFolder> {
    /// Follows a folder on this machine.
    pub fn new(
        server_id: i64,
        format: LogFormat,
        tz: Tz,
        folder: PathBuf,
        pool: PgPool,
        sink: LogSink,
        metrics: Metrics,
    ) -> Self {
        Self::with_folder(
            server_id,
            format,
            tz,
            LocalFolder::new(folder),
            pool,
            sink,
            metrics,
        )
    }
}

impl<F: LogFolder> FolderTailer<F> {
    pub fn with_folder(
        server_id: i64,
        format: LogFormat,
        tz: Tz,
        folder: F,
        pool: PgPool,
        sink: LogSink,
        metrics: Metrics,
    ) -> Self {
        Self {
            server_id,
            format,
            tz,
            folder,
            pool,
            sink,
            metrics,
            files: HashMap::new(),
        }
    }

    /// Reads what is new in the folder and commits it; returns the lines read.
    pub async fn poll_once(&mut self) -> anyhow::Result<u64> {
        let mut entries = self.folder.list().await?;
        entries.sort_by(|a, b| a.modified.cmp(&b.modified).then(a.name.cmp(&b.name)));
        let mut lines = 0;
        for entry in &entries {
            lines += self.follow(entry).await?;
        }
        // Files gone from the folder: what their open handles still hold, then forget them.
        let gone: Vec<String> = self
            .files
            .keys()
            .filter(|name| !entries.iter().any(|e| &e.name == *name))
            .cloned()
            .collect();
        for name in gone {
            if let Some(mut file) = self.files.remove(&name) {
                lines += self.drain(&name, &mut file, true).await?;
            }
        }
        Ok(lines)
    }

    async fn follow(&mut self, entry: &Entry) -> anyhow::Result<u64> {
        let mut lines = 0;
        if !self.files.contains_key(&entry.name) {
            match self.load_cursor(&entry.name).await? {
                Some((file_id, offset, day)) => {
                    let day = day.unwrap_or_else(|| local_day(self.tz, entry.modified));
                    let decoder = self.decoder(day, entry.modified);
                    self.files.insert(
                        entry.name.clone(),
                        TailedFile {
                            file_id,
                            offset,
                            handle: None,
                            splitter: LineSplitter::default(),
                            decoder,
                        },
                    );
                }
                None if Utc::now() - entry.modified > Duration::hours(HISTORY_AGE_HOURS) => {
                    // History: remember it as read, leave it to `import-logs`.
                    self.save_cursor(&entry.name, &entry.file_id, entry.len as i64, None)
                        .await?;
                    let decoder = self.decoder(local_day(self.tz, entry.modified), entry.modified);
                    self.files.insert(
                        entry.name.clone(),
                        TailedFile {
                            file_id: entry.file_id.clone(),
                            offset: entry.len,
                            handle: None,
                            splitter: LineSplitter::default(),
                            decoder,
                        },
                    );
                    return Ok(0);
                }
                None => {
                    let file = self.fresh(entry).await?;
                    self.files.insert(entry.name.clone(), file);
                }
            }
        }
        let Some(mut file) = self.files.remove(&entry.name) else {
            return Ok(0);
        };
        if file.file_id.is_empty() {
            // Known now (over SFTP once the file holds enough bytes).
            file.file_id.clone_from(&entry.file_id);
        }
        if !entry.file_id.is_empty() && file.file_id != entry.file_id {
            // Replaced under its name (rotation): finish the old file, start the new one.
            lines += self.drain(&entry.name, &mut file, true).await?;
            tracing::info!(server_id = self.server_id, file = %entry.name, "log file rotated");
            file = self.fresh(entry).await?;
        } else if entry.len < file.offset {
            // Truncated, or replaced by a shorter file: what the old handle still holds,
            // then the file from the start.
            lines += self.drain(&entry.name, &mut file, true).await?;
            tracing::info!(server_id = self.server_id, file = %entry.name, "log file truncated or replaced: reading it again from the start");
            file = self.fresh(entry).await?;
        }
        if file.handle.is_none()
            && entry.len > file.offset.saturating_sub(file.splitter.pending() as u64)
        {
            let start = file.offset - file.splitter.pending() as u64;
            let handle = self.folder.open(&entry.name, start).await?;
            file.offset = start;
            file.splitter = LineSplitter::default();
            file.handle = Some(handle);
        }
        lines += self.drain(&entry.name, &mut file, false).await?;
        self.files.insert(entry.name.clone(), file);
        Ok(lines)
    }

    /// A new file (or a rotated or truncated one) read from 0. Minecraft lines carry only
    /// the time: the file began as many days before its last change as midnight passed.
    async fn fresh(&mut self, entry: &Entry) -> anyhow::Result<TailedFile> {
        let mut day = local_day(self.tz, entry.modified);
        if self.format == LogFormat::Minecraft {
            let bytes = self.folder.read_all(&entry.name).await?;
            let text = String::from_utf8_lossy(&bytes);
            let back = day_rollovers(text.lines());
            day -= Duration::days(i64::from(back));
        }
        let handle = self.folder.open(&entry.name, 0).await?;
        Ok(TailedFile {
            file_id: entry.file_id.clone(),
            offset: 0,
            handle: Some(handle),
            splitter: LineSplitter::default(),
            decoder: self.decoder(day, entry.modified),
        })
    }

    fn decoder(&self, day: NaiveDate, modified: DateTime<Utc>) -> LineDecoder {
        LineDecoder::new(self.server_id, self.format, self.tz, day, modified)
    }

    /// Reads the open handle to its end, committing chunk by chunk; `finished`: the file
    /// will not grow again (its last line needs no line break).
    async fn drain(
        &self,
        name: &str,
        file: &mut TailedFile,
        finished: bool,
    ) -> anyhow::Result<u64> {
        let Some(handle) = file.handle.as_mut() else {
            return Ok(0);
        };
        let mut buffer = vec![0u8; CHUNK];
        let mut lines = 0;
        loop {
            let n = handle.read(&mut buffer).await?;
            if n == 0 && !finished {
                // Nothing new since the last commit.
                break;
            }
            let mut records: Vec<GameLogRecord> = Vec::new();
            let before = file.decoder.counts;
            if n == 0 {
                if finished {
                    let decoder = &mut file.decoder;
                    file.splitter
                        .finish(|line| records.extend(decoder.decode(line)));
                }
            } else {
                let decoder = &mut file.decoder;
                file.splitter
                    .push(&buffer[..n], |line| records.extend(decoder.decode(line)));
                file.offset += n as u64;
            }
            lines += file.decoder.counts.lines - before.lines;
            count_unparsed(
                &self.metrics,
                "game_logs",
                file.decoder.counts.unparsed - before.unparsed,
            );
            self.sink.write(records).await?;
            let cursor = file.offset - file.splitter.pending() as u64;
            self.save_cursor(
                name,
                &file.file_id,
                i64::try_from(cursor).unwrap_or(i64::MAX),
                Some(file.decoder.day()),
            )
            .await?;
            if n == 0 {
                break;
            }
        }
        if finished {
            file.handle = None;
        }
        Ok(lines)
    }

    async fn load_cursor(
        &self,
        name: &str,
    ) -> sqlx::Result<Option<(String, u64, Option<NaiveDate>)>> {
        let row: Option<(Option<String>, i64, Option<NaiveDate>)> = sqlx::query_as(
            "select file_id, read_offset, log_day from app.game_log_cursors
             where server_id = $1 and stream = $2",
        )
        .bind(self.server_id)
        .bind(stream_name(name))
        .fetch_optional(&self.pool)
        .await?;
        Ok(row.map(|(id, offset, day)| (id.unwrap_or_default(), offset.max(0) as u64, day)))
    }

    async fn save_cursor(
        &self,
        name: &str,
        file_id: &str,
        offset: i64,
        day: Option<NaiveDate>,
    ) -> sqlx::Result<()> {
        sqlx::query(
            "insert into app.game_log_cursors (server_id, stream, file_id, read_offset, log_day)
             values ($1, $2, $3, $4, $5)
             on conflict (server_id, stream) do update
                 set file_id = excluded.file_id, read_offset = excluded.read_offset,
                     log_day = excluded.log_day, updated_at = now()",
        )
        .bind(self.server_id)
        .bind(stream_name(name))
        .bind(file_id)
        .bind(offset)
        .bind(day)
        .execute(&self.pool)
        .await
        .map(|_| ())
    }
}

fn stream_name(file: &str) -> String {
    format!("file:{file}")
}

fn local_day(tz: Tz, at: DateTime<Utc>) -> NaiveDate {
    at.with_timezone(&tz).date_naive()
}
