//! Relay global ids, the `Node` interface, and the configuration's object types (endpoints,
//! gateways, keys): views over `app::types` with the links between them (a gateway's
//! endpoints and keys, a key's children). People and records are in `records`, named prompts
//! in `prompts`.
//!
//! Invariant: no type here exposes a secret: endpoints say only whether a credential is stored,
//! keys and tokens show their public ids; secrets appear once, in the payloads of the
//! mutations that create them (`CreatedKey`, `CreatedAdminApiToken`).

pub use super::prompts::PromptNode;
pub use super::records::{AdminTokenNode, AdminUserNode, AuditEntryNode, RequestLogNode};
use super::{backend, error, reader};
use crate::manage::HourlyScope;
use app::types::{
    CompositeKind, CompositeMember, CompositeModel, EndpointHealth, Gateway, GatewayKey, HourlyUsage,
    InferenceEndpoint, KeyStatus, Limit, ModelAlias, MultiMode, ProviderKind, RetryPolicy, Strategy, Timeouts,
    VariantStats,
};
use async_graphql::{Context, Interface, Object, Result, ID};
use base64::{engine::general_purpose::URL_SAFE_NO_PAD, Engine as _};
use std::sync::Arc;

/// The kinds of node a global id can name.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum NodeKind {
    InferenceEndpoint,
    Gateway,
    GatewayKey,
    AdminUser,
    AdminApiToken,
    RequestLog,
    AuditEntry,
    CompositeModel,
    Prompt,
    IdentityProvider,
    Guardrail,
}

impl NodeKind {
    const ALL: [NodeKind; 11] = [
        NodeKind::InferenceEndpoint,
        NodeKind::Gateway,
        NodeKind::GatewayKey,
        NodeKind::AdminUser,
        NodeKind::AdminApiToken,
        NodeKind::RequestLog,
        NodeKind::AuditEntry,
        NodeKind::CompositeModel,
        NodeKind::Prompt,
        NodeKind::IdentityProvider,
        NodeKind::Guardrail,
    ];

    fn as_str(self) -> &'static str {
        match self {
            NodeKind::InferenceEndpoint => "InferenceEndpoint",
            NodeKind::Gateway => "Gateway",
            NodeKind::GatewayKey => "GatewayKey",
            NodeKind::AdminUser => "AdminUser",
            NodeKind::AdminApiToken => "AdminApiToken",
            NodeKind::RequestLog => "RequestLog",
            NodeKind::AuditEntry => "AuditEntry",
            NodeKind::CompositeModel => "CompositeModel",
            NodeKind::Prompt => "Prompt",
            NodeKind::IdentityProvider => "IdentityProvider",
            NodeKind::Guardrail => "Guardrail",
        }
    }
}

/// The opaque global id of a node: base64url of `Kind:local id`.
pub fn global_id(kind: NodeKind, local: impl std::fmt::Display) -> ID {
    ID(URL_SAFE_NO_PAD.encode(format!("{}:{local}", kind.as_str())))
}

/// A global id's kind and local id.
pub fn parse_any_id(id: &ID) -> Option<(NodeKind, String)> {
    let text = String::from_utf8(URL_SAFE_NO_PAD.decode(id.as_str()).ok()?).ok()?;
    let (kind, local) = text.split_once(':')?;
    let kind = NodeKind::ALL.into_iter().find(|k| k.as_str() == kind)?;
    Some((kind, local.to_string()))
}

/// The local id of a global id that must name a `kind`; `field` names the argument in errors.
pub fn local_id(id: &ID, kind: NodeKind, field: &'static str) -> Result<String> {
    match parse_any_id(id) {
        Some((found, local)) if found == kind => Ok(local),
        _ => Err(error::invalid(field, format!("is not the id of a {}", kind.as_str()))),
    }
}

/// The numeric local id of a global id that must name a `kind`.
pub fn numeric_id(id: &ID, kind: NodeKind, field: &'static str) -> Result<i64> {
    local_id(id, kind, field)?
        .parse()
        .map_err(|_| error::invalid(field, format!("is not the id of a {}", kind.as_str())))
}

