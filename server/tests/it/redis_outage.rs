//! Redis going away and coming back (issue #20): with `fail_closed` every request is refused
//! with 503 `limits_unavailable`; with `fail_open` the process counts in memory against its
//! share; either way `/readyz` and `/metrics` say so, and once Redis answers again limits are
//! shared again without a restart. Each test runs a Redis of its own (the `redis-server` binary,
//! which CI installs) on a free port, so stopping it disturbs no other test.

use crate::{
    limits::key,
    outage::OwnRedis,
    rig::{chat, endpoint, steady, Rig},
};
use app::types::ProviderKind;
use serde_json::Value;
use server::{
    config::{OnFailure, RedisConfig},
    secrets::Secret,
    testing::MockUpstream,
};
use std::time::{Duration, Instant};

/// A gateway counting its limits in `redis`, with `on_failure`.
async fn rig(mock: &MockUpstream, redis: &OwnRedis, on_failure: OnFailure) -> Rig {
    let url = redis.url();
    let config = move |config: &mut server::config::Config| {
        steady(config);
        config.redis = RedisConfig {
            url: Some(Secret::new(url)),
            on_failure,
            timeout: Duration::from_millis(200),
            ..RedisConfig::default()
        };
    };
    Rig::start(config, vec![endpoint("a", ProviderKind::OpenAi, &mock.url())], |_| {}).await
}

async fn readyz(rig: &Rig) -> (u16, Value) {
    let response = reqwest::get(format!("{}/readyz", rig.server.url)).await.unwrap();
    (response.status().as_u16(), response.json().await.unwrap())
}

/// The `limits_mode` series set to 1 on `/metrics`.
async fn metrics_mode(rig: &Rig) -> String {
    let text = rig.metrics().await;
    let line = (text.lines()).find(|line| line.starts_with("mgw_limits_mode{") && line.ends_with(" 1"));
    line.unwrap_or_default().to_string()
}

/// Waits (up to 10 s) until the key's next request answers `status`; answers the last status.
async fn until_status(rig: &Rig, secret: &str, status: u16) -> u16 {
    let until = Instant::now() + Duration::from_secs(10);
    loop {
        let got = crate::rig::post_as(&rig.server.url, secret, "/v1/chat/completions", &chat(false))
            .await
            .status()
            .as_u16();
        if got == status || Instant::now() > until {
            return got;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

#[tokio::test]
async fn with_fail_closed_a_redis_outage_refuses_with_503_until_redis_is_back() {
    let Some(mut redis) = OwnRedis::start().await else {
        return;
    };
    let mock = MockUpstream::start().await.unwrap();
    let rig = rig(&mock, &redis, OnFailure::FailClosed).await;
    assert_eq!(rig.post("/v1/chat/completions", &chat(false)).await.status(), 200);
    assert_eq!(readyz(&rig).await.1["limits"], "shared");

    redis.stop();
    let refused = rig.post("/v1/chat/completions", &chat(false)).await;
    assert_eq!(refused.status(), 503);
    assert_eq!(refused.headers()["retry-after"], "1");
    let body: Value = refused.json().await.unwrap();
    assert_eq!(body["error"]["code"], "limits_unavailable", "{body}");
    assert_eq!(mock.requests_received(), 1, "nothing reached the upstream unchecked");
    let (status, ready) = readyz(&rig).await;
    assert_eq!(
        (status, ready["limits"].as_str()),
        (503, Some("refusing (redis unavailable, fail_closed)"))
    );
    assert_eq!(metrics_mode(&rig).await, r#"mgw_limits_mode{mode="refusing"} 1"#);

    assert!(redis.restart().await);
    assert_eq!(
        until_status(&rig, &rig.key, 200).await,
        200,
        "limits are shared again, no restart"
    );
    let (status, ready) = readyz(&rig).await;
    assert_eq!((status, ready["limits"].as_str()), (200, Some("shared")));
    assert_eq!(metrics_mode(&rig).await, r#"mgw_limits_mode{mode="shared"} 1"#);
}

#[tokio::test]
async fn with_fail_open_a_redis_outage_counts_in_memory_until_redis_is_back() {
    let Some(mut redis) = OwnRedis::start().await else {
        return;
    };
    let mock = MockUpstream::start().await.unwrap();
    let rig = rig(&mock, &redis, OnFailure::FailOpen).await;
    let limited = key(&rig, "five", None, &["requests/minute=5"]).await;
    let secret = limited.secret.expose();
    crate::limits::away_from_a_minute_edge().await;
    let body = chat(false);
    let send = || crate::rig::post_as(&rig.server.url, secret, "/v1/chat/completions", &body);
    assert_eq!(send().await.status(), 200, "counted in Redis");

    redis.stop();
    // One replica alive: its share is the whole limit, counted from zero in memory.
    let mut statuses = Vec::new();
    for _ in 0..6 {
        statuses.push(send().await.status().as_u16());
    }
    assert_eq!(statuses, [200, 200, 200, 200, 200, 429]);
    let (status, ready) = readyz(&rig).await;
    assert_eq!(
        (status, ready["limits"].as_str()),
        (200, Some("local (redis unavailable, fail_open)"))
    );
    assert_eq!(metrics_mode(&rig).await, r#"mgw_limits_mode{mode="local_fallback"} 1"#);

    assert!(redis.restart().await);
    let (status, ready) = readyz(&rig).await;
    assert_eq!((status, ready["limits"].as_str()), (200, Some("shared")));
    // Redis came back empty (no persistence): within a second it is seeded again from the
    // stored counters, which hold the six requests answered this minute — so the limit of five
    // refuses the very next one (an empty Redis would admit five more).
    tokio::time::sleep(Duration::from_millis(1_500)).await;
    assert_eq!(
        send().await.status(),
        429,
        "the minute's usage survives Redis's restart"
    );
}
