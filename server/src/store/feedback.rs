//! Feedback on requests (`POST /v1/feedback`) and the per-variant figures of a composite model
//! that an A/B test is decided by.

use super::{Store, StoreError};
use app::types::{GatewayId, KeyId, VariantStats};
use sqlx::Row;

impl Store {
    /// Whether request `request_id` is logged, and the key that made it.
    pub async fn request_key(&self, request_id: &str) -> Result<Option<Option<KeyId>>, StoreError> {
        let row = sqlx::query("SELECT key_id FROM request_logs WHERE request_id = $1")
            .bind(request_id)
            .fetch_optional(&self.reader)
            .await?;
        Ok(row
            .map(|row| row.try_get::<Option<i64>, _>("key_id"))
            .transpose()?
            .map(|key| key.map(KeyId)))
    }

    /// Keeps `score` as the feedback on `request_id` (replacing an earlier one).
    pub async fn put_feedback(&self, request_id: &str, key: KeyId, score: f64, now: i64) -> Result<(), StoreError> {
        sqlx::query(
            "INSERT INTO request_feedback (request_id, key_id, score, created_at) VALUES ($1, $2, $3, $4) \
             ON CONFLICT (request_id) DO UPDATE SET score = excluded.score, created_at = excluded.created_at",
        )
        .bind(request_id)
        .bind(key.0)
        .bind(score)
        .bind(now)
        .execute(&self.writer)
        .await?;
        Ok(())
    }

    /// Each variant's figures for requests to `model` through `gateway` in `[from, to)`
    /// (Unix milliseconds), by variant name; feedback counts when the key that gave it made
    /// the request.
    pub async fn variant_stats(
        &self,
        gateway: GatewayId,
        model: &str,
        from: i64,
        to: i64,
    ) -> Result<Vec<VariantStats>, StoreError> {
        const RANGE: &str = "l.gateway_id = $1 AND l.model = $2 AND l.created_at >= $3 AND l.created_at < $4 \
                             AND l.variant IS NOT NULL";
        let rows = sqlx::query(&format!(
            "SELECT l.variant, COUNT(*) AS requests, \
                    CAST(SUM(CASE WHEN l.status >= 400 THEN 1 ELSE 0 END) AS BIGINT) AS errors, \
                    CAST(SUM(l.prompt_tokens) AS BIGINT) AS prompt_tokens, \
                    CAST(SUM(l.completion_tokens) AS BIGINT) AS completion_tokens, \
                    CAST(SUM(l.cost_micros) AS BIGINT) AS cost_micros, COUNT(f.score) AS feedback_count, \
                    AVG(f.score) AS mean_score \
             FROM request_logs l LEFT JOIN request_feedback f \
               ON f.request_id = l.request_id AND f.key_id = l.key_id \
             WHERE {RANGE} GROUP BY l.variant ORDER BY l.variant"
        ))
        .bind(gateway.0)
        .bind(model)
        .bind(from)
        .bind(to)
        .fetch_all(&self.reader)
        .await?;
        let mut stats = Vec::with_capacity(rows.len());
        for row in rows {
            let variant: String = row.try_get("variant")?;
            let requests: i64 = row.try_get("requests")?;
            // The latency at a rank: the row that many places into the sorted latencies.
            let at = |rank: i64| {
                let variant = variant.clone();
                async move {
                    let value: Option<i64> = sqlx::query_scalar(&format!(
                        "SELECT l.latency_ms FROM request_logs l WHERE {RANGE} AND l.variant = $5 \
                         ORDER BY l.latency_ms LIMIT 1 OFFSET $6"
                    ))
                    .bind(gateway.0)
                    .bind(model)
                    .bind(from)
                    .bind(to)
                    .bind(variant)
                    .bind(rank)
                    .fetch_optional(&self.reader)
                    .await?;
                    Ok::<i64, StoreError>(value.unwrap_or(0))
                }
            };
            let rank = |quantile: f64| ((requests as f64 * quantile).ceil() as i64 - 1).clamp(0, requests - 1);
            stats.push(VariantStats {
                p50_latency_ms: at(rank(0.5)).await?,
                p95_latency_ms: at(rank(0.95)).await?,
                variant,
                requests,
                errors: sum(&row, "errors")?,
                prompt_tokens: sum(&row, "prompt_tokens")?,
                completion_tokens: sum(&row, "completion_tokens")?,
                cost_micros: sum(&row, "cost_micros")?,
                feedback_count: row.try_get("feedback_count")?,
                mean_score: row.try_get("mean_score")?,
            });
        }
        Ok(stats)
    }
}

/// A `SUM` column (cast to `BIGINT`: Postgres sums integers as `NUMERIC`); `NULL` is 0.
fn sum(row: &sqlx::any::AnyRow, column: &str) -> Result<i64, sqlx::Error> {
    Ok(row.try_get::<Option<i64>, _>(column)?.unwrap_or(0))
}
