//! Mutations of the configuration (endpoints, gateways, keys, prices), each through the
//! management service and each recorded in the audit log (who, what, when — names and ids,
//! never a secret). Sign-in, admins and tokens are in `access`.
//!
//! Invariant: every mutation here needs the `admin` role.

use super::{
    backend, error,
    types::{local_id, numeric_id, EndpointNode, GatewayNode, KeyNode, NodeKind},
    writer,
};
use crate::{
    manage::{Actor, EndpointChoice, EndpointUpdate, GatewayUpdate, KeyUpdate, NewEndpoint, NewGateway, NewKey},
    secrets::Secret,
};
use app::types::{Limit, ModelPrice, ProviderKind, RetryPolicy, Strategy, Timeouts};
use async_graphql::{Context, InputObject, MaybeUndefined, MergedObject, Object, Result, SimpleObject, ID};
use serde_json::json;
use std::{collections::BTreeMap, time::Duration};

/// A new inference endpoint.
#[derive(InputObject)]
pub struct CreateEndpointInput {
    pub name: String,
    pub provider: ProviderKind,
    /// The upstream's base URL; the provider's own when omitted (OpenAI, Anthropic, Ollama).
    pub base_url: Option<String>,
    /// The provider credential. Write-only: stored encrypted, never returned.
    pub api_key: Option<String>,
    /// The model it serves (for Azure, the model behind the deployment).
    pub model: String,
    /// Azure: the deployment name.
    pub deployment: Option<String>,
    /// Azure: the `api-version`.
    pub api_version: Option<String>,
    pub region: Option<String>,
    pub rpm_limit: Option<i64>,
    pub tpm_limit: Option<i64>,
    pub timeouts: Option<Timeouts>,
    #[graphql(default = true)]
    pub enabled: bool,
}

/// Changes to an endpoint; omitted fields stay as they are.
#[derive(InputObject, Default)]
pub struct UpdateEndpointInput {
    pub name: Option<String>,
    pub base_url: Option<String>,
    /// A new credential (write-only).
    pub api_key: Option<String>,
    /// Removes the stored credential.
    #[graphql(default)]
    pub clear_api_key: bool,
    pub model: Option<String>,
    pub deployment: Option<String>,
    pub api_version: Option<String>,
    pub region: Option<String>,
    pub rpm_limit: Option<i64>,
    pub tpm_limit: Option<i64>,
    pub enabled: Option<bool>,
}

/// One endpoint of a gateway; the list's order is the endpoints' order.
#[derive(InputObject)]
pub struct GatewayEndpointInput {
    pub endpoint_id: ID,
    /// Its share under the `WEIGHTED` strategy.
    #[graphql(default = 1)]
    pub weight: i64,
    /// Its rank under `PRIORITY` (higher first); earlier in the list ranks higher when omitted.
    pub priority: Option<i64>,
}

/// A model name clients may use, and the model the endpoints are asked for.
#[derive(InputObject)]
pub struct ModelAliasInput {
    pub alias: String,
    pub model: String,
}

/// A new gateway.
#[derive(InputObject)]
pub struct CreateGatewayInput {
    pub name: String,
    #[graphql(default)]
    pub description: String,
    pub strategy: Strategy,
    pub endpoints: Vec<GatewayEndpointInput>,
    pub retry: Option<RetryPolicy>,
    pub deadline_ms: Option<i64>,
    #[graphql(default = true)]
    pub log_metadata: bool,
    #[graphql(default)]
    pub log_payloads: bool,
    #[graphql(default)]
    pub model_aliases: Vec<ModelAliasInput>,
    #[graphql(default = true)]
    pub enabled: bool,
    /// Limits on all its keys' traffic together.
    #[graphql(default)]
    pub limits: Vec<Limit>,
}

/// Changes to a gateway; omitted fields stay as they are.
#[derive(InputObject, Default)]
pub struct UpdateGatewayInput {
    pub name: Option<String>,
    pub description: Option<String>,
    pub strategy: Option<Strategy>,
    pub log_metadata: Option<bool>,
    pub log_payloads: Option<bool>,
    pub enabled: Option<bool>,
    pub retry: Option<RetryPolicy>,
    /// `null` goes back to the default deadline.
    pub deadline_ms: MaybeUndefined<i64>,
    /// Replaces every alias.
    pub model_aliases: Option<Vec<ModelAliasInput>>,
    /// Replaces all its limits.
    pub limits: Option<Vec<Limit>>,
}

