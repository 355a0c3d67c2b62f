//! Database start-up: create the database if it is missing, connect, migrate.

use anyhow::Context;
use sqlx::postgres::{PgConnectOptions, PgPoolOptions};
use sqlx::{ConnectOptions, Connection, PgPool};
use std::str::FromStr;
use std::time::Duration;

/// The embedded migrations from `migrations/`.
pub static MIGRATOR: sqlx::migrate::Migrator = sqlx::migrate!("../migrations");

/// Creates the database named in `url` if it does not exist yet. An existing database is
/// used as it is, so an account without the right to create databases works too.
pub async fn create_database_if_missing(url: &str) -> anyhow::Result<()> {
    let options =
        PgConnectOptions::from_str(url).context("DATABASE_URL is not a PostgreSQL URL")?;
    let unreachable = || {
        format!(
            "cannot connect to the database server at DATABASE_URL={}",
            crate::config::redact_url(url)
        )
    };
    match options.connect().await {
        Ok(conn) => {
            conn.close().await.ok();
            return Ok(());
        }
        Err(sqlx::Error::Database(error)) if error.code().as_deref() == Some("3D000") => {}
        Err(error) => return Err(anyhow::Error::new(error).context(unreachable())),
    }
    let name = options.get_database().unwrap_or("postgres").to_owned();
    let mut conn = options
        .clone()
        .database("postgres")
        .connect()
        .await
        .with_context(unreachable)?;
    // Identifiers cannot be bound as parameters; quote it the way PostgreSQL does.
    let quoted = format!("\"{}\"", name.replace('"', "\"\""));
    sqlx::query(&format!("create database {quoted}"))
        .execute(&mut conn)
        .await
        .with_context(|| format!("database {name} does not exist and cannot be created"))?;
    tracing::info!(database = %name, "created database");
    conn.close().await.ok();
    Ok(())
}

/// Connects a pool, failing fast with a message that names `DATABASE_URL`.
pub async fn connect(url: &str) -> anyhow::Result<PgPool> {
    // No JIT: Guildhall's queries are short and incremental, and once history makes their
    // cost estimates large, compiling them takes far longer (hundreds of milliseconds) than
    // running them.
    let options = PgConnectOptions::from_str(url)
        .context("DATABASE_URL is not a valid PostgreSQL URL")?
        .options([("jit", "off")])
        // sqlx logs a slow statement at `warn` with its whole text (about 150 lines for a
        // pipeline script): the pipeline logs the job and its time instead, and the SQL
        // stays for `debug`.
        .log_slow_statements(log::LevelFilter::Debug, Duration::from_secs(1));
    PgPoolOptions::new()
        .max_connections(10)
        .acquire_timeout(Duration::from_secs(5))
        .connect_with(options)
        .await
        .with_context(|| {
            format!(
                "cannot connect to the database at DATABASE_URL={}",
                crate::config::redact_url(url)
            )
        })
}

/// Applies pending migrations.
pub async fn migrate(pool: &PgPool) -> anyhow::Result<()> {
    MIGRATOR
        .run(pool)
        .await
        .context("applying database migrations failed")
}
