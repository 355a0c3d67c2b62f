//! The page header: brand, navigation for the visitor's role, language switcher, and who is
//! signed in (with sign-out).

use crate::i18n::{Key, Lang, remember_lang, t, use_i18n};
use crate::model::{Permission, Role};
use crate::session::use_session;
use leptos::prelude::*;
use leptos_router::components::A;

/// The translated name of a role.
pub fn role_key(role: Role) -> Key {
    match role {
        Role::Member => Key::RoleMember,
        Role::Leader => Key::RoleLeader,
        Role::Admin => Key::RoleAdmin,
    }
}

#[component]
pub fn Header() -> impl IntoView {
    let session = use_session();
    // The navigation depends on the role; the session resource is blocking, so this is
    // already resolved in the server's HTML.
    let nav_and_user = move || {
        Suspend::new(async move {
            let Ok(info) = session.await else {
                return ().into_any();
            };
            let Some(user) = info.user.clone() else {
                return ().into_any();
            };
            let kpis = info.can(Permission::ViewKpis);
            let admin = info.can(Permission::Administer);
            let role = user.role;
            view! {
                <nav class="nav" aria-label="main">
                    {kpis.then(|| view! { <A href="/">{t(Key::NavOverview)}</A> })}
                    {kpis.then(|| view! { <A href="/retention">{t(Key::NavRetention)}</A> })}
                    {kpis.then(|| view! { <A href="/members">{t(Key::NavMembers)}</A> })}
                    {kpis.then(|| view! { <A href="/events">{t(Key::NavEvents)}</A> })}
                    {kpis.then(|| view! { <A href="/servers">{t(Key::NavServers)}</A> })}
                    <A href="/me">{t(Key::NavMyActivity)}</A>
                    {admin.then(|| view! { <A href="/admin">{t(Key::NavAdmin)}</A> })}
                </nav>
                <div class="user" data-testid="user">
                    <span class="user-name">{user.name}</span>
                    <span class="role-badge" data-role=role.as_str()>
                        {t(role_key(role))}
                    </span>
                    <form method="post" action="/auth/logout" class="sign-out">
                        <button type="submit" class="button-link">
                            {t(Key::SignOut)}
                        </button>
                    </form>
                </div>
            }
            .into_any()
        })
    };
    view! {
        <header class="site-header">
            <a class="skip-link" href="#main">
                {t(Key::SkipToContent)}
            </a>
            <a class="brand" href="/">
                <span class="brand-mark" aria-hidden="true">
                    "◆"
                </span>
                {t(Key::AppName)}
            </a>
            <Suspense>{nav_and_user}</Suspense>
            <LangSwitcher />
        </header>
    }
}

/// `DE | EN`: switches the text at once and keeps the choice in the `lang` cookie. Before
/// the page has hydrated (or without JavaScript) the buttons submit a form to `/lang`,
/// which sets the cookie and reloads the same page.
#[component]
fn LangSwitcher() -> impl IntoView {
    let lang = use_i18n().lang;
    let location = leptos_router::hooks::use_location();
    let here = move || {
        let search = location.search.get();
        let path = location.pathname.get();
        if search.is_empty() {
            path
        } else {
            format!("{path}?{search}")
        }
    };
    let button = move |choice: Lang| {
        view! {
            <button
                type="submit"
                name="lang"
                value=choice.code()
                class="lang-option"
                lang=choice.code()
                data-lang=choice.code()
                aria-pressed=move || (lang.get() == choice).to_string()
                on:click=move |ev| {
                    ev.prevent_default();
                    lang.set(choice);
                    remember_lang(choice);
                }
            >
                {choice.code().to_uppercase()}
            </button>
        }
    };
    view! {
        <form
            method="post"
            action="/lang"
            class="lang-switcher"
            role="group"
            aria-label=t(Key::Language)
        >
            <input type="hidden" name="next" value=here />
            {button(Lang::De)}
            <span class="lang-sep" aria-hidden="true">
                "|"
            </span>
            {button(Lang::En)}
        </form>
    }
}
