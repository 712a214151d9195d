//! One conformance suite, instantiated for every provider kind: the same client requests must
//! work — answers, streams, usage, credentials in the provider's header, errors passed on in
//! OpenAI's shape — whatever the endpoint speaks. A new kind fails to compile until listed.

use crate::rig::{chat, data_lines, endpoint, steady, Rig, CANARY};
use app::types::{ParamPolicy, ParamValue, ProviderKind};
use serde_json::{json, Value};
use server::testing::{Behaviour, MockUpstream, Usage};

/// Every kind must appear here, and below as a suite.
const fn listed(kind: ProviderKind) -> &'static str {
    match kind {
        ProviderKind::OpenAi => "openai",
        ProviderKind::AzureOpenAi => "azure_openai",
        ProviderKind::Anthropic => "anthropic",
        ProviderKind::Ollama => "ollama",
        ProviderKind::OpenAiCompatible => "openai_compatible",
        ProviderKind::Gemini => "gemini",
        ProviderKind::Vertex => "vertex",
        ProviderKind::Bedrock => "bedrock",
    }
}

async fn rig(kind: ProviderKind, mock: &MockUpstream) -> Rig {
    let mut new = endpoint("e", kind, &mock.url());
    if kind == ProviderKind::Ollama {
        new.api_key = None;
    }
    Rig::start(steady, vec![new], |_| {}).await
}

/// The path and credential header the provider expects.
fn expected_call(kind: ProviderKind) -> (&'static str, Option<(&'static str, String)>) {
    match kind {
        ProviderKind::OpenAi | ProviderKind::OpenAiCompatible => (
            "/v1/chat/completions",
            Some(("authorization", format!("Bearer {CANARY}"))),
        ),
        ProviderKind::Ollama => ("/v1/chat/completions", None),
        ProviderKind::AzureOpenAi => (
            "/openai/deployments/mini-deployment/chat/completions?api-version=2024-10-21",
            Some(("api-key", CANARY.to_string())),
        ),
        ProviderKind::Anthropic => ("/v1/messages", Some(("x-api-key", CANARY.to_string()))),
        ProviderKind::Gemini => (
            "/v1beta/models/gpt-4o-mini:generateContent",
            Some(("x-goog-api-key", CANARY.to_string())),
        ),
        // The service account's first token, exchanged at the mock's `/token`.
        ProviderKind::Vertex => (
            "/v1/projects/test-project/locations/us-central1/publishers/google/models/gpt-4o-mini:generateContent",
            Some(("authorization", "Bearer ya29.mock-1".to_string())),
        ),
        // Signed, not sent: the signature's head names the key, the day, the region, the service.
        ProviderKind::Bedrock => (
            "/model/gpt-4o-mini/converse",
            Some(("authorization", "AWS4-HMAC-SHA256 Credential=AKIDTEST/".to_string())),
        ),
    }
}

fn error_body(kind: ProviderKind, message: &str) -> String {
    match kind {
        ProviderKind::Anthropic => {
            json!({ "type": "error", "error": { "type": "invalid_request_error", "message": message } }).to_string()
        }
        ProviderKind::Gemini | ProviderKind::Vertex => {
            json!({ "error": { "code": 400, "message": message, "status": "INVALID_ARGUMENT" } }).to_string()
        }
        ProviderKind::Bedrock => json!({ "message": message }).to_string(),
        ProviderKind::OpenAi | ProviderKind::OpenAiCompatible | ProviderKind::AzureOpenAi | ProviderKind::Ollama => {
            json!({ "error": { "message": message, "type": "invalid_request_error", "param": "messages", "code": null } })
                .to_string()
        }
    }
}

