//! OpenAI's Responses API (`/v1/responses`, issue #25) through the real server: answered by
//! every kind of endpoint — OpenAI and Azure OpenAI ones sent the client's own request, their
//! answer and events passed back as they came; the others through the chat path — usage
//! counted and logged, what needs OpenAI's server state refused where it cannot go there, and
//! the official `openai` SDK's `responses.create` against OpenAI-, Anthropic-, Gemini-,
//! Vertex- and Bedrock-kind endpoints on the mock.

use crate::rig::{caches, endpoint, quick, steady, Rig};
use app::types::ProviderKind;
use serde_json::{json, Value};
use server::testing::{Behaviour, MockUpstream};

const KINDS: [ProviderKind; 5] = [
    ProviderKind::OpenAi,
    ProviderKind::Anthropic,
    ProviderKind::Gemini,
    ProviderKind::Vertex,
    ProviderKind::Bedrock,
];

#[tokio::test]
async fn a_response_is_answered_by_every_kind_of_endpoint_with_usage_logged() {
    for kind in KINDS {
        let mock = MockUpstream::start().await.unwrap();
        let rig = Rig::start(steady, vec![endpoint("e", kind, &mock.url())], |_| {}).await;
        let body = json!({ "model": "gpt-4o-mini", "instructions": "Be brief.", "input": "hello there",
                           "max_output_tokens": 50 });
        let response = rig.post("/v1/responses", &body).await;
        assert_eq!(response.status(), 200, "{kind:?}");
        let answer: Value = response.json().await.unwrap();
        assert_eq!(answer["object"], "response", "{kind:?}: {answer}");
        assert_eq!(answer["status"], "completed");
        assert_eq!(
            answer["output"][0]["content"][0]["text"], "mock reply to: hello there",
            "{kind:?}"
        );
        assert_eq!(answer["usage"]["input_tokens"], 10);

        let mut streamed = body.clone();
        streamed["stream"] = json!(true);
        let text = rig.post("/v1/responses", &streamed).await.text().await.unwrap();
        let kinds: Vec<&str> = text.lines().filter_map(|line| line.strip_prefix("event: ")).collect();
        assert_eq!(kinds.first(), Some(&"response.created"), "{kind:?}: {text}");
        assert_eq!(kinds.last(), Some(&"response.completed"), "{kind:?}: {text}");
        assert!(!text.contains("[DONE]"), "Responses streams have no [DONE]");
        let logs = rig.logs(2).await;
        assert!(
            logs.iter()
                .all(|log| log.api == "responses" && log.status == 200 && log.completion_tokens == 5),
            "{kind:?}: {logs:?}"
        );
        // The upstream was asked in its own dialect, with the instructions as a system turn.
        let sent = mock.recorded().into_iter().next().unwrap().body.unwrap();
        let said = sent.to_string();
        assert!(
            said.contains("Be brief.") && said.contains("hello there"),
            "{kind:?}: {said}"
        );
    }
}

/// A request only OpenAI's own Responses API can serve: a stored conversation, a hosted tool.
fn stateful() -> Value {
    json!({ "model": "gpt-4o-mini", "input": "and then?", "previous_response_id": "resp_1", "store": true,
            "tools": [{ "type": "web_search" }], "include": ["reasoning.encrypted_content"] })
}

/// What the mock answers `body` at `path` when asked directly: the bytes the gateway must pass.
async fn straight_from(mock: &MockUpstream, path: &str, body: &Value) -> String {
    let url = format!("{}{path}", mock.url());
    reqwest::Client::new()
        .post(url)
        .json(body)
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap()
}

#[tokio::test]
async fn openai_and_azure_endpoints_get_the_clients_own_request_and_their_answer_as_it_came() {
    for (kind, path, model) in [
        (ProviderKind::OpenAi, "/v1/responses", "gpt-4o-mini"),
        (ProviderKind::AzureOpenAi, "/openai/v1/responses", "mini-deployment"),
    ] {
        let mock = MockUpstream::start().await.unwrap();
        let rig = Rig::start(steady, vec![endpoint("e", kind, &mock.url())], |_| {}).await;
        let mut body = stateful();
        body["model"] = json!("gpt-4o-mini");
        let response = rig.post("/v1/responses", &body).await;
        assert_eq!(response.status(), 200, "{kind:?}");
        assert_eq!(response.headers()["x-mgw-endpoint"], "e");
        let answered = response.text().await.unwrap();
        let sent = mock.recorded().remove(0);
        assert_eq!(sent.path, path, "{kind:?}");
        let mut expected = body.clone();
        expected["model"] = json!(model);
        assert_eq!(
            sent.body.as_ref(),
            Some(&expected),
            "{kind:?}: the client's request, its model the endpoint's"
        );
        assert_eq!(
            answered,
            straight_from(&mock, path, &expected).await,
            "{kind:?}: the answer as it came"
        );
        let answer: Value = serde_json::from_str(&answered).unwrap();
        assert_eq!(answer["previous_response_id"], "resp_1");

        let mut streamed = body.clone();
        streamed["stream"] = json!(true);
        let text = rig.post("/v1/responses", &streamed).await.text().await.unwrap();
        let mut expected = streamed.clone();
        expected["model"] = json!(model);
        assert_eq!(mock.recorded()[2].body.as_ref(), Some(&expected), "{kind:?}");
        assert_eq!(
            text,
            straight_from(&mock, path, &expected).await,
            "{kind:?}: the events as they came"
        );
        let logs = rig.logs(2).await;
        assert!(
            logs.iter().all(|log| log.api == "responses"
                && log.status == 200
                && (log.prompt_tokens, log.completion_tokens) == (10, 5)),
            "{kind:?}: {logs:?}"
        );
    }
}

