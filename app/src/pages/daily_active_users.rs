//! `/`, daily active users (the community overview, as the UI calls it) for leaders and
//! admins: DAU per source, WAU, MAU and stickiness. The date range lives in the URL
//! (`?from=YYYY-MM-DD&to=YYYY-MM-DD`, default the last 30 days), so a range can be shared
//! and reloaded; changing it navigates client-side and refetches.

use crate::api::get_daily_active_users;
use crate::components::{DauChart, ErrorNotice, Figure, Loading};
use crate::error::AppError;
use crate::i18n::{Key, t, use_i18n};
use crate::model::DauPoint;
use chrono::{Days, NaiveDate};
use leptos::prelude::*;
use leptos_meta::Title;
use leptos_router::NavigateOptions;
use leptos_router::hooks::{use_navigate, use_query_map};

/// The default range length in days.
const DEFAULT_DAYS: u64 = 30;

/// The range `days` long that ends on `to`.
fn ending_on(to: NaiveDate, days: u64) -> (NaiveDate, NaiveDate) {
    (
        to.checked_sub_days(Days::new(days.saturating_sub(1)))
            .unwrap_or(to),
        to,
    )
}

fn parse_day(value: Option<String>) -> Option<NaiveDate> {
    value.and_then(|v| NaiveDate::parse_from_str(&v, "%Y-%m-%d").ok())
}

fn range_href(from: NaiveDate, to: NaiveDate) -> String {
    format!("/?from={from}&to={to}")
}

/// Average and peak of a range; `None` when the range is empty.
fn summary(points: &[DauPoint]) -> Option<(f64, &DauPoint)> {
    let peak = points
        .iter()
        .max_by_key(|p| (p.dau_total, std::cmp::Reverse(p.day)))?;
    let sum: i64 = points.iter().map(|p| i64::from(p.dau_total)).sum();
    Some((sum as f64 / points.len() as f64, peak))
}

/// The mean of the days' DAU/MAU, over the days that have one.
fn average_stickiness(points: &[DauPoint]) -> Option<f64> {
    let values: Vec<f64> = points.iter().filter_map(|p| p.stickiness).collect();
    (!values.is_empty()).then(|| values.iter().sum::<f64>() / values.len() as f64)
}

/// The figures, chart and table of the DAU range once they have loaded.
fn dau_view(dau: Resource<Result<Vec<DauPoint>, AppError>>) -> impl IntoView {
    move || {
        Suspend::new(async move {
            match dau.await {
                Err(error) => view! { <ErrorNotice error /> }.into_any(),
                Ok(points) => view! { <DauFigures points /> }.into_any(),
            }
        })
    }
}

