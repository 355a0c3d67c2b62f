//! The Discord bot's records: one type per bronze table it writes (voice events, messages,
//! member events, scheduled-event changes), with their idempotency keys, how the ingest
//! writer copies and spools them, and the snowflake clock.

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
    /// The origin as stored in bronze.
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
    /// When the bot received the update (the gateway does not say when it happened), or
    /// the instant a reconciliation settled on.
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

/// One row of `bronze.discord_messages`: a message's metadata, never its content.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct MessageEvent {
    pub message_id: i64,
    pub guild_id: i64,
    /// The channel, or the thread (forum posts are threads), the message was sent in.
    pub channel_id: i64,
    /// For a message in a thread: the channel the thread belongs to.
    pub parent_channel_id: Option<i64>,
    pub author_id: i64,
    /// When Discord created the message (from its snowflake id, to the millisecond).
    pub created_at: DateTime<Utc>,
    /// The content's length in characters; `None` without the message-content intent. The
    /// content itself is dropped as soon as it is counted.
    pub char_count: Option<i32>,
    pub attachment_count: i32,
    pub is_reply: bool,
}

/// Discord's epoch (2015-01-01) in Unix milliseconds: snowflakes count from it.
const DISCORD_EPOCH_MS: i64 = 1_420_070_400_000;

/// The instant a Discord snowflake id was created.
pub fn snowflake_time(id: i64) -> DateTime<Utc> {
    DateTime::<Utc>::from_timestamp_millis((id >> 22) + DISCORD_EPOCH_MS).unwrap_or_default()
}

impl BronzeRecord for MessageEvent {
    const SOURCE: &'static str = "discord_messages";

    const COPY_STATEMENT: &'static str = "copy bronze.discord_messages
        (message_id, guild_id, channel_id, parent_channel_id, author_id, created_at,
         char_count, attachment_count, is_reply)
        from stdin (format text)";

    fn copy_line(&self, line: &mut CopyLine<'_>) {
        line.value(Some(self.message_id))
            .value(Some(self.guild_id))
            .value(Some(self.channel_id))
            .value(self.parent_channel_id)
            .value(Some(self.author_id))
            .text(Some(&self.created_at.to_rfc3339()))
            .value(self.char_count)
            .value(Some(self.attachment_count))
            .value(Some(self.is_reply));
    }

