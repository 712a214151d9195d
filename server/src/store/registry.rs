//! Reads for the in-memory registry: the configuration revision, every sealed credential, and
//! every key's hash — each in one query.

use super::{Store, StoreError};
use app::types::{EndpointId, KeyId};
use sqlx::Row;
use std::collections::HashMap;

impl Store {
    /// The configuration revision: it moves whenever an endpoint, gateway, link, key or limit
    /// changes (database triggers bump it in the writing transaction).
    pub async fn config_revision(&self) -> Result<i64, StoreError> {
        Ok(sqlx::query_scalar("SELECT revision FROM config_revision WHERE id = 1")
            .fetch_one(&self.reader)
            .await?)
    }

    /// Every endpoint's sealed credential.
    pub async fn sealed_credentials(&self) -> Result<HashMap<EndpointId, Vec<u8>>, StoreError> {
        let rows = sqlx::query(
            "SELECT id, credential_ciphertext FROM inference_endpoints WHERE credential_ciphertext IS NOT NULL",
        )
        .fetch_all(&self.reader)
        .await?;
        rows.iter()
            .map(|row| Ok((EndpointId(row.try_get("id")?), row.try_get("credential_ciphertext")?)))
            .collect::<Result<_, sqlx::Error>>()
            .map_err(StoreError::from)
    }

    /// Every key's stored hash.
    pub async fn key_hashes(&self) -> Result<HashMap<KeyId, String>, StoreError> {
        let rows = sqlx::query("SELECT id, secret_hash FROM gateway_keys")
            .fetch_all(&self.reader)
            .await?;
        rows.iter()
            .map(|row| Ok((KeyId(row.try_get("id")?), row.try_get("secret_hash")?)))
            .collect::<Result<_, sqlx::Error>>()
            .map_err(StoreError::from)
    }
}