/// Anything with a global id, fetchable with `node(id:)`.
#[derive(Interface)]
#[graphql(field(name = "id", ty = "ID", desc = "The node's global id."))]
pub enum Node {
    InferenceEndpoint(EndpointNode),
    Gateway(GatewayNode),
    GatewayKey(KeyNode),
    AdminUser(AdminUserNode),
    AdminApiToken(AdminTokenNode),
    RequestLog(RequestLogNode),
    AuditEntry(AuditEntryNode),
    CompositeModel(CompositeNode),
    Prompt(PromptNode),
    IdentityProvider(super::identity::IdentityProviderNode),
    Guardrail(super::guardrails::GuardrailNode),
}

/// A time range, Unix milliseconds, for usage histories.
async fn usage(ctx: &Context<'_>, scope: HourlyScope, from: i64, to: i64) -> Result<Vec<HourlyUsage>> {
    reader(ctx)?;
    backend(ctx)
        .manage
        .hourly_usage(scope, from, to)
        .await
        .map_err(error::manage)
}

/// An upstream the gateways route to. Its credential is write-only.
pub struct EndpointNode(pub InferenceEndpoint);

#[Object(name = "InferenceEndpoint")]
impl EndpointNode {
    async fn id(&self) -> ID {
        global_id(NodeKind::InferenceEndpoint, self.0.id.0)
    }
    async fn name(&self) -> &str {
        &self.0.name
    }
    async fn provider(&self) -> ProviderKind {
        self.0.provider
    }
    async fn base_url(&self) -> &str {
        &self.0.base_url
    }
    /// The model it serves (for Azure, the model behind the deployment).
    async fn model(&self) -> &str {
        &self.0.model
    }
    /// Azure: the deployment name.
    async fn deployment(&self) -> Option<&str> {
        self.0.deployment.as_deref()
    }
    /// Azure: the `api-version`.
    async fn api_version(&self) -> Option<&str> {
        self.0.api_version.as_deref()
    }
    /// Vertex AI: the Google Cloud project.
    async fn project(&self) -> Option<&str> {
        self.0.project.as_deref()
    }
    async fn region(&self) -> Option<&str> {
        self.0.region.as_deref()
    }
    /// The provider's requests-per-minute allowance, if known.
    async fn rpm_limit(&self) -> Option<i64> {
        self.0.rpm_limit
    }
    /// The provider's tokens-per-minute allowance, if known.
    async fn tpm_limit(&self) -> Option<i64> {
        self.0.tpm_limit
    }
    async fn timeouts(&self) -> Timeouts {
        self.0.timeouts
    }
    async fn enabled(&self) -> bool {
        self.0.enabled
    }
    /// Whether a credential is stored; the credential itself is never returned.
    async fn has_credential(&self) -> bool {
        self.0.has_credential
    }
    /// Unix milliseconds.
    async fn created_at(&self) -> i64 {
        self.0.created_at
    }
    /// Unix milliseconds.
    async fn updated_at(&self) -> i64 {
        self.0.updated_at
    }
    /// Live health in this process.
    async fn health(&self, ctx: &Context<'_>) -> EndpointHealth {
        backend(ctx).manage.endpoint_health(self.0.id)
    }
    /// Hourly traffic served by this endpoint in `[from, to)` (Unix milliseconds).
    #[graphql(complexity = 20)]
    async fn usage(&self, ctx: &Context<'_>, from: i64, to: i64) -> Result<Vec<HourlyUsage>> {
        usage(ctx, HourlyScope::Endpoint(self.0.id), from, to).await
    }
}

/// One endpoint of a gateway, with its place in the routing.
pub struct GatewayEndpointNode(pub app::types::GatewayEndpoint);

#[Object(name = "GatewayEndpoint")]
impl GatewayEndpointNode {
    async fn endpoint(&self, ctx: &Context<'_>) -> Option<EndpointNode> {
        let snapshot = backend(ctx).registry.snapshot();
        snapshot
            .upstreams
            .get(&self.0.endpoint_id)
            .map(|u| EndpointNode(u.endpoint.clone()))
    }
    async fn endpoint_id(&self) -> ID {
        global_id(NodeKind::InferenceEndpoint, self.0.endpoint_id.0)
    }
    async fn endpoint_name(&self) -> &str {
        &self.0.endpoint_name
    }
    /// Its place in the list, from 0.
    async fn position(&self) -> i64 {
        self.0.position
    }
    /// Its share under the `WEIGHTED` strategy.
    async fn weight(&self) -> i64 {
        self.0.weight
    }
    /// Its rank under the `PRIORITY` strategy (higher first).
    async fn priority(&self) -> i64 {
        self.0.priority
    }
}

