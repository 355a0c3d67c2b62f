//! The daily-active-users bar chart, drawn as SVG in Rust: one bar per day, a y axis with
//! round ticks and a few day labels along the x axis.

use crate::i18n::{Key, use_i18n};
use crate::model::DauPoint;
use leptos::prelude::*;

const WIDTH: f64 = 720.0;
const HEIGHT: f64 = 260.0;
const LEFT: f64 = 44.0;
const RIGHT: f64 = 8.0;
const TOP: f64 = 12.0;
const BOTTOM: f64 = 28.0;

/// A "nice" tick step (1, 2 or 5 × 10ⁿ) so that about four ticks cover `max`.
fn tick_step(max: i32) -> i32 {
    let rough = (f64::from(max.max(1)) / 4.0).max(1.0);
    let magnitude = 10f64.powf(rough.log10().floor());
    let step = [1.0, 2.0, 5.0, 10.0]
        .into_iter()
        .map(|m| m * magnitude)
        .find(|s| *s >= rough)
        .unwrap_or(10.0 * magnitude);
    step.round() as i32
}

#[component]
pub fn DauChart(points: Vec<DauPoint>) -> impl IntoView {
    let lang = use_i18n().lang;
    let max = points.iter().map(|p| p.dau_total).max().unwrap_or(0);
    let step = tick_step(max);
    let top_value = (max.max(1) + step - 1) / step * step;
    let plot_w = WIDTH - LEFT - RIGHT;
    let plot_h = HEIGHT - TOP - BOTTOM;
    let n = points.len().max(1) as f64;
    let slot = plot_w / n;
    let gap = (slot * 0.2).min(4.0);
    let y = move |value: i32| TOP + plot_h - plot_h * f64::from(value) / f64::from(top_value);

    let ticks = (0..=top_value / step)
        .map(|i| {
            let value = i * step;
            let py = y(value);
            view! {
                <g class="tick">
                    <line x1=LEFT x2=WIDTH - RIGHT y1=py y2=py class="grid" />
                    <text x=LEFT - 6.0 y=py + 4.0 text-anchor="end" class="axis-label">
                        {move || lang.get().int(i64::from(value))}
                    </text>
                </g>
            }
        })
        .collect_view();

    // Label about six days, always including the first and the last.
    let label_every = (points.len() / 6).max(1);
    let last = points.len().saturating_sub(1);
    let labels = points
        .iter()
        .enumerate()
        .filter(|(i, _)| {
            *i == last || (i.is_multiple_of(label_every) && last - i >= label_every / 2)
        })
        .map(|(i, p)| {
            let x = LEFT + slot * (i as f64 + 0.5);
            let anchor = if i == 0 && points.len() > 1 {
                "start"
            } else if i == last && points.len() > 1 {
                "end"
            } else {
                "middle"
            };
            let x = match anchor {
                "start" => x - slot / 2.0 + gap / 2.0,
                "end" => x + slot / 2.0 - gap / 2.0,
                _ => x,
            };
            let day = p.day;
            view! {
                <text x=x y=HEIGHT - 8.0 text-anchor=anchor class="axis-label">
                    {move || short_day(lang.get(), day)}
                </text>
            }
        })
        .collect_view();

    let bars = points
        .iter()
        .enumerate()
        .map(|(i, p)| {
            let x = LEFT + slot * i as f64 + gap / 2.0;
            let top = y(p.dau_total);
            let (day, value) = (p.day, p.dau_total);
            view! {
                <rect
                    class="bar"
                    x=x
                    y=top
                    width=(slot - gap).max(0.5)
                    height=(TOP + plot_h - top).max(0.0)
                    data-day=day.to_string()
                    data-value=value
                >
                    <title>{move || format!("{}: {}", lang.get().date(day), value)}</title>
                </rect>
            }
        })
        .collect_view();

    view! {
        <svg
            class="chart"
            data-testid="dau-chart"
            viewBox=format!("0 0 {WIDTH} {HEIGHT}")
            role="img"
            aria-label=move || Key::ChartTitle.text(lang.get())
        >
            {ticks}
            <line x1=LEFT x2=WIDTH - RIGHT y1=TOP + plot_h y2=TOP + plot_h class="axis" />
            {bars}
            {labels}
        </svg>
    }
}

/// A compact day label for the x axis (`11-01` / `01.11.`).
fn short_day(lang: crate::i18n::Lang, day: chrono::NaiveDate) -> String {
    match lang {
        crate::i18n::Lang::De => day.format("%d.%m.").to_string(),
        crate::i18n::Lang::En => day.format("%m-%d").to_string(),
    }
}

#[cfg(test)]
mod tests {
    use super::tick_step;

    #[test]
    fn ticks_are_round() {
        assert_eq!(tick_step(0), 1);
        assert_eq!(tick_step(3), 1);
        assert_eq!(tick_step(10), 5);
        assert_eq!(tick_step(37), 10);
        assert_eq!(tick_step(180), 50);
    }
}
