//! Request logs and their attempts: written in batches by the proxy's log writer.
//!
//! Invariant: a batch is one transaction — every row of it is stored, or none.

use super::{Backend, Store, StoreError};
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

/// Columns of `request_logs` the writer fills, in order, with their Postgres types.
const LOG_COLUMNS: [(&str, &str); 18] = [
    ("request_id", "text"),
    ("created_at", "bigint"),
    ("gateway_id", "bigint"),
    ("key_id", "bigint"),
    ("endpoint_id", "bigint"),
    ("api", "text"),
    ("operation", "text"),
    ("model", "text"),
    ("stream", "bigint"),
    ("status", "bigint"),
    ("latency_ms", "bigint"),
    ("ttft_ms", "bigint"),
    ("prompt_tokens", "bigint"),
    ("completion_tokens", "bigint"),
    ("cost_micros", "bigint"),
    ("error_class", "text"),
    ("request_body", "text"),
    ("response_body", "text"),
];

/// Columns of `request_attempts` the writer fills (besides `request_log_id`, found through
/// the request id).
const ATTEMPT_COLUMNS: [(&str, &str); 9] = [
    ("attempt", "bigint"),
    ("endpoint_id", "bigint"),
    ("started_at", "bigint"),
    ("status", "bigint"),
    ("latency_ms", "bigint"),
    ("ttft_ms", "bigint"),
    ("prompt_tokens", "bigint"),
    ("completion_tokens", "bigint"),
    ("error_class", "text"),
];

/// A whole batch goes to the database as one JSON parameter per table, which the database
/// unpacks into rows (`json_each` on SQLite, `jsonb_to_recordset` on Postgres): binding
/// parameters one by one cost the writer more CPU than the proxy spent on the requests.
fn batch_json(logs: &[RequestLog]) -> (String, String) {
    let rows: Vec<serde_json::Value> = logs
        .iter()
        .map(|log| {
            serde_json::json!({
                "request_id": log.request_id, "created_at": log.created_at,
                "gateway_id": log.gateway_id.map(|id| id.0), "key_id": log.key_id.map(|id| id.0),
                "endpoint_id": log.endpoint_id.map(|id| id.0), "api": log.api, "operation": log.operation,
                "model": log.model, "stream": i64::from(log.stream), "status": log.status,
                "latency_ms": log.latency_ms, "ttft_ms": log.ttft_ms, "prompt_tokens": log.prompt_tokens,
                "completion_tokens": log.completion_tokens, "cost_micros": log.cost_micros,
                "error_class": log.error_class, "request_body": log.request_body,
                "response_body": log.response_body,
            })
        })
        .collect();
    let attempts: Vec<serde_json::Value> = logs
        .iter()
        .flat_map(|log| {
            log.attempts.iter().map(|a| {
                serde_json::json!({
                    "request_id": log.request_id, "attempt": a.attempt, "endpoint_id": a.endpoint_id.map(|id| id.0),
                    "started_at": a.started_at, "status": a.status, "latency_ms": a.latency_ms, "ttft_ms": a.ttft_ms,
                    "prompt_tokens": a.prompt_tokens, "completion_tokens": a.completion_tokens,
                    "error_class": a.error_class,
                })
            })
        })
        .collect();
    (
        serde_json::Value::from(rows).to_string(),
        serde_json::Value::from(attempts).to_string(),
    )
}

/// `SELECT <columns> FROM <the JSON array $1>` for the backend, each column named as its key.
fn unpack(backend: Backend, columns: &[(&str, &str)]) -> String {
    match backend {
        Backend::Sqlite => {
            // Each record's text is taken from `json_each` once (materialised): read in every
            // column straight from `json_each`, SQLite re-encodes it for each one.
            let fields: Vec<String> = columns
                .iter()
                .map(|(name, _)| format!("j.record ->> '{name}' AS {name}"))
                .collect();
            format!(
                "WITH j AS MATERIALIZED (SELECT value AS record FROM json_each($1)) SELECT {} FROM j",
                fields.join(", ")
            )
        }
        Backend::Postgres => {
            let fields: Vec<String> = columns.iter().map(|(name, _)| format!("j.{name}")).collect();
            let types: Vec<String> = columns.iter().map(|(name, kind)| format!("{name} {kind}")).collect();
            format!(
                "SELECT {} FROM jsonb_to_recordset($1::jsonb) AS j({})",
                fields.join(", "),
                types.join(", ")
            )
        }
    }
}

fn names(columns: &[(&str, &str)], prefix: &str) -> String {
    columns
        .iter()
        .map(|(name, _)| format!("{prefix}{name}"))
        .collect::<Vec<_>>()
        .join(", ")
}

impl Store {
    /// Stores a batch of request logs with their attempts: two statements, one transaction.
    pub async fn insert_request_logs(&self, logs: &[RequestLog]) -> Result<(), StoreError> {
        let (rows, attempts) = batch_json(logs);
        let insert_logs = format!(
            "INSERT INTO request_logs ({}) {}",
            names(&LOG_COLUMNS, ""),
            unpack(self.backend, &LOG_COLUMNS)
        );
        let mut attempt_columns = vec![("request_id", "text")];
        attempt_columns.extend(ATTEMPT_COLUMNS);
        let insert_attempts = format!(
            "INSERT INTO request_attempts (request_log_id, {}) SELECT l.id, {} FROM ({}) a \
             JOIN request_logs l ON l.request_id = a.request_id",
            names(&ATTEMPT_COLUMNS, ""),
            names(&ATTEMPT_COLUMNS, "a."),
            unpack(self.backend, &attempt_columns)
        );
        let mut tx = self.writer.begin().await?;
        sqlx::query(&insert_logs).bind(rows).execute(&mut *tx).await?;
        if logs.iter().any(|log| !log.attempts.is_empty()) {
            sqlx::query(&insert_attempts).bind(attempts).execute(&mut *tx).await?;
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
