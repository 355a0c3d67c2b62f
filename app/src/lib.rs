//! Guildhall's web app: pages, components and server functions, rendered on the server and
//! hydrated in the browser.
#![recursion_limit = "256"]

pub mod api;
pub mod components;
pub mod error;
pub mod i18n;
pub mod model;
pub mod pages;
pub mod session;
#[cfg(feature = "ssr")]
pub mod ssr;

use components::Header;
use i18n::{I18n, initial_lang};
use leptos::prelude::*;
use leptos_meta::{Html, MetaTags, Title, provide_meta_context};
use leptos_router::components::{Route, Router, Routes};
use leptos_router::{SsrMode, path};
use pages::{
    AdminAuditRoute, AdminDiscordRoute, AdminIdentitiesRoute, AdminPeopleRoute, AdminPrivacyRoute,
    AdminRoute, AdminServersRoute, DailyActiveUsersRoute, EventsRoute, MembersRoute,
    MyActivityRoute, NotFound, PrivacyRoute, RetentionRoute, ServersRoute,
};

/// The HTML document around the app, rendered on the server. `<html lang>` is filled in by
/// `App` (through leptos_meta) with the language chosen for this request. `stylesheet` is
/// the stylesheet's path (its name carries a content hash in a bundled site).
pub fn shell(options: LeptosOptions, stylesheet: String) -> impl IntoView {
    view! {
        <!DOCTYPE html>
        <html>
            <head>
                <meta charset="utf-8" />
                <meta name="viewport" content="width=device-width, initial-scale=1" />
                // No favicon yet: an empty one saves every page a 404.
                <link rel="icon" href="data:," />
                <link rel="stylesheet" id="guildhall" href=stylesheet />
                <AutoReload options=options.clone() />
                <HydrationScripts options />
                <MetaTags />
            </head>
            <body>
                <App />
            </body>
        </html>
    }
}

#[component]
pub fn App() -> impl IntoView {
    provide_meta_context();
    let lang = RwSignal::new(initial_lang());
    provide_context(I18n { lang });
    provide_context(session::session_resource());

    // A hook for tests and styles: set once the browser has hydrated the page.
    let hydrated = RwSignal::new(false);
    Effect::new(move |_| hydrated.set(true));

    view! {
        <Html {..} lang=move || lang.get().code() />
        <Title formatter=|text: String| {
            if text.is_empty() { "Guildhall".to_owned() } else { format!("{text} · Guildhall") }
        } />
        <Router>
            <div class="app" data-hydrated=move || hydrated.get().then_some("true")>
                <Header />
                <main id="main">
                    <Routes fallback=NotFound>
                        <Route path=path!("/") view=DailyActiveUsersRoute />
                        <Route path=path!("/me") view=MyActivityRoute />
                        <Route path=path!("/members") view=MembersRoute ssr=SsrMode::InOrder />
                        <Route path=path!("/events") view=EventsRoute ssr=SsrMode::InOrder />
                        <Route path=path!("/servers") view=ServersRoute ssr=SsrMode::InOrder />
                        // In order: the heatmap is in the server's HTML as it streams, not
                        // in fragments a script moves into place, so it reads before (or
                        // without) hydration.
                        <Route
                            path=path!("/retention")
                            view=RetentionRoute
                            ssr=SsrMode::InOrder
                        />
                        // The admin console: one section per address (`pages/admin.rs`).
                        <Route path=path!("/admin") view=AdminRoute />
                        <Route path=path!("/admin/status") view=AdminRoute />
                        <Route path=path!("/admin/discord") view=AdminDiscordRoute />
                        <Route path=path!("/admin/servers") view=AdminServersRoute />
                        <Route path=path!("/admin/identities") view=AdminIdentitiesRoute />
                        <Route path=path!("/admin/people") view=AdminPeopleRoute />
                        <Route path=path!("/admin/privacy") view=AdminPrivacyRoute />
                        <Route path=path!("/admin/audit") view=AdminAuditRoute />
                        // Public: what Guildhall collects, from the settings in force.
                        <Route path=path!("/privacy") view=PrivacyRoute ssr=SsrMode::InOrder />
                    </Routes>
                </main>
                <footer class="site-footer">
                    <a href="/privacy" data-testid="privacy-link">
                        {i18n::t(i18n::Key::PrivacyLink)}
                    </a>
                </footer>
            </div>
        </Router>
    }
}
