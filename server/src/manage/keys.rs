//! Gateway keys: issue (the secret is returned once), list, change, rotate, reset usage, and
//! revoke with descendants.

use super::{audit::record, Actor, AuditEvent, Manage, ManageError};
use crate::{
    gateway_key,
    secrets::Secret,
    store::{now_ms, KeyFields, LimitOwner, NewKeyRow},
};
use app::types::{Change, GatewayId, GatewayKey, KeyUpdate, NewKey};
use std::time::Duration;

/// How long a rotated-out key keeps working unless the caller says otherwise.
pub const ROTATION_GRACE: Duration = Duration::from_secs(3600);

/// A created key and its secret, which is shown this once (`Debug` redacts it).
#[derive(Debug)]
pub struct CreatedKey {
    pub key: GatewayKey,
    pub secret: Secret,
}

impl Manage {
    /// Issues a key for a gateway, optionally under a parent key of the same gateway.
    pub async fn create_key(&self, actor: &Actor, new: NewKey) -> Result<CreatedKey, ManageError> {
        actor.must_write()?;
        let gateway = self.gateway(new.gateway).await.map_err(|e| match e {
            ManageError::NotFound => ManageError::invalid("gateway_id", "no such gateway"),
            other => other,
        })?;
        let name = new.name.trim();
        if name.is_empty() || name.chars().count() > 100 || name.chars().any(char::is_control) {
            return Err(ManageError::invalid("name", "must be 1 to 100 characters"));
        }
        let parent = match &new.parent {
            Some(public_id) => {
                let parent = self
                    .store
                    .key_by_public_id(public_id.trim())
                    .await?
                    .ok_or_else(|| ManageError::invalid("parent", format!("no key with id {public_id:?}")))?;
                if parent.gateway_id != gateway.id {
                    return Err(ManageError::invalid("parent", "must belong to the same gateway"));
                }
                if parent.revoked_at.is_some() {
                    return Err(ManageError::invalid("parent", "is revoked"));
                }
                if parent.expires_at.is_some_and(|at| at <= now_ms()) {
                    return Err(ManageError::invalid("parent", "has expired"));
                }
                Some(parent)
            }
            None => None,
        };
        let allowed = allowed_models(new.allowed_models)?;
        self.check_new_key_limits(parent.as_ref(), &new.limits).await?;
        let now = now_ms();
        if new.expires_at.is_some_and(|at| at <= now) {
            return Err(ManageError::invalid("expires_at", "must be in the future"));
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
            may_assert_users: new.may_assert_users,
            limits: &new.limits,
            now,
        };
        // The store re-checks the parent in the insert itself (a revocation may have landed
        // since the checks above).
        let mut tx = self.store.begin().await?;
        let key = tx
            .insert_key(&row)
            .await?
            .ok_or_else(|| ManageError::invalid("parent", "was revoked or expired while the key was being created"))?;
        let event = AuditEvent::KeyCreated {
            id: key.id,
            public_id: key.public_id.clone(),
            name: key.name.clone(),
        };
        record(&mut tx, actor, event).await?;
        tx.commit().await?;
        tracing::info!(key_id = key.id.0, gateway_id = gateway.id.0, public_id = %key.public_id, "gateway key created");
        self.changed().await;
        Ok(CreatedKey {
            key,
            secret: issued.key,
        })
    }

    /// Every key, or the keys of one gateway.
    pub async fn keys(&self, gateway: Option<GatewayId>) -> Result<Vec<GatewayKey>, ManageError> {
        Ok(self.store.keys(gateway).await?)
    }

    /// Revokes a key (by public id) and all its descendants; returns how many were revoked.
    pub async fn revoke_key(&self, actor: &Actor, public_id: &str) -> Result<u64, ManageError> {
        actor.must_write()?;
        let key = self.key(public_id).await?;
        let mut tx = self.store.begin().await?;
        let revoked = tx.revoke_key_tree(key.id, now_ms()).await?;
        let event = AuditEvent::KeyRevoked {
            id: key.id,
            public_id: key.public_id.clone(),
            revoked,
        };
        record(&mut tx, actor, event).await?;
        tx.commit().await?;
        tracing::info!(key_id = key.id.0, revoked, "gateway key revoked");
        self.changed().await;
        Ok(revoked)
    }

    /// Deletes a key (by public id) and every key derived from it.
    pub async fn delete_key(&self, actor: &Actor, public_id: &str) -> Result<(), ManageError> {
        actor.must_write()?;
        let key = self.key(public_id).await?;
        let mut tx = self.store.begin().await?;
        tx.delete_key(key.id).await?;
        let event = AuditEvent::KeyDeleted {
            id: key.id,
            public_id: key.public_id.clone(),
        };
        record(&mut tx, actor, event).await?;
        tx.commit().await?;
        tracing::info!(key_id = key.id.0, "gateway key deleted");
        self.changed().await;
        Ok(())
    }

    /// The key with this public id.
    pub async fn key(&self, public_id: &str) -> Result<GatewayKey, ManageError> {
        self.store
            .key_by_public_id(public_id.trim())
            .await?
            .ok_or(ManageError::NotFound)
    }

