//! An async RCON client for the three server families Guildhall talks to: Source 1 (CS:GO,
//! TF2, …), CS2 (Source 2) and Minecraft.
//!
//! All three share Valve's wire format (a little-endian `size`, `id`, `type`, then a body
//! and two NULs), but they disagree on everything that decides when a reply is complete,
//! which is why [`Dialect`] exists rather than one "RCON" code path:
//!
//! * **Source** splits long output into several packets and never says which one is the
//!   last. The only reliable end marker is the "mirror trick": after each command the client
//!   sends an empty `RESPONSE_VALUE` with another id, which srcds answers *after* the real
//!   output (followed by one more junk packet that we drop by id). On auth it sends an empty
//!   `RESPONSE_VALUE` before the `AUTH_RESPONSE`, often in the same TCP segment, so the
//!   reader frames by size and never assumes one read is one packet.
//! * **CS2** no longer mirrors, so the trick would hang; instead each reply is one packet
//!   that can be far over 4 KB (frames up to 1 MiB are accepted) and the reader waits for a
//!   short quiet period after it. A wrong password is answered by closing the socket, so EOF
//!   during auth means [`RconError::BadPassword`] there.
//! * **Minecraft** splits at 4096 bytes without an end marker either, and its server reads
//!   each packet with a single `read` of at most 1460 bytes, closing the connection when the
//!   read holds anything but exactly one packet. Hence requests are capped at 1446 bytes,
//!   commands are spaced out ([`RconTimeouts::min_spacing`]), and the terminator packet (an
//!   invalid type, answered with its own id after the whole reply) is only sent once the
//!   first reply packet has arrived, i.e. once the server has finished reading the command.
//!
//! [`RconClient`] is one authenticated connection; [`Rcon`] keeps one and replaces it when
//! it breaks (server restart, Source map change), which is what the collectors want.

use std::fmt;
use std::time::Duration;

use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;
use tokio::time::{Instant, sleep_until, timeout, timeout_at};
use tracing::{debug, warn};

/// `SERVERDATA_AUTH`: client → server, body = password.
const TYPE_AUTH: i32 = 3;
/// `SERVERDATA_EXECCOMMAND` (client → server) and `SERVERDATA_AUTH_RESPONSE` (server →
/// client) share the value 2; the direction tells them apart.
const TYPE_EXEC: i32 = 2;
const TYPE_AUTH_RESPONSE: i32 = 2;
/// `SERVERDATA_RESPONSE_VALUE`: command output (and the Source mirror packet).
const TYPE_RESPONSE: i32 = 0;
/// A type Minecraft does not know; it answers "Unknown request 64" with the packet's id,
/// after the complete reply to the previous command.
const TYPE_MINECRAFT_TERMINATOR: i32 = 100;

/// Largest accepted value of the `size` field (id + type + body + two NULs).
pub const MAX_FRAME: usize = 1024 * 1024;
/// Largest whole reply to one command (all its packets together). A server that keeps
/// sending (a broken or hostile peer) fails the command with [`RconError::ReplyTooLarge`]
/// instead of growing the reply without end; real `status` and `list` replies are a few
/// kilobytes.
pub const MAX_REPLY: usize = 4 * 1024 * 1024;
/// Smallest legal `size` (id + type + two NULs).
const MIN_FRAME: usize = 10;
/// Longest command body Minecraft accepts: its 1460-byte read buffer minus the 14 bytes of
/// framing.
pub const MINECRAFT_MAX_COMMAND: usize = 1446;
/// Command sent to tell a healthy Source connection from one broken by a map change when a
/// command came back empty: `echo` always prints, a broken connection returns nothing.
const SOURCE_PROBE: &str = "echo guildhall-rcon-probe";

/// Which server family is on the other end; decides how auth replies and the end of a
/// multi-packet reply are recognised (see the module documentation).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Dialect {
    /// Source 1 servers (CS:GO, TF2, L4D2, Garry's Mod, …): multi-packet replies ended by
    /// the mirror trick.
    Source,
    /// Counter-Strike 2 (Source 2): single-packet replies of any size, ended by a quiet
    /// period; wrong password closes the socket.
    Cs2,
    /// Minecraft Java Edition: 4096-byte splits ended by a terminator packet, small
    /// requests, spaced commands.
    Minecraft,
}

