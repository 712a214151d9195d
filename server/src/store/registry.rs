//! Reads for the in-memory registry: the configuration revision, every sealed credential, and
//! every key's hash — each in one query; and, on Postgres, the notices sent when the
//! configuration changes (migration 0009), so that every server reloads at once.

use super::{Store, StoreError};
use app::types::{EndpointId, KeyId};
use sqlx::Row;
use std::{collections::HashMap, time::Duration};

/// The channel the configuration triggers notify (migration 0009).
const CONFIG_CHANNEL: &str = "mgw_config";

/// A configuration notice, or the news that some may have been missed.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Notice {
    /// The configuration changed: the revision it moved to.
    Changed(i64),
    /// The listener lost its connection, so changes may have gone unheard; it reconnects on the
    /// next call.
    Missed,
}

/// Notices of configuration changes, from a connection of their own (Postgres).
pub struct ConfigNotices(sqlx::postgres::PgListener);

impl ConfigNotices {
    /// The next notice. Waits while there is none; after a failed reconnection it waits a
    /// second before saying so, so a database that is away is not hammered.
    pub async fn next(&mut self) -> Notice {
        match self.0.try_recv().await {
            Ok(Some(notice)) => notice.payload().parse().map_or(Notice::Missed, Notice::Changed),
            Ok(None) => Notice::Missed,
            Err(error) => {
                tracing::debug!(%error, "configuration listener cannot reconnect yet");
                tokio::time::sleep(Duration::from_secs(1)).await;
                Notice::Missed
            }
        }
    }
}

impl Store {
    /// Listens for configuration notices; `None` on SQLite, where one process owns the
    /// database and hears its own changes.
    pub async fn config_notices(&self) -> Result<Option<ConfigNotices>, StoreError> {
        let Some(url) = &self.listen_url else {
            return Ok(None);
        };
        let mut listener = sqlx::postgres::PgListener::connect(url.expose()).await?;
        listener.listen(CONFIG_CHANNEL).await?;
        Ok(Some(ConfigNotices(listener)))
    }

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