    fn insert_batch<'c>(
        conn: &'c mut sqlx::PgConnection,
        batch: &'c [Self],
    ) -> BoxFuture<'c, sqlx::Result<u64>> {
        async move {
            let column = |f: fn(&Self) -> i64| batch.iter().map(f).collect::<Vec<i64>>();
            let result = sqlx::query(
                "insert into bronze.discord_messages
                     (message_id, guild_id, channel_id, parent_channel_id, author_id, created_at,
                      char_count, attachment_count, is_reply)
                 select * from unnest($1::int8[], $2::int8[], $3::int8[], $4::int8[], $5::int8[],
                                      $6::timestamptz[], $7::int4[], $8::int4[], $9::bool[])
                 on conflict (created_at, message_id) do nothing",
            )
            .bind(column(|m| m.message_id))
            .bind(column(|m| m.guild_id))
            .bind(column(|m| m.channel_id))
            .bind(
                batch
                    .iter()
                    .map(|m| m.parent_channel_id)
                    .collect::<Vec<_>>(),
            )
            .bind(column(|m| m.author_id))
            .bind(batch.iter().map(|m| m.created_at).collect::<Vec<_>>())
            .bind(batch.iter().map(|m| m.char_count).collect::<Vec<_>>())
            .bind(batch.iter().map(|m| m.attachment_count).collect::<Vec<_>>())
            .bind(batch.iter().map(|m| m.is_reply).collect::<Vec<_>>())
            .execute(conn)
            .await?;
            Ok(result.rows_affected())
        }
        .boxed()
    }

    fn to_json(&self) -> serde_json::Value {
        serde_json::json!({
            "message_id": self.message_id.to_string(),
            "guild_id": self.guild_id.to_string(),
            "channel_id": self.channel_id.to_string(),
            "parent_channel_id": self.parent_channel_id.map(|c| c.to_string()),
            "author_id": self.author_id.to_string(),
            "created_at": self.created_at.to_rfc3339(),
            "char_count": self.char_count,
            "attachment_count": self.attachment_count,
            "is_reply": self.is_reply,
        })
    }

    fn from_json(value: &serde_json::Value) -> Option<Self> {
        let id = |key: &str| value.get(key)?.as_str()?.parse::<i64>().ok();
        Some(Self {
            message_id: id("message_id")?,
            guild_id: id("guild_id")?,
            channel_id: id("channel_id")?,
            parent_channel_id: match value.get("parent_channel_id")? {
                serde_json::Value::Null => None,
                _ => Some(id("parent_channel_id")?),
            },
            author_id: id("author_id")?,
            created_at: DateTime::parse_from_rfc3339(value.get("created_at")?.as_str()?)
                .ok()?
                .with_timezone(&Utc),
            char_count: match value.get("char_count")? {
                serde_json::Value::Null => None,
                count => Some(i32::try_from(count.as_i64()?).ok()?),
            },
            attachment_count: i32::try_from(value.get("attachment_count")?.as_i64()?).ok()?,
            is_reply: value.get("is_reply")?.as_bool()?,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_snowflake_carries_its_creation_time_to_the_millisecond() {
        // Discord's documented example: 175928847299117063 was created 2016-04-30 11:18:25.796 UTC.
        assert_eq!(
            snowflake_time(175_928_847_299_117_063).to_rfc3339(),
            "2016-04-30T11:18:25.796+00:00"
        );
    }

    #[test]
    fn a_message_survives_the_spool_as_json() {
        let message = MessageEvent {
            message_id: 1_400_000_000_000_000_001,
            guild_id: 7,
            channel_id: 8,
            parent_channel_id: Some(9),
            author_id: 10,
            created_at: snowflake_time(1_400_000_000_000_000_001),
            char_count: None,
            attachment_count: 2,
            is_reply: true,
        };
        assert_eq!(MessageEvent::from_json(&message.to_json()), Some(message));
    }
}

/// What happened to a membership.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum MemberEventKind {
    /// Joined the guild.
    Join,
    /// Left, was kicked or banned (or was found missing by a synchronisation).
    Leave,
    /// Roles, nickname or pending state changed.
    Update,
    /// Found in the guild's member list by a synchronisation.
    Present,
}

impl MemberEventKind {
    /// The kind as stored in bronze.
    pub fn as_str(self) -> &'static str {
        match self {
            MemberEventKind::Join => "join",
            MemberEventKind::Leave => "leave",
            MemberEventKind::Update => "update",
            MemberEventKind::Present => "present",
        }
    }

    fn parse(text: &str) -> Option<Self> {
        Some(match text {
            "join" => MemberEventKind::Join,
            "leave" => MemberEventKind::Leave,
            "update" => MemberEventKind::Update,
            "present" => MemberEventKind::Present,
            _ => return None,
        })
    }
}

/// How a member event came to be known.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum MemberOrigin {
    /// Sent by the gateway as it happened.
    Gateway,
    /// Found (or found missing) by a member-list synchronisation.
    Sync,
    /// Written by the demo community generator.
    Demo,
}

impl MemberOrigin {
    /// The origin as stored in bronze.
    pub fn as_str(self) -> &'static str {
        match self {
            MemberOrigin::Gateway => "gateway",
            MemberOrigin::Sync => "sync",
            MemberOrigin::Demo => "demo",
        }
    }

    fn parse(text: &str) -> Option<Self> {
        Some(match text {
            "gateway" => MemberOrigin::Gateway,
            "sync" => MemberOrigin::Sync,
            "demo" => MemberOrigin::Demo,
            _ => return None,
        })
    }
}

/// One row of `bronze.discord_member_events`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct MemberEvent {
    pub guild_id: i64,
    pub user_id: i64,
    pub kind: MemberEventKind,
    /// When the member joined, as Discord reports it (none for leaves).
    pub joined_at: Option<DateTime<Utc>>,
    /// The member's role ids.
    pub roles: Vec<i64>,
    pub nickname: Option<String>,
    /// The member has not yet passed the guild's membership screening.
    pub pending: bool,
    pub origin: MemberOrigin,
    /// For joins and members found present: the join instant (so the same join seen twice
    /// is stored once); otherwise when the bot saw it.
    pub observed_at: DateTime<Utc>,
    /// For live joins: the invite the member used, as far as the bot could tell.
    pub source: Option<JoinSource>,
}

