//! Mutations of the configuration (endpoints, gateways, keys, composites, prompts, prices):
//! each converts its input and calls one management operation, which checks the caller's role
//! and records the change in the audit log. Sign-in, admins and tokens are in `access`.
//!
//! Does not: check a permission or write an audit entry (`manage` does both).

use super::{
    actor, error, manage,
    prompts::{AddedPromptVersion, PromptTemplateInput},
    types::{local_id, numeric_id, CompositeNode, EndpointNode, GatewayNode, KeyNode, NodeKind, PromptNode},
};
use crate::manage::ROTATION_GRACE;
use app::types::{
    CacheSettings, CompositeId, CompositeUpdate, EndpointChoice, EndpointHealth, EndpointId, EndpointRef,
    EndpointUpdate, GatewayId, GatewayUpdate, KeyUpdate, ModelPrice, NewComposite, NewEndpoint, NewGateway, NewKey,
    NewPrompt, PromptId,
};
use async_graphql::{Context, InputObject, MergedObject, Object, Result, SimpleObject, ID};
use std::time::Duration;

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

// The management service's `NewGateway`, with its endpoints named by global id.
/// A new gateway.
#[derive(InputObject)]
pub struct CreateGatewayInput {
    #[graphql(flatten)]
    pub gateway: NewGateway,
    pub endpoints: Vec<GatewayEndpointInput>,
}

// The management service's `NewKey`, with its gateway and parent named by global id.
/// A new gateway key.
#[derive(InputObject)]
pub struct CreateKeyInput {
    pub gateway_id: ID,
    /// The key it derives from: its limits and revocation apply to the new one too.
    pub parent_id: Option<ID>,
    #[graphql(flatten)]
    pub key: NewKey,
}

// The management service's `NewComposite`, with its gateway named by global id.
/// A new composite model.
#[derive(InputObject)]
pub struct CreateCompositeInput {
    pub gateway_id: ID,
    #[graphql(flatten)]
    pub composite: NewComposite,
}

// The management service's `NewPrompt`, with its gateways named by global id and its template
// as GraphQL spells it.
/// A new named prompt and its first version.
#[derive(InputObject)]
pub struct CreatePromptInput {
    #[graphql(flatten)]
    pub prompt: NewPrompt,
    /// The gateways whose keys may use it; none: every gateway.
    #[graphql(default)]
    pub gateway_ids: Vec<ID>,
    /// Version 1's template.
    pub template: PromptTemplateInput,
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
    /// The endpoint's health once the test is counted.
    pub health: EndpointHealth,
}

/// An endpoint's id, from its global id.
fn endpoint_id(id: &ID, field: &'static str) -> Result<EndpointId> {
    numeric_id(id, NodeKind::InferenceEndpoint, field).map(EndpointId)
}

/// A gateway's id, from its global id.
fn gateway_id(id: &ID, field: &'static str) -> Result<GatewayId> {
    numeric_id(id, NodeKind::Gateway, field).map(GatewayId)
}

/// A composite model's id, from its global id.
fn composite_id(id: &ID, field: &'static str) -> Result<CompositeId> {
    numeric_id(id, NodeKind::CompositeModel, field).map(CompositeId)
}

/// A prompt's id, from its global id.
fn prompt_id(id: &ID, field: &'static str) -> Result<PromptId> {
    numeric_id(id, NodeKind::Prompt, field).map(PromptId)
}

/// The gateway's endpoints as the management service takes them.
fn choices(endpoints: &[GatewayEndpointInput]) -> Result<Vec<EndpointChoice>> {
    endpoints
        .iter()
        .map(|choice| {
            Ok(EndpointChoice {
                endpoint: EndpointRef::Id(endpoint_id(&choice.endpoint_id, "endpoints.endpointId")?),
                weight: choice.weight,
                priority: choice.priority,
            })
        })
        .collect()
}

/// Every mutation: the configuration's and access's, in one type.
#[derive(MergedObject, Default)]
pub struct Mutation(
    ConfigMutation,
    super::access::AccessMutation,
    super::identity::IdentityMutation,
    super::guardrails::GuardrailMutation,
);

