//! `/servers`: the community's game servers for leaders and admins — who is on them now,
//! the weekday × hour rhythm of the last weeks with the hours a server could be off, and
//! average and peak players by day.

use crate::api::get_server_utilization;
use crate::components::{ErrorNotice, Loading};
use crate::i18n::{Key, Lang, t, use_i18n};
use crate::model::{ProfileCell, ServerDay, ServerNow};
use leptos::prelude::*;
use leptos_meta::Title;

/// Days in the by-day table.
const DAYS: i32 = 30;

const WEEKDAYS: [Key; 7] = [
    Key::WeekdayMon,
    Key::WeekdayTue,
    Key::WeekdayWed,
    Key::WeekdayThu,
    Key::WeekdayFri,
    Key::WeekdaySat,
    Key::WeekdaySun,
];

/// A cell's colour: stronger with the use (the share of slots, or of the busiest hour
/// where the capacity is unknown).
fn heat_style(share: f64) -> String {
    let alpha = share.clamp(0.0, 1.0) * 0.85 + 0.04;
    let text = if share >= 0.6 { "#fff" } else { "inherit" };
    format!("background-color: rgba(79, 70, 229, {alpha:.3}); color: {text}")
}

fn source_key(source: &str) -> Key {
    match source {
        "rcon" => Key::SourceRcon,
        "logs" => Key::SourceLogs,
        _ => Key::SourceMetrics,
    }
}

#[component]
pub fn ServersPage() -> impl IntoView {
    let servers = Resource::new_blocking(|| (), |_| get_server_utilization(DAYS));
    view! {
        <Title text=t(Key::ServersTitle) />
        <section class="page">
            <h1>{t(Key::ServersTitle)}</h1>
            <p class="lead">{t(Key::ServersLead)}</p>
            <Suspense fallback=Loading>
                {move || Suspend::new(async move {
                    match servers.await {
                        Err(error) => view! { <ErrorNotice error /> }.into_any(),
                        Ok(overview) if overview.servers.is_empty() => {
                            view! { <div class="card"><p class="muted">{t(Key::NoServers)}</p></div> }
                                .into_any()
                        }
                        Ok(overview) => {
                            let weeks = overview.weeks;
                            let cards = overview
                                .servers
                                .into_iter()
                                .map(|server| {
                                    let id = server.server_id;
                                    let profile: Vec<ProfileCell> = overview
                                        .profile
                                        .iter()
                                        .filter(|c| c.server_id == id)
                                        .cloned()
                                        .collect();
                                    let days: Vec<ServerDay> = overview
                                        .days
                                        .iter()
                                        .filter(|d| d.server_id == id)
                                        .cloned()
                                        .collect();
                                    view! { <ServerCard server profile days weeks /> }.into_any()
                                })
                                .collect_view();
                            view! {
                                {cards}
                                <p class="actions">
                                    <a class="button" href="/export/server_utilization.csv" download="server_utilization.csv">
                                        {t(Key::DownloadHourlyCsv)}
                                    </a>
                                    " "
                                    <a class="button" href="/export/server_weekly_profile.csv" download="server_weekly_profile.csv">
                                        {t(Key::DownloadProfileCsv)}
                                    </a>
                                    " "
                                    <a class="button" href="/export/server_daily.csv" download="server_daily.csv">
                                        {t(Key::DownloadDailyCsv)}
                                    </a>
                                    " "
                                    <a class="button" href="/export/game_sessions.csv" download="game_sessions.csv">
                                        {t(Key::DownloadSessionsCsv)}
                                    </a>
                                </p>
                            }
                            .into_any()
                        }
                    }
                })}
            </Suspense>
        </section>
    }
}

