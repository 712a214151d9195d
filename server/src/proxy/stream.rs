//! Streams after the commit point: upstream events decoded, re-encoded in the client's shape
//! (OpenAI chunks or Anthropic events), usage captured, the request's record completed.
//!
//! Invariant: an OpenAI-shaped upstream's chunk reaches an OpenAI-shaped client as the upstream
//! sent it (less a `"usage":null` the client did not ask for) unless guardrails or the cache
//! read it: no tree, no re-encoding (issue #26). OpenAI's own Responses events reach a
//! Responses client as they came (issue #25). A translated stream's steps are written in the
//! client's shape from typed fields; a tree is built only for guardrails and the cache.
//! Invariant: a caching gateway's streamed miss is kept only when it ends properly (`Done`).
//! Invariant: nothing is retried here. A stream cut, stalled or failed upstream ends with an
//! error event and no `[DONE]` (or `message_stop`); the tokens streamed so far are billed.
//! Invariant: the client's stream pulls the upstream's: one event at a time, so a slow reader
//! slows the upstream, and a client that goes away drops the upstream connection at once.

use super::{
    balancer::{Fault, Slot},
    cache::Keeping,
    providers::{StreamDecoder, StreamItem, Usage},
    registry::{Credential, Upstream},
    sse::{EventStream, SseError},
    usage::Recorder,
    wire::estimate_tokens,
    InFlight, Proxy,
};
use crate::{
    guard::{stream::StreamGuard, Blocked},
    secrets::Secret,
};
use axum::body::{Body, Bytes};
use futures_util::StreamExt;
use serde_json::Value;
use std::{
    collections::VecDeque,
    sync::Arc,
    time::{Duration, Instant},
};
use tokio::sync::watch;

/// A stream that reached its commit point: the upstream, its first items, and the rest.
pub struct Started {
    pub upstream: Arc<Upstream>,
    pub slot: Slot,
    pub events: EventStream,
    pub decoder: StreamDecoder,
    pub first: Vec<StreamItem>,
    pub idle: Duration,
    /// When the stream must end: the request's deadline (the gateway's, else
    /// `proxy.request_deadline`), or the endpoint's total timeout when that is sooner.
    pub hard_deadline: Option<Instant>,
    pub started: Instant,
    /// The access token the call carried (an endpoint that signs in), which a fault's message
    /// is scrubbed of; else the endpoint's stored credential is.
    pub token: Option<Secret>,
}

mod encode;
pub mod piece;

use encode::Encoder;
pub use encode::{replay, ClientShape};

/// A live stream to the client.
struct Live {
    proxy: Arc<Proxy>,
    upstream: Arc<Upstream>,
    slot: Option<Slot>,
    events: EventStream,
    decoder: StreamDecoder,
    encoder: Encoder,
    queued: VecDeque<StreamItem>,
    recorder: Option<Recorder>,
    idle: Duration,
    hard_deadline: Option<Instant>,
    started: Instant,
    token: Option<Secret>,
    estimated_prompt: u64,
    estimated_tokens: u64,
    usage: Option<Usage>,
    text_chars: usize,
    /// The answer's text, kept only when the gateway logs payloads.
    text: Option<String>,
    /// The gateway's response guardrails and the request's placeholders (issue #24).
    guard: Option<StreamGuard>,
    /// A caching gateway's miss: the answer gathered for the cache (issue #24).
    keeping: Option<Keeping>,
    shutdown: watch::Receiver<bool>,
    finished: bool,
    _in_flight: InFlight,
}

impl Live {
    /// The usage to bill: the upstream's, or an estimate from what was streamed.
    fn usage(&self) -> Usage {
        self.usage.unwrap_or(Usage {
            prompt_tokens: self.estimated_prompt,
            completion_tokens: estimate_tokens(self.text_chars),
        })
    }

    fn note_usage(&mut self) {
        let usage = self.usage();
        if let Some(recorder) = &mut self.recorder {
            recorder.used(usage);
        }
    }

    fn take_text(&mut self, chunk: &Value) {
        for choice in chunk["choices"].as_array().into_iter().flatten() {
            let piece = choice
                .pointer("/delta/content")
                .or_else(|| choice.get("text"))
                .and_then(Value::as_str)
                .unwrap_or_default();
            self.add_text(piece);
        }
    }

    /// Text the client was sent: counted (the estimate when no usage comes), and kept when the
    /// answer is logged.
    fn add_text(&mut self, piece: &str) {
        self.text_chars += piece.chars().count();
        if let Some(text) = &mut self.text {
            text.push_str(piece);
        }
    }

