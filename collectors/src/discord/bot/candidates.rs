//! The Discord records on their way to bronze, as the ingest steps judge them: each
//! carries its record and what the steps need to know about it (a bot's, a system
//! message, the channel's category, the state before a voice update).

use super::steps::Candidate;
use crate::discord::sequencer::VoicePosition;
use crate::discord::{MemberEvent, MessageEvent, ScheduledEventChange, VoiceEvent};

/// A voice update on its way to bronze, with what the steps judge it by.
pub(super) struct VoiceCandidate {
    pub(super) event: VoiceEvent,
    /// The category of the event's channel (from serenity's cache).
    pub(super) category_id: Option<i64>,
    /// The member's state just before this update, as serenity's cache held it, and the
    /// category of its channel: what the sequencer orders updates by.
    pub(super) before: Option<(VoicePosition, Option<i64>)>,
    /// The account is a bot (from the event's member, else serenity's cache).
    pub(super) from_bot: bool,
}

impl Candidate for VoiceCandidate {
    fn guild_id(&self) -> i64 {
        self.event.guild_id
    }
    fn account_id(&self) -> i64 {
        self.event.user_id
    }
    fn is_bot(&self) -> bool {
        self.from_bot
    }
}

/// A message on its way to bronze. Its content was counted (with the message-content
/// intent) and dropped before this exists.
pub(super) struct MessageCandidate {
    pub(super) event: MessageEvent,
    /// The category of the channel (for a thread: of its parent channel).
    pub(super) category_id: Option<i64>,
    /// Sent by a bot account, or through a webhook.
    pub(super) from_bot: bool,
    /// A system message (joins, boosts, pins, thread notices…), not something a member wrote.
    pub(super) is_system: bool,
}

impl Candidate for MessageCandidate {
    fn guild_id(&self) -> i64 {
        self.event.guild_id
    }
    fn account_id(&self) -> i64 {
        self.event.author_id
    }
    fn is_bot(&self) -> bool {
        self.from_bot
    }
}

/// A member event on its way to bronze.
pub(super) struct MemberCandidate {
    pub(super) event: MemberEvent,
    pub(super) from_bot: bool,
}

impl Candidate for MemberCandidate {
    fn guild_id(&self) -> i64 {
        self.event.guild_id
    }
    fn account_id(&self) -> i64 {
        self.event.user_id
    }
    fn is_bot(&self) -> bool {
        self.from_bot
    }
}

/// A scheduled-event change on its way to bronze.
pub(super) struct EventCandidate {
    pub(super) change: ScheduledEventChange,
}

impl Candidate for EventCandidate {
    fn guild_id(&self) -> i64 {
        self.change.guild_id
    }
    fn account_id(&self) -> i64 {
        // Changes of the event itself concern no account.
        self.change.user_id.unwrap_or(0)
    }
    fn is_bot(&self) -> bool {
        false
    }
}
