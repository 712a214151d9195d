//! The ledger: exact admission against the limits of a key, its ancestors and its gateway —
//! here in memory, for one process; [`shared`] keeps the same ledger in Redis for several, and
//! [`Counters`] is where the request path picks one. Both decide with `judge`.
//!
//! Invariant: admission checks every limit of every level and reserves on all of them under
//! one lock — all or nothing — so concurrent requests can never overshoot a limit.
//! Invariant: a lease is settled at most once (by request id); a lease never settled gives its
//! reservation back after the TTL; usage lands in the windows the request was admitted in.
//! Invariant: a request counts against the concurrency limits from the moment its key is known
//! (an [`Arrival`], while its body is read) until it settles; admission turns the arrival into
//! an in-flight place under the same lock, so it is never counted twice nor dropped between.
//! Invariant: the ledger never touches the database; its durable copy is written by the log
//! writer (usage events and counters) and loaded at start.

use crate::store::{CounterRow, LimitScope};
use app::types::{Limit, Metric, Period};
use std::{
    collections::HashMap,
    sync::{Arc, Mutex, MutexGuard},
    time::Duration,
};

mod counters;
mod judge;
pub mod shared;

pub use counters::{Counters, Grant, Mode, NotAdmitted, Shared};
use judge::{counted, effective, judge};

/// One window of one period of one scope.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
struct Window {
    start: i64,
    used: [i64; 3],
    reserved: [i64; 3],
}

/// What one scope (a gateway or a key) has used and holds now.
#[derive(Debug, Default)]
struct ScopeUsage {
    windows: [Window; 5],
    in_flight: i64,
    /// Requests authenticated whose body is still being read (not yet admitted).
    arriving: i64,
    /// The key's `usage_reset_at` this usage already reflects: at first, the ledger's start
    /// (the counters loaded then reflect every earlier reset).
    reset_at: Option<i64>,
}

impl ScopeUsage {
    fn new(started_at: i64) -> Self {
        ScopeUsage {
            reset_at: Some(started_at),
            ..ScopeUsage::default()
        }
    }

    /// Moves every window to the one holding `now`; a new window starts empty.
    fn roll(&mut self, now: i64) {
        for period in Period::ALL {
            let start = period.window_start(now);
            let window = &mut self.windows[period.index()];
            if window.start != start {
                *window = Window {
                    start,
                    ..Window::default()
                };
            }
        }
    }

    /// Whether it holds nothing at `now`: no request in flight or arriving, and every window
    /// holding `now` empty.
    fn idle(&self, now: i64) -> bool {
        self.in_flight == 0
            && self.arriving == 0
            && Period::ALL.iter().all(|period| {
                let window = &self.windows[period.index()];
                window.start != period.window_start(now) || (window.used == [0; 3] && window.reserved == [0; 3])
            })
    }

    /// How much of `metric` is taken in `period`'s current window (used plus reserved), or the
    /// requests in flight and arriving for `concurrency`.
    fn taken(&self, metric: Metric, period: Period) -> i64 {
        match counted(metric) {
            Some(i) => {
                let window = &self.windows[period.index()];
                window.used[i].saturating_add(window.reserved[i])
            }
            None => self.in_flight.saturating_add(self.arriving),
        }
    }
}

/// A lease: what one admitted request reserved, until it settles.
#[derive(Debug)]
struct Lease {
    scopes: Vec<LimitScope>,
    admitted_at: i64,
    ask: [i64; 3],
    expires_at: i64,
    /// The sweeper already gave the reservation (and the in-flight place) back.
    released: bool,
}

/// One level a request is admitted against: the gateway, or a key of the lineage.
#[derive(Clone, Copy, Debug)]
pub struct Level<'a> {
    pub scope: LimitScope,
    pub limits: &'a [Limit],
    /// For keys: when their usage was last reset.
    pub reset_at: Option<i64>,
}

/// A request asking to be admitted.
#[derive(Clone, Debug)]
pub struct Ask<'a> {
    pub request_id: &'a str,
    /// Unix milliseconds; picks the windows.
    pub now: i64,
    /// The key first, then its ancestors, then the gateway.
    pub levels: Vec<Level<'a>>,
    /// Estimated tokens (prompt plus the completion allowance).
    pub tokens: i64,
    /// Estimated cost, micro-units.
    pub cost_micros: i64,
}

