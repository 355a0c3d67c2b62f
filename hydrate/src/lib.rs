//! The wasm entry point: hydrates the server-rendered page.

// The pages' view types nest deeply (the admin page's translated error notices); the app
// crate allows the same depth.
#![recursion_limit = "256"]

#[wasm_bindgen::prelude::wasm_bindgen]
pub fn hydrate() {
    console_error_panic_hook::set_once();
    leptos::mount::hydrate_body(app::App);
}
