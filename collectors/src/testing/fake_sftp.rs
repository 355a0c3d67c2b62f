//! A real SSH + SFTP server on a loopback port, serving one local folder read-only, for
//! tests of anything that pulls files over SFTP.
//!
//! It speaks the real protocols (russh's server side, russh-sftp's server side) and behaves
//! like OpenSSH's `sftp-server` where the client can tell:
//!
//! * the host key is a fresh ed25519 key; [`FakeSftp::fingerprint`] is its `SHA256:…`
//!   fingerprint, as `ssh-keygen -lf` prints it;
//! * password login for the configured user and password, and public key login for the
//!   configured user and key when [`FakeSftp::start_with_key`] names one;
//! * an open handle holds a real [`tokio::fs::File`], so a file renamed or replaced after
//!   the open is still read through its handle;
//! * a read answers at most [`MAX_READ`] bytes whatever the client asks (real servers cap
//!   reads too), and EOF once the offset is at the end;
//! * `realpath` of a missing path fails with "no such file"; `readdir` includes `.` and
//!   `..` and sends `lstat` attributes (size, mode with file type, mtime).
//!
//! Paths are taken relative to the served root whether or not they start with `/`; `..`
//! that would leave the root is refused. Anything that writes is refused.
//!
//! Dropping the [`FakeSftp`] stops accepting and disconnects every session.

use std::collections::HashMap;
use std::io;
use std::io::SeekFrom;
use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::{Arc, Mutex, PoisonError};
use std::time::Duration;

use russh::keys::ssh_key::private::{Ed25519Keypair, KeypairData};
use russh::keys::{PrivateKey, PublicKey};
use russh::server::{
    self, Auth, ChannelOpenHandle, Msg, PublicKeyOffer, Session, VerifiedPublicKey,
};
use russh::{Channel, ChannelId, Disconnect, MethodKind, MethodSet};
use russh_sftp::protocol::{
    Attrs, Data, File, FileAttributes, Handle, Name, OpenFlags, Status, StatusCode,
};
use tokio::io::{AsyncReadExt, AsyncSeekExt};
use tokio::net::TcpListener;
use tokio::sync::oneshot;

use crate::game::sftp::fingerprint;

/// The most bytes one read request is answered with (OpenSSH caps reads as well).
pub const MAX_READ: usize = 32 * 1024;

/// A running fake SFTP server. Stops on drop.
pub struct FakeSftp {
    /// Where it listens (127.0.0.1, a free port).
    pub addr: SocketAddr,
    /// Its host key fingerprint, `SHA256:<base64 without padding>`.
    pub fingerprint: String,
    /// Dropping this tells the accept loop to stop and disconnect every session.
    _shutdown: oneshot::Sender<()>,
}

/// What every connection needs.
struct Shared {
    root: PathBuf,
    user: String,
    password: Option<String>,
    public_key: Option<PublicKey>,
}

impl FakeSftp {
    /// Serves `root` (read-only: realpath, stat/lstat/fstat, opendir/readdir, open for
    /// reading, read, close) to `user`/`password`; any other credentials are refused.
    pub async fn start(root: PathBuf, user: &str, password: &str) -> io::Result<Self> {
        Self::serve(root, user, Some(password), None).await
    }

    /// Like [`FakeSftp::start`], but `user` logs in with the private key of `public_key`
    /// (public key authentication); with `password`, also with that password.
    pub async fn start_with_key(
        root: PathBuf,
        user: &str,
        password: Option<&str>,
        public_key: PublicKey,
    ) -> io::Result<Self> {
        Self::serve(root, user, password, Some(public_key)).await
    }

    async fn serve(
        root: PathBuf,
        user: &str,
        password: Option<&str>,
        public_key: Option<PublicKey>,
    ) -> io::Result<Self> {
        let root = tokio::fs::canonicalize(&root).await?;
        let seed: [u8; 32] = rand::random();
        let key = PrivateKey::new(
            KeypairData::from(Ed25519Keypair::from_seed(&seed)),
            "fake-sftp",
        )
        .map_err(io::Error::other)?;
        let fingerprint = fingerprint(key.public_key());
        let mut methods = Vec::new();
        if password.is_some() {
            methods.push(MethodKind::Password);
        }
        if public_key.is_some() {
            methods.push(MethodKind::PublicKey);
        }
        let config = Arc::new(server::Config {
            methods: MethodSet::from(&methods[..]),
            auth_rejection_time: Duration::from_millis(10),
            auth_rejection_time_initial: Some(Duration::ZERO),
            keys: vec![key],
            ..server::Config::default()
        });
        let shared = Arc::new(Shared {
            root,
            user: user.to_string(),
            password: password.map(str::to_string),
            public_key,
        });

        let listener = TcpListener::bind(("127.0.0.1", 0)).await?;
        let addr = listener.local_addr()?;
        let (shutdown, mut stop) = oneshot::channel::<()>();
        tokio::spawn(async move {
            let sessions: Arc<Mutex<Vec<server::Handle>>> = Arc::default();
            loop {
                tokio::select! {
                    _ = &mut stop => break,
                    accepted = listener.accept() => {
                        let Ok((socket, _)) = accepted else { continue };
                        // As OpenSSH does (interactive sessions): no Nagle delay per reply.
                        let _ = socket.set_nodelay(true);
                        let handler = SshConn { shared: shared.clone(), channels: HashMap::new() };
                        let (config, sessions) = (config.clone(), sessions.clone());
                        tokio::spawn(async move {
                            if let Ok(running) = server::run_stream(config, socket, handler).await {
                                lock(&sessions).push(running.handle());
                                let _ = running.await;
                            }
                        });
                    }
                }
            }
            drop(listener);
            let handles = std::mem::take(&mut *lock(&sessions));
            for handle in handles {
                let _ = handle
                    .disconnect(
                        Disconnect::ByApplication,
                        "fake SFTP server stopped".into(),
                        "en".into(),
                    )
                    .await;
            }
        });

        Ok(Self {
            addr,
            fingerprint,
            _shutdown: shutdown,
        })
    }
}

