//! Request logs and their attempts: written in batches by the proxy's log writer.
//!
//! Invariant: a batch is one transaction — every row of it is stored, or none.
//! Invariant: the writer's cost is paid on the gateway's own cores (SQLite runs in-process),
//! so a batch is bound straight into prepared statements: no per-row round trip, no JSON.

use super::{AnyQuery, Backend, LimitScope, Store, StoreError};
use app::types::{EndpointId, GatewayId, KeyId, RequestAttempt, RequestLog};
use sqlx::{any::AnyRow, Row};

pub(super) fn log(row: &AnyRow) -> Result<RequestLog, sqlx::Error> {
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
        variant: row.try_get("variant")?,
        verdict: (row.try_get::<Option<String>, _>("verdict")?.as_deref())
            .and_then(|text| serde_json::from_str(text).ok()),
        prompt: row.try_get("prompt")?,
        prompt_version: row.try_get("prompt_version")?,
        prompt_parameters: row.try_get("prompt_parameters")?,
        end_user: row.try_get("end_user")?,
        end_user_group: row.try_get("end_user_group")?,
        cache: row.try_get("cache")?,
        guardrails: row.try_get("guardrails")?,
        attempts: Vec::new(),
    })
}

pub(super) fn attempt(row: &AnyRow) -> Result<RequestAttempt, sqlx::Error> {
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
        variant: row.try_get("variant")?,
        cost_micros: row.try_get("cost_micros")?,
    })
}

/// Columns of `request_logs` the writer fills, in order, with their Postgres types.
const LOG_COLUMNS: [(&str, &str); 27] = [
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
    ("variant", "text"),
    ("verdict", "text"),
    ("prompt", "text"),
    ("prompt_version", "bigint"),
    ("prompt_parameters", "text"),
    ("end_user", "text"),
    ("end_user_group", "text"),
    ("cache", "text"),
    ("guardrails", "text"),
];

/// Columns of `request_attempts` the writer fills (besides `request_log_id`).
const ATTEMPT_COLUMNS: [(&str, &str); 11] = [
    ("attempt", "bigint"),
    ("endpoint_id", "bigint"),
    ("started_at", "bigint"),
    ("status", "bigint"),
    ("latency_ms", "bigint"),
    ("ttft_ms", "bigint"),
    ("prompt_tokens", "bigint"),
    ("completion_tokens", "bigint"),
    ("error_class", "text"),
    ("variant", "text"),
    ("cost_micros", "bigint"),
];

/// Columns of `usage_events`, in order, with their Postgres types.
const EVENT_COLUMNS: [(&str, &str); 7] = [
    ("request_id", "text"),
    ("gateway_id", "bigint"),
    ("key_id", "bigint"),
    ("prompt_tokens", "bigint"),
    ("completion_tokens", "bigint"),
    ("cost_micros", "bigint"),
    ("created_at", "bigint"),
];

fn names(columns: &[(&str, &str)], prefix: &str) -> String {
    columns
        .iter()
        .map(|(name, _)| format!("{prefix}{name}"))
        .collect::<Vec<_>>()
        .join(", ")
}

/// Rows per `INSERT` on SQLite. A batch is cut into chunks of these sizes, largest first, so
/// each table has at most this many distinct statements, each prepared once per connection.
const SQLITE_CHUNKS: [usize; 9] = [256, 128, 64, 32, 16, 8, 4, 2, 1];

/// `INSERT INTO <table> (columns) VALUES (?, …), …` for `rows` rows.
fn values_insert(table: &str, columns: &[&str], rows: usize) -> String {
    let row = format!("({})", vec!["?"; columns.len()].join(", "));
    format!(
        "INSERT INTO {table} ({}) VALUES {}",
        columns.join(", "),
        vec![row; rows].join(", ")
    )
}

/// The SQLite statements of one chunk size.
struct SqliteStatements {
    logs: String,
    attempts: String,
    events: String,
}

/// The SQLite statements for every chunk size.
fn sqlite_statements() -> &'static [SqliteStatements; SQLITE_CHUNKS.len()] {
    static STATEMENTS: std::sync::OnceLock<[SqliteStatements; SQLITE_CHUNKS.len()]> = std::sync::OnceLock::new();
    let with = |first: &'static str, columns: &[(&'static str, &str)]| {
        std::iter::once(first)
            .chain(columns.iter().map(|(name, _)| *name))
            .collect::<Vec<_>>()
    };
    STATEMENTS.get_or_init(|| {
        SQLITE_CHUNKS.map(|rows| SqliteStatements {
            logs: values_insert("request_logs", &with("id", &LOG_COLUMNS), rows),
            attempts: values_insert("request_attempts", &with("request_log_id", &ATTEMPT_COLUMNS), rows),
            events: values_insert(
                "usage_events",
                &EVENT_COLUMNS.iter().map(|(name, _)| *name).collect::<Vec<_>>(),
                rows,
            ),
        })
    })
}

