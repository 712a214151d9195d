//! The inference API end to end: OpenAI, Azure and Anthropic shapes through the real server to
//! the mock upstream — answers, streams, usage counted, request logs written, fields passed
//! through, and the body never choosing the upstream.

use crate::operator::op;
use crate::rig::{chat, data_lines, endpoint, post_as, steady, Rig, CANARY};
use app::types::ProviderKind;
use serde_json::{json, Value};
use server::testing::{Behaviour, MockUpstream, Usage};

#[tokio::test]
async fn chat_is_answered_counted_and_logged() {
    let mock = MockUpstream::start().await.unwrap();
    mock.push(Behaviour::Answer {
        usage: Usage {
            prompt: 7,
            completion: 3,
        },
        chunks: 1,
    });
    let rig = Rig::start(steady, vec![endpoint("a", ProviderKind::OpenAi, &mock.url())], |g| {
        g.model_aliases.push(app::types::ModelAlias {
            alias: "fast".into(),
            model: "gpt-4o-mini".into(),
        });
    })
    .await;
    let mut body = chat(false);
    body["model"] = json!("fast");
    body["logit_bias"] = json!({ "50256": -100 });
    body["x_vendor_extension"] = json!({ "nested": [1, 2, { "deep": true }] });
    let response = rig.post("/v1/chat/completions", &body).await;
    assert_eq!(response.status(), 200);
    assert_eq!(response.headers()["x-mgw-endpoint"], "a");
    let request_id = response.headers()["x-request-id"].to_str().unwrap().to_string();
    let answer: Value = response.json().await.unwrap();
    assert_eq!(answer["choices"][0]["message"]["content"], "mock reply to: hello there");
    assert_eq!(answer["usage"]["total_tokens"], 10);

    let sent = &mock.recorded()[0];
    assert_eq!(sent.path, "/v1/chat/completions");
    assert_eq!(sent.header("authorization"), Some(format!("Bearer {CANARY}").as_str()));
    assert_ne!(
        sent.header("authorization"),
        Some(format!("Bearer {}", rig.key).as_str())
    );
    let sent_body = sent.body.as_ref().unwrap();
    assert_eq!(
        sent_body["model"], "gpt-4o-mini",
        "the alias resolves to the endpoint's model"
    );
    assert_eq!(
        sent_body["logit_bias"], body["logit_bias"],
        "unknown fields pass through"
    );
    assert_eq!(sent_body["x_vendor_extension"], body["x_vendor_extension"]);
    let keys = |v: &Value| v.as_object().unwrap().keys().cloned().collect::<Vec<_>>();
    assert_eq!(keys(sent_body), keys(&body), "fields keep the client's order");

    let logs = rig.logs(1).await;
    let log = &logs[0];
    assert_eq!(log.request_id, request_id);
    assert_eq!((log.status, log.prompt_tokens, log.completion_tokens), (200, 7, 3));
    assert_eq!((log.api.as_str(), log.operation.as_str()), ("openai", "chat"));
    assert_eq!(log.model.as_deref(), Some("fast"));
    assert_eq!(log.attempts.len(), 1);
    assert_eq!(log.attempts[0].status, Some(200));
    assert!(
        log.request_body.is_none() && log.response_body.is_none(),
        "payloads are off by default"
    );
}

