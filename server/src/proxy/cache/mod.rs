//! Step 5's end (issue #24): the response cache. After admission, a request to a gateway that
//! caches answers is looked up by its key; a hit is answered from the cache in the client's
//! shape (JSON, or the answer told as a stream) without calling a provider; a miss goes on,
//! and its whole answer is kept for the next request like it.
//!
//! The files: `key` makes a request's key from what shapes its answer; `store` keeps answers
//! in memory, and in Redis when `[redis] url` is set (replicas share them); `assemble` puts a
//! streamed answer back together, so a stream is kept like a JSON answer; `collapse` makes
//! concurrent identical misses wait for one; `semantic` answers a chat request whose last user
//! message means nearly the same as a kept one's.
//!
//! Invariant: the key holds everything that shapes the answer ([`key`]).
//! Invariant: only a whole answer with status 200 is kept — never an error, a refusal, or a
//! stream that was cut, failed or blocked — and only up to the gateway's entry size; the
//! answers kept together stay within `proxy.cache_max_bytes`.
//! Invariant: a hit counts as a request under the limits but uses no tokens or budget.
//! Invariant: with collapsing on, of concurrent identical misses — JSON or streamed, in this
//! process or, with Redis, in any replica — one goes to the provider (the leader) and the
//! others wait for its answer, then are answered as hits ([`collapse`]); if the leader's answer
//! is not kept (an error, a cut stream, too large, the client's `no-store`), each goes on by
//! itself.

mod assemble;
mod collapse;
mod key;
mod semantic;
mod store;

use assemble::Assembly;
use collapse::{Leader, Turn, Waited};
pub use key::{context, key, Key};
use semantic::Embedded;
pub use semantic::Probe;
use store::Answer;
pub use store::{Entry, ResponseCache};

use super::{
    error::set_rate_headers,
    failover::Routed,
    limits::RateHeaders,
    providers::{Operation, Usage},
    registry::Snapshot,
    stream::{self, ClientShape},
    usage::Recorder,
    wire::Inbound,
    Proxy,
};
use app::types::CacheSettings;
use axum::{
    body::{Body, Bytes},
    http::{header, HeaderMap, HeaderValue},
    response::Response,
};
use serde_json::Value;
use std::{sync::Arc, time::Instant};

/// The header that says what the cache did (`hit`, `miss`, `bypass`), and by which a client
/// skips it (`bypass`).
pub const CACHE_HEADER: &str = "x-mgw-cache";

/// The header of a semantic hit: how similar the request was to the one whose answer it got.
pub const SIMILARITY_HEADER: &str = "x-mgw-cache-similarity";

/// A kept answer found for a request: the same request's, or (`similarity`) a semantic hit's.
pub struct Found {
    pub entry: Arc<Entry>,
    pub similarity: Option<f64>,
}

impl From<Arc<Entry>> for Found {
    fn from(entry: Arc<Entry>) -> Found {
        Found {
            entry,
            similarity: None,
        }
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
    /// Whether concurrent identical misses wait for one (its settings collapse them).
    collapses: bool,
    /// Held while this request is the one the others like it wait for (by its stream too,
    /// until the stream ends).
    leader: Option<Arc<Leader>>,
    /// The settings it goes by: its prompt's, its composite model's or its gateway's.
    settings: CacheSettings,
    /// Its part in a semantic cache (a chat request with a last user message, when the
    /// settings are `semantic`).
    probe: Option<Box<Probe>>,
}

impl Caching {
    pub fn new(key: Key, ask: Ask, settings: CacheSettings, probe: Option<Box<Probe>>) -> Caching {
        Caching {
            key,
            ask,
            collapses: settings.collapse,
            leader: None,
            settings,
            probe,
        }
    }

    /// The answer kept for a request like this one, unless the client skips the cache: the
    /// same request's; with a semantic cache, else that of one whose last message means nearly
    /// the same; with collapsing, when another like it is being answered now, that answer once
    /// it is kept (waiting until the request's deadline at most). `None`: this request goes to
    /// a provider.
    pub async fn look(
        &mut self,
        proxy: &Arc<Proxy>,
        snapshot: &Snapshot,
        routed: &Routed<'_>,
        recorder: &mut Recorder,
    ) -> Option<Found> {
        if !self.ask.look {
            return None;
        }
        let cache = &proxy.cache;
        if let Some(entry) = cache.get(&self.key).await {
            return Some(entry.into());
        }
        // While a request like this one is being answered here, it waits for that answer
        // rather than embed its text.
        let led = self.collapses && Leader::is_leading(cache, &self.key);
        if let Some(probe) = self.probe.as_mut().filter(|_| !led) {
            // Boxed: a provider call's future, which a request's would otherwise hold twice.
            probe.embedded = Box::pin(semantic::embed(proxy, snapshot, probe, routed, recorder)).await;
            if let Some(embedded) = &probe.embedded {
                for (key, similarity) in cache.semantic.nearest(&probe.context, embedded, probe.similarity) {
                    match cache.get(&key).await {
                        Some(entry) => {
                            if self.ask.keep {
                                cache.alias(self.key, entry.clone());
                            }
                            let similarity = Some(similarity);
                            return Some(Found { entry, similarity });
                        }
                        None => cache.semantic.forget(&probe.context, &key),
                    }
                }
            }
        }
        self.wait_or_lead(cache, routed.deadline).await.map(Found::from)
    }

