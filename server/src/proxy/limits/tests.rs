//! The ledger's rules, checked without a server: windows, leases, refusals and their headers.

use super::*;
use app::types::{GatewayId, KeyId};

const NOW: i64 = 1_795_423_530_250;

fn ledger() -> Arc<Ledger> {
    let settings = LedgerSettings {
        key_concurrency: 64,
        reservation_ttl: Duration::from_secs(2),
    };
    Ledger::new(settings, NOW - 60_000)
}

pub(super) fn limit(metric: Metric, period: Period, max_value: i64) -> Limit {
    Limit {
        metric,
        period,
        max_value,
    }
}

pub(super) fn ask<'a>(id: &'a str, now: i64, levels: Vec<Level<'a>>, tokens: i64) -> Ask<'a> {
    Ask {
        request_id: id,
        now,
        levels,
        tokens,
        cost_micros: 0,
    }
}

pub(super) fn key(id: i64, limits: &[Limit]) -> Level<'_> {
    Level {
        scope: LimitScope::Key(KeyId(id)),
        limits,
        reset_at: None,
    }
}

#[test]
fn a_limit_admits_exactly_its_value_and_nothing_is_reserved_for_refusals() {
    let ledger = ledger();
    let limits = [limit(Metric::Requests, Period::Minute, 3)];
    let gateway = Level {
        scope: LimitScope::Gateway(GatewayId(1)),
        limits: &[],
        reset_at: None,
    };
    let ids: Vec<String> = (0..5).map(|i| format!("r{i}")).collect();
    let admitted = ids
        .iter()
        .filter(|id| {
            ledger
                .admit(&ask(id, NOW, vec![key(7, &limits), gateway], 10), None)
                .is_ok()
        })
        .count();
    assert_eq!(admitted, 3);
    let scope = LimitScope::Key(KeyId(7));
    assert_eq!(ledger.usage(scope, Metric::Requests, Period::Minute, NOW), (0, 3, 3));
    assert_eq!(ledger.usage(scope, Metric::Tokens, Period::Minute, NOW), (0, 30, 3));
    let refusal = ledger
        .admit(&ask("r9", NOW, vec![key(7, &limits)], 10), None)
        .unwrap_err();
    assert_eq!(refusal.limit, limits[0]);
    // 2026-11-23T08:45:30.250Z: the minute ends in 29.75 s.
    assert_eq!(refusal.retry_after, Some(Duration::from_millis(29_750)));
    assert_eq!(
        refusal.headers.requests,
        Some(Headroom {
            limit: 3,
            remaining: 0,
            reset_ms: Some(29_750)
        })
    );
    for id in &ids[..3] {
        ledger.settle(id, 4, 0);
        ledger.settle(id, 4, 0);
    }
    assert_eq!(ledger.usage(scope, Metric::Tokens, Period::Minute, NOW), (12, 0, 0));
    assert_eq!(ledger.usage(scope, Metric::Requests, Period::Day, NOW), (3, 0, 0));
    // The next minute starts empty; the day goes on.
    let later = NOW + 30_000;
    assert!(ledger
        .admit(&ask("r10", later, vec![key(7, &limits)], 10), None)
        .is_ok());
    assert_eq!(ledger.usage(scope, Metric::Requests, Period::Day, later), (3, 1, 1));
}

#[test]
fn all_levels_or_none() {
    let ledger = ledger();
    let parent = [limit(Metric::Requests, Period::Minute, 2)];
    let child = [limit(Metric::Tokens, Period::Hour, 100)];
    assert!(ledger
        .admit(&ask("a", NOW, vec![key(2, &child), key(1, &parent)], 60), None)
        .is_ok());
    // The child's tokens refuse the second; the parent must not keep a reservation for it.
    let refusal = ledger
        .admit(&ask("b", NOW, vec![key(2, &child), key(1, &parent)], 60), None)
        .unwrap_err();
    assert_eq!(refusal.scope, LimitScope::Key(KeyId(2)));
    let parent_scope = LimitScope::Key(KeyId(1));
    assert_eq!(
        ledger.usage(parent_scope, Metric::Requests, Period::Minute, NOW),
        (0, 1, 1)
    );
    // A sibling still fits under the parent, once.
    assert!(ledger
        .admit(&ask("c", NOW, vec![key(3, &[]), key(1, &parent)], 60), None)
        .is_ok());
    let refusal = ledger
        .admit(&ask("d", NOW, vec![key(3, &[]), key(1, &parent)], 1), None)
        .unwrap_err();
    assert_eq!(refusal.scope, parent_scope);
}

#[test]
fn concurrency_defaults_to_64_per_key_and_frees_on_settle() {
    let ledger = ledger();
    let ids: Vec<String> = (0..65).map(|i| format!("s{i}")).collect();
    for id in &ids[..64] {
        ledger.admit(&ask(id, NOW, vec![key(1, &[])], 0), None).unwrap();
    }
    let refusal = ledger
        .admit(&ask(&ids[64], NOW, vec![key(1, &[])], 0), None)
        .unwrap_err();
    assert_eq!(refusal.limit.metric, Metric::Concurrency);
    assert_eq!(refusal.retry_after, Some(Duration::from_secs(1)));
    ledger.settle(&ids[0], 0, 0);
    assert!(ledger.admit(&ask(&ids[64], NOW, vec![key(1, &[])], 0), None).is_ok());
}

