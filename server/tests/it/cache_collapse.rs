//! Collapsing (issue #24): with `collapse` on, concurrent identical misses — JSON or streamed,
//! on one replica or on several sharing Redis — make one upstream call; the others wait for
//! its answer and are answered as hits. Without it, each goes upstream.

use crate::{
    cache::{ask, caching, hit, miss, redis_keys_until},
    rig::{self, chat, data_lines, Rig},
};
use app::types::{CacheMode, CacheSettings, ProviderKind};
use serde_json::Value;
use server::testing::{Behaviour, MockUpstream};
use std::time::Duration;

/// A gateway that caches and collapses, over `mock` (with `[redis]` when `redis` has a URL and
/// its prefix).
async fn collapsing(mock: &MockUpstream, redis: Option<(String, String)>) -> Rig {
    Rig::start(
        move |config| {
            rig::steady(config);
            config.proxy.key_max_concurrent = 1_000;
            if let Some((url, prefix)) = redis {
                config.redis.url = Some(server::secrets::Secret::new(url));
                config.redis.prefix = prefix;
            }
        },
        vec![rig::endpoint("a", ProviderKind::OpenAi, &mock.url())],
        |g| {
            g.cache = CacheSettings {
                mode: CacheMode::Exact,
                collapse: true,
                ..CacheSettings::default()
            };
        },
    )
    .await
}

/// How many answers carry each mark: (misses, hits).
fn marks(answers: &[(u16, Option<String>, Option<String>, String)]) -> (usize, usize) {
    let count = |mark: &Option<String>| answers.iter().filter(|(_, cache, ..)| cache == mark).count();
    (count(&miss()), count(&hit()))
}

/// The text a streamed answer tells, its chunks' content deltas put together.
fn streamed_text(body: &str) -> String {
    let lines = data_lines(body);
    assert_eq!(lines.last(), Some(&"[DONE]"), "a whole stream: {body}");
    (lines.iter())
        .filter_map(|line| serde_json::from_str::<Value>(line).ok())
        .filter_map(|chunk| chunk["choices"][0]["delta"]["content"].as_str().map(str::to_string))
        .collect()
}

#[tokio::test]
async fn concurrent_identical_misses_make_one_upstream_call_when_collapsing() {
    let mock = MockUpstream::start().await.unwrap();
    // Slow answers, so that the requests overlap.
    mock.set_fallback(Behaviour::HangBeforeHeaders(Duration::from_millis(400)));
    let rig = collapsing(&mock, None).await;
    let body = chat(false);
    let answers = futures_util::future::join_all((0..100).map(|_| ask(&rig, &body, &[]))).await;
    assert!(answers.iter().all(|(status, ..)| *status == 200));
    let first = &answers[0].3;
    assert!(answers.iter().all(|(.., body)| body == first), "one answer for all");
    assert_eq!(
        mock.requests_received(),
        1,
        "one upstream call for 100 identical misses"
    );
    assert_eq!(marks(&answers), (1, 99));
}

#[tokio::test]
async fn concurrent_identical_streamed_misses_make_one_upstream_call_and_each_gets_the_whole_stream() {
    let mock = MockUpstream::start().await.unwrap();
    mock.set_fallback(Behaviour::HangBeforeHeaders(Duration::from_millis(400)));
    let rig = collapsing(&mock, None).await;
    // Streamed and JSON requests alike are the same request to the cache.
    let asks = (0..60).map(|n| {
        let body = chat(n % 3 != 0);
        let rig = &rig;
        async move { ask(rig, &body, &[]).await }
    });
    let answers = futures_util::future::join_all(asks).await;
    assert!(answers.iter().all(|(status, ..)| *status == 200), "{answers:?}");
    assert_eq!(mock.requests_received(), 1, "one upstream call for 60 identical misses");
    assert_eq!(marks(&answers), (1, 59));
    let json: Value = serde_json::from_str(&answers[0].3).unwrap_or_else(|_| {
        let json = answers.iter().find(|(.., body)| body.starts_with('{')).unwrap();
        serde_json::from_str(&json.3).unwrap()
    });
    let text = json["choices"][0]["message"]["content"].as_str().unwrap().to_string();
    assert!(!text.is_empty());
    for (n, (.., body)) in answers.iter().enumerate() {
        match n % 3 {
            0 => assert_eq!(
                serde_json::from_str::<Value>(body).unwrap()["choices"][0]["message"]["content"],
                text.as_str()
            ),
            _ => assert_eq!(streamed_text(body), text, "stream {n} tells the whole answer"),
        }
    }
}

