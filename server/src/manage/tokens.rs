//! Admin API tokens (automation's credential for the management API) and the audit log of
//! administrative changes.
//!
//! Invariant: a token is `mgwa_<public id>_<secret>`; only the secret's SHA-256 is stored, and
//! the whole token is returned once, at creation.
//! Invariant: a token acts as its owner, with at most the owner's current role; a disabled
//! owner, an expired or a revoked token authenticates nothing; only a signed-in admin (not a
//! token) creates tokens.
//! Invariant: audit details are built from names and ids only, never from a secret.

use super::{Manage, ManageError};
use crate::secrets::Secret;
use crate::store::{now_ms, NewAudit, NewTokenRow};
use app::types::{ActorKind, AdminRole, AdminToken, AdminTokenId, AdminUser, AdminUserId, AuditEntry};
use base64::{engine::general_purpose::URL_SAFE_NO_PAD, Engine as _};
use rand::RngCore;
use sha2::{Digest, Sha256};
use subtle::ConstantTimeEq;

/// What every admin API token starts with.
pub const TOKEN_PREFIX: &str = "mgwa_";
/// A token's last-used time is written at most this often.
const TOUCH_EVERY_MS: i64 = 60_000;

/// Who is acting: a signed-in admin or an admin API token, with the role it acts with.
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
}

impl Actor {
    /// A signed-in admin acting in person.
    pub fn admin(user: AdminUser) -> Actor {
        Actor {
            kind: ActorKind::Admin,
            role: user.role,
            label: user.email.clone(),
            token: None,
            user,
        }
    }

    /// The command line on the server's machine (the `admin` CLI has the database's keys).
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
        }
    }

    /// Whether it may change things (the `viewer` role only reads).
    pub fn may_write(&self) -> bool {
        match self.role {
            AdminRole::Admin => true,
            AdminRole::Viewer => false,
        }
    }
}

/// A new token: the record and the whole token, shown once.
pub struct CreatedToken {
    pub token: AdminToken,
    pub secret: Secret,
}

fn hash_secret(secret: &str) -> String {
    hex::encode(Sha256::digest(secret.as_bytes()))
}

/// The lesser of two roles.
fn capped(role: AdminRole, cap: AdminRole) -> AdminRole {
    match (role, cap) {
        (AdminRole::Admin, AdminRole::Admin) => AdminRole::Admin,
        (AdminRole::Viewer, _) | (_, AdminRole::Viewer) => AdminRole::Viewer,
    }
}

impl Manage {
    /// Creates an admin API token owned by `actor`'s admin, with at most their role.
    pub async fn create_admin_token(
        &self,
        actor: &Actor,
        name: &str,
        role: AdminRole,
        expires_at: Option<i64>,
    ) -> Result<CreatedToken, ManageError> {
        let name = super::validate::name("name", name)?;
        // Only a person creates tokens: a token that could mint another (one that outlives it,
        // and survives its revocation) would make revoking a leaked token pointless.
        if actor.kind != ActorKind::Admin {
            return Err(ManageError::Invalid {
                field: "owner",
                message: "sign in to create an admin API token; a token cannot create one".into(),
            });
        }
        if expires_at.is_some_and(|at| at <= now_ms()) {
            return Err(ManageError::Invalid {
                field: "expiresAt",
                message: "is in the past".into(),
            });
        }
        let mut bytes = [0u8; 9];
        rand::rngs::OsRng.fill_bytes(&mut bytes);
        let public_id = hex::encode(bytes);
        let mut secret = [0u8; 32];
        rand::rngs::OsRng.fill_bytes(&mut secret);
        let secret = URL_SAFE_NO_PAD.encode(secret);
        let token = self
            .store
            .insert_admin_token(NewTokenRow {
                admin_user_id: actor.user.id,
                name: &name,
                public_id: &public_id,
                token_hash: &hash_secret(&secret),
                role: capped(role, actor.role),
                now: now_ms(),
                expires_at,
            })
            .await?;
        Ok(CreatedToken {
            token,
            secret: Secret::new(format!("{TOKEN_PREFIX}{public_id}_{secret}")),
        })
    }

