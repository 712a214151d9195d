//! A refusal sent before the body is read (issue 18, item 12) says `Connection: close`: the
//! unread body stands between it and the client's next request on the connection.

use super::{answer_head, chat_request, connect};
use crate::rig::{chat, endpoint, steady, Rig};
use app::types::ProviderKind;
use server::testing::MockUpstream;
use tokio::io::AsyncWriteExt;

#[tokio::test]
async fn a_401_sent_before_the_body_says_the_connection_closes() {
    let mock = MockUpstream::start().await.unwrap();
    let rig = Rig::start(steady, vec![endpoint("a", ProviderKind::OpenAi, &mock.url())], |_| {}).await;
    let mut stream = connect(&rig.server).await;
    stream
        .write_all(
            b"POST /v1/chat/completions HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer mgw_nope\r\n\
              Content-Type: application/json\r\nContent-Length: 100\r\n\r\n",
        )
        .await
        .unwrap();
    let head = answer_head(&mut stream).await.to_ascii_lowercase();
    assert!(head.starts_with("http/1.1 401"), "{head}");
    assert!(head.contains("connection: close"), "{head}");

    // A refusal after the body was read keeps the connection.
    let body = serde_json::json!({ "model": "no-such-model", "messages": chat(false)["messages"] });
    let mut stream = connect(&rig.server).await;
    let request = chat_request(&rig.key, &body);
    stream.write_all(request.as_bytes()).await.unwrap();
    let head = answer_head(&mut stream).await.to_ascii_lowercase();
    assert!(head.starts_with("http/1.1 404"), "{head}");
    assert!(!head.contains("connection: close"), "{head}");
}
