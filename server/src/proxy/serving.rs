//! The serving process as the management service sees it ([`crate::manage::Runtime`]): a
//! change reloads the registry before it returns, and endpoints' live health and "Test
//! connection" come from this process's balancer and upstream clients. Health says what there
//! is evidence for: "untested" until a request or a test reached the endpoint, "failing" when
//! the last one failed although the circuit is still closed.
//!
//! Invariant: `manage` reaches the proxy only through this; it never imports `proxy`.

use super::{
    balancer::{HealthState, Outcome},
    registry::Registry,
    Proxy,
};
use crate::manage::{BoxFuture, Manage, ManageError, Runtime};
use app::types::{EndpointHealth, EndpointId, EndpointProbe};
use std::sync::Arc;

/// The proxy and its registry, attached to the management service (`Manage::attach`).
pub struct Serving {
    pub proxy: Arc<Proxy>,
    pub registry: Arc<Registry>,
}

impl Runtime for Serving {
    fn changed<'a>(&'a self, manage: &'a Manage) -> BoxFuture<'a, Result<(), ManageError>> {
        Box::pin(async move { self.registry.refresh(manage).await.map(drop) })
    }

    fn health(&self, id: EndpointId) -> EndpointHealth {
        let snapshot = self.registry.snapshot();
        let Some(upstream) = snapshot.upstreams.get(&id) else {
            return EndpointHealth::Unknown;
        };
        let balancer = &self.proxy.balancer;
        match balancer.state(upstream, std::time::Instant::now()) {
            HealthState::Healthy => match balancer.last_outcome(id) {
                None => EndpointHealth::Untested,
                Some(Outcome::Failed) => EndpointHealth::Failing,
                Some(Outcome::Answered) => EndpointHealth::Healthy,
            },
            HealthState::CoolingDown { .. } => EndpointHealth::CoolingDown,
            HealthState::CircuitOpen { .. } => EndpointHealth::CircuitOpen,
            HealthState::Misconfigured { .. } => EndpointHealth::Misconfigured,
        }
    }

    fn probe(&self, id: EndpointId) -> BoxFuture<'_, Option<EndpointProbe>> {
        Box::pin(async move {
            let snapshot = self.registry.snapshot();
            let upstream = snapshot.upstreams.get(&id)?;
            let probe = self.proxy.probe(upstream).await;
            let outcome = if probe.ok() { Outcome::Answered } else { Outcome::Failed };
            self.proxy.balancer.tested(id, outcome);
            Some(EndpointProbe {
                status: probe.status.map(i64::from),
                latency_ms: probe.latency_ms,
                error: probe.error,
                health: self.health(id),
            })
        })
    }
}
