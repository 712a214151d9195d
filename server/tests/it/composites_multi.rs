//! `multi` composite models through the real server and the mock upstream (issue #21): every
//! member asked at once — `waitforall` answers them all keyed by member, one failing member
//! never failing the rest; `first` answers with the fastest and closes the others' calls; a
//! key's token limit holds under 200 concurrent multi requests.

use crate::composites::{composite, member, two_hundred_at_once_within};
use crate::operator::op;
use crate::rig::{endpoint, metric, steady, Rig};
use app::types::{CompositeKind, MultiMode, NewComposite, ProviderKind};
use serde_json::{json, Value};
use server::testing::{refusing_addr, Behaviour, MockUpstream};
use std::time::{Duration, Instant};

/// A gateway over `endpoints` with `multi` composite `both` over the first two, in `mode`.
async fn multi(endpoints: Vec<app::types::NewEndpoint>, mode: MultiMode) -> Rig {
    let names: Vec<String> = endpoints.iter().map(|e| e.name.clone()).collect();
    let rig = Rig::start(steady, endpoints, |_| {}).await;
    let manage = &rig.server.state.manage;
    let members = names.iter().take(2).map(|name| member("", name, 1.0)).collect();
    let new = NewComposite {
        gateway_id: op(manage).gateway_id("g").await,
        mode,
        ..composite("both", CompositeKind::Multi, members)
    };
    op(manage).create_composite(new).await.unwrap();
    rig.server.state.registry.refresh(manage).await.unwrap();
    rig
}

fn ask(stream: bool) -> Value {
    json!({ "model": "both", "stream": stream, "max_tokens": 16, "messages": [{ "role": "user", "content": "hello" }] })
}

#[tokio::test]
async fn waitforall_answers_every_member_by_name_and_one_failing_member_fails_only_itself() {
    let mock = MockUpstream::start().await.unwrap();
    let refused = format!("http://{}", refusing_addr().await.unwrap());
    let endpoints = vec![
        endpoint("up", ProviderKind::OpenAi, &mock.url()),
        endpoint("down", ProviderKind::OpenAi, &refused),
    ];
    let rig = multi(endpoints, MultiMode::WaitForAll).await;
    let response = rig.post("/v1/chat/completions", &ask(false)).await;
    assert_eq!(response.status(), 200);
    let body: Value = response.json().await.unwrap();
    assert_eq!(body["up"]["object"], "chat.completion", "{body}");
    assert_eq!(
        body["up"]["choices"][0]["message"]["content"], "mock reply to: hello",
        "{body}"
    );
    assert!(body["down"]["error"]["message"].is_string(), "{body}");
    assert_eq!(body.as_object().unwrap().len(), 2, "{body}");

    let log = &rig.logs(1).await[0];
    assert_eq!(log.status, 200);
    let members: Vec<_> = log.attempts.iter().map(|a| a.variant.as_deref().unwrap()).collect();
    assert!(members.contains(&"up") && members.contains(&"down"), "{members:?}");
    let up = log
        .attempts
        .iter()
        .find(|a| a.variant.as_deref() == Some("up"))
        .unwrap();
    assert_eq!(up.status, Some(200));
    assert_eq!(
        (log.prompt_tokens, log.completion_tokens),
        (up.prompt_tokens, up.completion_tokens)
    );

    // Both failing: 502, still keyed by member.
    let rig = multi(
        vec![
            endpoint("down1", ProviderKind::OpenAi, &refused),
            endpoint("down2", ProviderKind::OpenAi, &refused),
        ],
        MultiMode::WaitForAll,
    )
    .await;
    let response = rig.post("/v1/chat/completions", &ask(false)).await;
    assert_eq!(response.status(), 502);
    let body: Value = response.json().await.unwrap();
    assert!(
        body["down1"]["error"].is_object() && body["down2"]["error"].is_object(),
        "{body}"
    );
    // A waitforall model cannot stream: a clear 400 naming the field.
    let refused_stream = rig.post("/v1/chat/completions", &ask(true)).await;
    assert_eq!(refused_stream.status(), 400);
    let body: Value = refused_stream.json().await.unwrap();
    assert_eq!(body["error"]["param"], "stream", "{body}");
}

