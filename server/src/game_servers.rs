//! `guildhall servers add|list|disable|enable` (until the admin pages edit servers) and
//! `guildhall import-logs <server> <files…>` (historic logs, `.gz` too, with progress).

use crate::config::Config;
use anyhow::{Context, bail};
use chrono::{DateTime, NaiveDate, Utc};
use clap::{Args, Subcommand};
use collectors::game::logs::{
    DecodeCounts, Decoded, LineSplitter, LogFormat, LogSink, LogStream, RolloverCounter,
};
use collectors::game::records::GameLogRecord;
use collectors::game::servers::{Game, GameServer, LogSource, load_servers, server_by_name};
use collectors::game::sftp::{SftpError, SftpFolder, SftpTarget};
use collectors::ingest::{IngestWriter, Receipt, WriterConfig};
use collectors::metrics::Metrics;
use collectors::steps::IpHasher;
use sqlx::PgPool;
use std::io::{BufRead, Read};
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::{Duration, Instant};

#[derive(Subcommand, Debug)]
pub enum ServersCommand {
    /// Add a game server; prints its HTTP log URL.
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
    /// RCON password; better passed in the environment than on the command line.
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
    #[arg(long, env = "GUILDHALL_SFTP_PASSWORD", hide_env_values = true)]
    pub sftp_password: Option<String>,
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

/// Runs a `servers` subcommand; what it prints is for the person at the terminal.
pub async fn servers(
    pool: &PgPool,
    config: &Config,
    command: ServersCommand,
) -> anyhow::Result<()> {
    match command {
        ServersCommand::Add(add) => {
            let server = add_server(pool, &add).await?;
            say(&format!(
                "added game server {} (id {})",
                server.name, server.server_id
            ));
            if server.log_source == LogSource::Http || matches!(server.game, Game::Cs2 | Game::Csgo)
            {
                say(&format!(
                    "HTTP log URL: {}\nin the server's config: logaddress_add_http \"{}\"",
                    ingest_url(config, &server),
                    ingest_url(config, &server)
                ));
            }
            Ok(())
        }
        ServersCommand::List => {
            let servers = load_servers(pool).await?;
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
                say(&format!(
                    "{:>4}  {:<24} {:<9} rcon {:<22} logs {:<5} metrics {:<4} {}",
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
    }
}

#[allow(clippy::print_stdout)]
fn say(text: &str) {
    println!("{text}");
}

/// The URL CS2 posts its logs to.
pub fn ingest_url(config: &Config, server: &GameServer) -> String {
    format!(
        "{}/ingest/logs/{}",
        config.public_url.as_str().trim_end_matches('/'),
        server.ingest_token
    )
}

async fn set_enabled(pool: &PgPool, server: &str, enabled: bool) -> anyhow::Result<()> {
    let Some(found) = server_by_name(pool, server).await? else {
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

/// A new random log token (256 bits, hex).
fn new_token() -> String {
    let bytes: [u8; 32] = rand::random();
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

/// Checks and stores a new server.
pub async fn add_server(pool: &PgPool, add: &AddServer) -> anyhow::Result<GameServer> {
    let name = add.name.trim();
    if name.is_empty() {
        bail!("--name must not be empty");
    }
    let Some(game) = Game::parse(&add.game.to_ascii_lowercase()) else {
        bail!(
            "--game must be one of cs2, csgo, tf2, source, minecraft (not '{}')",
            add.game
        );
    };
    let Some(log_source) = LogSource::parse(&add.log_source.to_ascii_lowercase()) else {
        bail!(
            "--log-source must be one of none, http, file, sftp (not '{}')",
            add.log_source
        );
    };
    if add.host.trim().is_empty() {
        bail!("--host must not be empty");
    }
    if !(5..=3600).contains(&add.poll_interval) {
        bail!("--poll-interval must be between 5 and 3600 seconds");
    }
    if !(5..=3600).contains(&add.metrics_interval) {
        bail!("--metrics-interval must be between 5 and 3600 seconds");
    }
    if let Some(capacity) = add.capacity
        && capacity <= 0
    {
        bail!("--capacity must be at least 1");
    }
    match log_source {
        LogSource::File => {
            let Some(path) = add.log_path.as_deref() else {
                bail!("--log-source file needs --log-path (the folder holding the logs)");
            };
            if !Path::new(path).is_dir() {
                bail!("--log-path {path} is not a folder on this machine");
            }
        }
        LogSource::Sftp => check_sftp(add).await?,
        LogSource::Http if game == Game::Minecraft => {
            bail!("Minecraft cannot push logs over HTTP: use --log-source file")
        }
        _ => {}
    }
    if let Some(zone) = add.log_timezone.as_deref()
        && zone.parse::<chrono_tz::Tz>().is_err()
    {
        bail!("--log-timezone '{zone}' is not an IANA time zone (e.g. Europe/Berlin)");
    }
    if let Some(url) = add.prometheus_url.as_deref() {
        match url::Url::parse(url) {
            Ok(parsed) if matches!(parsed.scheme(), "http" | "https") => {}
            _ => bail!("--prometheus-url '{url}' is not an http(s) URL"),
        }
    }
    let sftp = log_source == LogSource::Sftp;
    let rcon_port = add
        .rcon_password
        .as_ref()
        .map(|_| add.rcon_port.unwrap_or(game.default_rcon_port()));
    let inserted: Result<i64, sqlx::Error> = sqlx::query_scalar(
        "insert into app.game_servers
             (name, game, host, rcon_port, rcon_password, poll_interval_secs, log_source,
              log_path, log_timezone, ingest_token, prometheus_url, metrics_interval_secs,
              capacity_override, sftp_port, sftp_user, sftp_password, sftp_host_key)
         values ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15, $16, $17)
         returning server_id",
    )
    .bind(name)
    .bind(game.as_str())
    .bind(add.host.trim())
    .bind(rcon_port.map(i32::from))
    .bind(add.rcon_password.as_deref())
    .bind(i32::try_from(add.poll_interval)?)
    .bind(log_source.as_str())
    .bind(add.log_path.as_deref())
    .bind(add.log_timezone.as_deref())
    .bind(new_token())
    .bind(add.prometheus_url.as_deref())
    .bind(i32::try_from(add.metrics_interval)?)
    .bind(add.capacity)
    .bind(i32::from(add.sftp_port))
    .bind(sftp.then_some(add.sftp_user.as_deref()).flatten())
    .bind(sftp.then_some(add.sftp_password.as_deref()).flatten())
    .bind(sftp.then_some(add.sftp_host_key.as_deref()).flatten())
    .fetch_one(pool)
    .await;
    let id = match inserted {
        Ok(id) => id,
        Err(sqlx::Error::Database(db)) if db.is_unique_violation() => {
            bail!("a game server named '{name}' exists already")
        }
        Err(error) => return Err(error.into()),
    };
    server_by_name(pool, &id.to_string())
        .await?
        .context("the server just added is gone")
}

/// An SFTP log source is tried before it is stored: the login, the pinned host key and the
/// folder. Without a pin the error names the key the server presented, to check and pass.
async fn check_sftp(add: &AddServer) -> anyhow::Result<()> {
    let (Some(user), Some(password), Some(folder)) = (
        add.sftp_user.as_deref().filter(|v| !v.is_empty()),
        add.sftp_password.as_deref().filter(|v| !v.is_empty()),
        add.log_path.as_deref().filter(|v| !v.is_empty()),
    ) else {
        bail!(
            "--log-source sftp needs --sftp-user, --sftp-password (or GUILDHALL_SFTP_PASSWORD) and --log-path (the folder on the SFTP server)"
        );
    };
    let target = SftpTarget {
        host: add.host.trim().to_owned(),
        port: add.sftp_port,
        user: user.to_owned(),
        password: password.to_owned(),
        host_key: add.sftp_host_key.clone(),
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

/// `guildhall import-logs <server> <files…>`: reads each file (`.gz` decompressed, several
/// gzip members too), stores its events like live ones (a line stored before, from any
/// source, is not stored twice) and shows progress on the terminal, or logs it when there
/// is none.
pub async fn import_logs(
    pool: &PgPool,
    config: &Config,
    metrics: &Metrics,
    server: &str,
    files: &[PathBuf],
) -> anyhow::Result<ImportReport> {
    let Some(server) = server_by_name(pool, server).await? else {
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
    let format = LogFormat::for_game(server.game);
    let tz = server.log_tz(config.timezone);
    for file in files {
        progress.file(file);
        let (tx, mut rx) = tokio::sync::mpsc::channel::<(Decoded, u64)>(4);
        let path = file.clone();
        let server_id = server.server_id;
        let reader =
            tokio::task::spawn_blocking(move || read_file(&path, server_id, format, tz, &tx));
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

/// Reads one file in the blocking pool, sending batches with the bytes they advanced.
fn read_file(
    path: &Path,
    server_id: i64,
    format: LogFormat,
    tz: chrono_tz::Tz,
    tx: &tokio::sync::mpsc::Sender<(Decoded, u64)>,
) -> anyhow::Result<DecodeCounts> {
    let meta = std::fs::metadata(path)?;
    let modified: DateTime<Utc> = meta.modified().map_or_else(|_| Utc::now(), DateTime::from);
    let gz = is_gzip(path)?;
    // Minecraft lines carry only the time: the day comes from the rotated file's name
    // (`2026-11-30-2.log.gz`), else its last change, minus the midnights it spans.
    let mut day = day_from_name(path).unwrap_or_else(|| modified.with_timezone(&tz).date_naive());
    if format == LogFormat::Minecraft {
        // A first pass over the file, a buffer at a time like the second: the file is never
        // held whole, whatever its size.
        let rollovers = count_rollovers(buffered(std::fs::File::open(path)?, gz))?;
        day -= chrono::Duration::days(i64::from(rollovers));
    }
    let mut stream = LogStream::new(server_id, format, tz, day, modified);
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

/// How often midnight passes in a Minecraft log (see [`RolloverCounter`]), read a buffer
/// at a time.
pub fn count_rollovers(mut reader: impl BufRead) -> std::io::Result<u32> {
    let mut splitter = LineSplitter::default();
    let mut counter = RolloverCounter::default();
    loop {
        let chunk = reader.fill_buf()?;
        if chunk.is_empty() {
            break;
        }
        let n = chunk.len();
        splitter.push(chunk, |line| counter.line(line));
        reader.consume(n);
    }
    splitter.finish(|line| counter.line(line));
    Ok(counter.rollovers())
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
            assert_eq!(count_rollovers(reader).unwrap(), 2, "buffer of {capacity}");
        }
        let gz = {
            use std::io::Write as _;
            let mut encoder =
                flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast());
            encoder.write_all(text.as_bytes()).unwrap();
            encoder.finish().unwrap()
        };
        assert_eq!(
            count_rollovers(buffered(std::io::Cursor::new(gz), true)).unwrap(),
            2
        );
    }
}
