//! The game servers: CS2 and other Source games, and Minecraft. Each configured server
//! (`app.game_servers`) becomes up to three sources — RCON status polls, its logs (HTTP
//! push, a mounted folder, SFTP, historic imports) and its Prometheus exporter — written to
//! bronze through the one ingest writer. [`collector::GameServers`] runs them and follows
//! configuration changes without a restart.

pub mod collector;
pub mod event;
pub mod hl_log;
pub mod kind;
pub mod list_reply;
pub mod logs;
pub mod mc_log;
pub mod poller;
pub mod prometheus;
pub mod rcon;
pub mod records;
pub mod server_settings;
pub mod servers;
pub mod sftp;
pub mod status_reply;
pub mod steamid;
pub mod tail;
