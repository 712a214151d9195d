//! Request logs and usage off the request path: each request reserves a place in a bounded
//! queue when it is admitted, fills in its record as it goes, and hands it over when it ends
//! (or when its client goes away) — settling its reservation in the ledger at that moment; a
//! background writer stores the queue in batches (logs, usage events, counters).
//!
//! Invariant: no record is ever dropped. A request that cannot reserve a place is refused
//! (503) before anything happens (RELIABILITY R5 d); a batch the database refuses goes to the
//! [`journal`] on disk (replayed, in order, when the database answers again; only if the disk
//! refuses too is the batch retried in place until stored); shutdown drains the queue before the
//! process exits (R4).
//! Invariant: a record is handed over exactly once, so its usage is settled exactly once.

use super::{limits::Counters, providers::Operation, registry::Snapshot};
use crate::{
    metrics::{Metrics, Names},
    store::{now_ms, Finished, LimitScope},
    traces::RequestTrace,
};
use app::types::{RequestAttempt, RequestLog};
use std::{sync::Arc, time::Instant};
use tokio::sync::mpsc;

pub mod journal;
mod writer;

pub use writer::LogWriter;

/// Where an admitted request's reservations are settled (on the scopes it was checked
/// against, priced by the served endpoint's model).
pub struct Charge {
    /// The counters that reserved it.
    pub held: Counters,
}

/// Where a record is counted when it ends: the metrics, under its gateway's name, with the
/// snapshot it was routed by (endpoint names, prices).
pub struct Counted {
    pub metrics: Arc<Metrics>,
    pub gateway: String,
    pub snapshot: Arc<Snapshot>,
    /// The request's spans, when traces are exported.
    pub trace: Option<RequestTrace>,
}

/// Where the attempt loop (`Proxy::serve`) records attempts: the request's own record, or one
/// member's share of a `multi` composite's calls (merged into the record afterwards).
pub trait Attempts {
    /// Adds an upstream attempt as it starts; returns the headers that carry its trace context
    /// upstream (none when traces are off).
    fn attempt(&mut self, attempt: RequestAttempt, operation: Operation) -> http::HeaderMap;
    /// Takes back the last attempt added, to complete it (and add it again).
    fn take_attempt(&mut self) -> RequestAttempt;
    /// Adds back the last attempt, completed; a stream that has begun is still going.
    fn attempt_finished(&mut self, attempt: RequestAttempt, streaming: bool);
}

impl Attempts for Recorder {
    fn attempt(&mut self, attempt: RequestAttempt, operation: Operation) -> http::HeaderMap {
        Recorder::attempt(self, attempt, operation)
    }
    fn take_attempt(&mut self) -> RequestAttempt {
        Recorder::take_attempt(self)
    }
    fn attempt_finished(&mut self, attempt: RequestAttempt, streaming: bool) {
        Recorder::attempt_finished(self, attempt, streaming)
    }
}

/// One composite member's attempts (`multi`, `best`), shared with whoever waits on the
/// member's call, so the attempts of a call cancelled mid-way (`first`: another member won)
/// are still recorded; with the member's spans when traces are exported.
#[derive(Clone, Default)]
pub struct MemberAttempts(Arc<std::sync::Mutex<Member>>);

#[derive(Default)]
struct Member {
    attempts: Vec<RequestAttempt>,
    /// The member's spans, and the snapshot that names its endpoints.
    trace: Option<(RequestTrace, Arc<Snapshot>)>,
}

impl MemberAttempts {
    fn member(&self) -> std::sync::MutexGuard<'_, Member> {
        self.0.lock().unwrap_or_else(|poisoned| poisoned.into_inner())
    }

    /// The attempts so far; one still open is closed as `cancelled` now (and its span ended).
    pub fn closed(&self) -> Vec<RequestAttempt> {
        let mut member = self.member();
        let mut attempts = member.attempts.clone();
        for attempt in &mut attempts {
            if attempt.status.is_none() && attempt.error_class.is_none() && attempt.latency_ms == 0 {
                attempt.latency_ms = now_ms() - attempt.started_at;
                attempt.error_class = Some("cancelled".into());
                if let Some((trace, _)) = &mut member.trace {
                    trace.attempt_finished(attempt, false);
                }
            }
        }
        attempts
    }
}

