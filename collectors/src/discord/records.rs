//! The Discord bot's records: one type per bronze table it writes (voice events, messages,
//! member events, scheduled-event changes), with their idempotency keys, how the ingest
//! writer copies and spools them, and the snowflake clock.

use crate::ingest::{BronzeRecord, Row};
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

/// How a voice event came to be known.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
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

/// One row of `bronze.discord_voice_events`: a user's voice state after an update. Ids
/// travel as strings in JSON (the spool), as everywhere else.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct VoiceEvent {
    #[serde(with = "id_text")]
    pub guild_id: i64,
    #[serde(with = "id_text")]
    pub user_id: i64,
    /// The channel the user is in after the update; `None` when they left voice.
    #[serde(with = "id_text_opt")]
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
    const TABLE: &'static str = "bronze.discord_voice_events";
    const KEY: &'static str = "occurred_at, source_key";

    fn columns(&self, row: &mut Row<'_>) {
        row.text("source_key", Some(&self.source_key()))
            .int8("guild_id", Some(self.guild_id))
            .int8("user_id", Some(self.user_id))
            .int8("channel_id", self.channel_id)
            .bool("self_mute", Some(self.self_mute))
            .bool("self_deaf", Some(self.self_deaf))
            .text("origin", Some(self.origin.as_str()))
            .time("occurred_at", Some(self.occurred_at));
    }

    fn accounts(&self) -> Vec<(&'static str, String)> {
        vec![("discord", self.user_id.to_string())]
    }
}

/// One row of `bronze.discord_messages`: a message's metadata, never its content.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct MessageEvent {
    #[serde(with = "id_text")]
    pub message_id: i64,
    #[serde(with = "id_text")]
    pub guild_id: i64,
    /// The channel, or the thread (forum posts are threads), the message was sent in.
    #[serde(with = "id_text")]
    pub channel_id: i64,
    /// For a message in a thread: the channel the thread belongs to.
    #[serde(with = "id_text_opt")]
    pub parent_channel_id: Option<i64>,
    #[serde(with = "id_text")]
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
    const TABLE: &'static str = "bronze.discord_messages";
    const KEY: &'static str = "created_at, message_id";

    fn columns(&self, row: &mut Row<'_>) {
        row.int8("message_id", Some(self.message_id))
            .int8("guild_id", Some(self.guild_id))
            .int8("channel_id", Some(self.channel_id))
            .int8("parent_channel_id", self.parent_channel_id)
            .int8("author_id", Some(self.author_id))
            .time("created_at", Some(self.created_at))
            .int4("char_count", self.char_count)
            .int4("attachment_count", Some(self.attachment_count))
            .bool("is_reply", Some(self.is_reply));
    }

    fn accounts(&self) -> Vec<(&'static str, String)> {
        vec![("discord", self.author_id.to_string())]
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
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
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
}

/// How a member event came to be known.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
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
}

/// One row of `bronze.discord_member_events`.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct MemberEvent {
    #[serde(with = "id_text")]
    pub guild_id: i64,
    #[serde(with = "id_text")]
    pub user_id: i64,
    pub kind: MemberEventKind,
    /// When the member joined, as Discord reports it (none for leaves).
    pub joined_at: Option<DateTime<Utc>>,
    /// The member's role ids.
    #[serde(with = "id_text_vec")]
    pub roles: Vec<i64>,
    pub nickname: Option<String>,
    /// The member has not yet passed the guild's membership screening.
    pub pending: bool,
    pub origin: MemberOrigin,
    /// For joins and members found present: the join instant (so the same join seen twice
    /// is stored once); otherwise when the bot saw it.
    pub observed_at: DateTime<Utc>,
    /// For live joins: the invite the member used, as far as the bot could tell (spools
    /// written before sources were recorded have none).
    #[serde(default)]
    pub source: Option<JoinSource>,
}

/// One of a fixed set of words. (Named, so serde reads it with the functions below instead
/// of borrowing it from the input.)
type Word = &'static str;

/// Where a join came from.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct JoinSource {
    /// `invite` or `unknown`.
    #[serde(deserialize_with = "join_source_kind")]
    pub kind: Word,
    pub invite_code: Option<String>,
    #[serde(with = "id_text_opt")]
    pub inviter_id: Option<i64>,
    /// Why it is unknown: `no_permission`, `not_found`, `ambiguous`, `unavailable`.
    #[serde(deserialize_with = "join_source_note")]
    pub note: Option<Word>,
}

