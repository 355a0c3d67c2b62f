//! Scheduled events and their attendance (`api/events.rs`, `pages/events.rs`).

use serde::{Deserialize, Serialize};

/// One scheduled event with its attendance (`gold.event_attendance`).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct EventAttendance {
    /// Discord's id, as text (JavaScript numbers cannot hold it).
    pub id: String,
    pub name: String,
    /// `stage`, `voice` or `external`.
    pub kind: String,
    /// `scheduled`, `active`, `completed` or `canceled`.
    pub status: String,
    /// The start in the community's time zone.
    pub starts_local: chrono::NaiveDateTime,
    pub interested: i32,
    pub attended: i32,
    pub interested_attended: i32,
    pub no_shows: i32,
    pub walk_ins: i32,
    /// interested_attended / interested in percent.
    pub attendance_rate: Option<f64>,
}

/// The events page's data: upcoming (and running) events, soonest first; past ones, newest
/// first.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct EventsOverview {
    pub upcoming: Vec<EventAttendance>,
    pub past: Vec<EventAttendance>,
}
