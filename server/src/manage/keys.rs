//! Gateway keys: issue (the secret is returned once), list, revoke with descendants.

use super::{Manage, ManageError};
use crate::{
    gateway_key,
    secrets::Secret,
    store::{now_ms, NewKeyRow},
};
use app::types::GatewayKey;

/// A key to create.
#[derive(Clone, Debug, Default)]
pub struct NewKey {
    /// The gateway's name.
    pub gateway: String,
    pub name: String,
    /// The parent key's public id.
    pub parent: Option<String>,
    pub allowed_models: Option<Vec<String>>,
    pub expires_at: Option<i64>,
}

/// A created key and its secret, which is shown this once (`Debug` redacts it).
#[derive(Debug)]
pub struct CreatedKey {
    pub key: GatewayKey,
    pub secret: Secret,
}

fn invalid(field: &'static str, message: impl Into<String>) -> ManageError {
    ManageError::Invalid {
        field,
        message: message.into(),
    }
}

impl Manage {
    /// Issues a key for a gateway, optionally under a parent key of the same gateway.
    pub async fn create_key(&self, new: NewKey) -> Result<CreatedKey, ManageError> {
        let gateway = self.gateway(&new.gateway).await.map_err(|e| match e {
            ManageError::NotFound => invalid("gateway", format!("no gateway named {:?}", new.gateway)),
            other => other,
        })?;
        let name = new.name.trim();
        if name.is_empty() || name.chars().count() > 100 || name.chars().any(char::is_control) {
            return Err(invalid("name", "must be 1 to 100 characters"));
        }
        let parent = match &new.parent {
            Some(public_id) => {
                let parent = self
                    .store
                    .key_by_public_id(public_id.trim())
                    .await?
                    .ok_or_else(|| invalid("parent", format!("no key with id {public_id:?}")))?;
                if parent.gateway_id != gateway.id {
                    return Err(invalid("parent", "must belong to the same gateway"));
                }
                if parent.revoked_at.is_some() {
                    return Err(invalid("parent", "is revoked"));
                }
                if parent.expires_at.is_some_and(|at| at <= now_ms()) {
                    return Err(invalid("parent", "has expired"));
                }
                Some(parent)
            }
            None => None,
        };
        let allowed: Option<Vec<String>> = new.allowed_models.map(|models| {
            models
                .into_iter()
                .map(|m| m.trim().to_string())
                .filter(|m| !m.is_empty())
                .collect()
        });
        if allowed.as_ref().is_some_and(Vec::is_empty) {
            return Err(invalid("allowed_models", "must name at least one model when given"));
        }
        let now = now_ms();
        if new.expires_at.is_some_and(|at| at <= now) {
            return Err(invalid("expires_at", "must be in the future"));
        }
        // A key cannot outlive its parent.
        let expires_at = match (new.expires_at, parent.as_ref().and_then(|p| p.expires_at)) {
            (Some(own), Some(parents)) => Some(own.min(parents)),
            (own, parents) => own.or(parents),
        };
        let issued = gateway_key::issue(&self.keyring.key_hash_secret);
        let row = NewKeyRow {
            gateway_id: gateway.id,
            parent_id: parent.as_ref().map(|p| p.id),
            name,
            public_id: &issued.public_id,
            secret_hash: &issued.secret_hash,
            masked: &issued.masked,
            allowed_models: allowed.as_deref(),
            expires_at,
            now,
        };
        // The store re-checks the parent in the insert itself (a revocation may have landed
        // since the checks above).
        let key = self
            .store
            .insert_key(&row)
            .await?
            .ok_or_else(|| invalid("parent", "was revoked or expired while the key was being created"))?;
        tracing::info!(key_id = key.id.0, gateway_id = gateway.id.0, public_id = %key.public_id, "gateway key created");
        Ok(CreatedKey {
            key,
            secret: issued.key,
        })
    }

    /// Every key, or the keys of one gateway (by name).
    pub async fn keys(&self, gateway: Option<&str>) -> Result<Vec<GatewayKey>, ManageError> {
        let gateway_id = match gateway {
            Some(name) => Some(self.gateway(name).await?.id),
            None => None,
        };
        Ok(self.store.keys(gateway_id).await?)
    }

    /// Revokes a key (by public id) and all its descendants; returns how many were revoked.
    pub async fn revoke_key(&self, public_id: &str) -> Result<u64, ManageError> {
        let key = self
            .store
            .key_by_public_id(public_id.trim())
            .await?
            .ok_or(ManageError::NotFound)?;
        let revoked = self.store.revoke_key_tree(key.id, now_ms()).await?;
        tracing::info!(key_id = key.id.0, revoked, "gateway key revoked");
        Ok(revoked)
    }
}
