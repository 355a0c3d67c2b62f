//! Following a folder of log files, mounted ([`LocalFolder`]) or on an SFTP server
//! ([`super::sftp::SftpSource`]): every `*.log` file in it is read from where Guildhall
//! stopped (`app.game_log_cursors`), so a restart resumes at the stored offset. A file
//! replaced under its name (Minecraft's rotation of `latest.log`) is drained through the
//! still-open old handle, then the new one is read from 0; a file shorter than the offset
//! was truncated or replaced and is read again from 0 (after draining the old handle).
//! Files untouched for a day when first seen are history: `guildhall import-logs` takes
//! those.

use super::logs::{LogCursor, LogFormat, LogSink, LogStream, day_rollovers};
use chrono::{DateTime, Duration, NaiveDate, Utc};
use chrono_tz::Tz;
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
    sink: LogSink,
    files: HashMap<String, TailedFile>,
}

struct TailedFile {
    file_id: String,
    /// Bytes read so far (the cursor is this minus the partial line waiting).
    offset: u64,
    handle: Option<LogReader>,
    stream: LogStream,
}

impl FolderTailer<LocalFolder> {
    /// Follows a folder on this machine.
    pub fn new(server_id: i64, format: LogFormat, tz: Tz, folder: PathBuf, sink: LogSink) -> Self {
        Self::with_folder(server_id, format, tz, LocalFolder::new(folder), sink)
    }
}

impl<F: LogFolder> FolderTailer<F> {
    pub fn with_folder(
        server_id: i64,
        format: LogFormat,
        tz: Tz,
        folder: F,
        sink: LogSink,
    ) -> Self {
        Self {
            server_id,
            format,
            tz,
            folder,
            sink,
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
            match self
                .sink
                .cursor(self.server_id, &stream_name(&entry.name))
                .await?
            {
                Some(cursor) => {
                    let day = cursor
                        .day
                        .unwrap_or_else(|| local_day(self.tz, entry.modified));
                    let stream = self.stream(day, entry.modified);
                    self.files.insert(
                        entry.name.clone(),
                        TailedFile {
                            file_id: cursor.file_id.unwrap_or_default(),
                            offset: cursor.offset as u64,
                            handle: None,
                            stream,
                        },
                    );
                }
                None if Utc::now() - entry.modified > Duration::hours(HISTORY_AGE_HOURS) => {
                    // History: remember it as read, leave it to `import-logs`.
                    self.save_cursor(&entry.name, &entry.file_id, entry.len, None)
                        .await?;
                    let stream = self.stream(local_day(self.tz, entry.modified), entry.modified);
                    self.files.insert(
                        entry.name.clone(),
                        TailedFile {
                            file_id: entry.file_id.clone(),
                            offset: entry.len,
                            handle: None,
                            stream,
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
            && entry.len > file.offset.saturating_sub(file.stream.pending() as u64)
        {
            // Read again from the start of the partial line (a new stream holds none).
            let start = file.offset - file.stream.pending() as u64;
            let handle = self.folder.open(&entry.name, start).await?;
            file.offset = start;
            file.stream.forget_partial_line();
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
            stream: self.stream(day, entry.modified),
        })
    }

    fn stream(&self, day: NaiveDate, modified: DateTime<Utc>) -> LogStream {
        LogStream::new(self.server_id, self.format, self.tz, day, modified)
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
            if n == 0 {
                file.stream.finish();
            } else {
                file.stream.push(&buffer[..n]);
                file.offset += n as u64;
            }
            let decoded = file.stream.take();
            lines += decoded.counts.lines;
            self.sink.commit(decoded).await?;
            let cursor = file.offset - file.stream.pending() as u64;
            self.save_cursor(name, &file.file_id, cursor, Some(file.stream.day()))
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

    async fn save_cursor(
        &self,
        name: &str,
        file_id: &str,
        offset: u64,
        day: Option<NaiveDate>,
    ) -> sqlx::Result<()> {
        let cursor = LogCursor {
            stream: stream_name(name),
            file_id: Some(file_id.to_owned()),
            offset: i64::try_from(offset).unwrap_or(i64::MAX),
            day,
        };
        self.sink.save_cursor(self.server_id, &cursor).await
    }
}

fn stream_name(file: &str) -> String {
    format!("file:{file}")
}

fn local_day(tz: Tz, at: DateTime<Utc>) -> NaiveDate {
    at.with_timezone(&tz).date_naive()
}
