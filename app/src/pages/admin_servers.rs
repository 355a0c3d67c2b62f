//! `/admin/servers`, the console's game servers section. A list with each server's sources and
//! buttons (test the connection, edit, disable or enable, a new log token, delete), and the
//! form to add or edit one with every field of `guildhall servers add`. Each problem shows
//! next to its field; passwords and the SFTP key are write-only ("set", with "replace" and
//! "remove"); a
//! connection test shows what RCON answered, the newest log files and the exporter's
//! figures, or exactly what failed, and an SFTP server's unknown host key for the admin to
//! confirm.

use crate::api::{
    CreateGameServer, DeleteGameServer, PinGameServerHostKey, RegenerateGameServerToken,
    SetGameServerEnabled, TestGameServer, TestGameServerForm, UpdateGameServer, get_game_servers,
};
use crate::components::{ErrorNotice, Loading, ZoneNote};
use crate::error::{AppError, Field};
use crate::i18n::{Key, Lang, problem_text, t, use_i18n};
use crate::model::{
    ConnectionReport, GameServerForm, GameServerSettings, LogAddress, LogsCheck, LogsProblem,
    MetricsCheck, MetricsProblem, RconCheck, RconProblem, SecretAction, SecretInput,
};
use leptos::prelude::*;

/// What the page shows once after a change: a log address (shown only now), or what a
/// delete did.
#[derive(Clone, Debug, PartialEq)]
enum Outcome {
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

/// The form's fields as signals.
#[derive(Clone, Copy)]
struct FormFields {
    name: RwSignal<String>,
    game: RwSignal<String>,
    host: RwSignal<String>,
    rcon_port: RwSignal<String>,
    rcon_action: RwSignal<SecretAction>,
    rcon_password: RwSignal<String>,
    poll_interval: RwSignal<String>,
    log_source: RwSignal<String>,
    log_path: RwSignal<String>,
    sftp_port: RwSignal<String>,
    sftp_user: RwSignal<String>,
    sftp_action: RwSignal<SecretAction>,
    sftp_password: RwSignal<String>,
    sftp_key_action: RwSignal<SecretAction>,
    sftp_key: RwSignal<String>,
    sftp_key_passphrase: RwSignal<String>,
    sftp_host_key: RwSignal<String>,
    log_timezone: RwSignal<String>,
    prometheus_url: RwSignal<String>,
    metrics_interval: RwSignal<String>,
    capacity: RwSignal<String>,
}

impl FormFields {
    fn new(form: GameServerForm) -> Self {
        Self {
            name: RwSignal::new(form.name),
            game: RwSignal::new(if form.game.is_empty() {
                "cs2".into()
            } else {
                form.game
            }),
            host: RwSignal::new(form.host),
            rcon_port: RwSignal::new(form.rcon_port),
            rcon_action: RwSignal::new(SecretAction::Keep),
            rcon_password: RwSignal::new(String::new()),
            poll_interval: RwSignal::new(if form.poll_interval_secs.is_empty() {
                "60".into()
            } else {
                form.poll_interval_secs
            }),
            log_source: RwSignal::new(if form.log_source.is_empty() {
                "none".into()
            } else {
                form.log_source
            }),
            log_path: RwSignal::new(form.log_path),
            sftp_port: RwSignal::new(if form.sftp_port.is_empty() {
                "22".into()
            } else {
                form.sftp_port
            }),
            sftp_user: RwSignal::new(form.sftp_user),
            sftp_action: RwSignal::new(SecretAction::Keep),
            sftp_password: RwSignal::new(String::new()),
            sftp_key_action: RwSignal::new(SecretAction::Keep),
            sftp_key: RwSignal::new(String::new()),
            sftp_key_passphrase: RwSignal::new(String::new()),
            sftp_host_key: RwSignal::new(form.sftp_host_key),
            log_timezone: RwSignal::new(form.log_timezone),
            prometheus_url: RwSignal::new(form.prometheus_url),
            metrics_interval: RwSignal::new(if form.metrics_interval_secs.is_empty() {
                "30".into()
            } else {
                form.metrics_interval_secs
            }),
            capacity: RwSignal::new(form.capacity),
        }
    }