/// A named proxy over an ordered list of endpoints; clients reach it with its keys.
pub struct GatewayNode(pub Box<Gateway>);

impl GatewayNode {
    pub fn new(gateway: Gateway) -> GatewayNode {
        GatewayNode(Box::new(gateway))
    }
}

#[Object(name = "Gateway")]
impl GatewayNode {
    async fn id(&self) -> ID {
        global_id(NodeKind::Gateway, self.0.id.0)
    }
    async fn name(&self) -> &str {
        &self.0.name
    }
    async fn description(&self) -> &str {
        &self.0.description
    }
    async fn strategy(&self) -> Strategy {
        self.0.strategy
    }
    async fn retry(&self) -> RetryPolicy {
        self.0.retry
    }
    /// The deadline for a whole request, milliseconds; null for the default.
    async fn deadline_ms(&self) -> Option<i64> {
        self.0.deadline_ms
    }
    /// Whether request metadata (model, status, tokens, timings) is logged.
    async fn log_metadata(&self) -> bool {
        self.0.log_metadata
    }
    /// Whether request and response bodies are logged too.
    async fn log_payloads(&self) -> bool {
        self.0.log_payloads
    }
    async fn model_aliases(&self) -> Vec<ModelAlias> {
        (self.0.model_aliases.iter())
            .map(|(alias, model)| ModelAlias {
                alias: alias.clone(),
                model: model.clone(),
            })
            .collect()
    }
    async fn enabled(&self) -> bool {
        self.0.enabled
    }
    /// Its endpoints, in order.
    async fn endpoints(&self) -> Vec<GatewayEndpointNode> {
        self.0.endpoints.iter().cloned().map(GatewayEndpointNode).collect()
    }
    /// Limits on all its keys' traffic together.
    async fn limits(&self) -> Vec<Limit> {
        self.0.limits.clone()
    }
    /// What it does to requests' fields before admitting them.
    async fn param_policy(&self) -> &app::types::ParamPolicy {
        &self.0.param_policy
    }
    /// The issuers whose end-user tokens it accepts.
    async fn identity_providers(&self, ctx: &Context<'_>) -> Result<Vec<super::identity::IdentityProviderNode>> {
        let providers = (backend(ctx).manage.identity_providers(Some(self.0.id)).await).map_err(error::manage)?;
        Ok(providers
            .into_iter()
            .map(super::identity::IdentityProviderNode)
            .collect())
    }
    /// Its guardrails, in the order they apply.
    async fn guardrails(&self, ctx: &Context<'_>) -> Result<Vec<super::guardrails::GuardrailNode>> {
        let guardrails = (backend(ctx).manage.guardrails(Some(self.0.id)).await).map_err(error::manage)?;
        Ok(guardrails.into_iter().map(super::guardrails::GuardrailNode).collect())
    }
    /// Which ways in it accepts: gateway keys, end users' tokens, or both.
    async fn auth_mode(&self) -> app::types::AuthMode {
        self.0.auth_mode
    }
    /// The CEL expression every request must satisfy, over `user`, `request`, `gateway` and `now`.
    async fn access_rule(&self) -> Option<&str> {
        self.0.access_rule.as_deref()
    }
    /// Limits per end user, per group of end users, and per prompt (its own `limits` are the
    /// total of all its traffic).
    async fn people(&self) -> &app::types::PeopleLimits {
        &self.0.people
    }
    /// Access rules on its models as clients name them (models, aliases, composite models).
    async fn model_rules(&self) -> &[app::types::ModelRule] {
        &self.0.model_rules
    }
    /// Its response cache: whether repeated requests are answered without a provider.
    async fn cache(&self) -> &app::types::CacheSettings {
        &self.0.cache
    }
    /// Unix milliseconds.
    async fn created_at(&self) -> i64 {
        self.0.created_at
    }
    /// Unix milliseconds.
    async fn updated_at(&self) -> i64 {
        self.0.updated_at
    }
    /// Its composite models, by name.
    async fn composites(&self, ctx: &Context<'_>) -> Result<Vec<CompositeNode>> {
        reader(ctx)?;
        let composites = (backend(ctx).manage.composites(Some(self.0.id)).await).map_err(error::manage)?;
        Ok(composites.into_iter().map(CompositeNode).collect())
    }
    /// Its keys as a tree: the keys without a parent, each with its `children`.
    async fn keys(&self, ctx: &Context<'_>) -> Result<Vec<KeyNode>> {
        reader(ctx)?;
        let keys = backend(ctx).manage.keys(Some(self.0.id)).await.map_err(error::manage)?;
        Ok(KeyNode::roots(Arc::new(keys)))
    }
    /// Hourly traffic in `[from, to)` (Unix milliseconds).
    #[graphql(complexity = 20)]
    async fn usage(&self, ctx: &Context<'_>, from: i64, to: i64) -> Result<Vec<HourlyUsage>> {
        usage(ctx, HourlyScope::Gateway(self.0.id), from, to).await
    }
}