/// Where a join came from.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct JoinSource {
    /// `invite` or `unknown`.
    pub kind: &'static str,
    pub invite_code: Option<String>,
    pub inviter_id: Option<i64>,
    /// Why it is unknown: `no_permission`, `not_found`, `ambiguous`, `unavailable`.
    pub note: Option<&'static str>,
}

impl JoinSource {
    /// A join through the invite `code`.
    pub fn invite(code: String, inviter_id: Option<i64>) -> Self {
        Self {
            kind: "invite",
            invite_code: Some(code),
            inviter_id,
            note: None,
        }
    }

    /// A join whose invite could not be told, and why (see [`JoinSource::note`]).
    pub fn unknown(note: &'static str) -> Self {
        Self {
            kind: "unknown",
            invite_code: None,
            inviter_id: None,
            note: Some(note),
        }
    }

    fn parse_note(text: &str) -> Option<&'static str> {
        ["no_permission", "not_found", "ambiguous", "unavailable"]
            .into_iter()
            .find(|note| *note == text)
    }
}

impl MemberEvent {
    /// Idempotency key: the same observation written twice is stored once.
    pub fn source_key(&self) -> String {
        format!(
            "{}:{}:{}:{}:{}",
            self.guild_id,
            self.user_id,
            self.kind.as_str(),
            self.observed_at.timestamp_micros(),
            self.origin.as_str()
        )
    }
}

impl BronzeRecord for MemberEvent {
    const SOURCE: &'static str = "discord_members";

    const COPY_STATEMENT: &'static str = "copy bronze.discord_member_events
        (source_key, guild_id, user_id, kind, joined_at, roles, nickname, pending, origin,
         observed_at, join_source, invite_code, inviter_id, join_source_note)
        from stdin (format text)";

    fn copy_line(&self, line: &mut CopyLine<'_>) {
        let roles = format!(
            "{{{}}}",
            self.roles
                .iter()
                .map(i64::to_string)
                .collect::<Vec<_>>()
                .join(",")
        );
        line.text(Some(&self.source_key()))
            .value(Some(self.guild_id))
            .value(Some(self.user_id))
            .text(Some(self.kind.as_str()))
            .text(self.joined_at.map(|at| at.to_rfc3339()).as_deref())
            .text(Some(&roles))
            .text(self.nickname.as_deref())
            .value(Some(self.pending))
            .text(Some(self.origin.as_str()))
            .text(Some(&self.observed_at.to_rfc3339()));
        let source = self.source.as_ref();
        line.text(source.map(|s| s.kind))
            .text(source.and_then(|s| s.invite_code.as_deref()))
            .value(source.and_then(|s| s.inviter_id))
            .text(source.and_then(|s| s.note));
    }

