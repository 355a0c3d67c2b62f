//! `guildhall servers add|list|disable|enable|regenerate-token`, `guildhall secrets
//! new-key|rotate` and `guildhall import-logs <server> <files…>` (historic logs, `.gz` too,
//! with progress). The admin's game servers in the browser (`/admin/servers`, the same
//! validation and storage in `collectors::game::server_settings`) are in [`admin`].

pub mod admin;

use crate::config::Config;
use anyhow::{Context, bail};
use chrono::{DateTime, NaiveDate, Utc};
use clap::{Args, Subcommand};
use collectors::game::logs::{
    DecodeCounts, Decoded, LineSplitter, LogFormat, LogSink, LogStream, RolloverCounter,
};
use collectors::game::records::GameLogRecord;
use collectors::game::server_settings::{
    CreatedServer, SaveError, SecretChange, ServerForm, create_server, prepare_secrets,
    regenerate_token, rotate_key, validate,
};
use collectors::game::servers::{Game, LogSource, load_settings, settings_by_name};
use collectors::game::sftp::{SftpAuth, SftpError, SftpFolder, SftpTarget};
use collectors::ingest::{IngestWriter, Receipt, WriterConfig};
use collectors::metrics::Metrics;
use collectors::secrets::SecretKey;
use collectors::steps::IpHasher;
use sqlx::PgPool;
use std::io::{BufRead, Read};
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::{Duration, Instant};

#[derive(Subcommand, Debug)]
pub enum ServersCommand {
    /// Add a game server; prints its HTTP log URL (shown this once).
    Add(Box<AddServer>),
    /// List the configured servers with each source's last success and error.
    List,
    /// Stop collecting from a server (its history stays).
    Disable {
        /// Name or id.
        server: String,
    },
    /// Collect from a disabled server again.
    Enable {
        /// Name or id.
        server: String,
    },
    /// Give a server a new HTTP log token and print its new log URL (shown this once); the
    /// old URL stops working.
    RegenerateToken {
        /// Name or id.
        server: String,
    },
}

#[derive(Subcommand, Debug)]
pub enum SecretsCommand {
    /// Print a new random secret key (for GUILDHALL_SECRET_KEY).
    NewKey,
    /// Seal every stored secret again with a new key, in one transaction: opens them with
    /// GUILDHALL_SECRET_KEY, seals them with the key in the environment variable named.
    Rotate {
        /// The environment variable holding the new key.
        #[arg(long, default_value = "GUILDHALL_NEW_SECRET_KEY")]
        new_key_env: String,
    },
}

#[derive(Args, Debug)]
pub struct AddServer {
    /// A name of your choice, unique (shown on the pages).
    #[arg(long)]
    pub name: String,
    /// cs2, csgo, tf2, source (another Source game) or minecraft.
    #[arg(long)]
    pub game: String,
    /// Host name or address of the game server (for RCON).
    #[arg(long)]
    pub host: String,
    /// RCON port (default: 27015 for Source games, 25575 for Minecraft).
    #[arg(long)]
    pub rcon_port: Option<u16>,
    /// RCON password; better passed in the environment than on the command line. Stored
    /// encrypted (needs GUILDHALL_SECRET_KEY).
    #[arg(long, env = "GUILDHALL_RCON_PASSWORD", hide_env_values = true)]
    pub rcon_password: Option<String>,
    /// Seconds between status polls.
    #[arg(long, default_value_t = 60)]
    pub poll_interval: u32,
    /// Where its logs come from: none, http (CS2 logaddress_add_http), file (a folder on
    /// this machine) or sftp.
    #[arg(long, default_value = "none")]
    pub log_source: String,
    /// The log folder (file), or the folder on the SFTP server (sftp).
    #[arg(long)]
    pub log_path: Option<String>,
    /// SFTP: the port of the SSH server holding the logs.
    #[arg(long, default_value_t = 22)]
    pub sftp_port: u16,
    /// SFTP: the login user.
    #[arg(long)]
    pub sftp_user: Option<String>,
    /// SFTP: the password; better passed in the environment than on the command line.
    /// Stored encrypted (needs GUILDHALL_SECRET_KEY).
    #[arg(long, env = "GUILDHALL_SFTP_PASSWORD", hide_env_values = true)]
    pub sftp_password: Option<String>,
    /// SFTP: log in with this private key file (OpenSSH format) instead of a password.
    /// Stored encrypted (needs GUILDHALL_SECRET_KEY).
    #[arg(long)]
    pub sftp_key_file: Option<PathBuf>,
    /// SFTP: the key file's passphrase, if it has one (used once to open the key, not
    /// stored).
    #[arg(long, env = "GUILDHALL_SFTP_KEY_PASSPHRASE", hide_env_values = true)]
    pub sftp_key_passphrase: Option<String>,
    /// SFTP: the server's host key fingerprint (`SHA256:…`, as `ssh-keygen -lf` prints it).
    /// Without it, `servers add` connects once and names the fingerprint to check.
    #[arg(long)]
    pub sftp_host_key: Option<String>,
    /// The IANA zone the server writes log times in (default: the community's).
    #[arg(long)]
    pub log_timezone: Option<String>,
    /// The Prometheus exporter's metrics URL (e.g. http://mc:9225/metrics).
    #[arg(long)]
    pub prometheus_url: Option<String>,
    /// Seconds between exporter scrapes.
    #[arg(long, default_value_t = 30)]
    pub metrics_interval: u32,
    /// Player slots, when the server's own max players is not what counts.
    #[arg(long)]
    pub capacity: Option<i32>,
}

