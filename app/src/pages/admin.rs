//! `/admin`: bot and collector status, tracked guilds with the AFK channel override, people
//! and their roles, the audit log, and the recent pipeline runs.

use super::admin_identities::IdentityEditor;
use crate::api::{
    ExcludeChannel, IncludeChannel, MarkAfkChannel, SetUserRole, UnmarkAfkChannel,
    get_admin_overview,
};
use crate::components::{ErrorNotice, Loading, error_key, error_problem, problem_detail};
use crate::i18n::{Key, t, use_i18n};
use crate::model::{
    AdminOverview, AuditAction, AuditEntry, CollectorStatus, GuildSettings, MarkedAfkChannel,
    PipelineRun, RejectedRecords, Role, UserRole,
};
use leptos::prelude::*;
use leptos_meta::Title;

#[component]
pub fn AdminPage() -> impl IntoView {
    let mark = ServerAction::<MarkAfkChannel>::new();
    let unmark = ServerAction::<UnmarkAfkChannel>::new();
    let set_role = ServerAction::<SetUserRole>::new();
    let exclude = ServerAction::<ExcludeChannel>::new();
    let include = ServerAction::<IncludeChannel>::new();
    provide_context(ExclusionActions { exclude, include });
    // Which guild was saved last; kept here because the rows are rebuilt after each save.
    provide_context(LastSaved(RwSignal::new(None)));
    provide_context(AfkActions { mark, unmark });
    provide_context(set_role);
    // Reload after every save so the page shows what the server stored.
    let overview = Resource::new(
        move || {
            (
                mark.version().get(),
                unmark.version().get(),
                set_role.version().get(),
                exclude.version().get(),
                include.version().get(),
            )
        },
        |_| get_admin_overview(),
    );
    view! {
        <Title text=t(Key::AdminTitle) />
        <section class="page admin" data-testid="admin">
            <h1>{t(Key::AdminTitle)}</h1>
            <Transition fallback=Loading>
                {move || Suspend::new(async move {
                    match overview.await {
                        Err(error) => view! { <ErrorNotice error /> }.into_any(),
                        Ok(overview) => view! { <AdminSections overview /> }.into_any(),
                    }
                })}
            </Transition>
            // Their own resources and actions: not rebuilt each time the overview reloads
            // (rebuilt inside it, the editor's review was fetched anew with every save, and
            // under load the saved change then did not always reach the lists).
            {view! { <IdentityEditor /> }.into_any()}
            <super::admin_discord::DiscordSettings />
        </section>
    }
}

/// The guild whose AFK channels were changed last, for the confirmation next to its form.
#[derive(Clone, Copy)]
struct LastSaved(RwSignal<Option<i64>>);

/// The actions that exclude channels from recording and include them again.
#[derive(Clone, Copy)]
struct ExclusionActions {
    exclude: ServerAction<ExcludeChannel>,
    include: ServerAction<IncludeChannel>,
}

/// The actions that mark and unmark AFK channels.
#[derive(Clone, Copy)]
struct AfkActions {
    mark: ServerAction<MarkAfkChannel>,
    unmark: ServerAction<UnmarkAfkChannel>,
}

