//! Test peers for what Guildhall talks to but tests cannot reach: game servers' RCON.

pub mod fake_rcon;
