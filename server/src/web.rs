//! The HTTP surface: health and metrics, authentication, server functions, the Leptos
//! pages and static files. [`router`] is kept apart from serving so tests drive it directly;
//! [`serve`] serves it with the client's address known (for the rate limits).
//!
//! Who may open what is declared in [`routes`]; security headers are in [`security`], rate
//! limits, the concurrency limit and timeouts in [`limits`], downloads in [`export`].

pub mod export;
mod health;
pub mod limits;
pub mod routes;
pub mod security;

use crate::state::ServerState;
use app::i18n::{Key, Lang};
use app::ssr::authz::{RequestUser, authorize};
use app::ssr::game_servers::GameServerAdminHandle;
use axum::Router;
use axum::body::Body;
use axum::extract::{Request, State};
use axum::http::{HeaderMap, StatusCode, header};
use axum::middleware::{self, Next};
use axum::response::{IntoResponse, Response};
use axum::routing::{MethodRouter, get, post};
use collectors::metrics::{HttpMethod, Metrics, RequestLabels};
use leptos::prelude::provide_context;
use leptos_axum::{LeptosRoutes, generate_route_list, handle_server_fns_with_context};
use std::net::SocketAddr;
use tower_http::CompressionLevel;
use tower_http::compression::CompressionLayer;
use tower_http::services::ServeDir;
use tower_sessions::cookie::SameSite;
use tower_sessions::{Expiry, Session, SessionManagerLayer};
use tower_sessions_sqlx_store::PostgresStore;

/// The server's own routes (besides the pages, server functions, the log endpoint and
/// static files), each declared in [`routes::GUARDED_PAGES`] or [`routes::PUBLIC_PAGES`].
fn own_routes() -> Vec<(&'static str, MethodRouter<ServerState>)> {
    let mut own = vec![
        ("/metrics", get(metrics_on_web_port)),
        ("/lang", post(choose_language)),
        ("/export/{table}", get(export::export_csv)),
        ("/me/export.json", get(export::export_my_data)),
    ];
    own.extend(crate::auth::routes());
    own
}

/// The paths of [`own_routes`] and `/healthz` (served apart, see [`health`]).
pub(crate) fn server_routes() -> Vec<&'static str> {
    let mut paths: Vec<&'static str> = own_routes().into_iter().map(|(path, _)| path).collect();
    paths.push(health::PATH);
    paths
}

/// What every page render gets in its context: the app's state, the request's user slot,
/// and this response's CSP nonce for the hydration scripts.
fn page_context(state: &app::ssr::AppState, admin: &GameServerAdminHandle) {
    provide_context(state.clone());
    provide_context(admin.clone());
    provide_context(RequestUser::default());
    security::provide_request_nonce();
}

/// Builds the whole application router.
pub fn router(state: ServerState) -> anyhow::Result<Router> {
    let routes = generate_route_list(app::App);
    let context_state = state.app.clone();
    let server_fn_state = state.app.clone();
    // The game servers' admin reaches the server functions through the context too.
    let context_admin = state.game_server_admin.clone();
    let server_fn_admin = state.game_server_admin.clone();
    let fallback_admin = state.game_server_admin.clone();
    let options = state.app.leptos_options.clone();
    let fallback_state = state.app.clone();
    let pkg_dir = state.config.site_root.join("pkg");
    let stylesheet = state.assets.stylesheet.clone();
    let fallback_stylesheet = stylesheet.clone();
    let limits = limits::Limits::new(&state.config.web);
    let security = security::SecurityHeaders::new(&state.config);

    let store = PostgresStore::new(state.app.pool.clone())
        .with_schema_name("app")
        .and_then(|store| store.with_table_name("sessions"))
        .map_err(|error| anyhow::anyhow!("session store: {error}"))?;
    let sessions = SessionManagerLayer::new(store)
        .with_name("guildhall_session")
        .with_secure(state.config.public_url.scheme() == "https")
        .with_same_site(SameSite::Lax)
        .with_http_only(true)
        .with_expiry(Expiry::OnInactivity(
            tower_sessions::cookie::time::Duration::days(30),
        ));

    let mut pages = Router::new();
    for (path, handler) in own_routes() {
        pages = pages.route(path, handler);
    }
    let pages = pages
        .route(
            routes::SERVER_FN_ROUTE,
            post(move |request: Request| {
                let state = server_fn_state.clone();
                let admin = server_fn_admin.clone();
                handle_server_fns_with_context(
                    move || {
                        provide_context(state.clone());
                        provide_context(admin.clone());
                        provide_context(RequestUser::default());
                    },
                    request,
                )
            }),
        )
        .leptos_routes_with_context(
            &state,
            routes,
            move || page_context(&context_state, &context_admin),
            move || app::shell(options.clone(), stylesheet.clone()),
        )
        // Any other path renders the app, whose router shows the not-found page (404).
        .fallback(leptos_axum::file_and_error_handler_with_context::<
            ServerState,
            _,
        >(
            move || page_context(&fallback_state, &fallback_admin),
            move |options| app::shell(options, fallback_stylesheet.clone()),
        ))
        .layer(middleware::from_fn_with_state(state.clone(), guard_pages))
        .layer(middleware::from_fn_with_state(
            state.clone(),
            refuse_cross_site_posts,
        ))
        .layer(sessions)
        // Pages are small but compress well; static files come precompressed (below).
        .layer(
            CompressionLayer::new()
                .gzip(true)
                .br(true)
                .quality(CompressionLevel::Fastest),
        );
    // Static files sit outside the session layer: serving them never reads or writes the
    // session store or the database.
    let static_files = Router::new()
        .nest_service(
            "/pkg",
            ServeDir::new(pkg_dir)
                .precompressed_br()
                .precompressed_gzip(),
        )
        .layer(middleware::from_fn(cache_static_files));
    // Outermost first: count every answer (429 and 503 too), set the security headers on
    // every answer, refuse a client over its rate limit before it takes a slot, then the
    // concurrency limit and the timeout.
    let router = static_files
        .merge(crate::game_logs::router(&state.log_ingest))
        .merge(health::router(&state.app.pool))
        .merge(pages)
        .layer(middleware::from_fn_with_state(
            limits.clone(),
            limits::concurrency_and_timeout,
        ))
        .layer(middleware::from_fn_with_state(limits, limits::rate_limit))
        .layer(middleware::from_fn_with_state(
            security,
            security::security_headers,
        ))
        .layer(middleware::from_fn_with_state(
            state.clone(),
            count_requests,
        ))
        .with_state(state);
    Ok(router)
}