#[component]
fn AdminSections(overview: AdminOverview) -> impl IntoView {
    let AdminOverview {
        bot_enabled,
        collectors,
        guilds,
        recent_runs,
        users,
        audit_log,
        rejected,
        spool_backlog,
    } = overview;
    let bot = if bot_enabled {
        view! {
            <p class="status status-ok" data-testid="bot-status" data-bot="on">
                {t(Key::BotOn)}
            </p>
        }
    } else {
        view! {
            <p class="status status-off" data-testid="bot-status" data-bot="off">
                {t(Key::BotOff)}
            </p>
        }
    };
    view! {
        <div class="card">
            <h2>{t(Key::BotTitle)}</h2>
            {bot}
        </div>
        <div class="card">
            <h2>{t(Key::CollectorsTitle)}</h2>
            <Collectors collectors />
            <Backlog backlog=spool_backlog />
        </div>
        <div class="card">
            <h2>{t(Key::RejectedTitle)}</h2>
            <Rejected rejected />
        </div>
        <div class="card">
            <h2>{t(Key::GuildsTitle)}</h2>
            <Guilds guilds=guilds.clone() />
        </div>
        <div class="card">
            <h2>{t(Key::ExcludedTitle)}</h2>
            <ExcludedChannels guilds />
        </div>
        <div class="card">
            <h2>{t(Key::UsersTitle)}</h2>
            <p class="muted small">{t(Key::UsersLead)}</p>
            <Users users />
        </div>
        <div class="card">
            <h2>{t(Key::AuditTitle)}</h2>
            <AuditLog entries=audit_log />
        </div>
        <div class="card">
            <h2>{t(Key::RunsTitle)}</h2>
            <Runs runs=recent_runs />
        </div>
    }
}

/// Records waiting in the spool while the database is (or was) unreachable.
#[component]
fn Backlog(backlog: Vec<(String, u64)>) -> impl IntoView {
    let lang = use_i18n().lang;
    if backlog.is_empty() {
        return view! {
            <p class="muted small" data-testid="backlog">
                {t(Key::NoBacklog)}
            </p>
        }
        .into_any();
    }
    let items = backlog
        .into_iter()
        .map(|(source, records)| {
            let key = source.clone();
            view! {
                <li data-source=key>
                    <span class="mono">{source}</span>
                    ": "
                    {move || lang.get().int(records as i64)}
                </li>
            }
        })
        .collect_view();
    view! {
        <div class="notice notice-error" data-testid="backlog">
            <strong>{t(Key::BacklogTitle)}</strong>
            <ul class="plain-list">{items}</ul>
        </div>
    }
    .into_any()
}

/// Records the database refused, per source: kept, never lost, shown here.
#[component]
fn Rejected(rejected: Vec<RejectedRecords>) -> impl IntoView {
    let lang = use_i18n().lang;
    if rejected.is_empty() {
        return view! {
            <p class="muted" data-testid="rejected-none">
                {t(Key::NoRejected)}
            </p>
        }
        .into_any();
    }
    let rows = rejected
        .into_iter()
        .map(|source| {
            let at = source.last_at;
            let count = source.count;
            let name = source.source;
            let key = name.clone();
            view! {
                <tr data-source=key>
                    <th scope="row">{name}</th>
                    <td class="num">{move || lang.get().int(count)}</td>
                    <td>{move || lang.get().datetime(at)}</td>
                    <td class="error-text">{source.last_error}</td>
                </tr>
            }
        })
        .collect_view();
    view! {
        <p class="muted small">{t(Key::RejectedLead)}</p>
        <div class="table-wrap">
            <table class="data stack-on-mobile" data-testid="rejected-table">
                <thead>
                    <tr>
                        <th scope="col">{t(Key::ColSource)}</th>
                        <th scope="col" class="num">{t(Key::ColRecords)}</th>
                        <th scope="col">{t(Key::ColLast)}</th>
                        <th scope="col">{t(Key::ColLastError)}</th>
                    </tr>
                </thead>
                <tbody>{rows}</tbody>
            </table>
        </div>
    }
    .into_any()
}

fn role_key(role: Role) -> Key {
    match role {
        Role::Member => Key::RoleMember,
        Role::Leader => Key::RoleLeader,
        Role::Admin => Key::RoleAdmin,
    }
}

