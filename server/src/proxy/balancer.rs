//! The balancer: each endpoint's live health (cooldowns, circuit breaker, misconfiguration,
//! provider request and token windows, requests in flight, latency), and the order in which a
//! gateway's endpoints are tried for one request (SPEC §4, RELIABILITY R1–R3).
//!
//! Invariant: health lives in memory, beside the registry snapshot, keyed by endpoint id, so
//! a configuration reload keeps it; nothing here awaits or touches the database.
//! Invariant: no state is permanent — every cooldown and ejection ends on its own.

use super::registry::Upstream;
use app::types::{EndpointId, Gateway, GatewayId, Strategy};
use rand::{seq::SliceRandom, Rng};
use std::{
    collections::HashMap,
    sync::{
        atomic::{AtomicUsize, Ordering},
        Arc, Mutex, MutexGuard,
    },
    time::{Duration, Instant},
};

/// Consecutive failures that open an endpoint's circuit (R3).
pub const EJECT_AFTER_CONSECUTIVE: u32 = 5;
/// The failure-ratio window: at least this many requests, half of them failed, within it.
const RATIO_WINDOW: Duration = Duration::from_secs(10);
const RATIO_MIN_REQUESTS: u32 = 20;
/// Ejection lasts this long times the number of ejections in a row, up to the cap.
pub const EJECT_BASE: Duration = Duration::from_secs(30);
const EJECT_CAP: Duration = Duration::from_secs(300);
/// The longest cooldown an upstream's `Retry-After` can impose (as Portkey does).
pub const MAX_COOLDOWN: Duration = Duration::from_secs(60);
/// How long an endpoint whose quota is spent is left alone.
pub const QUOTA_COOLDOWN: Duration = Duration::from_secs(600);
/// How long an endpoint whose credential was refused is left alone, unless it is edited.
pub const MISCONFIGURED_COOLDOWN: Duration = Duration::from_secs(300);
/// Provider limits are per minute.
const MINUTE: Duration = Duration::from_secs(60);
/// Weight of a new latency sample in the moving average.
const EWMA_ALPHA: f64 = 0.3;

/// What went wrong with one attempt, as far as the endpoint's health is concerned.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Fault {
    /// Counts toward the circuit breaker (connect errors, timeouts, 5xx, broken answers).
    Breaker,
    /// A 429: cool down for this long (already capped), not a breaker failure.
    RateLimited(Duration),
    /// The provider quota is spent: a long cooldown, and a breaker failure.
    QuotaExhausted,
    /// Our credential was refused: misconfigured until edited or the cooldown ends.
    Misconfigured,
}

/// Live health of one endpoint, as the console shows it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum HealthState {
    Healthy,
    CoolingDown { until: Instant },
    CircuitOpen { until: Instant },
    Misconfigured { until: Instant },
}

#[derive(Default)]
struct State {
    cooldown_until: Option<Instant>,
    /// Until when, and the endpoint's `updated_at` at the time (an edit clears it).
    misconfigured: Option<(Instant, i64)>,
    consecutive_failures: u32,
    window_start: Option<Instant>,
    window_requests: u32,
    window_failures: u32,
    ejections: u32,
    ejected_until: Option<Instant>,
    probe_in_flight: bool,
    ewma_ms: Option<f64>,
    minute_start: Option<Instant>,
    minute_requests: i64,
    minute_tokens: i64,
    /// How the last request or connection test to it went: `None` before the first.
    last_outcome: Option<Outcome>,
}

/// How one request or connection test to an endpoint went, as evidence of its health.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Outcome {
    /// It answered (a 429 counts: it is reachable and its credential works).
    Answered,
    /// It failed: no connection, a timeout, a 5xx, a broken answer or a refused credential.
    Failed,
}

/// One endpoint's health.
#[derive(Default)]
pub struct EndpointHealth {
    in_flight: AtomicUsize,
    state: Mutex<State>,
}

fn lock<T>(mutex: &Mutex<T>) -> MutexGuard<'_, T> {
    mutex.lock().unwrap_or_else(|poisoned| poisoned.into_inner())
}

/// Why an endpoint cannot take a request now.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Unavailable {
    Cooling(Instant),
    Ejected(Instant),
    Misconfigured,
    WindowSpent(Instant),
    Busy,
}