#[tokio::test]
async fn a_native_stream_cut_short_ends_with_an_error_event_and_a_failing_endpoint_fails_over_first() {
    let (first, second) = (
        MockUpstream::start().await.unwrap(),
        MockUpstream::start().await.unwrap(),
    );
    let endpoints = vec![
        endpoint("a", ProviderKind::OpenAi, &first.url()),
        endpoint("b", ProviderKind::AzureOpenAi, &second.url()),
    ];
    let rig = Rig::start(quick, endpoints, |_| {}).await;
    let body = json!({ "model": "gpt-4o-mini", "input": "hello", "stream": true });
    // Its opening events commit nothing: a failure before the first word fails over.
    first.push(Behaviour::Sse {
        chunks: 3,
        cut_after: None,
        stall_after: None,
        error_at: Some(2),
    });
    let response = rig.post("/v1/responses", &body).await;
    assert_eq!(response.headers()["x-mgw-endpoint"], "b");
    let text = response.text().await.unwrap();
    assert!(text.contains("event: response.completed"), "{text}");
    // Cut after its first words (whichever endpoint serves, `a` resting or not): an error
    // event numbered after the last, no completion.
    let cut = Behaviour::Sse {
        chunks: 3,
        cut_after: Some(6),
        stall_after: None,
        error_at: None,
    };
    first.push(cut.clone());
    second.push(cut);
    let text = rig.post("/v1/responses", &body).await.text().await.unwrap();
    assert!(
        text.contains("response.output_text.delta") && !text.contains("response.completed"),
        "{text}"
    );
    let last = text.trim_end().rsplit("\n\n").next().unwrap();
    assert!(last.starts_with("event: error\ndata: "), "{text}");
    let error: Value = serde_json::from_str(last.split_once("data: ").unwrap().1).unwrap();
    assert_eq!(
        (error["code"].as_str(), error["sequence_number"].as_u64()),
        (Some("stream_cut"), Some(6))
    );
    let logs = rig.logs(2).await;
    assert!(
        logs.iter().any(|log| log.error_class.as_deref() == Some("stream_cut")),
        "{logs:?}"
    );
}

#[tokio::test]
async fn a_request_the_gateway_must_read_goes_through_chat_and_what_needs_openais_state_is_refused_naming_why() {
    let mock = MockUpstream::start().await.unwrap();
    // Another kind beside an OpenAI endpoint.
    let endpoints = vec![
        endpoint("a", ProviderKind::OpenAi, &mock.url()),
        endpoint("b", ProviderKind::Anthropic, &mock.url()),
    ];
    let mixed = Rig::start(steady, endpoints, |_| {}).await;
    // A cache that must read the answer.
    let caching = Rig::start(steady, vec![endpoint("a", ProviderKind::OpenAi, &mock.url())], caches).await;
    // A parameter policy, which applies to what is sent.
    let policy = app::types::ParamPolicy {
        denied: vec!["service_tier".into()],
        ..Default::default()
    };
    let policed = Rig::start(
        steady,
        vec![endpoint("a", ProviderKind::OpenAi, &mock.url())],
        |gateway| gateway.param_policy = policy,
    )
    .await;
    for (rig, why) in [(&mixed, "Anthropic"), (&caching, "caches"), (&policed, "policy")] {
        let plain = rig
            .post("/v1/responses", &json!({ "model": "gpt-4o-mini", "input": "hi" }))
            .await;
        assert_eq!(plain.status(), 200);
        let answer: Value = plain.json().await.unwrap();
        assert_eq!(answer["output"][0]["content"][0]["text"], "mock reply to: hi");
        assert!(
            mock.recorded().last().unwrap().path.ends_with("/chat/completions"),
            "through chat"
        );

        let refused = rig.post("/v1/responses", &stateful()).await;
        assert_eq!(refused.status(), 400);
        let error: Value = refused.json().await.unwrap();
        assert_eq!(error["error"]["param"], "previous_response_id", "{error}");
        let message = error["error"]["message"].as_str().unwrap();
        assert!(message.contains("chat path") && message.contains(why), "{message}");
    }
    assert_eq!(mock.requests_received(), 3, "nothing refused reaches the upstream");
    let retrieved = reqwest::Client::new()
        .get(format!("{}/v1/responses/resp_1", mixed.server.url))
        .bearer_auth(&mixed.key)
        .send()
        .await
        .unwrap();
    assert_eq!(retrieved.status(), 400);
}

#[tokio::test]
async fn the_openai_sdk_creates_responses_through_every_kind_of_endpoint() {
    let Some(python) = crate::sdk::python() else { return };
    for kind in KINDS {
        let mock = MockUpstream::start().await.unwrap();
        let rig = Rig::start(steady, vec![endpoint("e", kind, &mock.url())], |_| {}).await;
        // OpenAI's own API keeps the conversation; through chat, it is refused by name.
        let (state, answered) = match kind {
            ProviderKind::OpenAi => ("stateful", 4),
            _ => ("stateless", 3),
        };
        let checks = ["json", "stream", "stream helper", state, "retrieve refused"];
        crate::sdk::script_passes(&python, "responses_sdk.py", &rig.server.url, &rig.key, &checks).await;
        let logs = rig.logs(answered).await;
        assert!(
            logs.iter()
                .all(|log| log.prompt_tokens == 10 && log.completion_tokens == 5),
            "{kind:?}: {logs:?}"
        );
    }
}
