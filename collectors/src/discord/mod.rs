//! Discord source: the bot that watches the gateway ([`bot`]) and the bronze records it
//! writes (module `records`, re-exported here).

pub mod bot;
mod records;
pub mod sequencer;

pub use records::{
    JoinSource, MemberEvent, MemberEventKind, MemberOrigin, MessageEvent, ScheduledEventChange,
    VoiceEvent, VoiceOrigin, snowflake_time,
};