impl State {
    fn roll_minute(&mut self, now: Instant) {
        if self
            .minute_start
            .is_none_or(|start| now.duration_since(start) >= MINUTE)
        {
            self.minute_start = Some(now);
            self.minute_requests = 0;
            self.minute_tokens = 0;
        }
    }

    fn availability(&mut self, upstream: &Upstream, now: Instant) -> Result<(), Unavailable> {
        if let Some((until, updated_at)) = self.misconfigured {
            if until > now && updated_at == upstream.endpoint.updated_at {
                return Err(Unavailable::Misconfigured);
            }
            self.misconfigured = None;
        }
        if let Some(until) = self.cooldown_until.filter(|until| *until > now) {
            return Err(Unavailable::Cooling(until));
        }
        if let Some(until) = self.ejected_until {
            if until > now {
                return Err(Unavailable::Ejected(until));
            }
            // Half-open: one probe at a time.
            if self.probe_in_flight {
                return Err(Unavailable::Ejected(now + Duration::from_secs(1)));
            }
        }
        self.roll_minute(now);
        let reset = self.minute_start.map_or(now, |start| start + MINUTE);
        let endpoint = &upstream.endpoint;
        if endpoint.rpm_limit.is_some_and(|limit| self.minute_requests >= limit)
            || endpoint.tpm_limit.is_some_and(|limit| self.minute_tokens >= limit)
        {
            return Err(Unavailable::WindowSpent(reset));
        }
        Ok(())
    }
}

/// Why no endpoint can take a request.
#[derive(Debug, PartialEq, Eq)]
pub enum NoneAvailable {
    /// Every candidate's provider window (or cooldown) ends at the earliest at this instant.
    RateLimited(Instant),
    /// Every candidate is misconfigured or at its in-flight limit.
    Unavailable,
}

/// Holds an endpoint's in-flight slot (and, in half-open state, its probe) until dropped.
pub struct Slot {
    health: Arc<EndpointHealth>,
    probe: bool,
}

impl Drop for Slot {
    fn drop(&mut self) {
        self.health.in_flight.fetch_sub(1, Ordering::SeqCst);
        if self.probe {
            lock(&self.health.state).probe_in_flight = false;
        }
    }
}

/// Health of every endpoint, and each gateway's round-robin position.
pub struct Balancer {
    endpoints: Mutex<HashMap<EndpointId, Arc<EndpointHealth>>>,
    turns: Mutex<HashMap<GatewayId, usize>>,
    max_in_flight: usize,
}

impl Balancer {
    /// A balancer that lets at most `max_in_flight` requests reach one endpoint at once.
    pub fn new(max_in_flight: usize) -> Self {
        Balancer {
            endpoints: Mutex::new(HashMap::new()),
            turns: Mutex::new(HashMap::new()),
            max_in_flight,
        }
    }

    fn health(&self, id: EndpointId) -> Arc<EndpointHealth> {
        lock(&self.endpoints).entry(id).or_default().clone()
    }

    /// The endpoint's state now.
    pub fn state(&self, upstream: &Upstream, now: Instant) -> HealthState {
        let health = self.health(upstream.endpoint.id);
        let mut state = lock(&health.state);
        match state.availability(upstream, now) {
            Err(Unavailable::Misconfigured) => HealthState::Misconfigured {
                until: state.misconfigured.map_or(now, |(until, _)| until),
            },
            Err(Unavailable::Ejected(until)) => HealthState::CircuitOpen { until },
            Err(Unavailable::Cooling(until) | Unavailable::WindowSpent(until)) => HealthState::CoolingDown { until },
            Err(Unavailable::Busy) | Ok(()) => HealthState::Healthy,
        }
    }

