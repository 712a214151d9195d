//! Gateways: named proxies over an ordered list of inference endpoints.

use super::{EndpointId, Limit};
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
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
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
    /// Creation time, Unix milliseconds.
    pub created_at: i64,
    /// Last change, Unix milliseconds.
    pub updated_at: i64,
}

/// The gateways page's form, as typed.
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

/// The gateways page: every gateway, and the URL clients reach them at.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct GatewayListing {
    pub gateways: Vec<Gateway>,
    /// The server's public URL (`public_url`, else the address the browser used).
    pub base_url: String,
    /// Each gateway's first endpoint's model, for the snippets.
    pub models: Vec<(GatewayId, String)>,
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
