//! The response cache (issue #24) through the real server and the mock: a repeated request is
//! answered without the provider, in JSON and as a stream (a streamed answer is kept once it
//! ends properly, never when cut), marked `x-mgw-cache: hit` with its
//! `age`; clients skip it or keep their answer out of it; errors are never kept; entries expire
//! at their TTL; a hit counts as a request under the limits but uses no tokens. Set from the
//! command line as an operator does it.

use crate::{
    cli::{text, Cli},
    rig::{self, chat, data_lines, Rig},
};
use app::types::{CacheMode, CacheSettings, ProviderKind};
use serde_json::{json, Value};
use server::{
    manage::limits::parse_limit,
    testing::{Behaviour, MockUpstream},
};

/// A rig whose gateway caches answers for `ttl_s` seconds.
pub(crate) async fn caching(mock: &MockUpstream, ttl_s: i64, limits: &[&str]) -> Rig {
    let limits: Vec<_> = limits.iter().map(|limit| parse_limit(limit).unwrap()).collect();
    Rig::start(
        rig::steady,
        vec![rig::endpoint("a", ProviderKind::OpenAi, &mock.url())],
        |g| {
            g.cache = CacheSettings {
                mode: CacheMode::Exact,
                ttl_s,
                ..CacheSettings::default()
            };
            g.limits = limits;
        },
    )
    .await
}

/// POSTs a chat request with extra headers; answers the status, the `x-mgw-cache` header, the
/// `age` header and the body's text.
pub(crate) async fn ask(
    rig: &Rig,
    body: &Value,
    headers: &[(&str, &str)],
) -> (u16, Option<String>, Option<String>, String) {
    let mut request = reqwest::Client::new()
        .post(format!("{}/v1/chat/completions", rig.server.url))
        .bearer_auth(&rig.key)
        .json(body);
    for (name, value) in headers {
        request = request.header(*name, *value);
    }
    let response = request.send().await.unwrap();
    let header = |name: &str| (response.headers().get(name)).map(|value| value.to_str().unwrap().to_string());
    let (cache, age) = (header("x-mgw-cache"), header("age"));
    (response.status().as_u16(), cache, age, response.text().await.unwrap())
}

/// Whether the keys matching `pattern` in the Redis at `url` come to satisfy `wanted` within
/// 5 seconds.
pub(crate) async fn redis_keys_until(url: &str, pattern: &str, wanted: impl Fn(&[String]) -> bool) -> bool {
    let mut redis = redis::Client::open(url)
        .unwrap()
        .get_multiplexed_async_connection()
        .await
        .unwrap();
    let until = std::time::Instant::now() + std::time::Duration::from_secs(5);
    while std::time::Instant::now() < until {
        let keys: Vec<String> = redis::cmd("KEYS").arg(pattern).query_async(&mut redis).await.unwrap();
        if wanted(&keys) {
            return true;
        }
        tokio::time::sleep(std::time::Duration::from_millis(20)).await;
    }
    false
}

pub(crate) fn hit() -> Option<String> {
    Some("hit".into())
}

pub(crate) fn miss() -> Option<String> {
    Some("miss".into())
}

