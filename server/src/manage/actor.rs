//! Who acts: every management operation that changes something takes an [`Actor`], checks
//! what it may do, and records it in the audit log.
//!
//! Invariant: the permission rule lives here and nowhere else — transports (GraphQL, the
//! console, the CLI) build an actor and pass it; they never compare roles themselves.

use super::ManageError;
use app::types::{ActorKind, AdminRole, AdminTokenId, AdminUser, AdminUserId, Via};

/// Who is acting: a signed-in admin, an admin API token or the local command line, with the
/// role it acts with and the way it came.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Actor {
    pub kind: ActorKind,
    /// The admin user acting (a token's owner).
    pub user: AdminUser,
    /// The token, when one is acting.
    pub token: Option<AdminTokenId>,
    /// What it may do: a token's role, capped by its owner's.
    pub role: AdminRole,
    /// For the audit log: the admin's e-mail address, or the token's name and public id.
    pub label: String,
    /// The way the change came.
    pub via: Via,
}

impl Actor {
    /// A signed-in admin acting in person, through the console or GraphQL.
    pub fn admin(user: AdminUser, via: Via) -> Actor {
        Actor {
            kind: ActorKind::Admin,
            role: user.role,
            label: user.email.clone(),
            token: None,
            user,
            via,
        }
    }

    /// The command line on the server's machine: a local operator, who has the database's keys
    /// and so every permission.
    pub fn cli() -> Actor {
        Actor {
            kind: ActorKind::Cli,
            user: AdminUser {
                id: AdminUserId(0),
                email: String::new(),
                role: AdminRole::Admin,
            },
            token: None,
            role: AdminRole::Admin,
            label: "cli".into(),
            via: Via::Cli,
        }
    }

    /// Whether it may change things (the `viewer` role only reads).
    pub fn may_write(&self) -> bool {
        match self.role {
            AdminRole::Admin => true,
            AdminRole::Viewer => false,
        }
    }

    /// Whether it may send requests from the console's playground: they cost money and count
    /// against gateways' limits, so they are a change, not a read.
    pub fn may_use_playground(&self) -> bool {
        self.may_write()
    }

    /// Refuses an actor that may not change things.
    pub(super) fn must_write(&self) -> Result<(), ManageError> {
        if self.may_write() {
            Ok(())
        } else {
            Err(ManageError::Forbidden)
        }
    }

    /// Refuses anyone but an admin acting in person (a token acts for its owner, but cannot
    /// change its owner's password or mint tokens).
    pub(super) fn must_be_person(&self, field: &'static str, what: &str) -> Result<(), ManageError> {
        match self.kind {
            ActorKind::Admin => Ok(()),
            ActorKind::ApiToken | ActorKind::Cli | ActorKind::System => Err(ManageError::invalid(
                field,
                format!("sign in to {what}; a token cannot"),
            )),
        }
    }

    /// The id the audit log records: the admin's, or the token's.
    pub(super) fn audit_id(&self) -> Option<i64> {
        match self.kind {
            ActorKind::Admin => Some(self.user.id.0),
            ActorKind::ApiToken => self.token.map(|id| id.0),
            ActorKind::Cli | ActorKind::System => None,
        }
    }
}
