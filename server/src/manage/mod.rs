//! The management service: the business rules behind every administrative operation, used by
//! the console's server functions, the CLI and (later) GraphQL alike.
//!
//! Does not: speak HTTP, or build SQL (that is `store`).

mod admins;
pub mod endpoints;
mod gateways;
mod keys;
pub mod limits;
mod password;
mod throttle;
mod tokens;
mod validate;

pub use admins::{NewAdmin, SessionPolicy, SignedIn};
pub use endpoints::{validate_base_url, EndpointUpdate, NewEndpoint};
pub use gateways::{EndpointChoice, GatewayUpdate, NewGateway};
pub use keys::{CreatedKey, KeyUpdate, NewKey};
pub use throttle::LoginThrottle;
pub use tokens::{Actor, CreatedToken, TOKEN_PREFIX};

use crate::{
    secrets::Keyring,
    store::{Store, StoreError},
};
use std::{sync::Arc, time::Duration};

/// A management operation that failed, in terms a caller can act on.
#[derive(Debug, thiserror::Error)]
pub enum ManageError {
    #[error("not found")]
    NotFound,
    #[error("{field}: {message}")]
    Invalid { field: &'static str, message: String },
    #[error("conflict: {0}")]
    Conflict(String),
    #[error("unauthorized")]
    Unauthorized,
    #[error("too many attempts; retry in {} s", retry_after.as_secs())]
    Throttled { retry_after: Duration },
    #[error("internal error (ref {ref_id})")]
    Internal { ref_id: String },
}

impl ManageError {
    /// Logs an internal failure once, here at the boundary, and hides it behind a reference
    /// that the caller can quote.
    pub fn internal(error: impl std::fmt::Display) -> Self {
        let ref_id = format!("{:08x}", rand::random::<u32>());
        tracing::error!(ref_id = %ref_id, error = %error, "internal error");
        ManageError::Internal { ref_id }
    }

    /// A refused value of `field`.
    pub fn invalid(field: &'static str, message: impl Into<String>) -> Self {
        ManageError::Invalid {
            field,
            message: message.into(),
        }
    }
}

/// Maps a store error, saying `message` when a unique value (a name, an e-mail) is taken.
fn already_exists(message: String) -> impl FnOnce(StoreError) -> ManageError {
    move |error| match error {
        StoreError::Conflict(_) => ManageError::Conflict(message),
        other => ManageError::from(other),
    }
}

impl From<StoreError> for ManageError {
    fn from(error: StoreError) -> Self {
        match error {
            StoreError::NotFound => ManageError::NotFound,
            StoreError::Conflict(what) => ManageError::Conflict(what),
            // Checked before writing; reached only when something changed concurrently.
            StoreError::Reference(_) => {
                ManageError::Conflict("something it refers to was changed or removed meanwhile; try again".into())
            }
            other @ (StoreError::Db(_) | StoreError::Migrate(_)) => ManageError::internal(other),
        }
    }
}

/// The management service. Cheap to clone.
#[derive(Clone)]
pub struct Manage {
    store: Store,
    keyring: Arc<Keyring>,
    sessions: SessionPolicy,
    throttle: Arc<LoginThrottle>,
    /// The serving process's registry, refreshed by every mutation before it returns.
    registry: Arc<std::sync::OnceLock<Arc<crate::proxy::registry::Registry>>>,
}

impl Manage {
    /// A service over `store`, sealing credentials and hashing keys with `keyring`.
    pub fn new(store: Store, keyring: Arc<Keyring>, sessions: SessionPolicy) -> Self {
        Manage {
            store,
            keyring,
            sessions,
            throttle: Arc::new(LoginThrottle::default()),
            registry: Arc::default(),
        }
    }

    /// Makes every later configuration change refresh `registry` before it returns, so this
    /// process serves the change from its very next request (C-06). Other processes see it
    /// when they next poll.
    pub fn attach_registry(&self, registry: Arc<crate::proxy::registry::Registry>) {
        let _ = self.registry.set(registry);
    }

    /// Brings the attached registry up to date after a change. A failure is logged: the
    /// change is stored, and the poller retries within a second.
    async fn changed(&self) {
        if let Some(registry) = self.registry.get() {
            if let Err(error) = registry.refresh(self).await {
                tracing::warn!(error = %error, "registry refresh after a change failed; the poller will retry");
            }
        }
    }