/// Serves `router` on `listener` with each connection's peer address known to the handlers
/// (the rate limits count by it), until `shutdown` resolves.
pub async fn serve<L>(
    listener: L,
    router: Router,
    shutdown: impl std::future::Future<Output = ()> + Send + 'static,
) -> std::io::Result<()>
where
    L: axum::serve::Listener<Addr = SocketAddr>,
    SocketAddr: for<'a> axum::extract::connect_info::Connected<axum::serve::IncomingStream<'a, L>>,
{
    axum::serve(
        listener,
        router.into_make_service_with_connect_info::<SocketAddr>(),
    )
    .with_graceful_shutdown(shutdown)
    .await
}

/// The router of the metrics listener (`GUILDHALL_METRICS_BIND`): `/metrics` only, no token.
pub fn metrics_router(metrics: Metrics) -> Router {
    Router::new()
        .route("/metrics", get(metrics_text))
        .with_state(metrics)
}

/// Lets browsers keep fingerprinted files (`guildhall.<hash>.wasm`) for a year; anything else
/// under `/pkg` must be revalidated.
async fn cache_static_files(request: Request, next: Next) -> Response {
    let immutable = is_fingerprinted(request.uri().path());
    let mut response = next.run(request).await;
    if response.status().is_success() || response.status() == StatusCode::NOT_MODIFIED {
        let value = if immutable {
            "public, max-age=31536000, immutable"
        } else {
            "no-cache"
        };
        response.headers_mut().insert(
            header::CACHE_CONTROL,
            header::HeaderValue::from_static(value),
        );
    }
    response
}

/// `…/name.<16 hex digits>.ext`, as `scripts/bundle-site.sh` names files.
fn is_fingerprinted(path: &str) -> bool {
    let file = path.rsplit('/').next().unwrap_or_default();
    let mut parts = file.split('.');
    parts.next();
    parts
        .next()
        .is_some_and(|hash| hash.len() == 16 && hash.bytes().all(|b| b.is_ascii_hexdigit()))
        && parts.next().is_some()
}

/// Guarded pages refuse visitors without the permission on the server, before anything is
/// rendered.
async fn guard_pages(
    State(state): State<ServerState>,
    session: Session,
    request: Request,
    next: Next,
) -> Response {
    let path = request.uri().path();
    if let Some(permission) = routes::page_permission(path)
        && let Err(error) = authorize(&state.app.pool, &session, permission).await
    {
        return crate::auth::app_error_page(Lang::of_request(request.headers()), &error);
    }
    next.run(request).await
}

