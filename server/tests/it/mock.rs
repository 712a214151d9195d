//! The mock upstream behaves as scripted: every dialect, every fault, honest counters.

use crate::rig::{chat, data_lines};
use serde_json::{json, Value};
use server::testing::{refusing_addr, Behaviour, MockUpstream, Usage};
use std::time::{Duration, Instant};

async fn post(mock: &MockUpstream, path: &str, body: Value) -> reqwest::Response {
    reqwest::Client::new()
        .post(format!("{}{path}", mock.url()))
        .json(&body)
        .send()
        .await
        .unwrap()
}

#[tokio::test]
async fn it_answers_chat_completions_and_records_the_request() {
    let mock = MockUpstream::start().await.unwrap();
    mock.push(Behaviour::Answer {
        usage: Usage {
            prompt: 7,
            completion: 3,
        },
        chunks: 1,
    });
    let response = reqwest::Client::new()
        .post(format!("{}/v1/chat/completions", mock.url()))
        .bearer_auth("sk-upstream")
        .json(&chat(false))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 200);
    let body: Value = response.json().await.unwrap();
    assert_eq!(body["choices"][0]["message"]["content"], "mock reply to: hello there");
    assert_eq!(body["model"], "gpt-4o-mini");
    assert_eq!(
        body["usage"],
        json!({ "prompt_tokens": 7, "completion_tokens": 3, "total_tokens": 10 })
    );
    assert_eq!(mock.requests_received(), 1);
    let recorded = mock.recorded();
    assert_eq!(
        (recorded[0].method.as_str(), recorded[0].path.as_str()),
        ("POST", "/v1/chat/completions")
    );
    assert_eq!(recorded[0].header("authorization"), Some("Bearer sk-upstream"));
    assert_eq!(
        recorded[0].body.as_ref().unwrap()["messages"][0]["content"],
        "hello there"
    );
}

#[tokio::test]
async fn it_streams_chat_with_usage_only_when_asked() {
    let mock = MockUpstream::start().await.unwrap();
    let plain = post(&mock, "/v1/chat/completions", chat(true)).await;
    assert_eq!(plain.headers()["content-type"], "text/event-stream");
    let body = plain.text().await.unwrap();
    let lines = data_lines(&body);
    assert_eq!(*lines.last().unwrap(), "[DONE]");
    assert!(!body.contains("\"usage\""), "no usage chunk unless asked");
    let content: String = lines[..lines.len() - 1]
        .iter()
        .map(|l| serde_json::from_str::<Value>(l).unwrap())
        .filter_map(|c| c["choices"][0]["delta"]["content"].as_str().map(String::from))
        .collect();
    assert_eq!(content, "word0 word1 word2 ");

    let mut with_usage = chat(true);
    with_usage["stream_options"] = json!({ "include_usage": true });
    let body = post(&mock, "/v1/chat/completions", with_usage)
        .await
        .text()
        .await
        .unwrap();
    let lines = data_lines(&body);
    let usage: Value = serde_json::from_str(lines[lines.len() - 2]).unwrap();
    assert_eq!(usage["usage"]["total_tokens"], 15);
    assert_eq!(usage["choices"], json!([]));
}

#[tokio::test]
async fn it_speaks_anthropic_azure_embeddings_and_models() {
    let mock = MockUpstream::start().await.unwrap();
    let messages = json!({ "model": "claude-x", "max_tokens": 10, "messages": [{ "role": "user", "content": "hi" }] });
    let body: Value = post(&mock, "/v1/messages", messages.clone())
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(
        (body["type"].as_str(), body["content"][0]["text"].as_str()),
        (Some("message"), Some("mock reply to: hi"))
    );
    assert_eq!(body["usage"]["input_tokens"], 10);

    let mut streamed = messages;
    streamed["stream"] = json!(true);
    let body = post(&mock, "/v1/messages", streamed).await.text().await.unwrap();
    let events: Vec<&str> = body.lines().filter_map(|l| l.strip_prefix("event: ")).collect();
    assert_eq!(events.first(), Some(&"message_start"));
    assert_eq!(events.last(), Some(&"message_stop"));
    assert_eq!(events.iter().filter(|e| **e == "content_block_delta").count(), 3);

    let azure = post(
        &mock,
        "/openai/deployments/prod-4o/chat/completions?api-version=2024-10-21",
        chat(false),
    )
    .await;
    assert_eq!(azure.status(), 200);
    assert_eq!(
        mock.recorded().last().unwrap().path,
        "/openai/deployments/prod-4o/chat/completions?api-version=2024-10-21"
    );

    let embeddings: Value = post(&mock, "/v1/embeddings", json!({ "model": "e", "input": ["a", "b"] }))
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(embeddings["data"].as_array().unwrap().len(), 2);
    let models: Value = reqwest::get(format!("{}/v1/models", mock.url()))
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(models["data"][0]["id"], "mock-model");
    assert_eq!(
        reqwest::get(format!("{}/nope", mock.url())).await.unwrap().status(),
        404
    );
}

