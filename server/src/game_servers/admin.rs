//! The admin's game servers from the browser: [`ServerAdmin`] implements the app's
//! [`GameServerAdmin`] seam with the collectors' code. It checks a form as `servers add`
//! does (each problem next to its field), stores every change with its audit entry in one
//! transaction, and tests connections: RCON (`status` or `list`), the log folder (SFTP or on
//! this machine) and the Prometheus exporter.

use app::error::{AppError, Field, Problem, Unit};
use app::model::{
    AuditAction, ConnectionReport, CurrentUser, DeletedGameServer, GameServerForm,
    GameServerSettings, LogAddress, LogFileSeen, LogsCheck, LogsProblem, MetricsCheck,
    MetricsProblem, RconCheck, RconProblem, SavedGameServer, SecretAction, SecretInput,
    SourceStatus,
};
use app::ssr::audit::{Actor, record};
use app::ssr::game_servers::{BoxFuture, GameServerAdmin};
use chrono::{DateTime, Utc};
use collectors::game::poller::{PollError, ScrapeError, StatusPoller, scrape};
use collectors::game::rcon::{Rcon, RconFailure, RconTimeouts};
use collectors::game::servers::{Game, GameServer, LogSource, load_servers};
use collectors::game::sftp::{SftpError, SftpFolder, SftpTarget};
use serde_json::{Value, json};
use sqlx::PgPool;
use std::path::Path;
use std::time::Duration;

/// How many of a log folder's newest files a connection test shows.
const NEWEST_FILES: usize = 5;
/// Longest server name (the table's check).
const NAME_MAX: usize = 100;
/// Most player slots a capacity may give.
const CAPACITY_MAX: i64 = 100_000;

/// The game servers' admin, as the web app's server functions reach it.
#[derive(Clone)]
pub struct ServerAdmin {
    pool: PgPool,
    /// `GUILDHALL_PUBLIC_URL`, for the HTTP log address.
    public_url: url::Url,
    http: reqwest::Client,
    rcon_timeouts: RconTimeouts,
    sftp_timeout: Duration,
}

impl ServerAdmin {
    /// Connection tests wait up to 5 s per RCON phase, 10 s per SFTP step and 10 s for an
    /// exporter.
    pub fn new(pool: PgPool, public_url: url::Url) -> Self {
        let http = reqwest::Client::builder()
            .timeout(Duration::from_secs(10))
            .build()
            .unwrap_or_default();
        Self {
            pool,
            public_url,
            http,
            rcon_timeouts: RconTimeouts {
                connect: Duration::from_secs(5),
                auth: Duration::from_secs(5),
                reply: Duration::from_secs(5),
                ..RconTimeouts::default()
            },
            sftp_timeout: Duration::from_secs(10),
        }
    }

    /// The server `server_id`, unless it is deleted.
    async fn stored(&self, server_id: i64) -> Result<GameServer, AppError> {
        let deleted: Option<bool> = sqlx::query_scalar(
            "select deleted_at is not null from app.game_servers where server_id = $1",
        )
        .bind(server_id)
        .fetch_optional(&self.pool)
        .await?;
        let server = match deleted {
            Some(false) => load_servers(&self.pool)
                .await?
                .into_iter()
                .find(|s| s.server_id == server_id),
            _ => None,
        };
        server.ok_or_else(|| {
            AppError::invalid(Field::ServerId, Problem::GameServerUnknown { server_id })
        })
    }

    fn log_address(&self, token: &str) -> LogAddress {
        let url = format!(
            "{}/ingest/logs/{token}",
            self.public_url.as_str().trim_end_matches('/')
        );
        LogAddress {
            command: format!("logaddress_add_http \"{url}\""),
            url,
        }
    }

    async fn list_servers(&self) -> Result<Vec<GameServerSettings>, AppError> {
        let deleted: Vec<i64> = sqlx::query_scalar(
            "select server_id from app.game_servers where deleted_at is not null",
        )
        .fetch_all(&self.pool)
        .await?;
        type StatusRow = (
            i64,
            String,
            Option<DateTime<Utc>>,
            Option<String>,
            Option<DateTime<Utc>>,
        );
        let status: Vec<StatusRow> = sqlx::query_as(
            "select server_id, source, last_success_at, last_error, last_error_at
             from app.game_source_status order by server_id, source",
        )
        .fetch_all(&self.pool)
        .await?;
        let mut servers: Vec<GameServerSettings> = load_servers(&self.pool)
            .await?
            .into_iter()
            .filter(|s| !deleted.contains(&s.server_id))
            .map(|s| {
                let sources = status
                    .iter()
                    .filter(|row| row.0 == s.server_id)
                    .map(|row| SourceStatus {
                        source: row.1.clone(),
                        last_success_at: row.2,
                        last_error: row.3.clone(),
                        last_error_at: row.4,
                    })
                    .collect();
                settings_view(&s, sources)
            })
            .collect();
        servers.sort_by(|a, b| a.name.to_lowercase().cmp(&b.name.to_lowercase()));
        Ok(servers)
    }

