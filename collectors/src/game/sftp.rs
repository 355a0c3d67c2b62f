//! Pulls game-server log files over SFTP (password login, pinned host key).
//!
//! [`SftpFolder::connect`] opens one SSH connection with one SFTP channel onto one remote
//! folder; [`SftpFolder::list`] lists its `*.log` files and [`SftpFolder::open`] reads one
//! from an offset. The reader keeps its SFTP handle open, so a log that the game server
//! rotates away (renames) after the open is still read to its end, like `tail -F` would.
//!
//! The server's host key must be pinned: without a pin, or with a different one, the
//! connection is refused and the error names the fingerprint the server presented, in the
//! `SHA256:…` form that `ssh-keygen -lf` prints, so an admin can check it and paste it in.

use std::fmt;
use std::io::SeekFrom;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};
use std::time::Duration;

use chrono::{DateTime, Utc};
use russh::client;
use russh::client::AuthResult;
use russh::keys::{HashAlg, PublicKey, PublicKeyOrCertificate};
use russh::{ChannelMsg, Disconnect, MethodKind};
use russh_sftp::client::SftpSession;
use russh_sftp::client::error::Error as SftpClientError;
use russh_sftp::client::fs::{File, Metadata};
use russh_sftp::protocol::StatusCode;
use tokio::io::{AsyncRead, AsyncReadExt, AsyncSeekExt, ReadBuf};
use tokio::net::TcpStream;

/// The file-type bits of a POSIX mode (`S_IFMT`) and the value for a regular file.
const S_IFMT: u32 = 0o170_000;
const S_IFREG: u32 = 0o100_000;

/// Where and how to log in. `Debug` never shows the password.
#[derive(Clone)]
pub struct SftpTarget {
    /// Host name or IP address of the SFTP server.
    pub host: String,
    /// TCP port, usually 22.
    pub port: u16,
    /// Login user.
    pub user: String,
    /// Login password (never logged nor put in errors).
    pub password: String,
    /// The pinned host key fingerprint, `SHA256:<base64 without padding>` exactly like
    /// `ssh-keygen -lf` prints. `None` refuses to connect; the error then tells the
    /// fingerprint the server presented.
    pub host_key: Option<String>,
    /// Limit for the TCP connect, for each step of the login, and for each SFTP request
    /// (SFTP requests are timed in whole seconds, rounded up).
    pub timeout: Duration,
}

impl fmt::Debug for SftpTarget {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("SftpTarget")
            .field("host", &self.host)
            .field("port", &self.port)
            .field("user", &self.user)
            .field("password", &"<redacted>")
            .field("host_key", &self.host_key)
            .field("timeout", &self.timeout)
            .finish()
    }
}

impl SftpTarget {
    /// `host:port` for messages (`[v6]:port` for IPv6 addresses).
    fn server(&self) -> String {
        if self.host.contains(':') && !self.host.starts_with('[') {
            format!("[{}]:{}", self.host, self.port)
        } else {
            format!("{}:{}", self.host, self.port)
        }
    }
}

/// One `*.log` file in the folder.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct RemoteFile {
    /// File name (no folder part).
    pub name: String,
    /// Size in bytes when listed.
    pub len: u64,
    /// Last modification time as the server reports it (whole seconds; the Unix epoch when
    /// the server does not say).
    pub modified: DateTime<Utc>,
}