#[derive(Default)]
pub struct ConfigMutation;

/// Endpoints, gateways, composites, prompts, keys and prices. Each resolver converts its input and calls one
/// management operation, which checks the caller's role and records the change.
#[Object]
impl ConfigMutation {
    async fn create_endpoint(&self, ctx: &Context<'_>, input: NewEndpoint) -> Result<EndpointNode> {
        let endpoint = manage(ctx)
            .create_endpoint(actor(ctx)?, input)
            .await
            .map_err(error::manage)?;
        Ok(EndpointNode(endpoint))
    }

    async fn update_endpoint(&self, ctx: &Context<'_>, id: ID, input: EndpointUpdate) -> Result<EndpointNode> {
        let id = endpoint_id(&id, "id")?;
        let endpoint = manage(ctx)
            .update_endpoint(actor(ctx)?, id, input)
            .await
            .map_err(error::manage)?;
        Ok(EndpointNode(endpoint))
    }

    /// Deletes an endpoint no gateway uses.
    async fn delete_endpoint(&self, ctx: &Context<'_>, id: ID) -> Result<ID> {
        let number = endpoint_id(&id, "id")?;
        manage(ctx)
            .delete_endpoint(actor(ctx)?, number)
            .await
            .map_err(error::manage)?;
        Ok(id)
    }

    /// Sends one tiny real request to an endpoint and reports the status, latency and error.
    async fn test_endpoint(&self, ctx: &Context<'_>, id: ID) -> Result<EndpointTest> {
        let id = endpoint_id(&id, "id")?;
        let probe = manage(ctx)
            .test_endpoint(actor(ctx)?, id)
            .await
            .map_err(error::manage)?;
        Ok(EndpointTest {
            ok: probe.error.is_none(),
            status: probe.status.and_then(|status| i32::try_from(status).ok()),
            latency_ms: probe.latency_ms,
            error: probe.error,
            health: probe.health,
        })
    }

    async fn create_gateway(&self, ctx: &Context<'_>, input: CreateGatewayInput) -> Result<GatewayNode> {
        let new = NewGateway {
            endpoints: choices(&input.endpoints)?,
            ..input.gateway
        };
        let gateway = manage(ctx)
            .create_gateway(actor(ctx)?, new)
            .await
            .map_err(error::manage)?;
        Ok(GatewayNode(Box::new(gateway)))
    }

    async fn update_gateway(&self, ctx: &Context<'_>, id: ID, input: GatewayUpdate) -> Result<GatewayNode> {
        let id = gateway_id(&id, "id")?;
        let gateway = manage(ctx)
            .update_gateway(actor(ctx)?, id, input)
            .await
            .map_err(error::manage)?;
        Ok(GatewayNode(Box::new(gateway)))
    }

    /// Replaces a gateway's endpoints: the list's order, each one's weight and priority.
    async fn set_gateway_endpoints(
        &self,
        ctx: &Context<'_>,
        id: ID,
        endpoints: Vec<GatewayEndpointInput>,
    ) -> Result<GatewayNode> {
        let update = GatewayUpdate {
            endpoints: Some(choices(&endpoints)?),
            ..GatewayUpdate::default()
        };
        let id = gateway_id(&id, "id")?;
        let gateway = manage(ctx)
            .update_gateway(actor(ctx)?, id, update)
            .await
            .map_err(error::manage)?;
        Ok(GatewayNode(Box::new(gateway)))
    }

    /// Deletes a gateway; its keys go with it.
    async fn delete_gateway(&self, ctx: &Context<'_>, id: ID) -> Result<ID> {
        let number = gateway_id(&id, "id")?;
        manage(ctx)
            .delete_gateway(actor(ctx)?, number)
            .await
            .map_err(error::manage)?;
        Ok(id)
    }

    /// Creates a composite model: a model name of the gateway that stands for several members.
    async fn create_composite(&self, ctx: &Context<'_>, input: CreateCompositeInput) -> Result<CompositeNode> {
        let new = NewComposite {
            gateway_id: gateway_id(&input.gateway_id, "gatewayId")?,
            ..input.composite
        };
        let composite = (manage(ctx).create_composite(actor(ctx)?, new).await).map_err(error::manage)?;
        Ok(CompositeNode(composite))
    }

