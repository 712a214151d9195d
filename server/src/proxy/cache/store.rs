//! Where kept answers live: this process's memory (one budget for every gateway's, each entry
//! its gateway's TTL) and, when `[redis] url` is set, Redis, so that every replica answers from
//! what any of them kept.
//!
//! Invariant: Redis is a second chance, never a condition: an entry is looked for there only
//! when memory has none, one found there is kept in memory for what its TTL has left, and a
//! Redis that fails or is slow (the `[redis] timeout`) makes a miss, not an error.
//! Invariant: an answer kept by a request holding a lease on its key's misses ([`collapse`])
//! is written to Redis before that lease is let go.

use super::{
    collapse::{self, Leading, Lease},
    Key,
};
use crate::{config::RedisConfig, proxy::providers::Usage, store::now_ms};
use app::types::CacheSettings;
use axum::body::Bytes;
use moka::{sync::Cache, Expiry};
use redis::{aio::ConnectionManager, aio::ConnectionManagerConfig, AsyncCommands};
use std::{
    sync::Arc,
    time::{Duration, Instant},
};

/// A kept answer.
pub struct Entry {
    /// The answer, in OpenAI's shape.
    pub body: Bytes,
    /// The tokens it took when a provider answered it.
    pub usage: Usage,
    /// What that answer cost (millionths), so what each hit saves.
    pub cost_micros: i64,
    /// When it was kept, Unix milliseconds (by whichever replica kept it).
    kept_at_ms: i64,
    /// How long it is kept from then.
    ttl: Duration,
}

impl Entry {
    /// Whole seconds since it was kept (the `age` header).
    pub fn age_s(&self) -> u64 {
        u64::try_from((now_ms() - self.kept_at_ms) / 1000).unwrap_or(0)
    }

    /// What its TTL has left.
    fn left(&self) -> Duration {
        let age = Duration::from_millis(u64::try_from(now_ms() - self.kept_at_ms).unwrap_or(0));
        self.ttl.saturating_sub(age)
    }

    /// The entry as Redis holds it: when it was kept, its TTL, its usage, its cost, then its
    /// body.
    fn encode(&self) -> Vec<u8> {
        let ttl_ms = u64::try_from(self.ttl.as_millis()).unwrap_or(u64::MAX);
        let mut bytes = Vec::with_capacity(HEADER + self.body.len());
        bytes.extend_from_slice(&self.kept_at_ms.to_le_bytes());
        bytes.extend_from_slice(&ttl_ms.to_le_bytes());
        bytes.extend_from_slice(&self.usage.prompt_tokens.to_le_bytes());
        bytes.extend_from_slice(&self.usage.completion_tokens.to_le_bytes());
        bytes.extend_from_slice(&self.cost_micros.to_le_bytes());
        bytes.extend_from_slice(&self.body);
        bytes
    }

    /// An entry Redis held; `None` when it is not one, or its TTL is over.
    fn decode(bytes: &[u8]) -> Option<Entry> {
        let number = |at: usize| Some(u64::from_le_bytes(bytes.get(at..at + 8)?.try_into().ok()?));
        let entry = Entry {
            kept_at_ms: i64::try_from(number(0)?).ok()?,
            ttl: Duration::from_millis(number(8)?),
            usage: Usage {
                prompt_tokens: number(16)?,
                completion_tokens: number(24)?,
            },
            cost_micros: i64::try_from(number(32)?).ok()?,
            body: Bytes::copy_from_slice(bytes.get(HEADER..)?),
        };
        (!entry.left().is_zero()).then_some(entry)
    }
}

/// A provider's whole answer to keep: its body in OpenAI's shape, its tokens and its cost
/// (millionths).
pub struct Answer {
    pub body: Bytes,
    pub usage: Usage,
    pub cost_micros: i64,
}

/// The bytes before an encoded entry's body.
const HEADER: usize = 40;

/// Every gateway's kept answers.
pub struct ResponseCache {
    entries: Cache<Key, Arc<Entry>>,
    shared: Option<Shared>,
    /// The misses being answered now by a leader others may wait for, by key.
    pub(super) leading: Leading,
    /// A semantic cache's embeddings of the requests whose answers are kept (this process's).
    pub(super) semantic: super::semantic::Index,
}

/// The replicas' entries in Redis.
#[derive(Clone)]
pub(super) struct Shared {
    pub(super) connection: ConnectionManager,
    prefix: String,
}

impl Shared {
    /// A key's name in Redis: `cache2` for its entry (entries with their cost; an older
    /// replica's `cache` entries are not read), `cachelead` for the lease on its misses.
    pub(super) fn name(&self, kind: &str, key: &Key) -> String {
        let hex: String = key.iter().map(|byte| format!("{byte:02x}")).collect();
        format!("{}:{kind}:{hex}", self.prefix)
    }
}

/// Each entry lives what its TTL has left (all of it, unless Redis had it first).
struct OwnTtl;

