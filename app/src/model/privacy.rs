//! The signed-in member's privacy choices (`api/privacy.rs`).

use serde::{Deserialize, Serialize};

/// The signed-in member's privacy choices.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct MyPrivacy {
    /// Counted in totals, never named or singled out on any page.
    pub hidden: bool,
}
