//! Gemini endpoints (issue #25) through the real server: what the upstream receives (its own
//! turns, the key in its header, the streaming method), a failure mid-stream, and "Test
//! connection" and the CLI for the new kind. The conformance suite covers the rest.

use crate::cli::Cli;
use crate::rig::{chat, data_lines, endpoint, steady, Rig, CANARY};
use app::types::ProviderKind;
use serde_json::{json, Value};
use server::testing::{Behaviour, MockUpstream};

#[tokio::test]
async fn a_stream_is_asked_of_stream_generate_content_in_geminis_own_terms() {
    let mock = MockUpstream::start().await.unwrap();
    let rig = Rig::start(steady, vec![endpoint("g", ProviderKind::Gemini, &mock.url())], |_| {}).await;
    let mut body = chat(true);
    body["messages"] = json!([
        { "role": "system", "content": "Be brief." },
        { "role": "user", "content": "hello there" },
    ]);
    body["max_tokens"] = json!(40);
    let text = rig.post("/v1/chat/completions", &body).await.text().await.unwrap();
    let data = data_lines(&text);
    assert_eq!(data.last(), Some(&"[DONE]"), "{text}");
    let first: Value = serde_json::from_str(data[0]).unwrap();
    assert_eq!(first["model"], "gpt-4o-mini", "the model Gemini names in its events");

    let sent = &mock.recorded()[0];
    assert_eq!(sent.path, "/v1beta/models/gpt-4o-mini:streamGenerateContent?alt=sse");
    assert_eq!(sent.header("x-goog-api-key"), Some(CANARY));
    assert!(!sent.path.contains(CANARY), "the key never travels in the URL");
    assert_eq!(sent.header("authorization"), None);
    let sent = sent.body.as_ref().unwrap();
    assert_eq!(
        sent,
        &json!({
            "contents": [{ "role": "user", "parts": [{ "text": "hello there" }] }],
            "systemInstruction": { "parts": [{ "text": "Be brief." }] },
            "generationConfig": { "maxOutputTokens": 40 },
        }),
        "no OpenAI field reaches Gemini"
    );
}

#[tokio::test]
async fn an_error_event_mid_stream_ends_the_stream_with_geminis_message() {
    let mock = MockUpstream::start().await.unwrap();
    mock.push(Behaviour::Sse {
        chunks: 6,
        cut_after: None,
        stall_after: None,
        error_at: Some(3),
    });
    let rig = Rig::start(steady, vec![endpoint("g", ProviderKind::Gemini, &mock.url())], |_| {}).await;
    let text = rig
        .post("/v1/chat/completions", &chat(true))
        .await
        .text()
        .await
        .unwrap();
    assert!(text.contains("word2 "), "what came before is delivered: {text}");
    assert!(
        text.contains("stream_error") && text.contains("The model is overloaded."),
        "{text}"
    );
    assert!(!text.contains("[DONE]"), "{text}");
    let logs = rig.logs(1).await;
    assert_eq!(logs[0].error_class.as_deref(), Some("stream_error"));
}

#[tokio::test]
async fn test_connection_asks_gemini_for_one_token() {
    let mock = MockUpstream::start().await.unwrap();
    let rig = Rig::start(steady, vec![endpoint("g", ProviderKind::Gemini, &mock.url())], |_| {}).await;
    let manage = &rig.server.state.manage;
    let id = manage.endpoints().await.unwrap()[0].id;
    let probe = manage.test_endpoint(&server::manage::Actor::cli(), id).await.unwrap();
    assert_eq!((probe.status, probe.error.as_deref()), (Some(200), None), "{probe:?}");
    let sent = mock.recorded().pop().unwrap();
    assert_eq!(sent.path, "/v1beta/models/gpt-4o-mini:generateContent");
    assert_eq!(sent.body.unwrap()["generationConfig"]["maxOutputTokens"], 1);
}

#[test]
fn the_cli_adds_a_gemini_endpoint_at_googles_address_by_default() {
    let cli = Cli::new();
    cli.ok(&[
        "endpoint",
        "add",
        "--name",
        "gem",
        "--provider",
        "gemini",
        "--api-key",
        "AIza-test",
        "--model",
        "gemini-2.5-flash",
    ]);
    let listed = cli.ok(&["endpoint", "list", "--json"]);
    let listed: Value = serde_json::from_str(&listed).unwrap();
    assert_eq!(listed[0]["provider"], "gemini", "{listed}");
    assert_eq!(
        listed[0]["base_url"],
        "https://generativelanguage.googleapis.com/v1beta"
    );
    assert!(!listed.to_string().contains("AIza-test"), "the key is never shown");
}

#[tokio::test]
async fn token_arrays_to_embed_go_past_gemini_to_an_endpoint_that_takes_them_or_are_refused() {
    let mock = MockUpstream::start().await.unwrap();
    let endpoints = vec![
        endpoint("gemini", ProviderKind::Gemini, &mock.url()),
        endpoint("openai", ProviderKind::OpenAi, &mock.url()),
    ];
    let both = Rig::start(steady, endpoints, |_| {}).await;
    let tokens = json!({ "model": "gpt-4o-mini", "input": [[1, 2, 3], [4, 5]] });
    let served = both.post("/v1/embeddings", &tokens).await;
    assert_eq!(served.status(), 200);
    assert_eq!(
        served.headers()["x-mgw-endpoint"],
        "openai",
        "Gemini, first in order, left out"
    );
    let text = json!({ "model": "gpt-4o-mini", "input": ["a", "b"] });
    let served = both.post("/v1/embeddings", &text).await;
    assert_eq!(served.headers()["x-mgw-endpoint"], "gemini", "text goes in order");
    let floats: Value = served.json().await.unwrap();

    // Asked in base64 (the OpenAI SDKs' default), Gemini's floats come as OpenAI writes them:
    // the base64 of little-endian 32-bit floats.
    let base64 = json!({ "model": "gpt-4o-mini", "input": ["a", "b"], "encoding_format": "base64" });
    let served = both.post("/v1/embeddings", &base64).await;
    assert_eq!(served.headers()["x-mgw-endpoint"], "gemini");
    let encoded: Value = served.json().await.unwrap();
    for index in 0..2 {
        use base64::Engine as _;
        let text = encoded["data"][index]["embedding"].as_str().expect("a base64 string");
        let bytes = base64::engine::general_purpose::STANDARD.decode(text).unwrap();
        let decoded: Vec<f32> = (bytes.chunks_exact(4))
            .map(|four| f32::from_le_bytes(four.try_into().unwrap()))
            .collect();
        let expected: Vec<f32> = (floats["data"][index]["embedding"].as_array().unwrap().iter())
            .map(|x| x.as_f64().unwrap() as f32)
            .collect();
        assert_eq!(decoded, expected, "{encoded}");
    }

    let only = Rig::start(
        steady,
        vec![endpoint("gemini", ProviderKind::Gemini, &mock.url())],
        |_| {},
    )
    .await;
    let before = mock.requests_received();
    let refused = only.post("/v1/embeddings", &tokens).await;
    assert_eq!(refused.status(), 400);
    let error: Value = refused.json().await.unwrap();
    assert_eq!(error["error"]["param"], "input", "{error}");
    assert!(
        error["error"]["message"].as_str().unwrap().contains("token arrays"),
        "{error}"
    );
    assert_eq!(mock.requests_received(), before, "no upstream call");
}
