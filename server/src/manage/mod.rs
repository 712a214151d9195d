//! The management service: the business rules behind every administrative operation, used by
//! the console's server functions, the CLI and (later) GraphQL alike.
//!
//! Does not: speak HTTP, or build SQL (that is `store`).

mod actor;
mod admins;
mod audit;
mod composites;
pub mod endpoints;
mod gateways;
mod guardrails;
mod identity;
mod keys;
pub mod limits;
mod password;
mod policy;
mod prompts;
mod tail;
mod throttle;
mod tokens;
pub mod validate;

/// The parameters of the management service's reads (and its clock), for its callers.
pub use crate::store::{now_ms, ConfigNotices, HourlyKind, HourlyScope, LimitScope, LogFilter, Notice, Span};
pub use actor::Actor;
pub use admins::{SessionPolicy, SignedIn};
pub use audit::AuditEvent;
pub use composites::composite_member;
pub use endpoints::validate_base_url;
pub use gateways::endpoint_choice;
pub use keys::{CreatedKey, ROTATION_GRACE};
pub use policy::{param_value, policy_from_lines};
pub use tail::LogTail;
pub use throttle::LoginThrottle;
pub use tokens::{CreatedToken, TOKEN_PREFIX};

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
    /// The change clashes with what is stored: a value of `field` is taken, or (without a
    /// field) something still depends on what it would remove.
    #[error("conflict: {message}")]
    Conflict {
        field: Option<&'static str>,
        message: String,
    },
    #[error("unauthorized")]
    Unauthorized,
    /// The actor may read but not change anything (the `viewer` role).
    #[error("viewers can only read: ask an admin to make this change")]
    Forbidden,
    #[error("too many attempts; retry in {} s", retry_after.as_secs())]
    Throttled { retry_after: Duration },
    #[error("internal error (ref {ref_id})")]
    Internal { ref_id: String },
    /// The database cannot be reached: nothing was read or changed.
    #[error("the database cannot be reached now, so nothing was read or changed; retry shortly")]
    Unavailable,
}

impl ManageError {
    /// Logs an internal failure once, here at the boundary, and hides it behind a reference
    /// that the caller can quote.
    pub fn internal(error: impl std::fmt::Display) -> Self {
        let ref_id = format!("{:08x}", rand::random::<u32>());
        tracing::error!(ref_id = %ref_id, error = %error, "internal error");
        ManageError::Internal { ref_id }
    }

    /// A change refused because something else still depends on what it would remove.
    pub fn in_use(message: impl Into<String>) -> Self {
        ManageError::Conflict {
            field: None,
            message: message.into(),
        }
    }

    /// A refused value of `field`.
    pub fn invalid(field: &'static str, message: impl Into<String>) -> Self {
        ManageError::Invalid {
            field,
            message: message.into(),
        }
    }
}

/// Maps a store error, saying `message` of `field` when a unique value (a name, an e-mail) is
/// taken.
fn already_exists(field: &'static str, message: String) -> impl FnOnce(StoreError) -> ManageError {
    move |error| match error {
        StoreError::Conflict(_) => ManageError::Conflict {
            field: Some(field),
            message,
        },
        other => ManageError::from(other),
    }
}