    async fn create_server(
        &self,
        actor: &CurrentUser,
        form: GameServerForm,
    ) -> Result<SavedGameServer, AppError> {
        let settings = check(&form, None, true)?;
        let token = new_token();
        let mut tx = self.pool.begin().await?;
        let inserted: Result<i64, sqlx::Error> = sqlx::query_scalar(
            "insert into app.game_servers
                 (name, game, host, rcon_port, rcon_password, poll_interval_secs, log_source,
                  log_path, log_timezone, ingest_token, prometheus_url, metrics_interval_secs,
                  capacity_override, sftp_port, sftp_user, sftp_password, sftp_host_key)
             values ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15, $16, $17)
             returning server_id",
        )
        .bind(&settings.name)
        .bind(settings.game.as_str())
        .bind(&settings.host)
        .bind(settings.rcon_port.map(i32::from))
        .bind(settings.rcon_password.as_deref())
        .bind(settings.poll_interval_secs)
        .bind(settings.log_source.as_str())
        .bind(settings.log_path.as_deref())
        .bind(settings.log_timezone.as_deref())
        .bind(&token)
        .bind(settings.prometheus_url.as_deref())
        .bind(settings.metrics_interval_secs)
        .bind(settings.capacity)
        .bind(i32::from(settings.sftp_port))
        .bind(settings.sftp_user.as_deref())
        .bind(settings.sftp_password.as_deref())
        .bind(settings.sftp_host_key.as_deref())
        .fetch_one(&mut *tx)
        .await;
        let server_id = inserted.map_err(|error| name_taken(error, &settings.name))?;
        record(
            &mut tx,
            Actor::User(actor),
            AuditAction::GameServerAdded,
            &subject(server_id, &settings.name),
            Value::Null,
            settings.audit(),
        )
        .await?;
        tx.commit().await?;
        tracing::info!(admin = actor.id, server_id, "game server added");
        let sends_http = settings.log_source == LogSource::Http
            || matches!(settings.game, Game::Cs2 | Game::Csgo);
        Ok(SavedGameServer {
            server_id,
            name: settings.name,
            log_address: sends_http.then(|| self.log_address(&token)),
        })
    }

    async fn update_server(
        &self,
        actor: &CurrentUser,
        server_id: i64,
        form: GameServerForm,
    ) -> Result<SavedGameServer, AppError> {
        let stored = self.stored(server_id).await?;
        let before = Settings::of(&stored);
        let settings = check(&form, Some(&stored), true)?;
        let mut tx = self.pool.begin().await?;
        let updated = sqlx::query(
            "update app.game_servers
             set name = $2, game = $3, host = $4, rcon_port = $5, rcon_password = $6,
                 poll_interval_secs = $7, log_source = $8, log_path = $9, log_timezone = $10,
                 prometheus_url = $11, metrics_interval_secs = $12, capacity_override = $13,
                 sftp_port = $14, sftp_user = $15, sftp_password = $16, sftp_host_key = $17,
                 updated_at = now()
             where server_id = $1 and deleted_at is null",
        )
        .bind(server_id)
        .bind(&settings.name)
        .bind(settings.game.as_str())
        .bind(&settings.host)
        .bind(settings.rcon_port.map(i32::from))
        .bind(settings.rcon_password.as_deref())
        .bind(settings.poll_interval_secs)
        .bind(settings.log_source.as_str())
        .bind(settings.log_path.as_deref())
        .bind(settings.log_timezone.as_deref())
        .bind(settings.prometheus_url.as_deref())
        .bind(settings.metrics_interval_secs)
        .bind(settings.capacity)
        .bind(i32::from(settings.sftp_port))
        .bind(settings.sftp_user.as_deref())
        .bind(settings.sftp_password.as_deref())
        .bind(settings.sftp_host_key.as_deref())
        .execute(&mut *tx)
        .await
        .map_err(|error| name_taken(error, &settings.name))?;
        if updated.rows_affected() == 0 {
            return Err(AppError::invalid(
                Field::ServerId,
                Problem::GameServerUnknown { server_id },
            ));
        }
        record(
            &mut tx,
            Actor::User(actor),
            AuditAction::GameServerChanged,
            &subject(server_id, &settings.name),
            before.audit(),
            settings.audit(),
        )
        .await?;
        tx.commit().await?;
        tracing::info!(admin = actor.id, server_id, "game server changed");
        Ok(SavedGameServer {
            server_id,
            name: settings.name,
            log_address: None,
        })
    }

    async fn enable(
        &self,
        actor: &CurrentUser,
        server_id: i64,
        enabled: bool,
    ) -> Result<(), AppError> {
        let stored = self.stored(server_id).await?;
        let mut tx = self.pool.begin().await?;
        sqlx::query(
            "update app.game_servers set enabled = $2, updated_at = now()
             where server_id = $1 and deleted_at is null",
        )
        .bind(server_id)
        .bind(enabled)
        .execute(&mut *tx)
        .await?;
        record(
            &mut tx,
            Actor::User(actor),
            AuditAction::GameServerEnabled,
            &subject(server_id, &stored.name),
            json!({ "enabled": stored.enabled }),
            json!({ "enabled": enabled }),
        )
        .await?;
        tx.commit().await?;
        tracing::info!(
            admin = actor.id,
            server_id,
            enabled,
            "game server enabled or disabled"
        );
        Ok(())
    }

    async fn delete_server(
        &self,
        actor: &CurrentUser,
        server_id: i64,
        erase_history: bool,
    ) -> Result<DeletedGameServer, AppError> {
        let stored = self.stored(server_id).await?;
        let mut tx = self.pool.begin().await?;
        // Nothing else changes the server meanwhile.
        sqlx::query("select 1 from app.game_servers where server_id = $1 for update")
            .bind(server_id)
            .execute(&mut *tx)
            .await?;
        let erased_rows = if erase_history {
            let erased: i64 = sqlx::query_scalar(include_str!("erase_history.sql"))
                .bind(server_id)
                .fetch_one(&mut *tx)
                .await?;
            sqlx::query("delete from app.game_servers where server_id = $1")
                .bind(server_id)
                .execute(&mut *tx)
                .await?;
            Some(erased)
        } else {
            // The row stays (disabled), so the history pages still name the server.
            sqlx::query(
                "update app.game_servers set enabled = false, deleted_at = now(), updated_at = now()
                 where server_id = $1",
            )
            .bind(server_id)
            .execute(&mut *tx)
            .await?;
            None
        };
        record(
            &mut tx,
            Actor::User(actor),
            AuditAction::GameServerDeleted,
            &subject(server_id, &stored.name),
            Settings::of(&stored).audit(),
            json!({ "history": if erase_history { "erased" } else { "kept" },
                    "erased_rows": erased_rows }),
        )
        .await?;
        tx.commit().await?;
        tracing::info!(
            admin = actor.id,
            server_id,
            erase_history,
            ?erased_rows,
            "game server deleted"
        );
        Ok(DeletedGameServer {
            name: stored.name,
            erased_rows,
        })
    }

    async fn new_log_token(
        &self,
        actor: &CurrentUser,
        server_id: i64,
    ) -> Result<LogAddress, AppError> {
        let stored = self.stored(server_id).await?;
        let token = new_token();
        let mut tx = self.pool.begin().await?;
        sqlx::query(
            "update app.game_servers set ingest_token = $2, updated_at = now() where server_id = $1",
        )
        .bind(server_id)
        .bind(&token)
        .execute(&mut *tx)
        .await?;
        record(
            &mut tx,
            Actor::User(actor),
            AuditAction::GameServerLogToken,
            &subject(server_id, &stored.name),
            json!({ "log_token": "replaced" }),
            json!({ "log_token": "new" }),
        )
        .await?;
        tx.commit().await?;
        tracing::info!(
            admin = actor.id,
            server_id,
            "game server log token replaced"
        );
        Ok(self.log_address(&token))
    }

    async fn pin(
        &self,
        actor: &CurrentUser,
        server_id: i64,
        fingerprint: String,
    ) -> Result<(), AppError> {
        let Some(fingerprint) = normalize_fingerprint(&fingerprint) else {
            return Err(AppError::invalid(
                Field::Fingerprint,
                Problem::FingerprintInvalid,
            ));
        };
        let stored = self.stored(server_id).await?;
        let mut tx = self.pool.begin().await?;
        sqlx::query(
            "update app.game_servers set sftp_host_key = $2, updated_at = now() where server_id = $1",
        )
        .bind(server_id)
        .bind(&fingerprint)
        .execute(&mut *tx)
        .await?;
        record(
            &mut tx,
            Actor::User(actor),
            AuditAction::GameServerHostKey,
            &subject(server_id, &stored.name),
            json!({ "sftp_host_key": stored.sftp_host_key }),
            json!({ "sftp_host_key": fingerprint }),
        )
        .await?;
        tx.commit().await?;
        tracing::info!(admin = actor.id, server_id, "SFTP host key confirmed");
        Ok(())
    }

    /// Tries every configured source of `settings` at once.
    async fn test(&self, settings: &Settings) -> ConnectionReport {
        let (rcon, logs, metrics) = tokio::join!(
            self.test_rcon(settings),
            self.test_logs(settings),
            self.test_metrics(settings)
        );
        ConnectionReport {
            rcon,
            logs,
            metrics,
        }
    }

    async fn test_rcon(&self, settings: &Settings) -> RconCheck {
        let port = settings
            .rcon_port
            .unwrap_or_else(|| settings.game.default_rcon_port());
        let address = host_port(&settings.host, port);
        let Some(password) = settings.rcon_password.clone() else {
            return RconCheck::Failed {
                problem: RconProblem::NotConfigured,
                address,
            };
        };
        let rcon = Rcon::new(
            address.clone(),
            password,
            settings.game.dialect(),
            self.rcon_timeouts,
        );
        let mut poller = StatusPoller::new(0, settings.game, rcon);
        match poller.poll(Utc::now()).await {
            Ok(status) => RconCheck::Answered {
                command: if settings.game == Game::Minecraft {
                    "list"
                } else {
                    "status"
                }
                .to_owned(),
                map: status.map,
                humans: status.humans,
                bots: status.bots,
                max_players: status.max_players,
                players: status.players.into_iter().map(|p| p.name).collect(),
            },
            Err(error) => {
                tracing::info!(%address, %error, "RCON connection test failed");
                let problem = match &error {
                    PollError::Unreadable { .. } => RconProblem::Unreadable,
                    PollError::Rcon(error) => match error.failure() {
                        RconFailure::Refused => RconProblem::Refused,
                        RconFailure::Unreachable => RconProblem::Unreachable,
                        RconFailure::Timeout => RconProblem::Timeout,
                        RconFailure::BadPassword => RconProblem::WrongPassword,
                        RconFailure::NotRcon => RconProblem::NotRcon,
                        RconFailure::Closed => RconProblem::Closed,
                        RconFailure::Other => RconProblem::Other,
                    },
                };
                RconCheck::Failed { problem, address }
            }
        }
    }

    async fn test_logs(&self, settings: &Settings) -> Option<LogsCheck> {
        match settings.log_source {
            LogSource::None => None,
            LogSource::Http => Some(LogsCheck::Http),
            LogSource::File => {
                let folder = settings.log_path.clone().unwrap_or_default();
                Some(list_local_folder(&folder))
            }
            LogSource::Sftp => {
                let target = SftpTarget {
                    host: settings.host.clone(),
                    port: settings.sftp_port,
                    user: settings.sftp_user.clone().unwrap_or_default(),
                    password: settings.sftp_password.clone().unwrap_or_default(),
                    host_key: settings.sftp_host_key.clone(),
                    timeout: self.sftp_timeout,
                };
                let folder = settings.log_path.clone().unwrap_or_default();
                Some(list_sftp_folder(&target, &folder).await)
            }
        }
    }

    async fn test_metrics(&self, settings: &Settings) -> Option<MetricsCheck> {
        let url = settings.prometheus_url.as_deref()?;
        Some(match scrape(&self.http, 0, url, Utc::now()).await {
            Ok(sample) => MetricsCheck::Scraped {
                players: sample.players_online,
                tps: sample.tps,
                bad_lines: sample.bad_lines,
            },
            Err(error) => {
                tracing::info!(%error, "exporter connection test failed");
                MetricsCheck::Failed {
                    problem: match error {
                        ScrapeError::Status(status) => MetricsProblem::Status(status.as_u16()),
                        ScrapeError::Request(e) if e.is_timeout() => MetricsProblem::Timeout,
                        ScrapeError::Request(e) if e.is_connect() => MetricsProblem::Unreachable,
                        ScrapeError::Request(_) => MetricsProblem::Other,
                    },
                }
            }
        })
    }
}

