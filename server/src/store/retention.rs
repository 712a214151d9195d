//! Retention: request logs (their attempts go with them) and usage events older than a cutoff,
//! deleted oldest first, a small batch per statement so the write lock is held briefly.
//!
//! Invariant: no statement scans a table. Request logs are found by id (ids grow with time,
//! so the oldest rows are the first ids), usage events by request id (which begins with its
//! creation time in hex, see `proxy::request_id`). The hourly aggregates stay.

use super::{Store, StoreError};
use sqlx::Row;

impl Store {
    /// Deletes at most `batch` of the oldest request logs, those created before `cutoff_ms`,
    /// with their attempts. Returns how many logs went.
    pub async fn delete_request_logs_before(&self, cutoff_ms: i64, batch: i64) -> Result<u64, StoreError> {
        let oldest = sqlx::query("SELECT id, created_at FROM request_logs ORDER BY id LIMIT $1")
            .bind(batch)
            .fetch_all(&self.reader)
            .await?;
        // The run of old rows at the front; a newer row (a long stream logged late) stops it.
        let mut last = None;
        for row in &oldest {
            if row.try_get::<i64, _>("created_at")? >= cutoff_ms {
                break;
            }
            last = Some(row.try_get::<i64, _>("id")?);
        }
        let Some(last) = last else {
            return Ok(0);
        };
        let deleted = sqlx::query("DELETE FROM request_logs WHERE id <= $1")
            .bind(last)
            .execute(&self.writer)
            .await?;
        // Feedback goes with the requests it was about.
        sqlx::query("DELETE FROM request_feedback WHERE created_at < $1")
            .bind(cutoff_ms)
            .execute(&self.writer)
            .await?;
        Ok(deleted.rows_affected())
    }

    /// Deletes at most `batch` of the usage events of requests made before `cutoff_ms`.
    /// Returns how many went.
    pub async fn delete_usage_events_before(&self, cutoff_ms: i64, batch: i64) -> Result<u64, StoreError> {
        let bound = format!("{:012x}", cutoff_ms.clamp(0, 0xffff_ffff_ffff));
        let deleted = sqlx::query(
            "DELETE FROM usage_events WHERE request_id IN \
             (SELECT request_id FROM usage_events WHERE request_id < $1 ORDER BY request_id LIMIT $2)",
        )
        .bind(bound)
        .bind(batch)
        .execute(&self.writer)
        .await?;
        Ok(deleted.rows_affected())
    }
}
