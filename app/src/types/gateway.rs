//! Gateways: named proxies over an ordered list of inference endpoints.

use super::{AuthMode, CacheSettings, Change, EndpointId, Limit, ParamPolicy, PeopleLimits, PromptCap};
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;

/// Identifies a gateway.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
pub struct GatewayId(pub i64);

/// How a gateway orders its endpoints for each request (SPEC §4).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[cfg_attr(feature = "ssr", derive(async_graphql::Enum))]
#[serde(rename_all = "snake_case")]
pub enum Strategy {
    /// Each endpoint in turn.
    RoundRobin,
    /// At random, in proportion to the endpoints' weights.
    Weighted,
    /// The highest priority first; the others only when it fails (ordered failover).
    Priority,
    /// The endpoint with the fewest requests in flight.
    LeastBusy,
    /// The endpoint with the lowest recent latency.
    LeastLatency,
    /// Uniformly at random.
    Random,
}

impl Strategy {
    /// Every strategy.
    pub const ALL: [Strategy; 6] = [
        Strategy::RoundRobin,
        Strategy::Weighted,
        Strategy::Priority,
        Strategy::LeastBusy,
        Strategy::LeastLatency,
        Strategy::Random,
    ];

    /// The strategy's name as stored, typed and shown.
    pub fn as_str(self) -> &'static str {
        match self {
            Strategy::RoundRobin => "round_robin",
            Strategy::Weighted => "weighted",
            Strategy::Priority => "priority",
            Strategy::LeastBusy => "least_busy",
            Strategy::LeastLatency => "least_latency",
            Strategy::Random => "random",
        }
    }

    /// Parses a stored or typed name.
    pub fn parse(name: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|strategy| strategy.as_str() == name)
    }
}

/// Retries of one request across its gateway's endpoints (RELIABILITY R2).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "ssr", derive(async_graphql::SimpleObject, async_graphql::InputObject))]
#[cfg_attr(feature = "ssr", graphql(input_name = "RetryPolicyInput"))]
pub struct RetryPolicy {
    /// Attempts in all, the first included.
    pub max_attempts: i64,
    /// Back-off base, milliseconds (full-jitter exponential).
    pub base_ms: i64,
    /// Back-off cap, milliseconds.
    pub cap_ms: i64,
}

impl Default for RetryPolicy {
    fn default() -> Self {
        RetryPolicy {
            max_attempts: 3,
            base_ms: 100,
            cap_ms: 2_000,
        }
    }
}

/// One endpoint of a gateway, with its place in the routing.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct GatewayEndpoint {
    /// The endpoint.
    pub endpoint_id: EndpointId,
    /// The endpoint's name, for display.
    pub endpoint_name: String,
    /// Its place in the list, from 0.
    pub position: i64,
    /// Its share for the `weighted` strategy.
    pub weight: i64,
    /// Its rank for the `priority` strategy (higher first).
    pub priority: i64,
}

/// A gateway as listed and shown.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Gateway {
    /// The gateway's id.
    pub id: GatewayId,
    /// A unique name.
    pub name: String,
    /// What it is for.
    pub description: String,
    /// How it orders its endpoints.
    pub strategy: Strategy,
    /// Its retry policy.
    pub retry: RetryPolicy,
    /// A deadline for a whole request, milliseconds; `None` for the default.
    pub deadline_ms: Option<i64>,
    /// Whether request metadata is logged.
    pub log_metadata: bool,
    /// Whether request and response bodies are logged (off by default).
    pub log_payloads: bool,
    /// Model aliases: what clients ask for → what the endpoints are asked for.
    pub model_aliases: BTreeMap<String, String>,
    /// Whether it serves requests.
    pub enabled: bool,
    /// Its endpoints, in order.
    pub endpoints: Vec<GatewayEndpoint>,
    /// Limits on all its keys' traffic together.
    pub limits: Vec<Limit>,
    /// What it does to requests' fields before admitting them.
    #[serde(default)]
    pub param_policy: ParamPolicy,
    /// Which ways in it accepts: gateway keys, end users' tokens, or both.
    #[serde(default)]
    pub auth_mode: AuthMode,
    /// A CEL expression over `user`, `request`, `gateway` and `now` every request must satisfy.
    #[serde(default)]
    pub access_rule: Option<String>,
    /// Limits per end user, per group of end users, and per prompt.
    #[serde(default)]
    pub people: PeopleLimits,
    /// Access rules on models (and composite models) as clients name them, by model.
    #[serde(default)]
    pub model_rules: Vec<ModelRule>,
    /// Its response cache.
    #[serde(default)]
    pub cache: CacheSettings,
    /// Creation time, Unix milliseconds.
    pub created_at: i64,
    /// Last change, Unix milliseconds.
    pub updated_at: i64,
}