fn lock<T>(m: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    m.lock().unwrap_or_else(PoisonError::into_inner)
}

/// The SSH side of one connection: password check, session channels, the `sftp`
/// subsystem.
struct SshConn {
    shared: Arc<Shared>,
    channels: HashMap<ChannelId, Channel<Msg>>,
}

impl SshConn {
    fn reject(&self) -> Auth {
        let mut methods = Vec::new();
        if self.shared.password.is_some() {
            methods.push(MethodKind::Password);
        }
        if self.shared.public_key.is_some() {
            methods.push(MethodKind::PublicKey);
        }
        Auth::Reject {
            proceed_with_methods: Some(MethodSet::from(&methods[..])),
            partial_success: false,
        }
    }

    fn key_verdict(&self, user: &str, offered: &PublicKey) -> Auth {
        let authorised = self
            .shared
            .public_key
            .as_ref()
            .is_some_and(|key| key.key_data() == offered.key_data());
        if user == self.shared.user && authorised {
            Auth::Accept
        } else {
            self.reject()
        }
    }
}

impl server::Handler for SshConn {
    type Error = russh::Error;

    async fn auth_password(&mut self, user: &str, password: &str) -> Result<Auth, Self::Error> {
        Ok(
            if user == self.shared.user && self.shared.password.as_deref() == Some(password) {
                Auth::Accept
            } else {
                // Like OpenSSH: every method stays on offer for another try.
                self.reject()
            },
        )
    }

    async fn auth_publickey_offered(
        &mut self,
        user: &str,
        offer: PublicKeyOffer<'_>,
    ) -> Result<Auth, Self::Error> {
        Ok(self.key_verdict(user, offer.public_key))
    }

    async fn auth_publickey(
        &mut self,
        user: &str,
        key: VerifiedPublicKey<'_>,
    ) -> Result<Auth, Self::Error> {
        Ok(self.key_verdict(user, key.public_key))
    }

    async fn channel_open_session(
        &mut self,
        channel: Channel<Msg>,
        reply: ChannelOpenHandle,
        _session: &mut Session,
    ) -> Result<(), Self::Error> {
        self.channels.insert(channel.id(), channel);
        reply.accept().await;
        Ok(())
    }

    async fn subsystem_request(
        &mut self,
        channel: ChannelId,
        name: &str,
        session: &mut Session,
    ) -> Result<(), Self::Error> {
        match self.channels.remove(&channel) {
            Some(ch) if name == "sftp" => {
                session.channel_success(channel)?;
                let fs = FsHandler {
                    root: self.shared.root.clone(),
                    handles: HashMap::new(),
                    next_handle: 0,
                };
                russh_sftp::server::run(ch.into_stream(), fs).await;
            }
            _ => session.channel_failure(channel)?,
        }
        Ok(())
    }

    async fn channel_eof(
        &mut self,
        channel: ChannelId,
        session: &mut Session,
    ) -> Result<(), Self::Error> {
        session.close(channel)
    }
}

/// What an SFTP handle refers to.
enum Open {
    File(tokio::fs::File),
    /// The listing, taken at `opendir`; `None` once sent.
    Dir(Option<Vec<File>>),
}

/// The SFTP side: a read-only view of `root`.
struct FsHandler {
    root: PathBuf,
    handles: HashMap<String, Open>,
    next_handle: u64,
}

/// Splits a client path into components under the root, resolving `.` and `..`.
fn components(path: &str) -> Result<Vec<&str>, StatusCode> {
    let mut parts = Vec::new();
    for part in path.split('/') {
        match part {
            "" | "." => {}
            ".." => {
                if parts.pop().is_none() {
                    return Err(StatusCode::PermissionDenied);
                }
            }
            p => parts.push(p),
        }
    }
    Ok(parts)
}

fn io_status(e: io::Error) -> StatusCode {
    match e.kind() {
        io::ErrorKind::NotFound => StatusCode::NoSuchFile,
        io::ErrorKind::PermissionDenied => StatusCode::PermissionDenied,
        _ => StatusCode::Failure,
    }
}

fn ok(id: u32) -> Status {
    Status {
        id,
        status_code: StatusCode::Ok,
        error_message: "Success".to_string(),
        language_tag: "en-US".to_string(),
    }
}