#[component]
fn ServerCard(
    server: ServerNow,
    profile: Vec<ProfileCell>,
    days: Vec<ServerDay>,
    weeks: i32,
) -> impl IntoView {
    let lang = use_i18n().lang;
    let ServerNow {
        server_id,
        name,
        game,
        enabled,
        humans_now,
        capacity,
        map,
        players_now,
        heard_at,
        sources,
    } = server;
    let now = move || match humans_now {
        Some(humans) => match capacity {
            Some(capacity) => format!(
                "{} / {}",
                lang.get().int(humans.into()),
                lang.get().int(capacity.into())
            ),
            None => lang.get().int(humans.into()),
        },
        None => "–".to_owned(),
    };
    let players = (!players_now.is_empty()).then(|| {
        view! { <p class="muted small" data-testid="players-now">{players_now.join(", ")}</p> }
    });
    let no_sources = sources
        .is_empty()
        .then(|| view! { <li class="muted" data-source="none">{t(Key::NoSourceConfigured)}</li> });
    let sources = sources
        .into_iter()
        .map(|s| {
            let key = source_key(&s.source);
            let failing = match (s.last_error_at, s.last_success_at) {
                (Some(error), Some(ok)) => error > ok,
                (Some(_), None) => true,
                _ => false,
            };
            let detail = move || {
                let lang = lang.get();
                if failing {
                    format!(
                        "{}: {}",
                        s.last_error_at
                            .map(|at| lang.datetime(at))
                            .unwrap_or_default(),
                        s.last_error.clone().unwrap_or_default()
                    )
                } else {
                    s.last_success_at.map_or_else(
                        || Key::SourceNever.text(lang).to_owned(),
                        |at| format!("{} {}", Key::SourceOk.text(lang), lang.datetime(at)),
                    )
                }
            };
            view! {
                <li class:failing=failing data-source=s.source.clone()>
                    <strong>{t(key)}</strong>
                    " "
                    <span>{detail}</span>
                </li>
            }
        })
        .collect_view();
    let heard = move || {
        heard_at.map(|at| {
            format!(
                "{} {}",
                Key::HeardAt.text(lang.get()),
                lang.get().datetime(at)
            )
        })
    };
    let heatmap = view! { <ProfileHeatmap profile weeks /> }.into_any();
    let by_day = view! { <DaysTable days /> }.into_any();
    view! {
        <article class="card server" data-server=server_id data-testid="server-card">
            <header class="server-head">
                <h2>{name}</h2>
                <span class="badge">{game}</span>
                {(!enabled).then(|| view! { <span class="badge muted">{t(Key::ServerDisabled)}</span> })}
            </header>
            <div class="figures figures-3">
                <div class="figure">
                    <div class="figure-label">{t(Key::PlayersNow)}</div>
                    <div class="figure-value" data-testid="humans-now" data-humans=humans_now>{now}</div>
                    <div class="figure-note">{heard}</div>
                </div>
                <div class="figure">
                    <div class="figure-label">{t(Key::ServerMap)}</div>
                    <div class="figure-value small-value">{map.unwrap_or_else(|| "–".into())}</div>
                </div>
                <div class="figure">
                    <div class="figure-label">{t(Key::ServerSources)}</div>
                    <ul class="sources">{no_sources}{sources}</ul>
                </div>
            </div>
            {players}
            {heatmap}
            {by_day}
        </article>
    }
}

