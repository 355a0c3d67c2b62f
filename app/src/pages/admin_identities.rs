//! The identity editor on `/admin`: search persons by any name or id; per person, their
//! accounts and activity, unlinking a game account, linking a known account to them, and
//! merging another person into them. Every change lands in the audit log below.

use super::my_accounts::kind_label;
use crate::api::{AdminLinkIdentity, AdminUnlinkIdentity, MergePersons, search_persons};
use crate::components::{ErrorNotice, Loading};
use crate::i18n::{Key, t, use_i18n};
use crate::model::PersonSummary;
use leptos::prelude::*;

#[component]
pub fn IdentityEditor() -> impl IntoView {
    let link = ServerAction::<AdminLinkIdentity>::new();
    let unlink = ServerAction::<AdminUnlinkIdentity>::new();
    let merge = ServerAction::<MergePersons>::new();
    let (query, set_query) = signal(String::new());
    let results = Resource::new(
        move || {
            (
                query.get(),
                link.version().get() + unlink.version().get() + merge.version().get(),
            )
        },
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
        .map(|error| view! { <ErrorNotice error /> })
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
            <Transition fallback=Loading>
                {move || Suspend::new(async move {
                    match results.await {
                        Err(error) => view! { <ErrorNotice error /> }.into_any(),
                        Ok(persons) if persons.is_empty() => {
                            view! { <p class="muted" data-testid="no-persons">{t(Key::NoPersonsFound)}</p> }.into_any()
                        }
                        Ok(persons) => persons
                            .into_iter()
                            .map(|person| view! { <PersonCard person link unlink merge /> })
                            .collect_view()
                            .into_any(),
                    }
                })}
            </Transition>
        </section>
    }
}

#[component]
fn PersonCard(
    person: PersonSummary,
    link: ServerAction<AdminLinkIdentity>,
    unlink: ServerAction<AdminUnlinkIdentity>,
    merge: ServerAction<MergePersons>,
) -> impl IntoView {
    let lang = use_i18n().lang;
    let id = person.person_id;
    let last = person.last_active;
    let days = person.active_days;
    let accounts = person
        .accounts
        .into_iter()
        .map(|account| {
            let game = account.kind != "discord";
            let (kind, external_id) = (account.kind.clone(), account.external_id.clone());
            view! {
                <li data-kind=account.kind.clone() data-account=account.external_id.clone()>
                    <strong>{kind_label(&account.kind)}</strong>
                    " "
                    {account.display_name.clone().unwrap_or_default()}
                    <span class="muted small mono account-id">{account.external_id.clone()}</span>
                    <span class="muted small">" · " {account.verified_by.clone()}</span>
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