    async fn update_composite(&self, ctx: &Context<'_>, id: ID, input: CompositeUpdate) -> Result<CompositeNode> {
        let id = composite_id(&id, "id")?;
        let composite = (manage(ctx).update_composite(actor(ctx)?, id, input).await).map_err(error::manage)?;
        Ok(CompositeNode(composite))
    }

    async fn delete_composite(&self, ctx: &Context<'_>, id: ID) -> Result<ID> {
        let number = composite_id(&id, "id")?;
        (manage(ctx).delete_composite(actor(ctx)?, number).await).map_err(error::manage)?;
        Ok(id)
    }

    /// Creates a named prompt with its first version.
    async fn create_prompt(&self, ctx: &Context<'_>, input: CreatePromptInput) -> Result<PromptNode> {
        let gateways = (input.gateway_ids.iter())
            .map(|id| gateway_id(id, "gatewayIds"))
            .collect::<Result<_>>()?;
        let new = NewPrompt {
            gateways,
            template: input.template.template()?,
            ..input.prompt
        };
        let prompt = (manage(ctx).create_prompt(actor(ctx)?, new).await).map_err(error::manage)?;
        Ok(PromptNode(prompt))
    }

    /// Adds a prompt's next version (versions never change once written).
    async fn add_prompt_version(
        &self,
        ctx: &Context<'_>,
        prompt_id: ID,
        template: PromptTemplateInput,
    ) -> Result<AddedPromptVersion> {
        let id = self::prompt_id(&prompt_id, "promptId")?;
        let manage = manage(ctx);
        let version =
            (manage.add_prompt_version(actor(ctx)?, id, template.template()?).await).map_err(error::manage)?;
        let prompt = manage.prompt(id).await.map_err(error::manage)?;
        Ok(AddedPromptVersion {
            version,
            prompt: PromptNode(prompt),
        })
    }

    /// Points a label (`production`, `staging`, any name) of a prompt at one of its versions,
    /// adding it or moving it at once.
    async fn set_prompt_label(
        &self,
        ctx: &Context<'_>,
        prompt_id: ID,
        label: String,
        version: i64,
    ) -> Result<PromptNode> {
        let id = self::prompt_id(&prompt_id, "promptId")?;
        let prompt = (manage(ctx).set_prompt_label(actor(ctx)?, id, &label, version).await).map_err(error::manage)?;
        Ok(PromptNode(prompt))
    }

    /// Sets the access rule requests using a prompt must satisfy (a CEL expression over `user`,
    /// `request`, `gateway` and `now`); `null` or blank removes it.
    async fn set_prompt_access_rule(
        &self,
        ctx: &Context<'_>,
        prompt_id: ID,
        rule: Option<String>,
    ) -> Result<PromptNode> {
        let id = self::prompt_id(&prompt_id, "promptId")?;
        let prompt = (manage(ctx).set_prompt_access(actor(ctx)?, id, rule.as_deref()).await).map_err(error::manage)?;
        Ok(PromptNode(prompt))
    }

    /// Sets a prompt's own response cache, used instead of the gateway's for requests using it;
    /// `null` goes back to the gateway's.
    async fn set_prompt_cache(
        &self,
        ctx: &Context<'_>,
        prompt_id: ID,
        cache: Option<CacheSettings>,
    ) -> Result<PromptNode> {
        let id = self::prompt_id(&prompt_id, "promptId")?;
        let prompt = (manage(ctx).set_prompt_cache(actor(ctx)?, id, cache).await).map_err(error::manage)?;
        Ok(PromptNode(prompt))
    }

    /// Deletes a prompt with its versions and labels (requests naming it are then refused).
    async fn delete_prompt(&self, ctx: &Context<'_>, prompt_id: ID) -> Result<ID> {
        let id = self::prompt_id(&prompt_id, "promptId")?;
        (manage(ctx).delete_prompt(actor(ctx)?, id).await).map_err(error::manage)?;
        Ok(prompt_id)
    }

