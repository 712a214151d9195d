//! `best` composite models through the real server and the mock upstream (issue #21): the
//! candidates answer, a scripted judge scores them, and the answer it scores higher is
//! returned — its scores in the log, every call in the cost; a judge that fails or answers
//! no verdict falls back to the first answer and says so; a key's token limit holds with the
//! judge's call reserved too.

use crate::composites::{composite, member, two_hundred_at_once_within};
use crate::operator::op;
use crate::rig::{data_lines, endpoint, steady, Rig};
use app::types::{CompositeKind, ModelPrice, NewComposite, ProviderKind};
use serde_json::{json, Value};
use server::{
    manage::ManageError,
    testing::{refusing_addr, Behaviour, MockUpstream},
};

/// A chat completion saying `text`, having used `prompt` and `completion` tokens.
fn said(text: &str, prompt: u64, completion: u64) -> Behaviour {
    let body = json!({
        "id": "chatcmpl-scripted", "object": "chat.completion", "created": 1, "model": "gpt-4o-mini",
        "choices": [{ "index": 0, "message": { "role": "assistant", "content": text }, "finish_reason": "stop" }],
        "usage": { "prompt_tokens": prompt, "completion_tokens": completion, "total_tokens": prompt + completion },
    });
    Behaviour::Status {
        status: 200,
        headers: vec![("content-type".into(), "application/json".into())],
        body: body.to_string(),
    }
}

/// Candidates `one` and `two` (each at its own mock) and a judge at `judge`, on gateway `g`
/// with `best-of` over the candidates; every model at 1 micro per prompt token and 2 per
/// completion token.
async fn best_of(one: &str, two: &str, judge: &str, rubric: Option<&str>) -> Rig {
    let endpoints = vec![
        endpoint("one", ProviderKind::OpenAi, one),
        endpoint("two", ProviderKind::OpenAi, two),
        endpoint("judge", ProviderKind::OpenAi, judge),
    ];
    let rig = Rig::start(steady, endpoints, |_| {}).await;
    let manage = &rig.server.state.manage;
    let price = ModelPrice {
        model: "gpt-4o-mini".into(),
        input_per_mtok_micros: 1_000_000,
        output_per_mtok_micros: 2_000_000,
    };
    op(manage).set_price(price).await.unwrap();
    let new = NewComposite {
        gateway_id: op(manage).gateway_id("g").await,
        judge: Some("judge".into()),
        rubric: rubric.map(str::to_string),
        ..composite(
            "best-of",
            CompositeKind::Best,
            vec![member("", "one", 1.0), member("", "two", 1.0)],
        )
    };
    op(manage).create_composite(new).await.unwrap();
    rig.server.state.registry.refresh(manage).await.unwrap();
    rig
}

/// Two candidates' upstreams and a judge's.
async fn three_mocks() -> (MockUpstream, MockUpstream, MockUpstream) {
    (
        MockUpstream::start().await.unwrap(),
        MockUpstream::start().await.unwrap(),
        MockUpstream::start().await.unwrap(),
    )
}

fn ask(stream: bool) -> Value {
    json!({ "model": "best-of", "stream": stream, "messages": [{ "role": "user", "content": "Why is the sky blue?" }] })
}