    /// With collapsing, when another request like it is being answered now, that answer once it
    /// is kept (waiting until `until` at most); else it leads the others like it.
    async fn wait_or_lead(&mut self, cache: &ResponseCache, until: Instant) -> Option<Arc<Entry>> {
        if !self.collapses {
            return None;
        }
        loop {
            match Leader::take_turn(cache, self.key, self.ask.keep)? {
                Turn::Wait(waiting) => match collapse::wait(waiting, until).await {
                    Waited::Told(entry) => return Some(entry),
                    Waited::Over => return None,
                    // Its leader kept nothing: it may have been kept meanwhile, else lead.
                    Waited::Ended => {
                        if let Some(entry) = cache.get(&self.key).await {
                            return Some(entry);
                        }
                    }
                },
                Turn::Lead(leader) => {
                    let leader = self.leader.insert(Arc::new(leader));
                    return leader.across_replicas(cache, until).await;
                }
            }
        }
    }

    /// Its answer is not to be kept (it passed a check it should not be remembered for).
    pub fn keep_nothing(&mut self) {
        self.ask.keep = false;
    }

    /// What the cache did for it when a provider answers it.
    pub fn outcome(&self) -> Outcome {
        match self.ask.look {
            true => Outcome::Miss,
            false => Outcome::Bypass,
        }
    }

    /// Keeps a provider's whole answer (OpenAI's shape) with what it cost, unless the client
    /// said not to, and tells it to the requests waiting for it.
    pub fn keep(&self, cache: &ResponseCache, body: Bytes, usage: Usage, cost_micros: i64) {
        if !self.ask.keep {
            return;
        }
        let answer = Answer {
            body,
            usage,
            cost_micros,
        };
        let kept = Kept {
            key: self.key,
            settings: &self.settings,
            leader: self.leader.as_deref(),
            indexed: self.indexed(),
        };
        keep(cache, answer, kept);
    }

    /// Its context and embedding, to index its answer by when kept.
    fn indexed(&self) -> Option<(Key, Embedded)> {
        let probe = self.probe.as_ref()?;
        Some((probe.context, probe.embedded.clone()?))
    }
}

impl Caching {
    /// For a miss answered as a stream: its answer to gather as it streams, unless the client
    /// said not to keep it.
    pub fn keeping(&self, operation: Operation) -> Option<Keeping> {
        let limit = usize::try_from(self.settings.max_entry_bytes).unwrap_or(0);
        self.ask.keep.then(|| Keeping {
            key: self.key,
            settings: self.settings.clone(),
            assembly: Assembly::new(operation, limit),
            leader: self.leader.clone(),
            indexed: self.indexed(),
        })
    }
}

/// An answer's place in the cache: its key and settings, the leader of the requests waiting
/// for it, and its request's context and embedding (a semantic cache's).
struct Kept<'k> {
    key: Key,
    settings: &'k CacheSettings,
    leader: Option<&'k Leader>,
    indexed: Option<(Key, Embedded)>,
}

/// Keeps an answer, indexes it by its request's embedding (a semantic cache's), and tells it
/// to the requests waiting for its leader.
fn keep(cache: &ResponseCache, answer: Answer, kept: Kept<'_>) {
    let lease = kept.leader.and_then(Leader::take_lease);
    let Some(entry) = cache.keep(kept.key, answer, kept.settings, lease) else {
        return;
    };
    if let Some((context, embedded)) = kept.indexed {
        let ttl = std::time::Duration::from_secs(u64::try_from(kept.settings.ttl_s).unwrap_or(0));
        cache.semantic.insert(context, kept.key, embedded, ttl);
    }
    if let Some(leader) = kept.leader {
        leader.tell(entry);
    }
}

/// A streamed miss's answer, gathered chunk by chunk and kept when the stream ends properly.
pub struct Keeping {
    key: Key,
    settings: CacheSettings,
    assembly: Assembly,
    /// Whom the requests like it wait for, when it leads them: held until the stream ends.
    leader: Option<Arc<Leader>>,
    /// Its request's context and embedding, to index the answer by (a semantic cache's).
    indexed: Option<(Key, Embedded)>,
}

impl Keeping {
    /// Gathers one of the provider's chunks (canonical shape, before any guardrail).
    pub fn chunk(&mut self, chunk: &Value) {
        self.assembly.chunk(chunk);
    }

    /// Keeps the whole answer: the stream ended properly, with this usage and cost.
    pub fn keep(self, cache: &ResponseCache, usage: Usage, cost_micros: i64) {
        if let Some(answer) = self.assembly.answer(usage) {
            let answer = Answer {
                body: Bytes::from(answer.to_string()),
                usage,
                cost_micros,
            };
            let kept = Kept {
                key: self.key,
                settings: &self.settings,
                leader: self.leader.as_deref(),
                indexed: self.indexed,
            };
            keep(cache, answer, kept);
        }
    }
}

/// A request answered from the cache, in the client's shape: JSON, or the answer told as a
/// stream. `body` is the kept answer as the request's guardrails leave it. Its record counts
/// it as a request with no tokens (so no cost).
pub fn answer(
    entry: &Entry,
    body: Bytes,
    shape: ClientShape,
    inbound: &Inbound,
    rate: &RateHeaders,
    log_payloads: bool,
    mut recorder: Recorder,
) -> Response {
    recorder.first_byte();
    recorder.used(Usage::default());
    recorder.cache(Outcome::Hit);
    recorder.saved(entry.cost_micros);
    let json = || serde_json::from_slice::<Value>(&body).unwrap_or_default();
    let (content_type, body) = match (inbound.stream, shape) {
        // Kept in OpenAI's shape: given as it is.
        (false, ClientShape::OpenAi) => ("application/json", body.clone()),
        (false, shape @ (ClientShape::Anthropic | ClientShape::Responses)) => {
            match shape.answer(&json(), entry.usage) {
                Some(shaped) => ("application/json", Bytes::from(shaped.to_string())),
                None => ("application/json", body.clone()),
            }
        }
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

#[cfg(test)]
mod tests {
    use super::*;
    use axum::http::{HeaderMap, HeaderValue};

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
}
