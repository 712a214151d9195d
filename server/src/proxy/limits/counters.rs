//! Where the limits are counted: this process's memory, or Redis shared by every replica — and,
//! while Redis cannot be reached, what the configured failure mode says.
//!
//! Invariant: a request is settled in the ledger that admitted it (its [`Grant`] says which),
//! so a reservation taken in memory while Redis was away is never given back to Redis.
//! Invariant: arrivals (concurrency places while a body is read) are counted in this process
//! in both modes: a stalled upload holds its key's places on the replica it reached; shared
//! concurrency starts at admission.
//! Invariant: a change of mode (shared ⇄ local) is logged once, as a WARN going local and an
//! INFO coming back, and is what `/readyz` and `/metrics` report.

use super::{shared::SharedLedger, Arrival, Ask, Ledger, Level, RateHeaders, Refusal};
use crate::config::OnFailure;
use crate::store::{CounterRow, LimitScope, StoreError};
use app::types::{Limit, Metric, Period};
use std::sync::{
    atomic::{AtomicBool, AtomicUsize, Ordering},
    Arc,
};

/// How long a replica counts as alive after its last heartbeat (sent every second).
const HEARTBEAT_TTL: std::time::Duration = std::time::Duration::from_secs(5);

/// The counters of one process.
#[derive(Clone)]
pub enum Counters {
    /// In memory: this process is the only one counting.
    Local(Arc<Ledger>),
    /// In Redis, shared by the replicas.
    Shared(Arc<Shared>),
}

/// Redis's ledger, this process's own for arrivals (and for admissions while Redis is away in
/// `fail_open`), and what this process knows of Redis.
pub struct Shared {
    pub redis: Arc<SharedLedger>,
    pub local: Arc<Ledger>,
    pub on_failure: OnFailure,
    /// Whether the last call to Redis was answered.
    reachable: AtomicBool,
    /// Redis answers again after an outage (it may have restarted empty): seed it again.
    reseed: AtomicBool,
    /// The replicas last seen alive (at least 1): `fail_open` counts against this share.
    replicas: AtomicUsize,
}

/// An admitted request's hold on the counters: the ledger that reserved it, which settles it.
pub struct Grant {
    pub headers: RateHeaders,
    pub held: Counters,
}

/// Why a request was not admitted.
#[derive(Debug)]
pub enum NotAdmitted {
    /// A limit is reached (429).
    Limit(Box<Refusal>),
    /// Redis cannot be reached and the mode is `fail_closed` (503).
    Unavailable,
}

/// Where the limits are counted now, as `/readyz` and `/metrics` say it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Mode {
    /// In memory, by configuration.
    Local,
    /// In Redis.
    Shared,
    /// Redis cannot be reached: in memory, against this replica's share (`fail_open`).
    LocalFallback,
    /// Redis cannot be reached: every request refused (`fail_closed`).
    Refusing,
}

impl Mode {
    /// The name `/metrics` labels it with (one of [`crate::metrics::LIMIT_MODES`]).
    pub fn label(self) -> &'static str {
        match self {
            Mode::Local => "local",
            Mode::Shared => "shared",
            Mode::LocalFallback => "local_fallback",
            Mode::Refusing => "refusing",
        }
    }

    /// The name `/readyz` reports.
    pub fn as_str(self) -> &'static str {
        match self {
            Mode::Local => "local",
            Mode::Shared => "shared",
            Mode::LocalFallback => "local (redis unavailable, fail_open)",
            Mode::Refusing => "refusing (redis unavailable, fail_closed)",
        }
    }
}

impl Shared {
    pub fn new(redis: Arc<SharedLedger>, local: Arc<Ledger>, on_failure: OnFailure) -> Arc<Shared> {
        Arc::new(Shared {
            redis,
            local,
            on_failure,
            reachable: AtomicBool::new(true),
            reseed: AtomicBool::new(false),
            replicas: AtomicUsize::new(1),
        })
    }

