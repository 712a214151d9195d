//! The hourly history the dashboard reads: `usage_hourly` (requests, errors, tokens, cost,
//! latency sum) and `usage_hourly_latency` (how many requests finished within each latency
//! bound), per gateway, key and endpoint. The log writer adds to both in the batch's
//! transaction; retention never deletes them.

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

/// Request counts per (scope, scope id, hour, latency bound), to add in one batch.
pub(super) type LatencyCounts = BTreeMap<(&'static str, i64, i64, i64), i64>;

/// Adds a batch's latency counts.
pub(super) async fn add_latency(tx: &mut super::logs::Tx<'_>, counts: &LatencyCounts) -> Result<(), StoreError> {
    for ((kind, id, hour, bound), requests) in counts {
        sqlx::query(
            "INSERT INTO usage_hourly_latency (scope, scope_id, hour_start, le_ms, requests) \
             VALUES ($1, $2, $3, $4, $5) ON CONFLICT (scope, scope_id, hour_start, le_ms) \
             DO UPDATE SET requests = usage_hourly_latency.requests + excluded.requests",
        )
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
    /// Each gateway's (or endpoint's) sums over the hours that start in `[from_ms, to_ms)`, by
    /// id, in one grouped read (ids without traffic are absent).
    pub async fn hourly_sums(
        &self,
        kind: HourlyKind,
        from_ms: i64,
        to_ms: i64,
    ) -> Result<BTreeMap<i64, UsageSums>, StoreError> {
        let kind = match kind {
            HourlyKind::Gateway => "gateway",
            HourlyKind::Key => "key",
            HourlyKind::Endpoint => "endpoint",
        };
        let rows = sqlx::query(
            "SELECT scope_id, CAST(SUM(requests) AS BIGINT) AS requests, CAST(SUM(errors) AS BIGINT) AS errors, \
             CAST(SUM(prompt_tokens) AS BIGINT) AS prompt_tokens, CAST(SUM(completion_tokens) AS BIGINT) AS completion_tokens, \
             CAST(SUM(cost_micros) AS BIGINT) AS cost_micros, CAST(SUM(latency_ms_sum) AS BIGINT) AS latency_ms_sum \
             FROM usage_hourly WHERE scope = $1 AND hour_start >= $2 AND hour_start < $3 GROUP BY scope_id",
        )
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
        let (kind, id) = scope.parts();
        // Both tables are keyed by (scope, scope id, hour, …): one scope's read is one index
        // range; all of a kind is read per hour and summed.
        let (totals, latencies) = match id {
            Some(_) => (
                "SELECT hour_start, requests, errors, prompt_tokens, completion_tokens, cost_micros, latency_ms_sum \
                 FROM usage_hourly WHERE scope = $1 AND scope_id = $2 AND hour_start >= $3 AND hour_start < $4 \
                 ORDER BY hour_start",
                "SELECT hour_start, le_ms, requests FROM usage_hourly_latency \
                 WHERE scope = $1 AND scope_id = $2 AND hour_start >= $3 AND hour_start < $4 \
                 ORDER BY hour_start, le_ms",
            ),
            None => (
                "SELECT hour_start, CAST(SUM(requests) AS BIGINT) AS requests, CAST(SUM(errors) AS BIGINT) AS errors, \
                 CAST(SUM(prompt_tokens) AS BIGINT) AS prompt_tokens, CAST(SUM(completion_tokens) AS BIGINT) AS completion_tokens, \
                 CAST(SUM(cost_micros) AS BIGINT) AS cost_micros, CAST(SUM(latency_ms_sum) AS BIGINT) AS latency_ms_sum \
                 FROM usage_hourly WHERE scope = $1 AND scope_id <> $2 AND hour_start >= $3 AND hour_start < $4 \
                 GROUP BY hour_start ORDER BY hour_start",
                "SELECT hour_start, le_ms, CAST(SUM(requests) AS BIGINT) AS requests FROM usage_hourly_latency \
                 WHERE scope = $1 AND scope_id <> $2 AND hour_start >= $3 AND hour_start < $4 \
                 GROUP BY hour_start, le_ms ORDER BY hour_start, le_ms",
            ),
        };
        // With no id, `scope_id <> -1` holds for every row (ids are positive).
        let id = id.unwrap_or(-1);
        let in_range = |sql: &'static str| sqlx::query(sql).bind(kind).bind(id).bind(from_ms).bind(to_ms);
        let rows = in_range(totals).fetch_all(&self.reader).await?;
        let buckets = in_range(latencies).fetch_all(&self.reader).await?;
        let mut by_hour: BTreeMap<i64, Vec<(i64, i64)>> = BTreeMap::new();
        for row in &buckets {
            by_hour
                .entry(row.try_get("hour_start")?)
                .or_default()
                .push((row.try_get("le_ms")?, row.try_get("requests")?));
        }
        rows.iter()
            .map(|row| {
                let hour_start: i64 = row.try_get("hour_start")?;
                let requests: i64 = row.try_get("requests")?;
                let latency_sum: i64 = row.try_get("latency_ms_sum")?;
                let hour = by_hour.get(&hour_start).map_or(&[][..], Vec::as_slice);
                Ok(HourlyUsage {
                    hour_start,
                    requests,
                    errors: row.try_get("errors")?,
                    prompt_tokens: row.try_get("prompt_tokens")?,
                    completion_tokens: row.try_get("completion_tokens")?,
                    cost_micros: row.try_get("cost_micros")?,
                    latency_mean_ms: if requests > 0 { latency_sum / requests } else { 0 },
                    latency_p50_ms: percentile(hour, 0.5),
                    latency_p95_ms: percentile(hour, 0.95),
                })
            })
            .collect()
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