/// Everyone who has signed in, each with a role form. The form posts to the server function
/// without JavaScript too.
#[component]
fn Users(users: Vec<UserRole>) -> impl IntoView {
    let set_role = expect_context::<ServerAction<SetUserRole>>();
    let lang = use_i18n().lang;
    if users.is_empty() {
        return view! { <p class="muted">{t(Key::NoUsers)}</p> }.into_any();
    }
    // The refusal of the last change, shown above the table.
    let outcome = move || match set_role.value().get()? {
        Err(error) => Some(view! { <ErrorNotice error /> }.into_any()),
        Ok(()) => Some(
            view! { <p class="form-ok" data-testid="role-saved">{t(Key::Saved)}</p> }.into_any(),
        ),
    };
    let rows = users
        .into_iter()
        .map(|user| {
            let configured = user.configured.map(|role| match role {
                Role::Admin => "GUILDHALL_ADMIN_IDS",
                _ => "GUILDHALL_LEADER_IDS",
            });
            let last_login = user.last_login_at;
            let options = [Role::Member, Role::Leader, Role::Admin]
                .into_iter()
                .map(|role| {
                    view! {
                        <option value=role.as_str() selected=role == user.role>
                            {t(role_key(role))}
                        </option>
                    }
                })
                .collect_view();
            view! {
                <tr data-user=user.discord_user_id.to_string() data-role=user.role.as_str()>
                    <th scope="row">{user.name}</th>
                    <td class="mono" data-label=t(Key::ColDiscordId)>
                        {user.discord_user_id.to_string()}
                    </td>
                    <td data-label=t(Key::ColRole)>
                        <ActionForm action=set_role attr:class="inline-form">
                            <input type="hidden" name="user_id" value=user.user_id.to_string() />
                            <select name="role" aria-label=t(Key::ColRole)>
                                {options}
                            </select>
                            <button type="submit" disabled=move || set_role.pending().get()>
                                {t(Key::Save)}
                            </button>
                        </ActionForm>
                        {configured
                            .map(|setting| {
                                view! {
                                    <span class="muted small">
                                        {t(Key::ConfiguredBy)} " " <code>{setting}</code>
                                    </span>
                                }
                            })}
                    </td>
                    <td data-label=t(Key::ColLastLogin)>
                        {move || {
                            last_login
                                .map(|at| lang.get().datetime(at))
                                .unwrap_or_else(|| "–".into())
                        }}
                    </td>
                </tr>
            }
        })
        .collect_view();
    view! {
        {outcome}
        <div class="table-wrap">
            <table class="data stack-on-mobile" data-testid="users-table">
                <thead>
                    <tr>
                        <th scope="col">{t(Key::ColPerson)}</th>
                        <th scope="col">{t(Key::ColDiscordId)}</th>
                        <th scope="col">{t(Key::ColRole)}</th>
                        <th scope="col">{t(Key::ColLastLogin)}</th>
                    </tr>
                </thead>
                <tbody>{rows}</tbody>
            </table>
        </div>
    }
    .into_any()
}