/// A model name of a gateway that stands for several members.
pub struct CompositeNode(pub CompositeModel);

#[Object(name = "CompositeModel")]
impl CompositeNode {
    async fn id(&self) -> ID {
        global_id(NodeKind::CompositeModel, self.0.id.0)
    }
    /// The gateway whose clients send its name as `model`.
    async fn gateway_id(&self) -> ID {
        global_id(NodeKind::Gateway, self.0.gateway_id.0)
    }
    /// Unique within its gateway.
    async fn name(&self) -> &str {
        &self.0.name
    }
    async fn kind(&self) -> CompositeKind {
        self.0.kind
    }
    /// In the order given.
    async fn members(&self) -> &[CompositeMember] {
        &self.0.members
    }
    /// `LOAD`: the same end user keeps the same member while it is healthy (`AB` always does).
    async fn sticky(&self) -> bool {
        self.0.sticky
    }
    /// `MULTI`: how it answers.
    async fn mode(&self) -> MultiMode {
        self.0.mode
    }
    /// `BEST`: the reference that judges.
    async fn judge(&self) -> Option<&str> {
        self.0.judge.as_deref()
    }
    /// `BEST`: the judge's instructions; null for the default rubric.
    async fn rubric(&self) -> Option<&str> {
        self.0.rubric.as_deref()
    }
    /// Its own response cache, used instead of its gateway's for requests naming it; `null`:
    /// its gateway's.
    async fn cache(&self) -> Option<&app::types::CacheSettings> {
        self.0.cache.as_ref()
    }
    async fn created_at(&self) -> i64 {
        self.0.created_at
    }
    async fn updated_at(&self) -> i64 {
        self.0.updated_at
    }
    /// How each variant did in `[from, to)` (Unix milliseconds): requests, errors, latency,
    /// tokens, cost and the feedback clients sent — what an A/B test is decided by.
    #[graphql(complexity = 20)]
    async fn variants(&self, ctx: &Context<'_>, from: i64, to: i64) -> Result<Vec<VariantStats>> {
        reader(ctx)?;
        (backend(ctx).manage.variant_stats(&self.0, from, to).await).map_err(error::manage)
    }
}

/// A credential applications send to a gateway. Its secret is shown once, at creation.
pub struct KeyNode {
    pub key: GatewayKey,
    /// The keys of its gateway, for `children` (when it was read as part of a tree).
    pub family: Option<Arc<Vec<GatewayKey>>>,
}

impl KeyNode {
    /// A key read on its own.
    pub fn single(key: GatewayKey) -> Self {
        KeyNode { key, family: None }
    }

    /// The roots of a gateway's keys, each able to list its children.
    pub fn roots(keys: Arc<Vec<GatewayKey>>) -> Vec<KeyNode> {
        (keys.iter())
            .filter(|k| k.parent_id.is_none())
            .map(|k| KeyNode {
                key: k.clone(),
                family: Some(keys.clone()),
            })
            .collect()
    }
}

