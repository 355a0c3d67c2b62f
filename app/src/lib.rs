//! Guildhall's web app: pages, components and server functions, rendered on the server and
//! hydrated in the browser.
#![recursion_limit = "256"]

pub mod api;
pub mod error;
pub mod model;
#[cfg(feature = "ssr")]
pub mod ssr;

use leptos::prelude::*;
use leptos_meta::{MetaTags, Stylesheet, Title, provide_meta_context};
use leptos_router::components::{Route, Router, Routes};
use leptos_router::path;

/// The HTML document around the app, rendered on the server.
pub fn shell(options: LeptosOptions) -> impl IntoView {
    view! {
        <!DOCTYPE html>
        <html lang="en">
            <head>
                <meta charset="utf-8" />
                <meta name="viewport" content="width=device-width, initial-scale=1" />
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
    view! {
        <Stylesheet id="guildhall" href="/pkg/guildhall.css" />
        <Title text="Guildhall" />
        <Router>
            <main>
                <Routes fallback=|| "Not found">
                    <Route path=path!("/") view=|| view! { <h1>"Guildhall"</h1> } />
                </Routes>
            </main>
        </Router>
    }
}
