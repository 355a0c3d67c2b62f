//! Who is signed in and what they may do: [`Role`], [`Permission`], [`CurrentUser`].

use serde::{Deserialize, Serialize};

/// A user's role in the web app. Each role can do everything the one below it can.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Role {
    Member,
    Leader,
    Admin,
}

impl Role {
    pub fn as_str(self) -> &'static str {
        match self {
            Role::Member => "member",
            Role::Leader => "leader",
            Role::Admin => "admin",
        }
    }

    pub fn parse(value: &str) -> Option<Role> {
        match value {
            "member" => Some(Role::Member),
            "leader" => Some(Role::Leader),
            "admin" => Some(Role::Admin),
            _ => None,
        }
    }
}

/// What a request wants to do; every server function and protected route names one.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Permission {
    /// See one's own data (any signed-in user).
    OwnData,
    /// Read the community KPI pages (leaders and admins).
    ViewKpis,
    /// Change configuration and see operational status (admins).
    Administer,
}

impl Permission {
    /// The lowest role that holds this permission.
    pub fn min_role(self) -> Role {
        match self {
            Permission::OwnData => Role::Member,
            Permission::ViewKpis => Role::Leader,
            Permission::Administer => Role::Admin,
        }
    }
}

/// The signed-in user as the pages see them.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct CurrentUser {
    pub id: i64,
    pub discord_user_id: i64,
    pub name: String,
    pub role: Role,
}

impl CurrentUser {
    pub fn can(&self, permission: Permission) -> bool {
        self.role >= permission.min_role()
    }
}
