//! The console's public-asset rule cannot be walked around (issue 18, item 13): a path that only
//! looks like an asset (`/pkg/../gateways`) needs a session like the page it reaches.

use crate::support::TestServer;
use tokio::{
    io::{AsyncReadExt, AsyncWriteExt},
    net::TcpStream,
};

/// Sends `GET <raw path>` exactly as written (HTTP clients would resolve the dots first) and
/// returns the answer's status line and whole text.
async fn get_raw(server: &TestServer, path: &str) -> (String, String) {
    let mut stream = TcpStream::connect(server.url.trim_start_matches("http://"))
        .await
        .unwrap();
    let request = format!("GET {path} HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n");
    stream.write_all(request.as_bytes()).await.unwrap();
    let mut answer = Vec::new();
    stream.read_to_end(&mut answer).await.unwrap();
    let text = String::from_utf8_lossy(&answer).to_string();
    (text.lines().next().unwrap_or_default().to_string(), text)
}

#[tokio::test]
async fn a_path_that_only_looks_like_an_asset_needs_a_session() {
    let server = TestServer::start().await;
    for path in [
        "/pkg/../gateways",
        "/pkg/../keys",
        "/pkg/./../settings",
        "/pkg/%2e%2e/gateways",
        "/pkg/..%2fkeys",
        "/favicon.svg/../keys",
    ] {
        let (status, text) = get_raw(&server, path).await;
        assert!(
            status.starts_with("HTTP/1.1 303")
                || status.starts_with("HTTP/1.1 404")
                || status.starts_with("HTTP/1.1 400"),
            "{path}: {status}"
        );
        assert!(
            !text.contains("action=\"/logout\""),
            "{path} rendered the signed-in layout"
        );
        assert!(
            !text.contains("<!DOCTYPE html>") || status.contains("303"),
            "{path} rendered the console shell: {status}"
        );
    }
}