impl Expiry<Key, Arc<Entry>> for OwnTtl {
    fn expire_after_create(&self, _: &Key, entry: &Arc<Entry>, _: Instant) -> Option<Duration> {
        Some(entry.left())
    }
}

/// What moka keeps for an entry besides its value: the key, its slot in the map, the entry's
/// bookkeeping (weight, timestamps), its nodes in the access and write orders and in the timer
/// wheel (per-entry TTLs). An estimate.
const MOKA_PER_ENTRY: usize = 320;

/// What an entry takes from memory, which the budget counts so that it bounds the process's
/// growth and not only the answers' bytes: its body and its `Arc<Entry>` as the allocator rounds
/// them (mimalloc's size classes: four per doubling above 64 bytes, so up to a quarter more than
/// asked), the body's class taken 1.3 times — the allocator's pages are never full of kept
/// answers, which are evicted in no order and freed on other threads than made them —, and
/// moka's own part. Measured by `bench/cache_memory.sh` (the process's growth over the same load
/// without a cache, per entry kept): 1.24 times the body's size class with 4 KiB and 16 KiB
/// answers alike.
fn footprint(entry: &Entry) -> usize {
    allocated(entry.body.len()) * 13 / 10 + allocated(std::mem::size_of::<Entry>() + 16) + MOKA_PER_ENTRY
}

/// The bytes an allocation of `bytes` takes: rounded up to the allocator's size class.
fn allocated(bytes: usize) -> usize {
    if bytes <= 64 {
        return bytes.next_multiple_of(8);
    }
    let top = usize::BITS - 1 - (bytes - 1).leading_zeros();
    bytes.next_multiple_of(1 << (top - 2))
}

impl ResponseCache {
    /// A cache whose entries weigh at most `max_bytes` together in memory, shared through
    /// Redis when `redis` has a URL (a semantic cache's embeddings a quarter of that more).
    pub fn new(max_bytes: u64, redis: &RedisConfig) -> Result<ResponseCache, redis::RedisError> {
        let shared = match &redis.url {
            None => None,
            Some(url) => {
                let manager = ConnectionManagerConfig::new()
                    .set_connection_timeout(Some(redis.timeout))
                    .set_response_timeout(Some(redis.timeout))
                    .set_number_of_retries(1)
                    .set_max_delay(Duration::from_millis(200));
                let client = redis::Client::open(url.expose())?;
                Some(Shared {
                    connection: ConnectionManager::new_lazy_with_config(client, manager)?,
                    prefix: redis.prefix.clone(),
                })
            }
        };
        Ok(ResponseCache {
            entries: Cache::builder()
                .max_capacity(max_bytes)
                .weigher(|_, entry: &Arc<Entry>| u32::try_from(footprint(entry)).unwrap_or(u32::MAX))
                .expire_after(OwnTtl)
                .build(),
            shared,
            leading: Leading::default(),
            // A quarter of the answers' budget on top of it: 1,536-float vectors take 6 KiB,
            // about what a short kept answer does.
            semantic: super::semantic::Index::new(usize::try_from(max_bytes / 4).unwrap_or(usize::MAX)),
        })
    }

    /// The answer kept under `key`, while its TTL lasts: from memory, else from Redis.
    pub async fn get(&self, key: &Key) -> Option<Arc<Entry>> {
        if let Some(entry) = self.entries.get(key) {
            return Some(entry);
        }
        let shared = self.shared.as_ref()?;
        let found: Result<Option<Vec<u8>>, _> = shared.connection.clone().get(shared.name("cache2", key)).await;
        match found {
            Ok(bytes) => self.remember(key, &bytes?),
            Err(error) => {
                tracing::debug!(%error, "the shared response cache could not be read: a miss");
                None
            }
        }
    }

    /// An entry another replica kept in Redis, kept in memory too for what its TTL has left.
    pub(super) fn remember(&self, key: &Key, bytes: &[u8]) -> Option<Arc<Entry>> {
        let entry = Arc::new(Entry::decode(bytes)?);
        self.entries.insert(*key, entry.clone());
        Some(entry)
    }

    /// Where replicas share entries, when `[redis] url` is set.
    pub(super) fn shared(&self) -> Option<&Shared> {
        self.shared.as_ref()
    }

    /// Keeps `entry` (kept for another request) under `key` too, in this process's memory, for
    /// what its TTL has left: a semantic hit's own repeat is then an exact one.
    pub(super) fn alias(&self, key: Key, entry: Arc<Entry>) {
        self.entries.insert(key, entry);
    }

