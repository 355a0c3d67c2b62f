//! The admin's game servers from the browser: [`ServerAdmin`] implements the app's
//! [`GameServerAdmin`] seam with the collectors' code. A form is checked by
//! [`server_settings::validate`], the same check as `guildhall servers add` (each problem
//! next to its field), and stored by its create and update (secrets sealed with
//! `GUILDHALL_SECRET_KEY`, the log token kept only as its hash) in one transaction with the
//! audit entry. Connection tests: RCON (`status` or `list`), the log folder (SFTP or on this
//! machine) and the Prometheus exporter.

use app::error::{AppError, Field, Problem, Unit};
use app::model::{
    AuditAction, ConnectionReport, CurrentUser, DeletedGameServer, GameServerForm,
    GameServerSettings, GameServersSection, LogAddress, LogFileSeen, LogsCheck, LogsProblem,
    MetricsCheck, MetricsProblem, RconCheck, RconProblem, SavedGameServer, SecretAction,
    SecretInput, SourceStatus,
};
use app::ssr::audit::{Actor, record};
use app::ssr::community::local;
use app::ssr::game_servers::{BoxFuture, GameServerAdmin};
use chrono::{DateTime, Utc};
use collectors::game::poller::{PollError, StatusPoller, scrape};
use collectors::game::prometheus::ScrapeError;
use collectors::game::rcon::{Rcon, RconFailure, RconTimeouts};
use collectors::game::server_settings::{
    self, FieldError, SaveError, SecretChange, ServerForm, StoredSecrets, ValidServer,
};
use collectors::game::servers::{
    Game, GameServer, LoadError, LogSource, host_port, load_settings, server_by_id, settings_by_id,
};
use collectors::game::sftp::{KeyProblem, SftpError, SftpFolder};
use collectors::secrets::SecretKey;
use serde_json::{Value, json};
use sqlx::PgPool;
use std::path::Path;
use std::time::Duration;

/// How many of a log folder's newest files a connection test shows.
const NEWEST_FILES: usize = 5;
/// Most player slots a capacity may give.
const CAPACITY_MAX: i64 = 100_000;

type Settings = collectors::game::servers::GameServerSettings;

/// The game servers' admin, as the web app's server functions reach it.
#[derive(Clone)]
pub struct ServerAdmin {
    pool: PgPool,
    /// `GUILDHALL_PUBLIC_URL`, for the HTTP log address.
    public_url: url::Url,
    /// `GUILDHALL_SECRET_KEY`: seals new secrets, opens stored ones for a test.
    key: Option<SecretKey>,
    http: reqwest::Client,
    rcon_timeouts: RconTimeouts,
    sftp_timeout: Duration,
}