/// Everything that can go wrong, each as a sentence an admin can act on. No variant holds
/// the password.
#[derive(Debug, thiserror::Error)]
pub enum SftpError {
    /// The TCP connection failed (refused, no route, DNS…).
    #[error("could not connect to the SFTP server {server}: {cause}")]
    Unreachable {
        /// `host:port`.
        server: String,
        /// The operating system's reason.
        cause: String,
    },
    /// A step did not finish within [`SftpTarget::timeout`].
    #[error("the SFTP server {server} did not answer within {timeout:?} while {stage}")]
    Timeout {
        /// `host:port`.
        server: String,
        /// What was being done, e.g. "logging in".
        stage: &'static str,
        /// The configured limit.
        timeout: Duration,
    },
    /// No host key is pinned; the connection was refused before logging in.
    #[error(
        "the SFTP server {server} presented host key {presented}; \
         set it as the server's SFTP host key to trust it"
    )]
    HostKeyNotPinned {
        /// `host:port`.
        server: String,
        /// The fingerprint the server presented (`SHA256:…`).
        presented: String,
    },
    /// The server's host key is not the pinned one (possible man-in-the-middle, or the
    /// server was reinstalled).
    #[error(
        "the SFTP server {server} presented host key {presented}, not the pinned {pinned}: \
         refusing to connect"
    )]
    HostKeyMismatch {
        /// `host:port`.
        server: String,
        /// The fingerprint the server presented (`SHA256:…`).
        presented: String,
        /// The configured pin.
        pinned: String,
    },
    /// The server rejected the user/password pair.
    #[error("the SFTP server {server} refused user '{user}' with this password")]
    AuthRejected {
        /// `host:port`.
        server: String,
        /// The login user.
        user: String,
    },
    /// The server does not take passwords (e.g. keys only).
    #[error("the SFTP server {server} does not accept password logins (it offers: {offered})")]
    NoPasswordLogin {
        /// `host:port`.
        server: String,
        /// The methods the server offers, comma-separated.
        offered: String,
    },
    /// The SSH layer failed (protocol error, disconnect during the handshake…).
    #[error("the SSH connection to {server} failed while {stage}: {cause}")]
    Ssh {
        /// `host:port`.
        server: String,
        /// What was being done.
        stage: &'static str,
        /// The SSH library's reason.
        cause: String,
    },
    /// The SSH server has no SFTP subsystem for this user.
    #[error("the SSH server {server} does not offer SFTP to user '{user}'")]
    NoSftp {
        /// `host:port`.
        server: String,
        /// The login user.
        user: String,
    },
    /// The configured folder is missing.
    #[error("the folder '{folder}' does not exist on the SFTP server {server}")]
    NoSuchFolder {
        /// `host:port`.
        server: String,
        /// The folder as configured.
        folder: String,
    },
    /// The configured folder is a file (or something else).
    #[error("'{folder}' on the SFTP server {server} is not a folder")]
    NotAFolder {
        /// `host:port`.
        server: String,
        /// The folder as configured.
        folder: String,
    },
    /// A file is missing (e.g. rotated away between `list` and `open`).
    #[error("the file '{path}' does not exist on the SFTP server {server}")]
    NoSuchFile {
        /// `host:port`.
        server: String,
        /// Remote path.
        path: String,
    },
    /// The server denied access to a path.
    #[error("the SFTP server {server} denied user '{user}' access to '{path}'")]
    PermissionDenied {
        /// `host:port`.
        server: String,
        /// The login user.
        user: String,
        /// Remote path.
        path: String,
    },
    /// A file name that is not a plain name inside the folder.
    #[error("'{name}' is not a plain file name (no '/', not '.' or '..')")]
    InvalidName {
        /// The rejected name.
        name: String,
    },
    /// Any other failure of an SFTP request.
    #[error("{action} '{path}' on the SFTP server {server} failed: {cause}")]
    Request {
        /// `host:port`.
        server: String,
        /// E.g. "listing", "reading".
        action: &'static str,
        /// Remote path.
        path: String,
        /// The server's or library's reason.
        cause: String,
    },
}

/// The host key fingerprint as `ssh-keygen -lf` prints it: `SHA256:<base64, no padding>`.
pub fn fingerprint(key: &PublicKey) -> String {
    key.fingerprint(HashAlg::Sha256).to_string()
}

/// Normalises a configured pin: trims blanks, accepts a missing or lower-case `SHA256:`
/// prefix and trailing `=` padding.
fn normalize_pin(pin: &str) -> String {
    let pin = pin.trim();
    let body = match pin.split_once(':') {
        Some((alg, body)) if alg.eq_ignore_ascii_case("sha256") => body,
        _ => pin,
    };
    format!("SHA256:{}", body.trim().trim_end_matches('='))
}

/// What the russh handler can fail with: a host-key verdict of ours, or russh's own error.
#[derive(Debug)]
enum HandlerError {
    HostKey(SftpError),
    Ssh(russh::Error),
}

impl From<russh::Error> for HandlerError {
    fn from(e: russh::Error) -> Self {
        Self::Ssh(e)
    }
}

/// Checks the server's host key against the pin.
struct Verifier {
    server: String,
    pin: Option<String>,
}

impl client::Handler for Verifier {
    type Error = HandlerError;

    async fn check_server_key(
        &mut self,
        server_public_key: &PublicKeyOrCertificate,
    ) -> Result<bool, Self::Error> {
        let presented = fingerprint(&server_public_key.public_key());
        match &self.pin {
            None => Err(HandlerError::HostKey(SftpError::HostKeyNotPinned {
                server: self.server.clone(),
                presented,
            })),
            Some(pin) if normalize_pin(pin) == presented => Ok(true),
            Some(pin) => Err(HandlerError::HostKey(SftpError::HostKeyMismatch {
                server: self.server.clone(),
                presented,
                pinned: pin.trim().to_string(),
            })),
        }
    }
}