/// The latest changes, newest first.
#[component]
fn AuditLog(entries: Vec<AuditEntry>) -> impl IntoView {
    let lang = use_i18n().lang;
    if entries.is_empty() {
        return view! { <p class="muted">{t(Key::NoAudit)}</p> }.into_any();
    }
    let rows = entries
        .into_iter()
        .map(|entry| {
            let at = entry.at;
            let action = match AuditAction::parse(&entry.action) {
                Some(AuditAction::RoleChanged) => t(Key::AuditRoleChanged).into_any(),
                Some(AuditAction::AfkChannelMarked) => t(Key::AuditAfkMarked).into_any(),
                Some(AuditAction::AfkChannelUnmarked) => t(Key::AuditAfkUnmarked).into_any(),
                Some(AuditAction::ChannelExcluded) => t(Key::AuditChannelExcluded).into_any(),
                Some(AuditAction::ChannelIncluded) => t(Key::AuditChannelIncluded).into_any(),
                Some(AuditAction::RoleMapped) => t(Key::AuditRoleMapped).into_any(),
                Some(AuditAction::InviteLabelled) => t(Key::AuditInviteLabelled).into_any(),
                Some(AuditAction::GuildTracking) => t(Key::AuditGuildTracking).into_any(),
                Some(AuditAction::IdentityLinked) => t(Key::AuditIdentityLinked).into_any(),
                Some(AuditAction::IdentityUnlinked) => t(Key::AuditIdentityUnlinked).into_any(),
                Some(AuditAction::PersonsMerged) => t(Key::AuditPersonsMerged).into_any(),
                Some(AuditAction::PersonSplit) => t(Key::AuditPersonSplit).into_any(),
                Some(AuditAction::MemberHidden) => t(Key::AuditMemberHidden).into_any(),
                Some(AuditAction::MemberOptedOut) => t(Key::AuditMemberOptedOut).into_any(),
                Some(AuditAction::MemberDeleted) => t(Key::AuditMemberDeleted).into_any(),
                None => entry.action.clone().into_any(),
            };
            view! {
                <tr data-action=entry.action.clone()>
                    <td data-label=t(Key::ColWhen)>{move || lang.get().datetime(at)}</td>
                    <td data-label=t(Key::ColWho)>{entry.actor}</td>
                    <td data-label=t(Key::ColWhat)>{action}</td>
                    <td data-label=t(Key::ColSubject)>{entry.subject}</td>
                    <td class="mono small" data-label=t(Key::ColBefore)>
                        {entry.before.unwrap_or_else(|| "–".into())}
                    </td>
                    <td class="mono small" data-label=t(Key::ColAfter)>
                        {entry.after.unwrap_or_else(|| "–".into())}
                    </td>
                </tr>
            }
        })
        .collect_view();
    view! {
        <div class="table-wrap">
            <table class="data stack-on-mobile" data-testid="audit-table">
                <thead>
                    <tr>
                        <th scope="col">{t(Key::ColWhen)}</th>
                        <th scope="col">{t(Key::ColWho)}</th>
                        <th scope="col">{t(Key::ColWhat)}</th>
                        <th scope="col">{t(Key::ColSubject)}</th>
                        <th scope="col">{t(Key::ColBefore)}</th>
                        <th scope="col">{t(Key::ColAfter)}</th>
                    </tr>
                </thead>
                <tbody>{rows}</tbody>
            </table>
        </div>
    }
    .into_any()
}

#[component]
fn Collectors(collectors: Vec<(String, CollectorStatus)>) -> impl IntoView {
    let lang = use_i18n().lang;
    if collectors.is_empty() {
        return view! { <p class="muted">{t(Key::NoCollectors)}</p> }.into_any();
    }
    let rows = collectors
        .into_iter()
        .map(|(name, status)| {
            let key = name.clone();
            view! {
                <tr data-collector=key>
                    <th scope="row">{name}</th>
                    <td>
                        <span class="state" data-state=status.state.as_str()>
                            {status.state.as_str()}
                        </span>
                    </td>
                    <td>
                        {move || {
                            status
                                .last_success_at
                                .map(|at| lang.get().datetime(at))
                                .unwrap_or_else(|| "–".into())
                        }}
                    </td>
                    <td class="num">{status.restarts}</td>
                    <td class="error-text">
                        {status.last_error.clone().unwrap_or_default()}
                        {move || {
                            status
                                .last_error_at
                                .map(|at| format!(" ({})", lang.get().datetime(at)))
                                .unwrap_or_default()
                        }}
                    </td>
                </tr>
            }
        })
        .collect_view();
    view! {
        <div class="table-wrap">
            <table class="data" data-testid="collectors-table">
                <thead>
                    <tr>
                        <th scope="col">{t(Key::ColCollector)}</th>
                        <th scope="col">{t(Key::ColState)}</th>
                        <th scope="col">{t(Key::ColLastSuccess)}</th>
                        <th scope="col" class="num">{t(Key::ColRestarts)}</th>
                        <th scope="col">{t(Key::ColLastError)}</th>
                    </tr>
                </thead>
                <tbody>{rows}</tbody>
            </table>
        </div>
    }
    .into_any()
}