#[component]
pub fn DailyActiveUsersPage(today: NaiveDate) -> impl IntoView {
    let query = use_query_map();
    let range = Memo::new(move |_| {
        let query = query.read();
        let to = parse_day(query.get("to")).unwrap_or(today);
        let from = parse_day(query.get("from")).unwrap_or_else(|| ending_on(to, DEFAULT_DAYS).0);
        (from, to)
    });
    let dau = Resource::new(
        move || range.get(),
        |(from, to)| async move {
            if to < from {
                return Ok(Vec::new());
            }
            get_daily_active_users(from, to).await
        },
    );

    let navigate = use_navigate();
    let go = move |from: NaiveDate, to: NaiveDate| {
        navigate(
            &range_href(from, to),
            NavigateOptions {
                scroll: false,
                ..Default::default()
            },
        );
    };
    let go_from = go.clone();
    let on_from = move |ev: leptos::ev::Event| {
        if let Some(from) = parse_day(Some(event_target_value(&ev))) {
            go_from(from, range.get_untracked().1);
        }
    };
    let on_to = move |ev: leptos::ev::Event| {
        if let Some(to) = parse_day(Some(event_target_value(&ev))) {
            go(range.get_untracked().0, to);
        }
    };

    let preset = move |days: u64, label: Key| {
        let (from, to) = ending_on(today, days);
        view! {
            <a
                class="preset"
                href=range_href(from, to)
                data-preset=days
                aria-current=move || (range.get() == (from, to)).then_some("true")
            >
                {t(label)}
            </a>
        }
    };

    let (pending, set_pending) = signal(false);
    let invalid = move || {
        let (from, to) = range.get();
        (to < from).then(|| {
            view! {
                <div class="notice notice-error" role="alert">
                    {t(Key::RangeInvalid)}
                </div>
            }
        })
    };

    // The pending state only means something in the browser. On the server, the effect
    // behind `set_pending` can run after the request's reactive owner is gone (under load)
    // and panic, so the server renders the same markup without it.
    let transition = if cfg!(feature = "hydrate") {
        view! { <Transition fallback=Loading set_pending>{dau_view(dau)}</Transition> }.into_any()
    } else {
        view! { <Transition fallback=Loading>{dau_view(dau)}</Transition> }.into_any()
    };

    view! {
        <Title text=t(Key::OverviewTitle) />
        <section class="page overview" data-testid="overview">
            <div class="page-head">
                <div>
                    <h1>{t(Key::OverviewTitle)}</h1>
                    <p class="lead">{t(Key::OverviewLead)}</p>
                </div>
                <form class="range" data-testid="range" on:submit=|ev| ev.prevent_default()>
                    <label>
                        <span>{t(Key::RangeFrom)}</span>
                        <input
                            type="date"
                            name="from"
                            data-testid="range-from"
                            max=today.to_string()
                            prop:value=move || range.get().0.to_string()
                            on:change=on_from
                        />
                    </label>
                    <label>
                        <span>{t(Key::RangeTo)}</span>
                        <input
                            type="date"
                            name="to"
                            data-testid="range-to"
                            prop:value=move || range.get().1.to_string()
                            on:change=on_to
                        />
                    </label>
                    <div class="presets" role="group">
                        {preset(7, Key::RangeDays7)}
                        {preset(30, Key::RangeDays30)}
                        {preset(90, Key::RangeDays90)}
                    </div>
                </form>
            </div>
            {invalid}
            <div class="dau" aria-busy=move || pending.get().to_string()>{transition}</div>
        </section>
    }
}

