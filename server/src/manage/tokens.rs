//! Admin API tokens (automation's credential for the management API) and the audit log of
//! administrative changes.
//!
//! Invariant: a token is `mgwa_<public id>_<secret>`; only the secret's SHA-256 is stored, and
//! the whole token is returned once, at creation.
//! Invariant: a token acts as its owner, with at most the owner's current role; a disabled
//! owner, an expired or a revoked token authenticates nothing; only a signed-in admin (not a
//! token) creates tokens.
//! Invariant: audit details are built from names and ids only, never from a secret.

use super::{audit::record, Actor, AuditEvent, Manage, ManageError};
use crate::secrets::Secret;
use crate::store::{now_ms, NewTokenRow};
use app::types::{ActorKind, AdminRole, AdminToken, AdminTokenId, AdminUser, Via};
use base64::{engine::general_purpose::URL_SAFE_NO_PAD, Engine as _};
use rand::RngCore;
use sha2::{Digest, Sha256};
use subtle::ConstantTimeEq;

/// What every admin API token starts with.
pub const TOKEN_PREFIX: &str = "mgwa_";
/// A token's last-used time is written at most this often.
const TOUCH_EVERY_MS: i64 = 60_000;

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
        actor.must_write()?;
        let name = super::validate::name("name", name)?;
        // Only a person creates tokens: a token that could mint another (one that outlives it,
        // and survives its revocation) would make revoking a leaked token pointless.
        actor.must_be_person("owner", "create an admin API token")?;
        if expires_at.is_some_and(|at| at <= now_ms()) {
            return Err(ManageError::invalid("expires_at", "is in the past"));
        }
        let mut bytes = [0u8; 9];
        rand::rngs::OsRng.fill_bytes(&mut bytes);
        let public_id = hex::encode(bytes);
        let mut secret = [0u8; 32];
        rand::rngs::OsRng.fill_bytes(&mut secret);
        let secret = URL_SAFE_NO_PAD.encode(secret);
        let mut tx = self.store.begin().await?;
        let token = tx
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
        let event = AuditEvent::TokenCreated {
            id: token.id,
            name: token.name.clone(),
            public_id: token.public_id.clone(),
            role: token.role,
        };
        record(&mut tx, actor, event).await?;
        tx.commit().await?;
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
    pub async fn revoke_admin_token(&self, actor: &Actor, id: AdminTokenId) -> Result<AdminToken, ManageError> {
        actor.must_write()?;
        let mut tx = self.store.begin().await?;
        let token = tx.revoke_admin_token(id, now_ms()).await?;
        let event = AuditEvent::TokenRevoked {
            id,
            name: token.name.clone(),
            public_id: token.public_id.clone(),
        };
        record(&mut tx, actor, event).await?;
        tx.commit().await?;
        Ok(token)
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
            via: Via::Graphql,
        }))
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