#[component]
fn Guilds(guilds: Vec<GuildSettings>) -> impl IntoView {
    if guilds.is_empty() {
        return view! { <p class="muted">{t(Key::NoGuilds)}</p> }.into_any();
    }
    let rows = guilds
        .into_iter()
        .map(|guild| view! { <GuildRow guild /> })
        .collect_view();
    view! {
        <div class="table-wrap">
            <table class="data stack-on-mobile" data-testid="guilds-table">
                <thead>
                    <tr>
                        <th scope="col">{t(Key::ColGuild)}</th>
                        <th scope="col">{t(Key::ColAfkDiscord)}</th>
                        <th scope="col">{t(Key::ColAfkMarked)}</th>
                        <th scope="col">{t(Key::ColAfkMark)}</th>
                    </tr>
                </thead>
                <tbody>{rows}</tbody>
            </table>
        </div>
        <p class="muted small">{t(Key::AfkHint)}</p>
    }
    .into_any()
}

fn channel_text(id: Option<i64>) -> String {
    id.map(|id| id.to_string())
        .unwrap_or_else(|| "–".to_owned())
}

/// One guild: Discord's AFK channel, the channels admins marked (each with its two ways to
/// take the mark off) and the form to mark another.
#[component]
fn GuildRow(guild: GuildSettings) -> impl IntoView {
    let guild_id = guild.guild_id;
    let AfkActions { mark, unmark } = expect_context::<AfkActions>();
    let value = RwSignal::new(String::new());
    let whole_history = RwSignal::new(false);
    let invalid = RwSignal::new(false);
    let LastSaved(last_guild) = expect_context::<LastSaved>();
    let busy = move || mark.pending().get() || unmark.pending().get();
    let on_submit = move |ev: leptos::ev::SubmitEvent| {
        ev.prevent_default();
        match value.get_untracked().trim().parse::<i64>() {
            Ok(channel_id) if channel_id > 0 => {
                invalid.set(false);
                last_guild.set(Some(guild_id));
                mark.dispatch(MarkAfkChannel {
                    guild_id,
                    channel_id,
                    whole_history: whole_history.get_untracked(),
                });
            }
            _ => invalid.set(true),
        }
    };
    let result = move || {
        if invalid.get() {
            return Some(
                view! { <span class="form-error">{t(Key::ChannelIdInvalid)}</span> }.into_any(),
            );
        }
        if last_guild.get() != Some(guild_id) || busy() {
            return None;
        }
        let outcome = match (mark.value().get(), unmark.value().get()) {
            (Some(Err(error)), _) | (_, Some(Err(error))) => Err(error),
            (Some(Ok(())), _) | (_, Some(Ok(()))) => Ok(()),
            (None, None) => return None,
        };
        match outcome {
            Ok(()) => Some(
                view! { <span class="form-ok" data-testid="afk-saved">{t(Key::Saved)}</span> }
                    .into_any(),
            ),
            Err(error) => {
                let key = error_key(&error);
                let detail = error_problem(&error).map(problem_detail);
                Some(view! { <span class="form-error">{t(key)} " " {detail}</span> }.into_any())
            }
        }
    };
    let marks = if guild.marked_afk.is_empty() {
        view! { <span class="muted">"–"</span> }.into_any()
    } else {
        guild
            .marked_afk
            .into_iter()
            .map(|marked| view! { <MarkedChannel marked guild_id /> })
            .collect_view()
            .into_any()
    };
    view! {
        <tr data-guild=guild_id.to_string()>
            <th scope="row">
                {guild.name}
                <span class="guild-id muted small mono">{guild_id.to_string()}</span>
            </th>
            <td class="mono" data-label=t(Key::ColAfkDiscord) data-testid="afk-discord">
                {channel_text(guild.afk_channel_id)}
            </td>
            <td data-label=t(Key::ColAfkMarked) data-testid="afk-marked">
                <ul class="plain-list">{marks}</ul>
            </td>
            <td data-label=t(Key::ColAfkMark)>
                <form class="inline-form" on:submit=on_submit>
                    <input
                        type="text"
                        inputmode="numeric"
                        name="channel_id"
                        class="mono"
                        aria-label=t(Key::ChannelId)
                        placeholder=t(Key::ChannelId)
                        prop:value=move || value.get()
                        on:input=move |ev| value.set(event_target_value(&ev))
                    />
                    <label class="check">
                        <input
                            type="checkbox"
                            name="whole_history"
                            prop:checked=move || whole_history.get()
                            on:change=move |ev| whole_history.set(event_target_checked(&ev))
                        />
                        {t(Key::AfkWholeHistory)}
                    </label>
                    <button type="submit" disabled=busy>
                        {t(Key::MarkAfk)}
                    </button>
                    {result}
                </form>
            </td>
        </tr>
    }
}