    /// Changes a key (by public id): name, allowed models, expiry, enabled, limits.
    pub async fn update_key(
        &self,
        actor: &Actor,
        public_id: &str,
        update: KeyUpdate,
    ) -> Result<GatewayKey, ManageError> {
        actor.must_write()?;
        let key = self.key(public_id).await?;
        if key.revoked_at.is_some() {
            return Err(ManageError::invalid("key", "is revoked"));
        }
        let name = update.name.as_deref().unwrap_or(&key.name).trim().to_string();
        if name.is_empty() || name.chars().count() > 100 || name.chars().any(char::is_control) {
            return Err(ManageError::invalid("name", "must be 1 to 100 characters"));
        }
        let allowed = match update.allowed_models {
            Change::Keep => key.allowed_models.clone(),
            Change::Clear => None,
            Change::Set(models) => allowed_models(Some(models))?,
        };
        if matches!(update.expires_at, Change::Set(at) if at <= now_ms()) {
            return Err(ManageError::invalid("expires_at", "must be in the future"));
        }
        let expires_at = update.expires_at.apply(key.expires_at);
        if let Some(limits) = &update.limits {
            self.check_key_limits(&key, limits).await?;
        }
        let fields = KeyFields {
            name: &name,
            allowed_models: allowed.as_deref(),
            expires_at,
            enabled: update.enabled.unwrap_or(key.enabled),
            may_assert_users: update.may_assert_users.unwrap_or(key.may_assert_users),
        };
        let mut tx = self.store.begin().await?;
        if let Some(limits) = &update.limits {
            tx.set_limits(LimitOwner::Key(key.id), limits).await?;
        }
        tx.update_key(key.id, &fields, now_ms()).await?;
        let event = AuditEvent::KeyUpdated {
            id: key.id,
            public_id: key.public_id.clone(),
        };
        record(&mut tx, actor, event).await?;
        tx.commit().await?;
        tracing::info!(key_id = key.id.0, "gateway key changed");
        self.changed().await;
        self.key(&key.public_id).await
    }

    /// Rotates a key: a successor with the same gateway, parent, allowed models, expiry and
    /// limits (its children move under it), while the old key keeps working for `grace`.
    /// Returns the successor with its secret, shown this once.
    pub async fn rotate_key(&self, actor: &Actor, public_id: &str, grace: Duration) -> Result<CreatedKey, ManageError> {
        actor.must_write()?;
        let key = self.key(public_id).await?;
        let issued = gateway_key::issue(&self.keyring.key_hash_secret);
        let now = now_ms();
        let grace_until = now.saturating_add(i64::try_from(grace.as_millis()).unwrap_or(i64::MAX));
        let row = NewKeyRow {
            gateway_id: key.gateway_id,
            parent_id: key.parent_id,
            name: &key.name,
            public_id: &issued.public_id,
            secret_hash: &issued.secret_hash,
            masked: &issued.masked,
            allowed_models: key.allowed_models.as_deref(),
            expires_at: key.expires_at,
            may_assert_users: key.may_assert_users,
            limits: &key.limits,
            now,
        };
        let mut tx = self.store.begin().await?;
        let successor = (tx.rotate_key(key.id, &row, grace_until).await?)
            .ok_or_else(|| ManageError::invalid("key", "is revoked, expired or already rotated out"))?;
        let event = AuditEvent::KeyRotated {
            id: successor.id,
            old_public_id: key.public_id.clone(),
            public_id: successor.public_id.clone(),
            grace_seconds: grace.as_secs(),
        };
        record(&mut tx, actor, event).await?;
        tx.commit().await?;
        tracing::info!(
            key_id = key.id.0,
            successor_id = successor.id.0,
            grace_until,
            "gateway key rotated"
        );
        self.changed().await;
        Ok(CreatedKey {
            key: successor,
            secret: issued.key,
        })
    }

    /// Forgets a key's counted usage in every window (limits start afresh; history stays).
    pub async fn reset_key_usage(&self, actor: &Actor, public_id: &str) -> Result<GatewayKey, ManageError> {
        actor.must_write()?;
        let key = self.key(public_id).await?;
        let mut tx = self.store.begin().await?;
        tx.reset_key_usage(key.id, now_ms()).await?;
        let event = AuditEvent::KeyUsageReset {
            id: key.id,
            public_id: key.public_id.clone(),
        };
        record(&mut tx, actor, event).await?;
        tx.commit().await?;
        tracing::info!(key_id = key.id.0, "gateway key usage reset");
        self.changed().await;
        self.key(&key.public_id).await
    }
}

/// Trims an allowed-model list; an empty list is refused (use `None` for every model).
fn allowed_models(models: Option<Vec<String>>) -> Result<Option<Vec<String>>, ManageError> {
    let allowed: Option<Vec<String>> = models.map(|models| {
        models
            .into_iter()
            .map(|m| m.trim().to_string())
            .filter(|m| !m.is_empty())
            .collect()
    });
    if allowed.as_ref().is_some_and(Vec::is_empty) {
        return Err(ManageError::invalid(
            "allowed_models",
            "must name at least one model when given",
        ));
    }
    Ok(allowed)
}
