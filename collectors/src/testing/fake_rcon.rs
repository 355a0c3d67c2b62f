//! A fake RCON server on a loopback port, speaking the real wire protocol with the quirks of
//! each [`Dialect`], for tests of anything that talks RCON.
//!
//! It is written independently of the client's framing code (a shared bug would otherwise
//! pass every test), and it reproduces the behaviours that break naive clients:
//!
//! * Source: an empty `RESPONSE_VALUE` before `AUTH_RESPONSE` (−1 on a wrong password, the
//!   socket stays open); output split into packets of [`FakeRconConfig::split_body_at`]
//!   bytes; an empty `RESPONSE_VALUE` from the client is mirrored after the output and
//!   followed by a trailer packet with raw bytes in its body; after
//!   [`FakeRcon::map_change`] old connections get empty output for everything.
//! * CS2: a wrong password closes the socket; every reply is a single packet whatever its
//!   size; the client's empty `RESPONSE_VALUE` is ignored.
//! * Minecraft: one type-2 auth reply (−1 on failure); output split without end marker;
//!   unknown packet types answered with `Unknown request <hex type>` under their id; and,
//!   like the vanilla server, each packet is read with one `read` of at most 1460 bytes and
//!   the connection is closed unless that read holds exactly one packet (which is why fast
//!   or merged requests kill real Minecraft connections).
//!
//! TCP splitting and merging are simulated with [`FakeRconConfig::tcp_chunk`] and
//! [`FakeRconConfig::merge_writes`].

use std::collections::HashMap;
use std::net::SocketAddr;
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};
use std::time::{Duration, Instant};

use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::watch;
use tokio::task::{JoinHandle, JoinSet};

use crate::game::rcon::Dialect;

const AUTH: i32 = 3;
const EXEC_OR_AUTH_RESPONSE: i32 = 2;
const RESPONSE_VALUE: i32 = 0;
/// The vanilla Minecraft server's read buffer.
const MINECRAFT_READ: usize = 1460;
/// Largest request the fake accepts (Source/CS2).
const MAX_REQUEST: usize = 1024 * 1024;
/// The body of the packet srcds sends after the mirrored empty packet (the wiki writes the
/// bytes as `0x0000 0001 0000 0000`, terminators included).
const SOURCE_TRAILER_BODY: [u8; 6] = [0, 0, 0, 1, 0, 0];

/// How the fake server behaves. Build with [`FakeRconConfig::new`] and adjust the fields.
#[derive(Clone, Debug)]
pub struct FakeRconConfig {
    /// Which server family to imitate.
    pub dialect: Dialect,
    /// The RCON password it accepts.
    pub password: String,
    /// Source and Minecraft split output into bodies of at most this many bytes (default
    /// 4096, as the real servers); CS2 always sends one packet.
    pub split_body_at: usize,
    /// When set, the byte stream is written in pieces of this many bytes, flushed one by one
    /// with a yield to the scheduler in between (TCP splitting). A timer sleep would round
    /// up to a millisecond per piece, too slow for byte-sized pieces.
    pub tcp_chunk: Option<usize>,
    /// Write all packets answering one batch of requests (the auth pair, the output and the
    /// mirror) in one write (TCP merging).
    pub merge_writes: bool,
    /// Minecraft-like: close the connection when two commands arrive closer than this.
    pub min_spacing: Option<Duration>,
    /// Source: send the trailer packet after the mirrored one (default `true`).
    pub source_trailer: bool,
    /// CS2: send an empty `RESPONSE_VALUE` before the auth reply, as some builds do
    /// (default `false`).
    pub cs2_empty_before_auth: bool,
    /// Send an unrelated packet (id 0, a log line, as srcds' log echo does) before every
    /// command's output (default `false`).
    pub log_echo: bool,
}

impl FakeRconConfig {
    /// Real-server defaults for `dialect` with `password`.
    pub fn new(dialect: Dialect, password: &str) -> Self {
        Self {
            dialect,
            password: password.to_owned(),
            split_body_at: 4096,
            tcp_chunk: None,
            merge_writes: false,
            min_spacing: None,
            source_trailer: true,
            cs2_empty_before_auth: false,
            log_echo: false,
        }
    }
}

#[derive(Default)]
struct State {
    replies: HashMap<String, String>,
    stall: bool,
    connections: usize,
    commands: Vec<String>,
    /// Connections accepted before the last `close_all` hold a smaller epoch.
    close_epoch: u64,
    /// Connections accepted before the last `map_change` hold a smaller epoch.
    map_epoch: u64,
}