impl AddServer {
    /// The form `servers add` fills in; reads the key file.
    fn form(&self) -> anyhow::Result<ServerForm> {
        let sftp_key = match &self.sftp_key_file {
            Some(path) => SecretChange::Replace(
                std::fs::read_to_string(path)
                    .with_context(|| format!("cannot read --sftp-key-file {}", path.display()))?,
            ),
            None => SecretChange::Keep,
        };
        Ok(ServerForm {
            name: self.name.clone(),
            game: self.game.clone(),
            host: self.host.clone(),
            rcon_port: self.rcon_port,
            rcon_password: SecretChange::from_option(self.rcon_password.as_deref()),
            poll_interval_secs: self.poll_interval,
            log_source: self.log_source.clone(),
            log_path: self.log_path.clone(),
            sftp_port: self.sftp_port,
            sftp_user: self.sftp_user.clone(),
            sftp_password: SecretChange::from_option(self.sftp_password.as_deref()),
            sftp_key,
            sftp_key_passphrase: self.sftp_key_passphrase.clone(),
            sftp_host_key: self.sftp_host_key.clone(),
            log_timezone: self.log_timezone.clone(),
            prometheus_url: self.prometheus_url.clone(),
            metrics_interval_secs: self.metrics_interval,
            capacity: self.capacity,
        })
    }
}

