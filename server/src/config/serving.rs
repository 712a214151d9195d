//! The serving process's bounds: the listener's (`[listener]`) and the inference API's
//! (`[proxy]`).

use serde::Deserialize;
use std::time::Duration;

/// The HTTP listener (SPEC §9; RELIABILITY R8 and L-03).
#[derive(Clone, Debug, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct ListenerConfig {
    /// Connections open at once; one more is closed as soon as it is accepted. Capped below
    /// the process's open-file limit (which is raised to its hard limit at start).
    pub max_connections: usize,
    /// How long a connection may take to send a complete request head: a new connection's
    /// first request, and every next one on a kept-alive connection — so it is also how long
    /// an idle connection stays open.
    #[serde(with = "humantime_serde")]
    pub header_read_timeout: Duration,
    /// How long a write to a client may wait without progress (the client stopped reading)
    /// before the connection is closed and its request's places given back.
    #[serde(with = "humantime_serde")]
    pub write_stall_timeout: Duration,
}

impl Default for ListenerConfig {
    fn default() -> Self {
        ListenerConfig {
            max_connections: 10_000,
            header_read_timeout: Duration::from_secs(30),
            write_stall_timeout: Duration::from_secs(60),
        }
    }
}

/// The inference API's defaults. Endpoints may override the timeouts, gateways the deadline.
#[derive(Clone, Debug, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct ProxyConfig {
    /// Largest request body accepted, in bytes; larger ones get 413 before being buffered.
    pub max_body_bytes: usize,
    /// How long a request's whole body may take to arrive once its key is known; a body still
    /// incomplete then is refused (408) and its place given back.
    #[serde(with = "humantime_serde")]
    pub body_read_timeout: Duration,
    /// Largest non-streamed answer read from an upstream, in bytes; a larger one fails the
    /// attempt (502 when no other endpoint answers) instead of being buffered.
    pub max_answer_bytes: usize,
    /// Refuse upstreams at private addresses (loopback, RFC 1918, link-local, unique-local):
    /// endpoints naming one are refused when saved, and names resolving only to one are
    /// refused at connect time. Off by default: Ollama or vLLM on the local network is a main
    /// use. Cloud metadata addresses are refused either way.
    pub deny_private_upstreams: bool,
    /// Establishing a connection to an upstream.
    #[serde(with = "humantime_serde")]
    pub connect_timeout: Duration,
    /// From sending a non-streamed request to the upstream's response headers.
    #[serde(with = "humantime_serde")]
    pub first_byte_timeout: Duration,
    /// From sending a streamed request to its first event.
    #[serde(with = "humantime_serde")]
    pub stream_first_byte_timeout: Duration,
    /// Longest silence between two events of a stream.
    #[serde(with = "humantime_serde")]
    pub idle_timeout: Duration,
    /// One request's deadline, retries included (a gateway may set its own).
    #[serde(with = "humantime_serde")]
    pub request_deadline: Duration,
    /// How long an endpoint cools down after a 429 that names no wait.
    #[serde(with = "humantime_serde")]
    pub default_cooldown: Duration,
    /// Requests in flight across the process beyond which new ones get 503 at once.
    pub max_in_flight: usize,
    /// Requests in flight to one endpoint beyond which it is skipped.
    pub endpoint_max_in_flight: usize,
    /// Request-log records waiting to be written; when full, new requests get 503 (never a
    /// dropped record).
    pub log_queue: usize,
    /// How long open requests and streams may finish after SIGTERM.
    #[serde(with = "humantime_serde")]
    pub shutdown_grace: Duration,
    /// Requests in flight at once on a key that sets no `concurrency` limit (RELIABILITY R8).
    pub key_max_concurrent: i64,
    /// The completion tokens a request reserves against token limits and budgets when it sets
    /// no `max_tokens` (or `max_completion_tokens`).
    pub default_max_tokens: u64,
    /// How long an admitted request's reservation holds if it is never settled.
    #[serde(with = "humantime_serde")]
    pub reservation_ttl: Duration,
    /// Web origins (`https://app.example.com`, or `*`) whose pages may call the end users'
    /// ways in (`/g/{gateway}/v1/…`, a token alone) from a browser; empty: none (no CORS
    /// headers). Keys' routes never answer cross-origin: a key does not belong in a page.
    pub cors_origins: Vec<String>,
    /// How long an identity provider's fetched key set (JWKS) is kept before it is fetched
    /// again (a `Cache-Control: max-age` from 1 minute to 24 hours wins).
    #[serde(with = "humantime_serde")]
    pub jwks_ttl: Duration,
    /// The shortest time between two fetches of one provider's key set when tokens name a key
    /// it does not hold.
    #[serde(with = "humantime_serde")]
    pub jwks_min_refresh: Duration,
    /// The most memory the response cache's answers take together, bytes (the least recently
    /// and least often used go first).
    pub cache_max_bytes: u64,
}

impl Default for ProxyConfig {
    fn default() -> Self {
        ProxyConfig {
            max_body_bytes: 8 * 1024 * 1024,
            body_read_timeout: Duration::from_secs(30),
            max_answer_bytes: 128 * 1024 * 1024,
            deny_private_upstreams: false,
            connect_timeout: Duration::from_secs(5),
            first_byte_timeout: Duration::from_secs(120),
            stream_first_byte_timeout: Duration::from_secs(30),
            idle_timeout: Duration::from_secs(60),
            request_deadline: Duration::from_secs(600),
            default_cooldown: Duration::from_secs(10),
            max_in_flight: 4096,
            endpoint_max_in_flight: 256,
            log_queue: 10_000,
            shutdown_grace: Duration::from_secs(30),
            key_max_concurrent: 64,
            default_max_tokens: 4096,
            reservation_ttl: Duration::from_secs(600),
            cors_origins: Vec::new(),
            jwks_ttl: Duration::from_secs(600),
            jwks_min_refresh: Duration::from_secs(30),
            cache_max_bytes: 256 << 20,
        }
    }
}