struct Shared {
    config: FakeRconConfig,
    state: Mutex<State>,
    close_tx: watch::Sender<u64>,
}

impl Shared {
    fn state(&self) -> MutexGuard<'_, State> {
        self.state.lock().unwrap_or_else(PoisonError::into_inner)
    }
}

/// A running fake RCON server; stops (with all its connections) when dropped.
pub struct FakeRcon {
    addr: SocketAddr,
    shared: Arc<Shared>,
    task: JoinHandle<()>,
}

impl std::fmt::Debug for FakeRcon {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("FakeRcon")
            .field("addr", &self.addr)
            .field("dialect", &self.shared.config.dialect)
            .finish_non_exhaustive()
    }
}

impl Drop for FakeRcon {
    fn drop(&mut self) {
        // Aborting the accept loop drops its JoinSet, which aborts every connection.
        self.task.abort();
    }
}

impl FakeRcon {
    /// Binds `127.0.0.1:0` and starts serving.
    ///
    /// # Panics
    /// When no loopback port can be bound (a broken test environment).
    pub async fn start(config: FakeRconConfig) -> FakeRcon {
        let listener = match TcpListener::bind("127.0.0.1:0").await {
            Ok(listener) => listener,
            Err(e) => panic!("fake RCON: cannot bind 127.0.0.1:0: {e}"),
        };
        let addr = match listener.local_addr() {
            Ok(addr) => addr,
            Err(e) => panic!("fake RCON: no local address: {e}"),
        };
        let (close_tx, _) = watch::channel(0);
        let shared = Arc::new(Shared {
            config,
            state: Mutex::new(State::default()),
            close_tx,
        });
        let task = tokio::spawn(accept_loop(listener, Arc::clone(&shared)));
        FakeRcon { addr, shared, task }
    }

    /// `"127.0.0.1:port"`.
    pub fn addr(&self) -> String {
        self.addr.to_string()
    }

    /// Answer `command` (exact text) with `reply`. Other commands get the dialect's
    /// "unknown command" text.
    pub fn set_reply(&self, command: &str, reply: &str) {
        self.shared
            .state()
            .replies
            .insert(command.to_owned(), reply.to_owned());
    }

    /// While `true`, requests are read (and commands recorded) but nothing is answered.
    pub fn set_stall(&self, stall: bool) {
        self.shared.state().stall = stall;
    }

    /// Closes every connection open now; later connections are served normally.
    pub fn close_all(&self) {
        let mut state = self.shared.state();
        state.close_epoch += 1;
        self.shared.close_tx.send_replace(state.close_epoch);
    }

    /// Source: connections open now answer every command with empty output from here on,
    /// as srcds does to RCON connections that outlived a map change.
    pub fn map_change(&self) {
        self.shared.state().map_epoch += 1;
    }

    /// Connections accepted so far.
    pub fn connections(&self) -> usize {
        self.shared.state().connections
    }

    /// Every command received (authenticated `EXECCOMMAND` bodies), in order.
    pub fn commands(&self) -> Vec<String> {
        self.shared.state().commands.clone()
    }
}

async fn accept_loop(listener: TcpListener, shared: Arc<Shared>) {
    let mut conns = JoinSet::new();
    loop {
        let (socket, _) = match listener.accept().await {
            Ok(accepted) => accepted,
            Err(_) => {
                tokio::time::sleep(Duration::from_millis(10)).await;
                continue;
            }
        };
        let (close_epoch, map_epoch, close_rx) = {
            let mut state = shared.state();
            state.connections += 1;
            (
                state.close_epoch,
                state.map_epoch,
                shared.close_tx.subscribe(),
            )
        };
        let conn = Conn {
            shared: Arc::clone(&shared),
            socket,
            buf: Vec::new(),
            authed: false,
            close_epoch,
            map_epoch,
            last_command: None,
        };
        conns.spawn(conn.serve(close_rx));
        while conns.try_join_next().is_some() {}
    }
}

struct Req {
    id: i32,
    kind: i32,
    body: Vec<u8>,
}

enum Next {
    Continue,
    Close,
}

struct Conn {
    shared: Arc<Shared>,
    socket: TcpStream,
    buf: Vec<u8>,
    authed: bool,
    close_epoch: u64,
    map_epoch: u64,
    last_command: Option<Instant>,
}

