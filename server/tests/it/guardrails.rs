//! Guardrails (issue #24) through the real server and the mock: a blocked request makes no
//! upstream call and names the detector, never the text; redacted text reaches the provider
//! as placeholders and `restore` gives the user their own data back; a match split over a
//! stream's chunks is caught, and a block mid-stream ends it with an error and no `[DONE]`;
//! flags pass and mark the log; `logs_only` changes only what the log stores. Set from the
//! command line and GraphQL as an operator does it.

use crate::{
    cli::{text, Cli},
    operator::op,
    rig::{self, data_lines, Rig},
};
use app::types::{Detector, GuardAction, GuardDirection, NewGuardrail, ProviderKind};
use serde_json::{json, Value};
use server::testing::{Behaviour, MockUpstream};

/// A rig (gateway `g` logging payloads) with these guardrails: `(detector, action, direction,
/// logs_only)`.
async fn guarded(mock: &MockUpstream, rails: &[(&str, GuardAction, GuardDirection, bool)]) -> Rig {
    let rig = Rig::start(
        rig::steady,
        vec![rig::endpoint("a", ProviderKind::OpenAi, &mock.url())],
        |g| g.log_payloads = true,
    )
    .await;
    let manage = &rig.server.state.manage;
    for (detector, action, direction, logs_only) in rails {
        let new = NewGuardrail {
            gateway_id: op(manage).gateway_id("g").await,
            detector: Detector::parse(detector).unwrap(),
            action: *action,
            direction: *direction,
            logs_only: *logs_only,
            fail_closed: false,
        };
        op(manage).add_guardrail(new).await.unwrap();
    }
    rig.server.state.registry.refresh(manage).await.unwrap();
    rig
}

fn asking(text: &str, stream: bool) -> Value {
    json!({ "model": "gpt-4o-mini", "stream": stream, "messages": [{ "role": "user", "content": text }] })
}

/// The answer's status and body.
async fn ask(rig: &Rig, body: &Value) -> (u16, String) {
    let response = rig.post("/v1/chat/completions", body).await;
    (response.status().as_u16(), response.text().await.unwrap())
}

fn content(answer: &str) -> String {
    let answer: Value = serde_json::from_str(answer).unwrap();
    answer["choices"][0]["message"]["content"].as_str().unwrap().to_string()
}

/// What the mock was sent last, as text.
fn sent(mock: &MockUpstream) -> String {
    mock.recorded().last().and_then(|r| r.body.clone()).unwrap().to_string()
}