impl GameServerAdmin for ServerAdmin {
    fn list(&self) -> BoxFuture<'_, Result<Vec<GameServerSettings>, AppError>> {
        Box::pin(self.list_servers())
    }

    fn create<'a>(
        &'a self,
        actor: &'a CurrentUser,
        form: GameServerForm,
    ) -> BoxFuture<'a, Result<SavedGameServer, AppError>> {
        Box::pin(self.create_server(actor, form))
    }

    fn update<'a>(
        &'a self,
        actor: &'a CurrentUser,
        server_id: i64,
        form: GameServerForm,
    ) -> BoxFuture<'a, Result<SavedGameServer, AppError>> {
        Box::pin(self.update_server(actor, server_id, form))
    }

    fn set_enabled<'a>(
        &'a self,
        actor: &'a CurrentUser,
        server_id: i64,
        enabled: bool,
    ) -> BoxFuture<'a, Result<(), AppError>> {
        Box::pin(self.enable(actor, server_id, enabled))
    }

    fn delete<'a>(
        &'a self,
        actor: &'a CurrentUser,
        server_id: i64,
        erase_history: bool,
    ) -> BoxFuture<'a, Result<DeletedGameServer, AppError>> {
        Box::pin(self.delete_server(actor, server_id, erase_history))
    }

    fn regenerate_log_token<'a>(
        &'a self,
        actor: &'a CurrentUser,
        server_id: i64,
    ) -> BoxFuture<'a, Result<LogAddress, AppError>> {
        Box::pin(self.new_log_token(actor, server_id))
    }

    fn pin_host_key<'a>(
        &'a self,
        actor: &'a CurrentUser,
        server_id: i64,
        fingerprint: String,
    ) -> BoxFuture<'a, Result<(), AppError>> {
        Box::pin(self.pin(actor, server_id, fingerprint))
    }

    fn test_server(&self, server_id: i64) -> BoxFuture<'_, Result<ConnectionReport, AppError>> {
        Box::pin(async move {
            let stored = self.stored(server_id).await?;
            Ok(self.test(&Settings::of(&stored)).await)
        })
    }

    fn test_form(
        &self,
        server_id: Option<i64>,
        form: GameServerForm,
    ) -> BoxFuture<'_, Result<ConnectionReport, AppError>> {
        Box::pin(async move {
            let stored = match server_id {
                Some(id) => Some(self.stored(id).await?),
                None => None,
            };
            // Not pinned yet is what the test is for: it shows the key to confirm.
            let settings = check(&form, stored.as_ref(), false)?;
            Ok(self.test(&settings).await)
        })
    }
}

