//! Test peers for what Guildhall talks to but tests cannot reach: game servers' RCON and
//! SFTP servers.

pub mod fake_rcon;
pub mod fake_sftp;
