//! The request-log writer: a bounded queue of finished records and the background thread that
//! stores it in batches (logs, usage events, counters), through the [journal](super::journal)
//! on disk while the database refuses.
//!
//! Invariant: no record is ever dropped. A batch the database refuses goes to the journal
//! (replayed, in order, when the database answers again; only if the disk refuses too is the
//! batch retried in place until stored); shutdown drains the queue before the process exits (R4).
//! Invariant: the writer runs on a thread of its own, with its own runtime; only when that
//! runtime cannot be built does it run on the request runtime (and says so in the log).

use super::journal::Journal;
use crate::store::{Finished, Store};
use std::{
    sync::{Arc, Mutex},
    time::{Duration, Instant},
};
use tokio::sync::{mpsc, oneshot, Notify};

/// Most records written in one transaction.
const BATCH: usize = 1024;
/// How long the writer lets records gather after the first one arrives: one transaction (and
/// one fsync) per interval instead of per request, at the cost of logs appearing this much later.
const LINGER: Duration = Duration::from_millis(50);

/// The queue and its writer.
pub struct LogWriter {
    queue: mpsc::Sender<Finished>,
    stop: Arc<Notify>,
    /// Resolves when the writer has written its last batch.
    done: Mutex<Option<oneshot::Receiver<()>>>,
}

impl LogWriter {
    /// Starts the writer with a queue of `capacity` records.
    ///
    /// The writer runs on a thread of its own, with its own single-threaded runtime: a batch
    /// is dozens of statements, each a round trip to sqlx's SQLite thread, and on the request
    /// runtime every round trip waited behind every request task — at c=200 on one core a
    /// batch took 500–900 ms, the queue filled and requests were refused.
    pub fn start(store: Store, capacity: usize, journal: std::path::PathBuf) -> LogWriter {
        let (queue, records) = mpsc::channel(capacity);
        let stop = Arc::new(Notify::new());
        let (finished, done) = oneshot::channel();
        let writing = write(store, Journal::open(journal), records, stop.clone());
        let runtime = tokio::runtime::Builder::new_current_thread().enable_all().build();
        match runtime {
            Ok(runtime) => {
                let spawned = std::thread::Builder::new()
                    .name("mgw-log-writer".into())
                    .spawn(move || {
                        runtime.block_on(writing);
                        let _ = finished.send(());
                    });
                if let Err(error) = spawned {
                    // Then nothing is written: the queue fills and requests are refused with
                    // 503, as when the database is down — never a lost record.
                    tracing::error!(error = %error, "cannot start the request-log writer thread");
                }
            }
            Err(error) => {
                tracing::warn!(error = %error, "request-log writer on the main runtime");
                tokio::spawn(async move {
                    writing.await;
                    let _ = finished.send(());
                });
            }
        }
        LogWriter {
            queue,
            stop,
            done: Mutex::new(Some(done)),
        }
    }

    /// Records waiting to be written.
    pub fn depth(&self) -> usize {
        self.queue.max_capacity() - self.queue.capacity()
    }

    /// Records the queue holds.
    pub fn capacity(&self) -> usize {
        self.queue.max_capacity()
    }

    /// A place in the queue for one record, or `None` when the queue is full.
    pub fn reserve(&self) -> Option<mpsc::OwnedPermit<Finished>> {
        self.queue.clone().try_reserve_owned().ok()
    }

    /// Writes what is queued, then stops the writer. Call once no request can still log.
    pub async fn shutdown(&self) {
        self.stop.notify_one();
        let done = self.done.lock().unwrap_or_else(|p| p.into_inner()).take();
        if let Some(done) = done {
            let _ = done.await;
        }
    }
}

/// How often the writer asks whether the database is back while the journal holds records.
const REPLAY_EVERY: Duration = Duration::from_secs(1);

