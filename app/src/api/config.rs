//! The configuration pages' server functions: endpoints, gateways and keys. Form values arrive
//! in their types (a provider, a strategy); a refusal comes back as the [`ConsoleError`] the
//! management service's answer converts to, with its 4xx status.

#[cfg(feature = "ssr")]
use super::{console_backend, refused, require_admin};
use crate::types::{
    AuthMode, ConsoleError, EndpointListing, EndpointProbe, Gateway, GatewayKey, GatewayListing, InferenceEndpoint,
    Json, KeyListing, PromptCap, ProviderKind, ShownOnce, Strategy, UsageOfKeys, WriteOnly,
};
#[cfg(feature = "ssr")]
use crate::types::{Change, EndpointUpdate, NewEndpoint};
use leptos::prelude::*;

/// A form field as the management service takes it: `None` when left blank.
#[cfg(feature = "ssr")]
fn given(value: String) -> Option<String> {
    let value = value.trim();
    (!value.is_empty()).then(|| value.to_string())
}

/// Every inference endpoint with its live health.
#[server(prefix = "/api", endpoint = "endpoints_list", output = Json)]
pub async fn list_endpoints() -> Result<Vec<EndpointListing>, ConsoleError> {
    require_admin()?;
    console_backend()?.endpoints().await.map_err(refused)
}

/// Creates an inference endpoint from the endpoints page's form.
#[server(prefix = "/api", endpoint = "endpoints_create", output = Json)]
pub async fn create_endpoint(
    name: String,
    provider: ProviderKind,
    base_url: String,
    api_key: WriteOnly,
    model: String,
    deployment: String,
    api_version: String,
    #[server(default)] project: String,
    region: String,
) -> Result<InferenceEndpoint, ConsoleError> {
    let admin = require_admin()?;
    let new = NewEndpoint {
        name,
        provider,
        base_url: given(base_url),
        api_key: given(api_key.0).map(WriteOnly),
        model: model.trim().to_string(),
        deployment: given(deployment),
        api_version: given(api_version),
        project: given(project),
        region: given(region),
        rpm_limit: None,
        tpm_limit: None,
        timeouts: None,
        enabled: true,
    };
    console_backend()?.create_endpoint(&admin, new).await.map_err(refused)
}

/// Changes endpoint `id` from the edit form: blank fields keep their values (a blank key keeps
/// the stored one).
#[server(prefix = "/api", endpoint = "endpoints_update", output = Json)]
pub async fn update_endpoint(
    id: i64,
    name: String,
    base_url: String,
    api_key: WriteOnly,
    model: String,
    deployment: String,
    api_version: String,
    #[server(default)] project: String,
    region: String,
    #[server(default)] rpm_limit: String,
    #[server(default)] tpm_limit: String,
    #[server(default)] enabled: Option<String>,
) -> Result<InferenceEndpoint, ConsoleError> {
    let admin = require_admin()?;
    // The form always sends both limits: empty removes the provider's limit (a form value
    // cannot tell empty from absent); anything else must be a whole number.
    let per_minute = |field: &str, text: String, what: &str| match given(text) {
        None => Ok(Change::Clear),
        Some(text) => text.parse().map(Change::Set).map_err(|_| {
            refused(ConsoleError::invalid(
                field,
                format!("Write the provider's {what} per minute as a whole number, or leave it empty for none."),
            ))
        }),
    };
    let update = EndpointUpdate {
        name: given(name),
        base_url: given(base_url),
        api_key: given(api_key.0).map(WriteOnly),
        model: given(model),
        deployment: given(deployment),
        api_version: given(api_version),
        project: given(project),
        region: given(region),
        rpm_limit: per_minute("rpm_limit", rpm_limit, "requests")?,
        tpm_limit: per_minute("tpm_limit", tpm_limit, "tokens")?,
        enabled: Some(enabled.is_some()),
        ..EndpointUpdate::default()
    };
    let id = crate::types::EndpointId(id);
    console_backend()?
        .update_endpoint(&admin, id, update)
        .await
        .map_err(refused)
}

/// Deletes an inference endpoint (one no gateway uses).
#[server(prefix = "/api", endpoint = "endpoints_delete", output = Json)]
pub async fn delete_endpoint(id: i64) -> Result<(), ConsoleError> {
    let admin = require_admin()?;
    let id = crate::types::EndpointId(id);
    console_backend()?.delete_endpoint(&admin, id).await.map_err(refused)
}

