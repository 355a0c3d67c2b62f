//! The web app's users with their roles, for the admin page (`api/roles.rs`).

use serde::{Deserialize, Serialize};

use super::Role;

/// A user of the web app with their role, for the admin page.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct UserRole {
    pub user_id: i64,
    pub discord_user_id: i64,
    pub name: String,
    pub role: Role,
    /// The role `GUILDHALL_ADMIN_IDS` or `GUILDHALL_LEADER_IDS` gives this user: it cannot
    /// be lowered on the page.
    pub configured: Option<Role>,
    /// On the community's clock.
    pub last_login_at: Option<super::LocalTime>,
}
