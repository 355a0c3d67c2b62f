//! The console's Discord section (`/admin/discord`): which guilds are recorded, their AFK
//! channels and excluded channels (picked by name from what the bot knows, never typed as
//! ids), which Discord role gives which Guildhall role, and the invites with their labels.

use crate::api::{
    ExcludeChannel, IncludeChannel, MarkAfkChannel, SetGuildTracking, SetInviteLabel,
    SetRoleMapping, UnmarkAfkChannel, get_discord_channels, get_discord_settings,
};
use crate::components::ZoneNote;
use crate::components::{ErrorNotice, Loading, error_key, error_problem, problem_detail};
use crate::i18n::{Key, t, use_i18n};
use crate::model::{AfkMark, ChannelKind, ChannelName, GuildChannels, GuildDiscordSettings, Role};
use leptos::prelude::*;

/// The whole section: channel settings first, then roles and invites.
#[component]
pub fn DiscordSection() -> impl IntoView {
    view! {
        <ChannelSettings />
        <DiscordSettings />
    }
}

/// A channel as the pickers and lists name it: `Category › name`, or its id when the bot
/// never saw it.
pub fn channel_label(channel: &ChannelName) -> String {
    match (&channel.name, &channel.category) {
        (Some(name), Some(category)) => format!("{category} › {name}"),
        (Some(name), None) => name.clone(),
        (None, _) => format!("#{}", channel.channel_id),
    }
}

/// The actions on AFK marks and excluded channels; every list reloads after each.
#[derive(Clone, Copy)]
struct ChannelActions {
    mark: ServerAction<MarkAfkChannel>,
    unmark: ServerAction<UnmarkAfkChannel>,
    exclude: ServerAction<ExcludeChannel>,
    include: ServerAction<IncludeChannel>,
}

/// Per recorded guild: Discord's AFK channel, the marked ones, and the excluded channels.
#[component]
fn ChannelSettings() -> impl IntoView {
    let actions = ChannelActions {
        mark: ServerAction::<MarkAfkChannel>::new(),
        unmark: ServerAction::<UnmarkAfkChannel>::new(),
        exclude: ServerAction::<ExcludeChannel>::new(),
        include: ServerAction::<IncludeChannel>::new(),
    };
    let channels = Resource::new(
        move || {
            (
                actions.mark.version().get(),
                actions.unmark.version().get(),
                actions.exclude.version().get(),
                actions.include.version().get(),
            )
        },
        |_| get_discord_channels(),
    );
    let outcome = move || {
        let error = [
            actions.mark.value().get(),
            actions.unmark.value().get(),
            actions.exclude.value().get(),
            actions.include.value().get(),
        ]
        .into_iter()
        .flatten()
        .find_map(Result::err);
        error.map(|error| {
            let key = error_key(&error);
            let detail = error_problem(&error).map(problem_detail);
            view! { <p class="form-error" role="alert">{t(key)} " " {detail}</p> }
        })
    };
    view! {
        <div class="card" data-testid="channel-settings">
            <h2>{t(Key::ChannelsTitle)}</h2>
            {outcome}
            <Transition fallback=Loading>
                {move || Suspend::new(async move {
                    match channels.await {
                        Err(error) => view! { <ErrorNotice error /> }.into_any(),
                        Ok(list) if list.guilds.is_empty() => {
                            view! { <p class="muted">{t(Key::NoGuilds)}</p> }.into_any()
                        }
                        Ok(list) => {
                            let guilds = list
                                .guilds
                                .into_iter()
                                .map(|guild| view! { <GuildChannelSettings guild actions /> })
                                .collect_view();
                            view! { <ZoneNote zone=list.timezone /> {guilds} }.into_any()
                        }
                    }
                })}
            </Transition>
            <p class="muted small">{t(Key::AfkHint)}</p>
            <p class="muted small">{t(Key::ExcludedHint)}</p>
        </div>
    }
}

/// `<option>`s of `channels` that `keep` lets through, grouped under their categories.
fn channel_options(channels: &[ChannelName], keep: impl Fn(&ChannelName) -> bool) -> AnyView {
    channels
        .iter()
        .filter(|channel| keep(channel))
        .map(|channel| {
            let label = match channel.kind {
                Some(ChannelKind::Category) => format!("▸ {}", channel_label(channel)),
                _ => channel_label(channel),
            };
            view! { <option value=channel.channel_id.clone()>{label}</option> }
        })
        .collect_view()
        .into_any()
}

