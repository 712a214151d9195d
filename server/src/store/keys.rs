//! Gateway keys.
//!
//! Invariant: revoking a key revokes its whole subtree in one statement (a recursive query
//! that SQLite and Postgres both run).

use super::{flag, found, LimitScope, Store, StoreError, Tx};
use app::types::{GatewayId, GatewayKey, KeyId, Limit};
use sqlx::{any::AnyRow, Row};

/// A key to store.
pub struct NewKeyRow<'a> {
    pub gateway_id: GatewayId,
    pub parent_id: Option<KeyId>,
    pub name: &'a str,
    pub public_id: &'a str,
    pub secret_hash: &'a str,
    pub masked: &'a str,
    pub allowed_models: Option<&'a [String]>,
    pub expires_at: Option<i64>,
    pub may_assert_users: bool,
    /// Its limits, stored in the same transaction.
    pub limits: &'a [Limit],
    pub now: i64,
}

const COLUMNS: &str = "id, gateway_id, parent_id, name, public_id, masked, allowed_models, expires_at, enabled, \
                       revoked_at, rotated_from, grace_until, usage_reset_at, may_assert_users, created_at";

fn key(row: &AnyRow) -> Result<GatewayKey, sqlx::Error> {
    let allowed: Option<String> = row.try_get("allowed_models")?;
    Ok(GatewayKey {
        id: KeyId(row.try_get("id")?),
        gateway_id: GatewayId(row.try_get("gateway_id")?),
        parent_id: row.try_get::<Option<i64>, _>("parent_id")?.map(KeyId),
        name: row.try_get("name")?,
        public_id: row.try_get("public_id")?,
        masked: row.try_get("masked")?,
        allowed_models: allowed
            .map(|json| serde_json::from_str(&json))
            .transpose()
            .map_err(|e| sqlx::Error::Decode(format!("allowed_models: {e}").into()))?,
        expires_at: row.try_get("expires_at")?,
        enabled: flag(row, "enabled")?,
        revoked_at: row.try_get("revoked_at")?,
        rotated_from: row.try_get::<Option<i64>, _>("rotated_from")?.map(KeyId),
        grace_until: row.try_get("grace_until")?,
        usage_reset_at: row.try_get("usage_reset_at")?,
        limits: Vec::new(),
        may_assert_users: flag(row, "may_assert_users")?,
        created_at: row.try_get("created_at")?,
    })
}

impl Store {
    /// Every key, or a gateway's keys, oldest first.
    pub async fn keys(&self, gateway: Option<GatewayId>) -> Result<Vec<GatewayKey>, StoreError> {
        let rows = match gateway {
            Some(id) => {
                sqlx::query(&format!(
                    "SELECT {COLUMNS} FROM gateway_keys WHERE gateway_id = $1 ORDER BY id"
                ))
                .bind(id.0)
                .fetch_all(&self.reader)
                .await?
            }
            None => {
                sqlx::query(&format!("SELECT {COLUMNS} FROM gateway_keys ORDER BY id"))
                    .fetch_all(&self.reader)
                    .await?
            }
        };
        let mut keys: Vec<GatewayKey> = rows.iter().map(key).collect::<Result<_, _>>()?;
        let mut limits = self.limits_by_scope().await?;
        for key in &mut keys {
            key.limits = limits.remove(&LimitScope::Key(key.id)).unwrap_or_default();
        }
        Ok(keys)
    }

    /// The key with this public id.
    pub async fn key_by_public_id(&self, public_id: &str) -> Result<Option<GatewayKey>, StoreError> {
        let row = sqlx::query(&format!("SELECT {COLUMNS} FROM gateway_keys WHERE public_id = $1"))
            .bind(public_id)
            .fetch_optional(&self.reader)
            .await?;
        let Some(mut found) = row.map(|row| key(&row)).transpose()? else {
            return Ok(None);
        };
        found.limits = self
            .limits_by_scope()
            .await?
            .remove(&LimitScope::Key(found.id))
            .unwrap_or_default();
        Ok(Some(found))
    }
}

/// A key's changeable fields, as stored.
pub struct KeyFields<'a> {
    pub name: &'a str,
    pub allowed_models: Option<&'a [String]>,
    pub expires_at: Option<i64>,
    pub enabled: bool,
    pub may_assert_users: bool,
}

impl Tx {
    /// Stores a new key. With a parent, only while that parent is in the same gateway, not
    /// revoked and not expired — checked in the same statement as the insert, so a concurrent
    /// revocation cannot slip a live child under a revoked parent. `None` when it is not.
    pub async fn insert_key(&mut self, new: &NewKeyRow<'_>) -> Result<Option<GatewayKey>, StoreError> {
        let allowed = new
            .allowed_models
            .map(|models| serde_json::to_string(models).unwrap_or_else(|_| "[]".into()));
        let row = sqlx::query(&format!(
            "INSERT INTO gateway_keys (gateway_id, parent_id, name, public_id, secret_hash, masked, allowed_models, \
             expires_at, may_assert_users, created_at, updated_at) SELECT $1, $2, $3, $4, $5, $6, $7, $8, $10, $9, $9 \
             WHERE $2 IS NULL OR EXISTS (SELECT 1 FROM gateway_keys p WHERE p.id = $2 AND p.gateway_id = $1 \
                 AND p.revoked_at IS NULL AND (p.expires_at IS NULL OR p.expires_at > $9)) \
             RETURNING {COLUMNS}"
        ))
        .bind(new.gateway_id.0)
        .bind(new.parent_id.map(|id| id.0))
        .bind(new.name)
        .bind(new.public_id)
        .bind(new.secret_hash)
        .bind(new.masked)
        .bind(allowed)
        .bind(new.expires_at)
        .bind(new.now)
        .bind(i64::from(new.may_assert_users))
        .fetch_optional(self.conn())
        .await?;
        let Some(mut created) = row.map(|row| key(&row)).transpose()? else {
            return Ok(None);
        };
        super::limits::insert_limits(self.conn(), super::LimitOwner::Key(created.id), new.limits).await?;
        created.limits = new.limits.to_vec();
        created.limits.sort_by_key(|l| (l.metric, l.period));
        Ok(Some(created))
    }

