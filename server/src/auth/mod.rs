//! Sign-in: Discord OAuth2 (authorization code with state and PKCE), demo login, logout,
//! and the error page shown when sign-in fails.

use crate::web::ServerState;
use axum::Router;
use axum::http::StatusCode;
use axum::response::{Html, IntoResponse, Response};

pub fn router() -> Router<ServerState> {
    Router::new()
}

/// Makes the configured Discord user ids admins (creating their users if needed).
pub async fn bootstrap_admins(_pool: &sqlx::PgPool, _ids: &[i64]) -> anyhow::Result<()> {
    Ok(())
}

pub fn error_page(status: StatusCode, message: &str) -> Response {
    (status, Html(message.to_owned())).into_response()
}
