//! One test at a time serving pages in a test process.
//!
//! Leptos keeps its reactive state and its task spawner process-wide, while each
//! `#[sqlx::test]` runs on a runtime of its own. With two such tests serving pages at once,
//! a page now and then never finished rendering (seen under CPU load: a GET that hung until
//! the client gave up, in about one run in ten); with one at a time it never did, and in
//! production there is one runtime. So a test that serves pages holds this place for as
//! long as its servers run; a second server in the same test (the same thread) shares it.

use std::cell::RefCell;
use std::rc::{Rc, Weak};
use tokio::sync::{Mutex, MutexGuard};

static ONE_SERVER: Mutex<()> = Mutex::const_new(());

thread_local! {
    static HELD: RefCell<Weak<MutexGuard<'static, ()>>> = const { RefCell::new(Weak::new()) };
}

/// Waits until no other test in this process serves pages, then holds that place until
/// the last handle this test took is dropped.
pub async fn one_server() -> Rc<MutexGuard<'static, ()>> {
    if let Some(held) = HELD.with(|held| held.borrow().upgrade()) {
        return held;
    }
    let guard = Rc::new(ONE_SERVER.lock().await);
    HELD.with(|held| *held.borrow_mut() = Rc::downgrade(&guard));
    guard
}