/// One `x-ratelimit-*` family's figures: the tightest limit of its metric.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Headroom {
    pub limit: i64,
    pub remaining: i64,
    /// Milliseconds until the window resets; `None` for a `total` quota.
    pub reset_ms: Option<i64>,
}

/// What a request's answer says about its limits: requests and tokens.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct RateHeaders {
    pub requests: Option<Headroom>,
    pub tokens: Option<Headroom>,
}

/// Why a request was not admitted.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Refusal {
    pub scope: LimitScope,
    pub limit: Limit,
    /// What the level has taken of it already.
    pub taken: i64,
    /// What the request asked for.
    pub asked: i64,
    /// When to retry; `None` when waiting will not help (a spent `total` quota, or an ask
    /// larger than the limit itself).
    pub retry_after: Option<Duration>,
    pub headers: RateHeaders,
}

impl Refusal {
    /// Whether the refusal is a spent quota or budget that no window reset will restore.
    pub fn quota_spent(&self) -> bool {
        self.limit.period == Period::Total && self.limit.metric != Metric::Concurrency
    }

    /// A message for the client: which limit, at which level, how much.
    pub fn message(&self) -> String {
        let level = match self.scope {
            LimitScope::Gateway(_) => "this gateway",
            LimitScope::Key(_) => "this key or one of its parent keys",
            LimitScope::EndUser(_) => "this end user",
            LimitScope::Group(_) => "this end user's group",
        };
        let limit = &self.limit;
        let what = match limit.metric {
            Metric::Requests => "requests",
            Metric::Tokens => "tokens",
            Metric::CostMicros => "budget (micro-units)",
            Metric::Concurrency => "concurrent requests",
        };
        let per = match limit.period {
            Period::Total if limit.metric == Metric::Concurrency => String::new(),
            Period::Total => " in total".into(),
            period => format!(" per {}", period.as_str()),
        };
        let mut message = format!(
            "Limit reached for {level}: {what}{per}: limit {}, used {}, requested {}.",
            limit.max_value, self.taken, self.asked
        );
        if self.asked > limit.max_value {
            message.push_str(" The request alone is larger than the limit; lower max_tokens.");
        } else if let Some(wait) = self.retry_after {
            message.push_str(&format!(" Retry in {:.1} s.", wait.as_secs_f64()));
        }
        message
    }
}

/// The ledger's settings.
#[derive(Clone, Copy, Debug)]
pub struct LedgerSettings {
    /// The concurrency limit of a key that sets none (RELIABILITY R8: 64).
    pub key_concurrency: i64,
    /// How long an unsettled lease holds its reservation.
    pub reservation_ttl: Duration,
}

#[derive(Debug, Default)]
struct State {
    scopes: HashMap<LimitScope, ScopeUsage>,
    leases: HashMap<String, Lease>,
}

/// Usage and reservations of every scope, in memory.
#[derive(Debug)]
pub struct Ledger {
    settings: LedgerSettings,
    /// When this ledger started (Unix milliseconds), before the stored counters were read.
    started_at: i64,
    state: Mutex<State>,
}

/// A request's places under the concurrency limits of its levels while its body is read. Dropped
/// before admission (the body never came, or a limit refused it), it gives them back.
#[derive(Debug)]
pub struct Arrival {
    ledger: Arc<Ledger>,
    scopes: Vec<LimitScope>,
    /// Still holding its places (admission takes them over).
    holding: bool,
}

impl Arrival {
    /// Gives its places back now (once).
    pub fn release(&mut self) {
        if !self.holding {
            return;
        }
        self.holding = false;
        let mut state = self.ledger.state();
        for scope in &self.scopes {
            if let Some(usage) = state.scopes.get_mut(scope) {
                usage.arriving -= 1;
            }
        }
    }
}

impl Drop for Arrival {
    fn drop(&mut self) {
        self.release();
    }
}

fn ttl_ms(ttl: Duration) -> i64 {
    i64::try_from(ttl.as_millis()).unwrap_or(i64::MAX)
}

