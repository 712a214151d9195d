//! Issue 18's attacks, each reproduced against the real server: what an adversary and a broken
//! upstream did to the gateway, and what it must do instead.

mod answers;
mod connections;
mod console;
mod decisions;
mod early;
mod events;
mod files;
mod fragments;
mod graphql;
mod private;
mod readiness;
mod secrets;
mod stalled;
mod uploads;
mod usage;

use crate::support::TestServer;
use std::time::Duration;
use tokio::{
    io::{AsyncReadExt, AsyncWriteExt},
    net::TcpStream,
};

/// A raw connection to the server: these tests send what HTTP clients would not.
pub async fn connect(server: &TestServer) -> TcpStream {
    TcpStream::connect(server.url.trim_start_matches("http://"))
        .await
        .unwrap()
}

/// A whole `POST /v1/chat/completions` with `key` and `body`, as bytes on the wire.
pub fn chat_request(key: &str, body: &serde_json::Value) -> String {
    let body = body.to_string();
    format!(
        "POST /v1/chat/completions HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer {key}\r\n\
         Content-Type: application/json\r\nContent-Length: {}\r\n\r\n{body}",
        body.len()
    )
}

/// The head of the next answer on `stream` (within 5 s), up to its blank line.
pub async fn answer_head(stream: &mut TcpStream) -> String {
    let mut head = Vec::new();
    let mut byte = [0_u8; 1];
    while !head.ends_with(b"\r\n\r\n") {
        let read = tokio::time::timeout(Duration::from_secs(5), stream.read(&mut byte))
            .await
            .expect("an answer within 5 s")
            .unwrap();
        assert_eq!(read, 1, "the connection closed before the answer's head ended");
        head.push(byte[0]);
    }
    String::from_utf8(head).unwrap()
}

/// Sends `GET /healthz` on `stream` and returns the answer's head.
pub async fn get_healthz(stream: &mut TcpStream) -> String {
    stream
        .write_all(b"GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n")
        .await
        .unwrap();
    answer_head(stream).await
}