    /// Records whether Redis answered; logs the change of mode when there is one.
    pub fn answered<T>(&self, outcome: &Result<T, super::shared::RedisError>) {
        let reachable = outcome.is_ok();
        if self.reachable.swap(reachable, Ordering::SeqCst) == reachable {
            return;
        }
        match outcome {
            Ok(_) => {
                self.reseed.store(true, Ordering::SeqCst);
                tracing::info!("Redis answers again: limits are shared by the replicas");
            }
            Err(error) => tracing::warn!(
                error = %error,
                mode = self.mode().as_str(),
                "Redis cannot be reached: limits are no longer shared"
            ),
        }
    }

    fn mode(&self) -> Mode {
        match (self.reachable.load(Ordering::SeqCst), self.on_failure) {
            (true, _) => Mode::Shared,
            (false, OnFailure::FailOpen) => Mode::LocalFallback,
            (false, OnFailure::FailClosed) => Mode::Refusing,
        }
    }
}

/// `limits` cut to one replica's share: each maximum divided by the replicas, at least 1.
fn share(limits: &[Limit], replicas: usize) -> Vec<Limit> {
    let replicas = i64::try_from(replicas.max(1)).unwrap_or(1);
    (limits.iter())
        .map(|limit| Limit {
            max_value: (limit.max_value / replicas).max(1),
            ..*limit
        })
        .collect()
}