/// Timeouts and pacing, per phase. [`Default`] gives 5 s connect, 5 s auth, 10 s reply,
/// 150 ms quiet period (CS2) and 200 ms minimum spacing (Minecraft).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct RconTimeouts {
    /// TCP connect.
    pub connect: Duration,
    /// From sending the password to the auth verdict.
    pub auth: Duration,
    /// From sending a command to the end of its reply.
    pub reply: Duration,
    /// CS2 only: a reply is complete once no packet for it arrived for this long.
    pub quiet: Duration,
    /// Minecraft only: least time between the starts of two commands on one connection.
    pub min_spacing: Duration,
}

impl Default for RconTimeouts {
    fn default() -> Self {
        Self {
            connect: Duration::from_secs(5),
            auth: Duration::from_secs(5),
            reply: Duration::from_secs(10),
            quiet: Duration::from_millis(150),
            min_spacing: Duration::from_millis(200),
        }
    }
}

/// What can go wrong talking RCON.
#[derive(Debug, thiserror::Error)]
pub enum RconError {
    /// The TCP connection could not be opened.
    #[error("cannot connect to the RCON server: {0}")]
    Connect(#[source] std::io::Error),
    /// The server refused the password (id −1, or CS2 closing the socket during auth).
    #[error("the RCON server refused the password")]
    BadPassword,
    /// A phase (`"connect"`, `"auth"` or `"reply"`) took longer than its timeout.
    #[error("RCON {0} timed out")]
    Timeout(&'static str),
    /// The server closed (or reset) the connection.
    #[error("the RCON server closed the connection")]
    Closed,
    /// The command (in bytes) is longer than the dialect accepts.
    #[error("RCON command of {0} bytes is longer than the server accepts")]
    CommandTooLong(usize),
    /// The server sent something that is not RCON (bad size, unexpected auth reply).
    #[error("RCON protocol error: {0}")]
    Protocol(String),
    /// Any other I/O error on an open connection.
    #[error("RCON I/O error: {0}")]
    Io(#[source] std::io::Error),
    /// The reply to one command grew beyond [`MAX_REPLY`] bytes; the connection is dropped.
    #[error("the RCON reply is larger than the limit of {limit} bytes ({} MiB)", limit / (1024 * 1024))]
    ReplyTooLarge { limit: usize },
}

/// What kind of failure an [`RconError`] is, as an admin testing a connection needs to
/// know it: each calls for a different fix.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum RconFailure {
    /// Nothing listens on the port (the connection was actively refused).
    Refused,
    /// The host cannot be reached (unknown name, no route, network down).
    Unreachable,
    /// The server did not answer in time (connect, auth or reply).
    Timeout,
    /// The server refused the password.
    BadPassword,
    /// Something answers on the port, but not RCON (e.g. an HTTP server).
    NotRcon,
    /// The server closed the connection.
    Closed,
    /// Any other I/O error or refusal.
    Other,
}

impl RconError {
    /// The kind of failure, for messages that tell an admin what to fix.
    pub fn failure(&self) -> RconFailure {
        match self {
            RconError::Connect(e) if e.kind() == std::io::ErrorKind::ConnectionRefused => {
                RconFailure::Refused
            }
            RconError::Connect(_) => RconFailure::Unreachable,
            RconError::Timeout(_) => RconFailure::Timeout,
            RconError::BadPassword => RconFailure::BadPassword,
            RconError::Protocol(_) => RconFailure::NotRcon,
            RconError::Closed => RconFailure::Closed,
            RconError::CommandTooLong(_) | RconError::ReplyTooLarge { .. } | RconError::Io(_) => {
                RconFailure::Other
            }
        }
    }

    /// Whether trying again later (on a new connection) may succeed: everything but a wrong
    /// password and a command that is too long.
    pub fn is_retryable(&self) -> bool {
        !matches!(self, RconError::BadPassword | RconError::CommandTooLong(_))
    }

    /// The errors after which a connection is worth replacing and the command retrying.
    fn breaks_connection(&self) -> bool {
        matches!(
            self,
            RconError::Closed | RconError::Io(_) | RconError::Timeout(_)
        )
    }
}

/// Maps an I/O error on an open connection; resets and EOFs mean the peer closed it.
fn io_error(e: std::io::Error) -> RconError {
    use std::io::ErrorKind;
    match e.kind() {
        ErrorKind::UnexpectedEof
        | ErrorKind::ConnectionReset
        | ErrorKind::ConnectionAborted
        | ErrorKind::BrokenPipe => RconError::Closed,
        _ => RconError::Io(e),
    }
}

/// Appends a packet's body to a reply, refusing to grow it beyond [`MAX_REPLY`].
fn append_reply(out: &mut Vec<u8>, body: &[u8]) -> Result<(), RconError> {
    if out.len() + body.len() > MAX_REPLY {
        return Err(RconError::ReplyTooLarge { limit: MAX_REPLY });
    }
    out.extend_from_slice(body);
    Ok(())
}

/// One decoded packet.
#[derive(Debug)]
struct Packet {
    id: i32,
    kind: i32,
    body: Vec<u8>,
}

/// Encodes one packet: size, id, type, body, NUL, NUL.
fn encode(id: i32, kind: i32, body: &[u8]) -> Vec<u8> {
    let size = body.len() + MIN_FRAME;
    let mut out = Vec::with_capacity(size + 4);
    // `size` is bounded by the callers (MAX_FRAME), so it fits an i32.
    out.extend_from_slice(&i32::try_from(size).unwrap_or(i32::MAX).to_le_bytes());
    out.extend_from_slice(&id.to_le_bytes());
    out.extend_from_slice(&kind.to_le_bytes());
    out.extend_from_slice(body);
    out.extend_from_slice(&[0, 0]);
    out
}

fn le_i32(bytes: &[u8]) -> i32 {
    let mut b = [0u8; 4];
    b.copy_from_slice(&bytes[..4]);
    i32::from_le_bytes(b)
}

/// One authenticated RCON connection. Not reconnecting: see [`Rcon`] for that.
///
/// After a connection-level error ([`RconError::Closed`], [`RconError::Io`],
/// [`RconError::Protocol`]) every further [`exec`](Self::exec) returns
/// [`RconError::Closed`]; after a timeout the connection stays usable (late packets of the
/// timed-out command are dropped by id).
pub struct RconClient {
    stream: TcpStream,
    /// Bytes read but not yet framed into packets.
    buf: Vec<u8>,
    dialect: Dialect,
    timeouts: RconTimeouts,
    next_id: i32,
    /// When the last command was sent (Minecraft spacing).
    last_command: Option<Instant>,
    broken: bool,
}

impl fmt::Debug for RconClient {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("RconClient")
            .field("peer", &self.stream.peer_addr().ok())
            .field("dialect", &self.dialect)
            .field("broken", &self.broken)
            .finish_non_exhaustive()
    }
}

impl RconClient {
    /// Opens a TCP connection to `addr` (`"host:port"`) and authenticates with `password`.
    ///
    /// Errors: [`RconError::Connect`] or `Timeout("connect")` when the server cannot be
    /// reached, [`RconError::BadPassword`] when it refuses the password,
    /// `Timeout("auth")` when it does not answer.
    pub async fn connect(
        addr: &str,
        password: &str,
        dialect: Dialect,
        timeouts: RconTimeouts,
    ) -> Result<Self, RconError> {
        let stream = match timeout(timeouts.connect, TcpStream::connect(addr)).await {
            Err(_) => return Err(RconError::Timeout("connect")),
            Ok(Err(e)) => return Err(RconError::Connect(e)),
            Ok(Ok(stream)) => stream,
        };
        // Small request packets must leave at once (Minecraft reads them one by one).
        stream.set_nodelay(true).map_err(RconError::Connect)?;
        let mut client = Self {
            stream,
            buf: Vec::with_capacity(8192),
            dialect,
            timeouts,
            next_id: 1,
            last_command: None,
            broken: false,
        };
        let deadline = Instant::now() + timeouts.auth;
        client.authenticate(password, deadline).await?;
        debug!(addr, ?dialect, "rcon authenticated");
        Ok(client)
    }