/// The connection; shared by the folder and every open reader so a reader keeps working
/// after the [`SftpFolder`] is dropped.
struct Conn {
    /// Dropped first (field order), which closes the SFTP channel.
    sftp: SftpSession,
    /// Keeps the SSH session alive.
    ssh: client::Handle<Verifier>,
    server: String,
    user: String,
    /// [`SftpTarget::timeout`], for messages.
    timeout: Duration,
}

/// One remote folder on one SFTP connection.
pub struct SftpFolder {
    conn: Arc<Conn>,
    /// The folder as the server canonicalised it (absolute, no trailing `/`).
    path: String,
}

impl fmt::Debug for SftpFolder {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("SftpFolder")
            .field("server", &self.conn.server)
            .field("user", &self.conn.user)
            .field("path", &self.path)
            .finish()
    }
}

/// Runs `fut` within `timeout`, turning an elapse into [`SftpError::Timeout`].
async fn timed<T>(
    server: &str,
    stage: &'static str,
    timeout: Duration,
    fut: impl Future<Output = Result<T, SftpError>>,
) -> Result<T, SftpError> {
    tokio::time::timeout(timeout, fut)
        .await
        .unwrap_or_else(|_| {
            Err(SftpError::Timeout {
                server: server.to_string(),
                stage,
                timeout,
            })
        })
}

impl SftpFolder {
    /// Connects, checks the host key against the pin, logs in with the password, starts
    /// SFTP and checks that `folder` exists and is a folder. `folder` may be absolute or
    /// relative to the login directory.
    pub async fn connect(target: &SftpTarget, folder: &str) -> Result<Self, SftpError> {
        let server = target.server();
        let t = target.timeout;
        let ssh_err = |stage: &'static str| {
            let server = server.clone();
            move |e: russh::Error| SftpError::Ssh {
                server,
                stage,
                cause: e.to_string(),
            }
        };

        let tcp = timed(&server, "connecting", t, async {
            TcpStream::connect((target.host.as_str(), target.port))
                .await
                .map_err(|e| SftpError::Unreachable {
                    server: server.clone(),
                    cause: e.to_string(),
                })
        })
        .await?;
        // Best effort: small SFTP requests should not wait for Nagle.
        let _ = tcp.set_nodelay(true);

        let config = Arc::new(client::Config {
            inactivity_timeout: None,
            keepalive_interval: Some(Duration::from_secs(30)),
            keepalive_max: 3,
            ..client::Config::default()
        });
        let verifier = Verifier {
            server: server.clone(),
            pin: target.host_key.clone(),
        };
        let mut ssh = timed(&server, "exchanging keys", t, async {
            client::connect_stream(config, tcp, verifier)
                .await
                .map_err(|e| match e {
                    HandlerError::HostKey(e) => e,
                    HandlerError::Ssh(e) => ssh_err("exchanging keys")(e),
                })
        })
        .await?;

        timed(&server, "logging in", t, async {
            let auth = ssh
                .authenticate_password(target.user.as_str(), target.password.as_str())
                .await
                .map_err(ssh_err("logging in"))?;
            match auth {
                AuthResult::Success => Ok(()),
                AuthResult::Failure {
                    remaining_methods, ..
                } if !remaining_methods.is_empty()
                    && !remaining_methods.contains(&MethodKind::Password) =>
                {
                    Err(SftpError::NoPasswordLogin {
                        server: server.clone(),
                        offered: remaining_methods
                            .iter()
                            .map(<&str>::from)
                            .collect::<Vec<_>>()
                            .join(", "),
                    })
                }
                // Also when the server sent no method left and hung up: that is how a
                // server that allows one attempt answers a wrong password.
                AuthResult::Failure { .. } => Err(SftpError::AuthRejected {
                    server: server.clone(),
                    user: target.user.clone(),
                }),
            }
        })
        .await?;

