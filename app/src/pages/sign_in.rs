//! The page visitors see: Discord sign-in, and demo roles when demo mode is on.

use crate::i18n::{Key, t};
use leptos::prelude::*;
use leptos_meta::Title;

#[component]
pub fn SignInPage(demo_mode: bool) -> impl IntoView {
    // Demo sign-in is a POST (forms the server answers, not routes of the client-side
    // router): no link or image on another site can sign anyone in.
    let demo_button = |role: &'static str, label: Key| {
        view! {
            <li>
                <form method="post" action="/auth/demo">
                    <input type="hidden" name="role" value=role />
                    <button class="button" type="submit" data-role=role>
                        {t(label)}
                    </button>
                </form>
            </li>
        }
        .into_any()
    };
    let demo = demo_mode.then(|| {
        view! {
            <div class="demo" data-testid="demo-login">
                <h2>{t(Key::DemoTitle)}</h2>
                <p>{t(Key::DemoLead)}</p>
                <ul class="demo-roles">
                    {demo_button("leader", Key::RoleLeader)}
                    {demo_button("admin", Key::RoleAdmin)}
                    {demo_button("member", Key::RoleMember)}
                </ul>
            </div>
        }
        .into_any()
    });
    view! {
        <Title text=t(Key::SignIn) />
        <section class="page sign-in" data-testid="sign-in">
            <h1>{t(Key::SignInTitle)}</h1>
            <p class="lead">{t(Key::SignInLead)}</p>
            <a class="button button-discord" rel="external" href="/auth/login">
                {t(Key::SignInDiscord)}
            </a>
            {demo}
        </section>
    }
}