/// Runs a `servers` subcommand; what it prints is for the person at the terminal.
pub async fn servers(
    pool: &PgPool,
    config: &Config,
    command: ServersCommand,
) -> anyhow::Result<()> {
    match command {
        ServersCommand::Add(add) => {
            let created = add_server(pool, config.secret_key.as_ref(), &add).await?;
            say(&format!(
                "added game server {} (id {})",
                created.name, created.server_id
            ));
            let game = Game::parse(&add.game.to_ascii_lowercase());
            let source = LogSource::parse(&add.log_source.to_ascii_lowercase());
            if source == Some(LogSource::Http) || matches!(game, Some(Game::Cs2 | Game::Csgo)) {
                say_log_url(config, &created.ingest_token);
            }
            Ok(())
        }
        ServersCommand::List => {
            // Deleted servers (their history kept) are gone for the admin, here as in the
            // console.
            let deleted: Vec<i64> = sqlx::query_scalar(
                "select server_id from app.game_servers where deleted_at is not null",
            )
            .fetch_all(pool)
            .await?;
            let mut servers = load_settings(pool).await?;
            servers.retain(|server| !deleted.contains(&server.server_id));
            if servers.is_empty() {
                say("no game servers yet: add one with `guildhall servers add`");
                return Ok(());
            }
            type StatusRow = (i64, String, Option<DateTime<Utc>>, Option<String>);
            let status: Vec<StatusRow> = sqlx::query_as(
                "select server_id, source, last_success_at, last_error from app.game_source_status",
            )
            .fetch_all(pool)
            .await?;
            for server in servers {
                let rcon = server.rcon_addr().unwrap_or_else(|| "-".into());
                let sftp_login = match (server.sftp_key_set, server.sftp_password_set) {
                    (true, _) => " sftp key set",
                    (false, true) => " sftp password set",
                    (false, false) => "",
                };
                say(&format!(
                    "{:>4}  {:<24} {:<9} rcon {:<22} logs {:<5} metrics {:<4} {}  log token set{sftp_login}",
                    server.server_id,
                    server.name,
                    server.game.as_str(),
                    rcon,
                    server.log_source.as_str(),
                    if server.prometheus_url.is_some() {
                        "yes"
                    } else {
                        "no"
                    },
                    if server.enabled {
                        "enabled"
                    } else {
                        "disabled"
                    }
                ));
                for (_, source, success, error) in status.iter().filter(|s| s.0 == server.server_id)
                {
                    say(&format!(
                        "        {source:<8} last success {}  last error {}",
                        success.map_or_else(|| "never".into(), |t| t.to_rfc3339()),
                        error.as_deref().unwrap_or("none")
                    ));
                }
            }
            Ok(())
        }
        ServersCommand::Disable { server } => set_enabled(pool, &server, false).await,
        ServersCommand::Enable { server } => set_enabled(pool, &server, true).await,
        ServersCommand::RegenerateToken { server } => {
            let Some(found) = settings_by_name(pool, &server).await? else {
                bail!("no game server is named '{server}' (see `guildhall servers list`)");
            };
            let token = regenerate_token(pool, found.server_id)
                .await?
                .context("the server is gone")?;
            say(&format!(
                "new log token for {}: the old URL no longer works",
                found.name
            ));
            say_log_url(config, &token);
            Ok(())
        }
    }
}

/// Runs a `secrets` subcommand.
pub async fn secrets(
    pool: &PgPool,
    config: &Config,
    command: SecretsCommand,
) -> anyhow::Result<()> {
    match command {
        // Handled before the database is opened (see `cli::run`).
        SecretsCommand::NewKey => {
            print_new_key();
            Ok(())
        }
        SecretsCommand::Rotate { new_key_env } => {
            let Some(old) = config.secret_key.as_ref() else {
                bail!(
                    "GUILDHALL_SECRET_KEY is not set: set it to the current key, and {new_key_env} to the new one (`guildhall secrets new-key`)"
                );
            };
            let new = std::env::var(&new_key_env).unwrap_or_default();
            let new = SecretKey::parse(&new)
                .map_err(|error| anyhow::anyhow!("{new_key_env} is not a key: {error}"))?;
            if &new == old {
                bail!(
                    "{new_key_env} holds the key already in use: create a new one with `guildhall secrets new-key`"
                );
            }
            let report = rotate_key(pool, old, &new).await?;
            say(&format!(
                "sealed {} secret(s) of {} game server(s) again with key id {} (was {}): set \
                 GUILDHALL_SECRET_KEY to the new key wherever Guildhall runs and restart it",
                report.secrets,
                report.servers,
                new.id(),
                old.id()
            ));
            Ok(())
        }
    }
}

/// `guildhall secrets new-key`: prints a new random key, in base64, for
/// `GUILDHALL_SECRET_KEY`.
pub fn print_new_key() {
    say(&SecretKey::generate().to_base64());
}

/// The start-up step of `serve` and `collect`: seals passwords an earlier version stored in
/// clear and checks that the key opens every stored secret.
pub async fn check_secrets(pool: &PgPool, config: &Config) -> anyhow::Result<()> {
    let report = prepare_secrets(pool, config.secret_key.as_ref()).await?;
    if report.sealed_now > 0 {
        tracing::info!(
            sealed = report.sealed_now,
            "game server passwords stored in clear by an earlier version are now sealed"
        );
    }
    Ok(())
}

#[allow(clippy::print_stdout)]
fn say(text: &str) {
    println!("{text}");
}

fn say_log_url(config: &Config, token: &str) {
    let url = ingest_url(config, token);
    say(&format!(
        "HTTP log URL (shown only now; `guildhall servers regenerate-token` makes a new one): {url}\nin the server's config: logaddress_add_http \"{url}\""
    ));
}

