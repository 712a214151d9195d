//! The history the dashboard reads: `usage_hourly` (requests, errors, tokens, cost, latency
//! sum) and `usage_hourly_latency` (how many requests finished within each latency bound), per
//! gateway, key and endpoint; and the same by the minute (`usage_minutely`,
//! `usage_minutely_latency`) for the last day. The log writer adds to all four in the batch's
//! transaction; retention never deletes hours, and deletes minutes after [`MINUTES_KEPT_MS`].

use super::{Store, StoreError};
use app::types::{EndpointId, GatewayId, HourlyUsage, KeyId, UsageSums};
use sqlx::Row;
use std::collections::BTreeMap;

/// Latency bounds, milliseconds; past the last one a request counts under `i64::MAX`. The
/// `/metrics` latency histograms use the same bounds, so the two views agree.
pub const LATENCY_BOUNDS_MS: [i64; 16] = [
    5, 10, 25, 50, 100, 250, 500, 1_000, 2_500, 5_000, 10_000, 20_000, 30_000, 60_000, 120_000, 300_000,
];

/// The bound a latency counts under.
pub fn latency_bound(latency_ms: i64) -> i64 {
    LATENCY_BOUNDS_MS
        .iter()
        .copied()
        .find(|bound| latency_ms <= *bound)
        .unwrap_or(i64::MAX)
}

/// How long minutes are kept: the dashboard's shortest ranges read the last 6 hours.
pub const MINUTES_KEPT_MS: i64 = 24 * 3_600_000;

/// A history's granularity: which tables hold it, and how long one row covers.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub enum Span {
    Hour,
    Minute,
}

impl Span {
    /// Both, as the writer adds to them.
    pub const ALL: [Span; 2] = [Span::Hour, Span::Minute];

    /// Milliseconds one row covers.
    pub fn ms(self) -> i64 {
        match self {
            Span::Hour => 3_600_000,
            Span::Minute => 60_000,
        }
    }

    /// The row's start for a time.
    pub fn start(self, ms: i64) -> i64 {
        ms - ms.rem_euclid(self.ms())
    }

    /// (totals table, latency table, start column).
    pub(super) fn tables(self) -> (&'static str, &'static str, &'static str) {
        match self {
            Span::Hour => ("usage_hourly", "usage_hourly_latency", "hour_start"),
            Span::Minute => ("usage_minutely", "usage_minutely_latency", "minute_start"),
        }
    }
}

/// Whose history to read.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum HourlyScope {
    Gateway(GatewayId),
    Key(KeyId),
    Endpoint(EndpointId),
    /// Every gateway's together: the whole installation.
    AllGateways,
}

impl HourlyScope {
    /// The scope's kind and id (`None` for all of that kind).
    fn parts(self) -> (&'static str, Option<i64>) {
        match self {
            HourlyScope::Gateway(id) => ("gateway", Some(id.0)),
            HourlyScope::Key(id) => ("key", Some(id.0)),
            HourlyScope::Endpoint(id) => ("endpoint", Some(id.0)),
            HourlyScope::AllGateways => ("gateway", None),
        }
    }
}

/// Whose sums [`Store::hourly_sums`] reads, one per id.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum HourlyKind {
    Gateway,
    Key,
    Endpoint,
}

