//! A batch's usage, added where limits and the dashboard read it: the counters of every
//! charged scope's windows (`usage_counters`) and the history by the hour and by the minute
//! (`usage_hourly`, `usage_minutely`, each with its latency histogram). Written in the batch's own transaction (`logs::store_finished`).

use super::{hourly::Span, logs::Finished, logs::Tx, StoreError};
use app::types::{Period, RequestLog};
use std::collections::BTreeMap;

/// One `usage_counters` or `usage_hourly` row's increments.
#[derive(Clone, Copy, Debug, Default)]
struct Increments {
    requests: i64,
    errors: i64,
    prompt_tokens: i64,
    completion_tokens: i64,
    cost_micros: i64,
    latency_ms: i64,
    cache_hits: i64,
    cache_misses: i64,
    saved_micros: i64,
}

impl Increments {
    /// Adds one request's figures, saturating: a sum past `i64` would turn into a REAL on
    /// SQLite and wrap on Postgres.
    fn add(&mut self, log: &RequestLog, saved_micros: i64) {
        self.requests = self.requests.saturating_add(1);
        self.errors = self.errors.saturating_add(i64::from(log.status >= 400));
        self.prompt_tokens = self.prompt_tokens.saturating_add(log.prompt_tokens.max(0));
        self.completion_tokens = self.completion_tokens.saturating_add(log.completion_tokens.max(0));
        self.cost_micros = self.cost_micros.saturating_add(log.cost_micros.max(0));
        self.latency_ms = self.latency_ms.saturating_add(log.latency_ms.max(0));
        self.cache_hits = self
            .cache_hits
            .saturating_add(i64::from(log.cache.as_deref() == Some("hit")));
        self.cache_misses = (self.cache_misses).saturating_add(i64::from(log.cache.as_deref() == Some("miss")));
        self.saved_micros = self.saved_micros.saturating_add(saved_micros.max(0));
    }

    /// Adds another row's increments, saturating.
    fn merge(&mut self, other: &Increments) {
        self.requests = self.requests.saturating_add(other.requests);
        self.errors = self.errors.saturating_add(other.errors);
        self.prompt_tokens = self.prompt_tokens.saturating_add(other.prompt_tokens);
        self.completion_tokens = self.completion_tokens.saturating_add(other.completion_tokens);
        self.cost_micros = self.cost_micros.saturating_add(other.cost_micros);
        self.latency_ms = self.latency_ms.saturating_add(other.latency_ms);
        self.cache_hits = self.cache_hits.saturating_add(other.cache_hits);
        self.cache_misses = self.cache_misses.saturating_add(other.cache_misses);
        self.saved_micros = self.saved_micros.saturating_add(other.saved_micros);
    }
}

