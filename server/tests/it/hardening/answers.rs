//! Upstream answers are read within bounds (issue 18, item 6): a non-streamed answer past
//! `proxy.max_answer_bytes` fails the attempt (502) instead of being buffered whole.

use crate::rig::{chat, endpoint, steady, Rig};
use app::types::ProviderKind;
use server::testing::{Behaviour, MockUpstream};

#[tokio::test]
async fn an_answer_past_the_limit_is_a_502_not_a_buffer() {
    let mock = MockUpstream::start().await.unwrap();
    let content = "x".repeat(64 * 1024);
    mock.set_fallback(Behaviour::Status {
        status: 200,
        headers: vec![("content-type".into(), "application/json".into())],
        body: format!(
            r#"{{"id":"x","object":"chat.completion","created":1,"model":"m",
               "choices":[{{"index":0,"message":{{"role":"assistant","content":"{content}"}},"finish_reason":"stop"}}],
               "usage":{{"prompt_tokens":1,"completion_tokens":1,"total_tokens":2}}}}"#
        ),
    });
    let rig = Rig::start(
        |config| {
            steady(config);
            config.proxy.max_answer_bytes = 16 * 1024;
        },
        vec![endpoint("a", ProviderKind::OpenAi, &mock.url())],
        |_| {},
    )
    .await;
    let response = rig.post("/v1/chat/completions", &chat(false)).await;
    assert_eq!(response.status(), 502);
    let body: serde_json::Value = response.json().await.unwrap();
    assert_eq!(body["error"]["code"], "upstream_invalid_response", "{body}");

    // Within the limit, the same answer passes.
    let rig = Rig::start(steady, vec![endpoint("a", ProviderKind::OpenAi, &mock.url())], |_| {}).await;
    assert_eq!(rig.post("/v1/chat/completions", &chat(false)).await.status(), 200);
}
