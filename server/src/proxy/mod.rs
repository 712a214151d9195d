//! The inference path. A request's journey:
//! 1. [`api`] — the route (OpenAI, Azure or Anthropic shape) admits it against the process's
//!    in-flight limit, then
//! 2. [`auth`] checks the gateway key against the [`registry`] snapshot (never the database):
//!    the request's [`route::Principal`] is the key's lineage through its gateway (or, for the
//!    console's playground, a gateway or one endpoint on its own). A key's request then takes
//!    its places under the concurrency limits ([`limits::Arrival`]: a stalled upload holds its
//!    own key's places, not the process's) and its body is read, within
//!    `proxy.body_read_timeout` (408 after). Steps 3–9 are [`route`]'s, one function each, the
//!    same for every principal:
//! 3. `read`: [`wire`] reads and checks the body (bad input: 4xx, no upstream call);
//!    Anthropic-shaped bodies are first read by the client dialect [`messages`], a body
//!    naming a [`prompt`] is first made into the request that prompt makes, and the gateway's
//!    parameter [`policy`] is applied, then its cap on one request's tokens ([`people`]);
//!    last its [`guard`]rails read the request's text (block: 400 with no upstream call;
//!    redact: placeholders in what is sent);
//! 4. `plan`: the end user is known (a verified token's subject, or the user a key that may
//!    assert users names) with their group ([`people`]); the model (or alias, or Azure
//!    deployment) picks the candidate endpoints, narrowed by the key's allowed models; a
//!    [`composite`] model orders its members for the request and each member names its
//!    endpoints; its [`access`] rules (the gateway's, the model's, the prompt's) let it
//!    through or deny it;
//! 5. `record` reserves the request's place in the request-log queue ([`usage`]; full: 503),
//!    and `admit` checks it against the limits of its key, the key's ancestors, its end user
//!    and their group, and its gateway ([`limits`]: reserving the estimated usage on all of them, or 429);
//!    a gateway's response [`cache`] then answers a request like one it answered before,
//!    without a provider; otherwise its [`moderation`] endpoints are asked about the request
//!    (flagged: 400, or a mark on its record);
//! 6. [`balancer`] orders the candidates by the gateway's strategy and their health;
//! 7. [`failover`] tries them — each provider's [`providers::Adapter`] translates the call,
//!    [`upstream`] sends it — with retries and back-off up to the commit point (the first byte
//!    to the client) — a `multi` composite calls every member at once ([`multi`]), a `best`
//!    one its candidates and then its judge ([`best`]);
//! 8. [`shape`] answers in the client's dialect, through the response guardrails (placeholders
//!    put back); [`stream`] carries a stream past the commit point, capturing usage; [`error`]
//!    shapes every refusal as OpenAI does;
//! 9. the record settles the request's reservation with its actual usage and goes to the
//!    background writer, which stores logs, usage events and counters in batches.
//!
//! [`models`] answers `GET /v1/models` from the snapshot; [`feedback`] keeps a client's score
//! for one of its requests (`POST /v1/feedback`).

pub mod access;
pub mod api;
pub mod auth;
pub mod aws_credentials;
pub mod aws_events;
pub mod balancer;
pub mod best;
pub mod cache;
pub mod composite;
pub mod error;
pub mod failover;
pub mod feedback;
pub mod guard;
pub mod limits;
pub mod messages;
pub mod models;
pub mod moderation;
pub mod multi;
pub mod people;
pub mod plan;
pub mod policy;
pub mod probe;
pub mod prompt;
pub mod providers;
pub mod redact;
pub mod registry;
pub mod responses;
pub mod route;
pub mod serving;
pub mod shape;
pub mod sigv4;
pub mod sse;
pub mod stream;
pub mod token;
pub mod upstream;
pub mod usage;
pub mod wire;

use crate::{
    config::{ProxyConfig, RedisConfig},
    metrics::{Live, Metrics},
    store::Store,
    traces::Traces,
};
use balancer::{Balancer, HealthState};
use limits::{Counters, Ledger, LedgerSettings};
use std::sync::{
    atomic::{AtomicBool, AtomicUsize, Ordering},
    Arc,
};
use tokio::sync::watch;
use usage::LogWriter;

/// A new request id: 32 hex digits — the Unix time in milliseconds (48 bits), then 80 random
/// bits (UUIDv7's layout, without its dashes). Ids made later sort later, so the request-log
/// index on them grows at its end instead of touching a random page per row.
pub fn request_id() -> String {
    let millis = u64::try_from(crate::store::now_ms()).unwrap_or(0) & 0xffff_ffff_ffff;
    let random = rand::random::<u128>() >> 48;
    format!("{millis:012x}{random:020x}")
}