/// Cuts `items` into chunks of [`SQLITE_CHUNKS`] sizes, each with its statement index.
fn sqlite_chunks<T>(mut items: &[T]) -> Vec<(usize, &[T])> {
    let mut chunks = Vec::new();
    for (index, &size) in SQLITE_CHUNKS.iter().enumerate() {
        while items.len() >= size {
            let (chunk, rest) = items.split_at(size);
            chunks.push((index, chunk));
            items = rest;
        }
    }
    chunks
}

fn bind_log<'q>(query: AnyQuery<'q>, id: i64, log: &'q RequestLog) -> AnyQuery<'q> {
    query
        .bind(id)
        .bind(log.request_id.as_str())
        .bind(log.created_at)
        .bind(log.gateway_id.map(|id| id.0))
        .bind(log.key_id.map(|id| id.0))
        .bind(log.endpoint_id.map(|id| id.0))
        .bind(log.api.as_str())
        .bind(log.operation.as_str())
        .bind(log.model.as_deref())
        .bind(i64::from(log.stream))
        .bind(log.status)
        .bind(log.latency_ms)
        .bind(log.ttft_ms)
        .bind(log.prompt_tokens)
        .bind(log.completion_tokens)
        .bind(log.cost_micros)
        .bind(log.error_class.as_deref())
        .bind(log.request_body.as_deref())
        .bind(log.response_body.as_deref())
        .bind(log.variant.as_deref())
        .bind(verdict_text(log))
        .bind(log.prompt.as_deref())
        .bind(log.prompt_version)
        .bind(log.prompt_parameters.as_deref())
        .bind(log.end_user.as_deref())
        .bind(log.end_user_group.as_deref())
        .bind(log.cache.as_deref())
        .bind(log.guardrails.as_deref())
}

/// A log's verdict as its column holds it (JSON); `None` for a request no judge chose for.
fn verdict_text(log: &RequestLog) -> Option<String> {
    (log.verdict.as_ref()).and_then(|verdict| serde_json::to_string(verdict).ok())
}

fn bind_attempt<'q>(query: AnyQuery<'q>, log_id: i64, attempt: &'q RequestAttempt) -> AnyQuery<'q> {
    query
        .bind(log_id)
        .bind(attempt.attempt)
        .bind(attempt.endpoint_id.map(|id| id.0))
        .bind(attempt.started_at)
        .bind(attempt.status)
        .bind(attempt.latency_ms)
        .bind(attempt.ttft_ms)
        .bind(attempt.prompt_tokens)
        .bind(attempt.completion_tokens)
        .bind(attempt.error_class.as_deref())
        .bind(attempt.variant.as_deref())
        .bind(attempt.cost_micros)
}

/// A finished request as the writer stores it: its log (stored only when its gateway logs
/// metadata), in the hourly history of its `scopes` — its key, the key's ancestors and its
/// gateway — and, when it was admitted, its usage charged to them in the windows holding
/// `log.created_at`.
#[derive(Debug, Default, serde::Serialize, serde::Deserialize)]
pub struct Finished {
    pub log: RequestLog,
    pub store_log: bool,
    /// The limit scopes it was checked against (none for the console's request to an endpoint
    /// on its own). A request refused by one of their limits is in their history too: a 429 is
    /// a request and an error.
    pub scopes: Vec<LimitScope>,
    /// Whether it passed admission: its usage counts against the limits (`usage_counters`,
    /// `usage_events`).
    pub admitted: bool,
    /// What answering it from the response cache saved (millionths; 0 unless a hit).
    #[serde(default)]
    pub saved_micros: i64,
}

pub(super) type Tx<'c> = sqlx::Transaction<'c, sqlx::Any>;

mod postgres;

use postgres::{insert_logs_postgres, insert_usage_events_postgres};

impl Store {
    /// Stores a batch of request logs with their attempts in one transaction.
    pub async fn insert_request_logs(&self, logs: &[RequestLog]) -> Result<(), StoreError> {
        let logs: Vec<&RequestLog> = logs.iter().collect();
        let mut tx = self.writer.begin().await?;
        self.insert_logs(&mut tx, &logs).await?;
        tx.commit().await?;
        Ok(())
    }

    /// Stores a batch of finished requests in one transaction: the logs to keep, the usage
    /// events, and their usage added to the counters and the hourly history.
    ///
    /// A retried batch counts once: every record is handed to the writer once, so a batch can
    /// only meet its own records again when an earlier attempt at it was committed though it
    /// reported an error (a connection lost during `COMMIT`). Its inserts then hit the unique
    /// request ids, and the batch is stored again without the records already stored.
    pub async fn store_finished(&self, batch: &[Finished]) -> Result<(), StoreError> {
        let batch: Vec<&Finished> = batch.iter().collect();
        match self.write_finished(&batch, false).await {
            Err(StoreError::Conflict(_)) => self.write_finished(&batch, true).await,
            written => written,
        }
    }

