//! `/privacy`, public: what Guildhall collects in this community and what it never collects,
//! stated from the settings in force (whether message lengths are counted, the bronze
//! retention, which sources are configured). Readable without signing in, in both languages.

use crate::api::get_privacy_facts;
use crate::components::{ErrorNotice, Loading};
use crate::i18n::{Key, t, use_i18n};
use crate::model::PrivacyFacts;
use leptos::prelude::*;
use leptos_meta::Title;

/// `/privacy`: the same for everyone, signed in or not.
#[component]
pub fn PrivacyRoute() -> impl IntoView {
    let facts = Resource::new(|| (), |_| get_privacy_facts());
    view! {
        <Title text=t(Key::PrivacyTitle) />
        <section class="page privacy" data-testid="privacy">
            <h1>{t(Key::PrivacyTitle)}</h1>
            <p class="lead">{t(Key::PrivacyLead)}</p>
            <Suspense fallback=Loading>
                {move || Suspend::new(async move {
                    match facts.await {
                        Err(error) => view! { <ErrorNotice error /> }.into_any(),
                        Ok(facts) => view! { <PrivacyStatement facts /> }.into_any(),
                    }
                })}
            </Suspense>
        </section>
    }
}

#[component]
fn PrivacyStatement(facts: PrivacyFacts) -> impl IntoView {
    let lang = use_i18n().lang;
    let count =
        move |key: Key, n: i64| move || key.fill(lang.get(), &[("count", &lang.get().int(n))]);
    let discord = if facts.discord_bot {
        let lengths = if facts.message_lengths {
            Key::PrivacyMessagesWithLength
        } else {
            Key::PrivacyMessagesWithoutLength
        };
        view! {
            <li data-testid="collects-discord">{t(Key::PrivacyDiscordVoice)}</li>
            <li data-testid="collects-messages" data-lengths=facts.message_lengths.to_string()>
                {t(lengths)}
            </li>
            <li>{t(Key::PrivacyDiscordMembers)}</li>
        }
        .into_any()
    } else {
        view! { <li data-testid="collects-no-discord">{t(Key::PrivacyNoDiscord)}</li> }.into_any()
    };
    let games = [
        (facts.rcon_servers, Key::PrivacyRcon, "collects-rcon"),
        (facts.log_servers, Key::PrivacyLogs, "collects-logs"),
        (
            facts.metrics_servers,
            Key::PrivacyMetrics,
            "collects-metrics",
        ),
    ]
    .into_iter()
    .filter(|(n, ..)| *n > 0)
    .map(|(n, key, testid)| view! { <li data-testid=testid>{count(key, n)}</li> })
    .collect_view();
    let no_games = (facts.rcon_servers + facts.log_servers + facts.metrics_servers == 0)
        .then(|| view! { <li data-testid="collects-no-games">{t(Key::PrivacyNoGames)}</li> });
    let days = facts.bronze_retention_days;
    let retention = move || {
        let lang = lang.get();
        if days == 0 {
            Key::PrivacyRetentionOff.text(lang).to_owned()
        } else {
            Key::PrivacyRetention.fill(lang, &[("days", &lang.int(i64::from(days)))])
        }
    };
    let zone = facts.timezone.clone();
    view! {
        <div class="card">
            <h2>{t(Key::PrivacyCollectsTitle)}</h2>
            <ul class="facts-list" data-testid="collects">
                {discord}
                {games}
                {no_games}
                <li>{t(Key::PrivacySignIn)}</li>
            </ul>
        </div>
        <div class="card">
            <h2>{t(Key::PrivacyNeverTitle)}</h2>
            <ul class="facts-list" data-testid="never">
                <li>{t(Key::PrivacyNeverContent)}</li>
                <li>{t(Key::PrivacyNeverGameChat)}</li>
                <li>{t(Key::PrivacyNeverIp)}</li>
                <li>{t(Key::PrivacyNeverBots)}</li>
            </ul>
        </div>
        <div class="card">
            <h2>{t(Key::PrivacyKeptTitle)}</h2>
            <p data-testid="retention" data-days=days.to_string()>{retention}</p>
            <p class="muted small">
                {move || Key::PrivacyZone.fill(lang.get(), &[("zone", &zone)])}
            </p>
        </div>
        <div class="card">
            <h2>{t(Key::PrivacyRightsTitle)}</h2>
            <p>{t(Key::PrivacyRights)} " " <a href="/me">{t(Key::NavMyActivity)}</a></p>
        </div>
    }
}