        let sftp = timed(&server, "starting SFTP", t, async {
            let mut channel = ssh
                .channel_open_session()
                .await
                .map_err(ssh_err("starting SFTP"))?;
            channel
                .request_subsystem(true, "sftp")
                .await
                .map_err(ssh_err("starting SFTP"))?;
            loop {
                match channel.wait().await {
                    Some(ChannelMsg::Success) => break,
                    Some(ChannelMsg::Failure) | None => {
                        return Err(SftpError::NoSftp {
                            server: server.clone(),
                            user: target.user.clone(),
                        });
                    }
                    Some(_) => {}
                }
            }
            let config = russh_sftp::client::Config {
                request_timeout_secs: (t.as_secs() + u64::from(t.subsec_nanos() > 0)).max(1),
                ..russh_sftp::client::Config::default()
            };
            SftpSession::new_with_config(channel.into_stream(), config)
                .await
                .map_err(|e| SftpError::Ssh {
                    server: server.clone(),
                    stage: "starting SFTP",
                    cause: e.to_string(),
                })
        })
        .await?;

        let conn = Arc::new(Conn {
            sftp,
            ssh,
            server: server.clone(),
            user: target.user.clone(),
            timeout: t,
        });
        let path = timed(&server, "looking up the folder", t, async {
            let folder_err = |e: SftpClientError| match e {
                SftpClientError::Status(s) if s.status_code == StatusCode::NoSuchFile => {
                    SftpError::NoSuchFolder {
                        server: server.clone(),
                        folder: folder.to_string(),
                    }
                }
                e => conn.error("opening the folder", folder, e),
            };
            let path = conn.sftp.canonicalize(folder).await.map_err(folder_err)?;
            let meta = conn
                .sftp
                .metadata(path.as_str())
                .await
                .map_err(folder_err)?;
            if !meta.is_dir() {
                return Err(SftpError::NotAFolder {
                    server: server.clone(),
                    folder: folder.to_string(),
                });
            }
            Ok(path)
        })
        .await?;
        let path = match path.trim_end_matches('/') {
            "" => "/".to_string(),
            p => p.to_string(),
        };
        tracing::debug!(server = %conn.server, folder = %path, "SFTP folder connected");
        Ok(Self { conn, path })
    }

    /// The folder as the server canonicalised it.
    pub fn path(&self) -> &str {
        &self.path
    }

    /// Regular files directly in the folder whose name ends in `.log` (not `.log.gz`, not
    /// symlinks, not folders), sorted by name.
    pub async fn list(&self) -> Result<Vec<RemoteFile>, SftpError> {
        let entries = self
            .conn
            .sftp
            .read_dir(self.path.as_str())
            .await
            .map_err(|e| self.conn.error("listing", &self.path, e))?;
        let mut files: Vec<RemoteFile> = entries
            .filter(|e| {
                let name = e.file_name();
                name.ends_with(".log") && !name.contains('/') && is_regular(&e.metadata())
            })
            .map(|e| {
                let meta = e.metadata();
                RemoteFile {
                    name: e.file_name(),
                    len: meta.size.unwrap_or(0),
                    modified: meta
                        .mtime
                        .and_then(|s| DateTime::from_timestamp(i64::from(s), 0))
                        .unwrap_or_default(),
                }
            })
            .collect();
        files.sort_by(|a, b| a.name.cmp(&b.name));
        Ok(files)
    }

    /// Opens `name` (a file in the folder) for reading from `offset`. The reader holds the
    /// SFTP handle: it keeps reading the same remote file even if it is renamed or
    /// replaced on the server afterwards, and it ends at the end of the file as it is
    /// then (open again at the new offset to read what was appended later). Dropping the
    /// reader closes the handle.
    pub async fn open(
        &self,
        name: &str,
        offset: u64,
    ) -> Result<Box<dyn AsyncRead + Unpin + Send>, SftpError> {
        Ok(Box::new(self.reader(name, offset).await?))
    }

    /// The first `n` bytes of `name` (fewer if the file is shorter).
    pub async fn head(&self, name: &str, n: usize) -> Result<Vec<u8>, SftpError> {
        let path = self.file_path(name)?;
        let mut reader = self.reader(name, 0).await?.take(n as u64);
        let mut out = Vec::with_capacity(n.min(1 << 20));
        reader
            .read_to_end(&mut out)
            .await
            .map_err(|e| self.conn.io_error(&path, e))?;
        Ok(out)
    }

    /// The whole of `name`.
    pub async fn read_all(&self, name: &str) -> Result<Vec<u8>, SftpError> {
        let path = self.file_path(name)?;
        let mut reader = self.reader(name, 0).await?;
        let mut out = Vec::new();
        reader
            .read_to_end(&mut out)
            .await
            .map_err(|e| self.conn.io_error(&path, e))?;
        Ok(out)
    }

    /// Closes the SFTP channel and the SSH connection politely. Readers still open stop
    /// working. Dropping the folder (and its readers) also closes the connection.
    pub async fn close(self) {
        let _ = self.conn.sftp.close().await;
        let _ = self
            .conn
            .ssh
            .disconnect(Disconnect::ByApplication, "", "en")
            .await;
    }

    /// `folder/name`, refusing names that would leave the folder.
    fn file_path(&self, name: &str) -> Result<String, SftpError> {
        if name.is_empty() || name == "." || name == ".." || name.contains('/') {
            return Err(SftpError::InvalidName {
                name: name.to_string(),
            });
        }
        Ok(if self.path == "/" {
            format!("/{name}")
        } else {
            format!("{}/{name}", self.path)
        })
    }

    async fn reader(&self, name: &str, offset: u64) -> Result<RemoteReader, SftpError> {
        let path = self.file_path(name)?;
        let mut file = self
            .conn
            .sftp
            .open(path.as_str())
            .await
            .map_err(|e| self.conn.error("opening", &path, e))?;
        // Seeking from the start is local: it only sets the offset of the next read.
        file.seek(SeekFrom::Start(offset))
            .await
            .map_err(|e| self.conn.io_error(&path, e))?;
        Ok(RemoteReader {
            file,
            _conn: self.conn.clone(),
        })
    }
}

