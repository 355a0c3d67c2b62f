//! The seam between the admin's game server functions and the code that stores and tests
//! game servers. That code lives in the server crate (it needs the collectors: the RCON and
//! SFTP clients, the exporter scraper, the validation of `servers add`), which the app
//! cannot depend on (it compiles to wasm too). The server crate implements
//! [`GameServerAdmin`] and provides it through the Leptos context as
//! [`GameServerAdminHandle`]; the server functions check the role first, then call it.

use crate::error::AppError;
use crate::model::{
    ConnectionReport, CurrentUser, DeletedGameServer, GameServerForm, GameServersSection,
    LogAddress, SavedGameServer,
};
use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;

/// A boxed future, as a `dyn` trait's async methods return.
pub type BoxFuture<'a, T> = Pin<Box<dyn Future<Output = T> + Send + 'a>>;

/// Everything the admin does with game servers. Every change is one transaction with its
/// audit entry (`actor` is the admin); errors are [`AppError`]s with the field they concern.
pub trait GameServerAdmin: Send + Sync {
    /// Every server that is not deleted, by name; times on the clock of `tz` (the
    /// community's time zone).
    fn list(&self, tz: chrono_tz::Tz) -> BoxFuture<'_, Result<GameServersSection, AppError>>;

    /// Checks and stores a new server.
    fn create<'a>(
        &'a self,
        actor: &'a CurrentUser,
        form: GameServerForm,
    ) -> BoxFuture<'a, Result<SavedGameServer, AppError>>;

    /// Checks and stores new settings of `server_id` (secrets as the form says).
    fn update<'a>(
        &'a self,
        actor: &'a CurrentUser,
        server_id: i64,
        form: GameServerForm,
    ) -> BoxFuture<'a, Result<SavedGameServer, AppError>>;

    /// Starts or stops collecting from `server_id`.
    fn set_enabled<'a>(
        &'a self,
        actor: &'a CurrentUser,
        server_id: i64,
        enabled: bool,
    ) -> BoxFuture<'a, Result<(), AppError>>;

    /// Deletes `server_id`; its history stays unless `erase_history`.
    fn delete<'a>(
        &'a self,
        actor: &'a CurrentUser,
        server_id: i64,
        erase_history: bool,
    ) -> BoxFuture<'a, Result<DeletedGameServer, AppError>>;

    /// Replaces the HTTP log token of `server_id`; the address is shown once.
    fn regenerate_log_token<'a>(
        &'a self,
        actor: &'a CurrentUser,
        server_id: i64,
    ) -> BoxFuture<'a, Result<LogAddress, AppError>>;

    /// Pins the SFTP host key `fingerprint` (`SHA256:…`) the admin confirmed.
    fn pin_host_key<'a>(
        &'a self,
        actor: &'a CurrentUser,
        server_id: i64,
        fingerprint: String,
    ) -> BoxFuture<'a, Result<(), AppError>>;

    /// Tries the stored settings of `server_id`; times on the clock of `tz`.
    fn test_server(
        &self,
        server_id: i64,
        tz: chrono_tz::Tz,
    ) -> BoxFuture<'_, Result<ConnectionReport, AppError>>;

    /// Tries the settings in `form` before they are saved; secrets the form keeps come from
    /// `server_id`'s stored ones.
    fn test_form(
        &self,
        server_id: Option<i64>,
        form: GameServerForm,
        tz: chrono_tz::Tz,
    ) -> BoxFuture<'_, Result<ConnectionReport, AppError>>;
}

/// How [`GameServerAdmin`] travels through the Leptos context.
#[derive(Clone)]
pub struct GameServerAdminHandle(pub Arc<dyn GameServerAdmin>);

/// The implementation the server provided.
pub fn game_server_admin() -> Result<Arc<dyn GameServerAdmin>, AppError> {
    leptos::prelude::use_context::<GameServerAdminHandle>()
        .map(|handle| handle.0)
        .ok_or_else(|| {
            tracing::error!("GameServerAdminHandle missing from the Leptos context");
            AppError::Internal
        })
}
