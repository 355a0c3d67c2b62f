//! The admin console (`/admin/...`): one section per address, reachable from the console
//! menu (a row of tabs that scrolls sideways on a phone). This module holds the frame, the
//! menu, the routes, and the people and audit-log sections; the status, Discord, identity
//! and privacy sections have modules of their own. Times are on the community's clock,
//! with the zone said once per section.

use super::gated;
use crate::api::{SetUserRole, get_admin_users, get_audit_log};
use crate::components::{ErrorNotice, Loading, ZoneNote};
use crate::i18n::{Key, t, use_i18n};
use crate::model::{AuditAction, AuditEntry, AuditPage, Permission, Role, UserRole};
use leptos::prelude::*;
use leptos_meta::Title;

/// The console's sections, in the menu's order.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Section {
    Status,
    Discord,
    Servers,
    Identities,
    People,
    Privacy,
    Audit,
}

impl Section {
    pub const ALL: [Section; 7] = [
        Section::Status,
        Section::Discord,
        Section::Servers,
        Section::Identities,
        Section::People,
        Section::Privacy,
        Section::Audit,
    ];

    /// Its address.
    pub fn path(self) -> &'static str {
        match self {
            Section::Status => "/admin/status",
            Section::Discord => "/admin/discord",
            Section::Servers => "/admin/servers",
            Section::Identities => "/admin/identities",
            Section::People => "/admin/people",
            Section::Privacy => "/admin/privacy",
            Section::Audit => "/admin/audit",
        }
    }

    /// Its name in the menu and as the page's heading.
    pub fn key(self) -> Key {
        match self {
            Section::Status => Key::ConsoleStatus,
            Section::Discord => Key::ConsoleDiscord,
            Section::Servers => Key::ConsoleServers,
            Section::Identities => Key::ConsoleIdentities,
            Section::People => Key::ConsolePeople,
            Section::Privacy => Key::ConsolePrivacy,
            Section::Audit => Key::ConsoleAudit,
        }
    }

    fn name(self) -> &'static str {
        self.path().trim_start_matches("/admin/")
    }
}

/// The console menu: every section, the current one marked. Plain links: they work before
/// the page has hydrated too.
#[component]
fn ConsoleMenu(current: Section) -> impl IntoView {
    let links = Section::ALL
        .into_iter()
        .map(|section| {
            let here = section == current;
            view! {
                <li>
                    <a
                        href=section.path()
                        aria-current=here.then_some("page")
                        data-section=section.name()
                    >
                        {t(section.key())}
                    </a>
                </li>
            }
        })
        .collect_view();
    view! {
        <nav class="console-nav" aria-label=t(Key::ConsoleMenu) data-testid="console-menu">
            <ul>{links}</ul>
        </nav>
    }
}

/// The frame of every section: the title, the menu and the section's heading.
#[component]
pub fn Console(section: Section, children: Children) -> impl IntoView {
    view! {
        <Title text=t(section.key()) />
        <section class="page admin console" data-testid="admin" data-section=section.name()>
            <p class="console-title">{t(Key::AdminTitle)}</p>
            <ConsoleMenu current=section />
            <h1>{t(section.key())}</h1>
            {children()}
        </section>
    }
}

/// `/admin` and `/admin/status` (the server already refuses non-admins before rendering).
#[component]
pub fn AdminRoute() -> impl IntoView {
    gated(Permission::Administer, |_| {
        view! {
            <Console section=Section::Status>
                <super::admin_status::StatusSection />
            </Console>
        }
    })
}

/// `/admin/discord`
#[component]
pub fn AdminDiscordRoute() -> impl IntoView {
    gated(Permission::Administer, |_| {
        view! {
            <Console section=Section::Discord>
                <super::admin_discord::DiscordSection />
            </Console>
        }
    })
}

/// `/admin/servers`: the game servers (`pages/admin_servers/`).
#[component]
pub fn AdminServersRoute() -> impl IntoView {
    gated(Permission::Administer, |_| {
        view! {
            <Console section=Section::Servers>
                <super::admin_servers::ServersSection />
            </Console>
        }
    })
}

/// `/admin/identities`
#[component]
pub fn AdminIdentitiesRoute() -> impl IntoView {
    gated(Permission::Administer, |_| {
        view! {
            <Console section=Section::Identities>
                <super::admin_identities::IdentityEditor />
            </Console>
        }
    })
}

/// `/admin/people`
#[component]
pub fn AdminPeopleRoute() -> impl IntoView {
    gated(Permission::Administer, |_| {
        view! {
            <Console section=Section::People>
                <PeopleSection />
            </Console>
        }
    })
}

