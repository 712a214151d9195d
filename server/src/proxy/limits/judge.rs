//! The decision both ledgers share: given what every limit of every level has taken, admit the
//! request or name the first limit it would overshoot, and the `x-ratelimit-*` figures either way.
//!
//! Invariant: the in-memory ledger and the Redis one decide with this one function, over the
//! limits in [`effective`] order (level by level), so they refuse the same request the same way.

use super::{Ask, Headroom, LedgerSettings, Level, RateHeaders, Refusal};
use app::types::{Limit, Metric, Period};
use std::time::Duration;

/// The metrics a window counts, in this order: requests, tokens, cost.
pub(super) const COUNTED: [Metric; 3] = [Metric::Requests, Metric::Tokens, Metric::CostMicros];

/// The position of `metric` in [`COUNTED`]; `None` for concurrency.
pub(super) fn counted(metric: Metric) -> Option<usize> {
    COUNTED.iter().position(|m| *m == metric)
}

/// The limits a level enforces: its own, plus a key's default concurrency limit.
pub(super) fn effective<'a>(settings: &LedgerSettings, level: &Level<'a>) -> impl Iterator<Item = Limit> + 'a {
    let default = match level.scope {
        crate::store::LimitScope::Key(_) if !level.limits.iter().any(|l| l.metric == Metric::Concurrency) => {
            Some(Limit {
                metric: Metric::Concurrency,
                period: Period::Total,
                max_value: settings.key_concurrency,
            })
        }
        _ => None,
    };
    level.limits.iter().copied().chain(default)
}

/// What the request asks of `metric`: one request (or one concurrent place), its tokens, its cost.
pub(super) fn asked(ask: &Ask<'_>, metric: Metric) -> i64 {
    match metric {
        Metric::Requests | Metric::Concurrency => 1,
        Metric::Tokens => ask.tokens.max(0),
        Metric::CostMicros => ask.cost_micros.max(0),
    }
}

/// Milliseconds from `now` to the end of `period`'s window; `None` for `total`.
fn reset_ms(period: Period, now: i64) -> Option<i64> {
    period
        .window_end(period.window_start(now))
        .map(|end| (end - now).max(0))
}

/// Admits `ask` when every limit has room, `taken` holding what each limit of
/// [`effective`] has taken already, level after level; answers the headers after admission, or
/// the refusal of the first limit without room.
pub(super) fn judge(settings: &LedgerSettings, ask: &Ask<'_>, taken: &[i64]) -> Result<RateHeaders, Box<Refusal>> {
    let mut taken_of = taken.iter().copied();
    let mut limits = Vec::with_capacity(taken.len());
    for level in &ask.levels {
        for limit in effective(settings, level) {
            limits.push((level.scope, limit, taken_of.next().unwrap_or(0)));
        }
    }
    let refused =
        (limits.iter()).find(|(_, limit, taken)| taken.saturating_add(asked(ask, limit.metric)) > limit.max_value);
    let Some(&(scope, limit, taken)) = refused else {
        return Ok(headers(ask, &limits, true));
    };
    let asked = asked(ask, limit.metric);
    let retry_after = match (limit.metric, asked > limit.max_value) {
        (_, true) => None,
        (Metric::Concurrency, false) => Some(Duration::from_secs(1)),
        (Metric::Requests | Metric::Tokens | Metric::CostMicros, false) => {
            reset_ms(limit.period, ask.now).map(|ms| Duration::from_millis(u64::try_from(ms.max(1)).unwrap_or(1)))
        }
    };
    Err(Box::new(Refusal {
        scope,
        limit,
        taken,
        asked,
        retry_after,
        headers: headers(ask, &limits, false),
    }))
}

/// The tightest request and token limits, counting the request itself when `admitted`.
fn headers(ask: &Ask<'_>, limits: &[(crate::store::LimitScope, Limit, i64)], admitted: bool) -> RateHeaders {
    let mut headers = RateHeaders::default();
    for (_, limit, taken) in limits {
        let slot = match limit.metric {
            Metric::Requests => &mut headers.requests,
            Metric::Tokens => &mut headers.tokens,
            Metric::CostMicros | Metric::Concurrency => continue,
        };
        let extra = if admitted { asked(ask, limit.metric) } else { 0 };
        let remaining = (limit.max_value - taken - extra).max(0);
        if slot.is_none_or(|tightest| remaining < tightest.remaining) {
            *slot = Some(Headroom {
                limit: limit.max_value,
                remaining,
                reset_ms: reset_ms(limit.period, ask.now),
            });
        }
    }
    headers
}