/// A server's settings, checked.
#[derive(Clone)]
struct Settings {
    name: String,
    game: Game,
    host: String,
    rcon_port: Option<u16>,
    rcon_password: Option<String>,
    poll_interval_secs: i32,
    log_source: LogSource,
    log_path: Option<String>,
    sftp_port: u16,
    sftp_user: Option<String>,
    sftp_password: Option<String>,
    sftp_host_key: Option<String>,
    log_timezone: Option<String>,
    prometheus_url: Option<String>,
    metrics_interval_secs: i32,
    capacity: Option<i32>,
}

impl Settings {
    fn of(server: &GameServer) -> Self {
        Self {
            name: server.name.clone(),
            game: server.game,
            host: server.host.clone(),
            rcon_port: server.rcon_port,
            rcon_password: server.rcon_password.clone().filter(|p| !p.is_empty()),
            poll_interval_secs: i32::try_from(server.poll_interval_secs).unwrap_or(60),
            log_source: server.log_source,
            log_path: server.log_path.clone(),
            sftp_port: server.sftp_port,
            sftp_user: server.sftp_user.clone(),
            sftp_password: server.sftp_password.clone().filter(|p| !p.is_empty()),
            sftp_host_key: server.sftp_host_key.clone(),
            log_timezone: server.log_timezone.clone(),
            prometheus_url: server.prometheus_url.clone(),
            metrics_interval_secs: i32::try_from(server.metrics_interval_secs).unwrap_or(30),
            capacity: server.capacity_override,
        }
    }

