//! Request logs and their attempts: written in batches by the proxy's log writer.
//!
//! Invariant: a batch is one transaction — every row of it is stored, or none.

use super::{Store, StoreError};
use app::types::{EndpointId, GatewayId, KeyId, RequestAttempt, RequestLog};
use sqlx::{any::AnyRow, Row};

fn log(row: &AnyRow) -> Result<RequestLog, sqlx::Error> {
    Ok(RequestLog {
        request_id: row.try_get("request_id")?,
        created_at: row.try_get("created_at")?,
        gateway_id: row.try_get::<Option<i64>, _>("gateway_id")?.map(GatewayId),
        key_id: row.try_get::<Option<i64>, _>("key_id")?.map(KeyId),
        endpoint_id: row.try_get::<Option<i64>, _>("endpoint_id")?.map(EndpointId),
        api: row.try_get("api")?,
        operation: row.try_get("operation")?,
        model: row.try_get("model")?,
        stream: super::flag(row, "stream")?,
        status: row.try_get("status")?,
        latency_ms: row.try_get("latency_ms")?,
        ttft_ms: row.try_get("ttft_ms")?,
        prompt_tokens: row.try_get("prompt_tokens")?,
        completion_tokens: row.try_get("completion_tokens")?,
        cost_micros: row.try_get("cost_micros")?,
        error_class: row.try_get("error_class")?,
        request_body: row.try_get("request_body")?,
        response_body: row.try_get("response_body")?,
        attempts: Vec::new(),
    })
}

fn attempt(row: &AnyRow) -> Result<RequestAttempt, sqlx::Error> {
    Ok(RequestAttempt {
        attempt: row.try_get("attempt")?,
        endpoint_id: row.try_get::<Option<i64>, _>("endpoint_id")?.map(EndpointId),
        started_at: row.try_get("started_at")?,
        status: row.try_get("status")?,
        latency_ms: row.try_get("latency_ms")?,
        ttft_ms: row.try_get("ttft_ms")?,
        prompt_tokens: row.try_get("prompt_tokens")?,
        completion_tokens: row.try_get("completion_tokens")?,
        error_class: row.try_get("error_class")?,
    })
}

/// Rows per multi-row statement (18 and 10 parameters a row stay far below both backends'
/// parameter limits).
const LOGS_PER_STATEMENT: usize = 64;
const ATTEMPTS_PER_STATEMENT: usize = 100;

/// `($1, …, $n), ($n+1, …), …` for `rows` rows of `columns` values.
fn placeholders(rows: usize, columns: usize) -> String {
    (0..rows)
        .map(|row| {
            let values: Vec<String> = (1..=columns).map(|c| format!("${}", row * columns + c)).collect();
            format!("({})", values.join(", "))
        })
        .collect::<Vec<_>>()
        .join(", ")
}

impl Store {
    /// Stores a batch of request logs with their attempts, in one transaction, a few multi-row
    /// statements per batch (one row per statement costs the writer more than the proxy does).
    pub async fn insert_request_logs(&self, logs: &[RequestLog]) -> Result<(), StoreError> {
        let mut tx = self.writer.begin().await?;
        for chunk in logs.chunks(LOGS_PER_STATEMENT) {
            let sql = format!(
                "INSERT INTO request_logs (request_id, created_at, gateway_id, key_id, endpoint_id, api, operation, \
                 model, stream, status, latency_ms, ttft_ms, prompt_tokens, completion_tokens, cost_micros, \
                 error_class, request_body, response_body) VALUES {}",
                placeholders(chunk.len(), 18)
            );
            let mut query = sqlx::query(&sql);
            for log in chunk {
                query = query
                    .bind(&log.request_id)
                    .bind(log.created_at)
                    .bind(log.gateway_id.map(|id| id.0))
                    .bind(log.key_id.map(|id| id.0))
                    .bind(log.endpoint_id.map(|id| id.0))
                    .bind(&log.api)
                    .bind(&log.operation)
                    .bind(&log.model)
                    .bind(i64::from(log.stream))
                    .bind(log.status)
                    .bind(log.latency_ms)
                    .bind(log.ttft_ms)
                    .bind(log.prompt_tokens)
                    .bind(log.completion_tokens)
                    .bind(log.cost_micros)
                    .bind(&log.error_class)
                    .bind(&log.request_body)
                    .bind(&log.response_body);
            }
            query.execute(&mut *tx).await?;
        }
        let attempts: Vec<(&str, &RequestAttempt)> = logs
            .iter()
            .flat_map(|log| log.attempts.iter().map(|a| (log.request_id.as_str(), a)))
            .collect();
        for chunk in attempts.chunks(ATTEMPTS_PER_STATEMENT) {
            // Each attempt finds its request's id through the unique request id; `VALUES`
            // columns are `column1…` on both backends.
            let sql = format!(
                "INSERT INTO request_attempts (request_log_id, attempt, endpoint_id, started_at, status, latency_ms, \
                 ttft_ms, prompt_tokens, completion_tokens, error_class) \
                 SELECT l.id, v.column2, v.column3, v.column4, v.column5, v.column6, v.column7, v.column8, \
                 v.column9, v.column10 FROM (VALUES {}) AS v JOIN request_logs l ON l.request_id = v.column1",
                placeholders(chunk.len(), 10)
            );
            let mut query = sqlx::query(&sql);
            for (request_id, attempt) in chunk {
                query = query
                    .bind(*request_id)
                    .bind(attempt.attempt)
                    .bind(attempt.endpoint_id.map(|id| id.0))
                    .bind(attempt.started_at)
                    .bind(attempt.status)
                    .bind(attempt.latency_ms)
                    .bind(attempt.ttft_ms)
                    .bind(attempt.prompt_tokens)
                    .bind(attempt.completion_tokens)
                    .bind(&attempt.error_class);
            }
            query.execute(&mut *tx).await?;
        }
        tx.commit().await?;
        Ok(())
    }

    /// The most recent request logs, newest first, with their attempts.
    pub async fn recent_request_logs(&self, limit: i64) -> Result<Vec<RequestLog>, StoreError> {
        let rows = sqlx::query("SELECT * FROM request_logs ORDER BY id DESC LIMIT $1")
            .bind(limit)
            .fetch_all(&self.reader)
            .await?;
        let mut logs = Vec::with_capacity(rows.len());
        for row in &rows {
            let mut entry = log(row)?;
            let id: i64 = row.try_get("id")?;
            entry.attempts = sqlx::query("SELECT * FROM request_attempts WHERE request_log_id = $1 ORDER BY attempt")
                .bind(id)
                .fetch_all(&self.reader)
                .await?
                .iter()
                .map(attempt)
                .collect::<Result<_, _>>()?;
            logs.push(entry);
        }
        Ok(logs)
    }
}