    /// The dialect this connection speaks.
    pub fn dialect(&self) -> Dialect {
        self.dialect
    }

    /// Runs one console command and returns its complete output (UTF-8, decoded lossily).
    ///
    /// Errors: [`RconError::CommandTooLong`] (Minecraft: over 1446 bytes), `Timeout("reply")`
    /// when the reply does not complete within [`RconTimeouts::reply`], [`RconError::Closed`]
    /// when the connection is gone.
    pub async fn exec(&mut self, command: &str) -> Result<String, RconError> {
        if self.broken {
            return Err(RconError::Closed);
        }
        let limit = match self.dialect {
            Dialect::Minecraft => MINECRAFT_MAX_COMMAND,
            Dialect::Source | Dialect::Cs2 => MAX_FRAME - MIN_FRAME,
        };
        if command.len() > limit {
            return Err(RconError::CommandTooLong(command.len()));
        }
        if self.dialect == Dialect::Minecraft
            && let Some(last) = self.last_command
        {
            sleep_until(last + self.timeouts.min_spacing).await;
        }
        self.last_command = Some(Instant::now());
        let deadline = Instant::now() + self.timeouts.reply;
        debug!(dialect = ?self.dialect, len = command.len(), "rcon exec");
        let result = match self.dialect {
            Dialect::Source => self.exec_source(command, deadline).await,
            Dialect::Cs2 => self.exec_cs2(command, deadline).await,
            Dialect::Minecraft => self.exec_minecraft(command, deadline).await,
        };
        match result {
            Ok(body) => Ok(String::from_utf8_lossy(&body).into_owned()),
            Err(e) => {
                if !matches!(e, RconError::Timeout(_)) {
                    self.broken = true;
                }
                Err(e)
            }
        }
    }

