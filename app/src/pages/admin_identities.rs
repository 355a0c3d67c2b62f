//! The identity editor on `/admin`: search persons by any name or id; per person, their
//! accounts and activity, unlinking a game account, linking a known account to them, and
//! merging another person into them. Every change lands in the audit log above.

use super::my_accounts::{kind_label, verified_key};
use crate::api::{
    AdminLinkIdentity, AdminUnlinkIdentity, MergePersons, SplitPerson, get_identity_review,
    search_persons,
};
use crate::components::{ErrorNotice, Loading};
use crate::i18n::{Key, t, use_i18n};
use crate::model::{IdentityReview, PersonSummary};
use leptos::prelude::*;

#[component]
pub fn IdentityEditor() -> impl IntoView {
    let link = ServerAction::<AdminLinkIdentity>::new();
    let unlink = ServerAction::<AdminUnlinkIdentity>::new();
    let merge = ServerAction::<MergePersons>::new();
    let split = ServerAction::<SplitPerson>::new();
    // Bumps whenever an identity change went through: every list here is fetched again.
    let changed = Signal::derive(move || {
        link.version().get()
            + unlink.version().get()
            + merge.version().get()
            + split.version().get()
    });
    let (query, set_query) = signal(String::new());
    let results = Resource::new(
        move || (query.get(), changed.get()),
        |(query, _)| async move {
            if query.trim().chars().count() < 2 {
                Ok(Vec::new())
            } else {
                search_persons(query).await
            }
        },
    );
    let outcome = move || {
        [
            link.value().get(),
            unlink.value().get(),
            merge.value().get(),
        ]
        .into_iter()
        .flatten()
        .find_map(|result| result.err())
        .or_else(|| split.value().get().and_then(|result| result.err()))
        .map(|error| view! { <ErrorNotice error /> })
    };
    let lang = use_i18n().lang;
    let split_done = move || {
        let new_person = split.value().get()?.ok()?;
        Some(view! {
            <p class="notice success" data-testid="split-done">
                {move || format!("{} #{new_person}", Key::SplitDone.text(lang.get()))}
            </p>
        })
    };
    view! {
        <section class="card identity-editor" data-testid="identity-editor">
            <h2>{t(Key::IdentitiesTitle)}</h2>
            <p class="muted">{t(Key::IdentitiesLead)}</p>
            <form class="inline-form" on:submit=move |ev| ev.prevent_default()>
                <input
                    type="search"
                    data-testid="identity-search"
                    aria-label=t(Key::IdentitySearch)
                    placeholder=t(Key::IdentitySearch)
                    on:input=move |ev| set_query.set(event_target_value(&ev))
                    prop:value=query
                />
            </form>
            {outcome}
            {split_done}
            <Transition fallback=Loading>
                {move || Suspend::new(async move {
                    match results.await {
                        Err(error) => view! { <ErrorNotice error /> }.into_any(),
                        Ok(persons) if persons.is_empty() => {
                            view! { <p class="muted" data-testid="no-persons">{t(Key::NoPersonsFound)}</p> }.into_any()
                        }
                        Ok(persons) => persons
                            .into_iter()
                            .map(|person| view! { <PersonCard person link unlink merge split /> })
                            .collect_view()
                            .into_any(),
                    }
                })}
            </Transition>
            <Review changed link unlink />
        </section>
    }
}

/// Suggestions (an unowned game account and the member it most likely is) and suspect links,
/// each with its evidence and the one action that settles it.
#[component]
fn Review(
    changed: Signal<usize>,
    link: ServerAction<AdminLinkIdentity>,
    unlink: ServerAction<AdminUnlinkIdentity>,
) -> impl IntoView {
    let review = Resource::new(move || changed.get(), |_| get_identity_review());
    view! {
        <Transition fallback=Loading>
            {move || Suspend::new(async move {
                match review.await {
                    Err(error) => view! { <ErrorNotice error /> }.into_any(),
                    Ok(review) => view! { <ReviewLists review link unlink /> }.into_any(),
                }
            })}
        </Transition>
    }
}

