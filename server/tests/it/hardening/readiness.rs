//! `/readyz` tells the truth (issue 18, item 11): it fails when the database file was deleted
//! or replaced under the running process, and when the request-log queue is full (requests
//! are then refused).

use crate::support::TestServer;
use serde_json::Value;

async fn readyz(server: &TestServer) -> (u16, Value) {
    let response = reqwest::get(format!("{}/readyz", server.url)).await.unwrap();
    (response.status().as_u16(), response.json().await.unwrap())
}

#[tokio::test]
async fn a_deleted_database_file_makes_the_process_unready() {
    let server = TestServer::start().await;
    assert_eq!(readyz(&server).await.0, 200);
    let db = server.dir.path().join("data/model-gateway.db");
    std::fs::remove_file(&db).unwrap();
    let (status, body) = readyz(&server).await;
    assert_eq!(status, 503, "{body}");
    // A background job (the retention sweep at start, say) that opens a connection after the
    // deletion makes SQLite create an empty file at the path: then it reads as replaced.
    let what = body["database"].as_str().unwrap_or_default();
    assert!(matches!(what, "file_deleted" | "file_replaced"), "{body}");
}

#[tokio::test]
async fn a_replaced_database_file_makes_the_process_unready() {
    let server = TestServer::start().await;
    let db = server.dir.path().join("data/model-gateway.db");
    let copy = server.dir.path().join("copy.db");
    std::fs::copy(&db, &copy).unwrap();
    std::fs::rename(&copy, &db).unwrap();
    let (status, body) = readyz(&server).await;
    assert_eq!(status, 503, "{body}");
    assert_eq!(body["database"], "file_replaced");
}

#[tokio::test]
async fn a_full_request_log_queue_makes_the_process_unready() {
    // A queue of one, its one place taken (as by a request whose record is not yet written).
    let server = TestServer::start_with(|config| {
        config.proxy.log_queue = 1;
    })
    .await;
    assert_eq!(readyz(&server).await.0, 200);
    let held = server.state.proxy.logs.capacity();
    assert_eq!(held, 1);
    let place = server.state.proxy.logs.reserve().unwrap();
    let (status, body) = readyz(&server).await;
    assert_eq!(status, 503, "{body}");
    assert_eq!(body["log_queue"], "full");
    drop(place);
    assert_eq!(readyz(&server).await.0, 200);
}
