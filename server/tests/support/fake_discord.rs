//! A fake Discord on loopback for the real serenity client: REST (`/api/v10/gateway`,
//! `/api/v10/gateway/bot`, everything else logged and answered 404) and a gateway websocket
//! that sends HELLO, accepts IDENTIFY / RESUME and HEARTBEAT, and lets the test push
//! dispatches or drop the connection. Payloads are built from the shapes serenity 0.12.5
//! is known to accept (`tests/fixtures/discord/`, copied from the shared fixtures).

use axum::Json;
use axum::Router;
use axum::extract::State;
use axum::http::{Method, StatusCode, Uri};
use axum::routing::get;
use futures::{SinkExt, StreamExt};
use serde_json::{Value, json};
use std::sync::{Arc, Mutex};
use std::time::Duration;
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::mpsc;
use tokio::task::JoinHandle;
use tokio_tungstenite::tungstenite::Message;
use tokio_tungstenite::tungstenite::protocol::CloseFrame;
use tokio_tungstenite::tungstenite::protocol::frame::coding::CloseCode;

const READY: &str = include_str!("../fixtures/discord/ready_d.json");
const GUILD_CREATE: &str = include_str!("../fixtures/discord/guild_create_d.json");
const VOICE_STATE_UPDATE: &str = include_str!("../fixtures/discord/voice_state_update_d.json");

/// Gateway opcodes used here.
const OP_DISPATCH: u64 = 0;
const OP_HEARTBEAT: u64 = 1;
const OP_IDENTIFY: u64 = 2;
const OP_RESUME: u64 = 6;
const OP_HELLO: u64 = 10;
const OP_HEARTBEAT_ACK: u64 = 11;

/// A running fake Discord. Dropping it stops the servers.
pub struct FakeDiscord {
    /// What to pass as `BotConfig::api_base`.
    pub api_base: String,
    /// The websocket URL the fake hands out from `/api/v10/gateway`.
    pub gateway_url: String,
    connections: tokio::sync::Mutex<mpsc::UnboundedReceiver<GatewayConnection>>,
    rest_calls: Arc<Mutex<Vec<String>>>,
    tasks: Vec<JoinHandle<()>>,
}

impl Drop for FakeDiscord {
    fn drop(&mut self) {
        for task in &self.tasks {
            task.abort();
        }
    }
}

/// How a client opened its gateway session.
#[derive(Clone, Debug)]
pub enum Handshake {
    /// op 2, with its `d`.
    Identify(Value),
    /// op 6, with its `d`.
    Resume(Value),
}

enum Outgoing {
    Dispatch(String, Value),
    /// Ends the connection without a close frame, like a network failure or a restart of
    /// Discord's gateway node.
    Drop,
    /// op 9 INVALID_SESSION (not resumable): the client must identify afresh.
    InvalidSession,
    /// op 7 RECONNECT: the client must reconnect and resume.
    Reconnect,
    /// A close frame with a gateway close code (e.g. 4014, disallowed intents).
    Close(u16),
}

/// One accepted gateway connection, after the client identified or resumed.
pub struct GatewayConnection {
    pub handshake: Handshake,
    tx: mpsc::UnboundedSender<Outgoing>,
    /// What the client sent after the handshake (heartbeats aside), in order.
    received: std::sync::Arc<std::sync::Mutex<Vec<Value>>>,
}

impl GatewayConnection {
    /// Sends a dispatch (op 0) with the next sequence number.
    pub fn dispatch(&self, event: &str, d: Value) {
        // A send error means the connection is gone; the test notices through its
        // assertions.
        let _ = self.tx.send(Outgoing::Dispatch(event.to_owned(), d));
    }

    /// Drops the TCP connection without a close frame.
    pub fn drop_connection(&self) {
        let _ = self.tx.send(Outgoing::Drop);
    }

    /// Refuses the session (op 9, `d: false`), as Discord does when a resume is too late.
    pub fn invalidate_session(&self) {
        let _ = self.tx.send(Outgoing::InvalidSession);
    }

