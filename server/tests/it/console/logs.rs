//! The logs page's export (`GET /api/logs/export`) and live tail (`GET /api/logs/live`) over
//! HTTP, as the browser calls them: both read the page's filters, name the key and the
//! endpoint, refuse a malformed filter under its field, and need a session; the tail ends
//! with the session, and a browser that reconnects with `Last-Event-ID` gets what it missed.

use crate::rig::{self, Rig};
use app::types::ProviderKind;
use serde_json::Value;
use server::testing::{Behaviour, MockUpstream};
use std::time::Duration;

/// The upstream refuses the next request as the client's mistake (a 400, passed on).
fn refuse_next(mock: &MockUpstream) {
    mock.push(Behaviour::Status {
        status: 400,
        headers: vec![],
        body: r#"{"error":{"message":"messages: too long","type":"invalid_request_error"}}"#.into(),
    });
}

/// A rig with a signed-in admin's client, one answered request and then one the upstream
/// refused.
async fn rig_with_two_requests(mock: &MockUpstream) -> (Rig, reqwest::Client) {
    let rig = Rig::start(
        rig::steady,
        vec![rig::endpoint("a", ProviderKind::OpenAi, &mock.url())],
        |_| {},
    )
    .await;
    rig.server.create_admin("admin@example.com").await;
    let (client, _) = rig.server.signed_in("admin@example.com").await;
    assert_eq!(rig.post("/v1/chat/completions", &rig::chat(false)).await.status(), 200);
    refuse_next(mock);
    assert_eq!(rig.post("/v1/chat/completions", &rig::chat(false)).await.status(), 400);
    rig.logs(2).await;
    (rig, client)
}

#[tokio::test]
async fn an_export_holds_the_filtered_rows_with_their_key_and_endpoint_as_csv_or_json() {
    let mock = MockUpstream::start().await.unwrap();
    let (rig, client) = rig_with_two_requests(&mock).await;
    let get = |query: &str| client.get(format!("{}/api/logs/export?{query}", rig.server.url)).send();

    let csv = get("format=csv").await.unwrap();
    assert_eq!(csv.status(), 200);
    assert_eq!(csv.headers()["content-type"], "text/csv; charset=utf-8");
    assert!(csv.headers()["content-disposition"]
        .to_str()
        .unwrap()
        .starts_with("attachment"));
    let text = csv.text().await.unwrap();
    let lines: Vec<&str> = text.lines().collect();
    assert_eq!(lines.len(), 3, "a header and two rows: {text}");
    assert!(lines[0].starts_with("time_utc,request_id,status,gateway,key,endpoint,model"));
    assert!(
        lines[1].contains(",400,g,app,a,gpt-4o-mini,"),
        "newest first: {}",
        lines[1]
    );
    assert!(
        lines[2].contains(",200,g,app,a,gpt-4o-mini,"),
        "with key and endpoint: {}",
        lines[2]
    );

    // The page's filters narrow the export as they narrow the page.
    let json: Value = get("format=json&status=errors").await.unwrap().json().await.unwrap();
    let rows = json.as_array().unwrap();
    assert_eq!(rows.len(), 1);
    assert_eq!(
        (rows[0]["status"].as_i64(), rows[0]["key"].as_str()),
        (Some(400), Some("app"))
    );
    assert_eq!(rows[0]["attempts"].as_array().unwrap().len(), 1, "with its attempts");
    let by_model: Value = get("format=json&status=200&model=gpt-4o-mini&endpoint=a&key=app")
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(by_model.as_array().unwrap().len(), 1);
    let by_endpoint: Value = get("format=json&endpoint=nope").await.unwrap().json().await.unwrap();
    assert_eq!(
        by_endpoint,
        Value::Array(Vec::new()),
        "an endpoint that does not exist matches nothing"
    );
    let request_id = by_model[0]["request_id"].as_str().unwrap().to_string();
    let by_id: Value = get(&format!("format=json&request_id={request_id}"))
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(by_id.as_array().unwrap().len(), 1);
    let none: Value = get("format=json&from=2099-01-01T00:00")
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(none, Value::Array(Vec::new()), "an empty export is still a JSON array");

    // A malformed filter is refused under its field, in the console's JSON.
    let bad = get("format=json&from=yesterday").await.unwrap();
    assert_eq!(bad.status(), 400);
    let refusal: Value = bad.json().await.unwrap();
    assert_eq!(refusal["field"], "from");
    assert_eq!(get("format=xml").await.unwrap().status(), 400);

    // Without a session: sign-in, not the rows.
    let stranger = rig.server.client();
    let answer = stranger
        .get(format!("{}/api/logs/export?format=csv", rig.server.url))
        .send()
        .await
        .unwrap();
    assert!(answer.status().is_redirection(), "{}", answer.status());
    assert!(super::location(&answer).starts_with("/login"));
}

