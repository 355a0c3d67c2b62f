//! The member's accounts on `/me`: Discord, Steam and Minecraft accounts Guildhall counts
//! as them, a one-time code to link a game account from game chat, and unlinking.

use crate::api::{
    DeleteMyAccount, LinkSteamConnection, NewLinkCode, OptMeOut, SetMeHidden, UnlinkMyAccount,
    get_my_accounts, get_my_link_attempts, get_my_privacy, get_my_steam_connections,
};
use crate::components::{ErrorNotice, Loading};
use crate::i18n::{Key, t, use_i18n};
use crate::model::{MyAccount, MyLinkAttempt, SteamConnection};
use leptos::prelude::*;
use leptos_router::hooks::use_query_map;

/// The platform of an account kind, as people write it (also used by the identity editor).
pub(super) fn kind_label(kind: &str) -> &'static str {
    match kind {
        "discord" => "Discord",
        "steam" => "Steam",
        "minecraft" => "Minecraft",
        _ => "?",
    }
}

pub(super) fn verified_key(how: &str) -> Key {
    match how {
        "oauth_connection" => Key::VerifiedOauth,
        "steam_openid" => Key::VerifiedOpenid,
        "ingame_code" => Key::VerifiedCode,
        "admin" => Key::VerifiedAdmin,
        _ => Key::VerifiedObserved,
    }
}

#[component]
pub fn MyAccounts() -> impl IntoView {
    let lang = use_i18n().lang;
    let new_code = ServerAction::<NewLinkCode>::new();
    let unlink = ServerAction::<UnlinkMyAccount>::new();
    let link_connection = ServerAction::<LinkSteamConnection>::new();
    let changed = move || (unlink.version().get(), link_connection.version().get());
    let accounts = Resource::new(changed, |_| get_my_accounts());
    let connections = Resource::new(changed, |_| get_my_steam_connections());
    let attempts = Resource::new(changed, |_| get_my_link_attempts());

    let shown_code = move || match new_code.value().get()? {
        Err(error) => Some(view! { <ErrorNotice error /> }.into_any()),
        Ok(code) => {
            let until = code.expires_at;
            Some(
                view! {
                    <div class="link-code" data-testid="link-code">
                        <p>{t(Key::LinkCodeHow)}</p>
                        <p class="code-line">
                            <code data-testid="link-code-text">{format!("!link {}", code.code)}</code>
                        </p>
                        <p class="muted small">
                            {move || format!("{} {}", Key::LinkCodeValid.text(lang.get()), lang.get().datetime(until))}
                        </p>
                    </div>
                }
                .into_any(),
            )
        }
    };
    // Where `/me/steam/return` sent the browser back: `?steam=linked` or why not.
    let query = use_query_map();
    let steam_outcome = move || {
        let outcome = query.read().get("steam")?;
        let (class, key) = match outcome.as_str() {
            "linked" => ("notice success", Key::SteamOpenIdLinked),
            "cancelled" => ("notice", Key::SteamOpenIdCancelled),
            "expired" => ("notice notice-error", Key::SteamOpenIdExpired),
            "replayed" => ("notice notice-error", Key::SteamOpenIdReplayed),
            "unavailable" => ("notice notice-error", Key::SteamOpenIdUnavailable),
            "failed" => ("notice notice-error", Key::SteamOpenIdFailed),
            _ => ("notice notice-error", Key::SteamOpenIdRefused),
        };
        Some(view! { <p class=class data-testid="steam-outcome" data-outcome=outcome>{t(key)}</p> })
    };
    let unlink_error = move || match unlink.value().get()? {
        Err(error) => Some(view! { <ErrorNotice error /> }),
        Ok(()) => None,
    };
    view! {
        <section class="card my-accounts" data-testid="my-accounts">
            <h2>{t(Key::MyAccountsTitle)}</h2>
            <p class="muted">{t(Key::MyAccountsLead)}</p>
            {steam_outcome}
            {unlink_error}
            <Suspense fallback=Loading>
                {move || Suspend::new(async move {
                    match accounts.await {
                        Err(error) => view! { <ErrorNotice error /> }.into_any(),
                        Ok(list) => view! { <AccountsTable list unlink /> }.into_any(),
                    }
                })}
            </Suspense>
            <ActionForm action=new_code attr:class="inline-form">
                <button type="submit" data-testid="new-link-code" disabled=move || new_code.pending().get()>
                    {t(Key::LinkCodeButton)}
                </button>
            </ActionForm>
            {shown_code}
            <Suspense fallback=Loading>
                {move || Suspend::new(async move {
                    match attempts.await {
                        Err(error) => view! { <ErrorNotice error /> }.into_any(),
                        Ok(list) => view! { <LinkAttempts list /> }.into_any(),
                    }
                })}
            </Suspense>
            <h3>{t(Key::SteamConnectionsTitle)}</h3>
            <Suspense fallback=Loading>
                {move || Suspend::new(async move {
                    match connections.await {
                        Err(error) => view! { <ErrorNotice error /> }.into_any(),
                        Ok(list) => view! { <SteamConnections list link=link_connection /> }.into_any(),
                    }
                })}
            </Suspense>
            <p class="steam-openid">
                // A full page load: the browser goes to Steam and comes back.
                <a class="button button-secondary" rel="external" href="/me/steam/login" data-testid="steam-openid">
                    {t(Key::SteamOpenIdButton)}
                </a>
                " "
                <span class="muted small">{t(Key::SteamOpenIdLead)}</span>
            </p>
        </section>
        <MyData />
    }
    .into_any()
}

