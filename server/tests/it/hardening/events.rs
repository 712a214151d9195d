//! An upstream's oversized stream event (issue 18, item 7): the decoder holds at most 1 MiB of
//! one event; past that the client's stream ends with an error event, after what was sent.

use crate::rig::{chat, endpoint, steady, Rig};
use app::types::ProviderKind;
use server::testing::{Behaviour, MockUpstream};

#[tokio::test]
async fn an_oversized_event_ends_the_stream_with_an_error_event() {
    let mock = MockUpstream::start().await.unwrap();
    let first = r#"data: {"id":"c","object":"chat.completion.chunk","created":1,"model":"m","choices":[{"index":0,"delta":{"content":"hello"},"finish_reason":null}]}"#;
    // A line of 2 MiB that never ends.
    let huge = format!(
        "data: {{\"id\":\"c\",\"choices\":[{{\"delta\":{{\"content\":\"{}",
        "x".repeat(2 << 20)
    );
    mock.set_fallback(Behaviour::Status {
        status: 200,
        headers: vec![("content-type".into(), "text/event-stream".into())],
        body: format!("{first}\n\n{huge}"),
    });
    let rig = Rig::start(steady, vec![endpoint("a", ProviderKind::OpenAi, &mock.url())], |_| {}).await;
    let response = rig.post("/v1/chat/completions", &chat(true)).await;
    assert_eq!(response.status(), 200);
    let text = response.text().await.unwrap();
    assert!(text.contains("hello"), "what came before is sent");
    assert!(
        text.contains("larger than 1048576 bytes"),
        "{}",
        &text[..text.len().min(600)]
    );
    assert!(
        text.len() < 4096,
        "the oversized event is not passed on ({} bytes)",
        text.len()
    );
    let logs = rig.logs(1).await;
    assert_eq!(logs[0].error_class.as_deref(), Some("stream_event_too_large"));
}
