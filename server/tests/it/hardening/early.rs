//! A refusal sent before the body is read (issue 18, item 12) says `Connection: close`: the
//! unread body stands between it and the client's next request on the connection.

use crate::rig::{chat, endpoint, steady, Rig};
use app::types::ProviderKind;
use server::testing::MockUpstream;
use std::time::Duration;
use tokio::{
    io::{AsyncReadExt, AsyncWriteExt},
    net::TcpStream,
};

async fn head_of_answer(stream: &mut TcpStream) -> String {
    let mut head = Vec::new();
    let mut byte = [0_u8; 1];
    while !head.ends_with(b"\r\n\r\n") {
        let read = tokio::time::timeout(Duration::from_secs(5), stream.read(&mut byte))
            .await
            .expect("an answer")
            .unwrap();
        if read == 0 {
            break;
        }
        head.push(byte[0]);
    }
    String::from_utf8_lossy(&head).to_ascii_lowercase()
}

#[tokio::test]
async fn a_401_sent_before_the_body_says_the_connection_closes() {
    let mock = MockUpstream::start().await.unwrap();
    let rig = Rig::start(steady, vec![endpoint("a", ProviderKind::OpenAi, &mock.url())], |_| {}).await;
    let mut stream = TcpStream::connect(rig.server.url.trim_start_matches("http://"))
        .await
        .unwrap();
    stream
        .write_all(
            b"POST /v1/chat/completions HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer mgw_nope\r\n\
              Content-Type: application/json\r\nContent-Length: 100\r\n\r\n",
        )
        .await
        .unwrap();
    let head = head_of_answer(&mut stream).await;
    assert!(head.starts_with("http/1.1 401"), "{head}");
    assert!(head.contains("connection: close"), "{head}");

    // A refusal after the body was read keeps the connection.
    let body = serde_json::json!({ "model": "no-such-model", "messages": chat(false)["messages"] }).to_string();
    let mut stream = TcpStream::connect(rig.server.url.trim_start_matches("http://"))
        .await
        .unwrap();
    let request = format!(
        "POST /v1/chat/completions HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer {}\r\n\
         Content-Type: application/json\r\nContent-Length: {}\r\n\r\n{body}",
        rig.key,
        body.len()
    );
    stream.write_all(request.as_bytes()).await.unwrap();
    let head = head_of_answer(&mut stream).await;
    assert!(head.starts_with("http/1.1 404"), "{head}");
    assert!(!head.contains("connection: close"), "{head}");
}
