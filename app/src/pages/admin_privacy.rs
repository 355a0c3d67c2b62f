//! The console's privacy and retention section (`/admin/privacy`): the community settings
//! (time zone, bronze retention) over the configured defaults, whether message lengths are
//! counted, and a link to the public privacy page they feed.

use crate::api::{SetCommunitySettings, get_community_settings};
use crate::components::ZoneNote;
use crate::components::{ErrorNotice, Loading};
use crate::i18n::{Key, t, use_i18n};
use crate::model::CommunitySettings;
use leptos::prelude::*;

#[component]
pub fn CommunitySettingsSection() -> impl IntoView {
    let save = ServerAction::<SetCommunitySettings>::new();
    let settings = Resource::new(move || save.version().get(), |_| get_community_settings());
    let outcome = move || match save.value().get()? {
        Err(error) => Some(view! { <ErrorNotice error /> }.into_any()),
        Ok(()) => Some(
            view! { <p class="form-ok" data-testid="settings-saved">{t(Key::Saved)}</p> }
                .into_any(),
        ),
    };
    view! {
        <div class="card" data-testid="community-settings">
            <h2>{t(Key::CommunitySettingsTitle)}</h2>
            <p class="muted small">{t(Key::CommunitySettingsLead)}</p>
            {outcome}
            <Transition fallback=Loading>
                {move || Suspend::new(async move {
                    match settings.await {
                        Err(error) => view! { <ErrorNotice error /> }.into_any(),
                        Ok(settings) => view! { <SettingsForm settings save /> }.into_any(),
                    }
                })}
            </Transition>
        </div>
        <div class="card">
            <h2>{t(Key::PrivacyPageTitle)}</h2>
            <p>
                {t(Key::PrivacyPageLead)} " "
                <a href="/privacy" data-testid="privacy-page-link">{t(Key::PrivacyLink)}</a>
            </p>
        </div>
    }
}

#[component]
fn SettingsForm(
    settings: CommunitySettings,
    save: ServerAction<SetCommunitySettings>,
) -> impl IntoView {
    let lang = use_i18n().lang;
    let CommunitySettings {
        timezone,
        bronze_retention_days,
        message_lengths,
        updated_at,
        updated_by,
        zones,
    } = settings;
    let current_zone = timezone.set_here.then(|| timezone.value.clone());
    let zone_options = zones
        .into_iter()
        .map(|zone| {
            let selected = current_zone.as_deref() == Some(zone.as_str());
            view! { <option value=zone.clone() selected=selected>{zone.clone()}</option> }
        })
        .collect_view();
    let configured_zone = timezone.configured.clone();
    let configured_days = bronze_retention_days.configured;
    let days_value = if bronze_retention_days.set_here {
        bronze_retention_days.value.to_string()
    } else {
        String::new()
    };
    let updated = updated_at.map(|at| {
        let by = updated_by.unwrap_or_default();
        view! {
            <p class="muted small" data-testid="settings-updated">
                {move || {
                    format!(
                        "{} {} · {}",
                        Key::SettingsUpdated.text(lang.get()),
                        lang.get().local_datetime(at.naive_local()),
                        by,
                    )
                }}
            </p>
        }
    });
    let lengths = if message_lengths {
        Key::LengthsCounted
    } else {
        Key::LengthsNotCounted
    };
    view! {
        <ZoneNote zone=timezone.value.clone() />
        <ActionForm action=save attr:class="stack-form settings-form">
            <label>
                {t(Key::SettingTimezone)}
                <select name="timezone" data-testid="timezone-pick">
                    <option value="" selected=current_zone.is_none()>
                        {move || Key::AsConfigured.fill(lang.get(), &[("value", &configured_zone)])}
                    </option>
                    {zone_options}
                </select>
            </label>
            <p class="muted small">{t(Key::SettingTimezoneHint)}</p>
            <label>
                {t(Key::SettingRetention)}
                <input
                    type="number"
                    name="bronze_retention_days"
                    min="0"
                    max="36500"
                    inputmode="numeric"
                    value=days_value
                    placeholder=move || {
                        Key::AsConfigured.fill(lang.get(), &[("value", &lang.get().int(i64::from(configured_days)))])
                    }
                    data-testid="retention-days"
                />
            </label>
            <p class="muted small">{t(Key::SettingRetentionHint)}</p>
            <button type="submit" disabled=move || save.pending().get()>{t(Key::Save)}</button>
        </ActionForm>
        {updated}
        <h3>{t(Key::SettingMessageLengths)}</h3>
        <p data-testid="message-lengths" data-counted=message_lengths.to_string()>{t(lengths)}</p>
        <p class="muted small">{t(Key::SettingMessageLengthsHint)}</p>
    }
}
