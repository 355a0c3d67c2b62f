//! Logging set-up: human-readable lines with structured fields, filtered by `RUST_LOG`.
//!
//! Whatever `RUST_LOG` asks for, the gateway libraries are capped ([`PRIVACY_CAPS`]): at
//! their most verbose they log the raw payloads Discord sends (message content among them),
//! and serenity logs a payload it cannot read whole, as a warning.

use tracing::Level;
use tracing_subscriber::filter::Targets;
use tracing_subscriber::layer::SubscriberExt;
use tracing_subscriber::util::SubscriberInitExt;
use tracing_subscriber::{EnvFilter, Layer};

/// The log filter when `RUST_LOG` is not set (the README names it).
pub const DEFAULT_LOG_FILTER: &str = "info,sqlx=warn,serenity=warn,tower_sessions=warn";

/// The most verbose level each library that sees gateway payloads may log at.
pub const PRIVACY_CAPS: &[(&str, Level)] = &[
    ("serenity", Level::INFO),
    // Logs undecodable payloads whole, at `warn`.
    ("serenity::gateway::ws", Level::ERROR),
    ("tungstenite", Level::INFO),
    ("tokio_tungstenite", Level::INFO),
];

pub fn init_tracing() {
    let filter =
        EnvFilter::try_from_default_env().unwrap_or_else(|_| EnvFilter::new(DEFAULT_LOG_FILTER));
    let caps = PRIVACY_CAPS.iter().fold(
        Targets::new().with_default(Level::TRACE),
        |caps, &(target, level)| caps.with_target(target, level),
    );
    let stderr = std::io::stderr();
    // Colours only on a terminal; files and `docker logs` get plain text.
    let ansi = std::io::IsTerminal::is_terminal(&stderr);
    let _ = tracing_subscriber::registry()
        .with(
            tracing_subscriber::fmt::layer()
                .with_writer(std::io::stderr)
                .with_ansi(ansi)
                .with_filter(filter)
                .with_filter(caps),
        )
        .try_init();
}
