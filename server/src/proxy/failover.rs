//! The attempt loop: one request tried at its gateway's endpoints in the balancer's order,
//! with retries, failover and back-off inside one deadline (RELIABILITY R1, R2).
//!
//! Invariant: the commit point is the first byte to the client. Everything here happens
//! before it: a non-streamed answer is read whole, a stream is read up to its first chunk,
//! and only then handed back. After that nothing is retried (see `stream`).
//! Invariant: an upstream's 401/403 reaches the client as 502, never as 401.

use super::{
    aws_events,
    balancer::{NoneAvailable, Slot},
    error::ProxyError,
    plan::Tier,
    providers::{self, Answer, Call, Operation, StreamItem},
    redact,
    registry::{CallCredential, CredentialError, Upstream},
    sse::{self, EventStream},
    stream::Started,
    token::TokenError,
    upstream,
    usage::{attempt_started, Attempts},
    wire::Inbound,
    Proxy,
};
use crate::body::ReadError;
use app::types::Gateway;
use futures_util::{StreamExt, TryStreamExt};
use http_body_util::{BodyExt, BodyStream};
use hyper::body::Incoming;
use std::{
    sync::{atomic::Ordering, Arc},
    time::{Duration, Instant},
};
use tokio::time::timeout_at;

mod failure;

use failure::Failure;
pub use failure::{backoff, retry_after};

/// The longest an answerless upstream 429 is waited out when no other endpoint can serve.
const MAX_WAIT_FOR_COOLDOWN: Duration = Duration::from_secs(10);
/// Error bodies are read up to this size.
const ERROR_BODY_LIMIT: usize = 64 * 1024;

/// One request, ready to be routed.
pub struct Routed<'a> {
    pub request_id: &'a str,
    pub gateway: &'a Gateway,
    /// The endpoints that can serve the model, in tiers: a tier's endpoints are ordered by the
    /// balancer and tried before the next tier's (one tier for a plain model; a composite's
    /// members in the order they are tried).
    pub tiers: &'a [Tier],
    pub inbound: &'a Inbound,
    /// Prompt tokens (estimated) plus the answer's allowance, for provider token windows.
    pub estimated_tokens: u64,
    pub deadline: Instant,
    /// What translated answers are stamped with where their upstream says nothing.
    pub stamp: providers::Stamp,
}

/// What served a request.
pub enum Served {
    /// A whole answer, in OpenAI's shape.
    Json { upstream: Arc<Upstream>, answer: Answer },
    /// A stream, up to and including its first chunk.
    Stream(Started),
}

/// Holds one of the process's concurrent-retry places.
struct RetryPlace<'a>(&'a Proxy);

impl Drop for RetryPlace<'_> {
    fn drop(&mut self) {
        self.0.retries_in_flight.fetch_sub(1, Ordering::SeqCst);
    }
}

