//! Command line: one binary with subcommands. Each subcommand loads the configuration,
//! prepares the database and does one thing.

use crate::config::Config;
use crate::pipeline::{JobName, Pipeline, Trigger};
use crate::{db, demo, supervisor, web};
use anyhow::Context;
use chrono::NaiveDate;
use clap::{Parser, Subcommand};
use collectors::metrics::Metrics;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;
use tokio_util::sync::CancellationToken;

#[derive(Parser, Debug)]
#[command(
    name = "guildhall",
    version,
    about = "Community intelligence for gaming communities"
)]
pub struct Cli {
    /// Configuration file (default: ./guildhall.toml when it exists; or GUILDHALL_CONFIG).
    #[arg(long, global = true)]
    pub config: Option<PathBuf>,
    #[command(subcommand)]
    pub command: Option<Command>,
}

#[derive(Subcommand, Debug)]
pub enum Command {
    /// Serve the web app, run the collectors and the pipeline scheduler (the default).
    Serve,
    /// Run only the collectors, as a process of its own (with `GUILDHALL_SERVE_COLLECTORS=false`
    /// for `serve`); the web app shows their status from the database.
    Collect,
    /// Create the database if missing and apply migrations, then exit.
    Migrate,
    /// Write a deterministic synthetic community into bronze.
    Demo {
        /// Number of members.
        #[arg(long, default_value_t = 150)]
        members: u32,
        /// Number of days of history, ending yesterday.
        #[arg(long, default_value_t = 90)]
        days: u32,
        /// Random seed: the same seed gives the same community.
        #[arg(long, default_value_t = 42)]
        seed: u64,
        /// Do nothing when bronze already holds voice events.
        #[arg(long)]
        if_empty: bool,
    },
    /// Run one pipeline job (or `all`) incrementally from its watermark.
    RunJob {
        /// Job name, or `all` for every job in dependency order.
        name: String,
    },
    /// Add, list, disable or enable game servers.
    Servers {
        #[command(subcommand)]
        command: crate::game_servers::ServersCommand,
    },
    /// Create a secret key, or rotate the key the servers' passwords and keys are sealed with.
    Secrets {
        #[command(subcommand)]
        command: crate::game_servers::SecretsCommand,
    },
    /// Import historic game server logs (`.log`, `.log.gz`) of one server.
    ImportLogs {
        /// The server's name or id (see `guildhall servers list`).
        server: String,
        /// The log files.
        #[arg(required = true)]
        files: Vec<PathBuf>,
        /// Minecraft: the day (YYYY-MM-DD) the files' last lines are on, for files whose
        /// name does not start with it (as a rotated `2025-03-29-2.log.gz` does).
        #[arg(long)]
        date: Option<NaiveDate>,
    },
    /// Recompute every job (or one) for a range of local days.
    Backfill {
        /// First day (YYYY-MM-DD), inclusive.
        #[arg(long)]
        from: NaiveDate,
        /// Last day (YYYY-MM-DD), inclusive.
        #[arg(long)]
        to: NaiveDate,
        /// Only this job.
        #[arg(long)]
        job: Option<String>,
    },
}

