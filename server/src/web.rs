//! The HTTP surface: health and metrics, authentication, server functions, the Leptos
//! pages and static files. [`router`] is kept apart from serving so tests drive it directly.

use crate::state::ServerState;
use app::i18n::{Key, Lang};
use app::model::Permission;
use app::ssr::authz::{RequestUser, authorize};
use axum::Router;
use axum::body::Body;
use axum::extract::{Request, State};
use axum::http::{HeaderMap, StatusCode, header};
use axum::middleware::{self, Next};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use collectors::metrics::{Metrics, RequestLabels};
use leptos::prelude::provide_context;
use leptos_axum::{LeptosRoutes, generate_route_list, handle_server_fns_with_context};
use tower_http::CompressionLevel;
use tower_http::compression::CompressionLayer;
use tower_http::services::ServeDir;
use tower_sessions::cookie::SameSite;
use tower_sessions::{Expiry, Session, SessionManagerLayer};
use tower_sessions_sqlx_store::PostgresStore;

mod health;

/// Builds the whole application router.
pub fn router(state: ServerState) -> anyhow::Result<Router> {
    let routes = generate_route_list(app::App);
    let context_state = state.app.clone();
    let server_fn_state = state.app.clone();
    let options = state.app.leptos_options.clone();
    let fallback_state = state.app.clone();
    let pkg_dir = state.config.site_root.join("pkg");
    let stylesheet = state.assets.stylesheet.clone();
    let fallback_stylesheet = stylesheet.clone();

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

    let pages = Router::new()
        .route("/metrics", get(metrics_on_web_port))
        .route("/lang", post(choose_language))
        .route("/export/{table}", get(export_csv))
        .route("/me/export.json", get(export_my_data))
        .merge(crate::auth::router())
        .route(
            "/api/{*fn_name}",
            post(move |request: Request| {
                let state = server_fn_state.clone();
                handle_server_fns_with_context(
                    move || {
                        provide_context(state.clone());
                        provide_context(RequestUser::default());
                    },
                    request,
                )
            }),
        )
        .leptos_routes_with_context(
            &state,
            routes,
            move || {
                provide_context(context_state.clone());
                provide_context(RequestUser::default());
            },
            move || app::shell(options.clone(), stylesheet.clone()),
        )
        // Any other path renders the app, whose router shows the not-found page (404).
        .fallback(leptos_axum::file_and_error_handler_with_context::<
            ServerState,
            _,
        >(
            move || {
                provide_context(fallback_state.clone());
                provide_context(RequestUser::default());
            },
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
    let router = static_files
        .merge(crate::game_logs::router(&state.log_ingest))
        .merge(health::router(&state.app.pool))
        .merge(pages)
        .layer(middleware::from_fn_with_state(
            state.clone(),
            count_requests,
        ))
        .with_state(state);
    Ok(router)
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

/// The pages (and downloads) the server refuses before anything is rendered, by the
/// permission they need. `/` and `/me` show each visitor what they may see.
const GUARDED_PAGES: &[(&str, Permission)] = &[
    ("/admin", Permission::Administer),
    ("/retention", Permission::ViewKpis),
    ("/members", Permission::ViewKpis),
    ("/events", Permission::ViewKpis),
    ("/servers", Permission::ViewKpis),
    ("/export", Permission::ViewKpis),
    ("/me/export.json", Permission::OwnData),
];

/// The permission a path needs before it is rendered, if it is guarded.
fn page_permission(path: &str) -> Option<Permission> {
    GUARDED_PAGES.iter().find_map(|(prefix, permission)| {
        (path == *prefix || path.starts_with(&format!("{prefix}/"))).then_some(*permission)
    })
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
    if let Some(permission) = page_permission(path)
        && let Err(error) = authorize(&state.app.pool, &session, permission).await
    {
        return crate::auth::app_error_page(Lang::of_request(request.headers()), &error);
    }
    next.run(request).await
}

/// `/me/export.json`: everything Guildhall holds about the signed-in member, over all their
/// accounts (the guard checked the session).
async fn export_my_data(
    State(state): State<ServerState>,
    headers: HeaderMap,
    session: Session,
) -> Response {
    let lang = Lang::of_request(&headers);
    let user = match authorize(&state.app.pool, &session, Permission::OwnData).await {
        Ok(user) => user,
        Err(error) => return crate::auth::app_error_page(lang, &error),
    };
    let data: Result<serde_json::Value, sqlx::Error> = sqlx::query_scalar(MY_DATA)
        .bind(user.id)
        .fetch_one(&state.app.pool)
        .await;
    match data {
        Ok(data) => {
            tracing::info!(user = user.id, "personal data exported");
            (
                [
                    (header::CONTENT_TYPE, "application/json"),
                    (
                        header::CONTENT_DISPOSITION,
                        "attachment; filename=\"guildhall-my-data.json\"",
                    ),
                    (header::CACHE_CONTROL, "no-store"),
                ],
                serde_json::to_string_pretty(&data).unwrap_or_default(),
            )
                .into_response()
        }
        Err(error) => {
            tracing::error!(%error, "exporting personal data failed");
            crate::auth::error_page(lang, StatusCode::INTERNAL_SERVER_ERROR, Key::ExportFailed)
        }
    }
}

/// One JSON document of a web user's data: the account, every identity of their person,
/// per-day activity, voice and game sessions, chat counts, membership and the audit
/// entries about their accounts.
const MY_DATA: &str = include_str!("web/my_data.sql");

/// `COPY (<query>) TO STDOUT` as CSV with a header row: a literal, never built from input.
macro_rules! csv_copy {
    ($query:literal) => {
        concat!("copy (", $query, ") to stdout (format csv, header)")
    };
}

/// `/export/<table>.csv`: a gold table as CSV (leaders and admins; the guard checked).
async fn export_csv(
    State(state): State<ServerState>,
    headers: HeaderMap,
    axum::extract::Path(table): axum::extract::Path<String>,
) -> Response {
    let lang = Lang::of_request(&headers);
    let failed =
        || crate::auth::error_page(lang, StatusCode::SERVICE_UNAVAILABLE, Key::ExportFailed);
    // The zone in force: an admin's choice in the console, else the configuration.
    let timezone = match app::ssr::community::timezone(&state.app).await {
        Ok(tz) => tz.name(),
        Err(error) => {
            tracing::error!(%error, "reading the community settings failed");
            return failed();
        }
    };
    let statement: &str = match table.as_str() {
        // The page's own function, over every week.
        "member_growth_weekly.csv" => {
            return match app::api::growth_weeks(&state.app.pool, timezone, None).await {
                Ok(weeks) => csv_response(
                    &table,
                    csv_text(
                        &["week_of", "joins", "leaves", "members"],
                        weeks.iter().map(|w| {
                            [
                                w.week.to_string(),
                                w.joins.to_string(),
                                w.leaves.to_string(),
                                w.members.to_string(),
                            ]
                        }),
                    ),
                ),
                Err(error) => {
                    tracing::error!(%error, table, "export failed");
                    failed()
                }
            };
        }
        "leavers.csv" => {
            csv_copy!(
                "select guild_id, discord_user_id, first_joined_at, last_joined_at, left_at,
                        left_at_noticed, rejoins,
                        extract(epoch from left_at - coalesce(last_joined_at, first_joined_at))::bigint / 86400
                            as days_stayed
                 from silver.dim_members where not is_member and left_at is not null
                   -- A hidden member is in the numbers, never in a list.
                   and not app.is_hidden_discord(discord_user_id)
                 order by left_at"
            )
        }
        "retention_cohorts.csv" => {
            csv_copy!(
                "select cohort_month, months_after, cohort_size, active, percentage, partial
                 from gold.retention_cohorts order by cohort_month, months_after"
            )
        }
        "discord_comparable_daily.csv" => {
            csv_copy!(
                "select day, communicators, communicators_week, new_members, activated,
                        activation_rate, week1_retained, week1_retention, complete
                 from gold.discord_comparable_daily order by day"
            )
        }
        "event_attendance.csv" => {
            csv_copy!(
                "select scheduled_event_id::text as scheduled_event_id, guild_id::text as guild_id,
                        name, kind, status, starts_at, ends_at, interested, attended,
                        interested_attended, no_shows, walk_ins, attendance_rate
                 from gold.event_attendance order by starts_at, scheduled_event_id"
            )
        }
        "member_sources.csv" => {
            csv_copy!(
                "select s.join_month, s.source, s.invite_code, l.label,
                        case when not app.is_hidden_discord(s.inviter_id) then s.inviter_id::text end
                            as inviter_id,
                        s.joined, s.young_accounts, s.still_members, s.active_after_1d,
                        s.active_after_7d, s.active_after_30d
                 from gold.member_sources s
                 left join lateral (select label from app.invite_labels l
                                    where l.code = s.invite_code order by l.updated_at desc limit 1) l
                   on true
                 order by s.join_month, s.source, s.invite_code"
            )
        }
        "member_source_retention.csv" => {
            csv_copy!(
                "select join_month, source, invite_code, months_after, cohort_size, active,
                        percentage, partial
                 from gold.member_source_retention
                 order by join_month, source, invite_code, months_after"
            )
        }
        "server_utilization.csv" => {
            csv_copy!(
                "select g.name as server, u.hour, u.avg_humans, u.peak_humans, u.capacity,
                        u.utilization_pct
                 from gold.server_utilization u join app.game_servers g using (server_id)
                 order by g.name, u.hour"
            )
        }
        "server_weekly_profile.csv" => {
            csv_copy!(
                "select g.name as server, p.weekday, p.hour, p.avg_humans, p.peak_humans,
                        p.utilization_pct, p.low_use, p.weeks
                 from gold.server_weekly_profile p join app.game_servers g using (server_id)
                 order by g.name, p.weekday, p.hour"
            )
        }
        // Local days: the transaction's time zone is the community's (bound, below).
        "server_daily.csv" => {
            csv_copy!(
                "select g.name as server, u.hour::date as day,
                        round(avg(u.avg_humans), 3) as avg_humans, max(u.peak_humans) as peak_humans,
                        max(u.capacity) as capacity,
                        case when max(u.capacity) > 0
                             then round(avg(u.avg_humans) * 100.0 / max(u.capacity), 2) end as utilization_pct
                 from gold.server_utilization u join app.game_servers g using (server_id)
                 group by g.name, 2 order by g.name, 2"
            )
        }
        "game_sessions.csv" => {
            // A hidden member's sessions count, but carry no name, account or person.
            csv_copy!(
                "select g.name as server,
                        case when h.person_id is null then s.player_key end as player_key,
                        case when h.person_id is null then s.player_name end as player_name,
                        case when h.person_id is null then s.person_id end as person_id,
                        s.started_at, s.ended_at, s.seconds, s.source, s.end_reason
                 from silver.fact_game_sessions s join app.game_servers g using (server_id)
                 left join app.hidden_persons h on h.person_id = s.person_id
                 order by g.name, s.started_at"
            )
        }
        "daily_active_users.csv" => {
            csv_copy!(
                "select day, dau_total, dau_voice, dau_chat, dau_game, wau, mau, stickiness
                 from gold.daily_active_users order by day"
            )
        }
        _ => return crate::auth::error_page(lang, StatusCode::NOT_FOUND, Key::NotFound),
    };
    // COPY writes the CSV (header, quoting) exactly as PostgreSQL reads it back.
    let csv = async {
        let mut tx = state.app.pool.begin().await?;
        // COPY takes no parameters: for an export by local day the community's time zone is
        // bound here instead, and timestamps cast to dates in it.
        if table == "server_daily.csv" {
            sqlx::query("select set_config('TimeZone', $1, true)")
                .bind(timezone)
                .execute(&mut *tx)
                .await?;
        }
        let mut stream = tx.copy_out_raw(statement).await?;
        let mut body = Vec::new();
        while let Some(chunk) = futures::StreamExt::next(&mut stream).await {
            body.extend_from_slice(&chunk?);
        }
        drop(stream);
        tx.commit().await?;
        Ok::<_, sqlx::Error>(body)
    }
    .await;
    match csv {
        Ok(body) => csv_response(&table, body),
        Err(error) => {
            tracing::error!(%error, table, "export failed");
            failed()
        }
    }
}

/// A CSV download named `table`.
fn csv_response(table: &str, body: Vec<u8>) -> Response {
    (
        [
            (header::CONTENT_TYPE, "text/csv; charset=utf-8".to_owned()),
            (
                header::CONTENT_DISPOSITION,
                format!("attachment; filename=\"{table}\""),
            ),
        ],
        body,
    )
        .into_response()
}

/// CSV as PostgreSQL's `COPY … (format csv, header)` writes it: comma-separated, a field
/// quoted when it holds a comma, quote, or line break, quotes doubled.
fn csv_text<const N: usize>(
    header: &[&str; N],
    rows: impl Iterator<Item = [String; N]>,
) -> Vec<u8> {
    let mut out = String::new();
    let mut line = |fields: &mut dyn Iterator<Item = &str>| {
        for (i, field) in fields.enumerate() {
            if i > 0 {
                out.push(',');
            }
            if field.contains([',', '"', '\n', '\r']) {
                out.push('"');
                out.push_str(&field.replace('"', "\"\""));
                out.push('"');
            } else {
                out.push_str(field);
            }
        }
        out.push('\n');
    };
    line(&mut header.iter().copied());
    for row in rows {
        line(&mut row.iter().map(String::as_str));
    }
    out.into_bytes()
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