/// The URL CS2 posts its logs to.
pub fn ingest_url(config: &Config, token: &str) -> String {
    format!(
        "{}/ingest/logs/{token}",
        config.public_url.as_str().trim_end_matches('/'),
    )
}

async fn set_enabled(pool: &PgPool, server: &str, enabled: bool) -> anyhow::Result<()> {
    let Some(found) = settings_by_name(pool, server).await? else {
        bail!("no game server is named '{server}' (see `guildhall servers list`)");
    };
    sqlx::query(
        "update app.game_servers set enabled = $2, updated_at = now() where server_id = $1",
    )
    .bind(found.server_id)
    .bind(enabled)
    .execute(pool)
    .await?;
    say(&format!(
        "{} {} (collectors pick it up within seconds)",
        if enabled { "enabled" } else { "disabled" },
        found.name
    ));
    Ok(())
}

/// Checks and stores a new server: every field's problem at once; an SFTP source is tried
/// before anything is stored.
pub async fn add_server(
    pool: &PgPool,
    key: Option<&SecretKey>,
    add: &AddServer,
) -> anyhow::Result<CreatedServer> {
    let form = add.form()?;
    let valid = validate(&form, Default::default()).map_err(|errors| {
        anyhow::anyhow!(
            "{}",
            errors
                .iter()
                .map(ToString::to_string)
                .collect::<Vec<_>>()
                .join("\n")
        )
    })?;
    if valid.writes_secrets() && key.is_none() {
        return Err(SaveError::NoKey.into());
    }
    if valid.log_source == LogSource::Sftp {
        check_sftp(&valid).await?;
    }
    Ok(create_server(pool, key, &form).await?)
}

/// An SFTP log source is tried before it is stored: the login, the pinned host key and the
/// folder. Without a pin the error names the key the server presented, to check and pass.
async fn check_sftp(valid: &collectors::game::server_settings::ValidServer) -> anyhow::Result<()> {
    let auth = match (&valid.sftp_key, &valid.sftp_password) {
        (SecretChange::Replace(key), _) => SftpAuth::key(key, None)?,
        (_, SecretChange::Replace(password)) => SftpAuth::Password(password.clone()),
        _ => bail!(
            "--log-source sftp needs --sftp-password (or GUILDHALL_SFTP_PASSWORD) or --sftp-key-file"
        ),
    };
    let (Some(user), Some(folder)) = (valid.sftp_user.clone(), valid.log_path.as_deref()) else {
        bail!("--log-source sftp needs --sftp-user and --log-path (the folder on the SFTP server)");
    };
    let target = SftpTarget {
        host: valid.host.clone(),
        port: valid.sftp_port,
        user,
        auth,
        host_key: valid.sftp_host_key.clone(),
        timeout: Duration::from_secs(15),
    };
    match SftpFolder::connect(&target, folder).await {
        Ok(remote) => {
            let files = remote.list().await?;
            say(&format!(
                "SFTP: {} log file(s) in {} on {}:{}",
                files.len(),
                remote.path(),
                target.host,
                target.port
            ));
            remote.close().await;
            Ok(())
        }
        Err(error @ SftpError::HostKeyNotPinned { .. }) => Err(anyhow::anyhow!(
            "{error}\ncheck it (ssh-keygen -lf on the server's host key) and pass it with --sftp-host-key"
        )),
        Err(error) => Err(error.into()),
    }
}

/// What an import did.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct ImportReport {
    pub files: u64,
    pub bytes: u64,
    pub lines: u64,
    pub stored: u64,
    pub duplicates: u64,
    pub unparsed: u64,
}

/// Records per committed batch.
const IMPORT_BATCH: usize = 5000;

