//! Collapsing (issue #24): of concurrent identical misses, one goes to a provider — the
//! leader — and the others wait for the answer it keeps, then are answered from it. In one
//! process the leader tells its answer through a `watch` channel; with `[redis] url`, the
//! leader of every replica's misses is the one holding a lease in Redis, and the other
//! replicas' leaders look for its answer there while the lease stands.
//!
//! Invariant: only a request whose answer will be kept leads (not one with `no-store`, nor one
//! moderation could not check); a leader that ends without keeping an answer (an error, a cut
//! stream, too large, a cancelled request) lets its waiters go on: its channel closes and its
//! lease is released (or lapses after [`LEASE`] at most), and the key is led again — one of
//! them leads, the others wait for it.
//! Invariant: a lease is only ever released by the leader that holds it, after the answer it
//! kept is written to Redis, so a waiter never sees neither the lease nor the answer while
//! the leader still has one to give.
//! Does not: stream the leader's answer to its waiters as it comes; a streamed waiter gets
//! the whole answer, told as a stream, once the leader's stream has ended — so a leader whose
//! own client reads slowly holds its waiters back (until their deadline at most).

use super::{
    store::{ResponseCache, Shared},
    Entry, Key,
};
use std::{
    collections::HashMap,
    sync::{Arc, Mutex},
    time::{Duration, Instant},
};
use tokio::sync::watch;

/// The misses being answered now by a leader others in this process may wait for, by key.
pub(super) type Leading = Arc<Mutex<HashMap<Key, watch::Receiver<Option<Arc<Entry>>>>>>;

/// The longest a lease in Redis stands: a replica that stops while leading holds the other
/// replicas' waiters this long at most (then one of them leads).
const LEASE: Duration = Duration::from_secs(30);

/// How often a replica's waiting leader looks in Redis for the answer.
const POLL: Duration = Duration::from_millis(20);

/// The request a key's concurrent misses wait for; when it ends without telling them an
/// answer, they go on by themselves.
pub(super) struct Leader {
    key: Key,
    told: watch::Sender<Option<Arc<Entry>>>,
    leading: Leading,
    /// Its lease over every replica's misses of the key, while it holds one.
    lease: Mutex<Option<Lease>>,
    /// The cache's Redis, where the lease is released.
    shared: Option<Shared>,
}

/// A leader's lease in Redis: the key's name there and the leader's own token.
pub(super) struct Lease {
    name: String,
    token: String,
}

/// Whether a request leads its key's misses, or waits for the one that does.
pub(super) enum Turn {
    Lead(Leader),
    Wait(watch::Receiver<Option<Arc<Entry>>>),
}

impl Leader {
    /// Whether a request with `key` is being answered in this process now, others waiting.
    pub(super) fn is_leading(cache: &ResponseCache, key: &Key) -> bool {
        cache.leading.lock().is_ok_and(|leading| leading.contains_key(key))
    }

    /// The channel to wait on for this process's leader of `key`'s misses, or — when there is
    /// none and this request `may_lead` (its answer will be kept) — its lead. `None`: it goes
    /// on alone.
    pub(super) fn take_turn(cache: &ResponseCache, key: Key, may_lead: bool) -> Option<Turn> {
        let mut leading = cache.leading.lock().ok()?;
        if let Some(told) = leading.get(&key) {
            return Some(Turn::Wait(told.clone()));
        }
        if !may_lead {
            return None;
        }
        let (told, waiting) = watch::channel(None);
        leading.insert(key, waiting);
        Some(Turn::Lead(Leader {
            key,
            told,
            leading: cache.leading.clone(),
            lease: Mutex::new(None),
            shared: cache.shared().cloned(),
        }))
    }

    /// With Redis: takes the lease over every replica's misses of the key, or — while another
    /// replica holds it — waits for its answer (until `until`) and tells it to this process's
    /// waiters; a lease that ends without an answer is tried for again. `None`: this request
    /// goes to a provider.
    pub(super) async fn across_replicas(&self, cache: &ResponseCache, until: Instant) -> Option<Arc<Entry>> {
        let shared = cache.shared()?;
        let name = shared.name("cachelead", &self.key);
        let token = format!("{:032x}", rand::random::<u128>());
        while Instant::now() < until {
            let hold = until.saturating_duration_since(Instant::now()).min(LEASE);
            // Held before it is asked for: a request cancelled while Redis sets it still
            // releases it when it drops (the release checks the token).
            *self.lease.lock().ok()? = Some(Lease {
                name: name.clone(),
                token: token.clone(),
            });
            let taken: Result<Option<String>, _> = redis::cmd("SET")
                .arg(&name)
                .arg(&token)
                .arg("NX")
                .arg("PX")
                .arg(u64::try_from(hold.as_millis()).unwrap_or(u64::MAX).max(1))
                .query_async(&mut shared.connection.clone())
                .await;
            match taken {
                // Another replica may have kept its answer (and let its lease go) just before.
                Ok(Some(_)) => return self.found(cache.get(&self.key).await),
                Ok(None) => {
                    self.take_lease();
                    match wait_in_redis(cache, shared, &self.key, &name, until).await {
                        Polled::Kept(entry) => return self.found(Some(entry)),
                        Polled::Released => continue,
                        Polled::Over => return None,
                    }
                }
                // Redis may have set it all the same (a timeout): still released when it ends.
                Err(error) => {
                    tracing::debug!(%error, "no lease on a miss in Redis: this replica's request goes on alone");
                    return None;
                }
            }
        }
        None
    }

