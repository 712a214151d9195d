//! A scriptable mock upstream on `127.0.0.1:0`, speaking the dialects the gateway calls:
//! OpenAI (chat JSON and SSE, legacy completions, embeddings, models, moderations, the Responses
//! API; also what Ollama and other OpenAI-compatible servers speak), Azure OpenAI deployment paths, Anthropic
//! Messages (JSON and SSE events), Gemini (`generateContent`, its SSE stream, batch
//! embeddings) and Vertex AI (Gemini's, `:predict` embeddings, and a service account's token
//! exchange at any path ending `/token`), and the AWS credential services of an instance and a
//! container. Tests queue a [`Behaviour`] per request to inject every
//! failure class of RELIABILITY §4.1, and read the counters and the recorded requests.
//!
//! Invariant: it serves loopback only, and every behaviour ends (hangs and stalls are bounded
//! by the test that asks for them, or by the client going away).
//! Does not: check credentials; tests assert on what it recorded instead.

mod aws;
mod dialect;
mod responses;

use axum::{
    body::{Body, Bytes},
    extract::{Request, State},
    http::{HeaderMap, StatusCode},
    response::{IntoResponse, Response},
    Router,
};
use dialect::Dialect;
use futures_util::stream;
use serde_json::Value;
use std::{
    collections::VecDeque,
    net::SocketAddr,
    sync::{
        atomic::{AtomicI64, AtomicU64, Ordering},
        Arc, Mutex,
    },
    time::{Duration, Instant},
};

/// Token counts the mock reports as usage.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Usage {
    pub prompt: u32,
    pub completion: u32,
}

impl Default for Usage {
    fn default() -> Self {
        Usage {
            prompt: 10,
            completion: 5,
        }
    }
}

/// What the mock does with one request (RELIABILITY §4, harness).
#[derive(Clone, Debug, PartialEq)]
pub enum Behaviour {
    /// Answer in the request's dialect, streamed when the request asks, with `chunks` content
    /// chunks and this usage.
    Answer { usage: Usage, chunks: usize },
    /// Answer with this status, headers and body (e.g. 429 with `Retry-After`).
    Status {
        status: u16,
        headers: Vec<(String, String)>,
        body: String,
    },
    /// Send nothing for this long, then answer normally.
    HangBeforeHeaders(Duration),
    /// Answer normally, but trickle the body at this rate.
    SlowBody { bytes_per_second: u32 },
    /// A 200 whose JSON body is cut short.
    Malformed,
    /// A stream with faults: end without the final event after `cut_after` chunks, stop
    /// sending after `stall_after` chunks, or send an error event at chunk `error_at`.
    Sse {
        chunks: usize,
        cut_after: Option<usize>,
        stall_after: Option<usize>,
        error_at: Option<usize>,
    },
}

impl Default for Behaviour {
    fn default() -> Self {
        Behaviour::Answer {
            usage: Usage::default(),
            chunks: 3,
        }
    }
}

/// One request as the mock received it.
#[derive(Clone, Debug)]
pub struct Recorded {
    pub method: String,
    /// The path with its query.
    pub path: String,
    /// Header names lower-case.
    pub headers: Vec<(String, String)>,
    pub body: Option<Value>,
}

impl Recorded {
    /// The value of a header, if sent.
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(n, _)| n.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
    }
}

#[derive(Default)]
struct Shared {
    script: Mutex<VecDeque<Behaviour>>,
    fallback: Mutex<Behaviour>,
    requests_received: AtomicU64,
    connections_open: AtomicI64,
    connections_closed: Mutex<Vec<Instant>>,
    recorded: Mutex<VecDeque<Recorded>>,
    /// The gap between a stream's events, in microseconds.
    chunk_gap_us: AtomicU64,
    /// Access tokens issued at `…/token`, and their lifetime in milliseconds (0: an hour).
    tokens_issued: AtomicU64,
    token_lifetime_ms: AtomicU64,
    /// Whether `…/token` refuses every assertion (`invalid_grant`).
    refuse_tokens: std::sync::atomic::AtomicBool,
    /// How long the instance metadata service and the container endpoint take to answer, in
    /// milliseconds.
    credentials_delay_ms: AtomicU64,
    /// The last assertion `…/token` was given, or authorization a container's credentials
    /// endpoint was sent.
    last_assertion: Mutex<Option<String>>,
}

/// The gap between a stream's events unless set otherwise, as real upstreams have one.
const CHUNK_GAP: Duration = Duration::from_millis(2);

/// How many requests the mock remembers.
const RECORDED: usize = 100;