impl Attempts for MemberAttempts {
    fn attempt(&mut self, attempt: RequestAttempt, operation: Operation) -> http::HeaderMap {
        let mut member = self.member();
        let mut propagation = http::HeaderMap::new();
        if let (Some((trace, snapshot)), Some(endpoint)) = (&mut member.trace, attempt.endpoint_id) {
            if let Some(upstream) = snapshot.upstreams.get(&endpoint) {
                propagation = trace.attempt_started(attempt.attempt, upstream, operation);
            }
        }
        member.attempts.push(attempt);
        propagation
    }
    fn take_attempt(&mut self) -> RequestAttempt {
        self.member().attempts.pop().unwrap_or_default()
    }
    fn attempt_finished(&mut self, attempt: RequestAttempt, streaming: bool) {
        let mut member = self.member();
        if let Some((trace, _)) = &mut member.trace {
            trace.attempt_finished(&attempt, streaming);
        }
        member.attempts.push(attempt);
    }
}

/// One request's record, sent to the writer when finished or dropped.
pub struct Recorder {
    permit: Option<mpsc::OwnedPermit<Finished>>,
    log: RequestLog,
    /// Whether the log itself is stored (the gateway logs metadata); usage always is.
    store_log: bool,
    charge: Option<Charge>,
    /// The scopes whose limits it was checked against (the key, its ancestors, the gateway):
    /// charged when admitted; their history counts it either way.
    scopes: Vec<LimitScope>,
    counted: Counted,
    started: Instant,
    finished: bool,
    /// The cost when it is the sum of several calls' (`multi`, `best`), instead of the served
    /// endpoint's price of the request's usage.
    summed_cost: Option<i64>,
    /// What answering it from the response cache saved: the kept answer's cost.
    saved_micros: i64,
}

impl Recorder {
    /// A record for a request that arrived at `started`, to be handed to the writer through
    /// `permit` and counted in `counted`; its log is stored only when `store_log`.
    pub fn new(
        permit: mpsc::OwnedPermit<Finished>,
        log: RequestLog,
        store_log: bool,
        counted: Counted,
        started: Instant,
    ) -> Self {
        Recorder {
            permit: Some(permit),
            log,
            store_log,
            charge: None,
            scopes: Vec::new(),
            counted,
            started,
            finished: false,
            summed_cost: None,
            saved_micros: 0,
        }
    }

    /// Where one composite member's call records its attempts (its spans under the request's).
    pub fn member_call(&self, member: &str) -> MemberAttempts {
        let trace = (self.counted.trace.as_ref()).map(|trace| (trace.member(member), self.counted.snapshot.clone()));
        MemberAttempts(Arc::new(std::sync::Mutex::new(Member {
            attempts: Vec::new(),
            trace,
        })))
    }

    /// Adds a `multi` member's calls as attempts (numbered on from the ones recorded), each
    /// naming the member.
    pub fn member_attempts(&mut self, variant: &str, attempts: Vec<RequestAttempt>) {
        for mut attempt in attempts {
            attempt.attempt = i64::try_from(self.log.attempts.len()).unwrap_or(i64::MAX) + 1;
            attempt.variant = Some(variant.to_string());
            self.log.attempts.push(attempt);
        }
    }

    /// What `usage` costs at the serving endpoint's price (0 before one serves, or unpriced).
    pub fn priced(&self, usage: super::providers::Usage) -> i64 {
        let snapshot = &self.counted.snapshot;
        let served_by = self.log.endpoint_id.and_then(|id| snapshot.upstreams.get(&id));
        (served_by.and_then(|upstream| snapshot.price(&upstream.endpoint.model))).map_or(0, |price| {
            price.cost_micros(usage.prompt_tokens, usage.completion_tokens)
        })
    }

    /// It was answered from the response cache, saving what the kept answer cost.
    pub fn saved(&mut self, cost_micros: i64) {
        self.saved_micros = cost_micros.max(0);
    }

    /// The request's usage and cost are the sums of its calls' (`multi`).
    pub fn summed(&mut self, usage: super::providers::Usage, cost_micros: i64) {
        self.used(usage);
        self.summed_cost = Some(cost_micros);
    }

    /// The request was admitted: settle `charge` when the record is handed over.
    pub fn charge(&mut self, charge: Charge) {
        self.charge = Some(charge);
    }

    /// The request's limits were checked against `scopes`: their history counts it, whether
    /// it is then admitted or refused (a 429 is a request and an error on the dashboard).
    pub fn counts_in(&mut self, scopes: Vec<LimitScope>) {
        self.scopes = scopes;
    }