/// The member's codes of the last day that linked nothing, and why (nothing when none).
#[component]
fn LinkAttempts(list: Vec<MyLinkAttempt>) -> impl IntoView {
    let lang = use_i18n().lang;
    if list.is_empty() {
        return ().into_any();
    }
    let items = list
        .into_iter()
        .map(|attempt| {
            let key = match attempt.outcome.as_str() {
                "verified" => Key::LinkAttemptVerified,
                "expired" => Key::LinkAttemptExpired,
                _ => Key::LinkAttemptUsed,
            };
            let kind = kind_label(&attempt.kind);
            let at = attempt.at;
            let account = attempt.external_id;
            let outcome = attempt.outcome;
            view! {
                <li data-testid="link-attempt" data-outcome=outcome>
                    <span class="muted small">{move || lang.get().datetime(at)}</span>
                    " "
                    {move || key.fill(lang.get(), &[("kind", kind), ("account", account.as_str())])}
                </li>
            }
        })
        .collect_view();
    view! {
        <div class="link-attempts notice" data-testid="link-attempts">
            <h3>{t(Key::LinkAttemptsTitle)}</h3>
            <ul>{items}</ul>
        </div>
    }
    .into_any()
}

/// The verified Steam connections Discord showed at sign-in, each linked with a click.
#[component]
fn SteamConnections(
    list: Vec<SteamConnection>,
    link: ServerAction<LinkSteamConnection>,
) -> impl IntoView {
    let error = move || match link.value().get()? {
        Err(error) => Some(view! { <ErrorNotice error /> }),
        Ok(()) => None,
    };
    if list.is_empty() {
        return view! { <p class="muted small" data-testid="no-steam-connections">{t(Key::SteamConnectionsNone)}</p> }.into_any();
    }
    let items = list
        .into_iter()
        .map(|connection| {
            let label = connection.name.clone().unwrap_or_else(|| connection.steam_id.clone());
            let steam_id = connection.steam_id.clone();
            let shown_id = connection.steam_id.clone();
            let action = if connection.linked {
                view! { <span class="muted small">{t(Key::AlreadyLinked)}</span> }.into_any()
            } else {
                view! {
                    <ActionForm action=link attr:class="inline-form">
                        <input type="hidden" name="steam_id" value=connection.steam_id.clone() />
                        <button type="submit" data-testid="link-connection" disabled=move || link.pending().get()>
                            {t(Key::LinkThis)}
                        </button>
                    </ActionForm>
                }
                .into_any()
            };
            view! {
                <li data-steam-id=steam_id>
                    <span>{label}</span>
                    " "
                    <span class="muted small mono">{shown_id}</span>
                    " "
                    {action}
                </li>
            }
        })
        .collect_view();
    view! {
        {error}
        <ul class="connections" data-testid="steam-connections">{items}</ul>
    }
    .into_any()
}

