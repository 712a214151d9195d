//! The serving process as the management service sees it ([`crate::manage::Runtime`]): a
//! change reloads the registry before it returns, and endpoints' live health and "Test
//! connection" come from this process's balancer and upstream clients.
//!
//! Invariant: `manage` reaches the proxy only through this; it never imports `proxy`.

use super::{balancer::HealthState, registry::Registry, Proxy};
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
        match self.proxy.balancer.state(upstream, std::time::Instant::now()) {
            HealthState::Healthy => EndpointHealth::Healthy,
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
            Some(EndpointProbe {
                status: probe.status.map(i64::from),
                latency_ms: probe.latency_ms,
                error: probe.error,
            })
        })
    }
}