/// Request counts per (span, scope, scope id, row start, latency bound), to add in one batch.
pub(super) type LatencyCounts = BTreeMap<(Span, &'static str, i64, i64, i64), i64>;

/// Adds a batch's latency counts.
pub(super) async fn add_latency(tx: &mut super::logs::Tx<'_>, counts: &LatencyCounts) -> Result<(), StoreError> {
    for ((span, kind, id, hour, bound), requests) in counts {
        let (_, table, start) = span.tables();
        let sql = format!(
            "INSERT INTO {table} (scope, scope_id, {start}, le_ms, requests) \
             VALUES ($1, $2, $3, $4, $5) ON CONFLICT (scope, scope_id, {start}, le_ms) \
             DO UPDATE SET requests = {table}.requests + excluded.requests"
        );
        sqlx::query(&sql)
            .bind(*kind)
            .bind(*id)
            .bind(*hour)
            .bind(*bound)
            .bind(*requests)
            .execute(&mut **tx)
            .await?;
    }
    Ok(())
}

/// The latency under which the `share` (0..=1) of requests finished, estimated inside the
/// bucket that holds it; `None` when it is past the largest bound. `buckets` are (bound,
/// requests) in bound order.
fn percentile(buckets: &[(i64, i64)], share: f64) -> Option<i64> {
    let total: i64 = buckets.iter().map(|(_, n)| n).sum();
    if total == 0 {
        return None;
    }
    // Where the request at `share` falls, found by linear interpolation inside its bucket (as
    // Prometheus' `histogram_quantile` does): the bucket's bound alone overstates it by up to
    // its width (a p95 of 5.0 s when the slowest request took 2.65 s).
    let rank = (total as f64) * share;
    let mut seen = 0_i64;
    for &(bound, requests) in buckets {
        if requests > 0 && (seen + requests) as f64 >= rank {
            if bound == i64::MAX {
                return None;
            }
            // Only buckets with requests are stored: the lower edge is the bound before.
            let lower = (LATENCY_BOUNDS_MS.iter().rev())
                .find(|b| **b < bound)
                .copied()
                .unwrap_or(0);
            let within = ((rank - seen as f64) / requests as f64).clamp(0.0, 1.0);
            return Some(lower + ((bound - lower) as f64 * within).round() as i64);
        }
        seen += requests;
    }
    None
}

impl Store {
    /// Each gateway's (key's, endpoint's) sums over the `span` rows that start in `[from_ms,
    /// to_ms)`, by id, in one grouped read (ids without traffic are absent).
    pub async fn hourly_sums(
        &self,
        kind: HourlyKind,
        span: Span,
        from_ms: i64,
        to_ms: i64,
    ) -> Result<BTreeMap<i64, UsageSums>, StoreError> {
        let kind = match kind {
            HourlyKind::Gateway => "gateway",
            HourlyKind::Key => "key",
            HourlyKind::Endpoint => "endpoint",
        };
        let (table, _, start) = span.tables();
        let sql = format!(
            "SELECT scope_id, CAST(SUM(requests) AS BIGINT) AS requests, CAST(SUM(errors) AS BIGINT) AS errors, \
             CAST(SUM(prompt_tokens) AS BIGINT) AS prompt_tokens, CAST(SUM(completion_tokens) AS BIGINT) AS completion_tokens, \
             CAST(SUM(cost_micros) AS BIGINT) AS cost_micros, CAST(SUM(latency_ms_sum) AS BIGINT) AS latency_ms_sum, \
             CAST(SUM(cache_hits) AS BIGINT) AS cache_hits, CAST(SUM(cache_misses) AS BIGINT) AS cache_misses, \
             CAST(SUM(saved_micros) AS BIGINT) AS saved_micros \
             FROM {table} WHERE scope = $1 AND {start} >= $2 AND {start} < $3 GROUP BY scope_id"
        );
        let rows = sqlx::query(&sql)
            .bind(kind)
            .bind(from_ms)
            .bind(to_ms)
            .fetch_all(&self.reader)
            .await?;
        rows.iter()
            .map(|row| {
                let requests: i64 = row.try_get("requests")?;
                let latency_sum: i64 = row.try_get("latency_ms_sum")?;
                let sums = UsageSums {
                    requests,
                    errors: row.try_get("errors")?,
                    prompt_tokens: row.try_get("prompt_tokens")?,
                    completion_tokens: row.try_get("completion_tokens")?,
                    cost_micros: row.try_get("cost_micros")?,
                    latency_mean_ms: if requests > 0 { latency_sum / requests } else { 0 },
                    cache_hits: row.try_get("cache_hits")?,
                    cache_misses: row.try_get("cache_misses")?,
                    saved_micros: row.try_get("saved_micros")?,
                };
                Ok((row.try_get("scope_id")?, sums))
            })
            .collect()
    }

    /// The hours of `scope`'s history that start in `[from_ms, to_ms)`, oldest first.
    pub async fn hourly_usage(
        &self,
        scope: HourlyScope,
        from_ms: i64,
        to_ms: i64,
    ) -> Result<Vec<HourlyUsage>, StoreError> {
        self.history(scope, Span::Hour, Span::Hour.ms(), from_ms, to_ms).await
    }

    /// `scope`'s history from `span`'s rows that start in `[from_ms, to_ms)`, summed into
    /// buckets of `step_ms` (a whole number of spans, from the epoch), oldest first; each
    /// bucket's `hour_start` is its start.
    pub async fn history(
        &self,
        scope: HourlyScope,
        span: Span,
        step_ms: i64,
        from_ms: i64,
        to_ms: i64,
    ) -> Result<Vec<HourlyUsage>, StoreError> {
        let (kind, id) = scope.parts();
        let (totals, latencies, start) = span.tables();
        // Both tables are keyed by (scope, scope id, start, …): one scope's read is one index
        // range; all of a kind is read per bucket and summed.
        let which = if id.is_some() {
            "scope_id = $2"
        } else {
            "scope_id <> $2"
        };
        let bucket = format!("({start} - {start} % $5)");
        let totals = format!(
            "SELECT {bucket} AS bucket, CAST(SUM(requests) AS BIGINT) AS requests, CAST(SUM(errors) AS BIGINT) AS errors, \
             CAST(SUM(prompt_tokens) AS BIGINT) AS prompt_tokens, CAST(SUM(completion_tokens) AS BIGINT) AS completion_tokens, \
             CAST(SUM(cost_micros) AS BIGINT) AS cost_micros, CAST(SUM(latency_ms_sum) AS BIGINT) AS latency_ms_sum, \
             CAST(SUM(cache_hits) AS BIGINT) AS cache_hits, CAST(SUM(cache_misses) AS BIGINT) AS cache_misses, \
             CAST(SUM(saved_micros) AS BIGINT) AS saved_micros \
             FROM {totals} WHERE scope = $1 AND {which} AND {start} >= $3 AND {start} < $4 \
             GROUP BY {bucket} ORDER BY bucket"
        );
        let latencies = format!(
            "SELECT {bucket} AS bucket, le_ms, CAST(SUM(requests) AS BIGINT) AS requests FROM {latencies} \
             WHERE scope = $1 AND {which} AND {start} >= $3 AND {start} < $4 \
             GROUP BY {bucket}, le_ms ORDER BY bucket, le_ms"
        );
        // With no id, `scope_id <> -1` holds for every row (ids are positive).
        let id = id.unwrap_or(-1);
        let step = step_ms.max(span.ms());
        let mut read = Vec::with_capacity(2);
        for sql in [&totals, &latencies] {
            let query = sqlx::query(sql)
                .bind(kind)
                .bind(id)
                .bind(from_ms)
                .bind(to_ms)
                .bind(step);
            read.push(query.fetch_all(&self.reader).await?);
        }
        let (buckets, rows) = (read.pop().unwrap_or_default(), read.pop().unwrap_or_default());
        let mut by_bucket: BTreeMap<i64, Vec<(i64, i64)>> = BTreeMap::new();
        for row in &buckets {
            by_bucket
                .entry(row.try_get("bucket")?)
                .or_default()
                .push((row.try_get("le_ms")?, row.try_get("requests")?));
        }
        rows.iter()
            .map(|row| {
                let start: i64 = row.try_get("bucket")?;
                let requests: i64 = row.try_get("requests")?;
                let latency_sum: i64 = row.try_get("latency_ms_sum")?;
                let latency = by_bucket.get(&start).map_or(&[][..], Vec::as_slice);
                Ok(HourlyUsage {
                    hour_start: start,
                    requests,
                    errors: row.try_get("errors")?,
                    prompt_tokens: row.try_get("prompt_tokens")?,
                    completion_tokens: row.try_get("completion_tokens")?,
                    cost_micros: row.try_get("cost_micros")?,
                    latency_mean_ms: if requests > 0 { latency_sum / requests } else { 0 },
                    latency_p50_ms: percentile(latency, 0.5),
                    latency_p95_ms: percentile(latency, 0.95),
                    cache_hits: row.try_get("cache_hits")?,
                    cache_misses: row.try_get("cache_misses")?,
                    saved_micros: row.try_get("saved_micros")?,
                })
            })
            .collect()
    }

    /// Deletes minutes of history that started before `cutoff_ms`; how many rows went.
    pub async fn delete_minutes_before(&self, cutoff_ms: i64) -> Result<u64, StoreError> {
        let mut deleted = 0;
        for table in ["usage_minutely", "usage_minutely_latency"] {
            let sql = format!("DELETE FROM {table} WHERE minute_start < $1");
            deleted += sqlx::query(&sql)
                .bind(cutoff_ms)
                .execute(&self.writer)
                .await?
                .rows_affected();
        }
        Ok(deleted)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn latencies_count_under_the_first_bound_they_do_not_exceed() {
        assert_eq!(latency_bound(0), 5);
        assert_eq!(latency_bound(5), 5);
        assert_eq!(latency_bound(6), 10);
        assert_eq!(latency_bound(300_000), 300_000);
        assert_eq!(latency_bound(300_001), i64::MAX);
    }

    #[test]
    fn percentiles_are_interpolated_inside_the_bucket_holding_the_rank() {
        let buckets = [(10, 50), (100, 45), (1_000, 4), (i64::MAX, 1)];
        assert_eq!(percentile(&buckets, 0.5), Some(10));
        assert_eq!(percentile(&buckets, 0.51), Some(51), "1/45 of the way from 50 to 100");
        assert_eq!(percentile(&buckets, 0.95), Some(100));
        assert_eq!(percentile(&buckets, 0.97), Some(750), "half way from 500 to 1000");
        assert_eq!(percentile(&buckets, 0.99), Some(1_000));
        // The case: 19 fast requests and one that took 2.65 s. The bound said 5.0 s.
        let slow_one = [(100, 19), (5_000, 1)];
        assert_eq!(percentile(&slow_one, 0.95), Some(100));
        let two_slow = [(100, 18), (2_500, 0), (5_000, 2)];
        assert_eq!(percentile(&two_slow, 0.95), Some(3_750));
        assert_eq!(percentile(&buckets, 1.0), None, "past the largest bound");
        assert_eq!(percentile(&[], 0.5), None);
    }
}
