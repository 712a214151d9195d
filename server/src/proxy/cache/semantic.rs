//! The semantic cache (issue #24): a request to a `semantic` cache that is not an exact hit is
//! answered with the kept answer of a request whose last user message means nearly the same —
//! its embedding at least the settings' similarity (cosine) to this one's — when everything
//! else about the two is the same: their context, the key made without that message's text
//! ([`super::key::context`]).
//!
//! The text is embedded by the settings' embedding model through the request's own gateway (its
//! endpoints, failover and deadline); the call is one of the request's attempts, named `cache`,
//! priced on the attempt; its tokens are the gateway's own cost, counted by no limit. The index
//! is this process's, in memory: each kept answer's vector under its context, until the entry's
//! TTL ends or the index's budget pushes the oldest out; compared one by one (a context holds
//! the requests that differ in their last message only).
//!
//! Invariant: a semantic hit is an answer kept for a request with the same context — gateway,
//! operation, model, variant, prompt version, every other field and message — whose last user
//! message's embedding is at least the similarity asked for.
//! Invariant: an embedding call that fails never fails the request: it goes on as a miss.

use super::Key;
use crate::proxy::{
    composite::CACHE_EMBEDDING,
    failover::{Routed, Served},
    plan::Tier,
    providers::Operation,
    registry::Snapshot,
    usage::Recorder,
    wire::{estimate_tokens, Inbound},
    Proxy,
};
use serde_json::{json, Map};
use std::{
    collections::HashMap,
    sync::{Arc, PoisonError, RwLock},
    time::{Duration, Instant},
};

/// A request's part in the semantic cache: what is compared, and how closely.
pub struct Probe {
    /// Its key without its last user message's text.
    pub context: Key,
    /// That text, to embed.
    pub text: String,
    /// The embedding model's endpoints on the gateway.
    pub embedder: Tier,
    /// The least similarity (cosine) a kept request must have to be its answer.
    pub similarity: f64,
    /// The text's embedding, once made: indexed with its answer when kept.
    pub embedded: Option<Embedded>,
}

/// A text's embedding (unit length), with the model that made it: only vectors of the same
/// model are compared (a name on the gateway may reach several).
#[derive(Clone)]
pub struct Embedded {
    pub vector: Arc<[f32]>,
    pub model: Arc<str>,
}

/// The most vectors one context holds (the oldest go first): a lookup compares them all.
const MAX_PER_CONTEXT: usize = 1_024;

/// The most kept requests a lookup offers, most similar first (the first whose answer is
/// still kept is the hit).
const MOST_CANDIDATES: usize = 4;

/// Kept answers' embeddings by context, within a budget of bytes.
pub struct Index {
    inner: RwLock<Inner>,
    budget: usize,
}

#[derive(Default)]
struct Inner {
    by_context: HashMap<Key, Vec<Item>>,
    bytes: usize,
}

struct Item {
    key: Key,
    embedded: Embedded,
    kept_at: Instant,
    expires: Instant,
}

impl Item {
    /// What it takes from memory, roughly: its vector and its place in the list.
    fn weight(&self) -> usize {
        self.embedded.vector.len() * size_of::<f32>() + size_of::<Item>() + 16
    }
}

impl Index {
    /// An index whose vectors weigh at most `budget` bytes together.
    pub fn new(budget: usize) -> Index {
        Index {
            inner: RwLock::new(Inner::default()),
            budget,
        }
    }

    /// The kept requests under `context` at least `at_least` similar to `asked` (by the same
    /// model), most similar first, with their similarity ([`MOST_CANDIDATES`] at most).
    pub fn nearest(&self, context: &Key, asked: &Embedded, at_least: f64) -> Vec<(Key, f64)> {
        let inner = self.inner.read().unwrap_or_else(PoisonError::into_inner);
        let now = Instant::now();
        let items = inner.by_context.get(context).map_or(&[][..], Vec::as_slice);
        let mut found: Vec<(Key, f64)> = (items.iter())
            .filter(|item| item.expires > now && item.embedded.model == asked.model)
            .filter(|item| item.embedded.vector.len() == asked.vector.len())
            .map(|item| (item.key, cosine(&item.embedded.vector, &asked.vector)))
            .filter(|(_, similarity)| *similarity >= at_least)
            .collect();
        found.sort_unstable_by(|a, b| b.1.total_cmp(&a.1));
        found.truncate(MOST_CANDIDATES);
        found
    }