#[component]
fn ProfileHeatmap(profile: Vec<ProfileCell>, weeks: i32) -> impl IntoView {
    let lang = use_i18n().lang;
    if profile.is_empty() {
        return view! { <p class="muted">{t(Key::NoProfileYet)}</p> }.into_any();
    }
    let busiest = profile
        .iter()
        .map(|c| c.avg_humans)
        .fold(0.0_f64, f64::max)
        .max(1.0);
    let low_hours = profile.iter().filter(|c| c.low_use).count();
    let rows = (1..=7_i16)
        .map(|weekday| {
            let cells = (0..24_i16)
                .map(|hour| {
                    match profile.iter().find(|c| c.weekday == weekday && c.hour == hour) {
                        Some(cell) => {
                            let share = cell.utilization_pct.map_or(cell.avg_humans / busiest, |p| p / 100.0);
                            let (avg, peak, pct, low) = (cell.avg_humans, cell.peak_humans, cell.utilization_pct, cell.low_use);
                            let title = move || {
                                let lang = lang.get();
                                format!(
                                    "{} {:02}:00 · {} {} · {} {}{}{}",
                                    WEEKDAYS[usize::from(weekday.unsigned_abs()) - 1].text(lang),
                                    hour,
                                    Key::ColAvgPlayers.text(lang),
                                    lang.decimal(avg),
                                    Key::ColPeakPlayers.text(lang),
                                    lang.int(peak.into()),
                                    pct.map(|p| format!(" · {} %", lang.decimal(p))).unwrap_or_default(),
                                    if low { format!(" · {}", Key::LowUse.text(lang)) } else { String::new() },
                                )
                            };
                            view! {
                                <td
                                    class="heat"
                                    class:low=low
                                    style=heat_style(share)
                                    data-weekday=weekday
                                    data-hour=hour
                                    data-avg=format!("{avg:.3}")
                                    data-low=low.then_some("true")
                                    title=title
                                >
                                    {move || if low { "·".to_owned() } else { lang.get().decimal(avg) }}
                                </td>
                            }
                            .into_any()
                        }
                        None => view! { <td class="heat empty" data-weekday=weekday data-hour=hour></td> }.into_any(),
                    }
                })
                .collect_view();
            view! {
                <tr>
                    <th scope="row">{t(WEEKDAYS[usize::from(weekday.unsigned_abs()) - 1])}</th>
                    {cells}
                </tr>
            }
            .into_any()
        })
        .collect_view();
    let hours = (0..24)
        .map(|h| view! { <th scope="col" class="num" class:minor=h % 6 != 0>{format!("{h:02}")}</th> })
        .collect_view();
    view! {
        <div class="table-wrap">
            <table class="data heatmap profile" data-testid="server-profile">
                <caption>
                    {move || format!("{} ({} {})", Key::ProfileTitle.text(lang.get()), weeks, Key::Weeks.text(lang.get()))}
                </caption>
                <thead>
                    <tr>
                        <th scope="col">{t(Key::ColWeekday)}</th>
                        {hours}
                    </tr>
                </thead>
                <tbody>{rows}</tbody>
            </table>
        </div>
        <p class="muted small" data-testid="low-use-summary" data-low-hours=low_hours>
            {move || lowuse_summary(lang.get(), low_hours)}
        </p>
    }
    .into_any()
}

fn lowuse_summary(lang: Lang, hours: usize) -> String {
    format!(
        "{} {}",
        lang.int(hours as i64),
        Key::LowUseLegend.text(lang)
    )
}

#[component]
fn DaysTable(days: Vec<ServerDay>) -> impl IntoView {
    let lang = use_i18n().lang;
    if days.is_empty() {
        return ().into_any();
    }
    let rows = days
        .into_iter()
        .map(|d| {
            let (day, avg, peak, pct) = (d.day, d.avg_humans, d.peak_humans, d.utilization_pct);
            view! {
                <tr data-day=day.to_string()>
                    <th scope="row">{move || lang.get().date(day)}</th>
                    <td class="num" data-label=t(Key::ColAvgPlayers)>{move || lang.get().decimal(avg)}</td>
                    <td class="num" data-label=t(Key::ColPeakPlayers) data-peak=peak>{move || lang.get().int(peak.into())}</td>
                    <td class="num" data-label=t(Key::ColUtilization)>
                        {move || pct.map_or_else(|| "–".to_owned(), |p| format!("{} %", lang.get().decimal(p)))}
                    </td>
                </tr>
            }
            .into_any()
        })
        .collect_view();
    view! {
        <details class="server-days">
            <summary>{t(Key::ServerDaysTitle)}</summary>
            <div class="table-wrap">
                <table class="data cards-on-mobile" data-testid="server-days">
                    <thead>
                        <tr>
                            <th scope="col">{t(Key::ColDay)}</th>
                            <th scope="col" class="num">{t(Key::ColAvgPlayers)}</th>
                            <th scope="col" class="num">{t(Key::ColPeakPlayers)}</th>
                            <th scope="col" class="num">{t(Key::ColUtilization)}</th>
                        </tr>
                    </thead>
                    <tbody>{rows}</tbody>
                </table>
            </div>
        </details>
    }
    .into_any()
}