#[tokio::test]
async fn when_a_streamed_leader_is_cut_one_of_its_waiters_leads_the_others() {
    let mock = MockUpstream::start().await.unwrap();
    // The first call's stream is cut after three chunks 100 ms apart (never kept); the next
    // answers whole, 300 ms after its headers.
    mock.set_chunk_gap(Duration::from_millis(100));
    mock.push(Behaviour::Sse {
        chunks: 5,
        cut_after: Some(3),
        stall_after: None,
        error_at: None,
    });
    mock.set_fallback(Behaviour::HangBeforeHeaders(Duration::from_millis(300)));
    let rig = collapsing(&mock, None).await;
    let body = chat(true);
    let leader = ask(&rig, &body, &[]);
    let waiters = async {
        tokio::time::sleep(Duration::from_millis(100)).await;
        futures_util::future::join_all((0..5).map(|_| ask(&rig, &body, &[]))).await
    };
    let (leader, waiters) = tokio::join!(leader, waiters);
    assert_eq!(leader.0, 200);
    assert!(
        !leader.3.contains("[DONE]"),
        "the leader's stream was cut: {}",
        leader.3
    );
    assert!(waiters.iter().all(|(status, ..)| *status == 200));
    assert!(
        waiters.iter().all(|(.., body)| body.contains("[DONE]")),
        "each waiter got a whole stream"
    );
    assert_eq!(marks(&waiters), (1, 4), "one waiter led the others");
    assert_eq!(mock.requests_received(), 2);
}

#[tokio::test]
async fn a_request_whose_answer_is_not_kept_leads_no_one() {
    let mock = MockUpstream::start().await.unwrap();
    mock.set_fallback(Behaviour::HangBeforeHeaders(Duration::from_millis(300)));
    let rig = collapsing(&mock, None).await;
    let body = chat(false);
    let unkept = ask(&rig, &body, &[("cache-control", "no-store")]);
    let others = async {
        tokio::time::sleep(Duration::from_millis(100)).await;
        futures_util::future::join_all((0..5).map(|_| ask(&rig, &body, &[]))).await
    };
    let (unkept, others) = tokio::join!(unkept, others);
    assert_eq!((unkept.0, unkept.1), (200, miss()));
    assert_eq!(marks(&others), (1, 4), "they did not wait for an answer never kept");
    assert_eq!(mock.requests_received(), 2);
}

/// With `[redis] url`, identical misses on two replicas make one upstream call
/// (`MGW_TEST_REDIS_URL`; skipped without one, except in CI).
#[tokio::test]
async fn replicas_collapse_identical_misses_through_redis() {
    let Some((url, prefix)) = crate::replicas::redis("replicas_collapse_identical_misses_through_redis") else {
        return;
    };
    let mock = MockUpstream::start().await.unwrap();
    mock.set_fallback(Behaviour::HangBeforeHeaders(Duration::from_millis(500)));
    let one = collapsing(&mock, Some((url.clone(), prefix.clone()))).await;
    let two = collapsing(&mock, Some((url.clone(), prefix.clone()))).await;
    let asks = (0..40).map(|n| {
        let (rig, body) = (if n % 2 == 0 { &one } else { &two }, chat(n % 4 == 1));
        async move { ask(rig, &body, &[]).await }
    });
    let answers = futures_util::future::join_all(asks).await;
    assert!(answers.iter().all(|(status, ..)| *status == 200), "{answers:?}");
    assert_eq!(
        mock.requests_received(),
        1,
        "one upstream call for both replicas' 40 misses"
    );
    assert_eq!(marks(&answers), (1, 39));
    // The lease is released once the answer is in Redis.
    assert!(
        redis_keys_until(&url, &format!("{prefix}:cachelead:*"), <[String]>::is_empty).await,
        "the lease was never released"
    );
}

#[tokio::test]
async fn without_collapsing_concurrent_misses_each_go_upstream() {
    let mock = MockUpstream::start().await.unwrap();
    mock.set_fallback(Behaviour::HangBeforeHeaders(Duration::from_millis(300)));
    let rig = caching(&mock, 600, &[]).await;
    let body = chat(false);
    let answers = futures_util::future::join_all((0..5).map(|_| ask(&rig, &body, &[]))).await;
    assert!(answers
        .iter()
        .all(|(status, cache, ..)| *status == 200 && cache.as_deref() == Some("miss")));
    assert_eq!(mock.requests_received(), 5);
}