/// A new gateway key.
#[derive(InputObject)]
pub struct CreateKeyInput {
    pub gateway_id: ID,
    pub name: String,
    /// The key it derives from: its limits and revocation apply to the new one too.
    pub parent_id: Option<ID>,
    /// Models it may use; omitted: every model of its gateway.
    pub allowed_models: Option<Vec<String>>,
    /// When it stops working, Unix milliseconds.
    pub expires_at: Option<i64>,
    #[graphql(default)]
    pub limits: Vec<Limit>,
}

/// Changes to a key; omitted fields stay as they are, `null` clears.
#[derive(InputObject, Default)]
pub struct UpdateKeyInput {
    pub name: Option<String>,
    /// `null` lets it use every model of its gateway again.
    pub allowed_models: MaybeUndefined<Vec<String>>,
    /// `null` removes the expiry.
    pub expires_at: MaybeUndefined<i64>,
    pub enabled: Option<bool>,
    /// Replaces all its limits.
    pub limits: Option<Vec<Limit>>,
}

/// A created or rotated key, with its secret: shown this once, never again.
#[derive(SimpleObject)]
pub struct CreatedKey {
    pub key: KeyNode,
    pub secret: String,
}

/// What a connection test found.
#[derive(SimpleObject)]
pub struct EndpointTest {
    /// Whether the endpoint answered the request successfully.
    pub ok: bool,
    /// The upstream's HTTP status, when it answered.
    pub status: Option<i32>,
    /// From sending to the whole answer, milliseconds.
    pub latency_ms: i64,
    /// What went wrong, if anything (never the credential).
    pub error: Option<String>,
}

/// An endpoint's id and name, from its global id.
async fn endpoint_of(ctx: &Context<'_>, id: &ID, field: &'static str) -> Result<(i64, String)> {
    let id = numeric_id(id, NodeKind::InferenceEndpoint, field)?;
    let endpoints = backend(ctx).manage.endpoints().await.map_err(error::manage)?;
    (endpoints.into_iter().find(|e| e.id.0 == id))
        .map(|e| (id, e.name))
        .ok_or_else(|| error::invalid(field, "no such inference endpoint"))
}

/// A gateway's id and name, from its global id.
async fn gateway_of(ctx: &Context<'_>, id: &ID, field: &'static str) -> Result<(i64, String)> {
    let id = numeric_id(id, NodeKind::Gateway, field)?;
    let gateways = backend(ctx).manage.gateways().await.map_err(error::manage)?;
    (gateways.into_iter().find(|g| g.id.0 == id))
        .map(|g| (id, g.name))
        .ok_or_else(|| error::invalid(field, "no such gateway"))
}

/// The gateway's endpoints as the management service names them.
async fn choices(ctx: &Context<'_>, endpoints: &[GatewayEndpointInput]) -> Result<Vec<EndpointChoice>> {
    let known = backend(ctx).manage.endpoints().await.map_err(error::manage)?;
    endpoints
        .iter()
        .map(|choice| {
            let id = numeric_id(&choice.endpoint_id, NodeKind::InferenceEndpoint, "endpoints.endpointId")?;
            let endpoint = (known.iter().find(|e| e.id.0 == id))
                .ok_or_else(|| error::invalid("endpoints.endpointId", "no such inference endpoint"))?;
            Ok(EndpointChoice {
                endpoint: endpoint.name.clone(),
                weight: choice.weight,
                priority: choice.priority,
            })
        })
        .collect()
}

/// Aliases as the management service takes them; each alias once.
fn aliases(list: Vec<ModelAliasInput>) -> Result<BTreeMap<String, String>> {
    let mut aliases = BTreeMap::new();
    for alias in list {
        if aliases.insert(alias.alias.clone(), alias.model).is_some() {
            return Err(error::invalid(
                "modelAliases",
                format!("{} is given twice", alias.alias),
            ));
        }
    }
    Ok(aliases)
}

/// An optional field of an update: absent leaves it, `null` clears it.
fn maybe<T>(value: MaybeUndefined<T>) -> Option<Option<T>> {
    match value {
        MaybeUndefined::Undefined => None,
        MaybeUndefined::Null => Some(None),
        MaybeUndefined::Value(value) => Some(Some(value)),
    }
}

/// Records a successful change.
pub(super) async fn audit(
    ctx: &Context<'_>,
    actor: &Actor,
    action: &str,
    target: Option<(&str, i64)>,
    details: serde_json::Value,
) {
    backend(ctx).manage.audit(actor, action, target, details).await;
}