    /// Ends the stream: the record is completed and the slot released.
    fn end(&mut self, error_class: Option<&str>) {
        self.finished = true;
        if error_class.is_some() {
            // Cut, failed or blocked: never kept, whatever was queued after.
            self.keeping = None;
        }
        self.note_usage();
        let (usage, _) = self.usage().bounded();
        let now = Instant::now();
        match error_class {
            None => self.proxy.balancer.succeeded(
                self.upstream.endpoint.id,
                self.started.elapsed(),
                self.estimated_tokens,
                usage.total(),
                now,
            ),
            // Neither is the endpoint's fault.
            Some("server_shutdown" | "content_policy_violation") => {}
            Some(_) => self.proxy.balancer.failed(&self.upstream, Fault::Breaker, now),
        }
        if let Some(mut recorder) = self.recorder.take() {
            if let Some(guard) = &mut self.guard {
                recorder.guardrails(guard.found.log_text());
            }
            if let Some(text) = self.text.take() {
                let text = match &mut self.guard {
                    Some(guard) => guard.logged(text),
                    None => text,
                };
                recorder.answered(text);
            }
            let latency_ms = i64::try_from(self.started.elapsed().as_millis()).unwrap_or(i64::MAX);
            recorder.stream_attempt_ended(latency_ms, error_class);
            recorder.finish(200, error_class);
        }
        self.slot = None;
    }

    /// What one item means for the client.
    fn handle(&mut self, item: StreamItem) -> Option<String> {
        match item {
            StreamItem::Chunk(mut chunk) => {
                if let Some(keeping) = &mut self.keeping {
                    keeping.chunk(&chunk);
                }
                if let Some(guard) = &mut self.guard {
                    if let Err(blocked) = guard.chunk(&mut chunk) {
                        return Some(self.blocked(blocked));
                    }
                }
                self.take_text(&chunk);
                self.note_usage();
                Some(self.encoder.chunk(&chunk))
            }
            StreamItem::Passed(passed) if self.guard.is_some() || self.keeping.is_some() => {
                self.handle(StreamItem::Chunk(passed.tree()))
            }
            StreamItem::Step(step) if self.guard.is_some() || self.keeping.is_some() => {
                self.handle(StreamItem::Chunk(step.tree()))
            }
            StreamItem::Step(step) => {
                if let Some(piece) = step.text() {
                    self.add_text(piece);
                }
                self.note_usage();
                Some(self.encoder.step(&step))
            }
            StreamItem::Passed(passed) => {
                self.add_text(&passed.text);
                self.note_usage();
                Some(self.encoder.passed(&passed))
            }
            // Never read by guardrails or kept: a request whose gateway has either is answered
            // through the chat path (`route::native`).
            StreamItem::Event(event) => {
                self.add_text(&event.text);
                self.note_usage();
                Some(self.encoder.event(event))
            }
            StreamItem::Usage(usage) => {
                self.usage = Some(usage);
                None
            }
            StreamItem::Done => {
                // What guardrails still hold of choices that never said they finished.
                let mut out = String::new();
                match self.guard.as_mut().map(StreamGuard::flush) {
                    Some(Err(blocked)) => return Some(self.blocked(blocked)),
                    Some(Ok(Some(chunk))) => {
                        self.take_text(&chunk);
                        out.push_str(&self.encoder.chunk(&chunk));
                    }
                    Some(Ok(None)) | None => {}
                }
                let usage = self.usage();
                if let Some(keeping) = self.keeping.take() {
                    let cost = self.recorder.as_ref().map_or(0, |recorder| recorder.priced(usage));
                    keeping.keep(&self.proxy.cache, usage, cost);
                }
                self.end(None);
                out.push_str(&self.encoder.done(usage));
                Some(out)
            }
        }
    }

    /// Ends a stream a guardrail blocks: an error event, no end of stream.
    fn blocked(&mut self, blocked: Blocked) -> String {
        tracing::info!(detector = blocked.detector, "answer blocked by a guardrail mid-stream");
        self.end(Some("content_policy_violation"));
        self.encoder.error("content_policy_violation", &blocked.message())
    }

    fn fail(&mut self, class: &str, message: &str) -> String {
        tracing::warn!(endpoint_id = self.upstream.endpoint.id.0, class, "stream ended early");
        self.end(Some(class));
        self.encoder.error(class, message)
    }

