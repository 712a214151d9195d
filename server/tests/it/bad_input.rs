//! RELIABILITY §4.5 bad input (B-01…B-07): each gets a clear 4xx in OpenAI's shape, makes no
//! upstream call, charges nothing, writes no row, and leaves the gateway serving.

use crate::rig::{chat, endpoint, steady, Rig, CANARY};
use app::types::ProviderKind;
use serde_json::{json, Value};
use server::testing::MockUpstream;

const LIMIT: usize = 64 * 1024;

async fn rig(mock: &MockUpstream) -> Rig {
    Rig::start(
        |config| {
            steady(config);
            config.proxy.max_body_bytes = LIMIT;
        },
        vec![endpoint("a", ProviderKind::OpenAi, &mock.url())],
        |_| {},
    )
    .await
}

/// Asserts the response is `status` with an OpenAI error naming `param`; returns the error.
async fn refused(response: reqwest::Response, status: u16, param: Option<&str>) -> Value {
    let actual = response.status();
    assert!(response.headers().contains_key("x-request-id"));
    let text = response.text().await.unwrap();
    assert_eq!(actual, status, "{text}");
    let body: Value = serde_json::from_str(&text).unwrap();
    let error = body["error"].clone();
    for field in ["message", "type", "param", "code"] {
        assert!(error.get(field).is_some(), "OpenAI error shape: {body}");
    }
    assert!(!error["message"].as_str().unwrap().is_empty());
    if let Some(param) = param {
        assert_eq!(error["param"], param, "{body}");
    }
    error
}

/// Nothing reached the upstream, nothing was logged, and a good request still works.
async fn untouched(rig: &Rig, mock: &MockUpstream) {
    assert_eq!(mock.requests_received(), 0, "no upstream call");
    assert!(rig.logs_now().await.is_empty(), "no row written");
    assert_eq!(rig.post("/v1/chat/completions", &chat(false)).await.status(), 200);
}

#[tokio::test]
async fn b01_unreadable_bodies_are_400() {
    let mock = MockUpstream::start().await.unwrap();
    let rig = rig(&mock).await;
    for body in [
        &b"{\"model\": \"gpt-4o-mini\", \"messages\": ["[..],
        b"{\"model\"",
        b"\xff\xfe{}",
        b"",
        b"[]",
    ] {
        let error = refused(rig.post_raw("/v1/chat/completions", body.to_vec()).await, 400, None).await;
        assert_eq!(error["type"], "invalid_request_error");
    }
    untouched(&rig, &mock).await;
}

#[tokio::test]
async fn b02_wrong_fields_are_400_naming_the_param() {
    let mock = MockUpstream::start().await.unwrap();
    let rig = rig(&mock).await;
    let with = |name: &str, value: Value| {
        let mut body = chat(false);
        body[name] = value;
        body
    };
    let mut no_model = chat(false);
    no_model.as_object_mut().unwrap().remove("model");
    for (body, param) in [
        (with("messages", json!("hello")), "messages"),
        (no_model, "model"),
        (with("stream", json!("yes")), "stream"),
        (with("temperature", json!("hot")), "temperature"),
        (with("max_tokens", json!(-1)), "max_tokens"),
        (with("max_tokens", json!(1_000_000_000)), "max_tokens"),
        (with("n", json!(129)), "n"),
        (with("best_of", json!(21)), "best_of"),
    ] {
        refused(rig.post("/v1/chat/completions", &body).await, 400, Some(param)).await;
    }
    untouched(&rig, &mock).await;
}

#[tokio::test]
async fn b03_unknown_models_are_404_before_routing() {
    let mock = MockUpstream::start().await.unwrap();
    let rig = rig(&mock).await;
    let mut body = chat(false);
    body["model"] = json!("gpt-unknown");
    let error = refused(rig.post("/v1/chat/completions", &body).await, 404, Some("model")).await;
    assert_eq!(error["code"], "model_not_found");
    untouched(&rig, &mock).await;
}

