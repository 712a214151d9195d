//! The HTTP client for upstream calls: pooled connections, no redirects, and cloud metadata
//! addresses refused when a host name resolves to one at connect time (DNS rebinding).
//!
//! Invariant: literal IP hosts were checked when the endpoint was saved; names are checked
//! here, every time they are resolved.

use crate::manage::endpoints::is_metadata_address;
use reqwest::dns::{Addrs, Name, Resolve, Resolving};
use std::{
    collections::HashMap,
    net::SocketAddr,
    sync::{Arc, Mutex},
    time::Duration,
};

/// Resolves with the system resolver and drops metadata addresses.
struct GuardedResolver;

impl Resolve for GuardedResolver {
    fn resolve(&self, name: Name) -> Resolving {
        Box::pin(async move {
            let host = name.as_str().to_string();
            let found: Vec<SocketAddr> = tokio::net::lookup_host((host.as_str(), 0)).await?.collect();
            let allowed: Vec<SocketAddr> = found.iter().copied().filter(|a| !is_metadata_address(a.ip())).collect();
            if allowed.is_empty() {
                tracing::warn!(host = %host, "upstream host resolves only to metadata addresses; refused");
                return Err(format!("{host} resolves to a refused address").into());
            }
            let addrs: Addrs = Box::new(allowed.into_iter());
            Ok(addrs)
        })
    }
}

/// One pooled client per connect timeout in use (reqwest sets it per client).
pub struct Clients {
    clients: Mutex<HashMap<Duration, reqwest::Client>>,
}

impl Clients {
    pub fn new() -> Self {
        Clients {
            clients: Mutex::new(HashMap::new()),
        }
    }

    /// The client for this connect timeout.
    pub fn get(&self, connect_timeout: Duration) -> reqwest::Client {
        let mut clients = self.clients.lock().unwrap_or_else(|p| p.into_inner());
        clients
            .entry(connect_timeout)
            .or_insert_with(|| {
                reqwest::Client::builder()
                    .connect_timeout(connect_timeout)
                    .redirect(reqwest::redirect::Policy::none())
                    .dns_resolver(Arc::new(GuardedResolver))
                    .tcp_nodelay(true)
                    .pool_idle_timeout(Duration::from_secs(90))
                    .build()
                    .unwrap_or_else(|error| {
                        tracing::error!(error = %error, "cannot build the upstream client; using defaults");
                        reqwest::Client::new()
                    })
            })
            .clone()
    }
}

impl Default for Clients {
    fn default() -> Self {
        Self::new()
    }
}
