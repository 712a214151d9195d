//! Logs: request-log retention in a running server, and the binary's JSON log lines with their
//! fixed field names.

use super::Binary;
use crate::{
    rig::{chat, post_as},
    support::TestServer,
};
use app::types::RequestLog;
use serde_json::Value;
use server::{
    store::{now_ms, Finished},
    testing::MockUpstream,
};
use std::time::{Duration, Instant};

/// Retention deletes request logs (and usage events) older than its age, oldest first in
/// batches, and keeps the newer ones and the hourly aggregates.
#[tokio::test]
async fn retention_deletes_old_request_logs_in_batches() {
    let server = TestServer::start_with(|config| {
        config.request_logs.retention = Duration::from_secs(3600);
        config.request_logs.sweep_interval = Duration::from_millis(100);
        config.request_logs.sweep_batch = 7;
    })
    .await;
    let store = &server.state.store;
    let now = now_ms();
    let record = |n: i64, created_at: i64| {
        let request_id = format!("{:012x}{n:020x}", created_at);
        Finished {
            log: RequestLog {
                request_id,
                created_at,
                api: "openai".into(),
                operation: "chat".into(),
                status: 200,
                ..RequestLog::default()
            },
            store_log: true,
            scopes: vec![],
            admitted: false,
            saved_micros: 0,
        }
    };
    // 40 two days old, then 5 from the last minute.
    let old: Vec<Finished> = (0..40).map(|n| record(n, now - 48 * 3600 * 1000 + n)).collect();
    let new: Vec<Finished> = (40..45).map(|n| record(n, now - 60_000 + n)).collect();
    store.store_finished(&old).await.unwrap();
    store.store_finished(&new).await.unwrap();
    let until = Instant::now() + Duration::from_secs(5);
    loop {
        let left = store.recent_request_logs(100).await.unwrap();
        if left.len() == 5 {
            assert!(left.iter().all(|l| l.created_at > now - 3600 * 1000));
            break;
        }
        assert!(Instant::now() < until, "{} logs left", left.len());
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

/// `--log-format json`: one JSON object per line; a finished request is logged (at debug)
/// with the fixed field names of STYLE §3.
#[tokio::test]
async fn json_logs_use_the_fixed_field_names() {
    let mock = MockUpstream::start().await.unwrap();
    let dir = tempfile::tempdir().unwrap();
    let binary = Binary {
        data: dir.path().to_str().unwrap().to_string(),
        env: vec![("RUST_LOG", "info,server=debug")],
    };
    let base = format!("{}/v1", mock.url());
    binary.ok(&[
        "endpoint",
        "add",
        "--name",
        "a",
        "--provider",
        "openai_compatible",
        "--url",
        &base,
        "--model",
        "gpt-4o-mini",
    ]);
    binary.ok(&["gateway", "add", "--name", "g", "--endpoints", "a"]);
    let created: Value = serde_json::from_slice(
        &binary
            .ok(&["key", "create", "--gateway", "g", "--name", "app", "--json"])
            .stdout,
    )
    .unwrap();
    let key = created["key"].as_str().unwrap();
    let logs = dir.path().join("logs.json");
    let (child, url) = binary.serve(&["--log-format", "json"], &logs).await;
    let answered = post_as(&url, key, "/v1/chat/completions", &chat(false)).await;
    assert_eq!(answered.status(), 200);
    let request_id = answered.headers()["x-request-id"].to_str().unwrap().to_string();
    Binary::stop(child);
    let text = std::fs::read_to_string(&logs).unwrap();
    let lines: Vec<Value> = text
        .lines()
        .map(|line| serde_json::from_str(line).unwrap_or_else(|e| panic!("not JSON ({e}): {line}")))
        .collect();
    let finished = lines
        .iter()
        .find(|l| l["message"] == "request finished")
        .unwrap_or_else(|| panic!("no request line in {text}"));
    assert_eq!(finished["level"], "DEBUG");
    assert_eq!(finished["request_id"], request_id.as_str());
    assert_eq!(finished["model"], "gpt-4o-mini");
    assert_eq!(finished["status"], 200);
    for field in [
        "gateway_id",
        "key_id",
        "endpoint_id",
        "latency_ms",
        "ttft_ms",
        "attempts",
    ] {
        assert!(finished[field].is_number(), "{field} in {finished}");
    }
}