#[Object(name = "GatewayKey")]
impl KeyNode {
    async fn id(&self) -> ID {
        global_id(NodeKind::GatewayKey, &self.key.public_id)
    }
    async fn name(&self) -> &str {
        &self.key.name
    }
    /// The public part of the key, safe to show and log.
    async fn public_id(&self) -> &str {
        &self.key.public_id
    }
    /// The key with its secret elided, for recognising it.
    async fn masked(&self) -> &str {
        &self.key.masked
    }
    async fn gateway_id(&self) -> ID {
        global_id(NodeKind::Gateway, self.key.gateway_id.0)
    }
    async fn gateway(&self, ctx: &Context<'_>) -> Option<GatewayNode> {
        let snapshot = backend(ctx).registry.snapshot();
        snapshot
            .gateways
            .get(&self.key.gateway_id)
            .map(|g| GatewayNode(Box::new(Gateway::clone(g))))
    }
    /// The key it was derived from: its limits and revocation apply to this one.
    async fn parent_id(&self, ctx: &Context<'_>) -> Option<ID> {
        let parent = self.key.parent_id?;
        let snapshot = backend(ctx).registry.snapshot();
        let public_id = match &self.family {
            Some(family) => family.iter().find(|k| k.id == parent).map(|k| k.public_id.clone()),
            None => snapshot.key_by_id(parent).map(|k| k.key.public_id.clone()),
        };
        public_id.map(|p| global_id(NodeKind::GatewayKey, p))
    }
    /// Models it may use; null means every model of its gateway.
    async fn allowed_models(&self) -> Option<&[String]> {
        self.key.allowed_models.as_deref()
    }
    /// Unix milliseconds.
    async fn expires_at(&self) -> Option<i64> {
        self.key.expires_at
    }
    async fn enabled(&self) -> bool {
        self.key.enabled
    }
    /// Unix milliseconds.
    async fn revoked_at(&self) -> Option<i64> {
        self.key.revoked_at
    }
    /// Until when a rotated-out key keeps working, Unix milliseconds.
    async fn grace_until(&self) -> Option<i64> {
        self.key.grace_until
    }
    /// When its counted usage was last reset, Unix milliseconds.
    async fn usage_reset_at(&self) -> Option<i64> {
        self.key.usage_reset_at
    }
    async fn status(&self) -> KeyStatus {
        KeyStatus::of(&self.key, crate::manage::now_ms())
    }
    /// Its own limits; its ancestors' and its gateway's apply too.
    async fn limits(&self) -> Vec<Limit> {
        self.key.limits.clone()
    }
    /// Whether it may name the end user it calls for (`x-mgw-user`, or the body's `user`)
    /// without the user's token.
    async fn may_assert_users(&self) -> bool {
        self.key.may_assert_users
    }
    /// Unix milliseconds.
    async fn created_at(&self) -> i64 {
        self.key.created_at
    }
    /// Keys derived from this one (read as part of a gateway's tree; empty otherwise).
    async fn children(&self) -> Vec<KeyNode> {
        let Some(family) = &self.family else {
            return Vec::new();
        };
        (family.iter())
            .filter(|k| k.parent_id == Some(self.key.id))
            .map(|k| KeyNode {
                key: k.clone(),
                family: Some(family.clone()),
            })
            .collect()
    }
    /// Hourly traffic in `[from, to)` (Unix milliseconds).
    #[graphql(complexity = 20)]
    async fn usage(&self, ctx: &Context<'_>, from: i64, to: i64) -> Result<Vec<HourlyUsage>> {
        usage(ctx, HourlyScope::Key(self.key.id), from, to).await
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn global_ids_round_trip_and_name_their_kind() {
        let id = global_id(NodeKind::Gateway, 42);
        assert_eq!(parse_any_id(&id), Some((NodeKind::Gateway, "42".into())));
        assert_eq!(numeric_id(&id, NodeKind::Gateway, "id").unwrap(), 42);
        assert!(numeric_id(&id, NodeKind::InferenceEndpoint, "id").is_err());
        assert!(parse_any_id(&ID("not base64!".into())).is_none());
        assert!(parse_any_id(&ID(URL_SAFE_NO_PAD.encode("Nope:1"))).is_none());
    }
}