    /// The settings as the audit log records them: passwords only as set or not.
    fn audit(&self) -> Value {
        let set = |secret: &Option<String>| if secret.is_some() { "set" } else { "not set" };
        json!({
            "name": self.name,
            "game": self.game.as_str(),
            "host": self.host,
            "rcon_port": self.rcon_port,
            "rcon_password": set(&self.rcon_password),
            "poll_interval_secs": self.poll_interval_secs,
            "log_source": self.log_source.as_str(),
            "log_path": self.log_path,
            "sftp_port": self.sftp_port,
            "sftp_user": self.sftp_user,
            "sftp_password": set(&self.sftp_password),
            "sftp_host_key": self.sftp_host_key,
            "log_timezone": self.log_timezone,
            "prometheus_url": self.prometheus_url,
            "metrics_interval_secs": self.metrics_interval_secs,
            "capacity": self.capacity,
        })
    }
}

/// A server as the list shows it: whether passwords are set, never them.
fn settings_view(server: &GameServer, sources: Vec<SourceStatus>) -> GameServerSettings {
    let set = |secret: &Option<String>| secret.as_ref().is_some_and(|s| !s.is_empty());
    GameServerSettings {
        server_id: server.server_id,
        name: server.name.clone(),
        game: server.game.as_str().to_owned(),
        host: server.host.clone(),
        rcon_port: server.rcon_port,
        rcon_password_set: set(&server.rcon_password),
        poll_interval_secs: server.poll_interval_secs,
        log_source: server.log_source.as_str().to_owned(),
        log_path: server.log_path.clone(),
        sftp_port: server.sftp_port,
        sftp_user: server.sftp_user.clone(),
        sftp_password_set: set(&server.sftp_password),
        sftp_host_key: server.sftp_host_key.clone(),
        log_timezone: server.log_timezone.clone(),
        prometheus_url: server.prometheus_url.clone(),
        metrics_interval_secs: server.metrics_interval_secs,
        capacity: server.capacity_override,
        enabled: server.enabled,
        sources,
    }
}

