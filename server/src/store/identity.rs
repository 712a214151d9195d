//! End users' identity providers (issue #23): the issuers whose tokens each gateway accepts.
//! Lists (audiences, algorithms, required claims) and the key source are JSON columns.
//!
//! Invariant: an HS256 secret is never stored — only the name of the environment variable
//! that holds it.

use super::{found, Store, StoreError, Tx};
use app::types::{GatewayId, IdentityProvider, IdentityProviderId, JwtAlgorithm, KeySource, NewIdentityProvider};
use serde::{de::DeserializeOwned, Serialize};
use sqlx::{any::AnyRow, Row};

fn json<T: DeserializeOwned>(row: &AnyRow, column: &str) -> Result<T, sqlx::Error> {
    let text: String = row.try_get(column)?;
    serde_json::from_str(&text).map_err(|e| sqlx::Error::Decode(format!("{column}: {e}").into()))
}

fn text<T: Serialize>(value: &T) -> String {
    // Plain data: serialising it cannot fail.
    serde_json::to_string(value).unwrap_or_default()
}

fn provider(row: &AnyRow) -> Result<IdentityProvider, sqlx::Error> {
    let algorithms: Vec<JwtAlgorithm> = json(row, "algorithms")?;
    let keys: KeySource = json(row, "keys")?;
    Ok(IdentityProvider {
        id: IdentityProviderId(row.try_get("id")?),
        gateway_id: GatewayId(row.try_get("gateway_id")?),
        issuer: row.try_get("issuer")?,
        audiences: json(row, "audiences")?,
        keys,
        algorithms,
        leeway_s: row.try_get("leeway_s")?,
        required_claims: json(row, "required_claims")?,
        created_at: row.try_get("created_at")?,
    })
}

impl Store {
    /// Every identity provider, by gateway and issuer.
    pub async fn identity_providers(&self) -> Result<Vec<IdentityProvider>, StoreError> {
        let rows = sqlx::query("SELECT * FROM identity_providers ORDER BY gateway_id, issuer, id")
            .fetch_all(&self.reader)
            .await?;
        Ok(rows.iter().map(provider).collect::<Result<_, _>>()?)
    }
}

impl Tx {
    /// Adds an identity provider (checked); `Conflict` when its gateway has one for that issuer.
    pub async fn insert_identity_provider(
        &mut self,
        new: &NewIdentityProvider,
        now: i64,
    ) -> Result<IdentityProviderId, StoreError> {
        let row = sqlx::query(
            "INSERT INTO identity_providers (gateway_id, issuer, audiences, keys, algorithms, leeway_s, \
             required_claims, created_at) VALUES ($1, $2, $3, $4, $5, $6, $7, $8) RETURNING id",
        )
        .bind(new.gateway_id.0)
        .bind(&new.issuer)
        .bind(text(&new.audiences))
        .bind(text(&new.keys))
        .bind(text(&new.algorithms))
        .bind(new.leeway_s)
        .bind(text(&new.required_claims))
        .bind(now)
        .fetch_one(self.conn())
        .await?;
        Ok(IdentityProviderId(row.try_get("id")?))
    }

    /// Removes an identity provider; `NotFound` when there is none with this id.
    pub async fn delete_identity_provider(&mut self, id: IdentityProviderId) -> Result<(), StoreError> {
        let done = sqlx::query("DELETE FROM identity_providers WHERE id = $1")
            .bind(id.0)
            .execute(self.conn())
            .await?;
        found(done.rows_affected())
    }
}
