//! One module per page. Each route first resolves the session and then shows the page the
//! visitor may see: a sign-in page for visitors, a refusal for the wrong role.

mod admin;
mod admin_discord;
mod admin_identities;
mod admin_privacy;
mod admin_servers;
mod admin_status;
mod daily_active_users;
mod events;
mod members;
mod my_accounts;
mod my_activity;
mod privacy;
mod retention;
mod servers;
mod sign_in;

pub use admin::{
    AdminAuditRoute, AdminDiscordRoute, AdminIdentitiesRoute, AdminPeopleRoute, AdminPrivacyRoute,
    AdminRoute, AdminServersRoute,
};
pub use daily_active_users::DailyActiveUsersPage;
pub use events::EventsPage;
pub use members::MembersPage;
pub use my_activity::MyActivityPage;
pub use privacy::PrivacyRoute;
pub use retention::RetentionPage;
pub use servers::ServersPage;
pub use sign_in::SignInPage;

use crate::components::{ErrorNotice, Loading};
use crate::error::AppError;
use crate::i18n::{Key, t};
use crate::model::Permission;
use crate::session::{SessionInfo, use_session};
use leptos::prelude::*;
use leptos_meta::Title;

/// Renders `page` once the session is known: visitors get the sign-in page, users without
/// `permission` a refusal.
fn gated<V: IntoView + 'static>(
    permission: Permission,
    page: impl Fn(SessionInfo) -> V + Clone + Send + Sync + 'static,
) -> impl IntoView {
    let session = use_session();
    view! {
        <Suspense fallback=Loading>
            {move || {
                let page = page.clone();
                Suspend::new(async move {
                    match session.await {
                        Err(error) => view! { <ErrorNotice error /> }.into_any(),
                        Ok(info) if info.user.is_none() => {
                            view! { <SignInPage demo_mode=info.demo_mode /> }.into_any()
                        }
                        Ok(info) if !info.can(permission) => {
                            view! { <ErrorNotice error=AppError::Forbidden /> }.into_any()
                        }
                        Ok(info) => page(info).into_any(),
                    }
                })
            }}
        </Suspense>
    }
}

/// `/`: the overview for leaders and admins, a member's own page for members.
#[component]
pub fn DailyActiveUsersRoute() -> impl IntoView {
    gated(Permission::OwnData, |info: SessionInfo| {
        if info.can(Permission::ViewKpis) {
            view! { <DailyActiveUsersPage today=info.today /> }.into_any()
        } else {
            view! { <MyActivityPage /> }.into_any()
        }
    })
}

/// `/me`
#[component]
pub fn MyActivityRoute() -> impl IntoView {
    gated(Permission::OwnData, |_| view! { <MyActivityPage /> })
}

/// `/members` (the server already refuses members before rendering).
#[component]
pub fn MembersRoute() -> impl IntoView {
    gated(Permission::ViewKpis, |_| view! { <MembersPage /> })
}

/// `/events` (the server already refuses members before rendering).
#[component]
pub fn EventsRoute() -> impl IntoView {
    gated(Permission::ViewKpis, |_| view! { <EventsPage /> })
}

/// `/servers` (the server already refuses members before rendering).
#[component]
pub fn ServersRoute() -> impl IntoView {
    gated(Permission::ViewKpis, |_| view! { <ServersPage /> })
}

/// `/retention` (the server already refuses members before rendering).
#[component]
pub fn RetentionRoute() -> impl IntoView {
    gated(Permission::ViewKpis, |_| view! { <RetentionPage /> })
}

/// Any other path: a 404.
#[component]
pub fn NotFound() -> impl IntoView {
    #[cfg(feature = "ssr")]
    if let Some(response) = use_context::<leptos_axum::ResponseOptions>() {
        response.set_status(axum::http::StatusCode::NOT_FOUND);
    }
    view! {
        <Title text=t(Key::NotFound) />
        <section class="page">
            <h1>"404"</h1>
            <p>{t(Key::NotFound)}</p>
            <p>
                <a href="/">{t(Key::BackHome)}</a>
            </p>
        </section>
    }
}
