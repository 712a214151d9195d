//! Step 5's end (issue #24): the response cache. After admission, a request to a gateway that
//! caches answers is looked up by its key; a hit is answered from the cache in the client's
//! shape (JSON, or the answer told as a stream) without calling a provider; a miss goes on,
//! and its whole answer is kept for the next request like it.
//!
//! The files: `key` makes a request's key from what shapes its answer; `store` keeps answers
//! in memory, and in Redis when `[redis] url` is set (replicas share them); `assemble` puts a
//! streamed answer back together, so a stream is kept like a JSON answer; `collapse` makes
//! concurrent identical misses wait for one.
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
mod store;

use assemble::Assembly;
use collapse::{Leader, Turn, Waited};
pub use key::{key, Key};
use store::Answer;
pub use store::{Entry, ResponseCache};

use super::{
    error::set_rate_headers,
    limits::RateHeaders,
    providers::{Operation, Usage},
    stream::{self, ClientShape},
    usage::Recorder,
    wire::Inbound,
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
}

impl Caching {
    pub fn new(key: Key, ask: Ask, collapses: bool, settings: CacheSettings) -> Caching {
        Caching {
            key,
            ask,
            collapses,
            leader: None,
            settings,
        }
    }

    /// The answer kept for a request like this one, unless the client skips the cache; with
    /// collapsing, when another like it is being answered now, that answer once it is kept
    /// (waiting until `until` at most). `None`: this request goes to a provider.
    pub async fn look(&mut self, cache: &ResponseCache, until: Instant) -> Option<Arc<Entry>> {
        if !self.ask.look {
            return None;
        }
        if let Some(entry) = cache.get(&self.key).await {
            return Some(entry);
        }
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
        keep(cache, self.key, answer, &self.settings, self.leader.as_deref());
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
        })
    }
}

/// Keeps an answer, and tells it to the requests waiting for `leader`'s.
fn keep(cache: &ResponseCache, key: Key, answer: Answer, settings: &CacheSettings, leader: Option<&Leader>) {
    let lease = leader.and_then(Leader::take_lease);
    if let (Some(entry), Some(leader)) = (cache.keep(key, answer, settings, lease), leader) {
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
            keep(cache, self.key, answer, &self.settings, self.leader.as_deref());
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
