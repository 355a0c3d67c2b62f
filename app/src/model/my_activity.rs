//! The signed-in member's own figures (`get_my_activity` in `api/mod.rs`, `pages/my_activity.rs`).

use serde::{Deserialize, Serialize};

/// The signed-in member's own activity, over all their accounts.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct MyActivity {
    /// Non-AFK voice minutes in the last 30 days.
    pub voice_minutes_30d: i64,
    /// Local days of the last 30 with activity on any of the member's accounts: a minute of
    /// non-AFK voice, a message or a minute on a game server.
    pub active_days_30d: i64,
    /// Messages in the last 30 days.
    pub messages_30d: i64,
    /// Minutes on game servers in the last 30 days, per game (`cs2`, `minecraft`, …),
    /// over all the member's linked game accounts.
    pub game_minutes_30d: Vec<(String, i64)>,
}
