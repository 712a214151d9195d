//! `/healthz` and `/readyz`.

use crate::support::TestServer;
use serde_json::Value;

#[tokio::test]
async fn healthz_says_the_process_is_up() {
    let server = TestServer::start().await;
    let response = reqwest::get(format!("{}/healthz", server.url)).await.unwrap();
    assert_eq!(response.status(), 200);
    assert_eq!(response.headers()["content-type"], "application/json");
    let body: Value = response.json().await.unwrap();
    assert_eq!(body["status"], "ok");
}

#[tokio::test]
async fn readyz_checks_the_database() {
    let server = TestServer::start().await;
    let url = format!("{}/readyz", server.url);
    let body: Value = reqwest::get(&url).await.unwrap().json().await.unwrap();
    assert_eq!(
        body,
        serde_json::json!({ "status": "ready", "database": "ok", "log_queue": "ok", "limits": "local" })
    );

    // With the database closed the process is up but not ready.
    server.state.store.close().await;
    let response = reqwest::get(&url).await.unwrap();
    assert_eq!(response.status(), 503);
    let body: Value = response.json().await.unwrap();
    assert_eq!(body["status"], "unavailable");
    let health = reqwest::get(format!("{}/healthz", server.url)).await.unwrap();
    assert_eq!(health.status(), 200);
}

#[tokio::test]
async fn every_response_carries_a_request_id() {
    let server = TestServer::start().await;
    let client = server.client();
    let mut seen = std::collections::HashSet::new();
    for path in ["/healthz", "/login", "/keys", "/no-such-page"] {
        let response = client.get(format!("{}{path}", server.url)).send().await.unwrap();
        let id = response
            .headers()
            .get("x-request-id")
            .unwrap_or_else(|| panic!("{path} has no x-request-id"));
        assert_eq!(id.len(), 32, "{path}");
        assert!(seen.insert(id.to_str().unwrap().to_string()), "ids are unique");
    }
    // A client's own id is replaced (request logs are keyed by the id: a client could repeat
    // one), and ids made later sort later.
    let mut previous = String::new();
    for _ in 0..2 {
        tokio::time::sleep(std::time::Duration::from_millis(2)).await;
        let response = client
            .get(format!("{}/healthz", server.url))
            .header("x-request-id", "mine")
            .send()
            .await
            .unwrap();
        let id = response.headers()["x-request-id"].to_str().unwrap().to_string();
        assert_eq!(id.len(), 32, "{id}");
        assert!(id > previous, "{id} after {previous}");
        previous = id;
    }
}

#[tokio::test]
async fn the_server_stops_gracefully() {
    let server = TestServer::start().await;
    let url = server.url.clone();
    server.stop().await;
    assert!(
        reqwest::get(format!("{url}/healthz")).await.is_err(),
        "nothing listens after stop"
    );
}
