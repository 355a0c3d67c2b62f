//! The form to add or edit a game server: every field of `guildhall servers add`, each
//! problem next to its field, secrets write-only.

use super::Outcome;
use super::report::Report;
use crate::api::{CreateGameServer, TestGameServerForm, UpdateGameServer};
use crate::components::ErrorNotice;
use crate::error::{AppError, Field};
use crate::i18n::{Key, problem_text, t, use_i18n};
use crate::model::{GameServerForm, GameServerSettings, SecretAction, SecretInput};
use leptos::prelude::*;

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
pub(super) fn field_error(
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
pub(super) fn ServerForm(
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
