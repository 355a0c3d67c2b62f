//! What the HTTP handlers share: the app's state (pool, page settings), the configuration,
//! metrics, the outgoing HTTP client, the browser bundle's names and the log ingest. Kept
//! apart from the router so the handlers in `auth` and `web` both read it without
//! importing each other.

use crate::config::Config;
use anyhow::Context;
use app::ssr::{AppState, PageSettings};
use axum::extract::FromRef;
use collectors::metrics::Metrics;
use leptos::config::LeptosOptions;
use sqlx::PgPool;
use std::path::{Path, PathBuf};
use std::sync::Arc;

/// Everything the HTTP handlers share.
#[derive(Clone)]
pub struct ServerState {
    pub app: AppState,
    pub config: Arc<Config>,
    pub metrics: Metrics,
    /// Client for outgoing calls (Discord's token and user endpoints).
    pub http: reqwest::Client,
    /// The browser bundle's file names, as every page links them.
    pub assets: Arc<SiteAssets>,
    /// CS2's HTTP log shipping.
    pub log_ingest: crate::game_logs::LogIngest,
    /// The admin's game servers, for the server functions (through the Leptos context).
    pub game_server_admin: app::ssr::game_servers::GameServerAdminHandle,
}

/// The browser bundle as pages link it. A bundled site (`scripts/bundle-site.sh`) has
/// content hashes in its file names, listed in `pkg/hash.txt`; such files never change, so
/// browsers may keep them for a year.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SiteAssets {
    /// Path of the stylesheet, e.g. `/pkg/guildhall.0123456789abcdef.css`.
    pub stylesheet: String,
    /// Absolute path of `hash.txt`, when the site is fingerprinted.
    pub hash_file: Option<PathBuf>,
}

impl SiteAssets {
    /// Reads `<site_root>/pkg/hash.txt`; without it the plain names are used.
    pub fn read(site_root: &Path) -> Self {
        let hash_file = site_root.join("pkg").join("hash.txt");
        let Ok(text) = std::fs::read_to_string(&hash_file) else {
            tracing::warn!(
                site_root = %site_root.display(),
                "the site has no pkg/hash.txt (build it with `make site`): serving unhashed file names without long caching"
            );
            return Self {
                stylesheet: "/pkg/guildhall.css".into(),
                hash_file: None,
            };
        };
        let css = text.lines().find_map(|line| {
            let (kind, hash) = line.split_once(':')?;
            (kind.trim() == "css").then(|| hash.trim().to_owned())
        });
        Self {
            stylesheet: match css {
                Some(hash) => format!("/pkg/guildhall.{hash}.css"),
                None => "/pkg/guildhall.css".into(),
            },
            hash_file: std::path::absolute(&hash_file).ok(),
        }
    }
}

impl ServerState {
    /// Assembles the state for a configuration and a connected, migrated pool.
    pub fn new(config: Arc<Config>, pool: PgPool, metrics: Metrics) -> anyhow::Result<Self> {
        let assets = SiteAssets::read(&config.site_root);
        // Leptos joins `hash_file` to the binary's directory; an absolute path replaces it.
        let leptos_options = LeptosOptions::builder()
            .output_name("guildhall")
            .site_root(config.site_root.to_string_lossy().into_owned())
            .site_pkg_dir("pkg")
            .site_addr(config.bind)
            .hash_files(assets.hash_file.is_some())
            .hash_file(
                assets
                    .hash_file
                    .as_ref()
                    .map(|path| path.to_string_lossy().into_owned())
                    .unwrap_or_else(|| "hash.txt".into())
                    .into(),
            )
            .build();
        let http = reqwest::Client::builder()
            .redirect(reqwest::redirect::Policy::none())
            .timeout(std::time::Duration::from_secs(15))
            .build()
            .context("building the HTTP client")?;
        let pool_for_ingest = pool.clone();
        let game_server_admin = app::ssr::game_servers::GameServerAdminHandle(Arc::new(
            crate::game_servers::admin::ServerAdmin::new(
                pool.clone(),
                config.public_url.clone(),
                config.secret_key.clone(),
            ),
        ));
        Ok(Self {
            game_server_admin,
            app: AppState {
                pool,
                leptos_options,
                settings: Arc::new(PageSettings {
                    timezone: config.timezone.name().to_owned(),
                    bronze_retention_days: config.pipeline.bronze_retention_days,
                    message_content: config.discord.message_content,
                    demo_mode: config.demo,
                    bot_enabled: config.bot_token().is_some(),
                    admin_ids: config.admin_ids.clone(),
                    leader_ids: config.leader_ids.clone(),
                    spool_dir: config.spool_dir.clone(),
                    pipeline_jobs: crate::pipeline::plan()
                        .into_iter()
                        .map(|job| app::ssr::PipelineJob {
                            name: job.name.as_str().to_owned(),
                            bronze_input: match job.progress {
                                crate::pipeline::Progress::BronzeIds { table } => {
                                    Some(table.as_str().to_owned())
                                }
                                crate::pipeline::Progress::DirtyDays => None,
                            },
                        })
                        .collect(),
                }),
            },
            log_ingest: crate::game_logs::LogIngest::start(
                &pool_for_ingest,
                &metrics,
                config.timezone,
                config.games.log_body_limit_kb.saturating_mul(1024),
                std::time::Duration::from_millis(config.games.log_ack_timeout_ms),
            ),
            config,
            metrics,
            http,
            assets: Arc::new(assets),
        })
    }
}

impl FromRef<ServerState> for LeptosOptions {
    fn from_ref(state: &ServerState) -> Self {
        state.app.leptos_options.clone()
    }
}

impl FromRef<ServerState> for AppState {
    fn from_ref(state: &ServerState) -> Self {
        state.app.clone()
    }
}

impl FromRef<ServerState> for PgPool {
    fn from_ref(state: &ServerState) -> Self {
        state.app.pool.clone()
    }
}
