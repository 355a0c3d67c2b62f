//! What the admin console's sections show (`api/console.rs`, `pages/admin.rs`): Discord
//! channels by name for the pickers, people and their roles, the audit log a page at a
//! time, the community settings, and the public privacy page's facts. Times are on the
//! community's clock (`LocalTime`), with the zone said once per page.

use serde::{Deserialize, Serialize};

use super::{AuditEntry, UserRole};

/// An instant as the clock in the community's time zone shows it.
pub type LocalTime = chrono::DateTime<chrono::FixedOffset>;

/// What a Discord channel is, for the pickers.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum ChannelKind {
    Text,
    Voice,
    Category,
    Announcement,
    Stage,
    Forum,
    Other,
}

impl ChannelKind {
    pub fn as_str(self) -> &'static str {
        match self {
            ChannelKind::Text => "text",
            ChannelKind::Voice => "voice",
            ChannelKind::Category => "category",
            ChannelKind::Announcement => "announcement",
            ChannelKind::Stage => "stage",
            ChannelKind::Forum => "forum",
            ChannelKind::Other => "other",
        }
    }

    pub fn parse(value: &str) -> Option<Self> {
        Some(match value {
            "text" => ChannelKind::Text,
            "voice" => ChannelKind::Voice,
            "category" => ChannelKind::Category,
            "announcement" => ChannelKind::Announcement,
            "stage" => ChannelKind::Stage,
            "forum" => ChannelKind::Forum,
            "other" => ChannelKind::Other,
            _ => return None,
        })
    }

    /// Voice and stage channels: where people can be AFK.
    pub fn is_voice(self) -> bool {
        matches!(self, ChannelKind::Voice | ChannelKind::Stage)
    }
}

/// A channel or category as the bot last saw it.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct ChannelName {
    /// As text: Discord ids do not fit a JavaScript number.
    pub channel_id: String,
    /// `None` when the bot never saw the channel (an id marked before it recorded names).
    pub name: Option<String>,
    pub kind: Option<ChannelKind>,
    /// The category it is in, by name.
    pub category: Option<String>,
}

/// An admin's AFK mark on a channel.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct AfkMark {
    /// `app.afk_channels.id`.
    pub id: i64,
    pub channel: ChannelName,
    /// From when it counts; `None` for all of history.
    pub since: Option<LocalTime>,
}

/// One recorded guild's channel settings.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct GuildChannels {
    pub guild_id: String,
    pub name: String,
    /// The AFK channel Discord reports for the guild now.
    pub afk_channel: Option<ChannelName>,
    pub marked_afk: Vec<AfkMark>,
    /// Channels and categories whose activity is not recorded.
    pub excluded: Vec<ChannelName>,
    /// Every channel and category the bot knows in the guild, in Discord's order.
    pub channels: Vec<ChannelName>,
}

/// The Discord section's channel settings.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct DiscordChannels {
    /// The community's time zone, said once on the page.
    pub timezone: String,
    pub guilds: Vec<GuildChannels>,
}

/// The people section: web users and their roles.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct AdminUsers {
    pub timezone: String,
    pub users: Vec<UserRole>,
}

/// One page of the audit log, newest first.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct AuditPage {
    pub timezone: String,
    pub entries: Vec<AuditEntry>,
    /// 1-based.
    pub page: u32,
    pub pages: u32,
    pub total: i64,
}

/// Entries on one page of the audit log.
pub const AUDIT_PAGE_SIZE: u32 = 50;

/// A setting's value in force, and whether an admin set it (else the configuration).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct SettingValue<T> {
    pub value: T,
    /// The configured default (environment or `guildhall.toml`).
    pub configured: T,
    /// An admin set it in the console.
    pub set_here: bool,
}

/// The community settings on `/admin/privacy`.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct CommunitySettings {
    pub timezone: SettingValue<String>,
    pub bronze_retention_days: SettingValue<u32>,
    /// Message lengths are counted (`GUILDHALL_DISCORD__MESSAGE_CONTENT`; configuration only:
    /// it is a gateway intent the bot asks for when it connects).
    pub message_lengths: bool,
    pub updated_at: Option<LocalTime>,
    pub updated_by: Option<String>,
    /// Every IANA time zone name, for the picker.
    pub zones: Vec<String>,
}

/// What the public privacy page states, from the settings in force.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct PrivacyFacts {
    /// The Discord bot records voice, messages (metadata) and members.
    pub discord_bot: bool,
    /// Message lengths (characters) are counted; the content is never kept.
    pub message_lengths: bool,
    /// Enabled game servers polled over RCON (player names, connected time, ping).
    pub rcon_servers: i64,
    /// Enabled game servers whose logs are read (connects, SteamIDs/UUIDs, chat length).
    pub log_servers: i64,
    /// Enabled game servers whose Prometheus metrics are read (players, TPS).
    pub metrics_servers: i64,
    /// Days raw events are kept once processed; 0: kept without limit.
    pub bronze_retention_days: u32,
    pub timezone: String,
}