    /// The store, for health checks.
    pub fn store(&self) -> &Store {
        &self.store
    }

    /// Counts for the dashboard.
    pub async fn overview(&self) -> Result<app::types::Overview, ManageError> {
        Ok(self.store.overview().await?)
    }

    /// The most recent request logs, newest first (the log pages and GraphQL build on this).
    pub async fn recent_request_logs(&self, limit: i64) -> Result<Vec<app::types::RequestLog>, ManageError> {
        Ok(self.store.recent_request_logs(limit.clamp(1, 1000)).await?)
    }
}

impl Manage {
    /// A page of request logs matching `filter`, older than row id `before`, newest first.
    pub async fn request_logs(
        &self,
        filter: &crate::store::LogFilter,
        before: Option<i64>,
        limit: i64,
    ) -> Result<Vec<(i64, app::types::RequestLog)>, ManageError> {
        Ok(self
            .store
            .request_logs_page(filter, before, limit.clamp(1, 1000))
            .await?)
    }

    /// The log of one request, by its request id.
    pub async fn request_log(&self, request_id: &str) -> Result<Option<(i64, app::types::RequestLog)>, ManageError> {
        Ok(self.store.request_log(request_id).await?)
    }

    /// Logs stored after row id `after`, oldest first (for live views).
    pub async fn request_logs_after(
        &self,
        after: i64,
        gateway: Option<app::types::GatewayId>,
        limit: i64,
    ) -> Result<Vec<(i64, app::types::RequestLog)>, ManageError> {
        Ok(self
            .store
            .request_logs_after(after, gateway, limit.clamp(1, 1000))
            .await?)
    }

    /// The newest request log's row id (0 with none).
    pub async fn last_request_log_id(&self) -> Result<i64, ManageError> {
        Ok(self.store.last_request_log_id().await?)
    }

    /// Each gateway's (or endpoint's) sums over `[from_ms, to_ms)`, by id.
    pub async fn hourly_sums(
        &self,
        kind: crate::store::HourlyKind,
        from_ms: i64,
        to_ms: i64,
    ) -> Result<std::collections::BTreeMap<i64, app::types::UsageSums>, ManageError> {
        Ok(self.store.hourly_sums(kind, from_ms, to_ms).await?)
    }

    /// The hourly history of a gateway, key, endpoint or everything, for `[from_ms, to_ms)`.
    pub async fn hourly_usage(
        &self,
        scope: crate::store::HourlyScope,
        from_ms: i64,
        to_ms: i64,
    ) -> Result<Vec<app::types::HourlyUsage>, ManageError> {
        if to_ms <= from_ms {
            return Err(ManageError::Invalid {
                field: "to",
                message: "must be after `from`".into(),
            });
        }
        Ok(self.store.hourly_usage(scope, from_ms, to_ms).await?)
    }
}

/// What the proxy's registry is built from, read in one pass.
pub struct RegistrySource {
    pub revision: i64,
    pub endpoints: Vec<app::types::InferenceEndpoint>,
    /// Every stored credential, opened under the master key (an error where it cannot be).
    pub credentials:
        std::collections::HashMap<app::types::EndpointId, Result<crate::secrets::Secret, crate::crypto::OpenError>>,
    pub gateways: Vec<app::types::Gateway>,
    pub keys: Vec<app::types::GatewayKey>,
    pub key_hashes: std::collections::HashMap<app::types::KeyId, String>,
    pub prices: Vec<app::types::ModelPrice>,
}

impl Manage {
    /// The configuration revision (moves on every routing-configuration change).
    pub async fn config_revision(&self) -> Result<i64, ManageError> {
        Ok(self.store.config_revision().await?)
    }

    /// Everything the registry holds, for the proxy. The revision is read first.
    pub async fn registry_source(&self) -> Result<RegistrySource, ManageError> {
        let revision = self.store.config_revision().await?;
        Ok(RegistrySource {
            revision,
            endpoints: self.store.endpoints().await?,
            credentials: (self.store.sealed_credentials().await?.into_iter())
                .map(|(id, blob)| (id, crate::crypto::open(&self.keyring.master_key, &blob)))
                .collect(),
            gateways: self.store.gateways().await?,
            keys: self.store.keys(None).await?,
            key_hashes: self.store.key_hashes().await?,
            prices: self.store.prices().await?,
        })
    }
}
