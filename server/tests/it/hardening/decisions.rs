//! Issue 18, item 17, as decided: a committed stream ends at the request's deadline, and an
//! upstream's redirect fails the endpoint at once as misconfigured (never retried like a 5xx).

use crate::rig::{chat, data_lines, endpoint, quick, Rig};
use app::types::ProviderKind;
use server::testing::{Behaviour, MockUpstream, Usage};
use std::time::{Duration, Instant};

#[tokio::test]
async fn a_committed_stream_ends_at_the_requests_deadline() {
    let mock = MockUpstream::start().await.unwrap();
    // 2,000 events 2 ms apart: at least 4 s, past a 1 s deadline.
    mock.set_fallback(Behaviour::Answer {
        usage: Usage::default(),
        chunks: 2000,
    });
    let rig = Rig::start(
        |config| {
            quick(config);
            config.proxy.request_deadline = Duration::from_secs(1);
        },
        vec![endpoint("a", ProviderKind::OpenAi, &mock.url())],
        |_| {},
    )
    .await;
    let started = Instant::now();
    let response = rig.post("/v1/chat/completions", &chat(true)).await;
    assert_eq!(response.status(), 200);
    let text = response.text().await.unwrap();
    assert!(started.elapsed() < Duration::from_secs(3), "{:?}", started.elapsed());
    assert_ne!(data_lines(&text).last(), Some(&"[DONE]"), "the stream did not finish");
    assert!(text.contains("deadline"), "{}", &text[text.len().saturating_sub(300)..]);
    let logs = rig.logs(1).await;
    assert_eq!(logs[0].error_class.as_deref(), Some("deadline_exceeded"));
}

#[tokio::test]
async fn a_redirect_fails_the_endpoint_at_once_and_is_not_retried() {
    let mock = MockUpstream::start().await.unwrap();
    mock.set_fallback(Behaviour::Status {
        status: 302,
        headers: vec![("location".into(), "https://elsewhere.example/v1".into())],
        body: String::new(),
    });
    let rig = Rig::openai(&mock).await;
    let response = rig.post("/v1/chat/completions", &chat(false)).await;
    assert_eq!(response.status(), 502);
    let body: serde_json::Value = response.json().await.unwrap();
    assert!(
        body["error"]["message"].as_str().unwrap().contains("redirect"),
        "{body}"
    );
    assert_eq!(mock.requests_received(), 1, "one attempt, no retry");
}