/// `guildhall import-logs <server> <files…> [--date D]`: reads each file (`.gz`
/// decompressed, several gzip members too), stores its events like live ones (a line stored
/// before, from any source, is not stored twice) and shows progress on the terminal, or logs
/// it when there is none. Minecraft lines print only the time of day: the day of a file's
/// last line is `date`, else the date its name starts with (`2025-03-29-2.log.gz`); a file
/// with neither (and no date in its lines) is refused, naming it, before anything is stored.
pub async fn import_logs(
    pool: &PgPool,
    config: &Config,
    metrics: &Metrics,
    server: &str,
    files: &[PathBuf],
    date: Option<NaiveDate>,
) -> anyhow::Result<ImportReport> {
    let Some(server) = settings_by_name(pool, server).await? else {
        bail!("no game server is named '{server}' (see `guildhall servers list`)");
    };
    if files.is_empty() {
        bail!("name at least one log file to import");
    }
    let mut total_bytes = 0;
    for file in files {
        let meta =
            std::fs::metadata(file).with_context(|| format!("cannot read {}", file.display()))?;
        if !meta.is_file() {
            bail!("{} is not a file", file.display());
        }
        total_bytes += meta.len();
    }
    let format = LogFormat::for_game(server.game);
    let tz = server.log_tz(config.timezone);
    // Every file's first day, before anything is stored: a file that cannot be dated stops
    // the import with nothing half done.
    let starts = {
        let files = files.to_vec();
        tokio::task::spawn_blocking(move || {
            files
                .iter()
                .map(|path| first_day(path, format, tz, date))
                .collect::<anyhow::Result<Vec<_>>>()
        })
        .await
        .context("dating the files stopped")??
    };
    let (writer, writer_task) = IngestWriter::<GameLogRecord>::spawn(
        pool.clone(),
        WriterConfig {
            batch_size: IMPORT_BATCH,
            flush_interval: Duration::from_secs(1),
        },
        metrics.clone(),
    );
    let sink = LogSink::new(
        writer,
        metrics.clone(),
        Arc::new(IpHasher::new(pool.clone())),
    );
    let progress = Progress::new(total_bytes);
    let mut report = ImportReport::default();
    for (file, start) in files.iter().zip(starts) {
        progress.file(file);
        let (tx, mut rx) = tokio::sync::mpsc::channel::<(Decoded, u64)>(4);
        let path = file.clone();
        let server_id = server.server_id;
        let reader = tokio::task::spawn_blocking(move || {
            read_file(&path, server_id, format, tz, start, &tx)
        });
        while let Some((decoded, bytes)) = rx.recv().await {
            let receipt: Receipt = sink.commit(decoded).await?;
            report.stored += receipt.new;
            report.duplicates += receipt.duplicate;
            progress.advance(bytes);
        }
        let counts = reader.await.context("the file reader stopped")??;
        report.files += 1;
        report.lines += counts.lines;
        report.unparsed += counts.unparsed;
        report.bytes += std::fs::metadata(file).map(|m| m.len()).unwrap_or(0);
    }
    drop(sink);
    let _ = writer_task.await;
    progress.finish(&report);
    Ok(report)
}

/// Where a file's lines start: the local day of its first time-only line, and the instant
/// of lines before its first dated one (its last change).
#[derive(Clone, Copy, Debug)]
struct FileStart {
    day: NaiveDate,
    modified: DateTime<Utc>,
}

/// Dates a file. HL lines print their date: the day matters to no line. Minecraft lines
/// print only the time: the day of the file's last line is `date` (`--date`), else the
/// date its name starts with (`2026-11-30-2.log.gz`, as Minecraft names a rotated log),
/// and its first line is as many days earlier as midnight passes in it. A Minecraft file
/// with neither is refused, unless its lines print their dates (some layouts do).
fn first_day(
    path: &Path,
    format: LogFormat,
    tz: chrono_tz::Tz,
    date: Option<NaiveDate>,
) -> anyhow::Result<FileStart> {
    let meta =
        std::fs::metadata(path).with_context(|| format!("cannot read {}", path.display()))?;
    let modified: DateTime<Utc> = meta.modified().map_or_else(|_| Utc::now(), DateTime::from);
    let last_day = date.or_else(|| day_from_name(path));
    if format == LogFormat::Hl {
        let day = last_day.unwrap_or_else(|| modified.with_timezone(&tz).date_naive());
        return Ok(FileStart { day, modified });
    }
    // A first pass over the file, a buffer at a time like the second: the file is never
    // held whole, whatever its size.
    let gz = is_gzip(path)?;
    let counter = count_rollovers(buffered(std::fs::File::open(path)?, gz))
        .with_context(|| format!("cannot read {}", path.display()))?;
    let last_day = match last_day {
        Some(day) => day,
        // Only the lines before the first dated one use it (dated by the file's change).
        None if counter.dated() => modified.with_timezone(&tz).date_naive(),
        None => bail!(
            "{}: Minecraft lines print only the time of day, and neither the file's name \
             (like 2025-03-29-2.log.gz) nor its lines give the date; pass the day of its last \
             line with --date YYYY-MM-DD (one such file per import)",
            path.display()
        ),
    };
    Ok(FileStart {
        day: last_day - chrono::Duration::days(i64::from(counter.rollovers())),
        modified,
    })
}

