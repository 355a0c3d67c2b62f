//! The HTTP surface: health and metrics, authentication, server functions, the Leptos
//! pages and static files. [`router`] is kept apart from serving so tests drive it directly.

use crate::config::Config;
use anyhow::Context;
use app::model::Permission;
use app::ssr::authz::authorize;
use app::ssr::{AppState, PageSettings, StatusBoard};
use axum::Router;
use axum::body::Body;
use axum::extract::{FromRef, Request, State};
use axum::http::{StatusCode, header};
use axum::middleware::{self, Next};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use collectors::metrics::{Metrics, RequestLabels};
use leptos::config::LeptosOptions;
use leptos::prelude::provide_context;
use leptos_axum::{LeptosRoutes, generate_route_list, handle_server_fns_with_context};
use sqlx::PgPool;
use std::sync::Arc;
use tower_http::services::ServeDir;
use tower_sessions::cookie::SameSite;
use tower_sessions::{Expiry, Session, SessionManagerLayer};
use tower_sessions_sqlx_store::PostgresStore;

/// Everything the HTTP handlers share.
#[derive(Clone)]
pub struct ServerState {
    pub app: AppState,
    pub config: Arc<Config>,
    pub metrics: Metrics,
    /// Client for outgoing calls (Discord's token and user endpoints).
    pub http: reqwest::Client,
}

impl ServerState {
    /// Assembles the state for a configuration and a connected, migrated pool.
    pub fn new(
        config: Arc<Config>,
        pool: PgPool,
        metrics: Metrics,
        collectors: StatusBoard,
    ) -> anyhow::Result<Self> {
        let leptos_options = LeptosOptions::builder()
            .output_name("guildhall")
            .site_root(config.site_root.to_string_lossy().into_owned())
            .site_pkg_dir("pkg")
            .site_addr(config.bind)
            .build();
        let http = reqwest::Client::builder()
            .redirect(reqwest::redirect::Policy::none())
            .timeout(std::time::Duration::from_secs(15))
            .build()
            .context("building the HTTP client")?;
        Ok(Self {
            app: AppState {
                pool,
                leptos_options,
                settings: Arc::new(PageSettings {
                    timezone: config.timezone.name().to_owned(),
                    demo_mode: config.demo,
                    bot_enabled: config.bot_token().is_some(),
                }),
                collectors,
            },
            config,
            metrics,
            http,
        })
    }
}

impl FromRef<ServerState> for LeptosOptions {
    fn from_ref(state: &ServerState) -> Self {
        state.app.leptos_options.clone()
    }
}

impl FromRef<ServerState> for AppState {
    fn from_ref(state: &ServerState) -> Self {
        state.app.clone()
    }
}

impl FromRef<ServerState> for PgPool {
    fn from_ref(state: &ServerState) -> Self {
        state.app.pool.clone()
    }
}

/// Builds the whole application router.
pub fn router(state: ServerState) -> anyhow::Result<Router> {
    let routes = generate_route_list(app::App);
    let context_state = state.app.clone();
    let server_fn_state = state.app.clone();
    let options = state.app.leptos_options.clone();
    let fallback_state = state.app.clone();
    let pkg_dir = state.config.site_root.join("pkg");

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

    let router = Router::new()
        .route("/healthz", get(healthz))
        .route("/metrics", get(metrics))
        .route("/lang", post(choose_language))
        .merge(crate::auth::router())
        .route(
            "/api/{*fn_name}",
            post(move |request: Request| {
                let state = server_fn_state.clone();
                handle_server_fns_with_context(move || provide_context(state.clone()), request)
            }),
        )
        .leptos_routes_with_context(
            &state,
            routes,
            move || provide_context(context_state.clone()),
            move || app::shell(options.clone()),
        )
        .nest_service("/pkg", ServeDir::new(pkg_dir))
        // Any other path renders the app, whose router shows the not-found page (404).
        .fallback(leptos_axum::file_and_error_handler_with_context::<
            ServerState,
            _,
        >(
            move || provide_context(fallback_state.clone()),
            app::shell,
        ))
        .layer(middleware::from_fn_with_state(
            state.clone(),
            guard_admin_pages,
        ))
        .layer(middleware::from_fn_with_state(
            state.clone(),
            refuse_cross_site_posts,
        ))
        .layer(sessions)
        .layer(middleware::from_fn_with_state(
            state.clone(),
            count_requests,
        ))
        .with_state(state);
    Ok(router)
}

/// `/admin` pages refuse non-admins on the server, before anything is rendered.
async fn guard_admin_pages(
    State(state): State<ServerState>,
    session: Session,
    request: Request,
    next: Next,
) -> Response {
    let path = request.uri().path();
    if (path == "/admin" || path.starts_with("/admin/"))
        && let Err(error) = authorize(&state.app.pool, &session, Permission::Administer).await
    {
        return crate::auth::error_page(
            StatusCode::from_u16(error.status()).unwrap_or(StatusCode::FORBIDDEN),
            &error.to_string(),
        );
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
                StatusCode::FORBIDDEN,
                "This request came from another website and was refused.",
            );
        }
    }
    next.run(request).await
}

/// Counts every request by method and status for `/metrics`.
async fn count_requests(
    State(state): State<ServerState>,
    request: Request,
    next: Next,
) -> Response {
    let method = request.method().to_string();
    let response = next.run(request).await;
    state
        .metrics
        .http_requests
        .get_or_create(&RequestLabels {
            method,
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
async fn choose_language(axum::Form(choice): axum::Form<LanguageChoice>) -> Response {
    let Some(lang) = app::i18n::Lang::from_tag(&choice.lang) else {
        return crate::auth::error_page(
            StatusCode::BAD_REQUEST,
            "Unknown language: choose de or en.",
        );
    };
    let next = crate::auth::local_path(choice.next.as_deref()).unwrap_or_else(|| "/".into());
    (
        [(header::SET_COOKIE, app::i18n::lang_cookie(lang))],
        axum::response::Redirect::to(&next),
    )
        .into_response()
}

/// 200 only when the database answers.
async fn healthz(State(pool): State<PgPool>) -> Response {
    match sqlx::query_scalar::<_, i32>("select 1")
        .fetch_one(&pool)
        .await
    {
        Ok(_) => (StatusCode::OK, "ok\n").into_response(),
        Err(error) => {
            tracing::warn!(%error, "health check: database unreachable");
            (StatusCode::SERVICE_UNAVAILABLE, "database unreachable\n").into_response()
        }
    }
}

/// Prometheus text format.
async fn metrics(State(state): State<ServerState>) -> Response {
    Response::builder()
        .header(
            header::CONTENT_TYPE,
            "application/openmetrics-text; version=1.0.0; charset=utf-8",
        )
        .body(Body::from(state.metrics.render()))
        .unwrap_or_else(|_| StatusCode::INTERNAL_SERVER_ERROR.into_response())
}
