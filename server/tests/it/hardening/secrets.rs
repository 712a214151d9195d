//! A provider key echoed by the upstream (issue 18, item 8): scrubbed from what reaches the
//! client, whether it is the endpoint's own credential or anything shaped like a key.

use crate::rig::{chat, endpoint, steady, Rig, CANARY};
use app::types::{ProviderKind, WriteOnly};
use server::testing::{Behaviour, MockUpstream};

fn refusal_quoting(text: &str) -> Behaviour {
    Behaviour::Status {
        status: 400,
        headers: vec![("content-type".into(), "application/json".into())],
        body: serde_json::json!({ "error": {
            "message": format!("Incorrect API key provided: {text}. You can find your API key at https://platform.openai.com."),
            "type": "invalid_request_error", "param": null, "code": "invalid_api_key" } })
        .to_string(),
    }
}

#[tokio::test]
async fn an_upstream_error_quoting_the_credential_reaches_the_client_without_it() {
    let mock = MockUpstream::start().await.unwrap();
    mock.set_fallback(refusal_quoting(&format!("Bearer {CANARY}")));
    let rig = Rig::start(steady, vec![endpoint("a", ProviderKind::OpenAi, &mock.url())], |_| {}).await;
    let response = rig.post("/v1/chat/completions", &chat(false)).await;
    assert_eq!(response.status(), 400);
    let body = response.text().await.unwrap();
    assert!(!body.contains(CANARY), "{body}");
    assert!(!body.contains("sk-canary"), "{body}");
    assert!(body.contains("[redacted]"), "{body}");
}

#[tokio::test]
async fn a_credential_of_no_known_shape_is_scrubbed_too() {
    const AZURE_KEY: &str = "0123456789abcdef0123456789abcdef";
    let mock = MockUpstream::start().await.unwrap();
    mock.set_fallback(refusal_quoting(AZURE_KEY));
    let mut azure = endpoint("a", ProviderKind::AzureOpenAi, &mock.url());
    azure.api_key = Some(WriteOnly(AZURE_KEY.into()));
    let rig = Rig::start(steady, vec![azure], |_| {}).await;
    let response = rig.post("/v1/chat/completions", &chat(false)).await;
    assert_eq!(response.status(), 400);
    let body = response.text().await.unwrap();
    assert!(!body.contains(AZURE_KEY), "{body}");
}