#[tokio::test]
async fn a_repeated_request_is_answered_from_the_cache_in_json_and_as_a_stream() {
    let mock = MockUpstream::start().await.unwrap();
    let rig = caching(&mock, 600, &[]).await;
    let (status, cache, _, first) = ask(&rig, &chat(false), &[]).await;
    assert_eq!((status, cache), (200, miss()), "{first}");
    assert_eq!(mock.requests_received(), 1);

    // The same request — keys in another order, another end user, `n` and `temperature` at
    // their defaults written out — is the same answer, from the cache.
    let same = json!({ "messages": [{ "content": "hello there", "role": "user" }], "model": "gpt-4o-mini",
                       "user": "someone-else", "n": 1, "temperature": 1 });
    let (status, cache, age, again) = ask(&rig, &same, &[]).await;
    assert_eq!((status, cache), (200, hit()));
    assert_eq!(again, first, "the same content");
    assert!(age.is_some_and(|age| age.parse::<u64>().is_ok()), "an age header");
    assert_eq!(mock.requests_received(), 1, "the mock was not asked again");

    // Asked as a stream, it is told as one: the content, the finish, [DONE].
    let (status, cache, _, stream) = ask(&rig, &chat(true), &[]).await;
    assert_eq!((status, cache), (200, hit()));
    let lines = data_lines(&stream);
    assert_eq!(lines.last(), Some(&"[DONE]"), "{stream}");
    let content = serde_json::from_str::<Value>(&first).unwrap()["choices"][0]["message"]["content"].clone();
    let streamed: String = (lines.iter())
        .filter_map(|line| serde_json::from_str::<Value>(line).ok())
        .filter_map(|chunk| chunk["choices"][0]["delta"]["content"].as_str().map(str::to_string))
        .collect();
    assert_eq!(Value::String(streamed), content);
    assert_eq!(mock.requests_received(), 1);

    // Another question is another entry.
    let other = json!({ "model": "gpt-4o-mini", "messages": [{ "role": "user", "content": "another" }] });
    assert_eq!(ask(&rig, &other, &[]).await.1, miss());
    assert_eq!(mock.requests_received(), 2);

    // The log marks each; hits used no tokens and no endpoint.
    let logs = rig.logs(4).await;
    let marks: Vec<_> = logs.iter().rev().map(|log| log.cache.as_deref()).collect();
    assert_eq!(marks, [Some("miss"), Some("hit"), Some("hit"), Some("miss")]);
    for log in logs.iter().filter(|log| log.cache.as_deref() == Some("hit")) {
        assert_eq!(
            (log.status, log.prompt_tokens, log.completion_tokens, log.cost_micros),
            (200, 0, 0, 0)
        );
        assert_eq!(log.endpoint_id, None);
    }
}

/// The text a stream told: its chunks' content (chat) or text (legacy completions).
fn streamed_text(stream: &str) -> String {
    (data_lines(stream).iter())
        .filter_map(|line| serde_json::from_str::<Value>(line).ok())
        .filter_map(|chunk| {
            let choice = &chunk["choices"][0];
            (choice.pointer("/delta/content").or_else(|| choice.get("text")))
                .and_then(Value::as_str)
                .map(str::to_string)
        })
        .collect()
}

#[tokio::test]
async fn a_streamed_answer_is_kept_when_it_ends_properly_and_never_when_cut() {
    let mock = MockUpstream::start().await.unwrap();
    let rig = caching(&mock, 600, &[]).await;
    let (status, cache, _, first) = ask(&rig, &chat(true), &[]).await;
    assert_eq!((status, cache), (200, miss()), "{first}");
    assert_eq!(streamed_text(&first), "word0 word1 word2 ");

    // Streamed again, or asked as JSON: the same answer, from the cache.
    let (status, cache, _, again) = ask(&rig, &chat(true), &[]).await;
    assert_eq!((status, cache), (200, hit()));
    assert_eq!(streamed_text(&again), "word0 word1 word2 ");
    assert_eq!(data_lines(&again).last(), Some(&"[DONE]"));
    let (status, cache, _, json) = ask(&rig, &chat(false), &[]).await;
    assert_eq!((status, cache), (200, hit()));
    let answer: Value = serde_json::from_str(&json).unwrap();
    assert_eq!(answer["object"], "chat.completion");
    assert_eq!(answer["choices"][0]["message"]["content"], "word0 word1 word2 ");
    assert_eq!(answer["choices"][0]["finish_reason"], "stop");
    assert_eq!(mock.requests_received(), 1, "the mock was asked once");

    // A stream the provider cuts short is not kept: the next one like it goes to the provider.
    let other =
        json!({ "model": "gpt-4o-mini", "stream": true, "messages": [{ "role": "user", "content": "cut me" }] });
    mock.push(Behaviour::Sse {
        chunks: 3,
        cut_after: Some(2),
        stall_after: None,
        error_at: None,
    });
    let (_, cache, _, cut) = ask(&rig, &other, &[]).await;
    assert_eq!(cache, miss());
    assert_ne!(data_lines(&cut).last(), Some(&"[DONE]"), "{cut}");
    let (_, cache, _, whole) = ask(&rig, &other, &[]).await;
    assert_eq!(cache, miss(), "the cut stream was not kept");
    assert_eq!(streamed_text(&whole), "word0 word1 word2 ");
    assert_eq!(ask(&rig, &other, &[]).await.1, hit());
    assert_eq!(mock.requests_received(), 3);

    // Legacy completions too, told back in their own chunks.
    let completion = json!({ "model": "gpt-4o-mini", "stream": true, "prompt": "complete me" });
    for expected in ["miss", "hit"] {
        let response = rig.post("/v1/completions", &completion).await;
        assert_eq!(response.headers()["x-mgw-cache"], expected);
        let stream = response.text().await.unwrap();
        assert_eq!(streamed_text(&stream), "word0 word1 word2 ", "{stream}");
    }
    assert_eq!(mock.requests_received(), 4);
}

