//! Inference endpoints.
//!
//! Invariant: the sealed credential is written here and read only by
//! `Store::sealed_credentials` (for the registry); listings never select it.

use super::{flag, found, AnyQuery, Store, StoreError, Tx};
use app::types::{EndpointId, InferenceEndpoint, ProviderKind, Timeouts};
use sqlx::{any::AnyRow, Row};

/// Every column an admin can set on an endpoint, for inserts and updates alike.
pub struct EndpointFields<'a> {
    pub name: &'a str,
    pub provider: ProviderKind,
    pub base_url: &'a str,
    pub model: &'a str,
    pub deployment: Option<&'a str>,
    pub api_version: Option<&'a str>,
    pub project: Option<&'a str>,
    pub region: Option<&'a str>,
    pub rpm_limit: Option<i64>,
    pub tpm_limit: Option<i64>,
    pub timeouts: Timeouts,
    pub enabled: bool,
}

/// What to do with the stored credential on an update.
pub enum CredentialChange {
    Keep,
    Set(Vec<u8>),
    Clear,
}

const COLUMNS: &str =
    "id, name, provider, base_url, model, deployment, api_version, project, region, rpm_limit, tpm_limit, \
     connect_timeout_ms, first_byte_timeout_ms, idle_timeout_ms, total_timeout_ms, enabled, \
     CASE WHEN credential_ciphertext IS NULL THEN 0 ELSE 1 END AS has_credential, created_at, updated_at";

/// Binds the fields as `$1` to `$15`, in the order both the insert and the update name them.
fn bind_fields<'q>(query: AnyQuery<'q>, fields: &EndpointFields<'q>) -> AnyQuery<'q> {
    query
        .bind(fields.name)
        .bind(fields.provider.as_str())
        .bind(fields.base_url)
        .bind(fields.model)
        .bind(fields.deployment)
        .bind(fields.api_version)
        .bind(fields.region)
        .bind(fields.rpm_limit)
        .bind(fields.tpm_limit)
        .bind(fields.timeouts.connect_ms)
        .bind(fields.timeouts.first_byte_ms)
        .bind(fields.timeouts.idle_ms)
        .bind(fields.timeouts.total_ms)
        .bind(i64::from(fields.enabled))
        .bind(fields.project)
}

fn endpoint(row: &AnyRow) -> Result<InferenceEndpoint, sqlx::Error> {
    let provider: String = row.try_get("provider")?;
    Ok(InferenceEndpoint {
        id: EndpointId(row.try_get("id")?),
        name: row.try_get("name")?,
        provider: ProviderKind::parse(&provider)
            .ok_or_else(|| sqlx::Error::Decode(format!("unknown provider {provider:?}").into()))?,
        base_url: row.try_get("base_url")?,
        model: row.try_get("model")?,
        deployment: row.try_get("deployment")?,
        api_version: row.try_get("api_version")?,
        project: row.try_get("project")?,
        region: row.try_get("region")?,
        rpm_limit: row.try_get("rpm_limit")?,
        tpm_limit: row.try_get("tpm_limit")?,
        timeouts: Timeouts {
            connect_ms: row.try_get("connect_timeout_ms")?,
            first_byte_ms: row.try_get("first_byte_timeout_ms")?,
            idle_ms: row.try_get("idle_timeout_ms")?,
            total_ms: row.try_get("total_timeout_ms")?,
        },
        enabled: flag(row, "enabled")?,
        has_credential: flag(row, "has_credential")?,
        created_at: row.try_get("created_at")?,
        updated_at: row.try_get("updated_at")?,
    })
}

impl Store {
    /// Every endpoint, by name.
    pub async fn endpoints(&self) -> Result<Vec<InferenceEndpoint>, StoreError> {
        let rows = sqlx::query(&format!("SELECT {COLUMNS} FROM inference_endpoints ORDER BY name"))
            .fetch_all(&self.reader)
            .await?;
        Ok(rows.iter().map(endpoint).collect::<Result<_, _>>()?)
    }