/// Checks a form as `guildhall servers add` checks its options, in the form's order; the
/// first problem is answered with its field. Secrets the form keeps come from `stored`.
/// `require_pin`: SFTP logs need a confirmed host key (saving; a test shows the key).
fn check(
    form: &GameServerForm,
    stored: Option<&GameServer>,
    require_pin: bool,
) -> Result<Settings, AppError> {
    let invalid = |field: Field, problem: Problem| Err(AppError::invalid(field, problem));
    let text = |value: &str| Some(value.trim().to_owned()).filter(|v| !v.is_empty());

    let name = form.name.trim().to_owned();
    if name.is_empty() {
        return invalid(Field::Name, Problem::Required);
    }
    if name.chars().count() > NAME_MAX {
        return invalid(
            Field::Name,
            Problem::NameTooLong {
                max: NAME_MAX as u32,
            },
        );
    }
    let Some(game) = Game::parse(&form.game.trim().to_ascii_lowercase()) else {
        return invalid(Field::Game, Problem::GameUnknown);
    };
    let host = form.host.trim().to_owned();
    if host.is_empty() {
        return invalid(Field::Host, Problem::Required);
    }
    let rcon_port = match text(&form.rcon_port) {
        None => game.default_rcon_port(),
        Some(port) => number(&port, 1, 65535, Unit::Port, Field::RconPort)? as u16,
    };
    let rcon_password = secret(
        &form.rcon_password,
        stored.and_then(|s| s.rcon_password.clone()),
        Field::RconPassword,
    )?;
    let poll_interval_secs = match text(&form.poll_interval_secs) {
        None => 60,
        Some(secs) => number(&secs, 5, 3600, Unit::Seconds, Field::PollInterval)? as i32,
    };
    let log_source = match text(&form.log_source) {
        None => LogSource::None,
        Some(source) => match LogSource::parse(&source.to_ascii_lowercase()) {
            Some(source) => source,
            None => return invalid(Field::LogSource, Problem::LogSourceUnknown),
        },
    };
    if log_source == LogSource::Http && game == Game::Minecraft {
        return invalid(Field::LogSource, Problem::MinecraftNoHttpLogs);
    }
    let log_path = text(&form.log_path);
    let sftp = log_source == LogSource::Sftp;
    let sftp_port = match text(&form.sftp_port) {
        None => 22,
        Some(port) => number(&port, 1, 65535, Unit::Port, Field::SftpPort)? as u16,
    };
    let mut sftp_user = None;
    let mut sftp_password = None;
    let mut sftp_host_key = None;
    match log_source {
        LogSource::File => {
            let Some(path) = log_path.as_deref() else {
                return invalid(Field::LogPath, Problem::Required);
            };
            if !Path::new(path).is_dir() {
                return invalid(
                    Field::LogPath,
                    Problem::FolderMissing {
                        path: path.to_owned(),
                    },
                );
            }
        }
        LogSource::Sftp => {
            if log_path.is_none() {
                return invalid(Field::LogPath, Problem::Required);
            }
            sftp_user = text(&form.sftp_user);
            if sftp_user.is_none() {
                return invalid(Field::SftpUser, Problem::Required);
            }
            sftp_password = secret(
                &form.sftp_password,
                stored.and_then(|s| s.sftp_password.clone()),
                Field::SftpPassword,
            )?;
            if sftp_password.is_none() {
                return invalid(Field::SftpPassword, Problem::Required);
            }
            sftp_host_key = match text(&form.sftp_host_key) {
                None if require_pin => {
                    return invalid(Field::SftpHostKey, Problem::HostKeyNotConfirmed);
                }
                None => None,
                Some(key) => match normalize_fingerprint(&key) {
                    Some(key) => Some(key),
                    None => return invalid(Field::SftpHostKey, Problem::FingerprintInvalid),
                },
            };
        }
        LogSource::None | LogSource::Http => {}
    }
    let log_timezone = text(&form.log_timezone);
    if let Some(zone) = log_timezone.as_deref()
        && zone.parse::<chrono_tz::Tz>().is_err()
    {
        return invalid(
            Field::LogTimezone,
            Problem::TimeZoneUnknown {
                zone: zone.to_owned(),
            },
        );
    }
    let prometheus_url = text(&form.prometheus_url);
    if let Some(url) = prometheus_url.as_deref() {
        match url::Url::parse(url) {
            Ok(parsed) if matches!(parsed.scheme(), "http" | "https") => {}
            _ => return invalid(Field::PrometheusUrl, Problem::UrlNotHttp),
        }
    }
    let metrics_interval_secs = match text(&form.metrics_interval_secs) {
        None => 30,
        Some(secs) => number(&secs, 5, 3600, Unit::Seconds, Field::MetricsInterval)? as i32,
    };
    let capacity = match text(&form.capacity) {
        None => None,
        Some(slots) => Some(number(&slots, 1, CAPACITY_MAX, Unit::Slots, Field::Capacity)? as i32),
    };
    Ok(Settings {
        name,
        game,
        host,
        // As `servers add`: a port only with a password (RCON is used only with both).
        rcon_port: rcon_password.as_ref().map(|_| rcon_port),
        rcon_password,
        poll_interval_secs,
        log_source,
        log_path: if matches!(log_source, LogSource::File | LogSource::Sftp) {
            log_path
        } else {
            None
        },
        sftp_port,
        sftp_user: sftp.then_some(sftp_user).flatten(),
        sftp_password: sftp.then_some(sftp_password).flatten(),
        sftp_host_key: sftp.then_some(sftp_host_key).flatten(),
        log_timezone,
        prometheus_url,
        metrics_interval_secs,
        capacity,
    })
}

