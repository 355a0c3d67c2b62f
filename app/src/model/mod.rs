//! Types shared by the server and the browser: who is signed in, what they may do, and the
//! data the pages show. One module per area, named like the area's server functions in
//! `api/` and its page in `pages/`; every type is re-exported here (`crate::model::Foo`).

mod access;
mod accounts;
mod admin_status;
mod afk;
mod audit;
mod console;
mod daily_active_users;
mod discord;
mod events;
mod funnel;
mod game_servers;
mod identities;
mod members;
mod my_activity;
mod privacy;
mod retention;
mod roles;
mod servers;

pub use access::*;
pub use accounts::*;
pub use admin_status::*;
pub use afk::*;
pub use audit::*;
pub use console::*;
pub use daily_active_users::*;
pub use discord::*;
pub use events::*;
pub use funnel::*;
pub use game_servers::*;
pub use identities::*;
pub use members::*;
pub use my_activity::*;
pub use privacy::*;
pub use retention::*;
pub use roles::*;
pub use servers::*;
