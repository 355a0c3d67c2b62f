//! [`SftpSource`]: a log folder on an SFTP server as the folder tailer reads it
//! ([`LogFolder`]), reconnecting after errors.

use std::pin::Pin;
use std::task::{Context, Poll};

use chrono::{DateTime, Utc};
use tokio::io::{AsyncRead, ReadBuf};

use super::{SftpError, SftpFolder, SftpTarget};
use crate::game::tail::{Entry, LogFolder, LogReader};

/// Bytes whose hash tells one log file from another under the same name: SFTP v3 has no
/// inode. The first line of a log carries the time it began.
const HEAD_BYTES: usize = 64;

/// A log folder on an SFTP server for the folder tailer
/// ([`FolderTailer`](crate::game::tail::FolderTailer)): connects on first use and again
/// after any error, and tells a file from its successor under the same name by a hash of its
/// first bytes (empty until the file holds that many).
pub struct SftpSource {
    target: SftpTarget,
    folder: String,
    conn: Option<SftpFolder>,
    /// Per file: the size and change time its id was taken at, and the id.
    ids: std::collections::HashMap<String, (u64, DateTime<Utc>, String)>,
}

impl SftpSource {
    pub fn new(target: SftpTarget, folder: String) -> Self {
        Self {
            target,
            folder,
            conn: None,
            ids: std::collections::HashMap::new(),
        }
    }

    async fn connected(&mut self) -> Result<&SftpFolder, SftpError> {
        let conn = match self.conn.take() {
            Some(conn) => conn,
            None => {
                let folder = SftpFolder::connect(&self.target, &self.folder).await?;
                tracing::info!(server = %self.target.server(), folder = %folder.path(), "SFTP log folder connected");
                folder
            }
        };
        Ok(self.conn.insert(conn))
    }

    async fn list_files(&mut self) -> Result<Vec<Entry>, SftpError> {
        self.connected().await?;
        let Some(conn) = &self.conn else {
            return Ok(Vec::new());
        };
        let files = conn.list().await?;
        let mut entries = Vec::with_capacity(files.len());
        for file in files {
            let file_id = match self.ids.get(&file.name) {
                Some((len, modified, id)) if *len == file.len && *modified == file.modified => {
                    id.clone()
                }
                _ if file.len >= HEAD_BYTES as u64 => {
                    use sha2::Digest;
                    let head = conn.head(&file.name, HEAD_BYTES).await?;
                    let digest = sha2::Sha256::digest(&head);
                    let hex: String = digest[..12].iter().map(|b| format!("{b:02x}")).collect();
                    format!("head:{hex}")
                }
                _ => String::new(),
            };
            self.ids.insert(
                file.name.clone(),
                (file.len, file.modified, file_id.clone()),
            );
            entries.push(Entry {
                name: file.name,
                len: file.len,
                modified: file.modified,
                file_id,
            });
        }
        self.ids
            .retain(|name, _| entries.iter().any(|e| &e.name == name));
        Ok(entries)
    }

    /// Forgets the connection after an error: the next call connects again.
    fn check<T>(&mut self, result: Result<T, SftpError>) -> anyhow::Result<T> {
        if result.is_err() {
            self.conn = None;
        }
        Ok(result?)
    }
}

impl LogFolder for SftpSource {
    async fn list(&mut self) -> anyhow::Result<Vec<Entry>> {
        let result = self.list_files().await;
        self.check(result)
    }

    async fn open(&mut self, name: &str, offset: u64) -> anyhow::Result<LogReader> {
        let result = match self.connected().await {
            Ok(conn) => conn.open(name, offset).await,
            Err(error) => Err(error),
        };
        let reader = self.check(result)?;
        Ok(Box::new(SyncReader(std::sync::Mutex::new(reader))))
    }

    async fn read_all(&mut self, name: &str) -> anyhow::Result<Vec<u8>> {
        let result = match self.connected().await {
            Ok(conn) => conn.read_all(name).await,
            Err(error) => Err(error),
        };
        self.check(result)
    }
}

/// A reader that is `Sync` because it is only ever used through `&mut`.
struct SyncReader(std::sync::Mutex<Box<dyn AsyncRead + Unpin + Send>>);

impl AsyncRead for SyncReader {
    fn poll_read(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<std::io::Result<()>> {
        let inner = self
            .get_mut()
            .0
            .get_mut()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        Pin::new(inner.as_mut()).poll_read(cx, buf)
    }
}