/// A model name clients may use, and the model the endpoints are asked for.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "ssr", derive(async_graphql::SimpleObject, async_graphql::InputObject))]
#[cfg_attr(feature = "ssr", graphql(input_name = "ModelAliasInput"))]
pub struct ModelAlias {
    pub alias: String,
    pub model: String,
}

/// An access rule on one model of a gateway, as its clients name it (a model, an alias or a
/// composite model): requests for it must satisfy the rule too.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "ssr", derive(async_graphql::SimpleObject, async_graphql::InputObject))]
#[cfg_attr(feature = "ssr", graphql(input_name = "ModelRuleInput"))]
pub struct ModelRule {
    pub model: String,
    /// A CEL expression, as a gateway's access rule.
    pub rule: String,
}

/// An endpoint as a gateway's list names it: by id (GraphQL) or by name (the CLI's and the
/// console form's `name[:weight[:priority]]` notation). Resolved once, when the list is checked.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum EndpointRef {
    Id(EndpointId),
    Name(String),
}

/// One endpoint of a gateway, with its routing weight and priority.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct EndpointChoice {
    pub endpoint: EndpointRef,
    pub weight: i64,
    /// `None`: earlier in the list ranks higher.
    pub priority: Option<i64>,
}

// Declared once: GraphQL's `createGateway`, the gateways page and `gateway add` all give the
// management service this. GraphQL names endpoints by global id, so `CreateGatewayInput` adds
// a field of its own and fills `endpoints` from it.
/// A new gateway.
#[derive(Clone, Debug)]
#[cfg_attr(feature = "ssr", derive(async_graphql::InputObject))]
#[cfg_attr(feature = "ssr", graphql(name = "NewGateway"))]
pub struct NewGateway {
    pub name: String,
    #[cfg_attr(feature = "ssr", graphql(default))]
    pub description: String,
    pub strategy: Strategy,
    #[cfg_attr(feature = "ssr", graphql(skip))]
    pub endpoints: Vec<EndpointChoice>,
    /// The default policy when omitted.
    pub retry: Option<RetryPolicy>,
    pub deadline_ms: Option<i64>,
    #[cfg_attr(feature = "ssr", graphql(default = true))]
    pub log_metadata: bool,
    #[cfg_attr(feature = "ssr", graphql(default))]
    pub log_payloads: bool,
    /// Each alias once.
    #[cfg_attr(feature = "ssr", graphql(default))]
    pub model_aliases: Vec<ModelAlias>,
    #[cfg_attr(feature = "ssr", graphql(default = true))]
    pub enabled: bool,
    /// Limits on all its keys' traffic together.
    #[cfg_attr(feature = "ssr", graphql(default))]
    pub limits: Vec<Limit>,
    /// What it does to requests' fields before admitting them.
    #[cfg_attr(feature = "ssr", graphql(default))]
    pub param_policy: ParamPolicy,
    /// Which ways in it accepts.
    #[cfg_attr(feature = "ssr", graphql(default))]
    pub auth_mode: AuthMode,
    /// A CEL expression every request must satisfy (`'llm' in user.groups`).
    pub access_rule: Option<String>,
    /// Limits per end user, per group of end users, and per prompt.
    #[cfg_attr(feature = "ssr", graphql(default))]
    pub people: PeopleLimits,
    /// Access rules on models (and composite models), each model once.
    #[cfg_attr(feature = "ssr", graphql(default))]
    pub model_rules: Vec<ModelRule>,
    /// Its response cache (off unless given).
    #[cfg_attr(feature = "ssr", graphql(default))]
    pub cache: CacheSettings,
}

impl NewGateway {
    /// A gateway over `endpoints` with every other setting at its default.
    pub fn new(name: impl Into<String>, strategy: Strategy, endpoints: Vec<EndpointChoice>) -> Self {
        NewGateway {
            name: name.into(),
            description: String::new(),
            strategy,
            endpoints,
            retry: None,
            deadline_ms: None,
            log_metadata: true,
            log_payloads: false,
            model_aliases: Vec::new(),
            enabled: true,
            limits: Vec::new(),
            param_policy: ParamPolicy::default(),
            auth_mode: AuthMode::Key,
            access_rule: None,
            people: PeopleLimits::default(),
            model_rules: Vec::new(),
            cache: CacheSettings::default(),
        }
    }
}