pub async fn answers_chat_with_usage_and_the_right_credential(kind: ProviderKind) {
    let mock = MockUpstream::start().await.unwrap();
    mock.push(Behaviour::Answer {
        usage: Usage {
            prompt: 11,
            completion: 4,
        },
        chunks: 1,
    });
    let rig = rig(kind, &mock).await;
    let response = rig.post("/v1/chat/completions", &chat(false)).await;
    assert_eq!(response.status(), 200, "{}", listed(kind));
    let answer: Value = response.json().await.unwrap();
    assert_eq!(answer["object"], "chat.completion");
    assert_eq!(answer["choices"][0]["message"]["content"], "mock reply to: hello there");
    assert_eq!(answer["choices"][0]["finish_reason"], "stop");
    assert_eq!(answer["usage"]["prompt_tokens"], 11);
    let sent = &mock.recorded()[0];
    let (path, credential) = expected_call(kind);
    assert_eq!(sent.path, path);
    match credential {
        Some((header, value)) if kind == ProviderKind::Bedrock => {
            let signature = sent.header(header).unwrap_or_default();
            assert!(signature.starts_with(&value), "{signature}");
            assert!(signature.contains("/us-west-2/bedrock/aws4_request"), "{signature}");
            assert!(
                !sent.headers.iter().any(|(_, v)| v.contains(CANARY)),
                "the secret never travels"
            );
        }
        Some((header, value)) => assert_eq!(sent.header(header), Some(value.as_str())),
        None => assert_eq!(sent.header("authorization"), None),
    }
    let logs = rig.logs(1).await;
    assert_eq!((logs[0].prompt_tokens, logs[0].completion_tokens), (11, 4));
}

pub async fn streams_with_usage_counted(kind: ProviderKind) {
    let mock = MockUpstream::start().await.unwrap();
    let rig = rig(kind, &mock).await;
    let text = rig
        .post("/v1/chat/completions", &chat(true))
        .await
        .text()
        .await
        .unwrap();
    let data = data_lines(&text);
    assert_eq!(data.last(), Some(&"[DONE]"), "{}: {text}", listed(kind));
    let content: String = data[..data.len() - 1]
        .iter()
        .map(|d| serde_json::from_str::<Value>(d).unwrap())
        .filter_map(|c| c["choices"][0]["delta"]["content"].as_str().map(str::to_string))
        .collect();
    assert_eq!(content, "word0 word1 word2 ");
    let finish: Vec<Value> = data[..data.len() - 1]
        .iter()
        .map(|d| serde_json::from_str::<Value>(d).unwrap()["choices"][0]["finish_reason"].clone())
        .filter(|f| !f.is_null())
        .collect();
    assert_eq!(finish, [json!("stop")]);
    let logs = rig.logs(1).await;
    assert_eq!(
        (logs[0].prompt_tokens, logs[0].completion_tokens),
        (10, 5),
        "{}",
        listed(kind)
    );
}

pub async fn passes_client_errors_on_in_openai_shape(kind: ProviderKind) {
    let mock = MockUpstream::start().await.unwrap();
    mock.push(Behaviour::Status {
        status: 400,
        headers: vec![],
        body: error_body(kind, "messages: too long"),
    });
    let rig = rig(kind, &mock).await;
    let response = rig.post("/v1/chat/completions", &chat(false)).await;
    assert_eq!(response.status(), 400);
    let body: Value = response.json().await.unwrap();
    assert_eq!(body["error"]["message"], "messages: too long", "{}", listed(kind));
    assert_eq!(body["error"]["type"], "invalid_request_error");
    assert_eq!(mock.requests_received(), 1, "a client error is not retried");
}

pub async fn ends_a_cut_stream_with_an_error(kind: ProviderKind) {
    let mock = MockUpstream::start().await.unwrap();
    mock.push(Behaviour::Sse {
        chunks: 10,
        cut_after: Some(5),
        stall_after: None,
        error_at: None,
    });
    let rig = rig(kind, &mock).await;
    let text = rig
        .post("/v1/chat/completions", &chat(true))
        .await
        .text()
        .await
        .unwrap();
    assert!(
        text.contains("stream_cut") && !text.contains("[DONE]"),
        "{}: {text}",
        listed(kind)
    );
    assert_eq!(mock.requests_received(), 1);
}

pub async fn serves_embeddings_where_the_provider_has_them(kind: ProviderKind) {
    let mock = MockUpstream::start().await.unwrap();
    let rig = rig(kind, &mock).await;
    let response = rig
        .post("/v1/embeddings", &json!({ "model": "gpt-4o-mini", "input": "hello" }))
        .await;
    match kind {
        // Bedrock embeds with its embedding models only (`bedrock.rs`): a chat model is refused.
        ProviderKind::Anthropic | ProviderKind::Bedrock => {
            assert_eq!(
                response.status(),
                400,
                "{kind:?} serves no embeddings through the gateway"
            );
            assert_eq!(mock.requests_received(), 0);
        }
        ProviderKind::OpenAi
        | ProviderKind::OpenAiCompatible
        | ProviderKind::AzureOpenAi
        | ProviderKind::Ollama
        | ProviderKind::Gemini
        | ProviderKind::Vertex => {
            assert_eq!(response.status(), 200);
            let body: Value = response.json().await.unwrap();
            assert_eq!(body["data"][0]["object"], "embedding");
        }
    }
}