#[tokio::test]
async fn clients_skip_the_cache_or_keep_their_answer_out_of_it() {
    let mock = MockUpstream::start().await.unwrap();
    let rig = caching(&mock, 600, &[]).await;
    let body = chat(false);
    // Not kept: the next one misses too, and is kept.
    assert_eq!(ask(&rig, &body, &[("cache-control", "no-store")]).await.1, miss());
    assert_eq!(ask(&rig, &body, &[]).await.1, miss());
    assert_eq!(ask(&rig, &body, &[]).await.1, hit());
    assert_eq!(mock.requests_received(), 2);
    // Skipped: the provider answers (and the answer replaces the kept one).
    for skip in [("x-mgw-cache", "bypass"), ("cache-control", "no-cache")] {
        let (status, cache, _, _) = ask(&rig, &body, &[skip]).await;
        assert_eq!((status, cache.as_deref()), (200, Some("bypass")), "{skip:?}");
    }
    assert_eq!(mock.requests_received(), 4);
    assert_eq!(ask(&rig, &body, &[]).await.1, hit());
    assert_eq!(mock.requests_received(), 4);
}

#[tokio::test]
async fn errors_are_never_kept_and_entries_expire_at_their_ttl() {
    let mock = MockUpstream::start().await.unwrap();
    let rig = caching(&mock, 1, &[]).await;
    let body = chat(false);
    mock.push(Behaviour::Status {
        status: 400,
        headers: Vec::new(),
        body: r#"{"error":{"message":"no","type":"invalid_request_error","param":null,"code":null}}"#.into(),
    });
    assert_eq!(ask(&rig, &body, &[]).await.0, 400);
    let (status, cache, _, _) = ask(&rig, &body, &[]).await;
    assert_eq!((status, cache), (200, miss()), "the error was not kept");
    assert_eq!(ask(&rig, &body, &[]).await.1, hit());
    assert_eq!(mock.requests_received(), 2);
    tokio::time::sleep(std::time::Duration::from_millis(1_200)).await;
    assert_eq!(ask(&rig, &body, &[]).await.1, miss(), "expired after its TTL of 1 s");
    assert_eq!(mock.requests_received(), 3);
}

#[tokio::test]
async fn a_hit_counts_as_a_request_under_the_limits() {
    let mock = MockUpstream::start().await.unwrap();
    let rig = caching(&mock, 600, &["requests/minute=3"]).await;
    let body = chat(false);
    let mut statuses = Vec::new();
    for _ in 0..4 {
        statuses.push(ask(&rig, &body, &[]).await.0);
    }
    // Two from the cache, then the limit: (a minute's end between them would reset the count,
    // so the test tolerates a fourth 200 only when a new minute began.)
    assert_eq!(&statuses[..3], &[200, 200, 200]);
    let logs = rig.logs(4).await;
    let minutes: std::collections::HashSet<_> = logs.iter().map(|log| log.created_at / 60_000).collect();
    if minutes.len() == 1 {
        assert_eq!(statuses[3], 429);
    }
    assert_eq!(mock.requests_received(), 1);
}

#[tokio::test]
async fn a_gateway_without_a_cache_says_nothing_of_one() {
    let mock = MockUpstream::start().await.unwrap();
    let rig = Rig::start(
        rig::steady,
        vec![rig::endpoint("a", ProviderKind::OpenAi, &mock.url())],
        |_| {},
    )
    .await;
    for _ in 0..2 {
        let (status, cache, _, _) = ask(&rig, &chat(false), &[]).await;
        assert_eq!((status, cache), (200, None));
    }
    assert_eq!(mock.requests_received(), 2);
    assert!(rig.logs(2).await.iter().all(|log| log.cache.is_none()));
}