/// Every mutation: the configuration's and access's, in one type.
#[derive(MergedObject, Default)]
pub struct Mutation(ConfigMutation, super::access::AccessMutation);

#[derive(Default)]
pub struct ConfigMutation;

/// Endpoints, gateways, keys and prices.
#[Object]
impl ConfigMutation {
    async fn create_endpoint(&self, ctx: &Context<'_>, input: CreateEndpointInput) -> Result<EndpointNode> {
        let actor = writer(ctx)?;
        let endpoint = backend(ctx)
            .manage
            .create_endpoint(NewEndpoint {
                name: input.name,
                provider: input.provider,
                base_url: input.base_url,
                api_key: input.api_key.map(Secret::new),
                model: input.model,
                deployment: input.deployment,
                api_version: input.api_version,
                region: input.region,
                rpm_limit: input.rpm_limit,
                tpm_limit: input.tpm_limit,
                timeouts: input.timeouts.unwrap_or_default(),
                enabled: input.enabled,
            })
            .await
            .map_err(error::manage)?;
        let details = json!({ "name": endpoint.name, "provider": endpoint.provider.as_str() });
        audit(
            ctx,
            actor,
            "endpoint.create",
            Some(("endpoint", endpoint.id.0)),
            details,
        )
        .await;
        Ok(EndpointNode(endpoint))
    }

    async fn update_endpoint(&self, ctx: &Context<'_>, id: ID, input: UpdateEndpointInput) -> Result<EndpointNode> {
        let actor = writer(ctx)?;
        let (id, name) = endpoint_of(ctx, &id, "id").await?;
        let credential_changed = input.api_key.is_some() || input.clear_api_key;
        let endpoint = backend(ctx)
            .manage
            .update_endpoint(
                &name,
                EndpointUpdate {
                    name: input.name,
                    base_url: input.base_url,
                    api_key: input.api_key.map(Secret::new),
                    clear_api_key: input.clear_api_key,
                    model: input.model,
                    deployment: input.deployment,
                    api_version: input.api_version,
                    region: input.region,
                    rpm_limit: input.rpm_limit,
                    tpm_limit: input.tpm_limit,
                    enabled: input.enabled,
                },
            )
            .await
            .map_err(error::manage)?;
        let details = json!({ "name": endpoint.name, "credential_changed": credential_changed });
        audit(ctx, actor, "endpoint.update", Some(("endpoint", id)), details).await;
        Ok(EndpointNode(endpoint))
    }

    /// Deletes an endpoint no gateway uses.
    async fn delete_endpoint(&self, ctx: &Context<'_>, id: ID) -> Result<ID> {
        let actor = writer(ctx)?;
        let (number, name) = endpoint_of(ctx, &id, "id").await?;
        backend(ctx)
            .manage
            .delete_endpoint(&name)
            .await
            .map_err(error::manage)?;
        audit(
            ctx,
            actor,
            "endpoint.delete",
            Some(("endpoint", number)),
            json!({ "name": name }),
        )
        .await;
        Ok(id)
    }

    /// Sends one tiny real request to an endpoint and reports the status, latency and error.
    async fn test_endpoint(&self, ctx: &Context<'_>, id: ID) -> Result<EndpointTest> {
        let actor = writer(ctx)?;
        let (number, name) = endpoint_of(ctx, &id, "id").await?;
        let backend = backend(ctx);
        let snapshot = backend.registry.snapshot();
        let upstream = (snapshot.upstreams.get(&app::types::EndpointId(number)))
            .ok_or_else(|| error::invalid("id", "the endpoint is not loaded yet; try again in a second"))?;
        let probe = backend.proxy.probe(upstream).await;
        let details = json!({ "name": name, "ok": probe.ok(), "status": probe.status });
        audit(ctx, actor, "endpoint.test", Some(("endpoint", number)), details).await;
        Ok(EndpointTest {
            ok: probe.ok(),
            status: probe.status.map(i32::from),
            latency_ms: probe.latency_ms,
            error: probe.error,
        })
    }

    async fn create_gateway(&self, ctx: &Context<'_>, input: CreateGatewayInput) -> Result<GatewayNode> {
        let actor = writer(ctx)?;
        let endpoints = choices(ctx, &input.endpoints).await?;
        let aliases = aliases(input.model_aliases)?;
        let gateway = backend(ctx)
            .manage
            .create_gateway(NewGateway {
                name: input.name,
                description: input.description,
                strategy: input.strategy,
                endpoints,
                retry: input.retry.unwrap_or_default(),
                deadline_ms: input.deadline_ms,
                log_metadata: input.log_metadata,
                log_payloads: input.log_payloads,
                model_aliases: aliases,
                enabled: input.enabled,
                limits: input.limits,
            })
            .await
            .map_err(error::manage)?;
        let details = json!({ "name": gateway.name, "strategy": gateway.strategy.as_str() });
        audit(ctx, actor, "gateway.create", Some(("gateway", gateway.id.0)), details).await;
        Ok(GatewayNode(gateway))
    }