    /// Indexes the answer kept under `key` by its request's embedding, for `ttl`; the expired,
    /// then the oldest, make room for it (the oldest of its context when that is full).
    pub fn insert(&self, context: Key, key: Key, embedded: Embedded, ttl: Duration) {
        let now = Instant::now();
        let item = Item {
            key,
            embedded,
            kept_at: now,
            expires: now + ttl,
        };
        if item.weight() > self.budget {
            return;
        }
        let mut inner = self.inner.write().unwrap_or_else(PoisonError::into_inner);
        inner.remove(|context_of, item| *context_of == context && item.key == key);
        if inner
            .by_context
            .get(&context)
            .is_some_and(|items| items.len() >= MAX_PER_CONTEXT)
        {
            // Kept in the order they came: the first is the oldest.
            let oldest = inner.by_context[&context][0].key;
            inner.remove(|context_of, item| *context_of == context && item.key == oldest);
        }
        inner.bytes += item.weight();
        inner.by_context.entry(context).or_default().push(item);
        if inner.bytes > self.budget {
            inner.remove(|_, item| item.expires <= now);
        }
        while inner.bytes > self.budget {
            let Some(oldest) = inner.oldest() else { break };
            inner.remove(|_, item| item.kept_at == oldest.0 && item.key == oldest.1);
        }
    }

    /// Forgets the vector of the answer kept under `key` (its entry is gone).
    pub fn forget(&self, context: &Key, key: &Key) {
        let mut inner = self.inner.write().unwrap_or_else(PoisonError::into_inner);
        inner.remove(|context_of, item| context_of == context && item.key == *key);
    }

    /// How many vectors it holds, and their weight.
    #[cfg(test)]
    fn size(&self) -> (usize, usize) {
        let inner = self.inner.read().unwrap_or_else(PoisonError::into_inner);
        (inner.by_context.values().map(Vec::len).sum(), inner.bytes)
    }
}

impl Inner {
    /// Removes the items `which` picks, and the contexts left empty.
    fn remove(&mut self, which: impl Fn(&Key, &Item) -> bool) {
        let mut freed = 0;
        self.by_context.retain(|context, items| {
            items.retain(|item| {
                let gone = which(context, item);
                if gone {
                    freed += item.weight();
                }
                !gone
            });
            !items.is_empty()
        });
        self.bytes -= freed;
    }

    /// When the oldest item was kept, and its key.
    fn oldest(&self) -> Option<(Instant, Key)> {
        (self.by_context.values().flatten())
            .map(|item| (item.kept_at, item.key))
            .min_by_key(|(kept_at, _)| *kept_at)
    }
}

/// Two unit vectors' cosine similarity.
fn cosine(a: &[f32], b: &[f32]) -> f64 {
    f64::from(a.iter().zip(b).map(|(x, y)| x * y).sum::<f32>())
}

/// A vector scaled to unit length (`None`: empty, all zeros, or not finite).
fn unit(vector: Vec<f32>) -> Option<Arc<[f32]>> {
    let norm = vector.iter().map(|x| x * x).sum::<f32>().sqrt();
    (norm.is_finite() && norm > 0.0).then(|| vector.iter().map(|x| x / norm).collect())
}

/// The longest a request waits for its text's embedding (its own deadline if sooner): the
/// provider call that may follow needs the rest.
const EMBEDDING_WAIT: Duration = Duration::from_secs(5);