    /// The form as typed, to send.
    fn form(&self) -> GameServerForm {
        let secret = |action: RwSignal<SecretAction>, value: RwSignal<String>| SecretInput {
            action: action.get_untracked(),
            value: value.get_untracked(),
        };
        GameServerForm {
            name: self.name.get_untracked(),
            game: self.game.get_untracked(),
            host: self.host.get_untracked(),
            rcon_port: self.rcon_port.get_untracked(),
            rcon_password: secret(self.rcon_action, self.rcon_password),
            poll_interval_secs: self.poll_interval.get_untracked(),
            log_source: self.log_source.get_untracked(),
            log_path: self.log_path.get_untracked(),
            sftp_port: self.sftp_port.get_untracked(),
            sftp_user: self.sftp_user.get_untracked(),
            sftp_password: secret(self.sftp_action, self.sftp_password),
            sftp_key: secret(self.sftp_key_action, self.sftp_key),
            sftp_key_passphrase: self.sftp_key_passphrase.get_untracked(),
            sftp_host_key: self.sftp_host_key.get_untracked(),
            log_timezone: self.log_timezone.get_untracked(),
            prometheus_url: self.prometheus_url.get_untracked(),
            metrics_interval_secs: self.metrics_interval.get_untracked(),
            capacity: self.capacity.get_untracked(),
        }
    }
}

/// The error of the last save or test, when it concerns `field`, in the current language.
fn field_error(
    error: RwSignal<Option<AppError>>,
    field: Field,
) -> impl Fn() -> Option<String> + Send + Sync + Copy + 'static {
    let lang = use_i18n().lang;
    move || {
        error.with(|error| {
            error
                .as_ref()
                .and_then(|error| error.problem_of(field))
                .map(|problem| problem_text(problem, lang.get()))
        })
    }
}

/// One labelled text field with its hint and its error.
#[component]
fn TextField(
    label: Key,
    value: RwSignal<String>,
    error: RwSignal<Option<AppError>>,
    field: Field,
    #[prop(optional)] hint: Option<Key>,
    #[prop(optional, into)] placeholder: String,
    #[prop(default = "text")] kind: &'static str,
    #[prop(optional)] inputmode: Option<&'static str>,
) -> impl IntoView {
    let id = format!("server-{}", field.name());
    let error_id = format!("{id}-error");
    let message = field_error(error, field);
    let described = error_id.clone();
    view! {
        <div class="field" data-field=field.name()>
            <label for=id.clone()>{t(label)}</label>
            <input
                id=id
                type=kind
                name=field.name()
                inputmode=inputmode
                placeholder=placeholder
                prop:value=move || value.get()
                on:input=move |ev| value.set(event_target_value(&ev))
                aria-invalid=move || message().is_some().to_string()
                aria-describedby=move || message().is_some().then(|| described.clone())
            />
            {hint.map(|hint| view! { <small class="hint">{t(hint)}</small> })}
            {move || {
                message()
                    .map(|text| {
                        view! {
                            <small class="field-error" id=error_id.clone() data-testid="field-error">
                                {text}
                            </small>
                        }
                    })
            }}
        </div>
    }
}