    /// Closes the connection with a gateway close code, as Discord does when it refuses the
    /// session (4014: privileged intents that are not enabled for the bot).
    pub fn close_with(&self, code: u16) {
        let _ = self.tx.send(Outgoing::Close(code));
    }

    /// Asks the client to reconnect and resume (op 7), as Discord does before it moves a
    /// session to another gateway node.
    pub fn request_reconnect(&self) {
        let _ = self.tx.send(Outgoing::Reconnect);
    }

    /// The payloads the client sent since the handshake, heartbeats aside (e.g. op 8,
    /// REQUEST_GUILD_MEMBERS).
    pub fn received(&self) -> Vec<Value> {
        self.received
            .lock()
            .map(|received| received.clone())
            .unwrap_or_default()
    }

    /// The intents the client identified with (0 when it resumed).
    pub fn intents(&self) -> u64 {
        match &self.handshake {
            Handshake::Identify(d) => d["intents"].as_u64().unwrap_or(0),
            Handshake::Resume(_) => 0,
        }
    }
}

impl FakeDiscord {
    /// Starts the REST server and the gateway on free loopback ports.
    pub async fn start() -> Self {
        let gateway = TcpListener::bind("127.0.0.1:0")
            .await
            .expect("bind gateway");
        let gateway_url = format!("ws://{}", gateway.local_addr().expect("gateway addr"));
        let rest = TcpListener::bind("127.0.0.1:0").await.expect("bind rest");
        let api_base = format!("http://{}", rest.local_addr().expect("rest addr"));
        let rest_calls = Arc::new(Mutex::new(Vec::new()));

        let rest_state = RestState {
            gateway_url: gateway_url.clone(),
            calls: Arc::clone(&rest_calls),
        };
        let router = Router::new()
            .route("/api/v10/gateway", get(get_gateway))
            .route("/api/v10/gateway/bot", get(get_gateway_bot))
            .fallback(unknown_route)
            .with_state(rest_state);
        let rest_task = tokio::spawn(async move {
            let _ = axum::serve(rest, router).await;
        });

        let (conn_tx, conn_rx) = mpsc::unbounded_channel();
        let gateway_task = tokio::spawn(async move {
            while let Ok((stream, _)) = gateway.accept().await {
                tokio::spawn(serve_gateway(stream, conn_tx.clone()));
            }
        });

        Self {
            api_base,
            gateway_url,
            connections: tokio::sync::Mutex::new(conn_rx),
            rest_calls,
            tasks: vec![rest_task, gateway_task],
        }
    }

    /// Waits for the next client to identify or resume.
    pub async fn next_connection(&self) -> GatewayConnection {
        let mut connections = self.connections.lock().await;
        tokio::time::timeout(Duration::from_secs(20), connections.recv())
            .await
            .expect("no gateway connection within 20 s")
            .expect("the fake gateway stopped")
    }

    /// Every REST call the fake received, as `METHOD /path?query`.
    pub fn rest_calls(&self) -> Vec<String> {
        self.rest_calls.lock().expect("rest log").clone()
    }
}

#[derive(Clone)]
struct RestState {
    gateway_url: String,
    calls: Arc<Mutex<Vec<String>>>,
}

impl RestState {
    fn log(&self, method: &Method, uri: &Uri) {
        let call = format!("{method} {uri}");
        tracing::info!(%call, "fake Discord REST call");
        self.calls.lock().expect("rest log").push(call);
    }
}

async fn get_gateway(State(state): State<RestState>, uri: Uri) -> Json<Value> {
    state.log(&Method::GET, &uri);
    Json(json!({ "url": state.gateway_url }))
}

async fn get_gateway_bot(State(state): State<RestState>, uri: Uri) -> Json<Value> {
    state.log(&Method::GET, &uri);
    Json(json!({
        "url": state.gateway_url,
        "shards": 1,
        "session_start_limit": {
            "total": 1000,
            "remaining": 999,
            "reset_after": 14_400_000,
            "max_concurrency": 1
        }
    }))
}