    fn insert_batch<'c>(
        conn: &'c mut sqlx::PgConnection,
        batch: &'c [Self],
    ) -> BoxFuture<'c, sqlx::Result<u64>> {
        async move {
            // One statement per record: arrays of arrays do not unnest row by row, and this
            // path only runs for batches that hold a duplicate.
            let mut inserted = 0;
            for event in batch {
                let done = sqlx::query(
                    "insert into bronze.discord_member_events
                         (source_key, guild_id, user_id, kind, joined_at, roles, nickname,
                          pending, origin, observed_at, join_source, invite_code, inviter_id,
                          join_source_note)
                     values ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14)
                     on conflict (observed_at, source_key) do nothing",
                )
                .bind(event.source_key())
                .bind(event.guild_id)
                .bind(event.user_id)
                .bind(event.kind.as_str())
                .bind(event.joined_at)
                .bind(&event.roles)
                .bind(&event.nickname)
                .bind(event.pending)
                .bind(event.origin.as_str())
                .bind(event.observed_at)
                .bind(event.source.as_ref().map(|s| s.kind))
                .bind(event.source.as_ref().and_then(|s| s.invite_code.clone()))
                .bind(event.source.as_ref().and_then(|s| s.inviter_id))
                .bind(event.source.as_ref().and_then(|s| s.note))
                .execute(&mut *conn)
                .await?;
                inserted += done.rows_affected();
            }
            Ok(inserted)
        }
        .boxed()
    }

    fn to_json(&self) -> serde_json::Value {
        serde_json::json!({
            "guild_id": self.guild_id.to_string(),
            "user_id": self.user_id.to_string(),
            "kind": self.kind.as_str(),
            "joined_at": self.joined_at.map(|at| at.to_rfc3339()),
            "roles": self.roles.iter().map(i64::to_string).collect::<Vec<_>>(),
            "nickname": self.nickname,
            "pending": self.pending,
            "origin": self.origin.as_str(),
            "observed_at": self.observed_at.to_rfc3339(),
            "source": self.source.as_ref().map(|source| serde_json::json!({
                "kind": source.kind,
                "invite_code": source.invite_code,
                "inviter_id": source.inviter_id.map(|id| id.to_string()),
                "note": source.note,
            })),
        })
    }

    fn from_json(value: &serde_json::Value) -> Option<Self> {
        let id = |key: &str| value.get(key)?.as_str()?.parse::<i64>().ok();
        let instant = |text: &str| {
            DateTime::parse_from_rfc3339(text)
                .ok()
                .map(|at| at.with_timezone(&Utc))
        };
        Some(Self {
            guild_id: id("guild_id")?,
            user_id: id("user_id")?,
            kind: MemberEventKind::parse(value.get("kind")?.as_str()?)?,
            joined_at: match value.get("joined_at")? {
                serde_json::Value::Null => None,
                at => Some(instant(at.as_str()?)?),
            },
            roles: value
                .get("roles")?
                .as_array()?
                .iter()
                .map(|role| role.as_str()?.parse().ok())
                .collect::<Option<Vec<i64>>>()?,
            nickname: match value.get("nickname")? {
                serde_json::Value::Null => None,
                name => Some(name.as_str()?.to_owned()),
            },
            pending: value.get("pending")?.as_bool()?,
            origin: MemberOrigin::parse(value.get("origin")?.as_str()?)?,
            observed_at: instant(value.get("observed_at")?.as_str()?)?,
            // Spools written before sources were recorded have none.
            source: match value.get("source") {
                None | Some(serde_json::Value::Null) => None,
                Some(source) => Some(JoinSource {
                    kind: match source.get("kind")?.as_str()? {
                        "invite" => "invite",
                        _ => "unknown",
                    },
                    invite_code: source
                        .get("invite_code")
                        .and_then(|code| code.as_str())
                        .map(str::to_owned),
                    inviter_id: source
                        .get("inviter_id")
                        .and_then(|id| id.as_str())
                        .and_then(|id| id.parse().ok()),
                    note: source
                        .get("note")
                        .and_then(|note| note.as_str())
                        .and_then(JoinSource::parse_note),
                }),
            },
        })
    }
}

/// One row of `bronze.discord_scheduled_events`: an observation of a scheduled event (its
/// description) or of one user's interest in it. Ids travel as strings in JSON (the spool),
/// as everywhere else.
#[derive(Clone, Debug, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct ScheduledEventChange {
    #[serde(with = "id_text")]
    pub guild_id: i64,
    #[serde(with = "id_text")]
    pub scheduled_event_id: i64,
    /// `create`, `update`, `delete`, `sync`, `gone`, `user_add`, `user_remove`, `user_sync`.
    pub change: String,
    #[serde(with = "id_text_opt")]
    pub user_id: Option<i64>,
    pub name: Option<String>,
    #[serde(with = "id_text_opt")]
    pub channel_id: Option<i64>,
    /// `stage`, `voice` or `external`.
    pub kind: Option<String>,
    /// `scheduled`, `active`, `completed` or `canceled`.
    pub status: Option<String>,
    pub starts_at: Option<DateTime<Utc>>,
    pub ends_at: Option<DateTime<Utc>>,
    /// `gateway`, `sync` or `demo`.
    pub origin: String,
    pub observed_at: DateTime<Utc>,
}

impl ScheduledEventChange {
    /// Idempotency key: the same observation written twice is stored once.
    pub fn source_key(&self) -> String {
        format!(
            "{}:{}:{}:{}:{}",
            self.scheduled_event_id,
            self.change,
            self.user_id
                .map_or_else(|| "-".to_owned(), |id| id.to_string()),
            self.observed_at.timestamp_micros(),
            self.origin
        )
    }
}

impl BronzeRecord for ScheduledEventChange {
    const SOURCE: &'static str = "discord_events";

