//! Game server logs, one path for every source: a [`LogStream`] turns a source's bytes into
//! records (`decode`), and the [`LogSink`] runs them through the ingest steps (`steps`),
//! commits them with the writer and keeps the source's cursor (`sink`). HTTP push
//! (`server/src/game_logs.rs`), a followed folder or SFTP (`game/tail.rs`), `import-logs`
//! (`server/src/game_servers.rs`) and the demo all go this way, so a fix to line handling
//! lands everywhere at once.

mod decode;
mod sink;
mod steps;

pub use decode::{
    ADDRESS_MARK, CHAT_MARK, DecodeCounts, Decoded, Line, LineDecoder, LineSplitter, LogFormat,
    LogStream, MAX_LINE_BYTES, QuarantinedLine, RolloverCounter, day_rollovers, local_to_utc,
    quarantined_line, redact_line,
};
pub use sink::{LogCursor, LogSink};
pub use steps::{
    ChatLength, HashAddress, LinkCommand, OptedOutPlayers, code_hash, link_code, log_steps,
    player_opted_out, prepare_salts,
};