/// Per guild: the excluded channels and categories (each can be recorded again) and a form
/// to exclude one more. Plain forms: they work before the page has hydrated too.
#[component]
fn ExcludedChannels(guilds: Vec<GuildSettings>) -> impl IntoView {
    if guilds.is_empty() {
        return view! { <p class="muted">{t(Key::NoGuilds)}</p> }.into_any();
    }
    let ExclusionActions { exclude, include } = expect_context::<ExclusionActions>();
    let error = move || {
        let failed = match (exclude.value().get(), include.value().get()) {
            (Some(Err(error)), _) | (_, Some(Err(error))) => Some(error),
            _ => None,
        };
        failed.map(|error| {
            let key = error_key(&error);
            let detail = error_problem(&error).map(problem_detail);
            view! { <p class="form-error" role="alert">{t(key)} " " {detail}</p> }
        })
    };
    let rows = guilds
        .into_iter()
        .map(|guild| {
            let guild_id = guild.guild_id.to_string();
            let excluded = if guild.excluded.is_empty() {
                view! { <span class="muted">"–"</span> }.into_any()
            } else {
                guild
                    .excluded
                    .iter()
                    .map(|channel| {
                        let channel = channel.to_string();
                        let (shown, field) = (channel.clone(), channel.clone());
                        let guild_field = guild_id.clone();
                        view! {
                            <li data-excluded=channel>
                                <span class="mono">{shown}</span>
                                " "
                                <ActionForm action=include attr:class="inline-form">
                                    <input type="hidden" name="guild_id" value=guild_field />
                                    <input type="hidden" name="channel_id" value=field />
                                    <button type="submit" class="button-secondary">
                                        {t(Key::RecordAgain)}
                                    </button>
                                </ActionForm>
                            </li>
                        }
                    })
                    .collect_view()
                    .into_any()
            };
            let row_guild = guild_id.clone();
            view! {
                <tr data-guild=row_guild>
                    <th scope="row">{guild.name}</th>
                    <td data-label=t(Key::ColExcluded) data-testid="excluded">
                        <ul class="plain-list">{excluded}</ul>
                    </td>
                    <td data-label=t(Key::ColExclude)>
                        <ActionForm action=exclude attr:class="inline-form">
                            <input type="hidden" name="guild_id" value=guild_id />
                            <input
                                type="text"
                                inputmode="numeric"
                                name="channel_id"
                                class="mono"
                                required
                                aria-label=t(Key::ChannelOrCategoryId)
                                placeholder=t(Key::ChannelOrCategoryId)
                            />
                            <button type="submit">{t(Key::Exclude)}</button>
                        </ActionForm>
                    </td>
                </tr>
            }
            .into_any()
        })
        .collect_view();
    view! {
        <div class="table-wrap">
            <table class="data stack-on-mobile" data-testid="excluded-table">
                <thead>
                    <tr>
                        <th scope="col">{t(Key::ColGuild)}</th>
                        <th scope="col">{t(Key::ColExcluded)}</th>
                        <th scope="col">{t(Key::ColExclude)}</th>
                    </tr>
                </thead>
                <tbody>{rows}</tbody>
            </table>
        </div>
        {error}
        <p class="muted small">{t(Key::ExcludedHint)}</p>
    }
    .into_any()
}