fn packet(id: i32, kind: i32, body: &[u8]) -> Vec<u8> {
    let mut out = Vec::with_capacity(body.len() + 14);
    let size = u32::try_from(body.len() + 10).unwrap_or(u32::MAX);
    out.extend_from_slice(&size.to_le_bytes());
    out.extend_from_slice(&id.to_le_bytes());
    out.extend_from_slice(&kind.to_le_bytes());
    out.extend_from_slice(body);
    out.extend_from_slice(b"\0\0");
    out
}

fn int_at(bytes: &[u8], at: usize) -> i32 {
    i32::from_le_bytes([bytes[at], bytes[at + 1], bytes[at + 2], bytes[at + 3]])
}

/// The request body as the servers read it: up to the first NUL.
fn text(body: &[u8]) -> String {
    let end = body.iter().position(|&b| b == 0).unwrap_or(body.len());
    String::from_utf8_lossy(&body[..end]).into_owned()
}

impl Conn {
    async fn serve(mut self, mut close_rx: watch::Receiver<u64>) {
        let _ = self.socket.set_nodelay(true);
        loop {
            let requests = tokio::select! {
                requests = self.read_requests() => requests,
                _ = close_rx.changed() => return,
            };
            let Some(requests) = requests else { return };
            if self.shared.state().close_epoch != self.close_epoch {
                return;
            }
            let mut out = Vec::new();
            let mut next = Next::Continue;
            for req in requests {
                next = self.handle(req, &mut out);
                if matches!(next, Next::Close) {
                    break;
                }
            }
            if self.shared.state().stall {
                out.clear();
            }
            if self.write_packets(out).await.is_err() || matches!(next, Next::Close) {
                return;
            }
        }
    }

    /// The requests of one batch, `None` when the connection is to be closed.
    async fn read_requests(&mut self) -> Option<Vec<Req>> {
        match self.shared.config.dialect {
            Dialect::Minecraft => self.read_vanilla().await.map(|req| vec![req]),
            Dialect::Source | Dialect::Cs2 => self.read_framed().await,
        }
    }

    /// Vanilla Minecraft: one read, which must hold exactly one packet.
    async fn read_vanilla(&mut self) -> Option<Req> {
        let mut buf = [0u8; MINECRAFT_READ];
        let n = self.socket.read(&mut buf).await.ok()?;
        if n < 10 || usize::try_from(int_at(&buf, 0)).ok()? != n - 4 {
            return None;
        }
        Some(Req {
            id: int_at(&buf, 4),
            kind: int_at(&buf, 8),
            body: buf[12..n].to_vec(),
        })
    }

    /// srcds: a proper length-prefixed reader; returns every complete request buffered.
    async fn read_framed(&mut self) -> Option<Vec<Req>> {
        loop {
            let mut reqs = Vec::new();
            loop {
                if self.buf.len() < 4 {
                    break;
                }
                let size = usize::try_from(int_at(&self.buf, 0)).ok()?;
                if !(10..=MAX_REQUEST).contains(&size) {
                    return None;
                }
                if self.buf.len() < size + 4 {
                    break;
                }
                let frame: Vec<u8> = self.buf.drain(..size + 4).collect();
                reqs.push(Req {
                    id: int_at(&frame, 4),
                    kind: int_at(&frame, 8),
                    body: frame[12..].to_vec(),
                });
            }
            if !reqs.is_empty() {
                return Some(reqs);
            }
            let mut chunk = [0u8; 8192];
            let n = self.socket.read(&mut chunk).await.ok()?;
            if n == 0 {
                return None;
            }
            self.buf.extend_from_slice(&chunk[..n]);
        }
    }