#[tokio::test]
async fn best_returns_the_answer_its_judge_scores_higher_with_the_scores_logged_and_every_call_in_the_cost() {
    let (one, two, judge) = three_mocks().await;
    one.set_fallback(said("Because it is.", 10, 5));
    two.set_fallback(said("Rayleigh scattering: blue light scatters most.", 10, 7));
    judge.set_fallback(said(
        r#"{"scores": {"A": 3, "B": 9}, "reason": "B explains the physics."}"#,
        100,
        20,
    ));
    let rig = best_of(
        &one.url(),
        &two.url(),
        &judge.url(),
        Some("Prefer answers that explain why."),
    )
    .await;

    let response = rig.post("/v1/chat/completions", &ask(false)).await;
    assert_eq!(response.status(), 200);
    assert_eq!(response.headers()["x-mgw-judge"], "two");
    assert_eq!(response.headers()["x-mgw-endpoint"], "two");
    let body: Value = response.json().await.unwrap();
    assert_eq!(body["object"], "chat.completion", "{body}");
    assert_eq!(
        body["choices"][0]["message"]["content"],
        "Rayleigh scattering: blue light scatters most."
    );
    // The client is told what its request used: both candidates and the judge.
    assert_eq!(body["usage"]["prompt_tokens"], 120, "{body}");
    assert_eq!(body["usage"]["completion_tokens"], 32, "{body}");

    // The judge read the question, both answers by letter, the rubric and the verdict's shape.
    let asked = judge.recorded().pop().unwrap().body.unwrap();
    let system = asked["messages"][0]["content"].as_str().unwrap();
    let user = asked["messages"][1]["content"].as_str().unwrap();
    assert!(system.starts_with("Prefer answers that explain why."), "{system}");
    assert!(system.contains("\"scores\""), "{system}");
    assert!(user.contains("Why is the sky blue?"), "{user}");
    assert!(user.contains("### Answer A\nBecause it is."), "{user}");
    assert!(user.contains("### Answer B\nRayleigh scattering"), "{user}");

    let log = &rig.logs(1).await[0];
    let verdict = log.verdict.as_ref().expect("the verdict is logged");
    assert_eq!(verdict.winner, "two");
    let scores: Vec<(&str, f64)> = verdict.scores.iter().map(|s| (s.member.as_str(), s.score)).collect();
    assert_eq!(scores, [("one", 3.0), ("two", 9.0)]);
    assert_eq!(verdict.reason.as_deref(), Some("B explains the physics."));
    assert_eq!(verdict.fallback, None);
    assert_eq!(log.variant.as_deref(), Some("two"));
    let calls: Vec<&str> = log.attempts.iter().map(|a| a.variant.as_deref().unwrap()).collect();
    assert_eq!(calls, ["one", "two", "judge"]);
    assert_eq!((log.prompt_tokens, log.completion_tokens), (120, 32));
    // 1 micro per prompt token, 2 per completion token: (10 + 2·5) + (10 + 2·7) + (100 + 2·20).
    assert_eq!(log.cost_micros, 20 + 24 + 140);
    let attempts_cost: i64 = log.attempts.iter().map(|a| a.cost_micros).sum();
    assert_eq!(log.cost_micros, attempts_cost);

    // Asked for a stream, the chosen answer is told as one.
    let response = rig.post("/v1/chat/completions", &ask(true)).await;
    assert_eq!(response.status(), 200);
    assert_eq!(response.headers()["x-mgw-judge"], "two");
    assert_eq!(response.headers()["content-type"], "text/event-stream");
    let text = response.text().await.unwrap();
    let lines = data_lines(&text);
    assert_eq!(lines.last(), Some(&"[DONE]"), "{text}");
    let content: String = (lines.iter())
        .filter(|line| **line != "[DONE]")
        .map(|line| serde_json::from_str::<Value>(line).unwrap())
        .filter_map(|chunk| chunk["choices"][0]["delta"]["content"].as_str().map(str::to_string))
        .collect();
    assert_eq!(content, "Rayleigh scattering: blue light scatters most.");
    // The candidates were asked for whole answers.
    assert_eq!(two.recorded().pop().unwrap().body.unwrap().get("stream"), None);
}