/// Reads server-sent events from `response` until one whose data contains `want`, or the
/// deadline; answers every event read.
async fn events_until(response: &mut reqwest::Response, want: &str, within: Duration) -> String {
    let mut seen = String::new();
    let deadline = tokio::time::Instant::now() + within;
    while !seen.contains(want) {
        match tokio::time::timeout_at(deadline, response.chunk()).await {
            Ok(Ok(Some(chunk))) => seen.push_str(&String::from_utf8_lossy(&chunk)),
            _ => break,
        }
    }
    seen
}

#[tokio::test]
async fn the_live_tail_sends_new_matching_requests_and_ends_with_the_session() {
    let mock = MockUpstream::start().await.unwrap();
    let (rig, client) = rig_with_two_requests(&mock).await;
    let mut tail = client
        .get(format!("{}/api/logs/live?status=errors", rig.server.url))
        .send()
        .await
        .unwrap();
    assert_eq!(tail.status(), 200);
    assert_eq!(tail.headers()["content-type"], "text/event-stream");

    // A success is not an error: only the refused request comes through, once.
    assert_eq!(rig.post("/v1/chat/completions", &rig::chat(false)).await.status(), 200);
    refuse_next(&mock);
    assert_eq!(rig.post("/v1/chat/completions", &rig::chat(false)).await.status(), 400);
    let seen = events_until(&mut tail, "\"status\":400", Duration::from_secs(10)).await;
    let logs: Vec<Value> = (seen.lines())
        .filter_map(|line| line.strip_prefix("data: "))
        .filter_map(|data| serde_json::from_str(data).ok())
        .collect();
    assert_eq!(logs.len(), 1, "only the new error, not the older ones: {seen}");
    assert_eq!(logs[0]["status"], 400);
    assert_eq!(logs[0]["key_id"], rig.logs_now().await[0].key_id.unwrap().0);

    // Signing out ends the tail (within its recheck).
    let out = client.post(format!("{}/logout", rig.server.url)).send().await.unwrap();
    assert!(out.status().is_redirection() || out.status().is_success());
    let ended = events_until(&mut tail, "event: ended", Duration::from_secs(10)).await;
    assert!(ended.contains("event: ended"), "{ended}");
}

/// The events of a tail's text: each `id:` with its log's JSON.
fn logged(seen: &str) -> Vec<(i64, Value)> {
    let mut events = Vec::new();
    let mut id = None;
    for line in seen.lines() {
        if let Some(value) = line.strip_prefix("id: ") {
            id = value.parse().ok();
        } else if let (Some(data), Some(id)) = (line.strip_prefix("data: "), id) {
            if let Ok(log) = serde_json::from_str(data) {
                events.push((id, log));
            }
        }
    }
    events
}

#[tokio::test]
async fn a_live_tail_resumed_with_the_last_event_id_sends_the_logs_stored_while_away() {
    let mock = MockUpstream::start().await.unwrap();
    let (rig, client) = rig_with_two_requests(&mock).await;
    let live = format!("{}/api/logs/live", rig.server.url);
    let mut tail = client.get(&live).send().await.unwrap();
    assert_eq!(rig.post("/v1/chat/completions", &rig::chat(false)).await.status(), 200);
    let seen = events_until(&mut tail, "\"status\":200", Duration::from_secs(10)).await;
    let first = logged(&seen);
    assert_eq!(first.len(), 1, "{seen}");
    drop(tail);

    // Away: two more requests.
    refuse_next(&mock);
    assert_eq!(rig.post("/v1/chat/completions", &rig::chat(false)).await.status(), 400);
    assert_eq!(rig.post("/v1/chat/completions", &rig::chat(false)).await.status(), 200);
    rig.logs(5).await;

    let mut resumed = client
        .get(&live)
        .header("last-event-id", first[0].0.to_string())
        .send()
        .await
        .unwrap();
    let seen = events_until(&mut resumed, "\"status\":200", Duration::from_secs(10)).await;
    let missed = logged(&seen);
    let statuses: Vec<_> = missed.iter().map(|(_, log)| log["status"].clone()).collect();
    assert_eq!(statuses, [400, 200], "what was stored while away, in order: {seen}");
    assert!(missed.iter().all(|(id, _)| *id > first[0].0));

    // Without it, a tail starts from now.
    let mut fresh = client.get(&live).send().await.unwrap();
    let seen = events_until(&mut fresh, "\"status\":", Duration::from_millis(1500)).await;
    assert!(logged(&seen).is_empty(), "{seen}");
}
