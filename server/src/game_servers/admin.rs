//! The admin's game servers from the browser: [`ServerAdmin`] implements the app's
//! [`GameServerAdmin`] seam with the collectors' code. A form is checked by
//! [`server_settings::validate`], the same check as `guildhall servers add` (each problem
//! next to its field), and stored by its create and update (secrets sealed with
//! `GUILDHALL_SECRET_KEY`, the log token kept only as its hash) in one transaction with the
//! audit entry. Connection tests: RCON (`status` or `list`), the log folder (SFTP or on this
//! machine) and the Prometheus exporter.

use app::error::{AppError, Field, Problem};
use app::model::{
    AuditAction, ConnectionReport, CurrentUser, DeletedGameServer, GameServerForm,
    GameServerSettings, GameServersSection, LogAddress, LogsCheck, LogsProblem, MetricsCheck,
    MetricsProblem, RconCheck, RconProblem, SavedGameServer, SourceStatus,
};
use app::ssr::audit::{Actor, record};
use app::ssr::game_servers::{BoxFuture, GameServerAdmin};
use chrono::{DateTime, Utc};
use collectors::game::poller::{PollError, StatusPoller, scrape};
use collectors::game::prometheus::ScrapeError;
use collectors::game::rcon::{Rcon, RconFailure, RconTimeouts};
use collectors::game::server_settings::{self, SecretChange, StoredSecrets, ValidServer};
use collectors::game::servers::{
    Game, GameServer, LogSource, host_port, load_settings, server_by_id, settings_by_id,
};
use collectors::secrets::SecretKey;
use serde_json::{Value, json};
use sqlx::PgPool;
use std::time::Duration;

mod folders;
mod form;

use folders::{list_local_folder, list_sftp_folder};
use form::{checked, load_error, save_error};

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
