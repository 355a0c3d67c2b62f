//! [`SftpFolder`]: one remote folder on one SSH connection with one SFTP channel, its
//! listing of `*.log` files, and the reader that keeps a file's handle open.

use std::fmt;
use std::io::SeekFrom;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};
use std::time::Duration;

use chrono::{DateTime, Utc};
use russh::client;
use russh::client::AuthResult;
use russh::{ChannelMsg, Disconnect, MethodKind};
use russh_sftp::client::SftpSession;
use russh_sftp::client::error::Error as SftpClientError;
use russh_sftp::client::fs::{File, Metadata};
use russh_sftp::protocol::StatusCode;
use tokio::io::{AsyncRead, AsyncReadExt, AsyncSeekExt, ReadBuf};
use tokio::net::TcpStream;

use super::target::{HandlerError, Verifier};
use super::{SftpAuth, SftpError, SftpTarget};
use russh::keys::PrivateKeyWithHashAlg;

/// The file-type bits of a POSIX mode (`S_IFMT`) and the value for a regular file.
const S_IFMT: u32 = 0o170_000;
const S_IFREG: u32 = 0o100_000;

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
    /// Connects, checks the host key against the pin, logs in with the password or key, starts
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
            let (auth, method) = match &target.auth {
                SftpAuth::Password(password) => (
                    ssh.authenticate_password(target.user.as_str(), password.as_str())
                        .await,
                    MethodKind::Password,
                ),
                SftpAuth::Key(key) => {
                    // RSA keys sign with the best hash the server names (SHA-2), others
                    // ignore it.
                    let hash = if key.algorithm().is_rsa() {
                        ssh.best_supported_rsa_hash().await.ok().flatten().flatten()
                    } else {
                        None
                    };
                    (
                        ssh.authenticate_publickey(
                            target.user.as_str(),
                            PrivateKeyWithHashAlg::new(key.clone(), hash),
                        )
                        .await,
                        MethodKind::PublicKey,
                    )
                }
            };
            let offered = |methods: &russh::MethodSet| {
                methods
                    .iter()
                    .map(<&str>::from)
                    .collect::<Vec<_>>()
                    .join(", ")
            };
            match auth.map_err(ssh_err("logging in"))? {
                AuthResult::Success => Ok(()),
                AuthResult::Failure {
                    remaining_methods, ..
                } if !remaining_methods.is_empty() && !remaining_methods.contains(&method) => {
                    Err(match method {
                        MethodKind::Password => SftpError::NoPasswordLogin {
                            server: server.clone(),
                            offered: offered(&remaining_methods),
                        },
                        _ => SftpError::NoKeyLogin {
                            server: server.clone(),
                            offered: offered(&remaining_methods),
                        },
                    })
                }
                // Also when the server sent no method left and hung up: that is how a
                // server that allows one attempt answers a wrong password.
                AuthResult::Failure { .. } => Err(match &target.auth {
                    SftpAuth::Password(_) => SftpError::AuthRejected {
                        server: server.clone(),
                        user: target.user.clone(),
                    },
                    SftpAuth::Key(key) => SftpError::KeyRejected {
                        server: server.clone(),
                        user: target.user.clone(),
                        key: super::fingerprint(key.public_key()),
                    },
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