impl From<StoreError> for ManageError {
    fn from(error: StoreError) -> Self {
        match error {
            StoreError::NotFound => ManageError::NotFound,
            StoreError::Conflict(what) => ManageError::Conflict {
                field: None,
                message: what,
            },
            // Checked before writing; reached only when something changed concurrently.
            StoreError::Reference(_) => ManageError::Conflict {
                field: None,
                message: "something it refers to was changed or removed meanwhile; try again".into(),
            },
            StoreError::Db(
                sqlx::Error::PoolTimedOut | sqlx::Error::PoolClosed | sqlx::Error::Io(_) | sqlx::Error::Tls(_),
            ) => {
                tracing::warn!("a management operation found the database unreachable");
                ManageError::Unavailable
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
    /// The serving process, told of every change before the change returns.
    runtime: Arc<std::sync::OnceLock<Arc<dyn Runtime>>>,
    /// Which upstream addresses endpoints may name.
    upstreams: endpoints::UpstreamPolicy,
}

/// A boxed future, for [`Runtime`]'s methods.
pub type BoxFuture<'a, T> = std::pin::Pin<Box<dyn std::future::Future<Output = T> + Send + 'a>>;

/// The serving process as the management service sees it: told of every configuration change,
/// and asked about endpoints' live health and to test one. The proxy implements it
/// (`proxy::Serving`), so `manage` never imports the proxy; a CLI run has none.
pub trait Runtime: Send + Sync + 'static {
    /// The configuration changed: bring what serves requests up to date before returning.
    fn changed<'a>(&'a self, manage: &'a Manage) -> BoxFuture<'a, Result<(), ManageError>>;
    /// An endpoint's live health in this process.
    fn health(&self, id: app::types::EndpointId) -> app::types::EndpointHealth;
    /// Sends one tiny real request to an endpoint; `None` when it is not loaded yet.
    fn probe(&self, id: app::types::EndpointId) -> BoxFuture<'_, Option<app::types::EndpointProbe>>;
}

impl Manage {
    /// A service over `store`, sealing credentials and hashing keys with `keyring`.
    pub fn new(store: Store, keyring: Arc<Keyring>, sessions: SessionPolicy) -> Self {
        Manage {
            store,
            keyring,
            sessions,
            throttle: Arc::new(LoginThrottle::default()),
            runtime: Arc::default(),
            upstreams: endpoints::UpstreamPolicy::default(),
        }
    }

    /// The same service, refusing endpoints at addresses `policy` denies.
    pub fn with_upstream_policy(mut self, policy: endpoints::UpstreamPolicy) -> Self {
        self.upstreams = policy;
        self
    }

    /// Makes every later configuration change update `runtime` before it returns, so this
    /// process serves the change from its very next request (C-06). Other processes see it
    /// when they next poll.
    pub fn attach(&self, runtime: Arc<dyn Runtime>) {
        let _ = self.runtime.set(runtime);
    }

    /// Brings the attached runtime up to date after a change. A failure is logged: the
    /// change is stored, and the poller retries within a second.
    async fn changed(&self) {
        if let Some(runtime) = self.runtime.get() {
            if let Err(error) = runtime.changed(self).await {
                tracing::warn!(error = %error, "registry refresh after a change failed; the poller will retry");
            }
        }
    }

    /// Whether request logs become visible in the order of their ids (SQLite's one writer
    /// commits in id order; on Postgres a row can become visible after one with a larger id),
    /// for readers that follow the log as it grows.
    pub fn logs_appear_in_id_order(&self) -> bool {
        match self.store.backend() {
            crate::store::Backend::Sqlite => true,
            crate::store::Backend::Postgres => false,
        }
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

    /// Each gateway's (key's, endpoint's) sums over the `span` rows in `[from_ms, to_ms)`, by id.
    pub async fn hourly_sums(
        &self,
        kind: crate::store::HourlyKind,
        span: crate::store::Span,
        from_ms: i64,
        to_ms: i64,
    ) -> Result<std::collections::BTreeMap<i64, app::types::UsageSums>, ManageError> {
        Ok(self.store.hourly_sums(kind, span, from_ms, to_ms).await?)
    }

    /// A gateway's, key's, endpoint's or everything's history from `span`'s rows in `[from_ms,
    /// to_ms)`, in buckets of `step_ms` (minutes are kept for a day).
    pub async fn history(
        &self,
        scope: crate::store::HourlyScope,
        span: crate::store::Span,
        step_ms: i64,
        from_ms: i64,
        to_ms: i64,
    ) -> Result<Vec<app::types::HourlyUsage>, ManageError> {
        Ok(self.store.history(scope, span, step_ms, from_ms, to_ms).await?)
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
    pub composites: Vec<app::types::CompositeModel>,
    pub prompts: Vec<app::types::Prompt>,
    pub identity_providers: Vec<app::types::IdentityProvider>,
    pub guardrails: Vec<app::types::Guardrail>,
    pub keys: Vec<app::types::GatewayKey>,
    pub key_hashes: std::collections::HashMap<app::types::KeyId, String>,
    pub prices: Vec<app::types::ModelPrice>,
}

impl Manage {
    /// The configuration revision (moves on every routing-configuration change).
    pub async fn config_revision(&self) -> Result<i64, ManageError> {
        Ok(self.store.config_revision().await?)
    }

    /// Notices of configuration changes made by any server, as they commit; `None` where the
    /// database sends none (SQLite: one process, which hears its own changes).
    pub async fn config_notices(&self) -> Result<Option<ConfigNotices>, ManageError> {
        Ok(self.store.config_notices().await?)
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
            composites: self.store.composites().await?,
            prompts: self.store.prompts().await?,
            identity_providers: self.store.identity_providers().await?,
            guardrails: self.store.guardrails().await?,
            keys: self.store.keys(None).await?,
            key_hashes: self.store.key_hashes().await?,
            prices: self.store.prices().await?,
        })
    }
}
