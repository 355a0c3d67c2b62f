//! The admin page's Discord section: which Discord role gives which Guildhall role, the
//! guild's invites with their labels, and whether the bot may read the invites at all.

use crate::api::{SetGuildTracking, SetInviteLabel, SetRoleMapping, get_discord_settings};
use crate::components::{ErrorNotice, Loading};
use crate::i18n::{Key, t};
use crate::model::{GuildDiscordSettings, Role};
use leptos::prelude::*;

#[component]
pub fn DiscordSettings() -> impl IntoView {
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
