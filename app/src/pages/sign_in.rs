//! The page visitors see: Discord sign-in, and demo roles when demo mode is on.

use crate::i18n::{Key, t};
use leptos::prelude::*;
use leptos_meta::Title;

#[component]
pub fn SignInPage(demo_mode: bool) -> impl IntoView {
    // `rel="external"`: these are server routes, not pages of the client-side router.
    let demo = demo_mode.then(|| {
        view! {
            <div class="demo" data-testid="demo-login">
                <h2>{t(Key::DemoTitle)}</h2>
                <p>{t(Key::DemoLead)}</p>
                <ul class="demo-roles">
                    <li>
                        <a class="button" rel="external" href="/auth/demo?role=leader">
                            {t(Key::RoleLeader)}
                        </a>
                    </li>
                    <li>
                        <a class="button" rel="external" href="/auth/demo?role=admin">
                            {t(Key::RoleAdmin)}
                        </a>
                    </li>
                    <li>
                        <a class="button" rel="external" href="/auth/demo?role=member">
                            {t(Key::RoleMember)}
                        </a>
                    </li>
                </ul>
            </div>
        }
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
