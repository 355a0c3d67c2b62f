//! Channels an admin marked as AFK (`api/afk.rs`).

use serde::{Deserialize, Serialize};

/// A channel an admin marked as AFK.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct MarkedAfkChannel {
    /// `app.afk_channels.id`.
    pub id: i64,
    pub channel_id: i64,
    /// From when it counts; `None` for all of history.
    pub since: Option<chrono::DateTime<chrono::Utc>>,
}
