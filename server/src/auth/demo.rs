//! Demo login: in demo mode, `GET /auth/demo` shows one button per role; each posts
//! `role=admin|leader|member` (and `next`) to `POST /auth/demo`, which signs the browser in
//! as a fixed demo user with that role (a POST, so the cross-site check applies and no link
//! or image elsewhere can sign anyone in). `role=outsider` tries to sign in a Discord account
//! that is not a member of the community and shows the refusal a real one gets. Without
//! demo mode both answer 404; once a real (non-demo) user has signed in, 403: demo sign-in
//! would hand out admin to anyone on a real community's data.

use super::{Profile, RoleAtSignIn, SignInError, local_path, sign_in, upsert_user};
use crate::demo::DEMO_USER_BASE;
use crate::state::ServerState;
use app::i18n::{Key, Lang};
use app::model::Role;
use askama::Template;
use axum::extract::{Form, Query, State};
use axum::http::HeaderMap;
use axum::response::{Html, IntoResponse, Redirect, Response};
use serde::Deserialize;
use tower_sessions::Session;

/// The form posted to `/auth/demo` (and the query of its page: `next` only).
#[derive(Debug, Deserialize)]
pub(super) struct DemoForm {
    role: Option<String>,
    next: Option<String>,
}

/// The demo sign-in page.
#[derive(Template)]
#[template(path = "demo_sign_in.html")]
struct DemoPage {
    lang_code: &'static str,
    title: &'static str,
    lead: &'static str,
    back_home: &'static str,
    /// Role, button label, whether the button is the secondary kind.
    roles: Vec<(&'static str, String, bool)>,
    next: Option<String>,
}

/// Whether a user other than the fixed demo users has ever signed in.
async fn real_users_signed_in(pool: &sqlx::PgPool) -> Result<bool, SignInError> {
    let (first, last) = (demo_user(Role::Admin).0, demo_user(Role::Member).0);
    sqlx::query_scalar(
        "select exists (select 1 from app.users
                        where last_login_at is not null
                          and discord_user_id not between $1 and $2)",
    )
    .bind(first.min(last))
    .bind(first.max(last))
    .fetch_one(pool)
    .await
    .map_err(|error| {
        tracing::error!(%error, "checking for real users failed");
        SignInError::Internal
    })
}

/// Demo mode is on and nobody real has signed in, or why demo sign-in is refused.
async fn demo_allowed(state: &ServerState) -> Result<(), SignInError> {
    if !state.config.demo {
        return Err(SignInError::DemoOff);
    }
    if real_users_signed_in(&state.app.pool).await? {
        tracing::warn!("demo sign-in refused: real users have signed in to this database");
        return Err(SignInError::DemoRealUsers);
    }
    Ok(())
}

/// `GET /auth/demo?next=/path`: one button per role.
pub(super) async fn page(
    State(state): State<ServerState>,
    headers: HeaderMap,
    Query(query): Query<DemoForm>,
) -> Response {
    let lang = Lang::of_request(&headers);
    if let Err(error) = demo_allowed(&state).await {
        return error.page(lang);
    }
    let demo = |role: Role| format!("Demo: {}", role_key(role).text(lang));
    let page = DemoPage {
        lang_code: lang.code(),
        title: Key::DemoTitle.text(lang),
        lead: Key::DemoLead.text(lang),
        back_home: Key::AuthBackHome.text(lang),
        roles: vec![
            ("leader", demo(Role::Leader), false),
            ("admin", demo(Role::Admin), false),
            ("member", demo(Role::Member), false),
            (
                "outsider",
                Key::AuthDemoOutsider.text(lang).to_owned(),
                true,
            ),
        ],
        next: local_path(query.next.as_deref()),
    };
    match page.render() {
        Ok(html) => Html(html).into_response(),
        Err(error) => {
            tracing::error!(%error, "rendering the demo sign-in page failed");
            SignInError::Internal.page(lang)
        }
    }
}

fn role_key(role: Role) -> Key {
    match role {
        Role::Admin => Key::RoleAdmin,
        Role::Leader => Key::RoleLeader,
        Role::Member => Key::RoleMember,
    }
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

/// `POST /auth/demo` with `role=…&next=/path`.
pub(super) async fn login(
    State(state): State<ServerState>,
    headers: HeaderMap,
    session: Session,
    Form(query): Form<DemoForm>,
) -> Response {
    let lang = Lang::of_request(&headers);
    if let Err(error) = demo_allowed(&state).await {
        return error.page(lang);
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