    /// Every admin API token (never their secrets).
    pub async fn admin_tokens(&self) -> Result<Vec<AdminToken>, ManageError> {
        Ok(self.store.admin_tokens().await?)
    }

    /// Revokes an admin API token; it stops working at once.
    pub async fn revoke_admin_token(&self, id: AdminTokenId) -> Result<AdminToken, ManageError> {
        Ok(self.store.revoke_admin_token(id, now_ms()).await?)
    }

    /// The actor a presented admin API token stands for, if it is valid now.
    pub async fn token_actor(&self, presented: &str) -> Result<Option<Actor>, ManageError> {
        let Some((public_id, secret)) = presented
            .strip_prefix(TOKEN_PREFIX)
            .and_then(|rest| rest.split_once('_'))
        else {
            return Ok(None);
        };
        // Ours are 18 hex digits and 43 characters: anything else cannot match, so skip the query.
        if public_id.len() != 18 || secret.len() != 43 {
            return Ok(None);
        }
        let Some(record) = self.store.admin_token(public_id).await? else {
            return Ok(None);
        };
        let matches: bool = hash_secret(secret)
            .as_bytes()
            .ct_eq(record.token_hash.as_bytes())
            .into();
        let now = now_ms();
        let token = &record.token;
        if !matches
            || record.owner_disabled
            || token.revoked_at.is_some()
            || token.expires_at.is_some_and(|at| at <= now)
        {
            return Ok(None);
        }
        if token
            .last_used_at
            .is_none_or(|at| now.saturating_sub(at) >= TOUCH_EVERY_MS)
        {
            // Best effort: a token is no less valid because its last use could not be noted.
            if let Err(error) = self.store.touch_admin_token(token.id, now).await {
                tracing::warn!(error = %error, "could not note an admin API token's use");
            }
        }
        Ok(Some(Actor {
            kind: ActorKind::ApiToken,
            user: AdminUser {
                id: token.admin_user_id,
                email: record.owner_email.clone(),
                role: record.owner_role,
            },
            token: Some(token.id),
            role: capped(token.role, record.owner_role),
            label: format!("{} ({})", token.name, token.public_id),
        }))
    }

    /// Records that `actor` did `action` to a `target` (kind and id); `details` must hold no
    /// secret. A failure to record is logged, not returned: the change itself is done.
    pub async fn audit(&self, actor: &Actor, action: &str, target: Option<(&str, i64)>, details: serde_json::Value) {
        let actor_id = match actor.kind {
            ActorKind::Admin => Some(actor.user.id.0),
            ActorKind::ApiToken => actor.token.map(|id| id.0),
            ActorKind::Cli | ActorKind::System => None,
        };
        let details = details.to_string();
        let entry = NewAudit {
            now: now_ms(),
            actor_kind: actor.kind,
            actor_id,
            actor_label: &actor.label,
            action,
            target_kind: target.map(|(kind, _)| kind),
            target_id: target.map(|(_, id)| id),
            details: &details,
        };
        if let Err(error) = self.store.insert_audit(entry).await {
            tracing::error!(error = %error, action, "audit entry not written");
        }
    }

    /// Audit entries before entry `before`, newest first.
    pub async fn audit_log(&self, before: Option<i64>, limit: i64) -> Result<Vec<AuditEntry>, ManageError> {
        Ok(self.store.audit_entries(before, limit.clamp(1, 1000)).await?)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_token_never_acts_above_its_owner() {
        assert_eq!(capped(AdminRole::Admin, AdminRole::Admin), AdminRole::Admin);
        assert_eq!(capped(AdminRole::Admin, AdminRole::Viewer), AdminRole::Viewer);
        assert_eq!(capped(AdminRole::Viewer, AdminRole::Admin), AdminRole::Viewer);
    }
}
