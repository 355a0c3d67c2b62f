//! A fake Discord on loopback for the real serenity client: REST (`/api/v10/gateway`,
//! `/api/v10/gateway/bot`, everything else logged and answered 404) and a gateway websocket
//! that sends HELLO, accepts IDENTIFY / RESUME and HEARTBEAT, and lets the test push
//! dispatches or drop the connection. Payloads are built from the shapes serenity 0.12.5
//! is known to accept (`tests/fixtures/discord/`, copied from the shared fixtures).

use axum::Json;
use axum::Router;
use axum::extract::{Path, Query, State};
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
    data: Arc<Mutex<RestData>>,
    tasks: Vec<JoinHandle<()>>,
}

/// What the fake's REST API answers beyond the gateway URL.
#[derive(Default)]
struct RestData {
    /// Per guild, its invites (`GET /guilds/{id}/invites`); a guild without an entry
    /// answers 403 Missing Permissions, as for a bot without Manage Server.
    invites: std::collections::HashMap<u64, Vec<Value>>,
    /// Per scheduled event, the ids of the users interested in it.
    event_users: std::collections::HashMap<u64, Vec<u64>>,
    /// How many shards `/gateway/bot` recommends (0: one).
    shards: u64,
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

    /// The shard the client identified as (`[id, count]` in IDENTIFY; 0 when it resumed).
    pub fn shard(&self) -> u64 {
        match &self.handshake {
            Handshake::Identify(d) => d["shard"][0].as_u64().unwrap_or(0),
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
        let data = Arc::new(Mutex::new(RestData::default()));

        let rest_state = RestState {
            gateway_url: gateway_url.clone(),
            calls: Arc::clone(&rest_calls),
            data: Arc::clone(&data),
        };
        let router = Router::new()
            .route("/api/v10/gateway", get(get_gateway))
            .route("/api/v10/gateway/bot", get(get_gateway_bot))
            .route("/api/v10/guilds/{guild}/invites", get(get_invites))
            .route(
                "/api/v10/guilds/{guild}/scheduled-events/{event}/users",
                get(get_event_users),
            )
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
            data,
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

    /// Sets a guild's invites as `(code, inviter, uses, max_uses)`: from now on the bot may
    /// read them (as with Manage Server).
    pub fn set_invites(&self, guild: u64, invites: &[(&str, &Member, u64, u64)]) {
        let invites = invites
            .iter()
            .map(|(code, inviter, uses, max_uses)| {
                invite_json(guild, code, inviter, *uses, *max_uses)
            })
            .collect();
        self.data
            .lock()
            .expect("rest data")
            .invites
            .insert(guild, invites);
    }

    /// Refuses the guild's invites from now on (403), as when the bot loses Manage Server.
    pub fn deny_invites(&self, guild: u64) {
        self.data.lock().expect("rest data").invites.remove(&guild);
    }

    /// Makes `/gateway/bot` recommend `n` shards (before the bot starts).
    pub fn set_shards(&self, n: u64) {
        self.data.lock().expect("rest data").shards = n;
    }

    /// Sets who is interested in a scheduled event.
    pub fn set_event_users(&self, event: u64, users: &[u64]) {
        self.data
            .lock()
            .expect("rest data")
            .event_users
            .insert(event, users.to_vec());
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
    data: Arc<Mutex<RestData>>,
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
    let shards = state.data.lock().expect("rest data").shards.max(1);
    Json(json!({
        "url": state.gateway_url,
        "shards": shards,
        "session_start_limit": {
            "total": 1000,
            "remaining": 999,
            "reset_after": 14_400_000,
            "max_concurrency": 1
        }
    }))
}

async fn get_invites(
    State(state): State<RestState>,
    Path(guild): Path<u64>,
    uri: Uri,
) -> (StatusCode, Json<Value>) {
    state.log(&Method::GET, &uri);
    match state.data.lock().expect("rest data").invites.get(&guild) {
        Some(invites) => (StatusCode::OK, Json(Value::Array(invites.clone()))),
        None => (
            StatusCode::FORBIDDEN,
            Json(json!({ "message": "Missing Permissions", "code": 50013 })),
        ),
    }
}

/// `GET /guilds/{g}/scheduled-events/{e}/users?limit=&after=`: pages in id order.
async fn get_event_users(
    State(state): State<RestState>,
    Path((_guild, event)): Path<(u64, u64)>,
    Query(query): Query<std::collections::HashMap<String, String>>,
    uri: Uri,
) -> Json<Value> {
    state.log(&Method::GET, &uri);
    let limit: usize = query
        .get("limit")
        .and_then(|limit| limit.parse().ok())
        .unwrap_or(100);
    let after: u64 = query
        .get("after")
        .and_then(|after| after.parse().ok())
        .unwrap_or(0);
    let mut users = state
        .data
        .lock()
        .expect("rest data")
        .event_users
        .get(&event)
        .cloned()
        .unwrap_or_default();
    users.sort_unstable();
    let page: Vec<Value> = users
        .into_iter()
        .filter(|user| *user > after)
        .take(limit)
        .map(|user| {
            json!({
                "guild_scheduled_event_id": event.to_string(),
                "user": user_json(user, &format!("user{user}"), false),
            })
        })
        .collect();
    Json(Value::Array(page))
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
    /// The scheduled events the guild lists (see [`scheduled_event`]).
    pub events: Vec<Value>,
    /// `(role_id, name)` of the guild's roles besides @everyone.
    pub roles: Vec<(u64, &'static str)>,
}

fn fixture(text: &str) -> Value {
    serde_json::from_str(text).expect("fixture is JSON")
}

fn user_json(id: u64, name: &str, bot: bool) -> Value {
    json!({
        "id": id.to_string(),
        "username": name,
        "discriminator": "0",
        "global_name": name,
        "avatar": null,
        "bot": bot
    })
}

/// An invite as `GET /guilds/{id}/invites` lists it.
fn invite_json(guild: u64, code: &str, inviter: &Member, uses: u64, max_uses: u64) -> Value {
    json!({
        "code": code,
        "guild": null,
        "channel": { "id": (guild + 10).to_string(), "name": "welcome", "type": 0 },
        "inviter": user_json(inviter.id, inviter.name, inviter.bot),
        "uses": uses,
        "max_uses": max_uses,
        "max_age": 0,
        "temporary": false,
        "created_at": "2026-01-01T10:00:00.000000+00:00"
    })
}

/// INVITE_CREATE for a new invite in `guild`.
pub fn invite_create(guild: u64, code: &str, inviter: &Member, max_uses: u64) -> Value {
    json!({
        "channel_id": (guild + 10).to_string(),
        "code": code,
        "created_at": "2026-03-01T10:00:00.000000+00:00",
        "guild_id": guild.to_string(),
        "inviter": user_json(inviter.id, inviter.name, inviter.bot),
        "max_age": 0,
        "max_uses": max_uses,
        "temporary": false,
        "uses": 0
    })
}

/// A scheduled event as the gateway sends it (GUILD_SCHEDULED_EVENT_*, and in
/// GUILD_CREATE's `guild_scheduled_events`). The shape of the userdoccers example
/// (`fixtures/06-discord/userdoccers_examples/guild-scheduled-event__...`); `channel`
/// `None` makes it external (entity type 3).
pub fn scheduled_event(
    guild: u64,
    id: u64,
    name: &str,
    channel: Option<u64>,
    start: &str,
    end: Option<&str>,
    status: u8,
) -> Value {
    json!({
        "id": id.to_string(),
        "guild_id": guild.to_string(),
        "name": name,
        "description": null,
        "channel_id": channel.map(|c| c.to_string()),
        "creator_id": "787017887877169173",
        "creator": user_json(787_017_887_877_169_173, "dziurwa", false),
        "image": null,
        "scheduled_start_time": start,
        "scheduled_end_time": end,
        "status": status,
        "entity_type": if channel.is_some() { 2 } else { 3 },
        "entity_id": null,
        "recurrence_rule": null,
        "user_count": null,
        "privacy_level": 2,
        "sku_ids": [],
        "guild_scheduled_event_exceptions": [],
        "entity_metadata": if channel.is_some() { Value::Null } else { json!({ "location": "somewhere" }) }
    })
}

pub fn member_json(member: &Member, joined_at: &str) -> Value {
    json!({
        "user": user_json(member.id, member.name, member.bot),
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
    let everyone = d["roles"][0].clone();
    for (position, (role, name)) in spec.roles.iter().enumerate() {
        let mut extra = everyone.clone();
        extra["id"] = json!(role.to_string());
        extra["name"] = json!(name);
        extra["position"] = json!(position + 1);
        d["roles"].as_array_mut().expect("roles").push(extra);
    }
    d["guild_scheduled_events"] = Value::Array(spec.events.clone());
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