#[tokio::test]
async fn a_blocked_request_makes_no_upstream_call_and_names_the_detector_not_the_text() {
    let mock = MockUpstream::start().await.unwrap();
    let rig = guarded(&mock, &[("ssn", GuardAction::Block, GuardDirection::Request, false)]).await;
    let (status, body) = ask(&rig, &asking("my number is 123-45-6789", false)).await;
    assert_eq!(status, 400, "{body}");
    let error: Value = serde_json::from_str(&body).unwrap();
    assert_eq!(error["error"]["code"], "content_policy_violation");
    assert_eq!(error["error"]["type"], "invalid_request_error");
    assert!(error["error"]["message"].as_str().unwrap().contains("`ssn`"), "{body}");
    assert!(!body.contains("6789"), "the match is never echoed: {body}");
    assert_eq!(mock.requests_received(), 0, "no upstream call");
    // A near-miss (an area no SSN has) passes.
    let (status, _) = ask(&rig, &asking("part 666-12-3456", false)).await;
    assert_eq!(status, 200);
    assert_eq!(mock.requests_received(), 1);
    let metrics = rig.metrics().await;
    assert!(
        metrics
            .contains(r#"mgw_guardrail_hits_total{gateway="g",direction="request",detector="ssn",action="block"} 1"#),
        "{metrics}"
    );
}

#[tokio::test]
async fn redacted_text_reaches_the_provider_as_placeholders_and_restore_gives_it_back() {
    let mock = MockUpstream::start().await.unwrap();
    let rig = guarded(
        &mock,
        &[
            ("email", GuardAction::Restore, GuardDirection::Request, false),
            ("card", GuardAction::Redact, GuardDirection::Request, false),
        ],
    )
    .await;
    let text = "I am ada@example.com, card 4111 1111 1111 1111, cc bob@example.org";
    let (status, answer) = ask(&rig, &asking(text, false)).await;
    assert_eq!(status, 200, "{answer}");
    let upstream = sent(&mock);
    assert!(
        upstream.contains("I am [EMAIL_1], card [CARD_1], cc [EMAIL_2]"),
        "the provider saw placeholders: {upstream}"
    );
    assert!(
        !upstream.contains("example.com") && !upstream.contains("4111"),
        "{upstream}"
    );
    // The mock echoes what it was sent: the e-mails come back, the card stays redacted.
    assert_eq!(
        content(&answer),
        "mock reply to: I am ada@example.com, card [CARD_1], cc bob@example.org"
    );
    // Streamed, the same.
    let (status, stream) = ask(&rig, &asking(text, true)).await;
    assert_eq!(status, 200);
    assert_eq!(data_lines(&stream).last(), Some(&"[DONE]"));
    let logs = rig.logs(2).await;
    assert_eq!(
        logs[1].guardrails.as_deref(),
        Some("request:email:restore,request:card:redact")
    );
    for log in &logs {
        let (request, answer) = (
            log.request_body.as_deref().unwrap(),
            log.response_body.as_deref().unwrap(),
        );
        assert!(
            request.contains("[EMAIL_1]") && !request.contains("ada@"),
            "the log holds what was sent: {request}"
        );
        assert!(
            !answer.contains("ada@"),
            "nor the originals put back in the answer: {answer}"
        );
    }
}

/// An SSE body sending `pieces` as content chunks, then the finish and `[DONE]`.
fn sse(pieces: &[&str]) -> Behaviour {
    let chunk = |delta: Value, finish: Value| {
        json!({ "id": "c", "object": "chat.completion.chunk", "created": 1, "model": "gpt-4o-mini",
                "choices": [{ "index": 0, "delta": delta, "finish_reason": finish }] })
    };
    let mut body = String::new();
    for piece in pieces {
        body.push_str(&format!(
            "data: {}\n\n",
            chunk(json!({ "content": piece }), Value::Null)
        ));
    }
    body.push_str(&format!(
        "data: {}\n\ndata: [DONE]\n\n",
        chunk(json!({}), json!("stop"))
    ));
    Behaviour::Status {
        status: 200,
        headers: vec![("content-type".into(), "text/event-stream".into())],
        body,
    }
}

fn streamed_text(stream: &str) -> String {
    (data_lines(stream).iter())
        .filter_map(|line| serde_json::from_str::<Value>(line).ok())
        .filter_map(|chunk| chunk["choices"][0]["delta"]["content"].as_str().map(str::to_string))
        .collect()
}

#[tokio::test]
async fn a_match_split_over_stream_chunks_is_caught_and_a_block_ends_the_stream_without_done() {
    let mock = MockUpstream::start().await.unwrap();
    let rig = guarded(
        &mock,
        &[
            ("email", GuardAction::Redact, GuardDirection::Response, false),
            ("card", GuardAction::Block, GuardDirection::Response, false),
        ],
    )
    .await;
    mock.push(sse(&["Write to ad", "a@exam", "ple.com", " today."]));
    let (status, stream) = ask(&rig, &asking("who?", true)).await;
    assert_eq!(status, 200);
    assert_eq!(streamed_text(&stream), "Write to [EMAIL_1] today.");
    assert!(!stream.contains("example"), "{stream}");
    assert_eq!(data_lines(&stream).last(), Some(&"[DONE]"));

    mock.push(sse(&["Your card: 4111 11", "11 1111 1111", " ok"]));
    let (status, stream) = ask(&rig, &asking("card?", true)).await;
    assert_eq!(status, 200, "the block comes after the commit point");
    let lines = data_lines(&stream);
    assert_ne!(lines.last(), Some(&"[DONE]"), "{stream}");
    let last: Value = serde_json::from_str(lines.last().unwrap()).unwrap();
    assert_eq!(last["error"]["code"], "content_policy_violation", "{stream}");
    assert!(
        !stream.contains("1111"),
        "no digit of the card reached the client: {stream}"
    );
    let logs = rig.logs(2).await;
    assert_eq!(logs[0].error_class.as_deref(), Some("content_policy_violation"));
    assert_eq!(logs[0].guardrails.as_deref(), Some("response:card:block"));
}

#[tokio::test]
async fn a_blocked_answer_is_refused_whole_and_flags_only_mark_the_log() {
    let mock = MockUpstream::start().await.unwrap();
    let rig = guarded(
        &mock,
        &[
            ("iban", GuardAction::Block, GuardDirection::Response, false),
            ("ip", GuardAction::Flag, GuardDirection::Both, false),
            ("words:project falcon", GuardAction::Redact, GuardDirection::Both, true),
        ],
    )
    .await;
    // The request passes (the IBAN rule reads answers); the mock echoes it; the answer is refused.
    // Log probabilities (the answer again, token by token) are not asked for.
    let mut paying = asking("pay GB82WEST12345698765432", false);
    paying["logprobs"] = json!(true);
    paying["top_logprobs"] = json!(2);
    let (status, body) = ask(&rig, &paying).await;
    assert!(!sent(&mock).contains("logprobs"), "{}", sent(&mock));
    assert_eq!(status, 400, "{body}");
    assert!(
        body.contains("content_policy_violation") && !body.contains("GB82"),
        "{body}"
    );
    assert_eq!(mock.requests_received(), 1);

    // A flag passes unchanged; a logs-only redaction leaves the provider and the client alone.
    let (status, answer) = ask(&rig, &asking("host 10.1.2.3 runs Project Falcon", false)).await;
    assert_eq!(status, 200);
    assert_eq!(content(&answer), "mock reply to: host 10.1.2.3 runs Project Falcon");
    assert!(sent(&mock).contains("10.1.2.3 runs Project Falcon"));
    let logs = rig.logs(2).await;
    let found = logs[0].guardrails.as_deref().unwrap();
    assert!(
        found.contains("request:ip:flag") && found.contains("response:ip:flag"),
        "{found}"
    );
    let (logged_request, logged_answer) = (
        logs[0].request_body.as_deref().unwrap(),
        logs[0].response_body.as_deref().unwrap(),
    );
    assert!(
        logged_request.contains("[WORD_1]") && !logged_request.contains("Falcon"),
        "{logged_request}"
    );
    assert!(
        logged_answer.contains("[WORD_1]") && !logged_answer.contains("Falcon"),
        "{logged_answer}"
    );
    assert_eq!(logs[1].error_class.as_deref(), Some("content_policy_violation"));
}

#[tokio::test]
async fn operators_add_try_list_and_remove_guardrails_from_the_command_line() {
    let cli = Cli::new();
    cli.gateway_over_one_endpoint("g");
    let added = cli.ok(&[
        "guardrail",
        "add",
        "--gateway",
        "g",
        "--detector",
        "email",
        "--action",
        "restore",
    ]);
    assert!(added.contains("restores email in requests"), "{added}");
    cli.ok(&[
        "guardrail",
        "add",
        "--gateway",
        "g",
        "--detector",
        r"regex:PRJ-\d{4}",
        "--action",
        "block",
    ]);
    let tried = cli.ok(&["guardrail", "try", "--gateway", "g", "--text", "mail ada@example.com"]);
    assert_eq!(tried.trim_end(), "mail [EMAIL_1]\n(found: email:restore)");
    let blocked = cli.ok(&["guardrail", "try", "--gateway", "g", "--text", "see PRJ-0042"]);
    assert_eq!(blocked.trim_end(), "Blocked by the regex guardrail.");
    let listed = cli.ok(&["guardrail", "list", "--gateway", "g"]);
    assert!(
        listed.contains("email") && listed.contains(r"regex:PRJ-\d{4}") && listed.contains("block"),
        "{listed}"
    );

    // Refused, naming the field: a pattern that does not compile, restore on answers, a
    // logs-only block, an unknown detector.
    for (args, field) in [
        (&["--detector", "regex:(unclosed", "--action", "block"][..], "detector"),
        (
            &["--detector", "email", "--action", "restore", "--direction", "response"][..],
            "direction",
        ),
        (
            &["--detector", "email", "--action", "block", "--logs-only"][..],
            "logs_only",
        ),
    ] {
        let mut all = vec!["guardrail", "add", "--gateway", "g"];
        all.extend_from_slice(args);
        let refused = cli.run(&all);
        assert!(!refused.status.success());
        assert!(text(&refused).contains(field), "{field}: {}", text(&refused));
    }
    assert!(!cli
        .run(&[
            "guardrail",
            "add",
            "--gateway",
            "g",
            "--detector",
            "mail",
            "--action",
            "block"
        ])
        .status
        .success());

    let json: Value = serde_json::from_str(&cli.ok(&["guardrail", "list", "--json"])).unwrap();
    let first = json[0]["id"].as_i64().unwrap().to_string();
    cli.ok(&["guardrail", "remove", &first]);
    let after = cli.ok(&["guardrail", "try", "--gateway", "g", "--text", "mail ada@example.com"]);
    assert_eq!(after.trim_end(), "mail ada@example.com\n(nothing found)");
}

#[tokio::test]
async fn every_answer_of_a_waitforall_composite_passes_the_response_guardrails() {
    let mock = MockUpstream::start().await.unwrap();
    let rig = Rig::start(
        rig::steady,
        vec![
            rig::endpoint("a", ProviderKind::OpenAi, &mock.url()),
            rig::endpoint("b", ProviderKind::OpenAi, &mock.url()),
        ],
        |g| g.log_payloads = true,
    )
    .await;
    let manage = &rig.server.state.manage;
    let gateway_id = op(manage).gateway_id("g").await;
    let members = vec![
        crate::composites::member("", "a", 1.0),
        crate::composites::member("", "b", 1.0),
    ];
    let new = app::types::NewComposite {
        gateway_id,
        mode: app::types::MultiMode::WaitForAll,
        ..crate::composites::composite("both", app::types::CompositeKind::Multi, members)
    };
    op(manage).create_composite(new).await.unwrap();
    for (detector, action, direction) in [
        ("email", GuardAction::Restore, GuardDirection::Request),
        ("words:forbidden", GuardAction::Block, GuardDirection::Response),
    ] {
        let rail = NewGuardrail {
            gateway_id,
            detector: Detector::parse(detector).unwrap(),
            action,
            direction,
            logs_only: false,
            fail_closed: false,
        };
        op(manage).add_guardrail(rail).await.unwrap();
    }
    rig.server.state.registry.refresh(manage).await.unwrap();

    let ask = json!({ "model": "both", "messages": [{ "role": "user", "content": "I am ada@example.com" }] });
    let response = rig.post("/v1/chat/completions", &ask).await;
    assert_eq!(response.status(), 200);
    let body: Value = response.json().await.unwrap();
    for member in ["a", "b"] {
        assert_eq!(
            body[member]["choices"][0]["message"]["content"], "mock reply to: I am ada@example.com",
            "the user's own address back in {member}'s answer: {body}"
        );
    }
    assert!(sent(&mock).contains("[EMAIL_1]") && !sent(&mock).contains("example.com"));
    let log = &rig.logs(1).await[0];
    let logged = log.response_body.as_deref().unwrap_or_default();
    assert!(
        logged.contains("[EMAIL_1]") && !logged.contains("example.com"),
        "the log keeps placeholders: {logged}"
    );
    assert_eq!(log.guardrails.as_deref(), Some("request:email:restore"));

    // A member whose answer a guardrail blocks is that member's refusal; the other stands.
    mock.push(Behaviour::Status {
        status: 200,
        headers: vec![("content-type".into(), "application/json".into())],
        body: json!({ "id": "x", "object": "chat.completion", "created": 1, "model": "gpt-4o-mini",
                      "choices": [{ "index": 0, "message": { "role": "assistant", "content": "a forbidden word" },
                                    "finish_reason": "stop" }],
                      "usage": { "prompt_tokens": 1, "completion_tokens": 1, "total_tokens": 2 } })
        .to_string(),
    });
    let ask = json!({ "model": "both", "messages": [{ "role": "user", "content": "hello" }] });
    let body: Value = rig.post("/v1/chat/completions", &ask).await.json().await.unwrap();
    let blocked: Vec<_> = ["a", "b"]
        .iter()
        .filter(|member| body[**member]["error"]["code"] == "content_policy_violation")
        .collect();
    assert_eq!(blocked.len(), 1, "{body}");
    assert!(!body.to_string().contains("forbidden"), "{body}");
}

#[tokio::test]
async fn a_stream_a_guardrail_blocks_is_never_kept_in_the_cache() {
    let mock = MockUpstream::start().await.unwrap();
    let rig = Rig::start(
        rig::steady,
        vec![rig::endpoint("a", ProviderKind::OpenAi, &mock.url())],
        rig::caches,
    )
    .await;
    let manage = &rig.server.state.manage;
    let rail = NewGuardrail {
        gateway_id: op(manage).gateway_id("g").await,
        detector: Detector::parse("words:word1").unwrap(),
        action: GuardAction::Block,
        direction: GuardDirection::Response,
        logs_only: false,
        fail_closed: false,
    };
    op(manage).add_guardrail(rail).await.unwrap();
    rig.server.state.registry.refresh(manage).await.unwrap();
    for _ in 0..2 {
        let (status, stream) = ask(&rig, &asking("hello", true)).await;
        assert_eq!(status, 200);
        assert_ne!(data_lines(&stream).last(), Some(&"[DONE]"), "blocked: {stream}");
    }
    assert_eq!(mock.requests_received(), 2, "the blocked stream was not kept");
}