/// One admin-marked AFK channel with its two ways to take the mark off.
#[component]
fn MarkedChannel(marked: MarkedAfkChannel, guild_id: i64) -> impl IntoView {
    let AfkActions { unmark, mark } = expect_context::<AfkActions>();
    let LastSaved(last_guild) = expect_context::<LastSaved>();
    let lang = use_i18n().lang;
    let id = marked.id;
    let since = marked.since;
    let remove = move |whole_history: bool| {
        last_guild.set(Some(guild_id));
        unmark.dispatch(UnmarkAfkChannel { id, whole_history });
    };
    let busy = move || mark.pending().get() || unmark.pending().get();
    view! {
        <li data-marked=marked.channel_id.to_string()>
            <span class="mono">{marked.channel_id.to_string()}</span>
            " "
            <span class="muted small">
                {move || match since {
                    Some(at) => format!("{} {}", t(Key::AfkSince)(), lang.get().datetime(at)),
                    None => t(Key::AfkAlways)().to_owned(),
                }}
            </span>
            <button
                type="button"
                class="button-secondary"
                disabled=busy
                on:click=move |_| remove(false)
            >
                {t(Key::UnmarkFromNow)}
            </button>
            <button
                type="button"
                class="button-secondary"
                disabled=busy
                on:click=move |_| remove(true)
            >
                {t(Key::UnmarkAlways)}
            </button>
        </li>
    }
}

#[component]
fn Runs(runs: Vec<PipelineRun>) -> impl IntoView {
    let lang = use_i18n().lang;
    if runs.is_empty() {
        return view! { <p class="muted">{t(Key::NoRuns)}</p> }.into_any();
    }
    let rows = runs
        .into_iter()
        .map(|run| {
            let started = run.started_at;
            let failed = run.error.is_some();
            let result = match run.error {
                Some(error) => view! { <span class="error-text">{error}</span> }.into_any(),
                None => view! { <span class="status-ok">{t(Key::RunOk)}</span> }.into_any(),
            };
            let job = run.job.clone();
            view! {
                <tr data-job=job class:failed=failed>
                    <th scope="row" class="mono">{run.job}</th>
                    <td>{run.trigger}</td>
                    <td>{move || lang.get().datetime(started)}</td>
                    <td>
                        {move || match (run.range_from, run.range_to) {
                            (Some(from), Some(to)) => {
                                let lang = lang.get();
                                format!("{} – {}", lang.datetime(from), lang.datetime(to))
                            }
                            _ => "–".to_owned(),
                        }}
                    </td>
                    <td class="num">
                        {run.duration_ms.map(|ms| format!("{ms} ms")).unwrap_or_else(|| "–".into())}
                    </td>
                    <td class="num">
                        {move || run.rows_affected.map(|n| lang.get().int(n)).unwrap_or_else(|| "–".into())}
                    </td>
                    <td>{result}</td>
                </tr>
            }
        })
        .collect_view();
    view! {
        <div class="table-wrap">
            <table class="data" data-testid="runs-table">
                <thead>
                    <tr>
                        <th scope="col">{t(Key::ColJob)}</th>
                        <th scope="col">{t(Key::ColTrigger)}</th>
                        <th scope="col">{t(Key::ColStarted)}</th>
                        <th scope="col">{t(Key::ColSpan)}</th>
                        <th scope="col" class="num">{t(Key::ColDuration)}</th>
                        <th scope="col" class="num">{t(Key::ColRows)}</th>
                        <th scope="col">{t(Key::ColResult)}</th>
                    </tr>
                </thead>
                <tbody>{rows}</tbody>
            </table>
        </div>
    }
    .into_any()
}