    /// Keeps `body` (a whole answer in OpenAI's shape) under `key` for `settings`' TTL, unless
    /// it is larger than their entry size — in memory, and in Redis without waiting (then
    /// releasing `lease`, the lease its request held on the key's misses). Answers the entry
    /// kept.
    pub(super) fn keep(
        &self,
        key: Key,
        answer: Answer,
        settings: &CacheSettings,
        lease: Option<Lease>,
    ) -> Option<Arc<Entry>> {
        let Answer {
            body,
            usage,
            cost_micros,
        } = answer;
        if body.len() as u64 > u64::try_from(settings.max_entry_bytes).unwrap_or(0) {
            if let (Some(shared), Some(lease)) = (&self.shared, lease) {
                collapse::release(shared.clone(), lease);
            }
            return None;
        }
        let entry = Arc::new(Entry {
            // A copy of its own size: the answer's bytes may be a slice of a larger buffer, which
            // the entry would otherwise hold whole (and weigh as its slice).
            body: Bytes::copy_from_slice(&body),
            usage,
            cost_micros,
            kept_at_ms: now_ms(),
            ttl: Duration::from_secs(u64::try_from(settings.ttl_s).unwrap_or(1)),
        });
        self.entries.insert(key, entry.clone());
        if let Some(shared) = &self.shared {
            let (shared, name, bytes) = (shared.clone(), shared.name("cache2", &key), entry.encode());
            let ttl_ms = u64::try_from(entry.ttl.as_millis()).unwrap_or(u64::MAX);
            tokio::spawn(async move {
                let kept: Result<(), _> = shared.connection.clone().pset_ex(name, bytes, ttl_ms).await;
                if let Err(error) = kept {
                    tracing::debug!(%error, "an answer could not be kept in the shared response cache");
                }
                if let Some(lease) = lease {
                    collapse::release_now(shared, lease).await;
                }
            });
        }
        Some(entry)
    }

    /// The bytes the answers kept in memory weigh now (after pending evictions are applied).
    #[cfg(test)]
    fn weight(&self) -> u64 {
        self.entries.run_pending_tasks();
        self.entries.weighted_size()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn memory(max_bytes: u64) -> ResponseCache {
        ResponseCache::new(max_bytes, &RedisConfig::default()).unwrap()
    }

    fn answer(body: Bytes) -> Answer {
        Answer {
            body,
            usage: Usage::default(),
            cost_micros: 0,
        }
    }

    #[tokio::test]
    async fn an_answer_larger_than_the_entry_size_is_not_kept_and_entries_expire() {
        let cache = memory(1 << 20);
        let settings = CacheSettings {
            max_entry_bytes: 10,
            ttl_s: 1,
            ..CacheSettings::default()
        };
        let eleven = Bytes::from_static(b"eleven bytes");
        assert!(cache.keep([1; 32], answer(eleven), &settings, None).is_none());
        assert!(cache.get(&[1; 32]).await.is_none());
        let ten = Bytes::from_static(b"ten bytes!");
        assert!(cache.keep([2; 32], answer(ten), &settings, None).is_some());
        assert_eq!(cache.get(&[2; 32]).await.unwrap().body, "ten bytes!");
        tokio::time::sleep(Duration::from_millis(1_100)).await;
        assert!(cache.get(&[2; 32]).await.is_none(), "expired at its TTL");
    }

    #[test]
    fn an_entry_weighs_what_the_allocator_gives_it() {
        assert_eq!((allocated(1), allocated(64), allocated(65)), (8, 64, 80));
        assert_eq!((allocated(4096), allocated(4097), allocated(5121)), (4096, 5120, 6144));
        let entry = |len: usize| Entry {
            body: Bytes::from(vec![b'x'; len]),
            usage: Usage::default(),
            cost_micros: 0,
            kept_at_ms: 0,
            ttl: Duration::from_secs(1),
        };
        let weighed = footprint(&entry(4_400));
        assert!(
            (6_656 + MOKA_PER_ENTRY..6_656 + MOKA_PER_ENTRY + 160).contains(&weighed),
            "{weighed}"
        );
    }

    #[test]
    fn the_kept_answers_stay_within_the_budget() {
        let cache = memory(64 << 10);
        let settings = CacheSettings::default();
        for n in 0..1_000u32 {
            let mut key = [0; 32];
            key[..4].copy_from_slice(&n.to_le_bytes());
            cache.keep(key, answer(Bytes::from(vec![b'x'; 1_000])), &settings, None);
        }
        assert!(cache.weight() <= 64 << 10, "{}", cache.weight());
        assert!(cache.weight() > 32 << 10, "it holds what fits: {}", cache.weight());
    }

    #[test]
    fn an_entry_reads_back_as_redis_holds_it_until_its_ttl_is_over() {
        let entry = Entry {
            body: Bytes::from_static(b"{\"choices\":[]}"),
            usage: Usage {
                prompt_tokens: 12,
                completion_tokens: 3,
            },
            cost_micros: 42,
            kept_at_ms: now_ms() - 1_500,
            ttl: Duration::from_secs(10),
        };
        let read = Entry::decode(&entry.encode()).unwrap();
        assert_eq!((read.age_s(), read.usage, read.cost_micros), (1, entry.usage, 42));
        assert_eq!(read.body, entry.body);
        assert!(read.left() <= Duration::from_millis(8_500));
        let old = Entry {
            kept_at_ms: now_ms() - 11_000,
            ..entry
        };
        assert!(Entry::decode(&old.encode()).is_none(), "its TTL is over");
        assert!(Entry::decode(b"short").is_none());
    }
}