#[tokio::test]
async fn first_answers_with_the_fastest_member_and_closes_the_slow_members_connection() {
    let fast = MockUpstream::start().await.unwrap();
    let slow = MockUpstream::start().await.unwrap();
    fast.set_fallback(Behaviour::HangBeforeHeaders(Duration::from_millis(50)));
    slow.set_fallback(Behaviour::HangBeforeHeaders(Duration::from_millis(500)));
    let endpoints = vec![
        endpoint("slow", ProviderKind::OpenAi, &slow.url()),
        endpoint("fast", ProviderKind::OpenAi, &fast.url()),
    ];
    let rig = multi(endpoints, MultiMode::First).await;
    for stream in [false, true] {
        let started = Instant::now();
        let response = rig.post("/v1/chat/completions", &ask(stream)).await;
        assert_eq!(response.status(), 200);
        assert_eq!(response.headers()["x-mgw-endpoint"], "fast");
        let answered = started.elapsed();
        let winner_at = Instant::now();
        let text = response.text().await.unwrap();
        metric(&format!("multi_first_answer_ms_stream_{stream}"), answered.as_millis());
        // The slow member takes 500 ms; the answer comes with the fast one (50 ms).
        assert!(answered < Duration::from_millis(400), "answered in {answered:?}");
        if stream {
            assert!(text.contains("data: [DONE]"), "{text}");
        } else {
            let body: Value = serde_json::from_str(&text).unwrap();
            assert_eq!(body["object"], "chat.completion", "{body}");
        }
        let until = Instant::now() + Duration::from_secs(2);
        while slow.connections_open() > 0 && Instant::now() < until {
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
        let closed = slow.connections_closed();
        let last = closed.last().copied().expect("the slow member's connection closed");
        assert!(last.saturating_duration_since(winner_at) < Duration::from_secs(1));
        assert_eq!(slow.connections_open(), 0);
    }
    let logs = rig.logs(2).await;
    for log in logs {
        let cancelled = log
            .attempts
            .iter()
            .find(|a| a.variant.as_deref() == Some("slow"))
            .unwrap();
        assert_eq!(cancelled.error_class.as_deref(), Some("cancelled"), "{log:?}");
        assert_eq!(log.attempts.last().unwrap().variant.as_deref(), Some("fast"));
    }
}

#[tokio::test]
async fn a_keys_token_limit_holds_under_200_concurrent_multi_requests() {
    let mock = MockUpstream::start().await.unwrap();
    let endpoints = vec![
        endpoint("one", ProviderKind::OpenAi, &mock.url()),
        endpoint("two", ProviderKind::OpenAi, &mock.url()),
    ];
    let rig = multi(endpoints, MultiMode::WaitForAll).await;
    let logs = two_hundred_at_once_within(&rig, 3_000, &ask(false), "multi_tokens_used_of_limit").await;
    // Each admitted request is two calls: its usage is both members'.
    let answered = logs.iter().find(|l| l.status == 200).unwrap();
    assert_eq!(answered.attempts.len(), 2);
}

#[tokio::test]
async fn waitforall_answers_an_anthropic_client_each_member_as_a_message() {
    let mock = MockUpstream::start().await.unwrap();
    let endpoints = vec![
        endpoint("one", ProviderKind::OpenAi, &mock.url()),
        endpoint("two", ProviderKind::Anthropic, &mock.url()),
    ];
    let rig = multi(endpoints, MultiMode::WaitForAll).await;
    let body = json!({ "model": "both", "max_tokens": 16, "messages": [{ "role": "user", "content": "hello" }] });
    let response = reqwest::Client::new()
        .post(format!("{}/v1/messages", rig.server.url))
        .header("x-api-key", &rig.key)
        .header("anthropic-version", "2023-06-01")
        .json(&body)
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 200);
    let body: Value = response.json().await.unwrap();
    for member in ["one", "two"] {
        assert_eq!(body[member]["type"], "message", "{body}");
        assert_eq!(body[member]["content"][0]["text"], "mock reply to: hello", "{body}");
    }
}