async fn unknown_route(
    State(state): State<RestState>,
    method: Method,
    uri: Uri,
) -> (StatusCode, Json<Value>) {
    state.log(&method, &uri);
    (
        StatusCode::NOT_FOUND,
        Json(json!({ "message": "404: Not Found", "code": 0 })),
    )
}

/// One websocket connection: HELLO, wait for IDENTIFY/RESUME, then ACK heartbeats and send
/// what the test pushes.
async fn serve_gateway(stream: TcpStream, connections: mpsc::UnboundedSender<GatewayConnection>) {
    let Ok(mut ws) = tokio_tungstenite::accept_async(stream).await else {
        return;
    };
    let hello = json!({ "op": OP_HELLO, "d": { "heartbeat_interval": 41_250 } });
    if ws.send(Message::Text(hello.to_string())).await.is_err() {
        return;
    }

    let mut seq: u64 = 0;
    let handshake = loop {
        let Some(Ok(message)) = ws.next().await else {
            return;
        };
        let Some(payload) = parse(&message) else {
            continue;
        };
        match payload["op"].as_u64() {
            Some(OP_IDENTIFY) => break Handshake::Identify(payload["d"].clone()),
            Some(OP_RESUME) => {
                seq = payload["d"]["seq"].as_u64().unwrap_or(0);
                break Handshake::Resume(payload["d"].clone());
            }
            Some(OP_HEARTBEAT) => {
                let ack = json!({ "op": OP_HEARTBEAT_ACK });
                if ws.send(Message::Text(ack.to_string())).await.is_err() {
                    return;
                }
            }
            _ => tracing::info!(%payload, "fake gateway ignores a message before IDENTIFY"),
        }
    };
    tracing::info!(?handshake, "fake gateway: client opened a session");

    let (tx, mut rx) = mpsc::unbounded_channel();
    let received = std::sync::Arc::new(std::sync::Mutex::new(Vec::new()));
    if connections
        .send(GatewayConnection {
            handshake,
            tx,
            received: std::sync::Arc::clone(&received),
        })
        .is_err()
    {
        return;
    }
    loop {
        tokio::select! {
            incoming = ws.next() => match incoming {
                Some(Ok(message)) => {
                    if let Some(payload) = parse(&message) {
                        if payload["op"].as_u64() == Some(OP_HEARTBEAT) {
                            let ack = json!({ "op": OP_HEARTBEAT_ACK });
                            if ws.send(Message::Text(ack.to_string())).await.is_err() {
                                return;
                            }
                        } else {
                            tracing::info!(%payload, "fake gateway received");
                            if let Ok(mut received) = received.lock() {
                                received.push(payload);
                            }
                        }
                    } else if let Message::Close(_) = message {
                        let _ = ws
                            .close(Some(CloseFrame { code: CloseCode::Normal, reason: "bye".into() }))
                            .await;
                        return;
                    }
                }
                _ => return,
            },
            outgoing = rx.recv() => match outgoing {
                Some(Outgoing::Dispatch(event, d)) => {
                    seq += 1;
                    let frame = json!({ "op": OP_DISPATCH, "t": event, "s": seq, "d": d });
                    if ws.send(Message::Text(frame.to_string())).await.is_err() {
                        return;
                    }
                }
                Some(Outgoing::InvalidSession) => {
                    let frame = json!({ "op": 9, "d": false });
                    if ws.send(Message::Text(frame.to_string())).await.is_err() {
                        return;
                    }
                }
                Some(Outgoing::Close(code)) => {
                    let frame = CloseFrame { code: CloseCode::from(code), reason: "refused".into() };
                    let _ = ws.close(Some(frame)).await;
                    return;
                }
                Some(Outgoing::Reconnect) => {
                    let frame = json!({ "op": 7, "d": null });
                    if ws.send(Message::Text(frame.to_string())).await.is_err() {
                        return;
                    }
                }
                // Dropping the stream closes the socket without a close frame.
                Some(Outgoing::Drop) | None => return,
            },
        }
    }
}