/// Reads one file in the blocking pool, sending batches with the bytes they advanced.
fn read_file(
    path: &Path,
    server_id: i64,
    format: LogFormat,
    tz: chrono_tz::Tz,
    start: FileStart,
    tx: &tokio::sync::mpsc::Sender<(Decoded, u64)>,
) -> anyhow::Result<DecodeCounts> {
    let gz = is_gzip(path)?;
    let mut stream = LogStream::new(server_id, format, tz, start.day, start.modified);
    let counting = CountingReader::new(std::fs::File::open(path)?);
    let consumed = counting.counter();
    let mut reader = buffered(counting, gz);
    let mut reported = 0u64;
    let mut send = |stream: &mut LogStream| {
        let now = consumed.load(std::sync::atomic::Ordering::Relaxed);
        let sent = tx.blocking_send((stream.take(), now - reported));
        reported = now;
        sent.map_err(|_| anyhow::anyhow!("the import was stopped"))
    };
    loop {
        let chunk = reader.fill_buf()?;
        if chunk.is_empty() {
            break;
        }
        let n = chunk.len();
        stream.push(chunk);
        reader.consume(n);
        if stream.ready() >= IMPORT_BATCH {
            send(&mut stream)?;
        }
    }
    stream.finish();
    send(&mut stream)?;
    Ok(stream.counts())
}

fn is_gzip(path: &Path) -> std::io::Result<bool> {
    let mut magic = [0u8; 2];
    let mut file = std::fs::File::open(path)?;
    Ok(file.read(&mut magic)? == 2 && magic == [0x1f, 0x8b])
}

/// The file's text as a buffered reader (`.gz` decompressed on the way, several members
/// too): what the import holds of a file is this buffer, never the whole file.
fn buffered(file: impl Read + Send + 'static, gz: bool) -> Box<dyn BufRead + Send> {
    if gz {
        Box::new(std::io::BufReader::with_capacity(
            READ_BUFFER,
            flate2::read::MultiGzDecoder::new(std::io::BufReader::new(file)),
        ))
    } else {
        Box::new(std::io::BufReader::with_capacity(READ_BUFFER, file))
    }
}

/// Bytes read from a file (or its decompressed text) at a time.
const READ_BUFFER: usize = 256 * 1024;

/// How often midnight passes in a Minecraft log, and whether its lines print dates (see
/// [`RolloverCounter`]), read a buffer at a time.
pub fn count_rollovers(mut reader: impl BufRead) -> std::io::Result<RolloverCounter> {
    let mut splitter = LineSplitter::default();
    let mut counter = RolloverCounter::default();
    loop {
        let chunk = reader.fill_buf()?;
        if chunk.is_empty() {
            break;
        }
        let n = chunk.len();
        splitter.push(chunk, |line| counter.line(line.bytes));
        reader.consume(n);
    }
    splitter.finish(|line| counter.line(line.bytes));
    Ok(counter)
}

/// `2026-11-30-2.log.gz` → 30 November 2026.
fn day_from_name(path: &Path) -> Option<NaiveDate> {
    let name = path.file_name()?.to_str()?;
    NaiveDate::parse_from_str(name.get(..10)?, "%Y-%m-%d").ok()
}

/// Counts the bytes read from the file (compressed bytes for `.gz`), for the progress.
struct CountingReader<R> {
    inner: R,
    count: Arc<std::sync::atomic::AtomicU64>,
}

impl<R> CountingReader<R> {
    fn new(inner: R) -> Self {
        Self {
            inner,
            count: Arc::new(std::sync::atomic::AtomicU64::new(0)),
        }
    }

    fn counter(&self) -> Arc<std::sync::atomic::AtomicU64> {
        self.count.clone()
    }
}