    /// The next bytes for the client, or `None` when the stream is over.
    async fn next(&mut self) -> Option<String> {
        loop {
            if let Some(item) = self.queued.pop_front() {
                if let Some(out) = self.handle(item) {
                    return Some(out);
                }
                continue;
            }
            if self.finished {
                return None;
            }
            let mut wait = Instant::now() + self.idle;
            if let Some(deadline) = self.hard_deadline {
                wait = wait.min(deadline);
            }
            let next = tokio::select! {
                next = tokio::time::timeout_at(wait.into(), self.events.next()) => Some(next),
                _ = self.shutdown.wait_for(|over| *over) => None,
            };
            let Some(next) = next else {
                return Some(self.fail("server_shutdown", "The gateway is shutting down; the stream was ended."));
            };
            match next {
                Err(_) if self.hard_deadline.is_some_and(|deadline| Instant::now() >= deadline) => {
                    return Some(self.fail(
                        "deadline_exceeded",
                        "The request's deadline passed; the stream was ended.",
                    ))
                }
                Err(_) => {
                    return Some(self.fail(
                        "stream_idle_timeout",
                        "The upstream stopped sending; the stream was ended.",
                    ))
                }
                Ok(Some(Err(SseError::TooLarge(limit)))) => {
                    return Some(self.fail(
                        "stream_event_too_large",
                        &format!("The upstream sent an event larger than {limit} bytes; the stream was ended."),
                    ))
                }
                Ok(None | Some(Err(SseError::Body(_)))) => {
                    return Some(self.fail(
                        "stream_cut",
                        "The upstream ended the stream early; the answer is incomplete.",
                    ))
                }
                Ok(Some(Err(SseError::Frame(reason)))) => return Some(self.fail("stream_error", &reason)),
                Ok(Some(Ok(event))) => match self.decoder.event(&event.event, event.data) {
                    Ok(items) => self.queued.extend(items),
                    Err(fault) => {
                        let credential = match (&self.token, &self.upstream.credential) {
                            (Some(token), _) => Some(token.expose()),
                            (None, Credential::Ready(secret)) => Some(secret.expose()),
                            (None, Credential::None | Credential::Unreadable) => None,
                        };
                        let fault = fault.redacted(credential);
                        return Some(self.fail("stream_error", fault.message()));
                    }
                },
            }
        }
    }
}

/// What a stream needs besides its start.
pub struct StreamContext {
    pub shape: ClientShape,
    /// The upstream is OpenAI's own Responses API, and the client speaks it: its events pass.
    pub native: bool,
    pub wants_usage: bool,
    pub estimated_prompt: u64,
    pub estimated_tokens: u64,
    pub log_payloads: bool,
    /// The request's place among those in flight, held until the stream ends.
    pub in_flight: InFlight,
    /// The response guardrails, when the gateway has any (or placeholders to put back).
    pub guard: Option<StreamGuard>,
    /// A caching gateway's miss: its answer is gathered and kept when the stream ends properly.
    pub keeping: Option<Keeping>,
}

/// The response body for a started stream; it owns the request's record from here on.
pub fn body(proxy: Arc<Proxy>, started: Started, context: StreamContext, recorder: Recorder) -> Body {
    let encoder = Encoder::new(context.shape, context.wants_usage, context.native);
    let shutdown = proxy.grace_over.subscribe();
    let live = Live {
        proxy,
        upstream: started.upstream,
        slot: Some(started.slot),
        events: started.events,
        decoder: started.decoder,
        encoder,
        queued: started.first.into(),
        recorder: Some(recorder),
        idle: started.idle,
        hard_deadline: started.hard_deadline,
        started: started.started,
        token: started.token,
        estimated_prompt: context.estimated_prompt,
        estimated_tokens: context.estimated_tokens,
        usage: None,
        text_chars: 0,
        text: context.log_payloads.then(String::new),
        guard: context.guard,
        keeping: context.keeping,
        shutdown,
        finished: false,
        _in_flight: context.in_flight,
    };
    let events = futures_util::stream::unfold(live, |mut live| async move {
        let out = live.next().await?;
        Some((out, live))
    });
    Body::from_stream(Batched {
        events: Box::pin(events),
        held: String::new(),
        yields: 0,
        over: false,
    })
}

/// The yields in vain after which a batch goes out.
const MAX_YIELDS: u8 = 4;

/// The most a batch holds before it goes out whatever comes next.
const MAX_BATCH_BYTES: usize = 16 * 1024;

/// The client's events in as few writes as the upstream allows (issue #26): an upstream's
/// events come one per task switch, and each one the body gives on its own is one `writev`.
/// When the next event is not there yet, the body yields — the task that reads the upstream
/// runs, and usually has the next event — and sends what it holds only after [`MAX_YIELDS`]
/// yields in a row brought nothing (one was not enough: measured, still one write per
/// event), so an upstream that pauses (a model thinking) delays an event by at most that many
/// turns of the scheduler's queue.
struct Batched<S> {
    events: std::pin::Pin<Box<S>>,
    held: String,
    /// Yields since the last event, all of them in vain.
    yields: u8,
    over: bool,
}