    /// Deletes a key; its descendants and limits go with it (cascade). Its request logs and
    /// usage history stay (they name the key by id, without a reference).
    pub async fn delete_key(&mut self, id: KeyId) -> Result<(), StoreError> {
        let done = sqlx::query("DELETE FROM gateway_keys WHERE id = $1")
            .bind(id.0)
            .execute(self.conn())
            .await?;
        found(done.rows_affected())
    }

    /// Revokes a key and every descendant not yet revoked, and the keys they were rotated from
    /// (still working in their grace period: a key rotated because it leaked must not outlive the
    /// revocation); returns how many were revoked.
    pub async fn revoke_key_tree(&mut self, id: KeyId, now: i64) -> Result<u64, StoreError> {
        let done = sqlx::query(
            "WITH RECURSIVE tree(id) AS ( \
                 SELECT id FROM gateway_keys WHERE id = $1 \
                 UNION SELECT k.id FROM gateway_keys k JOIN tree t ON k.parent_id = t.id \
                     OR k.id = (SELECT s.rotated_from FROM gateway_keys s WHERE s.id = t.id)) \
             UPDATE gateway_keys SET revoked_at = $2, updated_at = $2 \
             WHERE id IN (SELECT id FROM tree) AND revoked_at IS NULL",
        )
        .bind(id.0)
        .bind(now)
        .execute(self.conn())
        .await?;
        Ok(done.rows_affected())
    }

    /// Writes a key's changeable fields.
    pub async fn update_key(&mut self, id: KeyId, fields: &KeyFields<'_>, now: i64) -> Result<(), StoreError> {
        let allowed = fields
            .allowed_models
            .map(|models| serde_json::to_string(models).unwrap_or_else(|_| "[]".into()));
        let done = sqlx::query(
            "UPDATE gateway_keys SET name = $2, allowed_models = $3, expires_at = $4, enabled = $5, updated_at = $6, \
             may_assert_users = $7 WHERE id = $1",
        )
        .bind(id.0)
        .bind(fields.name)
        .bind(allowed)
        .bind(fields.expires_at)
        .bind(i64::from(fields.enabled))
        .bind(now)
        .bind(i64::from(fields.may_assert_users))
        .execute(self.conn())
        .await?;
        found(done.rows_affected())
    }

    /// Rotates key `old`: stores `successor` (same gateway, parent, allowed models, expiry and
    /// limits), moves `old`'s children under it, and lets `old` work until `grace_until` — all
    /// in one transaction, and only while `old` is live. `None` when it is not.
    pub async fn rotate_key(
        &mut self,
        old: KeyId,
        successor: &NewKeyRow<'_>,
        grace_until: i64,
    ) -> Result<Option<GatewayKey>, StoreError> {
        let now = successor.now;
        let retired = sqlx::query(
            "UPDATE gateway_keys SET grace_until = $2, updated_at = $3 WHERE id = $1 AND revoked_at IS NULL \
             AND (grace_until IS NULL OR grace_until > $3) AND (expires_at IS NULL OR expires_at > $3)",
        )
        .bind(old.0)
        .bind(grace_until)
        .bind(now)
        .execute(self.conn())
        .await?;
        if retired.rows_affected() == 0 {
            return Ok(None);
        }
        let row = sqlx::query(&format!(
            "INSERT INTO gateway_keys (gateway_id, parent_id, name, public_id, secret_hash, masked, allowed_models, \
             expires_at, enabled, may_assert_users, rotated_from, created_at, updated_at) \
             SELECT gateway_id, parent_id, name, $2, $3, $4, allowed_models, expires_at, enabled, may_assert_users, \
             id, $5, $5 \
             FROM gateway_keys WHERE id = $1 RETURNING {COLUMNS}"
        ))
        .bind(old.0)
        .bind(successor.public_id)
        .bind(successor.secret_hash)
        .bind(successor.masked)
        .bind(now)
        .fetch_one(self.conn())
        .await?;
        let mut created = key(&row)?;
        sqlx::query(
            "INSERT INTO limits (key_id, metric, period, max_value) \
             SELECT $2, metric, period, max_value FROM limits WHERE key_id = $1",
        )
        .bind(old.0)
        .bind(created.id.0)
        .execute(self.conn())
        .await?;
        sqlx::query("UPDATE gateway_keys SET parent_id = $2, updated_at = $3 WHERE parent_id = $1 AND id <> $2")
            .bind(old.0)
            .bind(created.id.0)
            .bind(now)
            .execute(self.conn())
            .await?;
        created.limits = successor.limits.to_vec();
        created.limits.sort_by_key(|l| (l.metric, l.period));
        Ok(Some(created))
    }

    /// Forgets a key's counted usage in every window (its hourly history stays), and marks the
    /// time so running servers zero their in-memory counters too.
    pub async fn reset_key_usage(&mut self, id: KeyId, now: i64) -> Result<(), StoreError> {
        let done = sqlx::query("UPDATE gateway_keys SET usage_reset_at = $2, updated_at = $2 WHERE id = $1")
            .bind(id.0)
            .bind(now)
            .execute(self.conn())
            .await?;
        found(done.rows_affected())?;
        sqlx::query("DELETE FROM usage_counters WHERE scope = 'key' AND scope_id = $1")
            .bind(id.0)
            .execute(self.conn())
            .await?;
        Ok(())
    }
}