/// `/admin/privacy`
#[component]
pub fn AdminPrivacyRoute() -> impl IntoView {
    gated(Permission::Administer, |_| {
        view! {
            <Console section=Section::Privacy>
                <super::admin_privacy::CommunitySettingsSection />
            </Console>
        }
    })
}

/// `/admin/audit?page=N`
#[component]
pub fn AdminAuditRoute() -> impl IntoView {
    gated(Permission::Administer, |_| {
        view! {
            <Console section=Section::Audit>
                <AuditSection />
            </Console>
        }
    })
}

/// Web users and their roles.
#[component]
fn PeopleSection() -> impl IntoView {
    let set_role = ServerAction::<SetUserRole>::new();
    provide_context(set_role);
    let users = Resource::new(move || set_role.version().get(), |_| get_admin_users());
    view! {
        <div class="card">
            <h2>{t(Key::UsersTitle)}</h2>
            <p class="muted small">{t(Key::UsersLead)}</p>
            <Transition fallback=Loading>
                {move || Suspend::new(async move {
                    match users.await {
                        Err(error) => view! { <ErrorNotice error /> }.into_any(),
                        Ok(list) => {
                            view! {
                                <ZoneNote zone=list.timezone />
                                <Users users=list.users />
                            }
                                .into_any()
                        }
                    }
                })}
            </Transition>
        </div>
    }
}

/// The audit log, a page at a time (`?page=N`), with links to newer and older entries.
#[component]
fn AuditSection() -> impl IntoView {
    let query = leptos_router::hooks::use_query_map();
    let page = move || {
        query
            .read()
            .get("page")
            .and_then(|page| page.parse::<u32>().ok())
            .unwrap_or(1)
            .max(1)
    };
    let log = Resource::new(page, get_audit_log);
    view! {
        <div class="card">
            <Transition fallback=Loading>
                {move || Suspend::new(async move {
                    match log.await {
                        Err(error) => view! { <ErrorNotice error /> }.into_any(),
                        Ok(page) => view! { <AuditLogPage page /> }.into_any(),
                    }
                })}
            </Transition>
        </div>
    }
}

#[component]
fn AuditLogPage(page: AuditPage) -> impl IntoView {
    let lang = use_i18n().lang;
    let AuditPage {
        timezone,
        entries,
        page,
        pages,
        total,
    } = page;
    let newer = (page > 1).then(|| {
        view! {
            <a class="button button-secondary" href=format!("/admin/audit?page={}", page - 1) data-testid="audit-newer">
                {t(Key::AuditNewer)}
            </a>
        }
    });
    let older = (page < pages).then(|| {
        view! {
            <a class="button button-secondary" href=format!("/admin/audit?page={}", page + 1) data-testid="audit-older">
                {t(Key::AuditOlder)}
            </a>
        }
    });
    view! {
        <ZoneNote zone=timezone />
        <AuditLog entries />
        <nav class="pager" aria-label=t(Key::ConsoleAudit) data-testid="audit-pager">
            {newer}
            <span class="muted small" data-testid="audit-page">
                {move || {
                    Key::AuditPageOf
                        .fill(
                            lang.get(),
                            &[
                                ("page", &lang.get().int(i64::from(page))),
                                ("pages", &lang.get().int(i64::from(pages))),
                                ("total", &lang.get().int(total)),
                            ],
                        )
                }}
            </span>
            {older}
        </nav>
    }
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
                                .map(|at| lang.get().local_datetime(at.naive_local()))
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
                Some(AuditAction::SettingsChanged) => t(Key::AuditSettingsChanged).into_any(),
                Some(AuditAction::BackfillStarted) => t(Key::AuditBackfillStarted).into_any(),
                Some(AuditAction::BackfillCancelled) => t(Key::AuditBackfillCancelled).into_any(),
                Some(AuditAction::GameServerAdded) => t(Key::AuditGameServerAdded).into_any(),
                Some(AuditAction::GameServerChanged) => t(Key::AuditGameServerChanged).into_any(),
                Some(AuditAction::GameServerEnabled) => t(Key::AuditGameServerEnabled).into_any(),
                Some(AuditAction::GameServerDeleted) => t(Key::AuditGameServerDeleted).into_any(),
                Some(AuditAction::GameServerLogToken) => t(Key::AuditGameServerLogToken).into_any(),
                Some(AuditAction::GameServerHostKey) => t(Key::AuditGameServerHostKey).into_any(),
                None => entry.action.clone().into_any(),
            };
            view! {
                <tr data-action=entry.action.clone()>
                    <td data-label=t(Key::ColWhen)>{move || lang.get().local_datetime(at.naive_local())}</td>
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