#[tokio::test]
async fn a_judge_that_fails_or_gives_no_verdict_falls_back_to_the_first_answer_and_the_log_says_why() {
    let (one, two, judge) = three_mocks().await;
    one.set_fallback(said("first answer", 10, 5));
    two.set_fallback(said("second answer", 10, 5));
    judge.set_fallback(said("I prefer the second one, clearly.", 50, 8));
    let rig = best_of(&one.url(), &two.url(), &judge.url(), None).await;
    let response = rig.post("/v1/chat/completions", &ask(false)).await;
    assert_eq!(response.status(), 200);
    assert_eq!(response.headers()["x-mgw-judge"], "one");
    let body: Value = response.json().await.unwrap();
    assert_eq!(body["choices"][0]["message"]["content"], "first answer");
    let log = &rig.logs(1).await[0];
    let verdict = log.verdict.as_ref().unwrap();
    assert_eq!(verdict.winner, "one");
    assert!(verdict.scores.is_empty());
    assert_eq!(
        verdict.fallback.as_deref(),
        Some("the judge's answer held no JSON verdict")
    );
    // The judge's call is still counted: (10 + 10 + 50) prompt, (5 + 5 + 8) completion.
    assert_eq!((log.prompt_tokens, log.completion_tokens), (70, 18));

    // A judge that cannot be reached: the first answer, and why.
    let refused = format!("http://{}", refusing_addr().await.unwrap());
    let rig = best_of(&one.url(), &two.url(), &refused, None).await;
    let response = rig.post("/v1/chat/completions", &ask(false)).await;
    assert_eq!(response.status(), 200);
    assert_eq!(response.headers()["x-mgw-judge"], "one");
    let log = &rig.logs(1).await[0];
    let fallback = log.verdict.as_ref().unwrap().fallback.clone().unwrap();
    assert!(fallback.starts_with("the judge failed"), "{fallback}");

    // One candidate failing: the other's answer, and no judge is asked.
    let judged_before = judge.requests_received();
    let rig = best_of(&refused, &two.url(), &judge.url(), None).await;
    let response = rig.post("/v1/chat/completions", &ask(false)).await;
    assert_eq!(response.status(), 200);
    assert_eq!(response.headers()["x-mgw-judge"], "two");
    let log = &rig.logs(1).await[0];
    let verdict = log.verdict.as_ref().unwrap();
    assert_eq!(verdict.fallback.as_deref(), Some("only one candidate answered"));
    assert_eq!(judge.requests_received(), judged_before);

    // Both failing: the request fails as a plain model's would.
    let rig = best_of(&refused, &refused, &judge.url(), None).await;
    let response = rig.post("/v1/chat/completions", &ask(false)).await;
    assert_eq!(response.status(), 502);
    assert_eq!(judge.requests_received(), judged_before);
}

#[tokio::test]
async fn best_serves_chat_only_and_management_refuses_a_best_without_a_judge_or_a_rubric_elsewhere() {
    let mock = MockUpstream::start().await.unwrap();
    let rig = best_of(&mock.url(), &mock.url(), &mock.url(), None).await;
    let embeddings = json!({ "model": "best-of", "input": "hello" });
    let response = rig.post("/v1/embeddings", &embeddings).await;
    assert_eq!(response.status(), 400);
    let body: Value = response.json().await.unwrap();
    assert_eq!(body["error"]["param"], "model", "{body}");

    let manage = &rig.server.state.manage;
    let gateway_id = op(manage).gateway_id("g").await;
    let two = || vec![member("", "one", 1.0), member("", "two", 1.0)];
    let no_judge = NewComposite {
        gateway_id,
        ..composite("judgeless", CompositeKind::Best, two())
    };
    let refused = op(manage).create_composite(no_judge).await.unwrap_err();
    assert!(
        matches!(&refused, ManageError::Invalid { field, .. } if *field == "judge"),
        "{refused:?}"
    );
    let rubric_on_load = NewComposite {
        gateway_id,
        rubric: Some("be kind".into()),
        ..composite("loaded", CompositeKind::Load, two())
    };
    let refused = op(manage).create_composite(rubric_on_load).await.unwrap_err();
    assert!(
        matches!(&refused, ManageError::Invalid { field, .. } if *field == "rubric"),
        "{refused:?}"
    );
}