    /// Milliseconds since the request arrived.
    pub fn elapsed_ms(&self) -> i64 {
        i64::try_from(self.started.elapsed().as_millis()).unwrap_or(i64::MAX)
    }

    /// Adds an upstream attempt as it starts; returns the headers that carry its trace
    /// context upstream (none when traces are off).
    pub fn attempt(&mut self, mut attempt: RequestAttempt, operation: Operation) -> http::HeaderMap {
        // Numbered after those recorded: a semantic cache's embedding call may come first.
        attempt.attempt = i64::try_from(self.log.attempts.len()).unwrap_or(i64::MAX) + 1;
        let mut propagation = http::HeaderMap::new();
        if let Some(trace) = &mut self.counted.trace {
            let upstream = attempt
                .endpoint_id
                .and_then(|id| self.counted.snapshot.upstreams.get(&id));
            if let Some(upstream) = upstream {
                propagation = trace.attempt_started(attempt.attempt, upstream, operation);
            }
        }
        self.log.attempts.push(attempt);
        propagation
    }

    /// Takes back the last attempt added, to complete it (and add it again).
    pub fn take_attempt(&mut self) -> RequestAttempt {
        self.log.attempts.pop().unwrap_or_default()
    }

    /// Adds back the last attempt, completed; a stream that has begun is still going.
    pub fn attempt_finished(&mut self, attempt: RequestAttempt, streaming: bool) {
        if let Some(trace) = &mut self.counted.trace {
            trace.attempt_finished(&attempt, streaming);
        }
        self.log.attempts.push(attempt);
    }

    /// Marks the time to the first byte, once.
    pub fn first_byte(&mut self) {
        if self.log.ttft_ms.is_none() {
            self.log.ttft_ms = Some(self.elapsed_ms());
        }
    }

    /// The request's id.
    pub fn request_id(&self) -> &str {
        &self.log.request_id
    }

    /// When the request was admitted, Unix milliseconds.
    pub fn created_at(&self) -> i64 {
        self.log.created_at
    }

    /// The endpoint that answered.
    pub fn served_by(&mut self, endpoint: app::types::EndpointId, variant: Option<&str>) {
        self.log.endpoint_id = Some(endpoint);
        self.variant(variant);
    }

    /// The composite member it is for: the one planned first, then the one that served.
    pub fn variant(&mut self, variant: Option<&str>) {
        if let Some(variant) = variant {
            self.log.variant = Some(variant.to_string());
        }
    }

    /// The named prompt it was made from: its name and version, and its parameters when the
    /// gateway logs payloads.
    pub fn prompt(&mut self, prompt: super::prompt::PromptUse, log_payloads: bool) {
        self.log.prompt = Some(prompt.name);
        self.log.prompt_version = Some(prompt.version);
        if log_payloads {
            self.log.prompt_parameters = Some(serde_json::Value::Object(prompt.parameters).to_string());
        }
    }

    /// How a `best` composite chose the answer.
    pub fn verdict(&mut self, verdict: app::types::Verdict) {
        self.log.verdict = Some(verdict);
    }

    /// The tokens the request used (as reported, or estimated).
    pub fn used(&mut self, usage: super::providers::Usage) {
        let (usage, implausible) = usage.bounded();
        if implausible {
            tracing::warn!(
                request_id = self.log.request_id,
                endpoint_id = self.log.endpoint_id.map(|id| id.0),
                max = super::providers::MAX_REPORTED_TOKENS,
                "the upstream reported an implausible usage; counted as the maximum"
            );
            self.counted.metrics.usage_clamped();
        }
        self.log.prompt_tokens = i64::try_from(usage.prompt_tokens).unwrap_or(i64::MAX);
        self.log.completion_tokens = i64::try_from(usage.completion_tokens).unwrap_or(i64::MAX);
    }

    /// What the response cache did for it.
    pub fn cache(&mut self, outcome: super::cache::Outcome) {
        self.log.cache = Some(outcome.as_str().to_string());
    }

    /// What the request's guardrails found (issue #24), as the log holds it.
    pub fn guardrails(&mut self, found: Option<String>) {
        self.log.guardrails = found;
    }

    /// The answer's body, for a gateway that logs payloads.
    pub fn answered(&mut self, body: String) {
        self.log.response_body = Some(body);
    }

