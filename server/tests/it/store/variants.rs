//! A composite's variants (issue #21): each variant's figures from the request logs, and the
//! feedback that counts — the latest score of the key that made the request; a `best`
//! composite's verdict, stored with its log.

use super::TestDb;
use app::types::{GatewayId, KeyId, MemberScore, RequestLog, Verdict};
use server::store::Breakdown;

store_suite!(
    each_variant_is_summed_with_its_latency_percentiles_and_its_own_keys_feedback,
    each_version_of_a_prompt_is_summed_apart_and_other_prompts_do_not_count,
    a_best_composites_verdict_is_stored_with_its_log_and_read_back_whole,
);

async fn each_variant_is_summed_with_its_latency_percentiles_and_its_own_keys_feedback(db: &TestDb) {
    let log = |i: i64, variant: &str, latency_ms: i64, status: i64| RequestLog {
        request_id: format!("req-{variant}-{i}"),
        created_at: 10_000 + i,
        gateway_id: Some(GatewayId(1)),
        key_id: Some(KeyId(1)),
        api: "openai".into(),
        operation: "chat".into(),
        model: Some("half".into()),
        status,
        latency_ms,
        prompt_tokens: 10,
        completion_tokens: 5,
        cost_micros: 7,
        variant: Some(variant.into()),
        ..RequestLog::default()
    };
    let mut logs: Vec<RequestLog> = (1..=10)
        .map(|i| log(i, "a", i * 10, if i == 3 { 500 } else { 200 }))
        .collect();
    logs.extend((1..=4).map(|i| log(i, "b", 1_000 + i, 200)));
    // Another model, and a request outside the range: neither counts.
    logs.push(RequestLog {
        model: Some("other".into()),
        ..log(99, "a", 1, 200)
    });
    logs.push(RequestLog {
        created_at: 50_000,
        ..log(98, "a", 1, 200)
    });
    db.store.insert_request_logs(&logs).await.unwrap();
    db.store.put_feedback("req-a-1", KeyId(1), 0.2, 1).await.unwrap();
    db.store.put_feedback("req-a-1", KeyId(1), 1.0, 2).await.unwrap();
    db.store.put_feedback("req-a-2", KeyId(1), 0.5, 3).await.unwrap();
    // Another key's score on a request it did not make is never counted.
    db.store.put_feedback("req-b-1", KeyId(2), 0.0, 4).await.unwrap();
    assert_eq!(db.store.request_key("req-b-1").await.unwrap(), Some(Some(KeyId(1))));
    assert_eq!(db.store.request_key("nope").await.unwrap(), None);

    let breakdown = Breakdown::Variants {
        gateway: GatewayId(1),
        model: "half",
    };
    let stats = db.store.request_figures(breakdown, 10_000, 20_000).await.unwrap();
    assert_eq!(stats.len(), 2, "{stats:?}");
    let ((a_name, a), (b_name, b)) = (&stats[0], &stats[1]);
    assert_eq!((a_name.as_str(), a.requests, a.errors), ("a", 10, 1));
    assert_eq!((a.p50_latency_ms, a.p95_latency_ms), (50, 100));
    assert_eq!((a.prompt_tokens, a.completion_tokens, a.cost_micros), (100, 50, 70));
    assert_eq!(a.feedback_count, 2);
    assert!((a.mean_score.unwrap() - 0.75).abs() < 1e-9, "{a:?}");
    assert_eq!((b_name.as_str(), b.requests, b.errors), ("b", 4, 0));
    assert_eq!((b.p50_latency_ms, b.p95_latency_ms), (1_002, 1_004));
    assert_eq!((b.feedback_count, b.mean_score), (0, None));
}

async fn each_version_of_a_prompt_is_summed_apart_and_other_prompts_do_not_count(db: &TestDb) {
    let log = |i: i64, prompt: &str, version: i64, latency_ms: i64| RequestLog {
        request_id: format!("req-{prompt}-{version}-{i}"),
        created_at: 10_000 + i,
        gateway_id: Some(GatewayId(1)),
        key_id: Some(KeyId(1)),
        api: "openai".into(),
        operation: "chat".into(),
        model: Some("gpt-4o".into()),
        status: 200,
        latency_ms,
        prompt_tokens: version * 100,
        completion_tokens: 5,
        cost_micros: 3,
        prompt: Some(prompt.into()),
        prompt_version: Some(version),
        ..RequestLog::default()
    };
    let mut logs: Vec<RequestLog> = (1..=4).map(|i| log(i, "greet", 2, i * 100)).collect();
    logs.extend((1..=3).map(|i| log(i, "greet", 10, i)));
    logs.push(log(1, "other", 2, 7));
    // A request without a prompt.
    logs.push(RequestLog {
        prompt: None,
        prompt_version: None,
        ..log(9, "greet", 2, 7)
    });
    db.store.insert_request_logs(&logs).await.unwrap();
    let stats = (db.store)
        .request_figures(Breakdown::PromptVersions { prompt: "greet" }, 0, i64::MAX)
        .await
        .unwrap();
    let by_version: Vec<(&str, i64, i64, i64, i64)> = (stats.iter())
        .map(|(v, f)| {
            (
                v.as_str(),
                f.requests,
                f.prompt_tokens,
                f.p50_latency_ms,
                f.p95_latency_ms,
            )
        })
        .collect();
    // Grouped as text: "10" sorts before "2" (the management service orders them by number).
    assert_eq!(by_version, [("10", 3, 3_000, 2, 3), ("2", 4, 800, 200, 400)]);
}

async fn a_best_composites_verdict_is_stored_with_its_log_and_read_back_whole(db: &TestDb) {
    let verdict = Verdict {
        winner: "two".into(),
        scores: vec![
            MemberScore {
                member: "one".into(),
                score: 3.5,
            },
            MemberScore {
                member: "two".into(),
                score: 9.0,
            },
        ],
        reason: Some("B explains \"why\".".into()),
        fallback: None,
    };
    let judged = RequestLog {
        request_id: "req-judged".into(),
        created_at: 1,
        api: "openai".into(),
        operation: "chat".into(),
        status: 200,
        variant: Some("two".into()),
        verdict: Some(verdict.clone()),
        ..RequestLog::default()
    };
    let plain = RequestLog {
        request_id: "req-plain".into(),
        verdict: None,
        ..judged.clone()
    };
    db.store.insert_request_logs(&[judged, plain]).await.unwrap();
    let read = |id: &'static str| async move { db.store.request_log(id).await.unwrap().unwrap().1 };
    assert_eq!(read("req-judged").await.verdict, Some(verdict));
    assert_eq!(read("req-plain").await.verdict, None);
}
