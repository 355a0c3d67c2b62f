//! `/admin/servers`, the console's game servers section. A list with each server's sources and
//! buttons (test the connection, edit, disable or enable, a new log token, delete), and the
//! form to add or edit one with every field of `guildhall servers add`. Each problem shows
//! next to its field; passwords and the SFTP key are write-only ("set", with "replace" and
//! "remove"); a connection test shows what RCON answered, the newest log files and the
//! exporter's figures, or exactly what failed, and an SFTP server's unknown host key for the
//! admin to confirm. This module holds the list and its cards; `form.rs` the form, `report.rs` what a
//! connection test found.

mod form;
mod report;

use crate::api::{
    DeleteGameServer, PinGameServerHostKey, RegenerateGameServerToken, SetGameServerEnabled,
    TestGameServer, get_game_servers,
};
use crate::components::{ErrorNotice, Loading, ZoneNote};
use crate::error::{AppError, Field};
use crate::i18n::{Key, t, use_i18n};
use crate::model::{GameServerSettings, LogAddress};
use form::{ServerForm, field_error};
use leptos::prelude::*;
use report::Report;

/// What the page shows once after a change: a log address (shown only now), or what a
/// delete did.
#[derive(Clone, Debug, PartialEq)]
pub(super) enum Outcome {
    LogAddress {
        name: String,
        address: LogAddress,
    },
    Deleted {
        name: String,
        erased_rows: Option<i64>,
    },
}

/// The section inside the console frame (`pages/admin.rs`, `AdminServersRoute`).
#[component]
pub fn ServersSection() -> impl IntoView {
    let version = RwSignal::new(0u32);
    let refresh = Callback::new(move |()| version.update(|v| *v += 1));
    let servers = Resource::new(move || version.get(), |_| get_game_servers());
    let adding = RwSignal::new(false);
    let outcome = RwSignal::new(None::<Outcome>);
    let on_outcome = Callback::new(move |shown: Outcome| {
        outcome.set(Some(shown));
        refresh.run(());
    });
    view! {
        <div class="admin-servers" data-testid="admin-servers">
            <div class="page-head">
                <div>
                    <p class="lead">{t(Key::ServersAdminLead)}</p>
                </div>
                <button
                    type="button"
                    data-testid="add-server"
                    on:click=move |_| adding.update(|a| *a = !*a)
                    aria-expanded=move || adding.get().to_string()
                >
                    {t(Key::ServersAdd)}
                </button>
            </div>
            {move || outcome.get().map(|shown| view! { <OutcomeNotice shown /> })}
            {move || {
                adding
                    .get()
                    .then(|| {
                        view! {
                            <div class="card">
                                <h2>{t(Key::ServersAddTitle)}</h2>
                                <ServerForm
                                    server=None
                                    on_saved=Callback::new(move |shown: Option<Outcome>| {
                                        adding.set(false);
                                        match shown {
                                            Some(shown) => on_outcome.run(shown),
                                            None => refresh.run(()),
                                        }
                                    })
                                    on_cancel=Callback::new(move |()| adding.set(false))
                                />
                            </div>
                        }
                    })
            }}
            <Transition fallback=Loading>
                {move || Suspend::new(async move {
                    match servers.await {
                        Err(error) => view! { <ErrorNotice error /> }.into_any(),
                        Ok(section) if section.servers.is_empty() => {
                            view! {
                                <ZoneNote zone=section.zone />
                                <p class="muted" data-testid="no-servers">{t(Key::ServersNone)}</p>
                            }
                                .into_any()
                        }
                        Ok(section) => {
                            view! {
                                <ZoneNote zone=section.zone />
                                {section
                                    .servers
                                    .into_iter()
                                    .map(|server| {
                                        view! { <ServerCard server refresh on_outcome /> }
                                    })
                                    .collect_view()}
                            }
                                .into_any()
                        }
                    }
                })}
            </Transition>
        </div>
    }
}

