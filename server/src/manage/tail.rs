//! Following the request log as it grows, for live views: GraphQL's subscription and the
//! console's live tail. Each look reads the database from the last log seen, so a follower
//! sees every replica's requests, none twice.
//!
//! Invariant: on Postgres a log can become visible after one with a larger id (ids are taken
//! at insert, rows seen at commit), so each look goes back [`TRAILING_IDS`] ids and skips
//! what was handed out; SQLite's one writer commits in id order, so it does not.
//! Invariant: logs stored before the tail was opened are never handed out — unless it resumes
//! after a log a follower saw (its `Last-Event-ID`): then the ones with a larger id are, at
//! most [`MOST_RESUMED`] ids back (on Postgres, one committed late with a smaller id while the
//! follower was away is missed).

use super::{LogFilter, Manage, ManageError};
use app::types::RequestLog;
use std::collections::BTreeSet;

/// Most logs read in one look.
const BATCH: i64 = 200;
/// Most batches one look reads (the rest waits for the next look).
const MOST_READS: usize = 20;
/// On Postgres, how far below the newest id handed out each look starts again.
const TRAILING_IDS: i64 = 2_048;
/// Most ids a resumed tail goes back (a follower away longer misses the older logs).
const MOST_RESUMED: i64 = 1_000;

/// One follower's place in the log.
pub struct LogTail {
    manage: Manage,
    filter: LogFilter,
    /// Ids up to this one were either handed out or passed for good.
    floor: i64,
    /// Ids above `floor` already handed out.
    seen: BTreeSet<i64>,
    /// How far below the newest id handed out looks start.
    trailing: i64,
}

impl Manage {
    /// A tail of the logs matching `filter` stored from now on.
    pub async fn tail_logs(&self, filter: LogFilter) -> Result<LogTail, ManageError> {
        self.resume_logs(filter, None).await
    }

    /// A tail of the logs matching `filter` stored after log `after` (a follower's last, when
    /// it comes back: up to [`MOST_RESUMED`] ids back), else from now on.
    pub async fn resume_logs(&self, filter: LogFilter, after: Option<i64>) -> Result<LogTail, ManageError> {
        let start = self.store.last_request_log_id().await?;
        let floor = after.map_or(start, |after| after.clamp(start.saturating_sub(MOST_RESUMED), start));
        Ok(LogTail {
            manage: self.clone(),
            filter,
            // Logs already stored (and any still committing below the newest) are not sent.
            floor,
            seen: BTreeSet::new(),
            trailing: if self.logs_appear_in_id_order() {
                0
            } else {
                TRAILING_IDS
            },
        })
    }
}

impl LogTail {
    /// The matching logs stored since the last look (at most [`MOST_READS`] batches), oldest
    /// first.
    pub async fn look(&mut self) -> Result<Vec<RequestLog>, ManageError> {
        Ok(self.look_ids().await?.into_iter().map(|(_, log)| log).collect())
    }

    /// As [`LogTail::look`], each log with its id.
    pub async fn look_ids(&mut self) -> Result<Vec<(i64, RequestLog)>, ManageError> {
        let newest = self.seen.last().copied().unwrap_or(self.floor);
        let mut from = newest.saturating_sub(self.trailing).max(self.floor);
        let mut fresh = Vec::new();
        // Reads go on past a full batch: the trailing window can hold more than a batch of
        // logs already handed out, and a look must get past them to the new ones.
        for _ in 0..MOST_READS {
            let rows = self.manage.store.request_logs_after(from, &self.filter, BATCH).await?;
            let full = i64::try_from(rows.len()).unwrap_or(i64::MAX) >= BATCH;
            from = rows.last().map_or(from, |(row_id, _)| *row_id);
            fresh.extend((rows.into_iter()).filter(|(row_id, _)| self.seen.insert(*row_id)));
            if !full {
                break;
            }
        }
        // Forget what can no longer come back.
        let newest = self.seen.last().copied().unwrap_or(self.floor);
        self.floor = self.floor.max(newest.saturating_sub(self.trailing));
        self.seen = self.seen.split_off(&self.floor.saturating_add(1));
        Ok(fresh)
    }
}
