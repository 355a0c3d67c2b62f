//! Guildhall's server: configuration, database, web router, authentication, the collector
//! supervisor and the pipeline. `main.rs` is a thin shim over [`cli`].
// The pages' view types are deep (the admin's game servers page among them).
#![recursion_limit = "256"]

pub mod auth;
pub mod cli;
pub mod clock;
pub mod config;
pub mod db;
pub mod demo;
pub mod game_logs;
pub mod game_servers;
pub mod pipeline;
pub mod state;
pub mod supervisor;
pub mod telemetry;
pub mod web;
