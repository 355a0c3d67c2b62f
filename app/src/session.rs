//! Who is looking at the page, whether demo sign-in is offered, and which day is "today" in
//! the community's time zone. Loaded once on the server per page load and handed to the
//! browser with the hydration data; signing in or out is a full page load, so it never needs
//! refetching in the browser.

use crate::error::AppError;
use crate::model::{CurrentUser, Permission};
use chrono::NaiveDate;
use leptos::prelude::*;
use serde::{Deserialize, Serialize};

/// What every page needs to know about the visitor.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct SessionInfo {
    pub user: Option<CurrentUser>,
    /// Demo sign-in (`/auth/demo?role=…`) is available.
    pub demo_mode: bool,
    /// Today in the community's time zone: the default end of date ranges.
    pub today: NaiveDate,
}

impl SessionInfo {
    pub fn can(&self, permission: Permission) -> bool {
        self.user.as_ref().is_some_and(|user| user.can(permission))
    }
}

/// The session resource, provided by `App`.
pub type SessionResource = Resource<Result<SessionInfo, AppError>>;

/// Creates the session resource. Its source never changes, so the browser always uses the
/// server's answer.
pub fn session_resource() -> SessionResource {
    Resource::new_blocking(|| (), |_| load_session())
}

pub fn use_session() -> SessionResource {
    expect_context::<SessionResource>()
}

#[cfg(feature = "ssr")]
async fn load_session() -> Result<SessionInfo, AppError> {
    let state = use_context::<crate::ssr::AppState>().ok_or(AppError::Internal)?;
    let user = crate::api::get_me().await?;
    let tz = crate::ssr::community::timezone(&state).await?;
    let today: NaiveDate = sqlx::query_scalar("select (now() at time zone $1)::date")
        .bind(tz.name())
        .fetch_one(&state.pool)
        .await?;
    Ok(SessionInfo {
        user,
        demo_mode: state.settings.demo_mode,
        today,
    })
}

/// Only reached when the page was not server-rendered; asks for the user and uses the
/// browser's date.
#[cfg(not(feature = "ssr"))]
async fn load_session() -> Result<SessionInfo, AppError> {
    Ok(SessionInfo {
        user: crate::api::get_me().await?,
        demo_mode: false,
        today: chrono::Local::now().date_naive(),
    })
}