#[test]
fn the_cache_is_set_from_the_command_line() {
    let cli = Cli::new();
    cli.gateway_over_one_endpoint("g");
    let shown = cli.ok(&[
        "gateway",
        "update",
        "g",
        "--cache",
        "exact",
        "--cache-ttl",
        "10m",
        "--cache-max-entry",
        "512KiB",
        "--cache-collapse",
        "--json",
    ]);
    let gateway: Value = serde_json::from_str(&shown).unwrap();
    assert_eq!(
        gateway["cache"],
        json!({ "mode": "exact", "ttl_s": 600, "max_entry_bytes": 524_288, "collapse": true,
                "embedding_model": null, "similarity": 0.95 })
    );
    // Only what is given changes.
    let shown = cli.ok(&["gateway", "update", "g", "--cache", "off", "--json"]);
    let gateway: Value = serde_json::from_str(&shown).unwrap();
    assert_eq!(gateway["cache"]["mode"], "off");
    assert_eq!(gateway["cache"]["ttl_s"], 600);
    for (flag, value, field) in [
        ("--cache-ttl", "2days", "cache_ttl"),
        ("--cache-max-entry", "17MiB", "cache_max_entry"),
    ] {
        let refused = cli.run(&["gateway", "update", "g", flag, value]);
        assert!(!refused.status.success());
        assert!(text(&refused).contains(field), "{}", text(&refused));
    }
}

/// With `[redis] url`, one replica's kept answer is another's hit (`MGW_TEST_REDIS_URL`; skipped
/// without one, except in CI).
#[tokio::test]
async fn replicas_share_kept_answers_through_redis() {
    let Some((url, prefix)) = crate::replicas::redis("replicas_share_kept_answers_through_redis") else {
        return;
    };
    let mock = MockUpstream::start().await.unwrap();
    let replica = || {
        let (url, prefix) = (url.clone(), prefix.clone());
        Rig::start(
            move |config| {
                rig::steady(config);
                config.redis.url = Some(server::secrets::Secret::new(url));
                config.redis.prefix = prefix;
            },
            vec![rig::endpoint("a", ProviderKind::OpenAi, &mock.url())],
            |g| {
                g.cache = CacheSettings {
                    mode: CacheMode::Exact,
                    ..CacheSettings::default()
                };
            },
        )
    };
    // Two servers of one deployment (the same gateway, so the same keys), each its own memory.
    let (one, two) = (replica().await, replica().await);
    let (status, cache, _, first) = ask(&one, &chat(false), &[]).await;
    assert_eq!((status, cache), (200, miss()));
    // Kept in Redis without waiting: once it is there, the other replica's first ask is a hit.
    assert!(
        redis_keys_until(&url, &format!("{prefix}:cache2:*"), |keys| !keys.is_empty()).await,
        "the answer never reached Redis"
    );
    let (status, cache, _, body) = ask(&two, &chat(false), &[]).await;
    assert_eq!((status, cache), (200, hit()));
    assert_eq!(body, first);
    assert_eq!(
        ask(&two, &chat(true), &[]).await.1,
        hit(),
        "now from its own memory, as a stream"
    );
    assert_eq!(mock.requests_received(), 1, "one upstream call for both replicas");
}

#[tokio::test]
async fn the_dashboard_and_the_metrics_show_the_hit_ratio_and_the_cost_saved() {
    let mock = MockUpstream::start().await.unwrap();
    let rig = caching(&mock, 600, &[]).await;
    let manage = &rig.server.state.manage;
    // 1 micro a prompt token, 2 a completion token: the mock's answer (10 + 5) costs 20.
    let price = app::types::ModelPrice {
        model: "gpt-4o-mini".into(),
        input_per_mtok_micros: 1_000_000,
        output_per_mtok_micros: 2_000_000,
    };
    crate::operator::op(manage).set_price(price).await.unwrap();
    rig.server.state.registry.refresh(manage).await.unwrap();
    for expected in [miss(), hit(), hit()] {
        assert_eq!(ask(&rig, &chat(false), &[]).await.1, expected);
    }
    let logs = rig.logs(3).await;
    assert_eq!(
        logs.iter().map(|log| log.cost_micros).sum::<i64>(),
        20,
        "only the miss cost"
    );
    let gateway = crate::operator::op(manage).gateway_id("g").await;
    let now = server::manage::now_ms();
    let hours = (manage.hourly_usage(
        server::manage::HourlyScope::Gateway(gateway),
        now - 3_600_000,
        now + 3_600_000,
    ))
    .await
    .unwrap();
    let sums = app::types::UsageSums::of(&hours);
    assert_eq!((sums.cache_hits, sums.cache_misses, sums.saved_micros), (2, 1, 40));
    assert_eq!(sums.cache_hit_percent().map(f64::round), Some(67.0));
    let metrics = rig.metrics().await;
    assert!(
        metrics.contains(r#"mgw_cache_saved_cost_micros_total{gateway="g"} 40"#),
        "{metrics}"
    );
}