    async fn write_finished(&self, batch: &[&Finished], skip_stored: bool) -> Result<(), StoreError> {
        let mut tx = self.writer.begin().await?;
        let stored = if skip_stored {
            stored_request_ids(&mut tx, self.backend, batch).await?
        } else {
            std::collections::HashSet::new()
        };
        let batch: Vec<&Finished> = batch
            .iter()
            .copied()
            .filter(|f| !stored.contains(f.log.request_id.as_str()))
            .collect();
        let logs: Vec<&RequestLog> = batch.iter().filter(|f| f.store_log).map(|f| &f.log).collect();
        self.insert_logs(&mut tx, &logs).await?;
        let counted: Vec<&Finished> = (batch.iter().copied())
            .filter(|f| f.admitted || !f.scopes.is_empty())
            .collect();
        let charged: Vec<&Finished> = (batch.into_iter())
            .filter(|f| f.admitted && !f.scopes.is_empty())
            .collect();
        if !charged.is_empty() {
            match self.backend {
                Backend::Sqlite => insert_usage_events_sqlite(&mut tx, &charged).await?,
                Backend::Postgres => insert_usage_events_postgres(&mut tx, &charged).await?,
            }
        }
        if !counted.is_empty() {
            super::usage::add_usage(&mut tx, &counted).await?;
        }
        tx.commit().await?;
        Ok(())
    }

    async fn insert_logs(&self, tx: &mut Tx<'_>, logs: &[&RequestLog]) -> Result<(), StoreError> {
        if logs.is_empty() {
            return Ok(());
        }
        match self.backend {
            Backend::Sqlite => insert_logs_sqlite(tx, logs).await,
            Backend::Postgres => insert_logs_postgres(tx, logs).await,
        }
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

/// SQLite: multi-row `INSERT … VALUES` statements with bound values; the log rows get
/// their ids here (after the largest ever used), so attempts need no lookup.
async fn insert_logs_sqlite(tx: &mut Tx<'_>, logs: &[&RequestLog]) -> Result<(), StoreError> {
    let statements = sqlite_statements();
    // AUTOINCREMENT's promise kept: never an id used before, even by a deleted row.
    let last: i64 = sqlx::query_scalar(
        "SELECT MAX(COALESCE((SELECT MAX(id) FROM request_logs), 0), \
         COALESCE((SELECT seq FROM sqlite_sequence WHERE name = 'request_logs'), 0))",
    )
    .fetch_one(&mut **tx)
    .await?;
    let mut first_id = last + 1;
    for (index, chunk) in sqlite_chunks(logs) {
        let mut query = sqlx::query(&statements[index].logs);
        for (offset, log) in (first_id..).zip(chunk) {
            query = bind_log(query, offset, log);
        }
        query.execute(&mut **tx).await?;
        first_id += i64::try_from(chunk.len()).unwrap_or(i64::MAX);
    }
    let attempts: Vec<(i64, &RequestAttempt)> = (last + 1..)
        .zip(logs)
        .flat_map(|(id, log)| log.attempts.iter().map(move |attempt| (id, attempt)))
        .collect();
    for (index, chunk) in sqlite_chunks(&attempts) {
        let mut query = sqlx::query(&statements[index].attempts);
        for (log_id, attempt) in chunk {
            query = bind_attempt(query, *log_id, attempt);
        }
        query.execute(&mut **tx).await?;
    }
    Ok(())
}

/// The request ids of `batch` already stored, as a log or as a usage event.
async fn stored_request_ids(
    tx: &mut Tx<'_>,
    backend: Backend,
    batch: &[&Finished],
) -> Result<std::collections::HashSet<String>, StoreError> {
    let mut stored = std::collections::HashSet::new();
    for (_, chunk) in sqlite_chunks(batch) {
        let marks: Vec<String> = (1..=chunk.len())
            .map(|n| match backend {
                Backend::Sqlite => "?".to_string(),
                Backend::Postgres => format!("${n}"),
            })
            .collect();
        for table in ["request_logs", "usage_events"] {
            let sql = format!(
                "SELECT request_id FROM {table} WHERE request_id IN ({})",
                marks.join(", ")
            );
            let mut query = sqlx::query_scalar::<_, String>(&sql);
            for finished in chunk {
                query = query.bind(finished.log.request_id.as_str());
            }
            stored.extend(query.fetch_all(&mut **tx).await?);
        }
    }
    Ok(stored)
}

fn bind_event<'q>(query: AnyQuery<'q>, log: &'q RequestLog) -> AnyQuery<'q> {
    query
        .bind(log.request_id.as_str())
        .bind(log.gateway_id.map_or(0, |id| id.0))
        .bind(log.key_id.map(|id| id.0))
        .bind(log.prompt_tokens)
        .bind(log.completion_tokens)
        .bind(log.cost_micros)
        .bind(log.created_at)
}

/// SQLite: the usage events, in multi-row `INSERT … VALUES` statements. Nothing is returned:
/// SQLite runs on its own thread, and every returned row would be a hand-over to it and back.
async fn insert_usage_events_sqlite(tx: &mut Tx<'_>, charged: &[&Finished]) -> Result<(), StoreError> {
    let statements = sqlite_statements();
    for (index, chunk) in sqlite_chunks(charged) {
        let mut query = sqlx::query(&statements[index].events);
        for finished in chunk {
            query = bind_event(query, &finished.log);
        }
        query.execute(&mut **tx).await?;
    }
    Ok(())
}