/// Runs the parsed command line.
pub async fn run(cli: Cli) -> anyhow::Result<()> {
    // A new key needs neither configuration nor database.
    if let Some(Command::Secrets {
        command: crate::game_servers::SecretsCommand::NewKey,
    }) = &cli.command
    {
        crate::game_servers::print_new_key();
        return Ok(());
    }
    let config = Config::load(cli.config.as_deref())?;
    let url = secrecy::ExposeSecret::expose_secret(&config.database_url).to_owned();
    db::create_database_if_missing(&url).await?;
    let pool = db::connect(&url).await?;
    db::migrate(&pool).await?;
    let metrics = Metrics::new();
    let pipeline = Pipeline::new(pool.clone(), config.timezone, metrics.clone())
        .with_profile_weeks(config.games.profile_weeks);
    let command = cli.command.unwrap_or(Command::Serve);
    if matches!(command, Command::Serve | Command::Collect) {
        crate::game_servers::check_secrets(&pool, &config).await?;
    }
    match command {
        Command::Serve => serve(config, pool, metrics, pipeline).await,
        Command::Collect => collect(config, pool, metrics, pipeline).await,
        Command::Migrate => {
            tracing::info!(database = %config.database_url_redacted(), "database is up to date");
            Ok(())
        }
        Command::Demo {
            members,
            days,
            seed,
            if_empty,
        } => {
            let params = demo::DemoParams {
                members,
                days,
                seed,
                end: chrono::Utc::now()
                    .with_timezone(&config.timezone)
                    .date_naive(),
                timezone: config.timezone,
            };
            if if_empty && demo::has_voice_events(&pool).await? {
                tracing::info!("bronze already holds voice events; leaving the demo community out");
                return Ok(());
            }
            let written = demo::write(&pool, &params, &metrics).await?;
            tracing::info!(
                events = written,
                members,
                days,
                seed,
                "demo community written"
            );
            Ok(())
        }
        Command::RunJob { name } => {
            let reports = if name == "all" {
                pipeline.run_all(Trigger::Manual).await?
            } else {
                vec![
                    pipeline
                        .run_job(name.parse::<JobName>()?, Trigger::Manual)
                        .await?,
                ]
            };
            for report in reports {
                tracing::info!(
                    job = report.job.as_str(),
                    rows = report.rows,
                    duration_ms = report.duration_ms,
                    "job finished"
                );
            }
            Ok(())
        }
        Command::Servers { command } => crate::game_servers::servers(&pool, &config, command).await,
        Command::Secrets { command } => crate::game_servers::secrets(&pool, &config, command).await,
        Command::ImportLogs {
            server,
            files,
            date,
        } => {
            crate::game_servers::import_logs(&pool, &config, &metrics, &server, &files, date)
                .await?;
            Ok(())
        }
        Command::Backfill { from, to, job } => {
            let only = job.as_deref().map(str::parse::<JobName>).transpose()?;
            let reports = pipeline.backfill(from, to, only).await?;
            // One line per job over all its chunks.
            let mut totals: Vec<(JobName, i64, i64)> = Vec::new();
            for report in reports {
                match totals.iter_mut().find(|(job, _, _)| *job == report.job) {
                    Some((_, rows, ms)) => {
                        *rows += report.rows;
                        *ms += report.duration_ms;
                    }
                    None => totals.push((report.job, report.rows, report.duration_ms)),
                }
            }
            for (job, rows, duration_ms) in totals {
                tracing::info!(job = job.as_str(), rows, duration_ms, "backfill finished");
            }
            Ok(())
        }
    }
}