impl<S: futures_util::Stream<Item = String>> futures_util::Stream for Batched<S> {
    type Item = Result<Bytes, std::convert::Infallible>;

    fn poll_next(
        mut self: std::pin::Pin<&mut Self>,
        cx: &mut std::task::Context<'_>,
    ) -> std::task::Poll<Option<Self::Item>> {
        use std::{future::Future, task::Poll};
        let this = &mut *self;
        loop {
            if this.over {
                return match this.held.is_empty() {
                    true => Poll::Ready(None),
                    false => Poll::Ready(Some(Ok(Bytes::from(std::mem::take(&mut this.held))))),
                };
            }
            match this.events.as_mut().poll_next(cx) {
                Poll::Ready(Some(out)) => {
                    this.yields = 0;
                    match this.held.is_empty() {
                        true => this.held = out,
                        false => this.held.push_str(&out),
                    }
                    if this.held.len() >= MAX_BATCH_BYTES {
                        return Poll::Ready(Some(Ok(Bytes::from(std::mem::take(&mut this.held)))));
                    }
                }
                Poll::Ready(None) => this.over = true,
                Poll::Pending if this.held.is_empty() => return Poll::Pending,
                Poll::Pending if this.yields < MAX_YIELDS => {
                    this.yields += 1;
                    // To the back of the run queue: a plain wake would run this task again
                    // before the upstream's (tokio's LIFO slot), which is what must run.
                    let mut yielding = std::pin::pin!(tokio::task::yield_now());
                    let _ = yielding.as_mut().poll(cx);
                    return Poll::Pending;
                }
                Poll::Pending => {
                    this.yields = 0;
                    return Poll::Ready(Some(Ok(Bytes::from(std::mem::take(&mut this.held)))));
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn batched<S: futures_util::Stream<Item = String>>(events: S) -> Batched<S> {
        Batched {
            events: Box::pin(events),
            held: String::new(),
            yields: 0,
            over: false,
        }
    }

    /// Events sent by hand, and the stream of them.
    fn channel() -> (
        tokio::sync::mpsc::UnboundedSender<String>,
        impl futures_util::Stream<Item = String>,
    ) {
        let (sender, receiver) = tokio::sync::mpsc::unbounded_channel::<String>();
        let events = futures_util::stream::unfold(receiver, |mut receiver| async move {
            receiver.recv().await.map(|event| (event, receiver))
        });
        (sender, events)
    }

    #[tokio::test]
    async fn events_already_there_go_out_in_one_write_and_later_ones_in_another() {
        let (sender, events) = channel();
        let mut body = batched(events);
        for event in ["data: 1\n\n", "data: 2\n\n", "data: 3\n\n"] {
            sender.send(event.to_string()).unwrap();
        }
        let first = body.next().await.unwrap().unwrap();
        assert_eq!(first, "data: 1\n\ndata: 2\n\ndata: 3\n\n");
        sender.send("data: [DONE]\n\n".into()).unwrap();
        drop(sender);
        assert_eq!(body.next().await.unwrap().unwrap(), "data: [DONE]\n\n");
        assert!(body.next().await.is_none());
    }

    #[tokio::test]
    async fn an_upstream_that_pauses_does_not_hold_back_what_came_before() {
        let (sender, events) = channel();
        let mut body = batched(events);
        sender.send("data: 1\n\n".into()).unwrap();
        // The sender stays open and silent: the held event goes out after a few yields.
        let first = tokio::time::timeout(Duration::from_secs(5), body.next()).await;
        assert_eq!(first.unwrap().unwrap().unwrap(), "data: 1\n\n");
        drop(sender);
    }

    #[tokio::test]
    async fn a_batch_goes_out_when_it_reaches_its_limit() {
        let event = format!("data: {}\n\n", "x".repeat(1000));
        let events: Vec<String> = std::iter::repeat_n(event.clone(), 40).collect();
        let mut body = batched(futures_util::stream::iter(events));
        let mut sizes = Vec::new();
        while let Some(out) = body.next().await {
            sizes.push(out.unwrap().len());
        }
        assert!(sizes.len() >= 3, "{sizes:?}");
        assert!(
            sizes[..sizes.len() - 1].iter().all(|size| *size >= MAX_BATCH_BYTES),
            "{sizes:?}"
        );
        assert_eq!(sizes.iter().sum::<usize>(), 40 * event.len());
    }
}
