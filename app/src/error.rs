//! The one error type users see. Internal details are logged on the server and never sent
//! to the browser.

use leptos::server_fn::codec::JsonEncoding;
use leptos::server_fn::error::{FromServerFnError, ServerFnErrorErr};
use serde::{Deserialize, Serialize};

#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error, Serialize, Deserialize)]
pub enum AppError {
    #[error("please sign in")]
    Unauthorized,
    #[error("you are not allowed to do this")]
    Forbidden,
    #[error("{0}")]
    BadRequest(String),
    /// A change that is refused for a reason the user can act on.
    #[error("refused: {0:?}")]
    Refused(Refusal),
    #[error("something went wrong on the server")]
    Internal,
    #[error("request failed: {0}")]
    ServerFn(String),
}

impl AppError {
    /// HTTP status for this error.
    pub fn status(&self) -> u16 {
        match self {
            AppError::Unauthorized => 401,
            AppError::Forbidden => 403,
            AppError::BadRequest(_) => 400,
            AppError::Refused(_) => 409,
            AppError::Internal | AppError::ServerFn(_) => 500,
        }
    }
}

/// Why a change was refused; the page shows each in the user's language.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub enum Refusal {
    /// The change would leave no admin.
    LastAdmin,
    /// The user is an admin through `GUILDHALL_ADMIN_IDS`.
    ConfiguredAdmin,
    /// The user is a leader through `GUILDHALL_LEADER_IDS`.
    ConfiguredLeader,
    /// No such user.
    UnknownUser,
}

impl FromServerFnError for AppError {
    type Encoder = JsonEncoding;

    fn from_server_fn_error(value: ServerFnErrorErr) -> Self {
        AppError::ServerFn(value.to_string())
    }
}

#[cfg(feature = "ssr")]
impl From<sqlx::Error> for AppError {
    fn from(error: sqlx::Error) -> Self {
        tracing::error!(error = %error, "database error");
        AppError::Internal
    }
}