/// A write-only secret: "set" with "replace" and "remove", or a password box.
#[component]
fn SecretField(
    label: Key,
    is_set: bool,
    action: RwSignal<SecretAction>,
    value: RwSignal<String>,
    error: RwSignal<Option<AppError>>,
    field: Field,
    /// A pasted private key: a text area instead of a password box.
    #[prop(optional)]
    multiline: bool,
    #[prop(optional)] hint: Option<Key>,
) -> impl IntoView {
    let id = format!("server-{}", field.name());
    let message = field_error(error, field);
    let input_id = id.clone();
    let typed = move |ev: leptos::ev::Event| {
        let typed = event_target_value(&ev);
        if !is_set {
            action.set(if typed.is_empty() {
                SecretAction::Keep
            } else {
                SecretAction::Replace
            });
        }
        value.set(typed);
    };
    let input = move || {
        if multiline {
            view! {
                <textarea
                    id=input_id.clone()
                    class="mono"
                    name=field.name()
                    rows="6"
                    autocomplete="off"
                    spellcheck="false"
                    prop:value=move || value.get()
                    on:input=typed
                    aria-invalid=move || message().is_some().to_string()
                ></textarea>
            }
            .into_any()
        } else {
            view! {
                <input
                    id=input_id.clone()
                    type="password"
                    name=field.name()
                    autocomplete="new-password"
                    prop:value=move || value.get()
                    on:input=typed
                    aria-invalid=move || message().is_some().to_string()
                />
            }
            .into_any()
        }
    };
    view! {
        <div class="field secret" data-field=field.name()>
            <label for=id>{t(label)}</label>
            {move || {
                if !is_set {
                    return input().into_any();
                }
                match action.get() {
                    SecretAction::Keep => {
                        view! {
                            <div class="secret-state">
                                <span data-testid="secret-set">{t(Key::ServersSecretSet)}</span>
                                <button
                                    type="button"
                                    class="button-link"
                                    data-testid="secret-replace"
                                    on:click=move |_| action.set(SecretAction::Replace)
                                >
                                    {t(Key::ServersSecretReplace)}
                                </button>
                                <button
                                    type="button"
                                    class="button-link"
                                    data-testid="secret-remove"
                                    on:click=move |_| action.set(SecretAction::Clear)
                                >
                                    {t(Key::ServersSecretRemove)}
                                </button>
                            </div>
                        }
                            .into_any()
                    }
                    SecretAction::Replace => {
                        view! {
                            <div class="secret-state">
                                {input()}
                                <button
                                    type="button"
                                    class="button-link"
                                    on:click=move |_| {
                                        value.set(String::new());
                                        action.set(SecretAction::Keep);
                                    }
                                >
                                    {t(Key::ServersSecretKeep)}
                                </button>
                            </div>
                        }
                            .into_any()
                    }
                    SecretAction::Clear => {
                        view! {
                            <div class="secret-state">
                                <span>{t(Key::ServersSecretWillGo)}</span>
                                <button
                                    type="button"
                                    class="button-link"
                                    on:click=move |_| action.set(SecretAction::Keep)
                                >
                                    {t(Key::ServersSecretKeep)}
                                </button>
                            </div>
                        }
                            .into_any()
                    }
                }
            }}
            {hint.map(|hint| view! { <small class="hint">{t(hint)}</small> })}
            {move || message().map(|text| view! { <small class="field-error" data-testid="field-error">{text}</small> })}
        </div>
    }
}

