//! Building blocks shared by the pages: the page frame, notices and the DAU chart.

mod chart;
mod layout;

pub use chart::DauChart;
pub use layout::Header;

use crate::error::{AppError, Problem};
use crate::i18n::{Key, problem_text, t, use_i18n};
use leptos::prelude::*;

pub use crate::i18n::error_key;

/// What is wrong with an invalid request, in the current language (updates with it).
pub fn problem_detail(problem: Problem) -> impl Fn() -> String + Send + Sync + 'static {
    let lang = use_i18n().lang;
    move || problem_text(&problem, lang.get())
}

/// The problem of an invalid request, for a detail line; other errors have none.
pub fn error_problem(error: &AppError) -> Option<Problem> {
    match error {
        AppError::Invalid { problem, .. } => Some(problem.clone()),
        _ => None,
    }
}

/// An error box; an invalid request says what is wrong with it, in the user's language.
#[component]
pub fn ErrorNotice(error: AppError) -> impl IntoView {
    let detail = error_problem(&error).map(problem_detail);
    let sign_in = (error == AppError::Unauthorized).then(|| {
        view! {
            <a href="/" rel="external">
                {t(Key::SignIn)}
            </a>
        }
    });
    view! {
        <div class="notice notice-error" role="alert" data-testid="error">
            <strong>{t(error_key(&error))}</strong>
            {detail.map(|detail| view! { <span class="notice-detail">{detail}</span> })}
            {sign_in}
        </div>
    }
}

/// Shown while a page's data is on its way.
#[component]
pub fn Loading() -> impl IntoView {
    view! {
        <p class="loading" aria-live="polite">
            {t(Key::Loading)}
        </p>
    }
}

/// A labelled figure in a row of summary cards.
#[component]
pub fn Figure(
    label: Key,
    #[prop(into)] value: Signal<String>,
    #[prop(optional, into)] note: Option<Signal<String>>,
    #[prop(optional)] testid: &'static str,
) -> impl IntoView {
    view! {
        <div class="figure" data-testid=testid>
            <div class="figure-label">{t(label)}</div>
            <div class="figure-value">{value}</div>
            {note.map(|note| view! { <div class="figure-note">{note}</div> })}
        </div>
    }
}

/// "Times in Europe/Berlin", once per section.
#[component]
pub fn ZoneNote(zone: String) -> impl IntoView {
    view! {
        <p class="muted small zone-note" data-testid="zone-note">
            {t(Key::TimesIn)} " " <strong>{zone}</strong>
        </p>
    }
}