/// "Test connection": one tiny real request to the endpoint.
#[server(prefix = "/api", endpoint = "endpoints_test", output = Json)]
pub async fn test_endpoint(id: i64) -> Result<EndpointProbe, ConsoleError> {
    let admin = require_admin()?;
    let id = crate::types::EndpointId(id);
    console_backend()?.test_endpoint(&admin, id).await.map_err(refused)
}

/// Every gateway with its composite models, and the URL clients reach them at.
#[server(prefix = "/api", endpoint = "gateways_list", output = Json)]
pub async fn list_gateways() -> Result<GatewayListing, ConsoleError> {
    require_admin()?;
    let backend = console_backend()?;
    let base_url = match backend.public_url() {
        Some(url) => url.trim_end_matches('/').to_string(),
        None => {
            let host = use_context::<axum::http::request::Parts>()
                .and_then(|parts| {
                    parts
                        .headers
                        .get("host")
                        .and_then(|h| h.to_str().ok())
                        .map(str::to_string)
                })
                .unwrap_or_else(|| "127.0.0.1:3000".into());
            let scheme = if backend.serves_https() { "https" } else { "http" };
            format!("{scheme}://{host}")
        }
    };
    let gateways = backend.gateways().await.map_err(refused)?;
    let endpoints = backend.endpoints().await.map_err(refused)?;
    let models = (gateways.iter())
        .filter_map(|gateway| {
            let first = gateway.endpoints.first()?;
            let listing = endpoints.iter().find(|l| l.endpoint.id == first.endpoint_id)?;
            Some((gateway.id, listing.endpoint.model.clone()))
        })
        .collect();
    let composites = backend.composites().await.map_err(refused)?;
    Ok(GatewayListing {
        gateways,
        base_url,
        models,
        composites,
    })
}

/// Creates a gateway from the gateways page's form.
#[server(prefix = "/api", endpoint = "gateways_create", output = Json)]
pub async fn create_gateway(
    name: String,
    description: String,
    strategy: Strategy,
    endpoints: String,
    #[server(default)] log_payloads: Option<String>,
) -> Result<Gateway, ConsoleError> {
    let admin = require_admin()?;
    let form = crate::types::NewGatewayForm {
        name,
        description,
        strategy,
        endpoints,
        log_payloads: log_payloads.is_some(),
    };
    console_backend()?.create_gateway(&admin, form).await.map_err(refused)
}

/// Changes a gateway from its edit form (a checkbox is sent only when ticked; `access` is the
/// access rule, empty to remove it). Its limits for people are replaced by the form's: empty
/// fields remove them.
#[server(prefix = "/api", endpoint = "gateways_update", output = Json)]
pub async fn update_gateway(
    id: i64,
    name: String,
    #[server(default)] description: String,
    strategy: Strategy,
    #[server(default)] endpoints: String,
    #[server(default)] max_attempts: String,
    #[server(default)] backoff_base_ms: String,
    #[server(default)] backoff_cap_ms: String,
    #[server(default)] deadline_ms: String,
    #[server(default)] limits: String,
    #[server(default)] model_aliases: String,
    #[server(default)] param_policy: String,
    #[server(default)] auth_mode: Option<AuthMode>,
    #[server(default)] access: String,
    #[server(default)] user_limits: String,
    #[server(default)] group_rule: String,
    #[server(default)] group_limits: String,
    #[server(default)] max_tokens_per_prompt: String,
    #[server(default)] over_cap: PromptCap,
    #[server(default)] cache: String,
    #[server(default)] cache_ttl: String,
    #[server(default)] cache_max_entry: String,
    #[server(default)] cache_collapse: Option<String>,
    #[server(default)] cache_embedding: String,
    #[server(default)] cache_similarity: String,
    #[server(default)] log_metadata: Option<String>,
    #[server(default)] log_payloads: Option<String>,
    #[server(default)] enabled: Option<String>,
) -> Result<Gateway, ConsoleError> {
    let admin = require_admin()?;
    let form = crate::types::GatewayEditForm {
        id,
        name,
        description,
        strategy,
        endpoints,
        max_attempts,
        backoff_base_ms,
        backoff_cap_ms,
        deadline_ms,
        limits,
        model_aliases,
        param_policy,
        auth_mode,
        access_rule: access,
        user_limits,
        group_rule,
        group_limits,
        max_tokens_per_prompt,
        over_cap,
        cache,
        cache_ttl,
        cache_max_entry,
        cache_collapse: cache_collapse.is_some(),
        cache_embedding,
        cache_similarity,
        log_metadata: log_metadata.is_some(),
        log_payloads: log_payloads.is_some(),
        enabled: enabled.is_some(),
    };
    console_backend()?.update_gateway(&admin, form).await.map_err(refused)
}