/// Refuses state-changing requests (POST: server functions, logout) that a browser sends
/// from another site. Session cookies are `SameSite=Lax` already; this also covers older
/// browsers and sibling subdomains. The origin must be this host or `GUILDHALL_PUBLIC_URL`
/// (a reverse proxy may rewrite `Host`). Requests without an `Origin` (non-browser
/// clients) pass.
async fn refuse_cross_site_posts(
    State(state): State<ServerState>,
    request: Request,
    next: Next,
) -> Response {
    if request.method() == axum::http::Method::POST
        && let Some(origin) = request.headers().get(header::ORIGIN)
    {
        let host = request
            .headers()
            .get(header::HOST)
            .and_then(|h| h.to_str().ok());
        let origin_host = origin
            .to_str()
            .ok()
            .and_then(|o| url::Url::parse(o).ok())
            .and_then(|o| {
                o.host_str().map(|h| match o.port() {
                    Some(port) => format!("{h}:{port}"),
                    None => h.to_owned(),
                })
            });
        let public = state.config.public_url.origin().ascii_serialization();
        let same_host = host.is_some() && origin_host.as_deref() == host;
        let public_origin = origin
            .to_str()
            .is_ok_and(|o| o.trim_end_matches('/') == public);
        if !same_host && !public_origin {
            tracing::info!(path = %request.uri().path(), "refused a cross-site POST");
            return crate::auth::error_page(
                Lang::of_request(request.headers()),
                StatusCode::FORBIDDEN,
                Key::AuthCrossSite,
            );
        }
    }
    next.run(request).await
}

/// Counts every request for `/metrics` by method, route group and status: fixed sets, so
/// that invented methods and paths add no series.
async fn count_requests(
    State(state): State<ServerState>,
    request: Request,
    next: Next,
) -> Response {
    let method = HttpMethod::of(request.method().as_str());
    let route = routes::group(request.uri().path());
    let response = next.run(request).await;
    state
        .metrics
        .http_requests
        .get_or_create(&RequestLabels {
            method,
            route,
            status: response.status().as_u16(),
        })
        .inc();
    response
}

/// The form of the language switcher, sent before the page has hydrated.
#[derive(Debug, serde::Deserialize)]
struct LanguageChoice {
    lang: String,
    next: Option<String>,
}

/// `POST /lang`: stores the chosen language in the `lang` cookie (as the hydrated switcher
/// does) and returns to the page it came from.
async fn choose_language(
    headers: HeaderMap,
    axum::Form(choice): axum::Form<LanguageChoice>,
) -> Response {
    let Some(lang) = Lang::from_tag(&choice.lang) else {
        return crate::auth::error_page(
            Lang::of_request(&headers),
            StatusCode::BAD_REQUEST,
            Key::AuthUnknownLanguage,
        );
    };
    let next = crate::auth::local_path(choice.next.as_deref()).unwrap_or_else(|| "/".into());
    (
        [(header::SET_COOKIE, app::i18n::lang_cookie(lang))],
        axum::response::Redirect::to(&next),
    )
        .into_response()
}

/// `/metrics` on the web port: only with `Authorization: Bearer <GUILDHALL_METRICS_TOKEN>`.
/// Without a configured token it does not exist there (Prometheus scrapes the metrics
/// listener instead).
async fn metrics_on_web_port(State(state): State<ServerState>, request: Request) -> Response {
    let Some(token) = state.config.metrics_token() else {
        return StatusCode::NOT_FOUND.into_response();
    };
    let presented = request
        .headers()
        .get(header::AUTHORIZATION)
        .and_then(|value| value.to_str().ok())
        .and_then(|value| value.strip_prefix("Bearer "));
    if !presented.is_some_and(|presented| same_secret(presented.trim(), token)) {
        return (
            StatusCode::UNAUTHORIZED,
            [(header::WWW_AUTHENTICATE, "Bearer")],
            "a bearer token (GUILDHALL_METRICS_TOKEN) is required\n",
        )
            .into_response();
    }
    metrics_text(State(state.metrics)).await
}

/// Compares secrets in time independent of where they differ.
fn same_secret(a: &str, b: &str) -> bool {
    a.len() == b.len()
        && a.bytes()
            .zip(b.bytes())
            .fold(0u8, |acc, (x, y)| acc | (x ^ y))
            == 0
}

/// Prometheus text format.
async fn metrics_text(State(metrics): State<Metrics>) -> Response {
    Response::builder()
        .header(
            header::CONTENT_TYPE,
            "application/openmetrics-text; version=1.0.0; charset=utf-8",
        )
        .body(Body::from(metrics.render()))
        .unwrap_or_else(|_| StatusCode::INTERNAL_SERVER_ERROR.into_response())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_hashed_bundle_names_count_as_fingerprinted() {
        assert!(is_fingerprinted("/pkg/guildhall.0123456789abcdef.wasm"));
        assert!(is_fingerprinted("/guildhall.0123456789abcdef.css"));
        assert!(!is_fingerprinted("/pkg/guildhall.wasm"));
        assert!(!is_fingerprinted("/pkg/guildhall.0123456789abcdeg.js"));
        assert!(!is_fingerprinted("/pkg/guildhall.0123456789abcdef"));
        assert!(!is_fingerprinted("/pkg/hash.txt"));
    }

    #[test]
    fn secrets_compare_exactly() {
        assert!(same_secret("s3cret", "s3cret"));
        assert!(!same_secret("s3cret", "s3creT"));
        assert!(!same_secret("s3cret", "s3cre"));
        assert!(!same_secret("", "x"));
    }
}
