//! Gateway keys.
//!
//! Invariant: revoking a key revokes its whole subtree in one statement (a recursive query
//! that SQLite and Postgres both run).

use super::{flag, Store, StoreError};
use app::types::{GatewayId, GatewayKey, KeyId};
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
    pub now: i64,
}

const COLUMNS: &str =
    "id, gateway_id, parent_id, name, public_id, masked, allowed_models, expires_at, enabled, revoked_at, created_at";

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
        created_at: row.try_get("created_at")?,
    })
}

impl Store {
    /// Stores a new key. With a parent, only while that parent is in the same gateway, not
    /// revoked and not expired — checked in the same statement as the insert, so a concurrent
    /// revocation cannot slip a live child under a revoked parent. `None` when it is not.
    pub async fn insert_key(&self, new: &NewKeyRow<'_>) -> Result<Option<GatewayKey>, StoreError> {
        let allowed = new
            .allowed_models
            .map(|models| serde_json::to_string(models).unwrap_or_else(|_| "[]".into()));
        let row = sqlx::query(&format!(
            "INSERT INTO gateway_keys (gateway_id, parent_id, name, public_id, secret_hash, masked, allowed_models, \
             expires_at, created_at, updated_at) SELECT $1, $2, $3, $4, $5, $6, $7, $8, $9, $9 \
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
        .fetch_optional(&self.writer)
        .await?;
        Ok(row.map(|row| key(&row)).transpose()?)
    }

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
        Ok(rows.iter().map(key).collect::<Result<_, _>>()?)
    }

    /// The key with this public id.
    pub async fn key_by_public_id(&self, public_id: &str) -> Result<Option<GatewayKey>, StoreError> {
        let row = sqlx::query(&format!("SELECT {COLUMNS} FROM gateway_keys WHERE public_id = $1"))
            .bind(public_id)
            .fetch_optional(&self.reader)
            .await?;
        Ok(row.map(|row| key(&row)).transpose()?)
    }

    /// Revokes a key and every descendant not yet revoked; returns how many were revoked.
    pub async fn revoke_key_tree(&self, id: KeyId, now: i64) -> Result<u64, StoreError> {
        let done = sqlx::query(
            "WITH RECURSIVE tree(id) AS ( \
                 SELECT id FROM gateway_keys WHERE id = $1 \
                 UNION ALL SELECT k.id FROM gateway_keys k JOIN tree t ON k.parent_id = t.id) \
             UPDATE gateway_keys SET revoked_at = $2, updated_at = $2 \
             WHERE id IN (SELECT id FROM tree) AND revoked_at IS NULL",
        )
        .bind(id.0)
        .bind(now)
        .execute(&self.writer)
        .await?;
        Ok(done.rows_affected())
    }
}