fn lock<T>(mutex: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    mutex.lock().unwrap_or_else(|poisoned| poisoned.into_inner())
}

/// A running mock upstream; stops when dropped.
pub struct MockUpstream {
    addr: SocketAddr,
    shared: Arc<Shared>,
    task: tokio::task::JoinHandle<()>,
}

impl Drop for MockUpstream {
    fn drop(&mut self) {
        self.task.abort();
    }
}

impl MockUpstream {
    /// Starts a mock on a free loopback port.
    pub async fn start() -> std::io::Result<MockUpstream> {
        Self::bind("127.0.0.1:0".parse().map_err(std::io::Error::other)?).await
    }

    /// Starts a mock on `addr`.
    pub async fn bind(addr: SocketAddr) -> std::io::Result<MockUpstream> {
        let listener = tokio::net::TcpListener::bind(addr).await?;
        let addr = listener.local_addr()?;
        let shared = Arc::new(Shared::default());
        shared
            .chunk_gap_us
            .store(CHUNK_GAP.as_micros() as u64, Ordering::Relaxed);
        let app = Router::new().fallback(handle).with_state(shared.clone());
        let counting = CountingListener {
            inner: listener,
            shared: shared.clone(),
        };
        let task = tokio::spawn(async move {
            let _ = axum::serve(counting, app).await;
        });
        Ok(MockUpstream { addr, shared, task })
    }

    /// The mock's address.
    pub fn addr(&self) -> SocketAddr {
        self.addr
    }

    /// `http://127.0.0.1:PORT`.
    pub fn url(&self) -> String {
        format!("http://{}", self.addr)
    }

    /// Queues a behaviour for the next request that finds the queue non-empty.
    pub fn push(&self, behaviour: Behaviour) {
        lock(&self.shared.script).push_back(behaviour);
    }

    /// What requests do once the queue is empty (by default, answer normally).
    pub fn set_fallback(&self, behaviour: Behaviour) {
        *lock(&self.shared.fallback) = behaviour;
    }

    /// The gap between a stream's events (2 ms unless set; zero sends them back to back).
    pub fn set_chunk_gap(&self, gap: Duration) {
        let micros = u64::try_from(gap.as_micros()).unwrap_or(u64::MAX);
        self.shared.chunk_gap_us.store(micros, Ordering::Relaxed);
    }

    /// How long the access tokens issued from now on say they live (`expires_in`: whole
    /// seconds, rounded up; an hour unless set).
    pub fn set_token_lifetime(&self, lifetime: Duration) {
        let millis = u64::try_from(lifetime.as_millis()).unwrap_or(u64::MAX);
        self.shared.token_lifetime_ms.store(millis, Ordering::Relaxed);
    }

    /// How long the instance metadata service and the container credentials endpoint take to
    /// answer each call from now on (a slow host service).
    pub fn set_credentials_delay(&self, delay: Duration) {
        let millis = u64::try_from(delay.as_millis()).unwrap_or(u64::MAX);
        self.shared.credentials_delay_ms.store(millis, Ordering::Relaxed);
    }

    /// Whether `…/token` refuses every assertion from now on.
    pub fn refuse_tokens(&self, refuse: bool) {
        self.shared.refuse_tokens.store(refuse, Ordering::Relaxed);
    }

    /// The last signed assertion a token was asked for with, or the last authorization a
    /// container's credentials endpoint was asked with.
    pub fn last_assertion(&self) -> Option<String> {
        lock(&self.shared.last_assertion).clone()
    }

    /// Access tokens issued so far (`ya29.mock-1`, `ya29.mock-2`, … in order).
    pub fn tokens_issued(&self) -> u64 {
        self.shared.tokens_issued.load(Ordering::SeqCst)
    }

    /// Requests received so far.
    pub fn requests_received(&self) -> u64 {
        self.shared.requests_received.load(Ordering::SeqCst)
    }

    /// TCP connections open now.
    pub fn connections_open(&self) -> i64 {
        self.shared.connections_open.load(Ordering::SeqCst)
    }

    /// When connections closed, in order.
    pub fn connections_closed(&self) -> Vec<Instant> {
        lock(&self.shared.connections_closed).clone()
    }

    /// The last requests received, oldest first.
    pub fn recorded(&self) -> Vec<Recorded> {
        lock(&self.shared.recorded).iter().cloned().collect()
    }
}

