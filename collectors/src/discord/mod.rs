//! Discord source: the bot that watches the gateway ([`bot`]) and the bronze records it
//! writes.

pub mod bot;
pub mod sequencer;

use crate::ingest::{BronzeRecord, CopyLine};
use chrono::{DateTime, Utc};
use futures::FutureExt;
use futures::future::BoxFuture;

/// How a voice event came to be known.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum VoiceOrigin {
    /// A VOICE_STATE_UPDATE received live from the gateway.
    Gateway,
    /// Inferred when the bot (re)connected and compared the guild's voice states with the
    /// database.
    Reconcile,
    /// Written by the synthetic demo community generator.
    Demo,
}

impl VoiceOrigin {
    pub fn as_str(self) -> &'static str {
        match self {
            VoiceOrigin::Gateway => "gateway",
            VoiceOrigin::Reconcile => "reconcile",
            VoiceOrigin::Demo => "demo",
        }
    }
}

/// One row of `bronze.discord_voice_events`: a user's voice state after an update.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct VoiceEvent {
    pub guild_id: i64,
    pub user_id: i64,
    /// The channel the user is in after the update; `None` when they left voice.
    pub channel_id: Option<i64>,
    pub self_mute: bool,
    pub self_deaf: bool,
    pub origin: VoiceOrigin,
    pub occurred_at: DateTime<Utc>,
}

impl VoiceEvent {
    /// Idempotency key: the same observation (user, instant, resulting state) written twice
    /// is stored once.
    pub fn source_key(&self) -> String {
        let channel = self
            .channel_id
            .map_or_else(|| "-".to_owned(), |c| c.to_string());
        format!(
            "{}:{}:{}:{}:{}{}:{}",
            self.guild_id,
            self.user_id,
            self.occurred_at.timestamp_micros(),
            channel,
            u8::from(self.self_mute),
            u8::from(self.self_deaf),
            self.origin.as_str()
        )
    }
}

impl BronzeRecord for VoiceEvent {
    const SOURCE: &'static str = "discord_voice";

    const COPY_STATEMENT: &'static str = "copy bronze.discord_voice_events
        (source_key, guild_id, user_id, channel_id, self_mute, self_deaf, origin, occurred_at)
        from stdin (format text)";

    fn copy_line(&self, line: &mut CopyLine<'_>) {
        line.text(Some(&self.source_key()))
            .value(Some(self.guild_id))
            .value(Some(self.user_id))
            .value(self.channel_id)
            .value(Some(self.self_mute))
            .value(Some(self.self_deaf))
            .text(Some(self.origin.as_str()))
            .text(Some(&self.occurred_at.to_rfc3339()));
    }

    fn insert_batch<'c>(
        conn: &'c mut sqlx::PgConnection,
        batch: &'c [Self],
    ) -> BoxFuture<'c, sqlx::Result<u64>> {
        async move {
            let n = batch.len();
            let mut keys = Vec::with_capacity(n);
            let mut guilds = Vec::with_capacity(n);
            let mut users = Vec::with_capacity(n);
            let mut channels = Vec::with_capacity(n);
            let mut mutes = Vec::with_capacity(n);
            let mut deafs = Vec::with_capacity(n);
            let mut origins = Vec::with_capacity(n);
            let mut times = Vec::with_capacity(n);
            for event in batch {
                keys.push(event.source_key());
                guilds.push(event.guild_id);
                users.push(event.user_id);
                channels.push(event.channel_id);
                mutes.push(event.self_mute);
                deafs.push(event.self_deaf);
                origins.push(event.origin.as_str());
                times.push(event.occurred_at);
            }
            let result = sqlx::query(
                "insert into bronze.discord_voice_events
                     (source_key, guild_id, user_id, channel_id, self_mute, self_deaf, origin, occurred_at)
                 select * from unnest($1::text[], $2::int8[], $3::int8[], $4::int8[], $5::bool[],
                                      $6::bool[], $7::text[], $8::timestamptz[])
                 on conflict (occurred_at, source_key) do nothing",
            )
            .bind(keys)
            .bind(guilds)
            .bind(users)
            .bind(channels)
            .bind(mutes)
            .bind(deafs)
            .bind(origins)
            .bind(times)
            .execute(conn)
            .await?;
            Ok(result.rows_affected())
        }
        .boxed()
    }

    fn to_json(&self) -> serde_json::Value {
        serde_json::json!({
            "source_key": self.source_key(),
            "guild_id": self.guild_id.to_string(),
            "user_id": self.user_id.to_string(),
            "channel_id": self.channel_id.map(|c| c.to_string()),
            "self_mute": self.self_mute,
            "self_deaf": self.self_deaf,
            "origin": self.origin.as_str(),
            "occurred_at": self.occurred_at.to_rfc3339(),
        })
    }

    fn from_json(value: &serde_json::Value) -> Option<Self> {
        let id = |key: &str| value.get(key)?.as_str()?.parse::<i64>().ok();
        Some(Self {
            guild_id: id("guild_id")?,
            user_id: id("user_id")?,
            channel_id: match value.get("channel_id")? {
                serde_json::Value::Null => None,
                _ => Some(id("channel_id")?),
            },
            self_mute: value.get("self_mute")?.as_bool()?,
            self_deaf: value.get("self_deaf")?.as_bool()?,
            origin: match value.get("origin")?.as_str()? {
                "gateway" => VoiceOrigin::Gateway,
                "reconcile" => VoiceOrigin::Reconcile,
                "demo" => VoiceOrigin::Demo,
                _ => return None,
            },
            occurred_at: DateTime::parse_from_rfc3339(value.get("occurred_at")?.as_str()?)
                .ok()?
                .with_timezone(&Utc),
        })
    }
}
