//! RELIABILITY §4.1 fault injection through the real server: failover, cooldowns, retries,
//! timeouts, the commit point, cancellation and draining. Each test reports its figure as
//! `METRIC name=value`.

use crate::rig::{chat, data_lines, endpoint, metric, quick, Rig};
use app::types::{ProviderKind, Strategy};
use futures_util::StreamExt;
use serde_json::Value;
use server::{
    config::DatabaseConfig,
    store::Store,
    testing::{refusing_addr, Behaviour, MockUpstream, Usage},
};
use std::time::{Duration, Instant};

fn status(code: u16, headers: &[(&str, &str)]) -> Behaviour {
    Behaviour::Status {
        status: code,
        headers: headers.iter().map(|(n, v)| (n.to_string(), v.to_string())).collect(),
        body: format!(r#"{{"error":{{"message":"mock {code}","type":"mock","param":null,"code":null}}}}"#),
    }
}

async fn two(a: &str, b: &str, edit: impl FnOnce(&mut app::types::NewGateway)) -> Rig {
    Rig::start(
        quick,
        vec![
            endpoint("a", ProviderKind::OpenAi, a),
            endpoint("b", ProviderKind::OpenAi, b),
        ],
        edit,
    )
    .await
}

/// Waits up to `limit` for the mock to have no open connection; returns how long it took.
async fn upstream_closed(mock: &MockUpstream, limit: Duration) -> Duration {
    let start = Instant::now();
    while mock.connections_open() > 0 {
        assert!(start.elapsed() < limit, "the upstream connection is still open");
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
    start.elapsed()
}

async fn error_code(response: reqwest::Response) -> String {
    let body: Value = response.json().await.unwrap();
    for field in ["message", "type", "param", "code"] {
        assert!(body["error"].get(field).is_some(), "OpenAI error shape: {body}");
    }
    body["error"]["code"].as_str().unwrap_or_default().to_string()
}

#[tokio::test]
async fn f01_a_refused_connection_fails_over_at_once() {
    let refused = format!("http://{}", refusing_addr().await.unwrap());
    let b = MockUpstream::start().await.unwrap();
    let rig = two(&refused, &b.url(), |_| {}).await;
    let started = Instant::now();
    let response = rig.post("/v1/chat/completions", &chat(false)).await;
    metric("f01_failover_latency_ms", started.elapsed().as_millis());
    assert_eq!(response.status(), 200);
    assert_eq!(response.headers()["x-mgw-endpoint"], "b");
    let log = &rig.logs(1).await[0];
    let classes: Vec<_> = log.attempts.iter().map(|a| a.error_class.clone()).collect();
    assert_eq!(classes, [Some("connect_error".to_string()), None]);
    metric("f01_attempts", log.attempts.len());
}

#[tokio::test]
async fn f02_a_hung_upstream_times_out_and_fails_over() {
    let a = MockUpstream::start().await.unwrap();
    a.push(Behaviour::HangBeforeHeaders(Duration::from_secs(10)));
    let b = MockUpstream::start().await.unwrap();
    let rig = two(&a.url(), &b.url(), |_| {}).await;
    let started = Instant::now();
    let response = rig.post("/v1/chat/completions", &chat(false)).await;
    let took = started.elapsed();
    metric("f02_time_to_success_ms", took.as_millis());
    assert_eq!(response.status(), 200);
    assert_eq!(response.headers()["x-mgw-endpoint"], "b");
    assert!(took < Duration::from_secs(1), "{took:?}");
    upstream_closed(&a, Duration::from_secs(1)).await;
}

#[tokio::test]
async fn f03_a_rate_limited_endpoint_cools_down_for_its_retry_after() {
    let a = MockUpstream::start().await.unwrap();
    a.push(status(429, &[("retry-after", "1")]));
    let b = MockUpstream::start().await.unwrap();
    let rig = two(&a.url(), &b.url(), |_| {}).await;
    for _ in 0..5 {
        let response = rig.post("/v1/chat/completions", &chat(false)).await;
        assert_eq!(response.status(), 200);
        assert_eq!(response.headers()["x-mgw-endpoint"], "b");
    }
    metric("f03_calls_to_a_during_cooldown", a.requests_received() - 1);
    assert_eq!(
        a.requests_received(),
        1,
        "A is skipped while it cools down, not hammered"
    );
    tokio::time::sleep(Duration::from_millis(1100)).await;
    let response = rig.post("/v1/chat/completions", &chat(false)).await;
    assert_eq!(
        response.headers()["x-mgw-endpoint"],
        "a",
        "the cooldown ends on its own"
    );
}

#[tokio::test]
async fn f04_a_long_retry_after_is_passed_to_the_client() {
    let a = MockUpstream::start().await.unwrap();
    a.push(status(429, &[("retry-after", "120")]));
    let rig = Rig::openai(&a).await;
    let response = rig.post("/v1/chat/completions", &chat(false)).await;
    metric("f04_status", response.status().as_u16());
    metric("f04_upstream_calls", a.requests_received());
    assert_eq!(response.status(), 429);
    assert_eq!(response.headers()["retry-after"], "120");
    assert_eq!(error_code(response).await, "rate_limit_exceeded");
    assert_eq!(a.requests_received(), 1);
}

#[tokio::test]
async fn f05_server_errors_are_retried_with_backoff() {
    let a = MockUpstream::start().await.unwrap();
    a.push(status(503, &[]));
    a.push(status(503, &[]));
    let rig = Rig::openai(&a).await;
    let started = Instant::now();
    let response = rig.post("/v1/chat/completions", &chat(false)).await;
    let took = started.elapsed();
    assert_eq!(response.status(), 200);
    assert_eq!(a.requests_received(), 3);
    let log = &rig.logs(1).await[0];
    metric("f05_attempts", log.attempts.len());
    let busy: i64 = log.attempts.iter().map(|a| a.latency_ms).sum();
    let backoff = took.as_millis() as i64 - busy;
    metric("f05_total_backoff_ms", backoff);
    assert_eq!(log.attempts.len(), 3);
    // Retry 1 waits up to 100 ms, retry 2 up to 200 ms (full jitter); the margin is for a busy
    // machine, far below the 2 s cap a wrong exponent would reach.
    assert!(backoff <= 300 + 500, "{backoff} ms");
}

#[tokio::test]
async fn f06_when_everything_fails_the_client_gets_one_clear_error() {
    let a = MockUpstream::start().await.unwrap();
    a.set_fallback(status(500, &[]));
    let b = MockUpstream::start().await.unwrap();
    b.set_fallback(status(500, &[]));
    let rig = two(&a.url(), &b.url(), |_| {}).await;
    let response = rig.post("/v1/chat/completions", &chat(false)).await;
    assert_eq!(response.status(), 502);
    assert_eq!(error_code(response).await, "upstream_error");
    let attempts = a.requests_received() + b.requests_received();
    metric("f06_attempts", attempts);
    assert_eq!(attempts, 3, "at most 3 attempts in all");
    let log = &rig.logs(1).await[0];
    assert_eq!(log.status, 502);
    assert_eq!(log.error_class.as_deref(), Some("upstream_error"));
}

#[tokio::test]
async fn f07_a_malformed_answer_is_retried_once_then_502() {
    let a = MockUpstream::start().await.unwrap();
    a.set_fallback(Behaviour::Malformed);
    let rig = Rig::openai(&a).await;
    let response = rig.post("/v1/chat/completions", &chat(false)).await;
    metric("f07_status", response.status().as_u16());
    metric("f07_attempts", a.requests_received());
    assert_eq!(response.status(), 502);
    assert_eq!(error_code(response).await, "upstream_invalid_response");
    assert_eq!(a.requests_received(), 2);
}

#[tokio::test]
async fn f08_a_trickling_body_ends_in_504_at_the_deadline() {
    let a = MockUpstream::start().await.unwrap();
    a.set_fallback(Behaviour::SlowBody { bytes_per_second: 10 });
    let rig = Rig::start(quick, vec![endpoint("a", ProviderKind::OpenAi, &a.url())], |g| {
        g.deadline_ms = Some(1000);
    })
    .await;
    let started = Instant::now();
    let response = rig.post("/v1/chat/completions", &chat(false)).await;
    let took = started.elapsed();
    metric("f08_time_to_504_ms", took.as_millis());
    assert_eq!(response.status(), 504);
    assert!(took < Duration::from_millis(1200), "{took:?}");
    assert_eq!(error_code(response).await, "upstream_timeout");
}

#[tokio::test]
async fn f09_an_error_before_the_first_chunk_fails_over_invisibly() {
    let a = MockUpstream::start().await.unwrap();
    a.push(Behaviour::Sse {
        chunks: 3,
        cut_after: None,
        stall_after: None,
        error_at: Some(0),
    });
    let b = MockUpstream::start().await.unwrap();
    let rig = two(&a.url(), &b.url(), |_| {}).await;
    let response = rig.post("/v1/chat/completions", &chat(true)).await;
    assert_eq!(response.status(), 200);
    assert_eq!(response.headers()["x-mgw-endpoint"], "b");
    let text = response.text().await.unwrap();
    let from_a = text.matches("mock upstream error").count();
    metric("f09_bytes_from_a", if from_a == 0 { 0 } else { text.len() });
    assert_eq!(from_a, 0);
    assert_eq!(data_lines(&text).last(), Some(&"[DONE]"));
    assert_eq!(a.requests_received(), 1);
}

#[tokio::test]
async fn f10_a_stream_cut_after_the_commit_point_ends_with_an_error_and_no_done() {
    let a = MockUpstream::start().await.unwrap();
    a.push(Behaviour::Sse {
        chunks: 10,
        cut_after: Some(5),
        stall_after: None,
        error_at: None,
    });
    let b = MockUpstream::start().await.unwrap();
    let rig = two(&a.url(), &b.url(), |_| {}).await;
    let text = rig
        .post("/v1/chat/completions", &chat(true))
        .await
        .text()
        .await
        .unwrap();
    let data = data_lines(&text);
    assert_eq!(data.len(), 6, "5 chunks and an error: {text}");
    assert!(
        data[5].contains(r#""error""#) && data[5].contains("stream_cut"),
        "{text}"
    );
    assert!(!text.contains("[DONE]"));
    metric("f10_upstream_calls", a.requests_received() + b.requests_received());
    assert_eq!(
        (a.requests_received(), b.requests_received()),
        (1, 0),
        "no retry after the commit point"
    );
    let log = &rig.logs(1).await[0];
    metric("f10_billed_tokens", log.completion_tokens);
    assert_eq!(log.error_class.as_deref(), Some("stream_cut"));
    // "word0 word1 word2 word3 " streamed: 24 characters, about 6 tokens.
    assert_eq!(log.completion_tokens, 6);
}

#[tokio::test]
async fn f11_a_stalled_stream_ends_after_the_idle_timeout() {
    let a = MockUpstream::start().await.unwrap();
    a.push(Behaviour::Sse {
        chunks: 10,
        cut_after: None,
        stall_after: Some(3),
        error_at: None,
    });
    let rig = Rig::openai(&a).await;
    let started = Instant::now();
    let response = rig.post("/v1/chat/completions", &chat(true)).await;
    let text = response.text().await.unwrap();
    let took = started.elapsed();
    metric("f11_stall_detect_ms", took.as_millis());
    assert!(
        text.contains("stream_idle_timeout") && !text.contains("[DONE]"),
        "{text}"
    );
    assert!(
        took >= Duration::from_millis(500) && took < Duration::from_millis(1500),
        "{took:?}"
    );
    upstream_closed(&a, Duration::from_secs(1)).await;
}

#[tokio::test]
async fn f12_a_client_leaving_mid_stream_closes_the_upstream() {
    let a = MockUpstream::start().await.unwrap();
    a.push(Behaviour::Sse {
        chunks: 10,
        cut_after: None,
        stall_after: Some(4),
        error_at: None,
    });
    let rig = Rig::start(
        |config| {
            quick(config);
            config.proxy.idle_timeout = Duration::from_secs(30);
        },
        vec![endpoint("a", ProviderKind::OpenAi, &a.url())],
        |_| {},
    )
    .await;
    let response = rig.post("/v1/chat/completions", &chat(true)).await;
    let mut body = response.bytes_stream();
    let mut seen = String::new();
    while data_lines(&seen).len() < 3 {
        seen.push_str(std::str::from_utf8(&body.next().await.unwrap().unwrap()).unwrap());
    }
    drop(body);
    let delay = upstream_closed(&a, Duration::from_secs(1)).await;
    metric("f12_upstream_close_delay_ms", delay.as_millis());
    let log = &rig.logs(1).await[0];
    assert_eq!(log.status, 499);
    assert_eq!(log.error_class.as_deref(), Some("client_disconnected"));
    assert!(log.completion_tokens > 0, "partial usage is recorded");
    assert_eq!(
        rig.server.state.proxy.in_flight(),
        0,
        "the concurrency slot is released"
    );
}

async fn client_leaves_while_waiting(stream: bool, leave_after: Duration) -> Duration {
    let a = MockUpstream::start().await.unwrap();
    a.push(Behaviour::HangBeforeHeaders(Duration::from_secs(20)));
    let rig = Rig::start(
        |config| {
            quick(config);
            config.proxy.first_byte_timeout = Duration::from_secs(30);
            config.proxy.stream_first_byte_timeout = Duration::from_secs(30);
            config.proxy.request_deadline = Duration::from_secs(60);
        },
        vec![endpoint("a", ProviderKind::OpenAi, &a.url())],
        |_| {},
    )
    .await;
    let client = reqwest::Client::builder().timeout(leave_after).build().unwrap();
    let gone = client
        .post(format!("{}/v1/chat/completions", rig.server.url))
        .bearer_auth(&rig.key)
        .json(&chat(stream))
        .send()
        .await;
    assert!(gone.is_err(), "the client gave up");
    assert_eq!(a.requests_received(), 1);
    let delay = upstream_closed(&a, Duration::from_secs(1)).await;
    let log = &rig.logs(1).await[0];
    assert_eq!(log.status, 499);
    assert_eq!((log.prompt_tokens, log.completion_tokens), (0, 0), "nothing billed");
    let classes: Vec<_> = log.attempts.iter().map(|a| a.error_class.as_deref()).collect();
    assert_eq!(
        classes,
        [Some("client_disconnected")],
        "the attempt cut short is recorded"
    );
    assert_eq!(rig.server.state.proxy.in_flight(), 0);
    delay
}

#[tokio::test]
async fn f13_a_client_leaving_before_the_first_token_closes_the_upstream() {
    let delay = client_leaves_while_waiting(true, Duration::from_millis(300)).await;
    metric("f13_upstream_close_delay_ms", delay.as_millis());
}

#[tokio::test]
async fn f14_a_non_stream_client_leaving_cancels_the_upstream_call() {
    let delay = client_leaves_while_waiting(false, Duration::from_millis(100)).await;
    metric("f14_upstream_close_delay_ms", delay.as_millis());
}

#[tokio::test]
async fn f17_an_upstream_401_is_a_502_and_marks_the_endpoint_misconfigured() {
    let a = MockUpstream::start().await.unwrap();
    a.set_fallback(status(401, &[]));
    let rig = Rig::openai(&a).await;
    let response = rig.post("/v1/chat/completions", &chat(false)).await;
    metric("f17_status", response.status().as_u16());
    assert_eq!(response.status(), 502);
    assert_eq!(error_code(response).await, "upstream_auth_error");
    assert_eq!(a.requests_received(), 1, "a refused credential is not retried");
    let response = rig.post("/v1/chat/completions", &chat(false)).await;
    assert_eq!(response.status(), 503, "a misconfigured endpoint is out of rotation");
    assert_eq!(a.requests_received(), 1);
}

/// The request logs in a stopped server's database.
async fn stored_logs(dir: &tempfile::TempDir) -> Vec<app::types::RequestLog> {
    let url = format!(
        "sqlite://{}?mode=rw",
        dir.path().join("data/model-gateway.db").display()
    );
    let store = Store::connect(&url, &DatabaseConfig::default()).await.unwrap();
    let logs = store.recent_request_logs(1000).await.unwrap();
    store.close().await;
    logs
}

async fn open_streams(rig: &Rig, count: usize) -> Vec<tokio::task::JoinHandle<String>> {
    let mut streams = Vec::new();
    let (ready, mut started) = tokio::sync::mpsc::channel(count);
    for _ in 0..count {
        let request = reqwest::Client::new()
            .post(format!("{}/v1/chat/completions", rig.server.url))
            .bearer_auth(&rig.key)
            .json(&chat(true));
        let ready = ready.clone();
        streams.push(tokio::spawn(async move {
            let mut body = request.send().await.unwrap().bytes_stream();
            let mut text = String::new();
            let mut told = false;
            while let Some(Ok(chunk)) = body.next().await {
                text.push_str(&String::from_utf8_lossy(&chunk));
                if !told {
                    told = true;
                    ready.send(()).await.unwrap();
                }
            }
            text
        }));
    }
    for _ in 0..count {
        started.recv().await.unwrap();
    }
    streams
}

#[tokio::test]
async fn f18_shutdown_lets_open_streams_finish_and_writes_every_log() {
    let a = MockUpstream::start().await.unwrap();
    // About 2 s per stream: 1000 events, 2 ms apart (5 s on a slow, busy machine, where a
    // 2 ms timer takes longer). The grace is far past that: the test ends when the streams do.
    a.set_fallback(Behaviour::Answer {
        usage: Usage::default(),
        chunks: 1000,
    });
    let rig = Rig::start(
        |config| {
            quick(config);
            config.proxy.shutdown_grace = Duration::from_secs(20);
            // A stream ends at the request's deadline; these must outlive the shutdown.
            config.proxy.request_deadline = Duration::from_secs(30);
        },
        vec![endpoint("a", ProviderKind::OpenAi, &a.url())],
        |_| {},
    )
    .await;
    let streams = open_streams(&rig, 20).await;
    let url = rig.server.url.clone();
    let stopping = tokio::spawn(rig.server.stop());
    // Once shutdown has begun, new connections are refused.
    let mut refused = false;
    for _ in 0..100 {
        tokio::time::sleep(Duration::from_millis(10)).await;
        if reqwest::get(format!("{url}/healthz")).await.is_err() {
            refused = true;
            break;
        }
    }
    assert!(refused, "new connections are refused while draining");
    let mut completed = 0;
    for stream in streams {
        let text = stream.await.unwrap();
        if data_lines(&text).last() == Some(&"[DONE]") {
            completed += 1;
        }
    }
    metric("f18_completed_streams", completed);
    assert_eq!(completed, 20);
    let dir = stopping.await.unwrap();
    let logs = stored_logs(&dir).await;
    metric("f18_lost_usage_rows", 20 - logs.len());
    assert_eq!(logs.len(), 20);
    assert!(logs.iter().all(|l| l.status == 200 && l.completion_tokens == 5));
}

#[tokio::test]
async fn streams_still_open_after_the_grace_period_end_with_an_error_event() {
    let a = MockUpstream::start().await.unwrap();
    a.set_fallback(Behaviour::Sse {
        chunks: 10,
        cut_after: None,
        stall_after: Some(3),
        error_at: None,
    });
    let rig = Rig::start(
        |config| {
            quick(config);
            config.proxy.idle_timeout = Duration::from_secs(30);
            config.proxy.shutdown_grace = Duration::from_millis(200);
        },
        vec![endpoint("a", ProviderKind::OpenAi, &a.url())],
        |g| g.strategy = Strategy::RoundRobin,
    )
    .await;
    let streams = open_streams(&rig, 3).await;
    let dir = rig.server.stop().await;
    for stream in streams {
        let text = stream.await.unwrap();
        assert!(text.contains("server_shutdown") && !text.contains("[DONE]"), "{text}");
    }
    let logs = stored_logs(&dir).await;
    assert_eq!(logs.len(), 3);
    assert!(logs.iter().all(|l| l.error_class.as_deref() == Some("server_shutdown")));
}