    /// The endpoints to try, best first, by the gateway's strategy. Unavailable ones are left
    /// out; when every candidate's circuit is open, the one that reopens soonest is tried
    /// (panic mode: never fail everything at once).
    pub fn order(
        &self,
        gateway: &Gateway,
        candidates: &[Arc<Upstream>],
        now: Instant,
        rng: &mut impl Rng,
    ) -> Result<Vec<Arc<Upstream>>, NoneAvailable> {
        let mut ready = Vec::new();
        let mut soonest_ejected: Option<(Instant, &Arc<Upstream>)> = None;
        let mut soonest_window: Option<Instant> = None;
        for upstream in candidates {
            let health = self.health(upstream.endpoint.id);
            let availability = {
                let mut state = lock(&health.state);
                state.availability(upstream, now)
            };
            let availability = availability.and_then(|()| {
                if health.in_flight.load(Ordering::SeqCst) >= self.max_in_flight {
                    Err(Unavailable::Busy)
                } else {
                    Ok(())
                }
            });
            match availability {
                Ok(()) => ready.push(upstream.clone()),
                Err(Unavailable::Ejected(until)) => {
                    if soonest_ejected.is_none_or(|(best, _)| until < best) {
                        soonest_ejected = Some((until, upstream));
                    }
                }
                Err(Unavailable::Cooling(until) | Unavailable::WindowSpent(until)) => {
                    soonest_window = Some(soonest_window.map_or(until, |best| best.min(until)));
                }
                Err(Unavailable::Misconfigured | Unavailable::Busy) => {}
            }
        }
        if ready.is_empty() {
            if let Some((_, upstream)) = soonest_ejected {
                tracing::warn!(
                    endpoint_id = upstream.endpoint.id.0,
                    "every endpoint is ejected; panic mode"
                );
                return Ok(vec![upstream.clone()]);
            }
            return Err(soonest_window.map_or(NoneAvailable::Unavailable, NoneAvailable::RateLimited));
        }
        self.arrange(gateway, &mut ready, rng);
        Ok(ready)
    }

    fn arrange(&self, gateway: &Gateway, ready: &mut [Arc<Upstream>], rng: &mut impl Rng) {
        let link = |upstream: &Arc<Upstream>| {
            gateway
                .endpoints
                .iter()
                .find(|link| link.endpoint_id == upstream.endpoint.id)
                .map_or((0, 1, 0), |link| (link.position, link.weight.max(0), link.priority))
        };
        match gateway.strategy {
            Strategy::RoundRobin => {
                let turn = {
                    let mut turns = lock(&self.turns);
                    let turn = turns.entry(gateway.id).or_insert(0);
                    *turn = turn.wrapping_add(1);
                    *turn - 1
                };
                ready.sort_by_key(|u| link(u).0);
                let len = ready.len();
                ready.rotate_left(turn % len);
            }
            Strategy::Weighted => {
                // Weighted sampling without replacement (Efraimidis–Spirakis): key = u^(1/w).
                let mut keyed: Vec<(f64, Arc<Upstream>)> = ready
                    .iter()
                    .map(|u| {
                        let weight = link(u).1.max(0) as f64;
                        let key = if weight == 0.0 {
                            -1.0
                        } else {
                            rng.gen::<f64>().powf(1.0 / weight)
                        };
                        (key, u.clone())
                    })
                    .collect();
                keyed.sort_by(|a, b| b.0.total_cmp(&a.0));
                for (slot, (_, u)) in ready.iter_mut().zip(keyed) {
                    *slot = u;
                }
            }
            Strategy::Priority => ready.sort_by_key(|u| (std::cmp::Reverse(link(u).2), link(u).0)),
            Strategy::LeastBusy => ready.sort_by_key(|u| {
                let in_flight = self.health(u.endpoint.id).in_flight.load(Ordering::SeqCst);
                (in_flight, link(u).0)
            }),
            Strategy::LeastLatency => {
                // Endpoints without a sample yet go first, so each gets measured.
                let latency = |u: &Arc<Upstream>| lock(&self.health(u.endpoint.id).state).ewma_ms.unwrap_or(-1.0);
                ready.sort_by(|a, b| latency(a).total_cmp(&latency(b)).then(link(a).0.cmp(&link(b).0)));
            }
            Strategy::Random => ready.shuffle(rng),
        }
    }