// GraphQL replaces the endpoints with `setGatewayEndpoints`.
/// Changes to a gateway; omitted fields stay as they are.
#[derive(Clone, Debug, Default)]
#[cfg_attr(feature = "ssr", derive(async_graphql::InputObject))]
#[cfg_attr(feature = "ssr", graphql(name = "UpdateGatewayInput"))]
pub struct GatewayUpdate {
    pub name: Option<String>,
    pub description: Option<String>,
    pub strategy: Option<Strategy>,
    #[cfg_attr(feature = "ssr", graphql(skip))]
    pub endpoints: Option<Vec<EndpointChoice>>,
    pub log_metadata: Option<bool>,
    pub log_payloads: Option<bool>,
    pub enabled: Option<bool>,
    pub retry: Option<RetryPolicy>,
    /// `null` goes back to the default deadline.
    pub deadline_ms: Change<i64>,
    /// Replaces every alias.
    pub model_aliases: Option<Vec<ModelAlias>>,
    /// Replaces all its limits.
    pub limits: Option<Vec<Limit>>,
    /// Replaces its parameter policy.
    pub param_policy: Option<ParamPolicy>,
    /// Which ways in it accepts.
    pub auth_mode: Option<AuthMode>,
    /// `null` removes the access rule.
    pub access_rule: Change<String>,
    /// Replaces its limits per end user, per group and per prompt.
    pub people: Option<PeopleLimits>,
    /// Replaces every access rule on its models.
    pub model_rules: Option<Vec<ModelRule>>,
    /// Replaces its response cache's settings.
    pub cache: Option<CacheSettings>,
}

/// The gateways page's form, as typed: the server reads its endpoint list
/// (`name[:weight[:priority]]`, comma-separated) into a [`NewGateway`].
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct NewGatewayForm {
    pub name: String,
    pub description: String,
    pub strategy: Strategy,
    /// The endpoints in order, comma-separated, each `name[:weight[:priority]]`.
    pub endpoints: String,
    /// Whether request and response bodies are logged.
    pub log_payloads: bool,
}

/// A gateway's edit form, as typed: the server reads its notations into a [`GatewayUpdate`].
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct GatewayEditForm {
    pub id: i64,
    pub name: String,
    pub description: String,
    pub strategy: Strategy,
    /// As [`NewGatewayForm::endpoints`] (the endpoint picker writes it).
    pub endpoints: String,
    /// Attempts in all, the first included.
    pub max_attempts: String,
    pub backoff_base_ms: String,
    pub backoff_cap_ms: String,
    /// Milliseconds; empty for the server's default.
    pub deadline_ms: String,
    /// Comma-separated limits in the CLI's notation; empty removes them all.
    pub limits: String,
    /// Comma-separated `alias=model` pairs; empty removes them all.
    pub model_aliases: String,
    /// The parameter policy one rule a line ([`super::ParamPolicy::lines`]); empty removes it.
    pub param_policy: String,
    /// Which ways in it accepts; `None` keeps them.
    pub auth_mode: Option<AuthMode>,
    /// The access rule (CEL), from the form's `access` field; empty removes it.
    pub access_rule: String,
    /// Each end user's limits, comma-separated in the CLI's notation; empty: none.
    pub user_limits: String,
    /// The group rule (CEL over `user`, e.g. `user.department`); empty: no groups.
    pub group_rule: String,
    /// Each group's limits, comma-separated in the CLI's notation; empty: none.
    pub group_limits: String,
    /// The most tokens one request may take, a whole number; empty: no cap.
    pub max_tokens_per_prompt: String,
    /// What happens to a request over that cap.
    pub over_cap: PromptCap,
    /// The response cache: `off`, `exact` or `semantic` ([`super::CacheMode`]); blank leaves it
    /// as it is.
    pub cache: String,
    /// How long an answer is kept, as [`super::parse_ttl`] reads it.
    pub cache_ttl: String,
    /// The largest answer kept, as [`super::parse_size`] reads it.
    pub cache_max_entry: String,
    pub cache_collapse: bool,
    /// `semantic`: the embedding model's name; blank: none.
    pub cache_embedding: String,
    /// `semantic`: the similarity, as a number (blank: the default).
    pub cache_similarity: String,
    pub log_metadata: bool,
    pub log_payloads: bool,
    pub enabled: bool,
}

/// The gateways page: every gateway, and the URL clients reach them at.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct GatewayListing {
    pub gateways: Vec<Gateway>,
    /// The server's public URL (`public_url`, else the address the browser used).
    pub base_url: String,
    /// Each gateway's first endpoint's model, for the snippets.
    pub models: Vec<(GatewayId, String)>,
    /// Every gateway's composite models, by name.
    pub composites: Vec<super::CompositeModel>,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn strategies_round_trip_through_their_names() {
        for strategy in Strategy::ALL {
            assert_eq!(Strategy::parse(strategy.as_str()), Some(strategy));
        }
        assert_eq!(Strategy::parse("fastest"), None);
    }
}