impl Conn {
    /// Maps an SFTP client error about `path` to a sentence.
    fn error(&self, action: &'static str, path: &str, e: SftpClientError) -> SftpError {
        match e {
            SftpClientError::Status(s) if s.status_code == StatusCode::NoSuchFile => {
                SftpError::NoSuchFile {
                    server: self.server.clone(),
                    path: path.to_string(),
                }
            }
            SftpClientError::Status(s) if s.status_code == StatusCode::PermissionDenied => {
                SftpError::PermissionDenied {
                    server: self.server.clone(),
                    user: self.user.clone(),
                    path: path.to_string(),
                }
            }
            SftpClientError::Timeout => SftpError::Timeout {
                server: self.server.clone(),
                stage: action,
                timeout: self.timeout,
            },
            SftpClientError::Status(s) => SftpError::Request {
                server: self.server.clone(),
                action,
                path: path.to_string(),
                cause: if s.error_message.is_empty() {
                    s.status_code.to_string()
                } else {
                    s.error_message
                },
            },
            e => SftpError::Request {
                server: self.server.clone(),
                action,
                path: path.to_string(),
                cause: e.to_string(),
            },
        }
    }

    /// Maps a read error of the reader (an `io::Error` wrapping the SFTP error) to a
    /// sentence.
    fn io_error(&self, path: &str, e: std::io::Error) -> SftpError {
        if e.kind() == std::io::ErrorKind::TimedOut {
            return SftpError::Timeout {
                server: self.server.clone(),
                stage: "reading",
                timeout: self.timeout,
            };
        }
        SftpError::Request {
            server: self.server.clone(),
            action: "reading",
            path: path.to_string(),
            cause: e.to_string(),
        }
    }
}

/// True when the attributes say "regular file" (a server that sends no mode is trusted).
fn is_regular(meta: &Metadata) -> bool {
    meta.permissions.is_none_or(|mode| mode & S_IFMT == S_IFREG)
}

/// An open remote file. russh-sftp 2.1's [`File`] reader sends one read request at a time,
/// no larger than the caller's buffer and the packet limit; a short reply (servers cap
/// reads, OpenSSH at 255 KiB) is returned as it is and the next read goes on from there,
/// so the bytes come out complete and in order until the server answers EOF. One request
/// in flight costs a round trip per read: TCP_NODELAY is set on the socket so Nagle's
/// algorithm does not add its delay to each.
struct RemoteReader {
    file: File,
    /// Keeps the SSH connection (and SFTP session) alive while the reader lives.
    _conn: Arc<Conn>,
}

impl AsyncRead for RemoteReader {
    fn poll_read(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<std::io::Result<()>> {
        Pin::new(&mut self.file).poll_read(cx, buf)
    }
}

/// Bytes whose hash tells one log file from another under the same name: SFTP v3 has no
/// inode. The first line of a log carries the time it began.
const HEAD_BYTES: usize = 64;

/// A log folder on an SFTP server for [`super::tail::FolderTailer`]: connects on first use
/// and again after any error, and tells a file from its successor under the same name by a
/// hash of its first bytes (empty until the file holds that many).
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