#[tokio::test]
async fn scripted_behaviours_apply_in_order_then_the_fallback() {
    let mock = MockUpstream::start().await.unwrap();
    let retry_after = vec![("retry-after".to_string(), "2".to_string())];
    mock.push(Behaviour::Status {
        status: 429,
        headers: retry_after,
        body: r#"{"error":{"message":"slow down"}}"#.into(),
    });
    mock.push(Behaviour::Status {
        status: 503,
        headers: vec![],
        body: "{}".into(),
    });
    let first = post(&mock, "/v1/chat/completions", chat(false)).await;
    assert_eq!(
        (
            first.status().as_u16(),
            first.headers()["retry-after"].to_str().unwrap()
        ),
        (429, "2")
    );
    assert_eq!(post(&mock, "/v1/chat/completions", chat(false)).await.status(), 503);
    assert_eq!(post(&mock, "/v1/chat/completions", chat(false)).await.status(), 200);
    mock.set_fallback(Behaviour::Status {
        status: 500,
        headers: vec![],
        body: "{}".into(),
    });
    assert_eq!(post(&mock, "/v1/chat/completions", chat(false)).await.status(), 500);
    assert_eq!(mock.requests_received(), 4);
}

#[tokio::test]
async fn malformed_and_slow_bodies() {
    let mock = MockUpstream::start().await.unwrap();
    mock.push(Behaviour::Malformed);
    let text = post(&mock, "/v1/chat/completions", chat(false))
        .await
        .text()
        .await
        .unwrap();
    assert!(serde_json::from_str::<Value>(&text).is_err(), "{text}");

    mock.push(Behaviour::SlowBody { bytes_per_second: 20 });
    let client = reqwest::Client::builder()
        .timeout(Duration::from_millis(300))
        .build()
        .unwrap();
    let response = client
        .post(format!("{}/v1/chat/completions", mock.url()))
        .json(&chat(false))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 200, "headers arrive at once");
    assert!(response.text().await.unwrap_err().is_timeout(), "the body trickles");
}

#[tokio::test]
async fn stream_faults_cut_stall_and_error() {
    let mock = MockUpstream::start().await.unwrap();
    mock.push(Behaviour::Sse {
        chunks: 5,
        cut_after: Some(3),
        stall_after: None,
        error_at: None,
    });
    let body = post(&mock, "/v1/chat/completions", chat(true))
        .await
        .text()
        .await
        .unwrap();
    assert_eq!(data_lines(&body).len(), 3);
    assert!(!body.contains("[DONE]"), "cut before the end");

    mock.push(Behaviour::Sse {
        chunks: 5,
        cut_after: None,
        stall_after: None,
        error_at: Some(2),
    });
    let body = post(&mock, "/v1/chat/completions", chat(true))
        .await
        .text()
        .await
        .unwrap();
    let lines = data_lines(&body);
    assert_eq!(lines.len(), 3);
    assert!(lines[2].contains("\"error\"") && !body.contains("[DONE]"));

    mock.push(Behaviour::Sse {
        chunks: 5,
        cut_after: None,
        stall_after: Some(2),
        error_at: None,
    });
    let mut stalled = post(&mock, "/v1/chat/completions", chat(true)).await;
    let mut received = String::new();
    while received.matches("data: ").count() < 2 {
        received.push_str(&String::from_utf8_lossy(&stalled.chunk().await.unwrap().unwrap()));
    }
    let next = tokio::time::timeout(Duration::from_millis(300), stalled.chunk()).await;
    assert!(next.is_err(), "nothing more arrives after the stall");
}

#[tokio::test]
async fn it_counts_connections_and_sees_clients_leave() {
    let mock = MockUpstream::start().await.unwrap();
    mock.push(Behaviour::HangBeforeHeaders(Duration::from_secs(30)));
    let client = reqwest::Client::builder()
        .timeout(Duration::from_millis(200))
        .build()
        .unwrap();
    let gave_up = Instant::now();
    let result = client
        .post(format!("{}/v1/chat/completions", mock.url()))
        .json(&chat(false))
        .send()
        .await;
    assert!(result.unwrap_err().is_timeout());
    // The client has gone; the mock notices the closed connection (bounded wait).
    let deadline = Instant::now() + Duration::from_secs(5);
    while mock.connections_closed().is_empty() && Instant::now() < deadline {
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    let closed = mock.connections_closed();
    assert_eq!(closed.len(), 1, "the connection closed");
    assert!(closed[0].duration_since(gave_up) < Duration::from_secs(2));
    assert_eq!(mock.connections_open(), 0);
}

#[tokio::test]
async fn a_refusing_address_refuses() {
    let addr = refusing_addr().await.unwrap();
    let error = reqwest::get(format!("http://{addr}/v1/models")).await.unwrap_err();
    assert!(error.is_connect(), "{error}");
}

#[tokio::test]
async fn the_binary_serves_loopback_only() {
    use std::io::{BufRead, BufReader};
    use std::process::{Command, Stdio};
    let refused = Command::new(env!("CARGO_BIN_EXE_mock-upstream"))
        .args(["--bind", "0.0.0.0:0"])
        .output()
        .unwrap();
    assert!(!refused.status.success());
    assert!(String::from_utf8_lossy(&refused.stderr).contains("loopback"));

    let mut child = Command::new(env!("CARGO_BIN_EXE_mock-upstream"))
        .args(["--bind", "127.0.0.1:0"])
        .stdout(Stdio::piped())
        .spawn()
        .unwrap();
    let mut line = String::new();
    BufReader::new(child.stdout.take().unwrap())
        .read_line(&mut line)
        .unwrap();
    let url = line
        .trim()
        .strip_prefix("mock upstream listening on ")
        .expect("the address")
        .to_string();
    let response = reqwest::Client::new()
        .post(format!("{url}/v1/chat/completions"))
        .header("x-mock-status", "503")
        .json(&chat(false))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 503, "header knobs work");
    let ok: Value = reqwest::Client::new()
        .post(format!("{url}/v1/chat/completions"))
        .json(&chat(false))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(ok["object"], "chat.completion");
    child.kill().unwrap();
    child.wait().unwrap();
}