/// Summary cards, chart and table for one loaded range.
#[component]
fn DauFigures(points: Vec<DauPoint>) -> impl IntoView {
    let lang = use_i18n().lang;
    let loaded = summary(&points).map(|(average, peak)| (average, peak.clone()));
    let Some((average, peak)) = loaded.filter(|(_, peak)| peak.dau_total > 0) else {
        return view! {
            <p class="notice empty" data-testid="dau-empty">
                {t(Key::NoData)}
            </p>
        }
        .into_any();
    };
    let days = points.len() as i64;
    // WAU, MAU and stickiness as of the range's last day.
    let last = points.last().cloned().unwrap_or_else(|| peak.clone());
    let (last_day, last_wau, last_mau) = (last.day, last.wau, last.mau);
    // Stickiness averaged over the range's days: today alone is still partial.
    let stickiness = average_stickiness(&points);
    let as_of = Signal::derive(move || {
        format!(
            "{} {}",
            Key::AsOf.text(lang.get()),
            lang.get().date(last_day)
        )
    });
    let rows = points
        .iter()
        .map(|p| {
            let day = p.day;
            let (total, voice, chat, game) = (p.dau_total, p.dau_voice, p.dau_chat, p.dau_game);
            let (wau, mau) = (p.wau, p.mau);
            view! {
                <tr data-day=day.to_string()>
                    <th scope="row">{move || lang.get().date(day)}</th>
                    <td class="num" data-dau-total=total>
                        {move || lang.get().int(total.into())}
                    </td>
                    <td class="num" data-dau-voice=voice>
                        {move || lang.get().int(voice.into())}
                    </td>
                    <td class="num" data-dau-chat=chat>
                        {move || lang.get().int(chat.into())}
                    </td>
                    <td class="num" data-dau-game=game>
                        {move || lang.get().int(game.into())}
                    </td>
                    <td class="num" data-wau=wau>
                        {move || lang.get().int(wau.into())}
                    </td>
                    <td class="num" data-mau=mau>
                        {move || lang.get().int(mau.into())}
                    </td>
                </tr>
            }
        })
        .collect_view();
    view! {
        <div class="figures figures-6">
            <Figure
                label=Key::AvgDau
                testid="avg-dau"
                value=Signal::derive(move || lang.get().decimal(average))
            />
            <Figure
                label=Key::PeakDau
                testid="peak-dau"
                value=Signal::derive(move || lang.get().int(peak.dau_total.into()))
                note=Signal::derive(move || {
                    format!("{} {}", Key::PeakOn.text(lang.get()), lang.get().date(peak.day))
                })
            />
            <Figure
                label=Key::DaysInRange
                testid="days-in-range"
                value=Signal::derive(move || lang.get().int(days))
            />
            <Figure
                label=Key::Wau
                testid="wau"
                value=Signal::derive(move || lang.get().int(last_wau.into()))
                note=as_of
            />
            <Figure
                label=Key::Mau
                testid="mau"
                value=Signal::derive(move || lang.get().int(last_mau.into()))
                note=as_of
            />
            <Figure
                label=Key::Stickiness
                testid="stickiness"
                value=Signal::derive(move || {
                    stickiness
                        .map_or_else(|| "–".to_owned(), |s| format!("{} %", lang.get().decimal(s * 100.0)))
                })
                note=Signal::derive(move || Key::AverageOverRange.text(lang.get()).to_owned())
            />
        </div>
        <figure class="card">
            <figcaption>{t(Key::ChartTitle)}</figcaption>
            <div class="chart-wrap">
                <DauChart points=points.clone() />
            </div>
        </figure>
        <p class="actions">
            <a class="button" href="/export/daily_active_users.csv" download="daily_active_users.csv">
                {t(Key::DownloadCsvAllDays)}
            </a>
        </p>
        <div class="card table-wrap">
            <table class="data" data-testid="dau-table">
                <caption>{t(Key::TableTitle)}</caption>
                <thead>
                    <tr>
                        <th scope="col">{t(Key::ColDay)}</th>
                        <th scope="col" class="num">{t(Key::ColDauTotal)}</th>
                        <th scope="col" class="num">{t(Key::ColDauVoice)}</th>
                        <th scope="col" class="num">{t(Key::ColDauChat)}</th>
                        <th scope="col" class="num">{t(Key::ColDauGame)}</th>
                        <th scope="col" class="num">{t(Key::ColWau)}</th>
                        <th scope="col" class="num">{t(Key::ColMau)}</th>
                    </tr>
                </thead>
                <tbody>{rows}</tbody>
            </table>
        </div>
    }
    .into_any()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn day(s: &str) -> NaiveDate {
        NaiveDate::parse_from_str(s, "%Y-%m-%d").unwrap_or_default()
    }

    #[test]
    fn default_range_is_thirty_days_ending_today() {
        assert_eq!(
            ending_on(day("2026-11-28"), 30),
            (day("2026-10-30"), day("2026-11-28"))
        );
        assert_eq!(
            ending_on(day("2026-11-28"), 1),
            (day("2026-11-28"), day("2026-11-28"))
        );
    }

    #[test]
    fn summary_takes_the_first_peak() {
        let points =
            [("2026-11-01", 3), ("2026-11-02", 5), ("2026-11-03", 5)].map(|(d, n)| DauPoint {
                day: day(d),
                dau_total: n,
                dau_voice: n,
                dau_chat: 0,
                dau_game: 0,
                wau: n,
                mau: n,
                stickiness: None,
            });
        let (average, peak) = summary(&points).unwrap_or((0.0, &points[0]));
        assert!((average - 13.0 / 3.0).abs() < 1e-9);
        assert_eq!(peak.day, day("2026-11-02"));
        assert!(summary(&[]).is_none());
    }

    #[test]
    fn stickiness_is_the_mean_over_the_days_that_have_one() {
        let point = |stickiness| DauPoint {
            day: day("2026-11-01"),
            dau_total: 0,
            dau_voice: 0,
            dau_chat: 0,
            dau_game: 0,
            wau: 0,
            mau: 0,
            stickiness,
        };
        assert_eq!(
            average_stickiness(&[point(Some(0.5)), point(None), point(Some(0.25))]),
            Some(0.375)
        );
        assert_eq!(average_stickiness(&[point(None)]), None);
    }
}
