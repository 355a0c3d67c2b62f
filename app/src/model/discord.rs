//! The Discord settings of tracked guilds: role mappings and invite labels (`api/discord.rs`,
//! `pages/admin_discord.rs`).

use serde::{Deserialize, Serialize};

use super::Role;

/// A Discord role of a tracked guild and the Guildhall role it gives.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct DiscordRoleMapping {
    /// Discord's id, as text.
    pub role_id: String,
    pub name: String,
    pub app_role: Option<Role>,
}

/// An invite of a tracked guild with its label.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct InviteLabel {
    pub code: String,
    pub inviter: Option<String>,
    pub uses: i32,
    /// Deleted or expired in Discord (joins through it still count).
    pub deleted: bool,
    pub label: Option<String>,
}

/// The Discord settings of one tracked guild on the admin page.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct GuildDiscordSettings {
    /// Discord's id, as text.
    pub guild_id: String,
    pub name: String,
    /// Whether the bot records the guild now.
    pub tracked: bool,
    /// Whether the bot may read the invites (Manage Server); `None` before it looked.
    pub invites_readable: Option<bool>,
    pub roles: Vec<DiscordRoleMapping>,
    pub invites: Vec<InviteLabel>,
}
