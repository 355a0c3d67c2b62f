//! The permission check. Server functions call [`require`]; axum routes call [`authorize`]
//! with the request's session. Both end in the same decision.

use super::AppState;
use crate::error::AppError;
use crate::model::{CurrentUser, Permission, Role};
use sqlx::PgPool;
use tower_sessions::Session;

/// Session key holding the signed-in user's `app.users.id`.
pub const SESSION_USER_KEY: &str = "user_id";

/// The signed-in user, looked up once per request: a page's server functions (who am I, and
/// each one's permission check) share one database read. Provided fresh for every request.
#[derive(Clone, Default)]
pub struct RequestUser(std::sync::Arc<std::sync::Mutex<Option<Option<CurrentUser>>>>);

impl RequestUser {
    fn get(&self) -> Option<Option<CurrentUser>> {
        self.0.lock().ok().and_then(|cached| cached.clone())
    }

    fn set(&self, user: &Option<CurrentUser>) {
        if let Ok(mut cached) = self.0.lock() {
            *cached = Some(user.clone());
        }
    }
}

/// The session's user, from this request's cache when it has been read already.
async fn cached_user(pool: &PgPool, session: &Session) -> Result<Option<CurrentUser>, AppError> {
    let cache = leptos::prelude::use_context::<RequestUser>();
    if let Some(user) = cache.as_ref().and_then(RequestUser::get) {
        return Ok(user);
    }
    let user = current_user(pool, session).await?;
    if let Some(cache) = cache {
        cache.set(&user);
    }
    Ok(user)
}

/// Loads the signed-in user of a session, if any.
pub async fn current_user(
    pool: &PgPool,
    session: &Session,
) -> Result<Option<CurrentUser>, AppError> {
    let user_id: Option<i64> = session.get(SESSION_USER_KEY).await.map_err(|error| {
        tracing::error!(error = %error, "reading the session failed");
        AppError::Internal
    })?;
    let Some(user_id) = user_id else {
        return Ok(None);
    };
    let row: Option<(i64, i64, String, Option<String>, String)> = sqlx::query_as(
        // The effective role: the hand-granted one, or the one the Discord roles map to
        // when that is higher.
        "select id, discord_user_id, username, display_name,
                case when app.role_rank(discord_role) > app.role_rank(role) then discord_role
                     else role end
         from app.users where id = $1",
    )
    .bind(user_id)
    .fetch_optional(pool)
    .await?;
    Ok(
        row.and_then(|(id, discord_user_id, username, display_name, role)| {
            Some(CurrentUser {
                id,
                discord_user_id,
                name: display_name.unwrap_or(username),
                role: Role::parse(&role)?,
            })
        }),
    )
}

/// Decides whether the session's user holds `permission`.
pub async fn authorize(
    pool: &PgPool,
    session: &Session,
    permission: Permission,
) -> Result<CurrentUser, AppError> {
    decide(current_user(pool, session).await?, permission)
}

/// The one decision: signed in, and the role holds the permission.
fn decide(user: Option<CurrentUser>, permission: Permission) -> Result<CurrentUser, AppError> {
    match user {
        None => Err(AppError::Unauthorized),
        Some(user) if user.can(permission) => Ok(user),
        Some(user) => {
            tracing::info!(user_id = user.id, ?permission, "permission denied");
            Err(AppError::Forbidden)
        }
    }
}

/// For server functions open to everyone (who am I?): the signed-in user, if any, read
/// through the same session path as [`require`].
pub async fn visitor() -> Result<(Option<CurrentUser>, AppState), AppError> {
    let (state, session) = request_session().await?;
    Ok((cached_user(&state.pool, &session).await?, state))
}

/// The check for server functions: reads the session of the current request, decides, and
/// sets the HTTP status (401/403) when it refuses.
pub async fn require(permission: Permission) -> Result<(CurrentUser, AppState), AppError> {
    let (state, session) = request_session().await?;
    match decide(cached_user(&state.pool, &session).await?, permission) {
        Ok(user) => Ok((user, state)),
        Err(error) => {
            set_status(&error);
            Err(error)
        }
    }
}

/// The app state and the session of the server function's request.
/// Signs the current request's browser out (after the user's account was deleted).
pub async fn end_session() -> Result<(), AppError> {
    let (_, session) = request_session().await?;
    session.flush().await.map_err(|error| {
        tracing::error!(error = %error, "ending the session failed");
        AppError::Internal
    })
}

async fn request_session() -> Result<(AppState, Session), AppError> {
    let state = leptos::prelude::use_context::<AppState>().ok_or_else(|| {
        tracing::error!("AppState missing from the Leptos context");
        AppError::Internal
    })?;
    let session: Session = leptos_axum::extract().await.map_err(|error| {
        tracing::error!(error = %error, "no session layer on this request");
        AppError::Internal
    })?;
    Ok((state, session))
}

/// `error` with the response status set, to return from a server function.
pub fn with_status(error: AppError) -> AppError {
    set_status(&error);
    error
}

/// Sets the response status for an error returned from a server function.
pub fn set_status(error: &AppError) {
    if let Some(response) = leptos::prelude::use_context::<leptos_axum::ResponseOptions>()
        && let Ok(status) = axum::http::StatusCode::from_u16(error.status())
    {
        response.set_status(status);
    }
}