/// The gateway's parameter policy (issue #22) reaches every provider: an override replaces
/// what the client sent, a maximum lowers it, in whatever dialect the endpoint speaks.
pub async fn applies_the_gateways_parameter_policy(kind: ProviderKind) {
    let mock = MockUpstream::start().await.unwrap();
    let mut new = endpoint("e", kind, &mock.url());
    if kind == ProviderKind::Ollama {
        new.api_key = None;
    }
    let policy = ParamPolicy {
        overrides: vec![ParamValue {
            name: "temperature".into(),
            value: "0.3".into(),
        }],
        maxima: vec![ParamValue {
            name: "max_tokens".into(),
            value: "32".into(),
        }],
        ..ParamPolicy::default()
    };
    let rig = Rig::start(steady, vec![new], |gateway| gateway.param_policy = policy).await;
    let mut body = chat(false);
    body["max_tokens"] = json!(500);
    body["temperature"] = json!(1.5);
    assert_eq!(rig.post("/v1/chat/completions", &body).await.status(), 200);
    let sent = mock.recorded().pop().unwrap().body.unwrap();
    // Gemini's sampling and length live in `generationConfig`, under their own names.
    let (max_tokens, temperature) = match kind {
        ProviderKind::Gemini | ProviderKind::Vertex => {
            ("/generationConfig/maxOutputTokens", "/generationConfig/temperature")
        }
        ProviderKind::Bedrock => ("/inferenceConfig/maxTokens", "/inferenceConfig/temperature"),
        ProviderKind::OpenAi
        | ProviderKind::OpenAiCompatible
        | ProviderKind::AzureOpenAi
        | ProviderKind::Ollama
        | ProviderKind::Anthropic => ("/max_tokens", "/temperature"),
    };
    assert_eq!(sent.pointer(max_tokens), Some(&json!(32)), "{kind:?}: {sent}");
    assert_eq!(sent.pointer(temperature), Some(&json!(0.3)), "{kind:?}: {sent}");
}

macro_rules! conformance {
    ($($suite:ident => $kind:expr),* $(,)?) => {
        /// The kinds the suites below run for.
        const SUITES: &[ProviderKind] = &[$($kind),*];
        $(
        mod $suite {
            use app::types::ProviderKind;

            #[tokio::test]
            async fn answers_chat_with_usage_and_the_right_credential() {
                super::answers_chat_with_usage_and_the_right_credential($kind).await;
            }

            #[tokio::test]
            async fn streams_with_usage_counted() {
                super::streams_with_usage_counted($kind).await;
            }

            #[tokio::test]
            async fn passes_client_errors_on_in_openai_shape() {
                super::passes_client_errors_on_in_openai_shape($kind).await;
            }

            #[tokio::test]
            async fn ends_a_cut_stream_with_an_error() {
                super::ends_a_cut_stream_with_an_error($kind).await;
            }

            #[tokio::test]
            async fn serves_embeddings_where_the_provider_has_them() {
                super::serves_embeddings_where_the_provider_has_them($kind).await;
            }

            #[tokio::test]
            async fn applies_the_gateways_parameter_policy() {
                super::applies_the_gateways_parameter_policy($kind).await;
            }
        }
    )*};
}

conformance! {
    openai => ProviderKind::OpenAi,
    azure_openai => ProviderKind::AzureOpenAi,
    anthropic => ProviderKind::Anthropic,
    ollama => ProviderKind::Ollama,
    openai_compatible => ProviderKind::OpenAiCompatible,
    gemini => ProviderKind::Gemini,
    vertex => ProviderKind::Vertex,
    bedrock => ProviderKind::Bedrock,
}

/// Every kind has a suite: the macro's list is checked against [`ProviderKind::ALL`].
#[test]
fn every_provider_kind_has_a_suite() {
    for kind in ProviderKind::ALL {
        assert!(SUITES.contains(&kind), "no conformance suite for {}", listed(kind));
    }
}
