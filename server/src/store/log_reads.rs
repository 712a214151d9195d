//! Reading request logs back: filtered pages, newest first; one log by its request id; the
//! logs written after a given one (for live subscriptions).
//!
//! Invariant: pages are keyed by the log's row id (ids grow with time), never by offset, so a
//! page costs the same however deep it is.

use super::{logs, Store, StoreError};
use app::types::{EndpointId, GatewayId, KeyId, RequestLog};
use sqlx::Row;

/// Which request logs to read. Every field narrows; `None` means any.
#[derive(Clone, Debug, Default)]
pub struct LogFilter {
    /// Arrived at or after, Unix milliseconds.
    pub from: Option<i64>,
    /// Arrived before, Unix milliseconds.
    pub to: Option<i64>,
    pub gateway: Option<GatewayId>,
    pub key: Option<KeyId>,
    /// Answered by this endpoint, or tried it.
    pub endpoint: Option<EndpointId>,
    /// The model the client asked for.
    pub model: Option<String>,
    /// The status the client got.
    pub status: Option<i64>,
    /// Only requests answered with a status of 400 or more.
    pub errors_only: bool,
    /// One request, by its `x-request-id`.
    pub request_id: Option<String>,
}

enum Value {
    Int(i64),
    Text(String),
}

impl LogFilter {
    /// The `WHERE` conditions (after `id < $1`) and their values, numbered from `$2`.
    fn conditions(&self) -> (String, Vec<Value>) {
        let mut sql = String::new();
        let mut values = Vec::new();
        let mut add = |condition: &str, value: Value| {
            values.push(value);
            sql.push_str(&format!(" AND {condition} ${}", values.len() + 1));
        };
        if let Some(from) = self.from {
            add("created_at >=", Value::Int(from));
        }
        if let Some(to) = self.to {
            add("created_at <", Value::Int(to));
        }
        if let Some(gateway) = self.gateway {
            add("gateway_id =", Value::Int(gateway.0));
        }
        if let Some(key) = self.key {
            add("key_id =", Value::Int(key.0));
        }
        if let Some(model) = &self.model {
            add("model =", Value::Text(model.clone()));
        }
        if let Some(status) = self.status {
            add("status =", Value::Int(status));
        }
        if let Some(request_id) = &self.request_id {
            add("request_id =", Value::Text(request_id.clone()));
        }
        if let Some(endpoint) = self.endpoint {
            // Answered by it, or tried it (an attempt's lookup by the attempts' primary key).
            values.push(Value::Int(endpoint.0));
            let n = values.len() + 1;
            sql.push_str(&format!(
                " AND (endpoint_id = ${n} OR EXISTS (SELECT 1 FROM request_attempts a \
                 WHERE a.request_log_id = request_logs.id AND a.endpoint_id = ${n}))"
            ));
        }
        if self.errors_only {
            sql.push_str(" AND status >= 400");
        }
        (sql, values)
    }

    /// `sql` (whose `$1` is already used, and which ends before `LIMIT`) with these conditions
    /// and their values bound, then `limit`.
    fn query<'q>(&self, sql: &'q mut String, first: i64, tail: &str, limit: i64) -> super::AnyQuery<'q> {
        let (conditions, values) = self.conditions();
        sql.push_str(&conditions);
        sql.push_str(&format!("{tail} LIMIT ${}", values.len() + 2));
        let mut query = sqlx::query(sql.as_str()).bind(first);
        for value in values {
            query = match value {
                Value::Int(n) => query.bind(n),
                Value::Text(text) => query.bind(text),
            };
        }
        query.bind(limit)
    }
}

impl Store {
    /// Up to `limit` logs matching `filter` older than the log with row id `before` (all when
    /// `None`), newest first, each with its row id and attempts.
    pub async fn request_logs_page(
        &self,
        filter: &LogFilter,
        before: Option<i64>,
        limit: i64,
    ) -> Result<Vec<(i64, RequestLog)>, StoreError> {
        let mut sql = "SELECT * FROM request_logs WHERE id < $1".to_string();
        let query = filter.query(&mut sql, before.unwrap_or(i64::MAX), " ORDER BY id DESC", limit);
        let rows = query.fetch_all(&self.reader).await?;
        self.with_attempts(&rows).await
    }

    /// Logs matching `filter` written after the one with row id `after`, oldest first, at
    /// most `limit`.
    pub async fn request_logs_after(
        &self,
        after: i64,
        filter: &LogFilter,
        limit: i64,
    ) -> Result<Vec<(i64, RequestLog)>, StoreError> {
        let mut sql = "SELECT * FROM request_logs WHERE id > $1".to_string();
        let rows = filter
            .query(&mut sql, after, " ORDER BY id", limit)
            .fetch_all(&self.reader)
            .await?;
        self.with_attempts(&rows).await
    }

    /// The largest request-log row id so far (0 with none).
    pub async fn last_request_log_id(&self) -> Result<i64, StoreError> {
        Ok(sqlx::query_scalar::<_, Option<i64>>("SELECT MAX(id) FROM request_logs")
            .fetch_one(&self.reader)
            .await?
            .unwrap_or(0))
    }

    /// The log of the request with this id, with its row id and attempts.
    pub async fn request_log(&self, request_id: &str) -> Result<Option<(i64, RequestLog)>, StoreError> {
        let rows = sqlx::query("SELECT * FROM request_logs WHERE request_id = $1")
            .bind(request_id)
            .fetch_all(&self.reader)
            .await?;
        Ok(self.with_attempts(&rows).await?.into_iter().next())
    }

    /// The logs of `rows` with their attempts, read in one statement.
    async fn with_attempts(&self, rows: &[sqlx::any::AnyRow]) -> Result<Vec<(i64, RequestLog)>, StoreError> {
        let mut logs = Vec::with_capacity(rows.len());
        for row in rows {
            logs.push((row.try_get::<i64, _>("id")?, logs::log(row)?));
        }
        if logs.is_empty() {
            return Ok(logs);
        }
        let placeholders: Vec<String> = (1..=logs.len()).map(|n| format!("${n}")).collect();
        let sql = format!(
            "SELECT * FROM request_attempts WHERE request_log_id IN ({}) ORDER BY request_log_id, attempt",
            placeholders.join(", ")
        );
        let mut query = sqlx::query(&sql);
        for (id, _) in &logs {
            query = query.bind(*id);
        }
        let mut attempts = std::collections::HashMap::<i64, Vec<_>>::new();
        for row in query.fetch_all(&self.reader).await? {
            attempts
                .entry(row.try_get("request_log_id")?)
                .or_default()
                .push(logs::attempt(&row)?);
        }
        for (id, log) in &mut logs {
            log.attempts = attempts.remove(id).unwrap_or_default();
        }
        Ok(logs)
    }
}