async fn serve(
    config: Config,
    pool: sqlx::PgPool,
    metrics: Metrics,
    pipeline: Pipeline,
) -> anyhow::Result<()> {
    // Listen for Ctrl-C and SIGTERM before anything starts, so a stop during start-up is a
    // clean shutdown too.
    let stop_requested = shutdown_signal()?;
    let config = Arc::new(config);
    let state = crate::state::ServerState::new(config.clone(), pool.clone(), metrics.clone())?;
    crate::auth::bootstrap_roles(&pool, &config.admin_ids, &config.leader_ids).await?;

    let shutdown = CancellationToken::new();
    let work = if config.serve_collectors {
        supervisor::Work::Everything
    } else {
        tracing::info!("GUILDHALL_SERVE_COLLECTORS is off: collectors run in `guildhall collect`");
        supervisor::Work::PipelineOnly
    };
    let background = supervisor::start(
        &config,
        pool.clone(),
        metrics.clone(),
        pipeline,
        work,
        shutdown.clone(),
    );

    let router = web::router(state)?;
    let listener = bind(config.bind, "GUILDHALL_BIND").await?;
    let metrics_server = match config.metrics_bind {
        Some(address) => {
            let listener = bind(address, "GUILDHALL_METRICS_BIND").await?;
            tracing::info!(%address, "serving /metrics for Prometheus");
            let stop = shutdown.clone();
            Some(tokio::spawn(
                axum::serve(listener, web::metrics_router(metrics.clone()))
                    .with_graceful_shutdown(async move { stop.cancelled().await })
                    .into_future(),
            ))
        }
        None => None,
    };
    tracing::info!(address = %config.public_url, demo = config.demo, "Guildhall is serving");
    let signal = shutdown.clone();
    let served = web::serve(listener, router, async move {
        stop_requested.await;
        tracing::info!("shutting down: stopping collectors and writing what is buffered");
        signal.cancel();
    });
    tokio::pin!(served);
    let early_end = tokio::select! {
        result = &mut served => Some(result),
        () = shutdown.cancelled() => None,
    };
    // From here on everything shares one deadline: open requests finish (a log post waits
    // at most its own deadline), collectors stop and the writers commit or spool.
    shutdown.cancel();
    let grace = Duration::from_secs(config.shutdown_timeout_secs);
    let deadline = tokio::time::Instant::now() + grace;
    let http = async {
        let result = match early_end {
            Some(result) => Some(result),
            None => tokio::time::timeout_at(deadline, &mut served).await.ok(),
        };
        match result {
            Some(result) => result.context("the web server failed"),
            None => {
                tracing::warn!(
                    "shutting down: open requests did not finish by the deadline; closing them"
                );
                Ok(())
            }
        }
    };
    let metrics_listener = async {
        if let Some(server) = metrics_server {
            match tokio::time::timeout_at(deadline, server).await {
                Ok(Ok(Err(error))) => tracing::warn!(%error, "the metrics listener failed"),
                Err(_) => {
                    tracing::warn!("shutting down: the metrics listener did not stop in time")
                }
                _ => {}
            }
        }
    };
    let (served, (), _) = tokio::join!(http, metrics_listener, background.stop(grace));
    served
}

/// `guildhall collect`: the collectors until Ctrl-C or SIGTERM.
async fn collect(
    config: Config,
    pool: sqlx::PgPool,
    metrics: Metrics,
    pipeline: Pipeline,
) -> anyhow::Result<()> {
    let stop_requested = shutdown_signal()?;
    let shutdown = CancellationToken::new();
    let background = supervisor::start(
        &config,
        pool,
        metrics,
        pipeline,
        supervisor::Work::CollectorsOnly,
        shutdown.clone(),
    );
    tracing::info!("collectors are running");
    stop_requested.await;
    tracing::info!("shutting down: stopping collectors and writing what is buffered");
    shutdown.cancel();
    background
        .stop(Duration::from_secs(config.shutdown_timeout_secs))
        .await;
    Ok(())
}

/// Binds a listener whose connections send every response at once: with Nagle's algorithm
/// on, a response on a kept-alive connection waits for the client's delayed ACK (about
/// 40 ms each).
/// (A named listener type: the web server reads each connection's peer address from it.)
async fn bind(address: std::net::SocketAddr, setting: &str) -> anyhow::Result<NoDelayListener> {
    use axum::serve::ListenerExt;
    let listener = tokio::net::TcpListener::bind(address)
        .await
        .with_context(|| format!("cannot listen on {setting}={address}"))?;
    Ok(listener.tap_io(no_delay as fn(&mut tokio::net::TcpStream)))
}

type NoDelayListener = axum::serve::TapIo<tokio::net::TcpListener, fn(&mut tokio::net::TcpStream)>;

fn no_delay(stream: &mut tokio::net::TcpStream) {
    if let Err(error) = stream.set_nodelay(true) {
        tracing::warn!(%error, "cannot turn on TCP_NODELAY");
    }
}

/// Registers for Ctrl-C (SIGINT) and SIGTERM (what `docker stop` sends) now; the returned
/// future resolves when either arrives, even if it arrived before the future was polled.
fn shutdown_signal() -> anyhow::Result<impl Future<Output = ()>> {
    use tokio::signal::unix::{SignalKind, signal};
    let mut interrupt = signal(SignalKind::interrupt()).context("cannot listen for Ctrl-C")?;
    let mut terminate = signal(SignalKind::terminate()).context("cannot listen for SIGTERM")?;
    Ok(async move {
        tokio::select! {
            _ = interrupt.recv() => {}
            _ = terminate.recv() => {}
        }
    })
}
