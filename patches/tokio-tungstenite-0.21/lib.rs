//! tokio-tungstenite 0.21 for serenity 0.12, re-exporting tokio-tungstenite 0.24 (rustls 0.23
//! instead of rustls 0.22 / rustls-webpki 0.102). Why: see this crate's Cargo.toml.
pub use upstream::*;
