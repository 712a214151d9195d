//! Step 5's end (issue #24): the response cache. After admission, a request to a gateway that
//! caches answers is looked up by its key; a hit is answered from the cache in the client's
//! shape (JSON, or the answer told as a stream) without calling a provider; a miss goes on,
//! and its whole answer is kept for the next request like it.
//!
//! Invariant: the key holds everything that shapes the answer — the gateway, the operation, the
//! model the client asked for (after its prompt), the composite's variant, the prompt's
//! version, and the body normalised: keys in order, a default written out the same as left out,
//! and `user`, `stream` and `stream_options` left out (they change who asks and how the answer
//! travels, not what it is).
//! Invariant: only a whole answer with status 200 is kept — never an error, a refusal or a
//! stream — and only up to the gateway's entry size; the answers kept together stay within
//! `proxy.cache_max_bytes`.
//! Invariant: a hit counts as a request under the limits but uses no tokens or budget.
//! Invariant: with collapsing on, of concurrent identical JSON misses one goes to the provider
//! (the leader) and the others wait for its answer, then are answered as hits; if the leader's
//! answer is not kept (an error, too large, the client's `no-store`), each goes on by itself.
//! Does not: share entries between replicas (memory only), or keep streamed answers (a stream
//! asked for is served from an entry a JSON answer left).

use super::{
    error::set_rate_headers,
    limits::RateHeaders,
    messages,
    prompt::PromptUse,
    providers::{Operation, Usage},
    stream::{self, ClientShape},
    usage::Recorder,
    wire::Inbound,
};
use app::types::{CacheSettings, Gateway, GatewayId};
use axum::{
    body::{Body, Bytes},
    http::{header, HeaderMap, HeaderValue},
    response::Response,
};
use moka::{sync::Cache, Expiry};
use serde_json::{Map, Value};
use sha2::{Digest, Sha256};
use std::{
    collections::HashMap,
    sync::{Arc, Mutex},
    time::{Duration, Instant},
};
use tokio::sync::watch;

/// The header that says what the cache did (`hit`, `miss`, `bypass`), and by which a client
/// skips it (`bypass`).
pub const CACHE_HEADER: &str = "x-mgw-cache";

/// A cache key: a SHA-256 of what shapes the answer.
pub type Key = [u8; 32];

/// A kept answer.
pub struct Entry {
    /// The answer, in OpenAI's shape.
    pub body: Bytes,
    /// The tokens it took when a provider answered it.
    pub usage: Usage,
    kept: Instant,
    ttl: Duration,
}

impl Entry {
    /// Whole seconds since it was kept (the `age` header).
    pub fn age_s(&self) -> u64 {
        self.kept.elapsed().as_secs()
    }
}

/// Every gateway's kept answers, in one memory budget.
pub struct ResponseCache {
    entries: Cache<Key, Arc<Entry>>,
    /// The misses being answered now by a leader others may wait for, by key.
    leading: Leading,
}

/// Where a leader's answer is told to those waiting for it.
type Leading = Arc<Mutex<HashMap<Key, watch::Receiver<Option<Arc<Entry>>>>>>;

/// Each entry lives its own gateway's TTL.
struct OwnTtl;

impl Expiry<Key, Arc<Entry>> for OwnTtl {
    fn expire_after_create(&self, _: &Key, entry: &Arc<Entry>, _: Instant) -> Option<Duration> {
        Some(entry.ttl)
    }
}

/// What an entry weighs against the budget besides its body: its key, its place in the map.
const ENTRY_OVERHEAD: usize = 128;

impl ResponseCache {
    /// A cache whose entries weigh at most `max_bytes` together.
    pub fn new(max_bytes: u64) -> ResponseCache {
        ResponseCache {
            entries: Cache::builder()
                .max_capacity(max_bytes)
                .weigher(|_, entry: &Arc<Entry>| u32::try_from(entry.body.len() + ENTRY_OVERHEAD).unwrap_or(u32::MAX))
                .expire_after(OwnTtl)
                .build(),
            leading: Leading::default(),
        }
    }

    /// The answer kept under `key`, while its TTL lasts.
    pub fn get(&self, key: &Key) -> Option<Arc<Entry>> {
        self.entries.get(key)
    }

    /// Keeps `body` (a whole answer in OpenAI's shape) under `key` for `settings`' TTL, unless
    /// it is larger than their entry size. Answers the entry kept.
    pub fn keep(&self, key: Key, body: Bytes, usage: Usage, settings: &CacheSettings) -> Option<Arc<Entry>> {
        if body.len() as u64 > u64::try_from(settings.max_entry_bytes).unwrap_or(0) {
            return None;
        }
        let entry = Arc::new(Entry {
            body,
            usage,
            kept: Instant::now(),
            ttl: Duration::from_secs(u64::try_from(settings.ttl_s).unwrap_or(1)),
        });
        self.entries.insert(key, entry.clone());
        Some(entry)
    }

