//! Prometheus metrics: counters and histograms recorded as each inference request ends, gauges
//! read when scraped, and `GET /metrics` in the OpenMetrics text format (optionally behind a
//! bearer token).
//!
//! Invariant: label values come from configuration (gateway and endpoint names, the models and
//! aliases a gateway serves) or from small fixed sets (status codes, error classes, limit
//! metrics) — never from a client's free text — so the number of series stays bounded.
//! Invariant: each registry belongs to one process state, so servers in one test binary never
//! share counts.

use crate::{store::LATENCY_BOUNDS_MS, AppState};
use app::types::RequestLog;
use axum::{
    extract::State,
    http::{header, HeaderMap, HeaderValue, StatusCode},
    response::{IntoResponse, Response},
};
use prometheus_client::{
    encoding::{text::encode, EncodeLabelSet},
    metrics::{counter::Counter, family::Family, gauge::Gauge, histogram::Histogram},
    registry::Registry,
};
use std::sync::Mutex;
use subtle::ConstantTimeEq;

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct RouteLabels {
    gateway: String,
    endpoint: String,
    model: String,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct VariantLabels {
    gateway: String,
    model: String,
    variant: String,
    status: u16,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct RequestLabels {
    #[prometheus(flatten)]
    route: RouteLabels,
    status: u16,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct TokenLabels {
    #[prometheus(flatten)]
    route: RouteLabels,
    kind: &'static str,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct ErrorLabels {
    gateway: String,
    endpoint: String,
    class: String,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct GatewayLabels {
    gateway: String,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct CacheLabels {
    gateway: String,
    /// `hit`, `miss` or `bypass`.
    result: String,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct GuardrailLabels {
    gateway: String,
    /// `request` or `response`.
    direction: String,
    /// `email`, …, `regex`, `words`.
    detector: String,
    /// `redact`, `restore`, `block` or `flag`.
    action: String,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct LimitLabels {
    gateway: String,
    scope: &'static str,
    metric: &'static str,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct HealthLabels {
    endpoint: String,
    state: &'static str,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct ModeLabels {
    mode: &'static str,
}

/// Every mode the limits can be counted in (`limits_mode` shows one series per mode).
pub const LIMIT_MODES: [&str; 4] = ["local", "shared", "local_fallback", "refusing"];

/// The names a finished request is counted under.
pub struct Names<'a> {
    pub gateway: &'a str,
    /// The endpoint that served, or the empty string.
    pub endpoint: &'a str,
    /// Resolves an attempt's endpoint id to its name.
    pub endpoint_name: &'a dyn Fn(app::types::EndpointId) -> String,
}

/// What the scrape reads off the live state.
pub struct Live {
    pub in_flight: usize,
    pub queue_depth: usize,
    pub queue_capacity: usize,
    /// Each endpoint's name and health state (`healthy`, `cooling_down`, `circuit_open`,
    /// `misconfigured`).
    pub endpoints: Vec<(String, &'static str)>,
    /// Where the limits are counted now: one of [`LIMIT_MODES`].
    pub limits_mode: &'static str,
}

/// Every health state an endpoint can be in, so each endpoint shows one series per state.
pub const HEALTH_STATES: [&str; 4] = ["healthy", "cooling_down", "circuit_open", "misconfigured"];

/// The process's metrics.
pub struct Metrics {
    registry: Registry,
    requests: Family<RequestLabels, Counter>,
    variant_requests: Family<VariantLabels, Counter>,
    latency: Family<RouteLabels, Histogram>,
    ttft: Family<RouteLabels, Histogram>,
    tokens: Family<TokenLabels, Counter>,
    cost: Family<RouteLabels, Counter>,
    upstream_errors: Family<ErrorLabels, Counter>,
    retries: Family<GatewayLabels, Counter>,
    failovers: Family<GatewayLabels, Counter>,
    limit_rejections: Family<LimitLabels, Counter>,
    cache_requests: Family<CacheLabels, Counter>,
    cache_saved: Family<GatewayLabels, Counter>,
    guardrail_hits: Family<GuardrailLabels, Counter>,
    endpoint_health: Family<HealthLabels, Gauge>,
    limits_mode: Family<ModeLabels, Gauge>,
    in_flight: Gauge,
    queue_depth: Gauge,
    queue_capacity: Gauge,
    queue_dropped: Counter,
    connections_refused: Counter,
    usage_clamped: Counter,
    /// One scrape at a time: the health gauges are cleared and set again on each.
    scraping: Mutex<()>,
}

/// Seconds, from 5 ms to 5 minutes (the hourly history's bounds): proxied calls range from
/// cached embeddings to long streams.
fn histogram() -> Histogram {
    Histogram::new(LATENCY_BOUNDS_MS.map(|ms| ms as f64 / 1000.0))
}

impl Default for Metrics {
    fn default() -> Self {
        Self::new()
    }
}

impl Metrics {
    /// Every metric registered, all at zero.
    pub fn new() -> Metrics {
        let mut registry = Registry::with_prefix("mgw");
        let metrics = Metrics {
            requests: Family::default(),
            variant_requests: Family::default(),
            latency: Family::new_with_constructor(histogram as fn() -> Histogram),
            ttft: Family::new_with_constructor(histogram as fn() -> Histogram),
            tokens: Family::default(),
            cost: Family::default(),
            upstream_errors: Family::default(),
            retries: Family::default(),
            failovers: Family::default(),
            limit_rejections: Family::default(),
            cache_requests: Family::default(),
            cache_saved: Family::default(),
            guardrail_hits: Family::default(),
            endpoint_health: Family::default(),
            limits_mode: Family::default(),
            in_flight: Gauge::default(),
            queue_depth: Gauge::default(),
            queue_capacity: Gauge::default(),
            queue_dropped: Counter::default(),
            connections_refused: Counter::default(),
            usage_clamped: Counter::default(),
            scraping: Mutex::new(()),
            registry: Registry::default(),
        };
        registry.register(
            "requests",
            "Inference requests answered, by gateway, serving endpoint, model and HTTP status",
            metrics.requests.clone(),
        );
        registry.register(
            "request_duration_seconds",
            "Time from a request's arrival to the end of its answer (a stream's last event)",
            metrics.latency.clone(),
        );
        registry.register(
            "time_to_first_token_seconds",
            "Time from a request's arrival to the first byte of its answer",
            metrics.ttft.clone(),
        );
        registry.register(
            "tokens",
            "Tokens used, by kind (prompt or completion)",
            metrics.tokens.clone(),
        );
        registry.register(
            "cost_micros",
            "Cost of the tokens used, in millionths of the price's currency unit",
            metrics.cost.clone(),
        );
        registry.register(
            "upstream_errors",
            "Failed upstream attempts, by endpoint and error class",
            metrics.upstream_errors.clone(),
        );
        registry.register(
            "retries",
            "Upstream attempts after the first of the same call (a request's, a composite member's, a judge's or the semantic cache's embedding call)",
            metrics.retries.clone(),
        );
        registry.register(
            "failovers",
            "Retries sent to a different endpoint than the attempt before them in the same call",
            metrics.failovers.clone(),
        );
        registry.register(
            "composite_requests",
            "Requests to composite models, by gateway, model, variant (the member that served, else the \
             one planned first) and HTTP status",
            metrics.variant_requests.clone(),
        );
        registry.register(
            "cache_requests",
            "Requests to caching gateways, by what the response cache did: hit (answered from it, \
             no tokens used), miss, or bypass (the client skipped it)",
            metrics.cache_requests.clone(),
        );
        registry.register(
            "cache_saved_cost_micros",
            "What answering from the response cache saved, by gateway: the kept answers' cost at \
             the prices set, in millionths of their currency",
            metrics.cache_saved.clone(),
        );
        registry.register(
            "guardrail_hits",
            "Requests in which a guardrail found something, by direction, detector and action (each \
             once a request)",
            metrics.guardrail_hits.clone(),
        );
        registry.register(
            "rate_limit_rejections",
            "Requests refused by a key's or gateway's limit, by scope and metric",
            metrics.limit_rejections.clone(),
        );
        registry.register(
            "endpoint_health",
            "1 for the state each endpoint is in now, 0 for the others",
            metrics.endpoint_health.clone(),
        );
        registry.register(
            "requests_in_flight",
            "Inference requests being served now",
            metrics.in_flight.clone(),
        );
        registry.register(
            "limits_mode",
            "Where the limits are counted: 1 for the mode in force (shared: in Redis; local_fallback \
             and refusing: Redis unreachable under fail_open and fail_closed)",
            metrics.limits_mode.clone(),
        );
        registry.register(
            "usage_queue_depth",
            "Request records waiting for the background writer",
            metrics.queue_depth.clone(),
        );
        registry.register(
            "usage_queue_capacity",
            "Request records the queue holds before new requests are refused with 503",
            metrics.queue_capacity.clone(),
        );
        registry.register(
            "usage_queue_dropped",
            "Request records lost because the writer had stopped (must stay 0)",
            metrics.queue_dropped.clone(),
        );
        registry.register(
            "connections_refused",
            "Connections closed as soon as accepted because listener.max_connections were open",
            metrics.connections_refused.clone(),
        );
        registry.register(
            "upstream_usage_clamped",
            "Answers whose reported usage was past the plausible maximum and was clamped to it",
            metrics.usage_clamped.clone(),
        );
        Metrics { registry, ..metrics }
    }

    /// Counts a request that ended with a record (it was routed): its status, timings, tokens,
    /// cost, failed attempts, retries and failovers.
    pub fn finished(&self, log: &RequestLog, names: &Names<'_>) {
        // One set of owned labels per request, borrowed for each lookup, then moved: a lookup
        // of a series that exists allocates nothing more.
        let mut tokens = TokenLabels {
            route: RouteLabels {
                gateway: names.gateway.to_string(),
                endpoint: names.endpoint.to_string(),
                model: log.model.clone().unwrap_or_default(),
            },
            kind: "prompt",
        };
        let route = &tokens.route;
        self.latency.get_or_create(route).observe(seconds(log.latency_ms));
        if let Some(ttft) = log.ttft_ms {
            self.ttft.get_or_create(route).observe(seconds(ttft));
        }
        if log.cost_micros > 0 {
            self.cost
                .get_or_create(route)
                .inc_by(u64::try_from(log.cost_micros).unwrap_or(0));
        }
        for (kind, count) in [("prompt", log.prompt_tokens), ("completion", log.completion_tokens)] {
            if count > 0 {
                tokens.kind = kind;
                self.tokens
                    .get_or_create(&tokens)
                    .inc_by(u64::try_from(count).unwrap_or(0));
            }
        }
        let route = tokens.route;
        // An attempt is a retry when it follows one of the same call (the same member, or the
        // semantic cache's embedding call, `cache`): a call's first attempt is not.
        let mut previous: Option<&app::types::RequestAttempt> = None;
        for attempt in &log.attempts {
            if let Some(previous) = previous.filter(|previous| previous.variant == attempt.variant) {
                let gateway = GatewayLabels {
                    gateway: route.gateway.clone(),
                };
                self.retries.get_or_create(&gateway).inc();
                if attempt.endpoint_id != previous.endpoint_id {
                    self.failovers.get_or_create(&gateway).inc();
                }
            }
            previous = Some(attempt);
            if let (Some(class), Some(endpoint)) = (&attempt.error_class, attempt.endpoint_id) {
                self.upstream_errors
                    .get_or_create(&ErrorLabels {
                        gateway: route.gateway.clone(),
                        endpoint: (names.endpoint_name)(endpoint),
                        class: class.clone(),
                    })
                    .inc();
            }
        }
        let status = u16::try_from(log.status).unwrap_or(0);
        if let Some(variant) = &log.variant {
            self.variant_requests
                .get_or_create(&VariantLabels {
                    gateway: route.gateway.clone(),
                    model: route.model.clone(),
                    variant: variant.clone(),
                    status,
                })
                .inc();
        }
        if let Some(result) = &log.cache {
            self.cache_requests
                .get_or_create(&CacheLabels {
                    gateway: route.gateway.clone(),
                    result: result.clone(),
                })
                .inc();
        }
        for finding in log.guardrails.as_deref().into_iter().flat_map(|found| found.split(',')) {
            let mut parts = finding.splitn(3, ':');
            if let (Some(direction), Some(detector), Some(action)) = (parts.next(), parts.next(), parts.next()) {
                self.guardrail_hit(&route.gateway, direction, detector, action);
            }
        }
        self.requests.get_or_create(&RequestLabels { route, status }).inc();
    }

    /// Counts what a cache hit saved (millionths).
    pub fn cache_saved(&self, gateway: &str, micros: i64) {
        let micros = u64::try_from(micros).unwrap_or(0);
        self.cache_saved
            .get_or_create(&GatewayLabels {
                gateway: gateway.to_string(),
            })
            .inc_by(micros);
    }

    /// Counts a guardrail's finding (a request blocked before it was recorded is counted here
    /// directly; the others from their record).
    pub fn guardrail_hit(&self, gateway: &str, direction: &str, detector: &str, action: &str) {
        self.guardrail_hits
            .get_or_create(&GuardrailLabels {
                gateway: gateway.to_string(),
                direction: direction.to_string(),
                detector: detector.to_string(),
                action: action.to_string(),
            })
            .inc();
    }

    /// Counts a request refused before it was routed (bad key, bad body, unknown model, the
    /// process overloaded): there is no endpoint or model to name.
    pub fn refused(&self, gateway: Option<&str>, status: u16) {
        self.requests
            .get_or_create(&RequestLabels {
                route: RouteLabels {
                    gateway: gateway.unwrap_or_default().to_string(),
                    endpoint: String::new(),
                    model: String::new(),
                },
                status,
            })
            .inc();
    }

    /// Counts a request refused by a limit of its key (or an ancestor) or of its gateway.
    pub fn limit_rejected(&self, gateway: &str, scope: &'static str, metric: &'static str) {
        self.limit_rejections
            .get_or_create(&LimitLabels {
                gateway: gateway.to_string(),
                scope,
                metric,
            })
            .inc();
    }

    /// Counts a connection closed at once because the listener was full.
    pub fn connection_refused(&self) {
        self.connections_refused.inc();
    }

    /// Counts an answer whose usage figure was clamped.
    pub fn usage_clamped(&self) {
        self.usage_clamped.inc();
    }

    /// Counts a request record that could not reach the writer.
    pub fn record_dropped(&self) {
        self.queue_dropped.inc();
    }

    /// The metrics in the OpenMetrics text format, with the gauges read from `live`.
    pub fn render(&self, live: &Live) -> String {
        let _one_at_a_time = self.scraping.lock().unwrap_or_else(|p| p.into_inner());
        self.in_flight.set(gauge(live.in_flight));
        self.queue_depth.set(gauge(live.queue_depth));
        self.queue_capacity.set(gauge(live.queue_capacity));
        for mode in LIMIT_MODES {
            (self.limits_mode.get_or_create(&ModeLabels { mode })).set(i64::from(mode == live.limits_mode));
        }
        // Deleted endpoints disappear; every other endpoint shows all its states.
        self.endpoint_health.clear();
        for (endpoint, current) in &live.endpoints {
            for state in HEALTH_STATES {
                self.endpoint_health
                    .get_or_create(&HealthLabels {
                        endpoint: endpoint.clone(),
                        state,
                    })
                    .set(i64::from(state == *current));
            }
        }
        let mut text = String::new();
        // Writing to a String cannot fail.
        let _ = encode(&mut text, &self.registry);
        text
    }
}

/// Milliseconds as seconds (exact up to 2^53 ms, far beyond any request).
fn seconds(ms: i64) -> f64 {
    ms.max(0) as f64 / 1000.0
}

fn gauge(value: usize) -> i64 {
    i64::try_from(value).unwrap_or(i64::MAX)
}

/// `GET /metrics`: 401 without the configured token (when one is configured).
pub async fn scrape(State(state): State<AppState>, headers: HeaderMap) -> Response {
    if let Some(token) = &state.config.metrics.token {
        let presented = headers
            .get(header::AUTHORIZATION)
            .and_then(|v| v.to_str().ok())
            .and_then(|v| v.strip_prefix("Bearer ").or_else(|| v.strip_prefix("bearer ")))
            .unwrap_or_default();
        let expected = token.expose();
        if !bool::from(presented.as_bytes().ct_eq(expected.as_bytes())) {
            let mut refused = (StatusCode::UNAUTHORIZED, "a bearer token is required\n").into_response();
            refused
                .headers_mut()
                .insert(header::WWW_AUTHENTICATE, HeaderValue::from_static("Bearer"));
            return refused;
        }
    }
    let live = state.proxy.live(&state.registry.snapshot());
    (
        [(
            header::CONTENT_TYPE,
            HeaderValue::from_static("application/openmetrics-text; version=1.0.0; charset=utf-8"),
        )],
        state.proxy.metrics.render(&live),
    )
        .into_response()
}