fn join_source_kind<'de, D: serde::Deserializer<'de>>(
    deserializer: D,
) -> Result<&'static str, D::Error> {
    Ok(match String::deserialize(deserializer)?.as_str() {
        "invite" => "invite",
        _ => "unknown",
    })
}

fn join_source_note<'de, D: serde::Deserializer<'de>>(
    deserializer: D,
) -> Result<Option<&'static str>, D::Error> {
    Ok(Option::<String>::deserialize(deserializer)?
        .as_deref()
        .and_then(JoinSource::parse_note))
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
    const TABLE: &'static str = "bronze.discord_member_events";
    const KEY: &'static str = "observed_at, source_key";

    fn columns(&self, row: &mut Row<'_>) {
        let source = self.source.as_ref();
        row.text("source_key", Some(&self.source_key()))
            .int8("guild_id", Some(self.guild_id))
            .int8("user_id", Some(self.user_id))
            .text("kind", Some(self.kind.as_str()))
            .time("joined_at", self.joined_at)
            .int8_array("roles", &self.roles)
            .text("nickname", self.nickname.as_deref())
            .bool("pending", Some(self.pending))
            .text("origin", Some(self.origin.as_str()))
            .time("observed_at", Some(self.observed_at))
            .text("join_source", source.map(|s| s.kind))
            .text("invite_code", source.and_then(|s| s.invite_code.as_deref()))
            .int8("inviter_id", source.and_then(|s| s.inviter_id))
            .text("join_source_note", source.and_then(|s| s.note));
    }

    fn accounts(&self) -> Vec<(&'static str, String)> {
        let inviter = self.source.as_ref().and_then(|s| s.inviter_id);
        std::iter::once(self.user_id)
            .chain(inviter)
            .map(|id| ("discord", id.to_string()))
            .collect()
    }

    /// The member's own event goes; someone else's keeps everything but an opted-out
    /// inviter.
    fn keep_without_opted_out(&mut self, opted_out: &dyn Fn(&str, &str) -> bool) -> bool {
        if opted_out("discord", &self.user_id.to_string()) {
            return false;
        }
        if let Some(source) = self.source.as_mut()
            && source
                .inviter_id
                .is_some_and(|inviter| opted_out("discord", &inviter.to_string()))
        {
            source.inviter_id = None;
        }
        true
    }
}

/// One row of `bronze.discord_scheduled_events`: an observation of a scheduled event (its
/// description) or of one user's interest in it. Ids travel as strings in JSON (the spool),
/// as everywhere else.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
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
    const TABLE: &'static str = "bronze.discord_scheduled_events";
    const KEY: &'static str = "observed_at, source_key";

    fn columns(&self, row: &mut Row<'_>) {
        row.text("source_key", Some(&self.source_key()))
            .int8("guild_id", Some(self.guild_id))
            .int8("scheduled_event_id", Some(self.scheduled_event_id))
            .text("change", Some(&self.change))
            .int8("user_id", self.user_id)
            .text("name", self.name.as_deref())
            .int8("channel_id", self.channel_id)
            .text("kind", self.kind.as_deref())
            .text("status", self.status.as_deref())
            .time("starts_at", self.starts_at)
            .time("ends_at", self.ends_at)
            .text("origin", Some(&self.origin))
            .time("observed_at", Some(self.observed_at));
    }

    fn accounts(&self) -> Vec<(&'static str, String)> {
        self.user_id
            .map(|id| ("discord", id.to_string()))
            .into_iter()
            .collect()
    }

    /// An opted-out user's interest goes; an event they created stays, without them.
    fn keep_without_opted_out(&mut self, opted_out: &dyn Fn(&str, &str) -> bool) -> bool {
        if self
            .user_id
            .is_some_and(|id| opted_out("discord", &id.to_string()))
        {
            if self.change.starts_with("user") {
                return false;
            }
            self.user_id = None;
        }
        true
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

/// Lists of Discord ids as JSON strings.
mod id_text_vec {
    use serde::{Deserialize, Deserializer, Serializer};

    pub fn serialize<S: Serializer>(ids: &[i64], serializer: S) -> Result<S::Ok, S::Error> {
        serializer.collect_seq(ids.iter().map(i64::to_string))
    }

    pub fn deserialize<'de, D: Deserializer<'de>>(deserializer: D) -> Result<Vec<i64>, D::Error> {
        Vec::<String>::deserialize(deserializer)?
            .iter()
            .map(|text| text.parse().map_err(serde::de::Error::custom))
            .collect()
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