/// A key file for tests: the RSA key of the JWT fixtures, its token exchanged at `token_uri`.
pub fn service_account_key(token_uri: &str, project: &str) -> String {
    serde_json::json!({
        "type": "service_account",
        "project_id": project,
        "private_key_id": "test-key-1",
        "private_key": include_str!("../../tests/fixtures/jwt/rsa-a.pem"),
        "client_email": "gateway@test-project.iam.gserviceaccount.com",
        "token_uri": token_uri,
    })
    .to_string()
}

/// An address where nothing listens (the `Refuse` behaviour: connections are refused).
pub async fn refusing_addr() -> std::io::Result<SocketAddr> {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await?;
    listener.local_addr()
}

/// Counts connections as they open and close.
struct CountingListener {
    inner: tokio::net::TcpListener,
    shared: Arc<Shared>,
}

impl axum::serve::Listener for CountingListener {
    type Io = CountedStream;
    type Addr = SocketAddr;

    async fn accept(&mut self) -> (Self::Io, Self::Addr) {
        let (stream, addr) = axum::serve::Listener::accept(&mut self.inner).await;
        // Events leave when written, as a real provider's do.
        let _ = stream.set_nodelay(true);
        self.shared.connections_open.fetch_add(1, Ordering::SeqCst);
        (
            CountedStream {
                inner: stream,
                shared: self.shared.clone(),
            },
            addr,
        )
    }

    fn local_addr(&self) -> std::io::Result<Self::Addr> {
        self.inner.local_addr()
    }
}

/// A connection that reports its closing.
struct CountedStream {
    inner: tokio::net::TcpStream,
    shared: Arc<Shared>,
}

impl Drop for CountedStream {
    fn drop(&mut self) {
        self.shared.connections_open.fetch_sub(1, Ordering::SeqCst);
        lock(&self.shared.connections_closed).push(Instant::now());
    }
}

impl tokio::io::AsyncRead for CountedStream {
    fn poll_read(
        mut self: std::pin::Pin<&mut Self>,
        cx: &mut std::task::Context<'_>,
        buf: &mut tokio::io::ReadBuf<'_>,
    ) -> std::task::Poll<std::io::Result<()>> {
        std::pin::Pin::new(&mut self.inner).poll_read(cx, buf)
    }
}

impl tokio::io::AsyncWrite for CountedStream {
    fn poll_write(
        mut self: std::pin::Pin<&mut Self>,
        cx: &mut std::task::Context<'_>,
        buf: &[u8],
    ) -> std::task::Poll<std::io::Result<usize>> {
        std::pin::Pin::new(&mut self.inner).poll_write(cx, buf)
    }

    fn poll_flush(
        mut self: std::pin::Pin<&mut Self>,
        cx: &mut std::task::Context<'_>,
    ) -> std::task::Poll<std::io::Result<()>> {
        std::pin::Pin::new(&mut self.inner).poll_flush(cx)
    }

    fn poll_shutdown(
        mut self: std::pin::Pin<&mut Self>,
        cx: &mut std::task::Context<'_>,
    ) -> std::task::Poll<std::io::Result<()>> {
        std::pin::Pin::new(&mut self.inner).poll_shutdown(cx)
    }
}

