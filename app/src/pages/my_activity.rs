//! `/me`: the signed-in member's own voice activity and accounts.

use super::my_accounts::MyAccounts;
use crate::api::get_my_activity;
use crate::components::{ErrorNotice, Figure, Loading};
use crate::i18n::{Key, t, use_i18n};
use leptos::prelude::*;
use leptos_meta::Title;

fn game_label(game: &str) -> &'static str {
    match game {
        "cs2" => "CS2",
        "csgo" => "CS:GO",
        "tf2" => "TF2",
        "minecraft" => "Minecraft",
        _ => "Source",
    }
}

#[component]
pub fn MyActivityPage() -> impl IntoView {
    let lang = use_i18n().lang;
    let activity = Resource::new(|| (), |_| get_my_activity());
    view! {
        <Title text=t(Key::MyActivityTitle) />
        <section class="page" data-testid="my-activity">
            <h1>{t(Key::MyActivityTitle)}</h1>
            <p class="lead">{t(Key::MyActivityLead)}</p>
            <Suspense fallback=Loading>
                {move || Suspend::new(async move {
                    match activity.await {
                        Err(error) => view! { <ErrorNotice error /> }.into_any(),
                        Ok(activity) => {
                            let minutes = activity.voice_minutes_30d;
                            let days = activity.active_days_30d;
                            let messages = activity.messages_30d;
                            let games = activity.game_minutes_30d.clone();
                            let game_minutes: i64 = games.iter().map(|(_, m)| m).sum();
                            view! {
                                <div class="figures">
                                    <Figure
                                        label=Key::VoiceHours
                                        testid="voice-hours"
                                        value=Signal::derive(move || lang.get().decimal(minutes as f64 / 60.0))
                                        note=Signal::derive(move || {
                                            format!("{} {}", lang.get().int(minutes), Key::VoiceMinutes.text(lang.get()))
                                        })
                                    />
                                    <Figure
                                        label=Key::MessagesLabel
                                        testid="messages"
                                        value=Signal::derive(move || lang.get().int(messages))
                                        note=Signal::derive(move || Key::LastThirtyDays.text(lang.get()).to_string())
                                    />
                                    <Figure
                                        label=Key::GameHours
                                        testid="game-hours"
                                        value=Signal::derive(move || lang.get().decimal(game_minutes as f64 / 60.0))
                                        note=Signal::derive(move || {
                                            let lang = lang.get();
                                            if games.is_empty() {
                                                return Key::NoGameTimeYet.text(lang).to_string();
                                            }
                                            games
                                                .iter()
                                                .map(|(game, m)| format!("{} {} h", game_label(game), lang.decimal(*m as f64 / 60.0)))
                                                .collect::<Vec<_>>()
                                                .join(" · ")
                                        })
                                    />
                                    <Figure
                                        label=Key::ActiveDays
                                        testid="active-days"
                                        value=Signal::derive(move || lang.get().int(days))
                                        note=Signal::derive(move || Key::OfThirty.text(lang.get()).to_string())
                                    />
                                </div>
                            }
                                .into_any()
                        }
                    }
                })}
            </Suspense>
            <MyAccounts />
        </section>
    }
}
