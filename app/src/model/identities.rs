//! The identity editor (`api/identities.rs`, `pages/admin_identities.rs`): persons, suggested links
//! and suspect links.

use serde::{Deserialize, Serialize};

/// One account of a person, for the identity editor.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct PersonAccount {
    pub kind: String,
    pub external_id: String,
    pub display_name: Option<String>,
    pub verified_by: String,
}

/// A person found in the identity editor: their accounts and activity.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct PersonSummary {
    pub person_id: i64,
    /// The Discord member's name, when the person has a Discord account.
    pub name: Option<String>,
    pub accounts: Vec<PersonAccount>,
    pub active_days: i64,
    pub last_active: Option<chrono::NaiveDate>,
}

/// A game account no Discord member owns yet, and a member it probably belongs to, with the
/// evidence: how alike the names are and how many hours the account played while the member
/// was in voice.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "ssr", derive(sqlx::FromRow))]
pub struct IdentitySuggestion {
    pub kind: String,
    pub external_id: String,
    pub player_name: Option<String>,
    /// Hours (started clock hours) the account played in the window.
    pub played_hours: i64,
    pub candidate_person: i64,
    pub candidate_name: String,
    /// 0 (nothing alike) to 1 (the same name).
    pub name_similarity: f64,
    /// Of `played_hours`, those the candidate was in voice too.
    pub together_hours: i64,
    /// The rank order: name similarity and co-presence combined, 0 to 1.
    pub score: f64,
}

/// A link the data contradicts, for an admin to review.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "ssr", derive(sqlx::FromRow))]
pub struct SuspectLink {
    pub kind: String,
    pub external_id: String,
    pub player_name: Option<String>,
    pub person_id: i64,
    pub person_name: Option<String>,
    pub verified_by: String,
    /// `two_servers`: on two servers at once `count` times; `never_online`: played on `count`
    /// days, on none of which the member was in voice or chat.
    pub reason: String,
    pub count: i64,
    pub last_at: Option<chrono::DateTime<chrono::Utc>>,
}

/// What the identity editor offers for review.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct IdentityReview {
    pub suggestions: Vec<IdentitySuggestion>,
    pub suspects: Vec<SuspectLink>,
    /// The window looked at, in days.
    pub days: i64,
}