impl ServerAdmin {
    /// Connection tests wait up to 5 s per RCON phase, 10 s per SFTP step and 10 s for an
    /// exporter.
    pub fn new(pool: PgPool, public_url: url::Url, key: Option<SecretKey>) -> Self {
        let http = reqwest::Client::builder()
            .timeout(Duration::from_secs(10))
            .build()
            .unwrap_or_default();
        Self {
            pool,
            public_url,
            key,
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

    /// The settings (no secrets) of `server_id`, unless it is deleted.
    async fn stored(&self, server_id: i64) -> Result<Settings, AppError> {
        let deleted: Option<bool> = sqlx::query_scalar(
            "select deleted_at is not null from app.game_servers where server_id = $1",
        )
        .bind(server_id)
        .fetch_optional(&self.pool)
        .await?;
        let server = match deleted {
            Some(false) => settings_by_id(&self.pool, server_id).await?,
            _ => None,
        };
        server.ok_or_else(|| unknown(server_id))
    }

    /// `server_id` with its secrets opened, unless it is deleted.
    async fn stored_with_secrets(&self, server_id: i64) -> Result<GameServer, AppError> {
        self.stored(server_id).await?;
        server_by_id(&self.pool, server_id, self.key.as_ref())
            .await
            .map_err(load_error)?
            .ok_or_else(|| unknown(server_id))
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

    async fn list_servers(&self, tz: chrono_tz::Tz) -> Result<GameServersSection, AppError> {
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
        let mut servers: Vec<GameServerSettings> = load_settings(&self.pool)
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
        servers.sort_by_key(|s| s.name.to_lowercase());
        Ok(GameServersSection {
            zone: tz.name().to_owned(),
            servers,
        })
    }

    async fn create_server(
        &self,
        actor: &CurrentUser,
        form: GameServerForm,
    ) -> Result<SavedGameServer, AppError> {
        let stored = StoredSecrets::default();
        let (form, valid) = checked(&form, stored, true)?;
        let mut tx = self.pool.begin().await?;
        let created = server_settings::create_server_in(&mut tx, self.key.as_ref(), &form)
            .await
            .map_err(save_error)?;
        record(
            &mut tx,
            Actor::User(actor),
            AuditAction::GameServerAdded,
            &subject(created.server_id, &created.name),
            Value::Null,
            valid_audit(&valid, stored),
        )
        .await?;
        tx.commit().await?;
        tracing::info!(
            admin = actor.id,
            server_id = created.server_id,
            "game server added"
        );
        let sends_http =
            valid.log_source == LogSource::Http || matches!(valid.game, Game::Cs2 | Game::Csgo);
        Ok(SavedGameServer {
            server_id: created.server_id,
            name: created.name,
            log_address: sends_http.then(|| self.log_address(&created.ingest_token)),
        })
    }

    async fn update_server(
        &self,
        actor: &CurrentUser,
        server_id: i64,
        form: GameServerForm,
    ) -> Result<SavedGameServer, AppError> {
        let before = self.stored(server_id).await?;
        let stored = stored_secrets(&before);
        let (form, valid) = checked(&form, stored, true)?;
        let mut tx = self.pool.begin().await?;
        lock_configured(&mut tx, server_id).await?;
        server_settings::update_server_in(&mut tx, self.key.as_ref(), server_id, &form)
            .await
            .map_err(save_error)?;
        record(
            &mut tx,
            Actor::User(actor),
            AuditAction::GameServerChanged,
            &subject(server_id, &valid.name),
            settings_audit(&before),
            valid_audit(&valid, stored),
        )
        .await?;
        tx.commit().await?;
        tracing::info!(admin = actor.id, server_id, "game server changed");
        Ok(SavedGameServer {
            server_id,
            name: valid.name,
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
        lock_configured(&mut tx, server_id).await?;
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
            // The row stays (disabled), so the history pages still name the server; its
            // secrets go.
            sqlx::query(
                "update app.game_servers
                    set enabled = false, deleted_at = now(), updated_at = now(),
                        rcon_password_sealed = null, sftp_password_sealed = null,
                        sftp_key_sealed = null
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
            settings_audit(&stored),
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
        let mut tx = self.pool.begin().await?;
        lock_configured(&mut tx, server_id).await?;
        let token = server_settings::regenerate_token_in(&mut tx, server_id)
            .await?
            .ok_or_else(|| unknown(server_id))?;
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
        lock_configured(&mut tx, server_id).await?;
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

    /// Tries every configured source of `server` at once.
    async fn test(&self, server: &GameServer, tz: chrono_tz::Tz) -> ConnectionReport {
        let (rcon, logs, metrics) = tokio::join!(
            self.test_rcon(server),
            self.test_logs(server, tz),
            self.test_metrics(server)
        );
        ConnectionReport {
            rcon,
            logs,
            metrics,
        }
    }

    async fn test_rcon(&self, server: &GameServer) -> RconCheck {
        let port = server
            .rcon_port
            .unwrap_or_else(|| server.game.default_rcon_port());
        let address = host_port(&server.host, port);
        let Some(password) = server.rcon_password.clone().filter(|p| !p.is_empty()) else {
            return RconCheck::Failed {
                problem: RconProblem::NotConfigured,
                address,
            };
        };
        let rcon = Rcon::new(
            address.clone(),
            password,
            server.game.dialect(),
            self.rcon_timeouts,
        );
        let mut poller = StatusPoller::new(0, server.game, rcon);
        match poller.poll(Utc::now()).await {
            Ok(status) => RconCheck::Answered {
                command: if server.game == Game::Minecraft {
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

    async fn test_logs(&self, server: &GameServer, tz: chrono_tz::Tz) -> Option<LogsCheck> {
        match server.log_source {
            LogSource::None => None,
            LogSource::Http => Some(LogsCheck::Http),
            LogSource::File => {
                let folder = server.log_path.clone().unwrap_or_default();
                Some(list_local_folder(&folder, tz))
            }
            LogSource::Sftp => Some(match server.sftp_target() {
                Ok((mut target, folder)) => {
                    target.timeout = self.sftp_timeout;
                    list_sftp_folder(&target, &folder, tz).await
                }
                Err(problem) => {
                    tracing::info!(%problem, "SFTP connection test not possible");
                    LogsCheck::Failed {
                        problem: LogsProblem::Other,
                    }
                }
            }),
        }
    }

    async fn test_metrics(&self, server: &GameServer) -> Option<MetricsCheck> {
        let url = server.prometheus_url.as_deref()?;
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
                        _ => MetricsProblem::Other,
                    },
                }
            }
        })
    }

    /// Tries `form` as typed: secrets it keeps are `server_id`'s stored ones.
    async fn test_typed(
        &self,
        server_id: Option<i64>,
        form: GameServerForm,
        tz: chrono_tz::Tz,
    ) -> Result<ConnectionReport, AppError> {
        let stored = match server_id {
            Some(id) => Some(self.stored_with_secrets(id).await?),
            None => None,
        };
        let secrets = stored.as_ref().map(game_server_secrets).unwrap_or_default();
        // Not pinned yet is what the test is for: it shows the key to confirm.
        let (_, valid) = checked(&form, secrets, false)?;
        let server = tried(stored.as_ref(), &valid);
        Ok(self.test(&server, tz).await)
    }
}

impl GameServerAdmin for ServerAdmin {
    fn list(&self, tz: chrono_tz::Tz) -> BoxFuture<'_, Result<GameServersSection, AppError>> {
        Box::pin(self.list_servers(tz))
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

    fn test_server(
        &self,
        server_id: i64,
        tz: chrono_tz::Tz,
    ) -> BoxFuture<'_, Result<ConnectionReport, AppError>> {
        Box::pin(async move {
            let server = self.stored_with_secrets(server_id).await?;
            Ok(self.test(&server, tz).await)
        })
    }

    fn test_form(
        &self,
        server_id: Option<i64>,
        form: GameServerForm,
        tz: chrono_tz::Tz,
    ) -> BoxFuture<'_, Result<ConnectionReport, AppError>> {
        Box::pin(self.test_typed(server_id, form, tz))
    }
}

/// Locks `server_id`'s row for the transaction; refused when it is gone or deleted.
async fn lock_configured(tx: &mut sqlx::PgConnection, server_id: i64) -> Result<(), AppError> {
    let configured: Option<bool> = sqlx::query_scalar(
        "select deleted_at is null from app.game_servers where server_id = $1 for update",
    )
    .bind(server_id)
    .fetch_optional(tx)
    .await?;
    match configured {
        Some(true) => Ok(()),
        _ => Err(unknown(server_id)),
    }
}

fn unknown(server_id: i64) -> AppError {
    AppError::invalid(Field::ServerId, Problem::GameServerUnknown { server_id })
}

/// Which secrets a server has stored.
fn stored_secrets(server: &Settings) -> StoredSecrets {
    StoredSecrets {
        rcon_password: server.rcon_password_set,
        sftp_password: server.sftp_password_set,
        sftp_key: server.sftp_key_set,
    }
}

fn game_server_secrets(server: &GameServer) -> StoredSecrets {
    let set = |secret: &Option<String>| secret.as_ref().is_some_and(|s| !s.is_empty());
    StoredSecrets {
        rcon_password: set(&server.rcon_password),
        sftp_password: set(&server.sftp_password),
        sftp_key: set(&server.sftp_key),
    }
}

/// The server a connection test tries: the checked form, with the secrets it keeps taken
/// from `stored`.
fn tried(stored: Option<&GameServer>, valid: &ValidServer) -> GameServer {
    let secret = |change: &SecretChange, kept: Option<&Option<String>>| match change {
        SecretChange::Keep => kept.cloned().flatten(),
        SecretChange::Replace(value) => Some(value.clone()),
        SecretChange::Clear => None,
    };
    GameServer {
        server_id: stored.map_or(0, |s| s.server_id),
        name: valid.name.clone(),
        game: valid.game,
        host: valid.host.clone(),
        rcon_port: valid.rcon_port,
        rcon_password: secret(&valid.rcon_password, stored.map(|s| &s.rcon_password)),
        poll_interval_secs: valid.poll_interval_secs,
        log_source: valid.log_source,
        log_path: valid.log_path.clone(),
        sftp_port: valid.sftp_port,
        sftp_user: valid.sftp_user.clone(),
        sftp_password: secret(&valid.sftp_password, stored.map(|s| &s.sftp_password)),
        sftp_key: secret(&valid.sftp_key, stored.map(|s| &s.sftp_key)),
        sftp_host_key: valid.sftp_host_key.clone(),
        log_timezone: valid.log_timezone.clone(),
        prometheus_url: valid.prometheus_url.clone(),
        metrics_interval_secs: valid.metrics_interval_secs,
        capacity_override: valid.capacity,
        enabled: true,
        updated_at: Utc::now(),
    }
}

/// The form as the command line's [`ServerForm`], checked by [`server_settings::validate`]
/// (for a server whose stored secrets are `stored`). Every problem is answered, each with its
/// field. `require_pin`: SFTP logs need a confirmed host key (saving; a test shows the key).
fn checked(
    form: &GameServerForm,
    stored: StoredSecrets,
    require_pin: bool,
) -> Result<(ServerForm, ValidServer), AppError> {
    let (mut form, valid) = validated(form, stored)?;
    if valid.log_source == LogSource::Sftp {
        match form.sftp_host_key.as_deref().map(str::trim) {
            None | Some("") if require_pin => {
                return Err(AppError::invalid(
                    Field::SftpHostKey,
                    Problem::HostKeyNotConfirmed,
                ));
            }
            None | Some("") => {}
            Some(key) => match normalize_fingerprint(key) {
                Some(key) => form.sftp_host_key = Some(key),
                None => {
                    return Err(AppError::invalid(
                        Field::SftpHostKey,
                        Problem::FingerprintInvalid,
                    ));
                }
            },
        }
    }
    // Validated again with the normalised fingerprint (the one stored).
    let valid = server_settings::validate(&form, stored).map_err(|errors| fields_error(&errors))?;
    Ok((form, valid))
}

/// The browser's form (numbers as text, secrets with their action) as a [`ServerForm`], and
/// the problems of the fields that could not be read (such a field gets its default, so
/// [`server_settings::validate`] does not report it twice).
fn server_form(form: &GameServerForm) -> (ServerForm, Vec<(Field, Problem)>) {
    let mut problems = Vec::new();
    let text = |value: &str| Some(value.trim().to_owned()).filter(|v| !v.is_empty());
    let mut read = |value: &str, min: i64, max: i64, unit: Unit, field: Field| -> Option<i64> {
        match number(&text(value)?, min, max, unit) {
            Ok(n) => Some(n),
            Err(problem) => {
                problems.push((field, problem));
                None
            }
        }
    };
    let rcon_port = read(&form.rcon_port, 1, 65535, Unit::Port, Field::RconPort);
    let poll_interval = read(
        &form.poll_interval_secs,
        5,
        3600,
        Unit::Seconds,
        Field::PollInterval,
    );
    let sftp_port = read(&form.sftp_port, 1, 65535, Unit::Port, Field::SftpPort);
    let metrics_interval = read(
        &form.metrics_interval_secs,
        5,
        3600,
        Unit::Seconds,
        Field::MetricsInterval,
    );
    let capacity = read(
        &form.capacity,
        1,
        CAPACITY_MAX,
        Unit::Slots,
        Field::Capacity,
    );
    let mut secret = |input: &SecretInput, field: Field| match secret(input) {
        Ok(change) => change,
        Err(problem) => {
            problems.push((field, problem));
            SecretChange::Keep
        }
    };
    let rcon_password = secret(&form.rcon_password, Field::RconPassword);
    let sftp_password = secret(&form.sftp_password, Field::SftpPassword);
    let sftp_key = secret(&form.sftp_key, Field::SftpKey);
    let server = ServerForm {
        name: form.name.clone(),
        game: form.game.clone(),
        host: form.host.clone(),
        rcon_port: rcon_port.map(|n| n as u16),
        rcon_password,
        poll_interval_secs: poll_interval.map_or(60, |n| n as u32),
        log_source: text(&form.log_source).unwrap_or_else(|| "none".to_owned()),
        log_path: text(&form.log_path),
        sftp_port: sftp_port.map_or(22, |n| n as u16),
        sftp_user: text(&form.sftp_user),
        sftp_password,
        sftp_key,
        sftp_key_passphrase: Some(form.sftp_key_passphrase.clone()).filter(|p| !p.is_empty()),
        sftp_host_key: text(&form.sftp_host_key),
        log_timezone: text(&form.log_timezone),
        prometheus_url: text(&form.prometheus_url),
        metrics_interval_secs: metrics_interval.map_or(30, |n| n as u32),
        capacity: capacity.map(|n| n as i32),
    };
    (server, problems)
}

/// The fields of the form, in the page's order: the first problem leads.
const FORM_ORDER: [Field; 18] = [
    Field::Name,
    Field::Game,
    Field::Host,
    Field::RconPort,
    Field::RconPassword,
    Field::PollInterval,
    Field::LogSource,
    Field::LogPath,
    Field::SftpPort,
    Field::SftpUser,
    Field::SftpPassword,
    Field::SftpKey,
    Field::SftpKeyPassphrase,
    Field::SftpHostKey,
    Field::LogTimezone,
    Field::PrometheusUrl,
    Field::MetricsInterval,
    Field::Capacity,
];

/// Checks the form whole: the fields that could not be read and every problem
/// [`server_settings::validate`] finds, one per field, in the page's order.
fn validated(
    form: &GameServerForm,
    stored: StoredSecrets,
) -> Result<(ServerForm, ValidServer), AppError> {
    let (server, mut problems) = server_form(form);
    let valid = server_settings::validate(&server, stored);
    if let Err(errors) = &valid {
        for (field, problem) in errors.iter().map(field_problem) {
            if !problems.iter().any(|(known, _)| *known == field) {
                problems.push((field, problem));
            }
        }
    }
    problems.sort_by_key(|(field, _)| {
        FORM_ORDER
            .iter()
            .position(|known| known == field)
            .unwrap_or(FORM_ORDER.len())
    });
    match (AppError::invalid_fields(problems), valid) {
        (Some(error), _) => Err(error),
        (None, Ok(valid)) => Ok((server, valid)),
        (None, Err(_)) => Err(AppError::Internal),
    }
}

/// A whole number in `min..=max`.
fn number(text: &str, min: i64, max: i64, unit: Unit) -> Result<i64, Problem> {
    match text.trim().parse::<i64>() {
        Err(_) => Err(Problem::NotANumber),
        Ok(n) if !(min..=max).contains(&n) => Err(Problem::OutOfRange { min, max, unit }),
        Ok(n) => Ok(n),
    }
}

/// Kept, replaced (not by nothing) or removed.
fn secret(input: &SecretInput) -> Result<SecretChange, Problem> {
    match input.action {
        SecretAction::Keep => Ok(SecretChange::Keep),
        SecretAction::Clear => Ok(SecretChange::Clear),
        SecretAction::Replace if input.value.trim().is_empty() => Err(Problem::Required),
        SecretAction::Replace => Ok(SecretChange::Replace(input.value.clone())),
    }
}

/// A field of the command line's form as the browser's.
fn form_field(field: server_settings::Field) -> Field {
    use server_settings::Field as F;
    match field {
        F::Name => Field::Name,
        F::Game => Field::Game,
        F::Host => Field::Host,
        F::RconPort => Field::RconPort,
        F::RconPassword => Field::RconPassword,
        F::PollInterval => Field::PollInterval,
        F::LogSource => Field::LogSource,
        F::LogPath => Field::LogPath,
        F::SftpPort => Field::SftpPort,
        F::SftpUser => Field::SftpUser,
        F::SftpPassword => Field::SftpPassword,
        F::SftpKey => Field::SftpKey,
        F::SftpKeyPassphrase => Field::SftpKeyPassphrase,
        F::SftpHostKey => Field::SftpHostKey,
        F::LogTimezone => Field::LogTimezone,
        F::PrometheusUrl => Field::PrometheusUrl,
        F::MetricsInterval => Field::MetricsInterval,
        F::Capacity => Field::Capacity,
    }
}

/// Every problem [`server_settings::validate`] found, each next to its field.
fn fields_error(errors: &[FieldError]) -> AppError {
    AppError::invalid_fields(errors.iter().map(field_problem).collect())
        .unwrap_or(AppError::Internal)
}

/// A problem [`server_settings::validate`] found, as the browser shows it.
fn field_problem(error: &FieldError) -> (Field, Problem) {
    use server_settings::Problem as P;
    let field = form_field(error.field);
    let problem = match &error.problem {
        P::Empty | P::RequiredBy { .. } => Problem::Required,
        P::TooLong { max } => Problem::NameTooLong {
            max: u32::try_from(*max).unwrap_or(u32::MAX),
        },
        P::UnknownGame { .. } => Problem::GameUnknown,
        P::UnknownLogSource { .. } => Problem::LogSourceUnknown,
        P::OutOfRange { min, max } => Problem::OutOfRange {
            min: i64::from(*min),
            max: i64::from(*max),
            unit: Unit::Seconds,
        },
        P::TooSmall { min } => match field {
            Field::Capacity => Problem::OutOfRange {
                min: *min,
                max: CAPACITY_MAX,
                unit: Unit::Slots,
            },
            _ => Problem::OutOfRange {
                min: *min,
                max: 65535,
                unit: Unit::Port,
            },
        },
        P::NotAFolder { path } => Problem::FolderMissing { path: path.clone() },
        P::NoHttpLogs { .. } => Problem::MinecraftNoHttpLogs,
        P::NotATimeZone { given } => Problem::TimezoneUnknown {
            name: given.clone(),
        },
        P::NotAnHttpUrl { .. } => Problem::UrlNotHttp,
        P::NameTaken { name } => Problem::ServerNameTaken { name: name.clone() },
        P::Key(KeyProblem::NotAKey) => Problem::SftpKeyNotAKey,
        P::Key(KeyProblem::NeedsPassphrase) => Problem::SftpKeyNeedsPassphrase,
        P::Key(KeyProblem::WrongPassphrase) => Problem::SftpKeyWrongPassphrase,
        P::Key(KeyProblem::Rsa) => Problem::SftpKeyRsa,
    };
    (field, problem)
}

/// Why saving failed, as the admin sees it.
fn save_error(error: SaveError) -> AppError {
    match error {
        SaveError::Invalid(errors) => fields_error(&errors),
        SaveError::NoKey => AppError::invalid_request(Problem::SecretKeyMissing),
        SaveError::NotFound(server_id) => unknown(server_id),
        SaveError::Database(error) => error.into(),
    }
}

/// Why stored secrets could not be opened.
fn load_error(error: LoadError) -> AppError {
    match error {
        LoadError::NoKey { .. } => AppError::invalid_request(Problem::SecretKeyMissing),
        LoadError::Database(error) => error.into(),
        LoadError::Secret { .. } => {
            tracing::error!(%error, "a game server's secret cannot be opened");
            AppError::Internal
        }
    }
}

fn set(is_set: bool) -> &'static str {
    if is_set { "set" } else { "not set" }
}

/// Stored settings as the audit log records them: secrets only as set or not.
fn settings_audit(server: &Settings) -> Value {
    json!({
        "name": server.name,
        "game": server.game.as_str(),
        "host": server.host,
        "rcon_port": server.rcon_port,
        "rcon_password": set(server.rcon_password_set),
        "poll_interval_secs": server.poll_interval_secs,
        "log_source": server.log_source.as_str(),
        "log_path": server.log_path,
        "sftp_port": server.sftp_port,
        "sftp_user": server.sftp_user,
        "sftp_password": set(server.sftp_password_set),
        "sftp_key": set(server.sftp_key_set),
        "sftp_host_key": server.sftp_host_key,
        "log_timezone": server.log_timezone,
        "prometheus_url": server.prometheus_url,
        "metrics_interval_secs": server.metrics_interval_secs,
        "capacity": server.capacity_override,
    })
}

/// Settings about to be stored as the audit log records them.
fn valid_audit(valid: &ValidServer, stored: StoredSecrets) -> Value {
    let after = |change: &SecretChange, was: bool| {
        set(match change {
            SecretChange::Keep => was,
            SecretChange::Replace(_) => true,
            SecretChange::Clear => false,
        })
    };
    json!({
        "name": valid.name,
        "game": valid.game.as_str(),
        "host": valid.host,
        "rcon_port": valid.rcon_port,
        "rcon_password": after(&valid.rcon_password, stored.rcon_password),
        "poll_interval_secs": valid.poll_interval_secs,
        "log_source": valid.log_source.as_str(),
        "log_path": valid.log_path,
        "sftp_port": valid.sftp_port,
        "sftp_user": valid.sftp_user,
        "sftp_password": after(&valid.sftp_password, stored.sftp_password),
        "sftp_key": after(&valid.sftp_key, stored.sftp_key),
        "sftp_host_key": valid.sftp_host_key,
        "log_timezone": valid.log_timezone,
        "prometheus_url": valid.prometheus_url,
        "metrics_interval_secs": valid.metrics_interval_secs,
        "capacity": valid.capacity,
    })
}

/// A server as the list shows it: whether its secrets are set, never them.
fn settings_view(server: &Settings, sources: Vec<SourceStatus>) -> GameServerSettings {
    GameServerSettings {
        server_id: server.server_id,
        name: server.name.clone(),
        game: server.game.as_str().to_owned(),
        host: server.host.clone(),
        rcon_port: server.rcon_port,
        rcon_password_set: server.rcon_password_set,
        poll_interval_secs: server.poll_interval_secs,
        log_source: server.log_source.as_str().to_owned(),
        log_path: server.log_path.clone(),
        sftp_port: server.sftp_port,
        sftp_user: server.sftp_user.clone(),
        sftp_password_set: server.sftp_password_set,
        sftp_key_set: server.sftp_key_set,
        sftp_host_key: server.sftp_host_key.clone(),
        log_timezone: server.log_timezone.clone(),
        prometheus_url: server.prometheus_url.clone(),
        metrics_interval_secs: server.metrics_interval_secs,
        capacity: server.capacity_override,
        enabled: server.enabled,
        sources,
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

fn subject(server_id: i64, name: &str) -> String {
    format!("game server {name} (id {server_id})")
}

/// The newest `*.log` files of a folder on this machine.
fn list_local_folder(folder: &str, tz: chrono_tz::Tz) -> LogsCheck {
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
                modified: meta
                    .modified()
                    .ok()
                    .map(|at| local(DateTime::<Utc>::from(at), tz)),
            })
        })
        .collect();
    newest(folder.to_owned(), files)
}

/// Logs in over SFTP and lists the folder's newest `*.log` files.
async fn list_sftp_folder(
    target: &collectors::game::sftp::SftpTarget,
    folder: &str,
    tz: chrono_tz::Tz,
) -> LogsCheck {
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
                    modified: Some(local(f.modified, tz)),
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
                SftpError::KeyRejected { .. } => LogsProblem::KeyRefused,
                SftpError::NoKeyLogin { .. } => LogsProblem::NoKeyLogin,
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
}