#[component]
fn OutcomeNotice(shown: Outcome) -> impl IntoView {
    let lang = use_i18n().lang;
    match shown {
        Outcome::LogAddress { name, address } => view! {
            <div class="notice success" data-testid="log-address" role="status">
                <p>
                    <strong>{name}</strong>
                    " · "
                    {t(Key::ServersLogAddressOnce)}
                </p>
                <p class="small">{t(Key::ServersLogUrl)}</p>
                <code class="copyable" data-testid="log-url">{address.url}</code>
                <p class="small">{t(Key::ServersLogCommand)}</p>
                <code class="copyable" data-testid="log-command">{address.command}</code>
            </div>
        }
        .into_any(),
        Outcome::Deleted { name, erased_rows } => {
            let text = move || match erased_rows {
                Some(rows) => Key::ServersDeletedErased.fill(
                    lang.get(),
                    &[("name", &name), ("rows", &lang.get().int(rows))],
                ),
                None => Key::ServersDeletedKept.fill(lang.get(), &[("name", &name)]),
            };
            view! {
                <div class="notice success" data-testid="deleted" role="status">
                    {text}
                </div>
            }
            .into_any()
        }
    }
}

/// Which panel of a server card is open.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Panel {
    None,
    Edit,
    Delete,
}

#[component]
fn ServerCard(
    server: GameServerSettings,
    refresh: Callback<()>,
    on_outcome: Callback<Outcome>,
) -> impl IntoView {
    let server_id = server.server_id;
    let panel = RwSignal::new(Panel::None);
    let test = ServerAction::<TestGameServer>::new();
    let enable = ServerAction::<SetGameServerEnabled>::new();
    let token = ServerAction::<RegenerateGameServerToken>::new();
    let pin = ServerAction::<PinGameServerHostKey>::new();
    let name = server.name.clone();
    Effect::new(move |_| {
        if let Some(Ok(())) = enable.value().get() {
            refresh.run(());
        }
    });
    let token_name = name.clone();
    Effect::new(move |_| {
        if let Some(Ok(address)) = token.value().get() {
            on_outcome.run(Outcome::LogAddress {
                name: token_name.clone(),
                address,
            });
        }
    });
    Effect::new(move |_| {
        if let Some(Ok(())) = pin.value().get() {
            // Test again with the pinned key.
            test.dispatch(TestGameServer { server_id });
            refresh.run(());
        }
    });
    let enabled = server.enabled;
    let state_class = if enabled {
        "badge badge-ok"
    } else {
        "badge badge-off"
    };
    let sends_http = server.log_source == "http" || matches!(server.game.as_str(), "cs2" | "csgo");
    let failed = move || {
        let error = match (enable.value().get(), token.value().get(), pin.value().get()) {
            (Some(Err(e)), _, _) | (_, Some(Err(e)), _) | (_, _, Some(Err(e))) => Some(e),
            _ => None,
        };
        error.map(|error| view! { <ErrorNotice error /> })
    };
    let trust = Callback::new(move |fingerprint: String| {
        pin.dispatch(PinGameServerHostKey {
            server_id,
            fingerprint,
        });
    });
    let edit_server = server.clone();
    let delete_name = server.name.clone();
    view! {
        <article
            class="card server-card"
            data-testid="server-card"
            data-server=name.clone()
            data-enabled=enabled.to_string()
        >
            <header class="server-head">
                <h2>{name.clone()}</h2>
                <span class="badge">{game_label(&server.game)}</span>
                <span class=state_class>
                    {t(if enabled { Key::ServersEnabled } else { Key::ServersDisabled })}
                </span>
            </header>
            <ServerFacts server=server.clone() />
            <div class="server-actions">
                <button
                    type="button"
                    data-testid="test-server"
                    disabled=move || test.pending().get()
                    on:click=move |_| {
                        test.dispatch(TestGameServer { server_id });
                    }
                >
                    {move || t(if test.pending().get() { Key::ServersTesting } else { Key::ServersTest })()}
                </button>
                <button
                    type="button"
                    class="button-secondary"
                    data-testid="edit-server"
                    aria-expanded=move || (panel.get() == Panel::Edit).to_string()
                    on:click=move |_| panel.update(|p| *p = if *p == Panel::Edit { Panel::None } else { Panel::Edit })
                >
                    {t(Key::ServersEdit)}
                </button>
                <button
                    type="button"
                    class="button-secondary"
                    data-testid="toggle-server"
                    on:click=move |_| {
                        enable.dispatch(SetGameServerEnabled { server_id, enabled: !enabled });
                    }
                >
                    {t(if enabled { Key::ServersDisable } else { Key::ServersEnable })}
                </button>
                {sends_http
                    .then(|| {
                        view! {
                            <button
                                type="button"
                                class="button-secondary"
                                data-testid="new-token"
                                on:click=move |_| {
                                    token.dispatch(RegenerateGameServerToken { server_id });
                                }
                            >
                                {t(Key::ServersNewToken)}
                            </button>
                        }
                    })}
                <button
                    type="button"
                    class="button-secondary button-danger-text"
                    data-testid="delete-server"
                    aria-expanded=move || (panel.get() == Panel::Delete).to_string()
                    on:click=move |_| panel.update(|p| *p = if *p == Panel::Delete { Panel::None } else { Panel::Delete })
                >
                    {t(Key::ServersDelete)}
                </button>
            </div>
            {failed}
            {move || match test.value().get() {
                Some(Ok(report)) => view! { <Report report trust=Some(trust) /> }.into_any(),
                Some(Err(error)) => view! { <ErrorNotice error /> }.into_any(),
                None => ().into_any(),
            }}
            {move || match panel.get() {
                Panel::Edit => {
                    view! {
                        <ServerForm
                            server=Some(edit_server.clone())
                            on_saved=Callback::new(move |_| {
                                panel.set(Panel::None);
                                refresh.run(());
                            })
                            on_cancel=Callback::new(move |()| panel.set(Panel::None))
                        />
                    }
                        .into_any()
                }
                Panel::Delete => {
                    view! {
                        <DeletePanel
                            server_id
                            name=delete_name.clone()
                            on_deleted=on_outcome
                            on_cancel=Callback::new(move |()| panel.set(Panel::None))
                        />
                    }
                        .into_any()
                }
                Panel::None => ().into_any(),
            }}
        </article>
    }
}