/// The probe's text embedded by its model through the request's gateway, as a unit vector;
/// `None` (logged) when the model routes nowhere or the call fails or takes longer than
/// [`EMBEDDING_WAIT`]. The call is recorded as an attempt of the request named `cache`.
pub async fn embed(
    proxy: &Arc<Proxy>,
    snapshot: &Snapshot,
    probe: &Probe,
    routed: &Routed<'_>,
    recorder: &mut Recorder,
) -> Option<Embedded> {
    let model = probe
        .embedder
        .upstreams
        .first()
        .map(|upstream| upstream.endpoint.model.clone());
    let Some(model) = model else {
        tracing::info!(
            request_id = routed.request_id,
            "semantic cache: the embedding model routes nowhere on this gateway; exact repeats only"
        );
        return None;
    };
    let mut body = Map::new();
    body.insert("model".into(), json!(model));
    body.insert("input".into(), json!(probe.text));
    let asked = Inbound {
        operation: Operation::Embeddings,
        body,
        model: Some(model),
        stream: false,
        wants_usage: false,
    };
    let call = Routed {
        request_id: routed.request_id,
        gateway: routed.gateway,
        tiers: std::slice::from_ref(&probe.embedder),
        inbound: &asked,
        estimated_tokens: estimate_tokens(probe.text.chars().count()),
        deadline: routed.deadline.min(Instant::now() + EMBEDDING_WAIT),
        stamp: routed.stamp.clone(),
    };
    let mut attempts = recorder.member_call(CACHE_EMBEDDING);
    let outcome = proxy.serve(call, &mut attempts).await;
    let mut attempts = attempts.closed();
    let vector = match outcome {
        Ok(Served::Json { upstream, answer }) => {
            let json = answer.body.json();
            let cost = (answer.usage.zip(snapshot.price(&upstream.endpoint.model)))
                .map_or(0, |(usage, price)| price.cost_micros(usage.prompt_tokens, 0));
            if let Some(last) = attempts.iter_mut().rev().find(|attempt| attempt.status == Some(200)) {
                last.cost_micros = cost;
            }
            let numbers = json["data"][0]["embedding"].as_array().map(|numbers| {
                numbers
                    .iter()
                    .map(|x| x.as_f64().map(|x| x as f32))
                    .collect::<Option<Vec<f32>>>()
            });
            let model: Arc<str> = upstream.endpoint.model.as_str().into();
            let vector = numbers.flatten().and_then(unit).ok_or("its answer held no embedding");
            vector.map(|vector| Embedded { vector, model })
        }
        Ok(Served::Stream(_)) => Err("it answered with a stream"),
        Err(_) => Err("the call failed"),
    };
    recorder.member_attempts(CACHE_EMBEDDING, attempts);
    match vector {
        Ok(vector) => Some(vector),
        Err(why) => {
            tracing::info!(
                request_id = routed.request_id,
                why,
                "semantic cache: no embedding; exact repeats only"
            );
            None
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn by(model: &str, values: &[f32]) -> Embedded {
        Embedded {
            vector: unit(values.to_vec()).unwrap(),
            model: model.into(),
        }
    }

    fn vector(values: &[f32]) -> Embedded {
        by("e", values)
    }

    const HOUR: Duration = Duration::from_secs(3600);

    #[test]
    fn the_nearest_kept_requests_of_the_same_context_and_model_are_found_at_the_similarity_asked() {
        let index = Index::new(1 << 20);
        index.insert([1; 32], [10; 32], vector(&[1.0, 0.0, 0.0]), HOUR);
        index.insert([1; 32], [11; 32], vector(&[0.8, 0.6, 0.0]), HOUR);
        index.insert([1; 32], [12; 32], by("other", &[0.9, 0.1, 0.0]), HOUR);
        index.insert([2; 32], [20; 32], vector(&[0.9, 0.1, 0.0]), HOUR);
        let asked = vector(&[0.9, 0.1, 0.0]);
        let found = index.nearest(&[1; 32], &asked, 0.8);
        let keys: Vec<Key> = found.iter().map(|(key, _)| *key).collect();
        assert_eq!(
            keys,
            [[10; 32], [11; 32]],
            "most similar first; another model's not compared"
        );
        assert!((0.99..1.0).contains(&found[0].1), "{found:?}");
        assert_eq!(index.nearest(&[1; 32], &asked, 0.999), [], "none close enough");
        assert_eq!(index.nearest(&[3; 32], &asked, 0.1), [], "another context");
        assert_eq!(index.nearest(&[1; 32], &vector(&[1.0, 0.0]), 0.1), [], "another length");
        index.forget(&[1; 32], &[10; 32]);
        assert_eq!(index.nearest(&[1; 32], &asked, 0.8)[0].0, [11; 32]);
    }

    #[test]
    fn the_index_stays_within_its_budget_dropping_the_expired_then_the_oldest() {
        let one = Item {
            key: [0; 32],
            embedded: vector(&[1.0; 8]),
            kept_at: Instant::now(),
            expires: Instant::now(),
        }
        .weight();
        let index = Index::new(one * 3);
        index.insert([1; 32], [1; 32], vector(&[1.0; 8]), Duration::ZERO);
        index.insert([1; 32], [2; 32], vector(&[1.0; 8]), HOUR);
        index.insert([2; 32], [3; 32], vector(&[1.0; 8]), HOUR);
        assert_eq!(index.size(), (3, one * 3));
        index.insert([2; 32], [4; 32], vector(&[1.0; 8]), HOUR);
        assert_eq!(index.size(), (3, one * 3), "the expired one went");
        index.insert([3; 32], [5; 32], vector(&[1.0; 8]), HOUR);
        assert_eq!(index.size(), (3, one * 3));
        assert_eq!(index.nearest(&[1; 32], &vector(&[1.0; 8]), 0.5), [], "the oldest went");
        index.insert([3; 32], [5; 32], vector(&[1.0; 8]), HOUR);
        assert_eq!(index.size(), (3, one * 3), "a key kept again replaces its vector");
        assert!(unit(vec![0.0, 0.0]).is_none());
    }

    #[test]
    fn a_full_context_drops_its_oldest() {
        let index = Index::new(1 << 30);
        for n in 0..=MAX_PER_CONTEXT {
            let mut key = [0; 32];
            key[..8].copy_from_slice(&(n as u64).to_le_bytes());
            index.insert([1; 32], key, vector(&[1.0, n as f32]), HOUR);
        }
        assert_eq!(index.size().0, MAX_PER_CONTEXT);
        let first = vector(&[1.0, 0.0]);
        assert!(
            index.nearest(&[1; 32], &first, 0.999_999).is_empty(),
            "the first one went"
        );
    }
}
