//! The signed-in member's accounts and how they link more (`api/accounts.rs`,
//! `pages/my_accounts.rs`).

use serde::{Deserialize, Serialize};

/// One of the signed-in member's accounts (`silver.user_identities`).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct MyAccount {
    /// `discord`, `steam` or `minecraft`.
    pub kind: String,
    /// Discord id, SteamID64 or Minecraft UUID, as text.
    pub external_id: String,
    pub display_name: Option<String>,
    /// `observed`, `oauth_connection`, `steam_openid`, `ingame_code` or `admin`.
    pub verified_by: String,
    pub linked_at: chrono::DateTime<chrono::Utc>,
}

/// A Steam account the member's Discord connections show (verified, not revoked).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct SteamConnection {
    /// SteamID64.
    pub steam_id: String,
    pub name: Option<String>,
    /// Already one of the member's accounts.
    pub linked: bool,
}

/// A one-time in-game link code, shown once.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct ShownLinkCode {
    pub code: String,
    pub expires_at: chrono::DateTime<chrono::Utc>,
}

/// What became of an in-game code of the member's that did not link an account
/// (`app.link_code_attempts`, the last day).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct MyLinkAttempt {
    /// When the line with the code was received.
    pub at: chrono::DateTime<chrono::Utc>,
    /// The account that said it: `steam` or `minecraft`.
    pub kind: String,
    pub external_id: String,
    /// `verified` (the account is verified as another member's: it stays theirs unless an
    /// admin moves it), `expired` or `used`.
    pub outcome: String,
}