#[component]
fn ReviewLists(
    review: IdentityReview,
    link: ServerAction<AdminLinkIdentity>,
    unlink: ServerAction<AdminUnlinkIdentity>,
) -> impl IntoView {
    let lang = use_i18n().lang;
    let days = review.days;
    let suggestions = if review.suggestions.is_empty() {
        view! { <p class="muted small" data-testid="no-suggestions">{t(Key::NoSuggestions)}</p> }
            .into_any()
    } else {
        review
            .suggestions
            .into_iter()
            .map(|s| {
                let player = s.player_name.clone().unwrap_or_else(|| s.external_id.clone());
                let (alike, together, played) = (
                    (s.name_similarity * 100.0).round() as i64,
                    s.together_hours,
                    s.played_hours,
                );
                let (candidate, form_kind, form_id) =
                    (s.candidate_person, s.kind.clone(), s.external_id.clone());
                let evidence = move || {
                    let lang = lang.get();
                    format!(
                        "{} {} % · {} {} / {} h",
                        Key::EvidenceNames.text(lang),
                        lang.int(alike),
                        Key::EvidenceTogether.text(lang),
                        lang.int(together),
                        lang.int(played),
                    )
                };
                view! {
                    <li data-testid="suggestion" data-account=s.external_id.clone() data-candidate=s.candidate_person>
                        <span>
                            <strong>{kind_label(&s.kind)}</strong>
                            " " {player} " → "
                            <strong>{format!("#{} {}", s.candidate_person, s.candidate_name)}</strong>
                        </span>
                        <span class="muted small">{evidence}</span>
                        <ActionForm action=link attr:class="inline-form">
                            <input type="hidden" name="person_id" value=candidate />
                            <input type="hidden" name="kind" value=form_kind />
                            <input type="hidden" name="external_id" value=form_id />
                            <button type="submit" data-testid="accept-suggestion">{t(Key::LinkThis)}</button>
                        </ActionForm>
                    </li>
                }
            })
            .collect_view()
            .into_any()
    };
    let suspects = if review.suspects.is_empty() {
        view! { <p class="muted small" data-testid="no-suspects">{t(Key::NoSuspects)}</p> }
            .into_any()
    } else {
        review
            .suspects
            .into_iter()
            .map(|s| {
                let player = s.player_name.clone().unwrap_or_else(|| s.external_id.clone());
                let reason = s.reason.clone();
                let (form_kind, form_id) = (s.kind.clone(), s.external_id.clone());
                let count = s.count;
                let last = s.last_at;
                let why = move || {
                    let lang = lang.get();
                    let key = if reason == "two_servers" {
                        Key::SuspectTwoServers
                    } else {
                        Key::SuspectNeverOnline
                    };
                    format!(
                        "{}: {}{}",
                        key.text(lang),
                        lang.int(count),
                        last.map(|at| format!(" · {}", lang.date(at.date_naive()))).unwrap_or_default()
                    )
                };
                view! {
                    <li data-testid="suspect" data-account=s.external_id.clone() data-reason=s.reason.clone()>
                        <span>
                            <strong>{kind_label(&s.kind)}</strong>
                            " " {player} " ↔ "
                            <strong>{format!("#{} {}", s.person_id, s.person_name.clone().unwrap_or_default())}</strong>
                            <span class="muted small">" · " {t(verified_key(&s.verified_by))}</span>
                        </span>
                        <span class="muted small">{why}</span>
                        <ActionForm action=unlink attr:class="inline-form">
                            <input type="hidden" name="kind" value=form_kind />
                            <input type="hidden" name="external_id" value=form_id />
                            <button type="submit" class="button-secondary" data-testid="unlink-suspect">{t(Key::Unlink)}</button>
                        </ActionForm>
                    </li>
                }
            })
            .collect_view()
            .into_any()
    };
    view! {
        <div class="review" data-testid="identity-review">
            <h3>{t(Key::SuggestionsTitle)}</h3>
            <p class="muted small">
                {move || format!("{} {} {}", Key::SuggestionsLead.text(lang.get()), lang.get().int(days), Key::DaysWord.text(lang.get()))}
            </p>
            <ul class="connections">{suggestions}</ul>
            <h3>{t(Key::SuspectsTitle)}</h3>
            <p class="muted small">{t(Key::SuspectsLead)}</p>
            <ul class="connections">{suspects}</ul>
        </div>
    }
    .into_any()
}