/// A scope's increments in one minute: every window of every period and span is made of whole
/// minutes, so a batch is first summed by the minute (one map entry a scope per request), then
/// each minute's sum is added to its windows.
type ByMinute = BTreeMap<(i64, i64, &'static str), Increments>;

/// Adds the usage of the admitted events to the counters of every charged scope's windows, and
/// every event to the hourly history of its scopes and of the endpoint that served.
pub(super) async fn add_usage(tx: &mut Tx<'_>, charged: &[&Finished]) -> Result<(), StoreError> {
    let mut counted = ByMinute::new();
    let mut histories = ByMinute::new();
    let mut latencies: BTreeMap<(i64, i64, &'static str, i64), i64> = BTreeMap::new();
    for finished in charged {
        let log = &finished.log;
        let minute = Period::Minute.window_start(log.created_at);
        let limited = if finished.admitted { &finished.scopes[..] } else { &[] };
        for scope in limited {
            (counted.entry((scope.id(), minute, scope.kind())).or_default()).add(log, finished.saved_micros);
        }
        let served = log.endpoint_id.map(|endpoint| ("endpoint", endpoint.0));
        // People are counted, but their history is the request log's (it names them).
        let scopes = (finished.scopes.iter())
            .filter(|scope| !scope.is_person())
            .map(|scope| (scope.kind(), scope.id()))
            .chain(served);
        let bound = super::hourly::latency_bound(log.latency_ms);
        for (kind, id) in scopes {
            (histories.entry((id, minute, kind)).or_default()).add(log, finished.saved_micros);
            *latencies.entry((id, minute, kind, bound)).or_default() += 1;
        }
    }
    let mut counters: BTreeMap<(&'static str, i64, Period, i64), Increments> = BTreeMap::new();
    for ((id, minute, kind), add) in &counted {
        for period in Period::ALL {
            let window = period.window_start(*minute);
            (counters.entry((kind, *id, period, window)).or_default()).merge(add);
        }
    }
    let mut history: BTreeMap<(Span, &'static str, i64, i64), Increments> = BTreeMap::new();
    let mut latency = super::hourly::LatencyCounts::new();
    for ((id, minute, kind), add) in &histories {
        for span in Span::ALL {
            (history.entry((span, kind, *id, span.start(*minute))).or_default()).merge(add);
        }
    }
    for ((id, minute, kind, bound), count) in latencies {
        for span in Span::ALL {
            *latency.entry((span, kind, id, span.start(minute), bound)).or_default() += count;
        }
    }
    let now = super::now_ms();
    for ((kind, id, period, window), add) in counters {
        sqlx::query(
            "INSERT INTO usage_counters (scope, scope_id, period, window_start, requests, prompt_tokens, \
             completion_tokens, cost_micros, updated_at) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9) \
             ON CONFLICT (scope, scope_id, period, window_start) DO UPDATE SET \
             requests = usage_counters.requests + excluded.requests, \
             prompt_tokens = usage_counters.prompt_tokens + excluded.prompt_tokens, \
             completion_tokens = usage_counters.completion_tokens + excluded.completion_tokens, \
             cost_micros = usage_counters.cost_micros + excluded.cost_micros, updated_at = excluded.updated_at",
        )
        .bind(kind)
        .bind(id)
        .bind(period.as_str())
        .bind(window)
        .bind(add.requests)
        .bind(add.prompt_tokens)
        .bind(add.completion_tokens)
        .bind(add.cost_micros)
        .bind(now)
        .execute(&mut **tx)
        .await?;
    }
    for ((span, kind, id, start), add) in history {
        let (table, _, column) = span.tables();
        let sql = format!(
            "INSERT INTO {table} (scope, scope_id, {column}, requests, errors, prompt_tokens, \
             completion_tokens, cost_micros, latency_ms_sum, cache_hits, cache_misses, saved_micros) \
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12) \
             ON CONFLICT (scope, scope_id, {column}) DO UPDATE SET \
             requests = {table}.requests + excluded.requests, errors = {table}.errors + excluded.errors, \
             prompt_tokens = {table}.prompt_tokens + excluded.prompt_tokens, \
             completion_tokens = {table}.completion_tokens + excluded.completion_tokens, \
             cost_micros = {table}.cost_micros + excluded.cost_micros, \
             latency_ms_sum = {table}.latency_ms_sum + excluded.latency_ms_sum, \
             cache_hits = {table}.cache_hits + excluded.cache_hits, \
             cache_misses = {table}.cache_misses + excluded.cache_misses, \
             saved_micros = {table}.saved_micros + excluded.saved_micros"
        );
        sqlx::query(&sql)
            .bind(kind)
            .bind(id)
            .bind(start)
            .bind(add.requests)
            .bind(add.errors)
            .bind(add.prompt_tokens)
            .bind(add.completion_tokens)
            .bind(add.cost_micros)
            .bind(add.latency_ms)
            .bind(add.cache_hits)
            .bind(add.cache_misses)
            .bind(add.saved_micros)
            .execute(&mut **tx)
            .await?;
    }
    super::hourly::add_latency(tx, &latency).await
}