/// The inference path's shared state: health, clients, the log writer and the counters.
pub struct Proxy {
    pub settings: ProxyConfig,
    pub balancer: Balancer,
    clients: upstream::Clients,
    /// The AWS credential chain, for Bedrock endpoints that store no key.
    aws: aws_credentials::AwsChain,
    pub logs: LogWriter,
    /// Usage and reservations against the limits of keys and gateways: in memory, or in Redis.
    pub counters: Counters,
    /// This process's name among the replicas (in Redis's heartbeat set).
    pub replica: String,
    /// What `/metrics` reports.
    pub metrics: Arc<Metrics>,
    /// The span exporter, when traces are configured.
    pub traces: Option<Arc<Traces>>,
    /// Verifies end users' tokens (issue #23), caching their issuers' keys.
    pub verifier: Arc<crate::identity::Verifier>,
    /// Answers kept for requests like them (issue #24), every caching gateway's.
    pub cache: cache::ResponseCache,
    in_flight: AtomicUsize,
    retries_in_flight: AtomicUsize,
    draining: AtomicBool,
    /// Set when the shutdown grace period is over: open streams end with an error event.
    grace_over: watch::Sender<bool>,
}

/// Holds one of the process's in-flight places until dropped.
pub struct InFlight(Arc<Proxy>);

impl Drop for InFlight {
    fn drop(&mut self) {
        self.0.in_flight.fetch_sub(1, Ordering::SeqCst);
    }
}

impl Proxy {
    /// The proxy, with its log writer started (journaling under `data_dir` while the database
    /// is away); limits counted in Redis when `redis` has a URL; spans go to `traces` when given.
    pub fn start(
        settings: ProxyConfig,
        redis: &RedisConfig,
        data_dir: &std::path::Path,
        store: Store,
        traces: Option<Arc<Traces>>,
    ) -> Result<Arc<Proxy>, limits::shared::RedisError> {
        let ledger_settings = LedgerSettings {
            key_concurrency: settings.key_max_concurrent,
            reservation_ttl: settings.reservation_ttl,
        };
        let local = Ledger::new(ledger_settings, crate::store::now_ms());
        let counters = match &redis.url {
            None => Counters::Local(local),
            Some(url) => {
                let shared = limits::shared::SharedLedger::new(redis, url.expose(), ledger_settings)?;
                Counters::Shared(limits::Shared::new(shared, local, redis.on_failure))
            }
        };
        Ok(Arc::new(Proxy {
            balancer: Balancer::new(settings.endpoint_max_in_flight),
            clients: upstream::Clients::new(crate::manage::endpoints::UpstreamPolicy {
                deny_private: settings.deny_private_upstreams,
            }),
            aws: aws_credentials::AwsChain::from_env(),
            logs: LogWriter::start(store, settings.log_queue, data_dir.join("journal/requests.journal")),
            counters,
            replica: format!("{:016x}", rand::random::<u64>()),
            metrics: Arc::new(Metrics::new()),
            traces,
            verifier: Arc::new(crate::identity::Verifier::new(
                Arc::new(crate::identity::UpstreamFetcher::new(
                    crate::manage::endpoints::UpstreamPolicy {
                        deny_private: settings.deny_private_upstreams,
                    },
                )),
                crate::identity::VerifierConfig {
                    key_set_ttl: settings.jwks_ttl,
                    min_refresh_interval: settings.jwks_min_refresh,
                },
            )),
            cache: cache::ResponseCache::new(settings.cache_max_bytes, redis)?,
            in_flight: AtomicUsize::new(0),
            retries_in_flight: AtomicUsize::new(0),
            draining: AtomicBool::new(false),
            grace_over: watch::Sender::new(false),
            settings,
        }))
    }

    /// A place for one more request, unless `max_in_flight` are already being served.
    pub fn admit(self: &Arc<Self>) -> Option<InFlight> {
        if self.in_flight.fetch_add(1, Ordering::SeqCst) >= self.settings.max_in_flight {
            self.in_flight.fetch_sub(1, Ordering::SeqCst);
            return None;
        }
        Some(InFlight(self.clone()))
    }

    /// Requests being served now.
    pub fn in_flight(&self) -> usize {
        self.in_flight.load(Ordering::SeqCst)
    }

    /// The state `/metrics` reads when scraped: requests in flight, the log queue, and the
    /// health of every endpoint in `snapshot`.
    pub fn live(&self, snapshot: &registry::Snapshot) -> Live {
        let now = std::time::Instant::now();
        let mut endpoints: Vec<(String, &'static str)> = snapshot
            .upstreams
            .values()
            .map(|upstream| {
                let state = match self.balancer.state(upstream, now) {
                    HealthState::Healthy => "healthy",
                    HealthState::CoolingDown { .. } => "cooling_down",
                    HealthState::CircuitOpen { .. } => "circuit_open",
                    HealthState::Misconfigured { .. } => "misconfigured",
                };
                (upstream.endpoint.name.clone(), state)
            })
            .collect();
        endpoints.sort();
        Live {
            in_flight: self.in_flight(),
            queue_depth: self.logs.depth(),
            queue_capacity: self.logs.capacity(),
            endpoints,
            limits_mode: self.counters.mode().label(),
        }
    }

    /// Shutdown has begun: readiness fails from now on.
    pub fn start_draining(&self) {
        self.draining.store(true, Ordering::SeqCst);
    }

    /// Whether shutdown has begun.
    pub fn draining(&self) -> bool {
        self.draining.load(Ordering::SeqCst)
    }

    /// The grace period is over: open streams end now, with an error event.
    pub fn end_grace(&self) {
        self.grace_over.send_replace(true);
    }
}
