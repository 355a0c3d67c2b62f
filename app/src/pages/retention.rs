//! `/retention`: retention cohorts as a heatmap, for leaders and admins. Rows are join
//! months, columns the months after (0 = the join month), each cell the share of the cohort
//! active that month; the counts are in each cell's title and in the table below it. The
//! page is complete in the server's HTML, before hydration.

use crate::api::get_retention_cohorts;
use crate::components::{ErrorNotice, Loading};
use crate::i18n::{Key, t, use_i18n};
use crate::model::CohortCell;
use chrono::NaiveDate;
use leptos::prelude::*;
use leptos_meta::Title;
use std::collections::BTreeMap;

/// Months after the join month shown (0…12).
const MONTHS: i32 = 12;

/// One row of the heatmap: a cohort and its cells by months after.
struct CohortRow {
    month: NaiveDate,
    size: i32,
    cells: BTreeMap<i32, CohortCell>,
}

fn rows(cells: Vec<CohortCell>) -> Vec<CohortRow> {
    let mut by_month: BTreeMap<NaiveDate, CohortRow> = BTreeMap::new();
    for cell in cells {
        let row = by_month
            .entry(cell.cohort_month)
            .or_insert_with(|| CohortRow {
                month: cell.cohort_month,
                size: cell.cohort_size,
                cells: BTreeMap::new(),
            });
        row.size = cell.cohort_size;
        row.cells.insert(cell.months_after, cell);
    }
    // The newest cohort first.
    by_month.into_values().rev().collect()
}

/// The cell's colour: the brand colour, stronger with the share.
fn cell_style(percentage: f64) -> String {
    let alpha = (percentage / 100.0).clamp(0.0, 1.0) * 0.85 + 0.05;
    let text = if percentage >= 55.0 {
        "#fff"
    } else {
        "inherit"
    };
    format!("background-color: rgba(79, 70, 229, {alpha:.3}); color: {text}")
}

#[component]
pub fn RetentionPage() -> impl IntoView {
    let cohorts = Resource::new_blocking(|| (), |_| get_retention_cohorts());
    view! {
        <Title text=t(Key::RetentionTitle) />
        <section class="page">
            <h1>{t(Key::RetentionTitle)}</h1>
            <p class="lead">{t(Key::RetentionLead)}</p>
            <p class="actions">
                <a class="button" href="/export/retention_cohorts.csv" download="retention_cohorts.csv">
                    {t(Key::DownloadCsv)}
                </a>
            </p>
            <Suspense fallback=Loading>
                {move || Suspend::new(async move {
                    match cohorts.await {
                        Err(error) => view! { <ErrorNotice error /> }.into_any(),
                        Ok(cells) if cells.is_empty() => {
                            view! {
                                <p class="notice empty" data-testid="retention-empty">
                                    {t(Key::NoCohorts)}
                                </p>
                            }
                                .into_any()
                        }
                        Ok(cells) => view! { <Heatmap cells /> }.into_any(),
                    }
                })}
            </Suspense>
        </section>
    }
}