    async fn authenticate(&mut self, password: &str, deadline: Instant) -> Result<(), RconError> {
        let auth_id = self.take_id();
        let packet = encode(auth_id, TYPE_AUTH, password.as_bytes());
        self.send(&packet, deadline, "auth").await?;
        loop {
            let packet = match self.read_packet(deadline, "auth").await {
                // CS2 answers a wrong password by closing the socket.
                Err(RconError::Closed) if self.dialect == Dialect::Cs2 => {
                    return Err(RconError::BadPassword);
                }
                other => other?,
            };
            if packet.kind != TYPE_AUTH_RESPONSE {
                // Source (and some CS2 builds) send an empty RESPONSE_VALUE first.
                continue;
            }
            if packet.id == -1 {
                return Err(RconError::BadPassword);
            }
            if packet.id == auth_id {
                return Ok(());
            }
            return Err(RconError::Protocol(format!(
                "auth response for id {} while waiting for {auth_id}",
                packet.id
            )));
        }
    }

    /// Command, then an empty RESPONSE_VALUE with another id; srcds mirrors the latter after
    /// the last packet of the output.
    async fn exec_source(
        &mut self,
        command: &str,
        deadline: Instant,
    ) -> Result<Vec<u8>, RconError> {
        let cmd_id = self.take_id();
        let mirror_id = self.take_id();
        let mut request = encode(cmd_id, TYPE_EXEC, command.as_bytes());
        request.extend_from_slice(&encode(mirror_id, TYPE_RESPONSE, b""));
        self.send(&request, deadline, "reply").await?;
        let mut out = Vec::new();
        loop {
            let packet = self.read_packet(deadline, "reply").await?;
            if packet.id == cmd_id {
                append_reply(&mut out, &packet.body)?;
            } else if packet.id == mirror_id {
                break;
            } else {
                debug!(id = packet.id, "rcon: dropping packet for another request");
            }
        }
        // srcds follows the mirror with one more packet of the same id; drop it now if it is
        // already here (otherwise the next command drops it by id).
        while self.buffered_packet_id() == Some(mirror_id) {
            match self.parse_buffered()? {
                Some(_) => {}
                None => break,
            }
        }
        Ok(out)
    }

