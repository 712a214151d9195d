//! Feedback on requests (`POST /v1/feedback`), and the figures a change is judged by: per
//! variant of a composite model (an A/B test), per version of a prompt.

use super::{Store, StoreError};
use app::types::{GatewayId, KeyId, PersonKind, RequestFigures};
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

    /// The figures of the requests in `[from, to)` (Unix milliseconds) of each group of
    /// `breakdown`, by group; feedback counts when the key that gave it made the request.
    pub async fn request_figures(
        &self,
        breakdown: Breakdown<'_>,
        from: i64,
        to: i64,
    ) -> Result<Vec<(String, RequestFigures)>, StoreError> {
        // Every gateway, or one: `$1`.
        const GATEWAY: &str = "(CAST($1 AS BIGINT) IS NULL OR l.gateway_id = $1)";
        let (scope, group, first) = match breakdown {
            Breakdown::Variants { .. } => ("l.gateway_id = $1 AND l.model = $2", "l.variant", 3),
            Breakdown::PromptVersions { .. } => ("l.prompt = $1", "CAST(l.prompt_version AS TEXT)", 2),
            Breakdown::People {
                by: PersonKind::User, ..
            } => (GATEWAY, "l.end_user", 2),
            Breakdown::People {
                by: PersonKind::Group, ..
            } => (GATEWAY, "l.end_user_group", 2),
            Breakdown::EndUser { .. } => (
                "(CAST($1 AS BIGINT) IS NULL OR l.gateway_id = $1) AND l.end_user = $2",
                "l.end_user",
                3,
            ),
        };
        let (from_at, to_at, group_at, rank_at) = (first, first + 1, first + 2, first + 3);
        let range =
            format!("{scope} AND l.created_at >= ${from_at} AND l.created_at < ${to_at} AND {group} IS NOT NULL");
        // The scope's values, bound in its placeholders' order.
        macro_rules! bind_scope {
            ($query:expr) => {
                match breakdown {
                    Breakdown::Variants { gateway, model } => $query.bind(gateway.0).bind(model),
                    Breakdown::PromptVersions { prompt } => $query.bind(prompt),
                    Breakdown::People { gateway, .. } => $query.bind(gateway.map(|id| id.0)),
                    Breakdown::EndUser { gateway, user } => $query.bind(gateway.map(|id| id.0)).bind(user),
                }
            };
        }
        let sums = format!(
            "SELECT {group} AS grouped, COUNT(*) AS requests, \
                    CAST(SUM(CASE WHEN l.status >= 400 THEN 1 ELSE 0 END) AS BIGINT) AS errors, \
                    CAST(SUM(l.prompt_tokens) AS BIGINT) AS prompt_tokens, \
                    CAST(SUM(l.completion_tokens) AS BIGINT) AS completion_tokens, \
                    CAST(SUM(l.cost_micros) AS BIGINT) AS cost_micros, COUNT(f.score) AS feedback_count, \
                    AVG(f.score) AS mean_score \
             FROM request_logs l LEFT JOIN request_feedback f \
               ON f.request_id = l.request_id AND f.key_id = l.key_id \
             WHERE {range} GROUP BY {group} ORDER BY {group}"
        );
        let mut rows = bind_scope!(sqlx::query(&sums))
            .bind(from)
            .bind(to)
            .fetch_all(&self.reader)
            .await?;
        if let Breakdown::People { top, .. } = breakdown {
            // The busiest first (by name among equals), and only the first `top`.
            let mut keyed = Vec::with_capacity(rows.len());
            for row in rows {
                let requests: i64 = row.try_get("requests")?;
                let grouped: String = row.try_get("grouped")?;
                keyed.push((std::cmp::Reverse(requests), grouped, row));
            }
            keyed.sort_by(|a, b| (&a.0, &a.1).cmp(&(&b.0, &b.1)));
            keyed.truncate(top);
            rows = keyed.into_iter().map(|(_, _, row)| row).collect();
        }
        let ranked = format!(
            "SELECT l.latency_ms FROM request_logs l WHERE {range} AND {group} = ${group_at} \
             ORDER BY l.latency_ms LIMIT 1 OFFSET ${rank_at}"
        );
        let mut figures = Vec::with_capacity(rows.len());
        for row in rows {
            let grouped: String = row.try_get("grouped")?;
            let requests: i64 = row.try_get("requests")?;
            // The latency at a rank: the row that many places into the group's sorted latencies.
            let at = |rank: i64| {
                let (ranked, grouped) = (&ranked, grouped.clone());
                async move {
                    let value: Option<i64> = bind_scope!(sqlx::query_scalar(ranked))
                        .bind(from)
                        .bind(to)
                        .bind(grouped)
                        .bind(rank)
                        .fetch_optional(&self.reader)
                        .await?;
                    Ok::<i64, StoreError>(value.unwrap_or(0))
                }
            };
            let rank = |quantile: f64| ((requests as f64 * quantile).ceil() as i64 - 1).clamp(0, requests - 1);
            let figure = RequestFigures {
                p50_latency_ms: at(rank(0.5)).await?,
                p95_latency_ms: at(rank(0.95)).await?,
                requests,
                errors: sum(&row, "errors")?,
                prompt_tokens: sum(&row, "prompt_tokens")?,
                completion_tokens: sum(&row, "completion_tokens")?,
                cost_micros: sum(&row, "cost_micros")?,
                feedback_count: row.try_get("feedback_count")?,
                mean_score: row.try_get("mean_score")?,
            };
            figures.push((grouped, figure));
        }
        Ok(figures)
    }
}

/// How request figures are grouped.
#[derive(Clone, Copy, Debug)]
pub enum Breakdown<'a> {
    /// The variants of composite `model` of `gateway`.
    Variants { gateway: GatewayId, model: &'a str },
    /// The versions of the prompt named `prompt` (by its version number).
    PromptVersions { prompt: &'a str },
    /// The end users, or their groups, of one gateway or every one: the `top` busiest.
    People {
        gateway: Option<GatewayId>,
        by: PersonKind,
        top: usize,
    },
    /// One end user, of one gateway or every one.
    EndUser { gateway: Option<GatewayId>, user: &'a str },
}

/// A `SUM` column (cast to `BIGINT`: Postgres sums integers as `NUMERIC`); `NULL` is 0.
fn sum(row: &sqlx::any::AnyRow, column: &str) -> Result<i64, sqlx::Error> {
    Ok(row.try_get::<Option<i64>, _>(column)?.unwrap_or(0))
}
