//! Who may open which route, declared in one place: [`GUARDED_PAGES`] (refused on the server
//! before anything is rendered) and [`PUBLIC_PAGES`] (anyone; the page or endpoint decides
//! itself what a visitor sees). Every route the app serves ([`route_paths`]) must be in one
//! of them; `server/tests/roles_and_audit.rs` fails when one is not. The same module sorts
//! requests into the fixed groups that metrics and rate limits use.

use app::model::Permission;
use collectors::metrics::RouteGroup;

/// The pages (and downloads) the server refuses before anything is rendered, by the
/// permission they need: the path itself and everything under it (`/admin/…`).
pub const GUARDED_PAGES: &[(&str, Permission)] = &[
    ("/admin", Permission::Administer),
    ("/retention", Permission::ViewKpis),
    ("/members", Permission::ViewKpis),
    ("/events", Permission::ViewKpis),
    ("/servers", Permission::ViewKpis),
    ("/export", Permission::ViewKpis),
    ("/me/export.json", Permission::OwnData),
];

/// The routes anyone may open, each with why. A page here shows each visitor what they may
/// see; an endpoint here checks what it needs itself (a session, a token, a role in the
/// server function).
pub const PUBLIC_PAGES: &[(&str, &str)] = &[
    (
        "/",
        "the overview for those allowed, the sign-in page for everyone else",
    ),
    (
        "/me",
        "the signed-in member's own page, the sign-in page otherwise",
    ),
    (
        "/privacy",
        "the public privacy page: what Guildhall collects, for everyone",
    ),
    ("/lang", "the language form"),
    ("/healthz", "health check"),
    ("/metrics", "only with the metrics bearer token"),
    ("/auth/login", "sign-in"),
    ("/auth/callback", "sign-in"),
    ("/auth/logout", "sign-out"),
    ("/auth/demo", "demo sign-in (demo mode only)"),
    ("/me/steam/login", "checks the session itself"),
    ("/me/steam/return", "checks the session itself"),
    (
        SERVER_FN_ROUTE,
        "every server function checks its permission",
    ),
    (INGEST_ROUTE, "the game server's log token"),
    (STATIC_ROUTE, "the compiled site"),
];

/// Server functions.
pub const SERVER_FN_ROUTE: &str = "/api/{*fn_name}";
/// The game log endpoint (`crate::game_logs::router`).
pub const INGEST_ROUTE: &str = "/ingest/logs/{token}";
/// Static files.
pub const STATIC_ROUTE: &str = "/pkg/{*file}";

/// The permission a path needs before it is rendered, if it is guarded.
pub fn page_permission(path: &str) -> Option<Permission> {
    GUARDED_PAGES.iter().find_map(|(prefix, permission)| {
        (path == *prefix
            || path
                .strip_prefix(prefix)
                .is_some_and(|rest| rest.starts_with('/')))
        .then_some(*permission)
    })
}

/// Whether a route (as registered, e.g. `/export/{table}`) is declared: guarded or public.
pub fn is_declared(route: &str) -> bool {
    page_permission(route).is_some() || PUBLIC_PAGES.iter().any(|(path, _)| *path == route)
}

/// Every route the app serves: the pages of `app::App` and the server's own routes, as
/// registered (`{param}` for path parameters).
pub fn route_paths() -> Vec<String> {
    let mut paths: Vec<String> = leptos_axum::generate_route_list(app::App)
        .iter()
        .map(|route| route.path().to_owned())
        .collect();
    paths.extend(super::server_routes().into_iter().map(str::to_owned));
    paths.extend(
        [SERVER_FN_ROUTE, INGEST_ROUTE, STATIC_ROUTE]
            .into_iter()
            .map(str::to_owned),
    );
    paths.sort();
    paths.dedup();
    paths
}

/// The fixed group of a request path, for metrics and rate limits.
pub fn group(path: &str) -> RouteGroup {
    let under = |prefix: &str| path.starts_with(prefix);
    if under("/api/") {
        RouteGroup::server_fn
    } else if under("/auth/") || under("/me/steam/") {
        RouteGroup::sign_in
    } else if under("/export/") || path == "/me/export.json" {
        RouteGroup::export
    } else if under("/ingest/") {
        RouteGroup::ingest
    } else if under("/pkg/") {
        RouteGroup::static_file
    } else if path == "/healthz" || path == "/metrics" {
        RouteGroup::health
    } else {
        RouteGroup::page
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn guards_cover_the_path_and_what_is_under_it_only() {
        assert_eq!(page_permission("/admin"), Some(Permission::Administer));
        assert_eq!(
            page_permission("/admin/servers"),
            Some(Permission::Administer)
        );
        assert_eq!(page_permission("/administrator"), None);
        assert_eq!(
            page_permission("/export/leavers.csv"),
            Some(Permission::ViewKpis)
        );
        assert_eq!(page_permission("/me"), None);
        assert_eq!(page_permission("/"), None);
    }

    #[test]
    fn paths_fall_into_fixed_groups() {
        assert_eq!(group("/api/get_me123"), RouteGroup::server_fn);
        assert_eq!(group("/auth/login"), RouteGroup::sign_in);
        assert_eq!(group("/me/steam/return"), RouteGroup::sign_in);
        assert_eq!(group("/export/leavers.csv"), RouteGroup::export);
        assert_eq!(group("/me/export.json"), RouteGroup::export);
        assert_eq!(group("/ingest/logs/abc"), RouteGroup::ingest);
        assert_eq!(group("/pkg/guildhall.wasm"), RouteGroup::static_file);
        assert_eq!(group("/healthz"), RouteGroup::health);
        assert_eq!(group("/no/such/page"), RouteGroup::page);
    }
}