#[tokio::test]
async fn b04_oversized_and_deeply_nested_bodies_are_refused() {
    let mock = MockUpstream::start().await.unwrap();
    let rig = rig(&mock).await;
    // One byte over the limit, declared.
    let mut body = serde_json::to_vec(&chat(false)).unwrap();
    let padding = LIMIT + 1 - body.len();
    body.splice(1..1, format!("\"pad\":\"{}\",", "x".repeat(padding - 9)).into_bytes());
    assert_eq!(body.len(), LIMIT + 1);
    let error = refused(rig.post_raw("/v1/chat/completions", body.clone()).await, 413, None).await;
    assert_eq!(error["code"], "request_too_large");
    // The same, streamed without a length: refused once the limit is passed.
    let chunks: Vec<Result<Vec<u8>, std::io::Error>> = body.chunks(4096).map(|c| Ok(c.to_vec())).collect();
    let response = reqwest::Client::new()
        .post(format!("{}/v1/chat/completions", rig.server.url))
        .bearer_auth(&rig.key)
        .header("content-type", "application/json")
        .body(reqwest::Body::wrap_stream(futures_util::stream::iter(chunks)))
        .send()
        .await
        .unwrap();
    refused(response, 413, None).await;
    // Exactly at the limit is fine as far as size goes.
    body.remove(10);
    assert_eq!(rig.post_raw("/v1/chat/completions", body).await.status(), 200);
    let nested = format!(
        r#"{{"model":"gpt-4o-mini","messages":[{{"role":"user","content":"hi"}}],"x":{}{}}}"#,
        "[".repeat(10_000),
        "]".repeat(10_000)
    );
    refused(
        rig.post_raw("/v1/chat/completions", nested.into_bytes()).await,
        400,
        None,
    )
    .await;
    assert_eq!(
        mock.requests_received(),
        1,
        "only the request within the limit went upstream"
    );
}

#[tokio::test]
async fn b05_unicode_is_forwarded_byte_exact_and_lone_surrogates_are_refused() {
    let mock = MockUpstream::start().await.unwrap();
    let rig = rig(&mock).await;
    let text = "emoji 🦀👩‍👩‍👧, RTL مرحبا بالعالم, combining e\u{301}\u{302}, nul \u{0} end";
    let mut body = chat(false);
    body["messages"][0]["content"] = json!(text);
    assert_eq!(rig.post("/v1/chat/completions", &body).await.status(), 200);
    let sent = mock.recorded()[0].body.clone().unwrap();
    assert_eq!(sent["messages"][0]["content"].as_str(), Some(text));
    let lone = br#"{"model":"gpt-4o-mini","messages":[{"role":"user","content":"bad \ud800 here"}]}"#;
    refused(rig.post_raw("/v1/chat/completions", lone.to_vec()).await, 400, None).await;
    assert_eq!(mock.requests_received(), 1);
}

#[tokio::test]
async fn b06_a_body_cannot_choose_the_upstream_or_its_credential() {
    let mock = MockUpstream::start().await.unwrap();
    let rig = rig(&mock).await;
    let mut body = chat(false);
    body["api_base"] = json!("http://169.254.169.254/");
    body["base_url"] = json!("http://evil.test/v1");
    body["api_key"] = json!("sk-attacker");
    body["extra_body"] = json!({ "api_base": "http://evil.test", "api_key": "sk-attacker", "keep": true });
    assert_eq!(rig.post("/v1/chat/completions", &body).await.status(), 200);
    let sent = &mock.recorded()[0];
    assert_eq!(sent.path, "/v1/chat/completions");
    assert_eq!(sent.header("authorization"), Some(format!("Bearer {CANARY}").as_str()));
    let sent = sent.body.clone().unwrap();
    for field in ["api_base", "base_url", "api_key"] {
        assert!(sent.get(field).is_none(), "{field} dropped");
        assert!(sent["extra_body"].get(field).is_none(), "nested {field} dropped");
    }
    assert_eq!(sent["extra_body"]["keep"], true);
    assert_eq!(mock.requests_received(), 1, "only the mock was called");
}

#[tokio::test]
async fn b07_bad_embedding_inputs_are_400() {
    let mock = MockUpstream::start().await.unwrap();
    let rig = rig(&mock).await;
    let many: Vec<String> = (0..10_000).map(|i| format!("t{i}")).collect();
    for input in [
        json!(""),
        json!([]),
        json!([1, "two"]),
        json!([{ "text": "x" }]),
        json!(null),
    ] {
        let body = json!({ "model": "gpt-4o-mini", "input": input });
        refused(rig.post("/v1/embeddings", &body).await, 400, Some("input")).await;
    }
    // 10k inputs: past this rig's 64 KiB body limit (413); under a larger one, past the
    // 2048-input limit (400).
    let body = json!({ "model": "gpt-4o-mini", "input": many });
    refused(rig.post("/v1/embeddings", &body).await, 413, None).await;
    let roomy = Rig::start(steady, vec![endpoint("a", ProviderKind::OpenAi, &mock.url())], |_| {}).await;
    refused(roomy.post("/v1/embeddings", &body).await, 400, Some("input")).await;
    untouched(&rig, &mock).await;
}
