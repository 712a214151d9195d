//! GraphQL documents from callers without credentials are refused before their body is read;
//! every caller's document text is bounded before it is parsed (issue 18, item 2).

use crate::support::TestServer;
use std::time::Duration;
use tokio::{
    io::{AsyncReadExt, AsyncWriteExt},
    net::TcpStream,
};

/// Sends a request head and the start of a body, never the rest, and returns the status line
/// of the answer (or `None` if none comes within two seconds).
async fn status_before_the_body_ends(server: &TestServer, head: &str) -> Option<String> {
    let mut stream = TcpStream::connect(server.url.trim_start_matches("http://"))
        .await
        .unwrap();
    stream.write_all(head.as_bytes()).await.unwrap();
    stream.write_all(br#"{"query": "{ __typename "#).await.unwrap();
    let mut answer = Vec::new();
    let mut buffer = [0_u8; 1024];
    let read = tokio::time::timeout(Duration::from_secs(2), async {
        while !answer.windows(2).any(|w| w == b"\r\n") {
            match stream.read(&mut buffer).await {
                Ok(0) | Err(_) => break,
                Ok(n) => answer.extend_from_slice(&buffer[..n]),
            }
        }
    })
    .await;
    read.ok()?;
    let text = String::from_utf8_lossy(&answer).to_string();
    text.lines().next().map(str::to_string)
}

#[tokio::test]
async fn an_anonymous_two_megabyte_document_is_refused_before_its_body_arrives() {
    let server = TestServer::start().await;
    let status = status_before_the_body_ends(
        &server,
        "POST /graphql HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nContent-Length: 2000000\r\n\r\n",
    )
    .await;
    let status = status.expect("an answer without waiting for two megabytes");
    assert!(status.starts_with("HTTP/1.1 401"), "{status}");
    assert_eq!(server.state.graphql.resolver_calls(), 0);
}

#[tokio::test]
async fn an_anonymous_body_without_a_length_is_read_only_up_to_the_small_limit() {
    let server = TestServer::start().await;
    let fields = "__typename ".repeat(200_000);
    let body = format!(r#"{{"query": "{{ {fields} }}"}}"#);
    let chunks: Vec<Result<String, std::io::Error>> = vec![Ok(body)];
    let response = reqwest::Client::new()
        .post(format!("{}/graphql", server.url))
        .header("content-type", "application/json")
        .body(reqwest::Body::wrap_stream(futures_util::stream::iter(chunks)))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 401);
    assert_eq!(server.state.graphql.resolver_calls(), 0);
}

#[tokio::test]
async fn a_signed_in_callers_document_past_64_kib_is_refused_before_parsing() {
    let server = TestServer::start().await;
    server.create_admin("admin@example.com").await;
    let (client, _) = server.signed_in("admin@example.com").await;
    let query = format!("{{ {} }}", "viewer { role } ".repeat(5_000));
    let response = client
        .post(format!("{}/graphql", server.url))
        .json(&serde_json::json!({ "query": query }))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 413);
    let body: serde_json::Value = response.json().await.unwrap();
    assert_eq!(body["errors"][0]["extensions"]["code"], "BAD_REQUEST", "{body}");
    // A document within the bound still runs.
    let response = client
        .post(format!("{}/graphql", server.url))
        .json(&serde_json::json!({ "query": "{ viewer { role } }" }))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 200);
}
