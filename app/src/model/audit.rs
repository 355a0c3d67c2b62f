//! The audit log: what an entry records ([`AuditAction`]) and an entry as the admin page shows it.

use serde::{Deserialize, Serialize};

/// What an entry of the audit log records.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub enum AuditAction {
    /// An admin granted or revoked `leader` or `admin`.
    RoleChanged,
    /// An admin marked a channel as AFK.
    AfkChannelMarked,
    /// An admin took the AFK mark off a channel.
    AfkChannelUnmarked,
    /// An admin excluded a channel or category from recording.
    ChannelExcluded,
    /// An admin had a channel or category recorded again.
    ChannelIncluded,
    /// An admin mapped a Discord role to a Guildhall role (or removed the mapping).
    RoleMapped,
    /// An admin labelled an invite code (or removed the label).
    InviteLabelled,
    /// An admin turned the recording of a guild on or off.
    GuildTracking,
    /// A game account was linked to a person (by the member's code, or an admin).
    IdentityLinked,
    /// A game account became a person of its own again.
    IdentityUnlinked,
    /// An admin merged two persons.
    PersonsMerged,
    /// An admin split accounts off a person.
    PersonSplit,
    /// A member asked to be hidden (or shown again).
    MemberHidden,
    /// A member opted out: their history was deleted, their accounts kept as hashes.
    MemberOptedOut,
    /// A member deleted their account and everything Guildhall held about them.
    MemberDeleted,
    /// An admin changed the community settings (time zone, bronze retention).
    SettingsChanged,
    /// An admin started a backfill from the console.
    BackfillStarted,
    /// An admin cancelled a backfill.
    BackfillCancelled,
    // Game servers (the admin's servers section).
    /// An admin added a game server.
    GameServerAdded,
    /// An admin changed a game server's settings.
    GameServerChanged,
    /// An admin enabled or disabled a game server.
    GameServerEnabled,
    /// An admin deleted a game server (and maybe erased its history).
    GameServerDeleted,
    /// An admin made a new HTTP log token for a game server.
    GameServerLogToken,
    /// An admin confirmed an SFTP server's host key.
    GameServerHostKey,
}

impl AuditAction {
    pub fn as_str(self) -> &'static str {
        match self {
            AuditAction::RoleChanged => "user.role",
            AuditAction::AfkChannelMarked => "guild.afk_channel.mark",
            AuditAction::AfkChannelUnmarked => "guild.afk_channel.unmark",
            AuditAction::ChannelExcluded => "guild.channel.exclude",
            AuditAction::ChannelIncluded => "guild.channel.include",
            AuditAction::RoleMapped => "guild.role_mapping",
            AuditAction::InviteLabelled => "guild.invite_label",
            AuditAction::GuildTracking => "guild.tracking",
            AuditAction::IdentityLinked => "identity.link",
            AuditAction::IdentityUnlinked => "identity.unlink",
            AuditAction::PersonsMerged => "identity.merge",
            AuditAction::PersonSplit => "identity.split",
            AuditAction::MemberHidden => "member.hide",
            AuditAction::MemberOptedOut => "member.opt_out",
            AuditAction::MemberDeleted => "member.delete",
            AuditAction::SettingsChanged => "community.settings",
            AuditAction::BackfillStarted => "pipeline.backfill.start",
            AuditAction::BackfillCancelled => "pipeline.backfill.cancel",
            AuditAction::GameServerAdded => "game_server.add",
            AuditAction::GameServerChanged => "game_server.update",
            AuditAction::GameServerEnabled => "game_server.enabled",
            AuditAction::GameServerDeleted => "game_server.delete",
            AuditAction::GameServerLogToken => "game_server.log_token",
            AuditAction::GameServerHostKey => "game_server.host_key",
        }
    }

    pub fn parse(value: &str) -> Option<AuditAction> {
        match value {
            "user.role" => Some(AuditAction::RoleChanged),
            "guild.afk_channel.mark" => Some(AuditAction::AfkChannelMarked),
            "guild.afk_channel.unmark" => Some(AuditAction::AfkChannelUnmarked),
            "guild.channel.exclude" => Some(AuditAction::ChannelExcluded),
            "guild.channel.include" => Some(AuditAction::ChannelIncluded),
            "guild.role_mapping" => Some(AuditAction::RoleMapped),
            "guild.invite_label" => Some(AuditAction::InviteLabelled),
            "guild.tracking" => Some(AuditAction::GuildTracking),
            "identity.link" => Some(AuditAction::IdentityLinked),
            "identity.unlink" => Some(AuditAction::IdentityUnlinked),
            "identity.merge" => Some(AuditAction::PersonsMerged),
            "identity.split" => Some(AuditAction::PersonSplit),
            "member.hide" => Some(AuditAction::MemberHidden),
            "member.opt_out" => Some(AuditAction::MemberOptedOut),
            "member.delete" => Some(AuditAction::MemberDeleted),
            "community.settings" => Some(AuditAction::SettingsChanged),
            "pipeline.backfill.start" => Some(AuditAction::BackfillStarted),
            "pipeline.backfill.cancel" => Some(AuditAction::BackfillCancelled),
            "game_server.add" => Some(AuditAction::GameServerAdded),
            "game_server.update" => Some(AuditAction::GameServerChanged),
            "game_server.enabled" => Some(AuditAction::GameServerEnabled),
            "game_server.delete" => Some(AuditAction::GameServerDeleted),
            "game_server.log_token" => Some(AuditAction::GameServerLogToken),
            "game_server.host_key" => Some(AuditAction::GameServerHostKey),
            _ => None,
        }
    }
}

/// One entry of `app.audit_log`, as the admin page shows it.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct AuditEntry {
    /// On the community's clock.
    pub at: super::LocalTime,
    pub actor: String,
    /// The action's code (`user.role`); older or newer codes show as they are.
    pub action: String,
    pub subject: String,
    /// JSON text of the value before and after the change.
    pub before: Option<String>,
    pub after: Option<String>,
}