    async fn list_files(&mut self) -> Result<Vec<super::tail::Entry>, SftpError> {
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
            entries.push(super::tail::Entry {
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

impl super::tail::LogFolder for SftpSource {
    async fn list(&mut self) -> anyhow::Result<Vec<super::tail::Entry>> {
        let result = self.list_files().await;
        self.check(result)
    }

    async fn open(&mut self, name: &str, offset: u64) -> anyhow::Result<super::tail::LogReader> {
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

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;
    use crate::testing::fake_sftp::{FakeSftp, MAX_READ};
    use std::path::{Path, PathBuf};

    const USER: &str = "logs";
    const PW: &str = "hunter2-very-secret";

    /// A temporary folder, removed on drop.
    struct TempDir(PathBuf);

    impl TempDir {
        fn new() -> Self {
            let dir =
                std::env::temp_dir().join(format!("sftp-test-{:016x}", rand::random::<u64>()));
            std::fs::create_dir_all(dir.join("logs")).unwrap();
            Self(dir)
        }
        fn logs(&self) -> PathBuf {
            self.0.join("logs")
        }
    }

    impl Drop for TempDir {
        fn drop(&mut self) {
            let _ = std::fs::remove_dir_all(&self.0);
        }
    }

    fn target(fake: &FakeSftp) -> SftpTarget {
        SftpTarget {
            host: fake.addr.ip().to_string(),
            port: fake.addr.port(),
            user: USER.to_string(),
            password: PW.to_string(),
            host_key: Some(fake.fingerprint.clone()),
            timeout: Duration::from_secs(5),
        }
    }

    async fn setup() -> (TempDir, FakeSftp) {
        let dir = TempDir::new();
        let fake = FakeSftp::start(dir.0.clone(), USER, PW).await.unwrap();
        (dir, fake)
    }

    async fn folder(fake: &FakeSftp) -> SftpFolder {
        SftpFolder::connect(&target(fake), "/logs").await.unwrap()
    }

    fn write(path: &Path, data: &[u8]) {
        std::fs::write(path, data).unwrap();
    }

    fn append(path: &Path, data: &[u8]) {
        use std::io::Write;
        let mut f = std::fs::OpenOptions::new().append(true).open(path).unwrap();
        f.write_all(data).unwrap();
    }

    async fn read_rest(mut r: impl AsyncRead + Unpin) -> Vec<u8> {
        let mut out = Vec::new();
        r.read_to_end(&mut out).await.unwrap();
        out
    }

    fn connect_err(e: Result<SftpFolder, SftpError>) -> SftpError {
        match e {
            Ok(f) => panic!("connected: {f:?}"),
            Err(e) => e,
        }
    }

    #[tokio::test]
    async fn list_shows_only_regular_log_files_sorted_with_len() {
        let (dir, fake) = setup().await;
        let logs = dir.logs();
        write(&logs.join("b.log"), b"0123456789");
        write(&logs.join("a.log"), b"");
        write(&logs.join("old.log.gz"), b"gz");
        write(&logs.join("notes.txt"), b"txt");
        std::fs::create_dir(logs.join("dir.log")).unwrap();
        #[cfg(unix)]
        std::os::unix::fs::symlink(logs.join("b.log"), logs.join("link.log")).unwrap();

        let before = Utc::now() - chrono::Duration::seconds(5);
        let files = folder(&fake).await.list().await.unwrap();
        let names: Vec<_> = files.iter().map(|f| (f.name.as_str(), f.len)).collect();
        assert_eq!(names, [("a.log", 0), ("b.log", 10)]);
        assert!(files.iter().all(|f| f.modified >= before));
    }

    #[tokio::test]
    async fn relative_and_absolute_folder_paths_work() {
        let (dir, fake) = setup().await;
        write(&dir.logs().join("x.log"), b"x");
        for path in ["logs", "/logs", "./logs/", "/logs/../logs"] {
            let f = SftpFolder::connect(&target(&fake), path).await.unwrap();
            assert_eq!(f.path(), "/logs");
            assert_eq!(f.list().await.unwrap().len(), 1, "{path}");
        }
    }

    #[tokio::test]
    async fn open_at_offset_reads_exactly_the_rest() {
        let (dir, fake) = setup().await;
        write(&dir.logs().join("s.log"), b"hello world\nsecond line\n");
        let f = folder(&fake).await;
        assert_eq!(
            read_rest(f.open("s.log", 6).await.unwrap()).await,
            b"world\nsecond line\n"
        );
        assert_eq!(read_rest(f.open("s.log", 24).await.unwrap()).await, b"");
        assert_eq!(read_rest(f.open("s.log", 1000).await.unwrap()).await, b"");
    }

    #[tokio::test]
    async fn head_and_read_all() {
        let (dir, fake) = setup().await;
        write(&dir.logs().join("s.log"), b"0123456789");
        let f = folder(&fake).await;
        assert_eq!(f.head("s.log", 4).await.unwrap(), b"0123");
        assert_eq!(f.head("s.log", 100).await.unwrap(), b"0123456789");
        assert_eq!(f.head("s.log", 0).await.unwrap(), b"");
        assert_eq!(f.read_all("s.log").await.unwrap(), b"0123456789");
    }

    #[tokio::test]
    async fn growing_file_is_read_further_from_the_new_offset() {
        let (dir, fake) = setup().await;
        let path = dir.logs().join("g.log");
        write(&path, b"line 1\n");
        let f = folder(&fake).await;
        let first = read_rest(f.open("g.log", 0).await.unwrap()).await;
        assert_eq!(first, b"line 1\n");

        append(&path, b"line 2\nline 3\n");
        assert_eq!(f.list().await.unwrap()[0].len, 21);
        let more = read_rest(f.open("g.log", first.len() as u64).await.unwrap()).await;
        assert_eq!(more, b"line 2\nline 3\n");
    }

    #[tokio::test]
    async fn open_handle_survives_rotation() {
        let (dir, fake) = setup().await;
        let logs = dir.logs();
        write(&logs.join("server.log"), b"old-0123456789");
        let f = folder(&fake).await;
        let old = f.open("server.log", 4).await.unwrap();

        std::fs::rename(logs.join("server.log"), logs.join("server-1.log.gz")).unwrap();
        write(&logs.join("server.log"), b"new!");

        assert_eq!(read_rest(old).await, b"0123456789");
        let files = f.list().await.unwrap();
        assert_eq!(files.len(), 1);
        assert_eq!((files[0].name.as_str(), files[0].len), ("server.log", 4));
        assert_eq!(f.read_all("server.log").await.unwrap(), b"new!");
    }

    #[tokio::test]
    async fn reader_outlives_the_folder() {
        let (dir, fake) = setup().await;
        write(&dir.logs().join("s.log"), b"still here");
        let f = folder(&fake).await;
        let r = f.open("s.log", 0).await.unwrap();
        drop(f);
        assert_eq!(read_rest(r).await, b"still here");
    }

    #[tokio::test]
    async fn twenty_megabytes_read_byte_exact_through_capped_reads() {
        let (dir, fake) = setup().await;
        let len = 20 * 1024 * 1024 + 123; // not a multiple of the read size
        let data: Vec<u8> = (0..len as u32)
            .map(|i| (i.wrapping_mul(2_654_435_761) >> 13) as u8)
            .collect();
        write(&dir.logs().join("big.log"), &data);
        let f = folder(&fake).await;
        assert_eq!(f.list().await.unwrap()[0].len, len as u64);

        let got = read_rest(f.open("big.log", 0).await.unwrap()).await;
        assert_eq!(got.len(), data.len());
        assert!(got == data, "content differs");

        // From an offset inside a read-sized block.
        let off = 3 * MAX_READ + 17;
        let got = read_rest(f.open("big.log", off as u64).await.unwrap()).await;
        assert!(got == data[off..], "content from {off} differs");
    }

    #[tokio::test]
    async fn wrong_password_is_refused_without_showing_it() {
        let (_dir, fake) = setup().await;
        let mut t = target(&fake);
        t.password = "not-the-password".to_string();
        let e = connect_err(SftpFolder::connect(&t, "/logs").await);
        assert!(matches!(e, SftpError::AuthRejected { .. }), "{e:?}");
        let msg = e.to_string();
        assert_eq!(
            msg,
            format!(
                "the SFTP server {} refused user 'logs' with this password",
                fake.addr
            )
        );
        assert!(!format!("{e:?}").contains("not-the-password"));

        let mut t = target(&fake);
        t.user = "root".to_string();
        let e = connect_err(SftpFolder::connect(&t, "/logs").await);
        assert!(e.to_string().contains("refused user 'root'"), "{e}");
    }

    #[tokio::test]
    async fn unpinned_host_key_is_refused_and_named() {
        let (_dir, fake) = setup().await;
        let mut t = target(&fake);
        t.host_key = None;
        let e = connect_err(SftpFolder::connect(&t, "/logs").await);
        assert_eq!(
            e.to_string(),
            format!(
                "the SFTP server {} presented host key {}; set it as the server's SFTP host key to trust it",
                fake.addr, fake.fingerprint
            )
        );
        assert!(fake.fingerprint.starts_with("SHA256:"));
        assert_eq!(fake.fingerprint.len(), "SHA256:".len() + 43);
    }

    #[tokio::test]
    async fn wrong_pin_is_refused() {
        let (_dir, fake) = setup().await;
        let mut t = target(&fake);
        let wrong = "SHA256:AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA";
        t.host_key = Some(wrong.to_string());
        let e = connect_err(SftpFolder::connect(&t, "/logs").await);
        assert!(matches!(e, SftpError::HostKeyMismatch { .. }), "{e:?}");
        assert_eq!(
            e.to_string(),
            format!(
                "the SFTP server {} presented host key {}, not the pinned {wrong}: refusing to connect",
                fake.addr, fake.fingerprint
            )
        );
    }

    #[tokio::test]
    async fn pin_may_lack_prefix_or_carry_padding() {
        let (dir, fake) = setup().await;
        write(&dir.logs().join("x.log"), b"x");
        let bare = fake.fingerprint.trim_start_matches("SHA256:").to_string();
        for pin in [bare.clone(), format!(" sha256:{bare}= ")] {
            let mut t = target(&fake);
            t.host_key = Some(pin);
            SftpFolder::connect(&t, "logs").await.unwrap();
        }
    }

    #[tokio::test]
    async fn missing_folder_and_file_are_named() {
        let (dir, fake) = setup().await;
        write(&dir.0.join("plain.txt"), b"x");
        let t = target(&fake);
        let e = connect_err(SftpFolder::connect(&t, "/nope").await);
        assert_eq!(
            e.to_string(),
            format!(
                "the folder '/nope' does not exist on the SFTP server {}",
                fake.addr
            )
        );
        let e = connect_err(SftpFolder::connect(&t, "/plain.txt").await);
        assert!(matches!(e, SftpError::NotAFolder { .. }), "{e:?}");

        let f = folder(&fake).await;
        let e = f.open("gone.log", 0).await.err().unwrap();
        assert_eq!(
            e.to_string(),
            format!(
                "the file '/logs/gone.log' does not exist on the SFTP server {}",
                fake.addr
            )
        );
        let e = f.head("../plain.txt", 1).await.err().unwrap();
        assert!(matches!(e, SftpError::InvalidName { .. }), "{e:?}");
    }

    #[tokio::test]
    async fn paths_cannot_escape_the_served_root() {
        let (_dir, fake) = setup().await;
        let e = connect_err(SftpFolder::connect(&target(&fake), "/../..").await);
        assert!(matches!(e, SftpError::PermissionDenied { .. }), "{e:?}");
    }

    #[tokio::test]
    async fn connection_refused_names_host_and_cause() {
        let port = {
            let l = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
            l.local_addr().unwrap().port()
        };
        let t = SftpTarget {
            host: "127.0.0.1".to_string(),
            port,
            user: USER.to_string(),
            password: PW.to_string(),
            host_key: None,
            timeout: Duration::from_secs(5),
        };
        let e = connect_err(SftpFolder::connect(&t, "/").await);
        assert!(matches!(e, SftpError::Unreachable { .. }), "{e:?}");
        let msg = e.to_string();
        assert!(
            msg.starts_with(&format!(
                "could not connect to the SFTP server 127.0.0.1:{port}: "
            )),
            "{msg}"
        );
        assert!(msg.to_lowercase().contains("refused"), "{msg}");
    }

    #[tokio::test]
    async fn silent_server_times_out() {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        let _hold = tokio::spawn(async move {
            let (s, _) = listener.accept().await.unwrap();
            tokio::time::sleep(Duration::from_secs(30)).await;
            drop(s);
        });
        let t = SftpTarget {
            host: addr.ip().to_string(),
            port: addr.port(),
            user: USER.to_string(),
            password: PW.to_string(),
            host_key: None,
            timeout: Duration::from_millis(300),
        };
        let e = connect_err(SftpFolder::connect(&t, "/").await);
        assert_eq!(
            e.to_string(),
            format!("the SFTP server {addr} did not answer within 300ms while exchanging keys")
        );
    }

    #[test]
    fn debug_hides_the_password() {
        let t = SftpTarget {
            host: "h".to_string(),
            port: 22,
            user: "u".to_string(),
            password: PW.to_string(),
            host_key: None,
            timeout: Duration::from_secs(1),
        };
        let s = format!("{t:?}");
        assert!(!s.contains(PW) && s.contains("<redacted>"), "{s}");
    }
}