    /// Takes a slot on the endpoint for one attempt, counting it against the provider's
    /// request window and `tokens` against its token window. `None` when the endpoint became
    /// unavailable since [`Balancer::order`] (its probe taken, its window spent, full).
    pub fn begin(&self, upstream: &Upstream, tokens: u64, now: Instant) -> Option<Slot> {
        let health = self.health(upstream.endpoint.id);
        let mut state = lock(&health.state);
        let probe = match state.availability(upstream, now) {
            Ok(()) => state.ejected_until.is_some(),
            // Panic mode: the soonest-reopening ejected endpoint may still be tried.
            Err(Unavailable::Ejected(_)) if !state.probe_in_flight => true,
            Err(_) => return None,
        };
        if health.in_flight.fetch_add(1, Ordering::SeqCst) >= self.max_in_flight {
            health.in_flight.fetch_sub(1, Ordering::SeqCst);
            return None;
        }
        state.probe_in_flight |= probe;
        state.minute_requests += 1;
        state.minute_tokens += i64::try_from(tokens).unwrap_or(i64::MAX);
        drop(state);
        Some(Slot { health, probe })
    }

    /// How the last request or connection test to the endpoint went, if there was one since
    /// the process started.
    pub fn last_outcome(&self, id: EndpointId) -> Option<Outcome> {
        lock(&self.health(id).state).last_outcome
    }

    /// Records how a connection test went: evidence for the console, not for the circuit
    /// breaker (a test is one request, on demand).
    pub fn tested(&self, id: EndpointId, outcome: Outcome) {
        lock(&self.health(id).state).last_outcome = Some(outcome);
    }

    /// Records a success: closes the circuit, feeds the latency average, and corrects the
    /// token window from the estimate to the actual count.
    pub fn succeeded(
        &self,
        id: EndpointId,
        latency: Duration,
        estimated_tokens: u64,
        actual_tokens: u64,
        now: Instant,
    ) {
        let health = self.health(id);
        let mut state = lock(&health.state);
        state.consecutive_failures = 0;
        state.ejections = 0;
        state.ejected_until = None;
        state.last_outcome = Some(Outcome::Answered);
        Self::count(&mut state, false, now);
        let sample = latency.as_secs_f64() * 1000.0;
        state.ewma_ms = Some(state.ewma_ms.map_or(sample, |old| old + EWMA_ALPHA * (sample - old)));
        state.minute_tokens +=
            i64::try_from(actual_tokens).unwrap_or(i64::MAX) - i64::try_from(estimated_tokens).unwrap_or(0);
    }

    fn count(state: &mut State, failed: bool, now: Instant) {
        if state
            .window_start
            .is_none_or(|start| now.duration_since(start) >= RATIO_WINDOW)
        {
            state.window_start = Some(now);
            state.window_requests = 0;
            state.window_failures = 0;
        }
        state.window_requests += 1;
        state.window_failures += u32::from(failed);
    }

    /// Records a failure of this kind.
    pub fn failed(&self, upstream: &Upstream, fault: Fault, now: Instant) {
        let health = self.health(upstream.endpoint.id);
        let mut state = lock(&health.state);
        state.last_outcome = Some(match fault {
            Fault::RateLimited(_) => Outcome::Answered,
            Fault::Breaker | Fault::QuotaExhausted | Fault::Misconfigured => Outcome::Failed,
        });
        let breaker = match fault {
            Fault::Breaker => true,
            Fault::RateLimited(wait) => {
                state.cooldown_until = Some(now + wait.min(MAX_COOLDOWN));
                false
            }
            Fault::QuotaExhausted => {
                state.cooldown_until = Some(now + QUOTA_COOLDOWN);
                true
            }
            Fault::Misconfigured => {
                state.misconfigured = Some((now + MISCONFIGURED_COOLDOWN, upstream.endpoint.updated_at));
                true
            }
        };
        if !breaker {
            return;
        }
        Self::count(&mut state, true, now);
        state.consecutive_failures += 1;
        let was_probe = state.ejected_until.is_some_and(|until| until <= now);
        let ratio_tripped =
            state.window_requests >= RATIO_MIN_REQUESTS && state.window_failures * 2 >= state.window_requests;
        if was_probe || state.consecutive_failures >= EJECT_AFTER_CONSECUTIVE || ratio_tripped {
            state.ejections += 1;
            let ejection = EJECT_BASE.saturating_mul(state.ejections).min(EJECT_CAP);
            state.ejected_until = Some(now + ejection);
            state.consecutive_failures = 0;
            state.window_start = None;
            tracing::warn!(
                endpoint_id = upstream.endpoint.id.0,
                ejection_s = ejection.as_secs(),
                "endpoint ejected"
            );
        }
    }
}

#[cfg(test)]
mod tests;