async fn write(store: Store, mut journal: Journal, mut records: mpsc::Receiver<Finished>, stop: Arc<Notify>) {
    let mut batch = Vec::with_capacity(BATCH);
    let mut last_replay: Option<Instant> = None;
    loop {
        // At most once a second: while the database is away each try waits for its ping.
        if !journal.is_empty() && last_replay.is_none_or(|at| at.elapsed() >= REPLAY_EVERY) {
            last_replay = Some(Instant::now());
            replay(&store, &mut journal).await;
        }
        let mut draining = tokio::select! {
            biased;
            received = records.recv_many(&mut batch, BATCH) => received == 0,
            () = stop.notified() => true,
            () = tokio::time::sleep(REPLAY_EVERY), if !journal.is_empty() => continue,
        };
        if !draining && batch.len() < BATCH {
            draining = tokio::select! {
                () = tokio::time::sleep(LINGER) => false,
                () = stop.notified() => true,
            };
            while batch.len() < BATCH {
                match records.try_recv() {
                    Ok(record) => batch.push(record),
                    Err(_) => break,
                }
            }
        }
        if draining {
            while let Ok(record) = records.try_recv() {
                batch.push(record);
            }
        }
        for chunk in batch.chunks(BATCH) {
            put(&store, &mut journal, chunk).await;
        }
        batch.clear();
        if draining {
            if !journal.is_empty() {
                replay(&store, &mut journal).await;
            }
            return;
        }
    }
}

/// Stores one batch — or, while the database refuses (or the journal already holds older
/// records), appends it to the journal.
async fn put(store: &Store, journal: &mut Journal, batch: &[Finished]) {
    if journal.is_empty() {
        match store.store_finished(batch).await {
            Ok(()) => return,
            Err(error) => tracing::warn!(
                error = %error,
                records = batch.len(),
                "the database refuses request records: journaling them on disk until it is back"
            ),
        }
    }
    if let Err(error) = journal.append(batch) {
        tracing::error!(error = %error, "the request-log journal cannot be written: retrying the database in place");
        store_batch(store, batch).await;
    }
}

/// Stores the journal's records, oldest first, when the database answers; empties it once
/// every one is stored.
async fn replay(store: &Store, journal: &mut Journal) {
    if store.ping(Duration::from_millis(250)).await.is_err() {
        return;
    }
    let records = match journal.read() {
        Ok(records) => records,
        Err(error) => {
            tracing::error!(error = %error, "the request-log journal cannot be read");
            return;
        }
    };
    for chunk in records.chunks(BATCH) {
        if let Err(error) = store.store_finished(chunk).await {
            tracing::warn!(error = %error, "journaled request records not stored yet");
            return;
        }
    }
    match journal.clear() {
        Ok(()) => tracing::info!(
            records = records.len(),
            "journaled request records stored: the journal is empty"
        ),
        Err(error) => tracing::error!(error = %error, "the request-log journal cannot be emptied"),
    }
}

/// A batch taking longer than this is worth a warning: the queue fills meanwhile, and a
/// full queue refuses requests (503).
const SLOW_BATCH: Duration = Duration::from_millis(500);

/// Stores one batch, retrying until it is stored: records are never dropped.
async fn store_batch(store: &Store, batch: &[Finished]) {
    let mut wait = Duration::from_millis(100);
    loop {
        let started = Instant::now();
        match store.store_finished(batch).await {
            Ok(()) => {
                let took = started.elapsed();
                if took > SLOW_BATCH {
                    let ms = u64::try_from(took.as_millis()).unwrap_or(u64::MAX);
                    tracing::warn!(
                        latency_ms = ms,
                        records = batch.len(),
                        "request-log batch written slowly"
                    );
                }
                return;
            }
            Err(error) => {
                tracing::warn!(error = %error, records = batch.len(), "request logs not written yet; retrying");
                tokio::time::sleep(wait).await;
                wait = (wait * 2).min(Duration::from_secs(5));
            }
        }
    }
}