    /// Creates a key; its secret is in the answer this once.
    async fn create_key(&self, ctx: &Context<'_>, input: CreateKeyInput) -> Result<CreatedKey> {
        let new = NewKey {
            gateway: gateway_id(&input.gateway_id, "gatewayId")?,
            parent: (input.parent_id.as_ref())
                .map(|id| local_id(id, NodeKind::GatewayKey, "parentId"))
                .transpose()?,
            ..input.key
        };
        let created = manage(ctx).create_key(actor(ctx)?, new).await.map_err(error::manage)?;
        Ok(CreatedKey {
            key: KeyNode::single(created.key),
            secret: created.secret.expose().to_string(),
        })
    }

    async fn update_key(&self, ctx: &Context<'_>, id: ID, input: KeyUpdate) -> Result<KeyNode> {
        let public_id = local_id(&id, NodeKind::GatewayKey, "id")?;
        let key = (manage(ctx).update_key(actor(ctx)?, &public_id, input).await).map_err(error::manage)?;
        Ok(KeyNode::single(key))
    }

    /// Revokes a key, every key derived from it and the keys it was rotated from; returns how
    /// many keys were revoked.
    async fn revoke_key(&self, ctx: &Context<'_>, id: ID) -> Result<i64> {
        let public_id = local_id(&id, NodeKind::GatewayKey, "id")?;
        let revoked = manage(ctx)
            .revoke_key(actor(ctx)?, &public_id)
            .await
            .map_err(error::manage)?;
        Ok(i64::try_from(revoked).unwrap_or(i64::MAX))
    }

    /// Deletes a key and every key derived from it (revoking keeps them listed; this does not).
    async fn delete_key(&self, ctx: &Context<'_>, id: ID) -> Result<ID> {
        let public_id = local_id(&id, NodeKind::GatewayKey, "id")?;
        manage(ctx)
            .delete_key(actor(ctx)?, &public_id)
            .await
            .map_err(error::manage)?;
        Ok(id)
    }

    /// Zeroes a key's counted usage (every window, `TOTAL` included).
    async fn reset_key_usage(&self, ctx: &Context<'_>, id: ID) -> Result<KeyNode> {
        let public_id = local_id(&id, NodeKind::GatewayKey, "id")?;
        let key = (manage(ctx).reset_key_usage(actor(ctx)?, &public_id).await).map_err(error::manage)?;
        Ok(KeyNode::single(key))
    }

    /// Replaces a key by a new one (secret in the answer, this once); the old one keeps
    /// working for `graceSeconds` (default an hour; 0 ends it now).
    async fn rotate_key(
        &self,
        ctx: &Context<'_>,
        id: ID,
        #[graphql(default_with = "i64::try_from(ROTATION_GRACE.as_secs()).unwrap_or(i64::MAX)")] grace_seconds: i64,
    ) -> Result<CreatedKey> {
        let public_id = local_id(&id, NodeKind::GatewayKey, "id")?;
        let grace = u64::try_from(grace_seconds).map_err(|_| error::invalid("graceSeconds", "must not be negative"))?;
        let created = manage(ctx)
            .rotate_key(actor(ctx)?, &public_id, Duration::from_secs(grace))
            .await
            .map_err(error::manage)?;
        Ok(CreatedKey {
            key: KeyNode::single(created.key),
            secret: created.secret.expose().to_string(),
        })
    }

    /// Sets a model's price (per million tokens, in millionths of the currency).
    async fn set_price(&self, ctx: &Context<'_>, input: ModelPrice) -> Result<ModelPrice> {
        manage(ctx).set_price(actor(ctx)?, input).await.map_err(error::manage)
    }

    /// Removes a model's price (its requests then cost nothing).
    async fn delete_price(&self, ctx: &Context<'_>, model: String) -> Result<String> {
        manage(ctx)
            .remove_price(actor(ctx)?, &model)
            .await
            .map_err(error::manage)?;
        Ok(model)
    }
}