    /// One packet carrying the command id, then whatever else carries it until a quiet
    /// period; CS2 ignores the mirror packet, so nothing marks the end.
    async fn exec_cs2(&mut self, command: &str, deadline: Instant) -> Result<Vec<u8>, RconError> {
        let cmd_id = self.take_id();
        self.send(
            &encode(cmd_id, TYPE_EXEC, command.as_bytes()),
            deadline,
            "reply",
        )
        .await?;
        let mut out = Vec::new();
        let mut quiet_until: Option<Instant> = None;
        loop {
            let packet = match quiet_until {
                None => self.read_packet(deadline, "reply").await?,
                Some(quiet) => {
                    let until = quiet.min(deadline);
                    match self.read_packet(until, "reply").await {
                        Err(RconError::Timeout(_)) => return Ok(out),
                        other => other?,
                    }
                }
            };
            if packet.id == cmd_id {
                append_reply(&mut out, &packet.body)?;
                quiet_until = Some(Instant::now() + self.timeouts.quiet);
            } else {
                debug!(id = packet.id, "rcon: dropping packet for another request");
            }
        }
    }

    /// Command alone; once its first reply packet is here (the server has read the command),
    /// an invalid-type packet whose answer follows the complete reply.
    async fn exec_minecraft(
        &mut self,
        command: &str,
        deadline: Instant,
    ) -> Result<Vec<u8>, RconError> {
        let cmd_id = self.take_id();
        let term_id = self.take_id();
        self.send(
            &encode(cmd_id, TYPE_EXEC, command.as_bytes()),
            deadline,
            "reply",
        )
        .await?;
        let mut out = Vec::new();
        let mut terminator_sent = false;
        loop {
            let packet = self.read_packet(deadline, "reply").await?;
            if packet.id == cmd_id {
                append_reply(&mut out, &packet.body)?;
                if !terminator_sent {
                    let terminator = encode(term_id, TYPE_MINECRAFT_TERMINATOR, b"");
                    self.send(&terminator, deadline, "reply").await?;
                    terminator_sent = true;
                }
            } else if packet.id == term_id && terminator_sent {
                return Ok(out);
            } else {
                debug!(id = packet.id, "rcon: dropping packet for another request");
            }
        }
    }

    /// Next request id: positive, never −1 (auth failure) nor 0 (used by log echo).
    fn take_id(&mut self) -> i32 {
        let id = self.next_id;
        self.next_id = if self.next_id >= i32::MAX - 1 {
            1
        } else {
            self.next_id + 1
        };
        id
    }

    async fn send(
        &mut self,
        bytes: &[u8],
        deadline: Instant,
        phase: &'static str,
    ) -> Result<(), RconError> {
        let write = async {
            self.stream.write_all(bytes).await?;
            self.stream.flush().await
        };
        match timeout_at(deadline, write).await {
            Err(_) => Err(RconError::Timeout(phase)),
            Ok(result) => result.map_err(io_error),
        }
    }

    /// Reads until one whole packet is buffered. Cancel-safe: bytes read so far stay in
    /// `self.buf`, so a timeout never loses data.
    async fn read_packet(
        &mut self,
        deadline: Instant,
        phase: &'static str,
    ) -> Result<Packet, RconError> {
        loop {
            if let Some(packet) = self.parse_buffered()? {
                return Ok(packet);
            }
            // Reserve what the announced frame still needs (large CS2 replies).
            let want = if self.buf.len() >= 4 {
                (le_i32(&self.buf) as usize + 4).saturating_sub(self.buf.len())
            } else {
                0
            };
            self.buf.reserve(want.clamp(8192, MAX_FRAME + 4));
            match timeout_at(deadline, self.stream.read_buf(&mut self.buf)).await {
                Err(_) => return Err(RconError::Timeout(phase)),
                Ok(Err(e)) => return Err(io_error(e)),
                Ok(Ok(0)) => return Err(RconError::Closed),
                Ok(Ok(_)) => {}
            }
        }
    }

    /// The id of the first buffered packet, once its header is here.
    fn buffered_packet_id(&self) -> Option<i32> {
        (self.buf.len() >= 8).then(|| le_i32(&self.buf[4..]))
    }