/// Download, hide me, opt out, delete my account: each confirmed, each at once.
#[component]
fn MyData() -> impl IntoView {
    let hide = ServerAction::<SetMeHidden>::new();
    let opt_out = ServerAction::<OptMeOut>::new();
    let delete = ServerAction::<DeleteMyAccount>::new();
    let privacy = Resource::new(move || hide.version().get(), |_| get_my_privacy());
    // Once erased, the session is gone: start again from the front page.
    Effect::new(move |_| {
        let done = matches!(opt_out.value().get(), Some(Ok(())))
            || matches!(delete.value().get(), Some(Ok(())));
        if done {
            let _ = window().location().set_href("/?erased=1");
        }
    });
    let failure = move || {
        [
            hide.value().get(),
            opt_out.value().get(),
            delete.value().get(),
        ]
        .into_iter()
        .flatten()
        .find_map(Result::err)
        .map(|error| view! { <ErrorNotice error /> })
    };
    view! {
        <section class="card my-data" data-testid="my-data">
            <h2>{t(Key::MyDataTitle)}</h2>
            <p class="muted">{t(Key::MyDataLead)}</p>
            {failure}
            <p class="export-my-data">
                <a href="/me/export.json" download="guildhall-my-data.json" rel="external" class="button button-secondary" data-testid="export-my-data">
                    {t(Key::ExportMyData)}
                </a>
            </p>
            <h3>{t(Key::HideMe)}</h3>
            <p class="muted small">{t(Key::HideMeHow)}</p>
            <Suspense fallback=Loading>
                {move || Suspend::new(async move {
                    let hidden = privacy.await.map(|p| p.hidden).unwrap_or(false);
                    view! {
                        {hidden.then(|| view! { <p class="notice" data-testid="hidden-now">{t(Key::HiddenNow)}</p> })}
                        <ActionForm action=hide attr:class="inline-form">
                            <input type="hidden" name="hidden" value=if hidden { "false" } else { "true" } />
                            <button type="submit" class="button-secondary" data-testid="toggle-hidden" disabled=move || hide.pending().get()>
                                {if hidden { t(Key::ShowMe) } else { t(Key::HideMe) }}
                            </button>
                        </ActionForm>
                    }
                })}
            </Suspense>
            <h3>{t(Key::OptOut)}</h3>
            <p class="muted small">{t(Key::OptOutHow)}</p>
            <ActionForm action=opt_out attr:class="confirm-form">
                <ConfirmAndSubmit name="opt-out" label=Key::OptOut pending=opt_out.pending().into() />
            </ActionForm>
            <h3>{t(Key::DeleteAccount)}</h3>
            <p class="muted small">{t(Key::DeleteAccountHow)}</p>
            <ActionForm action=delete attr:class="confirm-form">
                <ConfirmAndSubmit name="delete-account" label=Key::DeleteAccount pending=delete.pending().into() />
            </ActionForm>
        </section>
    }
    .into_any()
}

/// The inside of an irreversible action's form: a checkbox that must be ticked, then the
/// button (test ids `confirm-<name>` and `<name>`), which sends `confirmed=true`.
#[component]
fn ConfirmAndSubmit(name: &'static str, label: Key, pending: Signal<bool>) -> impl IntoView {
    let confirmed = RwSignal::new(false);
    view! {
        <label class="confirm">
            <input type="checkbox" data-testid=format!("confirm-{name}") on:change=move |ev| confirmed.set(event_target_checked(&ev)) />
            " " {t(Key::ConfirmIrreversible)}
        </label>
        <input type="hidden" name="confirmed" value="true" />
        <button type="submit" class="button-danger" data-testid=name disabled=move || !confirmed.get() || pending.get()>
            {t(label)}
        </button>
    }
}

#[component]
fn AccountsTable(list: Vec<MyAccount>, unlink: ServerAction<UnlinkMyAccount>) -> impl IntoView {
    let lang = use_i18n().lang;
    if list.is_empty() {
        return view! { <p class="muted">{t(Key::NoAccountsYet)}</p> }.into_any();
    }
    let rows = list
        .into_iter()
        .map(|account| {
            let since = account.linked_at;
            let name = account
                .display_name
                .clone()
                .unwrap_or_else(|| account.external_id.clone());
            let (kind, external_id) = (account.kind.clone(), account.external_id.clone());
            let action = if account.kind == "discord" {
                view! { <span class="muted small">{t(Key::SignInAccount)}</span> }.into_any()
            } else {
                view! {
                    <ActionForm action=unlink attr:class="inline-form">
                        <input type="hidden" name="kind" value=kind />
                        <input type="hidden" name="external_id" value=external_id />
                        <button type="submit" class="button-secondary" data-testid="unlink" disabled=move || unlink.pending().get()>
                            {t(Key::Unlink)}
                        </button>
                    </ActionForm>
                }
                .into_any()
            };
            view! {
                <tr data-kind=account.kind.clone() data-account=account.external_id.clone()>
                    <th scope="row">{kind_label(&account.kind)}</th>
                    <td class="wide" data-label=t(Key::ColAccount)>
                        {name}
                        <span class="muted small mono account-id">{account.external_id.clone()}</span>
                    </td>
                    <td class="wide" data-label=t(Key::ColLinkedBy)>{t(verified_key(&account.verified_by))}</td>
                    <td class="wide" data-label=t(Key::ColSince)>{move || lang.get().datetime(since)}</td>
                    <td class="wide">{action}</td>
                </tr>
            }
        })
        .collect_view();
    view! {
        <div class="table-wrap">
            <table class="data cards-on-mobile" data-testid="accounts">
                <thead>
                    <tr>
                        <th scope="col">{t(Key::ColPlatform)}</th>
                        <th scope="col">{t(Key::ColAccount)}</th>
                        <th scope="col">{t(Key::ColLinkedBy)}</th>
                        <th scope="col">{t(Key::ColSince)}</th>
                        <th scope="col"></th>
                    </tr>
                </thead>
                <tbody>{rows}</tbody>
            </table>
        </div>
    }
    .into_any()
}