fn game_label(game: &str) -> &'static str {
    match game {
        "cs2" => "Counter-Strike 2",
        "csgo" => "CS:GO",
        "tf2" => "Team Fortress 2",
        "minecraft" => "Minecraft",
        _ => "Source",
    }
}

/// A server's settings at a glance, passwords only as set or not.
#[component]
fn ServerFacts(server: GameServerSettings) -> impl IntoView {
    let set = |is_set: bool| {
        t(if is_set {
            Key::ServersSecretSet
        } else {
            Key::ServersSecretNotSet
        })
    };
    // No port stored: RCON is off for this server.
    let rcon = server
        .rcon_port
        .map_or_else(|| "–".to_owned(), |port| format!("{}:{port}", server.host));
    let logs = match server.log_source.as_str() {
        "sftp" => format!(
            "SFTP {}@{}:{} {}",
            server.sftp_user.clone().unwrap_or_default(),
            server.host,
            server.sftp_port,
            server.log_path.clone().unwrap_or_default()
        ),
        "file" => server.log_path.clone().unwrap_or_default(),
        "http" => "HTTP".to_owned(),
        _ => "-".to_owned(),
    };
    let sources = server
        .sources
        .iter()
        .map(|source| {
            let ok = source.last_error_at.is_none()
                || source
                    .last_success_at
                    .is_some_and(|s| Some(s) > source.last_error_at);
            let class = if ok {
                "badge badge-ok"
            } else {
                "badge badge-error"
            };
            let title = source.last_error.clone().unwrap_or_default();
            view! { <span class=class title=title>{source.source.clone()}</span> }
        })
        .collect_view();
    view! {
        <dl class="facts">
            <div>
                <dt>{t(Key::ServersFieldRcon)}</dt>
                <dd class="mono">{rcon}</dd>
            </div>
            <div>
                <dt>{t(Key::ServersFieldRconPassword)}</dt>
                <dd data-testid="rcon-password-state">{set(server.rcon_password_set)}</dd>
            </div>
            <div>
                <dt>{t(Key::ServersFieldLogSource)}</dt>
                <dd class="mono">{logs}</dd>
            </div>
            {(server.log_source == "sftp")
                .then(|| {
                    view! {
                        <div>
                            <dt>{t(Key::ServersFieldSftpPassword)}</dt>
                            <dd data-testid="sftp-password-state">{set(server.sftp_password_set)}</dd>
                        </div>
                        <div>
                            <dt>{t(Key::ServersFieldSftpKey)}</dt>
                            <dd data-testid="sftp-key-state">{set(server.sftp_key_set)}</dd>
                        </div>
                        <div>
                            <dt>{t(Key::ServersFieldSftpHostKey)}</dt>
                            <dd class="mono small" data-testid="pinned-host-key">
                                {server.sftp_host_key.clone().unwrap_or_else(|| "-".into())}
                            </dd>
                        </div>
                    }
                })}
            <div>
                <dt>{t(Key::ServersFieldPrometheusUrl)}</dt>
                <dd class="mono">{server.prometheus_url.clone().unwrap_or_else(|| "-".into())}</dd>
            </div>
            <div>
                <dt>{t(Key::ServersSources)}</dt>
                <dd class="badges">{sources}</dd>
            </div>
        </dl>
    }
}