#[component]
fn GuildChannelSettings(guild: GuildChannels, actions: ChannelActions) -> impl IntoView {
    let GuildChannels {
        guild_id,
        name,
        afk_channel,
        marked_afk,
        excluded,
        channels,
    } = guild;
    let marked_ids: Vec<String> = marked_afk
        .iter()
        .map(|m| m.channel.channel_id.clone())
        .collect();
    let excluded_ids: Vec<String> = excluded.iter().map(|c| c.channel_id.clone()).collect();
    let afk_id = afk_channel.as_ref().map(|c| c.channel_id.clone());
    let voice_options = channel_options(&channels, |c| {
        c.kind.is_some_and(ChannelKind::is_voice)
            && !marked_ids.contains(&c.channel_id)
            && afk_id.as_ref() != Some(&c.channel_id)
    });
    let exclude_options = channel_options(&channels, |c| !excluded_ids.contains(&c.channel_id));
    let discord_afk = afk_channel
        .as_ref()
        .map(channel_label)
        .unwrap_or_else(|| "–".to_owned());
    let marks = if marked_afk.is_empty() {
        view! { <li class="muted">"–"</li> }.into_any()
    } else {
        marked_afk
            .into_iter()
            .map(|mark| view! { <MarkedChannel mark actions /> })
            .collect_view()
            .into_any()
    };
    let excluded_list = if excluded.is_empty() {
        view! { <li class="muted">"–"</li> }.into_any()
    } else {
        excluded
            .into_iter()
            .map(|channel| {
                let label = channel_label(&channel);
                let (row_id, id) = (channel.channel_id.clone(), channel.channel_id.clone());
                let guild_field = guild_id.clone();
                view! {
                    <li data-excluded=row_id>
                        <span>{label}</span>
                        " "
                        <ActionForm action=actions.include attr:class="inline-form">
                            <input type="hidden" name="guild_id" value=guild_field />
                            <input type="hidden" name="channel_id" value=id />
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
    let busy = move || actions.mark.pending().get() || actions.unmark.pending().get();
    let (mark_guild, exclude_guild) = (guild_id.clone(), guild_id.clone());
    view! {
        <section class="guild-channels" data-guild=guild_id.clone() data-testid="guild-channels">
            <h3>{name}</h3>
            <dl class="facts">
                <dt>{t(Key::ColAfkDiscord)}</dt>
                <dd data-testid="afk-discord">{discord_afk}</dd>
                <dt>{t(Key::ColAfkMarked)}</dt>
                <dd>
                    <ul class="plain-list" data-testid="afk-marked">{marks}</ul>
                </dd>
            </dl>
            <ActionForm action=actions.mark attr:class="stack-form" attr:data-testid="afk-form">
                <input type="hidden" name="guild_id" value=mark_guild />
                <label>
                    {t(Key::AfkPick)}
                    <select name="channel_id" required data-testid="afk-pick">
                        <option value="">{t(Key::PickChannel)}</option>
                        {voice_options}
                    </select>
                </label>
                <label class="check">
                    <input type="checkbox" name="whole_history" value="true" />
                    {t(Key::AfkWholeHistory)}
                </label>
                <button type="submit" disabled=busy>{t(Key::MarkAfk)}</button>
            </ActionForm>
            <h4>{t(Key::ExcludedTitle)}</h4>
            <ul class="plain-list" data-testid="excluded">{excluded_list}</ul>
            <ActionForm action=actions.exclude attr:class="stack-form" attr:data-testid="exclude-form">
                <input type="hidden" name="guild_id" value=exclude_guild />
                <label>
                    {t(Key::ExcludePick)}
                    <select name="channel_id" required data-testid="exclude-pick">
                        <option value="">{t(Key::PickChannel)}</option>
                        {exclude_options}
                    </select>
                </label>
                <button type="submit">{t(Key::Exclude)}</button>
            </ActionForm>
        </section>
    }
}

/// One admin-marked AFK channel with its two ways to take the mark off.
#[component]
fn MarkedChannel(mark: AfkMark, actions: ChannelActions) -> impl IntoView {
    let lang = use_i18n().lang;
    let id = mark.id;
    let since = mark.since;
    let busy = move || actions.mark.pending().get() || actions.unmark.pending().get();
    let remove = move |whole_history: bool| {
        actions
            .unmark
            .dispatch(UnmarkAfkChannel { id, whole_history });
    };
    view! {
        <li data-marked=mark.channel.channel_id.clone()>
            <span>{channel_label(&mark.channel)}</span>
            " "
            <span class="muted small">
                {move || match since {
                    Some(at) => {
                        format!(
                            "{} {}",
                            Key::AfkSince.text(lang.get()),
                            lang.get().local_datetime(at.naive_local()),
                        )
                    }
                    None => Key::AfkAlways.text(lang.get()).to_owned(),
                }}
            </span>
            <button type="button" class="button-secondary" disabled=busy on:click=move |_| remove(false)>
                {t(Key::UnmarkFromNow)}
            </button>
            <button type="button" class="button-secondary" disabled=busy on:click=move |_| remove(true)>
                {t(Key::UnmarkAlways)}
            </button>
        </li>
    }
}

/// Which guilds are recorded, each recorded guild's role mapping and invite labels.
#[component]
fn DiscordSettings() -> impl IntoView {
    let map_role = ServerAction::<SetRoleMapping>::new();
    let label = ServerAction::<SetInviteLabel>::new();
    let tracking = ServerAction::<SetGuildTracking>::new();
    let settings = Resource::new(
        move || {
            (
                map_role.version().get(),
                label.version().get(),
                tracking.version().get(),
            )
        },
        |_| get_discord_settings(),
    );
    let outcome = move || {
        let failed = match (
            map_role.value().get(),
            label.value().get(),
            tracking.value().get(),
        ) {
            (Some(Err(error)), _, _) | (_, Some(Err(error)), _) | (_, _, Some(Err(error))) => {
                Some(error)
            }
            _ => None,
        };
        failed.map(|error| view! { <ErrorNotice error /> })
    };
    view! {
        <div class="card" data-testid="discord-settings">
            <h2>{t(Key::DiscordSettingsTitle)}</h2>
            {outcome}
            <Transition fallback=Loading>
                {move || Suspend::new(async move {
                    match settings.await {
                        Err(error) => view! { <ErrorNotice error /> }.into_any(),
                        Ok(guilds) if guilds.is_empty() => {
                            view! { <p class="muted">{t(Key::NoGuilds)}</p> }.into_any()
                        }
                        Ok(guilds) => {
                            let list = view! { <Tracking guilds=guilds.clone() tracking /> }.into_any();
                            let sections = guilds
                                .into_iter()
                                .filter(|guild| guild.tracked)
                                .map(|guild| view! { <GuildDiscord guild map_role label /> })
                                .collect_view()
                                .into_any();
                            view! { {list} {sections} }.into_any()
                        }
                    }
                })}
            </Transition>
        </div>
    }
}

/// Every guild the bot is in, and whether it is recorded, with the switch.
#[component]
fn Tracking(
    guilds: Vec<GuildDiscordSettings>,
    tracking: ServerAction<SetGuildTracking>,
) -> impl IntoView {
    let rows = guilds
        .into_iter()
        .map(|guild| {
            let (state, action, next) = if guild.tracked {
                (Key::Recorded, Key::StopRecording, "false")
            } else {
                (Key::NotRecorded, Key::StartRecording, "true")
            };
            let row_id = guild.guild_id.clone();
            view! {
                <tr data-guild=row_id data-tracked=guild.tracked.to_string()>
                    <th scope="row">
                        {guild.name}
                        " "
                        <span class="mono small muted">{guild.guild_id.clone()}</span>
                    </th>
                    <td data-label=t(Key::ColRecorded)>{t(state)}</td>
                    <td>
                        <ActionForm action=tracking attr:class="inline-form">
                            <input type="hidden" name="guild_id" value=guild.guild_id />
                            <input type="hidden" name="tracked" value=next />
                            <button type="submit" class="button-secondary">{t(action)}</button>
                        </ActionForm>
                    </td>
                </tr>
            }
            .into_any()
        })
        .collect_view();
    view! {
        <div class="table-wrap">
            <table class="data stack-on-mobile" data-testid="guild-tracking">
                <caption>{t(Key::TrackingCaption)}</caption>
                <thead>
                    <tr>
                        <th scope="col">{t(Key::ColGuild)}</th>
                        <th scope="col">{t(Key::ColRecorded)}</th>
                        <th scope="col"></th>
                    </tr>
                </thead>
                <tbody>{rows}</tbody>
            </table>
        </div>
        <p class="muted small">{t(Key::TrackingHint)}</p>
    }
}

fn role_option_key(role: Option<Role>) -> Key {
    match role {
        None => Key::MappingNone,
        Some(Role::Member) => Key::RoleMember,
        Some(Role::Leader) => Key::RoleLeader,
        Some(Role::Admin) => Key::RoleAdmin,
    }
}

#[component]
fn GuildDiscord(
    guild: GuildDiscordSettings,
    map_role: ServerAction<SetRoleMapping>,
    label: ServerAction<SetInviteLabel>,
) -> impl IntoView {
    let guild_id = guild.guild_id.clone();
    let roles = guild
        .roles
        .into_iter()
        .map(|role| {
            let options = [
                None,
                Some(Role::Member),
                Some(Role::Leader),
                Some(Role::Admin),
            ]
            .into_iter()
            .map(|option| {
                view! {
                    <option
                        value=option.map_or("none", Role::as_str)
                        selected=option == role.app_role
                    >
                        {t(role_option_key(option))}
                    </option>
                }
            })
            .collect_view();
            let guild_field = guild_id.clone();
            let row_id = role.role_id.clone();
            view! {
                <tr data-role-id=row_id data-mapped=role.app_role.map_or("none", Role::as_str)>
                    <th scope="row">{role.name}</th>
                    <td data-label=t(Key::ColAppRole)>
                        <ActionForm action=map_role attr:class="inline-form">
                            <input type="hidden" name="guild_id" value=guild_field />
                            <input type="hidden" name="role_id" value=role.role_id />
                            <select name="app_role" aria-label=t(Key::ColAppRole)>{options}</select>
                            <button type="submit">{t(Key::Save)}</button>
                        </ActionForm>
                    </td>
                </tr>
            }
            .into_any()
        })
        .collect_view();
    let invites = guild
        .invites
        .into_iter()
        .map(|invite| {
            let guild_field = guild_id.clone();
            let code = invite.code.clone();
            let row_code = invite.code.clone();
            view! {
                <tr data-invite=row_code>
                    <th scope="row" class="mono">
                        {invite.code}
                        {invite.deleted.then(|| view! { <span class="muted small">" · " {t(Key::InviteGone)}</span> })}
                    </th>
                    <td data-label=t(Key::ColInviter)>{invite.inviter.unwrap_or_default()}</td>
                    <td class="num" data-label=t(Key::ColUses)>{invite.uses}</td>
                    <td data-label=t(Key::ColLabel)>
                        <ActionForm action=label attr:class="inline-form">
                            <input type="hidden" name="guild_id" value=guild_field />
                            <input type="hidden" name="code" value=code />
                            <input
                                type="text"
                                name="label"
                                maxlength="80"
                                value=invite.label.unwrap_or_default()
                                aria-label=t(Key::ColLabel)
                                placeholder=t(Key::LabelPlaceholder)
                            />
                            <button type="submit">{t(Key::Save)}</button>
                        </ActionForm>
                    </td>
                </tr>
            }
            .into_any()
        })
        .collect_view();
    let unreadable = (guild.invites_readable == Some(false)).then(|| {
        view! { <p class="notice" data-testid="invites-unreadable">{t(Key::SourcesNoPermission)}</p> }
    });
    view! {
        <section class="guild-discord" data-guild=guild.guild_id.clone()>
            <h3>{guild.name}</h3>
            <div class="table-wrap">
                <table class="data stack-on-mobile" data-testid="role-mapping">
                    <caption>{t(Key::RoleMappingCaption)}</caption>
                    <thead>
                        <tr>
                            <th scope="col">{t(Key::ColDiscordRole)}</th>
                            <th scope="col">{t(Key::ColAppRole)}</th>
                        </tr>
                    </thead>
                    <tbody>{roles}</tbody>
                </table>
            </div>
            <p class="muted small">{t(Key::RoleMappingHint)}</p>
            {unreadable}
            <div class="table-wrap">
                <table class="data stack-on-mobile" data-testid="invite-labels">
                    <caption>{t(Key::InvitesCaption)}</caption>
                    <thead>
                        <tr>
                            <th scope="col">{t(Key::ColInvite)}</th>
                            <th scope="col">{t(Key::ColInviter)}</th>
                            <th scope="col" class="num">{t(Key::ColUses)}</th>
                            <th scope="col">{t(Key::ColLabel)}</th>
                        </tr>
                    </thead>
                    <tbody>{invites}</tbody>
                </table>
            </div>
        </section>
    }
    .into_any()
}
