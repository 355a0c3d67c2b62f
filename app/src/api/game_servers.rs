//! The admin's game servers: list, add, edit, enable, disable, delete, a new log token, a
//! confirmed SFTP host key, and connection tests. Admins only, checked here on the server
//! before anything else; the work is done by the server crate's
//! [`GameServerAdmin`](crate::ssr::game_servers::GameServerAdmin).

use crate::error::AppError;
use crate::model::{
    ConnectionReport, DeletedGameServer, GameServerForm, GameServersSection, LogAddress,
    SavedGameServer,
};
use leptos::prelude::*;

/// Sets the HTTP status of an error from the implementation (400 for a field, …).
#[cfg(feature = "ssr")]
fn answered<T>(result: Result<T, AppError>) -> Result<T, AppError> {
    result.map_err(crate::ssr::authz::with_status)
}

/// Every game server, with whether its passwords and key are set (never them), and the
/// community's time zone.
#[server]
pub async fn get_game_servers() -> Result<GameServersSection, AppError> {
    use crate::model::Permission;
    let (_, state) = crate::ssr::authz::require(Permission::Administer).await?;
    let admin = crate::ssr::game_servers::game_server_admin()?;
    let tz = crate::ssr::community::timezone(&state).await?;
    answered(admin.list(tz).await)
}

/// Adds a game server from `form`. The HTTP log address comes back once.
#[server]
pub async fn create_game_server(form: GameServerForm) -> Result<SavedGameServer, AppError> {
    use crate::model::Permission;
    let (user, _) = crate::ssr::authz::require(Permission::Administer).await?;
    let admin = crate::ssr::game_servers::game_server_admin()?;
    answered(admin.create(&user, form).await)
}

/// Saves `form` as the settings of `server_id`.
#[server]
pub async fn update_game_server(
    server_id: i64,
    form: GameServerForm,
) -> Result<SavedGameServer, AppError> {
    use crate::model::Permission;
    let (user, _) = crate::ssr::authz::require(Permission::Administer).await?;
    let admin = crate::ssr::game_servers::game_server_admin()?;
    answered(admin.update(&user, server_id, form).await)
}

/// Starts (`enabled`) or stops collecting from `server_id`; its history stays.
#[server]
pub async fn set_game_server_enabled(server_id: i64, enabled: bool) -> Result<(), AppError> {
    use crate::model::Permission;
    let (user, _) = crate::ssr::authz::require(Permission::Administer).await?;
    let admin = crate::ssr::game_servers::game_server_admin()?;
    answered(admin.set_enabled(&user, server_id, enabled).await)
}

/// Deletes `server_id`. Its history stays unless `erase_history`; erasing must be confirmed
/// by typing the server's name as `confirmation`.
#[server]
pub async fn delete_game_server(
    server_id: i64,
    erase_history: bool,
    confirmation: String,
) -> Result<DeletedGameServer, AppError> {
    use crate::error::{Field, Problem};
    use crate::model::Permission;
    let (user, state) = crate::ssr::authz::require(Permission::Administer).await?;
    let admin = crate::ssr::game_servers::game_server_admin()?;
    if erase_history {
        let tz = crate::ssr::community::timezone(&state).await?;
        let section = answered(admin.list(tz).await)?;
        let Some(server) = section.servers.iter().find(|s| s.server_id == server_id) else {
            return answered(Err(AppError::invalid(
                Field::ServerId,
                Problem::GameServerUnknown { server_id },
            )));
        };
        if confirmation.trim() != server.name {
            return answered(Err(AppError::invalid(
                Field::Confirmation,
                Problem::ConfirmationMismatch {
                    expected: server.name.clone(),
                },
            )));
        }
    }
    answered(admin.delete(&user, server_id, erase_history).await)
}

/// A new HTTP log token for `server_id` (the old one stops working); the address comes back
/// once.
#[server]
pub async fn regenerate_game_server_token(server_id: i64) -> Result<LogAddress, AppError> {
    use crate::model::Permission;
    let (user, _) = crate::ssr::authz::require(Permission::Administer).await?;
    let admin = crate::ssr::game_servers::game_server_admin()?;
    answered(admin.regenerate_log_token(&user, server_id).await)
}

/// Pins the SFTP host key `fingerprint` the admin checked and confirmed for `server_id`.
#[server]
pub async fn pin_game_server_host_key(server_id: i64, fingerprint: String) -> Result<(), AppError> {
    use crate::model::Permission;
    let (user, _) = crate::ssr::authz::require(Permission::Administer).await?;
    let admin = crate::ssr::game_servers::game_server_admin()?;
    answered(admin.pin_host_key(&user, server_id, fingerprint).await)
}

/// Tries `server_id`'s stored settings: RCON, the log folder, the exporter.
#[server]
pub async fn test_game_server(server_id: i64) -> Result<ConnectionReport, AppError> {
    use crate::model::Permission;
    let (_, state) = crate::ssr::authz::require(Permission::Administer).await?;
    let admin = crate::ssr::game_servers::game_server_admin()?;
    let tz = crate::ssr::community::timezone(&state).await?;
    answered(admin.test_server(server_id, tz).await)
}

/// Tries the settings of `form` before saving them (on an existing server, `server_id`:
/// passwords the form keeps are the stored ones).
#[server]
pub async fn test_game_server_form(
    server_id: Option<i64>,
    form: GameServerForm,
) -> Result<ConnectionReport, AppError> {
    use crate::model::Permission;
    let (_, state) = crate::ssr::authz::require(Permission::Administer).await?;
    let admin = crate::ssr::game_servers::game_server_admin()?;
    let tz = crate::ssr::community::timezone(&state).await?;
    answered(admin.test_form(server_id, form, tz).await)
}