    /// The endpoint with this name.
    pub async fn endpoint_by_name(&self, name: &str) -> Result<Option<InferenceEndpoint>, StoreError> {
        let row = sqlx::query(&format!("SELECT {COLUMNS} FROM inference_endpoints WHERE name = $1"))
            .bind(name)
            .fetch_optional(&self.reader)
            .await?;
        Ok(row.map(|row| endpoint(&row)).transpose()?)
    }

    /// The endpoint with this id.
    pub async fn endpoint(&self, id: EndpointId) -> Result<Option<InferenceEndpoint>, StoreError> {
        let row = sqlx::query(&format!("SELECT {COLUMNS} FROM inference_endpoints WHERE id = $1"))
            .bind(id.0)
            .fetch_optional(&self.reader)
            .await?;
        Ok(row.map(|row| endpoint(&row)).transpose()?)
    }

    /// The names of the gateways that route to an endpoint.
    pub async fn gateways_using(&self, id: EndpointId) -> Result<Vec<String>, StoreError> {
        Ok(sqlx::query_scalar(
            "SELECT g.name FROM gateway_endpoints ge JOIN gateways g ON g.id = ge.gateway_id \
             WHERE ge.endpoint_id = $1 ORDER BY g.name",
        )
        .bind(id.0)
        .fetch_all(&self.reader)
        .await?)
    }
}

impl Tx {
    /// Adds an endpoint; `Conflict` when the name is taken.
    pub async fn insert_endpoint(
        &mut self,
        fields: &EndpointFields<'_>,
        credential: Option<&[u8]>,
        now: i64,
    ) -> Result<InferenceEndpoint, StoreError> {
        let sql = format!(
            "INSERT INTO inference_endpoints (name, provider, base_url, model, deployment, api_version, region, \
             rpm_limit, tpm_limit, connect_timeout_ms, first_byte_timeout_ms, idle_timeout_ms, total_timeout_ms, \
             enabled, project, credential_ciphertext, created_at, updated_at) \
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15, $16, $17, $17) RETURNING {COLUMNS}"
        );
        let row = bind_fields(sqlx::query(&sql), fields)
            .bind(credential)
            .bind(now)
            .fetch_one(self.conn())
            .await?;
        Ok(endpoint(&row)?)
    }

    /// Replaces an endpoint's fields (and its credential, as `credential` says).
    pub async fn update_endpoint(
        &mut self,
        id: EndpointId,
        fields: &EndpointFields<'_>,
        credential: CredentialChange,
        now: i64,
    ) -> Result<InferenceEndpoint, StoreError> {
        let (set_credential, value) = match credential {
            CredentialChange::Keep => (false, None),
            CredentialChange::Set(blob) => (true, Some(blob)),
            CredentialChange::Clear => (true, None),
        };
        let sql = format!(
            "UPDATE inference_endpoints SET name = $1, provider = $2, base_url = $3, model = $4, deployment = $5, \
             api_version = $6, region = $7, rpm_limit = $8, tpm_limit = $9, connect_timeout_ms = $10, \
             first_byte_timeout_ms = $11, idle_timeout_ms = $12, total_timeout_ms = $13, enabled = $14, \
             project = $15, credential_ciphertext = CASE WHEN $16 = 1 THEN $17 ELSE credential_ciphertext END, \
             updated_at = $18 WHERE id = $19 RETURNING {COLUMNS}"
        );
        let row = bind_fields(sqlx::query(&sql), fields)
            .bind(i64::from(set_credential))
            .bind(value)
            .bind(now)
            .bind(id.0)
            .fetch_optional(self.conn())
            .await?;
        row.map(|row| endpoint(&row)).transpose()?.ok_or(StoreError::NotFound)
    }

    /// Deletes an endpoint; `Conflict` while a gateway routes to it.
    pub async fn delete_endpoint(&mut self, id: EndpointId) -> Result<(), StoreError> {
        let done = sqlx::query("DELETE FROM inference_endpoints WHERE id = $1")
            .bind(id.0)
            .execute(self.conn())
            .await?;
        found(done.rows_affected())?;
        Ok(())
    }
}