impl<R: Read> Read for CountingReader<R> {
    fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
        let n = self.inner.read(buf)?;
        self.count
            .fetch_add(n as u64, std::sync::atomic::Ordering::Relaxed);
        Ok(n)
    }
}

/// A progress bar on a terminal; without one, a log line every few seconds.
struct Progress {
    bar: indicatif::ProgressBar,
    started: Instant,
    last_line: std::sync::Mutex<Instant>,
    total: u64,
}

impl Progress {
    fn new(total: u64) -> Self {
        let bar = indicatif::ProgressBar::with_draw_target(
            Some(total),
            indicatif::ProgressDrawTarget::stderr(),
        );
        if let Ok(style) = indicatif::ProgressStyle::with_template(
            "{msg} [{bar:30}] {bytes}/{total_bytes} {bytes_per_sec} eta {eta}",
        ) {
            bar.set_style(style.progress_chars("=> "));
        }
        Self {
            bar,
            started: Instant::now(),
            last_line: std::sync::Mutex::new(Instant::now()),
            total,
        }
    }

    fn file(&self, path: &Path) {
        let name = path
            .file_name()
            .map_or_else(String::new, |n| n.to_string_lossy().into_owned());
        if self.bar.is_hidden() {
            tracing::info!(file = %name, "importing");
        } else {
            self.bar.set_message(name);
        }
    }

    fn advance(&self, bytes: u64) {
        self.bar.inc(bytes);
        if self.bar.is_hidden()
            && let Ok(mut last) = self.last_line.lock()
            && last.elapsed() >= Duration::from_secs(5)
        {
            *last = Instant::now();
            let done = self.bar.position();
            let secs = self.started.elapsed().as_secs_f64().max(0.001);
            let rate = done as f64 / secs;
            let eta = if rate > 0.0 {
                (self.total.saturating_sub(done)) as f64 / rate
            } else {
                0.0
            };
            tracing::info!(
                done_mb = done / (1 << 20),
                total_mb = self.total / (1 << 20),
                mb_per_s = format!("{:.1}", rate / f64::from(1 << 20)),
                eta_s = eta.round() as u64,
                "importing logs"
            );
        }
    }

    fn finish(&self, report: &ImportReport) {
        self.bar.finish_and_clear();
        let secs = self.started.elapsed().as_secs_f64().max(0.001);
        tracing::info!(
            files = report.files,
            lines = report.lines,
            stored = report.stored,
            already_stored = report.duplicates,
            unreadable_kept = report.unparsed,
            seconds = format!("{secs:.1}"),
            lines_per_s = (report.lines as f64 / secs).round() as u64,
            "import finished"
        );
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;
    use collectors::game::logs::day_rollovers;

    /// Read a few bytes at a time (lines cut anywhere, a last line without its break), the
    /// midnights counted are those of the whole text.
    #[test]
    fn rollovers_counted_a_buffer_at_a_time_match_the_whole_text() {
        let text = "[22:00:00] [Server thread/INFO]: Done (1.2s)! For help, type \"help\"\n\
                    [23:59:59] [Server thread/INFO]: Alex joined the game\n\
                    \tat net.minecraft.server.Main.main(Main.java:1)\n\
                    [00:00:01] [Server thread/INFO]: Alex left the game\n\
                    [12:00:00] [Server thread/INFO]: Saving the game\n\
                    [23:00:00] [Server thread/INFO]: Saving the game\n\
                    [01:00:00] [Server thread/INFO]: Stopping server";
        assert_eq!(day_rollovers(text.lines()), 2);
        for capacity in [1, 3, 7, 64, 4096] {
            let reader = std::io::BufReader::with_capacity(capacity, text.as_bytes());
            let counter = count_rollovers(reader).unwrap();
            assert_eq!(counter.rollovers(), 2, "buffer of {capacity}");
            assert!(!counter.dated());
        }
        let gz = {
            use std::io::Write as _;
            let mut encoder =
                flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast());
            encoder.write_all(text.as_bytes()).unwrap();
            encoder.finish().unwrap()
        };
        assert_eq!(
            count_rollovers(buffered(std::io::Cursor::new(gz), true))
                .unwrap()
                .rollovers(),
            2
        );
    }
}