impl FsHandler {
    fn local(&self, path: &str) -> Result<PathBuf, StatusCode> {
        let mut local = self.root.clone();
        local.extend(components(path)?);
        Ok(local)
    }

    fn add(&mut self, open: Open) -> String {
        self.next_handle += 1;
        let handle = format!("h{}", self.next_handle);
        self.handles.insert(handle.clone(), open);
        handle
    }
}

impl russh_sftp::server::Handler for FsHandler {
    type Error = StatusCode;

    fn unimplemented(&self) -> Self::Error {
        StatusCode::OpUnsupported
    }

    async fn realpath(&mut self, id: u32, path: String) -> Result<Name, Self::Error> {
        let parts = components(&path)?;
        let local = self.local(&path)?;
        tokio::fs::metadata(&local).await.map_err(io_status)?;
        Ok(Name {
            id,
            files: vec![File::dummy(format!("/{}", parts.join("/")))],
        })
    }

    async fn stat(&mut self, id: u32, path: String) -> Result<Attrs, Self::Error> {
        let meta = tokio::fs::metadata(self.local(&path)?)
            .await
            .map_err(io_status)?;
        Ok(Attrs {
            id,
            attrs: FileAttributes::from(&meta),
        })
    }

    async fn lstat(&mut self, id: u32, path: String) -> Result<Attrs, Self::Error> {
        let meta = tokio::fs::symlink_metadata(self.local(&path)?)
            .await
            .map_err(io_status)?;
        Ok(Attrs {
            id,
            attrs: FileAttributes::from(&meta),
        })
    }

    async fn fstat(&mut self, id: u32, handle: String) -> Result<Attrs, Self::Error> {
        let Some(Open::File(file)) = self.handles.get(&handle) else {
            return Err(StatusCode::Failure);
        };
        let meta = file.metadata().await.map_err(io_status)?;
        Ok(Attrs {
            id,
            attrs: FileAttributes::from(&meta),
        })
    }

    async fn opendir(&mut self, id: u32, path: String) -> Result<Handle, Self::Error> {
        let local = self.local(&path)?;
        let meta = tokio::fs::metadata(&local).await.map_err(io_status)?;
        if !meta.is_dir() {
            return Err(StatusCode::Failure);
        }
        let mut files = vec![
            File::new(".", FileAttributes::from(&meta)),
            File::new("..", FileAttributes::empty()),
        ];
        let mut dir = tokio::fs::read_dir(&local).await.map_err(io_status)?;
        while let Some(entry) = dir.next_entry().await.map_err(io_status)? {
            let Ok(meta) = tokio::fs::symlink_metadata(entry.path()).await else {
                continue; // vanished meanwhile
            };
            files.push(File::new(
                entry.file_name().to_string_lossy(),
                FileAttributes::from(&meta),
            ));
        }
        Ok(Handle {
            id,
            handle: self.add(Open::Dir(Some(files))),
        })
    }

    async fn readdir(&mut self, id: u32, handle: String) -> Result<Name, Self::Error> {
        match self.handles.get_mut(&handle) {
            Some(Open::Dir(listing)) => match listing.take() {
                Some(files) => Ok(Name { id, files }),
                None => Err(StatusCode::Eof),
            },
            _ => Err(StatusCode::Failure),
        }
    }

    async fn open(
        &mut self,
        id: u32,
        filename: String,
        pflags: OpenFlags,
        _attrs: FileAttributes,
    ) -> Result<Handle, Self::Error> {
        let writes = OpenFlags::WRITE
            | OpenFlags::APPEND
            | OpenFlags::CREATE
            | OpenFlags::TRUNCATE
            | OpenFlags::EXCLUDE;
        if pflags.intersects(writes) {
            return Err(StatusCode::PermissionDenied);
        }
        let local = self.local(&filename)?;
        let file = tokio::fs::File::open(&local).await.map_err(io_status)?;
        if file.metadata().await.map_err(io_status)?.is_dir() {
            return Err(StatusCode::Failure);
        }
        Ok(Handle {
            id,
            handle: self.add(Open::File(file)),
        })
    }

    async fn read(
        &mut self,
        id: u32,
        handle: String,
        offset: u64,
        len: u32,
    ) -> Result<Data, Self::Error> {
        let Some(Open::File(file)) = self.handles.get_mut(&handle) else {
            return Err(StatusCode::Failure);
        };
        file.seek(SeekFrom::Start(offset))
            .await
            .map_err(io_status)?;
        let want = (len as usize).min(MAX_READ);
        let mut data = vec![0; want];
        let mut filled = 0;
        while filled < want {
            match file.read(&mut data[filled..]).await.map_err(io_status)? {
                0 => break,
                n => filled += n,
            }
        }
        if filled == 0 {
            return Err(StatusCode::Eof);
        }
        data.truncate(filled);
        Ok(Data { id, data })
    }

    async fn close(&mut self, id: u32, handle: String) -> Result<Status, Self::Error> {
        match self.handles.remove(&handle) {
            Some(_) => Ok(ok(id)),
            None => Err(StatusCode::Failure),
        }
    }
}