#[tokio::test]
async fn a_keys_token_limit_holds_under_200_concurrent_best_requests_with_the_judge_reserved_too() {
    let (one, two, judge) = three_mocks().await;
    // The judge's call is the dearest: a reservation that left it out would be overrun.
    one.set_fallback(said("first answer", 10, 5));
    two.set_fallback(said("second answer", 10, 5));
    judge.set_fallback(said(r#"{"scores": {"A": 1, "B": 2}}"#, 300, 20));
    let rig = best_of(&one.url(), &two.url(), &judge.url(), None).await;
    let body = json!({ "model": "best-of", "max_tokens": 16, "messages": [{ "role": "user", "content": "hello" }] });
    let logs = two_hundred_at_once_within(&rig, 3_000, &body, "best_tokens_used_of_limit").await;
    let answered = logs.iter().find(|l| l.status == 200).unwrap();
    assert_eq!(answered.prompt_tokens + answered.completion_tokens, 350);
}

#[tokio::test]
async fn anthropic_clients_get_the_chosen_answer_as_a_message_or_a_message_stream() {
    let (one, two, judge) = three_mocks().await;
    one.set_fallback(said("first answer", 10, 5));
    two.set_fallback(said("second answer", 10, 5));
    judge.set_fallback(said(r#"{"scores": {"A": 1, "B": 2}, "reason": "B"}"#, 40, 8));
    let rig = best_of(&one.url(), &two.url(), &judge.url(), None).await;
    let post = |stream: bool| {
        let body = json!({ "model": "best-of", "max_tokens": 64, "stream": stream,
                           "messages": [{ "role": "user", "content": "hello" }] });
        reqwest::Client::new()
            .post(format!("{}/v1/messages", rig.server.url))
            .header("x-api-key", &rig.key)
            .header("anthropic-version", "2023-06-01")
            .json(&body)
            .send()
    };
    let response = post(false).await.unwrap();
    assert_eq!(response.status(), 200);
    assert_eq!(response.headers()["x-mgw-judge"], "two");
    let message: Value = response.json().await.unwrap();
    assert_eq!(message["type"], "message", "{message}");
    assert_eq!(message["content"][0]["text"], "second answer");
    assert_eq!(message["usage"], json!({ "input_tokens": 60, "output_tokens": 18 }));

    let response = post(true).await.unwrap();
    assert_eq!(response.status(), 200);
    let text = response.text().await.unwrap();
    assert!(text.starts_with("event: message_start"), "{text}");
    assert!(text.contains(r#""text":"second answer""#), "{text}");
    assert!(text.trim_end().ends_with(r#"data: {"type":"message_stop"}"#), "{text}");
}

#[tokio::test]
async fn the_chosen_answer_passes_the_response_guardrails_and_the_judge_reads_placeholders() {
    let (one, two, judge) = (
        MockUpstream::start().await.unwrap(),
        MockUpstream::start().await.unwrap(),
        MockUpstream::start().await.unwrap(),
    );
    let rig = best_of(&one.url(), &two.url(), &judge.url(), None).await;
    let manage = &rig.server.state.manage;
    let rail = app::types::NewGuardrail {
        gateway_id: op(manage).gateway_id("g").await,
        detector: app::types::Detector::Email,
        action: app::types::GuardAction::Restore,
        direction: app::types::GuardDirection::Request,
        logs_only: false,
        fail_closed: false,
    };
    op(manage).add_guardrail(rail).await.unwrap();
    rig.server.state.registry.refresh(manage).await.unwrap();
    for stream in [false, true] {
        let ask = json!({ "model": "best-of", "stream": stream,
                          "messages": [{ "role": "user", "content": "I am ada@example.com" }] });
        let response = rig.post("/v1/chat/completions", &ask).await;
        assert_eq!(response.status(), 200);
        let text = response.text().await.unwrap();
        assert!(text.contains("mock reply to: I am ada@example.com"), "restored: {text}");
        assert!(!text.contains("[EMAIL_1]"), "{text}");
    }
    let asked = judge
        .recorded()
        .last()
        .and_then(|r| r.body.clone())
        .unwrap()
        .to_string();
    assert!(asked.contains("[EMAIL_1]") && !asked.contains("example.com"), "{asked}");
}