impl Counters {
    /// Takes the request's places under the concurrency limits while its body is read.
    pub fn arrive(&self, levels: &[Level<'_>], now: i64) -> Result<Arrival, Box<Refusal>> {
        match self {
            Counters::Local(ledger) => ledger.arrive(levels, now),
            Counters::Shared(shared) => shared.local.arrive(levels, now),
        }
    }

    /// Admits the request on every level, or says why not.
    pub async fn admit(&self, ask: &Ask<'_>, arrival: Option<&mut Arrival>) -> Result<Grant, NotAdmitted> {
        let shared = match self {
            Counters::Local(ledger) => {
                return (ledger.admit(ask, arrival))
                    .map(|headers| Grant {
                        headers,
                        held: self.clone(),
                    })
                    .map_err(NotAdmitted::Limit)
            }
            Counters::Shared(shared) => shared,
        };
        let outcome = shared.redis.admit(ask).await;
        shared.answered(&outcome);
        match (outcome, shared.on_failure) {
            (Ok(admitted), _) => {
                // Admitted or not, its arrival's places here are no longer needed: Redis counts
                // it in flight from now on.
                if let Some(arrival) = arrival {
                    arrival.release();
                }
                admitted
                    .map(|headers| Grant {
                        headers,
                        held: Counters::Shared(shared.clone()),
                    })
                    .map_err(NotAdmitted::Limit)
            }
            (Err(_), OnFailure::FailClosed) => Err(NotAdmitted::Unavailable),
            (Err(_), OnFailure::FailOpen) => {
                let replicas = shared.replicas.load(Ordering::SeqCst);
                let limits: Vec<Vec<Limit>> = (ask.levels.iter()).map(|level| share(level.limits, replicas)).collect();
                let levels = (ask.levels.iter().zip(&limits))
                    .map(|(level, limits)| Level { limits, ..*level })
                    .collect();
                let local = Ask { levels, ..ask.clone() };
                (shared.local)
                    .admit(&local, arrival)
                    .map(|headers| Grant {
                        headers,
                        held: Counters::Local(shared.local.clone()),
                    })
                    .map_err(NotAdmitted::Limit)
            }
        }
    }

    /// Swaps request `request_id`'s reservation for what it used (queued when shared).
    pub fn settle(&self, request_id: &str, tokens: i64, cost_micros: i64) {
        match self {
            Counters::Local(ledger) => ledger.settle(request_id, tokens, cost_micros),
            Counters::Shared(shared) => shared.redis.settle(request_id, tokens, cost_micros),
        }
    }

    /// Starts from the stored counters of the open windows: loaded in memory, or seeded into
    /// Redis where it counts nothing of them yet (and loaded in memory for `fail_open`).
    pub async fn load(&self, rows: &[CounterRow], now: i64) {
        match self {
            Counters::Local(ledger) => ledger.load(rows),
            Counters::Shared(shared) => {
                shared.local.load(rows);
                let seeded = shared.redis.seed(rows, now).await;
                shared.answered(&seeded);
                match seeded {
                    Ok(n) => tracing::info!(windows = n, "stored counters seeded into Redis"),
                    Err(error) => tracing::warn!(error = %error, "stored counters not seeded into Redis"),
                }
            }
        }
    }

    /// Whether Redis came back since this was last asked, so [`Counters::reseed`] is due.
    pub fn reseed_due(&self) -> bool {
        match self {
            Counters::Local(_) => false,
            Counters::Shared(shared) => shared.reseed.swap(false, Ordering::SeqCst),
        }
    }

    /// Seeds Redis again from the stored counters `rows` (after an outage: it may have
    /// restarted empty); due again when they could not be read or Redis does not answer.
    pub async fn reseed(&self, rows: Result<Vec<CounterRow>, StoreError>, now: i64) {
        let Counters::Shared(shared) = self else {
            return;
        };
        let rows = match rows {
            Ok(rows) => rows,
            Err(error) => {
                tracing::warn!(error = %error, "Redis not seeded again yet: the stored counters cannot be read");
                shared.reseed.store(true, Ordering::SeqCst);
                return;
            }
        };
        let seeded = shared.redis.seed(&rows, now).await;
        shared.answered(&seeded);
        match seeded {
            Ok(windows) => tracing::info!(windows, "Redis seeded again from the stored counters"),
            Err(_) => shared.reseed.store(true, Ordering::SeqCst),
        }
    }

    /// A scope's used and reserved amounts of `metric` in `period`'s window, and its requests
    /// in flight, as the ledger in force counts them.
    pub async fn usage(&self, scope: LimitScope, metric: Metric, period: Period, now: i64) -> (i64, i64, i64) {
        match self {
            Counters::Local(ledger) => ledger.usage(scope, metric, period, now),
            Counters::Shared(shared) => {
                let usage = shared.redis.usage(scope, metric, period, now).await;
                shared.answered(&usage);
                usage.unwrap_or_else(|_| shared.local.usage(scope, metric, period, now))
            }
        }
    }

    /// Gives back the reservations of leases past their expiry, here and in Redis, and says in
    /// Redis this replica (`replica`) is alive; every second.
    pub async fn sweep(&self, replica: &str, now: i64) {
        match self {
            Counters::Local(ledger) => {
                ledger.sweep(now);
            }
            Counters::Shared(shared) => {
                shared.local.sweep(now);
                let alive = shared.redis.heartbeat(replica, now, HEARTBEAT_TTL).await;
                shared.answered(&alive);
                if let Ok(alive) = alive {
                    shared.replicas.store(alive.max(1), Ordering::SeqCst);
                    if let Ok(released) = shared.redis.sweep(now).await {
                        if released > 0 {
                            tracing::warn!(released, "shared reservations expired unsettled and were released");
                        }
                    }
                }
            }
        }
    }

    /// Asks Redis (when shared) whether it answers, and says where the limits are counted.
    pub async fn check(&self) -> Mode {
        if let Counters::Shared(shared) = self {
            let answer = shared.redis.ping().await;
            shared.answered(&answer);
        }
        self.mode()
    }

    /// Where the limits are counted now.
    pub fn mode(&self) -> Mode {
        match self {
            Counters::Local(_) => Mode::Local,
            Counters::Shared(shared) => shared.mode(),
        }
    }
}