    fn handle(&mut self, req: Req, out: &mut Vec<Vec<u8>>) -> Next {
        let config = &self.shared.config;
        match (config.dialect, req.kind) {
            (_, AUTH) => {
                let ok = !config.password.is_empty() && text(&req.body) == config.password;
                self.authed = ok;
                let id = if ok { req.id } else { -1 };
                match config.dialect {
                    Dialect::Source => {
                        out.push(packet(req.id, RESPONSE_VALUE, b""));
                        out.push(packet(id, EXEC_OR_AUTH_RESPONSE, b""));
                    }
                    Dialect::Cs2 => {
                        if !ok {
                            return Next::Close;
                        }
                        if config.cs2_empty_before_auth {
                            out.push(packet(req.id, RESPONSE_VALUE, b""));
                        }
                        out.push(packet(id, EXEC_OR_AUTH_RESPONSE, b""));
                    }
                    Dialect::Minecraft => out.push(packet(id, EXEC_OR_AUTH_RESPONSE, b"")),
                }
                Next::Continue
            }
            (dialect, EXEC_OR_AUTH_RESPONSE) => {
                if !self.authed {
                    if dialect == Dialect::Minecraft {
                        out.push(packet(-1, EXEC_OR_AUTH_RESPONSE, b""));
                    }
                    return Next::Continue;
                }
                let command = text(&req.body);
                let now = Instant::now();
                let too_fast = match (config.min_spacing, self.last_command) {
                    (Some(spacing), Some(last)) => now.duration_since(last) < spacing,
                    _ => false,
                };
                self.last_command = Some(now);
                let (reply, map_changed) = {
                    let mut state = self.shared.state();
                    state.commands.push(command.clone());
                    (
                        state.replies.get(&command).cloned(),
                        state.map_epoch != self.map_epoch,
                    )
                };
                if too_fast {
                    return Next::Close;
                }
                let reply = if map_changed && dialect == Dialect::Source {
                    String::new()
                } else {
                    reply.unwrap_or_else(|| default_reply(dialect, &command))
                };
                if config.log_echo {
                    let line = b"L 01/01/2026 - 00:00:00: rcon from \"127.0.0.1\"\n";
                    out.push(packet(0, RESPONSE_VALUE, line));
                }
                self.push_reply(req.id, reply.as_bytes(), out);
                Next::Continue
            }
            (Dialect::Source, RESPONSE_VALUE) => {
                if self.authed {
                    out.push(packet(req.id, RESPONSE_VALUE, b""));
                    if config.source_trailer {
                        out.push(packet(req.id, RESPONSE_VALUE, &SOURCE_TRAILER_BODY));
                    }
                }
                Next::Continue
            }
            (Dialect::Minecraft, kind) => {
                let body = format!("Unknown request {kind:x}");
                self.push_reply(req.id, body.as_bytes(), out);
                Next::Continue
            }
            // CS2 ignores the mirror packet; Source ignores unknown types.
            (Dialect::Cs2 | Dialect::Source, _) => Next::Continue,
        }
    }

    fn push_reply(&self, id: i32, body: &[u8], out: &mut Vec<Vec<u8>>) {
        let config = &self.shared.config;
        if config.dialect == Dialect::Cs2 || body.is_empty() {
            out.push(packet(id, RESPONSE_VALUE, body));
            return;
        }
        for part in body.chunks(config.split_body_at.max(1)) {
            out.push(packet(id, RESPONSE_VALUE, part));
        }
    }

    async fn write_packets(&mut self, packets: Vec<Vec<u8>>) -> std::io::Result<()> {
        if packets.is_empty() {
            return Ok(());
        }
        if self.shared.config.merge_writes {
            let merged = packets.concat();
            self.write_stream(&merged).await
        } else {
            for packet in &packets {
                self.write_stream(packet).await?;
            }
            Ok(())
        }
    }

    async fn write_stream(&mut self, bytes: &[u8]) -> std::io::Result<()> {
        match self.shared.config.tcp_chunk {
            None => {
                self.socket.write_all(bytes).await?;
                self.socket.flush().await
            }
            Some(chunk) => {
                for piece in bytes.chunks(chunk.max(1)) {
                    self.socket.write_all(piece).await?;
                    self.socket.flush().await?;
                    tokio::task::yield_now().await;
                }
                Ok(())
            }
        }
    }
}

/// What the real server prints for a command without a [`FakeRcon::set_reply`] entry:
/// `echo` echoes (Source, CS2), anything else is unknown.
fn default_reply(dialect: Dialect, command: &str) -> String {
    if dialect != Dialect::Minecraft
        && let Some(text) = command.strip_prefix("echo ")
    {
        return format!("{text}\n");
    }
    let name = command.split_whitespace().next().unwrap_or("");
    match dialect {
        Dialect::Source => format!("Unknown command \"{name}\"\n"),
        Dialect::Cs2 => format!("Unknown command '{name}'!"),
        Dialect::Minecraft => {
            format!("Unknown or incomplete command, see below for error{command}<--[HERE]")
        }
    }
}