    async fn update_gateway(&self, ctx: &Context<'_>, id: ID, input: UpdateGatewayInput) -> Result<GatewayNode> {
        let actor = writer(ctx)?;
        let (number, name) = gateway_of(ctx, &id, "id").await?;
        let model_aliases = input.model_aliases.map(aliases).transpose()?;
        let gateway = backend(ctx)
            .manage
            .update_gateway(
                &name,
                GatewayUpdate {
                    name: input.name,
                    description: input.description,
                    strategy: input.strategy,
                    endpoints: None,
                    log_metadata: input.log_metadata,
                    log_payloads: input.log_payloads,
                    enabled: input.enabled,
                    retry: input.retry,
                    deadline_ms: maybe(input.deadline_ms),
                    model_aliases,
                    limits: input.limits,
                },
            )
            .await
            .map_err(error::manage)?;
        audit(
            ctx,
            actor,
            "gateway.update",
            Some(("gateway", number)),
            json!({ "name": gateway.name }),
        )
        .await;
        Ok(GatewayNode(gateway))
    }

    /// Replaces a gateway's endpoints: the list's order, each one's weight and priority.
    async fn set_gateway_endpoints(
        &self,
        ctx: &Context<'_>,
        id: ID,
        endpoints: Vec<GatewayEndpointInput>,
    ) -> Result<GatewayNode> {
        let actor = writer(ctx)?;
        let (number, name) = gateway_of(ctx, &id, "id").await?;
        let endpoints = choices(ctx, &endpoints).await?;
        let names: Vec<String> = endpoints.iter().map(|e| e.endpoint.clone()).collect();
        let gateway = backend(ctx)
            .manage
            .update_gateway(
                &name,
                GatewayUpdate {
                    endpoints: Some(endpoints),
                    ..GatewayUpdate::default()
                },
            )
            .await
            .map_err(error::manage)?;
        let details = json!({ "name": gateway.name, "endpoints": names });
        audit(ctx, actor, "gateway.set_endpoints", Some(("gateway", number)), details).await;
        Ok(GatewayNode(gateway))
    }

    /// Deletes a gateway; its keys go with it.
    async fn delete_gateway(&self, ctx: &Context<'_>, id: ID) -> Result<ID> {
        let actor = writer(ctx)?;
        let (number, name) = gateway_of(ctx, &id, "id").await?;
        backend(ctx).manage.delete_gateway(&name).await.map_err(error::manage)?;
        audit(
            ctx,
            actor,
            "gateway.delete",
            Some(("gateway", number)),
            json!({ "name": name }),
        )
        .await;
        Ok(id)
    }

    /// Creates a key; its secret is in the answer this once.
    async fn create_key(&self, ctx: &Context<'_>, input: CreateKeyInput) -> Result<CreatedKey> {
        let actor = writer(ctx)?;
        let (_, gateway) = gateway_of(ctx, &input.gateway_id, "gatewayId").await?;
        let parent = (input.parent_id.as_ref())
            .map(|id| local_id(id, NodeKind::GatewayKey, "parentId"))
            .transpose()?;
        let created = backend(ctx)
            .manage
            .create_key(NewKey {
                gateway,
                name: input.name,
                parent,
                allowed_models: input.allowed_models,
                expires_at: input.expires_at,
                limits: input.limits,
            })
            .await
            .map_err(error::manage)?;
        let key = created.key;
        let details = json!({ "name": key.name, "public_id": key.public_id });
        audit(ctx, actor, "key.create", Some(("key", key.id.0)), details).await;
        Ok(CreatedKey {
            key: KeyNode::single(key),
            secret: created.secret.expose().to_string(),
        })
    }

    async fn update_key(&self, ctx: &Context<'_>, id: ID, input: UpdateKeyInput) -> Result<KeyNode> {
        let actor = writer(ctx)?;
        let public_id = local_id(&id, NodeKind::GatewayKey, "id")?;
        let key = backend(ctx)
            .manage
            .update_key(
                &public_id,
                KeyUpdate {
                    name: input.name,
                    allowed_models: maybe(input.allowed_models),
                    expires_at: maybe(input.expires_at),
                    enabled: input.enabled,
                    limits: input.limits,
                },
            )
            .await
            .map_err(error::manage)?;
        audit(
            ctx,
            actor,
            "key.update",
            Some(("key", key.id.0)),
            json!({ "public_id": key.public_id }),
        )
        .await;
        Ok(KeyNode::single(key))
    }