    /// An answer found after all: told to the waiters, and the lease (no longer needed) let go.
    fn found(&self, entry: Option<Arc<Entry>>) -> Option<Arc<Entry>> {
        let entry = entry?;
        self.tell(entry.clone());
        if let (Some(lease), Some(shared)) = (self.take_lease(), self.shared.clone()) {
            release(shared, lease);
        }
        Some(entry)
    }

    /// Tells the waiters the answer kept.
    pub(super) fn tell(&self, entry: Arc<Entry>) {
        self.told.send_replace(Some(entry));
    }

    /// The lease, for the cache to release once the answer is in Redis.
    pub(super) fn take_lease(&self) -> Option<Lease> {
        self.lease.lock().ok()?.take()
    }
}

impl Drop for Leader {
    fn drop(&mut self) {
        if let Ok(mut leading) = self.leading.lock() {
            leading.remove(&self.key);
        }
        if let (Some(lease), Some(shared)) = (self.take_lease(), self.shared.take()) {
            release(shared, lease);
        }
    }
}

/// Deletes the lease if it is still this leader's (a lease that lapsed may be another's now),
/// without waiting.
pub(super) fn release(shared: Shared, lease: Lease) {
    let Ok(runtime) = tokio::runtime::Handle::try_current() else {
        return;
    };
    runtime.spawn(release_now(shared, lease));
}

/// [`release`], awaited.
pub(super) async fn release_now(shared: Shared, lease: Lease) {
    let script = redis::Script::new(
        "if redis.call('GET', KEYS[1]) == ARGV[1] then return redis.call('DEL', KEYS[1]) else return 0 end",
    );
    let released: Result<i64, _> = (script.key(&lease.name).arg(&lease.token))
        .invoke_async(&mut shared.connection.clone())
        .await;
    if let Err(error) = released {
        tracing::debug!(%error, "a lease on a miss could not be released: it lapses by itself");
    }
}

/// What looking in Redis for another replica's answer came to.
enum Polled {
    Kept(Arc<Entry>),
    /// Its lease ended without an answer kept.
    Released,
    /// `until` passed, or Redis failed.
    Over,
}

/// Looks in Redis every [`POLL`] for the answer another replica's leader keeps, while its lease
/// stands and until `until`. The lease is read before the entry: a leader writes its answer,
/// then lets its lease go, so a lease seen gone means the entry read after it is there if it
/// ever will be.
async fn wait_in_redis(cache: &ResponseCache, shared: &Shared, key: &Key, lease: &str, until: Instant) -> Polled {
    let entry_name = shared.name("cache2", key);
    loop {
        if Instant::now() + POLL >= until {
            return Polled::Over;
        }
        tokio::time::sleep(POLL).await;
        let found: Result<(Option<String>, Option<Vec<u8>>), _> = redis::pipe()
            .get(lease)
            .get(&entry_name)
            .query_async(&mut shared.connection.clone())
            .await;
        match found {
            Ok((_, Some(bytes))) => return cache.remember(key, &bytes).map_or(Polled::Over, Polled::Kept),
            Ok((Some(_), None)) => continue,
            Ok((None, None)) => return Polled::Released,
            Err(_) => return Polled::Over,
        }
    }
}

/// What waiting for this process's leader came to.
pub(super) enum Waited {
    Told(Arc<Entry>),
    /// The leader ended without an answer kept: the key may be led again.
    Ended,
    /// `until` passed.
    Over,
}

/// The answer a leader of this process tells, or why there is none.
pub(super) async fn wait(mut waiting: watch::Receiver<Option<Arc<Entry>>>, until: Instant) -> Waited {
    loop {
        if let Some(entry) = waiting.borrow_and_update().clone() {
            return Waited::Told(entry);
        }
        match tokio::time::timeout_at(until.into(), waiting.changed()).await {
            Ok(Ok(())) => continue,
            Ok(Err(_)) => return Waited::Ended,
            Err(_) => return Waited::Over,
        }
    }
}