/// Add (`server` = None) or edit a server; "test connection" tries the form as typed.
#[component]
fn ServerForm(
    server: Option<GameServerSettings>,
    on_saved: Callback<Option<Outcome>>,
    on_cancel: Callback<()>,
) -> impl IntoView {
    let server_id = server.as_ref().map(|s| s.server_id);
    let rcon_set = server.as_ref().is_some_and(|s| s.rcon_password_set);
    let sftp_set = server.as_ref().is_some_and(|s| s.sftp_password_set);
    let sftp_key_set = server.as_ref().is_some_and(|s| s.sftp_key_set);
    let fields = FormFields::new(
        server
            .as_ref()
            .map(GameServerSettings::form)
            .unwrap_or_default(),
    );
    let error = RwSignal::new(None::<AppError>);
    let create = ServerAction::<CreateGameServer>::new();
    let update = ServerAction::<UpdateGameServer>::new();
    let test = ServerAction::<TestGameServerForm>::new();
    Effect::new(move |_| {
        let result = match (create.value().get(), update.value().get()) {
            (Some(result), _) => Some(result.map(|saved| {
                saved.log_address.map(|address| Outcome::LogAddress {
                    name: saved.name,
                    address,
                })
            })),
            (_, Some(result)) => Some(result.map(|_| None)),
            _ => None,
        };
        match result {
            Some(Ok(shown)) => {
                error.set(None);
                on_saved.run(shown);
            }
            Some(Err(e)) => error.set(Some(e)),
            None => {}
        }
    });
    Effect::new(move |_| match test.value().get() {
        Some(Err(e)) => error.set(Some(e)),
        Some(Ok(_)) => error.set(None),
        None => {}
    });
    let save = move |ev: leptos::ev::SubmitEvent| {
        ev.prevent_default();
        let form = fields.form();
        match server_id {
            None => {
                create.dispatch(CreateGameServer { form });
            }
            Some(server_id) => {
                update.dispatch(UpdateGameServer { server_id, form });
            }
        }
    };
    let trust = Callback::new(move |fingerprint: String| fields.sftp_host_key.set(fingerprint));
    // Errors about no field (or a server gone) show above the buttons.
    let general = move || match error.get() {
        Some(AppError::Invalid { field: Some(_), .. }) | None => None,
        Some(other) => Some(view! { <ErrorNotice error=other /> }),
    };
    let pending = move || create.pending().get() || update.pending().get();
    let sftp = move || fields.log_source.get() == "sftp";
    let has_folder = move || matches!(fields.log_source.get().as_str(), "file" | "sftp");
    let game_message = field_error(error, Field::Game);
    let source_message = field_error(error, Field::LogSource);
    let games = [
        ("cs2", "Counter-Strike 2"),
        ("csgo", "CS:GO"),
        ("tf2", "Team Fortress 2"),
        ("source", "Source"),
        ("minecraft", "Minecraft"),
    ];
    let sources = [
        ("none", Key::ServersLogsNone),
        ("http", Key::ServersLogsHttp),
        ("file", Key::ServersLogsFile),
        ("sftp", Key::ServersLogsSftp),
    ];
    view! {
        <form class="server-form" data-testid="server-form" on:submit=save>
            <fieldset>
                <legend>{t(Key::ServersGroupServer)}</legend>
                <div class="field-grid">
                    <TextField label=Key::ServersFieldName value=fields.name error field=Field::Name />
                    <div class="field" data-field="game">
                        <label for="server-game">{t(Key::ServersFieldGame)}</label>
                        <select
                            id="server-game"
                            name="game"
                            on:change=move |ev| fields.game.set(event_target_value(&ev))
                            prop:value=move || fields.game.get()
                        >
                            {games
                                .into_iter()
                                .map(|(value, label)| {
                                    view! {
                                        <option value=value selected=move || fields.game.get() == value>
                                            {label}
                                        </option>
                                    }
                                })
                                .collect_view()}
                        </select>
                        {move || game_message().map(|text| view! { <small class="field-error" data-testid="field-error">{text}</small> })}
                    </div>
                    <TextField
                        label=Key::ServersFieldHost
                        value=fields.host
                        error
                        field=Field::Host
                        hint=Key::ServersHintHost
                    />
                    <TextField
                        label=Key::ServersFieldCapacity
                        value=fields.capacity
                        error
                        field=Field::Capacity
                        hint=Key::ServersHintCapacity
                        inputmode="numeric"
                    />
                </div>
            </fieldset>
            <fieldset>
                <legend>{t(Key::ServersGroupRcon)}</legend>
                <div class="field-grid">
                    <TextField
                        label=Key::ServersFieldRconPort
                        value=fields.rcon_port
                        error
                        field=Field::RconPort
                        hint=Key::ServersHintRconPort
                        inputmode="numeric"
                    />
                    <SecretField
                        label=Key::ServersFieldRconPassword
                        is_set=rcon_set
                        action=fields.rcon_action
                        value=fields.rcon_password
                        error
                        field=Field::RconPassword
                    />
                    <TextField
                        label=Key::ServersFieldPollInterval
                        value=fields.poll_interval
                        error
                        field=Field::PollInterval
                        inputmode="numeric"
                    />
                </div>
            </fieldset>
            <fieldset>
                <legend>{t(Key::ServersGroupLogs)}</legend>
                <div class="field-grid">
                    <div class="field" data-field="log_source">
                        <label for="server-log_source">{t(Key::ServersFieldLogSource)}</label>
                        <select
                            id="server-log_source"
                            name="log_source"
                            on:change=move |ev| fields.log_source.set(event_target_value(&ev))
                            prop:value=move || fields.log_source.get()
                        >
                            {sources
                                .into_iter()
                                .map(|(value, label)| {
                                    view! {
                                        <option value=value selected=move || fields.log_source.get() == value>
                                            {t(label)}
                                        </option>
                                    }
                                })
                                .collect_view()}
                        </select>
                        {move || source_message().map(|text| view! { <small class="field-error" data-testid="field-error">{text}</small> })}
                    </div>
                    <Show when=has_folder>
                        <TextField
                            label=Key::ServersFieldLogPath
                            value=fields.log_path
                            error
                            field=Field::LogPath
                            hint=Key::ServersHintLogPath
                        />
                    </Show>
                    <TextField
                        label=Key::ServersFieldLogTimezone
                        value=fields.log_timezone
                        error
                        field=Field::LogTimezone
                        hint=Key::ServersHintLogTimezone
                        placeholder="Europe/Berlin"
                    />
                </div>
                <Show when=sftp>
                    <div class="field-grid">
                        <TextField
                            label=Key::ServersFieldSftpPort
                            value=fields.sftp_port
                            error
                            field=Field::SftpPort
                            inputmode="numeric"
                        />
                        <TextField
                            label=Key::ServersFieldSftpUser
                            value=fields.sftp_user
                            error
                            field=Field::SftpUser
                        />
                        <SecretField
                            label=Key::ServersFieldSftpPassword
                            is_set=sftp_set
                            action=fields.sftp_action
                            value=fields.sftp_password
                            error
                            field=Field::SftpPassword
                        />
                        <SecretField
                            label=Key::ServersFieldSftpKey
                            is_set=sftp_key_set
                            action=fields.sftp_key_action
                            value=fields.sftp_key
                            error
                            field=Field::SftpKey
                            multiline=true
                            hint=Key::ServersHintSftpKey
                        />
                        <Show when=move || fields.sftp_key_action.get() == SecretAction::Replace>
                            <TextField
                                label=Key::ServersFieldSftpKeyPassphrase
                                value=fields.sftp_key_passphrase
                                error
                                field=Field::SftpKeyPassphrase
                                hint=Key::ServersHintSftpKeyPassphrase
                                kind="password"
                            />
                        </Show>
                        <TextField
                            label=Key::ServersFieldSftpHostKey
                            value=fields.sftp_host_key
                            error
                            field=Field::SftpHostKey
                            hint=Key::ServersHintSftpHostKey
                            placeholder="SHA256:…"
                        />
                    </div>
                </Show>
            </fieldset>
            <fieldset>
                <legend>{t(Key::ServersGroupMetrics)}</legend>
                <div class="field-grid">
                    <TextField
                        label=Key::ServersFieldPrometheusUrl
                        value=fields.prometheus_url
                        error
                        field=Field::PrometheusUrl
                        placeholder="http://mc:9225/metrics"
                        inputmode="url"
                    />
                    <TextField
                        label=Key::ServersFieldMetricsInterval
                        value=fields.metrics_interval
                        error
                        field=Field::MetricsInterval
                        inputmode="numeric"
                    />
                </div>
            </fieldset>
            {general}
            <div class="form-actions">
                <button type="submit" data-testid="save-server" disabled=pending>
                    {t(Key::Save)}
                </button>
                <button
                    type="button"
                    class="button-secondary"
                    data-testid="test-form"
                    disabled=move || test.pending().get()
                    on:click=move |_| {
                        test.dispatch(TestGameServerForm { server_id, form: fields.form() });
                    }
                >
                    {move || t(if test.pending().get() { Key::ServersTesting } else { Key::ServersTest })()}
                </button>
                <button type="button" class="button-link" on:click=move |_| on_cancel.run(())>
                    {t(Key::Cancel)}
                </button>
            </div>
            {move || match test.value().get() {
                Some(Ok(report)) => view! { <Report report trust=Some(trust) /> }.into_any(),
                _ => ().into_any(),
            }}
        </form>
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

/// What a connection test found. `trust` confirms an unknown SFTP host key.
#[component]
fn Report(report: ConnectionReport, trust: Option<Callback<String>>) -> impl IntoView {
    let lang = use_i18n().lang;
    let rcon = match report.rcon {
        RconCheck::Answered {
            command,
            map,
            humans,
            bots,
            max_players,
            players,
        } => {
            let summary = move || {
                let l = lang.get();
                Key::ServersRconAnswered.fill(
                    l,
                    &[
                        ("command", &command),
                        ("map", map.as_deref().unwrap_or("-")),
                        ("humans", &l.int(i64::from(humans))),
                        ("bots", &l.int(i64::from(bots))),
                        (
                            "max",
                            &max_players.map_or_else(|| "-".to_owned(), |m| l.int(i64::from(m))),
                        ),
                    ],
                )
            };
            let names = (!players.is_empty()).then(|| {
                view! { <p class="small" data-testid="rcon-players">{players.join(", ")}</p> }
            });
            view! {
                <div class="check check-ok" data-testid="rcon-result" data-outcome="ok">
                    <strong>"RCON"</strong>
                    <p>{summary}</p>
                    {names}
                </div>
            }
            .into_any()
        }
        RconCheck::Failed { problem, address } => {
            let key = rcon_problem_key(problem);
            let text = move || key.fill(lang.get(), &[("address", &address)]);
            view! {
                <div
                    class="check check-failed"
                    data-testid="rcon-result"
                    data-outcome="failed"
                    data-problem=format!("{problem:?}")
                >
                    <strong>"RCON"</strong>
                    <p>{text}</p>
                </div>
            }
            .into_any()
        }
    };
    let logs = report.logs.map(|logs| logs_view(logs, trust, lang));
    let metrics = report.metrics.map(|metrics| match metrics {
        MetricsCheck::Scraped {
            players,
            tps,
            bad_lines,
        } => {
            let text = move || {
                let l = lang.get();
                Key::ServersMetricsScraped.fill(
                    l,
                    &[
                        (
                            "players",
                            &players.map_or_else(|| "-".into(), |p| decimal(l, p, 0)),
                        ),
                        ("tps", &tps.map_or_else(|| "-".into(), |v| decimal(l, v, 1))),
                        ("bad", &l.int(i64::from(bad_lines))),
                    ],
                )
            };
            view! {
                <div class="check check-ok" data-testid="metrics-result" data-outcome="ok">
                    <strong>"Prometheus"</strong>
                    <p>{text}</p>
                </div>
            }
            .into_any()
        }
        MetricsCheck::Failed { problem } => {
            let text = move || match problem {
                MetricsProblem::Status(code) => {
                    Key::ServersMetricsStatus.fill(lang.get(), &[("status", &code.to_string())])
                }
                MetricsProblem::Unreachable => {
                    Key::ServersMetricsUnreachable.text(lang.get()).to_owned()
                }
                MetricsProblem::Timeout => Key::ServersMetricsTimeout.text(lang.get()).to_owned(),
                MetricsProblem::Other => Key::ServersMetricsOther.text(lang.get()).to_owned(),
            };
            view! {
                <div class="check check-failed" data-testid="metrics-result" data-outcome="failed">
                    <strong>"Prometheus"</strong>
                    <p>{text}</p>
                </div>
            }
            .into_any()
        }
    });
    view! {
        <div class="connection-report" data-testid="connection-report" aria-live="polite">
            {rcon}
            {logs}
            {metrics}
        </div>
    }
}

fn rcon_problem_key(problem: RconProblem) -> Key {
    match problem {
        RconProblem::Refused => Key::ServersRconRefused,
        RconProblem::Unreachable => Key::ServersRconUnreachable,
        RconProblem::Timeout => Key::ServersRconTimeout,
        RconProblem::WrongPassword => Key::ServersRconWrongPassword,
        RconProblem::NotRcon => Key::ServersRconNotRcon,
        RconProblem::Closed => Key::ServersRconClosed,
        RconProblem::Unreadable => Key::ServersRconUnreadable,
        RconProblem::NotConfigured => Key::ServersRconNotConfigured,
        RconProblem::Other => Key::ServersRconOther,
    }
}

/// `value` with `digits` decimals, in the language's notation.
fn decimal(lang: Lang, value: f64, digits: usize) -> String {
    let text = format!("{value:.digits$}");
    match lang {
        Lang::De => text.replace('.', ","),
        Lang::En => text,
    }
}

fn logs_view(logs: LogsCheck, trust: Option<Callback<String>>, lang: RwSignal<Lang>) -> AnyView {
    match logs {
        LogsCheck::Http => view! {
            <div class="check" data-testid="logs-result" data-outcome="http">
                <strong>{t(Key::ServersGroupLogs)}</strong>
                <p>{t(Key::ServersLogsHttpNote)}</p>
            </div>
        }
        .into_any(),
        LogsCheck::Listed {
            folder,
            files,
            total,
        } => {
            let summary = move || {
                Key::ServersLogsListed.fill(
                    lang.get(),
                    &[
                        ("folder", &folder),
                        ("count", &lang.get().int(i64::from(total))),
                    ],
                )
            };
            let rows = files
                .into_iter()
                .map(|file| {
                    let modified = file
                        .modified
                        .map(|m| m.format("%Y-%m-%d %H:%M").to_string())
                        .unwrap_or_default();
                    view! {
                        <li>
                            <span class="mono">{file.name}</span>
                            <span class="muted small">{move || lang.get().int(file.bytes as i64)} " B · " {modified}</span>
                        </li>
                    }
                })
                .collect_view();
            view! {
                <div class="check check-ok" data-testid="logs-result" data-outcome="ok">
                    <strong>{t(Key::ServersGroupLogs)}</strong>
                    <p>{summary}</p>
                    <ul class="files" data-testid="log-files">{rows}</ul>
                </div>
            }
            .into_any()
        }
        LogsCheck::Failed {
            problem: LogsProblem::UnknownHostKey { fingerprint },
        } => {
            let confirm = trust.map(|trust| {
                let key = fingerprint.clone();
                view! {
                    <button type="button" data-testid="trust-host-key" on:click=move |_| trust.run(key.clone())>
                        {t(Key::ServersTrustKey)}
                    </button>
                }
            });
            view! {
                <div class="check check-warn" data-testid="logs-result" data-outcome="unknown-key">
                    <strong>{t(Key::ServersGroupLogs)}</strong>
                    <p>{t(Key::ServersUnknownHostKey)}</p>
                    <code class="copyable" data-testid="host-key-fingerprint">{fingerprint}</code>
                    <p class="small muted">{t(Key::ServersUnknownHostKeyHint)}</p>
                    {confirm}
                </div>
            }
            .into_any()
        }
        LogsCheck::Failed { problem } => {
            let text = move || match &problem {
                LogsProblem::HostKeyChanged { presented, pinned } => Key::ServersLogsKeyChanged
                    .fill(lang.get(), &[("presented", presented), ("pinned", pinned)]),
                other => logs_problem_key(other).text(lang.get()).to_owned(),
            };
            view! {
                <div class="check check-failed" data-testid="logs-result" data-outcome="failed">
                    <strong>{t(Key::ServersGroupLogs)}</strong>
                    <p>{text}</p>
                </div>
            }
            .into_any()
        }
    }
}

fn logs_problem_key(problem: &LogsProblem) -> Key {
    match problem {
        LogsProblem::Refused => Key::ServersLogsRefused,
        LogsProblem::Unreachable => Key::ServersLogsUnreachable,
        LogsProblem::Timeout => Key::ServersLogsTimeout,
        LogsProblem::LoginRefused => Key::ServersLogsLoginRefused,
        LogsProblem::NoPasswordLogin => Key::ServersLogsNoPassword,
        LogsProblem::KeyRefused => Key::ServersLogsKeyRefused,
        LogsProblem::NoKeyLogin => Key::ServersLogsNoKeyLogin,
        LogsProblem::NoSuchFolder => Key::ServersLogsNoFolder,
        LogsProblem::NotAFolder => Key::ServersLogsNotAFolder,
        LogsProblem::PermissionDenied => Key::ServersLogsDenied,
        LogsProblem::UnknownHostKey { .. }
        | LogsProblem::HostKeyChanged { .. }
        | LogsProblem::Other => Key::ServersLogsOther,
    }
}