impl Proxy {
    /// A place for one retry, if the budget allows: at most 20 % of the requests in flight
    /// (at least 3) may be retrying at once (Envoy's default budget).
    fn retry_place(&self) -> Option<RetryPlace<'_>> {
        let active = self.in_flight.load(Ordering::SeqCst);
        let budget = (active / 5).max(3);
        if self.retries_in_flight.fetch_add(1, Ordering::SeqCst) >= budget {
            self.retries_in_flight.fetch_sub(1, Ordering::SeqCst);
            return None;
        }
        Some(RetryPlace(self))
    }

    /// Serves a request: attempts in order until one succeeds, a failure is final, or the
    /// attempts, the retry budget or the deadline run out. Every attempt is recorded.
    pub async fn serve(
        self: &Arc<Self>,
        routed: Routed<'_>,
        recorder: &mut impl Attempts,
    ) -> Result<Served, ProxyError> {
        let cooldown = self.settings.default_cooldown;
        let now = Instant::now();
        let mut order = Vec::new();
        let mut refused = None;
        for tier in routed.tiers {
            match (self.balancer).order(routed.gateway, &tier.upstreams, now, &mut rand::thread_rng()) {
                Ok(ordered) => order.extend(ordered),
                Err(none) => {
                    refused.get_or_insert(none);
                }
            }
        }
        if order.is_empty() {
            return Err(match refused {
                Some(NoneAvailable::RateLimited(until)) => ProxyError::RateLimited {
                    retry_after: until.saturating_duration_since(Instant::now()),
                    message: "Every endpoint that serves this model is at its provider limit; retry later.".into(),
                },
                Some(NoneAvailable::Unavailable) | None => ProxyError::NoEndpoint,
            });
        }
        let retry = routed.gateway.retry;
        let max_attempts = retry.max_attempts.clamp(1, 10);
        let mut next = 0usize;
        let mut last: Option<Failure> = None;
        let mut malformed = 0;
        let mut waited_for_cooldown = false;
        let mut attempt = 0i64;
        while attempt < max_attempts {
            if Instant::now() >= routed.deadline {
                last = Some(Failure::Timeout);
                break;
            }
            let now = Instant::now();
            let picked = (0..order.len()).find_map(|k| {
                let index = (next + k) % order.len();
                let upstream = &order[index];
                self.balancer
                    .begin(upstream, routed.estimated_tokens, now)
                    .map(|slot| (index, upstream.clone(), slot))
            });
            let Some((index, upstream, slot)) = picked else {
                // Nothing can take it now. A short upstream-requested wait that fits the
                // deadline is waited out once; otherwise the last failure stands.
                if let Some(Failure::RateLimited {
                    retry_after: Some(wait),
                    ..
                }) = &last
                {
                    if !waited_for_cooldown && *wait <= MAX_WAIT_FOR_COOLDOWN && now + *wait < routed.deadline {
                        waited_for_cooldown = true;
                        tokio::time::sleep(*wait).await;
                        continue;
                    }
                }
                break;
            };
            let _retry_place = if attempt > 0 {
                let Some(place) = self.retry_place() else {
                    tracing::warn!(request_id = routed.request_id, "retry budget spent");
                    break;
                };
                if last.as_ref().is_some_and(Failure::backs_off) {
                    let wait = backoff(attempt, retry.base_ms, retry.cap_ms, &mut rand::thread_rng());
                    let until = (Instant::now() + wait).min(routed.deadline);
                    tokio::time::sleep_until(until.into()).await;
                }
                Some(place)
            } else {
                None
            };
            attempt += 1;
            // Recorded before it starts, so a client leaving mid-attempt still leaves its trace.
            let propagation =
                recorder.attempt(attempt_started(attempt, upstream.endpoint.id), routed.inbound.operation);
            let started = Instant::now();
            let result = self.attempt(&upstream, slot, &routed, propagation).await;
            let mut record = recorder.take_attempt();
            record.latency_ms = i64::try_from(started.elapsed().as_millis()).unwrap_or(i64::MAX);
            match result {
                Ok(served) => {
                    record.status = Some(200);
                    if let Served::Json { answer, .. } = &served {
                        let (usage, _) = answer.usage.unwrap_or_default().bounded();
                        record.prompt_tokens = i64::try_from(usage.prompt_tokens).unwrap_or(i64::MAX);
                        record.completion_tokens = i64::try_from(usage.completion_tokens).unwrap_or(i64::MAX);
                        self.balancer.succeeded(
                            upstream.endpoint.id,
                            started.elapsed(),
                            routed.estimated_tokens,
                            usage.total(),
                            Instant::now(),
                        );
                    } else {
                        record.ttft_ms = Some(record.latency_ms);
                    }
                    let streaming = matches!(served, Served::Stream(_));
                    recorder.attempt_finished(record, streaming);
                    return Ok(served);
                }
                Err(failure) => {
                    record.status = failure.status().map(i64::from);
                    record.error_class = Some(failure.class().into());
                    recorder.attempt_finished(record, false);
                    tracing::info!(
                        request_id = routed.request_id,
                        endpoint_id = upstream.endpoint.id.0,
                        attempt,
                        class = failure.class(),
                        detail = failure.detail(),
                        "upstream attempt failed"
                    );
                    if let Some(fault) = failure.fault(cooldown) {
                        self.balancer.failed(&upstream, fault, Instant::now());
                    }
                    if !failure.retryable() {
                        return Err(failure.into_error(cooldown));
                    }
                    if matches!(failure, Failure::Invalid(_)) {
                        malformed += 1;
                        if malformed > 1 {
                            return Err(failure.into_error(cooldown));
                        }
                    }
                    // The next attempt goes to the next endpoint (with one endpoint, the same
                    // one again, as long as its health allows).
                    next = index + 1;
                    last = Some(failure);
                }
            }
        }
        Err(last.map_or(ProxyError::NoEndpoint, |failure| failure.into_error(cooldown)))
    }

    /// One attempt at one endpoint, up to the commit point.
    async fn attempt(
        self: &Arc<Self>,
        upstream: &Arc<Upstream>,
        slot: Slot,
        routed: &Routed<'_>,
        propagation: http::HeaderMap,
    ) -> Result<Served, Failure> {
        let endpoint = &upstream.endpoint;
        let carried = match upstream
            .call_credential(&self.clients, &self.aws, routed.deadline)
            .await
        {
            Ok(credential) => credential,
            // Unreadable cannot happen for endpoints the balancer offers, but never send
            // without it; a service account the token endpoint refuses is a credential refused.
            Err(
                CredentialError::Unreadable | CredentialError::Token(TokenError::Account(_) | TokenError::Missing(_)),
            ) => return Err(Failure::Auth(None)),
            Err(CredentialError::Token(TokenError::Refused(status, _))) => return Err(Failure::Auth(Some(status))),
            Err(CredentialError::Token(unreachable @ TokenError::Unreachable(_))) => {
                return Err(Failure::Connect(unreachable.message()))
            }
            // As a deadline reached during an attempt is.
            Err(CredentialError::Token(TokenError::TimedOut)) => return Err(Failure::Timeout),
        };
        let credential = carried.as_ref().map(CallCredential::expose);
        let stream = routed.inbound.stream;
        let mut outbound = providers::adapter(endpoint.provider).request(&Call {
            endpoint,
            credential,
            operation: routed.inbound.operation,
            body: &routed.inbound.body,
            stream,
        });
        // AWS endpoints sign what was built; an unusable key is a credential refused.
        upstream.sign(&mut outbound, credential).map_err(|reason| {
            // The reason names what is missing, never a secret.
            tracing::warn!(endpoint_id = endpoint.id.0, reason, "the request cannot be signed");
            Failure::Auth(None)
        })?;
        let ms = |value: Option<i64>, default: Duration| {
            value
                .and_then(|ms| u64::try_from(ms).ok())
                .map_or(default, Duration::from_millis)
        };
        let settings = &self.settings;
        let timeouts = endpoint.timeouts;
        let connect = ms(timeouts.connect_ms, settings.connect_timeout);
        let first_byte_default = if stream {
            settings.stream_first_byte_timeout
        } else {
            settings.first_byte_timeout
        };
        let first_byte = ms(timeouts.first_byte_ms, first_byte_default);
        let idle = ms(timeouts.idle_ms, settings.idle_timeout);
        let started = Instant::now();
        let attempt_deadline = match timeouts.total_ms.and_then(|ms| u64::try_from(ms).ok()) {
            Some(total) => routed.deadline.min(started + Duration::from_millis(total)),
            None => routed.deadline,
        };
        let url = upstream
            .parsed_url(&outbound.url)
            .map_err(|error| Failure::Connect(format!("invalid upstream URL: {error}")))?;
        if !self.clients.allows(&url) {
            return Err(Failure::Connect(
                "the upstream's address is refused by the upstream policy (proxy.deny_private_upstreams)".into(),
            ));
        }
        let mut request = http::Request::post(url)
            .header(http::header::CONTENT_TYPE, "application/json")
            .header("x-request-id", routed.request_id);
        for (name, value) in outbound.headers {
            request = request.header(name, value);
        }
        let mut request = request
            .body(upstream::Body::new(outbound.body.into()))
            .map_err(|_| Failure::Connect("invalid upstream request header".into()))?;
        request.headers_mut().extend(propagation);
        let sent = self.clients.get(connect).request(request);
        let response = match timeout_at((started + first_byte).min(attempt_deadline).into(), sent).await {
            Err(_) => return Err(Failure::Timeout),
            Ok(Err(error)) if upstream::timed_out(&error) => return Err(Failure::Timeout),
            Ok(Err(error)) => return Err(Failure::Connect(connect_reason(&error))),
            Ok(Ok(response)) => response,
        };
        let status = response.status().as_u16();
        if !response.status().is_success() {
            let wait = retry_after(response.headers());
            let body = read_limited(response, ERROR_BODY_LIMIT, attempt_deadline.min(Instant::now() + idle)).await;
            let error = providers::error(endpoint.provider, status, &body, credential);
            return Err(match status {
                429 if error.quota_exhausted => Failure::QuotaExhausted(error),
                429 => Failure::RateLimited {
                    retry_after: wait,
                    error,
                },
                401 | 403 => Failure::Auth(Some(status)),
                400..=499 => Failure::Client { status, error },
                300..=399 => Failure::Redirect(status),
                _ => Failure::Server {
                    status,
                    message: format!("The upstream answered {status}: {}", error.message),
                },
            });
        }
        if !stream {
            // Bounded: an answer past `proxy.max_answer_bytes` is refused, not buffered whole.
            let limit = self.settings.max_answer_bytes;
            let (parts, body) = response.into_parts();
            let left = attempt_deadline.saturating_duration_since(Instant::now());
            let bytes = match crate::body::read_limited(body, &parts.headers, limit, left).await {
                Ok(bytes) => bytes,
                Err(ReadError::TooLarge) => {
                    return Err(Failure::Invalid(format!(
                        "the upstream's answer is larger than {limit} bytes"
                    )))
                }
                Err(ReadError::TimedOut) => return Err(Failure::Timeout),
                Err(ReadError::Failed) => return Err(Failure::StreamCut),
            };
            drop(slot);
            let mut answer = providers::adapter(endpoint.provider)
                .answer(routed.inbound.operation, bytes, &routed.stamp)
                .map_err(|invalid| Failure::Invalid(redact::redacted(&invalid.0, credential)))?;
            providers::encode_as_asked(&mut answer, routed.inbound.operation, &routed.inbound.body);
            return Ok(Served::Json {
                upstream: upstream.clone(),
                answer,
            });
        }
        let chunks = BodyStream::new(response.into_body())
            .try_filter_map(|frame| std::future::ready(Ok(frame.into_data().ok())));
        // A Responses stream's `response.completed` repeats the whole answer (an image
        // generation's events carry the image): its events are bounded as an answer is.
        let limit = match routed.inbound.operation {
            Operation::Responses => self.settings.max_answer_bytes,
            Operation::Chat | Operation::Completions | Operation::Embeddings => sse::MAX_EVENT_BYTES,
        };
        let mut events: EventStream = match endpoint.provider.spec().aws_service {
            Some(_) => aws_events::events(chunks, limit),
            None => sse::events(chunks, limit),
        };
        let mut decoder = providers::adapter(endpoint.provider).stream_decoder(routed.inbound.operation, &routed.stamp);
        let mut first = Vec::new();
        loop {
            let wait = (Instant::now() + idle).min(attempt_deadline);
            let event = match timeout_at(wait.into(), events.next()).await {
                Err(_) => return Err(Failure::Timeout),
                Ok(Some(Err(sse::SseError::TooLarge(limit)))) => {
                    return Err(Failure::Invalid(format!(
                        "the upstream sent an event larger than {limit} bytes"
                    )))
                }
                Ok(None | Some(Err(sse::SseError::Body(_)))) => return Err(Failure::StreamCut),
                Ok(Some(Err(sse::SseError::Frame(reason)))) => return Err(Failure::Invalid(reason)),
                Ok(Some(Ok(event))) => event,
            };
            let items = decoder
                .event(&event.event, event.data)
                .map_err(|fault| Failure::from_stream_fault(fault.redacted(credential)))?;
            // A Responses stream's opening events (`response.created`, …) say nothing yet:
            // its first word, like a chunk, commits.
            let committed = items.iter().any(|item| match item {
                StreamItem::Chunk(_) | StreamItem::Passed(_) | StreamItem::Step(_) | StreamItem::Done => true,
                StreamItem::Event(event) => event.commits,
                StreamItem::Usage(_) => false,
            });
            first.extend(items);
            if committed {
                break;
            }
        }
        Ok(Served::Stream(Started {
            upstream: upstream.clone(),
            slot,
            events,
            decoder,
            first,
            idle,
            // A committed stream is bounded by the request's deadline too: a deadline a stream
            // could outlive would bound nothing a client waits on.
            hard_deadline: Some(attempt_deadline),
            started,
            token: match carried {
                Some(CallCredential::Token(token)) => Some(token),
                Some(CallCredential::Stored(_)) | None => None,
            },
        }))
    }
}

/// Why a connection failed, without the URL (which may carry internal host names).
fn connect_reason(error: &hyper_util::client::legacy::Error) -> String {
    if error.is_connect() {
        "connection failed".into()
    } else {
        "request failed".into()
    }
}

/// Reads at most `limit` bytes of a body before `deadline`; whatever arrived, on any error.
async fn read_limited(response: http::Response<Incoming>, limit: usize, deadline: Instant) -> Vec<u8> {
    let mut body = Vec::new();
    let mut incoming = response.into_body();
    while let Ok(Some(Ok(frame))) = timeout_at(deadline.into(), incoming.frame()).await {
        let Ok(chunk) = frame.into_data() else {
            continue;
        };
        body.extend_from_slice(&chunk[..chunk.len().min(limit - body.len())]);
        if body.len() >= limit {
            break;
        }
    }
    body
}

#[cfg(test)]
mod tests;