#[tokio::test]
async fn streamed_usage_is_counted_even_when_the_client_did_not_ask() {
    let mock = MockUpstream::start().await.unwrap();
    let rig = Rig::start(steady, vec![endpoint("a", ProviderKind::OpenAi, &mock.url())], |_| {}).await;
    let response = rig.post("/v1/chat/completions", &chat(true)).await;
    assert_eq!(response.status(), 200);
    assert_eq!(response.headers()["content-type"], "text/event-stream");
    let text = response.text().await.unwrap();
    let data = data_lines(&text);
    assert_eq!(data.last(), Some(&"[DONE]"));
    assert!(
        !text.contains("\"usage\""),
        "no usage chunk, nor the upstream's `usage: null`, when the client did not ask: {text}"
    );
    let words: String = data[..data.len() - 1]
        .iter()
        .map(|d| serde_json::from_str::<Value>(d).unwrap())
        .filter_map(|c| c["choices"][0]["delta"]["content"].as_str().map(str::to_string))
        .collect();
    assert_eq!(words, "word0 word1 word2 ");
    let sent = mock.recorded()[0].body.clone().unwrap();
    assert_eq!(
        sent["stream_options"]["include_usage"], true,
        "the upstream is asked for usage"
    );
    let logs = rig.logs(1).await;
    assert_eq!((logs[0].prompt_tokens, logs[0].completion_tokens), (10, 5));
    assert!(logs[0].stream && logs[0].ttft_ms.is_some());

    // A client that asks gets the usage chunk, once, before [DONE].
    let mut body = chat(true);
    body["stream_options"] = json!({ "include_usage": true });
    let text = rig.post("/v1/chat/completions", &body).await.text().await.unwrap();
    let data = data_lines(&text);
    let usage: Value = serde_json::from_str(data[data.len() - 2]).unwrap();
    assert_eq!(usage["usage"]["total_tokens"], 15);
    assert_eq!(usage["choices"], json!([]));
    // The upstream's chunks arrive as it sent them, byte for byte (issue #26).
    let direct = reqwest::Client::new()
        .post(format!("{}/v1/chat/completions", mock.url()))
        .json(&body)
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert!(direct.contains(r#""usage":null"#), "{direct}");
    assert_eq!(data, data_lines(&direct));
}

#[tokio::test]
async fn completions_and_embeddings_pass_through() {
    let mock = MockUpstream::start().await.unwrap();
    let rig = Rig::start(steady, vec![endpoint("a", ProviderKind::OpenAi, &mock.url())], |_| {}).await;
    let response = rig
        .post(
            "/v1/completions",
            &json!({ "model": "gpt-4o-mini", "prompt": "Say hi" }),
        )
        .await;
    assert_eq!(response.status(), 200);
    let answer: Value = response.json().await.unwrap();
    assert_eq!(answer["object"], "text_completion");
    let response = rig
        .post(
            "/v1/embeddings",
            &json!({ "model": "gpt-4o-mini", "input": ["a", "b"] }),
        )
        .await;
    assert_eq!(response.status(), 200);
    let answer: Value = response.json().await.unwrap();
    assert_eq!(answer["data"].as_array().unwrap().len(), 2);
    let paths: Vec<String> = mock.recorded().iter().map(|r| r.path.clone()).collect();
    assert_eq!(paths, ["/v1/completions", "/v1/embeddings"]);
    let logs = rig.logs(2).await;
    assert_eq!(logs[0].operation, "embeddings");
    assert_eq!(logs[1].operation, "completions");
}

#[tokio::test]
async fn azure_clients_use_deployment_paths_and_the_auto_deployment() {
    let mock = MockUpstream::start().await.unwrap();
    let rig = Rig::start(
        steady,
        vec![endpoint("az", ProviderKind::AzureOpenAi, &mock.url())],
        |_| {},
    )
    .await;
    let client = reqwest::Client::new();
    let body = json!({ "messages": [{ "role": "user", "content": "hi" }] });
    for deployment in ["mini-deployment", "gpt-4o-mini", "auto"] {
        let response = client
            .post(format!(
                "{}/openai/deployments/{deployment}/chat/completions?api-version=2024-10-21",
                rig.server.url
            ))
            .header("api-key", &rig.key)
            .json(&body)
            .send()
            .await
            .unwrap();
        assert_eq!(response.status(), 200, "{deployment}");
    }
    let unknown = client
        .post(format!("{}/openai/deployments/nope/chat/completions", rig.server.url))
        .header("api-key", &rig.key)
        .json(&body)
        .send()
        .await
        .unwrap();
    assert_eq!(unknown.status(), 404);
    let sent = &mock.recorded()[0];
    assert_eq!(
        sent.path,
        "/openai/deployments/mini-deployment/chat/completions?api-version=2024-10-21"
    );
    assert_eq!(sent.header("api-key"), Some(CANARY));
    assert_eq!(sent.header("authorization"), None);
}

/// The Anthropic SDK's request, answered by any endpoint.
fn messages_body(stream: bool) -> Value {
    json!({ "model": "gpt-4o-mini", "max_tokens": 64, "stream": stream, "system": "Be brief.",
            "messages": [{ "role": "user", "content": "hello there" }] })
}

#[tokio::test]
async fn anthropic_clients_are_answered_in_their_shape_by_any_endpoint() {
    let mock = MockUpstream::start().await.unwrap();
    for provider in [ProviderKind::OpenAi, ProviderKind::Anthropic, ProviderKind::Gemini] {
        let rig = Rig::start(steady, vec![endpoint("e", provider, &mock.url())], |_| {}).await;
        let response = reqwest::Client::new()
            .post(format!("{}/v1/messages", rig.server.url))
            .header("x-api-key", &rig.key)
            .header("anthropic-version", "2023-06-01")
            .json(&messages_body(false))
            .send()
            .await
            .unwrap();
        let status = response.status();
        let message: Value = response.json().await.unwrap();
        assert_eq!(status, 200, "{provider:?}: {message}");
        assert_eq!(message["type"], "message");
        assert_eq!(
            message["content"][0]["text"], "mock reply to: hello there",
            "{provider:?}"
        );
        assert_eq!(message["stop_reason"], "end_turn");
        assert_eq!(message["usage"], json!({ "input_tokens": 10, "output_tokens": 5 }));

        let response = reqwest::Client::new()
            .post(format!("{}/v1/messages", rig.server.url))
            .header("x-api-key", &rig.key)
            .json(&messages_body(true))
            .send()
            .await
            .unwrap();
        let text = response.text().await.unwrap();
        let events: Vec<&str> = text.lines().filter_map(|l| l.strip_prefix("event: ")).collect();
        assert_eq!(events.first(), Some(&"message_start"), "{provider:?}: {text}");
        assert_eq!(events.last(), Some(&"message_stop"), "{provider:?}: {text}");
        assert!(text.contains(r#""text":"word0 ""#), "{text}");
        assert!(text.contains(r#""output_tokens":5"#), "{text}");
        let logs = rig.logs(2).await;
        assert!(logs.iter().all(|l| l.api == "anthropic" && l.completion_tokens == 5));
    }
    let to_anthropic = mock.recorded().into_iter().find(|r| r.path == "/v1/messages").unwrap();
    assert_eq!(to_anthropic.header("x-api-key"), Some(CANARY));
    assert_eq!(to_anthropic.body.unwrap()["system"], "Be brief.");

    // `max_tokens` is required, as Anthropic's API requires it, whichever endpoint would serve.
    let rig = Rig::start(steady, vec![endpoint("e", ProviderKind::OpenAi, &mock.url())], |_| {}).await;
    let mut body = messages_body(false);
    body.as_object_mut().unwrap().remove("max_tokens");
    let response = reqwest::Client::new()
        .post(format!("{}/v1/messages", rig.server.url))
        .header("x-api-key", &rig.key)
        .json(&body)
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 400);
    let refusal: Value = response.json().await.unwrap();
    assert!(
        refusal["error"]["message"].as_str().unwrap().contains("max_tokens"),
        "{refusal}"
    );
    // In Anthropic's own error shape, which its SDK reads.
    assert_eq!(refusal["type"], "error", "{refusal}");
    assert_eq!(refusal["error"]["type"], "invalid_request_error", "{refusal}");

    // A refused key, too.
    let response = reqwest::Client::new()
        .post(format!("{}/v1/messages", rig.server.url))
        .header("x-api-key", "mgw_not_a_key")
        .json(&messages_body(false))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 401);
    let refusal: Value = response.json().await.unwrap();
    assert_eq!(refusal["error"]["type"], "authentication_error", "{refusal}");
}

#[tokio::test]
async fn payloads_are_logged_only_when_the_gateway_says_so() {
    let mock = MockUpstream::start().await.unwrap();
    let rig = Rig::start(steady, vec![endpoint("a", ProviderKind::OpenAi, &mock.url())], |g| {
        g.log_payloads = true;
    })
    .await;
    rig.post("/v1/chat/completions", &chat(false)).await;
    rig.post("/v1/chat/completions", &chat(true))
        .await
        .text()
        .await
        .unwrap();
    let logs = rig.logs(2).await;
    assert!(logs[1].request_body.as_deref().unwrap().contains("hello there"));
    assert!(logs[1].response_body.as_deref().unwrap().contains("mock reply to"));
    assert_eq!(logs[0].response_body.as_deref(), Some("word0 word1 word2 "));

    let quiet = Rig::start(steady, vec![endpoint("a", ProviderKind::OpenAi, &mock.url())], |g| {
        g.log_metadata = false;
    })
    .await;
    assert_eq!(quiet.post("/v1/chat/completions", &chat(false)).await.status(), 200);
    assert!(quiet.logs_now().await.is_empty(), "no metadata logging, no row");
}

#[tokio::test]
async fn a_key_may_only_use_its_allowed_models() {
    let mock = MockUpstream::start().await.unwrap();
    let rig = Rig::start(steady, vec![endpoint("a", ProviderKind::OpenAi, &mock.url())], |_| {}).await;
    let manage = &rig.server.state.manage;
    let limited = op(manage)
        .create_key(app::types::NewKey {
            gateway: op(manage).gateway_id("g").await,
            name: "limited".into(),
            allowed_models: Some(vec!["other-model".into()]),
            ..Default::default()
        })
        .await
        .unwrap();
    rig.server.state.registry.refresh(manage).await.unwrap();
    let response = post_as(
        &rig.server.url,
        limited.secret.expose(),
        "/v1/chat/completions",
        &chat(false),
    )
    .await;
    assert_eq!(response.status(), 403);
    let body: Value = response.json().await.unwrap();
    assert_eq!(body["error"]["code"], "model_not_allowed");
    let mut unknown = chat(false);
    unknown["model"] = json!("gpt-9");
    let response = rig.post("/v1/chat/completions", &unknown).await;
    assert_eq!(response.status(), 404);
    let body: Value = response.json().await.unwrap();
    assert_eq!(body["error"]["code"], "model_not_found");
    assert_eq!(mock.requests_received(), 0);
}