impl Ledger {
    /// An empty ledger, started at `now` (Unix milliseconds): key resets later than that zero
    /// the usage it holds; earlier ones are already reflected in the counters it loads.
    pub fn new(settings: LedgerSettings, now: i64) -> Arc<Ledger> {
        Arc::new(Ledger {
            settings,
            started_at: now,
            state: Mutex::new(State::default()),
        })
    }

    fn state(&self) -> MutexGuard<'_, State> {
        self.state.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// Takes a place under every concurrency limit of `levels` for a request whose body is
    /// about to be read, or refuses it (429) and takes none.
    pub fn arrive(self: &Arc<Self>, levels: &[Level<'_>], now: i64) -> Result<Arrival, Box<Refusal>> {
        let mut state = self.state();
        for level in levels {
            let usage = (state.scopes)
                .entry(level.scope)
                .or_insert_with(|| ScopeUsage::new(self.started_at));
            usage.roll(now);
            for limit in effective(&self.settings, level).filter(|l| l.metric == Metric::Concurrency) {
                let taken = usage.taken(limit.metric, limit.period);
                if taken.saturating_add(1) > limit.max_value {
                    return Err(Box::new(Refusal {
                        scope: level.scope,
                        limit,
                        taken,
                        asked: 1,
                        retry_after: (limit.max_value >= 1).then_some(Duration::from_secs(1)),
                        headers: RateHeaders::default(),
                    }));
                }
            }
        }
        for level in levels {
            if let Some(usage) = state.scopes.get_mut(&level.scope) {
                usage.arriving += 1;
            }
        }
        Ok(Arrival {
            ledger: self.clone(),
            scopes: levels.iter().map(|level| level.scope).collect(),
            holding: true,
        })
    }

    /// Admits the request against every level, reserving on all of them, or refuses it and
    /// reserves nothing. A request that `arrival` already counts under the concurrency limits
    /// is not counted again; admitted, its arrival's places become its in-flight ones.
    pub fn admit(&self, ask: &Ask<'_>, arrival: Option<&mut Arrival>) -> Result<RateHeaders, Box<Refusal>> {
        let request = [1, ask.tokens.max(0), ask.cost_micros.max(0)];
        let arrived = |scope: &LimitScope| {
            (arrival.as_deref()).is_some_and(|arrival| arrival.holding && arrival.scopes.contains(scope))
        };
        let mut state = self.state();
        for level in &ask.levels {
            let usage = state
                .scopes
                .entry(level.scope)
                .or_insert_with(|| ScopeUsage::new(self.started_at));
            if level.reset_at > usage.reset_at {
                for window in &mut usage.windows {
                    window.used = [0; 3];
                }
                usage.reset_at = level.reset_at;
            }
            usage.roll(ask.now);
        }
        let mut taken = Vec::new();
        for level in &ask.levels {
            let usage = &state.scopes[&level.scope];
            let own = i64::from(arrived(&level.scope));
            for limit in effective(&self.settings, level) {
                taken.push(match limit.metric {
                    Metric::Concurrency => usage.taken(limit.metric, limit.period) - own,
                    Metric::Requests | Metric::Tokens | Metric::CostMicros => usage.taken(limit.metric, limit.period),
                });
            }
        }
        let headers = judge(&self.settings, ask, &taken)?;
        for level in &ask.levels {
            // Every level was entered above.
            let Some(usage) = state.scopes.get_mut(&level.scope) else {
                continue;
            };
            for window in &mut usage.windows {
                for (reserved, amount) in window.reserved.iter_mut().zip(request) {
                    *reserved += amount;
                }
            }
            usage.in_flight += 1;
            if arrived(&level.scope) {
                usage.arriving -= 1;
            }
        }
        if let Some(arrival) = arrival {
            // Its places were taken over above, level by level, on the levels it covers; any
            // other level it covered gives its place back now.
            for scope in &arrival.scopes {
                if !ask.levels.iter().any(|level| level.scope == *scope) {
                    if let Some(usage) = state.scopes.get_mut(scope) {
                        usage.arriving -= 1;
                    }
                }
            }
            arrival.holding = false;
        }
        let lease = Lease {
            scopes: ask.levels.iter().map(|l| l.scope).collect(),
            admitted_at: ask.now,
            ask: request,
            expires_at: ask.now.saturating_add(ttl_ms(self.settings.reservation_ttl)),
            released: false,
        };
        state.leases.insert(ask.request_id.to_string(), lease);
        Ok(headers)
    }

    /// Swaps request `request_id`'s reservation for what it actually used. A second call for the
    /// same request, or one for a request never admitted, changes nothing.
    pub fn settle(&self, request_id: &str, tokens: i64, cost_micros: i64) {
        let mut state = self.state();
        let Some(lease) = state.leases.remove(request_id) else {
            return;
        };
        let actual = [1, tokens.max(0), cost_micros.max(0)];
        for scope in &lease.scopes {
            let Some(usage) = state.scopes.get_mut(scope) else {
                continue;
            };
            if !lease.released {
                usage.in_flight -= 1;
            }
            for period in Period::ALL {
                let window = &mut usage.windows[period.index()];
                if window.start != period.window_start(lease.admitted_at) {
                    // That window is over; the database keeps its usage.
                    continue;
                }
                if !lease.released {
                    for (reserved, asked) in window.reserved.iter_mut().zip(lease.ask) {
                        *reserved -= asked;
                    }
                }
                for (used, amount) in window.used.iter_mut().zip(actual) {
                    *used = used.saturating_add(amount);
                }
            }
        }
    }

    /// Gives back the reservations of leases older than the TTL (their requests never settled:
    /// a bug, or a task that vanished); returns how many. The lease stays, so a late settle
    /// still counts its usage, until twice the TTL.
    pub fn sweep(&self, now: i64) -> usize {
        let mut state = self.state();
        let State { scopes, leases } = &mut *state;
        let ttl = ttl_ms(self.settings.reservation_ttl);
        leases.retain(|_, lease| !(lease.released && lease.expires_at.saturating_add(ttl) <= now));
        let mut released = 0;
        for lease in leases.values_mut() {
            if lease.released || lease.expires_at > now {
                continue;
            }
            lease.released = true;
            released += 1;
            for scope in &lease.scopes {
                let Some(usage) = scopes.get_mut(scope) else {
                    continue;
                };
                usage.in_flight -= 1;
                for period in Period::ALL {
                    let window = &mut usage.windows[period.index()];
                    if window.start == period.window_start(lease.admitted_at) {
                        for i in 0..3 {
                            window.reserved[i] -= lease.ask[i];
                        }
                    }
                }
            }
        }
        if released > 0 {
            tracing::warn!(released, "reservations expired unsettled and were released");
        }
        // A person's scope holding nothing now is forgotten: there is one per end user and
        // group ever seen, and the stored counters hold whatever an open window still needs
        // (nothing here: every open window of a forgotten scope is empty).
        scopes.retain(|scope, usage| !scope.is_person() || !usage.idle(now));
        released
    }

    /// Adds stored counters of the open windows (at start, before serving).
    pub fn load(&self, rows: &[CounterRow]) {
        let mut state = self.state();
        for row in rows {
            let usage = state
                .scopes
                .entry(row.scope)
                .or_insert_with(|| ScopeUsage::new(self.started_at));
            let window = &mut usage.windows[row.period.index()];
            if window.start != row.window_start {
                *window = Window {
                    start: row.window_start,
                    ..Window::default()
                };
            }
            window.used[0] = window.used[0].saturating_add(row.requests);
            window.used[1] = window.used[1].saturating_add(row.tokens);
            window.used[2] = window.used[2].saturating_add(row.cost_micros);
        }
    }

    /// A scope's used and reserved amounts of `metric` in `period`'s window holding `now`, and
    /// its requests in flight — for tests and, later, the console.
    pub fn usage(&self, scope: LimitScope, metric: Metric, period: Period, now: i64) -> (i64, i64, i64) {
        let state = self.state();
        let Some(usage) = state.scopes.get(&scope) else {
            return (0, 0, 0);
        };
        let window = &usage.windows[period.index()];
        match counted(metric) {
            Some(i) if window.start == period.window_start(now) => {
                (window.used[i], window.reserved[i], usage.in_flight)
            }
            _ => (0, 0, usage.in_flight),
        }
    }

    /// Leases not yet settled.
    pub fn open_leases(&self) -> usize {
        self.state().leases.len()
    }
}

#[cfg(test)]
mod tests;