    /// The bytes the kept answers weigh now (after pending evictions are applied).
    pub fn weight(&self) -> u64 {
        self.entries.run_pending_tasks();
        self.entries.weighted_size()
    }
}

/// What a client asked of the cache in its headers.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Ask {
    /// Look for a kept answer (`cache-control: no-cache` or `x-mgw-cache: bypass`: not).
    pub look: bool,
    /// Keep the answer (`cache-control: no-store`: not).
    pub keep: bool,
}

impl Ask {
    /// The client's wishes, from `cache-control` and `x-mgw-cache`.
    pub fn of(headers: &HeaderMap) -> Ask {
        let mut ask = Ask { look: true, keep: true };
        for value in headers.get_all(header::CACHE_CONTROL) {
            for directive in value.to_str().unwrap_or_default().split(',') {
                match directive.trim().to_ascii_lowercase().as_str() {
                    "no-cache" => ask.look = false,
                    "no-store" => ask.keep = false,
                    _ => {}
                }
            }
        }
        if (headers.get(CACHE_HEADER)).is_some_and(|value| value.as_bytes().eq_ignore_ascii_case(b"bypass")) {
            ask.look = false;
        }
        ask
    }
}

/// What the cache did for a request that a caching gateway served.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Outcome {
    Hit,
    Miss,
    Bypass,
}

impl Outcome {
    /// As the header and the request log say it.
    pub fn as_str(self) -> &'static str {
        match self {
            Outcome::Hit => "hit",
            Outcome::Miss => "miss",
            Outcome::Bypass => "bypass",
        }
    }

    /// The header's value.
    pub fn header(self) -> HeaderValue {
        HeaderValue::from_static(self.as_str())
    }
}

/// A caching gateway's request: its key, and what its client asked of the cache.
pub struct Caching {
    key: Key,
    ask: Ask,
    /// Whether concurrent identical misses wait for one (a JSON request to a gateway that
    /// collapses them).
    collapses: bool,
    /// Held while this request is the one the others like it wait for.
    leader: Option<Leader>,
}

/// The request a key's concurrent misses wait for; when it ends without telling them an
/// answer, they go on by themselves.
struct Leader {
    key: Key,
    told: watch::Sender<Option<Arc<Entry>>>,
    leading: Leading,
}

impl Drop for Leader {
    fn drop(&mut self) {
        if let Ok(mut leading) = self.leading.lock() {
            leading.remove(&self.key);
        }
    }
}

impl Caching {
    pub fn new(key: Key, ask: Ask, collapses: bool) -> Caching {
        Caching {
            key,
            ask,
            collapses,
            leader: None,
        }
    }

    /// The answer kept for a request like this one, unless the client skips the cache; with
    /// collapsing, when another like it is being answered now, that answer once it is kept
    /// (waiting until `until` at most). `None`: this request goes to a provider.
    pub async fn look(&mut self, cache: &ResponseCache, until: Instant) -> Option<Arc<Entry>> {
        if !self.ask.look {
            return None;
        }
        if let Some(entry) = cache.get(&self.key) {
            return Some(entry);
        }
        if !self.collapses {
            return None;
        }
        let waiting = {
            let mut leading = cache.leading.lock().ok()?;
            match leading.get(&self.key) {
                Some(told) => told.clone(),
                None => {
                    let (told, waiting) = watch::channel(None);
                    leading.insert(self.key, waiting);
                    self.leader = Some(Leader {
                        key: self.key,
                        told,
                        leading: cache.leading.clone(),
                    });
                    return None;
                }
            }
        };
        wait(waiting, until).await
    }

    /// What the cache did for it when a provider answers it.
    pub fn outcome(&self) -> Outcome {
        match self.ask.look {
            true => Outcome::Miss,
            false => Outcome::Bypass,
        }
    }

    /// Keeps a provider's whole answer (OpenAI's shape), unless the client said not to, and
    /// tells it to the requests waiting for it.
    pub fn keep(&self, cache: &ResponseCache, body: Bytes, usage: Usage, gateway: &Gateway) {
        if !self.ask.keep {
            return;
        }
        if let Some(entry) = cache.keep(self.key, body, usage, &gateway.cache) {
            if let Some(leader) = &self.leader {
                leader.told.send_replace(Some(entry));
            }
        }
    }
}