/// A whole number in `min..=max`.
fn number(text: &str, min: i64, max: i64, unit: Unit, field: Field) -> Result<i64, AppError> {
    match text.trim().parse::<i64>() {
        Err(_) => Err(AppError::invalid(field, Problem::NotANumber)),
        Ok(n) if !(min..=max).contains(&n) => Err(AppError::invalid(
            field,
            Problem::OutOfRange { min, max, unit },
        )),
        Ok(n) => Ok(n),
    }
}

/// The secret to store: kept, replaced (not by nothing) or removed.
fn secret(
    input: &SecretInput,
    stored: Option<String>,
    field: Field,
) -> Result<Option<String>, AppError> {
    match input.action {
        SecretAction::Keep => Ok(stored.filter(|s| !s.is_empty())),
        SecretAction::Clear => Ok(None),
        SecretAction::Replace if input.value.is_empty() => {
            Err(AppError::invalid(field, Problem::Required))
        }
        SecretAction::Replace => Ok(Some(input.value.clone())),
    }
}

/// `SHA256:<43 base64 characters>` as `ssh-keygen -lf` prints it; a missing or lower-case
/// prefix and `=` padding are accepted.
fn normalize_fingerprint(text: &str) -> Option<String> {
    let text = text.trim();
    let body = match text.split_once(':') {
        Some((alg, body)) if alg.eq_ignore_ascii_case("sha256") => body,
        Some(_) => return None,
        None => text,
    };
    let body = body.trim().trim_end_matches('=');
    let base64 = |c: char| c.is_ascii_alphanumeric() || c == '+' || c == '/';
    (body.len() == 43 && body.chars().all(base64)).then(|| format!("SHA256:{body}"))
}

/// `host:port`, with brackets around an IPv6 address.
fn host_port(host: &str, port: u16) -> String {
    if host.contains(':') && !host.starts_with('[') {
        format!("[{host}]:{port}")
    } else {
        format!("{host}:{port}")
    }
}

fn subject(server_id: i64, name: &str) -> String {
    format!("game server {name} (id {server_id})")
}

/// A unique violation on the name is the admin's to fix; anything else is internal.
fn name_taken(error: sqlx::Error, name: &str) -> AppError {
    match &error {
        sqlx::Error::Database(db) if db.is_unique_violation() => AppError::invalid(
            Field::Name,
            Problem::ServerNameTaken {
                name: name.to_owned(),
            },
        ),
        _ => error.into(),
    }
}