#[test]
fn unsettled_leases_expire_and_a_late_settle_counts_only_usage() {
    let ledger = ledger();
    let limits = [limit(Metric::Tokens, Period::Day, 1_000)];
    ledger.admit(&ask("x", NOW, vec![key(1, &limits)], 600), None).unwrap();
    assert!(ledger.admit(&ask("y", NOW, vec![key(1, &limits)], 600), None).is_err());
    assert_eq!(ledger.sweep(NOW + 1_999), 0);
    assert_eq!(ledger.sweep(NOW + 2_000), 1);
    let scope = LimitScope::Key(KeyId(1));
    assert_eq!(ledger.usage(scope, Metric::Tokens, Period::Day, NOW), (0, 0, 0));
    ledger.settle("x", 50, 0);
    assert_eq!(ledger.usage(scope, Metric::Tokens, Period::Day, NOW), (50, 0, 0));
    assert_eq!(ledger.open_leases(), 0);
}

#[test]
fn an_ask_larger_than_the_limit_says_so_and_gives_no_retry() {
    let ledger = ledger();
    let limits = [limit(Metric::Tokens, Period::Minute, 100)];
    let refusal = ledger
        .admit(&ask("big", NOW, vec![key(1, &limits)], 101), None)
        .unwrap_err();
    assert_eq!(refusal.retry_after, None);
    assert!(refusal.message().contains("lower max_tokens"), "{}", refusal.message());
}

#[test]
fn stored_counters_and_resets_are_honoured() {
    let ledger = ledger();
    let scope = LimitScope::Key(KeyId(1));
    ledger.load(&[CounterRow {
        scope,
        period: Period::Day,
        window_start: Period::Day.window_start(NOW),
        requests: 5,
        tokens: 900,
        cost_micros: 0,
    }]);
    let limits = [limit(Metric::Tokens, Period::Day, 1_000)];
    assert!(ledger.admit(&ask("a", NOW, vec![key(1, &limits)], 200), None).is_err());
    // A reset before the ledger started is already in the stored counters.
    let old_reset = Level {
        reset_at: Some(NOW - 120_000),
        ..key(1, &limits)
    };
    assert!(ledger.admit(&ask("a", NOW, vec![old_reset], 200), None).is_err());
    let reset = Level {
        reset_at: Some(NOW - 5),
        ..key(1, &limits)
    };
    assert!(ledger.admit(&ask("a", NOW, vec![reset], 200), None).is_ok());
    assert_eq!(ledger.usage(scope, Metric::Tokens, Period::Day, NOW), (0, 200, 1));
}

#[test]
fn an_arrival_holds_a_concurrency_place_that_admission_takes_over_once() {
    let ledger = ledger();
    let limits = [limit(Metric::Concurrency, Period::Total, 2)];
    let mut first = ledger.arrive(&[key(1, &limits)], NOW).unwrap();
    let second = ledger.arrive(&[key(1, &limits)], NOW).unwrap();
    // Two bodies being read fill the two places.
    let refusal = ledger.arrive(&[key(1, &limits)], NOW).unwrap_err();
    assert_eq!(refusal.limit.metric, Metric::Concurrency);
    assert!(ledger
        .admit(&ask("other", NOW, vec![key(1, &limits)], 0), None)
        .is_err());
    // Admitted, the first keeps its one place (not two).
    ledger
        .admit(&ask("a", NOW, vec![key(1, &limits)], 0), Some(&mut first))
        .unwrap();
    assert!(ledger.arrive(&[key(1, &limits)], NOW).is_err());
    drop(first);
    assert!(
        ledger.arrive(&[key(1, &limits)], NOW).is_err(),
        "dropping an admitted arrival gives nothing back"
    );
    // A body that never came gives its place back.
    drop(second);
    let third = ledger.arrive(&[key(1, &limits)], NOW).unwrap();
    drop(third);
    ledger.settle("a", 0, 0);
    assert_eq!(
        ledger
            .usage(LimitScope::Key(KeyId(1)), Metric::Concurrency, Period::Total, NOW)
            .2,
        0
    );
    let again = ledger.arrive(&[key(1, &limits)], NOW).unwrap();
    let other = ledger.arrive(&[key(1, &limits)], NOW).unwrap();
    drop((again, other));
}

#[test]
fn a_loaded_counter_at_the_top_of_the_range_refuses_without_overflowing() {
    let ledger = ledger();
    let limits = [limit(Metric::Tokens, Period::Total, 100_000)];
    ledger.load(&[CounterRow {
        scope: LimitScope::Key(KeyId(1)),
        period: Period::Total,
        window_start: Period::Total.window_start(NOW),
        requests: i64::MAX,
        tokens: i64::MAX,
        cost_micros: i64::MAX,
    }]);
    let refusal = ledger
        .admit(&ask("a", NOW, vec![key(1, &limits)], 10), None)
        .unwrap_err();
    assert_eq!(refusal.limit.metric, Metric::Tokens);
}
