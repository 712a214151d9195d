//! Postgres' way of writing a batch: one JSON array per table, unpacked by
//! `jsonb_to_recordset` — one parameter per table instead of one per value.
//!
//! Invariant: the records are borrowed from the batch and serialised straight into the JSON
//! text; attempts find their log rows by request id, in the same transaction.

use super::{names, verdict_text, Finished, Tx, ATTEMPT_COLUMNS, EVENT_COLUMNS, LOG_COLUMNS};
use crate::store::StoreError;
use app::types::RequestLog;

/// One `request_logs` record as the Postgres writer sends it (borrowed, serialised straight
/// into the batch's JSON text).
#[derive(serde::Serialize)]
struct LogRecord<'a> {
    request_id: &'a str,
    created_at: i64,
    gateway_id: Option<i64>,
    key_id: Option<i64>,
    endpoint_id: Option<i64>,
    api: &'a str,
    operation: &'a str,
    model: Option<&'a str>,
    stream: i64,
    status: i64,
    latency_ms: i64,
    ttft_ms: Option<i64>,
    prompt_tokens: i64,
    completion_tokens: i64,
    cost_micros: i64,
    error_class: Option<&'a str>,
    request_body: Option<&'a str>,
    response_body: Option<&'a str>,
    variant: Option<&'a str>,
    verdict: Option<String>,
    prompt: Option<&'a str>,
    prompt_version: Option<i64>,
    prompt_parameters: Option<&'a str>,
    end_user: Option<&'a str>,
    end_user_group: Option<&'a str>,
    cache: Option<&'a str>,
    guardrails: Option<&'a str>,
}

/// One `request_attempts` record as the Postgres writer sends it, with its request's id.
#[derive(serde::Serialize)]
struct AttemptRecord<'a> {
    request_id: &'a str,
    attempt: i64,
    endpoint_id: Option<i64>,
    started_at: i64,
    status: Option<i64>,
    latency_ms: i64,
    ttft_ms: Option<i64>,
    prompt_tokens: i64,
    completion_tokens: i64,
    error_class: Option<&'a str>,
    variant: Option<&'a str>,
    cost_micros: i64,
}

/// One `usage_events` record as the Postgres writer sends it.
#[derive(serde::Serialize)]
struct EventRecord<'a> {
    request_id: &'a str,
    gateway_id: i64,
    key_id: Option<i64>,
    prompt_tokens: i64,
    completion_tokens: i64,
    cost_micros: i64,
    created_at: i64,
}

/// A batch as one JSON array per table, which Postgres unpacks with `jsonb_to_recordset`: one
/// parameter per table instead of one per value.
fn batch_json(logs: &[&RequestLog]) -> (String, String) {
    let rows: Vec<LogRecord<'_>> = logs
        .iter()
        .map(|log| LogRecord {
            request_id: &log.request_id,
            created_at: log.created_at,
            gateway_id: log.gateway_id.map(|id| id.0),
            key_id: log.key_id.map(|id| id.0),
            endpoint_id: log.endpoint_id.map(|id| id.0),
            api: &log.api,
            operation: &log.operation,
            model: log.model.as_deref(),
            stream: i64::from(log.stream),
            status: log.status,
            latency_ms: log.latency_ms,
            ttft_ms: log.ttft_ms,
            prompt_tokens: log.prompt_tokens,
            completion_tokens: log.completion_tokens,
            cost_micros: log.cost_micros,
            error_class: log.error_class.as_deref(),
            request_body: log.request_body.as_deref(),
            response_body: log.response_body.as_deref(),
            variant: log.variant.as_deref(),
            verdict: verdict_text(log),
            prompt: log.prompt.as_deref(),
            prompt_version: log.prompt_version,
            prompt_parameters: log.prompt_parameters.as_deref(),
            end_user: log.end_user.as_deref(),
            end_user_group: log.end_user_group.as_deref(),
            cache: log.cache.as_deref(),
            guardrails: log.guardrails.as_deref(),
        })
        .collect();
    let attempts: Vec<AttemptRecord<'_>> = logs
        .iter()
        .flat_map(|log| {
            log.attempts.iter().map(|a| AttemptRecord {
                request_id: &log.request_id,
                attempt: a.attempt,
                endpoint_id: a.endpoint_id.map(|id| id.0),
                started_at: a.started_at,
                status: a.status,
                latency_ms: a.latency_ms,
                ttft_ms: a.ttft_ms,
                prompt_tokens: a.prompt_tokens,
                completion_tokens: a.completion_tokens,
                error_class: a.error_class.as_deref(),
                variant: a.variant.as_deref(),
                cost_micros: a.cost_micros,
            })
        })
        .collect();
    // Serialising plain records into memory cannot fail.
    let text = |value: Result<String, serde_json::Error>| value.unwrap_or_else(|_| "[]".into());
    (
        text(serde_json::to_string(&rows)),
        text(serde_json::to_string(&attempts)),
    )
}

fn postgres_recordset(columns: &[(&str, &str)]) -> String {
    let types: Vec<String> = columns.iter().map(|(name, kind)| format!("{name} {kind}")).collect();
    format!(
        "SELECT {} FROM jsonb_to_recordset($1::jsonb) AS j({})",
        names(columns, "j."),
        types.join(", ")
    )
}

/// Postgres: one JSON parameter per table; attempts find their rows by request id.
pub(super) async fn insert_logs_postgres(tx: &mut Tx<'_>, logs: &[&RequestLog]) -> Result<(), StoreError> {
    let (rows, attempts) = batch_json(logs);
    let insert_logs = format!(
        "INSERT INTO request_logs ({}) {}",
        names(&LOG_COLUMNS, ""),
        postgres_recordset(&LOG_COLUMNS)
    );
    let mut attempt_columns = vec![("request_id", "text")];
    attempt_columns.extend(ATTEMPT_COLUMNS);
    let insert_attempts = format!(
        "INSERT INTO request_attempts (request_log_id, {}) SELECT l.id, {} FROM ({}) a \
         JOIN request_logs l ON l.request_id = a.request_id",
        names(&ATTEMPT_COLUMNS, ""),
        names(&ATTEMPT_COLUMNS, "a."),
        postgres_recordset(&attempt_columns)
    );
    sqlx::query(&insert_logs).bind(rows).execute(&mut **tx).await?;
    if logs.iter().any(|log| !log.attempts.is_empty()) {
        sqlx::query(&insert_attempts).bind(attempts).execute(&mut **tx).await?;
    }
    Ok(())
}

/// Postgres: the usage events as one JSON parameter.
pub(super) async fn insert_usage_events_postgres(tx: &mut Tx<'_>, charged: &[&Finished]) -> Result<(), StoreError> {
    let events: Vec<EventRecord<'_>> = charged
        .iter()
        .map(|finished| {
            let log = &finished.log;
            EventRecord {
                request_id: &log.request_id,
                gateway_id: log.gateway_id.map_or(0, |id| id.0),
                key_id: log.key_id.map(|id| id.0),
                prompt_tokens: log.prompt_tokens,
                completion_tokens: log.completion_tokens,
                cost_micros: log.cost_micros,
                created_at: log.created_at,
            }
        })
        .collect();
    // Serialising plain records into memory cannot fail.
    let events = serde_json::to_string(&events).unwrap_or_else(|_| "[]".into());
    let sql = format!(
        "INSERT INTO usage_events ({}) {}",
        names(&EVENT_COLUMNS, ""),
        postgres_recordset(&EVENT_COLUMNS)
    );
    sqlx::query(&sql).bind(events).execute(&mut **tx).await?;
    Ok(())
}