/// A new random log token (256 bits, hex).
fn new_token() -> String {
    let bytes: [u8; 32] = rand::random();
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

/// The newest `*.log` files of a folder on this machine.
fn list_local_folder(folder: &str) -> LogsCheck {
    let path = Path::new(folder);
    if !path.exists() {
        return LogsCheck::Failed {
            problem: LogsProblem::NoSuchFolder,
        };
    }
    let entries = match std::fs::read_dir(path) {
        Ok(entries) => entries,
        Err(error) if error.kind() == std::io::ErrorKind::PermissionDenied => {
            return LogsCheck::Failed {
                problem: LogsProblem::PermissionDenied,
            };
        }
        Err(_) => {
            return LogsCheck::Failed {
                problem: LogsProblem::NotAFolder,
            };
        }
    };
    let files = entries
        .filter_map(Result::ok)
        .filter(|entry| entry.file_name().to_string_lossy().ends_with(".log"))
        .filter_map(|entry| {
            let meta = entry.metadata().ok()?;
            meta.is_file().then(|| LogFileSeen {
                name: entry.file_name().to_string_lossy().into_owned(),
                bytes: meta.len(),
                modified: meta.modified().ok().map(DateTime::<Utc>::from),
            })
        })
        .collect();
    newest(folder.to_owned(), files)
}

/// Logs in over SFTP and lists the folder's newest `*.log` files.
async fn list_sftp_folder(target: &SftpTarget, folder: &str) -> LogsCheck {
    let listed = async {
        let remote = SftpFolder::connect(target, folder).await?;
        let files = remote.list().await;
        let path = remote.path().to_owned();
        remote.close().await;
        Ok::<_, SftpError>((path, files?))
    }
    .await;
    match listed {
        Ok((path, files)) => newest(
            path,
            files
                .into_iter()
                .map(|f| LogFileSeen {
                    name: f.name,
                    bytes: f.len,
                    modified: Some(f.modified),
                })
                .collect(),
        ),
        Err(error) => {
            tracing::info!(%error, "SFTP connection test failed");
            let problem = match error {
                SftpError::HostKeyNotPinned { presented, .. } => LogsProblem::UnknownHostKey {
                    fingerprint: presented,
                },
                SftpError::HostKeyMismatch {
                    presented, pinned, ..
                } => LogsProblem::HostKeyChanged { presented, pinned },
                SftpError::Unreachable { cause, .. } if cause.contains("refused") => {
                    LogsProblem::Refused
                }
                SftpError::Unreachable { .. } => LogsProblem::Unreachable,
                SftpError::Timeout { .. } => LogsProblem::Timeout,
                SftpError::AuthRejected { .. } => LogsProblem::LoginRefused,
                SftpError::NoPasswordLogin { .. } => LogsProblem::NoPasswordLogin,
                SftpError::NoSuchFolder { .. } => LogsProblem::NoSuchFolder,
                SftpError::NotAFolder { .. } => LogsProblem::NotAFolder,
                SftpError::PermissionDenied { .. } => LogsProblem::PermissionDenied,
                _ => LogsProblem::Other,
            };
            LogsCheck::Failed { problem }
        }
    }
}

/// The newest files first, at most [`NEWEST_FILES`], and how many there are.
fn newest(folder: String, mut files: Vec<LogFileSeen>) -> LogsCheck {
    files.sort_by(|a, b| b.modified.cmp(&a.modified).then(b.name.cmp(&a.name)));
    let total = u32::try_from(files.len()).unwrap_or(u32::MAX);
    files.truncate(NEWEST_FILES);
    LogsCheck::Listed {
        folder,
        files,
        total,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn fingerprints_are_normalized_or_refused() {
        let body = "uLHWZzkCBfBeLsjQAEqLtM1E79NdyfV2ReZlDoWHRTs";
        let pinned = format!("SHA256:{body}");
        assert_eq!(normalize_fingerprint(&pinned), Some(pinned.clone()));
        assert_eq!(
            normalize_fingerprint(&format!(" sha256:{body}= ")),
            Some(pinned.clone())
        );
        assert_eq!(normalize_fingerprint(body), Some(pinned));
        assert_eq!(normalize_fingerprint("MD5:ab:cd"), None);
        assert_eq!(normalize_fingerprint("SHA256:short"), None);
        assert_eq!(
            normalize_fingerprint(&format!("SHA256:{}!", &body[..42])),
            None
        );
    }

    #[test]
    fn ipv6_hosts_get_brackets() {
        assert_eq!(host_port("::1", 27015), "[::1]:27015");
        assert_eq!(host_port("cs.example.org", 27015), "cs.example.org:27015");
    }
}
