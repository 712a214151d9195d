//! OpenAI's Responses API (`/v1/responses`, issue #25) through the real server: answered by
//! every kind of endpoint through the chat path, usage counted and logged, what needs server
//! state refused — and the official `openai` SDK's `responses.create` against OpenAI-,
//! Anthropic-, Gemini-, Vertex- and Bedrock-kind endpoints on the mock.

use crate::rig::{endpoint, steady, Rig};
use app::types::ProviderKind;
use serde_json::{json, Value};
use server::testing::MockUpstream;

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

#[tokio::test]
async fn what_needs_server_state_is_refused_in_openais_shape() {
    let mock = MockUpstream::start().await.unwrap();
    let rig = Rig::openai(&mock).await;
    let response = rig
        .post(
            "/v1/responses",
            &json!({ "model": "gpt-4o-mini", "input": "hi", "previous_response_id": "resp_1" }),
        )
        .await;
    assert_eq!(response.status(), 400);
    let body: Value = response.json().await.unwrap();
    assert_eq!(body["error"]["param"], "previous_response_id", "{body}");
    let hosted = rig
        .post(
            "/v1/responses",
            &json!({ "model": "gpt-4o-mini", "input": "hi", "tools": [{ "type": "web_search" }] }),
        )
        .await;
    assert_eq!(hosted.status(), 400);
    let retrieved = reqwest::Client::new()
        .get(format!("{}/v1/responses/resp_1", rig.server.url))
        .bearer_auth(&rig.key)
        .send()
        .await
        .unwrap();
    assert_eq!(retrieved.status(), 400);
    assert_eq!(mock.requests_received(), 0, "nothing refused reaches the upstream");
}

#[tokio::test]
async fn the_openai_sdk_creates_responses_through_every_kind_of_endpoint() {
    let Some(python) = crate::sdk::python() else { return };
    for kind in KINDS {
        let mock = MockUpstream::start().await.unwrap();
        let rig = Rig::start(steady, vec![endpoint("e", kind, &mock.url())], |_| {}).await;
        let checks = ["json", "stream", "stream helper", "stateless"];
        crate::sdk::script_passes(&python, "responses_sdk.py", &rig.server.url, &rig.key, &checks).await;
        let logs = rig.logs(3).await;
        assert!(
            logs.iter()
                .all(|log| log.prompt_tokens == 10 && log.completion_tokens == 5),
            "{kind:?}: {logs:?}"
        );
    }
}
