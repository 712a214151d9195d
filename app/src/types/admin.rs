//! Admin users and what the console shows about signing in.

use serde::{Deserialize, Serialize};

/// Identifies an admin user.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct AdminUserId(pub i64);

/// What an admin user may do in the console and the management API.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub enum AdminRole {
    /// Full read and write access.
    Admin,
    /// Read-only access.
    Viewer,
}

impl AdminRole {
    /// The role's name as stored and shown.
    pub fn as_str(self) -> &'static str {
        match self {
            AdminRole::Admin => "admin",
            AdminRole::Viewer => "viewer",
        }
    }

    /// Parses a stored or typed role name.
    pub fn parse(name: &str) -> Option<Self> {
        match name {
            "admin" => Some(AdminRole::Admin),
            "viewer" => Some(AdminRole::Viewer),
            _ => None,
        }
    }
}

/// A signed-in (or listed) admin user, without credentials.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct AdminUser {
    /// The user's id.
    pub id: AdminUserId,
    /// The user's e-mail address, lower-cased; also the login name.
    pub email: String,
    /// The user's role.
    pub role: AdminRole,
}

/// Why the last sign-in attempt failed; rendered on the login page.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct LoginNotice {
    /// A message for the person signing in.
    pub message: String,
    /// The e-mail address they typed, so they need not type it again.
    pub email: String,
}

/// Counts shown on the dashboard until traffic charts exist.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Overview {
    /// Inference endpoints configured.
    pub endpoints: i64,
    /// Gateways configured.
    pub gateways: i64,
    /// Gateway keys that are not revoked.
    pub keys: i64,
    /// Admin users.
    pub admins: i64,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn roles_round_trip_through_their_names() {
        for role in [AdminRole::Admin, AdminRole::Viewer] {
            assert_eq!(AdminRole::parse(role.as_str()), Some(role));
        }
        assert_eq!(AdminRole::parse("root"), None);
    }
}
