//! Logging set-up: human-readable lines with structured fields, filtered by `RUST_LOG`.

use tracing_subscriber::EnvFilter;

/// The log filter when `RUST_LOG` is not set (the README names it).
pub const DEFAULT_LOG_FILTER: &str = "info,sqlx=warn,serenity=warn,tower_sessions=warn";

pub fn init_tracing() {
    let filter =
        EnvFilter::try_from_default_env().unwrap_or_else(|_| EnvFilter::new(DEFAULT_LOG_FILTER));
    let stderr = std::io::stderr();
    // Colours only on a terminal; files and `docker logs` get plain text.
    let ansi = std::io::IsTerminal::is_terminal(&stderr);
    let _ = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr)
        .with_ansi(ansi)
        .try_init();
}