    /// Closes the attempt that carried a stream: its usage, its whole time and how it ended.
    pub fn stream_attempt_ended(&mut self, latency_ms: i64, error_class: Option<&str>) {
        let (prompt, completion) = (self.log.prompt_tokens, self.log.completion_tokens);
        if let Some(attempt) = self.log.attempts.last_mut() {
            attempt.prompt_tokens = prompt;
            attempt.completion_tokens = completion;
            attempt.latency_ms = latency_ms;
            attempt.error_class = error_class.map(str::to_string);
        }
    }

    /// Completes the record with the client's status and, on failure, the error class.
    pub fn finish(mut self, status: u16, error_class: Option<&str>) {
        self.log.status = i64::from(status);
        self.log.error_class = error_class.map(str::to_string);
        self.finished = true;
    }
}

impl Drop for Recorder {
    fn drop(&mut self) {
        if !self.finished {
            // The client went away before the answer was complete, perhaps mid-attempt.
            self.log.status = 499;
            self.log.error_class = Some("client_disconnected".into());
            if let Some(attempt) = self.log.attempts.last_mut() {
                if attempt.status.is_none() && attempt.error_class.is_none() {
                    attempt.latency_ms = now_ms() - attempt.started_at;
                    attempt.error_class = Some("client_disconnected".into());
                }
            }
        }
        self.log.latency_ms = self.elapsed_ms();
        let admitted = self.charge.is_some();
        let snapshot = &self.counted.snapshot;
        let served_by = self.log.endpoint_id.and_then(|id| snapshot.upstreams.get(&id));
        if let Some(charge) = self.charge.take() {
            let tokens = self.log.prompt_tokens.saturating_add(self.log.completion_tokens);
            self.log.cost_micros = match self.summed_cost {
                Some(cost) => cost,
                None => (served_by.and_then(|upstream| snapshot.price(&upstream.endpoint.model))).map_or(0, |price| {
                    let count = |n: i64| u64::try_from(n).unwrap_or(0);
                    price.cost_micros(count(self.log.prompt_tokens), count(self.log.completion_tokens))
                }),
            };
            charge.held.settle(&self.log.request_id, tokens, self.log.cost_micros);
        }
        let endpoint_name = |id: app::types::EndpointId| {
            snapshot
                .upstreams
                .get(&id)
                .map_or_else(String::new, |upstream| upstream.endpoint.name.clone())
        };
        let log = &self.log;
        tracing::debug!(
            request_id = %log.request_id,
            gateway_id = log.gateway_id.map(|id| id.0),
            key_id = log.key_id.map(|id| id.0),
            endpoint_id = log.endpoint_id.map(|id| id.0),
            model = log.model.as_deref(),
            status = log.status,
            latency_ms = log.latency_ms,
            ttft_ms = log.ttft_ms,
            attempts = log.attempts.len(),
            prompt_tokens = log.prompt_tokens,
            completion_tokens = log.completion_tokens,
            cost_micros = log.cost_micros,
            error = log.error_class.as_deref(),
            "request finished"
        );
        if let Some(trace) = self.counted.trace.take() {
            trace.finish(&self.log, served_by.map(|upstream| &**upstream));
        }
        if self.saved_micros > 0 {
            (self.counted.metrics).cache_saved(&self.counted.gateway, self.saved_micros);
        }
        self.counted.metrics.finished(
            &self.log,
            &Names {
                gateway: &self.counted.gateway,
                endpoint: served_by.map_or("", |upstream| upstream.endpoint.name.as_str()),
                endpoint_name: &endpoint_name,
            },
        );
        if let Some(permit) = self.permit.take() {
            let queue = permit.send(Finished {
                log: std::mem::take(&mut self.log),
                store_log: self.store_log,
                scopes: std::mem::take(&mut self.scopes),
                admitted,
                saved_micros: self.saved_micros,
            });
            // Only after shutdown has stopped the writer (a request outliving the grace period).
            if queue.is_closed() {
                self.counted.metrics.record_dropped();
            }
        }
    }
}

/// An attempt's record, started now.
pub fn attempt_started(attempt: i64, endpoint: app::types::EndpointId) -> RequestAttempt {
    RequestAttempt {
        attempt,
        endpoint_id: Some(endpoint),
        started_at: now_ms(),
        ..RequestAttempt::default()
    }
}