    /// Revokes a key, every key derived from it and the keys it was rotated from; returns how
    /// many keys were revoked.
    async fn revoke_key(&self, ctx: &Context<'_>, id: ID) -> Result<i64> {
        let actor = writer(ctx)?;
        let public_id = local_id(&id, NodeKind::GatewayKey, "id")?;
        let manage = &backend(ctx).manage;
        let key = manage.key(&public_id).await.map_err(error::manage)?;
        let revoked = manage.revoke_key(&public_id).await.map_err(error::manage)?;
        let details = json!({ "public_id": public_id, "revoked": revoked });
        audit(ctx, actor, "key.revoke", Some(("key", key.id.0)), details).await;
        Ok(i64::try_from(revoked).unwrap_or(i64::MAX))
    }

    /// Deletes a key and every key derived from it (revoking keeps them listed; this does not).
    async fn delete_key(&self, ctx: &Context<'_>, id: ID) -> Result<ID> {
        let actor = writer(ctx)?;
        let public_id = local_id(&id, NodeKind::GatewayKey, "id")?;
        let manage = &backend(ctx).manage;
        let key = manage.key(&public_id).await.map_err(error::manage)?;
        manage.delete_key(&public_id).await.map_err(error::manage)?;
        audit(
            ctx,
            actor,
            "key.delete",
            Some(("key", key.id.0)),
            json!({ "public_id": public_id }),
        )
        .await;
        Ok(id)
    }

    /// Zeroes a key's counted usage (every window, `TOTAL` included).
    async fn reset_key_usage(&self, ctx: &Context<'_>, id: ID) -> Result<KeyNode> {
        let actor = writer(ctx)?;
        let public_id = local_id(&id, NodeKind::GatewayKey, "id")?;
        let key = backend(ctx)
            .manage
            .reset_key_usage(&public_id)
            .await
            .map_err(error::manage)?;
        audit(
            ctx,
            actor,
            "key.reset",
            Some(("key", key.id.0)),
            json!({ "public_id": public_id }),
        )
        .await;
        Ok(KeyNode::single(key))
    }

    /// Replaces a key by a new one (secret in the answer, this once); the old one keeps
    /// working for `graceSeconds` (default an hour; 0 ends it now).
    async fn rotate_key(
        &self,
        ctx: &Context<'_>,
        id: ID,
        #[graphql(default = 3600)] grace_seconds: i64,
    ) -> Result<CreatedKey> {
        let actor = writer(ctx)?;
        let public_id = local_id(&id, NodeKind::GatewayKey, "id")?;
        let grace = u64::try_from(grace_seconds).map_err(|_| error::invalid("graceSeconds", "must not be negative"))?;
        let created = backend(ctx)
            .manage
            .rotate_key(&public_id, Duration::from_secs(grace))
            .await
            .map_err(error::manage)?;
        let key = created.key;
        let details = json!({ "old_public_id": public_id, "public_id": key.public_id, "grace_seconds": grace });
        audit(ctx, actor, "key.rotate", Some(("key", key.id.0)), details).await;
        Ok(CreatedKey {
            key: KeyNode::single(key),
            secret: created.secret.expose().to_string(),
        })
    }

    /// Sets a model's price (per million tokens, in millionths of the currency).
    async fn set_price(&self, ctx: &Context<'_>, input: ModelPrice) -> Result<ModelPrice> {
        let actor = writer(ctx)?;
        let price = backend(ctx).manage.set_price(input).await.map_err(error::manage)?;
        let details = json!({
            "model": price.model,
            "input_per_mtok_micros": price.input_per_mtok_micros,
            "output_per_mtok_micros": price.output_per_mtok_micros,
        });
        audit(ctx, actor, "price.set", None, details).await;
        Ok(price)
    }

    /// Removes a model's price (its requests then cost nothing).
    async fn delete_price(&self, ctx: &Context<'_>, model: String) -> Result<String> {
        let actor = writer(ctx)?;
        backend(ctx).manage.remove_price(&model).await.map_err(error::manage)?;
        audit(ctx, actor, "price.delete", None, json!({ "model": model })).await;
        Ok(model)
    }
}