#[component]
fn Heatmap(cells: Vec<CohortCell>) -> impl IntoView {
    let lang = use_i18n().lang;
    let rows = rows(cells);
    let body = rows
        .iter()
        .map(|row| {
            let month = row.month;
            let size = row.size;
            let cells = (0..=MONTHS)
                .map(|k| match row.cells.get(&k) {
                    Some(cell) => {
                        let pct = cell.percentage.unwrap_or(0.0);
                        let (active, partial) = (cell.active, cell.partial);
                        view! {
                            <td
                                class="num heat"
                                class:partial=partial
                                style=cell_style(pct)
                                data-k=k
                                data-active=active
                                data-percentage=format!("{pct:.2}")
                                title=move || {
                                    format!(
                                        "{} / {}{}",
                                        lang.get().int(active.into()),
                                        lang.get().int(size.into()),
                                        if partial { format!(" ({})", Key::Partial.text(lang.get())) } else { String::new() },
                                    )
                                }
                            >
                                // Whole percent in the map; the title and the table below
                                // have the counts and one decimal.
                                {format!("{pct:.0} %")}
                            </td>
                        }
                            .into_any()
                    }
                    None => view! { <td class="num heat empty" data-k=k></td> }.into_any(),
                })
                .collect_view();
            view! {
                <tr data-cohort=month.to_string()>
                    <th scope="row">{move || lang.get().month(month)}</th>
                    <td class="num" data-size=size>{move || lang.get().int(size.into())}</td>
                    {cells}
                </tr>
            }
            .into_any()
        })
        .collect_view();
    let counts = rows
        .iter()
        .flat_map(|row| {
            row.cells.values().map(|cell| {
                let (month, k, size, active, partial) = (
                    cell.cohort_month,
                    cell.months_after,
                    cell.cohort_size,
                    cell.active,
                    cell.partial,
                );
                let pct = cell.percentage.unwrap_or(0.0);
                view! {
                    <tr>
                        <th scope="row">{move || lang.get().month(month)}</th>
                        <td class="num">{k}</td>
                        <td class="num">{move || lang.get().int(size.into())}</td>
                        <td class="num">{move || lang.get().int(active.into())}</td>
                        <td class="num">
                            {move || format!("{} %", lang.get().decimal(pct))}
                            {partial.then(|| view! { " " <abbr title=t(Key::Partial)>"*"</abbr> })}
                        </td>
                    </tr>
                }
                .into_any()
            })
        })
        .collect_view();
    let heatmap = view! {
        <div class="card table-wrap">
            <table class="data heatmap" data-testid="retention-heatmap">
                <caption>{t(Key::HeatmapCaption)}</caption>
                <thead>
                    <tr>
                        <th scope="col">{t(Key::ColCohort)}</th>
                        <th scope="col" class="num">{t(Key::ColCohortSize)}</th>
                        {(0..=MONTHS)
                            .map(|k| view! { <th scope="col" class="num">{format!("+{k}")}</th> })
                            .collect_view()}
                    </tr>
                </thead>
                <tbody>{body}</tbody>
            </table>
        </div>
    }
    .into_any();
    let table = view! {
        <details class="card">
            <summary>{t(Key::CohortCounts)}</summary>
            <div class="table-wrap">
                <table class="data" data-testid="retention-counts">
                    <thead>
                        <tr>
                            <th scope="col">{t(Key::ColCohort)}</th>
                            <th scope="col" class="num">{t(Key::ColMonthsAfter)}</th>
                            <th scope="col" class="num">{t(Key::ColCohortSize)}</th>
                            <th scope="col" class="num">{t(Key::ColActive)}</th>
                            <th scope="col" class="num">{t(Key::ColShare)}</th>
                        </tr>
                    </thead>
                    <tbody>{counts}</tbody>
                </table>
            </div>
        </details>
    }
    .into_any();
    view! { {heatmap} {table} }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn cell(month: &str, k: i32, size: i32, active: i32) -> CohortCell {
        CohortCell {
            cohort_month: NaiveDate::parse_from_str(month, "%Y-%m-%d").unwrap_or_default(),
            months_after: k,
            cohort_size: size,
            active,
            percentage: Some(100.0 * f64::from(active) / f64::from(size)),
            partial: false,
        }
    }

    #[test]
    fn cohorts_are_rows_newest_first_with_their_cells_by_month() {
        let rows = rows(vec![
            cell("2026-09-01", 0, 2, 2),
            cell("2026-09-01", 1, 2, 1),
            cell("2026-10-01", 0, 1, 1),
        ]);
        let months: Vec<String> = rows.iter().map(|r| r.month.to_string()).collect();
        assert_eq!(months, vec!["2026-10-01", "2026-09-01"]);
        assert_eq!(
            rows[1].cells.keys().copied().collect::<Vec<_>>(),
            vec![0, 1]
        );
        assert_eq!(rows[1].size, 2);
    }

    #[test]
    fn stronger_shares_are_darker() {
        assert!(cell_style(0.0).contains("0.050"));
        assert!(cell_style(100.0).contains("0.900"));
    }
}
