//! Building blocks shared by the pages: the page frame, notices and the DAU chart.

mod chart;
mod layout;

pub use chart::DauChart;
pub use layout::Header;

use crate::error::{AppError, Refusal};
use crate::i18n::{Key, t};
use leptos::prelude::*;

/// The translated message for an error users see.
pub fn error_key(error: &AppError) -> Key {
    match error {
        AppError::Unauthorized => Key::ErrUnauthorized,
        AppError::Forbidden => Key::ErrForbidden,
        AppError::Internal => Key::ErrInternal,
        AppError::BadRequest(_) | AppError::ServerFn(_) => Key::ErrRequest,
        AppError::Refused(Refusal::LastAdmin) => Key::ErrLastAdmin,
        AppError::Refused(Refusal::ConfiguredAdmin) => Key::ErrConfiguredAdmin,
        AppError::Refused(Refusal::ConfiguredLeader) => Key::ErrConfiguredLeader,
        AppError::Refused(Refusal::UnknownUser) => Key::ErrUnknownUser,
    }
}

/// An error box; bad requests carry the server's own explanation.
#[component]
pub fn ErrorNotice(error: AppError) -> impl IntoView {
    let detail = match &error {
        AppError::BadRequest(message) => Some(message.clone()),
        _ => None,
    };
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