fn parse(message: &Message) -> Option<Value> {
    match message {
        Message::Text(text) => serde_json::from_str(text).ok(),
        _ => None,
    }
}

// ---- Payloads ------------------------------------------------------------------------

/// A member of the fake guild.
#[derive(Clone, Copy, Debug)]
pub struct Member {
    pub id: u64,
    pub name: &'static str,
    pub bot: bool,
}

/// The fake guild: its voice channels, AFK channel, members and who is in voice.
#[derive(Clone, Debug)]
pub struct GuildSpec {
    pub id: u64,
    pub name: &'static str,
    /// `(channel_id, name)` of the voice channels.
    pub channels: Vec<(u64, &'static str)>,
    pub afk_channel_id: Option<u64>,
    pub members: Vec<Member>,
    /// `(user_id, channel_id)` of who is in voice when the guild becomes available.
    pub voice: Vec<(u64, u64)>,
}

fn fixture(text: &str) -> Value {
    serde_json::from_str(text).expect("fixture is JSON")
}

pub fn member_json(member: &Member, joined_at: &str) -> Value {
    json!({
        "user": {
            "id": member.id.to_string(),
            "username": member.name,
            "discriminator": "0",
            "global_name": member.name,
            "avatar": null,
            "bot": member.bot
        },
        "nick": null,
        "roles": [],
        "joined_at": joined_at,
        "deaf": false,
        "mute": false,
        "flags": 0
    })
}

/// READY for a bot user that is in the given (still unavailable) guilds.
pub fn ready(guild_ids: &[u64], gateway_url: &str) -> Value {
    let mut d = fixture(READY);
    d["guilds"] = guild_ids
        .iter()
        .map(|id| json!({ "id": id.to_string(), "unavailable": true }))
        .collect();
    d["resume_gateway_url"] = json!(gateway_url);
    d
}

/// GUILD_CREATE for `spec`.
pub fn guild_create(spec: &GuildSpec) -> Value {
    let mut d = fixture(GUILD_CREATE);
    let template = d["channels"][0].clone();
    d["id"] = json!(spec.id.to_string());
    d["name"] = json!(spec.name);
    d["afk_channel_id"] = json!(spec.afk_channel_id.map(|id| id.to_string()));
    d["roles"][0]["id"] = json!(spec.id.to_string());
    d["member_count"] = json!(spec.members.len());
    d["channels"] = spec
        .channels
        .iter()
        .enumerate()
        .map(|(position, (id, name))| {
            let mut channel = template.clone();
            channel["id"] = json!(id.to_string());
            channel["name"] = json!(name);
            channel["position"] = json!(position);
            channel["guild_id"] = json!(spec.id.to_string());
            channel
        })
        .collect();
    d["members"] = spec
        .members
        .iter()
        .map(|member| member_json(member, "2026-02-01T10:00:00.000000+00:00"))
        .collect();
    d["voice_states"] = spec
        .voice
        .iter()
        .map(|(user, channel)| {
            json!({
                "channel_id": channel.to_string(),
                "user_id": user.to_string(),
                "session_id": format!("session-{user}"),
                "deaf": false,
                "mute": false,
                "self_deaf": false,
                "self_mute": false,
                "self_video": false,
                "suppress": false,
                "request_to_speak_timestamp": null
            })
        })
        .collect();
    d
}

/// VOICE_STATE_UPDATE: `member` is now in `channel` (`None`: left voice).
pub fn voice_state_update(
    guild_id: u64,
    member: &Member,
    channel: Option<u64>,
    self_mute: bool,
) -> Value {
    let mut d = fixture(VOICE_STATE_UPDATE);
    d["guild_id"] = json!(guild_id.to_string());
    d["channel_id"] = json!(channel.map(|id| id.to_string()));
    d["user_id"] = json!(member.id.to_string());
    d["session_id"] = json!(format!("session-{}", member.id));
    d["self_mute"] = json!(self_mute);
    d["member"] = member_json(member, "2026-03-01T10:00:00.000000+00:00");
    d
}