    const COPY_STATEMENT: &'static str = "copy bronze.discord_scheduled_events
        (source_key, guild_id, scheduled_event_id, change, user_id, name, channel_id, kind,
         status, starts_at, ends_at, origin, observed_at)
        from stdin (format text)";

    fn copy_line(&self, line: &mut CopyLine<'_>) {
        line.text(Some(&self.source_key()))
            .value(Some(self.guild_id))
            .value(Some(self.scheduled_event_id))
            .text(Some(&self.change))
            .value(self.user_id)
            .text(self.name.as_deref())
            .value(self.channel_id)
            .text(self.kind.as_deref())
            .text(self.status.as_deref())
            .text(self.starts_at.map(|at| at.to_rfc3339()).as_deref())
            .text(self.ends_at.map(|at| at.to_rfc3339()).as_deref())
            .text(Some(&self.origin))
            .text(Some(&self.observed_at.to_rfc3339()));
    }

    fn insert_batch<'c>(
        conn: &'c mut sqlx::PgConnection,
        batch: &'c [Self],
    ) -> BoxFuture<'c, sqlx::Result<u64>> {
        async move {
            let mut inserted = 0;
            for change in batch {
                let done = sqlx::query(
                    "insert into bronze.discord_scheduled_events
                         (source_key, guild_id, scheduled_event_id, change, user_id, name,
                          channel_id, kind, status, starts_at, ends_at, origin, observed_at)
                     values ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13)
                     on conflict (observed_at, source_key) do nothing",
                )
                .bind(change.source_key())
                .bind(change.guild_id)
                .bind(change.scheduled_event_id)
                .bind(&change.change)
                .bind(change.user_id)
                .bind(&change.name)
                .bind(change.channel_id)
                .bind(&change.kind)
                .bind(&change.status)
                .bind(change.starts_at)
                .bind(change.ends_at)
                .bind(&change.origin)
                .bind(change.observed_at)
                .execute(&mut *conn)
                .await?;
                inserted += done.rows_affected();
            }
            Ok(inserted)
        }
        .boxed()
    }

    fn to_json(&self) -> serde_json::Value {
        serde_json::to_value(self).unwrap_or(serde_json::Value::Null)
    }

    fn from_json(value: &serde_json::Value) -> Option<Self> {
        serde_json::from_value(value.clone()).ok()
    }
}

/// Discord ids as JSON strings (JavaScript's numbers cannot hold them).
mod id_text {
    use serde::{Deserialize, Deserializer, Serializer};

    pub fn serialize<S: Serializer>(id: &i64, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.serialize_str(&id.to_string())
    }

    pub fn deserialize<'de, D: Deserializer<'de>>(deserializer: D) -> Result<i64, D::Error> {
        String::deserialize(deserializer)?
            .parse()
            .map_err(serde::de::Error::custom)
    }
}

/// Optional Discord ids as JSON strings or `null`.
mod id_text_opt {
    use serde::{Deserialize, Deserializer, Serializer};

    pub fn serialize<S: Serializer>(id: &Option<i64>, serializer: S) -> Result<S::Ok, S::Error> {
        match id {
            Some(id) => serializer.serialize_str(&id.to_string()),
            None => serializer.serialize_none(),
        }
    }

    pub fn deserialize<'de, D: Deserializer<'de>>(
        deserializer: D,
    ) -> Result<Option<i64>, D::Error> {
        Option::<String>::deserialize(deserializer)?
            .map(|text| text.parse().map_err(serde::de::Error::custom))
            .transpose()
    }
}

#[cfg(test)]
mod scheduled_event_tests {
    use super::*;

    #[test]
    fn a_scheduled_event_change_survives_the_spool_as_json() {
        let change = ScheduledEventChange {
            guild_id: 1_046_920_999_469_330_512,
            scheduled_event_id: 1_059_954_443_799_498_922,
            change: "user_add".to_owned(),
            user_id: Some(787_017_887_877_169_173),
            name: None,
            channel_id: None,
            kind: None,
            status: None,
            starts_at: None,
            ends_at: None,
            origin: "gateway".to_owned(),
            observed_at: DateTime::from_timestamp_micros(1_767_222_000_123_456).expect("instant"),
        };
        let json = change.to_json();
        assert_eq!(json["user_id"], "787017887877169173");
        assert_eq!(ScheduledEventChange::from_json(&json), Some(change));
    }
}