#[component]
fn PersonCard(
    person: PersonSummary,
    link: ServerAction<AdminLinkIdentity>,
    unlink: ServerAction<AdminUnlinkIdentity>,
    merge: ServerAction<MergePersons>,
    split: ServerAction<SplitPerson>,
) -> impl IntoView {
    let lang = use_i18n().lang;
    let id = person.person_id;
    let split_form = format!("split-{id}");
    let several = person.accounts.len() > 1;
    let last = person.last_active;
    let days = person.active_days;
    let accounts = person
        .accounts
        .into_iter()
        .enumerate()
        .map(|(index, account)| {
            let game = account.kind != "discord";
            let choice = format!("{}:{}", account.kind, account.external_id);
            let form = split_form.clone();
            let (kind, external_id) = (account.kind.clone(), account.external_id.clone());
            view! {
                <li data-kind=account.kind.clone() data-account=account.external_id.clone()>
                    {several.then(|| view! {
                        <input
                            type="checkbox"
                            form=form
                            name=format!("accounts[{index}]")
                            value=choice
                            aria-label=t(Key::SplitChoose)
                            data-testid="split-choose"
                        />
                    })}
                    <strong>{kind_label(&account.kind)}</strong>
                    " "
                    {account.display_name.clone().unwrap_or_default()}
                    <span class="muted small mono account-id">{account.external_id.clone()}</span>
                    <span class="muted small">" · " {t(verified_key(&account.verified_by))}</span>
                    {game.then(|| view! {
                        <ActionForm action=unlink attr:class="inline-form">
                            <input type="hidden" name="kind" value=kind />
                            <input type="hidden" name="external_id" value=external_id />
                            <button type="submit" class="button-secondary" data-testid="admin-unlink">{t(Key::Unlink)}</button>
                        </ActionForm>
                    })}
                </li>
            }
        })
        .collect_view();
    view! {
        <article class="person" data-testid="person" data-person=id>
            <header>
                <strong>{format!("#{id}")}</strong>
                " "
                {person.name.unwrap_or_default()}
                <span class="muted small">
                    {move || {
                        format!(
                            " · {} {}{}",
                            lang.get().int(days),
                            Key::ActiveDays.text(lang.get()),
                            last.map(|d| format!(" · {}", lang.get().date(d))).unwrap_or_default()
                        )
                    }}
                </span>
            </header>
            <ul class="plain-list person-accounts">{accounts}</ul>
            <div class="person-actions">
                {several.then(|| view! {
                    <ActionForm action=split attr:id=split_form.clone() attr:class="inline-form">
                        <input type="hidden" name="person_id" value=id />
                        <button type="submit" class="button-secondary" data-testid="split">{t(Key::Split)}</button>
                    </ActionForm>
                })}
                <ActionForm action=merge attr:class="inline-form">
                    <input type="hidden" name="into" value=id />
                    <label>
                        {t(Key::MergeFrom)}
                        " "
                        <input type="number" name="from" min="1" required data-testid="merge-from" />
                    </label>
                    <button type="submit" data-testid="merge">{t(Key::Merge)}</button>
                </ActionForm>
                <ActionForm action=link attr:class="inline-form">
                    <input type="hidden" name="person_id" value=id />
                    <select name="kind" aria-label=t(Key::ColPlatform)>
                        <option value="steam">"Steam"</option>
                        <option value="minecraft">"Minecraft"</option>
                    </select>
                    <input type="text" name="external_id" required placeholder=t(Key::AccountIdPlaceholder) data-testid="link-account" />
                    <button type="submit" data-testid="admin-link">{t(Key::LinkAccount)}</button>
                </ActionForm>
            </div>
        </article>
    }
}