/// Deleting a server: its history stays, or is erased after typing the server's name.
#[component]
fn DeletePanel(
    server_id: i64,
    name: String,
    on_deleted: Callback<Outcome>,
    on_cancel: Callback<()>,
) -> impl IntoView {
    let delete = ServerAction::<DeleteGameServer>::new();
    let erase = RwSignal::new(false);
    let confirmation = RwSignal::new(String::new());
    Effect::new(move |_| {
        if let Some(Ok(deleted)) = delete.value().get() {
            on_deleted.run(Outcome::Deleted {
                name: deleted.name,
                erased_rows: deleted.erased_rows,
            });
        }
    });
    let error = RwSignal::new(None::<AppError>);
    Effect::new(move |_| {
        if let Some(Err(e)) = delete.value().get() {
            error.set(Some(e));
        }
    });
    let message = field_error(error, Field::Confirmation);
    let lang = use_i18n().lang;
    let prompt_name = name;
    let prompt = move || Key::ServersEraseType.fill(lang.get(), &[("name", &prompt_name)]);
    view! {
        <div class="delete-panel" data-testid="delete-panel">
            <fieldset>
                <legend>{t(Key::ServersDeleteTitle)}</legend>
                <label class="choice">
                    <input
                        type="radio"
                        name=format!("history-{server_id}")
                        prop:checked=move || !erase.get()
                        on:change=move |_| erase.set(false)
                    />
                    {t(Key::ServersDeleteKeep)}
                </label>
                <label class="choice">
                    <input
                        type="radio"
                        name=format!("history-{server_id}")
                        data-testid="erase-history"
                        prop:checked=move || erase.get()
                        on:change=move |_| erase.set(true)
                    />
                    {t(Key::ServersDeleteErase)}
                </label>
            </fieldset>
            <Show when=move || erase.get()>
                <div class="field">
                    <label for=format!("erase-confirm-{server_id}")>{prompt.clone()}</label>
                    <input
                        id=format!("erase-confirm-{server_id}")
                        type="text"
                        data-testid="erase-confirmation"
                        autocomplete="off"
                        prop:value=move || confirmation.get()
                        on:input=move |ev| confirmation.set(event_target_value(&ev))
                    />
                    {move || message().map(|text| view! { <small class="field-error" data-testid="field-error">{text}</small> })}
                </div>
            </Show>
            {move || match error.get() {
                Some(AppError::Invalid { field: Some(Field::Confirmation), .. }) | None => None,
                Some(other) => Some(view! { <ErrorNotice error=other /> }),
            }}
            <div class="form-actions">
                <button
                    type="button"
                    class="button-danger"
                    data-testid="confirm-delete"
                    disabled=move || delete.pending().get()
                    on:click=move |_| {
                        delete.dispatch(DeleteGameServer {
                            server_id,
                            erase_history: erase.get_untracked(),
                            confirmation: confirmation.get_untracked(),
                        });
                    }
                >
                    {move || t(if erase.get() { Key::ServersDeleteAndErase } else { Key::ServersDelete })()}
                </button>
                <button type="button" class="button-link" on:click=move |_| on_cancel.run(())>
                    {t(Key::Cancel)}
                </button>
            </div>
        </div>
    }
}
