//! Demo login: in demo mode, `/auth/demo?role=admin|leader|member` signs the browser in as
//! a fixed demo user with that role; `role=outsider` tries to sign in a Discord account that
//! is not a member of the community and shows the refusal a real one gets. Without demo mode
//! the route answers 404.

use super::{Profile, RoleAtSignIn, SignInError, local_path, sign_in, upsert_user};
use crate::demo::DEMO_USER_BASE;
use crate::state::ServerState;
use app::i18n::Lang;
use app::model::Role;
use axum::extract::{Query, State};
use axum::http::HeaderMap;
use axum::response::{IntoResponse, Redirect, Response};
use serde::Deserialize;
use tower_sessions::Session;

/// The query of `/auth/demo`.
#[derive(Debug, Deserialize)]
pub(super) struct DemoQuery {
    role: Option<String>,
    next: Option<String>,
}

/// The fixed demo user of a role: Discord id and name. Each is a member of the demo
/// community (see [`crate::demo::DEMO_LOGIN_MEMBERS`]), so their own pages show activity.
pub fn demo_user(role: Role) -> (i64, &'static str) {
    let (index, name) = match role {
        Role::Admin => (0, "Demo Admin"),
        Role::Leader => (1, "Demo Leader"),
        Role::Member => (2, "Demo Member"),
    };
    (DEMO_USER_BASE + index, name)
}

/// A Discord account that is not a member of the demo community.
pub const DEMO_OUTSIDER_ID: i64 = DEMO_USER_BASE - 1;

/// `GET /auth/demo?role=…&next=/path`.
pub(super) async fn login(
    State(state): State<ServerState>,
    headers: HeaderMap,
    session: Session,
    Query(query): Query<DemoQuery>,
) -> Response {
    let lang = Lang::of_request(&headers);
    if !state.config.demo {
        return SignInError::DemoOff.page(lang);
    }
    if query.role.as_deref() == Some("outsider") {
        // The same check a Discord sign-in runs.
        return match super::check_membership(&state.app.pool, DEMO_OUTSIDER_ID).await {
            Err(error) => error.page(lang),
            Ok(()) => SignInError::NotAMember.page(lang),
        };
    }
    let Some(role) = Role::parse(query.role.as_deref().unwrap_or("member")) else {
        return SignInError::UnknownRole.page(lang);
    };
    let (discord_user_id, name) = demo_user(role);
    let username = format!("demo-{}", role.as_str());
    let profile = Profile {
        discord_user_id,
        username: &username,
        display_name: Some(name),
        avatar: None,
    };
    let signed_in = async {
        let user_id = upsert_user(&state.app.pool, &profile, RoleAtSignIn::Exactly(role)).await?;
        sign_in(&session, user_id).await
    };
    match signed_in.await {
        Ok(()) => {
            let next = local_path(query.next.as_deref());
            Redirect::to(next.as_deref().unwrap_or("/")).into_response()
        }
        Err(error) => error.page(lang),
    }
}