/// The answer a leader tells, or `None` when it ends without one or `until` passes first.
async fn wait(mut waiting: watch::Receiver<Option<Arc<Entry>>>, until: Instant) -> Option<Arc<Entry>> {
    loop {
        if let Some(entry) = waiting.borrow_and_update().clone() {
            return Some(entry);
        }
        match tokio::time::timeout_at(until.into(), waiting.changed()).await {
            Ok(Ok(())) => continue,
            Ok(Err(_)) | Err(_) => return None,
        }
    }
}

/// A request answered from the cache, in the client's shape: JSON, or the answer told as a
/// stream. Its record counts it as a request with no tokens (so no cost).
pub fn answer(
    entry: &Entry,
    shape: ClientShape,
    inbound: &Inbound,
    rate: &RateHeaders,
    log_payloads: bool,
    mut recorder: Recorder,
) -> Response {
    recorder.first_byte();
    recorder.used(Usage::default());
    recorder.cache(Outcome::Hit);
    let json = || serde_json::from_slice::<Value>(&entry.body).unwrap_or_default();
    let (content_type, body) = match (inbound.stream, shape) {
        (false, ClientShape::OpenAi) => ("application/json", entry.body.clone()),
        (false, ClientShape::Anthropic) => (
            "application/json",
            Bytes::from(messages::to_message(&json(), entry.usage).to_string()),
        ),
        (true, shape) => (
            "text/event-stream",
            Bytes::from(stream::replay(&json(), entry.usage, shape, inbound.wants_usage)),
        ),
    };
    if log_payloads {
        recorder.answered(String::from_utf8_lossy(&body).into_owned());
    }
    recorder.finish(200, None);
    let mut response = Response::new(Body::from(body));
    let headers = response.headers_mut();
    headers.insert(header::CONTENT_TYPE, HeaderValue::from_static(content_type));
    headers.insert(CACHE_HEADER, Outcome::Hit.header());
    headers.insert(header::AGE, HeaderValue::from(entry.age_s()));
    set_rate_headers(headers, rate);
    response
}

/// The key of a request: what shapes its answer (see the module's invariant).
pub fn key(gateway: GatewayId, inbound: &Inbound, variant: Option<&str>, prompt: Option<&PromptUse>) -> Key {
    let mut hash = Sha256::new();
    let mut part = |bytes: &[u8]| {
        hash.update((bytes.len() as u64).to_le_bytes());
        hash.update(bytes);
    };
    part(b"mgw-cache-1");
    part(&gateway.0.to_le_bytes());
    part(inbound.operation.as_str().as_bytes());
    part(inbound.model.as_deref().unwrap_or_default().as_bytes());
    part(variant.unwrap_or_default().as_bytes());
    part(prompt.map_or("", |prompt| prompt.name.as_str()).as_bytes());
    part(&prompt.map_or(0, |prompt| prompt.version).to_le_bytes());
    let body = Value::Object(normalised(&inbound.body, inbound.operation));
    part(&serde_json::to_vec(&body).unwrap_or_default());
    hash.finalize().into()
}

/// Top-level fields that do not change the answer.
const IGNORED: [&str; 3] = ["user", "stream", "stream_options"];

/// Top-level fields whose default written out is the same request as left out.
fn is_default(operation: Operation, name: &str, value: &Value) -> bool {
    let number = |expected: f64| value.as_f64() == Some(expected);
    match operation {
        Operation::Chat | Operation::Completions => match name {
            "n" | "temperature" | "top_p" => number(1.0),
            "presence_penalty" | "frequency_penalty" => number(0.0),
            "logprobs" | "echo" => value == &Value::Bool(false),
            _ => value.is_null(),
        },
        Operation::Embeddings => match name {
            "encoding_format" => value.as_str() == Some("float"),
            _ => value.is_null(),
        },
    }
}

/// The body with its keys in order at every depth, and without what [`IGNORED`] and
/// [`is_default`] leave out at the top.
fn normalised(body: &Map<String, Value>, operation: Operation) -> Map<String, Value> {
    let mut names: Vec<&String> = (body.iter())
        .filter(|(name, value)| !IGNORED.contains(&name.as_str()) && !is_default(operation, name, value))
        .map(|(name, _)| name)
        .collect();
    names.sort();
    names
        .into_iter()
        .map(|name| (name.clone(), sorted(&body[name])))
        .collect()
}

