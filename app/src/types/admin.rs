//! Admin users and what the console shows about signing in.

use super::WriteOnly;
use serde::{Deserialize, Serialize};

/// Identifies an admin user.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct AdminUserId(pub i64);

/// What an admin user may do in the console and the management API.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "ssr", derive(async_graphql::Enum))]
#[serde(rename_all = "lowercase")]
pub enum AdminRole {
    /// Full read and write access.
    Admin,
    /// Read-only access.
    Viewer,
}

/// A change to an admin user from the Settings page: a new role, or enabling or disabling
/// them (as the form's button sends it: `admin`, `viewer`, `enable`, `disable`).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum AdminChange {
    Admin,
    Viewer,
    Enable,
    Disable,
}

impl AdminChange {
    /// The role and the disabled flag it sets (`None`: unchanged).
    pub fn role_and_disabled(self) -> (Option<AdminRole>, Option<bool>) {
        match self {
            AdminChange::Admin => (Some(AdminRole::Admin), None),
            AdminChange::Viewer => (Some(AdminRole::Viewer), None),
            AdminChange::Enable => (None, Some(false)),
            AdminChange::Disable => (None, Some(true)),
        }
    }
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

/// An admin user as the settings list shows it.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct AdminAccount {
    pub user: AdminUser,
    /// A disabled admin cannot sign in, and their sessions and API tokens stop working.
    pub disabled: bool,
    /// Creation time, Unix milliseconds.
    pub created_at: i64,
    /// The last console sign-in, Unix milliseconds.
    pub last_login_at: Option<i64>,
}

/// Identifies an admin API token.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct AdminTokenId(pub i64);

/// An admin API token, for automation; its secret is shown once, at creation.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct AdminToken {
    pub id: AdminTokenId,
    /// The admin who created it; it acts as them, with at most their role.
    pub admin_user_id: AdminUserId,
    /// A name for people.
    pub name: String,
    /// The public part of the token, safe to show and log.
    pub public_id: String,
    pub role: AdminRole,
    /// Unix milliseconds.
    pub created_at: i64,
    /// When it was last used, Unix milliseconds (written at most once a minute).
    pub last_used_at: Option<i64>,
    /// When it stops working, Unix milliseconds.
    pub expires_at: Option<i64>,
    /// When it was revoked, if it was.
    pub revoked_at: Option<i64>,
}

/// Who made a change, as the audit log records it.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[cfg_attr(feature = "ssr", derive(async_graphql::Enum))]
pub enum ActorKind {
    /// An admin signed in to the console (or GraphQL with the console's cookie).
    Admin,
    /// An admin API token.
    ApiToken,
    /// The command line, on the server's machine.
    Cli,
    /// The gateway itself.
    System,
}

impl ActorKind {
    /// The kind as stored.
    pub fn as_str(self) -> &'static str {
        match self {
            ActorKind::Admin => "admin",
            ActorKind::ApiToken => "api_token",
            ActorKind::Cli => "cli",
            ActorKind::System => "system",
        }
    }

    /// Parses a stored kind.
    pub fn parse(name: &str) -> Option<Self> {
        [ActorKind::Admin, ActorKind::ApiToken, ActorKind::Cli, ActorKind::System]
            .into_iter()
            .find(|kind| kind.as_str() == name)
    }
}

/// Which way a change reached the management service.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[cfg_attr(feature = "ssr", derive(async_graphql::Enum))]
pub enum Via {
    /// The admin console's server functions.
    Console,
    /// The management API (`/graphql`), with a session or an admin API token.
    Graphql,
    /// The command line on the server's machine.
    Cli,
}

impl Via {
    /// The path as stored.
    pub fn as_str(self) -> &'static str {
        match self {
            Via::Console => "console",
            Via::Graphql => "graphql",
            Via::Cli => "cli",
        }
    }

    /// Parses a stored path.
    pub fn parse(name: &str) -> Option<Self> {
        [Via::Console, Via::Graphql, Via::Cli]
            .into_iter()
            .find(|via| via.as_str() == name)
    }
}

/// One administrative change: who, what, when. Never a secret.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct AuditEntry {
    pub id: i64,
    /// Unix milliseconds.
    pub created_at: i64,
    pub actor_kind: ActorKind,
    /// The admin user or token id.
    pub actor_id: Option<i64>,
    /// The admin's e-mail address, or the token's name and public id.
    pub actor_label: String,
    /// What was done: `gateway.create`, `key.revoke`, …
    pub action: String,
    /// What it was done to: `gateway`, `key`, …
    pub target_kind: Option<String>,
    pub target_id: Option<i64>,
    /// Non-secret details, as a JSON object: the same whichever way the change came.
    pub details: String,
    /// Which way it came (`None` for entries written before this was recorded).
    pub via: Option<Via>,
}

/// One page of the audit log, newest first, with the cursor of the next (older) page.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct AuditPage {
    pub entries: Vec<AuditEntry>,
    /// Pass as `before` for the next page; `None` on the last one.
    pub next: Option<i64>,
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

/// An admin API token just created, with its secret: shown this once, never again. `Debug`
/// hides the secret.
#[derive(Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct CreatedAdminToken {
    pub token: AdminToken,
    pub secret: String,
}

impl std::fmt::Debug for CreatedAdminToken {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("CreatedAdminToken")
            .field("token", &self.token.public_id)
            .field("secret", &"[redacted]")
            .finish()
    }
}

/// What the Settings page lists: the signed-in admin, every admin, every admin API token and
/// every price.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct SettingsListing {
    pub admins: Vec<AdminAccount>,
    pub tokens: Vec<AdminToken>,
    pub prices: Vec<super::ModelPrice>,
    /// When the server read them, Unix milliseconds (whether a token has expired is decided
    /// against it, so the server and the browser render the same).
    pub read_at: i64,
}

// Declared once: GraphQL's `createAdminUser`, the Settings page and `admin create` all give
// the management service this.
/// A new admin user.
#[derive(Clone, Debug)]
#[cfg_attr(feature = "ssr", derive(async_graphql::InputObject))]
#[cfg_attr(feature = "ssr", graphql(name = "CreateAdminUserInput"))]
pub struct NewAdmin {
    pub email: String,
    /// At least 12 characters.
    #[cfg_attr(feature = "ssr", graphql(secret))]
    pub password: WriteOnly,
    #[cfg_attr(feature = "ssr", graphql(default_with = "AdminRole::Admin"))]
    pub role: AdminRole,
}