    /// Takes one complete packet off the front of the buffer, if there is one. The body is
    /// whatever `size` says minus the trailing NULs, so a body containing NUL survives.
    fn parse_buffered(&mut self) -> Result<Option<Packet>, RconError> {
        if self.buf.len() < 4 {
            return Ok(None);
        }
        let size = le_i32(&self.buf);
        let size = match usize::try_from(size) {
            Ok(size) if (8..=MAX_FRAME).contains(&size) => size,
            _ => {
                return Err(RconError::Protocol(format!(
                    "frame size {size} outside 8..={MAX_FRAME}"
                )));
            }
        };
        if self.buf.len() < size + 4 {
            return Ok(None);
        }
        let frame: Vec<u8> = self.buf.drain(..size + 4).collect();
        let id = le_i32(&frame[4..]);
        let kind = le_i32(&frame[8..]);
        let mut body = &frame[12..];
        // Strip the body's NUL and the empty string's NUL (tolerating servers sending one).
        for _ in 0..2 {
            if let Some((&0, rest)) = body.split_last() {
                body = rest;
            }
        }
        Ok(Some(Packet {
            id,
            kind,
            body: body.to_vec(),
        }))
    }
}

/// A self-healing RCON connection: connects on first use, and when the connection breaks
/// (server restart, network, Source map change) reconnects, re-authenticates and retries
/// the command once.
pub struct Rcon {
    addr: String,
    password: String,
    dialect: Dialect,
    timeouts: RconTimeouts,
    conn: Option<RconClient>,
}

impl fmt::Debug for Rcon {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        // Never the password.
        f.debug_struct("Rcon")
            .field("addr", &self.addr)
            .field("dialect", &self.dialect)
            .field("connected", &self.conn.is_some())
            .finish_non_exhaustive()
    }
}

impl Rcon {
    /// A client for `addr` (`"host:port"`); nothing is opened until the first
    /// [`exec`](Self::exec).
    pub fn new(addr: String, password: String, dialect: Dialect, timeouts: RconTimeouts) -> Self {
        Self {
            addr,
            password,
            dialect,
            timeouts,
            conn: None,
        }
    }

    /// Runs `command`, connecting when needed.
    ///
    /// When a connection kept from an earlier call fails with [`RconError::Closed`],
    /// [`RconError::Io`] or [`RconError::Timeout`], it is dropped and the command retried
    /// once on a fresh connection (a failure on a fresh connection is returned as is).
    ///
    /// Source servers answer every command with empty output on a connection that outlived
    /// a map change. An empty reply on a kept Source connection is therefore checked with an
    /// `echo` probe: if the probe comes back empty too, the connection is replaced and the
    /// command retried once; if not, the command really printed nothing and is not repeated
    /// (so `say` or `kick` never run twice on a healthy connection).
    pub async fn exec(&mut self, command: &str) -> Result<String, RconError> {
        let reused = self.conn.is_some();
        match self.exec_once(command).await {
            Ok(reply) if reply.is_empty() && reused && self.dialect == Dialect::Source => {
                match self.exec_once(SOURCE_PROBE).await {
                    Ok(probe) if !probe.is_empty() => return Ok(reply),
                    _ => {}
                }
                warn!(addr = %self.addr, "rcon: empty replies (map change?), reconnecting");
                self.conn = None;
                self.exec_once(command).await
            }
            Err(e) if reused && e.breaks_connection() => {
                warn!(addr = %self.addr, error = %e, "rcon: connection broken, reconnecting");
                self.conn = None;
                self.exec_once(command).await
            }
            other => other,
        }
    }

    /// One attempt on the current connection (opening one if there is none); drops the
    /// connection on any error that leaves it unusable or suspect.
    async fn exec_once(&mut self, command: &str) -> Result<String, RconError> {
        let conn = match &mut self.conn {
            Some(conn) => conn,
            None => {
                let conn =
                    RconClient::connect(&self.addr, &self.password, self.dialect, self.timeouts)
                        .await?;
                self.conn.insert(conn)
            }
        };
        let result = conn.exec(command).await;
        if let Err(e) = &result
            && !matches!(e, RconError::CommandTooLong(_))
        {
            self.conn = None;
        }
        result
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests;