/// Deletes a gateway and its keys.
#[server(prefix = "/api", endpoint = "gateways_delete", output = Json)]
pub async fn delete_gateway(id: i64) -> Result<(), ConsoleError> {
    let admin = require_admin()?;
    let id = crate::types::GatewayId(id);
    console_backend()?.delete_gateway(&admin, id).await.map_err(refused)
}

/// Every key, with its gateway.
#[server(prefix = "/api", endpoint = "keys_list", output = Json)]
pub async fn list_keys() -> Result<Vec<KeyListing>, ConsoleError> {
    require_admin()?;
    console_backend()?.keys().await.map_err(refused)
}

/// Every key's usage against its limits and this month, with the currency (the keys page
/// asks again every few seconds).
#[server(prefix = "/api", endpoint = "keys_usage", output = Json)]
pub async fn keys_usage() -> Result<UsageOfKeys, ConsoleError> {
    require_admin()?;
    console_backend()?.keys_usage().await.map_err(refused)
}

/// Creates a key from the keys page's form; its secret comes back this once.
#[server(prefix = "/api", endpoint = "keys_create", output = Json)]
pub async fn create_key(
    gateway_id: String,
    name: String,
    #[server(default)] parent: String,
    #[server(default)] allowed_models: String,
    #[server(default)] expires_in_days: String,
    #[server(default)] limits: String,
    #[server(default)] may_assert_users: Option<String>,
) -> Result<ShownOnce, ConsoleError> {
    let admin = require_admin()?;
    let form = crate::types::NewKeyForm {
        gateway: gateway_id,
        name,
        parent,
        allowed_models,
        expires_in_days,
        limits,
        may_assert_users: may_assert_users.is_some(),
    };
    console_backend()?.create_key(&admin, form).await.map_err(refused)
}

/// Changes a key from its edit form (a checkbox is sent only when ticked).
#[server(prefix = "/api", endpoint = "keys_update", output = Json)]
pub async fn update_key(
    public_id: String,
    name: String,
    #[server(default)] allowed_models: String,
    #[server(default)] expires_in_days: String,
    #[server(default)] limits: String,
    #[server(default)] enabled: Option<String>,
    #[server(default)] may_assert_users: Option<String>,
) -> Result<GatewayKey, ConsoleError> {
    let admin = require_admin()?;
    let form = crate::types::KeyEditForm {
        public_id,
        name,
        allowed_models,
        expires_in_days,
        limits,
        enabled: enabled.is_some(),
        may_assert_users: may_assert_users.is_some(),
    };
    console_backend()?.update_key(&admin, form).await.map_err(refused)
}

/// Revokes a key and every key derived from it.
#[server(prefix = "/api", endpoint = "keys_revoke", output = Json)]
pub async fn revoke_key(public_id: String) -> Result<u64, ConsoleError> {
    let admin = require_admin()?;
    console_backend()?.revoke_key(&admin, public_id).await.map_err(refused)
}

/// Zeroes a key's counted usage.
#[server(prefix = "/api", endpoint = "keys_reset", output = Json)]
pub async fn reset_key(public_id: String) -> Result<(), ConsoleError> {
    let admin = require_admin()?;
    console_backend()?.reset_key(&admin, public_id).await.map_err(refused)
}

/// Replaces a key by a new one; the new secret comes back this once.
#[server(prefix = "/api", endpoint = "keys_rotate", output = Json)]
pub async fn rotate_key(public_id: String) -> Result<ShownOnce, ConsoleError> {
    let admin = require_admin()?;
    console_backend()?.rotate_key(&admin, public_id).await.map_err(refused)
}