fn sorted(value: &Value) -> Value {
    match value {
        Value::Object(map) => {
            let mut names: Vec<&String> = map.keys().collect();
            names.sort();
            Value::Object(
                names
                    .into_iter()
                    .map(|name| (name.clone(), sorted(&map[name])))
                    .collect(),
            )
        }
        Value::Array(items) => Value::Array(items.iter().map(sorted).collect()),
        other => other.clone(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn inbound(body: Value) -> Inbound {
        let body = body.as_object().unwrap().clone();
        Inbound {
            operation: Operation::Chat,
            model: body.get("model").and_then(Value::as_str).map(str::to_string),
            stream: body.get("stream") == Some(&json!(true)),
            wants_usage: false,
            body,
        }
    }

    fn key_of(body: Value) -> Key {
        key(GatewayId(1), &inbound(body), None, None)
    }

    #[test]
    fn key_order_defaults_user_and_stream_do_not_change_the_key() {
        let plain = key_of(json!({"model": "m", "messages": [{"role": "user", "content": "hi"}], "max_tokens": 5}));
        let same = [
            json!({"max_tokens": 5, "messages": [{"content": "hi", "role": "user"}], "model": "m"}),
            json!({"model": "m", "messages": [{"role": "user", "content": "hi"}], "max_tokens": 5, "n": 1,
                   "temperature": 1, "user": "ada", "stream": true, "stream_options": {"include_usage": true}}),
            json!({"model": "m", "messages": [{"role": "user", "content": "hi"}], "max_tokens": 5, "top_p": 1.0,
                   "presence_penalty": 0, "seed": null}),
        ];
        for body in same {
            assert_eq!(key_of(body.clone()), plain, "{body}");
        }
    }

    #[test]
    fn what_changes_the_answer_changes_the_key() {
        let body = json!({"model": "m", "messages": [{"role": "user", "content": "hi"}]});
        let plain = key_of(body.clone());
        for other in [
            json!({"model": "m2", "messages": [{"role": "user", "content": "hi"}]}),
            json!({"model": "m", "messages": [{"role": "user", "content": "hi!"}]}),
            json!({"model": "m", "messages": [{"role": "user", "content": "hi"}], "temperature": 0}),
            json!({"model": "m", "messages": [{"role": "user", "content": "hi"}], "n": 2}),
        ] {
            assert_ne!(key_of(other.clone()), plain, "{other}");
        }
        assert_ne!(key(GatewayId(2), &inbound(body.clone()), None, None), plain);
        assert_ne!(key(GatewayId(1), &inbound(body.clone()), Some("b"), None), plain);
        let prompt = |version| PromptUse {
            name: "p".into(),
            version,
            parameters: Map::new(),
        };
        let v1 = key(GatewayId(1), &inbound(body.clone()), None, Some(&prompt(1)));
        assert_ne!(v1, plain);
        assert_ne!(key(GatewayId(1), &inbound(body), None, Some(&prompt(2))), v1);
    }

    #[test]
    fn clients_skip_the_cache_or_keep_their_answer_out_of_it() {
        let ask = |pairs: &[(&'static str, &'static str)]| {
            let headers: HeaderMap = (pairs.iter())
                .map(|(name, value)| (name.parse().unwrap(), HeaderValue::from_static(value)))
                .collect();
            Ask::of(&headers)
        };
        assert_eq!(ask(&[]), Ask { look: true, keep: true });
        assert_eq!(
            ask(&[("cache-control", "no-cache")]),
            Ask {
                look: false,
                keep: true
            }
        );
        assert_eq!(
            ask(&[("x-mgw-cache", "Bypass")]),
            Ask {
                look: false,
                keep: true
            }
        );
        assert_eq!(
            ask(&[("cache-control", "max-age=0, no-store")]),
            Ask {
                look: true,
                keep: false
            }
        );
    }

    #[test]
    fn an_answer_larger_than_the_entry_size_is_not_kept_and_entries_expire() {
        let cache = ResponseCache::new(1 << 20);
        let settings = CacheSettings {
            max_entry_bytes: 10,
            ttl_s: 1,
            ..CacheSettings::default()
        };
        let eleven = Bytes::from_static(b"eleven bytes");
        assert!(cache.keep([1; 32], eleven, Usage::default(), &settings).is_none());
        assert!(cache.get(&[1; 32]).is_none());
        assert!(cache
            .keep([2; 32], Bytes::from_static(b"ten bytes!"), Usage::default(), &settings)
            .is_some());
        assert_eq!(cache.get(&[2; 32]).unwrap().body, "ten bytes!");
        std::thread::sleep(Duration::from_millis(1_100));
        assert!(cache.get(&[2; 32]).is_none(), "expired at its TTL");
    }

    #[test]
    fn the_kept_answers_stay_within_the_budget() {
        let cache = ResponseCache::new(64 << 10);
        let settings = CacheSettings::default();
        for n in 0..1_000u32 {
            let mut key = [0; 32];
            key[..4].copy_from_slice(&n.to_le_bytes());
            cache.keep(key, Bytes::from(vec![b'x'; 1_000]), Usage::default(), &settings);
        }
        assert!(cache.weight() <= 64 << 10, "{}", cache.weight());
        assert!(cache.weight() > 32 << 10, "it holds what fits: {}", cache.weight());
    }
}
