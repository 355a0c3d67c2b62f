//! The member's accounts on `/me`: Discord, Steam and Minecraft accounts Guildhall counts
//! as them, a one-time code to link a game account from game chat, and unlinking.

use crate::api::{NewLinkCode, UnlinkMyAccount, get_my_accounts};
use crate::components::{ErrorNotice, Loading};
use crate::i18n::{Key, t, use_i18n};
use crate::model::MyAccount;
use leptos::prelude::*;

/// The platform of an account kind, as people write it (also used by the identity editor).
pub(super) fn kind_label(kind: &str) -> &'static str {
    match kind {
        "discord" => "Discord",
        "steam" => "Steam",
        "minecraft" => "Minecraft",
        _ => "?",
    }
}

fn verified_key(how: &str) -> Key {
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
    let accounts = Resource::new(move || unlink.version().get(), |_| get_my_accounts());
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
    let unlink_error = move || match unlink.value().get()? {
        Err(error) => Some(view! { <ErrorNotice error /> }),
        Ok(()) => None,
    };
    view! {
        <section class="card my-accounts" data-testid="my-accounts">
            <h2>{t(Key::MyAccountsTitle)}</h2>
            <p class="muted">{t(Key::MyAccountsLead)}</p>
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
            <p class="export-my-data">
                <a href="/me/export.json" download="guildhall-my-data.json" rel="external" class="button-secondary" data-testid="export-my-data">
                    {t(Key::ExportMyData)}
                </a>
            </p>
        </section>
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
