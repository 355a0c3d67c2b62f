//! Shared test peers for the server's integration tests.

// Each test binary uses a different part of the support code.
#![allow(dead_code)]

pub mod fake_discord;
pub mod proxy;
