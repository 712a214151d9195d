//! A composite's variants (issue #21): each variant's figures from the request logs, and the
//! feedback that counts — the latest score of the key that made the request; a `best`
//! composite's verdict, stored with its log.

use super::TestDb;
use app::types::{GatewayId, KeyId, MemberScore, RequestLog, Verdict};

store_suite!(
    each_variant_is_summed_with_its_latency_percentiles_and_its_own_keys_feedback,
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

    let stats = db
        .store
        .variant_stats(GatewayId(1), "half", 10_000, 20_000)
        .await
        .unwrap();
    assert_eq!(stats.len(), 2, "{stats:?}");
    let (a, b) = (&stats[0], &stats[1]);
    assert_eq!((a.variant.as_str(), a.requests, a.errors), ("a", 10, 1));
    assert_eq!((a.p50_latency_ms, a.p95_latency_ms), (50, 100));
    assert_eq!((a.prompt_tokens, a.completion_tokens, a.cost_micros), (100, 50, 70));
    assert_eq!(a.feedback_count, 2);
    assert!((a.mean_score.unwrap() - 0.75).abs() < 1e-9, "{a:?}");
    assert_eq!((b.variant.as_str(), b.requests, b.errors), ("b", 4, 0));
    assert_eq!((b.p50_latency_ms, b.p95_latency_ms), (1_002, 1_004));
    assert_eq!((b.feedback_count, b.mean_score), (0, None));
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