/// Header knobs for the binary and for load tests: `x-mock-latency-ms` waits before
/// answering, `x-mock-status` answers with that status.
fn behaviour_from_headers(headers: &HeaderMap) -> Option<Behaviour> {
    let number = |name| {
        headers
            .get(name)
            .and_then(|v| v.to_str().ok())
            .and_then(|v| v.parse::<u64>().ok())
    };
    if let Some(status) = number("x-mock-status").and_then(|s| u16::try_from(s).ok()) {
        let body =
            format!(r#"{{"error":{{"message":"mock status {status}","type":"mock_error","param":null,"code":null}}}}"#);
        return Some(Behaviour::Status {
            status,
            headers: vec![],
            body,
        });
    }
    number("x-mock-latency-ms").map(|ms| Behaviour::HangBeforeHeaders(Duration::from_millis(ms)))
}

async fn handle(State(shared): State<Arc<Shared>>, request: Request) -> Response {
    let (parts, body) = request.into_parts();
    let bytes = axum::body::to_bytes(body, 16 * 1024 * 1024).await.unwrap_or_default();
    if let Some(answer) = aws::answer(&shared, &parts.method, parts.uri.path(), &parts.headers) {
        let delay = shared.credentials_delay_ms.load(Ordering::Relaxed);
        tokio::time::sleep(Duration::from_millis(delay)).await;
        return answer;
    }
    if parts.uri.path().ends_with("/token") {
        // A token exchange is not a call: neither counted nor recorded with them.
        let assertion = url::form_urlencoded::parse(&bytes).find(|(name, _)| name == "assertion");
        *lock(&shared.last_assertion) = assertion.map(|(_, value)| value.into_owned());
        return token(&shared);
    }
    shared.requests_received.fetch_add(1, Ordering::SeqCst);
    let json: Option<Value> = serde_json::from_slice(&bytes).ok();
    let path = parts
        .uri
        .path_and_query()
        .map_or_else(|| parts.uri.path().to_string(), |pq| pq.as_str().to_string());
    {
        let mut recorded = lock(&shared.recorded);
        if recorded.len() == RECORDED {
            recorded.pop_front();
        }
        recorded.push_back(Recorded {
            method: parts.method.to_string(),
            path: path.clone(),
            headers: parts
                .headers
                .iter()
                .map(|(n, v)| {
                    (
                        n.as_str().to_string(),
                        String::from_utf8_lossy(v.as_bytes()).into_owned(),
                    )
                })
                .collect(),
            body: json.clone(),
        });
    }
    let behaviour = lock(&shared.script)
        .pop_front()
        .or_else(|| behaviour_from_headers(&parts.headers))
        .unwrap_or_else(|| lock(&shared.fallback).clone());
    let Some(dialect) = Dialect::of(parts.uri.path()) else {
        return (StatusCode::NOT_FOUND, "the mock does not serve this path").into_response();
    };
    let request = dialect.read(parts.uri.path(), json.unwrap_or(Value::Null));
    let gap = Duration::from_micros(shared.chunk_gap_us.load(Ordering::Relaxed));
    match behaviour {
        Behaviour::Answer { usage, chunks } => dialect.answer(&request, usage, chunks, gap, None),
        Behaviour::Status { status, headers, body } => {
            let mut response = (
                StatusCode::from_u16(status).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR),
                body,
            )
                .into_response();
            response
                .headers_mut()
                .insert("content-type", axum::http::HeaderValue::from_static("application/json"));
            for (name, value) in headers {
                if let (Ok(name), Ok(value)) = (name.parse::<axum::http::HeaderName>(), value.parse()) {
                    response.headers_mut().insert(name, value);
                }
            }
            response
        }
        Behaviour::HangBeforeHeaders(duration) => {
            tokio::time::sleep(duration).await;
            dialect.answer(&request, Usage::default(), 3, gap, None)
        }
        Behaviour::SlowBody { bytes_per_second } => {
            let body = dialect.json_body(&request, Usage::default());
            let step = Duration::from_secs(1) / bytes_per_second.max(1);
            let pieces = stream::unfold((body.into_bytes(), 0usize), move |(bytes, at)| async move {
                if at >= bytes.len() {
                    return None;
                }
                tokio::time::sleep(step).await;
                Some((
                    Ok::<_, std::io::Error>(Bytes::copy_from_slice(&bytes[at..at + 1])),
                    (bytes, at + 1),
                ))
            });
            let mut response = Response::new(Body::from_stream(pieces));
            response
                .headers_mut()
                .insert("content-type", axum::http::HeaderValue::from_static("application/json"));
            response
        }
        Behaviour::Malformed => {
            let body = dialect.json_body(&request, Usage::default());
            let cut = &body[..body.len() / 2];
            ([("content-type", "application/json")], cut.to_string()).into_response()
        }
        Behaviour::Sse {
            chunks,
            cut_after,
            stall_after,
            error_at,
        } => dialect.answer(
            &request,
            Usage::default(),
            chunks,
            gap,
            Some(dialect::Faults {
                cut_after,
                stall_after,
                error_at,
            }),
        ),
    }
}

/// An OAuth token endpoint (Google's, for service accounts): a new bearer token each time,
/// the scripted behaviours left for the calls that use it.
fn token(shared: &Shared) -> Response {
    if shared.refuse_tokens.load(Ordering::Relaxed) {
        let body = r#"{"error":"invalid_grant","error_description":"Invalid JWT Signature."}"#;
        return (StatusCode::BAD_REQUEST, [("content-type", "application/json")], body).into_response();
    }
    let issued = shared.tokens_issued.fetch_add(1, Ordering::SeqCst) + 1;
    let lifetime_ms = match shared.token_lifetime_ms.load(Ordering::Relaxed) {
        0 => 3_600_000,
        ms => ms,
    };
    let body = serde_json::json!({
        "access_token": format!("ya29.mock-{issued}"),
        "expires_in": lifetime_ms.div_ceil(1000),
        "token_type": "Bearer",
    });
    ([("content-type", "application/json")], body.to_string()).into_response()
}
